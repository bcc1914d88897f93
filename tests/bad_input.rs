//! Bad input, as a table: every bad signal gets its documented rejection,
//! is recorded, and changes nothing else; every bad tick row is an error
//! naming the field, or with `--skip-bad-rows` a recorded `InputRejected`.
//! Plus the load test: 64 tasks submitting signals while a tick feed runs.

mod common;

use common::{dec, market_signal};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::sync::Arc;
use tradeledger::config::Config;
use tradeledger::engine::{SubmitError, TradingSystem};
use tradeledger::events::{
    Event, Journal, JournalOptions, OrderType, Price, PriceTicked, Seq, Side, SignalReceived, Timestamp,
};
use tradeledger::input::signals::parse_signals;
use tradeledger::input::ticks::{load_ticks, TickOptions};
use tradeledger::input::LoadError;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_723_161_600_000_000_000 + seconds * 1_000_000_000)
}

fn tick(symbol: &str, price: &str) -> PriceTicked {
    PriceTicked {
        symbol: symbol.parse().unwrap(),
        price: Price::new(dec(price)).unwrap(),
        size: None,
        price_bid: None,
        price_ask: None,
        time_venue: None,
    }
}

async fn engine(dir: &std::path::Path, config: Config) -> TradingSystem {
    let options = JournalOptions { durability: tradeledger::events::Durability::Buffered, ..JournalOptions::default() };
    let system = TradingSystem::open(Journal::open(dir, options).unwrap(), config, at(0)).await.unwrap();
    system.on_tick(at(1), tick("BTCUSDT", "60000")).await.unwrap();
    system
}

fn with(signal: SignalReceived, change: impl FnOnce(&mut SignalReceived)) -> SignalReceived {
    let mut signal = signal;
    change(&mut signal);
    signal
}

#[tokio::test]
async fn every_bad_signal_gets_its_rejection_is_recorded_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_yaml("SYMBOLS: [BTCUSDT, ETHUSDT]", "test").unwrap();
    let system = engine(dir.path(), config).await;
    let base = market_signal("x", "BTCUSDT", Side::Buy, "1");
    let cases: Vec<(&str, SignalReceived, &str)> = vec![
        ("negative quantity", with(base.clone(), |s| s.quantity = dec("-1")), "quantity: -1 is not greater than 0"),
        ("zero quantity", with(base.clone(), |s| s.quantity = Decimal::ZERO), "quantity: 0 is not greater than 0"),
        ("huge quantity", with(base.clone(), |s| s.quantity = dec("1e20")), "position size"),
        (
            "limit without price",
            with(base.clone(), |s| s.order_type = OrderType::Limit),
            "a limit order needs a limit price",
        ),
        (
            "negative limit price",
            with(base.clone(), |s| {
                s.order_type = OrderType::Limit;
                s.price_limit = Some(dec("-5"));
            }),
            "price: -5 is not greater than 0",
        ),
        ("unknown symbol", with(base.clone(), |s| s.symbol = "DOGEUSDT".parse().unwrap()), "DOGEUSDT is not tradable"),
        ("symbol never ticked", with(base.clone(), |s| s.symbol = "ETHUSDT".parse().unwrap()), "no tick of ETHUSDT"),
    ];
    for (index, (name, signal, reason)) in cases.into_iter().enumerate() {
        let signal = with(signal, |s| s.signal_id = format!("bad-{index}").parse().unwrap());
        let before = system.ledger().await;
        let outcome = system.submit_signal(at(2 + index as i64), signal.clone()).await;
        let Err(SubmitError::Rejected(rejection)) = outcome else { panic!("{name}: not rejected: {outcome:?}") };
        assert!(rejection.reason.contains(reason), "{name}: {}", rejection.reason);
        let after = system.ledger().await;
        // Recorded: the signal and its verdict, two events, nothing else.
        assert_eq!(after.seq.get(), before.seq.get() + 2, "{name}");
        assert_eq!(after.orders.signals.get(&signal.signal_id).map(|s| s.received.clone()), Some(signal), "{name}");
        assert_eq!(after.positions, before.positions, "{name}");
        assert_eq!(after.orders.orders, before.orders.orders, "{name}");
        assert_eq!(after.portfolio, before.portfolio, "{name}");
    }
    // The same id again with the same fields: the first answer, nothing new.
    let again = with(base.clone(), |s| {
        s.signal_id = "bad-0".parse().unwrap();
        s.quantity = dec("-1");
    });
    let seq = system.ledger().await.seq;
    assert!(matches!(system.submit_signal(at(20), again).await, Err(SubmitError::Rejected(_))));
    assert_eq!(system.ledger().await.seq, seq, "an idempotent resubmission records nothing");
    // The same id with other fields: a conflict, nothing recorded.
    let conflicting = with(base, |s| s.signal_id = "bad-0".parse().unwrap());
    assert!(matches!(system.submit_signal(at(21), conflicting).await, Err(SubmitError::Conflict { .. })));
    assert_eq!(system.ledger().await.seq, seq);
    system.stop().await.unwrap();
}

