//! Tampering: every byte flip, deletion, swap and truncation of a stored
//! journal is caught, and the fault names the seq where it is.

mod support;

use std::ops::Range;
use support::{input, tagged_event};
use tradeledger_events::codec::{self, RecordCursor, FRAME_HEADER_BYTES};
use tradeledger_events::journal::HEAD_KEY;
use tradeledger_events::verify::{Anchor, ChainVerifier};
use tradeledger_events::*;

type Frames = Vec<(Vec<u8>, Vec<u8>)>;
/// For each frame: its first seq, and each record's seq and byte range.
type RecordMap = Vec<(Seq, Vec<(Seq, Range<usize>)>)>;

struct Stored {
    frames: Frames,
    anchor: Option<Anchor>,
}

/// A journal of `events` tagged events in frames of a few records each.
fn record_journal(dir: &std::path::Path, events: u64) -> JournalId {
    let options = JournalOptions { frame_bytes_target: 400, ..JournalOptions::default() };
    let journal = Journal::open(dir, options).unwrap();
    for start in (0..events).step_by(7) {
        let end = (start + 7).min(events);
        journal.append_blocking((start..end).map(|n| input(n, tagged_event("tamper", n))).collect()).unwrap();
    }
    let id = journal.journal_id();
    journal.close().unwrap();
    id
}

fn load(dir: &std::path::Path) -> Stored {
    let db = sled::open(dir).unwrap();
    let tree = db.open_tree("frames").unwrap();
    let frames = tree
        .range(..HEAD_KEY.to_vec())
        .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())).unwrap())
        .collect();
    let anchor = tree.get(HEAD_KEY).unwrap().and_then(|bytes| Anchor::decode(&bytes));
    drop((tree, db));
    support::wait_for_unlock(dir);
    Stored { frames, anchor }
}

/// Writes `frames` (and the anchor) back as the journal's whole content.
fn store(dir: &std::path::Path, frames: &Frames, anchor: Option<Anchor>) {
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
    support::wait_for_unlock(dir);
}

fn verify_frames(journal_id: JournalId, frames: &Frames, anchor: Option<Anchor>) -> Result<(), ChainFault> {
    let mut sorted = frames.clone();
    sorted.sort(); // sled keeps keys sorted; a changed key moves the frame.
    let mut verifier = ChainVerifier::new(journal_id);
    for (key, value) in &sorted {
        verifier.check_frame(key, value)?;
    }
    verifier.finish(anchor)
}

fn record_map(frames: &Frames) -> RecordMap {
    frames
        .iter()
        .map(|(key, value)| {
            let header = codec::parse_frame_header(key, value).unwrap();
            let mut cursor = RecordCursor::new();
            let mut records = Vec::new();
            let mut start = FRAME_HEADER_BYTES;
            while let Some(record) = cursor.next_record(value).unwrap() {
                let end = start + 12 + record.body.len() + 32;
                records.push((record.seq, start..end));
                start = end;
            }
            (header.first_seq, records)
        })
        .collect()
}

/// Cuts the bytes of record `seq` out of its frame (keeping the frame
/// otherwise intact), as a forger deleting one event would.
fn delete_record(frames: &mut Frames, seq: Seq) {
    let map = record_map(frames);
    for (index, (_, records)) in map.iter().enumerate() {
        if let Some((_, range)) = records.iter().find(|(record_seq, _)| *record_seq == seq) {
            frames[index].1.drain(range.clone());
            if frames[index].1.len() == FRAME_HEADER_BYTES {
                frames.remove(index);
            }
            return;
        }
    }
    panic!("seq {seq} not stored");
}

