//! Each command: read its arguments, call the library, print the result.

use super::output::{self, verdict_text, OutputFormat};
use super::{
    AuditArgs, Command, DemoArgs, DurabilityArg, EventsArgs, ExplainArgs, ExportArgs, RecordArgs, ReplayArgs,
    ReportArgs, StatsArgs,
};
use crate::audit::{self, Divergence, Verdict};
use crate::config::Config;
use crate::explain::{self, Subject};
use crate::export;
use crate::input::{self, fills, signals, ticks, LoadError, TimedInput};
use crate::record::{self, Recording};
use crate::replay::{self, At};
use crate::report;
use crate::strategy::{SmaCross, SmaCrossSpec};
use clap::CommandFactory;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tradeledger_events::{Durability, Envelope, Journal, JournalOptions, Seq, Symbol, Timestamp};
use tradeledger_projections::analysis::Analysis;
use tradeledger_projections::stats::{self, Statistics, StatsOptions};
use tradeledger_projections::view::LedgerView;

/// A failure to report on one line: what failed and why.
#[derive(Debug)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(error: E) -> Self {
        CliError(error.to_string())
    }
}

fn fail(message: impl Into<String>) -> CliError {
    CliError(message.into())
}

pub(super) fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Record(args) => record_command(&args),
        Command::Replay(args) => replay_command(&args),
        Command::Audit(args) => audit_command(&args),
        Command::Events(args) => events_command(&args),
        Command::Explain(args) => explain_command(&args),
        Command::Export(args) => export_command(&args),
        Command::Stats(args) => stats_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Demo(args) => demo_command(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut super::Cli::command(), "tradeledger", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints `text` to standard output; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(format!("could not start the async runtime: {error}")))
}

fn record_command(args: &RecordArgs) -> Result<ExitCode, CliError> {
    if args.ticks.is_empty() && args.signals.is_empty() && args.fills.is_empty() {
        return Err(fail("record needs at least one input: --ticks FILE, --signals FILE|- or --fills FILE"));
    }
    let strategy = match &args.strategy {
        Some(_) if args.ticks.is_empty() => {
            return Err(fail("--strategy runs on ticks; give it a feed with --ticks FILE"))
        }
        Some(spec) => Some(SmaCross::new(spec.parse::<SmaCrossSpec>()?)),
        None => None,
    };
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let inputs = load_inputs(args)?;
    let durability = match args.durability {
        DurabilityArg::Durable => Durability::Durable,
        DurabilityArg::Buffered => Durability::Buffered,
    };
    let recording = Recording {
        journal_dir: &args.journal,
        config,
        inputs,
        strategy,
        durability,
        timer: args.timer.0,
        pins: args.pin_cpus,
    };
    let (summary, seconds) = record_with_progress(recording)?;
    print(&output::record_summary(&summary, &args.journal, seconds))?;
    Ok(ExitCode::SUCCESS)
}

fn load_inputs(args: &RecordArgs) -> Result<Vec<TimedInput>, CliError> {
    let symbol =
        args.symbol.as_deref().map(Symbol::try_from).transpose().map_err(|error| fail(format!("--symbol: {error}")))?;
    let tick_options =
        ticks::TickOptions { format: args.tick_format, symbol, bars: args.bars, skip_bad_rows: args.skip_bad_rows };
    let mut loaded = Vec::new();
    for path in &args.ticks {
        loaded.push(ticks::load_ticks(path, &tick_options)?);
    }
    for path in &args.fills {
        loaded.push(fills::load_fills(path, args.skip_bad_rows)?);
    }
    for path in &args.signals {
        loaded.push(signals::load_signals(path, args.skip_bad_rows)?);
    }
    let skipped: u64 = loaded.iter().map(|file| file.skipped).sum();
    if skipped > 0 {
        eprintln!("skipped {skipped} bad rows; each is recorded as an InputRejected event");
    }
    Ok(input::merge(loaded))
}

