//! Input files: every format read into the right events, bad rows named by
//! file, line, column and field, skipped rows recorded, merge order kept.

use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tradeledger::events::{Event, InputSource, Timestamp};
use tradeledger::input::fills::load_fills;
use tradeledger::input::signals::parse_signals;
use tradeledger::input::ticks::{load_ticks, BarTicks, TickFormat, TickOptions};
use tradeledger::input::{merge, InputKind, LoadError, Loaded};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn millis(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap()
}

fn ticks(loaded: &Loaded) -> Vec<(Timestamp, String, Decimal, Option<Decimal>)> {
    loaded
        .inputs
        .iter()
        .map(|input| match &input.event {
            Event::PriceTicked(tick) => {
                (input.time, tick.symbol.to_string(), tick.price.get(), tick.size.map(|size| size.get()))
            }
            other => panic!("not a tick: {other:?}"),
        })
        .collect()
}

fn symbol_options(symbol: &str) -> TickOptions {
    TickOptions { symbol: Some(symbol.try_into().unwrap()), ..TickOptions::default() }
}

#[test]
fn the_bundled_binance_trades_are_detected_and_read_whole_from_gzip() {
    let loaded = load_ticks(&fixture("binance_spot_btcusdt_trades.csv.gz"), &symbol_options("BTCUSDT")).unwrap();
    let ticks = ticks(&loaded);
    // Row count, first and last trade times and the first row's price and
    // size are those given in shared/data/README.md and the file's first row.
    assert_eq!(ticks.len(), 19_904);
    assert_eq!(ticks[0], (millis(1_723_161_255_342), "BTCUSDT".into(), decimal("61837.63"), Some(decimal("0.02"))));
    assert_eq!(ticks[19_903].0, millis(1_723_161_905_800));
    let low = ticks.iter().map(|tick| tick.2).min().unwrap();
    let high = ticks.iter().map(|tick| tick.2).max().unwrap();
    assert_eq!((low, high), (decimal("61556.04"), decimal("61860.80")));
}

#[test]
fn binance_trades_without_a_symbol_ask_for_one() {
    let error = load_ticks(&fixture("binance_spot_btcusdt_trades.csv.gz"), &TickOptions::default()).unwrap_err();
    assert!(matches!(&error, LoadError::Format { reason, .. } if reason.contains("--symbol")), "{error}");
}

#[test]
fn lean_ticks_take_date_and_symbol_from_the_file_name_and_new_york_time() {
    let loaded = load_ticks(&fixture("20131008_spy_Trade_Tick_first1000.csv"), &TickOptions::default()).unwrap();
    let ticks = ticks(&loaded);
    assert_eq!(ticks.len(), 1_000);
    // First row `14417034,1674200,210,…`: 04:00:17.034 EDT (UTC−4) is
    // 08:00:17.034 UTC; 1,674,200 deci-cents is 167.42 USD.
    let first_time = Timestamp::from_str("2013-10-08T08:00:17.034Z").unwrap();
    assert_eq!(ticks[0], (first_time, "SPY".into(), decimal("167.42"), Some(decimal("210"))));
    // Last row `31720294,1673900,401,…`: 08:48:40.294 EDT.
    let last_time = Timestamp::from_str("2013-10-08T12:48:40.294Z").unwrap();
    assert_eq!(ticks[999], (last_time, "SPY".into(), decimal("167.39"), Some(decimal("401"))));
}

#[test]
fn lean_ticks_in_winter_are_five_hours_behind_utc() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "20140106_qqq_Trade_Tick.csv", "34200000,875000,100,Q,0,0\n");
    let ticks = ticks(&load_ticks(&path, &TickOptions::default()).unwrap());
    assert_eq!(ticks[0].0, Timestamp::from_str("2014-01-06T14:30:00Z").unwrap());
    assert_eq!((ticks[0].1.as_str(), ticks[0].2), ("QQQ", decimal("87.5")));
}

