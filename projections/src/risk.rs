//! Risk state: the limits in force, the circuit breaker with its history,
//! every risk decision and trip (newest first), and the risk level.

use crate::portfolio::Portfolio;
use crate::positions::PositionBook;
use crate::Sequenced;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use tradeledger_events::{
    decimal_codec, BreakerCause, BreakerResetReason, CircuitBreakerTripped, Event, ExitReason, PositionId, RiskLimits,
    Seq, SignalId, Symbol, Timestamp, VenueConfigured,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskEventKind {
    LimitsSet,
    CheckPassed,
    CheckRejected,
    BreakerTripped,
    BreakerReset,
    ForcedExit,
}

/// One entry of the risk log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskEventRecord {
    pub seq: Seq,
    pub time: Timestamp,
    pub kind: RiskEventKind,
    pub signal_id: Option<SignalId>,
    pub position_id: Option<PositionId>,
    pub symbol: Option<Symbol>,
    pub exit_reason: Option<ExitReason>,
    /// The rejection reason, or what tripped the breaker.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTrip {
    pub cause: BreakerCause,
    #[serde(with = "decimal_codec")]
    pub measured: Decimal,
    #[serde(with = "decimal_codec")]
    pub limit: Decimal,
    pub seq: Seq,
    pub time: Timestamp,
}

/// A change of the breaker: a trip, or a reset with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerChange {
    pub seq: Seq,
    pub time: Timestamp,
    pub trip: Option<BreakerTrip>,
    pub reset: Option<BreakerResetReason>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskState {
    pub limits: Option<RiskLimits>,
    pub venue: Option<VenueConfigured>,
    /// The trip in force; `None` while trading is allowed.
    pub breaker_tripped: Option<BreakerTrip>,
    pub breaker_history: Vec<BreakerChange>,
    /// Every risk decision, trip and limit change, newest first.
    pub events: VecDeque<RiskEventRecord>,
    pub checks_passed: u64,
    pub checks_rejected: u64,
    pub forced_exits: u64,
}

impl RiskState {
    pub fn apply(&mut self, envelope: Sequenced<'_>) {
        let record = |kind| RiskEventRecord {
            seq: envelope.seq,
            time: envelope.time_event,
            kind,
            signal_id: None,
            position_id: None,
            symbol: None,
            exit_reason: None,
            reason: None,
        };
        let entry = match &envelope.event {
            Event::RiskLimitsSet(set) => {
                self.limits = Some((*set.limits).clone());
                record(RiskEventKind::LimitsSet)
            }
            Event::VenueConfigured(venue) => {
                self.venue = Some(venue.clone());
                return;
            }
            Event::RiskCheckPassed(passed) => {
                self.checks_passed += 1;
                RiskEventRecord { signal_id: Some(passed.signal_id.clone()), ..record(RiskEventKind::CheckPassed) }
            }
            Event::RiskCheckRejected(rejected) => {
                self.checks_rejected += 1;
                RiskEventRecord {
                    signal_id: Some(rejected.signal_id.clone()),
                    reason: Some(rejected.reason.clone()),
                    ..record(RiskEventKind::CheckRejected)
                }
            }
            Event::CircuitBreakerTripped(tripped) => {
                let reason = self.trip(envelope, tripped);
                RiskEventRecord { reason: Some(reason), ..record(RiskEventKind::BreakerTripped) }
            }
            Event::CircuitBreakerReset(reset) => {
                self.breaker_tripped = None;
                self.breaker_history.push(BreakerChange {
                    seq: envelope.seq,
                    time: envelope.time_event,
                    trip: None,
                    reset: Some(reset.reason),
                });
                record(RiskEventKind::BreakerReset)
            }
            Event::ForcedExitTriggered(exit) => {
                self.forced_exits += 1;
                RiskEventRecord {
                    position_id: Some(exit.position_id.clone()),
                    symbol: Some(exit.symbol.clone()),
                    exit_reason: Some(exit.reason),
                    ..record(RiskEventKind::ForcedExit)
                }
            }
            _ => return,
        };
        self.events.push_front(entry);
    }

