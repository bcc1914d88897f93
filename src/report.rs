//! `report`: one self-contained HTML file (no scripts, no network; charts
//! are inline SVG) with the statistics, the equity curve, the underwater
//! chart, PnL per symbol, monthly returns, the largest drawdowns and the
//! risk events and forced exits. Every figure comes from the journal's
//! analysis fold.

use crate::export::date_of_day;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write;
use tradeledger_events::Timestamp;
use tradeledger_projections::analysis::Analysis;
use tradeledger_projections::risk::RiskEventKind;
use tradeledger_projections::stats::{drawdowns, Statistics};

/// Points drawn per chart at most; longer curves are thinned evenly.
const CHART_POINTS_MAX: usize = 2_000;
const LARGEST_DRAWDOWNS: usize = 10;
const RISK_ROWS_MAX: usize = 500;
const CHART_WIDTH: f64 = 960.0;
const CHART_HEIGHT: f64 = 260.0;
const MARGIN: f64 = 56.0;

/// The sections, in order; tests check each is present.
pub const SECTIONS: [&str; 7] = [
    "Statistics",
    "Equity curve",
    "Drawdown (underwater)",
    "PnL per symbol",
    "Monthly returns",
    "Largest drawdowns",
    "Risk events and forced exits",
];

pub fn html(title: &str, analysis: &Analysis, stats: &Statistics) -> String {
    let mut page = String::with_capacity(256 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head><body>\n\
         <h1>{}</h1><p class=\"muted\">Journal up to seq {}, from {} to {}. Every figure is folded from the journal's events.</p>\n",
        escape(title),
        STYLE,
        escape(title),
        analysis.ledger.seq,
        time_text(stats.start),
        time_text(stats.end),
    );
    section(&mut page, SECTIONS[0], &statistics_table(stats));
    section(&mut page, SECTIONS[1], &equity_chart(analysis));
    section(&mut page, SECTIONS[2], &underwater_chart(analysis));
    section(&mut page, SECTIONS[3], &symbol_table(analysis));
    section(&mut page, SECTIONS[4], &monthly_table(analysis));
    section(&mut page, SECTIONS[5], &drawdown_table(analysis));
    section(&mut page, SECTIONS[6], &risk_table(analysis));
    page.push_str("</body></html>\n");
    page
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.9em}td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}.muted{color:#777}.neg{color:#b22}.pos{color:#272}\
svg{background:#fafafa;border:1px solid #ddd}";

fn section(page: &mut String, title: &str, body: &str) {
    let _ = write!(page, "<section><h2>{}</h2>\n{body}</section>\n", escape(title));
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn time_text(time: Option<Timestamp>) -> String {
    time.map_or_else(|| "-".to_owned(), |time| time.to_string())
}

fn number(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.round_dp(6).normalize().to_string())
}

fn signed_cell(value: Decimal) -> String {
    let class = if value < Decimal::ZERO { "neg" } else { "pos" };
    format!("<td class=\"{class}\">{}</td>", value.round_dp(6).normalize())
}

fn duration(seconds: Option<Decimal>) -> String {
    let Some(total) = seconds.and_then(|seconds| seconds.trunc().to_i64()) else { return "-".to_owned() };
    let (days, rest) = (total / 86_400, total % 86_400);
    format!("{days}d {:02}:{:02}:{:02}", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

fn statistics_table(stats: &Statistics) -> String {
    let rows: Vec<(&str, String)> = vec![
        ("Start", time_text(stats.start)),
        ("End", time_text(stats.end)),
        ("Duration", duration(Some(stats.duration_seconds))),
        ("Exposure time [%]", number(Some(stats.exposure_time_percentage))),
        ("Equity initial", number(Some(stats.equity_initial.get()))),
        ("Equity final", number(Some(stats.equity_final.get()))),
        ("Equity peak", number(Some(stats.equity_peak.get()))),
        ("Total return [%]", number(Some(stats.total_return_percentage))),
        ("Days", stats.days.to_string()),
        ("Annualized return [%]", number(stats.annualized_return_percentage)),
        ("Annualized volatility [%]", number(stats.annualized_volatility_percentage)),
        ("Sharpe ratio", number(stats.sharpe_ratio)),
        ("Sortino ratio", number(stats.sortino_ratio)),
        ("Calmar ratio", number(stats.calmar_ratio)),
        ("Max drawdown [%]", number(Some(stats.max_drawdown_percentage))),
        ("Max drawdown duration", duration(Some(stats.max_drawdown_duration_seconds))),
        ("Average drawdown [%]", number(Some(stats.average_drawdown_percentage))),
        ("Trades (closed positions)", stats.trades.to_string()),
        ("Win rate [%]", number(stats.win_rate_percentage)),
        ("Best trade [%]", number(stats.best_trade_percentage)),
        ("Worst trade [%]", number(stats.worst_trade_percentage)),
        ("Average trade [%]", number(stats.average_trade_percentage)),
        ("Average trade duration", duration(stats.average_trade_duration_seconds)),
        ("Profit factor", number(stats.profit_factor)),
        ("Expectancy (per trade)", number(stats.expectancy.map(|money| money.get()))),
        ("Fees", number(Some(stats.fees.get()))),
    ];
    let mut table = String::from("<table>");
    for (name, value) in rows {
        let _ = write!(table, "<tr><td>{}</td><td>{}</td></tr>", escape(name), escape(&value));
    }
    table.push_str("</table>\n");
    table
}

/// Evenly thinned (x, y) pairs: time in seconds, value as f64 (drawing only).
fn thinned(points: impl ExactSizeIterator<Item = (Timestamp, Decimal)>) -> Vec<(f64, f64)> {
    let stride = points.len().div_ceil(CHART_POINTS_MAX).max(1);
    let last = points.len().saturating_sub(1);
    points
        .enumerate()
        .filter(|(index, _)| index % stride == 0 || *index == last)
        .filter_map(|(_, (time, value))| Some((time.unix_nanos() as f64 / 1e9, value.to_f64()?)))
        .collect()
}

fn equity_chart(analysis: &Analysis) -> String {
    let points = thinned(analysis.equity.iter().map(|point| (point.time, point.equity.get())));
    line_chart(&points, span_of(analysis), "#1f5fa8", false, "equity")
}

fn underwater_chart(analysis: &Analysis) -> String {
    let points = thinned(analysis.equity.iter().map(|point| (point.time, -point.drawdown_percentage)));
    line_chart(&points, span_of(analysis), "#b22222", true, "drawdown %")
}

/// The exact times of the curve's first and last points, for the labels.
fn span_of(analysis: &Analysis) -> (Timestamp, Timestamp) {
    let time = |point: Option<&tradeledger_projections::analysis::EquityPoint>| {
        point.map(|point| point.time).unwrap_or_default()
    };
    (time(analysis.equity.first()), time(analysis.equity.last()))
}

/// An SVG line chart with its y range, start and end labelled; `to_zero`
/// fills the area between the line and zero.
fn line_chart(
    points: &[(f64, f64)],
    (start, end): (Timestamp, Timestamp),
    colour: &str,
    to_zero: bool,
    label: &str,
) -> String {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return "<p class=\"muted\">No data.</p>\n".to_owned();
    };
    let (mut low, mut high) =
        points.iter().fold((f64::MAX, f64::MIN), |(low, high), (_, y)| (low.min(*y), high.max(*y)));
    if to_zero {
        (low, high) = (low.min(0.0), high.max(0.0));
    }
    if (high - low).abs() < f64::EPSILON {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let span = (last.0 - first.0).max(f64::EPSILON);
    let x = |value: f64| MARGIN + (value - first.0) / span * (CHART_WIDTH - 2.0 * MARGIN);
    let y = |value: f64| CHART_HEIGHT - MARGIN / 2.0 - (value - low) / (high - low) * (CHART_HEIGHT - MARGIN);
    let mut path = String::new();
    for (index, (px, py)) in points.iter().enumerate() {
        let _ = write!(path, "{}{:.1},{:.1}", if index == 0 { "M" } else { " L" }, x(*px), y(*py));
    }
    if to_zero {
        let _ = write!(path, " L{:.1},{:.1} L{:.1},{:.1} Z", x(last.0), y(0.0), x(first.0), y(0.0));
    }
    let fill = if to_zero { colour } else { "none" };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" role=\"img\" aria-label=\"{label}\">\
         <path d=\"{path}\" stroke=\"{colour}\" stroke-width=\"1.5\" fill=\"{fill}\" fill-opacity=\"0.25\"/>\
         <text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text><text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text>\
         <text x=\"{MARGIN}\" y=\"{}\" font-size=\"11\">{start}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{end}</text></svg>\n",
        y(high) + 4.0,
        short(high),
        y(low),
        short(low),
        CHART_HEIGHT - 4.0,
        CHART_WIDTH - MARGIN,
        CHART_HEIGHT - 4.0,
    )
}

fn short(value: f64) -> String {
    format!("{:.*}", if value.abs() >= 100.0 { 0 } else { 4 }, value)
}

fn symbol_table(analysis: &Analysis) -> String {
    let portfolio = &analysis.ledger.portfolio;
    if portfolio.by_symbol.is_empty() {
        return "<p class=\"muted\">No positions.</p>\n".to_owned();
    }
    let mut table = String::from(
        "<table><tr><th>symbol</th><th>realized</th><th>unrealized</th><th>total</th><th>fees</th><th>closed positions</th></tr>",
    );
    for (symbol, totals) in &portfolio.by_symbol {
        let total = totals.realized_pnl.get().saturating_add(totals.unrealized_pnl.get());
        let _ = write!(
            table,
            "<tr><td>{}</td>{}{}{}<td>{}</td><td>{}</td></tr>",
            escape(symbol.as_str()),
            signed_cell(totals.realized_pnl.get()),
            signed_cell(totals.unrealized_pnl.get()),
            signed_cell(total),
            totals.fees.get().normalize(),
            totals.positions_closed
        );
    }
    table.push_str("</table>\n");
    table
}

/// Daily returns compounded per calendar month, in percent.
fn monthly_table(analysis: &Analysis) -> String {
    let mut months: BTreeMap<String, Decimal> = BTreeMap::new();
    for day in &analysis.days {
        let month = date_of_day(day.day).get(..7).unwrap_or_default().to_owned();
        let growth = months.entry(month).or_insert(Decimal::ONE);
        *growth = growth.saturating_mul(Decimal::ONE.saturating_add(day.day_return));
    }
    if months.is_empty() {
        return "<p class=\"muted\">No days.</p>\n".to_owned();
    }
    let mut table = String::from("<table><tr><th>month</th><th>return [%]</th></tr>");
    for (month, growth) in months {
        let percent = (growth - Decimal::ONE).saturating_mul(Decimal::ONE_HUNDRED);
        let _ = write!(table, "<tr><td>{month}</td>{}</tr>", signed_cell(percent));
    }
    table.push_str("</table>\n");
    table
}

fn drawdown_table(analysis: &Analysis) -> String {
    let mut episodes = drawdowns(&analysis.equity);
    if episodes.is_empty() {
        return "<p class=\"muted\">No drawdown.</p>\n".to_owned();
    }
    episodes.sort_by_key(|episode| std::cmp::Reverse(episode.depth_percentage));
    let mut table = String::from(
        "<table><tr><th>from (peak)</th><th>trough</th><th>recovered</th><th>depth [%]</th><th>duration</th></tr>",
    );
    for episode in episodes.iter().take(LARGEST_DRAWDOWNS) {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            episode.start,
            episode.trough,
            episode.end.map_or_else(|| "not yet".to_owned(), |end| end.to_string()),
            signed_cell(-episode.depth_percentage),
            duration(Some(episode.duration_seconds))
        );
    }
    table.push_str("</table>\n");
    table
}

fn risk_table(analysis: &Analysis) -> String {
    let shown: Vec<_> = analysis
        .ledger
        .risk
        .events
        .iter()
        .filter(|event| !matches!(event.kind, RiskEventKind::CheckPassed | RiskEventKind::LimitsSet))
        .collect();
    if shown.is_empty() {
        return "<p class=\"muted\">No rejections, breaker trips or forced exits.</p>\n".to_owned();
    }
    let mut table = format!(
        "<p class=\"muted\">{} events, newest first{}.</p><table><tr><th>seq</th><th>time</th><th>kind</th><th>symbol</th><th>detail</th></tr>",
        shown.len(),
        if shown.len() > RISK_ROWS_MAX { format!("; the first {RISK_ROWS_MAX} shown") } else { String::new() }
    );
    for event in shown.iter().take(RISK_ROWS_MAX) {
        let kind = crate::describe::word(&event.kind).unwrap_or_default();
        let detail =
            event.reason.clone().or_else(|| event.exit_reason.map(|reason| format!("{reason:?}"))).unwrap_or_default();
        let subject = event.signal_id.as_ref().map(|id| format!("signal {id}: ")).unwrap_or_default();
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            event.seq,
            event.time,
            escape(&kind),
            escape(event.symbol.as_ref().map_or("", |symbol| symbol.as_str())),
            escape(&subject),
            escape(&detail)
        );
    }
    table.push_str("</table>\n");
    table
}
