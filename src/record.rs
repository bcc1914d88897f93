//! `record`: runs the engine over merged inputs (ticks, fills, signals and
//! the built-in strategy's signals) and appends everything to a journal.

use crate::config::Config;
use crate::engine::{EngineError, TradingSystem};
use crate::input::TimedInput;
use crate::strategy::SmaCross;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use tradeledger_events::{Durability, Event, Journal, JournalError, JournalOptions, Seq, Side, Symbol, Timestamp};
use tradeledger_projections::view::LedgerView;
use tradeledger_projections::{Ledger, PositionSide};

/// Inputs handed to the engine per commit.
pub const BATCH_INPUTS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What a run recorded.
#[derive(Debug, Clone)]
pub struct RecordSummary {
    /// The first seq this run appended (head + 1 before it).
    pub seq_first: Seq,
    pub seq_last: Seq,
    /// Inputs handed to the engine, by event name (strategy signals included).
    pub inputs: BTreeMap<&'static str, u64>,
    /// Every event this run appended, by name.
    pub events: BTreeMap<&'static str, u64>,
    pub strategy_signals: u64,
    pub view: LedgerView,
}

#[derive(Debug)]
pub struct Recording<'a> {
    pub journal_dir: &'a Path,
    pub config: Config,
    pub inputs: Vec<TimedInput>,
    pub strategy: Option<SmaCross>,
    pub durability: Durability,
}

/// Records `recording` into its journal (created or appended to). `progress`
/// is told how many inputs have been handled so far.
pub async fn record(mut recording: Recording<'_>, mut progress: impl FnMut(u64)) -> Result<RecordSummary, RecordError> {
    let options = JournalOptions { durability: recording.durability, ..JournalOptions::default() };
    let journal = Journal::open(recording.journal_dir, options)?;
    let seq_first = Seq::new(journal.head().seq.get() + 1);
    // Configuration events are dated by the first input, so a recording is
    // the same whenever it is made.
    let config_time = recording.inputs.first().map_or_else(Timestamp::default, |input| input.time);
    let system = TradingSystem::open(journal, recording.config.clone(), config_time).await?;
    let mut inputs_seen: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut strategy_signals = 0;
    let mut handled = 0;
    let mut inputs = std::mem::take(&mut recording.inputs).into_iter().peekable();
    while inputs.peek().is_some() {
        let batch: Vec<(Timestamp, Event)> =
            inputs.by_ref().take(BATCH_INPUTS).map(|input| (input.time, input.event)).collect();
        handled += batch.len() as u64;
        for (_, event) in &batch {
            *inputs_seen.entry(event.name()).or_default() += 1;
        }
        let strategy = &mut recording.strategy;
        system
            .handle_inputs_with(batch, |ledger, time, event| {
                let signal = strategy.as_mut().and_then(|strategy| strategy_signal(strategy, ledger, time, event))?;
                strategy_signals += 1;
                Some((time, Event::SignalReceived(signal)))
            })
            .await?;
        progress(handled);
    }
    *inputs_seen.entry("SignalReceived").or_default() += strategy_signals;
    inputs_seen.retain(|_, count| *count > 0);
    let view = LedgerView::of(&system.ledger().await);
    system.stop().await?;
    let (seq_last, events) = count_events(recording.journal_dir, seq_first)?;
    Ok(RecordSummary { seq_first, seq_last, inputs: inputs_seen, events, strategy_signals, view })
}

/// The strategy's answer to a tick, sized against the state the tick left
/// (the open position plus what working orders will still fill).
pub fn strategy_signal(
    strategy: &mut SmaCross,
    ledger: &Ledger,
    time: Timestamp,
    event: &Event,
) -> Option<tradeledger_events::SignalReceived> {
    let Event::PriceTicked(tick) = event else { return None };
    let target = strategy.on_tick(&tick.symbol, tick.price)?;
    strategy.signal(&tick.symbol, time, tick.price, headed_for(ledger, &tick.symbol), target)
}

/// The position `symbol` is headed for: what is open plus what working
/// orders will still add (buys) or remove (sells), so a strategy does not
/// order twice for a fill still on its way.
fn headed_for(ledger: &Ledger, symbol: &Symbol) -> Decimal {
    let open = ledger.positions.open.get(symbol).map_or(Decimal::ZERO, |position| match position.side {
        PositionSide::Long => position.quantity.get(),
        PositionSide::Short => -position.quantity.get(),
    });
    let orders = &ledger.orders;
    let working: Decimal = orders
        .working
        .get(symbol)
        .into_iter()
        .flatten()
        .filter_map(|id| orders.orders.get(id))
        .map(|order| match order.side {
            Side::Buy => order.quantity_remaining().get(),
            Side::Sell => -order.quantity_remaining().get(),
        })
        .sum();
    open + working
}

fn count_events(dir: &Path, from: Seq) -> Result<(Seq, BTreeMap<&'static str, u64>), JournalError> {
    let journal = Journal::open(dir, JournalOptions::read_only())?;
    let mut counts = BTreeMap::new();
    for envelope in journal.iter_from(from) {
        *counts.entry(envelope?.event.name()).or_default() += 1;
    }
    let head = journal.head().seq;
    journal.close()?;
    Ok((head, counts))
}
