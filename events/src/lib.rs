//! tradeledger-events: the event schema, the envelope and its hash chain, the
//! codec (the format of record) and the append-only journal on sled.
//!
//! This crate knows nothing of positions or risk; `tradeledger-projections`
//! folds these events into state.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod codec;
pub mod decimal_codec;
pub mod envelope;
pub mod error;
pub mod event;
pub mod journal;
pub mod types;
pub mod verify;

pub use envelope::{Envelope, NewEvent, SCHEMA_VERSION};
pub use error::JournalError;
pub use event::*;
pub use journal::{Appended, Durability, EventIter, Head, Journal, JournalOptions, OpenMode, VerifyReport};
pub use types::*;
pub use verify::{ChainFault, FaultKind};
