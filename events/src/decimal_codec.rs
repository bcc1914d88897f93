//! The one serde form of `rust_decimal::Decimal` used by every event.
//!
//! rust_decimal's own serde form decodes through `deserialize_any`, which
//! bincode cannot drive (it encodes, then fails with `AnyNotSupported`). So
//! binary formats get an explicit `(mantissa: i128, scale: u8)` pair — exact,
//! compact under varint encoding, and decoded without parsing text — while
//! human-readable formats (JSON, YAML, insta snapshots) get the exact decimal
//! string, so no reader ever sees a float.
//!
//! Use with `#[serde(with = "crate::decimal_codec")]` on a `Decimal` field, or
//! `crate::decimal_codec::option` on an `Option<Decimal>`.

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Largest scale rust_decimal represents; anything above is corrupt input.
const SCALE_MAX: u32 = 28;

pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.collect_str(value)
    } else {
        // scale() is at most 28, so it always fits a u8.
        let scale = u8::try_from(value.scale()).unwrap_or(u8::MAX);
        (value.mantissa(), scale).serialize(serializer)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_any(DecimalTextVisitor)
    } else {
        let (mantissa, scale) = <(i128, u8)>::deserialize(deserializer)?;
        decimal_from_parts(mantissa, scale).map_err(de::Error::custom)
    }
}

/// Rebuilds a decimal from its stored parts, refusing values rust_decimal
/// cannot hold (a 96-bit mantissa, scale up to 28) instead of panicking the
/// way `from_i128_with_scale` would. Splits the words by hand: this runs for
/// every decimal of every decoded event, and `try_from_i128_with_scale` costs
/// several times more.
pub fn decimal_from_parts(mantissa: i128, scale: u8) -> Result<Decimal, String> {
    if u32::from(scale) > SCALE_MAX {
        return Err(format!("decimal scale {scale} is above {SCALE_MAX}"));
    }
    let magnitude = mantissa.unsigned_abs();
    if magnitude >> 96 != 0 {
        return Err(format!("decimal mantissa {mantissa} is wider than 96 bits"));
    }
    // Truncating casts pick out the three 32-bit words of a 96-bit magnitude.
    let (low, middle, high) = (magnitude as u32, (magnitude >> 32) as u32, (magnitude >> 64) as u32);
    Ok(Decimal::from_parts(low, middle, high, mantissa < 0, u32::from(scale)))
}

struct DecimalTextVisitor;

impl Visitor<'_> for DecimalTextVisitor {
    type Value = Decimal;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a decimal number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        parse_decimal_text(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    /// A float from a format that has no decimal type (YAML, JSON): read
    /// through its shortest round-trip text, so `0.8` becomes exactly 0.8
    /// rather than the binary value nearest to it.
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
        if !value.is_finite() {
            return Err(E::custom(format!("{value} is not a decimal number")));
        }
        parse_decimal_text(&value.to_string()).map_err(E::custom)
    }
}

/// Parses a plain or scientific decimal string exactly; rejects NaN, inf and
/// anything rust_decimal cannot represent, naming the text.
pub fn parse_decimal_text(text: &str) -> Result<Decimal, String> {
    let trimmed = text.trim();
    Decimal::from_str(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| format!("`{text}` is not a decimal number"))
}

/// The same encoding for `Option<Decimal>` fields.
pub mod option {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super")] Decimal);

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        value.map(Wrapped).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|wrapped| wrapped.0))
    }
}
