//! The built-in example strategy, so a new user sees a whole run without
//! writing one: a simple moving-average crossover per symbol.
//!
//! `sma-cross:fast=20,slow=50,qty=0.01[,stop=0.5][,take=1][,short=true]`
//!
//! When the fast average of the last `fast` tick prices crosses above the
//! slow one, it aims for a long position of `qty`; when it crosses below, for
//! flat (or a short of `qty` with `short=true`). `stop` and `take` set a
//! stop-loss and take-profit that many percent from the crossing price.
//!
//! The strategy only proposes: its signals are recorded as `SignalReceived`
//! inputs and go through the same risk checks as anyone's, so an audit
//! re-runs them without the strategy.

use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::str::FromStr;
use tradeledger_events::{OrderType, Price, Side, SignalId, SignalReceived, StrategyId, Symbol, Timestamp};

pub const STRATEGY_ID: &str = "sma-cross";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy `{spec}`: {reason} (expected sma-cross:fast=20,slow=50,qty=0.01[,stop=0.5][,take=1][,short=true])")]
pub struct StrategyError {
    pub spec: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmaCrossSpec {
    pub fast: usize,
    pub slow: usize,
    pub quantity: Decimal,
    pub stop_percent: Option<Decimal>,
    pub take_percent: Option<Decimal>,
    pub short: bool,
}

impl FromStr for SmaCrossSpec {
    type Err = StrategyError;

    fn from_str(spec: &str) -> Result<SmaCrossSpec, StrategyError> {
        let error = |reason: String| StrategyError { spec: spec.to_owned(), reason };
        let parameters = spec
            .strip_prefix("sma-cross")
            .and_then(|rest| if rest.is_empty() { Some("") } else { rest.strip_prefix(':') })
            .ok_or_else(|| error("the only built-in strategy is sma-cross".into()))?;
        let mut parsed = SmaCrossSpec {
            fast: 20,
            slow: 50,
            quantity: Decimal::new(1, 2),
            stop_percent: None,
            take_percent: None,
            short: false,
        };
        for pair in parameters.split(',').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| error(format!("`{pair}` is not key=value")))?;
            let number = || Decimal::from_str(value).map_err(|_| error(format!("{key}: `{value}` is not a number")));
            let count = || value.parse::<usize>().map_err(|_| error(format!("{key}: `{value}` is not a whole number")));
            match key {
                "fast" => parsed.fast = count()?,
                "slow" => parsed.slow = count()?,
                "qty" => parsed.quantity = number()?,
                "stop" => parsed.stop_percent = Some(number()?),
                "take" => parsed.take_percent = Some(number()?),
                "short" => {
                    parsed.short =
                        value.parse().map_err(|_| error(format!("short: `{value}` is not true or false")))?;
                }
                _ => return Err(error(format!("unknown parameter `{key}`"))),
            }
        }
        parsed.validate().map_err(error)?;
        Ok(parsed)
    }
}

impl SmaCrossSpec {
    fn validate(&self) -> Result<(), String> {
        let positive = |value: Option<Decimal>| value.is_none_or(|value| value > Decimal::ZERO);
        if self.fast == 0 || self.fast >= self.slow {
            Err(format!("fast ({}) must be at least 1 and below slow ({})", self.fast, self.slow))
        } else if self.quantity <= Decimal::ZERO {
            Err(format!("qty ({}) must be positive", self.quantity))
        } else if !positive(self.stop_percent) || !positive(self.take_percent) {
            Err("stop and take are percentages above zero".into())
        } else if self.stop_percent.is_some_and(|stop| stop >= Decimal::ONE_HUNDRED) {
            Err("stop must be below 100 percent".into())
        } else {
            Ok(())
        }
    }
}

/// The averages of one symbol, kept as exact running sums.
#[derive(Debug, Default)]
struct Averages {
    window: VecDeque<Decimal>,
    /// Ticks seen, for signal ids: two crossings can share a tick time.
    ticks: u64,
    sum_fast: Decimal,
    sum_slow: Decimal,
    /// fast vs slow at the last tick where they differed.
    relation: Option<Ordering>,
}

#[derive(Debug)]
pub struct SmaCross {
    spec: SmaCrossSpec,
    symbols: BTreeMap<Symbol, Averages>,
}

impl SmaCross {
    pub fn new(spec: SmaCrossSpec) -> SmaCross {
        SmaCross { spec, symbols: BTreeMap::new() }
    }

    /// Takes a tick; on a crossing, returns the signed position to aim for.
    pub fn on_tick(&mut self, symbol: &Symbol, price: Price) -> Option<Decimal> {
        let spec = &self.spec;
        let averages = self.symbols.entry(symbol.clone()).or_default();
        let price = price.get();
        averages.ticks += 1;
        averages.window.push_back(price);
        averages.sum_fast += price;
        averages.sum_slow += price;
        if averages.window.len() > spec.fast {
            averages.sum_fast -= averages.window[averages.window.len() - 1 - spec.fast];
        }
        if averages.window.len() > spec.slow {
            averages.sum_slow -= averages.window.pop_front().unwrap_or_default();
        }
        if averages.window.len() < spec.slow {
            return None;
        }
        // fast/slow averages compared without dividing: sum_fast/f vs sum_slow/s.
        let scale = |sum: Decimal, count: usize| sum.checked_mul(Decimal::from(count));
        let relation = match (scale(averages.sum_fast, spec.slow), scale(averages.sum_slow, spec.fast)) {
            (Some(fast), Some(slow)) => fast.cmp(&slow),
            _ => return None,
        };
        if relation == Ordering::Equal || averages.relation == Some(relation) {
            return None;
        }
        let crossed = averages.relation.is_some();
        averages.relation = Some(relation);
        let flat_or_short = if spec.short { -spec.quantity } else { Decimal::ZERO };
        crossed.then_some(if relation == Ordering::Greater { spec.quantity } else { flat_or_short })
    }

    /// The signal that moves `position` (signed) to `target` at `price`, if
    /// they differ. Its id, `sma-<tick time ns>-<symbol's tick number>`, is
    /// unique in a run and the same when the same feed is recorded again.
    pub fn signal(
        &self,
        symbol: &Symbol,
        time: Timestamp,
        price: Price,
        position: Decimal,
        target: Decimal,
    ) -> Option<SignalReceived> {
        let ticks = self.symbols.get(symbol).map_or(0, |averages| averages.ticks);
        let change = target - position;
        if change.is_zero() {
            return None;
        }
        let side = if change > Decimal::ZERO { Side::Buy } else { Side::Sell };
        let percent_away = |percent: Option<Decimal>, above: bool| {
            percent.map(|percent| {
                let factor = Decimal::ONE_HUNDRED + if above { percent } else { -percent };
                (price.get() * factor / Decimal::ONE_HUNDRED).round_dp(8)
            })
        };
        // Protective levels only for the position the signal leaves open.
        let long_after = target > Decimal::ZERO;
        let protect = !target.is_zero();
        Some(SignalReceived {
            signal_id: SignalId::try_from(format!("sma-{}-{ticks}", time.unix_nanos()).as_str()).ok()?,
            strategy_id: StrategyId::try_from(STRATEGY_ID).ok()?,
            symbol: symbol.clone(),
            side,
            quantity: change.abs(),
            order_type: OrderType::Market,
            price_limit: None,
            price_stop_loss: percent_away(self.spec.stop_percent, !long_after).filter(|_| protect),
            price_take_profit: percent_away(self.spec.take_percent, long_after).filter(|_| protect),
        })
    }
}
