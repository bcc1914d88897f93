//! The event schema: every input and every decision of the trade lifecycle,
//! as immutable past-tense facts that carry everything needed to rebuild
//! state without any other source.
//!
//! Format rule: the encoded form is the format of record. Variants and fields
//! are encoded by position, so new variants go at the end of an enum, existing
//! ones are never reordered or changed, and every change is caught by the
//! golden-file test (`tests/golden.rs`).

use crate::decimal_codec;
use crate::types::{
    FillId, Liquidity, Money, OrderId, OrderType, PositionId, Price, Quantity, Side, SignalId, StrategyId, Symbol,
    Timestamp,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    // Inputs.
    SignalReceived(SignalReceived),
    PriceTicked(PriceTicked),
    RiskLimitsSet(RiskLimitsSet),
    VenueConfigured(VenueConfigured),
    FillImported(FillImported),
    InputRejected(InputRejected),
    OrderCancelRequested(OrderCancelRequested),
    CircuitBreakerResetRequested(CircuitBreakerResetRequested),
    // Risk decisions.
    RiskCheckPassed(RiskCheckPassed),
    RiskCheckRejected(RiskCheckRejected),
    CircuitBreakerTripped(CircuitBreakerTripped),
    CircuitBreakerReset(CircuitBreakerReset),
    ForcedExitTriggered(ForcedExitTriggered),
    // Orders and venue responses.
    OrderSubmitted(OrderSubmitted),
    OrderAccepted(OrderAccepted),
    OrderRejected(OrderRejected),
    OrderFilled(OrderFilled),
    OrderCanceled(OrderCanceled),
    OrderExpired(OrderExpired),
    // An input added in schema version 2: new variants go last, so the
    // variant indexes of version 1 journals keep their meaning.
    TimerFired(TimerFired),
}

/// A trade signal exactly as it arrived. Quantity and prices are kept raw so a
/// bad signal (zero, negative) is still recorded; the risk verdict that
/// follows says what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalReceived {
    pub signal_id: SignalId,
    pub strategy_id: StrategyId,
    pub symbol: Symbol,
    pub side: Side,
    #[serde(with = "decimal_codec")]
    pub quantity: Decimal,
    pub order_type: OrderType,
    #[serde(with = "decimal_codec::option")]
    pub price_limit: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub price_stop_loss: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub price_take_profit: Option<Decimal>,
}

/// A market price observation (a trade or a quote mid) for one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTicked {
    pub symbol: Symbol,
    pub price: Price,
    pub size: Option<Quantity>,
    pub price_bid: Option<Price>,
    pub price_ask: Option<Price>,
    /// The venue's own timestamp, when the feed carries one.
    pub time_venue: Option<Timestamp>,
}

/// The complete risk configuration in force from this event on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLimitsSet {
    /// Boxed: the largest payload by far, and every `Event` would otherwise
    /// be as large as it (the encoding is the same).
    pub limits: Box<RiskLimits>,
}

/// Every pre- and post-trade limit. `None` means the limit is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLimits {
    pub capital_initial: Money,
    /// Tradable symbols, sorted; `None` = any symbol seen in the feed.
    pub symbols: Option<Vec<Symbol>>,
    /// Largest notional of one symbol's position after a trade.
    pub notional_position_max: Money,
    /// Largest gross notional of all positions after a trade.
    pub exposure_total_max: Money,
    #[serde(with = "decimal_codec")]
    pub drawdown_max_percent: Decimal,
    #[serde(with = "decimal_codec")]
    pub daily_loss_max_percent: Decimal,
    pub order_quantity_max: Option<Quantity>,
    pub order_notional_max: Option<Money>,
    #[serde(with = "decimal_codec::option")]
    pub price_band_percent: Option<Decimal>,
    pub orders_per_minute_max: Option<u32>,
    #[serde(with = "decimal_codec::option")]
    pub correlation_max: Option<Decimal>,
    /// Number of returns in the rolling correlation window.
    pub correlation_window: Option<u32>,
    pub correlated_exposure_max: Option<Money>,
    pub circuit_breaker_reset: BreakerResetPolicy,
}

