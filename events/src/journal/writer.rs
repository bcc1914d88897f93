//! The writer side of the journal: the writer core frames, applies and
//! syncs commits, driven by the writer thread (queued appends, group commit)
//! or directly by a single writer (`Journal::append_direct`). (A separate sync thread, so that framing overlapped the previous
//! fsync, was measured here and lost: on two cores the work is CPU-bound, and
//! the second stage split commits into smaller fsync groups — 16 producers of
//! single events fell from ~33k to ~12k events/s.)

use super::{AppendRequest, Durability, Head, JournalOptions, PreparedEvent, Shared, HEAD_KEY};
use crate::codec::{self, FrameBuilder, ENVELOPE_HEADER_BYTES_MAX, RECORD_OVERHEAD_BYTES};
use crate::envelope::{Envelope, StoredHeader, SCHEMA_VERSION};
use crate::error::JournalError;
use crate::types::{JournalId, Seq, Timestamp};
use crate::verify::Anchor;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Owns seq assignment and the chain: the only code that writes frames.
/// Shared behind a mutex by the writer thread (group commits of queued
/// appends) and by `Journal::append_direct` (a single writer committing in
/// its own thread), so there is one chain whichever path an append takes.
pub(super) struct WriterCore {
    pub(super) dir: PathBuf,
    pub(super) frames: sled::Tree,
    pub(super) journal_id: JournalId,
    pub(super) head: Head,
    pub(super) options: JournalOptions,
    pub(super) shared: Arc<Shared>,
    pub(super) syncer: Syncer,
}

pub(super) type SharedCore = Arc<Mutex<WriterCore>>;

impl std::fmt::Debug for WriterCore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("WriterCore").field("dir", &self.dir).field("head", &self.head).finish_non_exhaustive()
    }
}

/// A poisoned lock still holds a consistent core: every change to it is made
/// only after the commit it describes succeeded.
pub(super) fn lock(core: &SharedCore) -> MutexGuard<'_, WriterCore> {
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WriterCore {
    /// Frames `appends` in order, applies them as one sled batch, syncs once
    /// when `durable`, and returns each append's envelopes. On failure
    /// nothing is acknowledged and the journal refuses every later append
    /// (fail-stop).
    pub(super) fn write(
        &mut self,
        appends: &mut [Vec<PreparedEvent>],
        durable: bool,
    ) -> Result<Vec<Vec<Envelope>>, String> {
        if let Some(reason) = self.shared.failure() {
            return Err(reason);
        }
        let written = self.build_batch(appends).and_then(|(batch, outcomes, head)| {
            self.frames.apply_batch(batch).map_err(|error| format!("applying the batch failed: {error}"))?;
            if durable {
                self.syncer.sync_to_disk()?;
            }
            Ok((outcomes, head))
        });
        match written {
            Ok((outcomes, head)) => {
                self.head = head;
                self.shared.set_head(head);
                Ok(outcomes)
            }
            Err(reason) => {
                tracing::error!(dir = %self.dir.display(), %reason, "journal commit failed; refusing further appends");
                self.shared.fail(reason.clone());
                Err(reason)
            }
        }
    }

    /// Frames every event of every append into one sled batch. Payload sizes
    /// were checked by `prepare`, so framing fails only on a bug or seq
    /// exhaustion, and then the whole commit fails.
    #[allow(clippy::type_complexity)]
    fn build_batch(
        &self,
        appends: &mut [Vec<PreparedEvent>],
    ) -> Result<(sled::Batch, Vec<Vec<Envelope>>, Head), String> {
        let time_recorded = Timestamp::from_datetime(chrono::Utc::now()).unwrap_or_default();
        let mut framer = Framer::new(self.head, self.options.frame_bytes_target);
        let mut outcomes = Vec::with_capacity(appends.len());
        for events in appends.iter_mut() {
            let mut envelopes = Vec::with_capacity(events.len());
            for prepared in events.drain(..) {
                let envelope = framer
                    .push(self.journal_id, time_recorded, prepared)
                    .map_err(|error| format!("framing failed: {error}"))?;
                envelopes.push(envelope);
            }
            outcomes.push(envelopes);
        }
        let (batch, head) = framer.finish();
        Ok((batch, outcomes, head))
    }

    /// The journal is closing: make buffered commits durable too.
    pub(super) fn final_sync(&mut self) {
        if self.shared.failure().is_none() {
            if let Err(reason) = self.syncer.sync_to_disk() {
                tracing::error!(dir = %self.dir.display(), %reason, "final journal sync failed");
                self.shared.fail(reason);
            }
        }
    }
}

/// The writer thread: takes every queued append (group commit) and commits
/// them through the shared core.
pub(super) struct Writer {
    pub(super) core: SharedCore,
    pub(super) commit_events_max: usize,
}

impl Writer {
    pub(super) fn run(self, mut receiver: mpsc::Receiver<AppendRequest>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut events = first.events.len();
            let mut requests = vec![first];
            while events < self.commit_events_max {
                match receiver.try_recv() {
                    Ok(request) => {
                        events += request.events.len();
                        requests.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit(requests);
        }
        lock(&self.core).final_sync();
    }

    /// Commits the requests together and answers every waiter.
    fn commit(&self, requests: Vec<AppendRequest>) {
        let durable = requests.iter().any(|request| request.durability == Durability::Durable);
        let (mut appends, replies): (Vec<_>, Vec<_>) =
            requests.into_iter().map(|request| (request.events, request.reply)).unzip();
        let mut core = lock(&self.core);
        let written = core.write(&mut appends, durable);
        let dir = core.dir.clone();
        drop(core);
        match written {
            Ok(outcomes) => {
                for (reply, envelopes) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(envelopes));
                }
            }
            Err(reason) => {
                for reply in replies {
                    let _ = reply.send(Err(JournalError::Stopped { dir: dir.clone(), reason: reason.clone() }));
                }
            }
        }
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

/// Cuts a commit into frames and builds the chain.
struct Framer {
    frame_bytes_target: usize,
    head: Head,
    current: Option<FrameBuilder>,
    done: Vec<([u8; 8], Vec<u8>)>,
}

impl Framer {
    fn new(head: Head, frame_bytes_target: usize) -> Framer {
        Framer { frame_bytes_target, head, current: None, done: Vec::new() }
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
        let capacity =
            self.frame_bytes_target + RECORD_OVERHEAD_BYTES + ENVELOPE_HEADER_BYTES_MAX + prepared.payload.len();
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

    fn finish(mut self) -> (sled::Batch, Head) {
        self.close_frame();
        let mut batch = sled::Batch::default();
        for (key, value) in self.done {
            batch.insert(key.to_vec(), value);
        }
        if self.head.seq != Seq::ZERO {
            batch.insert(HEAD_KEY, Anchor { seq: self.head.seq, hash: self.head.hash }.encode().to_vec());
        }
        (batch, self.head)
    }
}
