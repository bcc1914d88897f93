use crate::orders::OrderStatus;
use tradeledger_events::{FillId, OrderId, Quantity, Seq, SignalId};

/// A journal the fold cannot accept: each is a defect in what was recorded
/// (the engine never writes one), named by the seq where it is. The fold stops
/// there; the state it was building must be discarded, never guessed at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("seq {seq} follows seq {previous}: a fold takes every event once, in order")]
    OutOfOrder { seq: Seq, previous: Seq },
    #[error("seq {seq}: order {order_id} was already submitted at seq {first}")]
    DuplicateOrder { seq: Seq, order_id: OrderId, first: Seq },
    #[error("seq {seq}: {event} for order {order_id}, which was never submitted")]
    UnknownOrder { seq: Seq, order_id: OrderId, event: &'static str },
    #[error("seq {seq}: order {order_id} cannot go from {status:?} on {event}")]
    InvalidTransition { seq: Seq, order_id: OrderId, status: OrderStatus, event: &'static str },
    #[error("seq {seq}: fill {fill_id} of {quantity} overfills order {order_id}, which has {remaining} left")]
    Overfill { seq: Seq, order_id: OrderId, fill_id: FillId, quantity: Quantity, remaining: Quantity },
    #[error("seq {seq}: fill {fill_id} was already applied at seq {first}")]
    DuplicateFill { seq: Seq, fill_id: FillId, first: Seq },
    #[error("seq {seq}: fill {fill_id} says {found}, but order {order_id} is {expected}")]
    FillMismatch { seq: Seq, order_id: OrderId, fill_id: FillId, expected: String, found: String },
    #[error("seq {seq}: fill {fill_id} has zero quantity")]
    EmptyFill { seq: Seq, fill_id: FillId },
    #[error("seq {seq}: signal {signal_id} was already received at seq {first}")]
    DuplicateSignal { seq: Seq, signal_id: SignalId, first: Seq },
    #[error("seq {seq}: {event} for signal {signal_id}, which was never received")]
    UnknownSignal { seq: Seq, signal_id: SignalId, event: &'static str },
    #[error("seq {seq}: signal {signal_id} already has a risk verdict (seq {first})")]
    DuplicateVerdict { seq: Seq, signal_id: SignalId, first: Seq },
    #[error("seq {seq}: arithmetic overflow computing {what}")]
    Overflow { seq: Seq, what: &'static str },
}