#[test]
fn generic_ticks_with_or_without_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let with_header = write(
        dir.path(),
        "a.csv",
        "time,symbol,price,size\n2024-08-09T00:00:00.5Z,ETHUSDT,2650.1,3\n1723161600600,ETHUSDT,2650.2,\n",
    );
    let ticks_read = ticks(&load_ticks(&with_header, &TickOptions::default()).unwrap());
    assert_eq!(
        ticks_read,
        vec![
            (millis(1_723_161_600_500), "ETHUSDT".into(), decimal("2650.1"), Some(decimal("3"))),
            (millis(1_723_161_600_600), "ETHUSDT".into(), decimal("2650.2"), None),
        ]
    );
    let without = write(dir.path(), "b.csv", "1723161600500,ETHUSDT,2650.1\n");
    let options = TickOptions { format: Some(TickFormat::Generic), ..TickOptions::default() };
    assert_eq!(ticks(&load_ticks(&without, &options).unwrap()).len(), 1);
}

#[test]
fn ohlcv_bars_become_close_or_open_then_close_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "bars.csv", ",Open,High,Low,Close,Volume\n2004-08-19,100,104.06,95.96,100.34,22351900\n");
    let close_only = ticks(&load_ticks(&path, &symbol_options("GOOG")).unwrap());
    let midnight = Timestamp::from_str("2004-08-19T00:00:00Z").unwrap();
    assert_eq!(close_only, vec![(midnight, "GOOG".into(), decimal("100.34"), None)]);
    let options = TickOptions { bars: BarTicks::OpenClose, ..symbol_options("GOOG") };
    let both = ticks(&load_ticks(&path, &options).unwrap());
    assert_eq!(both.iter().map(|tick| tick.2).collect::<Vec<_>>(), vec![decimal("100"), decimal("100.34")]);
}

#[test]
fn a_bad_row_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "ticks.csv", "time,symbol,price\n1723161600500,ETHUSDT,2650.1\n1723161600600,ETHUSDT,-3\n");
    let LoadError::Row(error) = load_ticks(&path, &TickOptions::default()).unwrap_err() else {
        panic!("not a row error")
    };
    assert_eq!((error.line, error.column, error.field.as_str()), (3, Some(3), "price"));
    assert!(error.to_string().starts_with(&format!("{}:3:3: price:", path.display())), "{error}");
}

#[test]
fn skipped_bad_rows_are_recorded_as_rejected_inputs_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "ticks.csv", "time,symbol,price\n1723161600500,ETHUSDT,2650.1\nnot-a-time,ETHUSDT,1\n");
    let options = TickOptions { skip_bad_rows: true, ..TickOptions::default() };
    let loaded = load_ticks(&path, &options).unwrap();
    assert_eq!((loaded.inputs.len(), loaded.skipped), (2, 1));
    let Event::InputRejected(rejected) = &loaded.inputs[1].event else { panic!("not a rejection") };
    assert_eq!(rejected.source, InputSource::Tick);
    assert_eq!(rejected.origin, format!("{}:3", path.display()));
    assert_eq!(rejected.field, "time");
    // Dated at the last good row, so it sorts where it was in the file.
    assert_eq!(loaded.inputs[1].time, millis(1_723_161_600_500));
}

#[test]
fn an_unknown_tick_format_says_how_to_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "mystery.csv", "a,b,c\n1,2,3\n");
    let error = load_ticks(&path, &TickOptions::default()).unwrap_err().to_string();
    assert!(error.contains("--tick-format") && error.contains("mystery.csv"), "{error}");
}

#[test]
fn fills_read_with_defaults_for_missing_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "fills.csv",
        "time,symbol,side,quantity,price,fee,fill_id,order_id\n\
         2024-08-09T00:00:00Z,BTCUSDT,buy,0.5,61000,1.5,F-1,ORD-1\n\
         2024-08-09T00:00:01Z,BTCUSDT,SELL,0.5,61100,-0.2,,\n",
    );
    let loaded = load_fills(&path, false).unwrap();
    let fills: Vec<_> = loaded
        .inputs
        .iter()
        .map(|input| match &input.event {
            Event::FillImported(fill) => fill.clone(),
            other => panic!("not a fill: {other:?}"),
        })
        .collect();
    assert_eq!((fills[0].fill_id.as_str(), fills[0].order_id.as_str()), ("F-1", "ORD-1"));
    assert_eq!(fills[0].fee.get(), decimal("1.5"));
    assert_eq!((fills[1].fill_id.as_str(), fills[1].order_id.as_str()), ("fills.csv:3", "external"));
    assert_eq!(fills[1].fee.get(), decimal("-0.2"), "a negative fee is a rebate");
}

