//! The first-run demo records the bundled real trades and verifies them.

use tradeledger::demo::{fixture_path, record_fixture_ticks, DemoError};
use tradeledger::events::{Event, Journal, JournalOptions, Seq, Timestamp};

#[test]
fn the_demo_records_every_bundled_trade_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let summary = record_fixture_ticks(&fixture_path(), &journal).unwrap();
    // 2,000 data rows (fixtures/README.md); the first trade time is the one
    // the data's README gives for the whole file (1723161255342 ms), the last
    // is the extract's final row.
    assert_eq!(summary.ticks_recorded, 2_000);
    assert_eq!(summary.rows_rejected, 0);
    assert_eq!(summary.events_verified, 2_000);
    assert_eq!(summary.fault, None);
    assert_eq!(summary.first_tick, Timestamp::from_unix_millis(1_723_161_255_342).unwrap());
    assert_eq!(summary.last_tick, Timestamp::from_unix_millis(1_723_161_351_137).unwrap());
    // A re-run replaces the demo's own folder rather than appending to it.
    let again = record_fixture_ticks(&fixture_path(), &journal).unwrap();
    assert_eq!(again.events_verified, 2_000);
}

#[test]
fn a_bad_row_is_recorded_as_a_rejection_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trades.csv");
    std::fs::write(
        &csv,
        "local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,is_buyer_maker,aggressor_side\n\
         1,1723161255343,1723161255342,1,61837.63,0.02,true,sell\n\
         2,1723161255344,1723161255343,2,abc,0.02,true,sell\n",
    )
    .unwrap();
    let journal_dir = dir.path().join("journal");
    let summary = record_fixture_ticks(&csv, &journal_dir).unwrap();
    assert_eq!((summary.ticks_recorded, summary.rows_rejected), (1, 1));
    let journal = Journal::open(&journal_dir, JournalOptions::read_only()).unwrap();
    match journal.read(Seq::new(2)).unwrap().unwrap().event {
        Event::InputRejected(rejected) => {
            assert_eq!(rejected.origin, "trades.csv:3");
            assert_eq!(rejected.field, "price");
            assert!(rejected.reason.contains("abc"), "{}", rejected.reason);
        }
        other => panic!("expected InputRejected, got {other:?}"),
    }
}

#[test]
fn the_demo_never_deletes_a_folder_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let error = record_fixture_ticks(&fixture_path(), dir.path()).unwrap_err();
    assert!(matches!(error, DemoError::NotDemoFolder { .. }), "{error:?}");
    assert!(dir.path().join("precious.txt").is_file());
}
