//! The sequencer: stages inputs and decisions (folding each into the ledger
//! under the seq the journal will give it), and commits what is staged as one
//! atomic append at the end of every call.

use super::{EngineError, Outcome, Rejection, SubmitError};
use crate::config::Config;
use crate::risk::post_trade::exit_already_working;
use crate::risk::{breaker_breach, breaker_reset_due, check_signal, protective_exit, BreakerGate};
use crate::venue::Venue;
use tradeledger_events::envelope::derive_event_id;
use tradeledger_events::{
    BreakerResetReason, CircuitBreakerReset, Envelope, Event, ExitReason, FillImported, ForcedExitTriggered, Hash,
    InputRejected, InputSource, Journal, NewEvent, OrderId, OrderSubmitted, OrderType, Price, PriceTicked, Quantity,
    RiskCheckPassed, RiskCheckRejected, RiskLimitsSet, Seq, Side, SignalId, SignalReceived, Symbol, TimerFired,
    Timestamp, SCHEMA_VERSION,
};
use tradeledger_projections::retention::EvictedSignal;
use tradeledger_projections::{FoldError, Ledger, Order, OrderBook, Position, PositionSide, Sequenced, SignalVerdict};

/// Most staged events whose room `pending` keeps between calls (~4 MB).
const PENDING_CAPACITY_KEPT: usize = 16_384;

/// What a decision needs of the event that caused it.
#[derive(Debug, Clone, Copy)]
struct Cause {
    seq: Seq,
    correlation_seq: Seq,
    time_event: Timestamp,
}

#[derive(Debug)]
pub(super) struct Sequencer {
    journal: Journal,
    ledger: Ledger,
    venue: Box<dyn Venue>,
    /// Staged in this call, folded into `ledger`, not yet in the journal.
    pending: Vec<NewEvent>,
    /// The last seq the journal has acknowledged.
    committed: Seq,
    /// Set when the ledger may be out of step with the journal.
    failure: Option<String>,
    breaker_gate: BreakerGate,
}

