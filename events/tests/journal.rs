//! Journal behaviour: append, read, reopen, locking, modes, concurrency and
//! a model test against a plain Vec.

mod support;

use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use support::{input, tag_of, tagged_event};
use tradeledger_events::journal::HEAD_KEY;
use tradeledger_events::*;

fn small_frames() -> JournalOptions {
    // Small frames put many frames in a small journal, so frame boundaries
    // are exercised everywhere.
    JournalOptions { frame_bytes_target: 300, ..JournalOptions::default() }
}

fn append_tagged(journal: &Journal, tag: &str, range: std::ops::Range<u64>) -> Vec<Envelope> {
    journal.append_blocking(range.map(|n| input(n, tagged_event(tag, n))).collect()).unwrap()
}

#[test]
fn appended_events_read_back_exactly_with_dense_seqs_and_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small_frames()).unwrap();
    assert_eq!(journal.head().seq, Seq::ZERO);
    let first = append_tagged(&journal, "a", 0..10);
    let second = append_tagged(&journal, "b", 0..25);
    assert_eq!(first.iter().map(|e| e.seq.get()).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(second[0].seq, Seq::new(11));
    assert_eq!(second[0].hash_previous, first[9].hash);
    assert_eq!(journal.head(), Head { seq: Seq::new(35), hash: second[24].hash });

    let read: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    let written: Vec<Envelope> = first.into_iter().chain(second).collect();
    assert_eq!(read, written);
    assert_eq!(journal.read(Seq::new(17)).unwrap().as_ref(), Some(&written[16]));
    assert_eq!(journal.read(Seq::new(36)).unwrap(), None);
    assert_eq!(journal.read(Seq::ZERO).unwrap(), None);
    let tail: Vec<u64> = journal.iter_from(Seq::new(30)).map(|e| e.unwrap().seq.get()).collect();
    assert_eq!(tail, (30..=35).collect::<Vec<_>>());

    let report = journal.verify().unwrap();
    assert_eq!(report, VerifyReport { events_verified: 35, fault: None });
}

#[test]
fn inputs_correlate_to_themselves_and_decisions_to_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let recorded = append_tagged(&journal, "input", 0..1);
    let cause = &recorded[0];
    assert_eq!(cause.correlation_seq, cause.seq);
    assert_eq!(cause.causation_seq, None);
    let decision = journal.append_blocking(vec![NewEvent::caused_by(cause, tagged_event("decision", 0))]).unwrap();
    let follow_up = journal.append_blocking(vec![NewEvent::caused_by(&decision[0], tagged_event("order", 0))]).unwrap();
    assert_eq!(decision[0].correlation_seq, cause.seq);
    assert_eq!(decision[0].causation_seq, Some(cause.seq));
    assert_eq!(follow_up[0].correlation_seq, cause.seq, "the chain keeps its first input");
    assert_eq!(follow_up[0].causation_seq, Some(decision[0].seq));
    assert_eq!(decision[0].time_event, cause.time_event);
    assert_ne!(decision[0].event_id, cause.event_id);
    // Ids are a pure function of journal id and seq.
    assert_eq!(cause.event_id, tradeledger_events::envelope::derive_event_id(journal.journal_id(), cause.seq));
}

#[test]
fn reopening_continues_the_sequence_and_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small_frames()).unwrap();
    let id = journal.journal_id();
    let before = append_tagged(&journal, "x", 0..20);
    journal.close().unwrap();

    let journal = Journal::open(dir.path(), small_frames()).unwrap();
    assert_eq!(journal.journal_id(), id);
    assert_eq!(journal.head(), Head { seq: Seq::new(20), hash: before[19].hash });
    let after = append_tagged(&journal, "y", 0..5);
    assert_eq!(after[0].seq, Seq::new(21));
    assert_eq!(after[0].hash_previous, before[19].hash);
    assert_eq!(journal.verify().unwrap().fault, None);
    assert_eq!(journal.iter_from(Seq::FIRST).count(), 25);
}

#[test]
fn a_second_opener_gets_an_error_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::Locked { .. }), "{error:?}");
    assert!(error.to_string().contains(&dir.path().display().to_string()), "{error}");
}

