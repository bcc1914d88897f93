//! Hand-written encoders for what the journal writes most: the header of
//! every record, and price ticks (nine of ten events of a tick stream).
//!
//! They write exactly the bytes serde and bincode's standard configuration
//! write for the same values (the property tests below hold them to it),
//! so the format of record does not depend on which path wrote a record.
//! They exist because the generic path costs several times more per
//! record: each field goes through serde's traits and bincode's encoder and
//! writer, and each varint is written a byte slice at a time.
//!
//! Any other event goes through serde.

use crate::envelope::StoredHeader;
use crate::event::PriceTicked;
use crate::types::Timestamp;
use rust_decimal::Decimal;

/// `Event::PriceTicked`'s variant index: its position in `Event`.
const PRICE_TICKED_VARIANT: u32 = 1;

/// bincode's varint markers: a value up to `SINGLE_BYTE_MAX` is its own
/// byte; larger ones are a marker and the little-endian value.
const SINGLE_BYTE_MAX: u64 = 250;
const U16_MARKER: u8 = 251;
const U32_MARKER: u8 = 252;
const U64_MARKER: u8 = 253;
const U128_MARKER: u8 = 254;

pub(super) fn encode_header(header: &StoredHeader, out: &mut Vec<u8>) {
    unsigned(out, u64::from(header.schema_version));
    timestamp(out, header.time_event);
    timestamp(out, header.time_recorded);
    unsigned(out, header.correlation_seq.get());
    match header.causation_seq {
        None => out.push(0),
        Some(seq) => {
            out.push(1);
            unsigned(out, seq.get());
        }
    }
}

/// `Event::PriceTicked(tick)`, as an `Event`.
pub(super) fn encode_price_ticked(tick: &PriceTicked, out: &mut Vec<u8>) {
    unsigned(out, u64::from(PRICE_TICKED_VARIANT));
    let symbol = tick.symbol.as_str();
    unsigned(out, symbol.len() as u64);
    out.extend_from_slice(symbol.as_bytes());
    decimal(out, tick.price.get());
    optional(out, tick.size.map(|size| size.get()), decimal);
    optional(out, tick.price_bid.map(|price| price.get()), decimal);
    optional(out, tick.price_ask.map(|price| price.get()), decimal);
    optional(out, tick.time_venue, timestamp);
}

fn optional<T>(out: &mut Vec<u8>, value: Option<T>, encode: fn(&mut Vec<u8>, T)) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            encode(out, value);
        }
    }
}

/// `decimal_codec`'s binary form: the mantissa, then the scale as a byte.
fn decimal(out: &mut Vec<u8>, value: Decimal) {
    signed_wide(out, value.mantissa());
    out.push(u8::try_from(value.scale()).unwrap_or(u8::MAX));
}

fn timestamp(out: &mut Vec<u8>, time: Timestamp) {
    let nanos = time.unix_nanos();
    unsigned(out, ((nanos << 1) ^ (nanos >> 63)) as u64);
}

/// bincode's varint of a `u16`, `u32` or `u64` (one scheme for all three).
fn unsigned(out: &mut Vec<u8>, value: u64) {
    if value <= SINGLE_BYTE_MAX {
        out.push(value as u8);
    } else if let Ok(value) = u16::try_from(value) {
        out.push(U16_MARKER);
        out.extend_from_slice(&value.to_le_bytes());
    } else if let Ok(value) = u32::try_from(value) {
        out.push(U32_MARKER);
        out.extend_from_slice(&value.to_le_bytes());
    } else {
        out.push(U64_MARKER);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// bincode's varint of an `i128`: zigzag, then the unsigned scheme with a
/// 16-byte form beyond `u64`.
fn signed_wide(out: &mut Vec<u8>, value: i128) {
    let zigzag = ((value << 1) ^ (value >> 127)) as u128;
    match u64::try_from(zigzag) {
        Ok(narrow) => unsigned(out, narrow),
        Err(_) => {
            out.push(U128_MARKER);
            out.extend_from_slice(&zigzag.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_into;
    use crate::event::Event;
    use crate::types::{Price, Quantity, Seq};
    use proptest::prelude::*;

    /// Decimals across the mantissa's whole 96-bit range and every scale, so
    /// each varint width is crossed.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28, 0u32..4).prop_map(
            |(low, middle, high, negative, scale, width)| {
                // Narrow mantissas as often as wide ones: real prices are small.
                let high = if width == 0 { high } else { 0 };
                let middle = if width <= 1 { middle } else { 0 };
                let low = if width <= 2 { low } else { low % 300 };
                Decimal::from_parts(low, middle, high, negative, scale)
            },
        )
    }

    fn any_price() -> impl Strategy<Value = Price> {
        any_decimal().prop_filter_map("not a positive price", |value| Price::new(value.abs()).ok())
    }

    fn any_timestamp() -> impl Strategy<Value = Timestamp> {
        prop_oneof![any::<i64>(), -300i64..300, -70_000i64..70_000].prop_map(Timestamp::from_unix_nanos)
    }

    fn any_seq() -> impl Strategy<Value = Seq> {
        prop_oneof![any::<u64>(), 0u64..300, 0u64..70_000, 0u64..5_000_000_000].prop_map(Seq::new)
    }

    fn any_tick() -> impl Strategy<Value = PriceTicked> {
        (
            "[A-Z]{1,12}(/[A-Z]{1,6})?",
            any_price(),
            proptest::option::of(any_decimal().prop_filter_map("negative", |value| Quantity::new(value.abs()).ok())),
            proptest::option::of(any_price()),
            proptest::option::of(any_price()),
            proptest::option::of(any_timestamp()),
        )
            .prop_map(|(symbol, price, size, price_bid, price_ask, time_venue)| PriceTicked {
                symbol: symbol.parse().unwrap(),
                price,
                size,
                price_bid,
                price_ask,
                time_venue,
            })
    }

    proptest! {
        #[test]
        fn a_header_encodes_as_serde_encodes_it(
            schema_version in any::<u16>(),
            time_event in any_timestamp(),
            time_recorded in any_timestamp(),
            correlation_seq in any_seq(),
            causation_seq in proptest::option::of(any_seq()),
        ) {
            let header = StoredHeader { schema_version, time_event, time_recorded, correlation_seq, causation_seq };
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            encode_header(&header, &mut by_hand);
            encode_into(&header, &mut by_serde, "header").unwrap();
            prop_assert_eq!(by_hand, by_serde);
        }

        #[test]
        fn a_tick_encodes_as_serde_encodes_it(tick in any_tick()) {
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            encode_price_ticked(&tick, &mut by_hand);
            encode_into(&Event::PriceTicked(tick), &mut by_serde, "event").unwrap();
            prop_assert_eq!(by_hand, by_serde);
        }
    }

    #[test]
    fn each_varint_width_is_written_as_bincode_writes_it() {
        for value in [0, 250, 251, 65_535, 65_536, u64::from(u32::MAX), u64::from(u32::MAX) + 1, u64::MAX] {
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            unsigned(&mut by_hand, value);
            encode_into(&value, &mut by_serde, "u64").unwrap();
            assert_eq!(by_hand, by_serde, "{value}");
        }
        for value in [0, -1, 1, i128::from(i64::MIN), i128::from(u64::MAX), -i128::from(u64::MAX), i128::MAX, i128::MIN] {
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            signed_wide(&mut by_hand, value);
            encode_into(&value, &mut by_serde, "i128").unwrap();
            assert_eq!(by_hand, by_serde, "{value}");
        }
    }
}
