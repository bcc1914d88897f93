//! bincode 2 encoding of events and envelope bodies (the format of record),
//! and the frame layout that groups records into one sled value.
//!
//! Frame layout (all integers little-endian):
//!
//! ```text
//! frame  := magic "TLF1" | first_seq u64 | hash_previous [32] | record+
//! record := seq u64 | body_len u32 | body [body_len] | hash [32]
//! body   := bincode(StoredHeader) | bincode(Event)   (StoredHeader leads with the schema version)
//! ```
//!
//! The sled key of a frame is its `first_seq` as big-endian u64, so key order
//! is seq order. Every record keeps its own seq and hash; the previous hash of
//! a record is the hash of the record before it (the frame header carries the
//! one before the first record). Records run to the end of the value: there is
//! no count field, because a count would be the one byte range no hash covers.

use crate::envelope::{StoredHeader, SCHEMA_VERSION};
use crate::event::Event;
use crate::types::{Hash, Seq};
use bincode::config::{Configuration, Limit, LittleEndian, Varint};

mod hot;

/// Largest encoded event body accepted, a bound on what a corrupt length
/// prefix can make the decoder allocate.
pub const EVENT_BYTES_MAX: usize = 1 << 20;

/// Upper bound of an encoded `StoredHeader` (version, varint times and seqs).
pub const ENVELOPE_HEADER_BYTES_MAX: usize = 128;

pub const FRAME_MAGIC: [u8; 4] = *b"TLF1";
pub const FRAME_HEADER_BYTES: usize = 4 + 8 + 32;
/// Per-record bytes besides the body: seq, length, hash.
pub const RECORD_OVERHEAD_BYTES: usize = 8 + 4 + 32;

type CodecConfig = Configuration<LittleEndian, Varint, Limit<EVENT_BYTES_MAX>>;

