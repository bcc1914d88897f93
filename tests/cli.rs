//! The `tradeledger` binary, run as users run it: every command, its output
//! contract and its error paths with their exit codes.

mod common;

use common::{fixture, record_spy, stdout_of, tradeledger, SPY};
use predicates::prelude::*;
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;
use tradeledger::events::{Event, Journal, JournalOptions, NewEvent, RiskCheckPassed, Seq};

fn replay_json(journal: &Path, extra: &[&str]) -> serde_json::Value {
    let text = stdout_of(tradeledger().args(["replay", "--format", "json", "--journal"]).arg(journal).args(extra));
    serde_json::from_str(&text).unwrap()
}

fn decimal(value: &serde_json::Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap()).unwrap()
}

#[test]
fn replay_yaml_after_recording_the_spy_fixture_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    let yaml = stdout_of(tradeledger().args(["replay", "--format", "yaml", "--journal"]).arg(&journal));
    insta::assert_snapshot!(yaml);
}

#[test]
fn replay_json_has_the_contract_keys_and_exact_decimal_strings() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    let view = replay_json(&journal, &[]);
    for key in ["seq", "positions", "orders", "portfolio", "risk"] {
        assert!(view.get(key).is_some(), "missing {key}");
    }
    let position_keys = [
        "id",
        "symbol",
        "side",
        "status",
        "quantity",
        "avg_entry_price",
        "avg_exit_price",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "mark_price",
    ];
    let position = &view["positions"][0];
    for key in position_keys {
        assert!(position.get(key).is_some(), "position lacks {key}");
    }
    let order_keys = [
        "id",
        "signal_id",
        "symbol",
        "side",
        "type",
        "status",
        "quantity",
        "filled_quantity",
        "avg_fill_price",
        "fees",
    ];
    for key in order_keys {
        assert!(view["orders"][0].get(key).is_some(), "order lacks {key}");
    }
    let portfolio_keys = [
        "realized_pnl",
        "unrealized_pnl",
        "total_pnl",
        "fees",
        "total_market_value",
        "gross_exposure",
        "net_exposure",
        "equity",
        "equity_peak",
        "max_drawdown_percentage",
        "daily_pnl",
        "daily_pnl_percentage",
    ];
    for key in portfolio_keys {
        assert!(view["portfolio"][key].is_string(), "portfolio {key} is not a decimal string");
    }
    for key in ["level", "circuit_breaker", "events"] {
        assert!(view["risk"].get(key).is_some(), "risk lacks {key}");
    }
    // The too-big signal was turned down, and the risk events say so.
    let rejected = view["risk"]["events"].as_array().unwrap().iter().any(|event| event["signal_id"] == "spy-too-big");
    assert!(rejected);
    // total = realized + unrealized, exactly.
    let portfolio = &view["portfolio"];
    assert_eq!(
        decimal(&portfolio["total_pnl"]),
        decimal(&portfolio["realized_pnl"]) + decimal(&portfolio["unrealized_pnl"])
    );
}

#[test]
fn replay_at_a_seq_is_the_fold_of_the_events_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    record_spy(&journal_dir);
    let journal = Journal::open(&journal_dir, JournalOptions::read_only()).unwrap();
    let envelopes: Vec<_> = journal.iter_from(Seq::FIRST).map(Result::unwrap).collect();
    journal.close().unwrap();
    let head = envelopes.len();
    for at in [1, head / 3, head / 2, head] {
        let replayed = replay_json(&journal_dir, &["--at", &at.to_string()]);
        let folded = tradeledger::projections::fold(&envelopes[..at]).unwrap();
        let expected = serde_json::to_value(tradeledger::projections::view::LedgerView::of(&folded)).unwrap();
        assert_eq!(replayed, expected, "at seq {at}");
    }
    // A time: the state after the last event at or before it.
    let noon = "2013-10-08T12:00:00Z";
    let noon_time = tradeledger::events::Timestamp::from_str(noon).unwrap();
    let cut = envelopes.iter().take_while(|envelope| envelope.time_event <= noon_time).count();
    let replayed = replay_json(&journal_dir, &["--at", noon]);
    assert_eq!(replayed["seq"], cut as u64);
    assert!(cut > 0 && cut < head);
    tradeledger()
        .args(["replay", "--at", &(head + 1).to_string(), "--journal"])
        .arg(&journal_dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("beyond the journal's head"));
}

