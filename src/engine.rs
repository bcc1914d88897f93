//! The trading engine: the source document's `TradingSystem`, with its three
//! managers talking through the journal instead of to each other.
//!
//! One sequencer (behind an async mutex, as LMAX's single writer) handles
//! every input in turn: it records the input, folds it into the ledger, asks
//! the pure decision functions what follows (pre-trade checks, the venue,
//! protective exits, the circuit breaker), records those decisions, and
//! folds them. So journal order is decision order, every decision is on disk
//! before it takes effect, and re-running the recorded inputs reproduces the
//! recorded decisions: ids come from seqs and times from the inputs.

use crate::config::Config;
use crate::ledger::{load_ledger, save_ledger_snapshot, LoadError};
use crate::risk::{breaker_breach, breaker_reset_due, check_signal, protective_exit};
use crate::venue::{SimulatedVenue, Venue};
use std::sync::Arc;
use tokio::sync::Mutex;
use tradeledger_events::{
    BreakerResetReason, CheckOutcome, CircuitBreakerReset, CircuitBreakerResetRequested, Envelope, Event, ExitReason,
    FillImported, ForcedExitTriggered, Journal, JournalError, NewEvent, OrderCancelRequested, OrderId, OrderSubmitted,
    OrderType, Price, PriceTicked, Quantity, RiskCheckPassed, RiskCheckRejected, RiskLimitsSet, Seq, SignalId,
    SignalReceived, Timestamp,
};
use tradeledger_projections::risk::RiskEventRecord;
use tradeledger_projections::view::{LedgerView, PortfolioView};
use tradeledger_projections::{FoldError, Ledger, Order, Position, RiskLevel, SignalVerdict};

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

impl From<JournalError> for SubmitError {
    fn from(error: JournalError) -> Self {
        SubmitError::from(EngineError::Journal(error))
    }
}

/// The engine. Every method may be called from many tasks at once; calls are
/// handled one at a time, in the order they take the sequencer.
#[derive(Debug)]
pub struct TradingSystem {
    sequencer: Mutex<Sequencer>,
}

