//! Any key and value as a stored frame: the verifier accepts or names a
//! fault, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeledger::events::verify::ChainVerifier;
use tradeledger::events::JournalId;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (key, value) = data.split_at(8);
    let mut verifier = ChainVerifier::new(JournalId::from_u128(7));
    let _ = verifier.check_frame(key, value);
    let _ = verifier.finish(None);
});
