//! How commands print: tables that fit the terminal, JSON, YAML; colour
//! only on a terminal and never under `NO_COLOR`.

use crate::record::RecordSummary;
use clap::ValueEnum;
use comfy_table::{presets, Cell, ContentArrangement, Table};
use rust_decimal::Decimal;
use serde::Serialize;
use std::io::IsTerminal;
use tradeledger_projections::view::LedgerView;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

/// Orders shown in a table; JSON and YAML always carry every one.
const TABLE_ORDERS_MAX: usize = 20;
const TABLE_RISK_EVENTS_MAX: usize = 10;
/// Closed positions shown in a table, after every open one.
const TABLE_CLOSED_POSITIONS_MAX: usize = 10;

/// A decimal for people: trailing zeros dropped. Averages are rounded to 8
/// places in tables only; JSON and YAML carry every digit.
fn amount(value: impl Into<Decimal>) -> String {
    value.into().normalize().to_string()
}

fn average(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.round_dp(8).normalize().to_string())
}

fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

pub(crate) fn colour_on_stderr() -> bool {
    colour_allowed() && std::io::stderr().is_terminal()
}

/// `text` in green (good) or red (bad) when standard output is a terminal.
pub(crate) fn verdict_text(text: &str, good: bool) -> String {
    if colour_allowed() && std::io::stdout().is_terminal() {
        format!("\x1b[1;{}m{text}\x1b[0m", if good { 32 } else { 31 })
    } else {
        text.to_owned()
    }
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.iter().map(Cell::new));
    table
}

/// Serializes `value` as pretty JSON or YAML.
pub(crate) fn serialized<T: Serialize>(value: &T, format: OutputFormat) -> Result<String, String> {
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(value).map_err(|error| error.to_string()),
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(|error| error.to_string()),
        OutputFormat::Table => Err("a table has no serialized form".into()),
    }
}

fn text<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// Plain words for serde's snake_case enum names (`long`, `take_profit`).
fn word<T: Serialize>(value: &T) -> String {
    crate::describe::word(value).unwrap_or_default()
}

pub(crate) fn ledger_tables(view: &LedgerView) -> String {
    let mut out = format!("State as of seq {}\n\nPositions", view.seq);
    let open = view.positions.iter().take_while(|position| position.seq_closed.is_none()).count();
    let closed_hidden = (view.positions.len() - open).saturating_sub(TABLE_CLOSED_POSITIONS_MAX);
    if closed_hidden > 0 {
        out.push_str(&format!(
            " (open ones and the last {TABLE_CLOSED_POSITIONS_MAX} of {} closed; --format json lists all)",
            view.positions.len() - open
        ));
    }
    let mut positions = table(&[
        "id",
        "symbol",
        "side",
        "status",
        "quantity",
        "avg entry",
        "avg exit",
        "mark",
        "realized",
        "unrealized",
        "fees",
    ]);
    let shown_positions = view.positions[..open].iter().chain(view.positions[open..].iter().skip(closed_hidden));
    for position in shown_positions {
        positions.add_row(vec![
            position.id.to_string(),
            position.symbol.to_string(),
            word(&position.side),
            word(&position.status),
            amount(position.quantity),
            average(position.avg_entry_price),
            average(position.avg_exit_price),
            amount(position.mark_price),
            amount(position.realized_pnl),
            amount(position.unrealized_pnl),
            amount(position.fees),
        ]);
    }
    out.push_str(&format!("\n{positions}\n\nOrders"));
    let shown = view.orders.len().saturating_sub(TABLE_ORDERS_MAX);
    if shown > 0 {
        out.push_str(&format!(" (the last {TABLE_ORDERS_MAX} of {}; --format json lists all)", view.orders.len()));
    }
    let mut orders =
        table(&["id", "signal", "symbol", "side", "type", "status", "quantity", "filled", "avg fill", "fees"]);
    for order in view.orders.iter().skip(shown) {
        orders.add_row(vec![
            order.id.to_string(),
            text(order.signal_id.as_ref()),
            order.symbol.to_string(),
            word(&order.side),
            word(&order.order_type),
            word(&order.status),
            amount(order.quantity),
            amount(order.filled_quantity),
            average(order.avg_fill_price),
            amount(order.fees),
        ]);
    }
    out.push_str(&format!("\n{orders}\n\nPortfolio\n{}\n\n", portfolio_table(view)));
    out.push_str(&risk_table(view));
    out
}

