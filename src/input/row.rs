//! One CSV row with the file and line it came from, so every parse failure
//! names file, line, column and field.

use super::InputError;
use rust_decimal::Decimal;
use std::str::FromStr;
use tradeledger_events::InvalidValue;

#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) record: &'a csv::StringRecord,
    pub(crate) file: &'a str,
    pub(crate) line: u64,
}

impl Row<'_> {
    pub(crate) fn error(&self, column: Option<usize>, field: &str, reason: impl Into<String>) -> InputError {
        InputError {
            file: self.file.to_owned(),
            line: self.line,
            column: column.map(|index| index as u64 + 1),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// The text of column `index` (0-based), which must be present and non-empty.
    pub(crate) fn text(&self, index: usize, field: &str) -> Result<&str, InputError> {
        match self.record.get(index) {
            Some(text) if !text.is_empty() => Ok(text),
            Some(_) => Err(self.error(Some(index), field, "is empty")),
            None => Err(self.error(None, field, format!("is missing (the row has {} columns)", self.record.len()))),
        }
    }

    /// Column `index` parsed as `T`, the error naming the column.
    pub(crate) fn parse<T>(&self, index: usize, field: &str) -> Result<T, InputError>
    where
        T: FromStr<Err = InvalidValue>,
    {
        let text = self.text(index, field)?;
        text.parse().map_err(|error: InvalidValue| self.error(Some(index), field, error.to_string()))
    }

    pub(crate) fn decimal(&self, index: usize, field: &str) -> Result<Decimal, InputError> {
        let text = self.text(index, field)?;
        parse_decimal(text).map_err(|reason| self.error(Some(index), field, reason))
    }

    /// An optional column: absent or empty is `None`.
    pub(crate) fn optional<T>(&self, index: Option<usize>, field: &str) -> Result<Option<T>, InputError>
    where
        T: FromStr<Err = InvalidValue>,
    {
        match index.and_then(|index| self.record.get(index).map(|text| (index, text))) {
            Some((index, text)) if !text.is_empty() => self.parse(index, field).map(Some),
            _ => Ok(None),
        }
    }
}

/// A decimal as written in a file: plain (`61837.63`) or scientific (`1e-3`).
pub(crate) fn parse_decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("`{text}` is not a decimal number"))
}

/// The index of the header column named `name` (case-insensitive).
pub(crate) fn column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|column| column.eq_ignore_ascii_case(name))
}
