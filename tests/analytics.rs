//! Exports, statistics and the HTML report, through the binary, on the SPY
//! extract recorded with the strategy and hand-written signals.

mod common;

use arrow_array::{Array, Decimal128Array, StringArray, TimestampNanosecondArray};
use common::{record_spy, stdout_of, tradeledger};
use predicates::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn recorded_spy(dir: &Path) -> PathBuf {
    let journal = dir.join("journal");
    record_spy(&journal);
    journal
}

fn replay(journal: &Path) -> serde_json::Value {
    serde_json::from_str(&stdout_of(tradeledger().args(["replay", "--format", "json", "--journal"]).arg(journal)))
        .unwrap()
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

#[test]
fn the_fills_csv_adds_up_to_every_order_in_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let csv_text = stdout_of(tradeledger().args(["export", "--what", "fills", "--journal"]).arg(&journal));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    for column in [
        "seq",
        "time",
        "symbol",
        "side",
        "quantity",
        "price",
        "fee",
        "liquidity",
        "order_id",
        "signal_id",
        "position_id",
        "fill_id",
        "source",
    ] {
        assert!(header.iter().any(|name| name == column), "no column {column}");
    }
    let mut filled: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        rows += 1;
        assert!(record[1].ends_with('Z'), "UTC times: {}", &record[1]);
        assert_eq!(&record[12], "simulated");
        let entry = filled.entry(record[8].to_owned()).or_default();
        entry.0 += d(&record[4]);
        entry.1 += d(&record[4]) * d(&record[5]);
    }
    let fill_events = stdout_of(tradeledger().args(["events", "--type", "OrderFilled", "--journal"]).arg(&journal));
    assert_eq!(rows, fill_events.lines().count());
    for order in replay(&journal)["orders"].as_array().unwrap() {
        let (quantity, notional) = filled.get(order["id"].as_str().unwrap()).copied().unwrap_or_default();
        assert_eq!(quantity, d(order["filled_quantity"].as_str().unwrap()), "order {}", order["id"]);
        if let Some(average) = order["avg_fill_price"].as_str() {
            assert_eq!((notional / quantity).round_dp(20), d(average).round_dp(20), "order {}", order["id"]);
        }
    }
}

/// `tradeledger export --what WHAT --format parquet --out OUT`.
fn export_parquet(journal: &Path, what: &str, out: &Path) {
    tradeledger()
        .args(["export", "--what", what, "--format", "parquet", "--journal"])
        .arg(journal)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

fn parquet_batch(path: &Path) -> arrow_array::RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let reader = builder.with_batch_size(1 << 20).build().unwrap();
    let mut batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1, "a small export is one batch");
    batches.remove(0)
}

fn decimal_at(batch: &arrow_array::RecordBatch, column: &str, row: usize) -> Option<Decimal> {
    let array = batch.column_by_name(column).unwrap().as_any().downcast_ref::<Decimal128Array>().unwrap();
    let scale = array.scale() as u32;
    (!array.is_null(row)).then(|| Decimal::from_i128_with_scale(array.value(row), scale))
}

#[test]
fn the_positions_parquet_reads_back_exactly_as_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let out = dir.path().join("positions.parquet");
    export_parquet(&journal, "positions", &out);
    let batch = parquet_batch(&out);
    let view = replay(&journal);
    let positions = view["positions"].as_array().unwrap();
    assert_eq!(batch.num_rows(), positions.len());
    let ids = batch.column_by_name("id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    for (row, position) in positions.iter().enumerate() {
        assert_eq!(ids.value(row), position["id"].as_str().unwrap());
        for column in ["realized_pnl", "unrealized_pnl", "fees", "quantity", "mark_price"] {
            let exported = decimal_at(&batch, column, row).unwrap();
            assert_eq!(exported, d(position[column].as_str().unwrap()), "{column} of {}", ids.value(row));
        }
        let entry = position["avg_entry_price"].as_str().map(d);
        assert_eq!(decimal_at(&batch, "avg_entry_price", row), entry);
    }
    let opened =
        batch.column_by_name("time_opened").unwrap().as_any().downcast_ref::<TimestampNanosecondArray>().unwrap();
    assert_eq!(opened.timezone(), Some("UTC"));
    assert!(!opened.is_null(0));
}

