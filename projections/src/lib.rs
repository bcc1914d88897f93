pub use tradeledger_events as events;
