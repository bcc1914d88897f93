//! The `tradeledger` command line: argument definitions (clap) and the
//! dispatch to each command. Data goes to standard output; messages, logs
//! and progress to standard error.

mod commands;
mod output;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

pub use output::OutputFormat;

const EXIT_CODES: &str = "Exit codes: 0 success; 1 a clean negative answer (audit found damage or divergence); \
2 a usage, input or I/O error.";

#[derive(Debug, Parser)]
#[command(
    name = "tradeledger",
    version,
    about = "An event-sourced trading ledger: record every order, fill and risk decision in a hash-chained journal, replay it, audit it.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// More log output on standard error (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine over ticks, signals and fills, recording every input and decision.
    #[command(after_help = "Examples:\n  tradeledger record --journal run1 --ticks trades.csv.gz --symbol BTCUSDT \
--strategy sma-cross:fast=20,slow=50,qty=0.01\n  tradeledger record --journal run1 --config limits.yaml --ticks ticks.csv --signals signals.jsonl\n  \
cat signals.jsonl | tradeledger record --journal run1 --signals -\n\n\
Inputs are read whole and checked before anything is recorded, then merged by time \
(at equal times: file order, ticks before fills before signals).")]
    Record(RecordArgs),
    /// Print the state (positions, orders, portfolio, risk) as of any event.
    #[command(
        after_help = "Examples:\n  tradeledger replay --journal run1\n  tradeledger replay --journal run1 --at 1200 --format json\n  \
tradeledger replay --journal run1 --at 2024-08-09T00:00:00Z --format yaml"
    )]
    Replay(ReplayArgs),
    /// Verify the hash chain, then re-run the recorded inputs and compare every decision.
    #[command(
        after_help = "Example:\n  tradeledger audit --journal run1\n\nExit code 0: clean; 1: damaged or divergent (the first bad seq and a diff are printed)."
    )]
    Audit(AuditArgs),
    /// Print events as JSON lines, for piping.
    #[command(after_help = "Examples:\n  tradeledger events --journal run1 --type OrderFilled,RiskCheckRejected\n  \
tradeledger events --journal run1 --from 100 --to 200 --symbol BTCUSDT | jq .summary")]
    Events(EventsArgs),
    /// The causal chain of one trade: signal, verdict, order, fills, position, exit.
    #[command(after_help = "Examples:\n  tradeledger explain --journal run1 --signal sma-1723161259313000000-50\n  \
tradeledger explain --journal run1 --order O57\n  tradeledger explain --journal run1 --position P60 --format json")]
    Explain(ExplainArgs),
    /// Export fills, orders, positions, the equity curve, daily returns or events as CSV or Parquet.
    #[command(after_help = "Examples:\n  tradeledger export --journal run1 --what fills --out fills.csv\n  \
tradeledger export --journal run1 --what equity --every 1h --format parquet --out equity.parquet\n  \
tradeledger export --journal run1 --what returns   # daily returns for QuantStats / pyfolio, to stdout")]
    Export(ExportArgs),
    /// Performance statistics: returns, volatility, Sharpe, Sortino, Calmar, drawdowns, trades.
    #[command(
        after_help = "Examples:\n  tradeledger stats --journal run1\n  tradeledger stats --journal run1 --annualization 252 --risk-free 0.04 --format json"
    )]
    Stats(StatsArgs),
    /// Write a self-contained HTML report: statistics, equity and drawdown charts, PnL per symbol, monthly returns, risk events.
    #[command(after_help = "Example:\n  tradeledger report --journal run1 --out run1.html")]
    Report(ReportArgs),
    /// Record the built-in strategy over the bundled real BTCUSDT trades, then replay and audit the journal.
    #[command(
        after_help = "Examples:\n  tradeledger demo\n  tradeledger demo --journal demo-journal   # keep it, then: tradeledger replay --journal demo-journal"
    )]
    Demo(DemoArgs),
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  tradeledger completions bash > ~/.local/share/bash-completion/completions/tradeledger"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DurabilityArg {
    /// Every commit is fsynced before the engine goes on.
    #[default]
    Durable,
    /// Commits are acknowledged from memory; fsynced on close.
    Buffered,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Journal folder; created if missing, appended to if not.
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    /// YAML limits and venue settings; without it the documented defaults apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Tick feed (CSV, optionally gzipped); may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub ticks: Vec<PathBuf>,
    /// Tick format; detected from the first line when not given.
    #[arg(long = "tick-format", visible_alias = "format", value_enum, value_name = "FORMAT")]
    pub tick_format: Option<crate::input::ticks::TickFormat>,
    /// Symbol for tick formats whose rows carry none (binance-trades, ohlcv).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Which ticks an OHLCV bar becomes.
    #[arg(long, value_enum, default_value_t)]
    pub bars: crate::input::ticks::BarTicks,
    /// Signals as JSON lines, or - for standard input; may be given more than once.
    #[arg(long, value_name = "FILE|-")]
    pub signals: Vec<PathBuf>,
    /// Fills from an outside venue (CSV time,symbol,side,quantity,price,fee[,fill_id,order_id]).
    #[arg(long, value_name = "FILE")]
    pub fills: Vec<PathBuf>,
    /// Built-in strategy run on the ticks, e.g. sma-cross:fast=20,slow=50,qty=0.01[,stop=0.5][,take=1][,short=true].
    #[arg(long, value_name = "SPEC")]
    pub strategy: Option<String>,
    /// Record bad rows as rejected inputs and go on, instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    #[arg(long, value_enum, default_value_t)]
    pub durability: DurabilityArg,
    /// The risk monitor's period in feed time (the source document's 30-second
    /// loop: daily breaker reset, stops at the last mark, breaker check), or off.
    #[arg(long, value_name = "INTERVAL|off", default_value = "30s")]
    pub timer: TimerArg,
    /// Run the engine on CPU ENGINE and the journal's threads on CPU STORAGE
    /// (Linux), so neither preempts the other: on two cores this is what
    /// brings the engine's p99 under 20 µs.
    #[arg(long, value_name = "ENGINE,STORAGE")]
    pub pin_cpus: Option<crate::affinity::CpuPins>,
}

