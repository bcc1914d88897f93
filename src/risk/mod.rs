//! The Risk Manager's decisions, as pure functions of the ledger: pre-trade
//! checks on every signal, and post-trade monitoring (protective exits, the
//! circuit breaker) on every tick and fill.

mod correlation;
pub mod post_trade;
pub mod pre_trade;

pub use correlation::correlation;
pub use post_trade::{breaker_breach, breaker_reset_due, protective_exit, BreakerGate};
pub use pre_trade::{check_signal, PreTradeVerdict};
