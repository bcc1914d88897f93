//! The writer side of the journal, in two stages:
//! - **sequencing**, in the appending thread under the writer-core mutex:
//!   seqs, envelope headers, the hash chain and the frames. An append's
//!   envelopes are final when it leaves this stage, and its commit joins the
//!   storage queue in seq order.
//! - **storage**, in the storage thread: takes every queued commit (group
//!   commit), merges adjacent small frames, applies them to sled as one
//!   batch, and syncs once when any of them asked for `Durable`.
//!
//! An append in place (the engine's) is framed and encoded by the appending
//! thread but hashed by the storage thread, which keeps the chain's tip: on
//! two cores that splits the work more evenly, and the engine needs seqs,
//! not hashes. A later envelope-returning append waits for those hashes.
//!
//! A `Buffered` append is acknowledged when it is sequenced; a `Durable` one
//! when the storage thread has synced it. Readers first wait for the storage
//! thread to apply everything sequenced, so they see every acknowledged
//! event. (A separate sync thread, so that framing overlapped the previous
//! fsync, was measured here and lost: on two cores the second stage split
//! commits into smaller fsync groups.)

use super::{Durability, Head, PreparedEvent, Shared, HEAD_KEY};
use crate::codec::{self, FrameBuilder, ENVELOPE_HEADER_BYTES_MAX, FRAME_HEADER_BYTES, RECORD_OVERHEAD_BYTES};
use crate::envelope::{Envelope, NewEvent, StoredHeader, SCHEMA_VERSION};
use crate::types::{Hash, JournalId, Seq, Timestamp};
use crate::verify::Anchor;
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long buffered commits may wait in the queue for company before the
/// storage thread stores them. Waking the storage thread costs a futex call
/// and a context switch on each side — more than sequencing a small commit
/// — so it is woken for a durable commit, a reader, a half-full queue or a
/// first commit, and otherwise gathers what arrives within this window.
const LINGER: Duration = Duration::from_millis(1);

/// A frame's sled key (its first seq, big-endian) and value.
type Frame = ([u8; 8], Vec<u8>);

/// Told when a queued commit is stored (and synced, if it was durable).
pub(super) type Stored = oneshot::Sender<Result<(), String>>;

/// Owns seq assignment and the chain: the only code that frames events.
pub(super) struct WriterCore {
    pub(super) journal_id: JournalId,
    pub(super) head: Head,
    /// The last append was made in place: `head.hash` is the storage
    /// thread's to compute, and is not known here yet.
    pub(super) hash_pending: bool,
    pub(super) frame_bytes_target: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) spares: SpareReceiver,
}

pub(super) type SharedCore = Arc<Mutex<WriterCore>>;

impl std::fmt::Debug for WriterCore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("WriterCore").field("head", &self.head).finish_non_exhaustive()
    }
}

/// A poisoned lock still holds a consistent value: each is changed only
/// after the step it describes succeeded.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WriterCore {
    /// Frames `events` as the next seqs and queues the commit for storage;
    /// returns the envelopes. Blocks while the storage queue is full. A
    /// framing failure (a bug, or seq exhaustion) stops the journal.
    pub(super) fn sequence(
        &mut self,
        events: Vec<PreparedEvent>,
        durability: Durability,
        stored: Option<Stored>,
    ) -> Result<Vec<Envelope>, String> {
        if let Some(reason) = self.shared.failure() {
            return Err(reason);
        }
        self.learn_head_hash()?;
        let time_recorded = Timestamp::now();
        let bytes: usize = events.iter().map(|prepared| record_bytes_max(&prepared.payload)).sum();
        let mut framer = Framer::new(self.head, self.frame_bytes_target, bytes, &self.spares);
        let mut envelopes = Vec::with_capacity(events.len());
        for prepared in events {
            match framer.push(self.journal_id, time_recorded, prepared) {
                Ok(envelope) => envelopes.push(envelope),
                Err(error) => {
                    let reason = format!("framing failed: {error}");
                    self.pipeline.fail(&self.shared, reason.clone());
                    return Err(reason);
                }
            }
        }
        let (frames, head) = framer.finish();
        let durable = durability == Durability::Durable;
        self.pipeline.enqueue(Commit { frames, head, sealed: true, durable, events: envelopes.len(), stored })?;
        self.head = head;
        self.shared.set_head(head);
        Ok(envelopes)
    }
}

