//! Checked decimal arithmetic for the fold: rust_decimal's operators panic
//! on overflow, and a fold must answer any journal with a value or an error
//! naming the seq, never a panic.

use crate::error::FoldError;
use rust_decimal::Decimal;
use tradeledger_events::Seq;

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

    pub fn div(self, left: Decimal, right: Decimal, what: &'static str) -> Result<Decimal, FoldError> {
        left.checked_div(right).ok_or_else(|| self.overflow(what))
    }
}
