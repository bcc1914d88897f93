//! The append-only, hash-chained journal on sled 0.34.
//!
//! Layout in one sled tree `frames`: a frame of records per key (see
//! `codec`), keyed by its first seq big-endian, plus one `HEAD_KEY` entry
//! holding the anchor (last seq and hash) written in the same atomic batch as
//! the frames of each commit. A second tree `meta` holds the format marker,
//! the journal id and the highest schema version that wrote.
//!
//! An append is sequenced (seqs, hashes, frames) in the appending thread, then
//! stored by one storage thread, which takes every queued commit, applies
//! them as one sled batch (group commit), and flushes and fsyncs once when
//! any of them asked for `Durable`. See `writer`.

mod iter;
mod writer;

pub use iter::EventIter;

use crate::codec::{self, RecordCursor};
use crate::envelope::{genesis_hash, new_journal_id, Envelope, NewEvent, SCHEMA_VERSION};
use crate::error::JournalError;
use crate::types::{Hash, JournalId, Seq};
use crate::verify::{Anchor, ChainFault, ChainVerifier, FaultKind};
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Key of the head anchor inside the `frames` tree. Frame keys are 8-byte
/// big-endian seqs, so this sorts after every frame below seq 2^63.
pub const HEAD_KEY: &[u8] = b"\xff\xffhead";
const META_FORMAT: &[u8] = b"format";
const META_JOURNAL_ID: &[u8] = b"journal_id";
const META_SCHEMA: &[u8] = b"schema_version";
const FORMAT_MARKER: &[u8] = b"tradeledger-journal/1";

/// Most events one `append` call may carry; bounds the memory of a request.
pub const APPEND_EVENTS_MAX: usize = 65_536;

/// What an acknowledged append guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged only after the commit is on disk: sled's `flush()`, then
    /// `fdatasync` of its data file and of any new blob file. Survives a
    /// process kill and a power loss.
    Durable,
    /// Acknowledged once sequenced: its seqs and hashes are final and it is
    /// queued, in memory, for the storage thread, which applies it to sled
    /// within moments; sled writes it to the OS within `flush_every_ms`. A
    /// process kill before that, or a power loss before the kernel writes
    /// back, loses it — always a suffix of the journal, never an event from
    /// the middle. So does a storage failure after the acknowledgement.
    Buffered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Creates the journal when absent; refuses to open a damaged chain.
    ReadWrite,
    /// Never appends; opens damaged journals so they can be audited.
    ReadOnly,
}

#[derive(Debug, Clone)]
pub struct JournalOptions {
    pub mode: OpenMode,
    /// Durability of `append`; `append_with` chooses per call.
    pub durability: Durability,
    /// sled's page cache size.
    pub cache_capacity_bytes: u64,
    /// A frame is closed once it holds this many bytes. Kept small enough
    /// that a full sled leaf (17 values) stays under sled's ~128 KiB blob
    /// threshold, so frames never land in blob files.
    pub frame_bytes_target: usize,
    /// Most events one group commit takes from the queue.
    pub commit_events_max: usize,
    /// Most events sequenced but not yet stored; an append waits beyond it
    /// (backpressure), which also bounds what a `Buffered` crash can lose.
    pub queue_events_max: usize,
    /// How often sled writes buffered commits to the OS.
    pub flush_every_ms: Option<u64>,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            mode: OpenMode::ReadWrite,
            durability: Durability::Durable,
            cache_capacity_bytes: 64 << 20,
            frame_bytes_target: 6 << 10,
            commit_events_max: 8_192,
            queue_events_max: 65_536,
            flush_every_ms: Some(200),
        }
    }
}

impl JournalOptions {
    pub fn read_only() -> Self {
        JournalOptions { mode: OpenMode::ReadOnly, ..Self::default() }
    }

    pub fn buffered() -> Self {
        JournalOptions { durability: Durability::Buffered, ..Self::default() }
    }
}

/// The last recorded event: seq 0 and the genesis hash for an empty journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: Seq,
    pub hash: Hash,
}

/// The seqs an `append_in_place` was given: `first..=last` (for an empty
/// append, `last` is the head and `first` the seq after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first: Seq,
    pub last: Seq,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events whose hash and encoding checked out, from seq 1.
    pub events_verified: u64,
    /// The first fault, if any; everything before it is sound.
    pub fault: Option<ChainFault>,
}