#[tokio::test]
async fn an_input_dated_before_the_last_is_recorded_as_given_and_days_never_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let system = engine(dir.path(), Config::default()).await;
    system.on_tick(at(86_400), tick("BTCUSDT", "60100")).await.unwrap();
    let day = system.ledger().await.portfolio.day;
    system.on_tick(at(10), tick("BTCUSDT", "60200")).await.unwrap();
    let ledger = system.ledger().await;
    assert_eq!(ledger.portfolio.day, day, "an earlier time does not roll the day back");
    assert_eq!(ledger.market.last_ticks.get(&"BTCUSDT".parse().unwrap()).map(|t| t.price.get()), Some(dec("60200")));
    system.stop().await.unwrap();
}

#[test]
fn every_bad_tick_row_names_its_field_or_is_recorded_as_rejected() {
    let rows = [
        ("1723161600000,BTCUSDT,-1", "price"),
        ("1723161600000,BTCUSDT,0", "price"),
        ("1723161600000,BTCUSDT,NaN", "price"),
        ("1723161600000,BTCUSDT,inf", "price"),
        ("1723161600000,BTCUSDT,1e40", "price"),
        ("1723161600000,BTCUSDT,abc", "price"),
        ("1723161600000,BTCUSDT,", "price"),
        ("1723161600000,BTCUSDT,1,-3", "size"),
        ("1723161600000,,1", "symbol"),
        ("1723161600000,BTC USDT\u{7f},1", "symbol"),
        ("yesterday,BTCUSDT,1", "time"),
        ("99999999999999999999,BTCUSDT,1", "time"),
        ("1723161600000", "symbol"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (row, field) in rows {
        let path = dir.path().join("ticks.csv");
        std::fs::write(&path, format!("time,symbol,price,size\n{row}\n")).unwrap();
        let Err(LoadError::Row(error)) = load_ticks(&path, &TickOptions::default()) else {
            panic!("{row:?} was accepted")
        };
        assert_eq!((error.line, error.field.as_str()), (2, field), "{row:?}: {error}");
        let skipping = TickOptions { skip_bad_rows: true, ..TickOptions::default() };
        let loaded = load_ticks(&path, &skipping).unwrap();
        assert_eq!(loaded.skipped, 1, "{row:?}");
        assert!(
            matches!(&loaded.inputs[0].event, Event::InputRejected(rejected) if rejected.field == field),
            "{row:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Arbitrary bytes as a tick file never panic the reader: it reads them
    /// or names the line.
    #[test]
    fn arbitrary_tick_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticks.csv");
        std::fs::write(&path, &bytes).unwrap();
        for format in [None, Some(tradeledger::input::ticks::TickFormat::Generic), Some(tradeledger::input::ticks::TickFormat::BinanceTrades)] {
            let options = TickOptions { format, symbol: Some("X".parse().unwrap()), ..TickOptions::default() };
            let _ = load_ticks(&path, &options);
        }
    }

    /// Near-valid tick rows: a valid row with one field replaced by junk.
    #[test]
    fn near_valid_tick_rows_are_read_or_named(field in 0usize..4, junk in "[-+.eE0-9a-zA-Z ,\"]{0,12}") {
        let mut fields = ["1723161600000".to_owned(), "BTCUSDT".to_owned(), "61000.5".to_owned(), "0.25".to_owned()];
        fields[field] = junk;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ticks.csv");
        std::fs::write(&path, format!("time,symbol,price,size\n{}\n", fields.join(","))).unwrap();
        match load_ticks(&path, &TickOptions::default()) {
            Ok(loaded) => prop_assert!(loaded.inputs.len() <= 1),
            Err(LoadError::Row(error)) => prop_assert_eq!(error.line, 2),
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    /// Arbitrary text as signal lines never panics and names the line.
    #[test]
    fn arbitrary_signal_lines_never_panic(text in "\\PC{0,200}") {
        if let Err(LoadError::Row(error)) = parse_signals(&text, "s.jsonl", false) {
            prop_assert!(error.line >= 1);
        }
    }

    /// Arbitrary YAML never panics the configuration reader.
    #[test]
    fn arbitrary_configurations_never_panic(text in "\\PC{0,200}") {
        let _ = Config::from_yaml(&text, "fuzz");
    }
}

/// 64 tasks submit signals while a tick feed runs: every signal gets
/// exactly one verdict, the journal is dense and verifies, and a replay of
/// it equals the live state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tasks_submit_while_a_feed_runs() {
    const TASKS: usize = 64;
    const SIGNALS_PER_TASK: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let system = Arc::new(engine(dir.path(), Config::default()).await);
    let feed = {
        let system = Arc::clone(&system);
        tokio::spawn(async move {
            for step in 0..2_000_i64 {
                let price = format!("{}", 60_000 + (step % 50));
                system.on_tick(at(100 + step), tick("BTCUSDT", &price)).await.unwrap();
            }
        })
    };
    let submitters: Vec<_> = (0..TASKS)
        .map(|task| {
            let system = Arc::clone(&system);
            tokio::spawn(async move {
                for n in 0..SIGNALS_PER_TASK {
                    let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
                    let signal = market_signal(&format!("t{task}-{n}"), "BTCUSDT", side, "0.01");
                    match system.submit_signal(at(100 + (task * 10 + n) as i64), signal).await {
                        Ok(_) | Err(SubmitError::Rejected(_)) => {}
                        Err(other) => panic!("task {task}: {other}"),
                    }
                }
            })
        })
        .collect();
    for task in submitters {
        task.await.unwrap();
    }
    feed.await.unwrap();
    let live = system.ledger().await;
    let system = Arc::into_inner(system).unwrap();
    system.stop().await.unwrap();

    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.verify().unwrap().fault, None);
    let envelopes: Vec<_> = journal.iter_from(Seq::FIRST).map(Result::unwrap).collect();
    journal.close().unwrap();
    assert_eq!(envelopes.len() as u64, live.seq.get(), "dense");
    let mut verdicts = std::collections::BTreeMap::<String, u32>::new();
    for envelope in &envelopes {
        if let Event::RiskCheckPassed(passed) = &envelope.event {
            *verdicts.entry(passed.signal_id.to_string()).or_default() += 1;
        }
        if let Event::RiskCheckRejected(rejected) = &envelope.event {
            *verdicts.entry(rejected.signal_id.to_string()).or_default() += 1;
        }
    }
    assert_eq!(verdicts.len(), TASKS * SIGNALS_PER_TASK, "every signal decided");
    assert!(verdicts.values().all(|count| *count == 1), "exactly one verdict each");
    let replayed = tradeledger::projections::fold(&envelopes).unwrap();
    assert_eq!(replayed.state_hash(), live.state_hash(), "a replay equals the live state");
}
