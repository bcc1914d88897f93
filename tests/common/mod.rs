//! Helpers shared by the root package's integration tests.
#![allow(dead_code)]

use assert_cmd::Command;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use tradeledger::events::{OrderType, Side, SignalReceived};

/// The SPY extract, the hand-written signals and the strategy the CLI,
/// analytics and tamper tests record.
pub const SPY: &str = "20131008_spy_Trade_Tick_first1000.csv";
pub const SMA: &str = "sma-cross:fast=10,slow=30,qty=100,stop=0.05,take=0.1";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The binary, without colour or the caller's log settings.
pub fn tradeledger() -> Command {
    let mut command = Command::cargo_bin("tradeledger").unwrap();
    command.env("NO_COLOR", "1").env_remove("RUST_LOG");
    command
}

/// Runs `command`, which must succeed, and returns its standard output.
pub fn stdout_of(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Records the SPY extract with the strategy and the signals into `journal`.
pub fn record_spy(journal: &Path) {
    tradeledger()
        .args(["record", "--journal"])
        .arg(journal)
        .arg("--ticks")
        .arg(fixture(SPY))
        .arg("--signals")
        .arg(fixture("cli/signals.jsonl"))
        .args(["--strategy", SMA])
        .assert()
        .success()
        .stdout(predicates::str::contains("Recorded"));
}

pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A market signal of strategy `test`.
pub fn market_signal(id: &str, symbol: &str, side: Side, quantity: &str) -> SignalReceived {
    SignalReceived {
        signal_id: id.parse().unwrap(),
        strategy_id: "test".parse().unwrap(),
        symbol: symbol.parse().unwrap(),
        side,
        quantity: dec(quantity),
        order_type: OrderType::Market,
        price_limit: None,
        price_stop_loss: None,
        price_take_profit: None,
    }
}

/// The next `batch` inputs of `feed` replayed lap after lap from input
/// number `position`, each lap an hour later than the one before.
pub fn lap_batch(
    feed: &[(tradeledger::events::Timestamp, tradeledger::events::Event)],
    position: usize,
    batch: usize,
) -> Vec<(tradeledger::events::Timestamp, tradeledger::events::Event)> {
    const HOUR_NANOS: i64 = 3_600_000_000_000;
    let (lap, offset) = (position / feed.len(), position % feed.len());
    let shift = HOUR_NANOS * lap as i64;
    feed[offset..(offset + batch).min(feed.len())]
        .iter()
        .map(|(time, event)| {
            (tradeledger::events::Timestamp::from_unix_nanos(time.unix_nanos() + shift), event.clone())
        })
        .collect()
}