/// `--timer`: an interval (s, m, h, d), or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerArg(pub Option<std::time::Duration>);

impl std::str::FromStr for TimerArg {
    type Err = String;

    fn from_str(text: &str) -> Result<TimerArg, String> {
        if text == "off" {
            return Ok(TimerArg(None));
        }
        let Interval(nanos) = text.parse().map_err(|error| format!("{error}, or off"))?;
        Ok(TimerArg(Some(std::time::Duration::from_nanos(nanos.unsigned_abs()))))
    }
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    /// A seq (e.g. 1200), or a time (RFC 3339, or ms:<epoch milliseconds>): the state after it.
    #[arg(long, value_name = "SEQ|TIME")]
    pub at: Option<crate::replay::At>,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    /// First seq to print.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Last seq to print.
    #[arg(long, value_name = "SEQ")]
    pub to: Option<u64>,
    /// Event types to print (e.g. OrderFilled); comma-separated or repeated.
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only events that name this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Only the chain started by this input: its seq or its event id.
    #[arg(long, value_name = "SEQ|EVENT_ID")]
    pub correlation: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "subject")]
pub struct ExplainSubject {
    #[arg(long, value_name = "ID")]
    pub signal: Option<String>,
    #[arg(long, value_name = "ID")]
    pub order: Option<String>,
    #[arg(long, value_name = "ID")]
    pub position: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    #[command(flatten)]
    pub subject: ExplainSubject,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    #[arg(long, value_enum)]
    pub what: crate::export::What,
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::export::ExportFormat,
    /// Output file; default standard output (CSV only).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --what equity: one point per bar of this length (e.g. 30s, 1m, 1h, 1d), at the bar's close.
    #[arg(long, value_name = "INTERVAL")]
    pub every: Option<Interval>,
}

/// A bar length: a whole number and a unit (s, m, h, d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub i64);

impl std::str::FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Interval, String> {
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (count, unit) = text.split_at(split);
        let seconds: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(format!("`{text}`: the unit is s, m, h or d (e.g. 1m, 4h, 1d)")),
        };
        count
            .parse::<i64>()
            .ok()
            .filter(|count| *count > 0)
            .and_then(|count| count.checked_mul(seconds)?.checked_mul(1_000_000_000))
            .map(Interval)
            .ok_or_else(|| format!("`{text}`: give a whole number above zero before the unit"))
    }
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Periods (days) per year: 365 for markets that trade every day, 252 for exchange days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub annualization: u32,
    /// Annual risk-free rate as a fraction (0.04 = 4 %).
    #[arg(long, default_value = "0", value_name = "RATE")]
    pub risk_free: rust_decimal::Decimal,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub annualization: u32,
    #[arg(long, default_value = "0", value_name = "RATE")]
    pub risk_free: rust_decimal::Decimal,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the journal in DIR (replaced on a re-run if the demo made it); default: a temporary folder.
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
}

/// Parses the arguments, runs the command and maps the outcome to an exit
/// code: 0 success, 1 a clean negative answer, 2 any error.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout (exit 0), errors to stderr.
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    init_logging(cli.verbose);
    // One line, never a backtrace. (sled 0.34 panics on some damaged files;
    // the journal turns that into an error, and this line says where.)
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|at| format!(" at {}:{}", at.file(), at.line())).unwrap_or_default();
        eprintln!("internal panic{location}: {}", panic_text(info.payload()));
    }));
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::colour_on_stderr())
        .try_init();
}
