//! Hash-chain verification over stored frames. Pure: it sees `(key, value)`
//! byte pairs in key order and knows nothing of sled, so it can be run on a
//! live journal, on a copy, or on frames a test has tampered with.

use crate::codec::{self, FrameError, RecordCursor};
use crate::envelope::{chain_hash, genesis_hash};
use crate::types::{Hash, JournalId, Seq};
use std::fmt;

/// The first thing wrong with a journal, and the seq where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {kind}")]
pub struct ChainFault {
    pub seq: Seq,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The stored hash is not the hash of the stored bytes.
    HashMismatch { stored: Hash, computed: Hash },
    /// A frame's previous-hash is not the hash of the record before it.
    PreviousHashMismatch { stored: Hash, expected: Hash },
    /// Seqs are not dense: `found` stands where `expected` should.
    Gap { expected: Seq, found: Seq },
    /// The bytes do not have the shape of a frame or record.
    Malformed(FrameError),
    /// The hash matches but the body does not decode as an event.
    Undecodable(String),
    /// The head anchor written with the last commit names a later seq than
    /// the chain reaches: events were cut from the end.
    MissingTail { anchored: Seq },
    /// The chain reaches the anchored seq but ends on another hash, or runs
    /// past the anchor.
    AnchorMismatch { anchored: Seq, anchored_hash: Hash, found_hash: Hash },
}

/// Where the last commit left the chain, stored beside the frames in the same
/// atomic batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub seq: Seq,
    pub hash: Hash,
}

impl Anchor {
    pub const BYTES: usize = 8 + 32;

    pub fn encode(&self) -> [u8; Anchor::BYTES] {
        let mut bytes = [0u8; Anchor::BYTES];
        bytes[..8].copy_from_slice(&self.seq.get().to_le_bytes());
        bytes[8..].copy_from_slice(&self.hash.0);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<Anchor> {
        let seq = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let hash: [u8; 32] = bytes.get(8..)?.try_into().ok()?;
        Some(Anchor { seq: Seq::new(seq), hash: Hash(hash) })
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::HashMismatch { stored, computed } => {
                write!(formatter, "hash mismatch: stored {stored}, computed {computed}")
            }
            FaultKind::PreviousHashMismatch { stored, expected } => write!(
                formatter,
                "wrong previous hash: stored {stored}, but the record before ends the chain at {expected}"
            ),
            FaultKind::Gap { expected, found } => write!(formatter, "gap: expected seq {expected}, found {found}"),
            FaultKind::Malformed(error) => write!(formatter, "undecodable bytes: {error}"),
            FaultKind::Undecodable(detail) => write!(formatter, "undecodable event: {detail}"),
            FaultKind::MissingTail { anchored } => {
                write!(formatter, "missing: the head anchor says the journal reaches seq {anchored}")
            }
            FaultKind::AnchorMismatch { anchored, anchored_hash, found_hash } => write!(
                formatter,
                "head anchor mismatch: anchor says seq {anchored} ends at {anchored_hash}, the chain gives {found_hash}"
            ),
        }
    }
}

/// Walks frames in key order, checking density, shape, every hash and that
/// every body decodes. Feed it frames with `check_frame`; it remembers where
/// the chain stands.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    seq_expected: Seq,
    hash_last: Hash,
    decode_bodies: bool,
}

impl ChainVerifier {
    pub fn new(journal_id: JournalId) -> ChainVerifier {
        ChainVerifier { seq_expected: Seq::FIRST, hash_last: genesis_hash(journal_id), decode_bodies: true }
    }

    /// Resumes after a known-good record (used to check only a journal's
    /// tail on open).
    pub fn resume(seq_last: Seq, hash_last: Hash) -> ChainVerifier {
        ChainVerifier { seq_expected: Seq::new(seq_last.get() + 1), hash_last, decode_bodies: true }
    }

    /// Checks hashes and shape only, skipping the event decode.
    pub fn without_decoding(mut self) -> ChainVerifier {
        self.decode_bodies = false;
        self
    }

    /// The last verified seq (0 before any).
    pub fn seq_last(&self) -> Seq {
        Seq::new(self.seq_expected.get() - 1)
    }

    pub fn hash_last(&self) -> Hash {
        self.hash_last
    }

    pub fn check_frame(&mut self, key: &[u8], value: &[u8]) -> Result<(), ChainFault> {
        let here = self.seq_expected;
        let header = codec::parse_frame_header(key, value)
            .map_err(|error| ChainFault { seq: here, kind: FaultKind::Malformed(error) })?;
        if header.first_seq != here {
            return Err(ChainFault { seq: here, kind: FaultKind::Gap { expected: here, found: header.first_seq } });
        }
        if header.hash_previous != self.hash_last {
            return Err(ChainFault {
                seq: here,
                kind: FaultKind::PreviousHashMismatch { stored: header.hash_previous, expected: self.hash_last },
            });
        }
        let mut cursor = RecordCursor::new();
        loop {
            let at = self.seq_expected;
            let record =
                cursor.next_record(value).map_err(|error| ChainFault { seq: at, kind: FaultKind::Malformed(error) });
            let Some(record) = record? else { return Ok(()) };
            self.check_record(record)?;
        }
    }

    /// Compares where the chain ended with the stored head anchor; catches
    /// events deleted from the end, which no hash inside the chain can.
    pub fn finish(&self, anchor: Option<Anchor>) -> Result<(), ChainFault> {
        let seq_last = self.seq_last();
        let Some(anchor) = anchor else {
            return if seq_last == Seq::ZERO {
                Ok(())
            } else {
                Err(ChainFault {
                    seq: seq_last,
                    kind: FaultKind::AnchorMismatch {
                        anchored: Seq::ZERO,
                        anchored_hash: Hash::ZERO,
                        found_hash: self.hash_last,
                    },
                })
            };
        };
        if anchor.seq > seq_last {
            return Err(ChainFault { seq: self.seq_expected, kind: FaultKind::MissingTail { anchored: anchor.seq } });
        }
        if anchor.seq < seq_last || anchor.hash != self.hash_last {
            // Name the first seq the anchor does not vouch for.
            let seq = if anchor.seq < seq_last { Seq::new(anchor.seq.get() + 1) } else { seq_last };
            return Err(ChainFault {
                seq,
                kind: FaultKind::AnchorMismatch {
                    anchored: anchor.seq,
                    anchored_hash: anchor.hash,
                    found_hash: self.hash_last,
                },
            });
        }
        Ok(())
    }

    fn check_record(&mut self, record: codec::RawRecord<'_>) -> Result<(), ChainFault> {
        let at = self.seq_expected;
        if record.seq != at {
            return Err(ChainFault { seq: at, kind: FaultKind::Gap { expected: at, found: record.seq } });
        }
        let computed = chain_hash(&self.hash_last, record.seq, record.body);
        if computed != record.hash {
            return Err(ChainFault { seq: at, kind: FaultKind::HashMismatch { stored: record.hash, computed } });
        }
        if self.decode_bodies {
            codec::decode_body(record.body)
                .map_err(|error| ChainFault { seq: at, kind: FaultKind::Undecodable(error.to_string()) })?;
        }
        self.hash_last = record.hash;
        self.seq_expected = Seq::new(at.get() + 1);
        Ok(())
    }
}