#[test]
fn read_only_refuses_appends_and_missing_journals() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Journal::open(dir.path().join("absent"), JournalOptions::read_only()).unwrap_err();
    assert!(matches!(missing, JournalError::NotAJournal { .. }), "{missing:?}");

    Journal::open(dir.path(), JournalOptions::default()).unwrap().close().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    let error = journal.append_blocking(vec![input(0, tagged_event("r", 0))]).unwrap_err();
    assert!(matches!(error, JournalError::ReadOnly { .. }), "{error:?}");
}

#[test]
fn a_journal_from_a_newer_schema_is_refused_for_appending_but_readable() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    append_tagged(&journal, "old", 0..3);
    journal.close().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta").unwrap().insert("schema_version", &(SCHEMA_VERSION + 1).to_le_bytes()).unwrap();
        db.flush().unwrap();
    }
    support::wait_for_unlock(dir.path());
    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    match &error {
        JournalError::NewerSchema { found, supported, .. } => {
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.iter_from(Seq::FIRST).count(), 3);
}

#[test]
fn a_folder_holding_another_sled_database_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("frames").unwrap().insert(b"12345678", b"not a frame").unwrap();
        db.flush().unwrap();
    }
    support::wait_for_unlock(dir.path());
    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    assert!(matches!(error, JournalError::NotAJournal { .. }), "{error:?}");
}

#[test]
fn oversized_appends_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let too_many = (0..journal::APPEND_EVENTS_MAX as u64 + 1).map(|n| input(n, tagged_event("t", n))).collect();
    assert!(matches!(journal.append_blocking(too_many), Err(JournalError::AppendTooLarge { .. })));
    let huge = Event::InputRejected(InputRejected {
        source: InputSource::Tick,
        origin: "x".repeat(2 << 20),
        field: String::new(),
        reason: String::new(),
    });
    let error = journal.append_blocking(vec![input(0, tagged_event("ok", 0)), input(1, huge)]).unwrap_err();
    assert!(matches!(error, JournalError::Encode { index: 1, .. }), "{error:?}");
    assert_eq!(journal.head().seq, Seq::ZERO, "nothing of the refused append was written");
}

#[test]
fn append_blocking_inside_a_runtime_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let error = runtime.block_on(async { journal.append_blocking(vec![input(0, tagged_event("t", 0))]) }).unwrap_err();
    assert!(matches!(error, JournalError::BlockingInRuntime), "{error:?}");
}

#[test]
fn buffered_appends_are_readable_and_durable_after_close() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::buffered()).unwrap();
    append_tagged(&journal, "b", 0..100);
    assert_eq!(journal.iter_from(Seq::FIRST).count(), 100);
    journal.close().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: 100, fault: None });
}

/// Thousands of one-event buffered commits through a queue of 64 events:
/// appenders wait for the storage thread instead of queueing without bound,
/// every commit reads back in order, and the storage thread joins the small
/// commits into shared frames instead of one sled value per commit.
#[test]
fn small_buffered_commits_are_stored_in_order_in_shared_frames() {
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions { queue_events_max: 64, ..JournalOptions::buffered() };
    let journal = Journal::open(dir.path(), options).unwrap();
    let mut acknowledged = Vec::new();
    for n in 0..3_000 {
        acknowledged
            .extend(journal.append_direct(vec![input(n, tagged_event("small", n))], Durability::Buffered).unwrap());
    }
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(stored, acknowledged);
    journal.close().unwrap();

    let db = sled::open(dir.path()).unwrap();
    let frames = db.open_tree("frames").unwrap().iter().count() - 1; // minus the head anchor
    assert!(frames < 3_000 / 10, "{frames} frames for 3,000 one-event commits");
    drop(db);
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: 3_000, fault: None });
}

