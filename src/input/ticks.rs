//! Tick feeds. Four formats, detected from the first line (or given):
//!
//! - `generic`: CSV `time,symbol,price[,size]`, with or without that header;
//! - `binance-trades`: Binance trade rows
//!   (`local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,…`), timed
//!   by the trade time; the rows carry no symbol, so `--symbol` is needed;
//! - `ohlcv`: bars `time,open,high,low,close[,volume]` (first column any
//!   name), one tick per bar at the close, or the open then the close;
//! - `lean-trades`: QuantConnect Lean equity trade ticks (no header;
//!   milliseconds since New York midnight, price in 1/10,000 USD, shares), the
//!   date and symbol from the Lean file name `YYYYMMDD_symbol_Trade_Tick…`.

use super::row::{column, Row};
use super::{csv_reader, csv_row_error, display_name, read_text, record_line, Collector, InputKind, LoadError, Loaded};
use chrono::{NaiveDate, TimeDelta, TimeZone};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use std::path::Path;
use tradeledger_events::{Event, Price, PriceTicked, Quantity, Symbol, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TickFormat {
    Generic,
    BinanceTrades,
    Ohlcv,
    LeanTrades,
}

/// Which ticks an OHLCV bar becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BarTicks {
    /// One tick at the close.
    #[default]
    Close,
    /// The open, then the close, both at the bar's time.
    OpenClose,
}

#[derive(Debug, Clone, Default)]
pub struct TickOptions {
    /// `None`: detect from the first line and the file name.
    pub format: Option<TickFormat>,
    /// For formats whose rows carry no symbol.
    pub symbol: Option<Symbol>,
    pub bars: BarTicks,
    pub skip_bad_rows: bool,
}

const BINANCE_HEADER: &str = "local_ts_ns,event_time_ms,trade_time_ms";

/// How to read the rows of one file, settled from its first line.
#[derive(Debug)]
enum Layout {
    Generic { time: usize, symbol: usize, price: usize, size: Option<usize> },
    Binance { symbol: Symbol },
    Ohlcv { symbol: Symbol, open: usize, close: usize, bars: BarTicks },
    Lean { symbol: Symbol, date: NaiveDate },
}

/// Reads a tick file whole; the first bad row is an error unless skipping.
pub fn load_ticks(path: &Path, options: &TickOptions) -> Result<Loaded, LoadError> {
    parse_ticks(&read_text(path)?, path, options)
}

/// Reads ticks from `text`; `path` names the file in errors and, for Lean
/// files, carries the date and symbol.
pub fn parse_ticks(text: &str, path: &Path, options: &TickOptions) -> Result<Loaded, LoadError> {
    let file = display_name(path);
    let mut reader = csv_reader(text);
    let mut records = reader.records();
    let mut collector = Collector::new(InputKind::Tick, options.skip_bad_rows);
    let Some(first) = records.next() else { return Ok(collector.finish()) };
    let first = first.map_err(|error| LoadError::Row(csv_row_error(&file, &error)))?;
    let header: Vec<String> = first.iter().map(str::to_owned).collect();
    let (layout, has_header) = layout(path, &header, options)?;
    if !has_header {
        read_row(&layout, &Row { record: &first, file: &file, line: record_line(&first) }, &mut collector)?;
    }
    for record in records {
        match record {
            Ok(record) => {
                read_row(&layout, &Row { record: &record, file: &file, line: record_line(&record) }, &mut collector)?
            }
            Err(error) => collector.reject(csv_row_error(&file, &error))?,
        }
    }
    Ok(collector.finish())
}

fn read_row(layout: &Layout, row: &Row<'_>, collector: &mut Collector) -> Result<(), LoadError> {
    match ticks_of(layout, row) {
        Ok(ticks) => ticks.into_iter().for_each(|(time, tick)| collector.push(time, Event::PriceTicked(tick))),
        Err(error) => collector.reject(error)?,
    }
    Ok(())
}

fn ticks_of(layout: &Layout, row: &Row<'_>) -> Result<Vec<(Timestamp, PriceTicked)>, super::InputError> {
    Ok(match layout {
        Layout::Generic { time, symbol, price, size } => {
            let tick_time: Timestamp = row.parse(*time, "time")?;
            let symbol: Symbol = row.parse(*symbol, "symbol")?;
            vec![(tick_time, tick(symbol, row.parse(*price, "price")?, row.optional(*size, "size")?, None))]
        }
        Layout::Binance { symbol } => {
            let millis: i64 = row
                .text(2, "trade_time_ms")?
                .parse()
                .map_err(|_| row.error(Some(2), "trade_time_ms", "is not integer Unix epoch milliseconds"))?;
            let time = Timestamp::from_unix_millis(millis)
                .map_err(|error| row.error(Some(2), "trade_time_ms", error.to_string()))?;
            let price = row.parse(4, "price")?;
            vec![(time, tick(symbol.clone(), price, Some(row.parse(5, "qty")?), Some(time)))]
        }
        Layout::Ohlcv { symbol, open, close, bars } => {
            let time: Timestamp = row.parse(0, "time")?;
            let close_tick = (time, tick(symbol.clone(), row.parse(*close, "close")?, None, None));
            match bars {
                BarTicks::Close => vec![close_tick],
                BarTicks::OpenClose => {
                    vec![(time, tick(symbol.clone(), row.parse(*open, "open")?, None, None)), close_tick]
                }
            }
        }
        Layout::Lean { symbol, date } => {
            let time = lean_time(*date, row)?;
            let deci_cents: i64 = row
                .text(1, "price")?
                .parse()
                .map_err(|_| row.error(Some(1), "price", "is not integer 1/10,000 USD"))?;
            let price = Price::new(Decimal::new(deci_cents, 4))
                .map_err(|error| row.error(Some(1), "price", error.to_string()))?;
            vec![(time, tick(symbol.clone(), price, Some(row.parse(2, "quantity")?), None))]
        }
    })
}

