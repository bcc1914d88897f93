//! Post-trade monitoring, as pure functions of the ledger: protective exits
//! (stop-loss, take-profit) on every tick of a position's symbol, the circuit
//! breaker, and its reset on a new UTC trading day.

use rust_decimal::Decimal;
use tradeledger_events::{
    BreakerCause, BreakerResetPolicy, CircuitBreakerTripped, ExitReason, Price, Symbol, Timestamp,
};
use tradeledger_projections::portfolio::breaker_floor;
use tradeledger_projections::{Ledger, Position, PositionSide};

/// The protective exit a tick at `price` triggers for `symbol`'s open
/// position, unless an exit order for it is already working.
pub fn protective_exit<'a>(ledger: &'a Ledger, symbol: &Symbol, price: Price) -> Option<(&'a Position, ExitReason)> {
    let position = ledger.positions.open.get(symbol)?;
    if exit_already_working(ledger, symbol) {
        return None;
    }
    let price = price.get();
    let stop = position.price_stop_loss.map(Price::get);
    let take = position.price_take_profit.map(Price::get);
    let hit = |level: Option<Decimal>, long_when_at_or_below: bool| {
        level.is_some_and(|level| match (position.side, long_when_at_or_below) {
            (PositionSide::Long, true) | (PositionSide::Short, false) => price <= level,
            (PositionSide::Long, false) | (PositionSide::Short, true) => price >= level,
        })
    };
    if hit(stop, true) {
        Some((position, ExitReason::StopLoss))
    } else if hit(take, false) {
        Some((position, ExitReason::TakeProfit))
    } else {
        None
    }
}

/// True while a reduce-only exit order for `symbol` is working: one exit per
/// position at a time, not one per tick.
pub fn exit_already_working(ledger: &Ledger, symbol: &Symbol) -> bool {
    ledger.orders.working_orders(symbol).any(|order| order.reduce_only && order.exit_reason.is_some())
}

/// The breach that trips the breaker now, if it is not tripped already: the
/// current drawdown above `MAX_DRAWDOWN`, or the day's loss above
/// `DAILY_LOSS_LIMIT` (both in percent). Both are measured from the last
/// reset when there was one that day, so a reset is not undone by the
/// losses it acknowledged.
pub fn breaker_breach(ledger: &Ledger) -> Option<CircuitBreakerTripped> {
    let limits = ledger.risk.limits.as_ref()?;
    if ledger.risk.breaker_tripped.is_some() {
        return None;
    }
    let portfolio = &ledger.portfolio;
    if portfolio.drawdown_breaker_may_exceed(limits.drawdown_max_percent) {
        let drawdown = portfolio.drawdown_breaker_percentage().round_dp(6);
        if drawdown > limits.drawdown_max_percent {
            return Some(CircuitBreakerTripped {
                cause: BreakerCause::Drawdown,
                measured: drawdown,
                limit: limits.drawdown_max_percent,
            });
        }
    }
    if !portfolio.daily_loss_breaker_may_exceed(limits.daily_loss_max_percent) {
        return None;
    }
    let daily_loss = portfolio.daily_loss_breaker_percentage().round_dp(6);
    (daily_loss > limits.daily_loss_max_percent).then_some(CircuitBreakerTripped {
        cause: BreakerCause::DailyLoss,
        measured: daily_loss,
        limit: limits.daily_loss_max_percent,
    })
}

/// A cheap "surely not" in front of `breaker_breach`, which the engine asks
/// after every tick and fill. It keeps, for the breaker's references and
/// limits in force, the equity floors below which a limit may be breached
/// (see `breaker_floor`), and recomputes them only when one of those
/// changes: the check is then one or two comparisons instead of two
/// percentages. Engine state, not ledger state: it is rebuilt from the
/// ledger on demand, so it cannot change a decision.
#[derive(Debug, Default)]
pub struct BreakerGate {
    /// The exact representations of what the floors were computed from:
    /// peak and day-start references, drawdown and daily-loss limits.
    computed_from: Option<[[u8; 16]; 4]>,
    drawdown_floor: Option<ScaledFloor>,
    daily_loss_floor: Option<ScaledFloor>,
}

