//! Scenario timelines: a small, human-readable text format for sequences of
//! events, used by the scenario fixtures and by anyone testing a projection.
//! Pure: the caller reads the file, this turns its text into envelopes.
//!
//! One event per line; `#` starts a comment; `key=value` options in any
//! order after the positional fields. Times default to the last `at`.
//!
//! ```text
//! at 2024-08-08T23:00:00Z
//! limits capital=100000 position_max=1000000 exposure_max=5000000 drawdown_max=20 daily_loss_max=10
//!        [symbols=BTCUSDT,ETHUSDT] [quantity_max=5] [notional_max=250000] [band=5] [rate=60]
//!        [correlation=0.8 window=50 correlated_max=2000000] [reset=manual|next_utc_day]
//! tick BTCUSDT 100 [size=1] [bid=99.9] [ask=100.1]
//! signal S1 BTCUSDT buy 2 [limit=100] [stop=90] [take=120] [strategy=manual] [type=market|limit]
//! pass S1
//! reject S1 <reason…>
//! submit O1 BTCUSDT buy 2 [limit=100] [signal=S1] [reduce_only] [exit=stop_loss|take_profit|circuit_breaker]
//! accept O1
//! fill O1 1 @ 100 [fee=0.1] [id=F1] [maker]
//! cancel O1 [<reason…>]
//! order_rejected O1 <reason…>
//! expire O1
//! import F9 BTCUSDT sell 1 @ 105 [fee=0.2] [order=EXT-1]
//! trip drawdown|daily_loss <measured> <limit>
//! reset
//! exit P5 BTCUSDT stop_loss|take_profit|circuit_breaker <trigger price>
//! ```

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use tradeledger_events::envelope::{genesis_hash, seal};
use tradeledger_events::*;

/// A line of a scenario that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScenarioError {
    pub line: usize,
    pub message: String,
}

/// The journal id scenario envelopes are sealed with.
pub const SCENARIO_JOURNAL_ID: u128 = 0x5ce0_0000_0000_4000_8000_0000_0000_0001;

/// Parses a scenario and seals its events as a journal would (seqs from 1,
/// hash chain, derived ids; recorded-at = event time, so it is deterministic).
pub fn envelopes(text: &str) -> Result<Vec<Envelope>, ScenarioError> {
    let journal_id = JournalId::from_u128(SCENARIO_JOURNAL_ID);
    let mut previous = genesis_hash(journal_id);
    let mut sealed = Vec::new();
    for (index, (line, new)) in events(text)?.into_iter().enumerate() {
        let seq = Seq::new(index as u64 + 1);
        let time = new.time_event;
        let envelope = seal(journal_id, seq, previous, time, new)
            .map_err(|error| ScenarioError { line, message: error.to_string() })?;
        previous = envelope.hash;
        sealed.push(envelope);
    }
    Ok(sealed)
}

/// The scenario's events with the line each came from.
pub fn events(text: &str) -> Result<Vec<(usize, NewEvent)>, ScenarioError> {
    let mut reader = Reader::default();
    let mut events = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        let fail = |message: String| ScenarioError { line, message };
        if let Some(event) = reader.read(&words).map_err(fail)? {
            events.push((line, NewEvent::input(reader.time, event)));
        }
    }
    Ok(events)
}

#[derive(Default)]
struct Reader {
    time: Timestamp,
    /// Symbol and side of each submitted order, for its fills.
    orders: BTreeMap<String, (Symbol, Side)>,
    fills_per_order: BTreeMap<String, u32>,
}

/// The words of one line: positional fields, then `key=value` options and
/// bare flags.
struct Words<'a> {
    positional: Vec<&'a str>,
    options: BTreeMap<&'a str, &'a str>,
}

