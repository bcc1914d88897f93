//! tradeledger: the shell around the journal and the projections — engine,
//! managers, venue and command line. Only this crate knows about time, files
//! and the outside world.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod affinity;
pub mod audit;
pub mod cli;
pub mod config;
pub mod demo;
pub mod describe;
pub mod engine;
pub mod explain;
pub mod export;
pub mod input;
pub mod ledger;
pub mod memory;
pub mod record;
pub mod replay;
pub mod report;
pub mod risk;
pub mod strategy;
pub mod venue;

pub use tradeledger_events as events;
pub use tradeledger_projections as projections;