#[derive(Debug)]
struct Sequencer {
    journal: Arc<Journal>,
    ledger: Ledger,
    venue: Box<dyn Venue>,
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
        let (ledger, restored) = load_ledger(&journal)?;
        tracing::info!(dir = %journal.dir().display(), seq = %ledger.seq, ?restored, "engine starting");
        let mut sequencer = Sequencer { journal: Arc::new(journal), ledger, venue };
        sequencer.apply_config(config, time).await?;
        sequencer.decide_undecided().await?;
        Ok(TradingSystem { sequencer: Mutex::new(sequencer) })
    }

    /// An engine that records nothing when it starts: for re-running a
    /// journal's recorded inputs (configuration events included) through
    /// `handle_input`, as an audit does.
    pub async fn open_bare(journal: Journal, venue: Box<dyn Venue>) -> Result<TradingSystem, EngineError> {
        let (ledger, _) = load_ledger(&journal)?;
        Ok(TradingSystem { sequencer: Mutex::new(Sequencer { journal: Arc::new(journal), ledger, venue }) })
    }

    /// Handles any recorded input event exactly as the live call for it
    /// would; a rejected signal is an outcome here, not an error.
    pub async fn handle_input(&self, time: Timestamp, event: Event) -> Result<(), EngineError> {
        let mut sequencer = self.sequencer.lock().await;
        match event {
            Event::SignalReceived(signal) => match sequencer.submit_signal(time, signal).await {
                Ok(_) | Err(SubmitError::Rejected(_)) | Err(SubmitError::Conflict { .. }) => Ok(()),
                Err(SubmitError::Engine(error)) => Err(*error),
            },
            Event::PriceTicked(tick) => sequencer.on_tick(time, tick).await,
            Event::FillImported(fill) => sequencer.import_fill(time, fill).await,
            Event::OrderCancelRequested(request) => sequencer.cancel_order(time, request.order_id).await,
            Event::CircuitBreakerResetRequested(request) => {
                sequencer.reset_circuit_breaker(time, &request.requested_by).await
            }
            event @ (Event::RiskLimitsSet(_) | Event::VenueConfigured(_) | Event::InputRejected(_)) => {
                sequencer.record(vec![NewEvent::input(time, event)]).await.map(|_| ())
            }
            other => Err(EngineError::NotAnInput { event: other.name() }),
        }
    }

    /// The document's `submit_trade_signal`: checks the signal, records the
    /// verdict and, when it passes, the order sent to the venue. Submitting
    /// the same signal id again returns the first outcome without a second
    /// order; the same id with other fields is a `Conflict`.
    pub async fn submit_signal(&self, time: Timestamp, signal: SignalReceived) -> Result<Order, SubmitError> {
        self.sequencer.lock().await.submit_signal(time, signal).await
    }

    /// A market price: fills working orders, then checks stops, take-profits
    /// and the circuit breaker.
    pub async fn on_tick(&self, time: Timestamp, tick: PriceTicked) -> Result<(), EngineError> {
        self.sequencer.lock().await.on_tick(time, tick).await
    }

    /// An execution reported by an outside venue.
    pub async fn import_fill(&self, time: Timestamp, fill: FillImported) -> Result<(), EngineError> {
        self.sequencer.lock().await.import_fill(time, fill).await
    }

    pub async fn cancel_order(&self, time: Timestamp, order_id: OrderId) -> Result<(), EngineError> {
        self.sequencer.lock().await.cancel_order(time, order_id).await
    }

    /// Resets a tripped circuit breaker (the explicit reset command).
    pub async fn reset_circuit_breaker(&self, time: Timestamp, requested_by: &str) -> Result<(), EngineError> {
        self.sequencer.lock().await.reset_circuit_breaker(time, requested_by).await
    }

    /// Puts new limits and venue settings in force (recorded first).
    pub async fn set_config(&self, time: Timestamp, config: Config) -> Result<(), EngineError> {
        self.sequencer.lock().await.apply_config(config, time).await
    }

    pub async fn open_positions(&self) -> Vec<Position> {
        self.sequencer.lock().await.ledger.positions.open.values().cloned().collect()
    }

    pub async fn orders(&self) -> Vec<Order> {
        self.sequencer.lock().await.ledger.orders.orders.values_sorted().cloned().collect()
    }

    /// The document's `get_portfolio_metrics`.
    pub async fn portfolio_metrics(&self) -> PortfolioView {
        LedgerView::of(&self.sequencer.lock().await.ledger).portfolio
    }

    pub async fn risk_level(&self) -> RiskLevel {
        self.sequencer.lock().await.ledger.risk_assessment().level
    }

    /// The newest `limit` risk events (the document's `get_risk_events`).
    pub async fn risk_events(&self, limit: usize) -> Vec<RiskEventRecord> {
        self.sequencer.lock().await.ledger.risk.latest_events(limit).cloned().collect()
    }

    /// The whole state, as of the last event handled.
    pub async fn ledger(&self) -> Ledger {
        self.sequencer.lock().await.ledger.clone()
    }

    /// Drains (no call is in progress once the lock is ours), saves a ledger
    /// snapshot and closes the journal durably.
    pub async fn stop(self) -> Result<(), EngineError> {
        let sequencer = self.sequencer.into_inner();
        save_ledger_snapshot(&sequencer.journal, &sequencer.ledger)?;
        tracing::info!(seq = %sequencer.ledger.seq, "engine stopped");
        match Arc::try_unwrap(sequencer.journal) {
            Ok(journal) => journal.close()?,
            // Unreachable while the sequencer is the journal's only owner;
            // dropping it closes the journal all the same.
            Err(shared) => drop(shared),
        }
        Ok(())
    }
}

