//! Time travel: the state of a journal as of any event, and the small API
//! users call from their own tests to snapshot a journal's projections.
//!
//! ```no_run
//! // In your crate's tests, with `insta` as a dev-dependency:
//! let view = tradeledger::replay::journal_view("path/to/journal", tradeledger::replay::At::Head).unwrap();
//! // insta::assert_yaml_snapshot!(view);
//! ```

use crate::ledger::{load_ledger, LEDGER_SNAPSHOT};
use std::path::Path;
use tradeledger_events::{Journal, JournalError, JournalOptions, Seq, Timestamp};
use tradeledger_projections::view::LedgerView;
use tradeledger_projections::{scenario, snapshot, FoldError, Ledger};

/// Which state to rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// After the last event.
    Head,
    /// After the event with this seq (folding stops there).
    Seq(Seq),
    /// After the last event, in seq order, whose event time is at or before
    /// this time: folding stops at the first event later than it.
    Time(Timestamp),
}

impl std::str::FromStr for At {
    type Err = String;

    /// A bare integer is a seq; anything else is a time (RFC 3339, or
    /// `ms:1723161255342` for epoch milliseconds).
    fn from_str(text: &str) -> Result<At, String> {
        if let Ok(seq) = text.parse::<u64>() {
            return Ok(At::Seq(Seq::new(seq)));
        }
        let time = text.strip_prefix("ms:").unwrap_or(text);
        time.parse::<Timestamp>()
            .map(At::Time)
            .map_err(|error| format!("`{text}` is neither a seq nor a time: {error}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal cannot be folded: {0}")]
    Fold(#[from] FoldError),
    #[error(transparent)]
    Load(#[from] crate::ledger::LoadError),
    #[error("seq {requested} is beyond the journal's head (seq {head})")]
    BeyondHead { requested: Seq, head: Seq },
    #[error("scenario {path}: {reason}")]
    Scenario { path: String, reason: String },
}

/// The ledger of an open journal as of `at`. Uses the stored ledger snapshot
/// when it is at or before the target, else folds from the first event.
pub fn ledger_at(journal: &Journal, at: At) -> Result<Ledger, ReplayError> {
    let head = journal.head().seq;
    let stop_seq = match at {
        At::Head => return Ok(load_ledger(journal)?.0),
        At::Seq(seq) if seq > head => return Err(ReplayError::BeyondHead { requested: seq, head }),
        At::Seq(seq) => seq,
        At::Time(_) => head,
    };
    let mut ledger = snapshot_at_or_before(journal, at)?.unwrap_or_default();
    for envelope in journal.iter_from(Seq::new(ledger.seq.get() + 1)) {
        let envelope = envelope?;
        if envelope.seq > stop_seq || matches!(at, At::Time(time) if envelope.time_event > time) {
            break;
        }
        ledger.apply(&envelope)?;
    }
    Ok(ledger)
}

/// The stored snapshot, when it is usable for `at`.
fn snapshot_at_or_before(journal: &Journal, at: At) -> Result<Option<Ledger>, ReplayError> {
    let Some((seq, bytes)) = journal.load_snapshot(LEDGER_SNAPSHOT)? else { return Ok(None) };
    let usable = match at {
        At::Head => true,
        At::Seq(target) => seq <= target,
        // Times need not grow with seqs, so only a fold from the start knows
        // where the first later event is.
        At::Time(_) => false,
    };
    Ok(usable.then(|| snapshot::decode(&bytes).ok()).flatten())
}

/// Opens the journal in `dir` read-only and returns its state as of `at`:
/// the public entry point for snapshot tests of a recorded journal.
pub fn journal_view(dir: impl AsRef<Path>, at: At) -> Result<LedgerView, ReplayError> {
    let journal = Journal::open(dir.as_ref(), JournalOptions::read_only())?;
    let ledger = ledger_at(&journal, at)?;
    journal.close()?;
    Ok(LedgerView::of(&ledger))
}

/// Folds a scenario fixture (the `projections::scenario` text format) and
/// returns its state: snapshot tests without a journal on disk.
pub fn scenario_view(path: impl AsRef<Path>) -> Result<LedgerView, ReplayError> {
    let path = path.as_ref();
    let scenario_error = |reason: String| ReplayError::Scenario { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|error| scenario_error(error.to_string()))?;
    let envelopes = scenario::envelopes(&text).map_err(|error| scenario_error(error.to_string()))?;
    Ok(LedgerView::of(&tradeledger_projections::fold(&envelopes)?))
}