struct PreparedEvent {
    new: NewEvent,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct Shared {
    /// The last sequenced event, and whether its hash is known yet.
    head: Mutex<(Head, bool)>,
    /// Set on the first storage failure; every later append is refused.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Keeps the first reason: later failures follow from it.
    fn fail(&self, reason: String) {
        self.failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_or_insert(reason);
    }

    /// The head, and whether its hash is known yet (see `set_head_unsealed`).
    fn head(&self) -> (Head, bool) {
        // A poisoned lock still holds a valid head: it is only ever replaced whole.
        *self.head.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_head(&self, head: Head) {
        *self.head.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = (head, true);
    }

    /// An append in place moved the head to `seq`; the storage thread will
    /// compute its hash.
    fn set_head_unsealed(&self, seq: Seq) {
        *self.head.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = (Head { seq, hash: Hash::ZERO }, false);
    }

    /// The storage thread hashed and stored up to `head`: if that is still
    /// the head, its hash is known now.
    fn seal_head(&self, head: Head) {
        let mut current = self.head.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.0.seq == head.seq {
            *current = (head, true);
        }
    }
}

#[derive(Debug)]
struct Store {
    db: sled::Db,
    frames: sled::Tree,
}

/// An open journal. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    /// `None` only while closing: the handles are dropped before the close
    /// waits for sled to release its file lock.
    store: Option<Store>,
    journal_id: JournalId,
    options: JournalOptions,
    shared: Arc<Shared>,
    damage_on_open: Option<ChainFault>,
    /// The storage thread; `None` read-only or once closed.
    storage: Option<JoinHandle<()>>,
    /// Where appends are sequenced; `None` read-only or once closed.
    core: Option<writer::SharedCore>,
    /// Between sequencing and storage; `None` read-only.
    pipeline: Option<Arc<writer::Pipeline>>,
}

impl Journal {
    /// Opens (or, read-write, creates) the journal in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: JournalOptions) -> Result<Journal, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        if options.mode == OpenMode::ReadOnly && !dir.join("db").is_file() {
            return Err(JournalError::NotAJournal { dir, reason: "no journal exists there".into() });
        }
        let db = open_sled(&dir, &options)?;
        let frames = db.open_tree("frames").map_err(storage_error(&dir, "open the frames tree"))?;
        let meta = db.open_tree("meta").map_err(storage_error(&dir, "open the meta tree"))?;
        let journal_id = load_or_create_meta(&dir, &db, &meta, &frames, options.mode)?;
        let tail = check_tail(&frames, journal_id);
        let (head, damage_on_open) = match (tail, options.mode) {
            (Ok(head), _) => (head, None),
            (Err(fault), OpenMode::ReadWrite) => return Err(JournalError::Damaged { dir, fault }),
            (Err(fault), OpenMode::ReadOnly) => (best_effort_head(&frames, journal_id), Some(fault)),
        };
        let shared = Arc::new(Shared { head: Mutex::new((head, true)), failure: Mutex::new(None) });
        let mut journal = Journal {
            dir,
            store: Some(Store { db, frames }),
            journal_id,
            options,
            shared,
            damage_on_open,
            storage: None,
            core: None,
            pipeline: None,
        };
        if journal.options.mode == OpenMode::ReadWrite {
            journal.start_storage(head)?;
        }
        tracing::debug!(dir = %journal.dir.display(), head = %head.seq, "journal opened");
        Ok(journal)
    }

    fn start_storage(&mut self, head: Head) -> Result<(), JournalError> {
        let store = self.store()?;
        let (db, frames) = (store.db.clone(), store.frames.clone());
        let data_path = self.dir.join("db");
        let data_file = File::open(&data_path).map_err(|source| JournalError::Io {
            path: data_path.clone(),
            operation: "open for syncing",
            source,
        })?;
        let (pipeline, inbox) = writer::Pipeline::new(head, self.options.queue_events_max.max(1));
        let (spares_back, spares) = writer::spare_frames(self.options.frame_bytes_target);
        let pipeline = Arc::new(pipeline);
        let syncer = writer::Syncer { db, dir: self.dir.clone(), data_file, blobs_synced: HashSet::new() };
        let storage = writer::Storage {
            inbox,
            dir: self.dir.clone(),
            frames,
            syncer,
            pipeline: Arc::clone(&pipeline),
            shared: Arc::clone(&self.shared),
            commit_events_max: self.options.commit_events_max.max(1),
            frame_bytes_target: self.options.frame_bytes_target,
            chain: head.hash,
            spares: spares_back,
        };
        let handle = std::thread::Builder::new()
            .name("tradeledger-journal-storage".into())
            .spawn(move || storage.run())
            .map_err(|source| JournalError::Io {
                path: self.dir.clone(),
                operation: "start the storage thread for",
                source,
            })?;
        pipeline.set_storage_thread(handle.thread().clone());
        self.core = Some(Arc::new(Mutex::new(writer::WriterCore {
            journal_id: self.journal_id,
            head,
            hash_pending: false,
            frame_bytes_target: self.options.frame_bytes_target,
            shared: Arc::clone(&self.shared),
            pipeline: Arc::clone(&pipeline),
            spares,
        })));
        self.pipeline = Some(pipeline);
        self.storage = Some(handle);
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn journal_id(&self) -> JournalId {
        self.journal_id
    }

    /// The last recorded event's seq and hash. After an `append_in_place`
    /// this waits for the storage thread to hash what it appended.
    pub fn head(&self) -> Head {
        let (head, hash_known) = self.shared.head();
        if hash_known {
            return head;
        }
        match self.pipeline.as_ref().map(|pipeline| pipeline.wait_for(head.seq, false)) {
            Some(Ok(applied)) => applied,
            // Storage failed first; the head fell back to what it stored.
            _ => self.shared.head().0,
        }
    }

    /// The fault found when a read-only open checked the journal's tail.
    pub fn damage_on_open(&self) -> Option<&ChainFault> {
        self.damage_on_open.as_ref()
    }

    /// Appends with the journal's default durability; returns the recorded
    /// envelopes in order once they are acknowledged (see `Durability`).
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Envelope>, JournalError> {
        self.append_with(events, self.options.durability).await
    }

    /// Sequences in the calling task (waiting, when the storage queue is
    /// full, for the storage thread to catch up); a `Durable` append then
    /// awaits its sync without holding the thread.
    pub async fn append_with(
        &self,
        events: Vec<NewEvent>,
        durability: Durability,
    ) -> Result<Vec<Envelope>, JournalError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if durability == Durability::Buffered {
            return self.sequence(events, durability, None);
        }
        let (stored, receiver) = oneshot::channel();
        let envelopes = self.sequence(events, durability, Some(stored))?;
        match receiver.await {
            Ok(Ok(())) => Ok(envelopes),
            Ok(Err(reason)) => Err(self.stopped(reason)),
            Err(_) => Err(self.closed()),
        }
    }

    /// The same as `append`, for threads outside an async runtime.
    pub fn append_blocking(&self, events: Vec<NewEvent>) -> Result<Vec<Envelope>, JournalError> {
        self.append_blocking_with(events, self.options.durability)
    }

    pub fn append_blocking_with(
        &self,
        events: Vec<NewEvent>,
        durability: Durability,
    ) -> Result<Vec<Envelope>, JournalError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(JournalError::BlockingInRuntime);
        }
        self.append_direct(events, durability)
    }

    /// Appends in the calling thread, blocking for the sync when `durability`
    /// is `Durable`: for a single writer (the engine) to whom an append's
    /// latency matters, which may run on an async runtime thread. The same
    /// chain and rules as `append`; the two may be mixed.
    pub fn append_direct(&self, events: Vec<NewEvent>, durability: Durability) -> Result<Vec<Envelope>, JournalError> {
        if events.is_empty() {
            self.writable(&self.core)?;
            return Ok(Vec::new());
        }
        let envelopes = self.sequence(events, durability, None)?;
        if durability == Durability::Durable {
            let last = envelopes.last().map_or(Seq::ZERO, |envelope| envelope.seq);
            self.writable(&self.pipeline)?.wait_for(last, true).map_err(|reason| self.stopped(reason))?;
        }
        Ok(envelopes)
    }

    /// `append_direct` for a single writer that does not need the
    /// envelopes back (the engine, which folded the events as it staged
    /// them): each event is encoded straight into its frame, and `events`
    /// is emptied on success, keeping its capacity for the next call. No
    /// envelope is built, and no buffer allocated per event or per append.
    /// On an error nothing is appended and `events` is left as it was.
    pub fn append_in_place(
        &self,
        events: &mut Vec<NewEvent>,
        durability: Durability,
    ) -> Result<Appended, JournalError> {
        let core = self.writable(&self.core)?;
        if events.is_empty() {
            let head = self.shared.head().0.seq;
            return Ok(Appended { first: head.next().unwrap_or(head), last: head });
        }
        if events.len() > APPEND_EVENTS_MAX {
            return Err(JournalError::AppendTooLarge { events: events.len(), max: APPEND_EVENTS_MAX });
        }
        let (first, last) = writer::lock(core).sequence_in_place(events, durability).map_err(|error| match error {
            writer::InPlaceError::Encode { index, source } => JournalError::Encode { index, source },
            writer::InPlaceError::Stopped(reason) => self.stopped(reason),
        })?;
        events.clear();
        if durability == Durability::Durable {
            self.writable(&self.pipeline)?.wait_for(last, true).map_err(|reason| self.stopped(reason))?;
        }
        Ok(Appended { first, last })
    }

    /// Encodes the payloads (outside the writer lock, so concurrent
    /// appenders share that work), then sequences them under the lock.
    fn sequence(
        &self,
        events: Vec<NewEvent>,
        durability: Durability,
        stored: Option<writer::Stored>,
    ) -> Result<Vec<Envelope>, JournalError> {
        let core = self.writable(&self.core)?;
        let prepared = self.encode_payloads(events)?;
        writer::lock(core).sequence(prepared, durability, stored).map_err(|reason| self.stopped(reason))
    }

    /// A handle appends go through: missing on a read-only journal, and once
    /// it is closed.
    fn writable<'a, T>(&'a self, handle: &'a Option<T>) -> Result<&'a T, JournalError> {
        match (handle, self.options.mode) {
            (Some(handle), _) => Ok(handle),
            (None, OpenMode::ReadOnly) => Err(JournalError::ReadOnly { dir: self.dir.clone() }),
            (None, OpenMode::ReadWrite) => Err(self.closed()),
        }
    }

    fn closed(&self) -> JournalError {
        JournalError::Closed { dir: self.dir.clone() }
    }

    fn stopped(&self, reason: String) -> JournalError {
        JournalError::Stopped { dir: self.dir.clone(), reason }
    }

    fn store(&self) -> Result<&Store, JournalError> {
        self.store.as_ref().ok_or_else(|| self.closed())
    }

    /// The last seq a reader can see: waits for the storage thread to apply
    /// everything sequenced so far, so reads see every acknowledged event.
    /// After a storage failure, what was stored before it.
    fn readable_head(&self) -> Seq {
        let head = self.shared.head().0;
        match &self.pipeline {
            None => head.seq,
            Some(pipeline) => match pipeline.wait_for(head.seq, false) {
                Ok(_) => head.seq,
                Err(_) => pipeline.applied().seq.min(head.seq),
            },
        }
    }

    /// The default durability of this journal's appends.
    pub fn durability(&self) -> Durability {
        self.options.durability
    }

    /// Encodes the payloads on the caller's thread, checking every size, so
    /// the writer only frames and hashes.
    fn encode_payloads(&self, events: Vec<NewEvent>) -> Result<Vec<PreparedEvent>, JournalError> {
        if events.len() > APPEND_EVENTS_MAX {
            return Err(JournalError::AppendTooLarge { events: events.len(), max: APPEND_EVENTS_MAX });
        }
        let mut prepared = Vec::with_capacity(events.len());
        for (index, new) in events.into_iter().enumerate() {
            let payload = codec::encode_event(&new.event).map_err(|source| JournalError::Encode { index, source })?;
            writer::check_payload_size(payload.len(), codec::EVENT_BYTES_MAX - codec::ENVELOPE_HEADER_BYTES_MAX)
                .map_err(|source| JournalError::Encode { index, source })?;
            prepared.push(PreparedEvent { new, payload });
        }
        Ok(prepared)
    }

    /// One event by seq; `None` beyond the head.
    pub fn read(&self, seq: Seq) -> Result<Option<Envelope>, JournalError> {
        if seq == Seq::ZERO || seq > self.readable_head() {
            return Ok(None);
        }
        self.iter_from(seq).next().transpose()
    }

    /// Events from `seq` up to the head as it is now. Checks shape and seq
    /// density while reading; `verify` checks the hashes.
    pub fn iter_from(&self, seq: Seq) -> EventIter {
        let seq = seq.max(Seq::FIRST);
        let head = self.readable_head();
        let Ok(store) = self.store() else {
            return EventIter::failed(self.dir.clone(), self.journal_id, self.closed());
        };
        let start = store
            .frames
            .range(..=codec::frame_key(seq))
            .next_back()
            .and_then(Result::ok)
            .map(|(key, _)| key.to_vec())
            .unwrap_or_else(|| codec::frame_key(seq).to_vec());
        EventIter::new(self.dir.clone(), self.journal_id, store.frames.range(start..HEAD_KEY.to_vec()), seq, head)
    }

    /// Walks the whole chain: density, shape, every hash, every decode, and
    /// the head anchor. Reports the first fault and where it is.
    pub fn verify(&self) -> Result<VerifyReport, JournalError> {
        self.readable_head();
        let mut verifier = ChainVerifier::new(self.journal_id);
        for item in self.store()?.frames.range(..HEAD_KEY.to_vec()) {
            let (key, value) = item.map_err(|source| self.storage("read a frame", source))?;
            if let Err(fault) = verifier.check_frame(&key, &value) {
                return Ok(VerifyReport { events_verified: verifier.seq_last().get(), fault: Some(fault) });
            }
        }
        let anchor = self.read_anchor()?;
        let fault = verifier.finish(anchor).err();
        Ok(VerifyReport { events_verified: verifier.seq_last().get(), fault })
    }

    fn read_anchor(&self) -> Result<Option<Anchor>, JournalError> {
        stored_anchor(&self.store()?.frames).map_err(|source| self.storage("read the head anchor", source))
    }

    fn storage(&self, operation: &'static str, source: sled::Error) -> JournalError {
        JournalError::Storage { dir: self.dir.clone(), operation, source }
    }

    /// Stores `bytes` as the snapshot `name` anchored at `seq`, replacing the
    /// previous one, in the `snapshots` tree: outside the append path and the
    /// hash chain. Snapshots are disposable (the journal is the truth), so a
    /// lost or damaged one only costs a longer fold; it is flushed, not fsynced.
    pub fn save_snapshot(&self, name: &str, seq: Seq, bytes: &[u8]) -> Result<(), JournalError> {
        if self.options.mode == OpenMode::ReadOnly {
            return Err(JournalError::ReadOnly { dir: self.dir.clone() });
        }
        // Stored after the events it stands for, so a snapshot is never
        // ahead of the frames on disk unless storage failed in between.
        self.readable_head();
        let store = self.store()?;
        let tree = store.db.open_tree("snapshots").map_err(|source| self.storage("open the snapshots tree", source))?;
        let mut value = Vec::with_capacity(8 + bytes.len());
        value.extend_from_slice(&seq.get().to_le_bytes());
        value.extend_from_slice(bytes);
        tree.insert(name.as_bytes(), value).map_err(|source| self.storage("store a snapshot", source))?;
        tree.flush().map(|_| ()).map_err(|source| self.storage("flush a snapshot", source))
    }

    /// The latest snapshot `name` and its seq, if one was saved.
    pub fn load_snapshot(&self, name: &str) -> Result<Option<(Seq, Vec<u8>)>, JournalError> {
        let store = self.store()?;
        let tree = store.db.open_tree("snapshots").map_err(|source| self.storage("open the snapshots tree", source))?;
        let value = tree.get(name.as_bytes()).map_err(|source| self.storage("read a snapshot", source))?;
        Ok(value.and_then(|value| {
            let seq = u64::from_le_bytes(value.get(..8)?.try_into().ok()?);
            Some((Seq::new(seq), value[8..].to_vec()))
        }))
    }

    /// Stops the storage thread after it has stored everything queued, then
    /// makes the journal durable on disk and releases it.
    pub fn close(mut self) -> Result<(), JournalError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), JournalError> {
        self.core = None;
        if let Some(pipeline) = &self.pipeline {
            pipeline.close();
        }
        if let Some(storage) = self.storage.take() {
            if storage.join().is_err() {
                tracing::error!(dir = %self.dir.display(), "journal storage thread panicked");
            }
        }
        let failure = self.shared.failure();
        let Some(store) = self.store.take() else { return Ok(()) };
        let flushed = match self.options.mode {
            OpenMode::ReadWrite => {
                store.db.flush().map(|_| ()).map_err(|source| self.storage("flush on close", source))
            }
            OpenMode::ReadOnly => Ok(()),
        };
        drop(store);
        wait_for_lock_release(&self.dir);
        // A storage failure may have cost acknowledged `Buffered` appends:
        // closing must not look clean.
        match failure {
            Some(reason) => Err(self.stopped(reason)),
            None => flushed,
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(error) = self.shut_down() {
            tracing::error!(%error, "closing the journal failed");
        }
    }
}