impl Sequencer {
    /// Appends `events`, checks they got the seqs the sequencer predicted, and
    /// folds them in. Nothing takes effect before it is recorded.
    async fn record(&mut self, events: Vec<NewEvent>) -> Result<Vec<Envelope>, EngineError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let expected = self.seq_after(0);
        let recorded = self.journal.append(events).await?;
        if let Some(first) = recorded.first().filter(|first| first.seq != expected) {
            return Err(EngineError::ForeignAppend { expected, found: first.seq });
        }
        for envelope in &recorded {
            self.ledger.apply(envelope)?;
        }
        Ok(recorded)
    }

    /// Records one input and returns its envelope.
    async fn record_input(&mut self, time: Timestamp, event: Event) -> Result<Envelope, EngineError> {
        let mut recorded = self.record(vec![NewEvent::input(time, event)]).await?;
        // `record` returns one envelope per event it was given.
        recorded.pop().ok_or(EngineError::ForeignAppend { expected: self.seq_after(0), found: self.ledger.seq })
    }

    /// The seq the `offset`-th next recorded event will get.
    fn seq_after(&self, offset: u64) -> Seq {
        Seq::new(self.ledger.seq.get() + 1 + offset)
    }

    /// Decisions in a causal chain: the first caused by `cause`, each next
    /// one by the one before it.
    fn chain(&self, cause: &Envelope, events: Vec<Event>) -> Vec<NewEvent> {
        let mut previous = cause.seq;
        events
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                let new = NewEvent {
                    time_event: cause.time_event,
                    correlation_seq: Some(cause.correlation_seq),
                    causation_seq: Some(previous),
                    event,
                };
                previous = self.seq_after(index as u64);
                new
            })
            .collect()
    }

    /// Decisions each caused directly by `cause`.
    fn fan_out(cause: &Envelope, events: Vec<Event>) -> Vec<NewEvent> {
        events.into_iter().map(|event| NewEvent::caused_by(cause, event)).collect()
    }

    async fn apply_config(&mut self, config: Config, time: Timestamp) -> Result<(), EngineError> {
        let mut events = Vec::new();
        if self.ledger.risk.limits.as_ref() != Some(&config.limits) {
            events.push(NewEvent::input(time, Event::RiskLimitsSet(RiskLimitsSet { limits: Box::new(config.limits) })));
        }
        if self.ledger.risk.venue.as_ref() != Some(&config.venue) {
            events.push(NewEvent::input(time, Event::VenueConfigured(config.venue)));
        }
        if !events.is_empty() {
            tracing::info!(%time, "configuration recorded");
        }
        self.record(events).await.map(|_| ())
    }

    async fn reset_breaker_if_due(&mut self, time: Timestamp) -> Result<(), EngineError> {
        if breaker_reset_due(&self.ledger, time) {
            tracing::warn!(%time, "circuit breaker reset: new UTC trading day");
            let reset = Event::CircuitBreakerReset(CircuitBreakerReset { reason: BreakerResetReason::NewTradingDay });
            self.record(vec![NewEvent::input(time, reset)]).await?;
        }
        Ok(())
    }
}

impl Sequencer {
    async fn submit_signal(&mut self, time: Timestamp, signal: SignalReceived) -> Result<Order, SubmitError> {
        if let Some(existing) = self.ledger.orders.signals.get(&signal.signal_id) {
            if existing.received != signal {
                return Err(SubmitError::Conflict { signal_id: signal.signal_id, seq: existing.seq });
            }
            if existing.verdict.is_some() {
                return self.first_outcome(&signal.signal_id);
            }
        }
        self.reset_breaker_if_due(time).await?;
        let received = match self.ledger.orders.signals.get(&signal.signal_id) {
            // Received before a crash, never decided: decide it now.
            Some(existing) => self
                .journal
                .read(existing.seq)?
                .ok_or(EngineError::ForeignAppend { expected: existing.seq, found: self.ledger.seq })?,
            None => self.record_input(time, Event::SignalReceived(signal.clone())).await?,
        };
        self.decide_signal(&received, &signal).await
    }

