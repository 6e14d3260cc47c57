//! MSTL: seasonal-trend decomposition by loess for one or more seasons, and its forecast.
//!
//! STL (Cleveland, Cleveland, McRae & Terpenning 1990) runs here with the
//! inner loop only and no robustness weights. Each pass detrends, smooths
//! every cycle-subseries with loess, removes the low-pass part of the
//! seasonal component, then smooths the deseasonalized series into the
//! trend. MSTL
//! follows Bandara, Hyndman & Bergmeir (2021), "MSTL: A seasonal-trend
//! decomposition algorithm for time series with multiple seasonal
//! patterns", arXiv:2107.13462: it runs STL once per season length,
//! shortest first, and repeats the pass so that each seasonal component is
//! estimated with the others removed.
//!
//! The forecast repeats the last cycle of every seasonal component
//! (seasonal naive) and forecasts the seasonally adjusted series with
//! ETS(A,Ad,N), as statsforecast's `MSTL` does with its default trend model.
//! Only season lengths with at least two full cycles in the history are
//! used. [`forecast_mstl`] returns `None` when none is left.

use crate::ets::forecast_ets;

/// MSTL passes over all seasonal components.
const MSTL_ITERATIONS: usize = 2;

/// STL inner-loop passes.
const STL_INNER_ITERATIONS: usize = 2;

/// Seasonal loess span in cycles (STL's `n_s`).
const SEASONAL_SPAN: usize = 7;

/// Seasonal, trend and remainder of one decomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition {
    /// One seasonal component per used season length, with that length.
    pub seasonal: Vec<(usize, Vec<f64>)>,
    pub trend: Vec<f64>,
    pub remainder: Vec<f64>,
}

/// Decomposes `history` with MSTL over the season lengths that fit twice in it.
///
/// Returns `None` when no season length fits.
pub fn decompose_mstl(history: &[f64], season_lengths: &[usize]) -> Option<Decomposition> {
    let mut periods: Vec<usize> = season_lengths
        .iter()
        .copied()
        .filter(|&m| m >= 2 && history.len() >= 2 * m)
        .collect();
    periods.sort_unstable();
    if periods.is_empty() {
        return None;
    }

    let mut seasonal: Vec<Vec<f64>> = vec![vec![0.0; history.len()]; periods.len()];
    let mut deseasonalized = history.to_vec();
    let mut trend = vec![0.0; history.len()];
    for _ in 0..MSTL_ITERATIONS {
        for (component, &period) in seasonal.iter_mut().zip(&periods) {
            for (value, s) in deseasonalized.iter_mut().zip(component.iter()) {
                *value += s;
            }
            let (season, stl_trend) = stl(&deseasonalized, period);
            for (value, s) in deseasonalized.iter_mut().zip(&season) {
                *value -= s;
            }
            *component = season;
            trend = stl_trend;
        }
    }

    let remainder = deseasonalized
        .iter()
        .zip(&trend)
        .map(|(d, t)| d - t)
        .collect();
    Some(Decomposition {
        seasonal: periods.into_iter().zip(seasonal).collect(),
        trend,
        remainder,
    })
}

/// Forecasts `horizon` periods: seasonal naive per component plus ETS on the adjusted series.
///
/// Returns `None` when no season length fits twice in the history.
pub fn forecast_mstl(
    history: &[f64],
    season_lengths: &[usize],
    horizon: usize,
) -> Option<Vec<f64>> {
    let decomposition = decompose_mstl(history, season_lengths)?;
    let adjusted: Vec<f64> = decomposition
        .trend
        .iter()
        .zip(&decomposition.remainder)
        .map(|(t, r)| t + r)
        .collect();
    let mut forecast = forecast_ets(&adjusted, horizon).ok()?.forecast;

    for (period, component) in &decomposition.seasonal {
        let last_cycle = &component[component.len() - period..];
        for (step, value) in forecast.iter_mut().enumerate() {
            *value += last_cycle[step % period];
        }
    }
    Some(forecast)
}

/// Runs STL's inner loop and returns the seasonal and trend components.
fn stl(values: &[f64], period: usize) -> (Vec<f64>, Vec<f64>) {
    let n = values.len();
    let trend_span =
        next_odd((1.5 * period as f64 / (1.0 - 1.5 / SEASONAL_SPAN as f64)).ceil() as usize);
    let low_pass_span = next_odd(period);

    let mut trend = vec![0.0; n];
    let mut seasonal = vec![0.0; n];
    for _ in 0..STL_INNER_ITERATIONS {
        let detrended: Vec<f64> = values.iter().zip(&trend).map(|(v, t)| v - t).collect();
        let cycle = smooth_cycle_subseries(&detrended, period);
        let low_pass = low_pass_filter(&cycle, period, low_pass_span);
        seasonal = (0..n).map(|t| cycle[t + period] - low_pass[t]).collect();

        let deseasonalized: Vec<f64> = values.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
        trend = loess(&deseasonalized, trend_span, 0, n);
    }
    (seasonal, trend)
}