fn portfolio_table(view: &LedgerView) -> Table {
    let p = &view.portfolio;
    let mut portfolio = table(&["metric", "value"]);
    let rows: [(&str, String); 15] = [
        ("equity", amount(p.equity)),
        ("equity peak", amount(p.equity_peak)),
        ("realized pnl", amount(p.realized_pnl)),
        ("unrealized pnl", amount(p.unrealized_pnl)),
        ("total pnl", amount(p.total_pnl)),
        ("fees", amount(p.fees)),
        ("market value", amount(p.total_market_value)),
        ("gross exposure", amount(p.gross_exposure)),
        ("net exposure", amount(p.net_exposure)),
        ("drawdown %", average(Some(p.drawdown_percentage))),
        ("max drawdown %", average(Some(p.max_drawdown_percentage))),
        ("daily pnl", amount(p.daily_pnl)),
        ("daily pnl %", average(Some(p.daily_pnl_percentage))),
        ("positions closed", p.positions_closed.to_string()),
        ("wins / losses", format!("{} / {}", p.wins, p.losses)),
    ];
    for (name, value) in rows {
        portfolio.add_row(vec![name.to_owned(), value]);
    }
    portfolio
}

fn risk_table(view: &LedgerView) -> String {
    let level = word(&view.risk.level);
    let mut out = format!("Risk: level {level}, circuit breaker {}\n", view.risk.circuit_breaker);
    if view.risk.events.is_empty() {
        return out;
    }
    let mut events = table(&["seq", "time", "kind", "symbol", "detail"]);
    for event in view.risk.events.iter().take(TABLE_RISK_EVENTS_MAX) {
        events.add_row(vec![
            event.seq.to_string(),
            event.time.to_string(),
            word(&event.kind),
            text(event.symbol.as_ref()),
            event.reason.clone().or_else(|| event.exit_reason.map(|reason| word(&reason))).unwrap_or_default(),
        ]);
    }
    out.push_str(&format!("Risk events (newest first, at most {TABLE_RISK_EVENTS_MAX})\n{events}"));
    out
}

pub(crate) fn record_summary(summary: &RecordSummary, journal: &std::path::Path, seconds: f64) -> String {
    let mut inputs = table(&["input", "count"]);
    for (name, count) in &summary.inputs {
        inputs.add_row(vec![(*name).to_owned(), count.to_string()]);
    }
    let mut events = table(&["event recorded", "count"]);
    for (name, count) in &summary.events {
        events.add_row(vec![(*name).to_owned(), count.to_string()]);
    }
    let appended = summary.events.values().sum::<u64>();
    let handled = summary.inputs.values().sum::<u64>();
    let rate = if seconds > 0.0 { handled as f64 / seconds } else { 0.0 };
    let p = &summary.view.portfolio;
    format!(
        "Recorded {appended} events (seq {} to {}) into {} in {seconds:.2} s ({rate:.0} inputs/s)\n\
         {inputs}\n{events}\n\
         equity {}  realized pnl {}  unrealized pnl {}  fees {}  max drawdown {} %  risk {}  breaker {}\n",
        summary.seq_first,
        summary.seq_last,
        journal.display(),
        amount(p.equity),
        amount(p.realized_pnl),
        amount(p.unrealized_pnl),
        amount(p.fees),
        average(Some(p.max_drawdown_percentage)),
        word(&summary.view.risk.level),
        summary.view.risk.circuit_breaker,
    )
}

pub(crate) fn statistics_table(stats: &tradeledger_projections::stats::Statistics) -> String {
    let value = serde_json::to_value(stats).unwrap_or_default();
    let mut rows = table(&["statistic", "value"]);
    if let Some(fields) = value.as_object() {
        for (name, value) in fields {
            let shown = match value {
                // Tables round to 6 places; --format json keeps every digit.
                serde_json::Value::String(text) => text
                    .parse::<Decimal>()
                    .map_or_else(|_| text.clone(), |number| number.round_dp(6).normalize().to_string()),
                serde_json::Value::Null => "-".to_owned(),
                other => other.to_string(),
            };
            rows.add_row(vec![name.replace('_', " "), shown]);
        }
    }
    format!("{rows}\n")
}
