//! Pre-trade risk checks against ledgers built from scenario text: every
//! rejection reason, with the measured values worked out by hand.

use tradeledger::events::{OrderType, RiskCheck, Side, SignalReceived, Timestamp, Verdict};
use tradeledger::projections::{fold, scenario, Ledger};
use tradeledger::risk::{check_signal, PreTradeVerdict};

mod common;

use common::dec;

fn ledger(text: &str) -> Ledger {
    fold(&scenario::envelopes(text).unwrap()).unwrap()
}

fn signal(symbol: &str, side: Side, quantity: &str) -> SignalReceived {
    common::market_signal("S-test", symbol, side, quantity)
}

fn limit_signal(symbol: &str, side: Side, quantity: &str, price: &str) -> SignalReceived {
    SignalReceived { order_type: OrderType::Limit, price_limit: Some(dec(price)), ..signal(symbol, side, quantity) }
}

fn at() -> Timestamp {
    "2024-08-08T10:00:30Z".parse().unwrap()
}

fn verdict(state: &str, signal: &SignalReceived) -> PreTradeVerdict {
    check_signal(&ledger(state), signal, at())
}

/// Asserts that exactly `check` failed, with these measured and limit values.
fn assert_only_failure(verdict: &PreTradeVerdict, check: RiskCheck, measured: Option<&str>, limit: Option<&str>) {
    let failed: Vec<RiskCheck> =
        verdict.checks.iter().filter(|outcome| outcome.verdict == Verdict::Fail).map(|outcome| outcome.check).collect();
    assert_eq!(failed, vec![check], "{:?}", verdict.rejection);
    let outcome = verdict.outcome(check).unwrap();
    assert_eq!(outcome.measured, measured.map(dec), "measured of {check:?}");
    assert_eq!(outcome.limit, limit.map(dec), "limit of {check:?}");
    assert!(verdict.rejection.is_some());
}

const BASE: &str =
    "at 2024-08-08T10:00:00Z\nlimits capital=100000 position_max=50000 exposure_max=80000\ntick BTC 100\n";

#[test]
fn a_signal_within_every_limit_passes_and_lists_every_check() {
    let verdict = verdict(BASE, &signal("BTC", Side::Buy, "10"));
    assert!(verdict.passed(), "{:?}", verdict.rejection);
    assert_eq!(verdict.checks.len(), 15, "every check is recorded");
    // 10 × 100 = 1000 of 50000 for the position, and of 80000 in total.
    let size = verdict.outcome(RiskCheck::PositionSize).unwrap();
    assert_eq!((size.measured, size.limit), (Some(dec("1000")), Some(dec("50000"))));
    assert_eq!(verdict.outcome(RiskCheck::OrderQuantity).unwrap().verdict, Verdict::Skipped, "off unless set");
}

#[test]
fn structural_checks_name_what_is_wrong() {
    let unknown = verdict(BASE, &signal("ETH", Side::Buy, "1"));
    assert_eq!(unknown.outcome(RiskCheck::SymbolKnown).unwrap().verdict, Verdict::Fail);
    assert_eq!(unknown.outcome(RiskCheck::TickSeen).unwrap().verdict, Verdict::Fail);
    assert!(unknown.rejection.as_ref().unwrap().contains("ETH"));

    let zero = verdict(BASE, &signal("BTC", Side::Buy, "0"));
    assert_only_failure(&zero, RiskCheck::QuantityPositive, Some("0"), Some("0"));
    assert!(zero.rejection.unwrap().starts_with("quantity:"));
    let negative = verdict(BASE, &signal("BTC", Side::Sell, "-3"));
    assert_only_failure(&negative, RiskCheck::QuantityPositive, Some("-3"), Some("0"));

    let no_price = SignalReceived { order_type: OrderType::Limit, ..signal("BTC", Side::Buy, "1") };
    assert_only_failure(&verdict(BASE, &no_price), RiskCheck::LimitPriceGiven, None, None);

    let bad_stop = SignalReceived { price_stop_loss: Some(dec("-5")), ..signal("BTC", Side::Buy, "1") };
    assert_only_failure(&verdict(BASE, &bad_stop), RiskCheck::PricePositive, Some("-5"), Some("0"));

    let listed = "limits symbols=ETH,SOL\ntick BTC 100\n";
    assert_only_failure(&verdict(listed, &signal("BTC", Side::Buy, "1")), RiskCheck::SymbolKnown, None, None);
}

#[test]
fn fat_finger_limits() {
    let state = "at 2024-08-08T10:00:00Z\nlimits quantity_max=5 notional_max=1000 band=5\ntick BTC 100\n";
    assert_only_failure(
        &verdict(state, &signal("BTC", Side::Buy, "6")),
        RiskCheck::OrderQuantity,
        Some("6"),
        Some("5"),
    );
    // A limit order is valued at its limit price: 5 @ 250 = 1250 of 1000. (Its
    // price is also outside the band, so only the notional outcome is asserted.)
    let notional = limit_signal("BTC", Side::Buy, "5", "250");
    let outcome = verdict(state, &notional);
    assert_eq!(outcome.outcome(RiskCheck::OrderNotional).unwrap().measured, Some(dec("1250")));
    assert_eq!(outcome.outcome(RiskCheck::OrderNotional).unwrap().verdict, Verdict::Fail);
    // A limit 6 above a tick of 100 is 6 % away: outside a 5 % band; 4 above is inside.
    assert_only_failure(
        &verdict(state, &limit_signal("BTC", Side::Buy, "1", "106")),
        RiskCheck::PriceBand,
        Some("6"),
        Some("5"),
    );
    assert!(verdict(state, &limit_signal("BTC", Side::Buy, "1", "104")).passed());
}

