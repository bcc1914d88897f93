//! Generators shared by the events crate's tests.
#![allow(dead_code)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use tradeledger_events::*;

pub fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=18).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

pub fn positive_decimal() -> impl Strategy<Value = Decimal> {
    (1i64..i64::MAX, 0u32..=18).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

pub fn price() -> impl Strategy<Value = Price> {
    positive_decimal().prop_map(|value| Price::new(value).expect("positive by construction"))
}

pub fn quantity() -> impl Strategy<Value = Quantity> {
    (0i64..i64::MAX, 0u32..=18)
        .prop_map(|(mantissa, scale)| Quantity::new(Decimal::new(mantissa, scale)).expect("non-negative"))
}

pub fn money() -> impl Strategy<Value = Money> {
    decimal().prop_map(|value| Money::new(value).expect("any sign is money"))
}

pub fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9/_.:-]{1,64}"
}

pub fn free_text() -> impl Strategy<Value = String> {
    ".{0,80}"
}

macro_rules! id_strategy {
    ($name:ident, $type:ty) => {
        pub fn $name() -> impl Strategy<Value = $type> {
            text().prop_map(|text| text.parse().expect("generated ids are valid"))
        }
    };
}
id_strategy!(symbol, Symbol);
id_strategy!(signal_id, SignalId);
id_strategy!(strategy_id, StrategyId);
id_strategy!(order_id, OrderId);
id_strategy!(fill_id, FillId);
id_strategy!(position_id, PositionId);

pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_map(Timestamp::from_unix_nanos)
}

pub fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

pub fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![Just(OrderType::Market), Just(OrderType::Limit)]
}

pub fn liquidity() -> impl Strategy<Value = Liquidity> {
    prop_oneof![Just(Liquidity::Maker), Just(Liquidity::Taker)]
}

pub fn exit_reason() -> impl Strategy<Value = ExitReason> {
    prop_oneof![Just(ExitReason::StopLoss), Just(ExitReason::TakeProfit), Just(ExitReason::CircuitBreaker)]
}

pub fn risk_check() -> impl Strategy<Value = RiskCheck> {
    prop::sample::select(vec![
        RiskCheck::SymbolKnown,
        RiskCheck::QuantityPositive,
        RiskCheck::PricePositive,
        RiskCheck::LimitPriceGiven,
        RiskCheck::TickSeen,
        RiskCheck::OrderQuantity,
        RiskCheck::OrderNotional,
        RiskCheck::PriceBand,
        RiskCheck::OrderRate,
        RiskCheck::PositionSize,
        RiskCheck::TotalExposure,
        RiskCheck::Drawdown,
        RiskCheck::DailyLoss,
        RiskCheck::Correlation,
        RiskCheck::CircuitBreaker,
    ])
}

pub fn check_outcome() -> impl Strategy<Value = CheckOutcome> {
    (
        risk_check(),
        proptest::option::of(decimal()),
        proptest::option::of(decimal()),
        prop_oneof![Just(Verdict::Pass), Just(Verdict::Fail), Just(Verdict::Skipped)],
    )
        .prop_map(|(check, measured, limit, verdict)| CheckOutcome { check, measured, limit, verdict })
}

pub fn risk_limits() -> impl Strategy<Value = RiskLimits> {
    (
        (money(), proptest::option::of(prop::collection::vec(symbol(), 0..4)), money(), money(), decimal(), decimal()),
        (
            proptest::option::of(quantity()),
            proptest::option::of(money()),
            proptest::option::of(decimal()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(decimal()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(money()),
            prop_oneof![Just(BreakerResetPolicy::Manual), Just(BreakerResetPolicy::NextUtcDay)],
        ),
    )
        .prop_map(|((capital, symbols, position, exposure, drawdown, daily), rest)| RiskLimits {
            capital_initial: capital,
            symbols,
            notional_position_max: position,
            exposure_total_max: exposure,
            drawdown_max_percent: drawdown,
            daily_loss_max_percent: daily,
            order_quantity_max: rest.0,
            order_notional_max: rest.1,
            price_band_percent: rest.2,
            orders_per_minute_max: rest.3,
            correlation_max: rest.4,
            correlation_window: rest.5,
            correlated_exposure_max: rest.6,
            circuit_breaker_reset: rest.7,
        })
}

fn input_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            (signal_id(), strategy_id(), symbol(), side(), decimal(), order_type()),
            (proptest::option::of(decimal()), proptest::option::of(decimal()), proptest::option::of(decimal())),
        )
            .prop_map(|((signal_id, strategy_id, symbol, side, quantity, order_type), (limit, stop, take))| {
                Event::SignalReceived(SignalReceived {
                    signal_id,
                    strategy_id,
                    symbol,
                    side,
                    quantity,
                    order_type,
                    price_limit: limit,
                    price_stop_loss: stop,
                    price_take_profit: take,
                })
            }),
        (
            symbol(),
            price(),
            proptest::option::of(quantity()),
            proptest::option::of(price()),
            proptest::option::of(price()),
            proptest::option::of(timestamp())
        )
            .prop_map(|(symbol, price, size, bid, ask, venue)| Event::PriceTicked(PriceTicked {
                symbol,
                price,
                size,
                price_bid: bid,
                price_ask: ask,
                time_venue: venue,
            })),
        risk_limits().prop_map(|limits| Event::RiskLimitsSet(RiskLimitsSet { limits: Box::new(limits) })),
        (decimal(), decimal(), decimal(), any::<u32>()).prop_map(|(slippage, maker, taker, latency)| {
            Event::VenueConfigured(VenueConfigured {
                slippage_bps: slippage,
                fee_maker_bps: maker,
                fee_taker_bps: taker,
                latency_ticks: latency,
            })
        }),
        (fill_id(), order_id(), symbol(), side(), quantity(), price(), money(), proptest::option::of(liquidity()))
            .prop_map(|(fill_id, order_id, symbol, side, quantity, price, fee, liquidity)| {
                Event::FillImported(FillImported { fill_id, order_id, symbol, side, quantity, price, fee, liquidity })
            }),
        (free_text(), free_text(), free_text()).prop_map(|(origin, field, reason)| Event::InputRejected(
            InputRejected { source: InputSource::Tick, origin, field, reason }
        )),
        order_id().prop_map(|order_id| Event::OrderCancelRequested(OrderCancelRequested { order_id })),
        free_text().prop_map(|requested_by| Event::CircuitBreakerResetRequested(CircuitBreakerResetRequested {
            requested_by
        })),
        any::<u64>().prop_map(|period_ms| Event::TimerFired(TimerFired { period_ms })),
    ]
}