#[test]
fn every_single_bit_flip_in_every_frame_names_the_damaged_seq() {
    let dir = tempfile::tempdir().unwrap();
    let id = record_journal(dir.path(), 40);
    let stored = load(dir.path());
    assert!(stored.frames.len() >= 5, "the test wants several frames, got {}", stored.frames.len());
    assert_eq!(verify_frames(id, &stored.frames, stored.anchor), Ok(()));

    let mut cases = 0;
    for (frame_index, (first_seq, records)) in record_map(&stored.frames).into_iter().enumerate() {
        let frame_len = stored.frames[frame_index].1.len();
        for position in 0..frame_len {
            // A header byte vouches for the whole frame and names its first
            // seq; a record byte names that record.
            let expected =
                records.iter().find(|(_, range)| range.contains(&position)).map_or(first_seq, |(seq, _)| *seq);
            for mask in [0x01u8, 0x80] {
                let mut frames = stored.frames.clone();
                frames[frame_index].1[position] ^= mask;
                let fault = verify_frames(id, &frames, stored.anchor)
                    .expect_err(&format!("flip {mask:#x} at byte {position} of frame {frame_index} went unnoticed"));
                assert_eq!(fault.seq, expected, "byte {position} of frame {frame_index}: {fault}");
                cases += 1;
            }
        }
        for position in 0..8 {
            let mut frames = stored.frames.clone();
            frames[frame_index].0[position] ^= 0x01;
            let fault = verify_frames(id, &frames, stored.anchor).expect_err("key flip went unnoticed");
            assert_eq!(fault.seq, first_seq, "key byte {position} of frame {frame_index}: {fault}");
            cases += 1;
        }
    }
    let anchor = stored.anchor.unwrap();
    for position in 0..Anchor::BYTES {
        let mut bytes = anchor.encode();
        bytes[position] ^= 0x01;
        let fault = verify_frames(id, &stored.frames, Anchor::decode(&bytes)).expect_err("anchor flip went unnoticed");
        assert!(fault.seq.get() >= 40, "anchor damage is reported at the end of the chain: {fault}");
        cases += 1;
    }
    // Two masks at every frame byte, one flip per key byte, one per anchor byte.
    let frame_bytes: usize = stored.frames.iter().map(|(_, value)| value.len()).sum();
    assert_eq!(cases, 2 * frame_bytes + 8 * stored.frames.len() + Anchor::BYTES, "every position was tried");
}

#[test]
fn deleting_any_event_names_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let id = record_journal(dir.path(), 30);
    let stored = load(dir.path());
    for seq in 1..=30 {
        let mut frames = stored.frames.clone();
        delete_record(&mut frames, Seq::new(seq));
        let fault = verify_frames(id, &frames, stored.anchor).expect_err("deletion went unnoticed");
        assert_eq!(fault.seq, Seq::new(seq), "deleting {seq}: {fault}");
    }
}

#[test]
fn swapping_any_two_events_names_the_first_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let id = record_journal(dir.path(), 20);
    let stored = load(dir.path());
    let map = record_map(&stored.frames);
    let located: Vec<(usize, Seq, Range<usize>)> = map
        .iter()
        .enumerate()
        .flat_map(|(frame, (_, records))| records.iter().map(move |(seq, range)| (frame, *seq, range.clone())))
        .collect();
    for a in 0..located.len() {
        for b in a + 1..located.len() {
            let (frame_a, seq_a, range_a) = &located[a];
            let (frame_b, _, range_b) = &located[b];
            let bytes_a = stored.frames[*frame_a].1[range_a.clone()].to_vec();
            let bytes_b = stored.frames[*frame_b].1[range_b.clone()].to_vec();
            let mut frames = stored.frames.clone();
            // Replace the later range first so the earlier one's offsets hold.
            frames[*frame_b].1.splice(range_b.clone(), bytes_a);
            frames[*frame_a].1.splice(range_a.clone(), bytes_b);
            let fault = verify_frames(id, &frames, stored.anchor).expect_err("swap went unnoticed");
            assert_eq!(fault.seq, *seq_a, "swapping {seq_a} and {}: {fault}", located[b].1);
        }
    }
}

