//! Snapshots: a folded `Ledger` anchored at a seq, as bytes. Snapshots are
//! disposable, the journal is not: anything wrong with one (another format
//! or schema version, a damaged byte, a seq that does not match) makes
//! `decode` return `None`, and the caller folds from scratch.
//!
//! Layout: magic "TLS1" | format version u16 LE | event schema version u16 LE
//! | seq u64 LE | BLAKE3 of the payload [32] | payload = bincode(Ledger).

use crate::Ledger;
use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use tradeledger_events::{Hash, Seq, SCHEMA_VERSION};

/// Raised whenever the encoded layout of `Ledger` changes.
/// 2: finished orders keep no fills (a version-1 snapshot of the same
/// journal would hash differently, so it is ignored and the fold redone).
/// 3: the ledger's retention, the order book's eviction queues and evicted
/// signal fingerprints; closed positions as a deque.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 3;
const MAGIC: [u8; 4] = *b"TLS1";
const HEADER_BYTES: usize = 4 + 2 + 2 + 8 + 32;
/// Bound on what a snapshot may make the decoder allocate (checked only
/// after the payload's hash matched, so it guards against our own bugs).
const SNAPSHOT_BYTES_MAX: usize = 1 << 34;

fn config() -> Configuration<LittleEndian, Varint, Limit<SNAPSHOT_BYTES_MAX>> {
    bincode::config::standard().with_limit::<SNAPSHOT_BYTES_MAX>()
}

#[derive(Debug, thiserror::Error)]
#[error("could not encode the ledger snapshot: {0}")]
pub struct SnapshotError(String);

fn payload(ledger: &Ledger) -> Result<Vec<u8>, SnapshotError> {
    bincode::serde::encode_to_vec(ledger, config()).map_err(|error| SnapshotError(error.to_string()))
}

/// BLAKE3 of the ledger's canonical encoding (maps are sorted, so equal
/// states always encode, and hash, the same).
pub fn state_hash(ledger: &Ledger) -> Hash {
    // Encoding a Ledger into memory cannot fail: every field is a plain
    // serde type bincode supports. An empty payload would still hash.
    let bytes = payload(ledger).unwrap_or_default();
    Hash(*blake3::hash(&bytes).as_bytes())
}

pub fn encode(ledger: &Ledger) -> Result<Vec<u8>, SnapshotError> {
    let body = payload(ledger)?;
    let mut bytes = Vec::with_capacity(HEADER_BYTES + body.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    bytes.extend_from_slice(&ledger.seq.get().to_le_bytes());
    bytes.extend_from_slice(blake3::hash(&body).as_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// The ledger in `bytes`, or `None` when the snapshot is unusable for any
/// reason; `reason` says which, for the log.
pub fn decode(bytes: &[u8]) -> Result<Ledger, &'static str> {
    let header = bytes.get(..HEADER_BYTES).ok_or("shorter than its header")?;
    if header[..4] != MAGIC {
        return Err("not a snapshot");
    }
    let field = |range: std::ops::Range<usize>| header.get(range).unwrap_or_default();
    if field(4..6) != SNAPSHOT_FORMAT_VERSION.to_le_bytes() {
        return Err("written by another snapshot format version");
    }
    if field(6..8) != SCHEMA_VERSION.to_le_bytes() {
        return Err("written by another event schema version");
    }
    let seq = field(8..16).try_into().map(u64::from_le_bytes).map_err(|_| "header cut short")?;
    let body = &bytes[HEADER_BYTES..];
    if field(16..48) != blake3::hash(body).as_bytes() {
        return Err("its payload does not match its hash");
    }
    let (ledger, used): (Ledger, usize) =
        bincode::serde::decode_from_slice(body, config()).map_err(|_| "its payload does not decode")?;
    if used != body.len() || ledger.seq != Seq::new(seq) {
        return Err("its payload does not match its header");
    }
    Ok(ledger)
}
