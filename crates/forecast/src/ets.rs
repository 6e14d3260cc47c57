//! Exponential smoothing with an additive damped trend, ETS(A,Ad,N).
//!
//! The method follows Hyndman & Athanasopoulos, *Forecasting: Principles and
//! Practice*, 3rd ed. (OTexts, 2021), section 8.2 "Methods with trend". With
//! level `l`, trend `b`, observation `y` and forecast step `h`:
//!
//! ```text
//! l[t]      = alpha * y[t] + (1 - alpha) * (l[t-1] + phi * b[t-1])
//! b[t]      = beta * (l[t] - l[t-1]) + (1 - beta) * phi * b[t-1]
//! y[T+h|T]  = l[T] + (phi + phi^2 + ... + phi^h) * b[T]
//! ```
//!
//! `beta` is the book's beta* of the component form. The parameters minimize
//! the in-sample sum of squared one-step errors (SSE): a coarse grid picks a
//! start and a bounded Nelder-Mead search refines it. A history of fewer than
//! [`MIN_POINTS_DAMPED_TREND`] values falls back to simple exponential
//! smoothing. Start from [`forecast_ets`].

use crate::error::ForecastError;
use crate::naive::validate_history;
use crate::optimize::{minimize_nelder_mead, NelderMeadOptions};

/// Shortest history fitted with a damped trend. Fewer values give too few
/// one-step errors to fit three smoothing parameters on top of a start line
/// fitted from the same values.
pub const MIN_POINTS_DAMPED_TREND: usize = 4;

/// Bounds of the level smoothing parameter alpha, just inside (0, 1).
pub const ALPHA_BOUNDS: (f64, f64) = (1e-4, 1.0 - 1e-4);

/// Bounds of the trend smoothing parameter beta (beta* in the book).
pub const BETA_BOUNDS: (f64, f64) = (1e-4, 1.0 - 1e-4);

/// Bounds of the damping parameter phi. Below 0.8 the trend fades within a
/// few steps, so the model is close to simple exponential smoothing. An upper
/// bound below 1 keeps the trend damped, so long-range forecasts level off at
/// `l + phi / (1 - phi) * b` instead of growing without limit.
pub const PHI_BOUNDS: (f64, f64) = (0.8, 0.98);

/// Number of leading values used to fit the initial level and trend.
const INITIAL_LINE_POINTS: usize = 10;

/// Grid values of alpha and beta tried before the Nelder-Mead search.
const SMOOTHING_GRID: [f64; 10] = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95];

/// Grid values of phi tried before the Nelder-Mead search.
const PHI_GRID: [f64; 5] = [0.8, 0.85, 0.9, 0.95, 0.98];

const SEARCH_OPTIONS: NelderMeadOptions = NelderMeadOptions {
    initial_step: 0.05,
    max_iterations: 400,
    value_tolerance: 1e-10,
    point_tolerance: 1e-6,
};

/// The fitted exponential smoothing model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EtsModel {
    /// Additive damped trend, ETS(A,Ad,N).
    DampedTrend { alpha: f64, beta: f64, phi: f64 },
    /// Simple exponential smoothing, ETS(A,N,N), used for short histories.
    Simple { alpha: f64 },
}

/// An exponential smoothing forecast with the model that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct EtsForecast {
    pub model: EtsModel,
    /// Forecast net units, one value per week after the history.
    pub forecast: Vec<f64>,
    /// In-sample sum of squared one-step errors of the fitted model.
    pub sse: f64,
}

/// Level and trend after some observations.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DampedState {
    level: f64,
    trend: f64,
}

/// Fits exponential smoothing to `history` and forecasts `horizon_weeks` weeks.
///
/// Uses ETS(A,Ad,N) when the history has at least
/// [`MIN_POINTS_DAMPED_TREND`] values and simple exponential smoothing
/// otherwise. Forecasts are not clamped at zero, because net demand after
/// returns can be negative. Fails on an empty history or one containing a
/// non-finite value.
pub fn forecast_ets(history: &[f64], horizon_weeks: usize) -> Result<EtsForecast, ForecastError> {
    validate_history(history)?;

    if history.len() < MIN_POINTS_DAMPED_TREND {
        return Ok(forecast_simple(history, horizon_weeks));
    }
    Ok(forecast_damped_trend(history, horizon_weeks))
}

