//! `record`: runs the engine over merged inputs (ticks, fills, signals and
//! the built-in strategy's signals) and appends everything to a journal.

use crate::config::Config;
use crate::engine::{EngineError, TradingSystem};
use crate::input::TimedInput;
use crate::strategy::SmaCross;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use tradeledger_events::{Durability, Event, Journal, JournalError, JournalOptions, Seq, Side, Timestamp};
use tradeledger_projections::view::LedgerView;
use tradeledger_projections::PositionSide;

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
    let mut batch = Vec::with_capacity(BATCH_INPUTS);
    let total = recording.inputs.len();
    for (index, input) in std::mem::take(&mut recording.inputs).into_iter().enumerate() {
        *inputs_seen.entry(input.event.name()).or_default() += 1;
        let tick = match &input.event {
            Event::PriceTicked(tick) => Some((tick.symbol.clone(), tick.price)),
            _ => None,
        };
        batch.push((input.time, input.event));
        if let (Some(strategy), Some((symbol, price))) = (recording.strategy.as_mut(), tick) {
            if let Some(target) = strategy.on_tick(&symbol, price) {
                // The strategy sizes against the position as it is now, so
                // everything before this tick is handled first.
                system.handle_inputs(std::mem::take(&mut batch)).await?;
                let position = signed_position(&system, &symbol).await;
                if let Some(signal) = strategy.signal(&symbol, input.time, price, position, target) {
                    strategy_signals += 1;
                    *inputs_seen.entry("SignalReceived").or_default() += 1;
                    batch.push((input.time, Event::SignalReceived(signal)));
                }
            }
        }
        if batch.len() >= BATCH_INPUTS || index + 1 == total {
            system.handle_inputs(std::mem::take(&mut batch)).await?;
            progress(index as u64 + 1);
        }
    }
    system.handle_inputs(batch).await?;
    let view = LedgerView::of(&system.ledger().await);
    system.stop().await?;
    let (seq_last, events) = count_events(recording.journal_dir, seq_first)?;
    Ok(RecordSummary { seq_first, seq_last, inputs: inputs_seen, events, strategy_signals, view })
}

/// The position `symbol` is headed for: what is open plus what working
/// orders will still add (buys) or remove (sells), so a strategy does not
/// order twice for a fill still on its way.
async fn signed_position(system: &TradingSystem, symbol: &tradeledger_events::Symbol) -> Decimal {
    let positions = system.open_positions().await;
    let open = positions.iter().find(|position| &position.symbol == symbol).map_or(Decimal::ZERO, |position| {
        match position.side {
            PositionSide::Long => position.quantity.get(),
            PositionSide::Short => -position.quantity.get(),
        }
    });
    let working: Decimal = system
        .working_orders(symbol)
        .await
        .iter()
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
