//! Orders and the signals behind them: every order's lifecycle as one
//! `match (status, event)`, its fills, and every signal with its verdict.

use crate::error::FoldError;
use crate::id_map::IdMap;
use crate::math::Checked;
use crate::retention::{EvictedSignal, Retention, SignalFingerprint};
use crate::Sequenced;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use tradeledger_events::{
    Envelope, Event, ExitReason, FillId, Liquidity, Money, OrderFilled, OrderId, OrderSubmitted, OrderType, Price,
    Quantity, Seq, Side, SignalId, SignalReceived, StrategyId, Symbol, Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Submitted,
    Accepted,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Submitted | OrderStatus::Accepted | OrderStatus::PartiallyFilled)
    }
}

/// What happened to an order, as far as its status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderChange {
    Accepted,
    Filled { complete: bool },
    Rejected,
    Canceled,
    Expired,
}

impl OrderChange {
    fn event_name(self) -> &'static str {
        match self {
            OrderChange::Accepted => "OrderAccepted",
            OrderChange::Filled { .. } => "OrderFilled",
            OrderChange::Rejected => "OrderRejected",
            OrderChange::Canceled => "OrderCanceled",
            OrderChange::Expired => "OrderExpired",
        }
    }
}

/// The order lifecycle: submitted → accepted → partially filled (any number)
/// → filled | canceled | rejected | expired. A venue may fill, cancel or
/// expire an order it never explicitly accepted. Everything else is invalid.
fn next_status(status: OrderStatus, change: OrderChange) -> Option<OrderStatus> {
    use OrderStatus::*;
    match (status, change) {
        (Submitted, OrderChange::Accepted) => Some(Accepted),
        (Submitted | Accepted | PartiallyFilled, OrderChange::Filled { complete: true }) => Some(Filled),
        (Submitted | Accepted | PartiallyFilled, OrderChange::Filled { complete: false }) => Some(PartiallyFilled),
        (Submitted, OrderChange::Rejected) => Some(Rejected),
        (Submitted | Accepted | PartiallyFilled, OrderChange::Canceled) => Some(Canceled),
        (Submitted | Accepted | PartiallyFilled, OrderChange::Expired) => Some(Expired),
        _ => None,
    }
}

/// One execution of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub seq: Seq,
    pub time: Timestamp,
    pub fill_id: FillId,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub liquidity: Liquidity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: OrderId,
    pub signal_id: Option<SignalId>,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub price_limit: Option<Price>,
    pub quantity: Quantity,
    pub quantity_filled: Quantity,
    /// Σ price × quantity of the fills, exact; the average is derived.
    pub notional_filled: Money,
    pub fees: Money,
    pub status: OrderStatus,
    pub reduce_only: bool,
    pub exit_reason: Option<ExitReason>,
    /// The venue's reason for a rejection or cancel.
    pub reason: Option<String>,
    /// Protective prices of the signal behind the order, for the position it opens.
    pub price_stop_loss: Option<Price>,
    pub price_take_profit: Option<Price>,
    pub cancel_requested: bool,
    /// Ticks of the order's symbol seen when it was submitted; the venue's
    /// latency counts from here.
    pub symbol_ticks_at_submission: u64,
    pub seq_submitted: Seq,
    pub time_submitted: Timestamp,
    pub seq_last: Seq,
    /// Fills of a working order; empty once the order is finished (its
    /// quantity, notional and fees stay).
    pub fills: Vec<Fill>,
}

impl Order {
    pub fn quantity_remaining(&self) -> Quantity {
        Quantity::new(self.quantity.get() - self.quantity_filled.get()).unwrap_or(Quantity::ZERO)
    }

    /// Quantity-weighted average fill price; `None` before the first fill.
    pub fn price_fill_average(&self) -> Option<rust_decimal::Decimal> {
        let filled = self.quantity_filled.get();
        (!filled.is_zero()).then(|| self.notional_filled.get().checked_div(filled)).flatten()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalVerdict {
    Passed,
    Rejected,
}

/// A trade signal as received, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub received: SignalReceived,
    pub seq: Seq,
    pub time: Timestamp,
    pub verdict: Option<SignalVerdict>,
    pub seq_verdict: Option<Seq>,
    pub reason_rejected: Option<String>,
    pub order_id: Option<OrderId>,
}

impl Signal {
    pub fn strategy_id(&self) -> &StrategyId {
        &self.received.strategy_id
    }
}

/// The orders and signals of the journal, by id: every one under
/// `Retention::Everything`, the working ones and the most recent finished
/// ones under `Retention::Recent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    pub orders: IdMap<OrderId, Order>,
    pub signals: IdMap<SignalId, Signal>,
    /// Finished orders, oldest first, and settled signals (rejected, or
    /// their order finished), oldest first: what `trim` takes out of memory
    /// first. An id may outlive its entry here (it left with its signal or
    /// order); `trim` skips those.
    pub finished: VecDeque<OrderId>,
    pub settled: VecDeque<SignalId>,
    /// Every signal that left memory, so its id stays taken.
    pub signals_evicted: IdMap<SignalFingerprint, EvictedSignal>,
    /// The ids of every imported fill and of the fills of working orders,
    /// with their seqs: a repeated id is a defect (or, for an import, a
    /// duplicate the engine records as rejected), never a second fill.
    pub fill_ids: IdMap<FillId, Seq>,
    /// Open orders of each symbol, oldest first: what a venue works on a tick
    /// without scanning every order ever sent.
    pub working: BTreeMap<Symbol, Vec<OrderId>>,
}

