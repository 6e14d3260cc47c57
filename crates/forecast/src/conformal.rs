//! Split-conformal prediction intervals from backtest errors, calibrated on the backtest.
//!
//! Errors are actual minus forecast, divided by the series' MASE scale so
//! that errors of large and small products share one pool. For every
//! forecast step, an interval at quantile level `q` runs from the point
//! plus the `(1 - q) / 2` quantile of the pooled signed errors to the point
//! plus the `(1 + q) / 2` quantile, each times the scale. Signed quantiles
//! keep the skew of intermittent demand, whose errors are many small
//! negatives (weeks without sales) and a few large positives. The upper
//! bound is the `ceil((n + 1) p)`-th smallest of `n` errors and the lower
//! bound the `floor((n + 1) p)`-th, as in split conformal prediction.
//! Every interval contains its point forecast. The lower bound of a series
//! without negative values in its history is clipped at 0.
//!
//! The pool should hold errors of models that were not selected on them
//! (see [`crate::panel_forecast`]), because selection makes the selected
//! model's own backtest errors small. Those errors still come from other
//! weeks than the forecast, so the quantile level of each interval is
//! calibrated: intervals built from the earlier backtest origins are
//! checked on the latest one, and [`calibrate_level`] picks the smallest
//! level from 0.5 to 0.995 (in steps of 0.005) whose coverage there
//! reaches the nominal 80% or 95%. A calibrated level can be below the
//! nominal one, for example when many actual values are 0 and so lie
//! inside every clipped interval.
//!
//! A step with fewer than [`MIN_STEP_ERRORS`] errors uses the pool of all
//! steps. Without any backtest error, the bounds fall back to a normal
//! approximation: `±z * 1.25 * sqrt(step)` scales, where 1.25 converts a
//! mean absolute error to a standard deviation for normal errors.

use serde::Serialize;

/// Minimum number of errors at one step for a step-specific quantile.
pub const MIN_STEP_ERRORS: usize = 30;

/// Nominal coverage of the narrower interval.
pub const NOMINAL_80: f64 = 0.8;

/// Nominal coverage of the wider interval.
pub const NOMINAL_95: f64 = 0.95;

/// Quantile levels tried in calibration, in units of [`LEVEL_STEP`]: 0.5 to 0.995.
const LEVEL_GRID: std::ops::RangeInclusive<u32> = 100..=199;

const LEVEL_STEP: f64 = 0.005;

/// Standard normal quantiles of the two-sided 80% and 95% intervals.
const Z80: f64 = 1.2816;
const Z95: f64 = 1.96;

/// Signed interval bounds in units of a series' scale, per forecast step.
///
/// A bound is an offset from the point forecast: negative for the lower
/// bound, positive for the upper one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalWidths {
    pub lower_80: Vec<f64>,
    pub upper_80: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
    /// Quantile level of the 80% interval after calibration.
    pub level_80: f64,
    /// Quantile level of the 95% interval after calibration.
    pub level_95: f64,
    /// Scaled errors the bounds were computed from.
    pub n_errors: usize,
    /// Coverage of the calibration check at the calibrated levels, when it ran.
    pub calibration: Option<CalibrationCoverage>,
}

/// Coverage of intervals from the earlier backtest origins on the latest one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationCoverage {
    pub coverage_80: f64,
    pub coverage_95: f64,
    /// Mean 80% interval width in scale units.
    pub mean_width_80: f64,
    /// Mean 95% interval width in scale units.
    pub mean_width_95: f64,
    /// Values checked.
    pub n_values: usize,
}

/// Lower and upper bounds of the 80% and 95% intervals of one forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervals {
    pub lower_80: Vec<f64>,
    pub upper_80: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
}

/// One series' forecast at a calibration origin, with the actual values.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationCase {
    pub point: Vec<f64>,
    pub actual: Vec<f64>,
    /// MASE scale of the history before the calibration origin.
    pub scale: f64,
    /// Whether that history has no negative value, so the lower bound is clipped at 0.
    pub non_negative: bool,
}

