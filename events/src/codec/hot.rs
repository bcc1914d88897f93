//! Hand-written encoders for what the journal writes most: the header of
//! every record, price ticks (nine of ten events of a tick stream), and the
//! events of a signal's round trip (the signal, its verdict with every
//! check, the order, the venue's acceptance and the fill).
//!
//! They write exactly the bytes serde and bincode's standard configuration
//! write for the same values (property tests here and in `tests/codec.rs`
//! hold them to it, and the golden-file test compares both paths on every
//! variant), so the format
//! of record does not depend on which path wrote a record.
//! They exist because the generic path costs several times more per
//! record: each field goes through serde's traits and bincode's encoder and
//! writer, and each varint is written a byte slice at a time.
//!
//! Any other event goes through serde.

use crate::envelope::StoredHeader;
use crate::event::{
    CheckOutcome, Event, OrderAccepted, OrderFilled, OrderSubmitted, PriceTicked, RiskCheckPassed, RiskCheckRejected,
    SignalReceived,
};
use crate::types::Timestamp;
use rust_decimal::Decimal;

/// Encodes `event` by hand when it is one of the hot variants; `false`
/// (nothing written) for the others, which serde encodes.
pub(super) fn encode_event(event: &Event, out: &mut Vec<u8>) -> bool {
    match event {
        Event::SignalReceived(signal) => encode_signal_received(signal, out),
        Event::PriceTicked(tick) => encode_price_ticked(tick, out),
        Event::RiskCheckPassed(passed) => encode_risk_check_passed(passed, out),
        Event::RiskCheckRejected(rejected) => encode_risk_check_rejected(rejected, out),
        Event::OrderSubmitted(submitted) => encode_order_submitted(submitted, out),
        Event::OrderAccepted(accepted) => encode_order_accepted(accepted, out),
        Event::OrderFilled(fill) => encode_order_filled(fill, out),
        _ => return false,
    }
    true
}

/// An `Event`'s variant index (bincode's enum tag), as serde numbers it:
/// the position of the variant in `Event`.
mod variant {
    pub const SIGNAL_RECEIVED: u64 = 0;
    pub const PRICE_TICKED: u64 = 1;
    pub const RISK_CHECK_PASSED: u64 = 8;
    pub const RISK_CHECK_REJECTED: u64 = 9;
    pub const ORDER_SUBMITTED: u64 = 13;
    pub const ORDER_ACCEPTED: u64 = 14;
    pub const ORDER_FILLED: u64 = 16;
}

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
    unsigned(out, variant::PRICE_TICKED);
    text(out, tick.symbol.as_str());
    decimal(out, tick.price.get());
    optional(out, tick.size.map(|size| size.get()), decimal);
    optional(out, tick.price_bid.map(|price| price.get()), decimal);
    optional(out, tick.price_ask.map(|price| price.get()), decimal);
    optional(out, tick.time_venue, timestamp);
}

fn encode_signal_received(signal: &SignalReceived, out: &mut Vec<u8>) {
    unsigned(out, variant::SIGNAL_RECEIVED);
    text(out, signal.signal_id.as_str());
    text(out, signal.strategy_id.as_str());
    text(out, signal.symbol.as_str());
    // Fieldless enums without explicit discriminants: `as` gives the
    // declaration index, which is serde's variant index.
    unsigned(out, signal.side as u64);
    decimal(out, signal.quantity);
    unsigned(out, signal.order_type as u64);
    optional(out, signal.price_limit, decimal);
    optional(out, signal.price_stop_loss, decimal);
    optional(out, signal.price_take_profit, decimal);
}

fn encode_risk_check_passed(passed: &RiskCheckPassed, out: &mut Vec<u8>) {
    unsigned(out, variant::RISK_CHECK_PASSED);
    text(out, passed.signal_id.as_str());
    checks(out, &passed.checks);
}

fn encode_risk_check_rejected(rejected: &RiskCheckRejected, out: &mut Vec<u8>) {
    unsigned(out, variant::RISK_CHECK_REJECTED);
    text(out, rejected.signal_id.as_str());
    checks(out, &rejected.checks);
    text(out, &rejected.reason);
}

/// A sequence: its length, then each element.
fn checks(out: &mut Vec<u8>, checks: &[CheckOutcome]) {
    unsigned(out, checks.len() as u64);
    for outcome in checks {
        unsigned(out, outcome.check as u64);
        optional(out, outcome.measured, decimal);
        optional(out, outcome.limit, decimal);
        unsigned(out, outcome.verdict as u64);
    }
}

fn encode_order_submitted(submitted: &OrderSubmitted, out: &mut Vec<u8>) {
    unsigned(out, variant::ORDER_SUBMITTED);
    text(out, submitted.order_id.as_str());
    optional(out, submitted.signal_id.as_ref().map(|id| id.as_str()), text);
    text(out, submitted.symbol.as_str());
    unsigned(out, submitted.side as u64);
    unsigned(out, submitted.order_type as u64);
    decimal(out, submitted.quantity.get());
    optional(out, submitted.price_limit.map(|price| price.get()), decimal);
    out.push(u8::from(submitted.reduce_only));
    optional(out, submitted.exit_reason.map(|reason| reason as u64), unsigned);
}

fn encode_order_accepted(accepted: &OrderAccepted, out: &mut Vec<u8>) {
    unsigned(out, variant::ORDER_ACCEPTED);
    text(out, accepted.order_id.as_str());
}

fn encode_order_filled(fill: &OrderFilled, out: &mut Vec<u8>) {
    unsigned(out, variant::ORDER_FILLED);
    text(out, fill.order_id.as_str());
    text(out, fill.fill_id.as_str());
    text(out, fill.symbol.as_str());
    unsigned(out, fill.side as u64);
    decimal(out, fill.quantity.get());
    decimal(out, fill.price.get());
    decimal(out, fill.fee.get());
    unsigned(out, fill.liquidity as u64);
}

/// A string: its length in bytes, then the bytes.
fn text(out: &mut Vec<u8>, text: &str) {
    unsigned(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
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

        /// Every varint width of a decimal, through the tick (the other
        /// hot events share its field encoders; `tests/codec.rs` holds
        /// every variant to serde's bytes).
        #[test]
        fn a_tick_encodes_as_serde_encodes_it(tick in any_tick()) {
            let tick = Event::PriceTicked(tick);
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            prop_assert!(encode_event(&tick, &mut by_hand));
            encode_into(&tick, &mut by_serde, "event").unwrap();
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
        for value in [0, -1, 1, i128::from(i64::MIN), i128::from(u64::MAX), -i128::from(u64::MAX), i128::MAX, i128::MIN]
        {
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            signed_wide(&mut by_hand, value);
            encode_into(&value, &mut by_serde, "i128").unwrap();
            assert_eq!(by_hand, by_serde, "{value}");
        }
    }
}