    /// Puts the breaker in the tripped state; returns what tripped it.
    fn trip(&mut self, envelope: Sequenced<'_>, tripped: &CircuitBreakerTripped) -> String {
        let trip = BreakerTrip {
            cause: tripped.cause,
            measured: tripped.measured,
            limit: tripped.limit,
            seq: envelope.seq,
            time: envelope.time_event,
        };
        self.breaker_history.push(BreakerChange {
            seq: envelope.seq,
            time: envelope.time_event,
            trip: Some(trip.clone()),
            reset: None,
        });
        self.breaker_tripped = Some(trip);
        format!("{:?} {} breached the limit {}", tripped.cause, tripped.measured, tripped.limit)
    }

    /// The newest `limit` risk events (the document's `get_risk_events`).
    pub fn latest_events(&self, limit: usize) -> impl Iterator<Item = &RiskEventRecord> {
        self.events.iter().take(limit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// How much of each limit is in use, as a fraction (1 = at the limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    /// The largest use of any limit.
    #[serde(with = "decimal_codec")]
    pub utilization_max: Decimal,
    #[serde(with = "decimal_codec")]
    pub utilization_position: Decimal,
    #[serde(with = "decimal_codec")]
    pub utilization_exposure: Decimal,
    #[serde(with = "decimal_codec")]
    pub utilization_drawdown: Decimal,
    #[serde(with = "decimal_codec")]
    pub utilization_daily_loss: Decimal,
}

/// Thresholds of the risk level on the largest limit use `u`:
/// LOW u < 0.5, MEDIUM 0.5 ≤ u < 0.8, HIGH 0.8 ≤ u < 1, CRITICAL u ≥ 1 or
/// whenever the circuit breaker is tripped. With no limits set, LOW.
pub const LEVEL_MEDIUM_FROM: Decimal = Decimal::from_parts(5, 0, 0, false, 1);
pub const LEVEL_HIGH_FROM: Decimal = Decimal::from_parts(8, 0, 0, false, 1);

fn fraction(used: Decimal, limit: Decimal) -> Decimal {
    if limit <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    used.checked_div(limit).unwrap_or(Decimal::MAX).max(Decimal::ZERO)
}

/// The risk level now, from the limits in force and the portfolio.
pub fn assess(risk: &RiskState, portfolio: &Portfolio, positions: &PositionBook) -> RiskAssessment {
    let Some(limits) = &risk.limits else {
        let level = if risk.breaker_tripped.is_some() { RiskLevel::Critical } else { RiskLevel::Low };
        let zero = Decimal::ZERO;
        return RiskAssessment {
            level,
            utilization_max: zero,
            utilization_position: zero,
            utilization_exposure: zero,
            utilization_drawdown: zero,
            utilization_daily_loss: zero,
        };
    };
    let largest_position = positions
        .open
        .values()
        .map(|position| position.price_mark.get().checked_mul(position.quantity.get()).unwrap_or(Decimal::MAX))
        .max()
        .unwrap_or_default();
    let daily_loss = portfolio.daily_loss_breaker_percentage();
    let utilization_position = fraction(largest_position, limits.notional_position_max.get());
    let utilization_exposure = fraction(portfolio.exposure_gross.get(), limits.exposure_total_max.get());
    let utilization_drawdown = fraction(portfolio.drawdown_breaker_percentage(), limits.drawdown_max_percent);
    let utilization_daily_loss = fraction(daily_loss, limits.daily_loss_max_percent);
    let utilization_max =
        utilization_position.max(utilization_exposure).max(utilization_drawdown).max(utilization_daily_loss);
    let level = match utilization_max {
        _ if risk.breaker_tripped.is_some() => RiskLevel::Critical,
        used if used >= Decimal::ONE => RiskLevel::Critical,
        used if used >= LEVEL_HIGH_FROM => RiskLevel::High,
        used if used >= LEVEL_MEDIUM_FROM => RiskLevel::Medium,
        _ => RiskLevel::Low,
    };
    RiskAssessment {
        level,
        utilization_max,
        utilization_position,
        utilization_exposure,
        utilization_drawdown,
        utilization_daily_loss,
    }
}
