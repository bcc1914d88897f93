//! The trading engine: the source document's `TradingSystem`, with its three
//! managers talking through the journal instead of to each other.
//!
//! One sequencer (behind an async mutex, as LMAX's single writer) handles
//! every call in turn. For each input it stages the input, folds it into the
//! ledger, asks the pure decision functions what follows (pre-trade checks,
//! the venue, protective exits, the circuit breaker), and stages and folds
//! those decisions; then it commits everything staged as one atomic journal
//! append before the call returns. Nothing leaves the engine — no answer to
//! a caller, no order to a venue — before it is committed, so every decision
//! is recorded before it takes effect; the in-memory ledger only runs ahead
//! of the journal inside a call. A failed commit stops the engine (reopen it
//! to continue from the journal). Journal order is decision order, and
//! re-running the recorded inputs reproduces the recorded decisions: ids come
//! from seqs, times from the inputs.

mod sequencer;

use crate::config::Config;
use crate::ledger::{load_ledger_keeping, save_ledger_snapshot, LoadError};
use crate::venue::{SimulatedVenue, Venue};
use sequencer::Sequencer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tradeledger_events::{
    CheckOutcome, Event, FillImported, Journal, JournalError, OrderId, PriceTicked, Seq, SignalId, SignalReceived,
    Timestamp,
};
use tradeledger_projections::risk::RiskEventRecord;
use tradeledger_projections::view::{LedgerView, PortfolioView};
use tradeledger_projections::{FoldError, Ledger, Order, Position, Retention, RiskLevel};

/// Infrastructure failures; business rejections are `SubmitError::Rejected`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal cannot be folded: {0}")]
    Fold(#[from] FoldError),
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Someone else appended to the engine's journal; the engine stops
    /// rather than decide on a state it did not see.
    #[error("the journal was appended to outside the engine: expected seq {expected}, got {found}")]
    ForeignAppend { expected: Seq, found: Seq },
    /// `handle_input` was given a decision; only inputs can be handled.
    #[error("{event} is a decision, not an input the engine can handle")]
    NotAnInput { event: &'static str },
    /// A signal id whose 128-bit fingerprint matches an evicted signal's
    /// with another id (odds of about 2^-128 a pair): refused rather than
    /// answered with another signal's outcome.
    #[error("signal {signal_id} shares its fingerprint with the signal at seq {seq}; it cannot be told apart and is refused")]
    FingerprintCollision { signal_id: SignalId, seq: Seq },
    /// An earlier failure stopped the engine; reopen it on the journal.
    #[error("the engine stopped after an earlier failure ({reason}); reopen it on the journal")]
    Stopped { reason: String },
}

/// A signal the risk manager turned down, with every check it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub signal_id: SignalId,
    pub reason: String,
    pub checks: Vec<CheckOutcome>,
    /// Seq of the recorded `RiskCheckRejected`.
    pub seq: Seq,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("signal {} rejected: {}", .0.signal_id, .0.reason)]
    Rejected(Rejection),
    /// The id was used before for a signal with other fields.
    #[error("signal {signal_id} was already received at seq {seq} with different fields")]
    Conflict { signal_id: SignalId, seq: Seq },
    /// Boxed: infrastructure errors are large and rare.
    #[error(transparent)]
    Engine(Box<EngineError>),
}

impl From<EngineError> for SubmitError {
    fn from(error: EngineError) -> Self {
        SubmitError::Engine(Box::new(error))
    }
}

/// Errors that leave the ledger out of step with the journal, so the engine
/// must stop, as opposed to answers (a rejection) that are committed as usual.
trait Outcome {
    fn fatal(&self) -> Option<String>;
}

