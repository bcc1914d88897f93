//! The writer side of the journal, in two stages:
//! - **sequencing**, in the appending thread under the writer-core mutex:
//!   seqs, envelope headers, the hash chain and the frames. An append's
//!   envelopes are final when it leaves this stage, and its commit joins the
//!   storage queue in seq order.
//! - **storage**, in the storage thread: takes every queued commit (group
//!   commit), merges adjacent small frames, applies them to sled as one
//!   batch, and syncs once when any of them asked for `Durable`.
//!
//! A `Buffered` append is acknowledged when it is sequenced; a `Durable` one
//! when the storage thread has synced it. Readers first wait for the storage
//! thread to apply everything sequenced, so they see every acknowledged
//! event. (A separate sync thread, so that framing overlapped the previous
//! fsync, was measured here and lost: on two cores the second stage split
//! commits into smaller fsync groups.)

use super::{Durability, Head, PreparedEvent, Shared, HEAD_KEY};
use crate::codec::{self, FrameBuilder, ENVELOPE_HEADER_BYTES_MAX, FRAME_HEADER_BYTES, RECORD_OVERHEAD_BYTES};
use crate::envelope::{Envelope, StoredHeader, SCHEMA_VERSION};
use crate::types::{JournalId, Seq, Timestamp};
use crate::verify::Anchor;
use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
    pub(super) frame_bytes_target: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) pipeline: Arc<Pipeline>,
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
        let time_recorded = Timestamp::from_datetime(chrono::Utc::now()).unwrap_or_default();
        let bytes: usize = events.iter().map(|prepared| record_bytes_max(&prepared.payload)).sum();
        let mut framer = Framer::new(self.head, self.frame_bytes_target, bytes);
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
        self.pipeline.enqueue(Commit { frames, head, durable, events: envelopes.len(), stored })?;
        self.head = head;
        self.shared.set_head(head);
        Ok(envelopes)
    }
}

/// One sequenced append waiting for the storage thread.
pub(super) struct Commit {
    frames: Vec<Frame>,
    head: Head,
    durable: bool,
    events: usize,
    stored: Option<Stored>,
}

/// The queue between sequencing and storage, and how far storage got.
pub(super) struct Pipeline {
    state: Mutex<PipelineState>,
    /// The storage thread waits here for commits.
    work: Condvar,
    /// Appenders and readers wait here for storage to progress.
    progress: Condvar,
    queue_events_max: usize,
}

struct PipelineState {
    queue: VecDeque<Commit>,
    queued_events: usize,
    /// The last commit applied to sled, and the last one synced to disk.
    applied: Head,
    synced: Seq,
    /// The first storage failure; nothing is stored after it.
    failure: Option<String>,
    /// Queued durable commits: someone waits for each.
    durable_queued: usize,
    /// A reader waits for the queue to be stored.
    reader_waiting: bool,
    /// The storage thread is waiting for work.
    storage_idle: bool,
    /// `close` was called: drain the queue, sync, and stop.
    closing: bool,
    /// The storage thread has exited.
    stopped: bool,
}

impl PipelineState {
    /// Whether the storage thread should store now rather than linger.
    fn urgent(&self, queue_events_max: usize) -> bool {
        self.durable_queued > 0 || self.reader_waiting || self.closing || self.queued_events * 2 >= queue_events_max
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Pipeline").field("queue_events_max", &self.queue_events_max).finish_non_exhaustive()
    }
}

impl Pipeline {
    pub(super) fn new(head: Head, queue_events_max: usize) -> Pipeline {
        let state = PipelineState {
            queue: VecDeque::new(),
            queued_events: 0,
            applied: head,
            synced: head.seq,
            failure: None,
            durable_queued: 0,
            reader_waiting: false,
            storage_idle: false,
            closing: false,
            stopped: false,
        };
        Pipeline { state: Mutex::new(state), work: Condvar::new(), progress: Condvar::new(), queue_events_max }
    }

