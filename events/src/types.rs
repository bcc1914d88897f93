//! Newtypes for the values events carry: what a number or string *means* is
//! in its type, and every constructor that takes outside input validates it
//! and returns a typed error instead of panicking.

use crate::decimal_codec;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Why a value could not become one of the newtypes below. The message names
/// the type and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidValue {
    pub kind: &'static str,
    pub reason: String,
}

impl InvalidValue {
    fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        InvalidValue { kind, reason: reason.into() }
    }
}

/// Position of an event in the journal: dense, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(u64);

impl Seq {
    pub const ZERO: Seq = Seq(0);
    pub const FIRST: Seq = Seq(1);

    pub const fn new(value: u64) -> Seq {
        Seq(value)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The following seq, or `None` at `u64::MAX` (never reached in practice,
    /// but the journal refuses to wrap rather than assume it).
    pub fn next(self) -> Option<Seq> {
        self.0.checked_add(1).map(Seq)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// A UTC instant with nanosecond resolution, stored as nanoseconds since the
/// Unix epoch (i64 covers 1677–2262). Binary formats store the integer;
/// human-readable ones the RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    pub fn from_unix_millis(millis: i64) -> Result<Timestamp, InvalidValue> {
        millis
            .checked_mul(1_000_000)
            .map(Timestamp)
            .ok_or_else(|| InvalidValue::new("timestamp", format!("{millis} ms is outside 1677..2262")))
    }

    pub fn from_datetime(time: DateTime<Utc>) -> Result<Timestamp, InvalidValue> {
        time.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or_else(|| InvalidValue::new("timestamp", format!("{time} is outside 1677..2262")))
    }

    /// The wall clock now, for `time_recorded` only (decisions read time
    /// from events). Read as nanoseconds straight from `SystemTime`: going
    /// through chrono's calendar types cost ~4× as much, once per append.
    /// A clock before 1970 or after 2262 gives the epoch itself.
    pub fn now() -> Timestamp {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since_epoch.as_nanos()).unwrap_or_default())
    }

    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_nanos(self.0)
    }

    /// Days since the epoch of this instant's UTC calendar day; the daily-PnL
    /// boundary is defined by this, never by the wall clock.
    pub fn utc_day(self) -> i64 {
        self.0.div_euclid(86_400 * 1_000_000_000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.to_datetime().format("%Y-%m-%dT%H:%M:%S%.fZ"))
    }
}

impl FromStr for Timestamp {
    type Err = InvalidValue;

    /// Accepts RFC 3339 (`2024-08-09T00:00:00.123Z`), a naive ISO date-time
    /// or a bare date taken as UTC, or integer Unix epoch milliseconds.
    fn from_str(text: &str) -> Result<Timestamp, InvalidValue> {
        let text = text.trim();
        if let Ok(millis) = text.parse::<i64>() {
            return Timestamp::from_unix_millis(millis);
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Timestamp::from_datetime(time.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                return Timestamp::from_datetime(naive.and_utc());
            }
        }
        // A bare date (daily bars) is that day's midnight, UTC.
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Timestamp::from_datetime(date.and_time(NaiveTime::MIN).and_utc());
        }
        Err(InvalidValue::new("timestamp", format!("`{text}` is neither RFC 3339 nor integer epoch milliseconds")))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(de::Error::custom)
        } else {
            i64::deserialize(deserializer).map(Timestamp)
        }
    }
}

/// A 32-byte BLAKE3 digest in the hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

/// UUID newtypes: 16 raw bytes in binary formats (no length prefix), the
/// hyphenated text in human-readable ones.
macro_rules! uuid_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub const fn from_u128(value: u128) -> Self {
                $name(Uuid::from_u128(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, formatter)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                Uuid::parse_str(text.trim())
                    .map($name)
                    .map_err(|error| InvalidValue::new(stringify!($name), format!("`{text}`: {error}")))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(&self.0)
                } else {
                    self.0.as_bytes().serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = String::deserialize(deserializer)?;
                    text.parse().map_err(de::Error::custom)
                } else {
                    <[u8; 16]>::deserialize(deserializer).map(|bytes| $name(Uuid::from_bytes(bytes)))
                }
            }
        }
    };
}

uuid_newtype!(
    /// Identity of one recorded event, derived from the journal id and seq.
    EventId
);
uuid_newtype!(
    /// Identity of one journal, chosen when it is created.
    JournalId
);

/// Longest id or symbol accepted; a limit on everything that is parsed.
pub const TEXT_ID_BYTES_MAX: usize = 64;