#[test]
fn a_fill_with_a_bad_side_names_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fills.csv", "1723161600000,BTCUSDT,hold,1,100,0\n");
    let LoadError::Row(error) = load_fills(&path, false).unwrap_err() else { panic!("not a row error") };
    assert_eq!((error.line, error.column, error.field.as_str()), (1, Some(3), "side"));
}

#[test]
fn signals_take_json_numbers_digit_for_digit_and_strings_alike() {
    let text = r#"{"id":"s1","time":"2024-08-09T00:00:00Z","symbol":"BTCUSDT","side":"buy","quantity":0.1,"type":"limit","price":"61000.10","stop_loss":60000.123456789012345678,"strategy":"meanrev"}
# a comment line

{"id":"s2","time":1723161600001,"symbol":"BTCUSDT","side":"sell","quantity":"2"}
"#;
    let loaded = parse_signals(text, "signals.jsonl", false).unwrap();
    let signals: Vec<_> = loaded
        .inputs
        .iter()
        .map(|input| match &input.event {
            Event::SignalReceived(signal) => (input.time, signal.clone()),
            other => panic!("not a signal: {other:?}"),
        })
        .collect();
    assert_eq!(signals.len(), 2);
    let (time, first) = &signals[0];
    assert_eq!(*time, millis(1_723_161_600_000));
    assert_eq!(first.quantity, decimal("0.1"));
    assert_eq!(first.price_limit, Some(decimal("61000.10")));
    assert_eq!(first.price_stop_loss, Some(decimal("60000.123456789012345678")), "no f64 on the way");
    assert_eq!(first.strategy_id.as_str(), "meanrev");
    let (time, second) = &signals[1];
    assert_eq!(*time, millis(1_723_161_600_001));
    assert_eq!((second.strategy_id.as_str(), second.price_limit), ("cli", None));
}

#[test]
fn bad_signal_lines_name_line_and_field() {
    let cases = [
        (r#"{"id":"s1","time":1,"symbol":"X","side":"buy","quantity":1,"type":"limit"}"#, "price"),
        (r#"{"id":"s1","time":1,"symbol":"X","side":"up","quantity":1}"#, "side"),
        (r#"{"id":"s1","time":1,"symbol":"X","side":"buy","quantity":"lots"}"#, "quantity"),
        (r#"{"id":"s1","time":"yesterday","symbol":"X","side":"buy","quantity":1}"#, "time"),
        (r#"{"id":"s1","time":1,"symbol":"X","side":"buy","quantity":1,"colour":"red"}"#, "json"),
        (r#"{"id":"s1","#, "json"),
    ];
    for (line, field) in cases {
        let text = format!("\n{line}\n");
        let LoadError::Row(error) = parse_signals(&text, "s.jsonl", false).unwrap_err() else { panic!("{line}") };
        assert_eq!((error.line, error.field.as_str()), (2, field), "{line}: {error}");
    }
}

#[test]
fn merged_inputs_are_in_time_order_ticks_then_fills_then_signals_at_equal_times() {
    let dir = tempfile::tempdir().unwrap();
    let tick_path = write(dir.path(), "t.csv", "time,symbol,price\n2000,X,1\n1000,X,2\n1000,X,3\n");
    let fill_path = write(dir.path(), "f.csv", "1000,X,buy,1,2,0\n");
    let signals =
        parse_signals(r#"{"id":"s","time":1000,"symbol":"X","side":"buy","quantity":1}"#, "s", false).unwrap();
    let merged = merge(vec![
        signals,
        load_fills(&fill_path, false).unwrap(),
        load_ticks(&tick_path, &TickOptions::default()).unwrap(),
    ]);
    let order: Vec<(i64, InputKind, Option<Decimal>)> = merged
        .iter()
        .map(|input| {
            let price = match &input.event {
                Event::PriceTicked(tick) => Some(tick.price.get()),
                _ => None,
            };
            (input.time.unix_nanos() / 1_000_000, input.kind, price)
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (1000, InputKind::Tick, Some(decimal("2"))),
            (1000, InputKind::Tick, Some(decimal("3"))),
            (1000, InputKind::Fill, None),
            (1000, InputKind::Signal, None),
            (2000, InputKind::Tick, Some(decimal("1"))),
        ]
    );
}