impl<'a> Words<'a> {
    fn split(words: &[&'a str]) -> Words<'a> {
        let mut positional = Vec::new();
        let mut options = BTreeMap::new();
        for word in words {
            match word.split_once('=') {
                Some((key, value)) => {
                    options.insert(key, value);
                }
                None => positional.push(*word),
            }
        }
        Words { positional, options }
    }

    fn at(&self, index: usize, name: &str) -> Result<&'a str, String> {
        self.positional.get(index).copied().ok_or_else(|| format!("missing {name}"))
    }

    fn parse<T: FromStr>(&self, index: usize, name: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.at(index, name)?;
        text.parse().map_err(|error| format!("{name} `{text}`: {error}"))
    }

    fn option<T: FromStr>(&self, key: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        self.options.get(key).map(|text| text.parse().map_err(|error| format!("{key} `{text}`: {error}"))).transpose()
    }

    fn flag(&self, name: &str) -> bool {
        self.positional.contains(&name)
    }

    fn rest_from(&self, index: usize) -> String {
        self.positional.get(index..).map(|words| words.join(" ")).unwrap_or_default()
    }
}

fn decimal(text: &str, name: &str) -> Result<Decimal, String> {
    decimal_codec::parse_decimal_text(text).map_err(|error| format!("{name}: {error}"))
}

impl Reader {
    fn read(&mut self, words: &[&str]) -> Result<Option<Event>, String> {
        let Some((&verb, rest)) = words.split_first() else { return Ok(None) };
        let words = Words::split(rest);
        let event = match verb {
            "at" => {
                self.time = words.parse(0, "time")?;
                return Ok(None);
            }
            "limits" => Event::RiskLimitsSet(RiskLimitsSet { limits: Box::new(limits(&words)?) }),
            "tick" => Event::PriceTicked(PriceTicked {
                symbol: words.parse(0, "symbol")?,
                price: words.parse(1, "price")?,
                size: words.option("size")?,
                price_bid: words.option("bid")?,
                price_ask: words.option("ask")?,
                time_venue: None,
            }),
            "signal" => Event::SignalReceived(signal(&words)?),
            "pass" => {
                Event::RiskCheckPassed(RiskCheckPassed { signal_id: words.parse(0, "signal id")?, checks: vec![] })
            }
            "reject" => Event::RiskCheckRejected(RiskCheckRejected {
                signal_id: words.parse(0, "signal id")?,
                checks: vec![],
                reason: words.rest_from(1),
            }),
            "submit" => self.submit(&words)?,
            "accept" => Event::OrderAccepted(OrderAccepted { order_id: words.parse(0, "order id")? }),
            "fill" => self.fill(&words)?,
            "cancel" => Event::OrderCanceled(OrderCanceled {
                order_id: words.parse(0, "order id")?,
                reason: words.rest_from(1),
            }),
            "order_rejected" => Event::OrderRejected(OrderRejected {
                order_id: words.parse(0, "order id")?,
                reason: words.rest_from(1),
            }),
            "expire" => Event::OrderExpired(OrderExpired { order_id: words.parse(0, "order id")? }),
            "import" => import(&words)?,
            "trip" => trip(&words)?,
            "reset" => Event::CircuitBreakerReset(CircuitBreakerReset { reason: BreakerResetReason::Requested }),
            "exit" => Event::ForcedExitTriggered(ForcedExitTriggered {
                position_id: words.parse(0, "position id")?,
                symbol: words.parse(1, "symbol")?,
                reason: exit_reason(words.at(2, "reason")?)?,
                price_trigger: words.parse(3, "trigger price")?,
            }),
            other => return Err(format!("unknown event `{other}`")),
        };
        Ok(Some(event))
    }

    fn submit(&mut self, words: &Words<'_>) -> Result<Event, String> {
        let order_id: OrderId = words.parse(0, "order id")?;
        let symbol: Symbol = words.parse(1, "symbol")?;
        let side: Side = words.parse(2, "side")?;
        let price_limit: Option<Price> = words.option("limit")?;
        self.orders.insert(order_id.to_string(), (symbol.clone(), side));
        Ok(Event::OrderSubmitted(OrderSubmitted {
            order_id,
            signal_id: words.option("signal")?,
            symbol,
            side,
            order_type: if price_limit.is_some() { OrderType::Limit } else { OrderType::Market },
            quantity: words.parse(3, "quantity")?,
            price_limit,
            reduce_only: words.flag("reduce_only"),
            exit_reason: words.options.get("exit").map(|text| exit_reason(text)).transpose()?,
        }))
    }