impl WriterCore {
    /// After appends in place, waits for the storage thread to have hashed
    /// them: the next record's hash chains on the last one's.
    fn learn_head_hash(&mut self) -> Result<(), String> {
        if !self.hash_pending {
            return Ok(());
        }
        let applied = self.pipeline.wait_for(self.head.seq, false)?;
        if applied.seq != self.head.seq {
            return Err(format!("storage reached seq {} while {} was the head", applied.seq, self.head.seq));
        }
        self.head = applied;
        self.hash_pending = false;
        Ok(())
    }
}

/// What can stop an append that encodes while it frames.
pub(super) enum InPlaceError {
    /// Event `index` could not be encoded: nothing was appended.
    Encode { index: usize, source: codec::CodecError },
    /// The journal refuses appends (or the storage queue is gone).
    Stopped(String),
}

/// A typical record's bytes, to size frames when payloads are encoded
/// straight into them (a trade tick's record is ~110 bytes; a larger one
/// grows its frame).
const RECORD_BYTES_TYPICAL: usize = 256;

impl WriterCore {
    /// Frames `events` as the next seqs, encoding each straight into its
    /// frame, and queues the commit; returns the first and last seq given.
    /// No envelope is built and no payload buffer allocated: for the
    /// engine, which folded the events as it staged them. On an encoding
    /// error nothing is appended and the journal goes on.
    pub(super) fn sequence_in_place(
        &mut self,
        events: &[NewEvent],
        durability: Durability,
    ) -> Result<(Seq, Seq), InPlaceError> {
        if let Some(reason) = self.shared.failure() {
            return Err(InPlaceError::Stopped(reason));
        }
        let time_recorded = Timestamp::now();
        let bytes = events.len().saturating_mul(RECORD_BYTES_TYPICAL);
        let first = self.head.seq.next().ok_or_else(|| InPlaceError::Encode {
            index: 0,
            source: codec::CodecError::Encode {
                what: "seq",
                detail: "the journal has reached the last u64 seq".into(),
            },
        })?;
        let mut framer = Framer::unsealed(self.head.seq, self.frame_bytes_target, bytes, &self.spares);
        let payload_max = codec::EVENT_BYTES_MAX - ENVELOPE_HEADER_BYTES_MAX;
        for (index, new) in events.iter().enumerate() {
            framer
                .push_record(time_recorded, new, RECORD_BYTES_TYPICAL, |out| {
                    let start = out.len();
                    codec::encode_event_into(&new.event, out)?;
                    check_payload_size(out.len() - start, payload_max)
                })
                .map_err(|source| InPlaceError::Encode { index, source })?;
        }
        let (frames, head) = framer.finish();
        let durable = durability == Durability::Durable;
        let commit = Commit { frames, head, sealed: false, durable, events: events.len(), stored: None };
        self.pipeline.enqueue(commit).map_err(InPlaceError::Stopped)?;
        self.head = head;
        self.hash_pending = true;
        self.shared.set_head_unsealed(head.seq);
        Ok((first, head.seq))
    }
}

/// The limit `Journal::append` applies to an encoded payload, so both
/// append paths accept the same events.
pub(super) fn check_payload_size(len: usize, max: usize) -> Result<(), codec::CodecError> {
    if len > max {
        return Err(codec::CodecError::Encode {
            what: "event",
            detail: format!("{len} bytes exceed the limit of {max}"),
        });
    }
    Ok(())
}

/// One sequenced append waiting for the storage thread.
pub(super) struct Commit {
    frames: Vec<Frame>,
    head: Head,
    /// Hashed already; otherwise the storage thread seals its frames.
    sealed: bool,
    durable: bool,
    events: usize,
    stored: Option<Stored>,
}

/// The hand-off between sequencing and storage, and how far storage got.
///
/// The appending side takes no lock the storage thread takes: commits go
/// through a lock-free channel, the counters are atomics, and the storage
/// thread is woken with `unpark`. With a mutex between them, an appender
/// that met the storage thread in it slept for a futex wait and a
/// reschedule (15–40 µs on this VM) about once every 200 commits. The
/// `progress` lock is only for those who wait: readers, durable appends and
/// an appender facing a full queue.
pub(super) struct Pipeline {
    commits: mpsc::Sender<Commit>,
    /// Events queued and not yet stored (in the channel or being stored).
    queued_events: AtomicUsize,
    /// Queued durable commits: someone waits for each.
    durable_queued: AtomicUsize,
    /// A reader waits for the queue to be stored.
    reader_waiting: AtomicBool,
    /// The storage thread is parked, or about to park, waiting for work.
    storage_idle: AtomicBool,
    /// `close` was called: drain the queue, sync, and stop.
    closing: AtomicBool,
    storage_thread: OnceLock<Thread>,
    state: Mutex<Progress>,
    /// Appenders and readers wait here for storage to progress.
    progress: Condvar,
    queue_events_max: usize,
}

