//! The configuration file, in the source document's shape:
//!
//! ```yaml
//! INITIAL_CAPITAL: 1000000        # default 1,000,000
//! SYMBOLS: [BTCUSDT, ETHUSDT]     # default: any symbol seen in the feed
//! HISTORY_RETAINED: 10000         # finished orders etc. kept in memory; default: all
//! RISK_MANAGEMENT:
//!   MAX_POSITION_SIZE: 1000000    # notional per symbol after the trade
//!   MAX_TOTAL_EXPOSURE: 5000000   # gross notional after the trade
//!   MAX_DRAWDOWN: 20              # percent; a breach trips the breaker
//!   DAILY_LOSS_LIMIT: 10          # percent of the day's starting equity
//!   MAX_ORDER_QUANTITY: 5         # off unless set
//!   MAX_ORDER_NOTIONAL: 250000    # off unless set
//!   PRICE_BAND_PERCENT: 5         # limit price within ±5 % of the last tick; off unless set
//!   MAX_ORDERS_PER_MINUTE: 60     # by event time; off unless set
//!   MAX_CORRELATION: 0.8          # off unless set; needs MAX_CORRELATED_EXPOSURE
//!   CORRELATION_WINDOW: 50        # returns in the rolling window; default 50
//!   MAX_CORRELATED_EXPOSURE: 2000000
//!   CIRCUIT_BREAKER_RESET: manual # or next_utc_day
//! VENUE:
//!   SLIPPAGE_BPS: 0
//!   MAKER_FEE_BPS: 0              # negative for a rebate
//!   TAKER_FEE_BPS: 0
//!   LATENCY_TICKS: 0
//! ```
//!
//! Every key is optional. Unknown keys, wrong types and out-of-range values
//! are errors that name the key.

use rust_decimal::Decimal;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tradeledger_events::{decimal_codec, BreakerResetPolicy, Money, Quantity, RiskLimits, Symbol, VenueConfigured};
use tradeledger_projections::Retention;

/// A configuration that could not be used, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the configuration {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("configuration {origin}: {detail}")]
    Parse { origin: String, detail: String },
    #[error("configuration {origin}: {key}: {reason}")]
    Invalid { origin: String, key: &'static str, reason: String },
}

/// The limits and venue settings in force, recorded as `RiskLimitsSet` and
/// `VenueConfigured` events; and how much finished history the engine keeps
/// in memory, which decides nothing and so is not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub limits: RiskLimits,
    pub venue: VenueConfigured,
    pub retention: Retention,
}

impl Default for Config {
    fn default() -> Self {
        // The empty document is valid, so this cannot fail; `from_yaml`
        // is the single place defaults are written down.
        Config::from_yaml("{}", "defaults").unwrap_or_else(|_| Config::fallback())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(rename = "INITIAL_CAPITAL", default, with = "decimal_codec::option")]
    initial_capital: Option<Decimal>,
    #[serde(rename = "SYMBOLS")]
    symbols: Option<Vec<String>>,
    #[serde(rename = "HISTORY_RETAINED")]
    history_retained: Option<u32>,
    #[serde(rename = "RISK_MANAGEMENT", default)]
    risk: RiskSection,
    #[serde(rename = "VENUE", default)]
    venue: VenueSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskSection {
    #[serde(rename = "MAX_POSITION_SIZE", default, with = "decimal_codec::option")]
    max_position_size: Option<Decimal>,
    #[serde(rename = "MAX_TOTAL_EXPOSURE", default, with = "decimal_codec::option")]
    max_total_exposure: Option<Decimal>,
    #[serde(rename = "MAX_DRAWDOWN", default, with = "decimal_codec::option")]
    max_drawdown: Option<Decimal>,
    #[serde(rename = "DAILY_LOSS_LIMIT", default, with = "decimal_codec::option")]
    daily_loss_limit: Option<Decimal>,
    #[serde(rename = "MAX_ORDER_QUANTITY", default, with = "decimal_codec::option")]
    max_order_quantity: Option<Decimal>,
    #[serde(rename = "MAX_ORDER_NOTIONAL", default, with = "decimal_codec::option")]
    max_order_notional: Option<Decimal>,
    #[serde(rename = "PRICE_BAND_PERCENT", default, with = "decimal_codec::option")]
    price_band_percent: Option<Decimal>,
    #[serde(rename = "MAX_ORDERS_PER_MINUTE")]
    max_orders_per_minute: Option<u32>,
    #[serde(rename = "MAX_CORRELATION", default, with = "decimal_codec::option")]
    max_correlation: Option<Decimal>,
    #[serde(rename = "CORRELATION_WINDOW")]
    correlation_window: Option<u32>,
    #[serde(rename = "MAX_CORRELATED_EXPOSURE", default, with = "decimal_codec::option")]
    max_correlated_exposure: Option<Decimal>,
    #[serde(rename = "CIRCUIT_BREAKER_RESET")]
    circuit_breaker_reset: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueSection {
    #[serde(rename = "SLIPPAGE_BPS", default, with = "decimal_codec::option")]
    slippage_bps: Option<Decimal>,
    #[serde(rename = "MAKER_FEE_BPS", default, with = "decimal_codec::option")]
    maker_fee_bps: Option<Decimal>,
    #[serde(rename = "TAKER_FEE_BPS", default, with = "decimal_codec::option")]
    taker_fee_bps: Option<Decimal>,
    #[serde(rename = "LATENCY_TICKS")]
    latency_ticks: Option<u32>,
}

pub const DEFAULT_INITIAL_CAPITAL: i64 = 1_000_000;
pub const DEFAULT_MAX_POSITION_SIZE: i64 = 1_000_000;
pub const DEFAULT_MAX_TOTAL_EXPOSURE: i64 = 5_000_000;
pub const DEFAULT_MAX_DRAWDOWN_PERCENT: i64 = 20;
pub const DEFAULT_DAILY_LOSS_LIMIT_PERCENT: i64 = 10;
pub const DEFAULT_CORRELATION_WINDOW: u32 = 50;
/// Bound on basis-point settings: 10,000 bps = 100 %.
const BPS_MAX: i64 = 10_000;

/// Checks one key's value against its rule.
struct Rules<'a> {
    origin: &'a str,
}

impl Rules<'_> {
    fn fail(&self, key: &'static str, reason: String) -> ConfigError {
        ConfigError::Invalid { origin: self.origin.to_owned(), key, reason }
    }