#[test]
fn imported_fills_give_the_hand_computed_realized_pnl() {
    let dir = tempfile::tempdir().unwrap();
    let fills = dir.path().join("fills.csv");
    // Buy 2 @ 100 (fee 1), sell 1 @ 120 (fee 0.5), sell 1 @ 90 (fee 0.25):
    // closed PnL (120 − 100) + (90 − 100) = 10, fees 1.75, realized 8.25.
    std::fs::write(
        &fills,
        "time,symbol,side,quantity,price,fee\n\
         2024-08-09T00:00:00Z,ABC,buy,2,100,1\n\
         2024-08-09T00:01:00Z,ABC,sell,1,120,0.5\n\
         2024-08-09T00:02:00Z,ABC,sell,1,90,0.25\n",
    )
    .unwrap();
    let journal = dir.path().join("journal");
    let record =
        || tradeledger().args(["record", "--journal"]).arg(&journal).arg("--fills").arg(&fills).assert().success();
    record();
    let view = replay_json(&journal, &[]);
    assert_eq!(decimal(&view["portfolio"]["realized_pnl"]), Decimal::from_str("8.25").unwrap());
    assert_eq!(decimal(&view["portfolio"]["fees"]), Decimal::from_str("1.75").unwrap());
    assert_eq!(view["positions"][0]["status"], "closed");
    // Importing the same file again records duplicates as rejected inputs
    // and changes nothing.
    record();
    let again = replay_json(&journal, &[]);
    assert_eq!(again["portfolio"], view["portfolio"]);
    let rejected = stdout_of(tradeledger().args(["events", "--type", "InputRejected", "--journal"]).arg(&journal));
    assert_eq!(rejected.lines().count(), 3);
    tradeledger().args(["audit", "--journal"]).arg(&journal).assert().success();
}

#[test]
fn audit_passes_a_clean_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    tradeledger()
        .args(["audit", "--journal"])
        .arg(&journal)
        .assert()
        .success()
        .stdout(predicate::str::contains("audit OK").and(predicate::str::contains("reproduces all")));
}

/// Flips one bit of the stored bytes of the frame holding `seq`.
fn flip_a_stored_bit(journal: &Path) {
    let db = sled::open(journal).unwrap();
    let frames = db.open_tree("frames").unwrap();
    let (key, value) = frames.iter().nth(3).unwrap().unwrap();
    let mut bytes = value.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    frames.insert(key, bytes).unwrap();
    db.flush().unwrap();
    drop((frames, db));
    // sled's threads let go of the file a moment after the handle is dropped.
    for _ in 0..1000 {
        if Journal::open(journal, JournalOptions::read_only()).map(Journal::close).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn audit_catches_a_flipped_byte_and_names_the_seq() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    flip_a_stored_bit(&journal);
    tradeledger()
        .args(["audit", "--journal"])
        .arg(&journal)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("audit FAILED").and(predicate::str::contains("damaged at seq")));
}