fn decision_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (signal_id(), prop::collection::vec(check_outcome(), 0..16))
            .prop_map(|(signal_id, checks)| Event::RiskCheckPassed(RiskCheckPassed { signal_id, checks })),
        (signal_id(), prop::collection::vec(check_outcome(), 0..16), free_text()).prop_map(
            |(signal_id, checks, reason)| Event::RiskCheckRejected(RiskCheckRejected { signal_id, checks, reason })
        ),
        (prop_oneof![Just(BreakerCause::Drawdown), Just(BreakerCause::DailyLoss)], decimal(), decimal()).prop_map(
            |(cause, measured, limit)| Event::CircuitBreakerTripped(CircuitBreakerTripped { cause, measured, limit })
        ),
        prop_oneof![Just(BreakerResetReason::Requested), Just(BreakerResetReason::NewTradingDay)]
            .prop_map(|reason| Event::CircuitBreakerReset(CircuitBreakerReset { reason })),
        (position_id(), symbol(), exit_reason(), price()).prop_map(|(position_id, symbol, reason, price)| {
            Event::ForcedExitTriggered(ForcedExitTriggered { position_id, symbol, reason, price_trigger: price })
        }),
    ]
}

fn order_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            (order_id(), proptest::option::of(signal_id()), symbol(), side(), order_type()),
            (quantity(), proptest::option::of(price()), any::<bool>(), proptest::option::of(exit_reason())),
        )
            .prop_map(
                |((order_id, signal_id, symbol, side, order_type), (quantity, limit, reduce_only, exit))| {
                    Event::OrderSubmitted(OrderSubmitted {
                        order_id,
                        signal_id,
                        symbol,
                        side,
                        order_type,
                        quantity,
                        price_limit: limit,
                        reduce_only,
                        exit_reason: exit,
                    })
                }
            ),
        order_id().prop_map(|order_id| Event::OrderAccepted(OrderAccepted { order_id })),
        (order_id(), free_text())
            .prop_map(|(order_id, reason)| Event::OrderRejected(OrderRejected { order_id, reason })),
        (order_id(), fill_id(), symbol(), side(), quantity(), price(), money(), liquidity()).prop_map(
            |(order_id, fill_id, symbol, side, quantity, price, fee, liquidity)| {
                Event::OrderFilled(OrderFilled { order_id, fill_id, symbol, side, quantity, price, fee, liquidity })
            }
        ),
        (order_id(), free_text())
            .prop_map(|(order_id, reason)| Event::OrderCanceled(OrderCanceled { order_id, reason })),
        order_id().prop_map(|order_id| Event::OrderExpired(OrderExpired { order_id })),
    ]
}

/// Any event of any variant.
pub fn event() -> impl Strategy<Value = Event> {
    prop_oneof![input_event(), decision_event(), order_event()]
}

/// A deterministic event whose content identifies `tag` and `n`, so a test
/// can tell which producer wrote it and check it was stored exactly.
pub fn tagged_event(tag: &str, n: u64) -> Event {
    Event::InputRejected(InputRejected {
        source: InputSource::Signal,
        origin: format!("{tag}:{n}"),
        field: "quantity".into(),
        reason: format!("test event {n} of {tag}"),
    })
}

/// A ~100-byte trade tick, the size the benchmarks are stated in.
pub fn tick_event(n: u64) -> Event {
    Event::PriceTicked(PriceTicked {
        symbol: "BTCUSDT".parse().expect("valid symbol"),
        price: Price::new(Decimal::new(6_155_604 + (n % 1000) as i64, 2)).expect("positive"),
        size: Some(Quantity::new(Decimal::new(12_345 + (n % 77) as i64, 8)).expect("non-negative")),
        price_bid: Some(Price::new(Decimal::new(6_155_600, 2)).expect("positive")),
        price_ask: Some(Price::new(Decimal::new(6_155_610, 2)).expect("positive")),
        time_venue: Some(Timestamp::from_unix_nanos(1_723_161_255_342_000_000 + n as i64 * 1_000_000)),
    })
}

/// The origin tag of a `tagged_event`.
pub fn tag_of(event: &Event) -> Option<&str> {
    match event {
        Event::InputRejected(rejected) => Some(rejected.origin.as_str()),
        _ => None,
    }
}

pub fn input(n: u64, event: Event) -> NewEvent {
    NewEvent::input(Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + n as i64), event)
}

/// After a test drops a raw `sled::Db`, sled's pool threads may hold the
/// file lock a moment longer; wait for it as `Journal::close` does.
pub fn wait_for_unlock(dir: &std::path::Path) {
    let file = std::fs::File::open(dir.join("db")).expect("sled data file");
    for _ in 0..10_000 {
        if file.try_lock().is_ok() {
            file.unlock().expect("unlock");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("sled kept the lock of {} for 10 s", dir.display());
}
