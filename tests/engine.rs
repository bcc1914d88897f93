//! The trading engine end to end: the source document's two examples, every
//! kind of exit, the circuit breaker, partial fills, idempotency,
//! concurrency, reopening and determinism.

use rust_decimal::Decimal;
use std::path::Path;
use std::sync::Arc;
use tradeledger::config::Config;
use tradeledger::engine::{RiskMonitor, SubmitError, TradingSystem};
use tradeledger::events::{
    BreakerResetReason, Envelope, Event, Journal, JournalOptions, OrderId, OrderType, PriceTicked, Quantity, RiskCheck,
    Seq, Side, SignalReceived, TimerFired, Timestamp, Verdict,
};
use tradeledger::projections::risk::RiskEventKind;
use tradeledger::projections::{OrderStatus, PositionStatus, RiskLevel};
use tradeledger::venue::SimulatedVenue;

mod common;

use common::dec;

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_723_161_600_000_000_000 + seconds * 1_000_000_000)
}

fn tick(symbol: &str, price: &str) -> PriceTicked {
    PriceTicked {
        symbol: symbol.parse().unwrap(),
        price: price.parse().unwrap(),
        size: None,
        price_bid: None,
        price_ask: None,
        time_venue: None,
    }
}

fn sized_tick(symbol: &str, price: &str, size: &str) -> PriceTicked {
    PriceTicked { size: Some(size.parse().unwrap()), ..tick(symbol, price) }
}

fn signal(id: &str, symbol: &str, side: Side, quantity: &str) -> SignalReceived {
    common::market_signal(id, symbol, side, quantity)
}

async fn open(dir: &Path, yaml: &str) -> TradingSystem {
    let journal = Journal::open(dir, JournalOptions::buffered()).unwrap();
    TradingSystem::open(journal, Config::from_yaml(yaml, "test").unwrap(), time(0)).await.unwrap()
}

fn recorded(dir: &Path) -> Vec<Envelope> {
    let journal = Journal::open(dir, JournalOptions::read_only()).unwrap();
    journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap()
}

#[tokio::test]
async fn a_buy_signal_fills_and_opens_one_position() {
    // The document's unit test: a buy of 0.001 BTC/USDT ends FILLED with one open position.
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("BTC/USDT", "60000")).await.unwrap();
    let order = system.submit_signal(time(2), signal("s1", "BTC/USDT", Side::Buy, "0.001")).await.unwrap();
    assert_eq!(order.status, OrderStatus::Accepted, "a market order fills on the next tick");
    system.on_tick(time(3), tick("BTC/USDT", "60010")).await.unwrap();
    let orders = system.orders().await;
    assert_eq!(orders[0].status, OrderStatus::Filled);
    assert_eq!(orders[0].price_fill_average(), Some(dec("60010")));
    let positions = system.open_positions().await;
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].quantity.get(), dec("0.001"));
    system.stop().await.unwrap();
}

#[tokio::test]
async fn the_complete_lifecycle_creates_a_position_and_risk_events() {
    // The document's integration test, plus the journal behind it.
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("BTC/USDT", "60000")).await.unwrap();
    system.submit_signal(time(2), signal("s1", "BTC/USDT", Side::Buy, "0.001")).await.unwrap();
    system.on_tick(time(3), tick("BTC/USDT", "60000")).await.unwrap();
    assert_eq!(system.open_positions().await.len(), 1);
    let events = system.risk_events(1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, RiskEventKind::CheckPassed);
    assert_eq!(system.risk_level().await, RiskLevel::Low);
    system.stop().await.unwrap();
    let names: Vec<&str> = recorded(dir.path()).iter().map(|envelope| envelope.event.name()).collect();
    assert_eq!(
        names,
        [
            "RiskLimitsSet",
            "VenueConfigured",
            "PriceTicked",
            "SignalReceived",
            "RiskCheckPassed",
            "OrderSubmitted",
            "OrderAccepted",
            "PriceTicked",
            "OrderFilled"
        ]
    );
}