    /// Queues `commit`, waiting while the queue is full (backpressure: the
    /// appender slows to the storage thread's pace). An empty queue takes
    /// any commit, however large.
    fn enqueue(&self, commit: Commit) -> Result<(), String> {
        let mut state = lock(&self.state);
        while state.queued_events > 0 && state.queued_events + commit.events > self.queue_events_max {
            if state.failure.is_some() || state.stopped {
                break;
            }
            state = self.progress.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if let Some(reason) = &state.failure {
            return Err(reason.clone());
        }
        if state.stopped || state.closing {
            return Err("the journal is closing".into());
        }
        let first = state.queue.is_empty();
        state.queued_events += commit.events;
        state.durable_queued += usize::from(commit.durable);
        state.queue.push_back(commit);
        if state.storage_idle && (first || state.urgent(self.queue_events_max)) {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Waits until storage has applied (or, `durable`, synced) `seq`, and
    /// returns the last applied head: `seq` or beyond, or less when storage
    /// failed or stopped first.
    pub(super) fn wait_for(&self, seq: Seq, durable: bool) -> Result<Head, String> {
        let mut state = lock(&self.state);
        if state.applied.seq < seq && !durable {
            state.reader_waiting = true;
            self.work.notify_one();
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

    pub(super) fn close(&self) {
        lock(&self.state).closing = true;
        self.work.notify_all();
    }

    /// Takes queued commits, at least one, up to `events_max` events, once
    /// they are urgent or have lingered; `None` once closing with nothing left.
    fn take(&self, events_max: usize) -> Option<Vec<Commit>> {
        let mut state = lock(&self.state);
        let mut deadline = None;
        loop {
            if state.queue.is_empty() && state.closing {
                return None;
            }
            let lingered = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if !state.queue.is_empty() && (lingered || state.urgent(self.queue_events_max)) {
                break;
            }
            state.storage_idle = true;
            state = if state.queue.is_empty() {
                deadline = None;
                self.work.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner())
            } else {
                let until = *deadline.get_or_insert_with(|| Instant::now() + LINGER);
                let wait = until.saturating_duration_since(Instant::now());
                self.work.wait_timeout(state, wait).unwrap_or_else(|poisoned| poisoned.into_inner()).0
            };
            state.storage_idle = false;
        }
        let mut taken = Vec::new();
        let mut events = 0;
        while let Some(commit) = state.queue.pop_front() {
            events += commit.events;
            state.durable_queued -= usize::from(commit.durable);
            taken.push(commit);
            if events >= events_max {
                break;
            }
        }
        if state.queue.is_empty() {
            state.reader_waiting = false;
        }
        Some(taken)
    }

    fn stored(&self, head: Head, durable: bool, events: usize) {
        let mut state = lock(&self.state);
        state.applied = head;
        if durable {
            state.synced = head.seq;
        }
        state.queued_events -= events;
        self.progress.notify_all();
    }

    fn forget(&self, events: usize) {
        let mut state = lock(&self.state);
        state.queued_events -= events;
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

/// The storage thread: applies queued commits to sled in seq order.
pub(super) struct Storage {
    pub(super) dir: PathBuf,
    pub(super) frames: sled::Tree,
    pub(super) syncer: Syncer,
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) shared: Arc<Shared>,
    pub(super) commit_events_max: usize,
    pub(super) frame_bytes_target: usize,
}

impl Storage {
    pub(super) fn run(mut self) {
        while let Some(commits) = self.pipeline.take(self.commit_events_max) {
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

    /// Applies `commits` as one sled batch, syncs when any is durable, and
    /// tells their waiters. After a failure nothing more is stored.
    fn store(&mut self, commits: Vec<Commit>) {
        let events: usize = commits.iter().map(|commit| commit.events).sum();
        let durable = commits.iter().any(|commit| commit.durable);
        let Some(head) = commits.last().map(|commit| commit.head) else { return };
        let mut waiters = Vec::new();
        let mut frames = Vec::new();
        for commit in commits {
            frames.extend(commit.frames);
            waiters.extend(commit.stored);
        }
        let written = match self.pipeline.failure() {
            Some(reason) => Err(reason),
            None => self.write(frames, head, durable),
        };
        match &written {
            Ok(()) => self.pipeline.stored(head, durable, events),
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

    fn write(&mut self, frames: Vec<Frame>, head: Head, durable: bool) -> Result<(), String> {
        let mut batch = sled::Batch::default();
        for (key, value) in merge_frames(frames, self.frame_bytes_target) {
            batch.insert(key.to_vec(), value);
        }
        batch.insert(HEAD_KEY, Anchor { seq: head.seq, hash: head.hash }.encode().to_vec());
        self.frames.apply_batch(batch).map_err(|error| format!("applying the batch failed: {error}"))?;
        if durable {
            self.syncer.sync_to_disk()?;
        }
        Ok(())
    }
}

/// Joins runs of consecutive small frames (many commits of a few events)
/// into frames of up to `bytes_target`, so a stream of small commits costs
/// one sled insert per frame rather than one per commit. A frame's records
/// continue the one before it, so joining is appending the records.
fn merge_frames(frames: Vec<Frame>, bytes_target: usize) -> Vec<Frame> {
    let mut merged: Vec<Frame> = Vec::with_capacity(frames.len());
    for (key, value) in frames {
        match merged.last_mut() {
            Some((_, last)) if last.len() + value.len().saturating_sub(FRAME_HEADER_BYTES) <= bytes_target => {
                last.extend_from_slice(value.get(FRAME_HEADER_BYTES..).unwrap_or_default());
            }
            _ => merged.push((key, value)),
        }
    }
    merged
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

/// Cuts a commit into frames and builds the chain.
struct Framer {
    frame_bytes_target: usize,
    /// Most bytes the records still to come can take: sizes each new frame
    /// to hold what it will get, without growing or over-allocating.
    bytes_to_come: usize,
    head: Head,
    current: Option<FrameBuilder>,
    done: Vec<Frame>,
}

impl Framer {
    fn new(head: Head, frame_bytes_target: usize, bytes_to_come: usize) -> Framer {
        Framer { frame_bytes_target, bytes_to_come, head, current: None, done: Vec::new() }
    }

    fn push(
        &mut self,
        journal_id: JournalId,
        time_recorded: Timestamp,
        prepared: PreparedEvent,
    ) -> Result<Envelope, codec::CodecError> {
        let seq = self.head.seq.next().ok_or(codec::CodecError::Encode {
            what: "seq",
            detail: "the journal has reached the last u64 seq".into(),
        })?;
        let header = StoredHeader {
            schema_version: SCHEMA_VERSION,
            time_event: prepared.new.time_event,
            time_recorded,
            correlation_seq: prepared.new.correlation_seq.unwrap_or(seq),
            causation_seq: prepared.new.causation_seq,
        };
        let hash_previous = self.head.hash;
        let record_bytes = record_bytes_max(&prepared.payload);
        let capacity = FRAME_HEADER_BYTES + self.bytes_to_come.min(self.frame_bytes_target + record_bytes);
        self.bytes_to_come = self.bytes_to_come.saturating_sub(record_bytes);
        let frame = self.current.get_or_insert_with(|| FrameBuilder::new(seq, &hash_previous, capacity));
        let hash = frame.push_record(seq, &hash_previous, |out| {
            codec::encode_into(&header, out, "envelope header")?;
            out.extend_from_slice(&prepared.payload);
            Ok(())
        })?;
        if frame.len_bytes() >= self.frame_bytes_target {
            self.close_frame();
        }
        self.head = Head { seq, hash };
        Ok(Envelope::from_stored(journal_id, seq, header, prepared.new.event, hash_previous, hash))
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