fn validate_text_id(kind: &'static str, text: &str) -> Result<(), InvalidValue> {
    if text.is_empty() {
        return Err(InvalidValue::new(kind, "must not be empty"));
    }
    if text.len() > TEXT_ID_BYTES_MAX {
        return Err(InvalidValue::new(
            kind,
            format!("`{}…` is longer than {TEXT_ID_BYTES_MAX} bytes", text.chars().take(16).collect::<String>()),
        ));
    }
    if let Some(bad) = text.chars().find(|character| character.is_control() || character.is_whitespace()) {
        return Err(InvalidValue::new(kind, format!("`{text}` contains the character {bad:?}")));
    }
    Ok(())
}

/// Validated text identifiers: non-empty, at most 64 bytes, no whitespace or
/// control characters. Stored inline up to 24 bytes (no allocation for any
/// realistic symbol or id), and decoded straight from the borrowed bytes.
/// Decoding re-validates, so a stored value is always one a constructor could
/// have made.
macro_rules! text_id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(CompactString);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidValue;
            fn try_from(text: &str) -> Result<Self, InvalidValue> {
                validate_text_id(stringify!($name), text)?;
                Ok($name(CompactString::new(text)))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(text: String) -> Result<Self, InvalidValue> {
                $name::try_from(text.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                $name::try_from(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(TextIdVisitor(stringify!($name))).and_then(|text| {
                    validate_text_id(stringify!($name), &text).map_err(de::Error::custom)?;
                    Ok($name(text))
                })
            }
        }
    };
}

/// Reads a string without an intermediate `String` when the format lends
/// its bytes (bincode's borrowed decoding does).
struct TextIdVisitor(&'static str);

impl de::Visitor<'_> for TextIdVisitor {
    type Value = CompactString;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "a {} string", self.0)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<CompactString, E> {
        Ok(CompactString::new(text))
    }
}

text_id_newtype!(
    /// An instrument, e.g. `BTCUSDT` or `BTC/USDT`.
    Symbol
);
text_id_newtype!(
    /// Caller-chosen id of a trade signal; resubmitting it is idempotent.
    SignalId
);
text_id_newtype!(
    /// The strategy that emitted a signal.
    StrategyId
);
text_id_newtype!(
    /// An order, ours or an outside venue's.
    OrderId
);
text_id_newtype!(
    /// One execution; unique within a journal.
    FillId
);
text_id_newtype!(
    /// One open-to-flat cycle of a symbol's net position.
    PositionId
);

/// Decimal newtypes with a sign rule checked on construction and decode.
macro_rules! decimal_newtype {
    ($(#[$meta:meta])* $name:ident, $rule:expr, $rule_text:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(Decimal);

        impl $name {
            pub fn new(value: Decimal) -> Result<Self, InvalidValue> {
                let rule: fn(&Decimal) -> bool = $rule;
                if rule(&value) {
                    Ok($name(value))
                } else {
                    Err(InvalidValue::new(stringify!($name), format!("{value} {}", $rule_text)))
                }
            }

            pub const fn get(self) -> Decimal {
                self.0
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = InvalidValue;
            fn try_from(value: Decimal) -> Result<Self, InvalidValue> {
                $name::new(value)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                let value = decimal_codec::parse_decimal_text(text)
                    .map_err(|reason| InvalidValue::new(stringify!($name), reason))?;
                $name::new(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, formatter)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                decimal_codec::serialize(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = decimal_codec::deserialize(deserializer)?;
                $name::new(value).map_err(de::Error::custom)
            }
        }
    };
}

decimal_newtype!(
    /// A price: strictly positive.
    Price,
    |value| value.is_sign_positive() && !value.is_zero(),
    "is not a positive price"
);
decimal_newtype!(
    /// A quantity: never negative; direction lives in `Side`.
    Quantity,
    |value| !value.is_sign_negative() || value.is_zero(),
    "is a negative quantity"
);
decimal_newtype!(
    /// An amount of money: fees (negative for rebates), PnL, capital, notional.
    Money,
    |_| true,
    ""
);

impl Quantity {
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Any decimal is an amount of money; only prices and quantities have rules.
    pub const fn of(value: Decimal) -> Money {
        Money(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl FromStr for Side {
    type Err = InvalidValue;
    fn from_str(text: &str) -> Result<Side, InvalidValue> {
        match text.trim().to_ascii_lowercase().as_str() {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            _ => Err(InvalidValue::new("side", format!("`{text}` is neither `buy` nor `sell`"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Market,
    Limit,
}

impl FromStr for OrderType {
    type Err = InvalidValue;
    fn from_str(text: &str) -> Result<OrderType, InvalidValue> {
        match text.trim().to_ascii_lowercase().as_str() {
            "market" => Ok(OrderType::Market),
            "limit" => Ok(OrderType::Limit),
            _ => Err(InvalidValue::new("order type", format!("`{text}` is neither `market` nor `limit`"))),
        }
    }
}

/// Whether a fill added liquidity (maker) or took it (taker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}