/// Fits ETS(A,Ad,N) by grid search and Nelder-Mead, then forecasts.
fn forecast_damped_trend(history: &[f64], horizon_weeks: usize) -> EtsForecast {
    let initial = initial_state(history);
    let sse_of = |params: &[f64]| run_damped(history, params[0], params[1], params[2], initial).0;

    let mut grid_best = (
        [SMOOTHING_GRID[0], SMOOTHING_GRID[0], PHI_GRID[0]],
        f64::INFINITY,
    );
    for alpha in SMOOTHING_GRID {
        for beta in SMOOTHING_GRID {
            for phi in PHI_GRID {
                let sse = sse_of(&[alpha, beta, phi]);
                if sse < grid_best.1 {
                    grid_best = ([alpha, beta, phi], sse);
                }
            }
        }
    }

    let bounds = [ALPHA_BOUNDS, BETA_BOUNDS, PHI_BOUNDS];
    let minimum = minimize_nelder_mead(sse_of, &grid_best.0, &bounds, SEARCH_OPTIONS);
    let (alpha, beta, phi) = (minimum.point[0], minimum.point[1], minimum.point[2]);

    let (sse, last) = run_damped(history, alpha, beta, phi, initial);
    EtsForecast {
        model: EtsModel::DampedTrend { alpha, beta, phi },
        forecast: project_damped(last, phi, horizon_weeks),
        sse,
    }
}

/// Fits simple exponential smoothing by grid search and Nelder-Mead, then forecasts.
///
/// The initial level is the first value, so a one-value history has zero
/// SSE for every alpha and forecasts that value.
fn forecast_simple(history: &[f64], horizon_weeks: usize) -> EtsForecast {
    let sse_of = |params: &[f64]| run_simple(history, params[0]).0;

    let mut grid_best = (SMOOTHING_GRID[0], f64::INFINITY);
    for alpha in SMOOTHING_GRID {
        let sse = sse_of(&[alpha]);
        if sse < grid_best.1 {
            grid_best = (alpha, sse);
        }
    }

    let minimum = minimize_nelder_mead(sse_of, &[grid_best.0], &[ALPHA_BOUNDS], SEARCH_OPTIONS);
    let alpha = minimum.point[0];

    let (sse, level) = run_simple(history, alpha);
    EtsForecast {
        model: EtsModel::Simple { alpha },
        forecast: vec![level; horizon_weeks],
        sse,
    }
}

/// Returns the starting level and trend from a least-squares line through
/// the first [`INITIAL_LINE_POINTS`] values.
///
/// With the values at times 1..=k, the level is the line's value at time 0
/// and the trend is its slope, so an exact straight line starts from its
/// true level and slope.
///
/// NOTE: these starting states stay fixed while the smoothing parameters are
/// fitted. The `ETS()` function of R's fable package, which the book uses,
/// estimates them together with the parameters, so fits can differ from
/// fable's on short or noisy histories.
fn initial_state(history: &[f64]) -> DampedState {
    let n_points = history.len().min(INITIAL_LINE_POINTS);
    let times: Vec<f64> = (1..=n_points).map(|t| t as f64).collect();
    let values = &history[..n_points];

    let mean_time = times.iter().sum::<f64>() / n_points as f64;
    let mean_value = values.iter().sum::<f64>() / n_points as f64;
    let mut covariance = 0.0;
    let mut time_variance = 0.0;
    for (&t, &y) in times.iter().zip(values) {
        covariance += (t - mean_time) * (y - mean_value);
        time_variance += (t - mean_time).powi(2);
    }

    let trend = if time_variance > 0.0 {
        covariance / time_variance
    } else {
        0.0
    };
    DampedState {
        level: mean_value - trend * mean_time,
        trend,
    }
}

/// Runs the damped-trend recursion over `history` and returns the SSE of the
/// one-step forecasts and the state after the last value.
fn run_damped(
    history: &[f64],
    alpha: f64,
    beta: f64,
    phi: f64,
    initial: DampedState,
) -> (f64, DampedState) {
    let mut state = initial;
    let mut sse = 0.0;
    for &value in history {
        let one_step = state.level + phi * state.trend;
        sse += (value - one_step).powi(2);

        let level = alpha * value + (1.0 - alpha) * one_step;
        let trend = beta * (level - state.level) + (1.0 - beta) * phi * state.trend;
        state = DampedState { level, trend };
    }
    (sse, state)
}

/// Forecasts `horizon_weeks` steps from `state`: `level + (phi + ... + phi^h) * trend`.
fn project_damped(state: DampedState, phi: f64, horizon_weeks: usize) -> Vec<f64> {
    let mut damping_sum = 0.0;
    let mut phi_power = 1.0;
    (0..horizon_weeks)
        .map(|_| {
            phi_power *= phi;
            damping_sum += phi_power;
            state.level + damping_sum * state.trend
        })
        .collect()
}