struct Progress {
    /// The last commit applied to sled, and the last one synced to disk.
    applied: Head,
    synced: Seq,
    /// The first storage failure; nothing is stored after it.
    failure: Option<String>,
    /// The storage thread has exited.
    stopped: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Pipeline").field("queue_events_max", &self.queue_events_max).finish_non_exhaustive()
    }
}

impl Pipeline {
    /// The pipeline, and the storage thread's end of it.
    pub(super) fn new(head: Head, queue_events_max: usize) -> (Pipeline, Inbox) {
        let (commits, received) = mpsc::channel();
        let state = Progress { applied: head, synced: head.seq, failure: None, stopped: false };
        let pipeline = Pipeline {
            commits,
            queued_events: AtomicUsize::new(0),
            durable_queued: AtomicUsize::new(0),
            reader_waiting: AtomicBool::new(false),
            storage_idle: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            storage_thread: OnceLock::new(),
            state: Mutex::new(state),
            progress: Condvar::new(),
            queue_events_max,
        };
        (pipeline, Inbox { received, backlog: VecDeque::new(), left_over: false })
    }

    /// The thread to unpark when there is work; set before the first append.
    pub(super) fn set_storage_thread(&self, thread: Thread) {
        let _ = self.storage_thread.set(thread);
    }

    /// Whether the storage thread should store now rather than linger.
    fn urgent(&self) -> bool {
        self.durable_queued.load(SeqCst) > 0
            || self.reader_waiting.load(SeqCst)
            || self.closing.load(SeqCst)
            || self.queued_events.load(SeqCst) * 2 >= self.queue_events_max
    }

    /// Unparks the storage thread if it is waiting for work.
    fn wake_storage(&self) {
        // Pairs with the fence in `Storage::take` between setting
        // `storage_idle` and looking at the channel once more: either the
        // storage thread sees what was sent, or this sees it idle.
        fence(SeqCst);
        if self.storage_idle.swap(false, SeqCst) {
            if let Some(thread) = self.storage_thread.get() {
                thread.unpark();
            }
        }
    }

    /// Queues `commit`, waiting while the queue is full (backpressure: the
    /// appender slows to the storage thread's pace). An empty queue takes
    /// any commit, however large.
    fn enqueue(&self, commit: Commit) -> Result<(), String> {
        let (events, durable) = (commit.events, commit.durable);
        self.wait_for_room(events)?;
        if self.closing.load(SeqCst) {
            return Err("the journal is closing".into());
        }
        let queued_before = self.queued_events.fetch_add(events, SeqCst);
        self.durable_queued.fetch_add(usize::from(durable), SeqCst);
        if self.commits.send(commit).is_err() {
            self.queued_events.fetch_sub(events, SeqCst);
            self.durable_queued.fetch_sub(usize::from(durable), SeqCst);
            return Err("the journal's storage thread stopped".into());
        }
        if queued_before == 0 || self.urgent() {
            self.wake_storage();
        }
        Ok(())
    }