    async fn decide_signal(&mut self, received: &Envelope, signal: &SignalReceived) -> Result<Order, SubmitError> {
        let verdict = check_signal(&self.ledger, signal, received.time_event);
        let order_quantity = Quantity::new(signal.quantity).ok();
        let (Some(quantity), None) = (order_quantity, &verdict.rejection) else {
            let reason = verdict.rejection.unwrap_or_else(|| format!("quantity {} is not valid", signal.quantity));
            tracing::warn!(signal = %signal.signal_id, %reason, "signal rejected by the risk manager");
            let rejected = RiskCheckRejected {
                signal_id: signal.signal_id.clone(),
                checks: verdict.checks.clone(),
                reason: reason.clone(),
            };
            let recorded = self.record(self.chain(received, vec![Event::RiskCheckRejected(rejected)])).await?;
            let seq = recorded.first().map_or(received.seq, |envelope| envelope.seq);
            let rejection = Rejection { signal_id: signal.signal_id.clone(), reason, checks: verdict.checks, seq };
            return Err(SubmitError::Rejected(rejection));
        };
        let order_id = OrderId::try_from(format!("O{}", received.seq).as_str())
            .map_err(|_| FoldError::Overflow { seq: received.seq, what: "order id" })
            .map_err(EngineError::from)?;
        let submitted = OrderSubmitted {
            order_id: order_id.clone(),
            signal_id: Some(signal.signal_id.clone()),
            symbol: signal.symbol.clone(),
            side: signal.side,
            order_type: signal.order_type,
            quantity,
            price_limit: signal.price_limit.and_then(|price| Price::new(price).ok()),
            reduce_only: false,
            exit_reason: None,
        };
        let answer = self.venue.on_order(&self.ledger, &submitted);
        let passed = RiskCheckPassed { signal_id: signal.signal_id.clone(), checks: verdict.checks };
        let events = vec![Event::RiskCheckPassed(passed), Event::OrderSubmitted(submitted), answer];
        self.record(self.chain(received, events)).await?;
        tracing::info!(order = %order_id, side = ?signal.side, quantity = %signal.quantity, symbol = %signal.symbol, "order submitted");
        self.first_outcome(&signal.signal_id)
    }

    /// What the engine answered the first time `signal_id` was submitted.
    fn first_outcome(&self, signal_id: &SignalId) -> Result<Order, SubmitError> {
        let signal = self.ledger.orders.signals.get(signal_id);
        let order = signal.and_then(|signal| signal.order_id.as_ref()).and_then(|id| self.ledger.orders.orders.get(id));
        match (signal, order) {
            (_, Some(order)) => Ok(order.clone()),
            (Some(signal), None) if signal.verdict == Some(SignalVerdict::Rejected) => {
                let seq = signal.seq_verdict.unwrap_or(signal.seq);
                let checks = match self.journal.read(seq)?.map(|envelope| envelope.event) {
                    Some(Event::RiskCheckRejected(rejected)) => rejected.checks,
                    _ => Vec::new(),
                };
                let reason = signal.reason_rejected.clone().unwrap_or_default();
                Err(SubmitError::Rejected(Rejection { signal_id: signal_id.clone(), reason, checks, seq }))
            }
            _ => Err(SubmitError::from(EngineError::Fold(FoldError::UnknownSignal {
                seq: self.ledger.seq,
                signal_id: signal_id.clone(),
                event: "a resubmission",
            }))),
        }
    }

    /// Decides, in seq order, every signal recorded without a verdict (an
    /// engine that died between the two appends).
    async fn decide_undecided(&mut self) -> Result<(), EngineError> {
        let mut undecided: Vec<(Seq, SignalReceived)> = self
            .ledger
            .orders
            .signals
            .values_sorted()
            .filter(|signal| signal.verdict.is_none())
            .map(|signal| (signal.seq, signal.received.clone()))
            .collect();
        undecided.sort_by_key(|(seq, _)| *seq);
        for (seq, signal) in undecided {
            tracing::warn!(%seq, signal = %signal.signal_id, "deciding a signal recorded before a crash");
            let Some(received) = self.journal.read(seq)? else { continue };
            match self.decide_signal(&received, &signal).await {
                Ok(_) | Err(SubmitError::Rejected(_)) | Err(SubmitError::Conflict { .. }) => {}
                Err(SubmitError::Engine(error)) => return Err(*error),
            }
        }
        Ok(())
    }
}

impl Sequencer {
    async fn on_tick(&mut self, time: Timestamp, tick: PriceTicked) -> Result<(), EngineError> {
        self.reset_breaker_if_due(time).await?;
        let recorded = self.record_input(time, Event::PriceTicked(tick.clone())).await?;
        let fills = self.venue.on_tick(&self.ledger, &tick);
        for fill in &fills {
            if let Event::OrderFilled(fill) = fill {
                tracing::info!(order = %fill.order_id, quantity = %fill.quantity, price = %fill.price, "order filled");
            }
        }
        self.record(Sequencer::fan_out(&recorded, fills)).await?;
        self.after_market_move(&recorded, &tick).await
    }

    async fn import_fill(&mut self, time: Timestamp, fill: FillImported) -> Result<(), EngineError> {
        self.reset_breaker_if_due(time).await?;
        let recorded = self.record_input(time, Event::FillImported(fill)).await?;
        self.check_breaker(&recorded).await
    }

