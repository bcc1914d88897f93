//! Journal benchmark: durable and buffered append throughput and commit
//! latency at several producer counts, batch appends, scan + decode, and
//! bytes on disk per event.
//!
//! `cargo bench -p tradeledger-events --bench journal` (full run)
//! `cargo bench -p tradeledger-events --bench journal -- --quick` (smaller)
//!
//! Events are ~100-byte trade ticks (`PriceTicked` with size, bid, ask and
//! venue time). Each scenario runs on a fresh journal in the temp folder.

use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tradeledger_events::*;

fn tick(n: u64) -> NewEvent {
    let price = |mantissa: i64| Price::new(Decimal::new(mantissa, 2)).unwrap_or_default();
    let event = Event::PriceTicked(PriceTicked {
        symbol: Symbol::try_from(String::from("BTCUSDT")).unwrap_or_else(|_| unreachable!()),
        price: price(6_155_604 + (n % 1000) as i64),
        size: Quantity::new(Decimal::new(12_345 + (n % 77) as i64, 8)).ok(),
        price_bid: Some(price(6_155_600)),
        price_ask: Some(price(6_155_610)),
        time_venue: Some(Timestamp::from_unix_nanos(1_723_161_255_342_000_000 + n as i64 * 1_000_000)),
    });
    NewEvent::input(Timestamp::from_unix_nanos(1_723_161_255_342_000_000 + n as i64), event)
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&mut self, fraction: f64) -> Duration {
        self.0.sort_unstable();
        let index = ((self.0.len() as f64 - 1.0) * fraction).round() as usize;
        self.0.get(index).copied().unwrap_or_default()
    }
}

fn report(name: &str, events: u64, elapsed: Duration, latencies: &mut Latencies) {
    println!(
        "{name:<44} {:>12.0} events/s   commit p50 {:>9.1?}  p99 {:>9.1?}",
        events as f64 / elapsed.as_secs_f64(),
        latencies.percentile(0.50),
        latencies.percentile(0.99),
    );
}

fn open(dir: &std::path::Path, durability: Durability) -> Journal {
    // A cache that holds the whole 1M-event journal, as a replay tool would set it.
    let options = JournalOptions { durability, cache_capacity_bytes: 1 << 30, ..JournalOptions::default() };
    Journal::open(dir, options).unwrap_or_else(|error| panic!("open: {error}"))
}

/// `producers` threads each append `appends` times `batch` events.
fn threads_append(name: &str, durability: Durability, producers: u64, appends: u64, batch: u64) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let journal = Arc::new(open(dir.path(), durability));
    let start = Instant::now();
    let handles: Vec<_> = (0..producers)
        .map(|producer| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(appends as usize);
                for append in 0..appends {
                    let base = (producer * appends + append) * batch;
                    let events = (base..base + batch).map(tick).collect();
                    let started = Instant::now();
                    journal.append_blocking(events).unwrap_or_else(|error| panic!("append: {error}"));
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Latencies(Vec::new());
    for handle in handles {
        latencies.0.extend(handle.join().unwrap_or_default());
    }
    let elapsed = start.elapsed();
    report(name, producers * appends * batch, elapsed, &mut latencies);
}

/// `producers` tokio tasks each append `appends` single events.
fn tasks_append(name: &str, durability: Durability, producers: u64, appends: u64) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let journal = Arc::new(open(dir.path(), durability));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap_or_else(|error| panic!("runtime: {error}"));
    let start = Instant::now();
    let mut latencies = runtime.block_on(async {
        let tasks: Vec<_> = (0..producers)
            .map(|producer| {
                let journal = Arc::clone(&journal);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(appends as usize);
                    for append in 0..appends {
                        let started = Instant::now();
                        journal.append(vec![tick(producer * appends + append)]).await.unwrap_or_else(|e| panic!("{e}"));
                        latencies.push(started.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Latencies(Vec::new());
        for task in tasks {
            all.0.extend(task.await.unwrap_or_default());
        }
        all
    });
    let elapsed = start.elapsed();
    report(name, producers * appends, elapsed, &mut latencies);
}

fn folder_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                // Allocated blocks, not the apparent length: what the disk holds.
                Ok(meta) => total += std::os::unix::fs::MetadataExt::blocks(&meta) * 512,
                Err(_) => {}
            }
        }
    }
    total
}

