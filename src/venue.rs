//! Where orders go. A venue answers with events — accepted, rejected,
//! filled, canceled — which the engine records like any decision.
//!
//! `SimulatedVenue` (paper trading, the default) is a pure function of the
//! ledger, so a re-run fills exactly as the recorded run did:
//! - a market order fills at the first tick of its symbol after it was
//!   submitted (after `LATENCY_TICKS` more ticks, when set), at that tick's
//!   price moved against the taker by `SLIPPAGE_BPS`;
//! - a limit order rests until a tick trades through its price (a buy at or
//!   below it, a sell at or above), and fills at the tick's price as maker;
//! - a tick that carries a size caps what it fills, shared by the working
//!   orders oldest first; the rest stays working (partial fills);
//! - fees are `MAKER_FEE_BPS` or `TAKER_FEE_BPS` of the fill's notional.

use rust_decimal::Decimal;
use tradeledger_events::{
    Event, FillId, Liquidity, Money, OrderAccepted, OrderCanceled, OrderFilled, OrderId, OrderRejected, OrderSubmitted,
    OrderType, Price, PriceTicked, Quantity, Side, VenueConfigured,
};
use tradeledger_projections::{Ledger, Order};

/// One basis point, 0.0001, exact.
const BASIS_POINT: Decimal = Decimal::from_parts(1, 0, 0, false, 4);

pub trait Venue: Send + Sync + std::fmt::Debug {
    /// The venue's answer to a new order: accepted or rejected.
    fn on_order(&self, ledger: &Ledger, order: &OrderSubmitted) -> Event;
    /// Executions caused by a tick, which the ledger has already folded in.
    fn on_tick(&self, ledger: &Ledger, tick: &PriceTicked) -> Vec<Event>;
    /// The answer to a cancel request; `None` when there is nothing to cancel.
    fn on_cancel(&self, ledger: &Ledger, order_id: &OrderId, reason: &str) -> Option<Event>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedVenue;

fn settings(ledger: &Ledger) -> VenueConfigured {
    ledger.risk.venue.clone().unwrap_or(VenueConfigured {
        slippage_bps: Decimal::ZERO,
        fee_maker_bps: Decimal::ZERO,
        fee_taker_bps: Decimal::ZERO,
        latency_ticks: 0,
    })
}

impl Venue for SimulatedVenue {
    fn on_order(&self, ledger: &Ledger, order: &OrderSubmitted) -> Event {
        if !ledger.market.last_ticks.contains_key(&order.symbol) {
            return Event::OrderRejected(OrderRejected {
                order_id: order.order_id.clone(),
                reason: format!("the venue has no market for {}", order.symbol),
            });
        }
        Event::OrderAccepted(OrderAccepted { order_id: order.order_id.clone() })
    }

    fn on_tick(&self, ledger: &Ledger, tick: &PriceTicked) -> Vec<Event> {
        // Most ticks find nothing working: answer before reading settings.
        if ledger.orders.working_orders(&tick.symbol).next().is_none() {
            return Vec::new();
        }
        let settings = settings(ledger);
        let ticks_seen = ledger.market.tick_count(&tick.symbol);
        let mut size_left = tick.size.map(Quantity::get);
        let mut fills = Vec::new();
        for order in ledger.orders.working_orders(&tick.symbol) {
            let waited = ticks_seen.saturating_sub(order.symbol_ticks_at_submission);
            if waited <= u64::from(settings.latency_ticks) {
                continue;
            }
            let Some((price, liquidity)) = execution_price(order, tick.price, &settings) else { continue };
            let mut quantity = order.quantity_remaining().get();
            if let Some(left) = &mut size_left {
                quantity = quantity.min(*left);
                *left -= quantity;
            }
            if quantity <= Decimal::ZERO {
                continue;
            }
            if let Some(fill) = fill(order, quantity, price, liquidity, &settings) {
                fills.push(fill);
            }
        }
        fills
    }

    fn on_cancel(&self, ledger: &Ledger, order_id: &OrderId, reason: &str) -> Option<Event> {
        let order = ledger.orders.orders.get(order_id)?;
        order
            .status
            .is_open()
            .then(|| Event::OrderCanceled(OrderCanceled { order_id: order_id.clone(), reason: reason.to_owned() }))
    }
}

/// Where and as what an order executes on a tick at `price`, if it does.
fn execution_price(order: &Order, price: Price, settings: &VenueConfigured) -> Option<(Price, Liquidity)> {
    match (order.order_type, order.price_limit) {
        (OrderType::Limit, Some(limit)) => {
            let crosses = match order.side {
                Side::Buy => price <= limit,
                Side::Sell => price >= limit,
            };
            crosses.then_some((price, Liquidity::Maker))
        }
        _ => {
            let slippage = settings.slippage_bps.checked_mul(BASIS_POINT)?;
            let factor = match order.side {
                Side::Buy => Decimal::ONE.checked_add(slippage)?,
                Side::Sell => Decimal::ONE.checked_sub(slippage)?,
            };
            Price::new(price.get().checked_mul(factor)?).ok().map(|price| (price, Liquidity::Taker))
        }
    }
}

fn fill(
    order: &Order,
    quantity: Decimal,
    price: Price,
    liquidity: Liquidity,
    settings: &VenueConfigured,
) -> Option<Event> {
    let bps = match liquidity {
        Liquidity::Maker => settings.fee_maker_bps,
        Liquidity::Taker => settings.fee_taker_bps,
    };
    let fee = price.get().checked_mul(quantity)?.checked_mul(bps)?.checked_mul(BASIS_POINT)?;
    let fill_id = FillId::try_from(format!("{}-F{}", order.order_id, order.fills.len() + 1).as_str()).ok()?;
    Some(Event::OrderFilled(OrderFilled {
        order_id: order.order_id.clone(),
        fill_id,
        symbol: order.symbol.clone(),
        side: order.side,
        quantity: Quantity::new(quantity).ok()?,
        price,
        fee: Money::of(fee),
        liquidity,
    }))
}
