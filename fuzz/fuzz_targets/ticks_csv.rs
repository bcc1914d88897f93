//! Any text as a tick file, in every format: read, or an error naming the
//! line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tradeledger::input::ticks::{parse_ticks, TickFormat, TickOptions};

fuzz_target!(|text: &str| {
    let symbol = Some("BTCUSDT".parse().expect("a valid symbol"));
    for format in [None, Some(TickFormat::Generic), Some(TickFormat::BinanceTrades), Some(TickFormat::Ohlcv), Some(TickFormat::LeanTrades)] {
        for skip_bad_rows in [false, true] {
            let options = TickOptions { format, symbol: symbol.clone(), skip_bad_rows, ..TickOptions::default() };
            let _ = parse_ticks(text, Path::new("20131008_spy_Trade_Tick.csv"), &options);
        }
    }
});