#[test]
fn audit_catches_a_rejection_rewritten_as_a_pass_with_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    record_spy(&original);
    // Copy every event into a new journal, turning the rejection into a
    // pass: the new journal computes fresh, valid hashes for the forgery.
    let source = Journal::open(&original, JournalOptions::read_only()).unwrap();
    let forged_dir = dir.path().join("forged");
    let forged = Journal::open(&forged_dir, JournalOptions::default()).unwrap();
    let mut forged_seq = None;
    let events: Vec<NewEvent> = source
        .iter_from(Seq::FIRST)
        .map(|envelope| {
            let envelope = envelope.unwrap();
            let event = match envelope.event {
                Event::RiskCheckRejected(rejected) => {
                    forged_seq = Some(envelope.seq);
                    Event::RiskCheckPassed(RiskCheckPassed { signal_id: rejected.signal_id, checks: rejected.checks })
                }
                other => other,
            };
            NewEvent {
                time_event: envelope.time_event,
                correlation_seq: Some(envelope.correlation_seq),
                causation_seq: envelope.causation_seq,
                event,
            }
        })
        .collect();
    for chunk in events.chunks(1_000) {
        forged.append_blocking(chunk.to_vec()).unwrap();
    }
    source.close().unwrap();
    assert!(forged.verify().unwrap().fault.is_none(), "the forged chain verifies");
    forged.close().unwrap();
    let seq = forged_seq.expect("the fixture has a rejection");
    tradeledger().args(["audit", "--journal"]).arg(&forged_dir).assert().code(1).stdout(
        predicate::str::contains(format!("at seq {seq} differs"))
            .and(predicate::str::contains("-   \"type\": \"RiskCheckPassed\""))
            .and(predicate::str::contains("+   \"type\": \"RiskCheckRejected\"")),
    );
}

#[test]
fn events_filter_by_type_seq_range_symbol_and_correlation() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    let parse = |text: String| -> Vec<serde_json::Value> {
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    };
    let fills = parse(stdout_of(tradeledger().args(["events", "--type", "OrderFilled", "--journal"]).arg(&journal)));
    assert!(!fills.is_empty() && fills.iter().all(|event| event["type"] == "OrderFilled"));
    let range =
        parse(stdout_of(tradeledger().args(["events", "--from", "10", "--to", "19", "--journal"]).arg(&journal)));
    assert_eq!(
        range.iter().map(|event| event["seq"].as_u64().unwrap()).collect::<Vec<_>>(),
        (10..=19).collect::<Vec<_>>()
    );
    let other_symbol = stdout_of(tradeledger().args(["events", "--symbol", "QQQ", "--journal"]).arg(&journal));
    assert_eq!(other_symbol, "");
    let signal =
        parse(stdout_of(tradeledger().args(["events", "--type", "SignalReceived", "--journal"]).arg(&journal)));
    let signal_seq = signal.iter().find(|event| event["event"]["SignalReceived"]["signal_id"] == "spy-buy").unwrap()
        ["seq"]
        .as_u64()
        .unwrap();
    let chain = parse(stdout_of(
        tradeledger().args(["events", "--correlation", &signal_seq.to_string(), "--journal"]).arg(&journal),
    ));
    let types: Vec<&str> = chain.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["SignalReceived", "RiskCheckPassed", "OrderSubmitted", "OrderAccepted"]);
}

/// The SPY extract runs from 08:00:17.034 to 12:48:40 UTC. Counted by hand:
/// every 30 s from 08:00:30 to 12:48:30 is 17,280 s / 30 + 1 = 577 firings;
/// every hour, 09:00 to 12:00, is 4; `off` is none.
#[test]
fn record_fires_the_risk_monitor_timer_in_feed_time() {
    let dir = tempfile::tempdir().unwrap();
    for (timer, expected, first) in [(None, 577, "2013-10-08T08:00:30Z"), (Some("1h"), 4, "2013-10-08T09:00:00Z")] {
        let journal = dir.path().join(format!("journal-{}", timer.unwrap_or("default")));
        let mut command = tradeledger();
        command.args(["record", "--journal"]).arg(&journal).arg("--ticks").arg(fixture(SPY));
        if let Some(timer) = timer {
            command.args(["--timer", timer]);
        }
        stdout_of(&mut command);
        let timers = stdout_of(tradeledger().args(["events", "--type", "TimerFired", "--journal"]).arg(&journal));
        let timers: Vec<serde_json::Value> = timers.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(timers.len(), expected, "--timer {timer:?}");
        assert_eq!(timers[0]["time"], first);
        tradeledger().args(["audit", "--journal"]).arg(&journal).assert().success();
    }
    let journal = dir.path().join("journal-off");
    stdout_of(
        tradeledger().args(["record", "--timer", "off", "--journal"]).arg(&journal).arg("--ticks").arg(fixture(SPY)),
    );
    let timers = stdout_of(tradeledger().args(["events", "--type", "TimerFired", "--journal"]).arg(&journal));
    assert_eq!(timers, "");
    tradeledger()
        .args(["record", "--timer", "0s", "--journal"])
        .arg(&journal)
        .arg("--ticks")
        .arg(fixture(SPY))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--timer"));
}

