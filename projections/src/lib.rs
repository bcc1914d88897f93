//! tradeledger-projections: the journal folded into state — orders,
//! positions, portfolio and risk — by pure functions. No sled, no tokio, no
//! clock, no randomness, no I/O: the same `apply` serves live operation and
//! replay, so there is exactly one way state changes.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod analysis;
pub mod error;
pub mod id_map;
pub mod market;
mod math;
pub mod orders;
pub mod portfolio;
pub mod positions;
pub mod retention;
pub mod risk;
pub mod scenario;
pub mod snapshot;
pub mod stats;
pub mod view;

pub use error::FoldError;
pub use market::MarketState;
pub use orders::{Order, OrderBook, OrderStatus, Signal, SignalVerdict};
pub use portfolio::{Portfolio, SymbolTotals};
pub use positions::{FillFacts, Position, PositionBook, PositionSide, PositionStatus};
pub use retention::Retention;
pub use risk::{assess, RiskAssessment, RiskLevel, RiskState};

use serde::{Deserialize, Serialize};
use tradeledger_events::{Envelope, Event, Hash, Seq, Timestamp};

/// What a fold reads of an envelope: the seq, the event time and the event
/// (not the ids or hashes, which only the journal checks).
#[derive(Debug, Clone, Copy)]
pub struct Sequenced<'a> {
    pub seq: Seq,
    pub time_event: Timestamp,
    pub event: &'a Event,
}

impl<'a> From<&'a Envelope> for Sequenced<'a> {
    fn from(envelope: &'a Envelope) -> Sequenced<'a> {
        Sequenced { seq: envelope.seq, time_event: envelope.time_event, event: &envelope.event }
    }
}

/// Every projection of one journal, folded together so each sees the
/// others' state of the same seq.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The last event folded in (0 for none).
    pub seq: Seq,
    /// Event time of the last event folded in.
    pub time: Option<Timestamp>,
    pub orders: OrderBook,
    pub positions: PositionBook,
    pub portfolio: Portfolio,
    pub risk: RiskState,
    pub market: MarketState,
    /// How much finished history stays in memory; part of the state (and
    /// its hash), so a snapshot taken under one retention is not mistaken
    /// for a fold under another.
    pub retention: Retention,
}

impl Ledger {
    /// An empty ledger that keeps `retention` of its finished history.
    pub fn keeping(retention: Retention) -> Ledger {
        Ledger { retention, ..Ledger::default() }
    }

    /// Folds one event. On `Err` the journal is defective at that seq and
    /// this value must be discarded: it may hold part of the event.
    pub fn apply(&mut self, envelope: &Envelope) -> Result<(), FoldError> {
        self.apply_sequenced(Sequenced::from(envelope))
    }

    /// `apply`, given only what the fold reads of an envelope: how the
    /// engine folds an event it has staged but not yet appended, without
    /// building an envelope (moving a ~290-byte struct in and out) for it.
    pub fn apply_sequenced(&mut self, envelope: Sequenced<'_>) -> Result<(), FoldError> {
        let expected = Seq::new(self.seq.get().saturating_add(1));
        if envelope.seq != expected {
            return Err(FoldError::OutOfOrder { seq: envelope.seq, previous: self.seq });
        }
        self.portfolio.roll_day(envelope.time_event);
        self.orders.apply_sequenced(envelope)?;
        if let Event::OrderSubmitted(submitted) = &envelope.event {
            let ticks = self.market.tick_count(&submitted.symbol);
            if let Some(order) = self.orders.orders.get_mut(&submitted.order_id) {
                order.symbol_ticks_at_submission = ticks;
            }
        }
        self.apply_to_positions(envelope)?;
        self.risk.apply(envelope);
        if let Event::CircuitBreakerReset(_) = &envelope.event {
            self.portfolio.restart_breaker_references();
        }
        let window = self.risk.limits.as_ref().and_then(|limits| limits.correlation_window);
        self.market.apply(envelope, window);
        self.trim_history();
        self.seq = envelope.seq;
        self.time = Some(envelope.time_event);
        Ok(())
    }

    fn apply_to_positions(&mut self, envelope: Sequenced<'_>) -> Result<(), FoldError> {
        let seq = envelope.seq;
        let facts = match &envelope.event {
            Event::OrderFilled(fill) => {
                // The order book has just accepted this fill, so the order exists;
                // a position it opens carries the protective prices of its signal.
                let order = self.orders.orders.get(&fill.order_id);
                FillFacts {
                    price_stop_loss: order.and_then(|order| order.price_stop_loss),
                    price_take_profit: order.and_then(|order| order.price_take_profit),
                    ..FillFacts::of(envelope, &fill.symbol, fill.side, fill.quantity, fill.price, fill.fee)
                }
            }
            Event::FillImported(fill) => {
                FillFacts::of(envelope, &fill.symbol, fill.side, fill.quantity, fill.price, fill.fee)
            }
            Event::PriceTicked(tick) => {
                self.positions.apply_tick(seq, &tick.symbol, tick.price)?;
                return self.portfolio.apply_mark(seq, &tick.symbol, &self.positions);
            }
            Event::RiskLimitsSet(set) => return self.portfolio.set_capital(seq, set.limits.capital_initial),
            _ => return Ok(()),
        };
        if let Some(closed) = self.positions.apply_fill(&facts)? {
            self.portfolio.close_position(seq, &closed)?;
        }
        self.portfolio.refresh_symbol(seq, facts.symbol, &self.positions)
    }

    /// Drops the oldest finished history beyond the retention: after every
    /// projection has seen the event, since a fill's position reads its
    /// order's protective prices from the book.
    fn trim_history(&mut self) {
        let retention = self.retention;
        self.orders.trim(retention);
        while retention.exceeded_by(self.positions.closed.len()) {
            self.positions.closed.pop_front();
        }
        while retention.exceeded_by(self.risk.events.len()) {
            self.risk.events.pop_back();
        }
    }

    /// The risk level and limit use now.
    pub fn risk_assessment(&self) -> RiskAssessment {
        assess(&self.risk, &self.portfolio, &self.positions)
    }

    /// BLAKE3 of the canonical (bincode) encoding: two states compare in one line.
    pub fn state_hash(&self) -> Hash {
        snapshot::state_hash(self)
    }
}

/// Folds `envelopes` into a fresh ledger.
pub fn fold<'a>(envelopes: impl IntoIterator<Item = &'a Envelope>) -> Result<Ledger, FoldError> {
    fold_onto(Ledger::default(), envelopes)
}

/// Continues a fold from `ledger` (a snapshot, or an earlier fold).
pub fn fold_onto<'a>(
    mut ledger: Ledger,
    envelopes: impl IntoIterator<Item = &'a Envelope>,
) -> Result<Ledger, FoldError> {
    for envelope in envelopes {
        ledger.apply(envelope)?;
    }
    Ok(ledger)
}