#[tokio::test]
async fn decisions_record_their_cause_and_correlation() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    system.submit_signal(time(2), signal("s1", "BTC", Side::Buy, "1")).await.unwrap();
    system.stop().await.unwrap();
    let events = recorded(dir.path());
    let signal_seq = events.iter().find(|e| matches!(e.event, Event::SignalReceived(_))).unwrap().seq;
    let chain: Vec<&Envelope> = events.iter().filter(|e| e.correlation_seq == signal_seq).collect();
    // Signal → verdict → order → acceptance, each caused by the one before.
    assert_eq!(chain.len(), 4);
    for pair in chain.windows(2) {
        assert_eq!(pair[1].causation_seq, Some(pair[0].seq));
        assert_eq!(pair[1].time_event, pair[0].time_event, "decisions take the input's time");
    }
}

#[tokio::test]
async fn a_rejected_signal_is_recorded_with_its_checks_and_sends_no_order() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "RISK_MANAGEMENT:\n  MAX_POSITION_SIZE: 50000\n").await;
    system.on_tick(time(1), tick("BTC", "60000")).await.unwrap();
    let error = system.submit_signal(time(2), signal("big", "BTC", Side::Buy, "1")).await.unwrap_err();
    let SubmitError::Rejected(rejection) = error else { panic!("expected a rejection, got {error:?}") };
    assert!(rejection.reason.contains("position size: 60000 exceeds the limit 50000"), "{}", rejection.reason);
    let size = rejection.checks.iter().find(|check| check.check == RiskCheck::PositionSize).unwrap();
    assert_eq!(size.verdict, Verdict::Fail);
    assert!(system.orders().await.is_empty());
    system.stop().await.unwrap();
    let rejected = recorded(dir.path()).into_iter().find(|e| matches!(e.event, Event::RiskCheckRejected(_))).unwrap();
    assert_eq!(rejected.seq, rejection.seq);
}

#[tokio::test]
async fn a_stop_loss_hit_exits_the_position_on_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("BTC", "60000")).await.unwrap();
    let protected = SignalReceived { price_stop_loss: Some(dec("59000")), ..signal("s1", "BTC", Side::Buy, "0.5") };
    system.submit_signal(time(2), protected).await.unwrap();
    system.on_tick(time(3), tick("BTC", "60000")).await.unwrap();
    system.on_tick(time(4), tick("BTC", "59500")).await.unwrap();
    assert_eq!(system.open_positions().await.len(), 1, "above the stop");
    system.on_tick(time(5), tick("BTC", "58990")).await.unwrap();
    system.on_tick(time(6), tick("BTC", "58900")).await.unwrap();
    let ledger = system.ledger().await;
    assert!(ledger.positions.open.is_empty(), "the exit filled on the tick after the trigger");
    let closed = &ledger.positions.closed[0];
    assert_eq!(closed.status, PositionStatus::Closed);
    assert_eq!(closed.price_exit_average(), Some(dec("58900")));
    // (58900 − 60000) × 0.5 = −550, no fees configured.
    assert_eq!(closed.realized_pnl.get(), dec("-550"));
    let exit = ledger.risk.events.iter().find(|event| event.kind == RiskEventKind::ForcedExit).unwrap();
    assert_eq!(exit.exit_reason, Some(tradeledger::events::ExitReason::StopLoss));
    system.stop().await.unwrap();
}

#[tokio::test]
async fn a_take_profit_hit_exits_a_short() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("ETH", "2000")).await.unwrap();
    let short = SignalReceived { price_take_profit: Some(dec("1900")), ..signal("s1", "ETH", Side::Sell, "2") };
    system.submit_signal(time(2), short).await.unwrap();
    system.on_tick(time(3), tick("ETH", "2000")).await.unwrap();
    system.on_tick(time(4), tick("ETH", "1890")).await.unwrap();
    system.on_tick(time(5), tick("ETH", "1895")).await.unwrap();
    let ledger = system.ledger().await;
    let closed = &ledger.positions.closed[0];
    // (2000 − 1895) × 2 = 210.
    assert_eq!(closed.realized_pnl.get(), dec("210"));
    system.stop().await.unwrap();
}

