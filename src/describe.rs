//! One line per event, for tables (`explain`, `events --format table`) and
//! audit diffs: what happened, in words, with the numbers that matter.

use serde::Serialize;
use tradeledger_events::{Event, OrderType, Verdict};

/// The name serde gives a unit enum value (`buy`, `take_profit`, `LOW`):
/// the word tables and exports show, the same as in JSON.
pub fn word<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned))
}

pub fn summary(event: &Event) -> String {
    match event {
        Event::SignalReceived(signal) => {
            let price = signal.price_limit.map(|price| format!(" @ {price}")).unwrap_or_default();
            let order_type = match signal.order_type {
                OrderType::Market => "market",
                OrderType::Limit => "limit",
            };
            format!(
                "{} {} {} {order_type}{price} (strategy {})",
                side(signal.side),
                signal.quantity,
                signal.symbol,
                signal.strategy_id
            )
        }
        Event::PriceTicked(tick) => format!("{} {}", tick.symbol, tick.price),
        Event::RiskLimitsSet(set) => format!("capital {}, limits in force", set.limits.capital_initial),
        Event::VenueConfigured(venue) => format!(
            "slippage {} bps, fees maker {} / taker {} bps, latency {} ticks",
            venue.slippage_bps, venue.fee_maker_bps, venue.fee_taker_bps, venue.latency_ticks
        ),
        Event::FillImported(fill) => format!(
            "{} {} {} @ {} fee {} (fill {}, order {})",
            side(fill.side),
            fill.quantity,
            fill.symbol,
            fill.price,
            fill.fee,
            fill.fill_id,
            fill.order_id
        ),
        Event::InputRejected(rejected) => format!("{}: {}: {}", rejected.origin, rejected.field, rejected.reason),
        Event::OrderCancelRequested(request) => format!("cancel {}", request.order_id),
        Event::CircuitBreakerResetRequested(request) => format!("reset requested by {}", request.requested_by),
        Event::RiskCheckPassed(passed) => {
            let ran = passed.checks.iter().filter(|check| check.verdict == Verdict::Pass).count();
            format!("{} passed {ran} checks", passed.signal_id)
        }
        Event::RiskCheckRejected(rejected) => format!("{} rejected: {}", rejected.signal_id, rejected.reason),
        Event::CircuitBreakerTripped(trip) => {
            format!("{:?} {} % breached the limit {} %", trip.cause, trip.measured.normalize(), trip.limit)
        }
        Event::CircuitBreakerReset(reset) => format!("reset ({:?})", reset.reason),
        Event::ForcedExitTriggered(exit) => {
            format!("{:?} on {} {} at {}", exit.reason, exit.position_id, exit.symbol, exit.price_trigger)
        }
        Event::OrderSubmitted(order) => {
            let price = order.price_limit.map(|price| format!(" @ {price}")).unwrap_or_default();
            let exit = order.exit_reason.map(|reason| format!(" (exit: {reason:?})")).unwrap_or_default();
            format!("{} {} {} {}{price}{exit}", order.order_id, side(order.side), order.quantity, order.symbol)
        }
        Event::OrderAccepted(accepted) => format!("{} accepted", accepted.order_id),
        Event::OrderRejected(rejected) => format!("{} rejected: {}", rejected.order_id, rejected.reason),
        Event::OrderFilled(fill) => format!(
            "{} {} {} {} @ {} fee {} ({:?})",
            fill.order_id,
            side(fill.side),
            fill.quantity,
            fill.symbol,
            fill.price,
            fill.fee,
            fill.liquidity
        ),
        Event::OrderCanceled(canceled) => format!("{} canceled: {}", canceled.order_id, canceled.reason),
        Event::OrderExpired(expired) => format!("{} expired", expired.order_id),
        Event::TimerFired(timer) => format!("risk monitor timer ({} ms)", timer.period_ms),
    }
}

fn side(side: tradeledger_events::Side) -> &'static str {
    match side {
        tradeledger_events::Side::Buy => "buy",
        tradeledger_events::Side::Sell => "sell",
    }
}