/// The hand-off to the storage thread under pressure: a queue of 2 events
/// (every append waits for room), takes of at most 3 events (so takes leave
/// commits behind), three appenders mixing buffered and durable appends, and
/// a reader that waits for the storage thread again and again. A lost
/// wake-up would hang it: the run must finish within a minute, with every
/// acknowledged event read back at its seq.
#[test]
fn appenders_and_readers_racing_through_a_tiny_queue_lose_no_wake_up() {
    const THREADS: u64 = 3;
    const APPENDS: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions { queue_events_max: 2, commit_events_max: 3, ..JournalOptions::buffered() };
    let journal = Arc::new(Journal::open(dir.path(), options).unwrap());
    let (finished, outcome) = std::sync::mpsc::channel();
    let racing = Arc::clone(&journal);
    std::thread::spawn(move || {
        let appenders: Vec<_> = (0..THREADS)
            .map(|thread| {
                let journal = Arc::clone(&racing);
                std::thread::spawn(move || {
                    let tag = format!("t{thread}");
                    let mut acknowledged = Vec::new();
                    for n in 0..APPENDS {
                        let durability = if n % 50 == 49 { Durability::Durable } else { Durability::Buffered };
                        let events = (0..1 + n % 3).map(|k| input(n, tagged_event(&tag, n * 3 + k))).collect();
                        acknowledged.extend(journal.append_direct(events, durability).unwrap());
                    }
                    acknowledged
                })
            })
            .collect();
        let reader = {
            let journal = Arc::clone(&racing);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let head = journal.head().seq;
                    let seen = journal.iter_from(Seq::FIRST).take_while(|e| e.as_ref().is_ok_and(|e| e.seq <= head));
                    assert_eq!(seen.count() as u64, head.get(), "a reader sees every event up to the head");
                }
            })
        };
        let acknowledged: Vec<Envelope> = appenders.into_iter().flat_map(|appender| appender.join().unwrap()).collect();
        reader.join().unwrap();
        let _ = finished.send(acknowledged);
    });
    let acknowledged = outcome.recv_timeout(std::time::Duration::from_secs(60)).expect("finished without hanging");
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(stored.len(), acknowledged.len());
    for envelope in &acknowledged {
        assert_eq!(&stored[envelope.seq.get() as usize - 1], envelope);
    }
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: stored.len() as u64, fault: None });
}

