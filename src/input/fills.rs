//! Fills reported by an outside venue: CSV
//! `time,symbol,side,quantity,price,fee[,fill_id,order_id]`, header optional.
//!
//! A fill without an id gets `<file name>:<line>`, so importing the same file
//! twice records the second copy as rejected duplicates instead of doubling
//! the positions. A fill without an order id belongs to order `external`.

use super::row::{column, Row};
use super::{csv_reader, csv_row_error, display_name, read_text, record_line, Collector, InputKind, LoadError, Loaded};
use std::path::Path;
use tradeledger_events::{Event, FillId, FillImported, Money, OrderId, Timestamp};

pub const EXTERNAL_ORDER: &str = "external";

const COLUMNS: [&str; 8] = ["time", "symbol", "side", "quantity", "price", "fee", "fill_id", "order_id"];

pub fn load_fills(path: &Path, skip_bad_rows: bool) -> Result<Loaded, LoadError> {
    parse_fills(&read_text(path)?, path, skip_bad_rows)
}

/// Reads fills from `text`; `path` names the file in errors and default ids.
pub fn parse_fills(text: &str, path: &Path, skip_bad_rows: bool) -> Result<Loaded, LoadError> {
    let file = display_name(path);
    let name = path.file_name().map_or_else(|| file.clone(), |name| name.to_string_lossy().into_owned());
    let mut collector = Collector::new(InputKind::Fill, skip_bad_rows);
    let mut columns: [Option<usize>; 8] = std::array::from_fn(Some);
    for (index, record) in csv_reader(text).records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                collector.reject(csv_row_error(&file, &error))?;
                continue;
            }
        };
        if index == 0 && record.get(0).is_some_and(|first| first.eq_ignore_ascii_case("time")) {
            let header: Vec<String> = record.iter().map(str::to_owned).collect();
            columns = COLUMNS.map(|name| column(&header, name));
            if let Some(missing) = COLUMNS[..6].iter().zip(&columns).find(|(_, index)| index.is_none()) {
                return Err(LoadError::Format {
                    path: path.to_path_buf(),
                    reason: format!("the fills header has no `{}` column (expected {})", missing.0, COLUMNS.join(",")),
                });
            }
            continue;
        }
        let row = Row { record: &record, file: &file, line: record_line(&record) };
        match fill_of(&row, &columns, &name) {
            Ok((time, fill)) => collector.push(time, Event::FillImported(fill)),
            Err(error) => collector.reject(error)?,
        }
    }
    Ok(collector.finish())
}

fn fill_of(
    row: &Row<'_>,
    columns: &[Option<usize>; 8],
    name: &str,
) -> Result<(Timestamp, FillImported), super::InputError> {
    // The first six are present: either positional or checked in the header.
    let at = |index: usize| columns[index].unwrap_or(index);
    let time: Timestamp = row.parse(at(0), "time")?;
    let fill_id = match row.optional::<FillId>(columns[6], "fill_id")? {
        Some(id) => id,
        None => default_fill_id(name, row.line).map_err(|reason| row.error(None, "fill_id", reason))?,
    };
    let order_id = match row.optional::<OrderId>(columns[7], "order_id")? {
        Some(id) => id,
        None => OrderId::try_from(EXTERNAL_ORDER).map_err(|error| row.error(None, "order_id", error.to_string()))?,
    };
    let fill = FillImported {
        fill_id,
        order_id,
        symbol: row.parse(at(1), "symbol")?,
        side: row.parse(at(2), "side")?,
        quantity: row.parse(at(3), "quantity")?,
        price: row.parse(at(4), "price")?,
        fee: Money::of(row.decimal(at(5), "fee")?),
        liquidity: None,
    };
    if fill.quantity.get().is_zero() {
        return Err(row.error(Some(at(3)), "quantity", "a fill must have a positive quantity"));
    }
    Ok((time, fill))
}

/// `<file name>:<line>`, or a short hash of the name when that is too long
/// for an id.
fn default_fill_id(name: &str, line: u64) -> Result<FillId, String> {
    let readable = format!("{name}:{line}");
    FillId::try_from(readable.as_str())
        .or_else(|_| {
            let digest = blake3::hash(name.as_bytes()).to_hex();
            FillId::try_from(format!("{}:{line}", &digest.as_str()[..16]).as_str())
        })
        .map_err(|error| error.to_string())
}