impl BreakerGate {
    /// False only when `breaker_breach(ledger)` is surely `None`.
    pub fn may_trip(&mut self, ledger: &Ledger) -> bool {
        let Some(limits) = ledger.risk.limits.as_ref() else { return false };
        if ledger.risk.breaker_tripped.is_some() {
            return false;
        }
        let portfolio = &ledger.portfolio;
        let (peak, day_start) = (portfolio.equity_peak_breaker.get(), portfolio.equity_day_start_breaker.get());
        let (drawdown_max, daily_loss_max) = (limits.drawdown_max_percent, limits.daily_loss_max_percent);
        let from = [peak.serialize(), day_start.serialize(), drawdown_max.serialize(), daily_loss_max.serialize()];
        if self.computed_from != Some(from) {
            self.drawdown_floor = breaker_floor(peak, drawdown_max).map(ScaledFloor::new);
            self.daily_loss_floor = breaker_floor(day_start, daily_loss_max).map(ScaledFloor::new);
            self.computed_from = Some(from);
        }
        let equity = portfolio.equity.get();
        let below = |floor: &mut Option<ScaledFloor>| floor.as_mut().is_none_or(|floor| floor.is_above(equity));
        below(&mut self.drawdown_floor) || below(&mut self.daily_loss_floor)
    }
}

/// A floor, and its mantissa rounded up to the scale equity last had.
/// Comparing two decimals of different scales rescales one of them (a
/// 96-bit multiplication, half the gate's time on every tick); comparing
/// mantissas of one scale is an integer comparison. Exact: for `e` a
/// multiple of 10⁻ˢ, `e < floor` ⇔ `e < ⌈floor⌉ₛ` (the smallest multiple of
/// 10⁻ˢ at or above the floor), since no multiple of 10⁻ˢ lies in
/// `[floor, ⌈floor⌉ₛ)`.
#[derive(Debug, Clone, Copy)]
struct ScaledFloor {
    floor: Decimal,
    /// `(s, m)`: `⌈floor⌉ₛ = m·10⁻ˢ`.
    ceiling: Option<(u32, i128)>,
}

impl ScaledFloor {
    fn new(floor: Decimal) -> ScaledFloor {
        ScaledFloor { floor, ceiling: None }
    }

    /// `value < floor`, exactly.
    fn is_above(&mut self, value: Decimal) -> bool {
        let scale = value.scale();
        if self.ceiling.is_none_or(|(at, _)| at != scale) {
            self.ceiling = ceiling_at_scale(self.floor, scale).map(|mantissa| (scale, mantissa));
        }
        match self.ceiling {
            Some((_, ceiling)) => value.mantissa() < ceiling,
            // Not representable as an i128 at that scale: compare the slow way.
            None => value < self.floor,
        }
    }
}

/// The mantissa of the smallest multiple of 10⁻ˢ at or above `value`,
/// expressed at scale `s`; `None` when it does not fit an `i128`.
fn ceiling_at_scale(value: Decimal, scale: u32) -> Option<i128> {
    let ceiling = value.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::ToPositiveInfinity);
    // Rounding leaves the scale at or below `scale`; widen the mantissa to it.
    let widen = scale.checked_sub(ceiling.scale())?;
    10i128.checked_pow(widen).and_then(|factor| ceiling.mantissa().checked_mul(factor))
}

