//! The format of record: `fixtures/golden/events-v<N>.bin` holds one frame
//! with every event variant of schema version N, written by that version.
//! Each file must decode to exactly the values below forever; a change that
//! breaks old journals fails here. Version 1 has 19 variants; version 2 adds
//! `TimerFired` as the 20th (new variants go last, so older indexes keep
//! their meaning). Write the current version's file (only for a deliberate
//! new schema version, under a new name) with
//! `TRADELEDGER_BLESS=1 cargo test -p tradeledger-events --test golden`.

use rust_decimal::Decimal;
use std::path::PathBuf;
use tradeledger_events::codec::{self, FrameBuilder, RecordCursor};
use tradeledger_events::envelope::{chain_hash, derive_event_id, genesis_hash, StoredHeader};
use tradeledger_events::verify::{Anchor, ChainVerifier};
use tradeledger_events::*;

fn golden_path(version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/golden/events-v{version}.bin"))
}

fn journal_id() -> JournalId {
    JournalId::from_uuid(uuid::Uuid::from_u128(0x7f3a_0001_0000_4000_8000_0000_0000_0001))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn checks() -> Vec<CheckOutcome> {
    vec![
        CheckOutcome {
            check: RiskCheck::PositionSize,
            measured: Some(dec("6155.604")),
            limit: Some(dec("1000000")),
            verdict: Verdict::Pass,
        },
        CheckOutcome { check: RiskCheck::Correlation, measured: None, limit: None, verdict: Verdict::Skipped },
        CheckOutcome {
            check: RiskCheck::DailyLoss,
            measured: Some(dec("-10.5")),
            limit: Some(dec("10")),
            verdict: Verdict::Fail,
        },
    ]
}

fn limits() -> RiskLimits {
    RiskLimits {
        capital_initial: Money::new(dec("1000000")).unwrap(),
        symbols: Some(vec!["BTCUSDT".parse().unwrap(), "ETHUSDT".parse().unwrap()]),
        notional_position_max: Money::new(dec("1000000")).unwrap(),
        exposure_total_max: Money::new(dec("5000000")).unwrap(),
        drawdown_max_percent: dec("20"),
        daily_loss_max_percent: dec("10"),
        order_quantity_max: Some(Quantity::new(dec("5")).unwrap()),
        order_notional_max: Some(Money::new(dec("250000.50")).unwrap()),
        price_band_percent: Some(dec("2.5")),
        orders_per_minute_max: Some(120),
        correlation_max: Some(dec("0.8")),
        correlation_window: Some(50),
        correlated_exposure_max: Some(Money::new(dec("2000000")).unwrap()),
        circuit_breaker_reset: BreakerResetPolicy::NextUtcDay,
    }
}

/// One event of every variant, every optional field set where it has one.
/// Every variant of `version`, in variant order.
fn golden_events(version: u16) -> Vec<Event> {
    let mut events = golden_events_v1();
    if version >= 2 {
        events.push(Event::TimerFired(TimerFired { period_ms: 30_000 }));
    }
    events
}

#[allow(clippy::too_many_lines)] // a table with one entry per variant reads best whole
fn golden_events_v1() -> Vec<Event> {
    let symbol: Symbol = "BTCUSDT".parse().unwrap();
    let order: OrderId = "O-000001".parse().unwrap();
    let price = |text| Price::new(dec(text)).unwrap();
    let quantity = |text| Quantity::new(dec(text)).unwrap();
    vec![
        Event::SignalReceived(SignalReceived {
            signal_id: "sig-1".parse().unwrap(),
            strategy_id: "sma-cross".parse().unwrap(),
            symbol: symbol.clone(),
            side: Side::Buy,
            quantity: dec("0.01"),
            order_type: OrderType::Limit,
            price_limit: Some(dec("61556.04")),
            price_stop_loss: Some(dec("60000")),
            price_take_profit: Some(dec("65000.5")),
        }),
        Event::PriceTicked(PriceTicked {
            symbol: symbol.clone(),
            price: price("61556.04"),
            size: Some(quantity("0.00123000")),
            price_bid: Some(price("61556.03")),
            price_ask: Some(price("61556.05")),
            time_venue: Some(Timestamp::from_unix_nanos(1_723_161_255_342_000_000)),
        }),
        Event::RiskLimitsSet(RiskLimitsSet { limits: Box::new(limits()) }),
        Event::VenueConfigured(VenueConfigured {
            slippage_bps: dec("1.5"),
            fee_maker_bps: dec("-0.5"),
            fee_taker_bps: dec("7.5"),
            latency_ticks: 2,
        }),
        Event::FillImported(FillImported {
            fill_id: "F-ext-9".parse().unwrap(),
            order_id: "ext-77".parse().unwrap(),
            symbol: symbol.clone(),
            side: Side::Sell,
            quantity: quantity("0.5"),
            price: price("61600"),
            fee: Money::new(dec("23.1")).unwrap(),
            liquidity: Some(Liquidity::Maker),
        }),
        Event::InputRejected(InputRejected {
            source: InputSource::Tick,
            origin: "ticks.csv:42".into(),
            field: "price".into(),
            reason: "`abc` is not a decimal number".into(),
        }),
        Event::OrderCancelRequested(OrderCancelRequested { order_id: order.clone() }),
        Event::CircuitBreakerResetRequested(CircuitBreakerResetRequested { requested_by: "operator".into() }),
        Event::RiskCheckPassed(RiskCheckPassed { signal_id: "sig-1".parse().unwrap(), checks: checks() }),
        Event::RiskCheckRejected(RiskCheckRejected {
            signal_id: "sig-2".parse().unwrap(),
            checks: checks(),
            reason: "daily loss 10.5% exceeds 10%".into(),
        }),
        Event::CircuitBreakerTripped(CircuitBreakerTripped {
            cause: BreakerCause::Drawdown,
            measured: dec("20.01"),
            limit: dec("20"),
        }),
        Event::CircuitBreakerReset(CircuitBreakerReset { reason: BreakerResetReason::NewTradingDay }),
        Event::ForcedExitTriggered(ForcedExitTriggered {
            position_id: "P-3".parse().unwrap(),
            symbol: symbol.clone(),
            reason: ExitReason::StopLoss,
            price_trigger: price("59999.99"),
        }),
        Event::OrderSubmitted(OrderSubmitted {
            order_id: order.clone(),
            signal_id: Some("sig-1".parse().unwrap()),
            symbol: symbol.clone(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity: quantity("0.01"),
            price_limit: Some(price("61556.04")),
            reduce_only: true,
            exit_reason: Some(ExitReason::TakeProfit),
        }),
        Event::OrderAccepted(OrderAccepted { order_id: order.clone() }),
        Event::OrderRejected(OrderRejected { order_id: order.clone(), reason: "unknown symbol".into() }),
        Event::OrderFilled(OrderFilled {
            order_id: order.clone(),
            fill_id: "O-000001-F1".parse().unwrap(),
            symbol,
            side: Side::Buy,
            quantity: quantity("0.004"),
            price: price("61556.04"),
            fee: Money::new(dec("0.18466812")).unwrap(),
            liquidity: Liquidity::Taker,
        }),
        Event::OrderCanceled(OrderCanceled { order_id: order.clone(), reason: "requested".into() }),
        Event::OrderExpired(OrderExpired { order_id: order }),
    ]
}

/// Exhaustive on purpose: adding a variant breaks this match until the
/// golden set (and a new golden file) covers it.
fn variant_index(event: &Event) -> usize {
    match event {
        Event::SignalReceived(_) => 0,
        Event::PriceTicked(_) => 1,
        Event::RiskLimitsSet(_) => 2,
        Event::VenueConfigured(_) => 3,
        Event::FillImported(_) => 4,
        Event::InputRejected(_) => 5,
        Event::OrderCancelRequested(_) => 6,
        Event::CircuitBreakerResetRequested(_) => 7,
        Event::RiskCheckPassed(_) => 8,
        Event::RiskCheckRejected(_) => 9,
        Event::CircuitBreakerTripped(_) => 10,
        Event::CircuitBreakerReset(_) => 11,
        Event::ForcedExitTriggered(_) => 12,
        Event::OrderSubmitted(_) => 13,
        Event::OrderAccepted(_) => 14,
        Event::OrderRejected(_) => 15,
        Event::OrderFilled(_) => 16,
        Event::OrderCanceled(_) => 17,
        Event::OrderExpired(_) => 18,
        Event::TimerFired(_) => 19,
    }
}
const VARIANTS: usize = 20;

fn golden_headers(version: u16) -> Vec<StoredHeader> {
    (1..=golden_events(version).len() as u64)
        .map(|seq| StoredHeader {
            schema_version: version,
            time_event: Timestamp::from_unix_nanos(1_723_161_600_000_000_000 + seq as i64 * 1_000_000),
            time_recorded: Timestamp::from_unix_nanos(1_723_161_600_500_000_000 + seq as i64),
            correlation_seq: Seq::FIRST,
            causation_seq: (seq > 1).then(|| Seq::new(seq - 1)),
        })
        .collect()
}

#[test]
fn event_ids_are_the_journal_id_prefix_and_the_seq() {
    // Journal id 7f3a0001-0000-4000-…: the first 8 bytes are kept except the
    // version nibble (8 = custom); the last 8 are seq 258 big-endian with the
    // RFC 4122 variant bits (10xx) set on the first of them.
    let id = derive_event_id(journal_id(), Seq::new(258));
    assert_eq!(id.to_string(), "7f3a0001-0000-8000-8000-000000000102");
}

fn encode_golden_frame(version: u16) -> Vec<u8> {
    let mut hash = genesis_hash(journal_id());
    let mut frame = FrameBuilder::new(Seq::FIRST, &hash, 4096);
    for (index, (header, event)) in golden_headers(version).iter().zip(golden_events(version)).enumerate() {
        let seq = Seq::new(index as u64 + 1);
        hash = frame
            .push_record(seq, &hash, |out| {
                codec::encode_into(header, out, "header")?;
                codec::encode_into(&event, out, "event")
            })
            .unwrap();
    }
    let (key, value) = frame.finish();
    let mut file = journal_id().as_uuid().as_bytes().to_vec();
    file.extend_from_slice(&key);
    file.extend_from_slice(&value);
    file
}

#[test]
fn the_golden_set_covers_every_variant() {
    let mut seen: Vec<usize> = golden_events(SCHEMA_VERSION).iter().map(variant_index).collect();
    seen.sort();
    assert_eq!(seen, (0..VARIANTS).collect::<Vec<_>>());
}

/// The journal encodes the hottest variants by hand (`codec::encode_event`)
/// and the rest through serde: both must write the bytes of record.
#[test]
fn the_hand_written_encoders_write_every_golden_event_as_serde_does() {
    for version in [1, SCHEMA_VERSION] {
        for event in golden_events(version) {
            let mut by_serde = Vec::new();
            codec::encode_into(&event, &mut by_serde, "event").unwrap();
            assert_eq!(codec::encode_event(&event).unwrap(), by_serde, "{}", event.name());
        }
        for header in golden_headers(version) {
            let (mut by_hand, mut by_serde) = (Vec::new(), Vec::new());
            codec::encode_header_into(&header, &mut by_hand);
            codec::encode_into(&header, &mut by_serde, "header").unwrap();
            assert_eq!(by_hand, by_serde, "{header:?}");
        }
    }
}

#[test]
fn the_version_1_golden_file_decodes_to_every_field_of_its_variants() {
    check_golden_file(1);
}

#[test]
fn the_current_golden_file_decodes_to_every_field_of_every_variant() {
    let path = golden_path(SCHEMA_VERSION);
    if std::env::var_os("TRADELEDGER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, encode_golden_frame(SCHEMA_VERSION)).unwrap();
    }
    check_golden_file(SCHEMA_VERSION);
}

fn check_golden_file(version: u16) {
    let path = golden_path(version);
    let variants = golden_events(version).len();
    let file = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let (id, rest) = file.split_at(16);
    assert_eq!(id, journal_id().as_uuid().as_bytes());
    let (key, value) = rest.split_at(8);

    // The chain verifies and ends on the hash the file's records carry.
    let mut verifier = ChainVerifier::new(journal_id());
    verifier.check_frame(key, value).unwrap();
    assert_eq!(verifier.seq_last(), Seq::new(variants as u64));

    let mut cursor = RecordCursor::new();
    let mut previous = genesis_hash(journal_id());
    let expected = golden_headers(version).into_iter().zip(golden_events(version));
    for (index, (header, event)) in expected.enumerate() {
        let record = cursor.next_record(value).unwrap().expect("a record per variant");
        assert_eq!(record.seq, Seq::new(index as u64 + 1));
        assert_eq!(record.hash, chain_hash(&previous, record.seq, record.body));
        let (decoded_header, decoded_event) = codec::decode_body(record.body).unwrap();
        assert_eq!(decoded_header, header, "header of seq {}", record.seq);
        assert_eq!(decoded_event, event, "event of seq {}", record.seq);
        previous = record.hash;
    }
    assert!(cursor.next_record(value).unwrap().is_none());
    verifier.finish(Some(Anchor { seq: Seq::new(variants as u64), hash: previous })).unwrap();

    // Encoding today's values gives the same bytes: no silent format drift.
    assert!(encode_golden_frame(version) == file, "the encoding of the golden events of version {version} changed");
}