/// Writes `events` in durable batches, then scans and decodes them all.
fn scan(events: u64) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let journal = open(dir.path(), Durability::Durable);
    let batch = 8_192;
    let write_start = Instant::now();
    let mut encoded_bytes = 0u64;
    for base in (0..events).step_by(batch as usize) {
        let events = (base..(base + batch).min(events)).map(tick).collect();
        let recorded = journal.append_blocking(events).unwrap_or_else(|error| panic!("append: {error}"));
        if base == 0 {
            encoded_bytes = encoded_record_bytes(&recorded);
        }
    }
    let write_elapsed = write_start.elapsed();
    println!(
        "{:<44} {:>12.0} events/s   ({events} events in batches of {batch})",
        format!("durable batch append, {events} events"),
        events as f64 / write_elapsed.as_secs_f64()
    );
    for round in 0..2 {
        let start = Instant::now();
        let mut count = 0u64;
        for envelope in journal.iter_from(Seq::FIRST) {
            let envelope = envelope.unwrap_or_else(|error| panic!("read: {error}"));
            std::hint::black_box(&envelope);
            count += 1;
        }
        assert_eq!(count, events);
        let elapsed = start.elapsed();
        println!(
            "{:<44} {:>12.0} events/s",
            format!("scan + decode {events} ({})", if round == 0 { "cold" } else { "warm" }),
            count as f64 / elapsed.as_secs_f64()
        );
    }
    let start = Instant::now();
    let report = journal.verify().unwrap_or_else(|error| panic!("verify: {error}"));
    assert_eq!(report.fault, None);
    println!(
        "{:<44} {:>12.0} events/s",
        format!("verify (hash + decode) {events}"),
        events as f64 / start.elapsed().as_secs_f64()
    );
    journal.close().unwrap_or_else(|error| panic!("close: {error}"));
    let disk = folder_bytes(dir.path());
    let per_event = disk as f64 / events as f64;
    println!(
        "{:<44} {per_event:>12.1} bytes/event on disk; encoded record {encoded_bytes} bytes; ratio {:.2}",
        format!("disk use, {events} events"),
        per_event / encoded_bytes as f64
    );
}

/// Bytes one record takes in its frame: seq, length, body, hash.
fn encoded_record_bytes(recorded: &[Envelope]) -> u64 {
    let Some(first) = recorded.first() else { return 0 };
    let header = tradeledger_events::envelope::StoredHeader {
        schema_version: first.schema_version,
        time_event: first.time_event,
        time_recorded: first.time_recorded,
        correlation_seq: first.correlation_seq,
        causation_seq: first.causation_seq,
    };
    let mut body = Vec::new();
    let encoded = codec::encode_into(&header, &mut body, "header")
        .and_then(|()| codec::encode_into(&first.event, &mut body, "event"));
    encoded.map_or(0, |()| (body.len() + codec::RECORD_OVERHEAD_BYTES) as u64)
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let scale = if quick { 1 } else { 5 };
    println!("tradeledger-events journal benchmark ({})", if quick { "quick" } else { "full" });
    threads_append("durable, 1 producer, 1 event/append", Durability::Durable, 1, 400 * scale, 1);
    threads_append("durable, 16 producers, 1 event/append", Durability::Durable, 16, 200 * scale, 1);
    tasks_append("durable, 256 tasks, 1 event/append", Durability::Durable, 256, 20 * scale);
    threads_append("durable, 1 producer, 1000 events/append", Durability::Durable, 1, 200 * scale, 1000);
    threads_append("durable, 4 producers, 1000 events/append", Durability::Durable, 4, 60 * scale, 1000);
    threads_append("buffered, 1 producer, 1 event/append", Durability::Buffered, 1, 40_000 * scale, 1);
    threads_append("buffered, 16 producers, 1 event/append", Durability::Buffered, 16, 10_000 * scale, 1);
    threads_append("buffered, 1 producer, 1000 events/append", Durability::Buffered, 1, 200 * scale, 1000);
    scan(1_000_000);
    if !quick {
        scan(10_000_000);
    }
}
