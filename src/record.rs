//! `record`: runs the engine over merged inputs (ticks, fills, signals and
//! the built-in strategy's signals) and appends everything to a journal.

use crate::affinity::{pin_current_thread, AffinityError, CpuPins};
use crate::config::Config;
use crate::engine::{EngineError, TradingSystem};
use crate::input::TimedInput;
use crate::strategy::SmaCross;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
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
    #[error("pinning threads to CPUs: {0}")]
    Affinity(#[from] AffinityError),
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
    /// The risk monitor's period in event time (`None`: no timer); see
    /// `with_timer`.
    pub timer: Option<Duration>,
    /// CPUs for the engine (the calling thread, pinned for good) and the
    /// journal's threads; `None` leaves placement to the OS. See `affinity`.
    pub pins: Option<CpuPins>,
}

/// Records `recording` into its journal (created or appended to). `progress`
/// is told how many inputs have been handled so far.
pub async fn record(mut recording: Recording<'_>, mut progress: impl FnMut(u64)) -> Result<RecordSummary, RecordError> {
    let options = JournalOptions { durability: recording.durability, ..JournalOptions::default() };
    // The journal's storage thread, and the sled threads it starts, inherit
    // the CPU of the thread that opens it.
    if let Some(pins) = recording.pins {
        pin_current_thread(pins.storage)?;
    }
    let journal = Journal::open(recording.journal_dir, options)?;
    if let Some(pins) = recording.pins {
        pin_current_thread(pins.engine)?;
    }
    let seq_first = Seq::new(journal.head().seq.get() + 1);
    // Configuration events are dated by the first input, so a recording is
    // the same whenever it is made.
    let config_time = recording.inputs.first().map_or_else(Timestamp::default, |input| input.time);
    let system = TradingSystem::open(journal, recording.config.clone(), config_time).await?;
    let mut inputs_seen: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut strategy_signals = 0;
    let mut handled = 0;
    let inputs = std::mem::take(&mut recording.inputs).into_iter().map(|input| (input.time, input.event));
    let mut inputs = with_timer(inputs, recording.timer).peekable();
    let mut batch: Vec<(Timestamp, Event)> = Vec::with_capacity(BATCH_INPUTS);
    while inputs.peek().is_some() {
        batch.extend(inputs.by_ref().take(BATCH_INPUTS));
        handled += batch.len() as u64;
        for (_, event) in &batch {
            *inputs_seen.entry(event.name()).or_default() += 1;
        }
        let strategy = &mut recording.strategy;
        system
            .handle_inputs_with(batch.drain(..), |ledger, time, event| {
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

/// The risk monitor's timer in feed time, for recording files as a live run
/// would have gone: one `TimerFired` at each multiple of `period` (counted
/// from the Unix epoch) after the first input and up to the last, placed
/// before the inputs at or after it. `inputs` must be in time order, as
/// `input::merge` leaves them. A gap of an hour gets its 120 firings, as the
/// live loop would; nothing fires after the last input.
pub fn with_timer(
    inputs: impl Iterator<Item = (Timestamp, Event)>,
    period: Option<Duration>,
) -> impl Iterator<Item = (Timestamp, Event)> {
    let mut period_nanos = period.and_then(|period| i64::try_from(period.as_nanos()).ok()).filter(|nanos| *nanos > 0);
    let period_ms = period.map_or(0, |period| u64::try_from(period.as_millis()).unwrap_or(u64::MAX));
    let mut inputs = inputs.peekable();
    let mut due: Option<i64> = None;
    std::iter::from_fn(move || {
        let time = inputs.peek()?.0.unix_nanos();
        if let Some(period) = period_nanos {
            // The first firing is the first multiple of the period after the
            // first input.
            let next = *due.get_or_insert_with(|| time.div_euclid(period).saturating_add(1).saturating_mul(period));
            if next <= time {
                due = next.checked_add(period);
                if due.is_none() {
                    period_nanos = None; // the end of time: no later firing exists
                }
                let timer = Event::TimerFired(tradeledger_events::TimerFired { period_ms });
                return Some((Timestamp::from_unix_nanos(next), timer));
            }
        }
        inputs.next()
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(seconds * 1_000_000_000)
    }

    fn marker(n: u64) -> Event {
        Event::TimerFired(tradeledger_events::TimerFired { period_ms: n })
    }

    /// Inputs (stood in for by timers with odd periods, to tell them apart)
    /// at 30 s, 40 s, 95 s and 95 s: timers fire at 60 s and 90 s, before the
    /// inputs after them; none at the first input's own boundary (30 s), none
    /// after the last input.
    #[test]
    fn the_timer_fires_at_each_boundary_passed_between_the_first_and_last_input() {
        let inputs = vec![(at(30), marker(1)), (at(40), marker(2)), (at(95), marker(3)), (at(95), marker(4))];
        let timed: Vec<(i64, u64)> = with_timer(inputs.into_iter(), Some(Duration::from_secs(30)))
            .map(|(time, event)| match event {
                Event::TimerFired(timer) => (time.unix_nanos() / 1_000_000_000, timer.period_ms),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(timed, vec![(30, 1), (40, 2), (60, 30_000), (90, 30_000), (95, 3), (95, 4)]);
    }

    #[test]
    fn no_timer_leaves_the_inputs_as_they_are() {
        let inputs = vec![(at(0), marker(1)), (at(3_600), marker(2))];
        assert_eq!(with_timer(inputs.clone().into_iter(), None).collect::<Vec<_>>(), inputs);
    }
}
