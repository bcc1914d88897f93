//! Soak: record tens of millions of events through the engine (`Durable`),
//! the Binance trades lap after lap with the SMA strategy, reporting the
//! resident set as it goes; then replay the whole journal from seq 1 and
//! compare its state hash with the live engine's.
//!
//! The engine keeps `TRADELEDGER_SOAK_RETAINED` finished orders, signals,
//! closed positions and risk events in memory (`HISTORY_RETAINED`; default
//! 10,000, `all` for everything), and the replay folds under the same
//! retention, so the two state hashes compare.
//!
//! Ignored by default (minutes, gigabytes of disk). Run it with
//! `TRADELEDGER_SOAK_EVENTS=50000000 cargo test --release --test soak -- --ignored --nocapture`
//! (default 5,000,000 events).

mod common;

use std::path::Path;
use std::time::Instant;
use tradeledger::config::Config;
use tradeledger::engine::TradingSystem;
use tradeledger::events::{Event, Journal, JournalOptions, Seq, Symbol, Timestamp};
use tradeledger::input::ticks::{load_ticks, TickOptions};
use tradeledger::projections::{Ledger, Retention};
use tradeledger::strategy::SmaCross;

const BATCH: usize = 1_000;

/// (current, peak) resident set in MiB, from /proc.
fn resident_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak resident set to the current one (Linux 4.0+), so each
/// phase reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs `work` with the peak resident set reset: its result, seconds, and
/// its own peak RSS in MiB.
fn phase<T>(work: impl FnOnce() -> T) -> (T, f64, u64) {
    reset_peak();
    let started = Instant::now();
    let result = work();
    (result, started.elapsed().as_secs_f64(), resident_mib().1)
}

/// The resident set, every 10 M events of a phase.
fn report_every_10m(what: &str, events: u64) {
    if events.is_multiple_of(10_000_000) {
        let (rss, peak) = resident_mib();
        eprintln!("{what} {events} events, RSS {rss} MiB (peak {peak} MiB)");
    }
}

/// Reads every event of the journal in `dir` without folding: what reading
/// alone costs in memory (sled's own), to tell it from the fold's.
fn scanned(dir: &Path) -> u64 {
    let journal = Journal::open(dir, JournalOptions::read_only()).unwrap();
    let mut count: u64 = 0;
    for envelope in journal.iter_from(Seq::FIRST) {
        envelope.unwrap();
        count += 1;
        report_every_10m("scan: read", count);
    }
    journal.close().unwrap();
    count
}

/// `TRADELEDGER_SOAK_RETAINED`: a count, or `all`; 10,000 when unset.
fn soak_retention() -> Retention {
    match std::env::var("TRADELEDGER_SOAK_RETAINED").as_deref() {
        Ok("all") => Retention::Everything,
        Ok(kept) => Retention::Recent(kept.parse().expect("TRADELEDGER_SOAK_RETAINED: a count or `all`")),
        Err(_) => Retention::Recent(10_000),
    }
}

/// The journal in `dir` folded from seq 1 under `retention`.
fn replayed(dir: &Path, retention: Retention) -> Ledger {
    let journal = Journal::open(dir, JournalOptions::read_only()).unwrap();
    let mut ledger = Ledger::keeping(retention);
    for envelope in journal.iter_from(Seq::FIRST) {
        ledger.apply(&envelope.unwrap()).unwrap();
        report_every_10m("replay: folded", ledger.seq.get());
    }
    journal.close().unwrap();
    ledger
}

#[tokio::test]
#[ignore = "soak: minutes and gigabytes; see the module docs"]
async fn soak_records_tens_of_millions_of_events_and_replays_them_exactly() {
    let target: u64 = std::env::var("TRADELEDGER_SOAK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    let retention = soak_retention();
    let feed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/binance_spot_btcusdt_trades.csv.gz");
    let options = TickOptions { symbol: Some(Symbol::try_from("BTCUSDT").unwrap()), ..TickOptions::default() };
    let feed: Vec<(Timestamp, Event)> =
        load_ticks(&feed_path, &options).unwrap().inputs.into_iter().map(|input| (input.time, input.event)).collect();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let config = Config { retention, ..Config::default() };
    let system = TradingSystem::open(journal, config, feed[0].0).await.unwrap();
    let mut strategy = SmaCross::new("sma-cross:fast=20,slow=50,qty=0.5,stop=0.05,take=0.1".parse().unwrap());
    let started = Instant::now();
    let (mut position, mut next_report, mut seq) = (0_usize, 1_000_000_u64, 0_u64);
    while seq < target {
        let batch = common::lap_batch(&feed, position, BATCH);
        position += batch.len();
        system
            .handle_inputs_with(batch, |ledger, time, event| {
                let signal = tradeledger::record::strategy_signal(&mut strategy, ledger, time, event)?;
                Some((time, Event::SignalReceived(signal)))
            })
            .await
            .unwrap();
        seq = system.committed_seq().await.get();
        if seq >= next_report {
            let (rss, peak) = resident_mib();
            let rate = seq as f64 / started.elapsed().as_secs_f64();
            eprintln!("{seq} events, {rate:.0} events/s, RSS {rss} MiB (peak {peak} MiB)");
            next_report += 1_000_000;
        }
    }
    let recording = started.elapsed().as_secs_f64();
    let (live_seq, live_hash) = system.committed_state().await;
    let live = system.ledger().await;
    let orders = live.risk.checks_passed + live.risk.forced_exits;
    eprintln!(
        "retention {retention:?}: in memory {} orders, {} signals, {} evicted signal fingerprints; \
         passed {}, rejected {}, forced exits {}, breaker {:?}, last rejection {:?}",
        live.orders.orders.len(),
        live.orders.signals.len(),
        live.orders.signals_evicted.len(),
        live.risk.checks_passed,
        live.risk.checks_rejected,
        live.risk.forced_exits,
        live.risk.breaker_tripped,
        live.risk.events.iter().find_map(|event| event.reason.clone())
    );
    system.stop().await.unwrap();
    let (_, peak_recording) = resident_mib();

    let (scanned_events, scan, peak_scan) = phase(|| scanned(dir.path()));
    assert_eq!(scanned_events, live_seq.get());
    let (ledger, replay, peak_replay) = phase(|| replayed(dir.path(), retention));
    assert_eq!(ledger.seq, live_seq);
    assert_eq!(ledger.state_hash(), live_hash, "the replay equals the live state");
    let disk: u64 =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|entry| entry.ok()?.metadata().ok()).map(|m| m.len()).sum();
    eprintln!(
        "soak: {live_seq} events ({orders} orders) recorded in {recording:.0} s ({:.0} events/s), peak RSS {peak_recording} MiB \
         while recording; read without folding in {scan:.0} s (peak RSS {peak_scan} MiB); replayed in {replay:.0} s \
         ({:.0} events/s, peak RSS {peak_replay} MiB), state hashes equal; journal {:.1} GiB",
        live_seq.get() as f64 / recording,
        live_seq.get() as f64 / replay,
        disk as f64 / (1u64 << 30) as f64
    );
}
