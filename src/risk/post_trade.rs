//! Post-trade monitoring, as pure functions of the ledger: protective exits
//! (stop-loss, take-profit) on every tick of a position's symbol, the circuit
//! breaker, and its reset on a new UTC trading day.

use rust_decimal::Decimal;
use tradeledger_events::{
    BreakerCause, BreakerResetPolicy, CircuitBreakerTripped, ExitReason, Price, Symbol, Timestamp,
};
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

/// True when a tripped breaker resets itself at `time`: the policy is
/// `next_utc_day` and `time` falls on a later UTC day than the trip.
pub fn breaker_reset_due(ledger: &Ledger, time: Timestamp) -> bool {
    let policy = ledger.risk.limits.as_ref().map(|limits| limits.circuit_breaker_reset);
    match (&ledger.risk.breaker_tripped, policy) {
        (Some(trip), Some(BreakerResetPolicy::NextUtcDay)) => time.utc_day() > trip.time.utc_day(),
        _ => false,
    }
}
