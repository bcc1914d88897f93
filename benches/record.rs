//! `record` and `replay` on the real feeds in `../shared/data`, with the
//! built-in SMA strategy, as the CLI runs them (durable journal, batches of
//! 1,000 inputs): parse, record end to end, then replay (a fold of the whole
//! journal from its first event) and audit.
//!
//! `cargo bench -p tradeledger --bench record`
//! Feeds: the Binance BTCUSDT trades (19,904) and the Lean SPY trades
//! (451,545). A feed that is not there is reported and skipped.

use std::path::{Path, PathBuf};
use std::time::Instant;
use tradeledger::config::Config;
use tradeledger::events::{Durability, Journal, JournalOptions, Seq, Symbol};
use tradeledger::input::{self, ticks};
use tradeledger::record::{record, Recording};
use tradeledger::strategy::{SmaCross, SmaCrossSpec};

struct Feed {
    name: &'static str,
    path: PathBuf,
    symbol: Option<&'static str>,
    strategy: &'static str,
}

fn shared_data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(relative)
}

fn main() {
    // As the binary does (see `tradeledger::memory`).
    tradeledger::memory::small_pages_only().expect("opting out of transparent huge pages");
    let feeds = [
        Feed {
            name: "Binance BTCUSDT trades",
            path: shared_data("hftbacktest/binance_spot_btcusdt_trades.csv.gz"),
            symbol: Some("BTCUSDT"),
            strategy: "sma-cross:fast=20,slow=50,qty=0.5",
        },
        Feed {
            name: "Lean SPY trades",
            path: shared_data("quantconnect-lean/20131008_spy_Trade_Tick.csv.gz"),
            symbol: None,
            strategy: "sma-cross:fast=20,slow=50,qty=100",
        },
    ];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for feed in &feeds {
        if !feed.path.exists() {
            println!("{}: {} not found, skipped", feed.name, feed.path.display());
            continue;
        }
        for durability in [Durability::Durable, Durability::Buffered] {
            bench_feed(&runtime, feed, durability);
        }
    }
}

fn bench_feed(runtime: &tokio::runtime::Runtime, feed: &Feed, durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let journal_dir = dir.path().join("journal");
    let options =
        ticks::TickOptions { symbol: feed.symbol.map(|s| Symbol::try_from(s).unwrap()), ..Default::default() };

    let started = Instant::now();
    let inputs = input::merge(vec![ticks::load_ticks(&feed.path, &options).unwrap()]);
    let parse = started.elapsed().as_secs_f64();
    let tick_count = inputs.len();

    let strategy = SmaCross::new(feed.strategy.parse::<SmaCrossSpec>().unwrap());
    let recording = Recording {
        journal_dir: &journal_dir,
        config: Config::default(),
        inputs,
        strategy: Some(strategy),
        durability,
        timer: Some(tradeledger::engine::RISK_MONITOR_PERIOD),
        pins: None,
    };
    let started = Instant::now();
    let summary = runtime.block_on(record(recording, |_| {})).unwrap();
    let recording_seconds = started.elapsed().as_secs_f64();
    let events = summary.seq_last.get();

    let started = Instant::now();
    let journal = Journal::open(&journal_dir, JournalOptions::read_only()).unwrap();
    let mut ledger = tradeledger::projections::Ledger::default();
    for envelope in journal.iter_from(Seq::FIRST) {
        ledger.apply(&envelope.unwrap()).unwrap();
    }
    journal.close().unwrap();
    let replay = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let verdict = runtime.block_on(tradeledger::audit::audit(&journal_dir)).unwrap();
    let audit = started.elapsed().as_secs_f64();
    assert!(verdict.is_clean(), "{verdict:?}");

    let orders = summary.events.get("OrderSubmitted").copied().unwrap_or(0);
    println!(
        "{} ({durability:?}): {tick_count} ticks, {events} events, {orders} orders\n  \
         parse {parse:.2} s ({:.0} ticks/s); record {recording_seconds:.2} s ({:.0} ticks/s, {:.0} events/s); \
         end to end {:.0} ticks/s\n  replay (fold from seq 1) {replay:.2} s ({:.0} events/s); audit {audit:.2} s ({:.0} events/s)",
        feed.name,
        tick_count as f64 / parse,
        tick_count as f64 / recording_seconds,
        events as f64 / recording_seconds,
        tick_count as f64 / (parse + recording_seconds),
        events as f64 / replay,
        events as f64 / audit,
    );
}

/// The allocator of the `tradeledger` binary (see `src/main.rs`), so the
/// figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