/// Runs simple exponential smoothing over `history` and returns the SSE of
/// the one-step forecasts and the final level.
fn run_simple(history: &[f64], alpha: f64) -> (f64, f64) {
    let mut level = history[0];
    let mut sse = 0.0;
    for &value in history {
        sse += (value - level).powi(2);
        level = alpha * value + (1.0 - alpha) * level;
    }
    (sse, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected} within {tolerance}, got {actual}"
        );
    }

    #[test]
    fn ets_repeats_constant() {
        let result = forecast_ets(&[5.0; 30], 4).unwrap();

        assert!(matches!(result.model, EtsModel::DampedTrend { .. }));
        for value in result.forecast {
            assert_close(value, 5.0, 1e-9);
        }
        assert_close(result.sse, 0.0, 1e-12);
    }

    #[test]
    fn ets_follows_linear_trend_with_damping() {
        let history: Vec<f64> = (0..30).map(|t| 10.0 + 2.0 * t as f64).collect();
        let last = history[history.len() - 1];

        let result = forecast_ets(&history, 4).unwrap();

        let EtsModel::DampedTrend { phi, .. } = result.model else {
            panic!("expected a damped trend model, got {:?}", result.model);
        };
        assert_close(phi, PHI_BOUNDS.1, 1e-6);
        assert_close(result.forecast[0], last + 2.0, 0.1);
        for step in 1..result.forecast.len() {
            assert!(result.forecast[step] > result.forecast[step - 1]);
        }
        let undamped_last = last + 2.0 * result.forecast.len() as f64;
        assert!(result.forecast[3] < undamped_last);
    }

    #[test]
    fn ets_forecasts_mean_of_pure_season() {
        let history: Vec<f64> = (0..40).map(|t| 10.0 + [3.0, -3.0][t % 2]).collect();

        let result = forecast_ets(&history, 4).unwrap();

        for value in result.forecast {
            assert_close(value, 10.0, 1.0);
        }
    }

    #[test]
    fn ets_keeps_all_zeros() {
        let result = forecast_ets(&[0.0; 12], 3).unwrap();

        assert_eq!(result.forecast, vec![0.0; 3]);
        assert_eq!(result.sse, 0.0);
    }

    #[test]
    fn ets_repeats_single_point() {
        let result = forecast_ets(&[4.0], 2).unwrap();

        assert!(matches!(result.model, EtsModel::Simple { .. }));
        assert_eq!(result.forecast.len(), 2);
        for value in result.forecast {
            assert_close(value, 4.0, 1e-12);
        }
    }

    #[test]
    fn ets_uses_simple_smoothing_below_four_points() {
        let short = forecast_ets(&[1.0, 2.0, 3.0], 1).unwrap();
        let long = forecast_ets(&[1.0, 2.0, 3.0, 4.0], 1).unwrap();

        assert!(matches!(short.model, EtsModel::Simple { .. }));
        assert!(matches!(long.model, EtsModel::DampedTrend { .. }));
    }

    #[test]
    fn ets_simple_tracks_last_value_of_steps() {
        let result = forecast_ets(&[0.0, 10.0, 10.0], 1).unwrap();

        let EtsModel::Simple { alpha } = result.model else {
            panic!("expected simple smoothing, got {:?}", result.model);
        };
        assert_close(alpha, ALPHA_BOUNDS.1, 1e-3);
        assert_close(result.forecast[0], 10.0, 1e-2);
    }

    #[test]
    fn ets_keeps_parameters_in_bounds() {
        let history = [3.0, 0.0, 8.0, 1.0, 0.0, 12.0, 2.0, 5.0, 0.0, 9.0, 4.0, 1.0];

        let result = forecast_ets(&history, 4).unwrap();

        let EtsModel::DampedTrend { alpha, beta, phi } = result.model else {
            panic!("expected a damped trend model, got {:?}", result.model);
        };
        assert!((ALPHA_BOUNDS.0..=ALPHA_BOUNDS.1).contains(&alpha));
        assert!((BETA_BOUNDS.0..=BETA_BOUNDS.1).contains(&beta));
        assert!((PHI_BOUNDS.0..=PHI_BOUNDS.1).contains(&phi));
        assert!(result.forecast.iter().all(|value| value.is_finite()));
    }

    #[test]
    fn ets_rejects_invalid_history() {
        assert_eq!(forecast_ets(&[], 1), Err(ForecastError::EmptyHistory));
        assert_eq!(
            forecast_ets(&[1.0, f64::INFINITY], 1),
            Err(ForecastError::NonFiniteHistory { index: 1 })
        );
    }
}