/// sled finishes some writes on its shared thread pool, whose tasks hold the
/// data file (and its lock) a moment after the last handle is dropped. Waiting
/// here makes "closed" mean "can be opened again", in this process or another.
fn wait_for_lock_release(dir: &Path) {
    const WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(10);
    let Ok(file) = File::open(dir.join("db")) else { return };
    let started = std::time::Instant::now();
    while started.elapsed() < WAIT_MAX {
        if file.try_lock().is_ok() {
            let _ = file.unlock();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    tracing::warn!(dir = %dir.display(), "sled still holds the journal's lock 10 s after closing");
}

fn storage_error(dir: &Path, operation: &'static str) -> impl FnOnce(sled::Error) -> JournalError {
    let dir = dir.to_path_buf();
    move |source| JournalError::Storage { dir, operation, source }
}

fn open_sled(dir: &Path, options: &JournalOptions) -> Result<sled::Db, JournalError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(options.cache_capacity_bytes)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(options.flush_every_ms);
    // sled 0.34 panics on some damaged files (a data file cut short after a
    // torn write indexes past its segment table) instead of returning an
    // error; a damaged journal must be a clear refusal, never a crash.
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open())).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        JournalError::Unreadable {
            dir: dir.to_path_buf(),
            reason: format!("sled panicked reading its files: {message}"),
        }
    })?;
    opened.map_err(|source| match &source {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            JournalError::Locked { dir: dir.to_path_buf() }
        }
        _ => JournalError::Storage { dir: dir.to_path_buf(), operation: "open the database", source },
    })
}