    fn wait_for_room(&self, events: usize) -> Result<(), String> {
        let fits = |queued: usize| queued == 0 || queued + events <= self.queue_events_max;
        if fits(self.queued_events.load(SeqCst)) {
            return Ok(());
        }
        self.wake_storage();
        let mut state = lock(&self.state);
        // `queued_events` falls under this lock (see `stored`), so no
        // notification is missed between the check and the wait.
        while !fits(self.queued_events.load(SeqCst)) {
            if let Some(reason) = &state.failure {
                return Err(reason.clone());
            }
            if state.stopped {
                return Err("the journal's storage thread stopped".into());
            }
            state = self.progress.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        Ok(())
    }

    /// Waits until storage has applied (or, `durable`, synced) `seq`, and
    /// returns the last applied head: `seq` or beyond, or less when storage
    /// failed or stopped first.
    pub(super) fn wait_for(&self, seq: Seq, durable: bool) -> Result<Head, String> {
        let mut state = lock(&self.state);
        if state.applied.seq < seq && !durable {
            self.reader_waiting.store(true, SeqCst);
            self.wake_storage();
        }
        loop {
            let reached = if durable { state.synced } else { state.applied.seq };
            if reached >= seq {
                return Ok(state.applied);
            }
            if let Some(reason) = &state.failure {
                return Err(reason.clone());
            }
            if state.stopped {
                return Err("the journal's storage thread stopped".into());
            }
            state = self.progress.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// The last head applied to sled.
    pub(super) fn applied(&self) -> Head {
        lock(&self.state).applied
    }

    /// Records the first failure: later appends are refused, waiters woken,
    /// and the journal's head falls back to what was stored.
    fn fail(&self, shared: &Shared, reason: String) {
        let mut state = lock(&self.state);
        state.failure.get_or_insert(reason.clone());
        shared.fail(reason);
        shared.set_head(state.applied);
        self.progress.notify_all();
    }

    /// Called with no append in progress (`Journal::close` owns the journal).
    pub(super) fn close(&self) {
        self.closing.store(true, SeqCst);
        if let Some(thread) = self.storage_thread.get() {
            thread.unpark();
        }
    }

    fn stored(&self, head: Head, durable: bool, events: usize) {
        let mut state = lock(&self.state);
        state.applied = head;
        if durable {
            state.synced = head.seq;
        }
        self.queued_events.fetch_sub(events, SeqCst);
        self.progress.notify_all();
    }

    fn forget(&self, events: usize) {
        let _state = lock(&self.state);
        self.queued_events.fetch_sub(events, SeqCst);
        self.progress.notify_all();
    }

    fn synced_all(&self) {
        let mut state = lock(&self.state);
        state.synced = state.applied.seq;
        self.progress.notify_all();
    }

    fn failure(&self) -> Option<String> {
        lock(&self.state).failure.clone()
    }

    fn mark_stopped(&self) {
        lock(&self.state).stopped = true;
        self.progress.notify_all();
    }
}

/// The storage thread's end of the hand-off.
pub(super) struct Inbox {
    received: mpsc::Receiver<Commit>,
    /// Received, not yet taken, in seq order.
    backlog: VecDeque<Commit>,
    /// The last take left commits behind (it was full): take them at once.
    left_over: bool,
}

impl Inbox {
    /// Moves what the channel holds to the backlog; returns how many.
    fn receive(&mut self) -> usize {
        let before = self.backlog.len();
        self.backlog.extend(self.received.try_iter());
        self.backlog.len() - before
    }
}

/// The storage thread: applies queued commits to sled in seq order.
pub(super) struct Storage {
    pub(super) inbox: Inbox,
    pub(super) dir: PathBuf,
    pub(super) frames: sled::Tree,
    pub(super) syncer: Syncer,
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) shared: Arc<Shared>,
    pub(super) commit_events_max: usize,
    pub(super) frame_bytes_target: usize,
    /// The hash of the last record taken from the queue: where the chain
    /// of the next unsealed commit starts.
    pub(super) chain: Hash,
    pub(super) spares: SpareSender,
}

impl Storage {
    pub(super) fn run(mut self) {
        while let Some(commits) = self.take() {
            self.store(commits);
        }
        if self.pipeline.failure().is_none() {
            match self.syncer.sync_to_disk() {
                Ok(()) => self.pipeline.synced_all(),
                Err(reason) => {
                    tracing::error!(dir = %self.dir.display(), %reason, "final journal sync failed");
                    self.pipeline.fail(&self.shared, reason);
                }
            }
        }
        self.pipeline.mark_stopped();
    }

    /// Takes received commits, at least one, up to `commit_events_max`
    /// events, once they are urgent or have lingered (a backlog left by the
    /// last take does not linger); `None` once closing with nothing left.
    fn take(&mut self) -> Option<Vec<Commit>> {
        let mut deadline = None;
        loop {
            self.inbox.receive();
            if self.inbox.backlog.is_empty() && self.pipeline.closing.load(SeqCst) {
                return None;
            }
            let lingered = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if !self.inbox.backlog.is_empty() && (lingered || self.inbox.left_over || self.pipeline.urgent()) {
                break;
            }
            self.pipeline.storage_idle.store(true, SeqCst);
            // See `Pipeline::wake_storage`: a commit sent before the flag was
            // visible is seen here; one sent after it finds us idle.
            fence(SeqCst);
            if self.inbox.receive() > 0 || self.pipeline.closing.load(SeqCst) {
                self.pipeline.storage_idle.store(false, SeqCst);
                continue;
            }
            if self.inbox.backlog.is_empty() {
                deadline = None;
                std::thread::park();
            } else {
                let until = *deadline.get_or_insert_with(|| Instant::now() + LINGER);
                std::thread::park_timeout(until.saturating_duration_since(Instant::now()));
            }
            self.pipeline.storage_idle.store(false, SeqCst);
        }
        // Everything a waiting reader needs was sent before it said so, so
        // it is received below.
        self.pipeline.reader_waiting.store(false, SeqCst);
        self.inbox.receive();
        let mut taken = Vec::new();
        let mut events = 0;
        while events < self.commit_events_max {
            let Some(commit) = self.inbox.backlog.pop_front() else { break };
            events += commit.events;
            self.pipeline.durable_queued.fetch_sub(usize::from(commit.durable), SeqCst);
            taken.push(commit);
        }
        self.inbox.left_over = !self.inbox.backlog.is_empty();
        Some(taken)
    }

    /// Applies `commits` as one sled batch, syncs when any is durable, and
    /// tells their waiters. After a failure nothing more is stored.
    fn store(&mut self, mut commits: Vec<Commit>) {
        let events: usize = commits.iter().map(|commit| commit.events).sum();
        let durable = commits.iter().any(|commit| commit.durable);
        let sealed = self.seal(&mut commits);
        let Some(head) = commits.last().map(|commit| commit.head) else { return };
        let mut waiters = Vec::new();
        let mut frames = Vec::new();
        for commit in commits {
            frames.extend(commit.frames);
            waiters.extend(commit.stored);
        }
        let written = match (self.pipeline.failure(), sealed) {
            (Some(reason), _) | (None, Err(reason)) => Err(reason),
            (None, Ok(())) => self.write(frames, head, durable),
        };
        match &written {
            Ok(()) => {
                self.shared.seal_head(head);
                self.pipeline.stored(head, durable, events);
            }
            Err(reason) => {
                if self.pipeline.failure().is_none() {
                    tracing::error!(dir = %self.dir.display(), %reason, "journal commit failed; refusing further appends");
                }
                self.pipeline.fail(&self.shared, reason.clone());
                self.pipeline.forget(events);
            }
        }
        for waiter in waiters {
            let _ = waiter.send(written.clone());
        }
    }

    /// Hashes the records of commits appended in place, on the chain of
    /// those before them: the hashing the appending thread left to this one.
    fn seal(&mut self, commits: &mut [Commit]) -> Result<(), String> {
        for commit in commits {
            if !commit.sealed {
                for (_, frame) in &mut commit.frames {
                    self.chain = codec::seal_frame(frame, &self.chain)
                        .map_err(|error| format!("sealing a frame failed: {error}"))?;
                }
                commit.head.hash = self.chain;
                commit.sealed = true;
            }
            self.chain = commit.head.hash;
        }
        Ok(())
    }

    fn write(&mut self, frames: Vec<Frame>, head: Head, durable: bool) -> Result<(), String> {
        let mut batch = sled::Batch::default();
        let merged = merge_frames(frames, self.frame_bytes_target, |spare| self.spares.give(spare));
        // sled copies what it is given, so the buffers can be handed back.
        for (key, value) in &merged {
            batch.insert(&key[..], &value[..]);
        }
        batch.insert(HEAD_KEY, Anchor { seq: head.seq, hash: head.hash }.encode().to_vec());
        let applied = self.frames.apply_batch(batch).map_err(|error| format!("applying the batch failed: {error}"));
        for (_, buffer) in merged {
            self.spares.give(buffer);
        }
        applied?;
        if durable {
            self.syncer.sync_to_disk()?;
        }
        Ok(())
    }
}

/// Joins runs of consecutive small frames (many commits of a few events)
/// into frames of up to `bytes_target`, so a stream of small commits costs
/// one sled insert per frame rather than one per commit. A frame's records
/// continue the one before it, so joining is appending the records. The
/// buffers of frames joined into another go to `spare`.
fn merge_frames(frames: Vec<Frame>, bytes_target: usize, mut spare: impl FnMut(Vec<u8>)) -> Vec<Frame> {
    let mut merged: Vec<Frame> = Vec::with_capacity(frames.len());
    for (key, value) in frames {
        match merged.last_mut() {
            Some((_, last)) if last.len() + value.len().saturating_sub(FRAME_HEADER_BYTES) <= bytes_target => {
                last.extend_from_slice(value.get(FRAME_HEADER_BYTES..).unwrap_or_default());
                spare(value);
            }
            _ => merged.push((key, value)),
        }
    }
    merged
}

/// How many frame buffers may wait to be reused: enough for a commit of a
/// few thousand events, and a bound on the memory that waiting costs (with
/// the default frames, under 4 MB).
const SPARES_MAX: usize = 256;

/// The storage thread's end of the frame buffers handed back to the
/// appending thread: one buffer per frame, allocated by one thread and
/// freed by the other, had mimalloc hand the appender fresh pages, each a
/// page fault, again and again.
pub(super) struct SpareSender {
    sender: mpsc::Sender<Vec<u8>>,
    waiting: Arc<AtomicUsize>,
    /// Larger buffers (frames joined by `merge_frames`) are freed.
    bytes_max: usize,
}

/// The appending thread's end: buffers to build frames in.
pub(super) struct SpareReceiver {
    receiver: mpsc::Receiver<Vec<u8>>,
    waiting: Arc<AtomicUsize>,
}

/// The two ends, for frames of `frame_bytes_target`.
pub(super) fn spare_frames(frame_bytes_target: usize) -> (SpareSender, SpareReceiver) {
    let (sender, receiver) = mpsc::channel();
    let waiting = Arc::new(AtomicUsize::new(0));
    let bytes_max = 2 * (FRAME_HEADER_BYTES + frame_bytes_target + RECORD_BYTES_TYPICAL);
    (SpareSender { sender, waiting: Arc::clone(&waiting), bytes_max }, SpareReceiver { receiver, waiting })
}

impl SpareSender {
    /// Hands `buffer` back, unless enough wait already or it is outsized
    /// (then it is simply freed).
    fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() > self.bytes_max || self.waiting.load(SeqCst) >= SPARES_MAX {
            return;
        }
        if self.sender.send(buffer).is_ok() {
            self.waiting.fetch_add(1, SeqCst);
        }
    }
}

impl SpareReceiver {
    fn take(&self) -> Option<Vec<u8>> {
        let buffer = self.receiver.try_recv().ok()?;
        self.waiting.fetch_sub(1, SeqCst);
        Some(buffer)
    }
}

/// What a durable sync needs: sled's handle, its data file, and which blob
/// files were synced already.
pub(super) struct Syncer {
    pub(super) db: sled::Db,
    pub(super) dir: PathBuf,
    pub(super) data_file: File,
    pub(super) blobs_synced: HashSet<OsString>,
}

impl Syncer {
    /// Makes everything committed so far durable: sled's flush writes its
    /// buffers with `sync_file_range`, which neither flushes the disk cache
    /// nor metadata, so the data file is `fdatasync`ed after it, and so is
    /// any blob file sled wrote since the last sync.
    fn sync_to_disk(&mut self) -> Result<(), String> {
        self.db.flush().map_err(|error| format!("sled flush failed: {error}"))?;
        self.data_file.sync_data().map_err(|error| format!("fdatasync of the data file failed: {error}"))?;
        self.sync_new_blobs()
    }

