//! The envelope every recorded event travels in, and the hash chain over it.

use crate::event::Event;
use crate::types::{EventId, Hash, JournalId, Seq, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the event schema this build writes. Raised whenever the
/// encoded form of `Event` or `EnvelopeHeader` changes; a journal holding a
/// higher version is refused for appending (`JournalError::NewerSchema`).
pub const SCHEMA_VERSION: u16 = 2;

/// A recorded event with its place in the journal and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub seq: Seq,
    /// Derived from the journal id and the seq (`derive_event_id`), so it is
    /// not stored and a re-run of the same inputs reproduces it.
    pub event_id: EventId,
    /// When the fact happened, taken from the input (never the wall clock for
    /// decisions: they inherit the time of the input that caused them).
    pub time_event: Timestamp,
    /// Wall-clock time the journal committed it; informational only.
    pub time_recorded: Timestamp,
    /// Seq of the input event that started this chain of decisions (its own
    /// seq for an input). Its id is `derive_event_id(journal, seq)`.
    pub correlation_seq: Seq,
    /// Seq of the event that directly caused this one; `None` for inputs.
    pub causation_seq: Option<Seq>,
    pub schema_version: u16,
    pub hash_previous: Hash,
    /// BLAKE3(hash_previous ‖ seq as u64 little-endian ‖ encoded body); the
    /// body is the schema version, the `StoredHeader` and the event, encoded.
    pub hash: Hash,
    pub event: Event,
}

impl Envelope {
    /// Puts a decoded record back together.
    pub fn from_stored(
        journal_id: JournalId,
        seq: Seq,
        header: StoredHeader,
        event: Event,
        hash_previous: Hash,
        hash: Hash,
    ) -> Envelope {
        Envelope {
            seq,
            event_id: derive_event_id(journal_id, seq),
            time_event: header.time_event,
            time_recorded: header.time_recorded,
            correlation_seq: header.correlation_seq,
            causation_seq: header.causation_seq,
            schema_version: header.schema_version,
            hash_previous,
            hash,
            event,
        }
    }
}

/// What a producer hands to the journal; the journal assigns seq, id, the
/// recorded-at time and the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub time_event: Timestamp,
    /// `None` starts a new chain: the event's own seq becomes its correlation.
    pub correlation_seq: Option<Seq>,
    pub causation_seq: Option<Seq>,
    pub event: Event,
}

impl NewEvent {
    /// An input: it starts its own correlation chain and has no cause.
    pub fn input(time_event: Timestamp, event: Event) -> NewEvent {
        NewEvent { time_event, correlation_seq: None, causation_seq: None, event }
    }

    /// A decision caused by `cause`, continuing `cause`'s correlation chain.
    pub fn caused_by(cause: &Envelope, event: Event) -> NewEvent {
        NewEvent {
            time_event: cause.time_event,
            correlation_seq: Some(cause.correlation_seq),
            causation_seq: Some(cause.seq),
            event,
        }
    }
}

/// The envelope fields stored in a record's body, covered by its hash. The
/// schema version is encoded first, on its own, so a reader learns it before
/// it tries a layout it may not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHeader {
    pub schema_version: u16,
    pub time_event: Timestamp,
    pub time_recorded: Timestamp,
    pub correlation_seq: Seq,
    pub causation_seq: Option<Seq>,
}

/// Event ids are derived, not random, so that re-running the engine on a
/// journal's inputs reproduces every id (the audit depends on it): the first
/// 8 bytes come from the journal id, the last 8 are the seq, and the UUID
/// version 8 ("custom") and variant bits are set. Unique within a journal for
/// seqs below 2^62; distinct across journals unless their ids share 60 bits.
pub fn derive_event_id(journal_id: JournalId, seq: Seq) -> EventId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&journal_id.as_uuid().as_bytes()[..8]);
    bytes[8..].copy_from_slice(&seq.get().to_be_bytes());
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

/// Builds the envelope the journal would record for `new` at `seq` after
/// `hash_previous`, without a journal: for in-memory timelines (scenario
/// fixtures, tests, re-runs). The journal's own framing produces the same
/// bytes and therefore the same hash.
pub fn seal(
    journal_id: JournalId,
    seq: Seq,
    hash_previous: Hash,
    time_recorded: Timestamp,
    new: NewEvent,
) -> Result<Envelope, crate::codec::CodecError> {
    let header = StoredHeader {
        schema_version: SCHEMA_VERSION,
        time_event: new.time_event,
        time_recorded,
        correlation_seq: new.correlation_seq.unwrap_or(seq),
        causation_seq: new.causation_seq,
    };
    let mut body = Vec::with_capacity(160);
    crate::codec::encode_header_into(&header, &mut body);
    crate::codec::encode_event_into(&new.event, &mut body)?;
    let hash = chain_hash(&hash_previous, seq, &body);
    Ok(Envelope::from_stored(journal_id, seq, header, new.event, hash_previous, hash))
}