#[test]
fn explain_follows_a_signal_to_its_order_fills_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    let text = stdout_of(
        tradeledger().args(["explain", "--signal", "spy-buy", "--format", "json", "--journal"]).arg(&journal),
    );
    let explanation: serde_json::Value = serde_json::from_str(&text).unwrap();
    let types: Vec<&str> =
        explanation["steps"].as_array().unwrap().iter().map(|step| step["type"].as_str().unwrap()).collect();
    assert_eq!(&types[..4], ["SignalReceived", "RiskCheckPassed", "OrderSubmitted", "OrderAccepted"]);
    assert!(types.contains(&"OrderFilled"));
    let seqs: Vec<u64> =
        explanation["steps"].as_array().unwrap().iter().map(|step| step["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "steps in journal order");
    assert!(!explanation["positions"].as_array().unwrap().is_empty());
    tradeledger()
        .args(["explain", "--signal", "spy-too-big", "--journal"])
        .arg(&journal)
        .assert()
        .success()
        .stdout(predicate::str::contains("RiskCheckRejected"));
    tradeledger()
        .args(["explain", "--order", "nope", "--journal"])
        .arg(&journal)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no order nope"));
}

#[test]
fn record_appends_to_an_existing_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    record_spy(&journal);
    let first = replay_json(&journal, &[])["seq"].as_u64().unwrap();
    tradeledger()
        .args(["record", "--journal"])
        .arg(&journal)
        .arg("--ticks")
        .arg(fixture(SPY))
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("seq {}", first + 1)));
    assert!(replay_json(&journal, &[])["seq"].as_u64().unwrap() >= first + 1_000);
    tradeledger().args(["audit", "--journal"]).arg(&journal).assert().success();
}

#[test]
fn a_bad_row_stops_record_before_anything_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = dir.path().join("ticks.csv");
    std::fs::write(&ticks, "time,symbol,price\n1723161600500,ETHUSDT,2650.1\n1723161600600,ETHUSDT,abc\n").unwrap();
    let journal = dir.path().join("journal");
    tradeledger()
        .args(["record", "--journal"])
        .arg(&journal)
        .arg("--ticks")
        .arg(&ticks)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ticks.csv:3:3: price").and(predicate::str::contains("--skip-bad-rows")));
    assert!(!journal.exists(), "nothing was recorded");
    tradeledger()
        .args(["record", "--skip-bad-rows", "--journal"])
        .arg(&journal)
        .arg("--ticks")
        .arg(&ticks)
        .assert()
        .success()
        .stderr(predicate::str::contains("skipped 1 bad rows"));
    let rejected = stdout_of(tradeledger().args(["events", "--type", "InputRejected", "--journal"]).arg(&journal));
    assert!(rejected.contains("ticks.csv:3"), "{rejected}");
}

#[test]
fn usage_input_and_io_errors_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let missing = dir.path().join("missing.csv");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["record".into(), "--journal".into(), journal.display().to_string()], "at least one input"),
        (
            vec![
                "record".into(),
                "--journal".into(),
                journal.display().to_string(),
                "--ticks".into(),
                missing.display().to_string(),
            ],
            "missing.csv",
        ),
        (vec!["replay".into(), "--journal".into(), missing.display().to_string()], "does not exist"),
        (vec!["audit".into(), "--journal".into(), missing.display().to_string()], "does not exist"),
        (vec!["replay".into()], "--journal"),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
        (
            vec![
                "record".into(),
                "--journal".into(),
                journal.display().to_string(),
                "--ticks".into(),
                fixture(SPY).display().to_string(),
                "--strategy".into(),
                "sma-cross:fast=50,slow=20".into(),
            ],
            "fast (50) must be at least 1 and below slow (20)",
        ),
    ];
    for (args, message) in cases {
        let assert = tradeledger().args(&args).assert().code(2).stderr(predicate::str::contains(message));
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    }
}