/// Signed scaled errors per forecast step: `errors[h]` lists the errors at step `h`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorPool {
    errors: Vec<Vec<f64>>,
}

impl ErrorPool {
    /// Creates an empty pool for `horizon` steps.
    pub fn new(horizon: usize) -> ErrorPool {
        ErrorPool {
            errors: vec![Vec::new(); horizon],
        }
    }

    /// Adds the errors of one origin divided by `scale`, ignoring non-finite
    /// results and steps past the horizon. Adds nothing when `scale` is not positive.
    pub fn add(&mut self, origin_errors: &[f64], scale: f64) {
        if scale <= 0.0 {
            return;
        }
        for (step, e) in origin_errors.iter().enumerate() {
            let scaled = e / scale;
            if let (Some(at_step), true) = (self.errors.get_mut(step), scaled.is_finite()) {
                at_step.push(scaled);
            }
        }
    }

    /// Returns the number of errors in the pool.
    pub fn len(&self) -> usize {
        self.errors.iter().map(Vec::len).sum()
    }

    /// Returns whether the pool has no error.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sorts each step's errors and the errors of all steps, for quantiles.
    fn sorted(&self) -> SortedPool {
        let mut all: Vec<f64> = self.errors.iter().flatten().copied().collect();
        all.sort_by(f64::total_cmp);
        let steps = self
            .errors
            .iter()
            .map(|errors| {
                let mut sorted = errors.clone();
                sorted.sort_by(f64::total_cmp);
                sorted
            })
            .collect();
        SortedPool { steps, all }
    }
}

struct SortedPool {
    steps: Vec<Vec<f64>>,
    all: Vec<f64>,
}

impl SortedPool {
    /// Returns the (lower, upper) offsets per step of an interval at
    /// quantile level `level`, or `±z` normal widths for an empty pool.
    fn bounds(&self, level: f64, z: f64, horizon: usize) -> (Vec<f64>, Vec<f64>) {
        let tail = (1.0 - level) / 2.0;
        (0..horizon)
            .map(|step| {
                let at_step = self.steps.get(step).filter(|s| s.len() >= MIN_STEP_ERRORS);
                let sorted = at_step.unwrap_or(&self.all);
                if sorted.is_empty() {
                    let half = z * 1.25 * ((step + 1) as f64).sqrt();
                    return (-half, half);
                }
                let lower = sorted_lower_quantile(sorted, tail);
                let upper = sorted_upper_quantile(sorted, 1.0 - tail);
                (lower.min(0.0), upper.max(0.0))
            })
            .unzip()
    }
}

/// Returns the split-conformal upper quantile: the `ceil((n + 1) p)`-th
/// smallest value, capped at the largest. Returns `None` for no values.
pub fn conformal_quantile(values: &[f64], level: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (!sorted.is_empty()).then(|| sorted_upper_quantile(&sorted, level))
}

/// Returns the split-conformal lower quantile: the `floor((n + 1) p)`-th
/// smallest value, at least the smallest. Returns `None` for no values.
pub fn conformal_lower_quantile(values: &[f64], level: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (!sorted.is_empty()).then(|| sorted_lower_quantile(&sorted, level))
}

/// Tolerance on `(n + 1) p` before rounding it to a rank, so that a level
/// such as `(1 - 0.8) / 2`, stored as 0.0999..., gives the exact rank.
const RANK_TOLERANCE: f64 = 1e-9;

