//! The series users take out of a journal, built by the same fold as the
//! state: every fill with the order, signal and position it belongs to, the
//! equity curve at every event that moves it, one row per UTC day, and the
//! time spent exposed. Everything here is derived from the events, so every
//! figure can be traced back to the seqs behind it.

use crate::{FoldError, Ledger};
use rust_decimal::Decimal;
use serde::Serialize;
use tradeledger_events::{
    decimal_codec, Envelope, Event, FillId, Liquidity, Money, OrderId, PositionId, Price, Quantity, Seq, Side,
    SignalId, Symbol, Timestamp,
};

/// Where a fill came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillSource {
    /// Filled by the engine's venue (`OrderFilled`).
    Simulated,
    /// Reported by an outside venue (`FillImported`).
    Imported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillRecord {
    pub seq: Seq,
    pub time: Timestamp,
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub liquidity: Option<Liquidity>,
    pub order_id: OrderId,
    pub signal_id: Option<SignalId>,
    /// The position the fill reduced or closed, else the one it opened or
    /// added to (a flipping fill names the position it closed).
    pub position_id: Option<PositionId>,
    pub fill_id: FillId,
    pub source: FillSource,
}

/// The portfolio after an event that changed equity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    pub seq: Seq,
    pub time: Timestamp,
    pub equity: Money,
    pub equity_peak: Money,
    #[serde(with = "decimal_codec")]
    pub drawdown_percentage: Decimal,
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub exposure_gross: Money,
}

/// One UTC day. The return is the day's PnL over the equity it started
/// from (its closing equity less its PnL, so a change of capital during the
/// day is neither return nor loss).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRecord {
    /// Days since 1970-01-01.
    pub day: i64,
    pub equity_close: Money,
    pub pnl: Money,
    #[serde(rename = "return", with = "decimal_codec")]
    pub day_return: Decimal,
}

#[derive(Debug, Clone, Copy)]
struct DayOpen {
    day: i64,
    total_pnl: Decimal,
}

#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub ledger: Ledger,
    pub fills: Vec<FillRecord>,
    pub equity: Vec<EquityPoint>,
    /// Every UTC day from the first event's to the last's, gaps included.
    pub days: Vec<DayRecord>,
    pub time_first: Option<Timestamp>,
    pub time_last: Option<Timestamp>,
    /// Nanoseconds of event time during which some position was open.
    pub exposed_nanos: i128,
    day_open: Option<DayOpen>,
}

impl Analysis {
    /// Folds a whole journal and closes its last day.
    pub fn of<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Result<Analysis, FoldError> {
        let mut analysis = Analysis::default();
        for envelope in envelopes {
            analysis.apply(envelope)?;
        }
        analysis.finish();
        Ok(analysis)
    }

    pub fn apply(&mut self, envelope: &Envelope) -> Result<(), FoldError> {
        let time = envelope.time_event;
        self.advance_time(time);
        let fill = fill_facts(&envelope.event);
        let before = fill.and_then(|(symbol, _)| self.ledger.positions.open.get(symbol)).map(|p| p.position_id.clone());
        self.ledger.apply(envelope)?;
        if let Some((symbol, source)) = fill {
            let after = self.ledger.positions.open.get(symbol).map(|position| position.position_id.clone());
            self.record_fill(envelope, source, before.or(after));
        }
        self.record_equity(envelope.seq, time);
        Ok(())
    }

    /// Closes the day in progress; call once after the last event.
    pub fn finish(&mut self) {
        if let Some(open) = self.day_open.take() {
            self.close_day(open);
        }
    }

    fn advance_time(&mut self, time: Timestamp) {
        if let Some(last) = self.time_last {
            if self.ledger.portfolio.exposure_gross.get() > Decimal::ZERO {
                self.exposed_nanos += i128::from(time.unix_nanos().saturating_sub(last.unix_nanos()).max(0));
            }
        }
        self.time_first.get_or_insert(time);
        self.time_last = Some(self.time_last.map_or(time, |last| last.max(time)));
        let day = time.utc_day();
        match self.day_open {
            None => self.day_open = Some(DayOpen { day, total_pnl: self.ledger.portfolio.total_pnl() }),
            Some(open) if day > open.day => {
                self.close_day(open);
                // Days without events: equity did not move.
                for quiet in open.day + 1..day {
                    let equity_close = self.ledger.portfolio.equity;
                    self.days.push(DayRecord { day: quiet, equity_close, pnl: Money::ZERO, day_return: Decimal::ZERO });
                }
                self.day_open = Some(DayOpen { day, total_pnl: self.ledger.portfolio.total_pnl() });
            }
            Some(_) => {}
        }
    }

