//! Properties of the fold over random fill and tick sequences.

use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tradeledger_events::envelope::{genesis_hash, seal};
use tradeledger_events::*;
use tradeledger_projections::{fold, fold_onto, snapshot, Ledger, PositionSide, Retention};

const SYMBOLS: [&str; 3] = ["AAA", "BBB", "CCC"];

#[derive(Debug, Clone)]
enum Step {
    Tick { symbol: usize, price: Decimal },
    Fill { symbol: usize, side: Side, quantity: Decimal, price: Decimal, fee: Decimal },
}

fn price() -> impl Strategy<Value = Decimal> {
    (100i64..10_000_000).prop_map(|cents| Decimal::new(cents, 2))
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..SYMBOLS.len(), price()).prop_map(|(symbol, price)| Step::Tick { symbol, price }),
        (
            0..SYMBOLS.len(),
            prop_oneof![Just(Side::Buy), Just(Side::Sell)],
            (1i64..100_000).prop_map(|thousandths| Decimal::new(thousandths, 3)),
            price(),
            (0i64..1_000).prop_map(|cents| Decimal::new(cents, 2)),
        )
            .prop_map(|(symbol, side, quantity, price, fee)| Step::Fill { symbol, side, quantity, price, fee }),
    ]
}

fn symbol(index: usize) -> Symbol {
    SYMBOLS[index].parse().unwrap()
}

fn envelopes(steps: &[Step]) -> Vec<Envelope> {
    let journal = JournalId::from_u128(42);
    let mut previous = genesis_hash(journal);
    let limits = RiskLimitsSet { limits: Box::new(RiskLimits::document_defaults(Money::of(Decimal::from(1_000_000)))) };
    let events =
        std::iter::once(Event::RiskLimitsSet(limits)).chain(steps.iter().enumerate().map(|(n, step)| match step {
            Step::Tick { symbol: index, price } => Event::PriceTicked(PriceTicked {
                symbol: symbol(*index),
                price: Price::new(*price).unwrap(),
                size: None,
                price_bid: None,
                price_ask: None,
                time_venue: None,
            }),
            Step::Fill { symbol: index, side, quantity, price, fee } => Event::FillImported(FillImported {
                fill_id: format!("F{n}").parse().unwrap(),
                order_id: "EXT".parse().unwrap(),
                symbol: symbol(*index),
                side: *side,
                quantity: Quantity::new(*quantity).unwrap(),
                price: Price::new(*price).unwrap(),
                fee: Money::of(*fee),
                liquidity: None,
            }),
        }));
    events
        .enumerate()
        .map(|(index, event)| {
            let seq = Seq::new(index as u64 + 1);
            // Six hours apart, so sequences cross UTC midnights.
            let time = Timestamp::from_unix_nanos(1_723_000_000_000_000_000 + index as i64 * 21_600_000_000_000);
            let envelope = seal(journal, seq, previous, time, NewEvent::input(time, event)).unwrap();
            previous = envelope.hash;
            envelope
        })
        .collect()
}

/// Per symbol: signed quantity, cash flow (sells − buys − fees), last price.
fn cash_model(steps: &[Step]) -> BTreeMap<usize, (Decimal, Decimal, Decimal)> {
    let mut model: BTreeMap<usize, (Decimal, Decimal, Decimal)> = BTreeMap::new();
    for step in steps {
        match step {
            Step::Tick { symbol, price } => model.entry(*symbol).or_default().2 = *price,
            Step::Fill { symbol, side, quantity, price, fee } => {
                let entry = model.entry(*symbol).or_default();
                let signed = if *side == Side::Buy { *quantity } else { -*quantity };
                entry.0 += signed;
                entry.1 -= signed * *price + *fee;
                entry.2 = *price;
            }
        }
    }
    model
}

