//! The README's example of snapshot-testing your own runs with insta, kept
//! compiling and passing here. Copy it into your crate's `tests/`.

use tradeledger::replay::{journal_view, scenario_view, At};

/// A scenario fixture (the text timeline format) folded without a journal.
#[test]
fn a_scenario_fixture_matches_its_snapshot() {
    let view = scenario_view("fixtures/scenarios/long_open_add_reduce_close.txt").unwrap();
    insta::assert_yaml_snapshot!(view);
}

/// A journal recorded by `tradeledger record`, at its head and back in time.
#[test]
fn a_recorded_journal_matches_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_tradeledger"))
        .args(["record", "--journal"])
        .arg(&journal)
        .args(["--ticks", "fixtures/20131008_spy_Trade_Tick_first1000.csv"])
        .args(["--signals", "fixtures/cli/signals.jsonl"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    insta::assert_yaml_snapshot!("head", journal_view(&journal, At::Head).unwrap());
    let half_past_ten: At = "2013-10-08T10:30:00Z".parse().unwrap();
    insta::assert_yaml_snapshot!("at_10_30", journal_view(&journal, half_past_ten).unwrap());
}