    fn fill(&mut self, words: &Words<'_>) -> Result<Event, String> {
        let order = words.at(0, "order id")?;
        // A fill for an order the scenario never submitted is kept, so a
        // scenario can record that defect; the fold names it.
        let (symbol, side) = match self.orders.get(order) {
            Some(known) => known.clone(),
            None => (Symbol::try_from("UNKNOWN").map_err(|error| error.to_string())?, Side::Buy),
        };
        if words.at(2, "`@`")? != "@" {
            return Err("expected `fill ORDER QUANTITY @ PRICE`".into());
        }
        let count = self.fills_per_order.entry(order.to_owned()).or_default();
        *count += 1;
        let default_id = format!("{order}-F{count}");
        Ok(Event::OrderFilled(OrderFilled {
            order_id: words.parse(0, "order id")?,
            fill_id: words
                .options
                .get("id")
                .copied()
                .unwrap_or(&default_id)
                .parse()
                .map_err(|e| format!("fill id: {e}"))?,
            symbol,
            side,
            quantity: words.parse(1, "quantity")?,
            price: words.parse(3, "price")?,
            fee: Money::of(words.options.get("fee").map(|text| decimal(text, "fee")).transpose()?.unwrap_or_default()),
            liquidity: if words.flag("maker") { Liquidity::Maker } else { Liquidity::Taker },
        }))
    }
}

fn exit_reason(text: &str) -> Result<ExitReason, String> {
    match text {
        "stop_loss" => Ok(ExitReason::StopLoss),
        "take_profit" => Ok(ExitReason::TakeProfit),
        "circuit_breaker" => Ok(ExitReason::CircuitBreaker),
        other => Err(format!("exit reason `{other}` is not stop_loss, take_profit or circuit_breaker")),
    }
}

fn signal(words: &Words<'_>) -> Result<SignalReceived, String> {
    let price_limit = words.options.get("limit").map(|text| decimal(text, "limit")).transpose()?;
    let order_type = match words.options.get("type") {
        Some(text) => text.parse().map_err(|error| format!("type: {error}"))?,
        None if price_limit.is_some() => OrderType::Limit,
        None => OrderType::Market,
    };
    Ok(SignalReceived {
        signal_id: words.parse(0, "signal id")?,
        strategy_id: words.options.get("strategy").copied().unwrap_or("manual").parse().map_err(|e| format!("{e}"))?,
        symbol: words.parse(1, "symbol")?,
        side: words.parse(2, "side")?,
        quantity: decimal(words.at(3, "quantity")?, "quantity")?,
        order_type,
        price_limit,
        price_stop_loss: words.options.get("stop").map(|text| decimal(text, "stop")).transpose()?,
        price_take_profit: words.options.get("take").map(|text| decimal(text, "take")).transpose()?,
    })
}

fn import(words: &Words<'_>) -> Result<Event, String> {
    if words.at(4, "`@`")? != "@" {
        return Err("expected `import FILL SYMBOL SIDE QUANTITY @ PRICE`".into());
    }
    Ok(Event::FillImported(FillImported {
        fill_id: words.parse(0, "fill id")?,
        order_id: words.options.get("order").copied().unwrap_or("external").parse().map_err(|e| format!("{e}"))?,
        symbol: words.parse(1, "symbol")?,
        side: words.parse(2, "side")?,
        quantity: words.parse(3, "quantity")?,
        price: words.parse(5, "price")?,
        fee: Money::of(words.options.get("fee").map(|text| decimal(text, "fee")).transpose()?.unwrap_or_default()),
        liquidity: None,
    }))
}

fn trip(words: &Words<'_>) -> Result<Event, String> {
    let cause = match words.at(0, "cause")? {
        "drawdown" => BreakerCause::Drawdown,
        "daily_loss" => BreakerCause::DailyLoss,
        other => return Err(format!("breaker cause `{other}` is not drawdown or daily_loss")),
    };
    Ok(Event::CircuitBreakerTripped(CircuitBreakerTripped {
        cause,
        measured: decimal(words.at(1, "measured")?, "measured")?,
        limit: decimal(words.at(2, "limit")?, "limit")?,
    }))
}

/// The document's four limits default to its values; the rest are off.
fn limits(words: &Words<'_>) -> Result<RiskLimits, String> {
    let money = |key: &str, default: i64| -> Result<Money, String> {
        Ok(Money::of(
            words.options.get(key).map(|text| decimal(text, key)).transpose()?.unwrap_or(Decimal::from(default)),
        ))
    };
    let percent = |key: &str, default: i64| -> Result<Decimal, String> {
        Ok(words.options.get(key).map(|text| decimal(text, key)).transpose()?.unwrap_or(Decimal::from(default)))
    };
    let symbols = words
        .options
        .get("symbols")
        .map(|list| {
            let mut symbols = list
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<Symbol>, _>>()
                .map_err(|e| format!("symbols: {e}"))?;
            symbols.sort();
            Ok::<_, String>(symbols)
        })
        .transpose()?;
    let reset = match words.options.get("reset").copied() {
        None | Some("manual") => BreakerResetPolicy::Manual,
        Some("next_utc_day") => BreakerResetPolicy::NextUtcDay,
        Some(other) => return Err(format!("reset `{other}` is not manual or next_utc_day")),
    };
    let optional = |key: &str| words.options.get(key).map(|text| decimal(text, key)).transpose();
    Ok(RiskLimits {
        capital_initial: money("capital", 1_000_000)?,
        symbols,
        notional_position_max: money("position_max", 1_000_000)?,
        exposure_total_max: money("exposure_max", 5_000_000)?,
        drawdown_max_percent: percent("drawdown_max", 20)?,
        daily_loss_max_percent: percent("daily_loss_max", 10)?,
        order_quantity_max: words.option("quantity_max")?,
        order_notional_max: optional("notional_max")?.map(Money::of),
        price_band_percent: optional("band")?,
        orders_per_minute_max: words.option("rate")?,
        correlation_max: optional("correlation")?,
        correlation_window: words.option("window")?,
        correlated_exposure_max: optional("correlated_max")?.map(Money::of),
        circuit_breaker_reset: reset,
    })
}
