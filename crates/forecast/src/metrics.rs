//! Forecast accuracy metrics: MASE and sMAPE.
//!
//! Both compare a forecast with the actual values of the same test weeks.
//! [`mase`] divides the mean absolute error by the in-sample error of the
//! seasonal naive forecast, so 1.0 means "as good as the naive method was in
//! history". [`smape`] is a percentage between 0 and 200. Neither function
//! returns NaN or an infinity for finite input: [`mase`] returns `None` when
//! no positive scale exists, and [`smape`] counts a week where both values
//! are zero as a perfect forecast.

use crate::error::ForecastError;

/// Computes the mean absolute scaled error (MASE) of `forecast` against `actual`.
///
/// ```text
/// MASE = mean(|actual[h] - forecast[h]|) / scale
/// ```
///
/// The scale comes from [`mase_scale`] with season length `season_length`
/// over `history`. Returns `Ok(None)` when that scale does not exist, which
/// happens only when every history value is zero. Fails when the slices
/// differ in length or are empty.
pub fn mase(
    actual: &[f64],
    forecast: &[f64],
    history: &[f64],
    season_length: usize,
) -> Result<Option<f64>, ForecastError> {
    let mae = mean_absolute_error(actual, forecast)?;
    Ok(mase_scale(history, season_length).map(|scale| mae / scale))
}

/// Returns the positive denominator of [`mase`] for `history`, or `None` if none exists.
///
/// The scale is the in-sample mean absolute error of the seasonal naive
/// forecast, `mean(|y[t] - y[t - m]|)` over `t = m..n` with season length
/// `m`. When that is zero or undefined (a constant history, or one no longer
/// than m), the scale falls back to the mean absolute history value, so a
/// series that never changed is still scored relative to its size. An
/// all-zero history has neither and returns `None`.
pub fn mase_scale(history: &[f64], season_length: usize) -> Option<f64> {
    if let Some(scale) = seasonal_naive_mae(history, season_length) {
        if scale > 0.0 {
            return Some(scale);
        }
    }

    if history.is_empty() {
        return None;
    }
    let mean_absolute = history.iter().map(|value| value.abs()).sum::<f64>() / history.len() as f64;
    (mean_absolute > 0.0).then_some(mean_absolute)
}

/// Returns the in-sample mean absolute error of the seasonal naive forecast,
/// or `None` when the history has no value m steps after another or m is 0.
pub fn seasonal_naive_mae(history: &[f64], season_length: usize) -> Option<f64> {
    if season_length == 0 || history.len() <= season_length {
        return None;
    }

    let n_differences = history.len() - season_length;
    let total: f64 = history
        .windows(season_length + 1)
        .map(|window| (window[season_length] - window[0]).abs())
        .sum();
    Some(total / n_differences as f64)
}

/// Computes the symmetric mean absolute percentage error (sMAPE) in percent.
///
/// ```text
/// sMAPE = mean(200 * |actual[h] - forecast[h]| / (|actual[h]| + |forecast[h]|))
/// ```
///
/// A week where both values are zero contributes 0 (a perfect forecast
/// rather than 0/0). The result lies between 0 and 200. Fails when the
/// slices differ in length or are empty.
pub fn smape(actual: &[f64], forecast: &[f64]) -> Result<f64, ForecastError> {
    validate_window(actual, forecast)?;

    let total: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(&y, &f)| {
            let denominator = y.abs() + f.abs();
            if denominator == 0.0 {
                0.0
            } else {
                200.0 * (y - f).abs() / denominator
            }
        })
        .sum();
    Ok(total / actual.len() as f64)
}

/// Computes the mean absolute error of `forecast` against `actual`.
pub fn mean_absolute_error(actual: &[f64], forecast: &[f64]) -> Result<f64, ForecastError> {
    validate_window(actual, forecast)?;

    let total: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(&y, &f)| (y - f).abs())
        .sum();
    Ok(total / actual.len() as f64)
}

/// Checks that actual and forecast values are non-empty and of equal length.
fn validate_window(actual: &[f64], forecast: &[f64]) -> Result<(), ForecastError> {
    if actual.len() != forecast.len() {
        return Err(ForecastError::LengthMismatch {
            actual_len: actual.len(),
            forecast_len: forecast.len(),
        });
    }
    if actual.is_empty() {
        return Err(ForecastError::EmptyTestWindow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mase_of_perfect_forecast_is_zero() {
        let history = [1.0, 3.0, 2.0, 4.0];

        let result = mase(&[5.0, 6.0], &[5.0, 6.0], &history, 1).unwrap();

        assert_eq!(result, Some(0.0));
    }

    #[test]
    fn mase_divides_by_naive_error() {
        let history = [1.0, 3.0, 2.0, 4.0];

        let result = mase(&[5.0, 6.0], &[4.0, 4.0], &history, 1).unwrap();

        // The naive errors are 2, 1 and 2, so the scale is 5/3 and the MAE is 1.5.
        assert_eq!(result, Some(1.5 / (5.0 / 3.0)));
    }

    #[test]
    fn mase_uses_seasonal_differences() {
        let history = [1.0, 5.0, 2.0, 7.0];

        let scale = mase_scale(&history, 2);

        assert_eq!(scale, Some(1.5));
    }

    #[test]
    fn mase_scale_falls_back_for_constant_history() {
        assert_eq!(mase_scale(&[4.0, 4.0, 4.0], 1), Some(4.0));
        assert_eq!(mase_scale(&[-2.0, -2.0], 1), Some(2.0));
        assert_eq!(mase_scale(&[3.0], 1), Some(3.0));
    }

    #[test]
    fn mase_skips_all_zero_history() {
        let result = mase(&[1.0], &[0.0], &[0.0; 10], 1).unwrap();

        assert_eq!(result, None);
        assert_eq!(mase_scale(&[], 1), None);
    }

    #[test]
    fn seasonal_naive_mae_needs_a_full_season() {
        assert_eq!(seasonal_naive_mae(&[1.0, 2.0], 2), None);
        assert_eq!(seasonal_naive_mae(&[1.0, 2.0], 0), None);
        assert_eq!(seasonal_naive_mae(&[1.0, 2.0, 4.0], 2), Some(3.0));
    }

    #[test]
    fn smape_counts_zero_over_zero_as_perfect() {
        let result = smape(&[0.0, 0.0], &[0.0, 0.0]).unwrap();

        assert_eq!(result, 0.0);
    }

    #[test]
    fn smape_matches_hand_computed_values() {
        // Week errors: 200 * 2 / 6, 200 * 5 / 5 and 0.
        let result = smape(&[4.0, 0.0, 3.0], &[2.0, -5.0, 3.0]).unwrap();

        let expected = (200.0 * 2.0 / 6.0 + 200.0 + 0.0) / 3.0;
        assert!((result - expected).abs() < 1e-12);
    }

    #[test]
    fn smape_is_at_most_two_hundred() {
        assert_eq!(smape(&[0.0], &[7.0]).unwrap(), 200.0);
        assert_eq!(smape(&[3.0], &[-3.0]).unwrap(), 200.0);
    }

    #[test]
    fn metrics_reject_mismatched_windows() {
        assert_eq!(
            smape(&[1.0], &[1.0, 2.0]),
            Err(ForecastError::LengthMismatch {
                actual_len: 1,
                forecast_len: 2
            })
        );
        assert_eq!(smape(&[], &[]), Err(ForecastError::EmptyTestWindow));
        assert_eq!(
            mase(&[], &[], &[1.0, 2.0], 1),
            Err(ForecastError::EmptyTestWindow)
        );
    }
}
