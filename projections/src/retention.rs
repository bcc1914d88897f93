//! How much finished history a ledger keeps in memory.
//!
//! What the engine decides from is bounded by nature: working orders, open
//! positions, the portfolio, the breaker, recent prices. What grows is the
//! history beside it: finished orders, settled signals, closed positions,
//! risk decisions. `Retention::Everything` keeps all of it (replay, reports
//! and exports want the whole story); `Retention::Recent(n)` keeps the `n`
//! most recent of each, so a long-running engine's memory stays flat. The
//! journal keeps everything either way.
//!
//! Idempotency does not expire: a signal that leaves memory leaves a 16-byte
//! fingerprint and the seqs where the journal holds its story, so the fold
//! still rejects a second `SignalReceived` with its id and the engine still
//! answers a resubmission with the original outcome, read back from the
//! journal.

use serde::{Deserialize, Serialize};
use tradeledger_events::{Seq, SignalId};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Retention {
    #[default]
    Everything,
    /// The most recent `n` finished orders, settled signals, closed positions
    /// and risk events (each counted on its own).
    Recent(u32),
}

impl Retention {
    /// Whether a history of `len` entries holds more than is kept.
    pub(crate) fn exceeded_by(self, len: usize) -> bool {
        match self {
            Retention::Everything => false,
            Retention::Recent(kept) => len > kept as usize,
        }
    }
}

/// 128 bits of BLAKE3 of a signal id: collisions among even billions of ids
/// are as unlikely as a collision of the journal's own chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignalFingerprint(pub u128);

impl SignalFingerprint {
    pub fn of(signal_id: &SignalId) -> SignalFingerprint {
        let hash = blake3::hash(signal_id.as_str().as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash.as_bytes()[..16]);
        SignalFingerprint(u128::from_le_bytes(first))
    }
}

/// Where the journal holds a signal that left memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvictedSignal {
    /// Its `SignalReceived`.
    pub seq: Seq,
    /// Its verdict.
    pub seq_verdict: Seq,
    /// The last event of its story: the verdict of a rejected signal, the
    /// last event of a passed signal's order.
    pub seq_settled: Seq,
    /// What the order's `symbol_ticks_at_submission` was, so an order
    /// rebuilt from the journal equals the one the ledger held.
    pub symbol_ticks_at_submission: u64,
}
