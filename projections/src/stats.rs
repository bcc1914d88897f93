//! Performance statistics of a journal, in the terms backtesting.py and
//! QuantStats users know. Amounts, returns, percentages and counts are exact
//! `Decimal`s; the ratios that need a square root or a fractional power
//! (annualized return and volatility, Sharpe, Sortino, Calmar) are computed
//! in `f64` and rounded to 6 decimal places. The README defines each figure.

use crate::analysis::{Analysis, DayRecord, EquityPoint};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde::Serialize;
use tradeledger_events::{decimal_codec, Money, Timestamp};

/// Places kept of figures computed in floating point.
pub const FLOAT_PLACES: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsOptions {
    /// Periods (days) per year: 365 for markets that trade every day.
    pub annualization: u32,
    /// Annual risk-free rate as a fraction (0.04 = 4 %).
    pub risk_free: Decimal,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions { annualization: 365, risk_free: Decimal::ZERO }
    }
}

/// One stretch below an equity peak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drawdown {
    /// The time of the peak it fell from.
    pub start: Timestamp,
    pub trough: Timestamp,
    /// When equity was back at the peak; `None`: not yet.
    pub end: Option<Timestamp>,
    #[serde(with = "decimal_codec")]
    pub depth_percentage: Decimal,
    #[serde(with = "decimal_codec")]
    pub duration_seconds: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statistics {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    #[serde(with = "decimal_codec")]
    pub duration_seconds: Decimal,
    #[serde(with = "decimal_codec")]
    pub exposure_time_percentage: Decimal,
    pub equity_initial: Money,
    pub equity_final: Money,
    pub equity_peak: Money,
    #[serde(with = "decimal_codec")]
    pub total_return_percentage: Decimal,
    pub days: u64,
    #[serde(with = "decimal_codec::option")]
    pub annualized_return_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub annualized_volatility_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub sharpe_ratio: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub sortino_ratio: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub calmar_ratio: Option<Decimal>,
    #[serde(with = "decimal_codec")]
    pub max_drawdown_percentage: Decimal,
    #[serde(with = "decimal_codec")]
    pub max_drawdown_duration_seconds: Decimal,
    #[serde(with = "decimal_codec")]
    pub average_drawdown_percentage: Decimal,
    pub drawdowns: u64,
    pub trades: u64,
    #[serde(with = "decimal_codec::option")]
    pub win_rate_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub best_trade_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub worst_trade_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub average_trade_percentage: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub average_trade_duration_seconds: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub profit_factor: Option<Decimal>,
    /// Mean realized PnL per closed trade.
    pub expectancy: Option<Money>,
    pub fees: Money,
}

fn seconds(nanos: i128) -> Decimal {
    Decimal::from_i128_with_scale(nanos, 9).normalize()
}

fn percent_of(part: Decimal, whole: Decimal) -> Option<Decimal> {
    (!whole.is_zero()).then(|| part.checked_div(whole)?.checked_mul(Decimal::ONE_HUNDRED)).flatten()
}

fn float(value: f64) -> Option<Decimal> {
    value.is_finite().then(|| Decimal::from_f64(value)).flatten().map(|value| value.round_dp(FLOAT_PLACES).normalize())
}

pub fn statistics(analysis: &Analysis, options: &StatsOptions) -> Statistics {
    let portfolio = &analysis.ledger.portfolio;
    let equity_initial = portfolio.capital_initial;
    let span = match (analysis.time_first, analysis.time_last) {
        (Some(first), Some(last)) => i128::from(last.unix_nanos()) - i128::from(first.unix_nanos()),
        _ => 0,
    };
    let drawdowns = drawdowns(&analysis.equity);
    let ratios = Ratios::of(&analysis.days, options, portfolio.max_drawdown_percentage());
    let trades = TradeStats::of(analysis);
    Statistics {
        start: analysis.time_first,
        end: analysis.time_last,
        duration_seconds: seconds(span),
        exposure_time_percentage: percent_of(
            Decimal::from_i128_with_scale(analysis.exposed_nanos, 0),
            Decimal::from(span),
        )
        .unwrap_or_default()
        .round_dp(FLOAT_PLACES),
        equity_initial,
        equity_final: portfolio.equity,
        equity_peak: portfolio.equity_peak,
        total_return_percentage: percent_of(portfolio.total_pnl(), equity_initial.get())
            .unwrap_or_default()
            .normalize(),
        days: analysis.days.len() as u64,
        annualized_return_percentage: ratios.annualized_return.and_then(|value| float(value * 100.0)),
        annualized_volatility_percentage: ratios.volatility.and_then(|value| float(value * 100.0)),
        sharpe_ratio: ratios.sharpe.and_then(float),
        sortino_ratio: ratios.sortino.and_then(float),
        calmar_ratio: ratios.calmar.and_then(float),
        max_drawdown_percentage: portfolio.max_drawdown_percentage().normalize(),
        max_drawdown_duration_seconds: drawdowns.iter().map(|dd| dd.duration_seconds).max().unwrap_or_default(),
        average_drawdown_percentage: average(drawdowns.iter().map(|dd| dd.depth_percentage)).unwrap_or_default(),
        drawdowns: drawdowns.len() as u64,
        trades: trades.count,
        win_rate_percentage: percent_of(Decimal::from(trades.wins), Decimal::from(trades.count))
            .map(|value| value.normalize()),
        best_trade_percentage: trades.returns.iter().max().copied(),
        worst_trade_percentage: trades.returns.iter().min().copied(),
        average_trade_percentage: average(trades.returns.iter().copied()),
        average_trade_duration_seconds: average(trades.durations.iter().copied()),
        profit_factor: (!trades.gross_loss.is_zero())
            .then(|| trades.gross_profit.checked_div(trades.gross_loss))
            .flatten()
            .map(|value| value.normalize()),
        expectancy: average(trades.pnls.iter().copied()).map(Money::of),
        fees: portfolio.fees,
    }
}

