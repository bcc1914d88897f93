//! Engine benchmark, on a `Buffered` journal in the temp folder:
//! - end to end: signal → risk check → order → simulated fill → position and
//!   risk update (a signal, then the tick that fills it), latency p50/p99;
//! - the pre-trade check alone;
//! - a tick stream with one order every 10 ticks, in ticks/s.
//!
//! `cargo bench -p tradeledger --bench engine` (add `-- --quick` for less,
//! `-- --huge-pages` to leave transparent huge pages on)

use rust_decimal::Decimal;
use std::time::{Duration, Instant};
use tradeledger::affinity::{allowed_cpus, pin_current_thread, CpuPins};
use tradeledger::config::Config;
use tradeledger::engine::TradingSystem;
use tradeledger::events::{Journal, JournalOptions, OrderType, PriceTicked, Side, SignalReceived, Timestamp};
use tradeledger::projections::Retention;
use tradeledger::risk::check_signal;

fn time(step: u64) -> Timestamp {
    Timestamp::from_unix_nanos(1_723_161_600_000_000_000 + step as i64 * 1_000_000)
}

fn tick(step: u64) -> PriceTicked {
    PriceTicked {
        symbol: "BTCUSDT".parse().unwrap(),
        price: tradeledger::events::Price::new(Decimal::new(6_000_000 + (step % 500) as i64, 2)).unwrap(),
        size: None,
        price_bid: None,
        price_ask: None,
        time_venue: None,
    }
}

/// Signal `step`: buys on even steps, sells on odd ones, so the position
/// stays within the default limits however long the run.
fn signal(step: u64) -> SignalReceived {
    SignalReceived {
        signal_id: format!("s{step}").parse().unwrap(),
        strategy_id: "bench".parse().unwrap(),
        symbol: "BTCUSDT".parse().unwrap(),
        side: if step.is_multiple_of(2) { Side::Buy } else { Side::Sell },
        quantity: Decimal::new(1, 3),
        order_type: OrderType::Market,
        price_limit: None,
        price_stop_loss: None,
        price_take_profit: None,
    }
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort_unstable();
    samples.get(((samples.len() as f64 - 1.0) * fraction) as usize).copied().unwrap_or_default()
}

/// CPU time of the calling thread so far (Linux: `/proc/thread-self/schedstat`),
/// a steadier figure than wall time on a shared VM; `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    schedstat_cpu("/proc/thread-self/schedstat")
}

fn schedstat_cpu(path: impl AsRef<std::path::Path>) -> Option<Duration> {
    let schedstat = std::fs::read_to_string(path).ok()?;
    schedstat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// CPU time so far of the journal's storage thread (by its name), and of
/// every other thread but the calling one (sled's, the runtime's; a thread
/// that has exited is not counted).
fn other_threads_cpu() -> Option<(Duration, Duration)> {
    let me = std::fs::read_link("/proc/thread-self").ok()?;
    let (mut storage, mut others) = (Duration::ZERO, Duration::ZERO);
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if me.ends_with(task.file_name()) {
            continue;
        }
        let cpu = schedstat_cpu(task.path().join("schedstat")).unwrap_or_default();
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.starts_with("tradeledger-jou") {
            storage += cpu;
        } else {
            others += cpu;
        }
    }
    Some((storage, others))
}

/// The CPU clocks a tick figure is read from.
struct Clocks {
    engine: Option<Duration>,
    others: Option<(Duration, Duration)>,
    page_faults: Option<u64>,
    resident_kib: Option<u64>,
}

fn clocks() -> Clocks {
    Clocks {
        engine: thread_cpu(),
        others: other_threads_cpu(),
        page_faults: minor_page_faults(),
        resident_kib: resident_kib(),
    }
}

