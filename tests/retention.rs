//! `HISTORY_RETAINED`: an engine that keeps only recent finished history in
//! memory decides exactly what one that keeps everything decides, answers
//! every resubmission the same, and stays within its bound.

use std::path::Path;
use tradeledger::config::Config;
use tradeledger::engine::{SubmitError, TradingSystem};
use tradeledger::events::{
    Envelope, Event, Journal, JournalOptions, OrderCancelRequested, OrderId, OrderType, PriceTicked, Seq, Side,
    SignalReceived, Timestamp,
};
use tradeledger::ledger::{load_ledger_keeping, Restored};
use tradeledger::projections::{Ledger, Retention};

mod common;

use common::dec;

const LIMITS: &str = "RISK_MANAGEMENT:\n  MAX_ORDER_QUANTITY: 5\n";

fn time(step: usize) -> Timestamp {
    Timestamp::from_unix_nanos(1_723_161_600_000_000_000 + step as i64 * 1_000_000_000)
}

fn tick(symbol: &str, price: String) -> Event {
    Event::PriceTicked(PriceTicked {
        symbol: symbol.parse().unwrap(),
        price: price.parse().unwrap(),
        size: None,
        price_bid: None,
        price_ask: None,
        time_venue: None,
    })
}

/// Signal number `n`: market orders that pass, some too large (rejected),
/// some with a stop close enough to be hit (a forced exit, an order without
/// a signal), and limit orders far from the market that rest until canceled.
fn signal(n: usize) -> SignalReceived {
    let side = if n.is_multiple_of(2) { Side::Buy } else { Side::Sell };
    let quantity = if n.is_multiple_of(5) { "7" } else { "1" };
    let mut signal =
        common::market_signal(&format!("s{n}"), if n.is_multiple_of(3) { "ETH" } else { "BTC" }, side, quantity);
    if n % 4 == 1 {
        signal.price_stop_loss = Some(if side == Side::Buy { dec("99") } else { dec("111") });
    }
    if n % 7 == 3 {
        signal.order_type = OrderType::Limit;
        signal.price_limit = Some(if side == Side::Buy { dec("50") } else { dec("200") });
    }
    signal
}

/// Ticks that swing between 98 and 110, signals, resubmissions of earlier
/// signals (same fields, and other fields) and cancels of earlier limit
/// orders, in batches of mixed sizes.
fn inputs() -> Vec<Vec<(Timestamp, Event)>> {
    let mut all = Vec::new();
    for step in 0..240 {
        let price = 98 + (step * 7) % 13;
        all.push((time(step), tick("BTC", price.to_string())));
        all.push((time(step), tick("ETH", (price + 1).to_string())));
        if step.is_multiple_of(2) {
            all.push((time(step), Event::SignalReceived(signal(step / 2))));
        }
        if step % 6 == 4 {
            all.push((time(step), Event::SignalReceived(signal(step / 4))));
            let mut altered = signal(step / 5);
            altered.quantity = dec("2");
            all.push((time(step), Event::SignalReceived(altered)));
        }
        if step % 9 == 8 {
            let order_id: OrderId = format!("O{}", step * 2).parse().unwrap();
            all.push((time(step), Event::OrderCancelRequested(OrderCancelRequested { order_id })));
        }
    }
    let mut batches = Vec::new();
    let mut rest = all.as_slice();
    for size in [1, 5, 2, 13, 3].into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, tail) = rest.split_at(size.min(rest.len()));
        batches.push(batch.to_vec());
        rest = tail;
    }
    // Rejected signals settle at once, so with little kept the first leaves
    // memory before the batch that resubmits it is committed: its story is
    // then read from what is staged, not from the journal.
    let rejected = |id: &str| {
        let mut signal = common::market_signal(id, "BTC", Side::Buy, "9");
        signal.strategy_id = "late".parse().unwrap();
        (time(250), Event::SignalReceived(signal))
    };
    let mut altered = rejected("r1");
    if let Event::SignalReceived(signal) = &mut altered.1 {
        signal.quantity = dec("8");
    }
    batches.push(vec![rejected("r1"), rejected("r2"), rejected("r3"), rejected("r1"), altered, rejected("r4")]);
    batches
}

fn config(retention: Retention) -> Config {
    Config { retention, ..Config::from_yaml(LIMITS, "test").unwrap() }
}

async fn run(dir: &Path, retention: Retention) -> TradingSystem {
    let journal = Journal::open(dir, JournalOptions::buffered()).unwrap();
    let system = TradingSystem::open(journal, config(retention), time(0)).await.unwrap();
    for batch in inputs() {
        system.handle_inputs(batch).await.unwrap();
    }
    // Cancel the limit orders still resting (the same ids in every engine:
    // ids derive from seqs), then let the market move on.
    let ledger = system.ledger().await;
    let resting: Vec<OrderId> = ledger.orders.working.values().flatten().cloned().collect();
    for order_id in resting {
        system.cancel_order(time(300), order_id).await.unwrap();
    }
    system.on_tick(time(301), tick_of("BTC", "104")).await.unwrap();
    system
}