impl OrderBook {
    pub fn apply(&mut self, envelope: &Envelope) -> Result<(), FoldError> {
        self.apply_sequenced(Sequenced::from(envelope))
    }

    /// `apply`, given what the fold reads of the envelope.
    pub fn apply_sequenced(&mut self, envelope: Sequenced<'_>) -> Result<(), FoldError> {
        let seq = envelope.seq;
        match &envelope.event {
            Event::SignalReceived(signal) => self.receive_signal(envelope, signal),
            Event::RiskCheckPassed(passed) => self.record_verdict(seq, &passed.signal_id, SignalVerdict::Passed, None),
            Event::RiskCheckRejected(rejected) => {
                self.record_verdict(seq, &rejected.signal_id, SignalVerdict::Rejected, Some(&rejected.reason))
            }
            Event::OrderSubmitted(submitted) => self.submit(envelope, submitted),
            Event::OrderAccepted(event) => self.change(seq, &event.order_id, OrderChange::Accepted, None),
            Event::OrderRejected(event) => {
                self.change(seq, &event.order_id, OrderChange::Rejected, Some(&event.reason))
            }
            Event::OrderCanceled(event) => {
                self.change(seq, &event.order_id, OrderChange::Canceled, Some(&event.reason))
            }
            Event::OrderExpired(event) => self.change(seq, &event.order_id, OrderChange::Expired, None),
            Event::OrderFilled(fill) => self.fill(envelope, fill),
            Event::OrderCancelRequested(request) => {
                // An input: a request for an unknown or finished order is the
                // engine's to answer, not a defect of the journal.
                if let Some(order) = self.orders.get_mut(&request.order_id).filter(|order| order.status.is_open()) {
                    order.cancel_requested = true;
                }
                Ok(())
            }
            Event::FillImported(imported) => self.claim_fill_id(seq, &imported.fill_id),
            _ => Ok(()),
        }
    }

    fn receive_signal(&mut self, envelope: Sequenced<'_>, signal: &SignalReceived) -> Result<(), FoldError> {
        if let Some(first) = self.signals.get(&signal.signal_id) {
            return Err(FoldError::DuplicateSignal {
                seq: envelope.seq,
                signal_id: signal.signal_id.clone(),
                first: first.seq,
            });
        }
        if let Some(first) = self.evicted_signal(&signal.signal_id) {
            return Err(FoldError::DuplicateSignal {
                seq: envelope.seq,
                signal_id: signal.signal_id.clone(),
                first: first.seq,
            });
        }
        let record = Signal {
            received: signal.clone(),
            seq: envelope.seq,
            time: envelope.time_event,
            verdict: None,
            seq_verdict: None,
            reason_rejected: None,
            order_id: None,
        };
        self.signals.insert(signal.signal_id.clone(), record);
        Ok(())
    }

    fn record_verdict(
        &mut self,
        seq: Seq,
        signal_id: &SignalId,
        verdict: SignalVerdict,
        reason: Option<&String>,
    ) -> Result<(), FoldError> {
        let event = if verdict == SignalVerdict::Passed { "RiskCheckPassed" } else { "RiskCheckRejected" };
        let signal = self.signals.get_mut(signal_id).ok_or_else(|| FoldError::UnknownSignal {
            seq,
            signal_id: signal_id.clone(),
            event,
        })?;
        if let Some(first) = signal.seq_verdict {
            return Err(FoldError::DuplicateVerdict { seq, signal_id: signal_id.clone(), first });
        }
        signal.verdict = Some(verdict);
        signal.seq_verdict = Some(seq);
        signal.reason_rejected = reason.cloned();
        if verdict == SignalVerdict::Rejected {
            self.settled.push_back(signal_id.clone());
        }
        Ok(())
    }

