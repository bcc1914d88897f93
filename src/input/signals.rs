//! Signals as JSON lines, one object a line:
//!
//! ```json
//! {"id": "s1", "time": "2024-08-09T00:00:00Z", "symbol": "BTCUSDT", "side": "buy",
//!  "quantity": 0.5, "type": "limit", "price": "61800", "stop_loss": 61000,
//!  "take_profit": 63000, "strategy": "mean-revert"}
//! ```
//!
//! `type` defaults to `market` and `strategy` to `cli`; numbers may be JSON
//! numbers (read exactly, digit for digit) or strings; `time` is RFC 3339 or
//! integer Unix epoch milliseconds. Blank lines and lines starting with `#`
//! are skipped.

use super::row::parse_decimal;
use super::{display_name, read_text, Collector, InputError, InputKind, LoadError, Loaded};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use tradeledger_events::{Event, InvalidValue, OrderType, SignalReceived, Timestamp};

pub const DEFAULT_STRATEGY: &str = "cli";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalLine {
    id: String,
    time: Value,
    symbol: String,
    side: String,
    quantity: Value,
    #[serde(rename = "type")]
    order_type: Option<String>,
    price: Option<Value>,
    stop_loss: Option<Value>,
    take_profit: Option<Value>,
    strategy: Option<String>,
}

/// Reads signals from a file, or from standard input when `path` is `-`.
pub fn load_signals(path: &Path, skip_bad_rows: bool) -> Result<Loaded, LoadError> {
    let (text, file) = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        (text, "<stdin>".to_owned())
    } else {
        (read_text(path)?, display_name(path))
    };
    parse_signals(&text, &file, skip_bad_rows)
}

pub fn parse_signals(text: &str, file: &str, skip_bad_rows: bool) -> Result<Loaded, LoadError> {
    let mut collector = Collector::new(InputKind::Signal, skip_bad_rows);
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = LineAt { file, line: index as u64 + 1 };
        match signal_of(trimmed, &at) {
            Ok((time, signal)) => collector.push(time, Event::SignalReceived(signal)),
            Err(error) => collector.reject(error)?,
        }
    }
    Ok(collector.finish())
}

struct LineAt<'a> {
    file: &'a str,
    line: u64,
}

impl LineAt<'_> {
    fn error(&self, column: Option<u64>, field: &str, reason: impl Into<String>) -> InputError {
        InputError {
            file: self.file.to_owned(),
            line: self.line,
            column,
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    fn parse<T: FromStr<Err = InvalidValue>>(&self, field: &str, text: &str) -> Result<T, InputError> {
        text.parse().map_err(|error: InvalidValue| self.error(None, field, error.to_string()))
    }
}

fn signal_of(text: &str, at: &LineAt<'_>) -> Result<(Timestamp, SignalReceived), InputError> {
    let line: SignalLine =
        serde_json::from_str(text).map_err(|error| at.error(Some(error.column() as u64), "json", error.to_string()))?;
    let time = match &line.time {
        Value::Number(millis) => at.parse("time", &millis.to_string())?,
        Value::String(text) => at.parse("time", text)?,
        other => return Err(at.error(None, "time", format!("{other} is neither a string nor a number"))),
    };
    let order_type: OrderType = at.parse("type", line.order_type.as_deref().unwrap_or("market"))?;
    let price_limit = optional_decimal(at, "price", line.price.as_ref())?;
    match (order_type, price_limit) {
        (OrderType::Limit, None) => return Err(at.error(None, "price", "a limit signal needs a price")),
        (OrderType::Market, Some(_)) => return Err(at.error(None, "price", "a market signal takes no price")),
        _ => {}
    }
    let signal = SignalReceived {
        signal_id: at.parse("id", &line.id)?,
        strategy_id: at.parse("strategy", line.strategy.as_deref().unwrap_or(DEFAULT_STRATEGY))?,
        symbol: at.parse("symbol", &line.symbol)?,
        side: at.parse("side", &line.side)?,
        quantity: decimal(at, "quantity", &line.quantity)?,
        order_type,
        price_limit,
        price_stop_loss: optional_decimal(at, "stop_loss", line.stop_loss.as_ref())?,
        price_take_profit: optional_decimal(at, "take_profit", line.take_profit.as_ref())?,
    };
    Ok((time, signal))
}

/// A JSON number is taken from its text (serde_json's arbitrary precision),
/// so `0.1` is exactly one tenth.
fn decimal(at: &LineAt<'_>, field: &str, value: &Value) -> Result<Decimal, InputError> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => return Err(at.error(None, field, format!("{other} is neither a number nor a string"))),
    };
    parse_decimal(text.trim()).map_err(|reason| at.error(None, field, reason))
}

fn optional_decimal(at: &LineAt<'_>, field: &str, value: Option<&Value>) -> Result<Option<Decimal>, InputError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => decimal(at, field, value).map(Some),
    }
}
