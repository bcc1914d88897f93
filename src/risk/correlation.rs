//! Rolling correlation of returns between two symbols' recent tick prices.
//!
//! The only floating point in a decision: a correlation needs a square root.
//! Returns are `p[i] / p[i−1] − 1` in f64, the two series are aligned by
//! position (each symbol's latest returns), and the coefficient is rounded
//! to 6 decimal places before it becomes a `Decimal`, so the same prices give
//! the same recorded value on every machine.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use std::collections::VecDeque;
use tradeledger_events::Price;

fn returns(prices: &VecDeque<Price>) -> Vec<f64> {
    let as_float = |price: &Price| price.get().to_string().parse::<f64>().unwrap_or(f64::NAN);
    let floats: Vec<f64> = prices.iter().map(as_float).collect();
    floats.windows(2).map(|pair| pair[1] / pair[0] - 1.0).collect()
}

/// Pearson correlation of the two symbols' latest returns; `None` with fewer
/// than two aligned returns or when either series does not move.
pub fn correlation(first: &VecDeque<Price>, second: &VecDeque<Price>) -> Option<Decimal> {
    let (first, second) = (returns(first), returns(second));
    let count = first.len().min(second.len());
    if count < 2 {
        return None;
    }
    let first = &first[first.len() - count..];
    let second = &second[second.len() - count..];
    let mean = |series: &[f64]| series.iter().sum::<f64>() / count as f64;
    let (mean_first, mean_second) = (mean(first), mean(second));
    let mut covariance = 0.0;
    let mut variance_first = 0.0;
    let mut variance_second = 0.0;
    for (a, b) in first.iter().zip(second) {
        covariance += (a - mean_first) * (b - mean_second);
        variance_first += (a - mean_first).powi(2);
        variance_second += (b - mean_second).powi(2);
    }
    let denominator = (variance_first * variance_second).sqrt();
    if !denominator.is_finite() || denominator == 0.0 {
        return None;
    }
    let coefficient = (covariance / denominator).clamp(-1.0, 1.0);
    Decimal::from_f64(coefficient).map(|value| value.round_dp(6))
}