    fn submit(&mut self, envelope: Sequenced<'_>, submitted: &OrderSubmitted) -> Result<(), FoldError> {
        let seq = envelope.seq;
        if let Some(first) = self.orders.get(&submitted.order_id) {
            return Err(FoldError::DuplicateOrder {
                seq,
                order_id: submitted.order_id.clone(),
                first: first.seq_submitted,
            });
        }
        let signal = submitted.signal_id.as_ref().and_then(|id| self.signals.get_mut(id));
        let (price_stop_loss, price_take_profit) = match signal {
            Some(signal) => {
                signal.order_id = Some(submitted.order_id.clone());
                let protective = |price: Option<rust_decimal::Decimal>| price.and_then(|value| Price::new(value).ok());
                (protective(signal.received.price_stop_loss), protective(signal.received.price_take_profit))
            }
            None => (None, None),
        };
        let order = Order {
            order_id: submitted.order_id.clone(),
            signal_id: submitted.signal_id.clone(),
            symbol: submitted.symbol.clone(),
            side: submitted.side,
            order_type: submitted.order_type,
            price_limit: submitted.price_limit,
            quantity: submitted.quantity,
            quantity_filled: Quantity::ZERO,
            notional_filled: Money::ZERO,
            fees: Money::ZERO,
            status: OrderStatus::Submitted,
            reduce_only: submitted.reduce_only,
            exit_reason: submitted.exit_reason,
            reason: None,
            price_stop_loss,
            price_take_profit,
            cancel_requested: false,
            symbol_ticks_at_submission: 0,
            seq_submitted: seq,
            time_submitted: envelope.time_event,
            seq_last: seq,
            fills: Vec::new(),
        };
        self.orders.insert(submitted.order_id.clone(), order);
        self.working.entry(submitted.symbol.clone()).or_default().push(submitted.order_id.clone());
        Ok(())
    }

    /// Takes a finished order off its symbol's working list.
    /// A finished order leaves the working set and keeps only its totals:
    /// its fills (and their ids) are dropped, so the book grows with orders,
    /// not with fills. The journal keeps every fill; a later fill for this
    /// order is an invalid transition whatever its id.
    fn retire(&mut self, symbol: &Symbol, order_id: &OrderId) {
        if let Some(ids) = self.working.get_mut(symbol) {
            ids.retain(|id| id != order_id);
            if ids.is_empty() {
                self.working.remove(symbol);
            }
        }
        if let Some(order) = self.orders.get_mut(order_id) {
            for fill in std::mem::take(&mut order.fills) {
                self.fill_ids.remove(&fill.fill_id);
            }
            if let Some(signal_id) = &order.signal_id {
                self.settled.push_back(signal_id.clone());
            }
        }
        self.finished.push_back(order_id.clone());
    }

    /// Where the journal holds a signal that left memory.
    pub fn evicted_signal(&self, signal_id: &SignalId) -> Option<&EvictedSignal> {
        if self.signals_evicted.is_empty() {
            return None;
        }
        self.signals_evicted.get(&SignalFingerprint::of(signal_id))
    }

    /// Takes the oldest finished orders and settled signals out of memory
    /// until no more than `retention` keeps are left. A signal and its order
    /// leave together, so every signal in memory still has its order.
    pub fn trim(&mut self, retention: Retention) {
        while retention.exceeded_by(self.finished.len()) {
            let Some(order_id) = self.finished.pop_front() else { break };
            let Some(order) = self.orders.remove(&order_id) else { continue };
            if let Some(signal_id) = &order.signal_id {
                self.evict_signal(signal_id, Some(&order));
            }
        }
        while retention.exceeded_by(self.settled.len()) {
            let Some(signal_id) = self.settled.pop_front() else { break };
            let order_id = self.signals.get(&signal_id).and_then(|signal| signal.order_id.clone());
            let order = order_id.and_then(|order_id| self.orders.remove(&order_id));
            self.evict_signal(&signal_id, order.as_ref());
        }
    }

    /// Replaces a settled signal by its fingerprint; `order` is its order,
    /// already taken out of `orders`.
    fn evict_signal(&mut self, signal_id: &SignalId, order: Option<&Order>) {
        let Some(signal) = self.signals.remove(signal_id) else { return };
        let seq_verdict = signal.seq_verdict.unwrap_or(signal.seq);
        let evicted = EvictedSignal {
            seq: signal.seq,
            seq_verdict,
            seq_settled: order.map_or(seq_verdict, |order| order.seq_last),
            symbol_ticks_at_submission: order.map_or(0, |order| order.symbol_ticks_at_submission),
        };
        self.signals_evicted.insert(SignalFingerprint::of(signal_id), evicted);
    }

