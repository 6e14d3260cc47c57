//! Split-conformal prediction intervals from backtest errors, and their empirical coverage.
//!
//! Each backtest error of a series' selected model is divided by that
//! series' MASE scale, so errors of large and small products share one
//! pool. For every forecast step the pooled absolute scaled errors give the
//! 80% and 95% quantiles, taking the `ceil((n + 1) p)`-th smallest of `n`
//! errors as split conformal prediction does. A series' interval is its
//! point forecast plus or minus the quantile times its scale.
//!
//! A step with fewer than [`MIN_STEP_ERRORS`] errors uses the pool of all
//! steps. Without any backtest error, the widths fall back to a normal
//! approximation: `z * 1.25 * sqrt(step)` scales, where 1.25 converts a mean
//! absolute error to a standard deviation for normal errors.

use serde::Serialize;

/// Minimum number of errors at one step for a step-specific quantile.
pub const MIN_STEP_ERRORS: usize = 30;

/// Standard normal quantiles of the two-sided 80% and 95% intervals.
const Z80: f64 = 1.2816;
const Z95: f64 = 1.96;

/// Half-widths of the intervals in units of a series' scale, per forecast step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalWidths {
    pub half_width_80: Vec<f64>,
    pub half_width_95: Vec<f64>,
    /// Scaled errors the widths were computed from.
    pub n_errors: usize,
}

/// Lower and upper bounds of the 80% and 95% intervals of one forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    pub lower_80: Vec<f64>,
    pub upper_80: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
}

/// Computes interval half-widths per step from scaled backtest errors.
///
/// `errors_by_step[h]` lists the scaled errors at step `h`. Non-finite
/// errors are ignored.
pub fn conformal_widths(errors_by_step: &[Vec<f64>], horizon: usize) -> IntervalWidths {
    let pooled: Vec<f64> = errors_by_step
        .iter()
        .flatten()
        .map(|e| e.abs())
        .filter(|e| e.is_finite())
        .collect();

    let mut half_width_80 = Vec::with_capacity(horizon);
    let mut half_width_95 = Vec::with_capacity(horizon);
    for step in 0..horizon {
        let at_step: Vec<f64> = errors_by_step
            .get(step)
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e.abs())
                    .filter(|e| e.is_finite())
                    .collect()
            })
            .unwrap_or_default();
        let source = if at_step.len() >= MIN_STEP_ERRORS {
            &at_step
        } else {
            &pooled
        };
        let normal = ((step + 1) as f64).sqrt() * 1.25;
        half_width_80.push(conformal_quantile(source, 0.8).unwrap_or(Z80 * normal));
        half_width_95.push(conformal_quantile(source, 0.95).unwrap_or(Z95 * normal));
    }
    IntervalWidths {
        half_width_80,
        half_width_95,
        n_errors: pooled.len(),
    }
}

/// Returns the split-conformal quantile: the `ceil((n + 1) p)`-th smallest
/// value, capped at the largest. Returns `None` for no values.
pub fn conformal_quantile(values: &[f64], level: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() + 1) as f64 * level).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl IntervalWidths {
    /// Builds the intervals around `point` for a series with MASE scale `scale`.
    pub fn intervals(&self, point: &[f64], scale: f64) -> Intervals {
        let bound = |widths: &[f64], sign: f64| -> Vec<f64> {
            point
                .iter()
                .enumerate()
                .map(|(step, p)| p + sign * widths[step.min(widths.len() - 1)] * scale)
                .collect()
        };
        Intervals {
            lower_80: bound(&self.half_width_80, -1.0),
            upper_80: bound(&self.half_width_80, 1.0),
            lower_95: bound(&self.half_width_95, -1.0),
            upper_95: bound(&self.half_width_95, 1.0),
        }
    }
}

/// Counts the actual values inside `[lower, upper]`, returning (inside, total).
pub fn count_covered(actual: &[f64], lower: &[f64], upper: &[f64]) -> (usize, usize) {
    let inside = actual
        .iter()
        .zip(lower.iter().zip(upper))
        .filter(|(a, (lo, hi))| *lo <= *a && *a <= *hi)
        .count();
    (inside, actual.len().min(lower.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformal_quantile_uses_finite_sample_rank() {
        let values: Vec<f64> = (1..=9).map(f64::from).collect();

        assert_eq!(conformal_quantile(&values, 0.8), Some(8.0));
        assert_eq!(conformal_quantile(&values, 0.95), Some(9.0));
        assert_eq!(conformal_quantile(&[], 0.8), None);
    }

    #[test]
    fn widths_fall_back_to_pooled_errors() {
        let errors = vec![vec![1.0; 40], vec![3.0]];

        let widths = conformal_widths(&errors, 2);

        assert_eq!(widths.half_width_80[0], 1.0);
        assert_eq!(widths.half_width_95[1], 1.0);
    }

    #[test]
    fn widths_without_errors_use_normal_approximation() {
        let widths = conformal_widths(&[], 1);

        assert!((widths.half_width_95[0] - 1.96 * 1.25).abs() < 1e-12);
    }

    #[test]
    fn intervals_scale_with_series() {
        let widths = IntervalWidths {
            half_width_80: vec![1.0],
            half_width_95: vec![2.0],
            n_errors: 1,
        };

        let intervals = widths.intervals(&[10.0, 10.0], 3.0);

        assert_eq!(intervals.lower_80, vec![7.0, 7.0]);
        assert_eq!(intervals.upper_95, vec![16.0, 16.0]);
    }

    #[test]
    fn coverage_counts_inside_values() {
        assert_eq!(
            count_covered(&[1.0, 5.0, 9.0], &[0.0; 3], &[5.0; 3]),
            (2, 3)
        );
    }
}
