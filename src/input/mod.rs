//! Reading the outside world's files into engine inputs: tick feeds (four
//! formats), fills reported by an outside venue (CSV) and signals (JSON
//! lines). Every bad row is an `InputError` naming the file, line, column and
//! field; with `skip_bad_rows` it becomes a recorded `InputRejected` instead.
//!
//! Inputs are read whole before anything is recorded, so a bad row stops a
//! run before its first event and a fixed file can simply be recorded again.
//! Several files are merged by time; at equal times file order is kept, and
//! ticks come before fills before signals.

pub mod fills;
mod row;
pub mod signals;
pub mod ticks;

use flate2::read::MultiGzDecoder;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use tradeledger_events::{Event, InputRejected, InputSource, Timestamp};

/// One bad row (or line) of an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    /// 1-based, as an editor shows it.
    pub line: u64,
    /// 1-based field number (CSV) or character column (JSON), when known.
    pub column: Option<u64>,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(formatter, ":{column}")?;
        }
        write!(formatter, ": {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for InputError {}

/// Why an input file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{0} (pass --skip-bad-rows to record it as rejected and go on)")]
    Row(InputError),
}

/// Which kind of input a row is; at equal times, the lower kind goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    Tick,
    Fill,
    Signal,
}

impl InputKind {
    fn source(self) -> InputSource {
        match self {
            InputKind::Tick => InputSource::Tick,
            InputKind::Fill => InputSource::Fill,
            InputKind::Signal => InputSource::Signal,
        }
    }
}

/// One input ready for the engine, with what it takes to merge it in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedInput {
    pub time: Timestamp,
    pub kind: InputKind,
    pub event: Event,
}

/// What one file gave: its inputs in file order, and the rows skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    pub inputs: Vec<TimedInput>,
    pub skipped: u64,
}

/// Collects a file's rows, turning bad rows into errors or, when skipping,
/// into `InputRejected` inputs dated at the last good row before them.
#[derive(Debug)]
pub(crate) struct Collector {
    kind: InputKind,
    skip_bad_rows: bool,
    last_time: Timestamp,
    loaded: Loaded,
}

impl Collector {
    pub(crate) fn new(kind: InputKind, skip_bad_rows: bool) -> Collector {
        Collector { kind, skip_bad_rows, last_time: Timestamp::default(), loaded: Loaded::default() }
    }

    pub(crate) fn push(&mut self, time: Timestamp, event: Event) {
        self.last_time = time;
        self.loaded.inputs.push(TimedInput { time, kind: self.kind, event });
    }

    pub(crate) fn reject(&mut self, error: InputError) -> Result<(), LoadError> {
        if !self.skip_bad_rows {
            return Err(LoadError::Row(error));
        }
        tracing::warn!(%error, "skipped a bad row");
        let rejected = InputRejected {
            source: self.kind.source(),
            origin: format!("{}:{}", error.file, error.line),
            field: error.field,
            reason: error.reason,
        };
        self.loaded.skipped += 1;
        self.loaded.inputs.push(TimedInput {
            time: self.last_time,
            kind: self.kind,
            event: Event::InputRejected(rejected),
        });
        Ok(())
    }

    pub(crate) fn finish(self) -> Loaded {
        self.loaded
    }
}

/// Merges files' inputs by time. The sort is stable and keyed on (time,
/// kind), so at equal times each file's order and the files' order are kept.
pub fn merge(files: Vec<Loaded>) -> Vec<TimedInput> {
    let mut inputs: Vec<TimedInput> = files.into_iter().flat_map(|loaded| loaded.inputs).collect();
    inputs.sort_by_key(|input| (input.time, input.kind));
    inputs
}

/// Opens a file for reading, decompressing gzip (by its magic bytes, so a
/// `.gz` suffix is not required) transparently.
pub fn open_text(path: &Path) -> Result<Box<dyn BufRead>, LoadError> {
    let io = |source| LoadError::Io { path: path.to_path_buf(), source };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let is_gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if is_gzip { Box::new(BufReader::new(MultiGzDecoder::new(file))) } else { Box::new(file) })
}

/// Reads a whole (possibly gzipped) file as text.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let mut text = String::new();
    open_text(path)?.read_to_string(&mut text).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    Ok(text)
}

/// The name errors use for a file: as the user gave it.
pub(crate) fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// A CSV reader that takes every row as it is (headers are ours to detect).
pub(crate) fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes())
}

/// The 1-based line a CSV record starts on.
pub(crate) fn record_line(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// A CSV read failure (bad UTF-8, a broken quote) as a row error.
pub(crate) fn csv_row_error(file: &str, error: &csv::Error) -> InputError {
    let line = error.position().map_or(0, csv::Position::line);
    InputError { file: file.to_owned(), line, column: None, field: "row".into(), reason: error.to_string() }
}