    /// Open orders of `symbol`, oldest first.
    pub fn working_orders<'a>(&'a self, symbol: &Symbol) -> impl Iterator<Item = &'a Order> + 'a {
        let ids = self.working.get(symbol).map(Vec::as_slice).unwrap_or_default();
        ids.iter().filter_map(|id| self.orders.get(id))
    }

    fn order_mut(&mut self, seq: Seq, order_id: &OrderId, event: &'static str) -> Result<&mut Order, FoldError> {
        self.orders.get_mut(order_id).ok_or_else(|| FoldError::UnknownOrder { seq, order_id: order_id.clone(), event })
    }

    fn change(
        &mut self,
        seq: Seq,
        order_id: &OrderId,
        change: OrderChange,
        reason: Option<&String>,
    ) -> Result<(), FoldError> {
        let order = self.order_mut(seq, order_id, change.event_name())?;
        let status = next_status(order.status, change).ok_or_else(|| FoldError::InvalidTransition {
            seq,
            order_id: order_id.clone(),
            status: order.status,
            event: change.event_name(),
        })?;
        order.status = status;
        order.seq_last = seq;
        if reason.is_some() {
            order.reason = reason.cloned();
        }
        if !status.is_open() {
            let symbol = order.symbol.clone();
            self.retire(&symbol, order_id);
        }
        Ok(())
    }

    fn claim_fill_id(&mut self, seq: Seq, fill_id: &FillId) -> Result<(), FoldError> {
        if let Some(first) = self.fill_ids.get(fill_id) {
            return Err(FoldError::DuplicateFill { seq, fill_id: fill_id.clone(), first: *first });
        }
        self.fill_ids.insert(fill_id.clone(), seq);
        Ok(())
    }

    /// Checks everything before changing anything, so a rejected fill leaves
    /// the book as it was.
    fn fill(&mut self, envelope: Sequenced<'_>, fill: &OrderFilled) -> Result<(), FoldError> {
        let seq = envelope.seq;
        if let Some(first) = self.fill_ids.get(&fill.fill_id) {
            return Err(FoldError::DuplicateFill { seq, fill_id: fill.fill_id.clone(), first: *first });
        }
        let order = self.order_mut(seq, &fill.order_id, "OrderFilled")?;
        check_fill_matches(seq, order, fill)?;
        let remaining = order.quantity_remaining();
        if fill.quantity > remaining {
            return Err(FoldError::Overfill {
                seq,
                order_id: fill.order_id.clone(),
                fill_id: fill.fill_id.clone(),
                quantity: fill.quantity,
                remaining,
            });
        }
        let complete = fill.quantity == remaining;
        let status = next_status(order.status, OrderChange::Filled { complete }).ok_or_else(|| {
            FoldError::InvalidTransition {
                seq,
                order_id: fill.order_id.clone(),
                status: order.status,
                event: "OrderFilled",
            }
        })?;
        let math = Checked(seq);
        let notional = math.add(
            order.notional_filled.get(),
            math.mul(fill.price.get(), fill.quantity.get(), "fill notional")?,
            "order notional",
        )?;
        let fees = math.add(order.fees.get(), fill.fee.get(), "order fees")?;
        let filled = math.add(order.quantity_filled.get(), fill.quantity.get(), "order filled quantity")?;
        order.quantity_filled =
            Quantity::new(filled).map_err(|_| FoldError::Overflow { seq, what: "order filled quantity" })?;
        order.notional_filled = Money::of(notional);
        order.fees = Money::of(fees);
        order.status = status;
        order.seq_last = seq;
        order.fills.push(Fill {
            seq,
            time: envelope.time_event,
            fill_id: fill.fill_id.clone(),
            quantity: fill.quantity,
            price: fill.price,
            fee: fill.fee,
            liquidity: fill.liquidity,
        });
        self.fill_ids.insert(fill.fill_id.clone(), seq);
        if !status.is_open() {
            self.retire(&fill.symbol, &fill.order_id);
        }
        Ok(())
    }
}

fn check_fill_matches(seq: Seq, order: &Order, fill: &OrderFilled) -> Result<(), FoldError> {
    if fill.quantity.get().is_zero() {
        return Err(FoldError::EmptyFill { seq, fill_id: fill.fill_id.clone() });
    }
    if order.symbol != fill.symbol || order.side != fill.side {
        return Err(FoldError::FillMismatch {
            seq,
            order_id: fill.order_id.clone(),
            fill_id: fill.fill_id.clone(),
            expected: format!("{:?} {}", order.side, order.symbol),
            found: format!("{:?} {}", fill.side, fill.symbol),
        });
    }
    Ok(())
}