#[test]
fn the_equity_and_returns_exports_agree_with_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let view = replay(&journal);
    let equity = stdout_of(tradeledger().args(["export", "--what", "equity", "--journal"]).arg(&journal));
    let last = equity.lines().last().unwrap().split(',').map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(d(&last[2]), d(view["portfolio"]["equity"].as_str().unwrap()));
    let hourly =
        stdout_of(tradeledger().args(["export", "--what", "equity", "--every", "1h", "--journal"]).arg(&journal));
    // 08:00:17 to 12:48:40 UTC: the bars of 08, 09, 10, 11 and 12 o'clock.
    let closes: Vec<&str> = hourly.lines().skip(1).map(|line| line.split(',').nth(1).unwrap()).collect();
    assert_eq!(
        closes,
        [
            "2013-10-08T08:59:59.999999999Z",
            "2013-10-08T09:59:59.999999999Z",
            "2013-10-08T10:59:59.999999999Z",
            "2013-10-08T11:59:59.999999999Z",
            "2013-10-08T12:59:59.999999999Z"
        ]
    );
    let returns = stdout_of(tradeledger().args(["export", "--what", "returns", "--journal"]).arg(&journal));
    let rows: Vec<Vec<String>> =
        returns.lines().skip(1).map(|line| line.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "2013-10-08");
    // One day: its PnL is the run's total PnL, over the initial capital.
    let total = d(view["portfolio"]["total_pnl"].as_str().unwrap());
    assert_eq!(d(&rows[0][2]), total);
    assert_eq!(d(&rows[0][3]), total / d("1000000"));
}

#[test]
fn stats_json_on_the_real_data_fixture_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let json = stdout_of(tradeledger().args(["stats", "--format", "json", "--journal"]).arg(&journal));
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Cross-checks with the replay before the snapshot.
    let view = replay(&journal);
    assert_eq!(stats["equity_final"], view["portfolio"]["equity"]);
    assert_eq!(stats["trades"], view["portfolio"]["positions_closed"]);
    insta::assert_snapshot!(json);
}

#[test]
fn export_usage_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let cases: [(&[&str], &str); 3] = [
        (&["--what", "fills", "--every", "1h"], "--what equity"),
        (&["--what", "fills", "--format", "parquet"], "--out"),
        (&["--what", "equity", "--every", "5x"], "the unit is s, m, h or d"),
    ];
    for (args, message) in cases {
        tradeledger()
            .arg("export")
            .args(args)
            .arg("--journal")
            .arg(&journal)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|path| path.is_file())
    })
}

#[test]
fn the_report_has_every_section_and_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let html = dir.path().join("report.html");
    tradeledger().args(["report", "--journal"]).arg(&journal).arg("--out").arg(&html).assert().success();
    let page = std::fs::read_to_string(&html).unwrap();
    for section in tradeledger::report::SECTIONS {
        assert!(page.contains(&format!("<h2>{section}</h2>")), "no section {section}");
    }
    assert_eq!(page.matches("<svg").count(), 2, "equity and underwater charts");
    let links = page.matches("http").count();
    assert_eq!(links, page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(), "no network: only SVG namespaces");
    assert!(!page.contains("<script"), "self-contained, no scripts");
    assert!(page.contains("spy-too-big"), "the rejected signal is listed among the risk events");

    let Some(browser) = chromium() else {
        eprintln!("SKIPPED the browser check: no chromium on PATH (.ci/run installs Debian's chromium)");
        return;
    };
    let screenshot = dir.path().join("report.png");
    let status = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,1600",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "chromium exited with {status}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&screenshot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let bytes = &pixels[..frame.buffer_size()];
    let non_white = bytes.chunks(channels).filter(|pixel| pixel.iter().take(3).any(|value| *value < 200)).count();
    let total = bytes.len() / channels;
    // Text, tables and two charts: far more than a blank page's nothing.
    assert!(non_white * 100 > total, "only {non_white} of {total} pixels are not white");
}

#[test]
fn the_events_export_streams_every_event_as_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let journal = recorded_spy(dir.path());
    let head = replay(&journal)["seq"].as_u64().unwrap() as usize;
    let csv_text = stdout_of(tradeledger().args(["export", "--what", "events", "--journal"]).arg(&journal));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let seqs: Vec<u64> = reader.records().map(|record| record.unwrap()[0].parse().unwrap()).collect();
    assert_eq!(seqs, (1..=head as u64).collect::<Vec<_>>(), "every event, in seq order");
    let out = dir.path().join("events.parquet");
    export_parquet(&journal, "events", &out);
    let batch = parquet_batch(&out);
    assert_eq!(batch.num_rows(), head);
    let types = batch.column_by_name("type").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(types.value(0), "RiskLimitsSet");
}