impl Outcome for EngineError {
    fn fatal(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Outcome for SubmitError {
    fn fatal(&self) -> Option<String> {
        match self {
            SubmitError::Engine(error) => Some(error.to_string()),
            SubmitError::Rejected(_) | SubmitError::Conflict { .. } => None,
        }
    }
}

/// The engine. Every method may be called from many tasks at once; calls are
/// handled one at a time, in the order they take the sequencer.
#[derive(Debug)]
pub struct TradingSystem {
    sequencer: Mutex<Sequencer>,
}

impl TradingSystem {
    /// Starts on `journal` (restoring its state: snapshot + tail), records
    /// `config` if it differs from the limits in force, and decides any
    /// signal a crash left without a verdict. `time` dates the config events.
    pub async fn open(journal: Journal, config: Config, time: Timestamp) -> Result<TradingSystem, EngineError> {
        TradingSystem::open_with_venue(journal, config, time, Box::new(SimulatedVenue)).await
    }

    pub async fn open_with_venue(
        journal: Journal,
        config: Config,
        time: Timestamp,
        venue: Box<dyn Venue>,
    ) -> Result<TradingSystem, EngineError> {
        let system = TradingSystem::open_bare_keeping(journal, venue, config.retention).await?;
        {
            let mut sequencer = system.sequencer.lock().await;
            // Undecided signals first: they arrived under the limits then in
            // force, and a re-run decides each right after its signal.
            let staged = sequencer.decide_undecided().and_then(|()| sequencer.stage_config(config, time));
            sequencer.finish(staged).await?;
        }
        Ok(system)
    }

    /// An engine that records nothing when it starts: for re-running a
    /// journal's recorded inputs (configuration events included) through
    /// `handle_input`, as an audit does.
    pub async fn open_bare(journal: Journal, venue: Box<dyn Venue>) -> Result<TradingSystem, EngineError> {
        TradingSystem::open_bare_keeping(journal, venue, Retention::Everything).await
    }

    /// As `open_bare`, keeping `retention` of the finished history in memory.
    pub async fn open_bare_keeping(
        journal: Journal,
        venue: Box<dyn Venue>,
        retention: Retention,
    ) -> Result<TradingSystem, EngineError> {
        let (ledger, restored) = load_ledger_keeping(&journal, retention)?;
        tracing::info!(dir = %journal.dir().display(), seq = %ledger.seq, ?restored, "engine starting");
        Ok(TradingSystem { sequencer: Mutex::new(Sequencer::new(journal, ledger, venue)) })
    }

    /// Handles any recorded input event exactly as the live call for it
    /// would; a rejected signal is an outcome here, not an error.
    pub async fn handle_input(&self, time: Timestamp, event: Event) -> Result<(), EngineError> {
        self.handle_inputs(vec![(time, event)]).await
    }

    /// Handles a batch of inputs in order and commits them, with every
    /// decision they caused, as one journal append: the fast path for feeds.
    /// A feed that reuses its buffer passes `batch.drain(..)`.
    pub async fn handle_inputs(&self, inputs: impl IntoIterator<Item = (Timestamp, Event)>) -> Result<(), EngineError> {
        let mut sequencer = self.sequencer.lock().await;
        sequencer.ensure_running()?;
        let mut staged = Ok(());
        for (time, event) in inputs {
            staged = sequencer.stage_input(time, event);
            if staged.is_err() {
                break;
            }
        }
        sequencer.finish(staged).await
    }

    /// As `handle_inputs`, and after each input `follow_up` sees the state it
    /// left and may return one more input to handle right after it: how a
    /// strategy reacts to ticks inside a batch without a commit per signal.
    /// What it returns is recorded as an input like any other, so a re-run
    /// reproduces the run without the strategy.
    pub async fn handle_inputs_with(
        &self,
        inputs: impl IntoIterator<Item = (Timestamp, Event)>,
        mut follow_up: impl FnMut(&Ledger, Timestamp, &Event) -> Option<(Timestamp, Event)>,
    ) -> Result<(), EngineError> {
        let mut sequencer = self.sequencer.lock().await;
        sequencer.ensure_running()?;
        let mut staged = Ok(());
        for (time, event) in inputs {
            let next = event.clone();
            staged = sequencer.stage_input(time, event);
            if staged.is_err() {
                break;
            }
            if let Some((time, event)) = follow_up(sequencer.ledger(), time, &next) {
                staged = sequencer.stage_input(time, event);
                if staged.is_err() {
                    break;
                }
            }
        }
        sequencer.finish(staged).await
    }

    /// The document's `submit_trade_signal`: checks the signal, records the
    /// verdict and, when it passes, the order sent to the venue. Submitting
    /// the same signal id again returns the first outcome without a second
    /// order; the same id with other fields is a `Conflict`. An order the
    /// venue rejected comes back with status `Rejected`.
    pub async fn submit_signal(&self, time: Timestamp, signal: SignalReceived) -> Result<Order, SubmitError> {
        let mut sequencer = self.sequencer.lock().await;
        sequencer.ensure_running()?;
        let staged = sequencer.stage_signal(time, signal);
        sequencer.finish(staged).await
    }

    /// A market price: fills working orders, then checks stops, take-profits
    /// and the circuit breaker.
    pub async fn on_tick(&self, time: Timestamp, tick: PriceTicked) -> Result<(), EngineError> {
        self.handle_input(time, Event::PriceTicked(tick)).await
    }

    /// An execution reported by an outside venue.
    pub async fn import_fill(&self, time: Timestamp, fill: FillImported) -> Result<(), EngineError> {
        self.handle_input(time, Event::FillImported(fill)).await
    }

    pub async fn cancel_order(&self, time: Timestamp, order_id: OrderId) -> Result<(), EngineError> {
        let request = tradeledger_events::OrderCancelRequested { order_id };
        self.handle_input(time, Event::OrderCancelRequested(request)).await
    }

    /// Resets a tripped circuit breaker (the explicit reset command).
    pub async fn reset_circuit_breaker(&self, time: Timestamp, requested_by: &str) -> Result<(), EngineError> {
        let request = tradeledger_events::CircuitBreakerResetRequested { requested_by: requested_by.to_owned() };
        self.handle_input(time, Event::CircuitBreakerResetRequested(request)).await
    }

    /// The risk monitor's timer fired at `time` (recorded as `TimerFired`):
    /// runs the time-based rules (see `RiskMonitor`).
    pub async fn fire_timer(&self, time: Timestamp, period: std::time::Duration) -> Result<(), EngineError> {
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        self.handle_input(time, Event::TimerFired(tradeledger_events::TimerFired { period_ms })).await
    }

    /// Puts new limits and venue settings in force (recorded first).
    pub async fn set_config(&self, time: Timestamp, config: Config) -> Result<(), EngineError> {
        let mut sequencer = self.sequencer.lock().await;
        sequencer.ensure_running()?;
        let staged = sequencer.stage_config(config, time);
        sequencer.finish(staged).await
    }

    pub async fn open_positions(&self) -> Vec<Position> {
        self.sequencer.lock().await.ledger().positions.open.values().cloned().collect()
    }

    /// Orders of `symbol` still working at the venue (accepted or partly
    /// filled), in submission order.
    pub async fn working_orders(&self, symbol: &tradeledger_events::Symbol) -> Vec<Order> {
        let sequencer = self.sequencer.lock().await;
        let orders = &sequencer.ledger().orders;
        let ids = orders.working.get(symbol).map_or(&[][..], Vec::as_slice);
        ids.iter().filter_map(|id| orders.orders.get(id)).cloned().collect()
    }

    /// Every order in memory, by id: all of them, or under
    /// `HISTORY_RETAINED` the working ones and the most recent finished ones
    /// (the journal has the rest: `replay`, `export`, `explain`).
    pub async fn orders(&self) -> Vec<Order> {
        self.sequencer.lock().await.ledger().orders.orders.values_sorted().cloned().collect()
    }

    /// The document's `get_portfolio_metrics`.
    pub async fn portfolio_metrics(&self) -> PortfolioView {
        LedgerView::of(self.sequencer.lock().await.ledger()).portfolio
    }

    pub async fn risk_level(&self) -> RiskLevel {
        self.sequencer.lock().await.ledger().risk_assessment().level
    }

    /// The newest `limit` risk events (the document's `get_risk_events`).
    pub async fn risk_events(&self, limit: usize) -> Vec<RiskEventRecord> {
        self.sequencer.lock().await.ledger().risk.latest_events(limit).cloned().collect()
    }

    /// The last committed seq.
    pub async fn committed_seq(&self) -> Seq {
        self.sequencer.lock().await.ledger().seq
    }

    /// The last committed seq and the hash of the state as of it
    /// (`Ledger::state_hash`): what a replay of the journal up to that seq
    /// must reproduce. Hashing encodes the whole state: not for every call.
    pub async fn committed_state(&self) -> (Seq, tradeledger_events::Hash) {
        let sequencer = self.sequencer.lock().await;
        (sequencer.ledger().seq, sequencer.ledger().state_hash())
    }

    /// The whole state, as of the last call handled.
    pub async fn ledger(&self) -> Ledger {
        self.sequencer.lock().await.ledger().clone()
    }

    /// The source document's `start()`: the engine already takes calls once
    /// open; this starts its 30-second risk monitoring loop on the current
    /// tokio runtime. To shut down, `stop().await` the returned monitor,
    /// then take the engine out of its `Arc` and `stop` it.
    pub fn start(self: &Arc<Self>) -> RiskMonitor {
        RiskMonitor::spawn(Arc::clone(self), RISK_MONITOR_PERIOD)
    }

    /// Drains (no call is in progress once the lock is ours), saves a ledger
    /// snapshot and closes the journal durably.
    pub async fn stop(self) -> Result<(), EngineError> {
        let sequencer = self.sequencer.into_inner();
        sequencer.ensure_running()?;
        let (journal, ledger) = sequencer.into_parts();
        save_ledger_snapshot(&journal, &ledger)?;
        tracing::info!(seq = %ledger.seq, "engine stopped");
        journal.close()?;
        Ok(())
    }
}

/// The source document's 30-second risk monitoring loop, for a live engine:
/// fires the engine's timer every `period` of wall-clock time, dated by the
/// wall clock (the one place the engine reads it; the time is recorded in the
/// `TimerFired` input, so a re-run reads it from there). Stops when dropped,
/// or by itself when the engine stops after a failure.
#[derive(Debug)]
pub struct RiskMonitor {
    task: tokio::task::JoinHandle<()>,
}

/// The document's monitoring period.
pub const RISK_MONITOR_PERIOD: Duration = Duration::from_secs(30);

impl RiskMonitor {
    /// Starts the timer on the current tokio runtime; the first firing is
    /// one `period` from now. A firing that falls due while the engine is
    /// busy waits its turn; firings missed meanwhile are skipped, not
    /// bunched.
    pub fn spawn(system: Arc<TradingSystem>, period: Duration) -> RiskMonitor {
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                let now = Timestamp::now();
                if let Err(error) = system.fire_timer(now, period).await {
                    tracing::error!(%error, "risk monitor stopped: the engine refused its timer");
                    return;
                }
            }
        });
        RiskMonitor { task }
    }

    /// Stops the timer and waits until its task has ended, so the engine
    /// handle it held is released when this returns (dropping the monitor
    /// stops it too, but releases that handle only once the runtime gets to
    /// the aborted task). A firing in progress finishes first or not at all,
    /// never halfway (each firing is one engine call).
    pub async fn stop(mut self) {
        self.task.abort();
        if let Err(error) = (&mut self.task).await {
            if error.is_panic() {
                tracing::error!(%error, "the risk monitor's task had panicked");
            }
        }
    }
}

impl Drop for RiskMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}
