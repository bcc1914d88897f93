//! The ledger as users read it: positions, orders, portfolio and risk with
//! derived averages and percentages, in the field names of the source
//! document. One structure serves `replay --format json|yaml` and insta
//! snapshots; decimals serialize as exact strings in human-readable formats.

use crate::orders::{Order, OrderStatus};
use crate::positions::{Position, PositionSide, PositionStatus};
use crate::risk::{RiskEventRecord, RiskLevel};
use crate::Ledger;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tradeledger_events::{
    decimal_codec, Money, OrderId, OrderType, PositionId, Price, Quantity, Seq, Side, SignalId, Symbol,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    pub seq: Seq,
    /// Open positions first (by symbol), then closed ones in closing order.
    pub positions: Vec<PositionView>,
    /// In submission order.
    pub orders: Vec<OrderView>,
    pub portfolio: PortfolioView,
    pub risk: RiskView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionView {
    pub id: PositionId,
    pub symbol: Symbol,
    pub side: PositionSide,
    pub status: PositionStatus,
    pub quantity: Quantity,
    #[serde(with = "decimal_codec::option")]
    pub avg_entry_price: Option<Decimal>,
    #[serde(with = "decimal_codec::option")]
    pub avg_exit_price: Option<Decimal>,
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub fees: Money,
    pub mark_price: Price,
    pub stop_loss: Option<Price>,
    pub take_profit: Option<Price>,
    pub seq_opened: Seq,
    pub seq_closed: Option<Seq>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub signal_id: Option<SignalId>,
    pub symbol: Symbol,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    pub status: OrderStatus,
    pub quantity: Quantity,
    pub filled_quantity: Quantity,
    #[serde(with = "decimal_codec::option")]
    pub avg_fill_price: Option<Decimal>,
    pub fees: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioView {
    pub realized_pnl: Money,
    pub unrealized_pnl: Money,
    pub total_pnl: Money,
    pub fees: Money,
    pub total_market_value: Money,
    pub gross_exposure: Money,
    pub net_exposure: Money,
    pub equity: Money,
    pub equity_peak: Money,
    #[serde(with = "decimal_codec")]
    pub drawdown_percentage: Decimal,
    #[serde(with = "decimal_codec")]
    pub max_drawdown_percentage: Decimal,
    pub daily_pnl: Money,
    #[serde(with = "decimal_codec")]
    pub daily_pnl_percentage: Decimal,
    pub positions_closed: u64,
    pub wins: u64,
    pub losses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskView {
    pub level: RiskLevel,
    /// `tripped` or `ok`.
    pub circuit_breaker: String,
    /// Newest first.
    pub events: Vec<RiskEventRecord>,
}

/// Derived values are rounded by rust_decimal at 28 significant digits and
/// printed without trailing zeros.
fn tidy(value: Option<Decimal>) -> Option<Decimal> {
    value.map(|value| value.normalize())
}

fn position_view(position: &Position) -> PositionView {
    PositionView {
        id: position.position_id.clone(),
        symbol: position.symbol.clone(),
        side: position.side,
        status: position.status,
        quantity: position.quantity,
        avg_entry_price: tidy(position.price_entry_average()),
        avg_exit_price: tidy(position.price_exit_average()),
        realized_pnl: position.realized_pnl,
        unrealized_pnl: position.unrealized_pnl,
        fees: position.fees,
        mark_price: position.price_mark,
        stop_loss: position.price_stop_loss,
        take_profit: position.price_take_profit,
        seq_opened: position.seq_opened,
        seq_closed: position.seq_closed,
    }
}

fn order_view(order: &Order) -> OrderView {
    OrderView {
        id: order.order_id.clone(),
        signal_id: order.signal_id.clone(),
        symbol: order.symbol.clone(),
        side: order.side,
        order_type: order.order_type,
        status: order.status,
        quantity: order.quantity,
        filled_quantity: order.quantity_filled,
        avg_fill_price: tidy(order.price_fill_average()),
        fees: order.fees,
    }
}

fn orders_in_submission_order(ledger: &Ledger) -> Vec<&Order> {
    let mut orders: Vec<&Order> = ledger.orders.orders.values_sorted().collect();
    orders.sort_by_key(|order| order.seq_submitted);
    orders
}

impl LedgerView {
    pub fn of(ledger: &Ledger) -> LedgerView {
        let portfolio = &ledger.portfolio;
        let positions =
            ledger.positions.open.values().chain(ledger.positions.closed.iter()).map(position_view).collect();
        LedgerView {
            seq: ledger.seq,
            positions,
            orders: orders_in_submission_order(ledger).into_iter().map(order_view).collect(),
            portfolio: PortfolioView {
                realized_pnl: portfolio.realized_pnl,
                unrealized_pnl: portfolio.unrealized_pnl,
                total_pnl: Money::of(portfolio.total_pnl()),
                fees: portfolio.fees,
                total_market_value: portfolio.market_value,
                gross_exposure: portfolio.exposure_gross,
                net_exposure: portfolio.exposure_net,
                equity: portfolio.equity,
                equity_peak: portfolio.equity_peak,
                drawdown_percentage: portfolio.drawdown_percentage().normalize(),
                max_drawdown_percentage: portfolio.max_drawdown_percentage().normalize(),
                daily_pnl: Money::of(portfolio.daily_pnl()),
                daily_pnl_percentage: portfolio.daily_pnl_percentage().normalize(),
                positions_closed: portfolio.positions_closed,
                wins: portfolio.wins,
                losses: portfolio.losses,
            },
            risk: RiskView {
                level: ledger.risk_assessment().level,
                circuit_breaker: if ledger.risk.breaker_tripped.is_some() { "tripped" } else { "ok" }.to_owned(),
                events: ledger.risk.events.iter().cloned().collect(),
            },
        }
    }
}
