#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub use tradeledger_events as events;