    fn close_day(&mut self, open: DayOpen) {
        let portfolio = &self.ledger.portfolio;
        let pnl = portfolio.total_pnl().saturating_sub(open.total_pnl);
        let base = portfolio.equity.get().saturating_sub(pnl);
        let day_return = if base > Decimal::ZERO { pnl.checked_div(base).unwrap_or_default() } else { Decimal::ZERO };
        self.days.push(DayRecord { day: open.day, equity_close: portfolio.equity, pnl: Money::of(pnl), day_return });
    }

    fn record_fill(&mut self, envelope: &Envelope, source: FillSource, position_id: Option<PositionId>) {
        // (order, fill id, symbol, side, quantity, price, fee, liquidity)
        let (order_id, fill_id, symbol, side, quantity, price, fee, liquidity) = match &envelope.event {
            Event::OrderFilled(fill) => (
                &fill.order_id,
                &fill.fill_id,
                &fill.symbol,
                fill.side,
                fill.quantity,
                fill.price,
                fill.fee,
                Some(fill.liquidity),
            ),
            Event::FillImported(fill) => (
                &fill.order_id,
                &fill.fill_id,
                &fill.symbol,
                fill.side,
                fill.quantity,
                fill.price,
                fill.fee,
                fill.liquidity,
            ),
            _ => return,
        };
        // Imported fills belong to outside orders, which have no signal here.
        let signal_id = self.ledger.orders.orders.get(order_id).and_then(|order| order.signal_id.clone());
        self.fills.push(FillRecord {
            seq: envelope.seq,
            time: envelope.time_event,
            symbol: symbol.clone(),
            side,
            quantity,
            price,
            fee,
            liquidity,
            order_id: order_id.clone(),
            signal_id,
            position_id,
            fill_id: fill_id.clone(),
            source,
        });
    }

    fn record_equity(&mut self, seq: Seq, time: Timestamp) {
        let portfolio = &self.ledger.portfolio;
        if self.equity.last().is_some_and(|last| last.equity == portfolio.equity) {
            return;
        }
        self.equity.push(EquityPoint {
            seq,
            time,
            equity: portfolio.equity,
            equity_peak: portfolio.equity_peak,
            drawdown_percentage: portfolio.drawdown_percentage(),
            realized_pnl: portfolio.realized_pnl,
            unrealized_pnl: portfolio.unrealized_pnl,
            exposure_gross: portfolio.exposure_gross,
        });
    }
}

fn fill_facts(event: &Event) -> Option<(&Symbol, FillSource)> {
    match event {
        Event::OrderFilled(fill) => Some((&fill.symbol, FillSource::Simulated)),
        Event::FillImported(fill) => Some((&fill.symbol, FillSource::Imported)),
        _ => None,
    }
}

/// The equity curve sampled at the close of each `interval_nanos` bar
/// (bars aligned to the Unix epoch): one point per bar from the first
/// event's bar to the last's, each the last point at or before the bar's
/// end, carried forward through bars without events.
pub fn resample(points: &[EquityPoint], interval_nanos: i64) -> Vec<EquityPoint> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else { return Vec::new() };
    if interval_nanos <= 0 {
        return points.to_vec();
    }
    let bar_of = |time: Timestamp| time.unix_nanos().div_euclid(interval_nanos);
    let mut sampled = Vec::new();
    let mut next = 0;
    let mut current = first.clone();
    for bar in bar_of(first.time)..=bar_of(last.time) {
        while next < points.len() && bar_of(points[next].time) <= bar {
            current = points[next].clone();
            next += 1;
        }
        let close = Timestamp::from_unix_nanos((bar + 1).saturating_mul(interval_nanos).saturating_sub(1));
        sampled.push(EquityPoint { time: close, ..current.clone() });
    }
    sampled
}