#[test]
fn the_head_anchor_is_stored_beside_the_frames() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let recorded = append_tagged(&journal, "a", 0..3);
    journal.close().unwrap();
    let db = sled::open(dir.path()).unwrap();
    let anchor = db.open_tree("frames").unwrap().get(HEAD_KEY).unwrap().unwrap();
    assert_eq!(&anchor[..8], &3u64.to_le_bytes());
    assert_eq!(&anchor[8..], &recorded[2].hash.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_get_dense_seqs_and_every_event_exactly_once() {
    const TASKS: u64 = 16;
    const EVENTS_PER_TASK: u64 = 10_000;
    const CHUNK: u64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path(), JournalOptions::default()).unwrap());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let journal = Arc::clone(&journal);
        tasks.push(tokio::spawn(async move {
            let tag = format!("task{task}");
            let mut acknowledged = Vec::new();
            for start in (0..EVENTS_PER_TASK).step_by(CHUNK as usize) {
                let events = (start..start + CHUNK).map(|n| input(n, tagged_event(&tag, n))).collect();
                let recorded = journal.append(events).await.expect("append");
                // Within one append, seqs are consecutive and in order.
                assert!(recorded.windows(2).all(|pair| pair[1].seq.get() == pair[0].seq.get() + 1));
                acknowledged.extend(recorded.into_iter().map(|e| (e.seq, tag_of(&e.event).unwrap().to_owned())));
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    let total = TASKS * EVENTS_PER_TASK;
    assert_eq!(acknowledged.len() as u64, total);
    assert_eq!(journal.head().seq, Seq::new(total));

    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(stored.len() as u64, total);
    assert!(stored.iter().zip(1..).all(|(envelope, seq)| envelope.seq.get() == seq), "dense from 1");
    let tags: HashSet<&str> = stored.iter().map(|e| tag_of(&e.event).unwrap()).collect();
    assert_eq!(tags.len() as u64, total, "no event stored twice");
    for (seq, tag) in &acknowledged {
        assert_eq!(tag_of(&stored[seq.get() as usize - 1].event), Some(tag.as_str()), "ack of {tag} at {seq}");
    }
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: total, fault: None });
}

#[derive(Debug, Clone)]
enum ModelStep {
    Append(Vec<u8>),
    Reopen,
    Read(u16),
    IterFrom(u16),
}

fn model_step() -> impl Strategy<Value = ModelStep> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 1..40).prop_map(ModelStep::Append),
        1 => Just(ModelStep::Reopen),
        2 => any::<u16>().prop_map(ModelStep::Read),
        2 => any::<u16>().prop_map(ModelStep::IterFrom),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The journal behaves like an append-only Vec across close and reopen.
    #[test]
    fn the_journal_matches_a_vec_model(steps in prop::collection::vec(model_step(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let options = small_frames();
        let mut journal = Some(Journal::open(dir.path(), options.clone()).unwrap());
        let mut model: Vec<Envelope> = Vec::new();
        for step in steps {
            let current = journal.as_ref().unwrap();
            match step {
                ModelStep::Append(sizes) => {
                    let base = model.len() as u64;
                    let events = sizes.iter().enumerate()
                        .map(|(i, size)| input(base + i as u64, tagged_event(&"m".repeat(1 + *size as usize % 50), base + i as u64)))
                        .collect();
                    model.extend(current.append_blocking(events).unwrap());
                }
                ModelStep::Reopen => {
                    journal.take().unwrap().close().unwrap();
                    journal = Some(Journal::open(dir.path(), options.clone()).unwrap());
                }
                ModelStep::Read(seq) => {
                    let seq = u64::from(seq) % (model.len() as u64 + 2);
                    let expected = seq.checked_sub(1).and_then(|index| model.get(index as usize)).cloned();
                    prop_assert_eq!(current.read(Seq::new(seq)).unwrap(), expected);
                }
                ModelStep::IterFrom(seq) => {
                    let seq = u64::from(seq) % (model.len() as u64 + 2);
                    let read: Vec<Envelope> = current.iter_from(Seq::new(seq)).collect::<Result<_, _>>().unwrap();
                    let skip = seq.saturating_sub(1) as usize;
                    prop_assert_eq!(read, model.iter().skip(skip).cloned().collect::<Vec<_>>());
                }
            }
            let current = journal.as_ref().unwrap();
            prop_assert_eq!(current.head().seq.get(), model.len() as u64);
        }
        let current = journal.as_ref().unwrap();
        prop_assert_eq!(current.verify().unwrap(), VerifyReport { events_verified: model.len() as u64, fault: None });
    }
}

#[test]
fn sealing_in_memory_gives_the_envelopes_the_journal_records() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let recorded = append_tagged(&journal, "s", 0..5);
    let mut previous = tradeledger_events::envelope::genesis_hash(journal.journal_id());
    for envelope in &recorded {
        let new = NewEvent {
            time_event: envelope.time_event,
            correlation_seq: Some(envelope.correlation_seq),
            causation_seq: envelope.causation_seq,
            event: envelope.event.clone(),
        };
        let sealed = tradeledger_events::envelope::seal(
            journal.journal_id(),
            envelope.seq,
            previous,
            envelope.time_recorded,
            new,
        )
        .unwrap();
        assert_eq!(&sealed, envelope);
        previous = sealed.hash;
    }
}

/// Appends `count` single events through the queue from another thread.
fn append_queued_in_a_thread(journal: &Arc<Journal>, count: u64) -> std::thread::JoinHandle<()> {
    let journal = Arc::clone(journal);
    std::thread::spawn(move || {
        for n in 0..count {
            journal.append_blocking(vec![input(n, tagged_event("queued", n))]).unwrap();
        }
    })
}

#[test]
fn direct_appends_interleave_with_queued_ones_on_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path(), small_frames()).unwrap());
    let queued = append_queued_in_a_thread(&journal, 200);
    let mut direct = Vec::new();
    for n in 0..200 {
        direct.extend(journal.append_direct(vec![input(n, tagged_event("direct", n))], Durability::Buffered).unwrap());
    }
    queued.join().unwrap();
    assert!(direct.windows(2).all(|pair| pair[0].seq < pair[1].seq), "direct appends keep their order");
    assert_eq!(journal.head().seq, Seq::new(400));
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    for envelope in &direct {
        assert_eq!(&stored[envelope.seq.get() as usize - 1], envelope);
    }
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: 400, fault: None });
    drop(journal);

    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    let error = journal.append_direct(vec![input(0, tagged_event("r", 0))], Durability::Durable).unwrap_err();
    assert!(matches!(error, JournalError::ReadOnly { .. }), "{error:?}");
}

