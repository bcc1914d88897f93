//! Any bytes as a stored record body or event: decoded or refused, never a
//! panic, never more than the 1 MiB limit allocated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeledger::events::codec;

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode_body(data);
    if let Ok(event) = codec::decode_event(data) {
        // What decodes re-encodes to a body that decodes to the same event.
        let bytes = codec::encode_event(&event).expect("a decoded event encodes");
        assert_eq!(codec::decode_event(&bytes).expect("re-decodes"), event);
    }
});
