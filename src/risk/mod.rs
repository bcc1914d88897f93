//! The Risk Manager's decisions, as pure functions of the ledger: pre-trade
//! checks today; post-trade monitoring (stops, take-profits, the circuit
//! breaker) follows with the engine.

mod correlation;
pub mod pre_trade;

pub use correlation::correlation;
pub use pre_trade::{check_signal, PreTradeVerdict};