    fn sync_new_blobs(&mut self) -> Result<(), String> {
        let blobs_dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs_dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(format!("listing {} failed: {error}", blobs_dir.display())),
        };
        let mut present = HashSet::new();
        let mut synced_any = false;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !self.blobs_synced.contains(&name) {
                match File::open(entry.path()).and_then(|file| file.sync_data()) {
                    Ok(()) => synced_any = true,
                    // sled may collect a blob between the listing and the open.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(format!("fdatasync of blob {} failed: {error}", entry.path().display())),
                }
            }
            present.insert(name);
        }
        self.blobs_synced = present;
        if synced_any {
            File::open(&blobs_dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|error| format!("syncing {} failed: {error}", blobs_dir.display()))?;
        }
        Ok(())
    }
}

/// Most bytes one record of `payload` takes in a frame.
fn record_bytes_max(payload: &[u8]) -> usize {
    RECORD_OVERHEAD_BYTES + ENVELOPE_HEADER_BYTES_MAX + payload.len()
}

/// One record as framed.
struct Framed {
    seq: Seq,
    header: StoredHeader,
    hash_previous: Hash,
    hash: Hash,
}

/// Cuts a commit into frames and builds the chain.
struct Framer<'a> {
    /// Buffers to build frames in before allocating new ones.
    spares: &'a SpareReceiver,
    frame_bytes_target: usize,
    /// Most bytes the records still to come can take: sizes each new frame
    /// to hold what it will get, without growing or over-allocating.
    bytes_to_come: usize,
    head: Head,
    /// Hash each record now; otherwise leave the chain to `seal_frame`
    /// (`head.hash` then means nothing).
    sealed: bool,
    current: Option<FrameBuilder>,
    done: Vec<Frame>,
}

