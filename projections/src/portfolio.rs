//! Portfolio metrics per symbol and in total, kept as exact sums updated by
//! deltas (O(1) per event). Percentages are ratios of stored exact values,
//! computed when read, so the fold itself never divides.

use crate::error::FoldError;
use crate::math::Checked;
use crate::positions::{Position, PositionBook, PositionSide};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tradeledger_events::{Money, Seq, Symbol, Timestamp};

/// One symbol's share of the portfolio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolTotals {
    /// Realized PnL of its closed positions plus its open one's.
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub fees: Money,
    /// Mark × open quantity, negative for a short.
    pub market_value: Money,
    /// Realized PnL and fees of the symbol's closed positions alone.
    pub realized_pnl_closed: Money,
    pub fees_closed: Money,
    pub positions_closed: u64,
}

/// Equity peak and trough at the deepest drawdown seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawdownPoint {
    pub equity_peak: Money,
    pub equity: Money,
    pub seq: Seq,
}

impl DrawdownPoint {
    pub fn percentage(&self) -> Decimal {
        percentage_below(self.equity_peak.get(), self.equity.get())
    }
}

/// (peak − value) / peak × 100, zero where the peak is not positive.
fn percentage_below(peak: Decimal, value: Decimal) -> Decimal {
    if peak <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    peak.saturating_sub(value)
        .checked_div(peak)
        .and_then(|ratio| ratio.checked_mul(Decimal::ONE_HUNDRED))
        .unwrap_or_default()
}

/// The value at or above which `percentage_below(reference, value)`,
/// rounded to 6 places, surely does not exceed `limit`: the breaker's check
/// on every tick becomes one comparison against a floor that changes only
/// with its reference (a new peak, a new day) or the limit. `None` when no
/// such value can be named (a reference ≤ 0, a limit within the margin, an
/// overflow), which means "compute the percentage".
///
/// Why it is safe: for `value ≥ floor`, `reference − value ≤ (limit − 2·10⁻⁶)
/// · reference / 100`, so the percentage is at most `limit − 2·10⁻⁶` plus
/// the division's rounding (28 significant digits, far below 10⁻⁶), and
/// rounding it to 6 places adds at most 5·10⁻⁷: it stays below `limit`.
pub fn breaker_floor(reference: Decimal, limit: Decimal) -> Option<Decimal> {
    const MARGIN: Decimal = Decimal::from_parts(2, 0, 0, false, 6);
    if reference <= Decimal::ZERO || limit < MARGIN {
        return None;
    }
    let allowed = (limit - MARGIN).checked_mul(reference)?.checked_div(Decimal::ONE_HUNDRED)?;
    reference.checked_sub(allowed)
}