fn sorted_upper_quantile(sorted: &[f64], level: f64) -> f64 {
    let rank = ((sorted.len() + 1) as f64 * level - RANK_TOLERANCE).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted_lower_quantile(sorted: &[f64], level: f64) -> f64 {
    let rank = ((sorted.len() + 1) as f64 * level + RANK_TOLERANCE).floor() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Computes the bounds per step from a pool of signed scaled errors at the
/// given quantile levels of the 80% and 95% intervals.
///
/// The 95% bounds are widened where needed to be wider than the 80% ones.
pub fn conformal_widths(
    pool: &ErrorPool,
    horizon: usize,
    level_80: f64,
    level_95: f64,
) -> IntervalWidths {
    let sorted = pool.sorted();
    let (lower_80, upper_80) = sorted.bounds(level_80, Z80, horizon);
    let (lower_95, upper_95) = sorted.bounds(level_95, Z95, horizon);
    // With too few errors both quantiles are the most extreme error, so
    // the 95% bound then takes the normal ratio of the two widths.
    let widen = Z95 / Z80;
    let lower_95 = lower_95
        .iter()
        .zip(&lower_80)
        .map(|(&wide, &narrow)| {
            if wide < narrow {
                wide
            } else {
                narrow.min(narrow * widen)
            }
        })
        .collect();
    let upper_95 = upper_95
        .iter()
        .zip(&upper_80)
        .map(|(&wide, &narrow)| {
            if wide > narrow {
                wide
            } else {
                narrow.max(narrow * widen)
            }
        })
        .collect();
    IntervalWidths {
        lower_80,
        upper_80,
        lower_95,
        upper_95,
        level_80,
        level_95,
        n_errors: pool.len(),
        calibration: None,
    }
}

/// Returns the smallest quantile level from 0.5 to 0.995 at which intervals
/// from `pool` cover at least `nominal` of the actual values of `cases`,
/// with that coverage and mean width. Returns the largest level of the grid
/// when none reaches it, and `None` when `pool` or `cases` is empty.
pub fn calibrate_level(
    pool: &ErrorPool,
    cases: &[CalibrationCase],
    nominal: f64,
) -> Option<(f64, Coverage)> {
    if pool.is_empty() || cases.iter().all(|c| c.actual.is_empty()) {
        return None;
    }
    let horizon = cases.iter().map(|c| c.point.len()).max().unwrap_or(0);
    let sorted = pool.sorted();
    let mut last = None;
    for grid_index in LEVEL_GRID {
        let level = grid_index as f64 * LEVEL_STEP;
        let (lower, upper) = sorted.bounds(level, Z95, horizon);
        let coverage = case_coverage(cases, &lower, &upper);
        let reached = coverage.share() >= nominal;
        last = Some((level, coverage));
        if reached {
            break;
        }
    }
    last
}

/// Share of values inside their interval and mean width in scale units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    pub inside: usize,
    pub total: usize,
    pub width_sum: f64,
}

impl Coverage {
    /// Returns the share of values inside, 0 for no value.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.inside as f64 / self.total as f64
        }
    }

    /// Returns the mean interval width in scale units, 0 for no value.
    pub fn mean_width(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.width_sum / self.total as f64
        }
    }
}

fn case_coverage(cases: &[CalibrationCase], lower: &[f64], upper: &[f64]) -> Coverage {
    let mut coverage = Coverage {
        inside: 0,
        total: 0,
        width_sum: 0.0,
    };
    for case in cases.iter().filter(|c| c.scale > 0.0) {
        let intervals = build_intervals(&case.point, case.scale, case.non_negative, lower, upper);
        let (inside, total) = count_covered(&case.actual, &intervals.0, &intervals.1);
        coverage.inside += inside;
        coverage.total += total;
        coverage.width_sum += scaled_width_sum(&intervals.0, &intervals.1, case.scale);
    }
    coverage
}

/// Returns the sum over steps of `(upper - lower) / scale`.
pub fn scaled_width_sum(lower: &[f64], upper: &[f64], scale: f64) -> f64 {
    lower
        .iter()
        .zip(upper)
        .map(|(lo, hi)| (hi - lo) / scale)
        .sum()
}

fn build_intervals(
    point: &[f64],
    scale: f64,
    non_negative: bool,
    lower: &[f64],
    upper: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let offset = |bounds: &[f64], step: usize| bounds[step.min(bounds.len() - 1)] * scale;
    let lows = point
        .iter()
        .enumerate()
        .map(|(step, p)| {
            let low = p + offset(lower, step);
            if non_negative && *p >= 0.0 {
                low.max(0.0)
            } else {
                low
            }
        })
        .collect();
    let highs = point
        .iter()
        .enumerate()
        .map(|(step, p)| p + offset(upper, step))
        .collect();
    (lows, highs)
}

