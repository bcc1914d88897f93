//! Loading a journal's state: the latest ledger snapshot plus a fold of the
//! events after it, or a fold from scratch when there is no usable snapshot.

use tradeledger_events::{Journal, JournalError, Seq};
use tradeledger_projections::{snapshot, FoldError, Ledger, Retention};

/// Name of the ledger snapshot in the journal's `snapshots` tree.
pub const LEDGER_SNAPSHOT: &str = "ledger";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal cannot be folded: {0}")]
    Fold(#[from] FoldError),
    #[error("could not encode the ledger snapshot: {0}")]
    Snapshot(#[from] snapshot::SnapshotError),
}

/// How the ledger was rebuilt, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// From the snapshot at this seq, then the tail.
    FromSnapshot(Seq),
    /// From seq 1: no snapshot, or an unusable one.
    FromScratch,
}

/// The journal's state as of its head, with all of its history.
pub fn load_ledger(journal: &Journal) -> Result<(Ledger, Restored), LoadError> {
    load_ledger_keeping(journal, Retention::Everything)
}

/// The journal's state as of its head, keeping `retention` of its history.
/// A snapshot taken under another retention holds other history, so it is
/// not used.
pub fn load_ledger_keeping(journal: &Journal, retention: Retention) -> Result<(Ledger, Restored), LoadError> {
    let head = journal.head().seq;
    let start = match journal.load_snapshot(LEDGER_SNAPSHOT)? {
        Some((seq, bytes)) if seq <= head => match snapshot::decode(&bytes) {
            Ok(ledger) if ledger.retention != retention => {
                tracing::info!(%seq, snapshot = ?ledger.retention, wanted = ?retention, "the ledger snapshot keeps another retention; folding from scratch");
                None
            }
            Ok(ledger) => Some((ledger, seq)),
            Err(reason) => {
                tracing::warn!(%seq, reason, "ignoring the ledger snapshot; folding from scratch");
                None
            }
        },
        Some((seq, _)) => {
            tracing::warn!(%seq, %head, "ignoring a ledger snapshot beyond the journal's head");
            None
        }
        None => None,
    };
    let (mut ledger, restored) = match start {
        Some((ledger, seq)) => (ledger, Restored::FromSnapshot(seq)),
        None => (Ledger::keeping(retention), Restored::FromScratch),
    };
    for envelope in journal.iter_from(Seq::new(ledger.seq.get() + 1)) {
        ledger.apply(&envelope?)?;
    }
    Ok((ledger, restored))
}

/// Saves `ledger` as the journal's ledger snapshot.
pub fn save_ledger_snapshot(journal: &Journal, ledger: &Ledger) -> Result<(), LoadError> {
    let bytes = snapshot::encode(ledger)?;
    journal.save_snapshot(LEDGER_SNAPSHOT, ledger.seq, &bytes)?;
    Ok(())
}