#[tokio::test]
async fn the_circuit_breaker_flattens_halts_and_resets() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "INITIAL_CAPITAL: 10000\nRISK_MANAGEMENT:\n  MAX_DRAWDOWN: 10\n").await;
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    system.submit_signal(time(2), signal("s1", "BTC", Side::Buy, "50")).await.unwrap();
    system.on_tick(time(3), tick("BTC", "100")).await.unwrap();
    // At 78 the 50 lose 1100 of 10000: 11 % below the peak, over 10 %.
    system.on_tick(time(4), tick("BTC", "78")).await.unwrap();
    assert_eq!(system.risk_level().await, RiskLevel::Critical);
    system.on_tick(time(5), tick("BTC", "79")).await.unwrap();
    assert!(system.open_positions().await.is_empty(), "flattened by a reduce-only exit");
    let halted = system.submit_signal(time(6), signal("s2", "BTC", Side::Buy, "1")).await.unwrap_err();
    let SubmitError::Rejected(rejection) = halted else { panic!("{halted:?}") };
    assert!(rejection.reason.contains("circuit breaker"), "{}", rejection.reason);
    system.reset_circuit_breaker(time(7), "operator").await.unwrap();
    let ledger = system.ledger().await;
    assert!(ledger.risk.breaker_tripped.is_none());
    assert_eq!(ledger.risk.breaker_history.len(), 2);
    // Equity stays 10.5 % under its old peak, but the breaker measures from
    // the reset: trading resumes, and the next tick does not trip it again.
    system.submit_signal(time(8), signal("s3", "BTC", Side::Buy, "1")).await.unwrap();
    system.on_tick(time(9), tick("BTC", "79")).await.unwrap();
    let ledger = system.ledger().await;
    assert!(ledger.risk.breaker_tripped.is_none(), "no re-trip on the old peak");
    assert_eq!(ledger.positions.open.len(), 1);
    system.stop().await.unwrap();
}

#[tokio::test]
async fn partial_fills_then_a_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "VENUE:\n  MAKER_FEE_BPS: 2\n").await;
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    let limit = SignalReceived {
        order_type: OrderType::Limit,
        price_limit: Some(dec("99.5")),
        ..signal("s1", "BTC", Side::Buy, "1")
    };
    let order = system.submit_signal(time(2), limit).await.unwrap();
    system.on_tick(time(3), sized_tick("BTC", "99.8", "5")).await.unwrap();
    system.on_tick(time(4), sized_tick("BTC", "99.5", "0.3")).await.unwrap();
    system.on_tick(time(5), sized_tick("BTC", "99.4", "0.2")).await.unwrap();
    system.cancel_order(time(6), order.order_id.clone()).await.unwrap();
    system.on_tick(time(7), sized_tick("BTC", "99.0", "5")).await.unwrap();
    let order = system.orders().await.into_iter().find(|o| o.order_id == order.order_id).unwrap();
    assert_eq!(order.status, OrderStatus::Canceled);
    assert_eq!(order.quantity_filled.get(), dec("0.5"), "0.3 + 0.2; nothing after the cancel");
    // Maker fees: 2 bps of 0.3 × 99.5 = 29.85 → 0.00597; of 0.2 × 99.4 = 19.88 → 0.003976.
    assert_eq!(order.fees.get(), dec("0.009946"));
    system.stop().await.unwrap();
}

