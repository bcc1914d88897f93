use crate::codec::CodecError;
use crate::verify::ChainFault;
use std::path::PathBuf;

/// Everything the journal can refuse or fail at. Infrastructure errors only:
/// business rejections are recorded events, never errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another process (or another handle in this one) holds the journal.
    /// Close it, or wait for it to exit, then open again.
    #[error("journal {dir} is already open in another process (or another handle); close that one first")]
    Locked { dir: PathBuf },

    /// There is no journal at the path, or the folder holds something else.
    #[error("{dir} is not a tradeledger journal: {reason}")]
    NotAJournal { dir: PathBuf, reason: String },

    /// The journal was written by a newer build; this build may read it but
    /// will not append to it.
    #[error("journal {dir} was written with event schema version {found}; this build writes version {supported} and will not append to it (open it read-only, or upgrade)")]
    NewerSchema { dir: PathBuf, found: u16, supported: u16 },

    /// The hash chain is broken; the journal can still be opened read-only
    /// for an audit.
    #[error("journal {dir} is damaged at {fault}; open it read-only to audit it")]
    Damaged { dir: PathBuf, fault: ChainFault },

    /// A stored event could not be read back.
    #[error("journal {dir} is corrupt at {fault}")]
    Corrupt { dir: PathBuf, fault: ChainFault },

    /// The storage engine cannot read the journal's files at all (a torn
    /// or damaged data file). Restore the folder from a copy.
    #[error("journal {dir} cannot be read: {reason}; restore the folder from a backup")]
    Unreadable { dir: PathBuf, reason: String },

    #[error("journal {dir} is open read-only; appending is refused")]
    ReadOnly { dir: PathBuf },

    /// The journal stopped accepting appends after a storage failure
    /// (fail-stop): nothing after the failure was acknowledged. Reopen it.
    #[error("journal {dir} stopped after a storage failure and accepts no more appends: {reason}")]
    Stopped { dir: PathBuf, reason: String },

    #[error("journal {dir} is closed")]
    Closed { dir: PathBuf },

    #[error("an append of {events} events is larger than the limit of {max} per call; split it")]
    AppendTooLarge { events: usize, max: usize },

    #[error("event {index} of the append could not be encoded: {source}")]
    Encode { index: usize, source: CodecError },

    /// `append_blocking` was called on an async runtime thread, where it would
    /// stall the runtime; use `append` there.
    #[error("append_blocking was called from inside an async runtime; use `append().await` there")]
    BlockingInRuntime,

    #[error("sled failed to {operation} in {dir}: {source}")]
    Storage { dir: PathBuf, operation: &'static str, source: sled::Error },

    #[error("could not {operation} {path}: {source}")]
    Io { path: PathBuf, operation: &'static str, source: std::io::Error },
}