impl<'a> Framer<'a> {
    fn new(head: Head, frame_bytes_target: usize, bytes_to_come: usize, spares: &'a SpareReceiver) -> Framer<'a> {
        let frames_to_come = bytes_to_come / frame_bytes_target.max(1) + 1;
        let done = Vec::with_capacity(frames_to_come);
        Framer { spares, frame_bytes_target, bytes_to_come, head, sealed: true, current: None, done }
    }

    /// A framer of the records after `seq` that leaves their hashes to
    /// the storage thread.
    fn unsealed(seq: Seq, frame_bytes_target: usize, bytes_to_come: usize, spares: &'a SpareReceiver) -> Framer<'a> {
        let head = Head { seq, hash: Hash::ZERO };
        Framer { sealed: false, ..Framer::new(head, frame_bytes_target, bytes_to_come, spares) }
    }

    /// Frames one event already encoded as `prepared.payload`.
    fn push(
        &mut self,
        journal_id: JournalId,
        time_recorded: Timestamp,
        prepared: PreparedEvent,
    ) -> Result<Envelope, codec::CodecError> {
        let record_bytes = record_bytes_max(&prepared.payload);
        let payload = &prepared.payload;
        let framed = self.push_record(time_recorded, &prepared.new, record_bytes, |out| {
            out.extend_from_slice(payload);
            Ok(())
        })?;
        let Framed { seq, header, hash_previous, hash } = framed;
        Ok(Envelope::from_stored(journal_id, seq, header, prepared.new.event, hash_previous, hash))
    }

    /// Frames `new` as the next seq: its header, then the payload that
    /// `write_payload` appends. `record_bytes` sizes a new frame. On an error
    /// the framer is left as it was.
    fn push_record(
        &mut self,
        time_recorded: Timestamp,
        new: &NewEvent,
        record_bytes: usize,
        write_payload: impl FnOnce(&mut Vec<u8>) -> Result<(), codec::CodecError>,
    ) -> Result<Framed, codec::CodecError> {
        let seq = self.head.seq.next().ok_or(codec::CodecError::Encode {
            what: "seq",
            detail: "the journal has reached the last u64 seq".into(),
        })?;
        let header = StoredHeader {
            schema_version: SCHEMA_VERSION,
            time_event: new.time_event,
            time_recorded,
            correlation_seq: new.correlation_seq.unwrap_or(seq),
            causation_seq: new.causation_seq,
        };
        let hash_previous = self.head.hash;
        let capacity = FRAME_HEADER_BYTES + self.bytes_to_come.min(self.frame_bytes_target + record_bytes);
        let spares = self.spares;
        let frame = self.current.get_or_insert_with(|| {
            FrameBuilder::reusing(spares.take().unwrap_or_default(), seq, &hash_previous, capacity)
        });
        let write_body = |out: &mut Vec<u8>| {
            codec::encode_header_into(&header, out);
            write_payload(out)
        };
        let hash = match self.sealed {
            true => frame.push_record(seq, &hash_previous, write_body)?,
            false => frame.push_record_unsealed(seq, write_body).map(|()| Hash::ZERO)?,
        };
        self.bytes_to_come = self.bytes_to_come.saturating_sub(record_bytes);
        if frame.len_bytes() >= self.frame_bytes_target {
            self.close_frame();
        }
        self.head = Head { seq, hash };
        Ok(Framed { seq, header, hash_previous, hash })
    }

    fn close_frame(&mut self) {
        if let Some(frame) = self.current.take() {
            if !frame.is_empty() {
                self.done.push(frame.finish());
            }
        }
    }

    fn finish(mut self) -> (Vec<Frame>, Head) {
        self.close_frame();
        (self.done, self.head)
    }
}
