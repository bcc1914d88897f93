//! Scenario fixtures (`fixtures/scenarios/*.txt`) folded into projections:
//! an insta snapshot of the view and of the raw ledger after each one, and
//! hand-checked numbers for several.

use rust_decimal::Decimal;
use std::path::PathBuf;
use tradeledger_events::Event;
use tradeledger_projections::scenario;
use tradeledger_projections::view::LedgerView;
use tradeledger_projections::*;

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios")
}

fn scenario_envelopes(name: &str) -> Vec<tradeledger_events::Envelope> {
    let text = std::fs::read_to_string(scenarios_dir().join(format!("{name}.txt"))).unwrap();
    scenario::envelopes(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn load(name: &str) -> Result<Ledger, FoldError> {
    fold(&scenario_envelopes(name))
}

fn folded(name: &str) -> Ledger {
    load(name).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn every_scenario_matches_its_snapshots() {
    let mut names: Vec<String> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        match load(&name) {
            Ok(ledger) => {
                assert!(!name.starts_with("invalid_"), "{name} should not fold");
                insta::assert_yaml_snapshot!(format!("{name}__view"), LedgerView::of(&ledger));
                insta::assert_yaml_snapshot!(format!("{name}__ledger"), ledger);
            }
            Err(error) => {
                assert!(name.starts_with("invalid_"), "{name}: {error}");
                insta::assert_snapshot!(format!("{name}__error"), error.to_string());
            }
        }
    }
}

#[test]
fn long_open_add_reduce_close_by_hand() {
    // Opens 2 @ 100 and 1 @ 106: cost 306, entry average 102.
    // Sells 1.5 @ 110: removes 306 × 1.5/3 = 153 of cost for 165 → +12.
    // Sells 1.5 @ 108: removes the last 153 for 162 → +9. Before fees 21.
    // Fees 0.2 + 0.1 + 0.15 + 0.15 = 0.6, so realized 20.4.
    // Exit average (165 + 162) / 3 = 109.
    let ledger = folded("long_open_add_reduce_close");
    assert!(ledger.positions.open.is_empty());
    let position = &ledger.positions.closed[0];
    assert_eq!(position.price_entry_average(), Some(dec("102")));
    assert_eq!(position.price_exit_average(), Some(dec("109")));
    assert_eq!(position.realized_pnl.get(), dec("20.4"));
    assert_eq!(position.fees.get(), dec("0.6"));
    assert_eq!(position.unrealized_pnl.get(), Decimal::ZERO);
    assert_eq!(position.price_stop_loss.map(|p| p.get()), Some(dec("90")), "from the opening signal");
    assert_eq!(ledger.portfolio.equity.get(), dec("100020.4"));
    assert_eq!((ledger.portfolio.wins, ledger.portfolio.losses), (1, 0));
}

#[test]
fn long_unrealized_pnl_by_hand_before_the_reductions() {
    // After the second buy and the tick at 110: 3 × 110 − 306 = 24 unrealized;
    // realized so far is only the two opening fees, −0.3.
    let envelopes = scenario_envelopes("long_open_add_reduce_close");
    let tick_at_110 = envelopes
        .iter()
        .position(|e| matches!(&e.event, Event::PriceTicked(t) if t.price.get() == dec("110")))
        .unwrap();
    let ledger = fold(&envelopes[..=tick_at_110]).unwrap();
    let position = ledger.positions.open.values().next().unwrap();
    assert_eq!(position.unrealized_pnl.get(), dec("24"));
    assert_eq!(position.realized_pnl.get(), dec("-0.3"));
    assert_eq!(ledger.portfolio.equity.get(), dec("100023.7"));
}

#[test]
fn short_then_flip_to_long_by_hand() {
    // Short 2 @ 2000 (fee 2). Buy 5 @ 1900 (fee 5): 2 close the short —
    // (2000 − 1900) × 2 = 200, fee share 5 × 2/5 = 2, so realized 200 − 4 = 196 —
    // and 3 open a long at 1900 carrying the fee rest 3 (realized −3).
    // Tick 1920: the long's unrealized is 3 × (1920 − 1900) = 60.
    let ledger = folded("short_then_flip_to_long");
    let short = &ledger.positions.closed[0];
    assert_eq!(short.side, PositionSide::Short);
    assert_eq!(short.realized_pnl.get(), dec("196"));
    assert_eq!(short.fees.get(), dec("4"));
    assert_eq!(short.price_exit_average(), Some(dec("1900")));
    let long = ledger.positions.open.values().next().unwrap();
    assert_eq!(long.side, PositionSide::Long);
    assert_eq!(long.quantity.get(), dec("3"));
    assert_eq!(long.price_entry_average(), Some(dec("1900")));
    assert_eq!(long.fees.get(), dec("3"));
    assert_eq!(long.unrealized_pnl.get(), dec("60"));
    assert_ne!(long.position_id, short.position_id);
    assert_eq!(ledger.portfolio.realized_pnl.get(), dec("193"));
    assert_eq!(ledger.portfolio.equity.get(), dec("50253"));
    assert_eq!(ledger.portfolio.exposure_gross.get(), dec("5760"));
}

#[test]
fn several_symbols_exposure_by_hand() {
    // Long 2 BTC marked at 61000 = +122000; short 40 ETH marked at 2450 = −98000.
    // Gross 220000, net 24000. Unrealized: BTC 2 × 1000 = 2000, ETH 40 × 50 = 2000.
    let ledger = folded("several_symbols_exposure");
    let portfolio = &ledger.portfolio;
    assert_eq!(portfolio.exposure_gross.get(), dec("220000"));
    assert_eq!(portfolio.exposure_net.get(), dec("24000"));
    assert_eq!(portfolio.unrealized_pnl.get(), dec("4000"));
    assert_eq!(portfolio.realized_pnl.get(), dec("-22"), "only the fees 12 + 10");
    let eth = &portfolio.by_symbol[&"ETHUSDT".parse().unwrap()];
    assert_eq!(eth.market_value.get(), dec("-98000"));
}

#[test]
fn drawdown_and_daily_rollover_by_hand() {
    // 10 @ 100 on 10000 capital. At 120 equity peaks at 10200; at 90 it is
    // 9900. The next day starts at 9900; at 95 the day is +50; at 80 equity
    // 9800 is 400 below the peak: 400 / 10200 = 3.9215686…%, and the day is
    // −100 of 9900 = −1.0101…%.
    let ledger = folded("drawdown_and_daily_rollover");
    let portfolio = &ledger.portfolio;
    assert_eq!(portfolio.equity_peak.get(), dec("10200"));
    assert_eq!(portfolio.equity.get(), dec("9800"));
    assert_eq!(portfolio.equity_day_start.get(), dec("9900"));
    assert_eq!(portfolio.daily_pnl(), dec("-100"));
    assert_eq!(portfolio.max_drawdown_percentage().round_dp(6), dec("3.921569"));
    assert_eq!(portfolio.daily_pnl_percentage().round_dp(6), dec("-1.010101"));
}

#[test]
fn imported_fills_by_hand() {
    // Buys 10 @ 190.50 and 5 @ 192.10: cost 1905 + 960.5 = 2865.5 for 15.
    // Sells 12 @ 195: removes 2865.5 × 12/15 = 2292.4 of cost for 2340 → +47.6.
    // Fees 1 + 0.5 + 1.2 = 2.7, so realized 44.9. Left: 3 costing 573.1;
    // at 194 they are worth 582, unrealized 8.9.
    let ledger = folded("imported_fills");
    let position = ledger.positions.open.values().next().unwrap();
    assert_eq!(position.quantity.get(), dec("3"));
    assert_eq!(position.cost_open.get(), dec("573.1"));
    assert_eq!(position.realized_pnl.get(), dec("44.9"));
    assert_eq!(position.unrealized_pnl.get(), dec("8.9"));
    assert_eq!(ledger.orders.fill_ids.len(), 3, "imported fill ids are claimed");
}

#[test]
fn partial_fills_then_cancel_by_hand() {
    // 0.2 @ 60000 + 0.3 @ 59990 + 0.1 @ 59995 = 12000 + 17997 + 5999.5 = 35996.5
    // for 0.6: average 59994.1666…; 0.4 canceled.
    let ledger = folded("partial_fills_then_cancel");
    let order = &ledger.orders.orders[&"O1".parse().unwrap()];
    assert_eq!(order.status, OrderStatus::Canceled);
    assert_eq!(order.quantity_filled.get(), dec("0.6"));
    assert_eq!(order.quantity_remaining().get(), dec("0.4"));
    assert_eq!(order.notional_filled.get(), dec("35996.5"));
    assert!(order.fills.is_empty(), "a finished order keeps its totals, not its fills");
    assert_eq!(order.price_fill_average().unwrap().round_dp(4), dec("59994.1667"));
    assert_eq!(ledger.positions.open.values().next().unwrap().quantity.get(), dec("0.6"));
}

#[test]
fn invalid_journals_name_the_seq() {
    // seq 1 limits, 2 submit, 3 the first fill, 4 the offending one.
    assert!(matches!(load("invalid_overfill"), Err(FoldError::Overfill { seq, .. }) if seq.get() == 4));
    assert!(matches!(load("invalid_duplicate_fill_id"), Err(FoldError::DuplicateFill { seq, .. }) if seq.get() == 4));
}

#[test]
fn a_breaker_trip_is_critical_until_reset() {
    let envelopes = scenario_envelopes("circuit_breaker_trip_and_reset");
    let reset = envelopes.len() - 1;
    let before_reset = fold(&envelopes[..reset]).unwrap();
    assert_eq!(before_reset.risk_assessment().level, RiskLevel::Critical);
    let after = fold(&envelopes).unwrap();
    assert!(after.risk.breaker_tripped.is_none());
    assert_eq!(after.risk.breaker_history.len(), 2);
    assert_eq!(after.risk.events[0].kind, risk::RiskEventKind::BreakerReset, "newest first");
    assert_eq!(after.risk.forced_exits, 1);
}

#[test]
fn invalid_transitions_are_errors_not_guesses() {
    let text = "limits\nsubmit O1 BTC buy 1\nfill O1 1 @ 100\naccept O1\n";
    let error = fold(&scenario::envelopes(text).unwrap()).unwrap_err();
    assert_eq!(
        error,
        FoldError::InvalidTransition {
            seq: tradeledger_events::Seq::new(4),
            order_id: "O1".parse().unwrap(),
            status: OrderStatus::Filled,
            event: "OrderAccepted"
        }
    );
    let unknown = fold(&scenario::envelopes("fill O9 1 @ 100\n").unwrap()).unwrap_err();
    assert!(matches!(unknown, FoldError::UnknownOrder { .. }), "{unknown}");
}

#[test]
fn scenario_errors_name_the_line() {
    let error = scenario::envelopes("at 2024-01-01T00:00:00Z\ntick BTC abc\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.message.contains("price"), "{error}");
    assert_eq!(scenario::envelopes("wobble\n").unwrap_err().line, 1);
}