fn load_or_create_meta(
    dir: &Path,
    db: &sled::Db,
    meta: &sled::Tree,
    frames: &sled::Tree,
    mode: OpenMode,
) -> Result<JournalId, JournalError> {
    let storage = |operation| storage_error(dir, operation);
    let not_a_journal = |reason: &str| JournalError::NotAJournal { dir: dir.to_path_buf(), reason: reason.into() };
    match meta.get(META_FORMAT).map_err(storage("read the format marker"))? {
        Some(format) if format.as_ref() == FORMAT_MARKER => {}
        Some(_) => return Err(not_a_journal("its format marker names another format")),
        None if !frames.is_empty() => return Err(not_a_journal("it holds frames but no format marker")),
        None if mode == OpenMode::ReadOnly => return Err(not_a_journal("the folder holds no journal yet")),
        None => return create_meta(dir, db, meta),
    }
    let id_bytes = meta.get(META_JOURNAL_ID).map_err(storage("read the journal id"))?;
    let id_bytes: [u8; 16] = id_bytes
        .as_deref()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| not_a_journal("its journal id is missing or damaged"))?;
    let schema = meta.get(META_SCHEMA).map_err(storage("read the schema version"))?;
    let schema = schema
        .as_deref()
        .and_then(|bytes| bytes.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| not_a_journal("its schema version is missing or damaged"))?;
    if mode == OpenMode::ReadWrite && schema > SCHEMA_VERSION {
        return Err(JournalError::NewerSchema { dir: dir.to_path_buf(), found: schema, supported: SCHEMA_VERSION });
    }
    if mode == OpenMode::ReadWrite && schema < SCHEMA_VERSION {
        meta.insert(META_SCHEMA, &SCHEMA_VERSION.to_le_bytes()).map_err(storage("record the schema version"))?;
    }
    Ok(JournalId::from_uuid(uuid::Uuid::from_bytes(id_bytes)))
}

