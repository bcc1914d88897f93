//! The first-run demo: record real trades as ticks into a journal in a local
//! folder, then verify the chain.

use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use tradeledger_events::{
    ChainFault, Event, InputRejected, InputSource, Journal, JournalError, JournalOptions, NewEvent, Price, PriceTicked,
    Quantity, Seq, Symbol, Timestamp,
};

/// Marks a folder as made by the demo, so a re-run may replace it and
/// nothing else is ever deleted.
const DEMO_MARKER: &str = ".tradeledger-demo";
const BATCH_EVENTS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not {operation} {path}: {source}")]
    Io { path: PathBuf, operation: &'static str, source: std::io::Error },
    #[error("{dir} already exists and was not made by the demo; pass another folder with --journal")]
    NotDemoFolder { dir: PathBuf },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What the demo recorded and what `verify` said about it.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub journal_id: String,
    pub ticks_recorded: u64,
    pub rows_rejected: u64,
    pub events_verified: u64,
    pub head_seq: Seq,
    pub head_hash: String,
    pub first_tick: Timestamp,
    pub last_tick: Timestamp,
    pub price_low: Decimal,
    pub price_high: Decimal,
    pub fault: Option<ChainFault>,
}

/// The bundled extract of real Binance trades (see `fixtures/README.md`).
pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/binance_btcusdt_trades_first2000.csv")
}

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_path_buf();
    move |source| DemoError::Io { path, operation, source }
}

/// Records every row of a Binance trades CSV as a `PriceTicked` event (a bad
/// row as `InputRejected`, naming file, line and field) into a fresh journal
/// in `journal_dir`, durably, then verifies the whole chain.
pub fn record_fixture_ticks(csv_path: &Path, journal_dir: &Path) -> Result<DemoSummary, DemoError> {
    prepare_demo_folder(journal_dir)?;
    let text = std::fs::read_to_string(csv_path).map_err(io_error(csv_path, "read"))?;
    let journal = Journal::open(journal_dir, JournalOptions::default())?;
    let origin =
        csv_path.file_name().map_or_else(|| csv_path.display().to_string(), |name| name.to_string_lossy().into_owned());
    let mut batch = Vec::with_capacity(BATCH_EVENTS);
    let mut recorded = Vec::new();
    // Line 1 is the header; data lines are numbered as an editor shows them.
    for (index, line) in text.lines().enumerate().skip(1) {
        batch.push(tick_or_rejection(line, &format!("{origin}:{}", index + 1)));
        if batch.len() == BATCH_EVENTS {
            recorded.extend(journal.append_blocking(std::mem::take(&mut batch))?);
        }
    }
    recorded.extend(journal.append_blocking(batch)?);
    let report = journal.verify()?;
    let head = journal.head();
    let summary = summarize(
        &recorded,
        report.events_verified,
        report.fault,
        head.seq,
        head.hash.to_hex(),
        journal.journal_id().to_string(),
    );
    journal.close()?;
    Ok(summary)
}

fn prepare_demo_folder(dir: &Path) -> Result<(), DemoError> {
    if dir.join(DEMO_MARKER).is_file() {
        std::fs::remove_dir_all(dir).map_err(io_error(dir, "remove the previous demo journal"))?;
    } else if dir.exists() {
        return Err(DemoError::NotDemoFolder { dir: dir.to_path_buf() });
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir, "create"))?;
    std::fs::write(dir.join(DEMO_MARKER), b"made by `tradeledger demo`; a re-run replaces this folder\n")
        .map_err(io_error(dir, "mark"))
}

/// One CSV row: `local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,…`.
fn tick_or_rejection(line: &str, origin: &str) -> NewEvent {
    match parse_trade_row(line) {
        Ok((time, tick)) => NewEvent::input(time, Event::PriceTicked(tick)),
        Err((field, reason)) => {
            tracing::warn!(%origin, field, %reason, "rejected a trade row");
            let rejection =
                InputRejected { source: InputSource::Tick, origin: origin.to_owned(), field: field.into(), reason };
            // A row too broken to carry a time is recorded at the epoch.
            NewEvent::input(Timestamp::from_unix_nanos(0), Event::InputRejected(rejection))
        }
    }
}

fn parse_trade_row(line: &str) -> Result<(Timestamp, PriceTicked), (&'static str, String)> {
    let fields: Vec<&str> = line.split(',').collect();
    let field = |index: usize, name: &'static str| fields.get(index).copied().ok_or((name, "missing".to_string()));
    let time_ms: i64 = field(2, "trade_time_ms")?
        .parse()
        .map_err(|_| ("trade_time_ms", format!("`{}` is not integer milliseconds", fields[2])))?;
    let time = Timestamp::from_unix_millis(time_ms).map_err(|error| ("trade_time_ms", error.to_string()))?;
    let price: Price =
        field(4, "price")?.parse().map_err(|error: tradeledger_events::InvalidValue| ("price", error.to_string()))?;
    let size: Quantity =
        field(5, "qty")?.parse().map_err(|error: tradeledger_events::InvalidValue| ("qty", error.to_string()))?;
    let symbol = Symbol::try_from("BTCUSDT").map_err(|error| ("symbol", error.to_string()))?;
    let tick =
        PriceTicked { symbol, price, size: Some(size), price_bid: None, price_ask: None, time_venue: Some(time) };
    Ok((time, tick))
}

fn summarize(
    recorded: &[tradeledger_events::Envelope],
    events_verified: u64,
    fault: Option<ChainFault>,
    head_seq: Seq,
    head_hash: String,
    journal_id: String,
) -> DemoSummary {
    let ticks: Vec<(&Timestamp, &PriceTicked)> = recorded
        .iter()
        .filter_map(|envelope| match &envelope.event {
            Event::PriceTicked(tick) => Some((&envelope.time_event, tick)),
            _ => None,
        })
        .collect();
    let prices = ticks.iter().map(|(_, tick)| tick.price.get());
    DemoSummary {
        journal_id,
        ticks_recorded: ticks.len() as u64,
        rows_rejected: (recorded.len() - ticks.len()) as u64,
        events_verified,
        head_seq,
        head_hash,
        first_tick: ticks.first().map_or_else(Timestamp::default, |(time, _)| **time),
        last_tick: ticks.last().map_or_else(Timestamp::default, |(time, _)| **time),
        price_low: prices.clone().min().unwrap_or_default(),
        price_high: prices.max().unwrap_or_default(),
        fault,
    }
}
