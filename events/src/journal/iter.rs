//! Reading the journal back: envelopes in seq order.

use crate::codec::{self, RecordCursor};
use crate::envelope::Envelope;
use crate::error::JournalError;
use crate::types::{Hash, JournalId, Seq};
use crate::verify::{ChainFault, FaultKind};
use std::path::PathBuf;

/// Reads envelopes in seq order from a start seq to a fixed end seq.
pub struct EventIter {
    dir: PathBuf,
    journal_id: JournalId,
    frames: Option<sled::Iter>,
    /// An error to yield before anything else (the journal was closed).
    pending_error: Option<JournalError>,
    frame: Option<(sled::IVec, RecordCursor, Hash)>,
    seq_from: Seq,
    seq_to: Seq,
    seq_expected: Option<Seq>,
    done: bool,
}

impl std::fmt::Debug for EventIter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EventIter")
            .field("dir", &self.dir)
            .field("seq_from", &self.seq_from)
            .field("seq_to", &self.seq_to)
            .field("seq_expected", &self.seq_expected)
            .finish_non_exhaustive()
    }
}

impl EventIter {
    pub(super) fn new(
        dir: PathBuf,
        journal_id: JournalId,
        frames: sled::Iter,
        seq_from: Seq,
        seq_to: Seq,
    ) -> EventIter {
        EventIter {
            dir,
            journal_id,
            frames: Some(frames),
            pending_error: None,
            frame: None,
            seq_from,
            seq_to,
            seq_expected: None,
            done: false,
        }
    }

    pub(super) fn failed(dir: PathBuf, journal_id: JournalId, error: JournalError) -> EventIter {
        EventIter {
            dir,
            journal_id,
            frames: None,
            pending_error: Some(error),
            frame: None,
            seq_from: Seq::FIRST,
            seq_to: Seq::ZERO,
            seq_expected: None,
            done: false,
        }
    }

    fn fault(&mut self, seq: Seq, kind: FaultKind) -> Option<Result<Envelope, JournalError>> {
        self.done = true;
        Some(Err(JournalError::Corrupt { dir: self.dir.clone(), fault: ChainFault { seq, kind } }))
    }

    fn next_frame(&mut self) -> Option<Result<(), (Seq, FaultKind)>> {
        let here = self.seq_expected.unwrap_or(self.seq_from);
        let (key, value) = match self.frames.as_mut()?.next()? {
            Ok(entry) => entry,
            Err(error) => return Some(Err((here, FaultKind::Undecodable(format!("sled read failed: {error}"))))),
        };
        match codec::parse_frame_header(&key, &value) {
            Ok(header) => {
                if let Some(expected) = self.seq_expected {
                    if header.first_seq != expected {
                        return Some(Err((expected, FaultKind::Gap { expected, found: header.first_seq })));
                    }
                }
                self.frame = Some((value, RecordCursor::new(), header.hash_previous));
                Some(Ok(()))
            }
            Err(error) => Some(Err((here, FaultKind::Malformed(error)))),
        }
    }
}

impl Iterator for EventIter {
    type Item = Result<Envelope, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending_error.take() {
            self.done = true;
            return Some(Err(error));
        }
        loop {
            if self.done {
                return None;
            }
            let Some((value, mut cursor, mut hash_previous)) = self.frame.take() else {
                match self.next_frame() {
                    None => return self.end_of_frames(),
                    Some(Err((seq, kind))) => return self.fault(seq, kind),
                    Some(Ok(())) => continue,
                }
            };
            let here = self.seq_expected.unwrap_or(self.seq_from);
            let record = match cursor.next_record(&value) {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(error) => return self.fault(here, FaultKind::Malformed(error)),
            };
            if let Some(expected) = self.seq_expected {
                if record.seq != expected {
                    return self.fault(expected, FaultKind::Gap { expected, found: record.seq });
                }
            }
            let (seq, hash) = (record.seq, record.hash);
            let previous = std::mem::replace(&mut hash_previous, hash);
            self.seq_expected = Some(Seq::new(seq.get() + 1));
            if seq > self.seq_to {
                self.done = true;
                return None;
            }
            let decoded = (seq >= self.seq_from).then(|| codec::decode_body(record.body));
            self.frame = Some((value, cursor, hash_previous));
            match decoded {
                None => continue,
                Some(Err(error)) => return self.fault(seq, FaultKind::Undecodable(error.to_string())),
                Some(Ok((header, event))) => {
                    return Some(Ok(Envelope::from_stored(self.journal_id, seq, header, event, previous, hash)))
                }
            }
        }
    }
}

impl EventIter {
    /// Reaching the last frame before the head means frames vanished.
    fn end_of_frames(&mut self) -> Option<Result<Envelope, JournalError>> {
        self.done = true;
        let last = self.seq_expected.map_or(Seq::ZERO, |seq| Seq::new(seq.get() - 1));
        if last < self.seq_to && self.seq_from <= self.seq_to {
            let missing = Seq::new(last.get() + 1).max(self.seq_from);
            return self.fault(missing, FaultKind::MissingTail { anchored: self.seq_to });
        }
        None
    }
}
