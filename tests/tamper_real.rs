//! The tamper matrix over a real recorded journal: the SPY extract recorded
//! with the strategy and hand-written signals (1,210 events). Every class of
//! damage is tried; the chain verification or the audit must catch every
//! case and name the seq.
//!
//! Byte flips are checked with the journal's own verifier over the stored
//! frames (what `Journal::verify` runs), at one pseudo-random position of
//! each class in every record of every frame; `TRADELEDGER_TAMPER_ALL=1`
//! flips every byte instead. A handful of cases of each kind are also
//! written back to disk and caught by `tradeledger audit` (exit 1).

mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use tradeledger::events::codec::{self, RecordCursor, FRAME_HEADER_BYTES};
use tradeledger::events::journal::HEAD_KEY;
use tradeledger::events::verify::{Anchor, ChainVerifier};
use tradeledger::events::{
    ChainFault, Event, Hash, Journal, JournalId, JournalOptions, NewEvent, RiskCheckPassed, Seq,
};

type Frames = Vec<(Vec<u8>, Vec<u8>)>;

struct Stored {
    frames: Frames,
    anchor: Option<Anchor>,
}

/// A record's place in its frame, split into the classes a forger could hit.
#[derive(Debug, Clone)]
struct RecordBytes {
    seq: Seq,
    seq_field: Range<usize>,
    length_field: Range<usize>,
    envelope_header: Range<usize>,
    payload: Range<usize>,
    hash: Range<usize>,
}

fn record_real_journal(dir: &Path) -> (PathBuf, JournalId) {
    let journal = dir.join("journal");
    common::record_spy(&journal);
    let opened = Journal::open(&journal, JournalOptions::read_only()).unwrap();
    let id = opened.journal_id();
    opened.close().unwrap();
    (journal, id)
}

