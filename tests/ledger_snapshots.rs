//! Loading = latest snapshot + fold of the tail, and a bad snapshot is
//! ignored rather than trusted.

use std::path::Path;
use tradeledger::events::{Journal, JournalOptions, NewEvent, Seq};
use tradeledger::ledger::{load_ledger, save_ledger_snapshot, Restored, LEDGER_SNAPSHOT};
use tradeledger::projections::{fold, scenario};

fn scenario_events(name: &str) -> Vec<NewEvent> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/{name}.txt"));
    let text = std::fs::read_to_string(path).unwrap();
    scenario::events(&text).unwrap().into_iter().map(|(_, event)| event).collect()
}

#[test]
fn snapshot_plus_tail_equals_the_full_fold_and_bad_snapshots_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let events = scenario_events("long_open_add_reduce_close");
    let (first, second) = events.split_at(events.len() / 2);
    journal.append_blocking(first.to_vec()).unwrap();
    let (ledger, restored) = load_ledger(&journal).unwrap();
    assert_eq!(restored, Restored::FromScratch);
    save_ledger_snapshot(&journal, &ledger).unwrap();
    journal.append_blocking(second.to_vec()).unwrap();

    // The fold of the scenario's own envelopes is the reference: the journal
    // adds ids, hashes and recorded-at times that the projections ignore.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/long_open_add_reduce_close.txt"),
    )
    .unwrap();
    let reference = fold(&scenario::envelopes(&text).unwrap()).unwrap();

    let (from_snapshot, restored) = load_ledger(&journal).unwrap();
    assert_eq!(restored, Restored::FromSnapshot(Seq::new(first.len() as u64)));
    assert_eq!(from_snapshot, reference);

    journal.save_snapshot(LEDGER_SNAPSHOT, Seq::new(3), b"TLS1 but not really a snapshot").unwrap();
    let (from_scratch, restored) = load_ledger(&journal).unwrap();
    assert_eq!(restored, Restored::FromScratch);
    assert_eq!(from_scratch, reference);

    let mut beyond = reference.clone();
    beyond.seq = Seq::new(10_000);
    save_ledger_snapshot(&journal, &beyond).unwrap();
    let (ignored, restored) = load_ledger(&journal).unwrap();
    assert_eq!(restored, Restored::FromScratch, "a snapshot past the head is not trusted");
    assert_eq!(ignored, reference);

    // Snapshots survive a reopen and are refused in read-only mode.
    save_ledger_snapshot(&journal, &reference).unwrap();
    journal.close().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    let (reopened, restored) = load_ledger(&journal).unwrap();
    assert_eq!(restored, Restored::FromSnapshot(reference.seq));
    assert_eq!(reopened, reference);
    assert!(journal.save_snapshot(LEDGER_SNAPSHOT, Seq::new(1), b"x").is_err());
}
