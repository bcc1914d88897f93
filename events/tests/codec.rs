//! The codec: every variant round-trips, the byte layout is the one
//! documented, and no input bytes make it panic.

mod support;

use proptest::prelude::*;
use rust_decimal::Decimal;
use tradeledger_events::codec::{self, FrameBuilder, RecordCursor};
use tradeledger_events::envelope::StoredHeader;
use tradeledger_events::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_event_round_trips(event in support::event()) {
        let bytes = codec::encode_event(&event).expect("encodes");
        prop_assert_eq!(codec::decode_event(&bytes).expect("decodes"), event);
    }

    #[test]
    fn envelope_bodies_round_trip(event in support::event(), time in support::timestamp(), seq in any::<u64>(), cause in any::<bool>()) {
        let header = StoredHeader {
            schema_version: SCHEMA_VERSION,
            time_event: time,
            time_recorded: time,
            correlation_seq: Seq::new(seq),
            causation_seq: cause.then_some(Seq::new(seq / 2)),
        };
        let mut body = Vec::new();
        codec::encode_into(&header, &mut body, "header").expect("encodes");
        body.extend(codec::encode_event(&event).expect("encodes"));
        prop_assert_eq!(codec::decode_body(&body).expect("decodes"), (header, event));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = codec::decode_event(&bytes);
        let _ = codec::decode_body(&bytes);
        let key = 1u64.to_be_bytes();
        if codec::parse_frame_header(&key, &bytes).is_ok() {
            let mut cursor = RecordCursor::new();
            while let Ok(Some(_)) = cursor.next_record(&bytes) {}
        }
    }

    /// The journal writes the hottest variants by hand (`codec/hot.rs`) and
    /// the rest through serde: every event comes out as serde writes it.
    #[test]
    fn the_hand_written_encoders_write_every_event_as_serde_does(event in support::event()) {
        let mut by_serde = Vec::new();
        codec::encode_into(&event, &mut by_serde, "event").unwrap();
        prop_assert_eq!(codec::encode_event(&event).unwrap(), by_serde);
    }

    #[test]
    fn every_truncation_of_an_event_is_an_error(event in support::event()) {
        let bytes = codec::encode_event(&event).expect("encodes");
        for len in 0..bytes.len() {
            prop_assert!(codec::decode_event(&bytes[..len]).is_err(), "prefix of {} bytes decoded", len);
        }
    }
}

#[test]
fn an_event_encodes_as_variant_index_then_fields() {
    // OrderAccepted is variant 14 (0-based, in declaration order); bincode's
    // varint writes it in one byte, then the string as length + bytes.
    let event = Event::OrderAccepted(OrderAccepted { order_id: "O-1".parse().unwrap() });
    assert_eq!(codec::encode_event(&event).unwrap(), vec![14, 3, b'O', b'-', b'1']);
}

#[test]
fn a_decimal_encodes_as_zigzag_mantissa_and_scale() {
    // 61556.04 = 6155604 × 10^-2. Zigzag(6155604) = 12311208 = 0x00BBDAA8,
    // above u16, so varint writes the u32 marker 252 and 4 LE bytes; the
    // scale is a plain u8.
    let price = Price::new(Decimal::new(6_155_604, 2)).unwrap();
    let mut bytes = Vec::new();
    codec::encode_into(&price, &mut bytes, "price").unwrap();
    assert_eq!(bytes, vec![252, 0xA8, 0xDA, 0xBB, 0x00, 2]);
}

#[test]
fn decoding_refuses_values_the_newtypes_forbid() {
    // A Price of -1 (zigzag 1, scale 0) inside a PriceTicked must not decode.
    let mut bytes = vec![1u8, 3, b'B', b'T', b'C'];
    bytes.extend([1, 0]); // mantissa -1, scale 0
    bytes.extend([0, 0, 0, 0]); // four `None`s
    let error = codec::decode_event(&bytes).unwrap_err();
    assert!(error.to_string().contains("not a positive price"), "{error}");
}

#[test]
fn decoding_refuses_a_scale_above_28() {
    let event = Event::PriceTicked(PriceTicked {
        symbol: "BTC".parse().unwrap(),
        price: Price::new(Decimal::ONE).unwrap(),
        size: None,
        price_bid: None,
        price_ask: None,
        time_venue: None,
    });
    let mut bytes = codec::encode_event(&event).unwrap();
    // Layout: variant, len, "BTC", mantissa(2 = zigzag 1), scale, 4 × None.
    assert_eq!(bytes[6], 0, "scale byte of 1");
    bytes[6] = 29;
    let error = codec::decode_event(&bytes).unwrap_err();
    assert!(error.to_string().contains("scale 29"), "{error}");
}