fn config() -> CodecConfig {
    bincode::config::standard().with_limit::<EVENT_BYTES_MAX>()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("could not encode {what}: {detail}")]
    Encode { what: &'static str, detail: String },
    #[error("could not decode {what}: {detail}")]
    Decode { what: &'static str, detail: String },
    #[error("written by schema version {found}; this build reads up to {supported}")]
    NewerSchema { found: u16, supported: u16 },
}

pub fn encode_event(event: &Event) -> Result<Vec<u8>, CodecError> {
    let mut bytes = Vec::with_capacity(128);
    encode_event_into(event, &mut bytes)?;
    Ok(bytes)
}

/// Appends the encoded event. Price ticks and a signal's round trip, most
/// of what the engine records, are written by hand (`hot`), in the same
/// bytes serde would write.
pub fn encode_event_into(event: &Event, out: &mut Vec<u8>) -> Result<(), CodecError> {
    if hot::encode_event(event, out) {
        return Ok(());
    }
    encode_into(event, out, "event")
}

/// Appends the encoded header of a record (written by hand, as serde would;
/// it cannot fail: every field is a number).
pub fn encode_header_into(header: &StoredHeader, out: &mut Vec<u8>) {
    hot::encode_header(header, out);
}

/// Appends the encoded value to `out` (no intermediate buffer).
pub fn encode_into<T: serde::Serialize>(value: &T, out: &mut Vec<u8>, what: &'static str) -> Result<(), CodecError> {
    bincode::serde::encode_into_writer(value, Appender(out), config())
        .map_err(|error| CodecError::Encode { what, detail: error.to_string() })
}

/// bincode's writer for a `Vec`: appending cannot fail, so unlike the
/// `std::io::Write` adapter it carries no error path or byte count through
/// each of the many small writes an event makes.
struct Appender<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Appender<'_> {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Borrowed decoding: strings are read in place rather than copied into a
/// `String` first.
fn decode_prefix<'de, T: serde::Deserialize<'de>>(
    bytes: &'de [u8],
    what: &'static str,
) -> Result<(T, usize), CodecError> {
    bincode::serde::borrow_decode_from_slice(bytes, config())
        .map_err(|error| CodecError::Decode { what, detail: error.to_string() })
}

pub fn decode_event(bytes: &[u8]) -> Result<Event, CodecError> {
    let (event, used) = decode_prefix::<Event>(bytes, "event")?;
    if used != bytes.len() {
        return Err(CodecError::Decode {
            what: "event",
            detail: format!("{} trailing bytes after the event", bytes.len() - used),
        });
    }
    Ok(event)
}

/// Decodes a record body, refusing versions newer than this build before
/// trying to read an event whose layout it does not know.
pub fn decode_body(body: &[u8]) -> Result<(StoredHeader, Event), CodecError> {
    let (schema_version, _) = decode_prefix::<u16>(body, "schema version")?;
    if schema_version > SCHEMA_VERSION {
        return Err(CodecError::NewerSchema { found: schema_version, supported: SCHEMA_VERSION });
    }
    let (header, used) = decode_prefix::<StoredHeader>(body, "envelope header")?;
    let rest = body.get(used..).unwrap_or_default();
    let event = decode_event(rest)?;
    Ok((header, event))
}

pub fn frame_key(first_seq: Seq) -> [u8; 8] {
    first_seq.get().to_be_bytes()
}

/// Builds one frame in place: records are encoded straight into its buffer.
#[derive(Debug)]
pub struct FrameBuilder {
    bytes: Vec<u8>,
    first_seq: Seq,
    count: u32,
}

impl FrameBuilder {
    pub fn new(first_seq: Seq, hash_previous: &Hash, capacity: usize) -> FrameBuilder {
        FrameBuilder::reusing(Vec::new(), first_seq, hash_previous, capacity)
    }

    /// A frame built in `bytes`, a buffer used before (its contents are
    /// dropped), with room for at least `capacity` bytes.
    pub fn reusing(mut bytes: Vec<u8>, first_seq: Seq, hash_previous: &Hash, capacity: usize) -> FrameBuilder {
        bytes.clear();
        bytes.reserve(capacity);
        bytes.extend_from_slice(&FRAME_MAGIC);
        bytes.extend_from_slice(&first_seq.get().to_le_bytes());
        bytes.extend_from_slice(&hash_previous.0);
        FrameBuilder { bytes, first_seq, count: 0 }
    }

    pub fn first_seq(&self) -> Seq {
        self.first_seq
    }

    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends one record whose body `write_body` encodes, and returns its
    /// chain hash. On an encoding error the frame is left as it was.
    pub fn push_record(
        &mut self,
        seq: Seq,
        hash_previous: &Hash,
        write_body: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
    ) -> Result<Hash, CodecError> {
        let body_start = self.push_body(seq, write_body)?;
        let hash = crate::envelope::chain_hash(hash_previous, seq, &self.bytes[body_start..]);
        self.bytes.extend_from_slice(&hash.0);
        self.count += 1;
        Ok(hash)
    }

    /// As `push_record`, leaving the record's hash (and the frame's
    /// previous hash) as zeros for `seal_frame` to fill in: so the hashing
    /// can be done by another thread than the encoding.
    pub fn push_record_unsealed(
        &mut self,
        seq: Seq,
        write_body: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
    ) -> Result<(), CodecError> {
        self.push_body(seq, write_body)?;
        self.bytes.extend_from_slice(&Hash::ZERO.0);
        self.count += 1;
        Ok(())
    }

    /// Writes a record's seq, length and body; returns where the body starts.
    fn push_body(
        &mut self,
        seq: Seq,
        write_body: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
    ) -> Result<usize, CodecError> {
        let record_start = self.bytes.len();
        self.bytes.extend_from_slice(&seq.get().to_le_bytes());
        self.bytes.extend_from_slice(&0u32.to_le_bytes());
        let body_start = self.bytes.len();
        if let Err(error) = write_body(&mut self.bytes) {
            self.bytes.truncate(record_start);
            return Err(error);
        }
        let body_len = self.bytes.len() - body_start;
        let body_len_u32 = match u32::try_from(body_len) {
            Ok(len) if body_len <= EVENT_BYTES_MAX => len,
            _ => {
                self.bytes.truncate(record_start);
                return Err(CodecError::Encode {
                    what: "event",
                    detail: format!("{body_len} bytes exceed the {EVENT_BYTES_MAX}-byte limit"),
                });
            }
        };
        self.bytes[body_start - 4..body_start].copy_from_slice(&body_len_u32.to_le_bytes());
        Ok(body_start)
    }

    /// The sled key and value of the finished frame.
    pub fn finish(self) -> ([u8; 8], Vec<u8>) {
        (frame_key(self.first_seq), self.bytes)
    }
}

/// Fills in the chain of a frame built with `push_record_unsealed`: the
/// previous hash in its header, then each record's hash, from
/// `hash_previous`. Returns the hash of its last record. A frame that does
/// not parse is an error, and is left partly sealed.
pub fn seal_frame(frame: &mut [u8], hash_previous: &Hash) -> Result<Hash, CodecError> {
    let malformed = |detail: String| CodecError::Encode { what: "frame seal", detail };
    let header = frame.get_mut(12..FRAME_HEADER_BYTES).ok_or_else(|| malformed("shorter than a header".into()))?;
    header.copy_from_slice(&hash_previous.0);
    let mut previous = *hash_previous;
    let mut at = FRAME_HEADER_BYTES;
    while at < frame.len() {
        let cut = || malformed(format!("record header cut at byte {at}"));
        let seq = Seq::new(u64::from_le_bytes(read_array(frame, at).ok_or_else(cut)?));
        let body_len = u32::from_le_bytes(read_array(frame, at + 8).ok_or_else(cut)?) as usize;
        let body_end = at + 12 + body_len;
        let body = frame.get(at + 12..body_end).ok_or_else(|| malformed(format!("record {seq} body cut")))?;
        let hash = crate::envelope::chain_hash(&previous, seq, body);
        let slot = frame.get_mut(body_end..body_end + 32).ok_or_else(|| malformed(format!("record {seq} hash cut")))?;
        slot.copy_from_slice(&hash.0);
        previous = hash;
        at = body_end + 32;
    }
    Ok(previous)
}

/// One stored record, borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    pub seq: Seq,
    pub body: &'a [u8],
    pub hash: Hash,
}