fn signed_quantity(ledger: &Ledger, symbol: &Symbol) -> Decimal {
    ledger.positions.open.get(symbol).map_or(Decimal::ZERO, |position| match position.side {
        PositionSide::Long => position.quantity.get(),
        PositionSide::Short => -position.quantity.get(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn quantity_is_the_signed_sum_of_fills_and_pnl_is_the_cash_flow(steps in prop::collection::vec(step(), 0..80)) {
        let ledger = fold(&envelopes(&steps)).unwrap();
        let mut total = Decimal::ZERO;
        for (index, (quantity, cash, mark)) in cash_model(&steps) {
            let symbol = symbol(index);
            prop_assert_eq!(signed_quantity(&ledger, &symbol), quantity, "{}", symbol);
            let totals = ledger.portfolio.by_symbol.get(&symbol).copied().unwrap_or_default();
            // realized + unrealized = proceeds − costs − fees + open quantity × mark, exactly.
            let expected = cash + quantity * mark;
            prop_assert_eq!(totals.realized_pnl.get() + totals.unrealized_pnl.get(), expected, "{}", symbol);
            total += expected;
        }
        prop_assert_eq!(ledger.portfolio.total_pnl(), total);
        prop_assert_eq!(ledger.portfolio.equity.get(), Decimal::from(1_000_000) + total);
    }

    #[test]
    fn the_fold_is_deterministic(steps in prop::collection::vec(step(), 0..60)) {
        let envelopes = envelopes(&steps);
        let first = fold(&envelopes).unwrap();
        let second = fold(&envelopes).unwrap();
        prop_assert_eq!(first.state_hash(), second.state_hash());
        prop_assert_eq!(first, second);
    }

    #[test]
    fn folding_in_two_pieces_equals_one_pass(steps in prop::collection::vec(step(), 0..60), cut in any::<prop::sample::Index>()) {
        let envelopes = envelopes(&steps);
        let cut = cut.index(envelopes.len() + 1);
        let whole = fold(&envelopes).unwrap();
        let pieces = fold_onto(fold(&envelopes[..cut]).unwrap(), &envelopes[cut..]).unwrap();
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn snapshot_and_tail_equal_the_full_fold(steps in prop::collection::vec(step(), 0..60), cut in any::<prop::sample::Index>()) {
        let envelopes = envelopes(&steps);
        let cut = cut.index(envelopes.len() + 1);
        let bytes = snapshot::encode(&fold(&envelopes[..cut]).unwrap()).unwrap();
        let restored = snapshot::decode(&bytes).unwrap();
        let resumed = fold_onto(restored, &envelopes[cut..]).unwrap();
        let whole = fold(&envelopes).unwrap();
        prop_assert_eq!(resumed.state_hash(), whole.state_hash());
        prop_assert_eq!(resumed, whole);
    }
}

#[test]
fn a_damaged_or_foreign_snapshot_is_ignored() {
    let steps = vec![Step::Fill {
        symbol: 0,
        side: Side::Buy,
        quantity: Decimal::ONE,
        price: Decimal::TEN,
        fee: Decimal::ZERO,
    }];
    let ledger = fold(&envelopes(&steps)).unwrap();
    let bytes = snapshot::encode(&ledger).unwrap();
    assert_eq!(snapshot::decode(&bytes).unwrap(), ledger);
    for position in [0, 5, 7, 10, 20, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x01;
        assert!(snapshot::decode(&damaged).is_err(), "flip at {position} accepted");
    }
    assert!(snapshot::decode(&bytes[..bytes.len() - 1]).is_err());
    assert_eq!(snapshot::decode(b"short"), Err("shorter than its header"));
}

#[test]
fn overflow_is_an_error_naming_the_seq_not_a_panic() {
    let huge = Decimal::MAX;
    let steps = vec![Step::Fill {
        symbol: 0,
        side: Side::Buy,
        quantity: Decimal::from(1_000_000),
        price: huge,
        fee: Decimal::ZERO,
    }];
    let error = fold(&envelopes(&steps)).unwrap_err();
    assert!(matches!(error, tradeledger_projections::FoldError::Overflow { seq, .. } if seq.get() == 2), "{error}");
}

/// Amounts with up to 8 places, from 0 to about 10 million.
fn amount() -> impl Strategy<Value = Decimal> {
    (0i64..1_000_000_000_000_000).prop_map(|mantissa| Decimal::new(mantissa, 8))
}

/// The breaker's division-free pre-check may say "compute it" too often,
/// never too rarely: when it says no, the rounded percentage the breaker
/// compares really is within the limit. Limits are drawn both at random and
/// right at the rounded percentage itself (the boundary).
fn pre_check_is_never_wrongly_no(peak: Decimal, equity: Decimal, limit: Decimal) -> Result<(), TestCaseError> {
    let portfolio = tradeledger_projections::portfolio::Portfolio {
        equity: Money::new(equity).unwrap(),
        equity_peak_breaker: Money::new(peak).unwrap(),
        equity_day_start_breaker: Money::new(peak).unwrap(),
        ..Default::default()
    };
    if !portfolio.drawdown_breaker_may_exceed(limit) {
        prop_assert!(portfolio.drawdown_breaker_percentage().round_dp(6) <= limit, "{peak} {equity} {limit}");
    }
    if !portfolio.daily_loss_breaker_may_exceed(limit) {
        prop_assert!(portfolio.daily_loss_breaker_percentage().round_dp(6) <= limit, "{peak} {equity} {limit}");
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_breaker_pre_check_never_skips_a_breach(peak in amount(), equity in amount(), limit in amount(), nudge in -3i64..=3) {
        pre_check_is_never_wrongly_no(peak, equity, limit)?;
        let portfolio = tradeledger_projections::portfolio::Portfolio {
            equity: Money::new(equity).unwrap(),
            equity_peak_breaker: Money::new(peak).unwrap(),
            ..Default::default()
        };
        let at_boundary = portfolio.drawdown_breaker_percentage().round_dp(6) + Decimal::new(nudge, 7);
        pre_check_is_never_wrongly_no(peak, equity, at_boundary.max(Decimal::ZERO))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Retention trims history, nothing else: the open positions and the
    /// portfolio are those of the fold that keeps everything, and the
    /// closed positions kept are its most recent ones.
    #[test]
    fn a_bounded_retention_keeps_the_state_and_the_latest_history(
        steps in prop::collection::vec(step(), 0..80),
        kept in 1u32..4,
    ) {
        let events = envelopes(&steps);
        let everything = fold(&events).unwrap();
        let bounded = fold_onto(Ledger::keeping(Retention::Recent(kept)), &events).unwrap();
        prop_assert_eq!(&bounded.positions.open, &everything.positions.open);
        prop_assert_eq!(&bounded.portfolio, &everything.portfolio);
        prop_assert_eq!(&bounded.market, &everything.market);
        let skip = everything.positions.closed.len().saturating_sub(kept as usize);
        prop_assert!(bounded.positions.closed.iter().eq(everything.positions.closed.iter().skip(skip)));
        prop_assert!(bounded.risk.events.iter().eq(everything.risk.events.iter().take(kept as usize)));
    }
}