impl IntervalWidths {
    /// Builds the intervals around `point` for a series with MASE scale
    /// `scale`, clipping lower bounds at 0 when `non_negative` (unless the
    /// point itself is negative).
    pub fn intervals(&self, point: &[f64], scale: f64, non_negative: bool) -> Intervals {
        let (lower_80, upper_80) =
            build_intervals(point, scale, non_negative, &self.lower_80, &self.upper_80);
        let (lower_95, upper_95) =
            build_intervals(point, scale, non_negative, &self.lower_95, &self.upper_95);
        Intervals {
            lower_80,
            upper_80,
            lower_95,
            upper_95,
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

    fn pool_at_every_step(errors: &[f64], horizon: usize) -> ErrorPool {
        let mut pool = ErrorPool::new(horizon);
        for &e in errors {
            pool.add(&vec![e; horizon], 1.0);
        }
        pool
    }

    #[test]
    fn conformal_quantile_uses_finite_sample_rank() {
        let values: Vec<f64> = (1..=9).map(f64::from).collect();

        assert_eq!(conformal_quantile(&values, 0.8), Some(8.0));
        assert_eq!(conformal_quantile(&values, 0.95), Some(9.0));
        assert_eq!(conformal_quantile(&[], 0.8), None);
    }

    #[test]
    fn lower_quantile_uses_floor_rank() {
        let values: Vec<f64> = (1..=9).map(f64::from).collect();

        assert_eq!(conformal_lower_quantile(&values, 0.1), Some(1.0));
        assert_eq!(conformal_lower_quantile(&values, 0.25), Some(2.0));
        assert_eq!(conformal_lower_quantile(&[], 0.1), None);
    }

    #[test]
    fn skewed_errors_give_asymmetric_bounds() {
        // -19 ..= 79: a short negative tail and a long positive one, like
        // an intermittent series' errors.
        let errors: Vec<f64> = (1..=99).map(|i| f64::from(i) - 20.0).collect();

        let widths = conformal_widths(&pool_at_every_step(&errors, 2), 2, 0.8, 0.95);

        // Ranks floor(100 * 0.1) = 10 and ceil(100 * 0.9) = 90.
        assert_eq!(widths.lower_80, vec![-10.0, -10.0]);
        assert_eq!(widths.upper_80, vec![70.0, 70.0]);
        // Ranks floor(100 * 0.025) = 2 and ceil(100 * 0.975) = 98.
        assert_eq!(widths.lower_95, vec![-18.0, -18.0]);
        assert_eq!(widths.upper_95, vec![78.0, 78.0]);
        let inside = errors
            .iter()
            .filter(|e| (-10.0..=70.0).contains(*e))
            .count();
        assert_eq!(inside, 81);
    }

    #[test]
    fn bounds_always_contain_point() {
        let errors = vec![2.0; 40];

        let widths = conformal_widths(&pool_at_every_step(&errors, 1), 1, 0.8, 0.95);

        assert_eq!(widths.lower_80, vec![0.0]);
        assert_eq!(widths.upper_80, vec![2.0]);
    }

    #[test]
    fn few_errors_still_give_a_wider_95_interval() {
        // With 8 errors both quantiles are the most extreme error.
        let errors = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0];

        let widths = conformal_widths(&pool_at_every_step(&errors, 1), 1, 0.8, 0.95);

        assert_eq!(widths.upper_80, vec![4.0]);
        assert!(widths.upper_95[0] > 6.0, "{widths:?}");
        assert_eq!(widths.lower_80, vec![-3.0]);
        assert!(widths.lower_95[0] < -4.5, "{widths:?}");
    }

    #[test]
    fn widths_fall_back_to_pooled_errors() {
        let mut pool = ErrorPool::new(2);
        for _ in 0..40 {
            pool.add(&[1.0], 1.0);
        }
        pool.add(&[-5.0, 3.0], 1.0);

        let widths = conformal_widths(&pool, 2, 0.8, 0.95);

        assert_eq!(widths.upper_80[0], 1.0);
        assert_eq!(widths.upper_80[1], 1.0);
        assert_eq!(widths.n_errors, 42);
    }

    #[test]
    fn widths_without_errors_use_normal_approximation() {
        let widths = conformal_widths(&ErrorPool::new(1), 1, 0.8, 0.95);

        assert!((widths.upper_95[0] - 1.96 * 1.25).abs() < 1e-12);
        assert!((widths.lower_95[0] + 1.96 * 1.25).abs() < 1e-12);
    }

    #[test]
    fn pool_skips_zero_scale_and_non_finite() {
        let mut pool = ErrorPool::new(2);
        pool.add(&[1.0, 2.0], 0.0);
        pool.add(&[f64::NAN, 2.0, 7.0], 2.0);

        assert_eq!(pool.len(), 1);
    }

    fn widths_of(lower: f64, upper: f64) -> IntervalWidths {
        IntervalWidths {
            lower_80: vec![lower],
            upper_80: vec![upper],
            lower_95: vec![2.0 * lower],
            upper_95: vec![2.0 * upper],
            level_80: 0.8,
            level_95: 0.95,
            n_errors: 1,
            calibration: None,
        }
    }

    #[test]
    fn intervals_scale_with_series() {
        let intervals = widths_of(-1.0, 1.0).intervals(&[10.0, 10.0], 3.0, true);

        assert_eq!(intervals.lower_80, vec![7.0, 7.0]);
        assert_eq!(intervals.upper_95, vec![16.0, 16.0]);
    }

    #[test]
    fn intervals_clip_non_negative_series() {
        let widths = widths_of(-5.0, 3.0);

        let clipped = widths.intervals(&[2.0], 1.0, true);
        let with_returns = widths.intervals(&[2.0], 1.0, false);

        assert_eq!(clipped.lower_80, vec![0.0]);
        assert_eq!(clipped.lower_95, vec![0.0]);
        assert_eq!(clipped.upper_80, vec![5.0]);
        assert_eq!(with_returns.lower_80, vec![-3.0]);
    }

    #[test]
    fn calibration_finds_level_reaching_nominal() {
        // Pool errors are -50 ..= 50 and the case's errors 0 ..= 40. Covering
        // 33 of 41 values (80.5%) needs an upper bound of 32. At level q the
        // upper bound is the ceil(102 * (1 + q) / 2)-th smallest error, which
        // is 32 from q = 0.61 on and 31 at q = 0.605.
        let mut pool = ErrorPool::new(41);
        for e in -50..=50 {
            pool.add(&[f64::from(e)], 1.0);
        }
        let case = CalibrationCase {
            point: vec![0.0; 41],
            actual: (0..=40).map(f64::from).collect(),
            scale: 1.0,
            non_negative: true,
        };

        let (level, coverage) = calibrate_level(&pool, &[case], 0.8).unwrap();

        assert!((level - 0.61).abs() < 1e-9, "level {level}");
        assert_eq!(coverage.inside, 33);
        assert_eq!(coverage.total, 41);
    }

    #[test]
    fn calibration_needs_pool_and_cases() {
        let case = CalibrationCase {
            point: vec![0.0],
            actual: vec![1.0],
            scale: 1.0,
            non_negative: true,
        };

        assert!(calibrate_level(&ErrorPool::new(1), &[case], 0.8).is_none());
        assert!(calibrate_level(&pool_at_every_step(&[1.0], 1), &[], 0.8).is_none());
    }

    #[test]
    fn coverage_counts_inside_values() {
        assert_eq!(
            count_covered(&[1.0, 5.0, 9.0], &[0.0; 3], &[5.0; 3]),
            (2, 3)
        );
    }
}