/// True when a tripped breaker resets itself at `time`: the policy is
/// `next_utc_day` and `time` falls on a later UTC day than the trip.
pub fn breaker_reset_due(ledger: &Ledger, time: Timestamp) -> bool {
    let policy = ledger.risk.limits.as_ref().map(|limits| limits.circuit_breaker_reset);
    match (&ledger.risk.breaker_tripped, policy) {
        (Some(trip), Some(BreakerResetPolicy::NextUtcDay)) => time.utc_day() > trip.time.utc_day(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeledger_events::{BreakerCause, Money};

    /// A ledger under the default limits (drawdown 20 %, daily loss 10 %).
    fn ledger(peak: i64, day_start: i64, equity: i64) -> Ledger {
        let mut ledger = Ledger::default();
        ledger.risk.limits = Some(crate::config::Config::default().limits);
        ledger.portfolio.equity_peak_breaker = Money::of(Decimal::from(peak));
        ledger.portfolio.equity_day_start_breaker = Money::of(Decimal::from(day_start));
        ledger.portfolio.equity = Money::of(Decimal::from(equity));
        ledger
    }

    #[test]
    fn the_gate_opens_for_every_breach_of_either_limit() {
        let mut gate = BreakerGate::default();
        let mut breaches = [0, 0];
        for (peak, day_start) in [(1_000_000, 1_000_000), (1_000_000, 850_000), (2_000_000, 1_000_000)] {
            for equity in (600_000..=1_000_000).step_by(1_000) {
                let ledger = ledger(peak, day_start, equity);
                if let Some(trip) = breaker_breach(&ledger) {
                    assert!(gate.may_trip(&ledger), "{trip:?} at equity {equity}, peak {peak}, day start {day_start}");
                    breaches[usize::from(trip.cause == BreakerCause::DailyLoss)] += 1;
                }
            }
        }
        assert!(breaches[0] > 0 && breaches[1] > 0, "both causes were tried: {breaches:?}");
    }

    fn decimal(mantissa: i64, scale: u32) -> Decimal {
        Decimal::new(mantissa, scale)
    }

    proptest::proptest! {
        /// The scaled comparison agrees with `Decimal`'s own, whatever the
        /// scales of the floor and the values, including a value changing
        /// scale between calls.
        #[test]
        fn a_scaled_floor_compares_as_decimals_do(
            floor in (-10_000_000_000i64..10_000_000_000, 0u32..=28),
            values in proptest::collection::vec((-10_000_000_000i64..10_000_000_000, 0u32..=12), 1..20),
        ) {
            let floor = decimal(floor.0, floor.1);
            let mut scaled = ScaledFloor::new(floor);
            for (mantissa, scale) in values {
                let value = decimal(mantissa, scale);
                proptest::prop_assert_eq!(scaled.is_above(value), value < floor, "{} < {}", value, floor);
                // The value just below the ceiling, and the ceiling itself.
                let step = decimal(1, scale);
                let ceiling = floor.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::ToPositiveInfinity);
                for near in [ceiling - step, ceiling, ceiling + step] {
                    let near = near.trunc_with_scale(scale);
                    proptest::prop_assert_eq!(scaled.is_above(near), near < floor, "{} < {}", near, floor);
                }
            }
        }
    }

    #[test]
    fn a_floor_too_wide_for_an_i128_at_the_value_scale_is_compared_as_decimals() {
        let floor = Decimal::MAX;
        assert_eq!(ceiling_at_scale(floor, 20), None);
        let mut scaled = ScaledFloor::new(floor);
        assert!(scaled.is_above(decimal(1, 20)));
        assert!(!ScaledFloor::new(Decimal::MIN).is_above(decimal(-1, 20)));
    }

    #[test]
    fn the_gate_stays_shut_well_inside_the_limits_and_follows_new_references() {
        let mut gate = BreakerGate::default();
        assert!(!gate.may_trip(&ledger(1_000_000, 1_000_000, 950_000)));
        // The same equity is a 10.5 % loss from a higher day start.
        assert!(gate.may_trip(&ledger(1_100_000, 1_061_453, 950_000)));
        assert!(!gate.may_trip(&ledger(1_000_000, 1_000_000, 950_000)), "back to the first references");
        let mut tripped = ledger(1_000_000, 1_000_000, 100_000);
        tripped.risk.breaker_tripped =
            breaker_breach(&tripped).map(|trip| tradeledger_projections::risk::BreakerTrip {
                cause: trip.cause,
                measured: trip.measured,
                limit: trip.limit,
                seq: tradeledger_events::Seq::FIRST,
                time: Timestamp::default(),
            });
        assert!(!gate.may_trip(&tripped), "a tripped breaker does not trip again");
    }
}