#[test]
fn a_config_error_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.yaml");
    std::fs::write(&config, "RISK_MANAGEMENT:\n  MAX_DRAWDOWN: -5\n").unwrap();
    tradeledger()
        .args(["record", "--journal"])
        .arg(dir.path().join("journal"))
        .arg("--config")
        .arg(&config)
        .arg("--ticks")
        .arg(fixture(SPY))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("MAX_DRAWDOWN"));
}

#[test]
fn a_journal_held_by_another_process_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    let held = Journal::open(&journal_dir, JournalOptions::default()).unwrap();
    tradeledger()
        .args(["record", "--journal"])
        .arg(&journal_dir)
        .arg("--ticks")
        .arg(fixture(SPY))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already open in another process"));
    held.close().unwrap();
}

#[test]
fn signals_can_come_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let signals = std::fs::read_to_string(fixture("cli/signals.jsonl")).unwrap();
    tradeledger()
        .args(["record", "--signals", "-", "--journal"])
        .arg(&journal)
        .arg("--ticks")
        .arg(fixture(SPY))
        .write_stdin(signals)
        .assert()
        .success();
    let received = stdout_of(tradeledger().args(["events", "--type", "SignalReceived", "--journal"]).arg(&journal));
    assert_eq!(received.lines().count(), 3);
}

#[test]
fn every_command_has_help_with_an_example_and_completions_print() {
    for command in ["record", "replay", "audit", "events", "explain", "demo", "completions"] {
        tradeledger().args([command, "--help"]).assert().success().stdout(predicate::str::contains("Example"));
    }
    tradeledger()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tradeledger").and(predicate::str::contains("replay")));
}

#[test]
fn the_demo_records_replays_and_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo");
    let run = || {
        tradeledger()
            .args(["demo", "--journal"])
            .arg(&journal)
            .assert()
            .success()
            .stdout(predicate::str::contains("PriceTicked").and(predicate::str::contains("audit OK")))
    };
    run();
    // A re-run replaces the demo's own folder rather than appending to it.
    run();
    let view = replay_json(&journal, &[]);
    let ticks = stdout_of(tradeledger().args(["events", "--type", "PriceTicked", "--journal"]).arg(&journal));
    assert_eq!(ticks.lines().count(), 19_904);
    assert!(!view["orders"].as_array().unwrap().is_empty());
    // A folder the demo did not make is left alone.
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    tradeledger()
        .args(["demo", "--journal"])
        .arg(&foreign)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("was not made by the demo"));
}

#[test]
fn record_pins_its_threads_when_asked_and_refuses_cpus_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let record_pinned = |pins: &str| {
        tradeledger()
            .args(["record", "--pin-cpus", pins, "--journal"])
            .arg(&journal)
            .arg("--ticks")
            .arg(fixture(SPY))
            .assert()
    };
    record_pinned("zero,one")
        .failure()
        .stderr(predicate::str::contains("--pin-cpus").and(predicate::str::contains("ENGINE,STORAGE")));
    record_pinned("0,99999").failure().stderr(predicate::str::contains("CPU 99999 is not one this process may run on"));
    assert!(!journal.exists(), "a refused pin records nothing");

    if cfg!(target_os = "linux") {
        let cpus = tradeledger::affinity::allowed_cpus().unwrap();
        record_pinned(&format!("{},{}", cpus[0], cpus.last().unwrap())).success();
        tradeledger().args(["audit", "--journal"]).arg(&journal).assert().success();
    }
}
