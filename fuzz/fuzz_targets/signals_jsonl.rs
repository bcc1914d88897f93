//! Any text as signal JSON lines: read, or an error naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeledger::input::signals::parse_signals;

fuzz_target!(|text: &str| {
    let _ = parse_signals(text, "signals.jsonl", false);
    let _ = parse_signals(text, "signals.jsonl", true);
});
