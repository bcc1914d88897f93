//! Fold throughput in memory: 1M mixed events (ticks, signals, verdicts,
//! orders, fills) across 10 symbols, folded into a `Ledger`.
//!
//! `cargo bench -p tradeledger-projections --bench fold`

use rust_decimal::Decimal;
use std::time::Instant;
use tradeledger_events::envelope::{genesis_hash, seal};
use tradeledger_events::*;
use tradeledger_projections::fold;

const EVENTS: usize = 1_000_000;
const SYMBOLS: usize = 10;

fn limits() -> Event {
    Event::RiskLimitsSet(RiskLimitsSet {
        limits: Box::new(RiskLimits::document_defaults(Money::of(Decimal::from(10_000_000)))),
    })
}

/// Every 10th tick of a symbol brings a signal, its verdict, an order, its
/// acceptance and a fill; orders alternate buy and sell so positions open,
/// grow, shrink and flip.
fn mixed_events() -> Vec<Event> {
    let symbols: Vec<Symbol> = (0..SYMBOLS).map(|index| format!("SYM{index}USDT").parse().unwrap()).collect();
    let mut events = vec![limits()];
    let mut order = 0u64;
    let mut tick = 0u64;
    while events.len() < EVENTS {
        // Ticks rotate through the symbols; orders rotate at their own pace.
        let symbol = symbols[(tick % SYMBOLS as u64) as usize].clone();
        let price = Price::new(Decimal::new(6_000_000 + ((tick * 7919) % 20_000) as i64, 2)).unwrap();
        events.push(Event::PriceTicked(PriceTicked {
            symbol: symbol.clone(),
            price,
            size: Quantity::new(Decimal::new(15, 2)).ok(),
            price_bid: None,
            price_ask: None,
            time_venue: None,
        }));
        tick += 1;
        if tick.is_multiple_of(10) {
            order += 1;
            let symbol = symbols[(order % SYMBOLS as u64) as usize].clone();
            let side = if (order / 3).is_multiple_of(2) { Side::Buy } else { Side::Sell };
            let signal_id: SignalId = format!("S{order}").parse().unwrap();
            let order_id: OrderId = format!("O{order}").parse().unwrap();
            let quantity = Quantity::new(Decimal::new(1 + (order % 5) as i64, 2)).unwrap();
            events.push(Event::SignalReceived(SignalReceived {
                signal_id: signal_id.clone(),
                strategy_id: "bench".parse().unwrap(),
                symbol: symbol.clone(),
                side,
                quantity: quantity.get(),
                order_type: OrderType::Market,
                price_limit: None,
                price_stop_loss: None,
                price_take_profit: None,
            }));
            events.push(Event::RiskCheckPassed(RiskCheckPassed { signal_id: signal_id.clone(), checks: vec![] }));
            events.push(Event::OrderSubmitted(OrderSubmitted {
                order_id: order_id.clone(),
                signal_id: Some(signal_id),
                symbol: symbol.clone(),
                side,
                order_type: OrderType::Market,
                quantity,
                price_limit: None,
                reduce_only: false,
                exit_reason: None,
            }));
            events.push(Event::OrderAccepted(OrderAccepted { order_id: order_id.clone() }));
            events.push(Event::OrderFilled(OrderFilled {
                order_id: order_id.clone(),
                fill_id: format!("F{order}").parse().unwrap(),
                symbol,
                side,
                quantity,
                price,
                fee: Money::of(Decimal::new(12, 2)),
                liquidity: Liquidity::Taker,
            }));
        }
    }
    events.truncate(EVENTS);
    events
}

fn main() {
    let journal = JournalId::from_u128(7);
    let mut previous = genesis_hash(journal);
    let envelopes: Vec<Envelope> = mixed_events()
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let seq = Seq::new(index as u64 + 1);
            let time = Timestamp::from_unix_nanos(1_723_161_255_000_000_000 + index as i64 * 1_000_000);
            let envelope = seal(journal, seq, previous, time, NewEvent::input(time, event)).unwrap();
            previous = envelope.hash;
            envelope
        })
        .collect();
    let mut rates = Vec::new();
    let mut final_hash = None;
    for _ in 0..5 {
        let started = Instant::now();
        let ledger = fold(&envelopes).unwrap();
        let elapsed = started.elapsed();
        rates.push(envelopes.len() as f64 / elapsed.as_secs_f64());
        final_hash = Some(ledger.state_hash());
        std::hint::black_box(ledger);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "fold of {} mixed events over {SYMBOLS} symbols: median {:.0} events/s, best {:.0} events/s (state {})",
        envelopes.len(),
        rates[rates.len() / 2],
        rates[rates.len() - 1],
        final_hash.map(|hash| hash.to_hex()).unwrap_or_default()
    );
}