/// Smooths each cycle-subseries with loess and extends it one cycle at each
/// end, so the result has `n + 2 * period` values.
fn smooth_cycle_subseries(values: &[f64], period: usize) -> Vec<f64> {
    let n = values.len();
    let mut cycle = vec![0.0; n + 2 * period];
    for phase in 0..period {
        let subseries: Vec<f64> = values.iter().skip(phase).step_by(period).copied().collect();
        let len = subseries.len() as isize;
        let smoothed = loess_at(&subseries, SEASONAL_SPAN, -1, len + 1);
        for (k, value) in smoothed.into_iter().enumerate() {
            let position = phase + k * period;
            if position < cycle.len() {
                cycle[position] = value;
            }
        }
    }
    cycle
}

/// Moving averages of length `period`, `period` and 3, then loess: STL's
/// low-pass filter. Takes `n + 2 * period` values and returns `n`.
fn low_pass_filter(cycle: &[f64], period: usize, span: usize) -> Vec<f64> {
    let first = moving_average(cycle, period);
    let second = moving_average(&first, period);
    let third = moving_average(&second, 3);
    loess(&third, span, 0, third.len())
}

fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    values
        .windows(window)
        .map(|w| w.iter().sum::<f64>() / window as f64)
        .collect()
}

/// Loess of `values` evaluated at positions `from..to`.
fn loess(values: &[f64], span: usize, from: usize, to: usize) -> Vec<f64> {
    loess_at(values, span, from as isize, to as isize)
}

/// Local linear loess with tricube weights over the `span` nearest points,
/// evaluated at integer positions `from..to` (which may lie outside the data).
fn loess_at(values: &[f64], span: usize, from: isize, to: isize) -> Vec<f64> {
    let n = values.len() as isize;
    let q = span.clamp(2, values.len().max(2)) as isize;
    (from..to)
        .map(|x| {
            let start = (x - q / 2).clamp(0, (n - q).max(0));
            let end = (start + q).min(n);
            let max_distance = (start..end)
                .map(|i| (i - x).abs())
                .max()
                .unwrap_or(1)
                .max(1) as f64
                * 1.001;

            let (mut sw, mut swx, mut swy, mut swxx, mut swxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in start..end {
                let u = (i - x).abs() as f64 / max_distance;
                let w = (1.0 - u.powi(3)).powi(3);
                let xi = i as f64;
                let yi = values[i as usize];
                sw += w;
                swx += w * xi;
                swy += w * yi;
                swxx += w * xi * xi;
                swxy += w * xi * yi;
            }
            if sw == 0.0 {
                return 0.0;
            }
            let mean_x = swx / sw;
            let mean_y = swy / sw;
            let variance = swxx / sw - mean_x * mean_x;
            if variance.abs() < 1e-12 {
                return mean_y;
            }
            let slope = (swxy / sw - mean_x * mean_y) / variance;
            mean_y + slope * (x as f64 - mean_x)
        })
        .collect()
}

fn next_odd(value: usize) -> usize {
    if value % 2 == 0 {
        value + 1
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly_pattern(n_days: usize) -> Vec<f64> {
        let pattern = [10.0, 12.0, 14.0, 12.0, 10.0, 4.0, 2.0];
        (0..n_days).map(|t| pattern[t % 7]).collect()
    }

    #[test]
    fn mstl_recovers_pure_season() {
        let history = weekly_pattern(70);

        let forecast = forecast_mstl(&history, &[7], 14).unwrap();

        for (step, value) in forecast.iter().enumerate() {
            let expected = history[70 - 7 + step % 7];
            assert!(
                (value - expected).abs() < 0.5,
                "step {step}: {value} vs {expected}"
            );
        }
    }

    #[test]
    fn mstl_components_add_up_to_history() {
        let history: Vec<f64> = weekly_pattern(60)
            .iter()
            .enumerate()
            .map(|(t, v)| v + 0.3 * t as f64)
            .collect();

        let decomposition = decompose_mstl(&history, &[7]).unwrap();

        for (t, value) in history.iter().enumerate() {
            let sum = decomposition.seasonal[0].1[t]
                + decomposition.trend[t]
                + decomposition.remainder[t];
            assert!((sum - value).abs() < 1e-9);
        }
    }

    #[test]
    fn mstl_needs_two_cycles() {
        assert_eq!(forecast_mstl(&[1.0; 60], &[52], 4), None);
        assert!(forecast_mstl(&[1.0; 104], &[52], 4).is_some());
    }
}