/// A frame's header, checked for shape; records are read lazily with
/// `FrameReader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub first_seq: Seq,
    pub hash_previous: Hash,
}

/// What is wrong with the bytes of a frame, before any hash is checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame key is {len} bytes, not 8")]
    KeyLength { len: usize },
    #[error("frame is {len} bytes, shorter than its {FRAME_HEADER_BYTES}-byte header")]
    ShortHeader { len: usize },
    #[error("frame starts with {found:02x?}, not the magic {FRAME_MAGIC:02x?}")]
    BadMagic { found: [u8; 4] },
    #[error("frame key says seq {key_seq} but its header says {header_seq}")]
    KeyMismatch { key_seq: u64, header_seq: u64 },
    #[error("frame holds no records")]
    Empty,
    #[error("record {index} of the frame is cut short ({detail})")]
    Truncated { index: u32, detail: &'static str },
    #[error("record {index} claims a body of {len} bytes, above the {EVENT_BYTES_MAX}-byte limit")]
    BodyTooLarge { index: u32, len: u64 },
}

fn read_array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Checks key and header of a stored frame.
pub fn parse_frame_header(key: &[u8], value: &[u8]) -> Result<FrameHeader, FrameError> {
    let key: [u8; 8] = key.try_into().map_err(|_| FrameError::KeyLength { len: key.len() })?;
    let key_seq = u64::from_be_bytes(key);
    let short = || FrameError::ShortHeader { len: value.len() };
    let magic: [u8; 4] = read_array(value, 0).ok_or_else(short)?;
    if magic != FRAME_MAGIC {
        return Err(FrameError::BadMagic { found: magic });
    }
    let header_seq = u64::from_le_bytes(read_array(value, 4).ok_or_else(short)?);
    let hash_previous = Hash(read_array(value, 12).ok_or_else(short)?);
    if key_seq != header_seq {
        return Err(FrameError::KeyMismatch { key_seq, header_seq });
    }
    if value.len() == FRAME_HEADER_BYTES {
        return Err(FrameError::Empty);
    }
    Ok(FrameHeader { first_seq: Seq::new(header_seq), hash_previous })
}

/// Position within one frame's records. It holds no borrow, so an iterator
/// can keep it beside the frame's bytes; pass the same bytes to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCursor {
    offset: usize,
    index: u32,
}

impl Default for RecordCursor {
    fn default() -> Self {
        RecordCursor::new()
    }
}

impl RecordCursor {
    /// At the first record of a frame whose header `parse_frame_header` accepted.
    pub fn new() -> RecordCursor {
        RecordCursor { offset: FRAME_HEADER_BYTES, index: 0 }
    }

    /// Index of the next record within the frame.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The next record, `Ok(None)` once the frame's bytes are used up.
    pub fn next_record<'a>(&mut self, value: &'a [u8]) -> Result<Option<RawRecord<'a>>, FrameError> {
        if self.offset >= value.len() {
            return Ok(None);
        }
        let index = self.index;
        let seq = read_array::<8>(value, self.offset)
            .ok_or(FrameError::Truncated { index, detail: "no room for its seq" })?;
        let len = read_array::<4>(value, self.offset + 8)
            .ok_or(FrameError::Truncated { index, detail: "no room for its length" })?;
        let len = u32::from_le_bytes(len) as usize;
        if len > EVENT_BYTES_MAX {
            return Err(FrameError::BodyTooLarge { index, len: len as u64 });
        }
        let body_start = self.offset + 12;
        let body = value
            .get(body_start..body_start + len)
            .ok_or(FrameError::Truncated { index, detail: "body runs past the frame" })?;
        let hash = read_array::<32>(value, body_start + len)
            .ok_or(FrameError::Truncated { index, detail: "no room for its hash" })?;
        self.offset = body_start + len + 32;
        self.index += 1;
        Ok(Some(RawRecord { seq: Seq::new(u64::from_le_bytes(seq)), body, hash: Hash(hash) }))
    }
}
