//! Statistics worked out by hand on a small fixture: a win, a flat day, a
//! loss, fees. The working is in the comments; the floating-point ratios
//! were computed independently in Python (same formulas, IEEE doubles).

use rust_decimal::Decimal;
use std::str::FromStr;
use tradeledger_events::Timestamp;
use tradeledger_projections::analysis::{resample, Analysis, FillSource};
use tradeledger_projections::scenario;
use tradeledger_projections::stats::{drawdowns, statistics, StatsOptions};

fn analysis() -> Analysis {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/scenarios/stats_win_loss_flat_fees.txt"
    ))
    .unwrap();
    Analysis::of(&scenario::envelopes(&text).unwrap()).unwrap()
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn time(text: &str) -> Timestamp {
    Timestamp::from_str(text).unwrap()
}

#[test]
fn statistics_of_a_win_a_flat_day_and_a_loss() {
    let stats = statistics(&analysis(), &StatsOptions::default());
    // Trade 1: (110 − 100) × 10 = 100, fees 2: +98 on 1,000 entry notional
    // = 9.8 %, 2 h. Trade 2: (105 − 110) × 10 = −50, fees 2: −52 on 1,100
    // = −4.727273 %, 6 h.
    assert_eq!(stats.trades, 2);
    assert_eq!(stats.win_rate_percentage, Some(d("50")));
    assert_eq!(stats.best_trade_percentage, Some(d("9.8")));
    assert_eq!(stats.worst_trade_percentage, Some(d("-4.727273")));
    assert_eq!(stats.average_trade_percentage, Some(d("2.5363635")));
    assert_eq!(stats.average_trade_duration_seconds, Some(d("14400")));
    // 98 / 52 = 1.884615 384615 384615…, to rust_decimal's 28 places.
    assert_eq!(stats.profit_factor, Some(d("1.8846153846153846153846153846")));
    assert_eq!(stats.expectancy.map(|money| money.get()), Some(d("23")), "(98 − 52) / 2");
    assert_eq!(stats.fees.get(), d("4"));
    // Equity 10,000 → 10,046: +0.46 %.
    assert_eq!((stats.equity_initial.get(), stats.equity_final.get()), (d("10000"), d("10046")));
    assert_eq!(stats.equity_peak.get(), d("10098"));
    assert_eq!(stats.total_return_percentage, d("0.46"));
    // Open 10:00–12:00 on day 1 and 09:00–15:00 on day 3: 8 h of the 63 h
    // from the first event to the last.
    assert_eq!(stats.duration_seconds, d("226800"));
    assert_eq!(stats.exposure_time_percentage, d("12.698413"));
    // Drawdowns: 10,000 → 9,999 (the first fee), back at 12:00 (0.01 %,
    // 12 h); 10,098 → 10,046, not recovered (52 / 10,098 = 0.51495… %,
    // from 2024-01-01 12:00 to the end, 51 h). The division is rust_decimal's,
    // to 28 places (0.0051495345612992671816201228), then × 100.
    assert_eq!(stats.max_drawdown_percentage, d("0.51495345612992671816201228"));
    assert_eq!(stats.max_drawdown_duration_seconds, d("183600"));
    assert_eq!(stats.average_drawdown_percentage, d("0.26247672806496335908100614"));
    assert_eq!(stats.drawdowns, 2);
    // Daily returns 0.0098, 0, −52 / 10,098; annualized over 365 periods.
    assert_eq!(stats.days, 3);
    assert_eq!(stats.annualized_return_percentage, Some(d("74.784459")));
    assert_eq!(stats.annualized_volatility_percentage, Some(d("14.509014")));
    assert_eq!(stats.sharpe_ratio, Some(d("3.89969")));
    assert_eq!(stats.sortino_ratio, Some(d("9.961259")));
    assert_eq!(stats.calmar_ratio, Some(d("145.225667")));
}

#[test]
fn daily_rows_cover_quiet_days_and_returns_are_pnl_over_the_starting_equity() {
    let analysis = analysis();
    let days: Vec<(i64, Decimal, Decimal)> =
        analysis.days.iter().map(|day| (day.day, day.pnl.get(), day.day_return)).collect();
    let day_one = time("2024-01-01T00:00:00Z").utc_day();
    assert_eq!(
        days,
        vec![
            (day_one, d("98"), d("0.0098")),
            (day_one + 1, d("0"), d("0")),
            (day_one + 2, d("-52"), d("-0.005149534561299267181620122797")),
        ]
    );
}

#[test]
fn fills_name_their_position_and_source() {
    let analysis = analysis();
    let fills: Vec<(&str, Option<&str>, FillSource)> = analysis
        .fills
        .iter()
        .map(|fill| (fill.fill_id.as_str(), fill.position_id.as_ref().map(|id| id.as_str()), fill.source))
        .collect();
    // The seqs: limits 1, F1 2, F2 3, F3 4, F4 5; positions are `P<opening seq>`.
    assert_eq!(
        fills,
        vec![
            ("F1", Some("P2"), FillSource::Imported),
            ("F2", Some("P2"), FillSource::Imported),
            ("F3", Some("P4"), FillSource::Imported),
            ("F4", Some("P4"), FillSource::Imported),
        ]
    );
}

#[test]
fn drawdown_episodes_and_the_resampled_curve() {
    let analysis = analysis();
    let episodes = drawdowns(&analysis.equity);
    assert_eq!(episodes[0].start, time("2024-01-01T00:00:00Z"));
    assert_eq!(episodes[0].trough, time("2024-01-01T10:00:00Z"));
    assert_eq!(episodes[0].end, Some(time("2024-01-01T12:00:00Z")));
    assert_eq!(episodes[0].depth_percentage, d("0.01"));
    assert_eq!(episodes[1].end, None);
    // Daily bars: each day's closing equity, the quiet day carried forward.
    let daily = resample(&analysis.equity, 86_400_000_000_000);
    let closes: Vec<Decimal> = daily.iter().map(|point| point.equity.get()).collect();
    assert_eq!(closes, vec![d("10098"), d("10098"), d("10046")]);
    assert_eq!(daily[0].time, time("2024-01-01T23:59:59.999999999Z"));
}
