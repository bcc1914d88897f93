//! `explain`: the causal chain of one trade — signal, risk verdict, order,
//! venue answers, fills, the position they built and the exit that closed it
//! — with seqs, times and what caused each step.
//!
//! One fold of the journal learns which positions each order's fills
//! touched; the subject then widens once: its orders, the positions they
//! filled into, every order that filled into those positions (exits
//! included) and those orders' signals. A second pass lists the events.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tradeledger_events::{Envelope, Event, Journal, JournalError, OrderId, PositionId, Seq, SignalId, Timestamp};
use tradeledger_projections::view::{LedgerView, PositionView};
use tradeledger_projections::{FoldError, Ledger};

/// What to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Signal(SignalId),
    Order(OrderId),
    Position(PositionId),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Signal(id) => write!(formatter, "signal {id}"),
            Subject::Order(id) => write!(formatter, "order {id}"),
            Subject::Position(id) => write!(formatter, "position {id}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal cannot be folded: {0}")]
    Fold(#[from] FoldError),
    #[error("the journal has no {0}; `tradeledger replay` lists the ids it has")]
    NotFound(Subject),
}

/// One event of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub seq: Seq,
    pub time: Timestamp,
    pub causation_seq: Option<Seq>,
    pub correlation_seq: Seq,
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub summary: String,
    pub event: Event,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub subject: String,
    pub steps: Vec<Step>,
    /// The positions the chain built or closed, as they stand now.
    pub positions: Vec<PositionView>,
}

/// Which orders filled into which positions, learned while folding.
#[derive(Debug, Default)]
struct Links {
    positions_of_order: BTreeMap<OrderId, BTreeSet<PositionId>>,
    orders_of_position: BTreeMap<PositionId, BTreeSet<OrderId>>,
}

impl Links {
    fn link(&mut self, order_id: &OrderId, position_id: PositionId) {
        self.positions_of_order.entry(order_id.clone()).or_default().insert(position_id.clone());
        self.orders_of_position.entry(position_id).or_default().insert(order_id.clone());
    }
}

pub fn explain(journal: &Journal, subject: &Subject) -> Result<Explanation, ExplainError> {
    let (ledger, links) = fold_with_links(journal)?;
    let (signals, orders, positions) = closure(&ledger, &links, subject)?;
    let mut steps = Vec::new();
    for envelope in journal.iter_from(Seq::FIRST) {
        let envelope = envelope?;
        let event = &envelope.event;
        let relevant = event.signal_id().is_some_and(|id| signals.contains(id))
            || event.order_id().is_some_and(|id| orders.contains(id))
            || matches!(event, Event::ForcedExitTriggered(exit) if positions.contains(&exit.position_id));
        if relevant {
            steps.push(step(envelope));
        }
    }
    let view = LedgerView::of(&ledger);
    let positions = view.positions.into_iter().filter(|position| positions.contains(&position.id)).collect();
    Ok(Explanation { subject: subject.to_string(), steps, positions })
}

fn step(envelope: Envelope) -> Step {
    Step {
        seq: envelope.seq,
        time: envelope.time_event,
        causation_seq: envelope.causation_seq,
        correlation_seq: envelope.correlation_seq,
        event_type: envelope.event.name(),
        summary: crate::describe::summary(&envelope.event),
        event: envelope.event,
    }
}

fn fold_with_links(journal: &Journal) -> Result<(Ledger, Links), ExplainError> {
    let mut ledger = Ledger::default();
    let mut links = Links::default();
    let mut exit_of: Option<PositionId> = None;
    for envelope in journal.iter_from(Seq::FIRST) {
        let envelope = envelope?;
        match &envelope.event {
            Event::ForcedExitTriggered(exit) => exit_of = Some(exit.position_id.clone()),
            // An exit order follows its trigger; link it even if it never fills.
            Event::OrderSubmitted(order) if order.exit_reason.is_some() => {
                if let Some(position_id) = exit_of.take() {
                    links.link(&order.order_id, position_id);
                }
            }
            _ => {}
        }
        let fill = match &envelope.event {
            Event::OrderFilled(fill) => Some((fill.order_id.clone(), fill.symbol.clone())),
            Event::FillImported(fill) => Some((fill.order_id.clone(), fill.symbol.clone())),
            _ => None,
        };
        let before =
            fill.as_ref().and_then(|(_, symbol)| ledger.positions.open.get(symbol)).map(|p| p.position_id.clone());
        ledger.apply(&envelope)?;
        if let Some((order_id, symbol)) = fill {
            let after = ledger.positions.open.get(&symbol).map(|position| position.position_id.clone());
            for position_id in before.into_iter().chain(after) {
                links.link(&order_id, position_id);
            }
        }
    }
    Ok((ledger, links))
}

type Closure = (BTreeSet<SignalId>, BTreeSet<OrderId>, BTreeSet<PositionId>);

fn closure(ledger: &Ledger, links: &Links, subject: &Subject) -> Result<Closure, ExplainError> {
    let not_found = || ExplainError::NotFound(subject.clone());
    let mut positions = BTreeSet::new();
    match subject {
        Subject::Signal(id) => {
            let signal = ledger.orders.signals.get(id).ok_or_else(not_found)?;
            positions.extend(signal.order_id.iter().flat_map(|order| positions_of(links, order)));
        }
        Subject::Order(id) => {
            ledger.orders.orders.get(id).ok_or_else(not_found)?;
            positions.extend(positions_of(links, id));
        }
        Subject::Position(id) => {
            let known = ledger.positions.open.values().chain(&ledger.positions.closed).any(|p| &p.position_id == id);
            if !known {
                return Err(not_found());
            }
            positions.insert(id.clone());
        }
    }
    let mut orders: BTreeSet<OrderId> = positions
        .iter()
        .flat_map(|position| links.orders_of_position.get(position).into_iter().flatten().cloned())
        .collect();
    match subject {
        Subject::Signal(id) => orders.extend(ledger.orders.signals.get(id).and_then(|signal| signal.order_id.clone())),
        Subject::Order(id) => {
            orders.insert(id.clone());
        }
        Subject::Position(_) => {}
    }
    let mut signals: BTreeSet<SignalId> =
        orders.iter().filter_map(|order| ledger.orders.orders.get(order)?.signal_id.clone()).collect();
    if let Subject::Signal(id) = subject {
        signals.insert(id.clone());
    }
    Ok((signals, orders, positions))
}

fn positions_of<'a>(links: &'a Links, order: &OrderId) -> impl Iterator<Item = PositionId> + 'a {
    links.positions_of_order.get(order).into_iter().flatten().cloned()
}
