//! Any text as a fills file: read, or an error naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tradeledger::input::fills::parse_fills;

fuzz_target!(|text: &str| {
    let _ = parse_fills(text, Path::new("fills.csv"), false);
    let _ = parse_fills(text, Path::new("fills.csv"), true);
});
