//! Pre-trade risk checks: small pure functions, each returning what it
//! measured, the limit and a verdict; `check_signal` runs them all, so the
//! recorded verdict lists every check even when an early one failed.
//!
//! A signal *reduces risk* when it shrinks the symbol's open position without
//! flipping it. Such a signal passes the exposure, drawdown, daily-loss,
//! correlation and circuit-breaker checks (their measurements are still
//! recorded): cutting risk is always allowed.

use super::correlation::correlation;
use rust_decimal::Decimal;
use tradeledger_events::{CheckOutcome, OrderType, RiskCheck, RiskLimits, Side, SignalReceived, Timestamp, Verdict};
use tradeledger_projections::{Ledger, PositionSide};

/// The outcome of every check, and the reason to reject when any failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreTradeVerdict {
    pub checks: Vec<CheckOutcome>,
    /// Every failed check, described; `None` when the signal may trade.
    pub rejection: Option<String>,
}

impl PreTradeVerdict {
    pub fn passed(&self) -> bool {
        self.rejection.is_none()
    }

    pub fn outcome(&self, check: RiskCheck) -> Option<&CheckOutcome> {
        self.checks.iter().find(|outcome| outcome.check == check)
    }
}

/// What every check reads, computed once.
struct Context<'a> {
    ledger: &'a Ledger,
    limits: Option<&'a RiskLimits>,
    signal: &'a SignalReceived,
    time: Timestamp,
    /// Last tick price of the symbol.
    price_tick: Option<Decimal>,
    /// The price the trade is valued at: its limit price, else the last tick.
    price_reference: Option<Decimal>,
    /// The symbol's open position, signed (short negative), before and after.
    quantity_now: Decimal,
    quantity_after: Decimal,
    reduces_risk: bool,
}

impl<'a> Context<'a> {
    fn new(ledger: &'a Ledger, signal: &'a SignalReceived, time: Timestamp) -> Context<'a> {
        let price_tick = ledger.market.last_ticks.get(&signal.symbol).map(|tick| tick.price.get());
        let price_limit = signal.price_limit.filter(|price| *price > Decimal::ZERO);
        let quantity_now =
            ledger.positions.open.get(&signal.symbol).map_or(Decimal::ZERO, |position| match position.side {
                PositionSide::Long => position.quantity.get(),
                PositionSide::Short => -position.quantity.get(),
            });
        let trade = match signal.side {
            Side::Buy => signal.quantity,
            Side::Sell => -signal.quantity,
        };
        let quantity_after = quantity_now.saturating_add(trade);
        let reduces_risk = signal.quantity > Decimal::ZERO
            && quantity_after.abs() < quantity_now.abs()
            && quantity_after * quantity_now >= Decimal::ZERO;
        Context {
            ledger,
            limits: ledger.risk.limits.as_ref(),
            signal,
            time,
            price_tick,
            price_reference: price_limit.or(price_tick),
            quantity_now,
            quantity_after,
            reduces_risk,
        }
    }

    fn quantity_valid(&self) -> bool {
        self.signal.quantity > Decimal::ZERO
    }

    /// Notional of the order at the reference price.
    fn notional_order(&self) -> Option<Decimal> {
        let price = self.price_reference?;
        self.quantity_valid().then(|| price.checked_mul(self.signal.quantity)).flatten()
    }

    /// Notional of the symbol's position after the trade.
    fn notional_after(&self) -> Option<Decimal> {
        let price = self.price_reference?;
        self.quantity_valid().then(|| price.checked_mul(self.quantity_after.abs())).flatten()
    }
}

fn outcome(check: RiskCheck, measured: Option<Decimal>, limit: Option<Decimal>, pass: bool) -> CheckOutcome {
    let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
    CheckOutcome { check, measured, limit, verdict }
}

fn skipped(check: RiskCheck) -> CheckOutcome {
    CheckOutcome { check, measured: None, limit: None, verdict: Verdict::Skipped }
}

/// Runs every pre-trade check on `signal` against the state in `ledger`.
pub fn check_signal(ledger: &Ledger, signal: &SignalReceived, time: Timestamp) -> PreTradeVerdict {
    let context = Context::new(ledger, signal, time);
    let checks = vec![
        check_symbol_known(&context),
        check_quantity_positive(&context),
        check_prices_positive(&context),
        check_limit_price_given(&context),
        check_tick_seen(&context),
        check_order_quantity(&context),
        check_order_notional(&context),
        check_price_band(&context),
        check_order_rate(&context),
        check_position_size(&context),
        check_total_exposure(&context),
        check_drawdown(&context),
        check_daily_loss(&context),
        check_correlation(&context),
        check_circuit_breaker(&context),
    ];
    let failures: Vec<String> = checks
        .iter()
        .filter(|outcome| outcome.verdict == Verdict::Fail)
        .map(|outcome| describe(outcome, signal))
        .collect();
    PreTradeVerdict { rejection: (!failures.is_empty()).then(|| failures.join("; ")), checks }
}