    fn positive(&self, key: &'static str, value: Option<Decimal>, default: i64) -> Result<Decimal, ConfigError> {
        let value = value.unwrap_or(Decimal::from(default));
        if value <= Decimal::ZERO {
            return Err(self.fail(key, format!("must be greater than 0, got {value}")));
        }
        Ok(value)
    }

    fn optional_positive(&self, key: &'static str, value: Option<Decimal>) -> Result<Option<Decimal>, ConfigError> {
        value.map(|value| self.positive(key, Some(value), 0)).transpose()
    }

    fn percent(&self, key: &'static str, value: Option<Decimal>, default: i64) -> Result<Decimal, ConfigError> {
        let value = self.positive(key, value, default)?;
        if value > Decimal::ONE_HUNDRED {
            return Err(self.fail(key, format!("is a percentage and must be at most 100, got {value}")));
        }
        Ok(value)
    }

    fn bps(&self, key: &'static str, value: Option<Decimal>, lowest: i64) -> Result<Decimal, ConfigError> {
        let value = value.unwrap_or_default();
        if value < Decimal::from(lowest) || value > Decimal::from(BPS_MAX) {
            return Err(self.fail(key, format!("must be between {lowest} and {BPS_MAX} basis points, got {value}")));
        }
        Ok(value)
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::Read { path: path.to_path_buf(), reason: error.to_string() })?;
        Config::from_yaml(&text, &path.display().to_string())
    }

    /// Parses and validates configuration text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // An empty file is an empty configuration: every default applies.
        let file: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_saphyr::from_str(text)
                .map_err(|error| ConfigError::Parse { origin: origin.to_owned(), detail: error.to_string() })?
        };
        let rules = Rules { origin };
        Ok(Config {
            limits: limits(&file, &rules)?,
            venue: venue(&file.venue, &rules)?,
            retention: retention(file.history_retained, &rules)?,
        })
    }

    /// Only reached if the built-in defaults stopped validating, which the
    /// tests rule out; kept so `Default` needs no panic.
    fn fallback() -> Config {
        Config {
            limits: RiskLimits::document_defaults(Money::of(Decimal::from(DEFAULT_INITIAL_CAPITAL))),
            venue: VenueConfigured {
                slippage_bps: Decimal::ZERO,
                fee_maker_bps: Decimal::ZERO,
                fee_taker_bps: Decimal::ZERO,
                latency_ticks: 0,
            },
            retention: Retention::Everything,
        }
    }
}

fn retention(history_retained: Option<u32>, rules: &Rules<'_>) -> Result<Retention, ConfigError> {
    match history_retained {
        None => Ok(Retention::Everything),
        Some(0) => Err(rules.fail("HISTORY_RETAINED", "must be at least 1, got 0".into())),
        Some(kept) => Ok(Retention::Recent(kept)),
    }
}

