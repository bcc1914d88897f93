//! `audit`: proves a journal, in three steps, each stopping at the first
//! problem it finds:
//!
//! 1. the hash chain verifies (every byte of every event, seqs dense);
//! 2. the fold accepts every event (no overfill, no unknown order, …);
//! 3. a fresh engine, fed only the recorded inputs, records exactly the
//!    recorded decisions: same seq, event, time, causation and correlation.
//!
//! Step 3 is what catches a decision edited and re-hashed so the chain still
//! verifies: the limits in force and the inputs say what it had to be.

use crate::engine::{EngineError, TradingSystem};
use crate::venue::SimulatedVenue;
use std::path::Path;
use tradeledger_events::{ChainFault, Envelope, Journal, JournalError, JournalOptions, Seq};
use tradeledger_projections::{Ledger, Retention};

/// Inputs handed to the re-run engine per commit.
const RERUN_BATCH: usize = 1_000;
/// Finished history the re-run engine keeps: decisions never depend on it,
/// so the re-run's memory stays flat, as a long-running engine's does.
const RERUN_HISTORY_KEPT: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("could not make a scratch journal for the re-run: {0}")]
    Scratch(std::io::Error),
}

/// What the audit found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every check passed.
    Clean { events: u64, inputs: u64, decisions: u64 },
    /// The hash chain or the stored bytes are damaged.
    Damaged(ChainFault),
    /// The events verify but cannot be folded.
    Unfoldable { seq: Seq, reason: String },
    /// The re-run recorded something else at `seq` (boxed: two envelopes).
    Diverged(Box<Divergence>),
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        matches!(self, Verdict::Clean { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub seq: Seq,
    /// `None`: the journal ends here, the re-run went on.
    pub recorded: Option<Envelope>,
    /// `None`: the re-run ended (or stopped) here.
    pub rederived: Option<Envelope>,
    /// Why the re-run stopped early, if it did.
    pub rerun_error: Option<String>,
}

/// Audits the journal in `dir`, opened read-only (it may be damaged, and
/// another process may not be writing it).
pub async fn audit(dir: &Path) -> Result<Verdict, AuditError> {
    let journal = Journal::open(dir, JournalOptions::read_only())?;
    let report = journal.verify()?;
    if let Some(fault) = report.fault {
        return Ok(Verdict::Damaged(fault));
    }
    if let Some((seq, reason)) = first_fold_error(&journal)? {
        return Ok(Verdict::Unfoldable { seq, reason });
    }
    let scratch = tempfile::tempdir().map_err(AuditError::Scratch)?;
    let rerun_error = rerun_inputs(&journal, scratch.path()).await?.err().map(|error| error.to_string());
    let rerun = Journal::open(scratch.path(), JournalOptions::read_only())?;
    let verdict = compare(&journal, &rerun, rerun_error)?;
    rerun.close()?;
    journal.close()?;
    Ok(verdict)
}

fn first_fold_error(journal: &Journal) -> Result<Option<(Seq, String)>, JournalError> {
    let mut ledger = Ledger::default();
    for envelope in journal.iter_from(Seq::FIRST) {
        let envelope = envelope?;
        if let Err(error) = ledger.apply(&envelope) {
            return Ok(Some((envelope.seq, error.to_string())));
        }
    }
    Ok(None)
}

/// Feeds every recorded input, in order, to a fresh engine on a scratch
/// journal. An engine error ends the re-run early; the comparison then
/// shows where the two part.
async fn rerun_inputs(journal: &Journal, scratch: &Path) -> Result<Result<(), EngineError>, AuditError> {
    let options = JournalOptions { durability: tradeledger_events::Durability::Buffered, ..JournalOptions::default() };
    let retention = Retention::Recent(RERUN_HISTORY_KEPT);
    let rerun = TradingSystem::open_bare_keeping(Journal::open(scratch, options)?, Box::new(SimulatedVenue), retention);
    let system = match rerun.await {
        Ok(system) => system,
        Err(error) => return Ok(Err(error)),
    };
    let mut batch = Vec::with_capacity(RERUN_BATCH);
    let mut outcome = Ok(());
    for envelope in journal.iter_from(Seq::FIRST) {
        let envelope = envelope?;
        if envelope.event.is_input() {
            batch.push((envelope.time_event, envelope.event));
        }
        if batch.len() == RERUN_BATCH {
            outcome = system.handle_inputs(batch.drain(..)).await;
            if outcome.is_err() {
                break;
            }
        }
    }
    if outcome.is_ok() {
        outcome = system.handle_inputs(batch).await;
    }
    // A stopped engine cannot save its snapshot; the journal is what counts.
    let stopped = system.stop().await;
    Ok(outcome.and(stopped))
}

/// Whether two envelopes record the same fact. Event ids and hashes differ
/// by construction (another journal id); the commit time is the wall clock.
fn same_fact(recorded: &Envelope, rederived: &Envelope) -> bool {
    recorded.seq == rederived.seq
        && recorded.event == rederived.event
        && recorded.time_event == rederived.time_event
        && recorded.causation_seq == rederived.causation_seq
        && recorded.correlation_seq == rederived.correlation_seq
}

fn compare(journal: &Journal, rerun: &Journal, rerun_error: Option<String>) -> Result<Verdict, JournalError> {
    let (mut recorded_iter, mut rederived_iter) = (journal.iter_from(Seq::FIRST), rerun.iter_from(Seq::FIRST));
    let (mut events, mut inputs) = (0_u64, 0_u64);
    loop {
        let recorded = recorded_iter.next().transpose()?;
        let rederived = rederived_iter.next().transpose()?;
        match (recorded, rederived) {
            (None, None) => break,
            (Some(recorded), Some(rederived)) if same_fact(&recorded, &rederived) => {
                events += 1;
                inputs += u64::from(recorded.event.is_input());
            }
            (recorded, rederived) => {
                let seq = recorded.as_ref().or(rederived.as_ref()).map_or(Seq::ZERO, |envelope| envelope.seq);
                return Ok(Verdict::Diverged(Box::new(Divergence { seq, recorded, rederived, rerun_error })));
            }
        }
    }
    Ok(Verdict::Clean { events, inputs, decisions: events - inputs })
}