fn record_with_progress(recording: Recording<'_>) -> Result<(record::RecordSummary, f64), CliError> {
    let bar = ProgressBar::with_draw_target(Some(recording.inputs.len() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} recording [{bar:40}] {pos}/{len} inputs, {per_sec}, eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let started = Instant::now();
    let summary = runtime()?.block_on(record::record(recording, |handled| bar.set_position(handled)));
    bar.finish_and_clear();
    Ok((summary?, started.elapsed().as_secs_f64()))
}

fn open_read_only(dir: &Path) -> Result<Journal, CliError> {
    if !dir.exists() {
        return Err(fail(format!(
            "{} does not exist; give the folder of a journal made by `tradeledger record`",
            dir.display()
        )));
    }
    Ok(Journal::open(dir, JournalOptions::read_only())?)
}

/// Prints `value` as JSON or YAML, or as the table `table` draws of it.
fn print_as<T: Serialize>(value: &T, format: OutputFormat, table: impl FnOnce(&T) -> String) -> Result<(), CliError> {
    match format {
        OutputFormat::Table => print(&table(value)),
        format => print(&(output::serialized(value, format).map_err(fail)? + "\n")),
    }
}

fn replay_command(args: &ReplayArgs) -> Result<ExitCode, CliError> {
    let journal = open_read_only(&args.journal)?;
    let ledger = replay::ledger_at(&journal, args.at.unwrap_or(At::Head))?;
    journal.close()?;
    print_as(&LedgerView::of(&ledger), args.format, output::ledger_tables)?;
    Ok(ExitCode::SUCCESS)
}

fn audit_command(args: &AuditArgs) -> Result<ExitCode, CliError> {
    open_read_only(&args.journal)?.close()?;
    let verdict = runtime()?.block_on(audit::audit(&args.journal))?;
    print_as(&AuditReport::of(&verdict), args.format, |_| audit_text(&args.journal, &verdict))?;
    Ok(if verdict.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn audit_text(dir: &Path, verdict: &Verdict) -> String {
    let dir = dir.display();
    match verdict {
        Verdict::Clean { events, inputs, decisions } => format!(
            "{}: {dir}: {events} events; the hash chain verifies and re-running {inputs} inputs reproduces all {decisions} decisions\n",
            verdict_text("audit OK", true)
        ),
        Verdict::Damaged(fault) => {
            format!("{}: {dir}: the journal is damaged at {fault}\n", verdict_text("audit FAILED", false))
        }
        Verdict::Unfoldable { seq, reason } => format!(
            "{}: {dir}: seq {seq} cannot be folded: {reason}\n",
            verdict_text("audit FAILED", false)
        ),
        Verdict::Diverged(divergence) => format!(
            "{}: {dir}: the recorded decision at seq {} differs from the one re-derived from the recorded inputs\n{}",
            verdict_text("audit FAILED", false),
            divergence.seq,
            divergence_diff(divergence)
        ),
    }
}

/// The two envelopes as JSON, line by line: `-` recorded only, `+`
/// re-derived only, two spaces for lines both have.
fn divergence_diff(divergence: &Divergence) -> String {
    let lines = |envelope: &Option<Envelope>| -> Vec<String> {
        envelope.as_ref().map_or_else(
            || vec!["(nothing)".to_owned()],
            |envelope| {
                serde_json::to_string_pretty(&EventLine::of(envelope))
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| !line.contains("\"event_id\"") && !line.contains("\"hash\""))
                    .map(str::to_owned)
                    .collect()
            },
        )
    };
    let (recorded, rederived) = (lines(&divergence.recorded), lines(&divergence.rederived));
    let mut out = String::from("--- recorded\n+++ re-derived\n");
    for line in &recorded {
        let marker = if rederived.contains(line) { ' ' } else { '-' };
        out.push_str(&format!("{marker} {line}\n"));
    }
    for line in rederived.iter().filter(|line| !recorded.contains(line)) {
        out.push_str(&format!("+ {line}\n"));
    }
    if let Some(error) = &divergence.rerun_error {
        out.push_str(&format!("the re-run stopped early: {error}\n"));
    }
    out
}

/// The audit verdict for `--format json|yaml`.
#[derive(Debug, Serialize)]
struct AuditReport {
    clean: bool,
    verdict: String,
    seq: Option<Seq>,
    recorded: Option<EventLine>,
    rederived: Option<EventLine>,
}

impl AuditReport {
    fn of(verdict: &Verdict) -> AuditReport {
        let (seq, recorded, rederived) = match verdict {
            Verdict::Clean { .. } => (None, None, None),
            Verdict::Damaged(fault) => (Some(fault.seq), None, None),
            Verdict::Unfoldable { seq, .. } => (Some(*seq), None, None),
            Verdict::Diverged(divergence) => (
                Some(divergence.seq),
                divergence.recorded.as_ref().map(EventLine::of),
                divergence.rederived.as_ref().map(EventLine::of),
            ),
        };
        let text = match verdict {
            Verdict::Clean { events, inputs, decisions } => {
                format!("clean: {events} events, {inputs} inputs, {decisions} decisions reproduced")
            }
            Verdict::Damaged(fault) => format!("damaged at {fault}"),
            Verdict::Unfoldable { seq, reason } => format!("seq {seq} cannot be folded: {reason}"),
            Verdict::Diverged(divergence) => format!("diverged at seq {}", divergence.seq),
        };
        AuditReport { clean: verdict.is_clean(), verdict: text, seq, recorded, rederived }
    }
}

/// One event as printed by `events` (a JSON line) and in audit diffs.
#[derive(Debug, Serialize)]
struct EventLine {
    seq: Seq,
    event_id: String,
    time: Timestamp,
    time_recorded: Timestamp,
    correlation_seq: Seq,
    causation_seq: Option<Seq>,
    #[serde(rename = "type")]
    event_type: &'static str,
    summary: String,
    event: tradeledger_events::Event,
    hash: String,
}

impl EventLine {
    fn of(envelope: &Envelope) -> EventLine {
        EventLine {
            seq: envelope.seq,
            event_id: envelope.event_id.to_string(),
            time: envelope.time_event,
            time_recorded: envelope.time_recorded,
            correlation_seq: envelope.correlation_seq,
            causation_seq: envelope.causation_seq,
            event_type: envelope.event.name(),
            summary: crate::describe::summary(&envelope.event),
            event: envelope.event.clone(),
            hash: envelope.hash.to_hex(),
        }
    }
}

fn events_command(args: &EventsArgs) -> Result<ExitCode, CliError> {
    let journal = open_read_only(&args.journal)?;
    let types: Vec<String> = args.types.iter().map(|name| name.trim().to_ascii_lowercase()).collect();
    let symbol =
        args.symbol.as_deref().map(Symbol::try_from).transpose().map_err(|error| fail(format!("--symbol: {error}")))?;
    let correlation = args.correlation.as_deref().map(|text| correlation_seq(&journal, text)).transpose()?;
    let to = args.to.map_or(u64::MAX, |to| to);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for envelope in journal.iter_from(Seq::new(args.from.unwrap_or(1))) {
        let envelope = envelope?;
        if envelope.seq.get() > to {
            break;
        }
        let wanted = (types.is_empty() || types.contains(&envelope.event.name().to_ascii_lowercase()))
            && symbol.as_ref().is_none_or(|symbol| envelope.event.symbol() == Some(symbol))
            && correlation.is_none_or(|seq| envelope.correlation_seq == seq);
        if wanted {
            let line = serde_json::to_string(&EventLine::of(&envelope))?;
            if let Err(error) = writeln!(out, "{line}") {
                return if error.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(ExitCode::SUCCESS)
                } else {
                    Err(error.into())
                };
            }
        }
    }
    match out.flush() {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => return Err(error.into()),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// A correlation given as a seq, or as the event id of the input that started it.
fn correlation_seq(journal: &Journal, text: &str) -> Result<Seq, CliError> {
    if let Ok(seq) = text.parse::<u64>() {
        return Ok(Seq::new(seq));
    }
    for envelope in journal.iter_from(Seq::FIRST) {
        let envelope = envelope?;
        if envelope.event_id.to_string().eq_ignore_ascii_case(text) {
            return Ok(envelope.seq);
        }
    }
    Err(fail(format!("--correlation {text}: no event of this journal has that seq or event id")))
}

fn explain_command(args: &ExplainArgs) -> Result<ExitCode, CliError> {
    let id_error =
        |flag: &'static str| move |error: tradeledger_events::InvalidValue| fail(format!("--{flag}: {error}"));
    let subject = match (&args.subject.signal, &args.subject.order, &args.subject.position) {
        (Some(id), _, _) => Subject::Signal(id.as_str().try_into().map_err(id_error("signal"))?),
        (_, Some(id), _) => Subject::Order(id.as_str().try_into().map_err(id_error("order"))?),
        (_, _, Some(id)) => Subject::Position(id.as_str().try_into().map_err(id_error("position"))?),
        _ => return Err(fail("explain needs one of --signal ID, --order ID or --position ID")),
    };
    let journal = open_read_only(&args.journal)?;
    let explanation = explain::explain(&journal, &subject)?;
    journal.close()?;
    print_as(&explanation, args.format, explanation_table)?;
    Ok(ExitCode::SUCCESS)
}

fn explanation_table(explanation: &explain::Explanation) -> String {
    let mut steps = output::table(&["seq", "time", "caused by", "event", "what"]);
    for step in &explanation.steps {
        steps.add_row(vec![
            step.seq.to_string(),
            step.time.to_string(),
            step.causation_seq.map_or_else(|| "input".to_owned(), |seq| seq.to_string()),
            step.event_type.to_owned(),
            step.summary.clone(),
        ]);
    }
    let mut positions =
        output::table(&["position", "symbol", "status", "quantity", "avg entry", "avg exit", "realized", "fees"]);
    for position in &explanation.positions {
        positions.add_row(vec![
            position.id.to_string(),
            position.symbol.to_string(),
            format!("{:?}", position.status).to_lowercase(),
            position.quantity.to_string(),
            position.avg_entry_price.map_or_else(|| "-".into(), |price| price.to_string()),
            position.avg_exit_price.map_or_else(|| "-".into(), |price| price.to_string()),
            position.realized_pnl.to_string(),
            position.fees.to_string(),
        ]);
    }
    format!("{}\n{steps}\n\nPositions\n{positions}\n", explanation.subject)
}

/// The bundled real trades (see fixtures/README.md), compiled in so the
/// demo runs from any folder.
const DEMO_TRADES: &[u8] = include_bytes!("../../fixtures/binance_spot_btcusdt_trades.csv.gz");
pub const DEMO_STRATEGY: &str = "sma-cross:fast=20,slow=50,qty=0.5,stop=0.05,take=0.1";

fn demo_command(args: &DemoArgs) -> Result<ExitCode, CliError> {
    let scratch = tempfile::tempdir()?;
    let dir = match &args.journal {
        Some(dir) => {
            crate::demo::prepare_demo_folder(dir)?;
            dir.clone()
        }
        None => scratch.path().join("journal"),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(DEMO_TRADES), &mut text)
        .map_err(|error| fail(format!("the bundled demo trades could not be decompressed: {error}")))?;
    let options = ticks::TickOptions {
        format: Some(ticks::TickFormat::BinanceTrades),
        symbol: Some(Symbol::try_from("BTCUSDT")?),
        ..ticks::TickOptions::default()
    };
    let name = Path::new("binance_spot_btcusdt_trades.csv.gz");
    let inputs = input::merge(vec![ticks::parse_ticks(&text, name, &options).map_err(demo_input_error)?]);
    eprintln!("recording {} real Binance BTCUSDT trades with {DEMO_STRATEGY} ...", inputs.len());
    let strategy = Some(SmaCross::new(DEMO_STRATEGY.parse::<SmaCrossSpec>()?));
    let recording = Recording {
        journal_dir: &dir,
        config: Config::default(),
        inputs,
        strategy,
        durability: Durability::Durable,
        timer: Some(crate::engine::RISK_MONITOR_PERIOD),
        pins: None,
    };
    let (summary, seconds) = record_with_progress(recording)?;
    print(&output::record_summary(&summary, &dir, seconds))?;
    let journal = open_read_only(&dir)?;
    let view = LedgerView::of(&replay::ledger_at(&journal, At::Head)?);
    journal.close()?;
    print(&format!("\n{}\n", output::ledger_tables(&view)))?;
    let verdict = runtime()?.block_on(audit::audit(&dir))?;
    print(&format!("\n{}", audit_text(&dir, &verdict)))?;
    if args.journal.is_none() {
        eprintln!("(the journal was in a temporary folder; pass --journal DIR to keep it for replay, audit, events and explain)");
    }
    Ok(if verdict.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn demo_input_error(error: LoadError) -> CliError {
    fail(format!("the bundled demo trades could not be read: {error}"))
}

/// Folds the journal in `dir` into its analysis.
fn analyze(dir: &Path) -> Result<Analysis, CliError> {
    let journal = open_read_only(dir)?;
    let mut analysis = Analysis::default();
    for envelope in journal.iter_from(Seq::FIRST) {
        analysis.apply(&envelope?)?;
    }
    analysis.finish();
    journal.close()?;
    Ok(analysis)
}

/// Events exported per chunk: the events export streams the journal.
const EXPORT_EVENTS_CHUNK: usize = 65_536;

fn export_command(args: &ExportArgs) -> Result<ExitCode, CliError> {
    if args.every.is_some() && args.what != export::What::Equity {
        return Err(fail("--every resamples the equity curve; use it with --what equity"));
    }
    if args.format == export::ExportFormat::Parquet && args.out.is_none() {
        return Err(fail("Parquet is binary: give a file with --out FILE.parquet"));
    }
    let outcome = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|error| fail(format!("could not create {}: {error}", path.display())))?;
            let rows = write_export(args, std::io::BufWriter::new(file))?;
            eprintln!("wrote {rows} rows to {}", path.display());
            Ok(rows)
        }
        None => write_export(args, std::io::BufWriter::new(std::io::stdout())),
    };
    match outcome {
        Err(CliError(message)) if message.contains("Broken pipe") => Ok(ExitCode::SUCCESS),
        other => other.map(|_| ExitCode::SUCCESS),
    }
}

fn write_export(args: &ExportArgs, out: impl std::io::Write + Send) -> Result<u64, CliError> {
    let mut writer = export::TableWriter::new(args.format, out);
    if args.what == export::What::Events {
        // Events need no fold: stream the journal, a chunk at a time.
        let journal = open_read_only(&args.journal)?;
        let mut chunk = Vec::with_capacity(EXPORT_EVENTS_CHUNK);
        let empty = Analysis::default();
        for envelope in journal.iter_from(Seq::FIRST) {
            chunk.push(envelope?);
            if chunk.len() == EXPORT_EVENTS_CHUNK {
                writer.write(&export::table(args.what, &empty, &chunk, None))?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            writer.write(&export::table(args.what, &empty, &chunk, None))?;
        }
        journal.close()?;
    } else {
        let analysis = analyze(&args.journal)?;
        writer.write(&export::table(args.what, &analysis, &[], args.every.map(|every| every.0)))?;
    }
    Ok(writer.finish()?)
}

fn stats_of(
    dir: &Path,
    annualization: u32,
    risk_free: rust_decimal::Decimal,
) -> Result<(Analysis, Statistics), CliError> {
    let analysis = analyze(dir)?;
    let statistics = stats::statistics(&analysis, &StatsOptions { annualization, risk_free });
    Ok((analysis, statistics))
}

fn stats_command(args: &StatsArgs) -> Result<ExitCode, CliError> {
    let (_, statistics) = stats_of(&args.journal, args.annualization, args.risk_free)?;
    print_as(&statistics, args.format, output::statistics_table)?;
    Ok(ExitCode::SUCCESS)
}

fn report_command(args: &ReportArgs) -> Result<ExitCode, CliError> {
    let (analysis, statistics) = stats_of(&args.journal, args.annualization, args.risk_free)?;
    let title = format!("tradeledger report: {}", args.journal.display());
    let page = report::html(&title, &analysis, &statistics);
    std::fs::write(&args.out, page)
        .map_err(|error| fail(format!("could not write {}: {error}", args.out.display())))?;
    eprintln!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
