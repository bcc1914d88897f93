//! Net positions per symbol, from fills: at most one open position per
//! symbol, a new id for every open-to-flat cycle.
//!
//! Exactness: a position keeps the exact cost of its open quantity
//! (`cost_open`, Σ price × quantity of the opening fills less what reductions
//! removed) rather than an average, so unrealized PnL is `mark × quantity −
//! cost_open` (negated for shorts) with no rounding. A partial reduction
//! removes `cost_open × closed / open` — a division, rounded half to even at
//! 16 decimal places — and leaves the exact remainder in
//! `cost_open`, so a position's realized PnL over its whole cycle is exact.
//! Both divisions of the fold (this one and a flipping fill's fee split) are
//! rounded to `math::DIVISION_SCALE` (16) places, so every later sum is exact.
//! Averages are derived for display only.

use crate::error::FoldError;
use crate::math::Checked;
use crate::Sequenced;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use tradeledger_events::{Money, PositionId, Price, Quantity, Seq, Side, Symbol, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSide {
    Long,
    Short,
}

impl PositionSide {
    fn opened_by(side: Side) -> PositionSide {
        match side {
            Side::Buy => PositionSide::Long,
            Side::Sell => PositionSide::Short,
        }
    }

    fn is_added_to_by(self, side: Side) -> bool {
        PositionSide::opened_by(side) == self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionStatus {
    Open,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub position_id: PositionId,
    pub symbol: Symbol,
    pub side: PositionSide,
    pub status: PositionStatus,
    /// Open quantity; zero once closed.
    pub quantity: Quantity,
    pub quantity_opened: Quantity,
    pub quantity_closed: Quantity,
    /// Exact cost of the open quantity (proceeds, for a short).
    pub cost_open: Money,
    /// Σ price × quantity of every opening fill: the entry average's numerator.
    pub cost_opened: Money,
    /// Σ price × quantity of every reducing fill: the exit average's numerator.
    pub proceeds_closed: Money,
    /// Σ over reducing fills of what they realized before fees.
    pub pnl_closed: Money,
    /// Every fee charged to this position, opening fees included.
    pub fees: Money,
    /// `pnl_closed − fees`.
    pub realized_pnl: Money,
    /// `mark × quantity − cost_open` (negated for a short); zero once closed.
    pub unrealized_pnl: Money,
    pub price_mark: Price,
    pub price_stop_loss: Option<Price>,
    pub price_take_profit: Option<Price>,
    pub seq_opened: Seq,
    pub time_opened: Timestamp,
    pub seq_closed: Option<Seq>,
    pub time_closed: Option<Timestamp>,
    pub fill_count: u32,
}

impl Position {
    /// Quantity-weighted average price of the opening fills.
    pub fn price_entry_average(&self) -> Option<Decimal> {
        self.cost_opened.get().checked_div(self.quantity_opened.get())
    }

    /// Quantity-weighted average price of the reducing fills, once there are any.
    pub fn price_exit_average(&self) -> Option<Decimal> {
        let closed = self.quantity_closed.get();
        (!closed.is_zero()).then(|| self.proceeds_closed.get().checked_div(closed)).flatten()
    }

    pub fn is_open(&self) -> bool {
        self.status == PositionStatus::Open
    }
}

/// A fill as the positions see it, whether ours or imported.
#[derive(Debug, Clone, Copy)]
pub struct FillFacts<'a> {
    pub seq: Seq,
    pub time: Timestamp,
    pub symbol: &'a Symbol,
    pub side: Side,
    pub quantity: Quantity,
    pub price: Price,
    pub fee: Money,
    pub price_stop_loss: Option<Price>,
    pub price_take_profit: Option<Price>,
}

impl<'a> FillFacts<'a> {
    /// A fill recorded by `envelope`, without protective prices.
    pub fn of(
        envelope: Sequenced<'_>,
        symbol: &'a Symbol,
        side: Side,
        quantity: Quantity,
        price: Price,
        fee: Money,
    ) -> FillFacts<'a> {
        FillFacts {
            seq: envelope.seq,
            time: envelope.time_event,
            symbol,
            side,
            quantity,
            price,
            fee,
            price_stop_loss: None,
            price_take_profit: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionBook {
    /// The open position of each symbol that has one.
    pub open: BTreeMap<Symbol, Position>,
    /// Closed positions, in the order they closed (the most recent ones
    /// under `Retention::Recent`).
    pub closed: VecDeque<Position>,
}

impl PositionBook {
    /// Applies one fill; returns the positions it closed (at most one).
    pub fn apply_fill(&mut self, fill: &FillFacts<'_>) -> Result<Option<Position>, FoldError> {
        let math = Checked(fill.seq);
        let mut closed = None;
        match self.open.remove(fill.symbol) {
            None => {
                self.open.insert(fill.symbol.clone(), open_position(fill, fill.quantity, fill.fee)?);
            }
            Some(mut position) if position.side.is_added_to_by(fill.side) => {
                add_to(&mut position, fill, math)?;
                self.open.insert(fill.symbol.clone(), position);
            }
            Some(mut position) => {
                let (remainder, fee_remainder) = reduce(&mut position, fill, math)?;
                if position.is_open() {
                    self.open.insert(fill.symbol.clone(), position);
                } else {
                    self.closed.push_back(position.clone());
                    closed = Some(position);
                }
                if !remainder.get().is_zero() {
                    self.open.insert(fill.symbol.clone(), open_position(fill, remainder, fee_remainder)?);
                }
            }
        }
        if let Some(position) = self.open.get_mut(fill.symbol) {
            mark_to(position, fill.price, math)?;
        }
        Ok(closed)
    }

    /// A tick moves the mark — the last tick, or the last fill when no tick
    /// has come since — and with it the open position's unrealized PnL.
    pub fn apply_tick(&mut self, seq: Seq, symbol: &Symbol, price: Price) -> Result<(), FoldError> {
        match self.open.get_mut(symbol) {
            Some(position) => mark_to(position, price, Checked(seq)),
            None => Ok(()),
        }
    }
}

fn open_position(fill: &FillFacts<'_>, quantity: Quantity, fee: Money) -> Result<Position, FoldError> {
    let math = Checked(fill.seq);
    let cost = Money::of(math.mul(fill.price.get(), quantity.get(), "position cost")?);
    let position_id = PositionId::try_from(format!("P{}", fill.seq).as_str())
        .map_err(|_| FoldError::Overflow { seq: fill.seq, what: "position id" })?;
    Ok(Position {
        position_id,
        symbol: fill.symbol.clone(),
        side: PositionSide::opened_by(fill.side),
        status: PositionStatus::Open,
        quantity,
        quantity_opened: quantity,
        quantity_closed: Quantity::ZERO,
        cost_open: cost,
        cost_opened: cost,
        proceeds_closed: Money::ZERO,
        pnl_closed: Money::ZERO,
        fees: fee,
        // 0 − fee rather than −fee: a zero fee must not leave a "−0".
        realized_pnl: Money::of(Decimal::ZERO - fee.get()),
        unrealized_pnl: Money::ZERO,
        price_mark: fill.price,
        price_stop_loss: fill.price_stop_loss,
        price_take_profit: fill.price_take_profit,
        seq_opened: fill.seq,
        time_opened: fill.time,
        seq_closed: None,
        time_closed: None,
        fill_count: 1,
    })
}

fn add_to(position: &mut Position, fill: &FillFacts<'_>, math: Checked) -> Result<(), FoldError> {
    let cost = math.mul(fill.price.get(), fill.quantity.get(), "fill cost")?;
    position.cost_open = Money::of(math.add(position.cost_open.get(), cost, "position cost")?);
    position.cost_opened = Money::of(math.add(position.cost_opened.get(), cost, "position cost")?);
    position.quantity = quantity(math.add(position.quantity.get(), fill.quantity.get(), "quantity")?, math)?;
    position.quantity_opened =
        quantity(math.add(position.quantity_opened.get(), fill.quantity.get(), "quantity opened")?, math)?;
    charge_fee(position, fill.fee, math)?;
    position.fill_count = position.fill_count.saturating_add(1);
    Ok(())
}

/// Reduces (or closes) a position by an opposite fill; returns what is left
/// of the fill to open a position on the other side, and that part's fee. A
/// fill's fee is split between the positions in proportion to quantity; the
/// opening part gets the exact remainder, so no fee is lost or invented.
fn reduce(position: &mut Position, fill: &FillFacts<'_>, math: Checked) -> Result<(Quantity, Money), FoldError> {
    let closing = fill.quantity.min(position.quantity);
    let remainder = quantity(math.sub(fill.quantity.get(), closing.get(), "fill remainder")?, math)?;
    let fee_closing = if remainder.get().is_zero() {
        fill.fee.get()
    } else {
        math.div(math.mul(fill.fee.get(), closing.get(), "fee split")?, fill.quantity.get(), "fee split")?
    };
    let fee_opening = Money::of(math.sub(fill.fee.get(), fee_closing, "fee split")?);
    let cost_removed = if closing == position.quantity {
        position.cost_open.get()
    } else {
        let scaled = math.mul(position.cost_open.get(), closing.get(), "cost removed")?;
        math.div(scaled, position.quantity.get(), "cost removed")?
    };
    let value = math.mul(fill.price.get(), closing.get(), "closing value")?;
    let pnl = match position.side {
        PositionSide::Long => math.sub(value, cost_removed, "closing pnl")?,
        PositionSide::Short => math.sub(cost_removed, value, "closing pnl")?,
    };
    position.pnl_closed = Money::of(math.add(position.pnl_closed.get(), pnl, "position pnl")?);
    position.proceeds_closed = Money::of(math.add(position.proceeds_closed.get(), value, "closing proceeds")?);
    position.cost_open = Money::of(math.sub(position.cost_open.get(), cost_removed, "position cost")?);
    position.quantity = quantity(math.sub(position.quantity.get(), closing.get(), "quantity")?, math)?;
    position.quantity_closed = quantity(math.add(position.quantity_closed.get(), closing.get(), "closed")?, math)?;
    position.fill_count = position.fill_count.saturating_add(1);
    charge_fee(position, Money::of(fee_closing), math)?;
    if position.quantity.get().is_zero() {
        position.status = PositionStatus::Closed;
        position.seq_closed = Some(fill.seq);
        position.time_closed = Some(fill.time);
        position.unrealized_pnl = Money::ZERO;
        position.price_mark = fill.price;
    }
    Ok((remainder, fee_opening))
}

fn charge_fee(position: &mut Position, fee: Money, math: Checked) -> Result<(), FoldError> {
    position.fees = Money::of(math.add(position.fees.get(), fee.get(), "position fees")?);
    position.realized_pnl = Money::of(math.sub(position.pnl_closed.get(), position.fees.get(), "realized pnl")?);
    Ok(())
}

fn mark_to(position: &mut Position, price: Price, math: Checked) -> Result<(), FoldError> {
    let value = math.mul(price.get(), position.quantity.get(), "market value")?;
    let unrealized = match position.side {
        PositionSide::Long => math.sub(value, position.cost_open.get(), "unrealized pnl")?,
        PositionSide::Short => math.sub(position.cost_open.get(), value, "unrealized pnl")?,
    };
    position.price_mark = price;
    position.unrealized_pnl = Money::of(unrealized);
    Ok(())
}

fn quantity(value: Decimal, math: Checked) -> Result<Quantity, FoldError> {
    Quantity::new(value).map_err(|_| FoldError::Overflow { seq: math.0, what: "a quantity below zero" })
}