impl Sequencer {
    pub(super) fn new(journal: Journal, ledger: Ledger, venue: Box<dyn Venue>) -> Sequencer {
        let committed = ledger.seq;
        Sequencer {
            journal,
            ledger,
            venue,
            pending: Vec::new(),
            committed,
            failure: None,
            breaker_gate: BreakerGate::default(),
        }
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(super) fn into_parts(self) -> (Journal, Ledger) {
        (self.journal, self.ledger)
    }

    pub(super) fn ensure_running(&self) -> Result<(), EngineError> {
        match &self.failure {
            Some(reason) => Err(EngineError::Stopped { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// Ends a call: commits what it staged, unless it failed in a way that
    /// leaves the ledger out of step with the journal, which stops the engine.
    pub(super) async fn finish<T, E: Outcome + From<EngineError>>(&mut self, staged: Result<T, E>) -> Result<T, E> {
        if let Some(reason) = staged.as_ref().err().and_then(Outcome::fatal) {
            self.stop_with(reason);
            return staged;
        }
        self.commit().await.map_err(E::from)?;
        staged
    }

    fn stop_with(&mut self, reason: String) {
        tracing::error!(%reason, "engine stopped; reopen it on the journal to continue");
        self.failure = Some(reason);
        self.pending.clear();
    }

    async fn commit(&mut self) -> Result<(), EngineError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (count, expected) = (self.pending.len() as u64, Seq::new(self.committed.get() + 1));
        // The engine is the journal's single writer: it commits in its own
        // thread (no queue, no hand-off), at the journal's durability. The
        // ledger folded these events as they were staged, so the journal
        // need not build their envelopes, and `pending` keeps its capacity
        // (large buffers allocated afresh on every call were the engine
        // thread's main source of page faults).
        let durability = self.journal.durability();
        let appended = match self.journal.append_in_place(&mut self.pending, durability) {
            Ok(appended) => appended,
            Err(error) => {
                self.stop_with(error.to_string());
                return Err(error.into());
            }
        };
        if appended.first == expected && appended.last.get() == expected.get() + count - 1 {
            self.committed = appended.last;
            // One huge call (an import) should not pin its buffer for good.
            self.pending.shrink_to(PENDING_CAPACITY_KEPT);
            return Ok(());
        }
        self.stop_with(format!("the journal gave seq {} where {expected} was due", appended.first));
        Err(EngineError::ForeignAppend { expected, found: appended.first })
    }

    /// Folds `new` in as the next seq and queues it for the commit. The
    /// fold reads it in place (`Sequenced`): no envelope is built for it.
    fn stage_one(&mut self, mut new: NewEvent) -> Result<Cause, EngineError> {
        let seq = Seq::new(self.ledger.seq.get() + 1);
        let correlation_seq = *new.correlation_seq.get_or_insert(seq);
        let time_event = new.time_event;
        self.ledger.apply_sequenced(Sequenced { seq, time_event, event: &new.event })?;
        self.pending.push(new);
        Ok(Cause { seq, correlation_seq, time_event })
    }

    fn stage(&mut self, events: Vec<NewEvent>) -> Result<(), EngineError> {
        events.into_iter().try_for_each(|new| self.stage_one(new).map(|_| ()))
    }

    fn input(&mut self, time: Timestamp, event: Event) -> Result<Cause, EngineError> {
        self.stage_one(NewEvent::input(time, event))
    }

    /// Decisions in a causal chain: the first caused by `cause`, each next
    /// one by the one before it (their seqs are the next ones to be staged).
    fn chain(&self, cause: Cause, events: Vec<Event>) -> Vec<NewEvent> {
        let first = self.ledger.seq.get() + 1;
        events
            .into_iter()
            .enumerate()
            .map(|(index, event)| NewEvent {
                time_event: cause.time_event,
                correlation_seq: Some(cause.correlation_seq),
                causation_seq: Some(if index == 0 { cause.seq } else { Seq::new(first + index as u64 - 1) }),
                event,
            })
            .collect()
    }

    /// Decisions each caused directly by `cause`.
    fn fan_out(cause: Cause, events: Vec<Event>) -> Vec<NewEvent> {
        events
            .into_iter()
            .map(|event| NewEvent {
                time_event: cause.time_event,
                correlation_seq: Some(cause.correlation_seq),
                causation_seq: Some(cause.seq),
                event,
            })
            .collect()
    }

    pub(super) fn stage_config(&mut self, config: Config, time: Timestamp) -> Result<(), EngineError> {
        if self.ledger.risk.limits.as_ref() != Some(&config.limits) {
            tracing::info!(%time, "risk limits recorded");
            self.input(time, Event::RiskLimitsSet(RiskLimitsSet { limits: Box::new(config.limits) }))?;
        }
        if self.ledger.risk.venue.as_ref() != Some(&config.venue) {
            self.input(time, Event::VenueConfigured(config.venue))?;
        }
        Ok(())
    }

    fn reset_breaker_if_due(&mut self, time: Timestamp) -> Result<(), EngineError> {
        if breaker_reset_due(&self.ledger, time) {
            tracing::warn!(%time, "circuit breaker reset: new UTC trading day");
            let reset = CircuitBreakerReset { reason: BreakerResetReason::NewTradingDay };
            self.input(time, Event::CircuitBreakerReset(reset))?;
        }
        Ok(())
    }

    /// Stages one input and everything it causes.
    pub(super) fn stage_input(&mut self, time: Timestamp, event: Event) -> Result<(), EngineError> {
        match event {
            Event::SignalReceived(signal) => match self.stage_signal(time, signal) {
                Ok(_) | Err(SubmitError::Rejected(_)) | Err(SubmitError::Conflict { .. }) => Ok(()),
                Err(SubmitError::Engine(error)) => Err(*error),
            },
            Event::PriceTicked(tick) => self.stage_tick(time, tick),
            Event::FillImported(fill) => self.stage_fill_import(time, fill),
            Event::OrderCancelRequested(request) => self.stage_cancel(time, request),
            Event::CircuitBreakerResetRequested(request) => self.stage_reset(time, request),
            Event::TimerFired(timer) => self.stage_timer(time, timer),
            event @ (Event::RiskLimitsSet(_) | Event::VenueConfigured(_) | Event::InputRejected(_)) => {
                self.input(time, event).map(|_| ())
            }
            other => Err(EngineError::NotAnInput { event: other.name() }),
        }
    }
}

impl Sequencer {
    pub(super) fn stage_signal(&mut self, time: Timestamp, signal: SignalReceived) -> Result<Order, SubmitError> {
        if let Some(evicted) = self.ledger.orders.evicted_signal(&signal.signal_id).copied() {
            return self.answer_from_journal(&evicted, &signal);
        }
        let received = match self.ledger.orders.signals.get(&signal.signal_id) {
            Some(existing) if existing.received != signal => {
                return Err(SubmitError::Conflict { signal_id: signal.signal_id, seq: existing.seq });
            }
            Some(existing) if existing.verdict.is_some() => {
                return self.first_outcome(&self.ledger.orders, &signal.signal_id)
            }
            // Received before a crash, never decided: decide it now.
            Some(existing) => Cause { seq: existing.seq, correlation_seq: existing.seq, time_event: existing.time },
            None => {
                self.reset_breaker_if_due(time)?;
                self.input(time, Event::SignalReceived(signal.clone()))?
            }
        };
        self.decide_signal(received, &signal)
    }

    fn decide_signal(&mut self, received: Cause, signal: &SignalReceived) -> Result<Order, SubmitError> {
        let verdict = check_signal(&self.ledger, signal, received.time_event);
        let (Some(quantity), None) = (Quantity::new(signal.quantity).ok(), &verdict.rejection) else {
            let reason = verdict.rejection.unwrap_or_else(|| format!("quantity {} is not valid", signal.quantity));
            tracing::warn!(signal = %signal.signal_id, %reason, "signal rejected by the risk manager");
            let seq = Seq::new(self.ledger.seq.get() + 1);
            let rejected = RiskCheckRejected {
                signal_id: signal.signal_id.clone(),
                checks: verdict.checks.clone(),
                reason: reason.clone(),
            };
            let events = self.chain(received, vec![Event::RiskCheckRejected(rejected)]);
            self.stage(events)?;
            let rejection = Rejection { signal_id: signal.signal_id.clone(), reason, checks: verdict.checks, seq };
            return Err(SubmitError::Rejected(rejection));
        };
        let order_id = OrderId::try_from(format!("O{}", received.seq).as_str())
            .map_err(|_| EngineError::Fold(FoldError::Overflow { seq: received.seq, what: "order id" }))?;
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
        let events =
            self.chain(received, vec![Event::RiskCheckPassed(passed), Event::OrderSubmitted(submitted), answer]);
        self.stage(events)?;
        tracing::info!(order = %order_id, side = ?signal.side, quantity = %signal.quantity, symbol = %signal.symbol, "order submitted");
        self.first_outcome(&self.ledger.orders, &signal.signal_id)
    }

    /// What the engine answered when `signal_id` was first submitted, from
    /// `book`: the ledger's, or one rebuilt from the journal.
    fn first_outcome(&self, book: &OrderBook, signal_id: &SignalId) -> Result<Order, SubmitError> {
        let signal = book.signals.get(signal_id);
        let order = signal.and_then(|signal| signal.order_id.as_ref()).and_then(|id| book.orders.get(id));
        match (signal, order) {
            (_, Some(order)) => Ok(order.clone()),
            (Some(signal), None) if signal.verdict == Some(SignalVerdict::Rejected) => {
                let seq = signal.seq_verdict.unwrap_or(signal.seq);
                let checks = match self.recorded(seq, seq)?.pop().map(|envelope| envelope.event) {
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

    /// A resubmission of a signal that has left memory (see `Retention`):
    /// its first outcome is rebuilt from the journal, so the answer is the
    /// one an engine keeping everything would give.
    fn answer_from_journal(&self, evicted: &EvictedSignal, signal: &SignalReceived) -> Result<Order, SubmitError> {
        let story = self.story_of(evicted)?;
        match story.signals.get(&signal.signal_id) {
            Some(first) if first.received != *signal => {
                Err(SubmitError::Conflict { signal_id: signal.signal_id.clone(), seq: first.seq })
            }
            Some(_) => self.first_outcome(&story, &signal.signal_id),
            // Another id with the same 128-bit fingerprint: never seen, but
            // a wrong answer would be worse than a refusal.
            None => Err(SubmitError::from(EngineError::FingerprintCollision {
                signal_id: signal.signal_id.clone(),
                seq: evicted.seq,
            })),
        }
    }

    /// The order book of one evicted signal and its order, folded from the
    /// events of the journal that concern them.
    fn story_of(&self, evicted: &EvictedSignal) -> Result<OrderBook, EngineError> {
        let mut book = OrderBook::default();
        let mut received = self.recorded(evicted.seq, evicted.seq)?;
        let Some(Event::SignalReceived(first)) = received.first().map(|envelope| &envelope.event) else {
            return Ok(book);
        };
        let signal_id = first.signal_id.clone();
        book.apply(&received.remove(0))?;
        let mut order_id: Option<OrderId> = None;
        for envelope in self.recorded(evicted.seq_verdict, evicted.seq_settled)? {
            let concerns = envelope.event.signal_id() == Some(&signal_id)
                || (order_id.is_some() && envelope.event.order_id() == order_id.as_ref());
            if !concerns {
                continue;
            }
            if let Event::OrderSubmitted(submitted) = &envelope.event {
                order_id = Some(submitted.order_id.clone());
            }
            book.apply(&envelope)?;
        }
        if let Some(order) = order_id.and_then(|id| book.orders.get_mut(&id)) {
            order.symbol_ticks_at_submission = evicted.symbol_ticks_at_submission;
        }
        Ok(book)
    }

    /// The events of seqs `from..=to`, whether already in the journal or
    /// still staged in this call.
    fn recorded(&self, from: Seq, to: Seq) -> Result<Vec<Envelope>, EngineError> {
        let mut envelopes = Vec::new();
        if from <= self.committed {
            for envelope in self.journal.iter_from(from) {
                let envelope = envelope?;
                if envelope.seq > to.min(self.committed) {
                    break;
                }
                envelopes.push(envelope);
            }
        }
        let first_pending = self.committed.get() + 1;
        for seq in from.get().max(first_pending)..=to.get() {
            let Some(new) = usize::try_from(seq - first_pending).ok().and_then(|index| self.pending.get(index)) else {
                break;
            };
            envelopes.push(self.staged_envelope(Seq::new(seq), new.clone()));
        }
        Ok(envelopes)
    }

    /// A staged event as the envelope the journal will store, for `recorded`
    /// (the fold reads staged events in place, see `stage_one`). Hashes are
    /// the journal's to compute; no reader of these envelopes uses them.
    fn staged_envelope(&self, seq: Seq, new: NewEvent) -> Envelope {
        Envelope {
            seq,
            event_id: derive_event_id(self.journal.journal_id(), seq),
            time_event: new.time_event,
            time_recorded: new.time_event,
            correlation_seq: new.correlation_seq.unwrap_or(seq),
            causation_seq: new.causation_seq,
            schema_version: SCHEMA_VERSION,
            hash_previous: Hash::ZERO,
            hash: Hash::ZERO,
            event: new.event,
        }
    }

    /// Decides, in seq order, every signal recorded without a verdict (an
    /// engine that died between receiving and deciding).
    pub(super) fn decide_undecided(&mut self) -> Result<(), EngineError> {
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
            match self.stage_signal(Timestamp::default(), signal) {
                Ok(_) | Err(SubmitError::Rejected(_)) | Err(SubmitError::Conflict { .. }) => {}
                Err(SubmitError::Engine(error)) => return Err(*error),
            }
        }
        Ok(())
    }
}

impl Sequencer {
    fn stage_tick(&mut self, time: Timestamp, tick: PriceTicked) -> Result<(), EngineError> {
        self.reset_breaker_if_due(time)?;
        let (symbol, price) = (tick.symbol.clone(), tick.price);
        let cause = self.input(time, Event::PriceTicked(tick.clone()))?;
        let fills = self.venue.on_tick(&self.ledger, &tick);
        for fill in &fills {
            if let Event::OrderFilled(fill) = fill {
                tracing::info!(order = %fill.order_id, quantity = %fill.quantity, price = %fill.price, "order filled");
            }
        }
        self.stage(Sequencer::fan_out(cause, fills))?;
        if let Some((position, reason)) = protective_exit(&self.ledger, &symbol, price) {
            tracing::warn!(%symbol, %price, ?reason, "protective exit triggered");
            let events = self.exit_events(cause, position, reason, price);
            let chained = self.chain(cause, events);
            self.stage(chained)?;
        }
        self.check_breaker(cause)
    }

    /// The risk monitor's timer: the time-based rules. A breaker due for its
    /// daily reset resets; every open position is checked against its stop
    /// and take-profit at its last mark (a position opened by a fill beyond
    /// its stop, or whose stop changed, exits here without waiting for a
    /// tick); then the breaker's limits are checked.
    fn stage_timer(&mut self, time: Timestamp, timer: TimerFired) -> Result<(), EngineError> {
        self.reset_breaker_if_due(time)?;
        let cause = self.input(time, Event::TimerFired(timer))?;
        let marks: Vec<(Symbol, Price)> = self
            .ledger
            .positions
            .open
            .values()
            .map(|position| (position.symbol.clone(), position.price_mark))
            .collect();
        for (symbol, price) in marks {
            if let Some((position, reason)) = protective_exit(&self.ledger, &symbol, price) {
                tracing::warn!(%symbol, %price, ?reason, "protective exit triggered by the risk monitor");
                let events = self.exit_events(cause, position, reason, price);
                let chained = self.chain(cause, events);
                self.stage(chained)?;
            }
        }
        self.check_breaker(cause)
    }

    fn stage_fill_import(&mut self, time: Timestamp, fill: FillImported) -> Result<(), EngineError> {
        self.reset_breaker_if_due(time)?;
        // A fill reported twice (a file imported again) must not count
        // twice, nor stop the engine: it is recorded as a rejected input.
        if let Some(first) = self.ledger.orders.fill_ids.get(&fill.fill_id) {
            tracing::warn!(fill = %fill.fill_id, %first, "duplicate imported fill rejected");
            let rejected = InputRejected {
                source: InputSource::Fill,
                origin: format!("fill {}", fill.fill_id),
                field: "fill_id".into(),
                reason: format!("fill {} was already recorded at seq {first}", fill.fill_id),
            };
            return self.input(time, Event::InputRejected(rejected)).map(|_| ());
        }
        let cause = self.input(time, Event::FillImported(fill))?;
        self.check_breaker(cause)
    }

    fn stage_cancel(
        &mut self,
        time: Timestamp,
        request: tradeledger_events::OrderCancelRequested,
    ) -> Result<(), EngineError> {
        let order_id = request.order_id.clone();
        let cause = self.input(time, Event::OrderCancelRequested(request))?;
        let answer = self.venue.on_cancel(&self.ledger, &order_id, "requested");
        self.stage(Sequencer::fan_out(cause, answer.into_iter().collect()))
    }

    fn stage_reset(
        &mut self,
        time: Timestamp,
        request: tradeledger_events::CircuitBreakerResetRequested,
    ) -> Result<(), EngineError> {
        let requested_by = request.requested_by.clone();
        let cause = self.input(time, Event::CircuitBreakerResetRequested(request))?;
        if self.ledger.risk.breaker_tripped.is_none() {
            return Ok(());
        }
        tracing::warn!(%requested_by, "circuit breaker reset on request");
        let reset = Event::CircuitBreakerReset(CircuitBreakerReset { reason: BreakerResetReason::Requested });
        self.stage(Sequencer::fan_out(cause, vec![reset]))
    }

    /// Trips the breaker on a breach: flattens every open position with
    /// reduce-only exits and cancels working strategy orders.
    fn check_breaker(&mut self, cause: Cause) -> Result<(), EngineError> {
        if !self.breaker_gate.may_trip(&self.ledger) {
            return Ok(());
        }
        let Some(trip) = breaker_breach(&self.ledger) else { return Ok(()) };
        tracing::error!(cause = ?trip.cause, measured = %trip.measured, limit = %trip.limit, "circuit breaker tripped");
        let mut events = vec![Event::CircuitBreakerTripped(trip)];
        for position in self.ledger.positions.open.values() {
            if !exit_already_working(&self.ledger, &position.symbol) {
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
        self.stage(Sequencer::fan_out(cause, events))
    }

    /// The forced exit of one position: the trigger, a reduce-only market
    /// order for its whole quantity, and the venue's answer.
    fn exit_events(&self, cause: Cause, position: &Position, reason: ExitReason, price: Price) -> Vec<Event> {
        let Ok(order_id) = OrderId::try_from(format!("X{}-{}", cause.seq, position.position_id).as_str()) else {
            return Vec::new();
        };
        let submitted = OrderSubmitted {
            order_id,
            signal_id: None,
            symbol: position.symbol.clone(),
            side: match position.side {
                PositionSide::Long => Side::Sell,
                PositionSide::Short => Side::Buy,
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