#[test]
fn in_place_appends_share_the_chain_with_queued_ones_and_keep_the_callers_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path(), small_frames()).unwrap());
    let queued = append_queued_in_a_thread(&journal, 200);
    let mut buffer: Vec<NewEvent> = Vec::with_capacity(8);
    let mut given = Vec::new();
    for n in 0..100 {
        buffer.extend([
            input(2 * n, tagged_event("in place", 2 * n)),
            input(2 * n + 1, tagged_event("in place", 2 * n + 1)),
        ]);
        let appended = journal.append_in_place(&mut buffer, Durability::Buffered).unwrap();
        assert!(buffer.is_empty(), "the appended events leave the buffer");
        assert_eq!(buffer.capacity(), 8, "the buffer keeps its room");
        assert_eq!(appended.last.get(), appended.first.get() + 1, "two events, two seqs");
        given.push(appended);
    }
    queued.join().unwrap();
    assert_eq!(journal.head().seq, Seq::new(400));
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    for (n, appended) in given.iter().enumerate() {
        for (offset, seq) in [appended.first, appended.last].into_iter().enumerate() {
            let envelope = &stored[seq.get() as usize - 1];
            let step = 2 * n as u64 + offset as u64;
            assert_eq!(tag_of(&envelope.event), Some(format!("in place:{step}").as_str()), "seq {seq}");
            assert_eq!(envelope.time_event, input(step, tagged_event("in place", step)).time_event);
            assert_eq!(envelope.correlation_seq, seq, "an input correlates to itself");
        }
    }
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: 400, fault: None });
}

#[test]
fn an_in_place_append_that_cannot_be_encoded_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let huge = Event::InputRejected(InputRejected {
        source: InputSource::Tick,
        origin: "x".repeat(2 << 20),
        field: String::new(),
        reason: String::new(),
    });
    let mut events = vec![input(0, tagged_event("ok", 0)), input(1, huge)];
    let error = journal.append_in_place(&mut events, Durability::Durable).unwrap_err();
    assert!(matches!(error, JournalError::Encode { index: 1, .. }), "{error:?}");
    assert_eq!(events.len(), 2, "the caller keeps what was not appended");
    assert_eq!(journal.head().seq, Seq::ZERO, "nothing of the refused append was written");

    let mut next = vec![input(2, tagged_event("next", 2))];
    let appended = journal.append_in_place(&mut next, Durability::Durable).unwrap();
    assert_eq!((appended.first, appended.last), (Seq::FIRST, Seq::FIRST), "the journal goes on");
    drop(journal);
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(tag_of(&stored[0].event), Some("next:2"));
    let error = journal.append_in_place(&mut vec![input(3, tagged_event("r", 3))], Durability::Buffered).unwrap_err();
    assert!(matches!(error, JournalError::ReadOnly { .. }), "{error:?}");
}

#[test]
fn the_head_after_in_place_appends_carries_the_hash_the_storage_thread_computed() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small_frames()).unwrap();
    let mut events: Vec<NewEvent> = (0..50).map(|n| input(n, tagged_event("a", n))).collect();
    journal.append_in_place(&mut events, Durability::Buffered).unwrap();
    let head = journal.head();
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(head, Head { seq: Seq::new(50), hash: stored[49].hash });
    // An envelope-returning append chains on the hashes computed in storage.
    let after = journal.append_blocking(vec![input(50, tagged_event("b", 50))]).unwrap();
    assert_eq!(after[0].hash_previous, head.hash);
    journal.append_in_place(&mut vec![input(51, tagged_event("c", 51))], Durability::Durable).unwrap();
    drop(journal);

    let journal = Journal::open(dir.path(), small_frames()).unwrap();
    assert_eq!(journal.head().seq, Seq::new(52), "in-place appends survive a reopen");
    journal.append_in_place(&mut vec![input(52, tagged_event("d", 52))], Durability::Buffered).unwrap();
    assert_eq!(journal.verify().unwrap(), VerifyReport { events_verified: 53, fault: None });
}
