//! `tradeledger` command line. For now it has one command, `demo`, which
//! records the bundled real BTCUSDT trades into a journal in a local folder,
//! verifies the hash chain and prints what it recorded. The engine and the
//! full command set (record, replay, audit, explain) build on this.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tradeledger::demo;

const USAGE: &str = "usage: tradeledger demo [--journal DIR]

Records the bundled Binance BTCUSDT trades (fixtures/binance_btcusdt_trades_first2000.csv)
as PriceTicked events into a sled journal in DIR (default: tradeledger-demo-journal),
verifies the hash chain and prints a summary.

Exit codes: 0 success, 1 the journal did not verify, 2 usage, input or I/O error.";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let journal_dir = match parse_arguments(&arguments) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run_demo(&journal_dir) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn parse_arguments(arguments: &[String]) -> Result<PathBuf, String> {
    match arguments {
        [command] if command == "demo" => Ok(PathBuf::from("tradeledger-demo-journal")),
        [command, flag, dir] if command == "demo" && flag == "--journal" => Ok(PathBuf::from(dir)),
        [] => Err("no command given".into()),
        other => Err(format!("unknown arguments: {}", other.join(" "))),
    }
}

fn run_demo(journal_dir: &Path) -> Result<bool, demo::DemoError> {
    let started = Instant::now();
    let summary = demo::record_fixture_ticks(&demo::fixture_path(), journal_dir)?;
    println!("journal          {}", journal_dir.display());
    println!("journal id       {}", summary.journal_id);
    println!("ticks recorded   {} (rows rejected: {})", summary.ticks_recorded, summary.rows_rejected);
    println!(
        "events in chain  {} (head seq {}, hash {})",
        summary.events_verified, summary.head_seq, summary.head_hash
    );
    println!("first tick       {}", summary.first_tick);
    println!("last tick        {}", summary.last_tick);
    println!("price range      {} .. {}", summary.price_low, summary.price_high);
    println!("elapsed          {:.2?}", started.elapsed());
    match &summary.fault {
        None => println!("verify           OK: every hash and seq checks out"),
        Some(fault) => println!("verify           FAILED at {fault}"),
    }
    Ok(summary.fault.is_none())
}