fn wait_for_unlock(dir: &Path) {
    for _ in 0..2_000 {
        if Journal::open(dir, JournalOptions::read_only()).map(Journal::close).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn load(dir: &Path) -> Stored {
    let db = sled::open(dir).unwrap();
    let tree = db.open_tree("frames").unwrap();
    let frames =
        tree.range(..HEAD_KEY.to_vec()).map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    let anchor = tree.get(HEAD_KEY).unwrap().and_then(|bytes| Anchor::decode(&bytes));
    drop((tree, db));
    wait_for_unlock(dir);
    Stored { frames, anchor }
}

fn store(dir: &Path, frames: &Frames, anchor: Option<Anchor>) {
    let db = sled::open(dir).unwrap();
    let tree = db.open_tree("frames").unwrap();
    tree.clear().unwrap();
    for (key, value) in frames {
        tree.insert(key.as_slice(), value.as_slice()).unwrap();
    }
    if let Some(anchor) = anchor {
        tree.insert(HEAD_KEY, anchor.encode().to_vec()).unwrap();
    }
    db.flush().unwrap();
    drop((tree, db));
    wait_for_unlock(dir);
}

fn verify_frames(id: JournalId, frames: &Frames, anchor: Option<Anchor>) -> Result<(), ChainFault> {
    let mut sorted = frames.clone();
    sorted.sort();
    let mut verifier = ChainVerifier::new(id);
    for (key, value) in &sorted {
        verifier.check_frame(key, value)?;
    }
    verifier.finish(anchor)
}

fn records_of(frame: &[u8]) -> Vec<RecordBytes> {
    let mut cursor = RecordCursor::new();
    let mut records = Vec::new();
    let mut start = FRAME_HEADER_BYTES;
    while let Some(record) = cursor.next_record(frame).unwrap() {
        let body = start + 12..start + 12 + record.body.len();
        let payload_len = codec::encode_event(&codec::decode_body(record.body).unwrap().1).unwrap().len();
        records.push(RecordBytes {
            seq: record.seq,
            seq_field: start..start + 8,
            length_field: start + 8..start + 12,
            envelope_header: body.start..body.end - payload_len,
            payload: body.end - payload_len..body.end,
            hash: body.end..body.end + 32,
        });
        start = body.end + 32;
    }
    records
}

fn first_seq(frame: &(Vec<u8>, Vec<u8>)) -> Seq {
    codec::parse_frame_header(&frame.0, &frame.1).unwrap().first_seq
}

/// Counts cases per class; each must be caught, naming the expected seq.
#[derive(Debug, Default)]
struct Tally(std::collections::BTreeMap<&'static str, u64>);

impl Tally {
    fn caught(&mut self, class: &'static str, outcome: Result<(), ChainFault>, expected: Seq) {
        let fault = outcome.unwrap_err_or_else(class);
        assert_eq!(fault.seq, expected, "{class}: {fault}");
        *self.0.entry(class).or_default() += 1;
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

trait CaughtOrPanic {
    fn unwrap_err_or_else(self, class: &str) -> ChainFault;
}

impl CaughtOrPanic for Result<(), ChainFault> {
    fn unwrap_err_or_else(self, class: &str) -> ChainFault {
        match self {
            Err(fault) => fault,
            Ok(()) => panic!("{class}: the damage went unnoticed"),
        }
    }
}

/// A pseudo-random position inside `range` (deterministic per case).
fn pick(range: &Range<usize>, salt: usize) -> Option<usize> {
    (!range.is_empty()).then(|| range.start + (salt.wrapping_mul(2_654_435_761) >> 7) % range.len())
}

#[test]
fn every_class_of_damage_to_a_real_journal_is_caught_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, id) = record_real_journal(dir.path());
    let stored = load(&journal);
    assert_eq!(verify_frames(id, &stored.frames, stored.anchor), Ok(()));
    let every_byte = std::env::var("TRADELEDGER_TAMPER_ALL").is_ok_and(|value| value == "1");
    let mut tally = Tally::default();
    let mut events = 0;
    for (index, frame) in stored.frames.iter().enumerate() {
        let frame_first = first_seq(frame);
        let records = records_of(&frame.1);
        events += records.len();
        let flip = |position: usize| {
            let mut frames = stored.frames.clone();
            frames[index].1[position] ^= 0x04;
            verify_frames(id, &frames, stored.anchor)
        };
        for (class, range) in [("frame magic", 0..4), ("frame first seq", 4..12), ("frame previous hash", 12..44)] {
            let positions: Vec<usize> =
                if every_byte { range.clone().collect() } else { pick(&range, index).into_iter().collect() };
            for position in positions {
                tally.caught(class, flip(position), frame_first);
            }
        }
        for (number, record) in records.iter().enumerate() {
            let classes = [
                ("record seq", &record.seq_field),
                ("record length", &record.length_field),
                ("envelope header", &record.envelope_header),
                ("event payload", &record.payload),
                ("record hash", &record.hash),
            ];
            for (class, range) in classes {
                let positions: Vec<usize> = if every_byte {
                    range.clone().collect()
                } else {
                    pick(range, index * 1_000 + number).into_iter().collect()
                };
                for position in positions {
                    tally.caught(class, flip(position), record.seq);
                }
            }
        }
        let mut frames = stored.frames.clone();
        frames[index].0[7] ^= 0x01;
        tally.caught("sled key", verify_frames(id, &frames, stored.anchor), frame_first);
    }
    structural_cases(id, &stored, &mut tally);
    eprintln!(
        "tamper matrix over a real journal of {events} events: {} cases, all caught: {:?}",
        tally.total(),
        tally.0
    );
    assert!(tally.total() > 5 * events as u64);
}

/// Deleting, swapping, truncating and forging, on every frame or event.
fn structural_cases(id: JournalId, stored: &Stored, tally: &mut Tally) {
    let located: Vec<(usize, RecordBytes)> = stored
        .frames
        .iter()
        .enumerate()
        .flat_map(|(index, frame)| records_of(&frame.1).into_iter().map(move |record| (index, record)))
        .collect();
    let whole = |record: &RecordBytes| record.seq_field.start..record.hash.end;
    for (index, record) in located.iter().step_by(7) {
        let mut frames = stored.frames.clone();
        frames[*index].1.drain(whole(record));
        if frames[*index].1.len() == FRAME_HEADER_BYTES {
            frames.remove(*index);
        }
        tally.caught("delete an event", verify_frames(id, &frames, stored.anchor), record.seq);
    }
    for pair in located.windows(2).step_by(11) {
        let ((frame_a, a), (frame_b, b)) = (&pair[0], &pair[1]);
        let bytes_a = stored.frames[*frame_a].1[whole(a)].to_vec();
        let bytes_b = stored.frames[*frame_b].1[whole(b)].to_vec();
        let mut frames = stored.frames.clone();
        frames[*frame_b].1.splice(whole(b), bytes_a);
        frames[*frame_a].1.splice(whole(a), bytes_b);
        tally.caught("swap two events", verify_frames(id, &frames, stored.anchor), a.seq);
    }
    for cut in 1..stored.frames.len() {
        let frames = stored.frames[..stored.frames.len() - cut].to_vec();
        let first_missing = first_seq(&stored.frames[stored.frames.len() - cut]);
        tally.caught("truncate frames", verify_frames(id, &frames, stored.anchor), first_missing);
    }
    let (last_index, last) = located.last().unwrap().clone();
    let mut frames = stored.frames.clone();
    frames[last_index].1.truncate(last.seq_field.start);
    tally.caught("cut the last event", verify_frames(id, &frames, stored.anchor), last.seq);
    let last_hash = Hash(stored.frames[last_index].1[last.hash.clone()].try_into().unwrap());
    let forged_seq = Seq::new(last.seq.get() + 1);
    let mut forged = codec::FrameBuilder::new(forged_seq, &last_hash, 256);
    let body = stored.frames[last_index].1[last.envelope_header.start..last.payload.end].to_vec();
    forged
        .push_record(forged_seq, &last_hash, |out| {
            out.extend_from_slice(&body);
            Ok(())
        })
        .unwrap();
    let (key, value) = forged.finish();
    let mut frames = stored.frames.clone();
    frames.push((key.to_vec(), value));
    tally.caught("append a forged, chained event", verify_frames(id, &frames, stored.anchor), forged_seq);
}

fn audit(journal: &Path) -> (i32, String) {
    let output = common::tradeledger().args(["audit", "--journal"]).arg(journal).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn damage_written_to_disk_is_caught_by_the_audit_command() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = record_real_journal(dir.path());
    let pristine = load(&journal);
    assert_eq!(audit(&journal).0, 0);
    let middle = pristine.frames.len() / 2;
    let record = records_of(&pristine.frames[middle].1)[1].clone();
    let mut cases: Vec<(&str, Frames, Seq)> = Vec::new();
    for (class, range) in [("payload", &record.payload), ("hash", &record.hash), ("header", &record.envelope_header)] {
        let mut frames = pristine.frames.clone();
        frames[middle].1[range.start] ^= 0x01;
        cases.push((class, frames, record.seq));
    }
    let mut frames = pristine.frames.clone();
    frames[middle].1.drain(record.seq_field.start..record.hash.end);
    cases.push(("delete", frames, record.seq));
    let frames = pristine.frames[..pristine.frames.len() - 1].to_vec();
    cases.push(("truncate", frames, first_seq(pristine.frames.last().unwrap())));
    for (class, frames, seq) in cases {
        store(&journal, &frames, pristine.anchor);
        let (code, out) = audit(&journal);
        assert_eq!(code, 1, "{class}: {out}");
        assert!(out.contains(&format!("damaged at seq {seq}")), "{class}: {out}");
    }
    store(&journal, &pristine.frames, pristine.anchor);
    assert_eq!(audit(&journal).0, 0, "restored");
}

#[test]
fn every_decision_changed_and_the_tail_re_hashed_is_caught_by_the_re_run() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = record_real_journal(dir.path());
    let source = Journal::open(&journal, JournalOptions::read_only()).unwrap();
    let envelopes: Vec<_> = source.iter_from(Seq::FIRST).map(Result::unwrap).collect();
    source.close().unwrap();
    // Each kind of decision, changed once, then the whole tail re-hashed.
    let forgeries = one_forgery_per_kind(&envelopes);
    let kinds: Vec<&str> = forgeries.iter().map(|(_, event)| event.name()).collect();
    assert!(kinds.len() >= 3, "a rejection, an order and a fill to forge at least: {kinds:?}");
    for (index, forged) in forgeries {
        let forged_dir = dir.path().join(format!("forged-{index}"));
        let copy = Journal::open(&forged_dir, JournalOptions::default()).unwrap();
        let events: Vec<NewEvent> = envelopes
            .iter()
            .enumerate()
            .map(|(at, envelope)| NewEvent {
                time_event: envelope.time_event,
                correlation_seq: Some(envelope.correlation_seq),
                causation_seq: envelope.causation_seq,
                event: if at == index { forged.clone() } else { envelope.event.clone() },
            })
            .collect();
        for chunk in events.chunks(1_000) {
            copy.append_blocking(chunk.to_vec()).unwrap();
        }
        assert_eq!(copy.verify().unwrap().fault, None, "the forgery's chain verifies");
        copy.close().unwrap();
        let (code, out) = audit(&forged_dir);
        assert_eq!(code, 1, "{}: {out}", forged.name());
        let seq = envelopes[index].seq;
        assert!(
            out.contains(&format!("at seq {seq} differs")) || out.contains(&format!("seq {seq} cannot be folded")),
            "{}: {out}",
            forged.name()
        );
    }
}

/// The first decision of each kind a forger could change, changed.
fn one_forgery_per_kind(envelopes: &[tradeledger::events::Envelope]) -> Vec<(usize, Event)> {
    envelopes
        .iter()
        .enumerate()
        .filter_map(|(index, envelope)| {
            let forged = match &envelope.event {
                Event::RiskCheckRejected(rejected) => Event::RiskCheckPassed(RiskCheckPassed {
                    signal_id: rejected.signal_id.clone(),
                    checks: rejected.checks.clone(),
                }),
                Event::OrderFilled(fill) => {
                    let mut fill = fill.clone();
                    fill.price =
                        tradeledger::events::Price::new(fill.price.get() + rust_decimal::Decimal::ONE).unwrap();
                    Event::OrderFilled(fill)
                }
                Event::OrderSubmitted(order) => {
                    let mut order = order.clone();
                    order.quantity =
                        tradeledger::events::Quantity::new(order.quantity.get() + rust_decimal::Decimal::ONE).unwrap();
                    Event::OrderSubmitted(order)
                }
                Event::ForcedExitTriggered(exit) => {
                    use tradeledger::events::ExitReason::{StopLoss, TakeProfit};
                    let mut exit = exit.clone();
                    exit.reason = if exit.reason == TakeProfit { StopLoss } else { TakeProfit };
                    Event::ForcedExitTriggered(exit)
                }
                _ => return None,
            };
            Some((index, forged))
        })
        .fold(Vec::new(), |mut chosen: Vec<(usize, Event)>, (index, event)| {
            if !chosen.iter().any(|(_, seen)| seen.name() == event.name()) {
                chosen.push((index, event));
            }
            chosen
        })
}
