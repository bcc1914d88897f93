//! What the risk manager's decisions need from the market and from its own
//! recent orders: the last tick of each symbol, a window of recent prices per
//! symbol (only while the correlation limit is on) and the event times of
//! the orders sent in the last minute. A fold like the others, so an audit
//! re-run sees exactly what the live decision saw.

use crate::Sequenced;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use tradeledger_events::{Event, Price, Seq, Symbol, Timestamp};

/// The window the order-rate limit counts over.
pub const ORDER_RATE_WINDOW_NANOS: i64 = 60 * 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickSeen {
    pub price: Price,
    pub time: Timestamp,
    pub seq: Seq,
    /// Ticks of this symbol so far, this one included: the simulated venue's
    /// latency is counted in these.
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketState {
    pub last_ticks: BTreeMap<Symbol, TickSeen>,
    /// The latest `correlation_window + 1` tick prices of each symbol, oldest
    /// first: enough for `correlation_window` returns.
    pub price_windows: BTreeMap<Symbol, VecDeque<Price>>,
    /// Event times of strategy orders (not forced exits) within the last
    /// minute of the newest one.
    pub order_times: VecDeque<Timestamp>,
}

impl MarketState {
    /// `correlation_window` is the window of the limits in force, if the
    /// correlation limit is on.
    pub fn apply(&mut self, envelope: Sequenced<'_>, correlation_window: Option<u32>) {
        match &envelope.event {
            Event::PriceTicked(tick) => {
                let seen = |count| TickSeen { price: tick.price, time: envelope.time_event, seq: envelope.seq, count };
                match self.last_ticks.get_mut(&tick.symbol) {
                    Some(last) => *last = seen(last.count.saturating_add(1)),
                    None => {
                        self.last_ticks.insert(tick.symbol.clone(), seen(1));
                    }
                }
                if let Some(window) = correlation_window {
                    let prices = self.price_windows.entry(tick.symbol.clone()).or_default();
                    prices.push_back(tick.price);
                    while prices.len() > window as usize + 1 {
                        prices.pop_front();
                    }
                }
            }
            Event::OrderSubmitted(order) if order.signal_id.is_some() => {
                self.order_times.push_back(envelope.time_event);
                let horizon = envelope.time_event.unix_nanos().saturating_sub(ORDER_RATE_WINDOW_NANOS);
                while self.order_times.front().is_some_and(|time| time.unix_nanos() <= horizon) {
                    self.order_times.pop_front();
                }
            }
            _ => {}
        }
    }

    /// Ticks of `symbol` seen so far.
    pub fn tick_count(&self, symbol: &Symbol) -> u64 {
        self.last_ticks.get(symbol).map_or(0, |tick| tick.count)
    }

    /// Strategy orders sent in the minute before `time` (by event time).
    pub fn orders_in_last_minute(&self, time: Timestamp) -> usize {
        let horizon = time.unix_nanos().saturating_sub(ORDER_RATE_WINDOW_NANOS);
        self.order_times.iter().filter(|sent| sent.unix_nanos() > horizon).count()
    }
}
