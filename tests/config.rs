//! The configuration file: defaults, the document's example, and an error
//! naming the key for every kind of bad value.

use rust_decimal::Decimal;
use tradeledger::config::{Config, ConfigError};
use tradeledger::events::BreakerResetPolicy;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn an_empty_file_gives_the_documents_defaults_with_further_limits_off() {
    let config = Config::from_yaml("", "empty.yaml").unwrap();
    let limits = &config.limits;
    assert_eq!(limits.capital_initial.get(), dec("1000000"));
    assert_eq!(limits.notional_position_max.get(), dec("1000000"));
    assert_eq!(limits.exposure_total_max.get(), dec("5000000"));
    assert_eq!(limits.drawdown_max_percent, dec("20"));
    assert_eq!(limits.daily_loss_max_percent, dec("10"));
    assert_eq!(limits.symbols, None);
    assert_eq!(limits.order_quantity_max, None);
    assert_eq!(limits.order_notional_max, None);
    assert_eq!(limits.price_band_percent, None);
    assert_eq!(limits.orders_per_minute_max, None);
    assert_eq!(limits.correlation_max, None);
    assert_eq!(limits.circuit_breaker_reset, BreakerResetPolicy::Manual);
    assert_eq!(config.venue.latency_ticks, 0);
    assert_eq!(config.venue.slippage_bps, Decimal::ZERO);
    assert_eq!(Config::default(), config);
}

#[test]
fn the_documents_example_parses() {
    let yaml = "RISK_MANAGEMENT:\n  MAX_POSITION_SIZE: 1000000  # $1M per position\n  MAX_TOTAL_EXPOSURE: 5000000\n  MAX_DRAWDOWN: 20\n  DAILY_LOSS_LIMIT: 10\n";
    assert_eq!(Config::from_yaml(yaml, "doc.yaml").unwrap(), Config::default());
}

#[test]
fn every_key_is_read_and_decimals_stay_exact() {
    let yaml = r#"
INITIAL_CAPITAL: 250000.50
SYMBOLS: [ETHUSDT, BTCUSDT]
RISK_MANAGEMENT:
  MAX_POSITION_SIZE: 100000
  MAX_TOTAL_EXPOSURE: 300000
  MAX_DRAWDOWN: 12.5
  DAILY_LOSS_LIMIT: 3
  MAX_ORDER_QUANTITY: 0.5
  MAX_ORDER_NOTIONAL: "25000.10"
  PRICE_BAND_PERCENT: 2.5
  MAX_ORDERS_PER_MINUTE: 30
  MAX_CORRELATION: 0.8
  CORRELATION_WINDOW: 20
  MAX_CORRELATED_EXPOSURE: 150000
  CIRCUIT_BREAKER_RESET: next_utc_day
VENUE:
  SLIPPAGE_BPS: 1.5
  MAKER_FEE_BPS: -0.25
  TAKER_FEE_BPS: 7.5
  LATENCY_TICKS: 2
"#;
    let config = Config::from_yaml(yaml, "full.yaml").unwrap();
    let limits = &config.limits;
    assert_eq!(limits.capital_initial.get(), dec("250000.50"));
    let symbols: Vec<String> = limits.symbols.as_ref().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"], "sorted");
    assert_eq!(limits.drawdown_max_percent, dec("12.5"));
    assert_eq!(limits.order_quantity_max.unwrap().get(), dec("0.5"));
    assert_eq!(limits.order_notional_max.unwrap().get(), dec("25000.10"));
    assert_eq!(limits.price_band_percent, Some(dec("2.5")));
    assert_eq!(limits.orders_per_minute_max, Some(30));
    assert_eq!(limits.correlation_max, Some(dec("0.8")), "a YAML float is read as the decimal written");
    assert_eq!(limits.correlation_window, Some(20));
    assert_eq!(limits.correlated_exposure_max.unwrap().get(), dec("150000"));
    assert_eq!(limits.circuit_breaker_reset, BreakerResetPolicy::NextUtcDay);
    assert_eq!(config.venue.slippage_bps, dec("1.5"));
    assert_eq!(config.venue.fee_maker_bps, dec("-0.25"));
    assert_eq!(config.venue.fee_taker_bps, dec("7.5"));
    assert_eq!(config.venue.latency_ticks, 2);
}

fn error_of(yaml: &str) -> ConfigError {
    Config::from_yaml(yaml, "bad.yaml").unwrap_err()
}

fn invalid_key(yaml: &str) -> &'static str {
    match error_of(yaml) {
        ConfigError::Invalid { key, .. } => key,
        other => panic!("expected an invalid value, got {other}"),
    }
}

#[test]
fn unknown_keys_and_wrong_types_are_named() {
    let unknown = error_of("RISK_MANAGEMENT:\n  MAX_DRAWDWON: 20\n").to_string();
    assert!(unknown.contains("MAX_DRAWDWON"), "{unknown}");
    assert!(unknown.contains("bad.yaml"), "{unknown}");
    let top = error_of("LEVERAGE: 3\n").to_string();
    assert!(top.contains("LEVERAGE"), "{top}");
    let wrong_type = error_of("RISK_MANAGEMENT:\n  MAX_DRAWDOWN: twenty\n").to_string();
    assert!(wrong_type.contains("twenty"), "{wrong_type}");
    let negative_count = error_of("VENUE:\n  LATENCY_TICKS: -1\n").to_string();
    assert!(negative_count.contains("LATENCY_TICKS") || negative_count.contains("-1"), "{negative_count}");
}

#[test]
fn out_of_range_values_name_their_key() {
    assert_eq!(invalid_key("INITIAL_CAPITAL: 0\n"), "INITIAL_CAPITAL");
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  MAX_POSITION_SIZE: -5\n"), "RISK_MANAGEMENT.MAX_POSITION_SIZE");
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  MAX_DRAWDOWN: 150\n"), "RISK_MANAGEMENT.MAX_DRAWDOWN");
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  DAILY_LOSS_LIMIT: 0\n"), "RISK_MANAGEMENT.DAILY_LOSS_LIMIT");
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  MAX_ORDERS_PER_MINUTE: 0\n"), "RISK_MANAGEMENT.MAX_ORDERS_PER_MINUTE");
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  MAX_CORRELATION: 0.8\n"), "RISK_MANAGEMENT.MAX_CORRELATED_EXPOSURE");
    assert_eq!(
        invalid_key("RISK_MANAGEMENT:\n  MAX_CORRELATION: 1.5\n  MAX_CORRELATED_EXPOSURE: 10\n"),
        "RISK_MANAGEMENT.MAX_CORRELATION"
    );
    assert_eq!(invalid_key("RISK_MANAGEMENT:\n  CORRELATION_WINDOW: 10\n"), "RISK_MANAGEMENT.MAX_CORRELATION");
    assert_eq!(
        invalid_key("RISK_MANAGEMENT:\n  CIRCUIT_BREAKER_RESET: weekly\n"),
        "RISK_MANAGEMENT.CIRCUIT_BREAKER_RESET"
    );
    assert_eq!(invalid_key("VENUE:\n  SLIPPAGE_BPS: -1\n"), "VENUE.SLIPPAGE_BPS");
    assert_eq!(invalid_key("SYMBOLS: [BTC, BTC]\n"), "SYMBOLS");
    assert_eq!(invalid_key("SYMBOLS: [\"BTC USDT\"]\n"), "SYMBOLS");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let error = Config::load(std::path::Path::new("/nonexistent/tradeledger.yaml")).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/tradeledger.yaml"), "{error}");
}
