//! Checked decimal arithmetic for the fold: rust_decimal's operators panic
//! on overflow, and a fold must answer any journal with a value or an error
//! naming the seq, never a panic.

use crate::error::FoldError;
use rust_decimal::{Decimal, RoundingStrategy};
use tradeledger_events::Seq;

/// Scale the fold's only divisions are rounded to (half to even). Prices and
/// quantities of up to 8 decimal places make products of up to 16, so every
/// sum the fold keeps has at most 16 decimal places and stays exact below
/// about 7.9 × 10^12 (rust_decimal's 96-bit mantissa). Left unrounded, a
/// quotient's 28 significant digits would make the next sum round silently.
pub const DIVISION_SCALE: u32 = 16;

/// Arithmetic on behalf of the event at a seq.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked(pub Seq);

impl Checked {
    fn overflow(self, what: &'static str) -> FoldError {
        FoldError::Overflow { seq: self.0, what }
    }

    pub fn add(self, left: Decimal, right: Decimal, what: &'static str) -> Result<Decimal, FoldError> {
        left.checked_add(right).ok_or_else(|| self.overflow(what))
    }

    pub fn sub(self, left: Decimal, right: Decimal, what: &'static str) -> Result<Decimal, FoldError> {
        left.checked_sub(right).ok_or_else(|| self.overflow(what))
    }

    pub fn mul(self, left: Decimal, right: Decimal, what: &'static str) -> Result<Decimal, FoldError> {
        left.checked_mul(right).ok_or_else(|| self.overflow(what))
    }

    /// `left / right` rounded half to even at `DIVISION_SCALE`.
    pub fn div(self, left: Decimal, right: Decimal, what: &'static str) -> Result<Decimal, FoldError> {
        let quotient = left.checked_div(right).ok_or_else(|| self.overflow(what))?;
        Ok(quotient.round_dp_with_strategy(DIVISION_SCALE, RoundingStrategy::MidpointNearestEven))
    }
}
