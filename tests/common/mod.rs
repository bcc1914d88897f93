//! Helpers shared by the root package's integration tests.
#![allow(dead_code)]

use rust_decimal::Decimal;
use tradeledger::events::{OrderType, Side, SignalReceived};

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A market signal of strategy `test`.
pub fn market_signal(id: &str, symbol: &str, side: Side, quantity: &str) -> SignalReceived {
    SignalReceived {
        signal_id: id.parse().unwrap(),
        strategy_id: "test".parse().unwrap(),
        symbol: symbol.parse().unwrap(),
        side,
        quantity: dec(quantity),
        order_type: OrderType::Market,
        price_limit: None,
        price_stop_loss: None,
        price_take_profit: None,
    }
}