fn limits(file: &ConfigFile, rules: &Rules<'_>) -> Result<RiskLimits, ConfigError> {
    let risk = &file.risk;
    let correlation = correlation(risk, rules)?;
    Ok(RiskLimits {
        capital_initial: Money::of(rules.positive("INITIAL_CAPITAL", file.initial_capital, DEFAULT_INITIAL_CAPITAL)?),
        symbols: symbols(file.symbols.as_deref(), rules)?,
        notional_position_max: Money::of(rules.positive(
            "RISK_MANAGEMENT.MAX_POSITION_SIZE",
            risk.max_position_size,
            DEFAULT_MAX_POSITION_SIZE,
        )?),
        exposure_total_max: Money::of(rules.positive(
            "RISK_MANAGEMENT.MAX_TOTAL_EXPOSURE",
            risk.max_total_exposure,
            DEFAULT_MAX_TOTAL_EXPOSURE,
        )?),
        drawdown_max_percent: rules.percent(
            "RISK_MANAGEMENT.MAX_DRAWDOWN",
            risk.max_drawdown,
            DEFAULT_MAX_DRAWDOWN_PERCENT,
        )?,
        daily_loss_max_percent: rules.percent(
            "RISK_MANAGEMENT.DAILY_LOSS_LIMIT",
            risk.daily_loss_limit,
            DEFAULT_DAILY_LOSS_LIMIT_PERCENT,
        )?,
        order_quantity_max: rules
            .optional_positive("RISK_MANAGEMENT.MAX_ORDER_QUANTITY", risk.max_order_quantity)?
            .and_then(|value| Quantity::new(value).ok()),
        order_notional_max: rules
            .optional_positive("RISK_MANAGEMENT.MAX_ORDER_NOTIONAL", risk.max_order_notional)?
            .map(Money::of),
        price_band_percent: rules.optional_positive("RISK_MANAGEMENT.PRICE_BAND_PERCENT", risk.price_band_percent)?,
        orders_per_minute_max: match risk.max_orders_per_minute {
            Some(0) => {
                return Err(rules.fail("RISK_MANAGEMENT.MAX_ORDERS_PER_MINUTE", "must be at least 1, got 0".into()))
            }
            other => other,
        },
        correlation_max: correlation.map(|(max, _, _)| max),
        correlation_window: correlation.map(|(_, window, _)| window),
        correlated_exposure_max: correlation.map(|(_, _, cap)| Money::of(cap)),
        circuit_breaker_reset: breaker_reset(risk.circuit_breaker_reset.as_deref(), rules)?,
    })
}

/// The correlation limit is on when MAX_CORRELATION is set; it then needs
/// its exposure cap, and the window defaults to 50 returns.
fn correlation(risk: &RiskSection, rules: &Rules<'_>) -> Result<Option<(Decimal, u32, Decimal)>, ConfigError> {
    let Some(max) = risk.max_correlation else {
        if risk.correlation_window.is_some() || risk.max_correlated_exposure.is_some() {
            return Err(rules.fail(
                "RISK_MANAGEMENT.MAX_CORRELATION",
                "must be set when CORRELATION_WINDOW or MAX_CORRELATED_EXPOSURE is".into(),
            ));
        }
        return Ok(None);
    };
    if max <= Decimal::ZERO || max > Decimal::ONE {
        return Err(rules.fail("RISK_MANAGEMENT.MAX_CORRELATION", format!("must be in (0, 1], got {max}")));
    }
    let window = risk.correlation_window.unwrap_or(DEFAULT_CORRELATION_WINDOW);
    if window < 2 {
        return Err(
            rules.fail("RISK_MANAGEMENT.CORRELATION_WINDOW", format!("must be at least 2 returns, got {window}"))
        );
    }
    let cap = risk.max_correlated_exposure.ok_or_else(|| {
        rules.fail("RISK_MANAGEMENT.MAX_CORRELATED_EXPOSURE", "must be set when MAX_CORRELATION is".into())
    })?;
    let cap = rules.positive("RISK_MANAGEMENT.MAX_CORRELATED_EXPOSURE", Some(cap), 0)?;
    Ok(Some((max, window, cap)))
}

fn symbols(symbols: Option<&[String]>, rules: &Rules<'_>) -> Result<Option<Vec<Symbol>>, ConfigError> {
    let Some(symbols) = symbols else { return Ok(None) };
    let mut parsed = Vec::with_capacity(symbols.len());
    for text in symbols {
        let symbol: Symbol = text.parse().map_err(|error| rules.fail("SYMBOLS", format!("{error}")))?;
        parsed.push(symbol);
    }
    parsed.sort();
    if let Some(pair) = parsed.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(rules.fail("SYMBOLS", format!("{} is listed twice", pair[0])));
    }
    Ok(Some(parsed))
}

fn breaker_reset(text: Option<&str>, rules: &Rules<'_>) -> Result<BreakerResetPolicy, ConfigError> {
    match text.map(str::trim) {
        None | Some("manual") => Ok(BreakerResetPolicy::Manual),
        Some("next_utc_day") => Ok(BreakerResetPolicy::NextUtcDay),
        Some(other) => Err(rules.fail(
            "RISK_MANAGEMENT.CIRCUIT_BREAKER_RESET",
            format!("must be `manual` or `next_utc_day`, got `{other}`"),
        )),
    }
}

fn venue(venue: &VenueSection, rules: &Rules<'_>) -> Result<VenueConfigured, ConfigError> {
    Ok(VenueConfigured {
        slippage_bps: rules.bps("VENUE.SLIPPAGE_BPS", venue.slippage_bps, 0)?,
        fee_maker_bps: rules.bps("VENUE.MAKER_FEE_BPS", venue.maker_fee_bps, -BPS_MAX)?,
        fee_taker_bps: rules.bps("VENUE.TAKER_FEE_BPS", venue.taker_fee_bps, -BPS_MAX)?,
        latency_ticks: venue.latency_ticks.unwrap_or(0),
    })
}