/// Minor page faults of the whole process so far (Linux: field 10 of
/// `/proc/self/stat`). On this VM the first touch of a fresh 2 MiB huge
/// page can cost milliseconds, so the faults of a run explain much of how
/// far its figures stray.
fn minor_page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 2, the command name, is in parentheses and may hold spaces.
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    after_name.split_whitespace().nth(7)?.parse().ok()
}

/// The process's resident memory (`VmRSS` of `/proc/self/status`), in KiB.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_per_tick(before: Clocks, ticks: u64) -> String {
    let per_tick = |cpu: Duration| cpu.as_secs_f64() * 1e6 / ticks as f64;
    let after = clocks();
    let mut parts = Vec::new();
    if let (Some(before), Some(after)) = (before.engine, after.engine) {
        parts.push(format!("CPU per tick: engine thread {:.2} µs", per_tick(after - before)));
    }
    if let (Some(before), Some(after)) = (before.others, after.others) {
        parts.push(format!("storage thread {:.2} µs", per_tick(after.0.saturating_sub(before.0))));
        parts.push(format!("other threads {:.2} µs", per_tick(after.1.saturating_sub(before.1))));
    }
    if let (Some(before), Some(after)) = (before.page_faults, after.page_faults) {
        parts.push(format!("{} page faults", after.saturating_sub(before)));
    }
    if let (Some(before), Some(after)) = (before.resident_kib, after.resident_kib) {
        parts.push(format!("resident {} → {} MiB", before / 1024, after / 1024));
    }
    parts.join(", ")
}

/// With `pins`, the journal is opened on the storage CPU (its threads
/// inherit it) and the engine then runs on its own, as `record --pin-cpus`.
async fn system(dir: &std::path::Path, retention: Retention, pins: Option<CpuPins>) -> TradingSystem {
    if let Some(pins) = pins {
        pin_current_thread(pins.storage).unwrap();
    }
    let journal = Journal::open(dir, JournalOptions::buffered()).unwrap();
    if let Some(pins) = pins {
        pin_current_thread(pins.engine).unwrap();
    }
    TradingSystem::open(journal, Config { retention, ..Config::default() }, time(0)).await.unwrap()
}

async fn end_to_end(rounds: u64, retention: Retention, pins: Option<CpuPins>) {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path(), retention, pins).await;
    system.on_tick(time(0), tick(0)).await.unwrap();
    let mut latencies = Vec::with_capacity(rounds as usize);
    let started = Instant::now();
    for round in 1..=rounds {
        let began = Instant::now();
        system.submit_signal(time(round), signal(round)).await.unwrap();
        system.on_tick(time(round), tick(round)).await.unwrap();
        latencies.push(began.elapsed());
    }
    let elapsed = started.elapsed();
    println!(
        "end to end (signal + filling tick)   {:>10.0} signals/s   p50 {:>8.1?}  p99 {:>8.1?}",
        rounds as f64 / elapsed.as_secs_f64(),
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99)
    );
    println!(
        "  p90 {:?} p95 {:?} p99.9 {:?} max {:?}",
        percentile(&mut latencies, 0.90),
        percentile(&mut latencies, 0.95),
        percentile(&mut latencies, 0.999),
        percentile(&mut latencies, 1.0)
    );
    let ledger = system.ledger().await;
    let rounds_check = 10_000.min(rounds);
    let checked = Instant::now();
    for round in 0..rounds_check {
        std::hint::black_box(check_signal(&ledger, &signal(round), time(round)));
    }
    println!(
        "pre-trade check alone                {:>10.0} ns/check",
        checked.elapsed().as_nanos() as f64 / rounds_check as f64
    );
    system.stop().await.unwrap();
}