/// One failed check as a reader wants it: the field or limit, and the values.
fn describe(outcome: &CheckOutcome, signal: &SignalReceived) -> String {
    let value = |value: Option<Decimal>| value.map_or_else(|| "none".to_owned(), |value| value.normalize().to_string());
    match outcome.check {
        RiskCheck::SymbolKnown => format!("symbol: {} is not tradable here", signal.symbol),
        RiskCheck::QuantityPositive => format!("quantity: {} is not greater than 0", signal.quantity),
        RiskCheck::PricePositive => format!("price: {} is not greater than 0", value(outcome.measured)),
        RiskCheck::LimitPriceGiven => "price: a limit order needs a limit price".to_owned(),
        RiskCheck::TickSeen => format!("symbol: no tick of {} has been seen to price the order", signal.symbol),
        RiskCheck::CircuitBreaker => "circuit breaker: tripped; only risk-reducing orders pass".to_owned(),
        check => {
            format!("{}: {} exceeds the limit {}", check_name(check), value(outcome.measured), value(outcome.limit))
        }
    }
}

fn check_name(check: RiskCheck) -> &'static str {
    match check {
        RiskCheck::OrderQuantity => "order quantity",
        RiskCheck::OrderNotional => "order notional",
        RiskCheck::PriceBand => "price band %",
        RiskCheck::OrderRate => "orders per minute",
        RiskCheck::PositionSize => "position size",
        RiskCheck::TotalExposure => "total exposure",
        RiskCheck::Drawdown => "drawdown %",
        RiskCheck::DailyLoss => "daily loss %",
        RiskCheck::Correlation => "correlation",
        _ => "check",
    }
}

fn check_symbol_known(context: &Context<'_>) -> CheckOutcome {
    let symbol = &context.signal.symbol;
    let known = match context.limits.and_then(|limits| limits.symbols.as_ref()) {
        Some(symbols) => symbols.binary_search(symbol).is_ok(),
        // Without a list, any symbol seen in the feed is tradable.
        None => context.price_tick.is_some(),
    };
    outcome(RiskCheck::SymbolKnown, None, None, known)
}

fn check_quantity_positive(context: &Context<'_>) -> CheckOutcome {
    let quantity = context.signal.quantity;
    outcome(RiskCheck::QuantityPositive, Some(quantity), Some(Decimal::ZERO), quantity > Decimal::ZERO)
}

fn check_prices_positive(context: &Context<'_>) -> CheckOutcome {
    let signal = context.signal;
    let prices = [signal.price_limit, signal.price_stop_loss, signal.price_take_profit];
    match prices.into_iter().flatten().find(|price| *price <= Decimal::ZERO) {
        Some(bad) => outcome(RiskCheck::PricePositive, Some(bad), Some(Decimal::ZERO), false),
        None => outcome(RiskCheck::PricePositive, None, None, true),
    }
}

fn check_limit_price_given(context: &Context<'_>) -> CheckOutcome {
    match context.signal.order_type {
        OrderType::Limit => outcome(RiskCheck::LimitPriceGiven, None, None, context.signal.price_limit.is_some()),
        OrderType::Market => skipped(RiskCheck::LimitPriceGiven),
    }
}

fn check_tick_seen(context: &Context<'_>) -> CheckOutcome {
    outcome(RiskCheck::TickSeen, context.price_tick, None, context.price_tick.is_some())
}

fn check_order_quantity(context: &Context<'_>) -> CheckOutcome {
    match context.limits.and_then(|limits| limits.order_quantity_max) {
        Some(max) if context.quantity_valid() => outcome(
            RiskCheck::OrderQuantity,
            Some(context.signal.quantity),
            Some(max.get()),
            context.signal.quantity <= max.get(),
        ),
        _ => skipped(RiskCheck::OrderQuantity),
    }
}

fn check_order_notional(context: &Context<'_>) -> CheckOutcome {
    match (context.limits.and_then(|limits| limits.order_notional_max), context.notional_order()) {
        (Some(max), Some(notional)) => {
            outcome(RiskCheck::OrderNotional, Some(notional), Some(max.get()), notional <= max.get())
        }
        _ => skipped(RiskCheck::OrderNotional),
    }
}

/// A limit price must lie within ±band % of the last tick.
fn check_price_band(context: &Context<'_>) -> CheckOutcome {
    let band = context.limits.and_then(|limits| limits.price_band_percent);
    let (Some(band), Some(limit), Some(tick)) = (band, context.signal.price_limit, context.price_tick) else {
        return skipped(RiskCheck::PriceBand);
    };
    if limit <= Decimal::ZERO {
        return skipped(RiskCheck::PriceBand);
    }
    let distance = (limit - tick).abs().checked_div(tick).and_then(|ratio| ratio.checked_mul(Decimal::ONE_HUNDRED));
    match distance {
        Some(distance) => outcome(RiskCheck::PriceBand, Some(distance.round_dp(6)), Some(band), distance <= band),
        None => outcome(RiskCheck::PriceBand, None, Some(band), false),
    }
}