impl RiskLimits {
    /// The source document's four limits — position 1,000,000, exposure
    /// 5,000,000, drawdown 20 %, daily loss 10 % — with every further limit
    /// off and manual breaker resets.
    pub fn document_defaults(capital_initial: Money) -> RiskLimits {
        RiskLimits {
            capital_initial,
            symbols: None,
            notional_position_max: Money::of(Decimal::from(1_000_000)),
            exposure_total_max: Money::of(Decimal::from(5_000_000)),
            drawdown_max_percent: Decimal::from(20),
            daily_loss_max_percent: Decimal::from(10),
            order_quantity_max: None,
            order_notional_max: None,
            price_band_percent: None,
            orders_per_minute_max: None,
            correlation_max: None,
            correlation_window: None,
            correlated_exposure_max: None,
            circuit_breaker_reset: BreakerResetPolicy::Manual,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerResetPolicy {
    /// Only an explicit reset request clears a tripped breaker.
    Manual,
    /// The first event of a later UTC day clears it.
    NextUtcDay,
}

/// Parameters of the simulated venue now in force; recorded so a re-run
/// fills orders exactly as the recorded run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueConfigured {
    #[serde(with = "decimal_codec")]
    pub slippage_bps: Decimal,
    #[serde(with = "decimal_codec")]
    pub fee_maker_bps: Decimal,
    #[serde(with = "decimal_codec")]
    pub fee_taker_bps: Decimal,
    pub latency_ticks: u32,
}

/// An execution reported by an outside venue, applied like any fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillImported {
    pub fill_id: FillId,
    pub order_id: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub liquidity: Option<Liquidity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSource {
    Tick,
    Signal,
    Fill,
    Configuration,
    Command,
}

/// An input that could not be turned into an event of its own (an
/// unparseable number, a non-positive price, …), recorded so the journal
/// shows that it arrived and why it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRejected {
    pub source: InputSource,
    /// Where it came from, e.g. `ticks.csv:42`.
    pub origin: String,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelRequested {
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreakerResetRequested {
    pub requested_by: String,
}

/// The engine's periodic timer fired: the source document's 30-second risk
/// monitoring loop, recorded as an input so that what it decides has a cause
/// in the journal and a re-run reproduces it. Its time is the envelope's
/// event time. Time-based rules run on it: the circuit breaker's reset on a
/// new UTC day, stop-loss and take-profit at each position's last mark, and
/// the breaker's drawdown and daily-loss check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFired {
    /// The timer's period, in milliseconds.
    pub period_ms: u64,
}

/// One pre-trade check: what it measured against which limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub check: RiskCheck,
    #[serde(with = "decimal_codec::option")]
    pub measured: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub limit: Option<Decimal>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCheck {
    SymbolKnown,
    QuantityPositive,
    PricePositive,
    LimitPriceGiven,
    TickSeen,
    OrderQuantity,
    OrderNotional,
    PriceBand,
    OrderRate,
    PositionSize,
    TotalExposure,
    Drawdown,
    DailyLoss,
    Correlation,
    CircuitBreaker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The limit is off or does not apply to this signal.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCheckPassed {
    pub signal_id: SignalId,
    pub checks: Vec<CheckOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCheckRejected {
    pub signal_id: SignalId,
    pub checks: Vec<CheckOutcome>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerCause {
    Drawdown,
    DailyLoss,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreakerTripped {
    pub cause: BreakerCause,
    #[serde(with = "decimal_codec")]
    pub measured: Decimal,
    #[serde(with = "decimal_codec")]
    pub limit: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerResetReason {
    Requested,
    NewTradingDay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreakerReset {
    pub reason: BreakerResetReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    CircuitBreaker,
}

/// A risk rule decided to close a position; the exit order follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForcedExitTriggered {
    pub position_id: PositionId,
    pub symbol: Symbol,
    pub reason: ExitReason,
    pub price_trigger: Price,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSubmitted {
    pub order_id: OrderId,
    /// The signal behind the order; `None` for forced exits.
    pub signal_id: Option<SignalId>,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: Quantity,
    pub price_limit: Option<Price>,
    /// Set on exits: the order may only shrink a position.
    pub reduce_only: bool,
    /// Set on forced exits: which rule sent it.
    pub exit_reason: Option<ExitReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAccepted {
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRejected {
    pub order_id: OrderId,
    pub reason: String,
}

/// One execution of an order; partial fills are several of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilled {
    pub order_id: OrderId,
    pub fill_id: FillId,
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub liquidity: Liquidity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCanceled {
    pub order_id: OrderId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderExpired {
    pub order_id: OrderId,
}

/// The variant names, for filtering (`events --type`) and messages.
impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::SignalReceived(_) => "SignalReceived",
            Event::PriceTicked(_) => "PriceTicked",
            Event::RiskLimitsSet(_) => "RiskLimitsSet",
            Event::VenueConfigured(_) => "VenueConfigured",
            Event::FillImported(_) => "FillImported",
            Event::InputRejected(_) => "InputRejected",
            Event::OrderCancelRequested(_) => "OrderCancelRequested",
            Event::CircuitBreakerResetRequested(_) => "CircuitBreakerResetRequested",
            Event::RiskCheckPassed(_) => "RiskCheckPassed",
            Event::RiskCheckRejected(_) => "RiskCheckRejected",
            Event::CircuitBreakerTripped(_) => "CircuitBreakerTripped",
            Event::CircuitBreakerReset(_) => "CircuitBreakerReset",
            Event::ForcedExitTriggered(_) => "ForcedExitTriggered",
            Event::OrderSubmitted(_) => "OrderSubmitted",
            Event::OrderAccepted(_) => "OrderAccepted",
            Event::OrderRejected(_) => "OrderRejected",
            Event::OrderFilled(_) => "OrderFilled",
            Event::OrderCanceled(_) => "OrderCanceled",
            Event::OrderExpired(_) => "OrderExpired",
            Event::TimerFired(_) => "TimerFired",
        }
    }

    /// True for events that come from outside (inputs), false for decisions
    /// and venue responses; the audit re-derives the latter from the former.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Event::SignalReceived(_)
                | Event::PriceTicked(_)
                | Event::RiskLimitsSet(_)
                | Event::VenueConfigured(_)
                | Event::FillImported(_)
                | Event::InputRejected(_)
                | Event::OrderCancelRequested(_)
                | Event::CircuitBreakerResetRequested(_)
                | Event::TimerFired(_)
        )
    }

    /// The symbol the event concerns, where it names one directly.
    pub fn symbol(&self) -> Option<&Symbol> {
        match self {
            Event::SignalReceived(event) => Some(&event.symbol),
            Event::PriceTicked(event) => Some(&event.symbol),
            Event::FillImported(event) => Some(&event.symbol),
            Event::ForcedExitTriggered(event) => Some(&event.symbol),
            Event::OrderSubmitted(event) => Some(&event.symbol),
            Event::OrderFilled(event) => Some(&event.symbol),
            _ => None,
        }
    }

    /// The order the event concerns, where it names one.
    pub fn order_id(&self) -> Option<&OrderId> {
        match self {
            Event::FillImported(event) => Some(&event.order_id),
            Event::OrderCancelRequested(event) => Some(&event.order_id),
            Event::OrderSubmitted(event) => Some(&event.order_id),
            Event::OrderAccepted(event) => Some(&event.order_id),
            Event::OrderRejected(event) => Some(&event.order_id),
            Event::OrderFilled(event) => Some(&event.order_id),
            Event::OrderCanceled(event) => Some(&event.order_id),
            Event::OrderExpired(event) => Some(&event.order_id),
            _ => None,
        }
    }

    /// The signal the event concerns, where it names one.
    pub fn signal_id(&self) -> Option<&SignalId> {
        match self {
            Event::SignalReceived(event) => Some(&event.signal_id),
            Event::RiskCheckPassed(event) => Some(&event.signal_id),
            Event::RiskCheckRejected(event) => Some(&event.signal_id),
            Event::OrderSubmitted(event) => event.signal_id.as_ref(),
            _ => None,
        }
    }
}