async fn tick_stream(ticks: u64, retention: Retention, pins: Option<CpuPins>) {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path(), retention, pins).await;
    let (started, cpu) = (Instant::now(), clocks());
    for step in 1..=ticks {
        system.on_tick(time(step), tick(step)).await.unwrap();
        if step.is_multiple_of(10) {
            system.submit_signal(time(step), signal(step / 10)).await.unwrap();
        }
    }
    let elapsed = started.elapsed();
    println!(
        "tick stream, an order every 10 ticks {:>10.0} ticks/s   ({ticks} ticks; {})",
        ticks as f64 / elapsed.as_secs_f64(),
        cpu_per_tick(cpu, ticks)
    );
    system.stop().await.unwrap();
}

/// The same stream fed through `handle_inputs` in batches: one journal
/// commit per batch instead of one per input.
async fn tick_stream_batched(ticks: u64, batch: u64, retention: Retention, pins: Option<CpuPins>) {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path(), retention, pins).await;
    let (started, cpu) = (Instant::now(), clocks());
    let mut inputs = Vec::with_capacity(batch as usize * 2);
    for step in 1..=ticks {
        inputs.push((time(step), tradeledger::events::Event::PriceTicked(tick(step))));
        if step.is_multiple_of(10) {
            inputs.push((time(step), tradeledger::events::Event::SignalReceived(signal(step / 10))));
        }
        if step.is_multiple_of(batch) {
            system.handle_inputs(inputs.drain(..)).await.unwrap();
        }
    }
    system.handle_inputs(inputs).await.unwrap();
    let elapsed = started.elapsed();
    println!(
        "same, in batches of {batch:<5} ticks      {:>10.0} ticks/s   ({ticks} ticks; {})",
        ticks as f64 / elapsed.as_secs_f64(),
        cpu_per_tick(cpu, ticks)
    );
    system.stop().await.unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // As the binary does (see `tradeledger::memory`); `--huge-pages` keeps
    // transparent huge pages, to compare.
    let huge_pages = args.iter().any(|arg| arg == "--huge-pages");
    if !huge_pages {
        tradeledger::memory::small_pages_only().expect("opting out of transparent huge pages");
    }
    // `--quick` runs a fifth of the default; `--scale=N` N fifths (to profile).
    let scale = match args.iter().find_map(|arg| arg.strip_prefix("--scale=")) {
        Some(scale) => scale.parse().expect("--scale=N: a whole number"),
        None if args.iter().any(|arg| arg == "--quick") => 1,
        None => 5,
    };
    // `--retained=N`: the engine keeps N of each kind of finished history
    // (`HISTORY_RETAINED`); by default everything, the default config.
    let retention = match args.iter().find_map(|arg| arg.strip_prefix("--retained=")) {
        Some(kept) => Retention::Recent(kept.parse().expect("--retained=N: a whole number")),
        None => Retention::Everything,
    };
    // `--pin`: the engine on the first allowed CPU, the journal's threads on
    // the last (see `tradeledger::affinity`).
    let pins = args.iter().any(|arg| arg == "--pin").then(|| {
        let cpus = allowed_cpus().expect("--pin: reading the allowed CPUs");
        match (cpus.first(), cpus.last()) {
            (Some(&engine), Some(&storage)) if engine != storage => CpuPins { engine, storage },
            _ => panic!("--pin needs two CPUs; this process may use {cpus:?}"),
        }
    });
    println!("history retained: {retention:?}; CPUs pinned: {pins:?}; transparent huge pages: {huge_pages}");
    // `-- end-to-end`, `-- stream` or `-- batched` runs one part (to profile it).
    let wanted = |part: &str| {
        !args.iter().any(|arg| ["end-to-end", "stream", "batched"].contains(&arg.as_str()))
            || args.iter().any(|arg| arg == part)
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        if wanted("end-to-end") {
            end_to_end(2_000 * scale, retention, pins).await;
        }
        if wanted("stream") {
            tick_stream(20_000 * scale, retention, pins).await;
        }
        if wanted("batched") {
            tick_stream_batched(200_000 * scale, 1_000, retention, pins).await;
        }
    });
}

/// The allocator of the `tradeledger` binary (see `src/main.rs`), so the
/// figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