fn check_order_rate(context: &Context<'_>) -> CheckOutcome {
    let Some(max) = context.limits.and_then(|limits| limits.orders_per_minute_max) else {
        return skipped(RiskCheck::OrderRate);
    };
    let with_this_one = context.ledger.market.orders_in_last_minute(context.time) as u64 + 1;
    outcome(
        RiskCheck::OrderRate,
        Some(Decimal::from(with_this_one)),
        Some(Decimal::from(max)),
        with_this_one <= u64::from(max),
    )
}

fn check_position_size(context: &Context<'_>) -> CheckOutcome {
    match (context.limits, context.notional_after()) {
        (Some(limits), Some(after)) => {
            let max = limits.notional_position_max.get();
            outcome(RiskCheck::PositionSize, Some(after), Some(max), after <= max || context.reduces_risk)
        }
        _ => skipped(RiskCheck::PositionSize),
    }
}

/// Gross exposure after the trade: today's, with this symbol's market value
/// replaced by its value after the trade at the reference price.
fn check_total_exposure(context: &Context<'_>) -> CheckOutcome {
    let (Some(limits), Some(after)) = (context.limits, context.notional_after()) else {
        return skipped(RiskCheck::TotalExposure);
    };
    let portfolio = &context.ledger.portfolio;
    let symbol_now =
        portfolio.by_symbol.get(&context.signal.symbol).map_or(Decimal::ZERO, |totals| totals.market_value.get().abs());
    let gross_after = portfolio.exposure_gross.get().saturating_sub(symbol_now).saturating_add(after);
    let max = limits.exposure_total_max.get();
    outcome(RiskCheck::TotalExposure, Some(gross_after), Some(max), gross_after <= max || context.reduces_risk)
}

fn check_drawdown(context: &Context<'_>) -> CheckOutcome {
    let Some(limits) = context.limits else { return skipped(RiskCheck::Drawdown) };
    // From the peak since the last breaker reset, as the breaker measures it.
    let drawdown = context.ledger.portfolio.drawdown_breaker_percentage().round_dp(6);
    let max = limits.drawdown_max_percent;
    outcome(RiskCheck::Drawdown, Some(drawdown), Some(max), drawdown < max || context.reduces_risk)
}

fn check_daily_loss(context: &Context<'_>) -> CheckOutcome {
    let Some(limits) = context.limits else { return skipped(RiskCheck::DailyLoss) };
    // From the day's start, or from a breaker reset later that day.
    let loss = context.ledger.portfolio.daily_loss_breaker_percentage().round_dp(6);
    let max = limits.daily_loss_max_percent;
    outcome(RiskCheck::DailyLoss, Some(loss), Some(max), loss < max || context.reduces_risk)
}

/// Fails when the trade adds exposure in the direction of a held position
/// whose symbol correlates above the limit with this one, and the two
/// exposures together would exceed the correlated-exposure cap. Measures
/// the highest such correlation.
fn check_correlation(context: &Context<'_>) -> CheckOutcome {
    let limits = context.limits;
    let settings = limits.and_then(|limits| Some((limits.correlation_max?, limits.correlated_exposure_max?)));
    let (Some((max, cap)), Some(after)) = (settings, context.notional_after()) else {
        return skipped(RiskCheck::Correlation);
    };
    let market = &context.ledger.market;
    let Some(own_prices) = market.price_windows.get(&context.signal.symbol) else {
        return skipped(RiskCheck::Correlation);
    };
    let direction =
        if context.quantity_after >= context.quantity_now { PositionSide::Long } else { PositionSide::Short };
    let mut highest: Option<Decimal> = None;
    let mut breach = false;
    for (symbol, position) in &context.ledger.positions.open {
        if *symbol == context.signal.symbol || position.side != direction {
            continue;
        }
        let Some(coefficient) = market.price_windows.get(symbol).and_then(|prices| correlation(own_prices, prices))
        else {
            continue;
        };
        highest = Some(highest.map_or(coefficient, |seen| seen.max(coefficient)));
        let held = position.price_mark.get().checked_mul(position.quantity.get()).unwrap_or(Decimal::MAX);
        if coefficient > max && held.saturating_add(after) > cap.get() {
            breach = true;
        }
    }
    match highest {
        Some(coefficient) => {
            outcome(RiskCheck::Correlation, Some(coefficient), Some(max), !breach || context.reduces_risk)
        }
        None => skipped(RiskCheck::Correlation),
    }
}

fn check_circuit_breaker(context: &Context<'_>) -> CheckOutcome {
    let tripped = context.ledger.risk.breaker_tripped.is_some();
    outcome(RiskCheck::CircuitBreaker, None, None, !tripped || context.reduces_risk)
}
