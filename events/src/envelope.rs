//! The envelope every recorded event travels in, and the hash chain over it.

use crate::event::Event;
use crate::types::{EventId, Hash, JournalId, Seq, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the event schema this build writes. Raised whenever the
/// encoded form of `Event` or `EnvelopeHeader` changes; a journal holding a
/// higher version is refused for appending (`JournalError::NewerSchema`).
pub const SCHEMA_VERSION: u16 = 1;

/// A recorded event with its place in the journal and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub seq: Seq,
    pub event_id: EventId,
    /// When the fact happened, taken from the input (never the wall clock for
    /// decisions: they inherit the time of the input that caused them).
    pub time_event: Timestamp,
    /// Wall-clock time the journal committed it; informational only.
    pub time_recorded: Timestamp,
    /// The input event that started this chain of decisions (its own id for
    /// an input).
    pub correlation_id: EventId,
    /// The event that directly caused this one; `None` for inputs.
    pub causation_id: Option<EventId>,
    pub schema_version: u16,
    pub hash_previous: Hash,
    /// BLAKE3(hash_previous ‖ seq as u64 little-endian ‖ encoded body), where
    /// the body is the encoded `EnvelopeHeader` followed by the encoded event.
    pub hash: Hash,
    pub event: Event,
}

/// What a producer hands to the journal; the journal assigns seq, ids, the
/// recorded-at time and the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub time_event: Timestamp,
    /// `None` starts a new chain: the event becomes its own correlation id.
    pub correlation_id: Option<EventId>,
    pub causation_id: Option<EventId>,
    pub event: Event,
}

impl NewEvent {
    /// An input: it starts its own correlation chain and has no cause.
    pub fn input(time_event: Timestamp, event: Event) -> NewEvent {
        NewEvent { time_event, correlation_id: None, causation_id: None, event }
    }

    /// A decision caused by `cause`, continuing `cause`'s correlation chain.
    pub fn caused_by(cause: &Envelope, event: Event) -> NewEvent {
        NewEvent {
            time_event: cause.time_event,
            correlation_id: Some(cause.correlation_id),
            causation_id: Some(cause.event_id),
            event,
        }
    }
}

/// The envelope fields covered by the hash, encoded ahead of the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeHeader {
    pub event_id: EventId,
    pub time_event: Timestamp,
    pub time_recorded: Timestamp,
    pub correlation_id: EventId,
    pub causation_id: Option<EventId>,
    pub schema_version: u16,
}

/// Event ids are derived, not random, so that re-running the engine on a
/// journal's inputs reproduces every id (the audit depends on it).
pub fn derive_event_id(journal_id: JournalId, seq: Seq) -> EventId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tradeledger event id v1");
    hasher.update(journal_id.as_uuid().as_bytes());
    hasher.update(&seq.get().to_le_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    EventId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// The `hash_previous` of seq 1. Binding it to the journal id means frames
/// copied from another journal never verify here.
pub fn genesis_hash(journal_id: JournalId) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tradeledger genesis v1");
    hasher.update(journal_id.as_uuid().as_bytes());
    Hash(*hasher.finalize().as_bytes())
}

pub fn chain_hash(hash_previous: &Hash, seq: Seq, body: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&hash_previous.0);
    hasher.update(&seq.get().to_le_bytes());
    hasher.update(body);
    Hash(*hasher.finalize().as_bytes())
}

/// A fresh random journal id (the only randomness, taken once at creation).
pub fn new_journal_id() -> JournalId {
    JournalId::from_uuid(Uuid::new_v4())
}