#[tokio::test]
async fn resubmitting_returns_the_first_outcome_and_other_fields_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), "").await;
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    let first = system.submit_signal(time(2), signal("s1", "BTC", Side::Buy, "1")).await.unwrap();
    let again = system.submit_signal(time(3), signal("s1", "BTC", Side::Buy, "1")).await.unwrap();
    assert_eq!(again.order_id, first.order_id);
    assert_eq!(system.orders().await.len(), 1, "no second order");
    let conflict = system.submit_signal(time(4), signal("s1", "BTC", Side::Buy, "2")).await.unwrap_err();
    assert!(matches!(conflict, SubmitError::Conflict { .. }), "{conflict:?}");
    // A rejected signal resubmitted is rejected again, with its original checks.
    let bad = signal("s2", "BTC", Side::Buy, "0");
    let SubmitError::Rejected(one) = system.submit_signal(time(5), bad.clone()).await.unwrap_err() else { panic!() };
    let SubmitError::Rejected(two) = system.submit_signal(time(6), bad).await.unwrap_err() else { panic!() };
    assert_eq!(one, two);
    system.stop().await.unwrap();
    assert_eq!(recorded(dir.path()).iter().filter(|e| matches!(e.event, Event::SignalReceived(_))).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_tasks_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let system = Arc::new(open(dir.path(), "").await);
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..16 {
        let system = Arc::clone(&system);
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
                system.submit_signal(time(2), signal(&format!("t{task}-{n}"), "BTC", side, "0.01")).await.unwrap();
                if n % 5 == 0 {
                    system.on_tick(time(3), tick("BTC", "100")).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ledger = system.ledger().await;
    assert_eq!(ledger.orders.signals.len(), 400);
    assert_eq!(ledger.orders.orders.len(), 400, "one order per signal");
    Arc::try_unwrap(system).unwrap().stop().await.unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    assert_eq!(journal.verify().unwrap().fault, None);
}

/// Runs a fixed session; with `reopen_after`, the engine stops and a new one
/// continues on the same journal after that many steps.
async fn session(dir: &Path, reopen_after: Option<usize>) -> tradeledger::projections::Ledger {
    let yaml = "RISK_MANAGEMENT:\n  MAX_POSITION_SIZE: 50000\nVENUE:\n  TAKER_FEE_BPS: 5\n  SLIPPAGE_BPS: 1\n";
    let mut system = Some(open(dir, yaml).await);
    let prices = ["100", "101", "99", "102", "98", "97", "103", "104", "96", "105"];
    for (step, price) in prices.iter().enumerate() {
        if Some(step) == reopen_after {
            system.take().unwrap().stop().await.unwrap();
            system = Some(open(dir, yaml).await);
        }
        let current = system.as_ref().unwrap();
        let now = time(step as i64 * 10);
        current.on_tick(now, tick("BTC", price)).await.unwrap();
        let side = if step % 3 == 2 { Side::Sell } else { Side::Buy };
        let with_stop =
            SignalReceived { price_stop_loss: Some(dec("95")), ..signal(&format!("s{step}"), "BTC", side, "3") };
        let _ = current.submit_signal(now, with_stop).await;
        if step % 4 == 3 {
            current.fire_timer(time(step as i64 * 10 + 5), std::time::Duration::from_secs(30)).await.unwrap();
        }
    }
    let current = system.unwrap();
    let ledger = current.ledger().await;
    current.stop().await.unwrap();
    ledger
}

#[tokio::test]
async fn reopening_and_continuing_equals_one_uninterrupted_run() {
    let whole = tempfile::tempdir().unwrap();
    let split = tempfile::tempdir().unwrap();
    let uninterrupted = session(whole.path(), None).await;
    let reopened = session(split.path(), Some(4)).await;
    assert_eq!(reopened.state_hash(), uninterrupted.state_hash());
    assert_eq!(reopened, uninterrupted);
    assert!(uninterrupted.positions.open.len() + uninterrupted.positions.closed.len() > 0, "the session traded");
}

#[tokio::test]
async fn rerunning_the_recorded_inputs_reproduces_every_decision() {
    let original = tempfile::tempdir().unwrap();
    session(original.path(), Some(6)).await;
    let recorded = recorded(original.path());

    let rerun_dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(rerun_dir.path(), JournalOptions::buffered()).unwrap();
    let rerun = TradingSystem::open_bare(journal, Box::new(SimulatedVenue)).await.unwrap();
    for envelope in recorded.iter().filter(|envelope| envelope.event.is_input()) {
        rerun.handle_input(envelope.time_event, envelope.event.clone()).await.unwrap();
    }
    rerun.stop().await.unwrap();
    let rerun = recorded_events(rerun_dir.path());
    let original: Vec<_> = recorded.iter().map(comparable).collect();
    assert_eq!(rerun.len(), original.len());
    for (again, first) in rerun.iter().zip(&original) {
        assert_eq!(again, first, "decision at seq {} differs", first.0);
    }
    assert!(original.iter().any(|(_, _, _, event)| matches!(event, Event::OrderFilled(_))));
    assert!(original.iter().any(|(_, _, _, event)| matches!(event, Event::TimerFired(_))));
}

const NEXT_DAY_RESET: &str =
    "INITIAL_CAPITAL: 10000\nRISK_MANAGEMENT:\n  MAX_DRAWDOWN: 10\n  CIRCUIT_BREAKER_RESET: next_utc_day\n";

/// Trips the breaker (as in `the_circuit_breaker_flattens_halts_and_resets`)
/// and lets the flattening exit fill.
async fn trip_the_breaker(system: &TradingSystem) {
    system.on_tick(time(1), tick("BTC", "100")).await.unwrap();
    system.submit_signal(time(2), signal("s1", "BTC", Side::Buy, "50")).await.unwrap();
    system.on_tick(time(3), tick("BTC", "100")).await.unwrap();
    system.on_tick(time(4), tick("BTC", "78")).await.unwrap();
    system.on_tick(time(5), tick("BTC", "79")).await.unwrap();
    assert!(system.ledger().await.risk.breaker_tripped.is_some());
}

#[tokio::test]
async fn the_risk_monitor_resets_the_breaker_on_a_new_utc_day_without_waiting_for_a_tick() {
    let dir = tempfile::tempdir().unwrap();
    let system = open(dir.path(), NEXT_DAY_RESET).await;
    trip_the_breaker(&system).await;
    let period = std::time::Duration::from_secs(30);
    // time(0) is midnight UTC: the same day, nothing to reset.
    system.fire_timer(time(86_399), period).await.unwrap();
    assert!(system.ledger().await.risk.breaker_tripped.is_some(), "still the day of the trip");
    system.fire_timer(time(86_400 + 30), period).await.unwrap();
    let ledger = system.ledger().await;
    assert!(ledger.risk.breaker_tripped.is_none(), "reset by the first timer of the next UTC day");
    system.stop().await.unwrap();

    let events = recorded(dir.path());
    let timers: Vec<&Envelope> = events.iter().filter(|e| matches!(e.event, Event::TimerFired(_))).collect();
    assert_eq!(timers.len(), 2);
    assert!(timers.iter().all(|timer| timer.event == Event::TimerFired(TimerFired { period_ms: 30_000 })));
    let reset = events.iter().rposition(|e| matches!(e.event, Event::CircuitBreakerReset(_))).unwrap();
    assert_eq!(events[reset].time_event, time(86_400 + 30));
    let Event::CircuitBreakerReset(reset_event) = &events[reset].event else { unreachable!() };
    assert_eq!(reset_event.reason, BreakerResetReason::NewTradingDay);
    assert!(matches!(events[reset + 1].event, Event::TimerFired(_)), "the reset comes first, then the timer input");
}

#[tokio::test(start_paused = true)]
async fn the_live_risk_monitor_fires_every_period_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let system = Arc::new(open(dir.path(), "").await);
    let monitor = RiskMonitor::spawn(Arc::clone(&system), std::time::Duration::from_secs(30));
    // Paused time advances only when every task waits: three periods pass.
    tokio::time::sleep(std::time::Duration::from_secs(95)).await;
    drop(monitor);
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    let system = Arc::try_unwrap(system).unwrap();
    system.stop().await.unwrap();
    let timers = recorded(dir.path()).into_iter().filter(|e| matches!(e.event, Event::TimerFired(_))).count();
    assert_eq!(timers, 3, "fired at 30, 60 and 90 s, and not after the monitor was dropped");
}

#[tokio::test(start_paused = true)]
async fn start_runs_the_risk_monitor_at_the_documents_period() {
    let dir = tempfile::tempdir().unwrap();
    let system = Arc::new(open(dir.path(), "").await);
    let monitor = system.start();
    tokio::time::sleep(std::time::Duration::from_secs(65)).await;
    monitor.stop().await;
    let system = Arc::try_unwrap(system).expect("the stopped monitor released the engine");
    system.stop().await.unwrap();
    let periods: Vec<u64> = recorded(dir.path())
        .into_iter()
        .filter_map(|envelope| match envelope.event {
            Event::TimerFired(timer) => Some(timer.period_ms),
            _ => None,
        })
        .collect();
    assert_eq!(periods, [30_000, 30_000], "fired at 30 and 60 s, each recording its period");
}

fn comparable(envelope: &Envelope) -> (Seq, Option<Seq>, Seq, Event) {
    (envelope.seq, envelope.causation_seq, envelope.correlation_seq, envelope.event.clone())
}

fn recorded_events(dir: &Path) -> Vec<(Seq, Option<Seq>, Seq, Event)> {
    recorded(dir).iter().map(comparable).collect()
}

#[test]
fn the_simulated_venue_rejects_orders_without_a_market_and_prices_fills_exactly() {
    use tradeledger::events::{Liquidity, OrderSubmitted};
    use tradeledger::projections::{fold, scenario};
    use tradeledger::venue::Venue;
    let order = |symbol: &str| OrderSubmitted {
        order_id: OrderId::try_from("O9").unwrap(),
        signal_id: None,
        symbol: symbol.parse().unwrap(),
        side: Side::Buy,
        order_type: OrderType::Market,
        quantity: Quantity::new(dec("2")).unwrap(),
        price_limit: None,
        reduce_only: false,
        exit_reason: None,
    };
    let ledger = fold(
        &scenario::envelopes(
            "limits
tick BTC 100
",
        )
        .unwrap(),
    )
    .unwrap();
    assert!(matches!(SimulatedVenue.on_order(&ledger, &order("ETH")), Event::OrderRejected(_)));
    assert!(matches!(SimulatedVenue.on_order(&ledger, &order("BTC")), Event::OrderAccepted(_)));

    // A market buy of 2 with 10 bps of slippage and 5 bps taker fee at a tick
    // of 200: price 200 × 1.001 = 200.2, fee 2 × 200.2 × 0.0005 = 0.2002.
    let text = "limits
tick BTC 100
submit O9 BTC buy 2
accept O9
tick BTC 200
";
    let mut ledger = fold(&scenario::envelopes(text).unwrap()).unwrap();
    ledger.risk.venue = Some(tradeledger::events::VenueConfigured {
        slippage_bps: dec("10"),
        fee_maker_bps: Decimal::ZERO,
        fee_taker_bps: dec("5"),
        latency_ticks: 0,
    });
    let fills = SimulatedVenue.on_tick(&ledger, &tick("BTC", "200"));
    let [Event::OrderFilled(fill)] = fills.as_slice() else { panic!("{fills:?}") };
    assert_eq!(fill.price.get(), dec("200.2"));
    assert_eq!(fill.fee.get(), dec("0.2002"));
    assert_eq!(fill.liquidity, Liquidity::Taker);

    // With a latency of 2 ticks, the first tick after submission does not fill.
    ledger.risk.venue.as_mut().unwrap().latency_ticks = 2;
    assert!(SimulatedVenue.on_tick(&ledger, &tick("BTC", "200")).is_empty());
}

#[tokio::test]
async fn a_batch_of_inputs_records_exactly_what_one_call_per_input_records() {
    let inputs: Vec<(Timestamp, Event)> = (0..60)
        .flat_map(|step| {
            let price = format!("{}", 100 + (step * 7) % 13);
            let mut events = vec![(time(step), Event::PriceTicked(tick("BTC", &price)))];
            if step % 4 == 0 {
                let side = if step % 8 == 0 { Side::Buy } else { Side::Sell };
                let stop = SignalReceived {
                    price_stop_loss: Some(dec("95")),
                    ..signal(&format!("s{step}"), "BTC", side, "2")
                };
                events.push((time(step), Event::SignalReceived(stop)));
            }
            events
        })
        .collect();
    let one_by_one = tempfile::tempdir().unwrap();
    let system = open(one_by_one.path(), "").await;
    for (at, event) in inputs.clone() {
        system.handle_input(at, event).await.unwrap();
    }
    system.stop().await.unwrap();
    let batched = tempfile::tempdir().unwrap();
    let system = open(batched.path(), "").await;
    for chunk in inputs.chunks(17) {
        system.handle_inputs(chunk.to_vec()).await.unwrap();
    }
    system.stop().await.unwrap();
    assert_eq!(recorded_events(batched.path()), recorded_events(one_by_one.path()));
    assert!(recorded_events(batched.path()).iter().any(|(_, _, _, event)| matches!(event, Event::OrderFilled(_))));
}

/// Feeds the inputs of each `fixtures/engine/*.txt` timeline through the
/// engine and snapshots the resulting projections.
#[tokio::test]
async fn engine_scenarios_match_their_snapshots() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine");
    let mut names: Vec<_> = std::fs::read_dir(&fixtures).unwrap().map(|entry| entry.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 3);
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let inputs = tradeledger::projections::scenario::events(&text).unwrap();
        assert!(
            inputs.iter().all(|(_, new)| new.event.is_input()),
            "{}: engine fixtures hold inputs only",
            path.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path(), JournalOptions::buffered()).unwrap();
        let system = TradingSystem::open_bare(journal, Box::new(SimulatedVenue)).await.unwrap();
        system.handle_inputs(inputs.into_iter().map(|(_, new)| (new.time_event, new.event))).await.unwrap();
        let view = tradeledger::projections::view::LedgerView::of(&system.ledger().await);
        system.stop().await.unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_yaml_snapshot!(format!("engine__{name}"), view);
    }
}
