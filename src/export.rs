//! `export`: fills, orders, positions, the equity curve, daily returns or
//! events as CSV or Parquet. Every table is built from the journal's
//! analysis fold; decimals stay exact (strings in CSV, Decimal128 in Parquet
//! at the largest scale the column holds), times are UTC.

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use std::io::Write;
use std::sync::Arc;
use tradeledger_events::{Envelope, Timestamp};
use tradeledger_projections::analysis::{resample, Analysis, EquityPoint};
use tradeledger_projections::{Order, Position};

/// Which table to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    Fills,
    Orders,
    Positions,
    Equity,
    Returns,
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExportFormat {
    #[default]
    Csv,
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("could not write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("could not write Parquet: {0}")]
    Parquet(String),
    #[error("column {column}: {value} does not fit Decimal128(38, {scale})")]
    DecimalRange { column: &'static str, value: Decimal, scale: u32 },
}

/// A cell of an export table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Integer(i64),
    Decimal(Decimal),
    Time(Timestamp),
    Boolean(bool),
}

/// The kind of a column: what Parquet stores it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Decimal,
    Time,
    Boolean,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<(&'static str, Kind)>,
    pub rows: Vec<Vec<Value>>,
}

impl From<Option<Decimal>> for Value {
    fn from(value: Option<Decimal>) -> Value {
        value.map_or(Value::Null, Value::Decimal)
    }
}

fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn optional_text(value: Option<impl ToString>) -> Value {
    value.map_or(Value::Null, text)
}

/// serde's snake_case name of a unit enum value (`buy`, `take_profit`).
fn word<T: serde::Serialize>(value: &T) -> Value {
    crate::describe::word(value).map_or(Value::Null, Value::Text)
}

fn seq(value: tradeledger_events::Seq) -> Value {
    Value::Integer(i64::try_from(value.get()).unwrap_or(i64::MAX))
}

/// Builds the table `what` from a journal's analysis (for `events`, from
/// `envelopes`, which may be one chunk of the journal). `every_nanos`
/// resamples the equity curve.
pub fn table(what: What, analysis: &Analysis, envelopes: &[Envelope], every_nanos: Option<i64>) -> Table {
    match what {
        What::Fills => fills_table(analysis),
        What::Orders => orders_table(analysis),
        What::Positions => positions_table(analysis),
        What::Equity => match every_nanos {
            Some(interval) => equity_table(&resample(&analysis.equity, interval)),
            None => equity_table(&analysis.equity),
        },
        What::Returns => returns_table(analysis),
        What::Events => events_table(envelopes),
    }
}

fn fills_table(analysis: &Analysis) -> Table {
    use Kind::*;
    let columns = vec![
        ("seq", Integer),
        ("time", Time),
        ("symbol", Text),
        ("side", Text),
        ("quantity", Decimal),
        ("price", Decimal),
        ("fee", Decimal),
        ("liquidity", Text),
        ("order_id", Text),
        ("signal_id", Text),
        ("position_id", Text),
        ("fill_id", Text),
        ("source", Text),
    ];
    let rows = analysis
        .fills
        .iter()
        .map(|fill| {
            vec![
                seq(fill.seq),
                Value::Time(fill.time),
                text(&fill.symbol),
                word(&fill.side),
                Value::Decimal(fill.quantity.get()),
                Value::Decimal(fill.price.get()),
                Value::Decimal(fill.fee.get()),
                fill.liquidity.map_or(Value::Null, |liquidity| word(&liquidity)),
                text(&fill.order_id),
                optional_text(fill.signal_id.as_ref()),
                optional_text(fill.position_id.as_ref()),
                text(&fill.fill_id),
                word(&fill.source),
            ]
        })
        .collect();
    Table { columns, rows }
}

fn orders_table(analysis: &Analysis) -> Table {
    use Kind::*;
    let columns = vec![
        ("id", Text),
        ("signal_id", Text),
        ("symbol", Text),
        ("side", Text),
        ("type", Text),
        ("status", Text),
        ("quantity", Decimal),
        ("filled_quantity", Decimal),
        ("avg_fill_price", Decimal),
        ("fees", Decimal),
        ("limit_price", Decimal),
        ("reduce_only", Boolean),
        ("exit_reason", Text),
        ("seq_submitted", Integer),
        ("time_submitted", Time),
        ("reason", Text),
    ];
    let mut orders: Vec<&Order> = analysis.ledger.orders.orders.values_sorted().collect();
    orders.sort_by_key(|order| order.seq_submitted);
    let rows = orders
        .into_iter()
        .map(|order| {
            vec![
                text(&order.order_id),
                optional_text(order.signal_id.as_ref()),
                text(&order.symbol),
                word(&order.side),
                word(&order.order_type),
                word(&order.status),
                Value::Decimal(order.quantity.get()),
                Value::Decimal(order.quantity_filled.get()),
                order.price_fill_average().into(),
                Value::Decimal(order.fees.get()),
                order.price_limit.map(|price| price.get()).into(),
                Value::Boolean(order.reduce_only),
                order.exit_reason.map_or(Value::Null, |reason| word(&reason)),
                seq(order.seq_submitted),
                Value::Time(order.time_submitted),
                optional_text(order.reason.as_ref()),
            ]
        })
        .collect();
    Table { columns, rows }
}

fn positions_table(analysis: &Analysis) -> Table {
    use Kind::*;
    let columns = vec![
        ("id", Text),
        ("symbol", Text),
        ("side", Text),
        ("status", Text),
        ("quantity", Decimal),
        ("quantity_opened", Decimal),
        ("avg_entry_price", Decimal),
        ("avg_exit_price", Decimal),
        ("realized_pnl", Decimal),
        ("unrealized_pnl", Decimal),
        ("fees", Decimal),
        ("mark_price", Decimal),
        ("return_percentage", Decimal),
        ("seq_opened", Integer),
        ("time_opened", Time),
        ("seq_closed", Integer),
        ("time_closed", Time),
    ];
    let positions = &analysis.ledger.positions;
    let rows = positions.open.values().chain(&positions.closed).map(position_row).collect();
    Table { columns, rows }
}

fn position_row(position: &Position) -> Vec<Value> {
    let cost = position.cost_opened.get().abs();
    let return_percentage = (!cost.is_zero())
        .then(|| position.realized_pnl.get().checked_div(cost)?.checked_mul(Decimal::ONE_HUNDRED))
        .flatten();
    vec![
        text(&position.position_id),
        text(&position.symbol),
        word(&position.side),
        word(&position.status),
        Value::Decimal(position.quantity.get()),
        Value::Decimal(position.quantity_opened.get()),
        position.price_entry_average().into(),
        position.price_exit_average().into(),
        Value::Decimal(position.realized_pnl.get()),
        Value::Decimal(position.unrealized_pnl.get()),
        Value::Decimal(position.fees.get()),
        Value::Decimal(position.price_mark.get()),
        return_percentage.into(),
        seq(position.seq_opened),
        Value::Time(position.time_opened),
        position.seq_closed.map_or(Value::Null, seq),
        position.time_closed.map_or(Value::Null, Value::Time),
    ]
}

fn equity_table(points: &[EquityPoint]) -> Table {
    use Kind::*;
    let columns = vec![
        ("seq", Integer),
        ("time", Time),
        ("equity", Decimal),
        ("equity_peak", Decimal),
        ("drawdown_percentage", Decimal),
        ("realized_pnl", Decimal),
        ("unrealized_pnl", Decimal),
        ("exposure_gross", Decimal),
    ];
    let rows = points
        .iter()
        .map(|point| {
            vec![
                seq(point.seq),
                Value::Time(point.time),
                Value::Decimal(point.equity.get()),
                Value::Decimal(point.equity_peak.get()),
                Value::Decimal(point.drawdown_percentage),
                Value::Decimal(point.realized_pnl.get()),
                Value::Decimal(point.unrealized_pnl.get()),
                Value::Decimal(point.exposure_gross.get()),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// `1970-01-01` + `day` days.
pub fn date_of_day(day: i64) -> String {
    DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|time| time.date_naive())
        .unwrap_or(NaiveDate::MIN)
        .to_string()
}

fn returns_table(analysis: &Analysis) -> Table {
    use Kind::*;
    let columns = vec![("date", Text), ("equity_close", Decimal), ("pnl", Decimal), ("return", Decimal)];
    let rows = analysis
        .days
        .iter()
        .map(|day| {
            vec![
                Value::Text(date_of_day(day.day)),
                Value::Decimal(day.equity_close.get()),
                Value::Decimal(day.pnl.get()),
                Value::Decimal(day.day_return),
            ]
        })
        .collect();
    Table { columns, rows }
}

fn events_table(envelopes: &[Envelope]) -> Table {
    use Kind::*;
    let columns = vec![
        ("seq", Integer),
        ("event_id", Text),
        ("time", Time),
        ("time_recorded", Time),
        ("correlation_seq", Integer),
        ("causation_seq", Integer),
        ("type", Text),
        ("summary", Text),
        ("event", Text),
        ("hash", Text),
    ];
    let rows = envelopes
        .iter()
        .map(|envelope| {
            vec![
                seq(envelope.seq),
                text(envelope.event_id),
                Value::Time(envelope.time_event),
                Value::Time(envelope.time_recorded),
                seq(envelope.correlation_seq),
                envelope.causation_seq.map_or(Value::Null, seq),
                Value::Text(envelope.event.name().to_owned()),
                Value::Text(crate::describe::summary(&envelope.event)),
                serde_json::to_string(&envelope.event).map_or(Value::Null, Value::Text),
                Value::Text(envelope.hash.to_hex()),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// Writes one table, or a table in parts (`events` streams the journal in
/// chunks): CSV with one header, or Parquet with one schema, fixed by the
/// first part.
pub struct TableWriter<W: Write + Send> {
    format: ExportFormat,
    out: Option<W>,
    csv: Option<csv::Writer<W>>,
    parquet: Option<parquet::arrow::ArrowWriter<W>>,
    rows: u64,
}

impl<W: Write + Send> std::fmt::Debug for TableWriter<W> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("TableWriter").field("format", &self.format).field("rows", &self.rows).finish()
    }
}

fn parquet_error(error: &dyn std::fmt::Display) -> ExportError {
    ExportError::Parquet(error.to_string())
}

impl<W: Write + Send> TableWriter<W> {
    pub fn new(format: ExportFormat, out: W) -> TableWriter<W> {
        TableWriter { format, out: Some(out), csv: None, parquet: None, rows: 0 }
    }

    /// Appends `table`'s rows (its columns must be those of the first part).
    pub fn write(&mut self, table: &Table) -> Result<(), ExportError> {
        self.rows += table.rows.len() as u64;
        match self.format {
            ExportFormat::Csv => self.write_csv(table),
            ExportFormat::Parquet => self.write_parquet(table),
        }
    }

    /// Flushes and closes; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, ExportError> {
        if self.csv.is_none() && self.parquet.is_none() {
            // Nothing written yet: an empty table still gets its header.
            self.write(&Table { columns: Vec::new(), rows: Vec::new() })?;
        }
        if let Some(mut writer) = self.csv.take() {
            writer.flush()?;
        }
        if let Some(writer) = self.parquet.take() {
            writer.close().map_err(|error| parquet_error(&error))?;
        }
        Ok(self.rows)
    }

    /// CSV with a header; decimals as exact strings, times RFC 3339 with `Z`.
    fn write_csv(&mut self, table: &Table) -> Result<(), ExportError> {
        if self.csv.is_none() {
            if let Some(out) = self.out.take() {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(table.columns.iter().map(|(name, _)| *name))?;
                self.csv = Some(writer);
            }
        }
        let Some(writer) = self.csv.as_mut() else { return Ok(()) };
        for row in &table.rows {
            writer.write_record(row.iter().map(|value| match value {
                Value::Null => String::new(),
                Value::Text(text) => text.clone(),
                Value::Integer(number) => number.to_string(),
                Value::Decimal(number) => number.normalize().to_string(),
                Value::Time(time) => time.to_string(),
                Value::Boolean(flag) => flag.to_string(),
            }))?;
        }
        Ok(())
    }

    /// Parquet (snappy), row groups of at most 64k rows: text as UTF-8,
    /// integers as Int64, decimals as Decimal128(38, s) where s is the
    /// column's largest scale (every value exact), times as nanosecond UTC
    /// timestamps.
    fn write_parquet(&mut self, table: &Table) -> Result<(), ExportError> {
        let batch = record_batch(table)?;
        if self.parquet.is_none() {
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .set_max_row_group_row_count(Some(65_536))
                .build();
            let Some(out) = self.out.take() else { return Ok(()) };
            let writer = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(properties))
                .map_err(|error| parquet_error(&error))?;
            self.parquet = Some(writer);
        }
        let Some(writer) = self.parquet.as_mut() else { return Ok(()) };
        writer.write(&batch).map_err(|error| parquet_error(&error))
    }
}

fn record_batch(table: &Table) -> Result<RecordBatch, ExportError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (index, (name, kind)) in table.columns.iter().enumerate() {
        let cells = table.rows.iter().map(|row| row.get(index).unwrap_or(&Value::Null));
        let (data_type, array) = column_array(name, *kind, cells)?;
        fields.push(Field::new(*name, data_type, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|error| parquet_error(&error))
}

/// Writes one whole table.
pub fn write_table(table: &Table, format: ExportFormat, out: impl Write + Send) -> Result<u64, ExportError> {
    let mut writer = TableWriter::new(format, out);
    writer.write(table)?;
    writer.finish()
}

fn column_array<'a>(
    name: &'static str,
    kind: Kind,
    cells: impl Iterator<Item = &'a Value> + Clone,
) -> Result<(DataType, ArrayRef), ExportError> {
    Ok(match kind {
        Kind::Text => {
            let mut builder = StringBuilder::new();
            cells.for_each(|cell| match cell {
                Value::Text(text) => builder.append_value(text),
                _ => builder.append_null(),
            });
            (DataType::Utf8, Arc::new(builder.finish()))
        }
        Kind::Integer => {
            let mut builder = Int64Builder::new();
            cells.for_each(|cell| {
                builder.append_option(if let Value::Integer(number) = cell { Some(*number) } else { None })
            });
            (DataType::Int64, Arc::new(builder.finish()))
        }
        Kind::Boolean => {
            let mut builder = BooleanBuilder::new();
            cells.for_each(|cell| {
                builder.append_option(if let Value::Boolean(flag) = cell { Some(*flag) } else { None })
            });
            (DataType::Boolean, Arc::new(builder.finish()))
        }
        Kind::Time => {
            let mut builder = TimestampNanosecondBuilder::new().with_timezone("UTC");
            cells.for_each(|cell| {
                builder.append_option(if let Value::Time(time) = cell { Some(time.unix_nanos()) } else { None })
            });
            (DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), Arc::new(builder.finish()))
        }
        Kind::Decimal => decimal_array(name, cells)?,
    })
}

const DECIMAL_PRECISION: u8 = 38;

fn decimal_array<'a>(
    name: &'static str,
    cells: impl Iterator<Item = &'a Value> + Clone,
) -> Result<(DataType, ArrayRef), ExportError> {
    // Normalizing (dropping trailing zeros) is exact, so the largest
    // normalized scale holds every value of the column without rounding.
    let decimals =
        cells
            .clone()
            .filter_map(|cell| if let Value::Decimal(number) = cell { Some(number.normalize()) } else { None });
    let scale = decimals.map(|number| number.scale()).max().unwrap_or(0);
    let limit = 10_i128.pow(u32::from(DECIMAL_PRECISION));
    let mut builder = Decimal128Builder::new();
    for cell in cells {
        let Value::Decimal(number) = cell else {
            builder.append_null();
            continue;
        };
        let number = number.normalize();
        let mantissa = 10_i128
            .checked_pow(scale.saturating_sub(number.scale()))
            .and_then(|factor| number.mantissa().checked_mul(factor))
            .filter(|mantissa| mantissa.abs() < limit)
            .ok_or(ExportError::DecimalRange { column: name, value: number, scale })?;
        builder.append_value(mantissa);
    }
    // rust_decimal scales are at most 28, so this always fits an i8.
    let scale = i8::try_from(scale).unwrap_or(i8::MAX);
    let array = builder
        .finish()
        .with_precision_and_scale(DECIMAL_PRECISION, scale)
        .map_err(|error| ExportError::Parquet(error.to_string()))?;
    Ok((DataType::Decimal128(DECIMAL_PRECISION, scale), Arc::new(array)))
}