fn tick_of(symbol: &str, price: &str) -> PriceTicked {
    let Event::PriceTicked(tick) = tick(symbol, price.to_owned()) else { unreachable!() };
    tick
}

fn recorded(dir: &Path) -> Vec<(Seq, Option<Seq>, Seq, Event)> {
    let journal = Journal::open(dir, JournalOptions::read_only()).unwrap();
    let envelopes: Vec<Envelope> = journal.iter_from(Seq::FIRST).collect::<Result<_, _>>().unwrap();
    envelopes.iter().map(|e| (e.seq, e.causation_seq, e.correlation_seq, e.event.clone())).collect()
}

/// What `submit_signal` answered, in a form two engines' answers compare in.
async fn answer(system: &TradingSystem, signal: SignalReceived) -> String {
    match system.submit_signal(time(10_000), signal).await {
        Ok(order) => format!("order {order:?}"),
        Err(SubmitError::Rejected(rejection)) => format!("rejected {rejection:?}"),
        Err(SubmitError::Conflict { signal_id, seq }) => format!("conflict {signal_id} {seq}"),
        Err(SubmitError::Engine(error)) => panic!("engine error: {error}"),
    }
}

/// Everything but the finished history, which is what retention trims.
fn decided_state(ledger: &Ledger) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {}",
        ledger.positions.open,
        ledger.portfolio,
        ledger.market,
        ledger.orders.working,
        ledger.risk.breaker_tripped,
        ledger.risk.limits,
        ledger.risk.checks_passed + ledger.risk.checks_rejected,
    )
}

#[tokio::test]
async fn an_engine_keeping_recent_history_decides_and_answers_as_one_keeping_everything() {
    let everything_dir = tempfile::tempdir().unwrap();
    let everything = run(everything_dir.path(), Retention::Everything).await;
    let full = everything.ledger().await;
    assert!(full.risk.forced_exits > 0 && full.risk.checks_rejected > 0, "the script exercises exits and rejections");
    assert!(full
        .orders
        .orders
        .values_sorted()
        .any(|order| order.status == tradeledger::projections::OrderStatus::Canceled));
    let mut recordings = Vec::new();
    for kept in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let bounded = run(dir.path(), Retention::Recent(kept)).await;
        let ledger = bounded.ledger().await;
        assert!(!ledger.orders.signals_evicted.is_empty(), "signals left memory with {kept} kept");
        assert_eq!(decided_state(&ledger), decided_state(&full), "{kept} kept");
        let working: usize = ledger.orders.working.values().map(Vec::len).sum();
        assert!(ledger.orders.orders.len() <= kept as usize + working, "{kept} kept");
        assert!(ledger.positions.closed.len() <= kept as usize && ledger.risk.events.len() <= kept as usize);
        let closed: Vec<_> = full.positions.closed.iter().rev().take(kept as usize).rev().cloned().collect();
        assert_eq!(ledger.positions.closed.iter().cloned().collect::<Vec<_>>(), closed, "the most recent closed");
        for n in 0..120 {
            let mut altered = signal(n);
            altered.quantity = dec("3");
            for resubmitted in [signal(n), altered] {
                let (expected, got) =
                    (answer(&everything, resubmitted.clone()).await, answer(&bounded, resubmitted).await);
                assert_eq!(got, expected, "signal s{n} with {kept} kept");
            }
        }
        bounded.stop().await.unwrap();
        recordings.push((kept, recorded(dir.path())));
    }
    everything.stop().await.unwrap();
    let expected = recorded(everything_dir.path());
    for (kept, recording) in recordings {
        assert_eq!(recording, expected, "{kept} kept: the same decisions, seq for seq");
    }
}

#[tokio::test]
async fn reopening_under_another_retention_folds_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let system = run(dir.path(), Retention::Recent(2)).await;
    let live = system.committed_state().await;
    system.stop().await.unwrap();
    let journal = Journal::open(dir.path(), JournalOptions::read_only()).unwrap();
    let (same, restored) = load_ledger_keeping(&journal, Retention::Recent(2)).unwrap();
    assert_eq!((same.seq, same.state_hash()), live);
    assert!(matches!(restored, Restored::FromSnapshot(_)), "{restored:?}");
    let (other, restored) = load_ledger_keeping(&journal, Retention::Recent(5)).unwrap();
    assert_eq!(restored, Restored::FromScratch);
    assert_eq!(other.retention, Retention::Recent(5));
    let folded = tradeledger::projections::fold_onto(
        Ledger::keeping(Retention::Recent(5)),
        &journal.iter_from(Seq::FIRST).collect::<Result<Vec<_>, _>>().unwrap(),
    )
    .unwrap();
    assert_eq!(other.state_hash(), folded.state_hash());
}

#[test]
fn history_retained_must_be_at_least_one() {
    let error = Config::from_yaml("HISTORY_RETAINED: 0\n", "test.yaml").unwrap_err();
    assert!(error.to_string().contains("HISTORY_RETAINED"), "{error}");
    assert_eq!(Config::from_yaml("HISTORY_RETAINED: 500\n", "test.yaml").unwrap().retention, Retention::Recent(500));
    assert_eq!(Config::from_yaml("", "test.yaml").unwrap().retention, Retention::Everything);
}
