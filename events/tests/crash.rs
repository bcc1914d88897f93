//! Crash safety: a child process appends in `Durable` mode from several
//! threads and prints every acknowledgement; the test kills it with SIGKILL
//! at random points, reopens the journal each time and checks that every
//! acknowledged event is there, exactly as written, with a valid chain.
//!
//! `TRADELEDGER_CRASH_KILLS` sets the number of kills (default 20);
//! `TRADELEDGER_CRASH_SEED` replays a failing run.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::{input, tag_of, tagged_event};
use tradeledger_events::*;

const CHILD_DIR_ENV: &str = "TRADELEDGER_CRASH_CHILD_DIR";
/// `direct` makes the child commit with `append_direct` instead of the queue.
const CHILD_MODE_ENV: &str = "TRADELEDGER_CRASH_CHILD_MODE";
const PRODUCERS: u64 = 4;

/// The child side. It runs only when the parent test spawns it.
#[test]
#[ignore = "child process of the crash test; runs only when spawned by it"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else { return };
    let direct = std::env::var(CHILD_MODE_ENV).is_ok_and(|mode| mode == "direct");
    let journal = Arc::new(Journal::open(&dir, JournalOptions::default()).expect("child opens the journal"));
    let round = journal.head().seq.get();
    let threads: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                let mut counter = 0u64;
                loop {
                    let size = 1 + (counter * 7 + producer) % 40;
                    let events = (counter..counter + size)
                        .map(|n| input(n, tagged_event(&format!("r{round}p{producer}"), n)))
                        .collect();
                    let recorded = if direct {
                        journal.append_direct(events, Durability::Durable).expect("child append")
                    } else {
                        journal.append_blocking(events).expect("child append")
                    };
                    // One line per acknowledged append: first seq, last seq,
                    // and the tag of the first event; the rest follow in order.
                    let line = format!(
                        "ACK {} {} r{round}p{producer} {counter}\n",
                        recorded[0].seq,
                        recorded[recorded.len() - 1].seq
                    );
                    std::io::stdout().lock().write_all(line.as_bytes()).expect("stdout");
                    counter += size;
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

/// A small deterministic generator, so a failing seed can be replayed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Every acknowledged event: seq → the tag it must carry.
type Acknowledged = BTreeMap<u64, String>;

fn record_ack(line: &str, acknowledged: &mut Acknowledged) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_, first, last, tag, counter] = fields[..] else { panic!("bad ack line {line:?}") };
    let (first, last, counter): (u64, u64, u64) =
        (first.parse().unwrap(), last.parse().unwrap(), counter.parse().unwrap());
    for (offset, seq) in (first..=last).enumerate() {
        acknowledged.insert(seq, format!("{tag}:{}", counter + offset as u64));
    }
}

/// Runs one child until it has acknowledged `acks_before_kill` appends and a
/// further random pause has passed, then kills it; returns the acks it printed.
fn run_and_kill(
    dir: &std::path::Path,
    mode: &str,
    acks_before_kill: u64,
    pause_micros: u64,
    acknowledged: &mut Acknowledged,
) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_MODE_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    while seen < acks_before_kill {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("ACK ") => {
                record_ack(&line, acknowledged);
                seen += 1;
            }
            Some(Ok(_)) => {}
            _ => panic!("child ended before it was killed"),
        }
    }
    std::thread::sleep(Duration::from_micros(pause_micros));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Acks printed before the kill are acknowledged too.
    for line in lines.map_while(Result::ok) {
        if line.starts_with("ACK ") {
            record_ack(&line, acknowledged);
        }
    }
}

fn check_after_crash(dir: &std::path::Path, acknowledged: &Acknowledged, context: &str) {
    let journal = Journal::open(dir, JournalOptions::default())
        .unwrap_or_else(|error| panic!("{context}: reopen after SIGKILL failed: {error}"));
    let report = journal.verify().unwrap();
    assert_eq!(report.fault, None, "{context}: chain broken after SIGKILL");
    let head = journal.head().seq.get();
    assert_eq!(report.events_verified, head, "{context}");
    let highest_ack = acknowledged.keys().next_back().copied().unwrap_or(0);
    assert!(head >= highest_ack, "{context}: head {head} is below the acknowledged seq {highest_ack}");
    let stored: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    assert_eq!(stored.len() as u64, head, "{context}: dense seqs");
    for (seq, tag) in acknowledged {
        let found = tag_of(&stored[*seq as usize - 1].event);
        assert_eq!(found, Some(tag.as_str()), "{context}: acknowledged seq {seq}");
    }
    journal.close().unwrap();
}

#[test]
fn sigkill_mid_append_loses_no_acknowledged_event() {
    kill_repeatedly("queued");
}

#[test]
fn sigkill_mid_direct_append_loses_no_acknowledged_event() {
    kill_repeatedly("direct");
}

fn kill_repeatedly(mode: &str) {
    let kills: u64 = std::env::var("TRADELEDGER_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("TRADELEDGER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let mut random = SplitMix(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = Acknowledged::new();
    for round in 0..kills {
        // Mostly mid-stream kills; sometimes right after start-up, during recovery.
        let acks = if random.next().is_multiple_of(8) { 0 } else { 1 + random.next() % 60 };
        let pause = random.next() % 3_000;
        run_and_kill(dir.path(), mode, acks, pause, &mut acknowledged);
        check_after_crash(dir.path(), &acknowledged, &format!("{mode}, seed {seed}, round {round}"));
    }
    assert!(acknowledged.len() > kills as usize, "the children acknowledged appends");
    eprintln!("{mode}: {kills} kills survived, {} acknowledged events all present (seed {seed})", acknowledged.len());
}