#[test]
fn a_body_from_a_newer_schema_is_refused_by_name() {
    let header = StoredHeader {
        schema_version: SCHEMA_VERSION + 1,
        time_event: Timestamp::from_unix_nanos(0),
        time_recorded: Timestamp::from_unix_nanos(0),
        correlation_seq: Seq::new(1),
        causation_seq: None,
    };
    let mut body = Vec::new();
    codec::encode_into(&header, &mut body, "header").unwrap();
    body.extend(codec::encode_event(&support::tagged_event("t", 1)).unwrap());
    let error = codec::decode_body(&body).unwrap_err();
    assert_eq!(error, codec::CodecError::NewerSchema { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
}

#[test]
fn a_frame_has_the_documented_layout() {
    let previous = Hash([9; 32]);
    let mut frame = FrameBuilder::new(Seq::new(5), &previous, 256);
    let hash = frame
        .push_record(Seq::new(5), &previous, |out| {
            out.extend_from_slice(b"abc");
            Ok(())
        })
        .unwrap();
    let (key, value) = frame.finish();
    assert_eq!(key, [0, 0, 0, 0, 0, 0, 0, 5], "key is the first seq, big-endian");
    assert_eq!(&value[..4], b"TLF1");
    assert_eq!(&value[4..12], &5u64.to_le_bytes());
    assert_eq!(&value[12..44], &[9; 32]);
    assert_eq!(&value[44..52], &5u64.to_le_bytes(), "record seq");
    assert_eq!(&value[52..56], &3u32.to_le_bytes(), "body length");
    assert_eq!(&value[56..59], b"abc");
    assert_eq!(&value[59..91], &hash.0);
    assert_eq!(value.len(), 91);
    // The record hash is BLAKE3(previous ‖ seq LE ‖ body), computed here
    // independently of the journal's code.
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[9; 32]);
    hasher.update(&5u64.to_le_bytes());
    hasher.update(b"abc");
    assert_eq!(hash.0, *hasher.finalize().as_bytes());
}

#[test]
fn sealing_an_unsealed_frame_gives_the_frame_built_sealed() {
    let previous = Hash([7; 32]);
    let bodies: [&[u8]; 3] = [b"first", b"", b"a third, longer body that spans a block of the hash"];
    let mut sealed = FrameBuilder::new(Seq::new(11), &previous, 64);
    let mut unsealed = FrameBuilder::new(Seq::new(11), &Hash::ZERO, 64);
    let mut last = previous;
    for (offset, body) in bodies.iter().enumerate() {
        let seq = Seq::new(11 + offset as u64);
        let write = |out: &mut Vec<u8>| {
            out.extend_from_slice(body);
            Ok(())
        };
        last = sealed.push_record(seq, &last, write).unwrap();
        unsealed.push_record_unsealed(seq, write).unwrap();
    }
    let (_, sealed) = sealed.finish();
    let (_, mut unsealed) = unsealed.finish();
    assert_ne!(sealed, unsealed, "an unsealed frame holds no hashes yet");
    assert_eq!(codec::seal_frame(&mut unsealed, &previous).unwrap(), last, "sealing returns the last hash");
    assert_eq!(unsealed, sealed);

    let mut cut = sealed[..sealed.len() - 1].to_vec();
    let error = codec::seal_frame(&mut cut, &previous).unwrap_err();
    assert!(error.to_string().contains("record 13 hash cut"), "{error}");
}

#[test]
fn a_frame_built_in_a_used_buffer_is_the_frame_built_fresh() {
    let previous = Hash([3; 32]);
    let build = |mut frame: FrameBuilder| {
        frame
            .push_record(Seq::new(2), &previous, |out| {
                out.extend_from_slice(b"body");
                Ok(())
            })
            .unwrap();
        frame.finish()
    };
    let fresh = build(FrameBuilder::new(Seq::new(2), &previous, 16));
    let used = vec![0xAB; 500];
    let reused = build(FrameBuilder::reusing(used, Seq::new(2), &previous, 16));
    assert_eq!(reused, fresh, "nothing of the buffer's old contents remains");
}

#[test]
fn text_ids_are_validated() {
    assert!("".parse::<Symbol>().is_err());
    assert!("BTC USDT".parse::<Symbol>().is_err());
    assert!("x".repeat(65).parse::<SignalId>().is_err());
    assert!("BTC/USDT".parse::<Symbol>().is_ok());
    assert!("0".parse::<Price>().is_err());
    assert!("-1".parse::<Quantity>().is_err());
    assert!("NaN".parse::<Price>().is_err());
    assert!("inf".parse::<Price>().is_err());
    assert_eq!("1e3".parse::<Quantity>().unwrap().get(), Decimal::new(1000, 0));
}

#[test]
fn timestamps_parse_rfc3339_and_epoch_millis() {
    let from_text: Timestamp = "2024-08-09T00:00:00.123Z".parse().unwrap();
    let from_millis: Timestamp = "1723161600123".parse().unwrap();
    assert_eq!(from_text, from_millis);
    assert_eq!(from_text.to_string(), "2024-08-09T00:00:00.123Z");
    assert!("yesterday".parse::<Timestamp>().is_err());
    assert!(Timestamp::from_unix_millis(i64::MAX).is_err());
}
