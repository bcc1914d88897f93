//! Any text as a configuration: a config, or an error naming the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeledger::config::Config;

fuzz_target!(|text: &str| {
    let _ = Config::from_yaml(text, "fuzz.yaml");
});