#[test]
fn order_rate_counts_the_last_minute_by_event_time() {
    let state = "at 2024-08-08T09:59:00Z\nlimits rate=2\ntick BTC 100\nsignal S1 BTC buy 1\nsubmit O1 BTC buy 1 signal=S1\n\
                 at 2024-08-08T10:00:00Z\nsignal S2 BTC buy 1\nsubmit O2 BTC buy 1 signal=S2\nsignal S3 BTC buy 1\nsubmit O3 BTC buy 1 signal=S3\n";
    // At 10:00:30 the order of 09:59:00 is older than a minute: O2, O3 and
    // this one make 3 of 2.
    assert_only_failure(&verdict(state, &signal("BTC", Side::Buy, "1")), RiskCheck::OrderRate, Some("3"), Some("2"));
}

const LONG_400: &str = "at 2024-08-08T10:00:00Z\nlimits capital=100000 position_max=50000 exposure_max=80000\n\
                        tick BTC 100\nsubmit O1 BTC buy 400\nfill O1 400 @ 100\ntick ETH 100\n";

#[test]
fn position_size_and_exposure_after_the_trade() {
    // Long 400 @ 100 = 40000; 200 more makes 600 × 100 = 60000 of 50000.
    assert_only_failure(
        &verdict(LONG_400, &signal("BTC", Side::Buy, "200")),
        RiskCheck::PositionSize,
        Some("60000"),
        Some("50000"),
    );
    // 450 ETH @ 100 = 45000 beside 40000 of BTC: 85000 of 80000.
    assert_only_failure(
        &verdict(LONG_400, &signal("ETH", Side::Buy, "450")),
        RiskCheck::TotalExposure,
        Some("85000"),
        Some("80000"),
    );
    // Selling 100 shrinks the position: 300 × 100 = 30000.
    let reduce = verdict(LONG_400, &signal("BTC", Side::Sell, "100"));
    assert!(reduce.passed());
    assert_eq!(reduce.outcome(RiskCheck::PositionSize).unwrap().measured, Some(dec("30000")));
    // Selling 1000 flips to a short of 600 = 60000: not a reduction, so it fails.
    assert_only_failure(
        &verdict(LONG_400, &signal("BTC", Side::Sell, "1000")),
        RiskCheck::PositionSize,
        Some("60000"),
        Some("50000"),
    );
}

#[test]
fn drawdown_and_daily_loss_block_new_risk_but_not_reductions() {
    // 100 @ 100 on 10000; the tick at 94 leaves equity 9400 under a peak of 10000: 6 %.
    let state = "at 2024-08-08T10:00:00Z\nlimits capital=10000 drawdown_max=5 daily_loss_max=50\ntick BTC 100\n\
                 submit O1 BTC buy 100\nfill O1 100 @ 100\ntick BTC 94\n";
    assert_only_failure(&verdict(state, &signal("BTC", Side::Buy, "1")), RiskCheck::Drawdown, Some("6"), Some("5"));
    assert!(verdict(state, &signal("BTC", Side::Sell, "50")).passed(), "cutting risk is allowed");
    // The same 600 loss is 6 % of the day's starting equity of 10000.
    let daily = state.replace("drawdown_max=5 daily_loss_max=50", "drawdown_max=50 daily_loss_max=5");
    assert_only_failure(&verdict(&daily, &signal("BTC", Side::Buy, "1")), RiskCheck::DailyLoss, Some("6"), Some("5"));
}

#[test]
fn a_tripped_breaker_passes_only_risk_reducing_signals() {
    let state = format!("{LONG_400}trip drawdown 21 20\n");
    assert_only_failure(&verdict(&state, &signal("ETH", Side::Buy, "1")), RiskCheck::CircuitBreaker, None, None);
    assert!(verdict(&state, &signal("BTC", Side::Sell, "400")).passed(), "flattening passes");
}

#[test]
fn correlation_blocks_piling_into_moves_that_go_together() {
    // BTC and ETH tick through the same returns (+1 %, −2 %, +3 %): correlation 1.
    let mut state = String::from("at 2024-08-08T10:00:00Z\nlimits correlation=0.8 window=5 correlated_max=30000\n");
    for price in ["100", "101", "98.98", "101.9494"] {
        state.push_str(&format!("tick BTC {price}\ntick ETH {price}\n"));
    }
    state.push_str("submit O1 BTC buy 200\nfill O1 200 @ 101.9494\n");
    // Held 200 BTC ≈ 20389.88; 100 ETH ≈ 10194.94 more: 30584.82 of 30000.
    let piling = verdict(&state, &signal("ETH", Side::Buy, "100"));
    assert_only_failure(&piling, RiskCheck::Correlation, Some("1"), Some("0.8"));
    // 50 ETH stays under the cap; selling ETH short is the other direction.
    assert!(verdict(&state, &signal("ETH", Side::Buy, "50")).passed());
    assert_eq!(
        verdict(&state, &signal("ETH", Side::Sell, "100")).outcome(RiskCheck::Correlation).unwrap().verdict,
        Verdict::Skipped
    );
}