fn average(values: impl Iterator<Item = Decimal>) -> Option<Decimal> {
    let (sum, count) =
        values.fold((Decimal::ZERO, 0_i64), |(sum, count), value| (sum.saturating_add(value), count + 1));
    (count > 0).then(|| sum.checked_div(Decimal::from(count))).flatten().map(|value| value.normalize())
}

/// Closed positions as trades.
#[derive(Debug, Default)]
struct TradeStats {
    count: u64,
    wins: u64,
    /// Realized PnL over the entry notional, in percent, per trade.
    returns: Vec<Decimal>,
    pnls: Vec<Decimal>,
    durations: Vec<Decimal>,
    gross_profit: Decimal,
    gross_loss: Decimal,
}

impl TradeStats {
    fn of(analysis: &Analysis) -> TradeStats {
        let mut stats = TradeStats::default();
        for position in &analysis.ledger.positions.closed {
            let pnl = position.realized_pnl.get();
            stats.count += 1;
            stats.wins += u64::from(pnl > Decimal::ZERO);
            if pnl > Decimal::ZERO {
                stats.gross_profit += pnl;
            } else {
                stats.gross_loss += -pnl;
            }
            stats.pnls.push(pnl);
            if let Some(percent) = percent_of(pnl, position.cost_opened.get().abs()) {
                stats.returns.push(percent.round_dp(FLOAT_PLACES).normalize());
            }
            if let Some(closed) = position.time_closed {
                let nanos = i128::from(closed.unix_nanos()) - i128::from(position.time_opened.unix_nanos());
                stats.durations.push(seconds(nanos));
            }
        }
        stats
    }
}

/// The floating-point figures, from daily returns.
#[derive(Debug, Default)]
struct Ratios {
    annualized_return: Option<f64>,
    volatility: Option<f64>,
    sharpe: Option<f64>,
    sortino: Option<f64>,
    calmar: Option<f64>,
}

impl Ratios {
    fn of(days: &[DayRecord], options: &StatsOptions, max_drawdown_percentage: Decimal) -> Ratios {
        let returns: Vec<f64> = days.iter().filter_map(|day| day.day_return.to_f64()).collect();
        if returns.is_empty() || options.annualization == 0 {
            return Ratios::default();
        }
        let periods = f64::from(options.annualization);
        let count = returns.len() as f64;
        let growth: f64 = returns.iter().map(|r| 1.0 + r).product();
        let annualized_return = growth.powf(periods / count) - 1.0;
        let mean = returns.iter().sum::<f64>() / count;
        let risk_free_per_period = options.risk_free.to_f64().unwrap_or(0.0) / periods;
        let excess = mean - risk_free_per_period;
        let std = (returns.len() > 1)
            .then(|| (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (count - 1.0)).sqrt());
        let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / count).sqrt();
        let max_drawdown = max_drawdown_percentage.to_f64().unwrap_or(0.0) / 100.0;
        Ratios {
            annualized_return: Some(annualized_return),
            volatility: std.map(|std| std * periods.sqrt()),
            sharpe: std.filter(|std| *std > 0.0).map(|std| excess / std * periods.sqrt()),
            sortino: (downside > 0.0).then(|| excess / downside * periods.sqrt()),
            calmar: (max_drawdown > 0.0).then(|| annualized_return / max_drawdown),
        }
    }
}

/// Every stretch below a peak in the equity curve, in time order.
pub fn drawdowns(points: &[EquityPoint]) -> Vec<Drawdown> {
    let mut found = Vec::new();
    let Some(first) = points.first() else { return found };
    let (mut peak, mut peak_time) = (first.equity.get(), first.time);
    let mut trough: Option<(Decimal, Timestamp)> = None;
    let close =
        |peak: Decimal, peak_time: Timestamp, trough: (Decimal, Timestamp), end: Option<Timestamp>, last: Timestamp| {
            let until = end.unwrap_or(last);
            let depth = percent_of(peak - trough.0, peak).unwrap_or_default().normalize();
            Drawdown {
                start: peak_time,
                trough: trough.1,
                end,
                depth_percentage: depth,
                duration_seconds: seconds(i128::from(until.unix_nanos()) - i128::from(peak_time.unix_nanos())),
            }
        };
    for point in points {
        let equity = point.equity.get();
        if equity >= peak {
            if let Some(low) = trough.take() {
                found.push(close(peak, peak_time, low, Some(point.time), point.time));
            }
            (peak, peak_time) = (equity, point.time);
        } else if trough.is_none_or(|(low, _)| equity < low) {
            trough = Some((equity, point.time));
        }
    }
    if let (Some(low), Some(last)) = (trough, points.last()) {
        found.push(close(peak, peak_time, low, None, last.time));
    }
    found.retain(|drawdown| drawdown.depth_percentage > Decimal::ZERO);
    found
}