    async fn cancel_order(&mut self, time: Timestamp, order_id: OrderId) -> Result<(), EngineError> {
        let request = Event::OrderCancelRequested(OrderCancelRequested { order_id: order_id.clone() });
        let recorded = self.record_input(time, request).await?;
        let answer = self.venue.on_cancel(&self.ledger, &order_id, "requested");
        self.record(Sequencer::fan_out(&recorded, answer.into_iter().collect())).await.map(|_| ())
    }

    async fn reset_circuit_breaker(&mut self, time: Timestamp, requested_by: &str) -> Result<(), EngineError> {
        let request = CircuitBreakerResetRequested { requested_by: requested_by.to_owned() };
        let recorded = self.record_input(time, Event::CircuitBreakerResetRequested(request)).await?;
        if self.ledger.risk.breaker_tripped.is_none() {
            return Ok(());
        }
        tracing::warn!(%requested_by, "circuit breaker reset on request");
        let reset = Event::CircuitBreakerReset(CircuitBreakerReset { reason: BreakerResetReason::Requested });
        self.record(Sequencer::fan_out(&recorded, vec![reset])).await.map(|_| ())
    }

    /// After a tick: the position's stop-loss or take-profit, then the breaker.
    async fn after_market_move(&mut self, cause: &Envelope, tick: &PriceTicked) -> Result<(), EngineError> {
        let exit = protective_exit(&self.ledger, &tick.symbol, tick.price)
            .map(|(position, reason)| self.exit_events(cause, position, reason, tick.price));
        if let Some(events) = exit {
            tracing::warn!(symbol = %tick.symbol, price = %tick.price, "protective exit triggered");
            self.record(self.chain(cause, events)).await?;
        }
        self.check_breaker(cause).await
    }

    /// Trips the breaker on a breach: flattens every open position with
    /// reduce-only exits and cancels working strategy orders.
    async fn check_breaker(&mut self, cause: &Envelope) -> Result<(), EngineError> {
        let Some(trip) = breaker_breach(&self.ledger) else { return Ok(()) };
        tracing::error!(cause = ?trip.cause, measured = %trip.measured, limit = %trip.limit, "circuit breaker tripped");
        let mut events = vec![Event::CircuitBreakerTripped(trip)];
        for position in self.ledger.positions.open.values() {
            if !crate::risk::post_trade::exit_already_working(&self.ledger, &position.symbol) {
                events.extend(self.exit_events(cause, position, ExitReason::CircuitBreaker, position.price_mark));
            }
        }
        let strategy_orders: Vec<OrderId> = self
            .ledger
            .orders
            .working
            .values()
            .flatten()
            .filter(|id| self.ledger.orders.orders.get(id).is_some_and(|order| !order.reduce_only))
            .cloned()
            .collect();
        for order_id in strategy_orders {
            events.extend(self.venue.on_cancel(&self.ledger, &order_id, "circuit breaker tripped"));
        }
        self.record(Sequencer::fan_out(cause, events)).await.map(|_| ())
    }

    /// The forced exit of one position: the trigger, a reduce-only market
    /// order for its whole quantity, and the venue's answer.
    fn exit_events(&self, cause: &Envelope, position: &Position, reason: ExitReason, price: Price) -> Vec<Event> {
        let Ok(order_id) = OrderId::try_from(format!("X{}-{}", cause.seq, position.position_id).as_str()) else {
            return Vec::new();
        };
        let submitted = OrderSubmitted {
            order_id,
            signal_id: None,
            symbol: position.symbol.clone(),
            side: match position.side {
                tradeledger_projections::PositionSide::Long => tradeledger_events::Side::Sell,
                tradeledger_projections::PositionSide::Short => tradeledger_events::Side::Buy,
            },
            order_type: OrderType::Market,
            quantity: position.quantity,
            price_limit: None,
            reduce_only: true,
            exit_reason: Some(reason),
        };
        let answer = self.venue.on_order(&self.ledger, &submitted);
        let trigger = ForcedExitTriggered {
            position_id: position.position_id.clone(),
            symbol: position.symbol.clone(),
            reason,
            price_trigger: price,
        };
        vec![Event::ForcedExitTriggered(trigger), Event::OrderSubmitted(submitted), answer]
    }
}