fn create_meta(dir: &Path, db: &sled::Db, meta: &sled::Tree) -> Result<JournalId, JournalError> {
    let storage = |operation| storage_error(dir, operation);
    let journal_id = new_journal_id();
    meta.insert(META_JOURNAL_ID, journal_id.as_uuid().as_bytes()).map_err(storage("record the journal id"))?;
    meta.insert(META_SCHEMA, &SCHEMA_VERSION.to_le_bytes()).map_err(storage("record the schema version"))?;
    meta.insert(META_FORMAT, FORMAT_MARKER).map_err(storage("record the format marker"))?;
    db.flush().map_err(storage("flush the new journal"))?;
    sync_path(&dir.join("db"))?;
    sync_path(dir)?;
    tracing::info!(dir = %dir.display(), %journal_id, "journal created");
    Ok(journal_id)
}

fn sync_path(path: &Path) -> Result<(), JournalError> {
    let io = |operation| move |source| JournalError::Io { path: path.to_path_buf(), operation, source };
    File::open(path).map_err(io("open for syncing"))?.sync_all().map_err(io("sync"))
}

/// The head anchor as stored. An anchor that does not decode stands for
/// nothing recorded, so the chain fails against it and verify names it.
fn stored_anchor(frames: &sled::Tree) -> Result<Option<Anchor>, sled::Error> {
    Ok(frames.get(HEAD_KEY)?.map(|bytes| Anchor::decode(&bytes).unwrap_or(Anchor { seq: Seq::ZERO, hash: Hash::ZERO })))
}