/// Whether `percentage_below(reference, value)` rounded to 6 places may
/// exceed `limit`, decided with two multiplications instead of a division:
/// the breaker asks on every tick, and the answer is almost always no.
/// `(reference − value) · 100 > (limit − 10⁻⁶) · reference` is necessary for
/// the rounded percentage to exceed `limit` (rounding moves it by at most
/// 5·10⁻⁷, the division's rounding by far less), so a false here is a sure
/// no; a true, an overflow, or a limit below the margin means "compute it".
fn may_exceed(reference: Decimal, value: Decimal, limit: Decimal) -> bool {
    const MARGIN: Decimal = Decimal::from_parts(1, 0, 0, false, 6);
    if reference <= Decimal::ZERO || limit < MARGIN {
        return true;
    }
    let depth = reference.checked_sub(value).and_then(|depth| depth.checked_mul(Decimal::ONE_HUNDRED));
    let bar = (limit - MARGIN).checked_mul(reference);
    match (depth, bar) {
        (Some(depth), Some(bar)) => depth > bar,
        _ => true,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    /// From the limits in force (`RiskLimitsSet`).
    pub capital_initial: Money,
    pub by_symbol: BTreeMap<Symbol, SymbolTotals>,
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub fees: Money,
    /// Σ signed market values.
    pub market_value: Money,
    /// Σ |market value|.
    pub exposure_gross: Money,
    /// Σ signed market values (long minus short).
    pub exposure_net: Money,
    /// `capital_initial + realized_pnl + unrealized_pnl`.
    pub equity: Money,
    pub equity_peak: Money,
    /// The highest equity since the circuit breaker was last reset: the
    /// breaker's drawdown is measured from here, so a reset lets trading
    /// resume instead of re-tripping on an old peak.
    pub equity_peak_breaker: Money,
    /// The deepest drawdown seen at any event, as the pair it was measured on.
    pub drawdown_worst: Option<DrawdownPoint>,
    /// UTC day (days since the epoch) of the latest event, from event times.
    pub day: Option<i64>,
    pub equity_day_start: Money,
    /// What the breaker measures the day's loss from: the day's starting
    /// equity, or the equity at a breaker reset later that day.
    pub equity_day_start_breaker: Money,
    pub positions_closed: u64,
    pub wins: u64,
    pub losses: u64,
}

impl Portfolio {
    pub fn total_pnl(&self) -> Decimal {
        self.realized_pnl.get().saturating_add(self.unrealized_pnl.get())
    }

    /// Current drawdown below the equity peak, in percent.
    pub fn drawdown_percentage(&self) -> Decimal {
        percentage_below(self.equity_peak.get(), self.equity.get())
    }

    /// Drawdown below the peak since the last breaker reset, in percent:
    /// what the circuit breaker and the pre-trade drawdown check measure.
    pub fn drawdown_breaker_percentage(&self) -> Decimal {
        percentage_below(self.equity_peak_breaker.get(), self.equity.get())
    }

    /// The day's loss since the breaker's day reference, in percent (zero
    /// for a gain): what the breaker and the pre-trade daily-loss check use.
    pub fn daily_loss_breaker_percentage(&self) -> Decimal {
        percentage_below(self.equity_day_start_breaker.get(), self.equity.get()).max(Decimal::ZERO)
    }

    /// False when the breaker's drawdown, rounded to 6 places, surely does
    /// not exceed `limit`: see `may_exceed`.
    pub fn drawdown_breaker_may_exceed(&self, limit: Decimal) -> bool {
        may_exceed(self.equity_peak_breaker.get(), self.equity.get(), limit)
    }

    /// False when the breaker's daily loss, rounded to 6 places, surely does
    /// not exceed `limit`: see `may_exceed`.
    pub fn daily_loss_breaker_may_exceed(&self, limit: Decimal) -> bool {
        may_exceed(self.equity_day_start_breaker.get(), self.equity.get(), limit)
    }

    /// A breaker reset is an acknowledgement of the losses so far: drawdown
    /// and the day's loss are measured from today's equity from here on.
    pub fn restart_breaker_references(&mut self) {
        self.equity_peak_breaker = self.equity;
        self.equity_day_start_breaker = self.equity;
    }

    /// Largest (peak − equity) / peak × 100 seen at any event.
    pub fn max_drawdown_percentage(&self) -> Decimal {
        self.drawdown_worst.map(|point| point.percentage()).unwrap_or_default()
    }

    /// Equity now minus equity at the start of the event's UTC day.
    pub fn daily_pnl(&self) -> Decimal {
        self.equity.get().saturating_sub(self.equity_day_start.get())
    }

    pub fn daily_pnl_percentage(&self) -> Decimal {
        let start = self.equity_day_start.get();
        if start <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        self.daily_pnl()
            .checked_div(start)
            .and_then(|ratio| ratio.checked_mul(Decimal::ONE_HUNDRED))
            .unwrap_or_default()
    }

    /// Called before each event: the first event of a later UTC day makes
    /// the equity before it that day's starting equity. Days come from event
    /// times; an event dated earlier than the current day does not roll back.
    pub fn roll_day(&mut self, time: Timestamp) {
        let day = time.utc_day();
        if self.day.is_none_or(|current| day > current) {
            self.day = Some(day);
            self.equity_day_start = self.equity;
            self.equity_day_start_breaker = self.equity;
        }
    }

    /// New capital shifts equity, its peak and the day's start alike: a
    /// capital change is neither profit nor drawdown.
    pub fn set_capital(&mut self, seq: Seq, capital: Money) -> Result<(), FoldError> {
        let math = Checked(seq);
        let delta = math.sub(capital.get(), self.capital_initial.get(), "capital change")?;
        self.capital_initial = capital;
        self.equity = Money::of(math.add(self.equity.get(), delta, "equity")?);
        self.equity_peak = Money::of(math.add(self.equity_peak.get(), delta, "equity peak")?);
        self.equity_peak_breaker = Money::of(math.add(self.equity_peak_breaker.get(), delta, "breaker peak")?);
        self.equity_day_start = Money::of(math.add(self.equity_day_start.get(), delta, "day start")?);
        self.equity_day_start_breaker =
            Money::of(math.add(self.equity_day_start_breaker.get(), delta, "breaker day start")?);
        if let Some(point) = &mut self.drawdown_worst {
            point.equity_peak = Money::of(math.add(point.equity_peak.get(), delta, "drawdown peak")?);
            point.equity = Money::of(math.add(point.equity.get(), delta, "drawdown equity")?);
        }
        // Shifted alike, the current drawdown and the worst keep their depths
        // but not their ratios: the current one may now be the deeper.
        self.track_drawdown(math)
    }

    /// Books a position that just closed.
    pub fn close_position(&mut self, seq: Seq, position: &Position) -> Result<(), FoldError> {
        let math = Checked(seq);
        let totals = self.by_symbol.entry(position.symbol.clone()).or_default();
        totals.realized_pnl_closed =
            Money::of(math.add(totals.realized_pnl_closed.get(), position.realized_pnl.get(), "realized pnl")?);
        totals.fees_closed = Money::of(math.add(totals.fees_closed.get(), position.fees.get(), "fees")?);
        totals.positions_closed += 1;
        self.positions_closed += 1;
        match position.realized_pnl.get().cmp(&Decimal::ZERO) {
            std::cmp::Ordering::Greater => self.wins += 1,
            std::cmp::Ordering::Less => self.losses += 1,
            std::cmp::Ordering::Equal => {}
        }
        Ok(())
    }

    /// Recomputes one symbol's totals from the position book and moves the
    /// portfolio totals by the difference.
    pub fn refresh_symbol(&mut self, seq: Seq, symbol: &Symbol, positions: &PositionBook) -> Result<(), FoldError> {
        let math = Checked(seq);
        let before = match self.by_symbol.get(symbol) {
            Some(totals) => *totals,
            None => SymbolTotals::default(),
        };
        let after = symbol_totals(before, positions.open.get(symbol), math)?;
        let delta = |field: fn(&SymbolTotals) -> Money, what| math.sub(field(&after).get(), field(&before).get(), what);
        let move_by = |total: Money, change: Decimal, what| math.add(total.get(), change, what).map(Money::of);
        self.realized_pnl = move_by(self.realized_pnl, delta(|t| t.realized_pnl, "realized")?, "realized pnl")?;
        self.unrealized_pnl = move_by(self.unrealized_pnl, delta(|t| t.unrealized_pnl, "unrealized")?, "unrealized")?;
        self.fees = move_by(self.fees, delta(|t| t.fees, "fees")?, "fees")?;
        let value_change = delta(|t| t.market_value, "market value")?;
        self.market_value = move_by(self.market_value, value_change, "market value")?;
        self.exposure_net = move_by(self.exposure_net, value_change, "net exposure")?;
        let gross_change = math.sub(after.market_value.get().abs(), before.market_value.get().abs(), "exposure")?;
        self.exposure_gross = move_by(self.exposure_gross, gross_change, "gross exposure")?;
        match self.by_symbol.get_mut(symbol) {
            Some(totals) => *totals = after,
            None => {
                self.by_symbol.insert(symbol.clone(), after);
            }
        }
        self.update_equity(math)
    }

    /// A tick moved a symbol's mark: only its unrealized PnL and market value
    /// change, so only those move the totals (the hot path of a fold).
    pub fn apply_mark(&mut self, seq: Seq, symbol: &Symbol, positions: &PositionBook) -> Result<(), FoldError> {
        let Some(position) = positions.open.get(symbol) else { return Ok(()) };
        let math = Checked(seq);
        let Some(totals) = self.by_symbol.get_mut(symbol) else {
            // Every fill refreshes its symbol, so an open position has totals;
            // should it not, the full recomputation is still right.
            return self.refresh_symbol(seq, symbol, positions);
        };
        let value = signed_market_value(position, math)?;
        let unrealized_change = math.sub(position.unrealized_pnl.get(), totals.unrealized_pnl.get(), "unrealized")?;
        let value_change = math.sub(value.get(), totals.market_value.get(), "market value")?;
        let gross_change = math.sub(value.get().abs(), totals.market_value.get().abs(), "exposure")?;
        totals.unrealized_pnl = position.unrealized_pnl;
        totals.market_value = value;
        self.unrealized_pnl = Money::of(math.add(self.unrealized_pnl.get(), unrealized_change, "unrealized")?);
        self.market_value = Money::of(math.add(self.market_value.get(), value_change, "market value")?);
        self.exposure_net = Money::of(math.add(self.exposure_net.get(), value_change, "net exposure")?);
        self.exposure_gross = Money::of(math.add(self.exposure_gross.get(), gross_change, "gross exposure")?);
        self.update_equity(math)
    }

    fn update_equity(&mut self, math: Checked) -> Result<(), FoldError> {
        let pnl = math.add(self.realized_pnl.get(), self.unrealized_pnl.get(), "total pnl")?;
        let equity = math.add(self.capital_initial.get(), pnl, "equity")?;
        let equity_before = self.equity.get();
        self.equity = Money::of(equity);
        if equity > self.equity_peak_breaker.get() {
            self.equity_peak_breaker = self.equity;
        }
        if equity > self.equity_peak.get() {
            self.equity_peak = self.equity;
            return Ok(());
        }
        // The peak is the one of the event before (it only moves up, above,
        // or with the capital, which tracks the drawdown itself), and that
        // event's drawdown was no deeper than the worst: equity that did not
        // fall cannot be deeper either. This skips the decimal products of
        // `track_drawdown` on every tick that rises during a drawdown.
        if equity >= equity_before {
            return Ok(());
        }
        self.track_drawdown(math)
    }

    /// Makes the current drawdown the worst one if it is deeper. After
    /// every event the current drawdown is no deeper than the worst.
    fn track_drawdown(&mut self, math: Checked) -> Result<(), FoldError> {
        let (peak, equity) = (self.equity_peak.get(), self.equity.get());
        if peak <= Decimal::ZERO || equity >= peak {
            return Ok(());
        }
        // (peak − equity)/peak > (p − e)/p  ⇔  (peak − equity)·p > (p − e)·peak,
        // for positive peaks: compared without dividing. Under the same peak
        // that is simply a lower equity.
        let deeper = match &self.drawdown_worst {
            None => true,
            Some(worst) if worst.equity_peak.get() == peak => equity < worst.equity.get(),
            Some(worst) => {
                let depth_here = math.sub(peak, equity, "drawdown")?;
                let depth_there = math.sub(worst.equity_peak.get(), worst.equity.get(), "drawdown")?;
                let here = math.mul(depth_here, worst.equity_peak.get(), "drawdown comparison")?;
                let there = math.mul(depth_there, peak, "drawdown comparison")?;
                here > there
            }
        };
        if deeper {
            self.drawdown_worst =
                Some(DrawdownPoint { equity_peak: self.equity_peak, equity: self.equity, seq: math.0 });
        }
        Ok(())
    }
}

fn symbol_totals(before: SymbolTotals, open: Option<&Position>, math: Checked) -> Result<SymbolTotals, FoldError> {
    let mut totals = SymbolTotals {
        realized_pnl: before.realized_pnl_closed,
        unrealized_pnl: Money::ZERO,
        fees: before.fees_closed,
        market_value: Money::ZERO,
        ..before
    };
    if let Some(position) = open {
        totals.realized_pnl =
            Money::of(math.add(totals.realized_pnl.get(), position.realized_pnl.get(), "realized")?);
        totals.fees = Money::of(math.add(totals.fees.get(), position.fees.get(), "fees")?);
        totals.unrealized_pnl = position.unrealized_pnl;
        totals.market_value = signed_market_value(position, math)?;
    }
    Ok(totals)
}

/// Mark × open quantity, negative for a short.
fn signed_market_value(position: &Position, math: Checked) -> Result<Money, FoldError> {
    let value = math.mul(position.price_mark.get(), position.quantity.get(), "market value")?;
    Ok(Money::of(match position.side {
        PositionSide::Long => value,
        PositionSide::Short => -value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decimal(mantissa: i64, scale: u32) -> Decimal {
        Decimal::new(mantissa, scale)
    }

    proptest! {
        /// At or above the floor, the percentage the breaker computes never
        /// exceeds the limit; just below a floor it can.
        #[test]
        fn at_or_above_the_floor_the_rounded_percentage_is_within_the_limit(
            reference in (1i64..1_000_000_000_000, 0u32..10).prop_map(|(m, s)| decimal(m, s)),
            limit in (0i64..10_000_000, 0u32..6).prop_map(|(m, s)| decimal(m, s)),
            above in (0i64..1_000_000, 0u32..12).prop_map(|(m, s)| decimal(m, s)),
        ) {
            if let Some(floor) = breaker_floor(reference, limit) {
                let value = floor + above;
                let measured = percentage_below(reference, value).round_dp(6);
                prop_assert!(measured <= limit, "{measured} > {limit} at {value} (floor {floor}, reference {reference})");
            }
        }
    }

    /// One step of a path: the unrealized PnL moves, or the capital changes.
    #[derive(Debug, Clone)]
    enum Step {
        Pnl(Decimal),
        Capital(Decimal),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (-5_000_000i64..5_000_000, 0u32..4).prop_map(|(m, s)| Step::Pnl(decimal(m, s))),
            1 => (1i64..10_000_000).prop_map(|c| Step::Capital(Decimal::from(c))),
        ]
    }

    proptest! {
        /// The worst drawdown kept is the one a plain scan finds comparing
        /// every event's drawdown by its ratio (exactly, cross-multiplied:
        /// decimal division rounds), the worst so far
        /// shifted along with each capital change: skipping the events
        /// whose equity did not fall changes nothing.
        #[test]
        fn the_worst_drawdown_is_the_deepest_event_of_the_path(
            capital in 1i64..10_000_000,
            path in proptest::collection::vec(step(), 1..60),
        ) {
            let mut portfolio = Portfolio::default();
            portfolio.set_capital(Seq::new(1), Money::of(Decimal::from(capital))).unwrap();
            // (p − e)/p > (p′ − e′)/p′ for positive peaks.
            let deeper = |(peak, equity): (Decimal, Decimal), (peak_there, equity_there): (Decimal, Decimal)| {
                (peak - equity) * peak_there > (peak_there - equity_there) * peak
            };
            let mut deepest: Option<(Decimal, Decimal)> = None;
            for (index, step) in path.into_iter().enumerate() {
                let seq = Seq::new(index as u64 + 2);
                match step {
                    Step::Pnl(pnl) => {
                        portfolio.unrealized_pnl = Money::of(pnl);
                        portfolio.update_equity(Checked(seq)).unwrap();
                    }
                    Step::Capital(capital) => {
                        let delta = capital - portfolio.capital_initial.get();
                        deepest = deepest.map(|(peak, equity)| (peak + delta, equity + delta));
                        portfolio.set_capital(seq, Money::of(capital)).unwrap();
                    }
                }
                let here = (portfolio.equity_peak.get(), portfolio.equity.get());
                let in_drawdown = here.0 > Decimal::ZERO && here.1 < here.0;
                if in_drawdown && deepest.is_none_or(|there| deeper(here, there)) {
                    deepest = Some(here);
                }
            }
            let kept = portfolio.drawdown_worst.map(|point| (point.equity_peak.get(), point.equity.get()));
            prop_assert_eq!(kept, deepest);
        }
    }

    #[test]
    fn the_floor_sits_just_under_the_limits_equity() {
        let floor = breaker_floor(decimal(1_000_000, 0), decimal(20, 0)).unwrap();
        assert_eq!(floor, decimal(800_000_020, 3), "20 % below a million, less the 2·10⁻⁶ % margin");
        let breached = percentage_below(decimal(1_000_000, 0), decimal(799_999, 0)).round_dp(6);
        assert!(breached > decimal(20, 0), "a value under the floor may breach: {breached}");
        assert_eq!(breaker_floor(Decimal::ZERO, decimal(20, 0)), None);
        assert_eq!(breaker_floor(decimal(1_000_000, 0), decimal(1, 6)), None, "a limit within the margin");
    }
}