#[test]
fn a_damaged_journal_refuses_read_write_opens_and_is_audited_read_only() {
    let dir = tempfile::tempdir().unwrap();
    record_journal(dir.path(), 40);
    let mut stored = load(dir.path());
    // Flip one byte inside the body of the last record.
    let last = stored.frames.len() - 1;
    let map = record_map(&stored.frames);
    let (damaged_seq, range) = map[last].1.last().unwrap().clone();
    stored.frames[last].1[range.start + 20] ^= 0x10;
    store(dir.path(), &stored.frames, stored.anchor);

    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    match &error {
        JournalError::Damaged { fault, .. } => assert_eq!(fault.seq, damaged_seq),
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(error.to_string().contains("read-only"), "the message says what to do: {error}");

    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.damage_on_open().map(|fault| fault.seq), Some(damaged_seq));
    let report = journal.verify().unwrap();
    assert_eq!(report.fault.as_ref().map(|fault| fault.seq), Some(damaged_seq));
    assert_eq!(report.events_verified, damaged_seq.get() - 1);
}

#[test]
fn damage_in_the_middle_is_found_by_verify_and_stops_reads_at_that_seq() {
    let dir = tempfile::tempdir().unwrap();
    record_journal(dir.path(), 40);
    let mut stored = load(dir.path());
    let map = record_map(&stored.frames);
    // Corrupt a length field in the middle: a structural fault reads cannot pass.
    let (seq, range) = map[2].1[0].clone();
    stored.frames[2].1[range.start + 8..range.start + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    store(dir.path(), &stored.frames, stored.anchor);

    // The tail is intact, so a read-write open succeeds; verify finds it.
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    assert_eq!(journal.verify().unwrap().fault.map(|fault| fault.seq), Some(seq));
    let results: Vec<_> = journal.iter_from(Seq::FIRST).collect();
    let first_error = results.iter().position(Result::is_err).expect("reads stop at the damage");
    assert_eq!(first_error as u64, seq.get() - 1);
    match &results[first_error] {
        Err(JournalError::Corrupt { fault, .. }) => assert_eq!(fault.seq, seq),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn cutting_events_from_the_end_is_caught_by_the_head_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let id = record_journal(dir.path(), 30);
    let mut stored = load(dir.path());
    let removed = stored.frames.pop().unwrap();
    let first_removed = codec::parse_frame_header(&removed.0, &removed.1).unwrap().first_seq;
    assert_eq!(
        verify_frames(id, &stored.frames, stored.anchor).unwrap_err().seq,
        first_removed,
        "the first missing seq is named"
    );
    store(dir.path(), &stored.frames, stored.anchor);
    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::Damaged { .. }), "{error:?}");
}

#[test]
fn a_forged_event_appended_with_a_valid_chain_is_caught_by_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let id = record_journal(dir.path(), 10);
    let mut stored = load(dir.path());
    let map = record_map(&stored.frames);
    let (_, last_frame) = stored.frames.last().unwrap().clone();
    let (last_seq, range) = map.last().unwrap().1.last().unwrap().clone();
    let last_hash = Hash(last_frame[range.end - 32..range.end].try_into().unwrap());
    // A forger appends a well-formed, correctly chained frame…
    let forged_seq = Seq::new(last_seq.get() + 1);
    let mut forged = codec::FrameBuilder::new(forged_seq, &last_hash, 256);
    let body = stored.frames[0].1[FRAME_HEADER_BYTES + 12..map[0].1[0].1.end - 32].to_vec();
    forged
        .push_record(forged_seq, &last_hash, |out| {
            out.extend_from_slice(&body);
            Ok(())
        })
        .unwrap();
    let (key, value) = forged.finish();
    stored.frames.push((key.to_vec(), value));
    // …but leaves the anchor, which vouches only up to the old head.
    let fault = verify_frames(id, &stored.frames, stored.anchor).unwrap_err();
    assert_eq!(fault.seq, forged_seq);
}

#[test]
fn frames_from_another_journal_never_verify_here() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let id_a = record_journal(dir_a.path(), 5);
    record_journal(dir_b.path(), 5);
    let stored_b = load(dir_b.path());
    let fault = verify_frames(id_a, &stored_b.frames, stored_b.anchor).unwrap_err();
    assert_eq!(fault.seq, Seq::FIRST, "the genesis hash binds frames to their journal");
}