fn tick(symbol: Symbol, price: Price, size: Option<Quantity>, time_venue: Option<Timestamp>) -> PriceTicked {
    PriceTicked { symbol, price, size, price_bid: None, price_ask: None, time_venue }
}

/// Lean times are milliseconds since midnight in New York (EST or EDT).
fn lean_time(date: NaiveDate, row: &Row<'_>) -> Result<Timestamp, super::InputError> {
    let millis: i64 = row
        .text(0, "time")?
        .parse()
        .map_err(|_| row.error(Some(0), "time", "is not integer milliseconds since midnight"))?;
    let local = date
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.checked_add_signed(TimeDelta::try_milliseconds(millis)?))
        .ok_or_else(|| row.error(Some(0), "time", format!("{millis} ms after midnight is out of range")))?;
    let zoned = New_York
        .from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| row.error(Some(0), "time", format!("{local} does not exist in New York time")))?;
    Timestamp::from_datetime(zoned.to_utc()).map_err(|error| row.error(Some(0), "time", error.to_string()))
}

/// Settles the layout from the first row (and the file name for Lean);
/// also says whether that first row is a header.
fn layout(path: &Path, first: &[String], options: &TickOptions) -> Result<(Layout, bool), LoadError> {
    let format = match options.format {
        Some(format) => format,
        None => detect(path, first)?,
    };
    let needs_symbol = |format: &str| {
        options.symbol.clone().ok_or_else(|| LoadError::Format {
            path: path.to_path_buf(),
            reason: format!("{format} rows carry no symbol; pass --symbol (for example --symbol BTCUSDT)"),
        })
    };
    Ok(match format {
        TickFormat::Generic => generic_layout(first),
        TickFormat::BinanceTrades => {
            (Layout::Binance { symbol: needs_symbol("binance-trades")? }, is_binance_header(first))
        }
        TickFormat::Ohlcv => {
            let missing = |name: &str| LoadError::Format {
                path: path.to_path_buf(),
                reason: format!("the ohlcv header has no `{name}` column (expected time,open,high,low,close[,volume])"),
            };
            let open = column(first, "open").ok_or_else(|| missing("open"))?;
            let close = column(first, "close").ok_or_else(|| missing("close"))?;
            (Layout::Ohlcv { symbol: needs_symbol("ohlcv")?, open, close, bars: options.bars }, true)
        }
        TickFormat::LeanTrades => {
            let (date, named_symbol) = lean_file_name(path).ok_or_else(|| LoadError::Format {
                path: path.to_path_buf(),
                reason: "lean-trades takes the date from a Lean file name such as 20131008_spy_Trade_Tick.csv".into(),
            })?;
            let symbol = match (options.symbol.clone(), Symbol::try_from(named_symbol.to_ascii_uppercase())) {
                (Some(symbol), _) | (None, Ok(symbol)) => symbol,
                (None, Err(error)) => {
                    return Err(LoadError::Format { path: path.to_path_buf(), reason: error.to_string() })
                }
            };
            (Layout::Lean { symbol, date }, false)
        }
    })
}

fn is_binance_header(first: &[String]) -> bool {
    first.join(",").starts_with(BINANCE_HEADER)
}

fn generic_layout(first: &[String]) -> (Layout, bool) {
    match (column(first, "time"), column(first, "symbol"), column(first, "price")) {
        (Some(time), Some(symbol), Some(price)) => {
            (Layout::Generic { time, symbol, price, size: column(first, "size") }, true)
        }
        _ => (Layout::Generic { time: 0, symbol: 1, price: 2, size: Some(3) }, false),
    }
}

fn detect(path: &Path, first: &[String]) -> Result<TickFormat, LoadError> {
    let has = |name: &str| column(first, name).is_some();
    if is_binance_header(first) {
        Ok(TickFormat::BinanceTrades)
    } else if has("open") && has("high") && has("low") && has("close") {
        Ok(TickFormat::Ohlcv)
    } else if has("time") && has("symbol") && has("price") {
        Ok(TickFormat::Generic)
    } else if lean_file_name(path).is_some() {
        Ok(TickFormat::LeanTrades)
    } else {
        Err(LoadError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "cannot tell the tick format from the first line `{}`; pass --tick-format generic|binance-trades|ohlcv|lean-trades",
                first.join(",")
            ),
        })
    }
}

/// `20131008_spy_Trade_Tick.csv(.gz)` → (2013-10-08, "spy").
fn lean_file_name(path: &Path) -> Option<(NaiveDate, String)> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.split('_');
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y%m%d").ok()?;
    let symbol = parts.next()?;
    let rest = parts.collect::<Vec<_>>().join("_").to_ascii_lowercase();
    rest.starts_with("trade_tick").then(|| (date, symbol.to_owned()))
}