/// The last record of a frame, checking only its shape.
fn last_record(key: &[u8], value: &[u8], seq_here: Seq) -> Result<(Seq, Hash), ChainFault> {
    let malformed = |error| ChainFault { seq: seq_here, kind: FaultKind::Malformed(error) };
    let header = codec::parse_frame_header(key, value).map_err(malformed)?;
    let mut cursor = RecordCursor::new();
    let mut last = (Seq::new(header.first_seq.get().saturating_sub(1)), header.hash_previous);
    while let Some(record) = cursor.next_record(value).map_err(malformed)? {
        last = (record.seq, record.hash);
    }
    Ok(last)
}

/// Verifies the last frame against the one before it and the head anchor:
/// what a torn or damaged tail would break, at the cost of two frames.
fn check_tail(frames: &sled::Tree, journal_id: JournalId) -> Result<Head, ChainFault> {
    let unreadable = |detail: String| ChainFault { seq: Seq::ZERO, kind: FaultKind::Undecodable(detail) };
    let mut tail = frames.range(..HEAD_KEY.to_vec()).rev();
    let last = tail.next().transpose().map_err(|error| unreadable(error.to_string()))?;
    let before = tail.next().transpose().map_err(|error| unreadable(error.to_string()))?;
    let anchor = stored_anchor(frames).map_err(|error| unreadable(error.to_string()))?;
    let mut verifier = match &before {
        None => ChainVerifier::new(journal_id),
        Some((key, value)) => {
            let first_seq = key.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            let (seq, hash) = last_record(key, value, Seq::new(first_seq))?;
            ChainVerifier::resume(seq, hash)
        }
    };
    if let Some((key, value)) = &last {
        verifier.check_frame(key, value)?;
    }
    verifier.finish(anchor)?;
    Ok(Head { seq: verifier.seq_last(), hash: verifier.hash_last() })
}

/// For a damaged journal opened read-only: the anchor if it is readable,
/// else nothing recorded.
fn best_effort_head(frames: &sled::Tree, journal_id: JournalId) -> Head {
    frames
        .get(HEAD_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| Anchor::decode(&bytes))
        .map(|anchor| Head { seq: anchor.seq, hash: anchor.hash })
        .unwrap_or(Head { seq: Seq::ZERO, hash: genesis_hash(journal_id) })
}
