//! Seasonal naive forecast, which repeats for each future week the value one season earlier.
//!
//! With weekly data the natural season is a year of 52 weeks. Start from
//! [`forecast_seasonal_naive`], which picks the season length from the
//! history length with [`season_length_weeks`].

use crate::error::ForecastError;

/// Weeks in one yearly season.
pub const WEEKS_PER_YEAR: usize = 52;

/// A seasonal naive forecast and the season length that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveForecast {
    /// Forecast net units, one value per week after the history.
    pub forecast: Vec<f64>,
    /// Season length m in weeks. A value of 1 means the naive last-value forecast.
    pub season_length: usize,
}

/// Returns the season length m in weeks for a history of `n_history_weeks`.
///
/// The season is a year (m = 52) once the history has at least 53 weeks, so
/// that at least one in-sample seasonal difference `y[t] - y[t - 52]` exists
/// for the MASE scale. A shorter history gets m = 1, which makes the seasonal
/// naive forecast the naive last-value forecast.
pub fn season_length_weeks(n_history_weeks: usize) -> usize {
    if n_history_weeks > WEEKS_PER_YEAR {
        WEEKS_PER_YEAR
    } else {
        1
    }
}

/// Forecasts `horizon_weeks` weeks by repeating the last season of `history`.
///
/// The season length comes from [`season_length_weeks`]. Fails on an empty
/// history or one containing a non-finite value.
pub fn forecast_seasonal_naive(
    history: &[f64],
    horizon_weeks: usize,
) -> Result<NaiveForecast, ForecastError> {
    let season_length = season_length_weeks(history.len());
    let forecast = forecast_with_season(history, season_length, horizon_weeks)?;
    Ok(NaiveForecast {
        forecast,
        season_length,
    })
}

/// Forecasts `horizon_weeks` weeks with a given season length m.
///
/// Week `h` (counting from 0) after the history gets
/// `history[n - m + (h mod m)]`, where `n` is the history length. Fails when
/// the history is empty, contains a non-finite value, or is shorter than m.
pub fn forecast_with_season(
    history: &[f64],
    season_length: usize,
    horizon_weeks: usize,
) -> Result<Vec<f64>, ForecastError> {
    validate_history(history)?;
    if season_length == 0 || season_length > history.len() {
        return Err(ForecastError::InvalidSeasonLength {
            season_length,
            history_len: history.len(),
        });
    }

    let last_season = &history[history.len() - season_length..];
    let forecast = (0..horizon_weeks)
        .map(|step| last_season[step % season_length])
        .collect();
    Ok(forecast)
}

/// Checks that a history is non-empty and contains only finite values.
pub(crate) fn validate_history(history: &[f64]) -> Result<(), ForecastError> {
    if history.is_empty() {
        return Err(ForecastError::EmptyHistory);
    }
    match history.iter().position(|value| !value.is_finite()) {
        Some(index) => Err(ForecastError::NonFiniteHistory { index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn season_length_needs_more_than_a_year() {
        assert_eq!(season_length_weeks(1), 1);
        assert_eq!(season_length_weeks(52), 1);
        assert_eq!(season_length_weeks(53), 52);
        assert_eq!(season_length_weeks(104), 52);
    }

    #[test]
    fn naive_repeats_constant() {
        let result = forecast_seasonal_naive(&[7.0; 10], 3).unwrap();

        assert_eq!(result.forecast, vec![7.0, 7.0, 7.0]);
        assert_eq!(result.season_length, 1);
    }

    #[test]
    fn naive_repeats_last_value_of_trend() {
        let history: Vec<f64> = (0..20).map(|t| 10.0 + 2.0 * t as f64).collect();

        let result = forecast_seasonal_naive(&history, 2).unwrap();

        assert_eq!(result.forecast, vec![48.0, 48.0]);
    }

    #[test]
    fn naive_repeats_yearly_season() {
        let season: Vec<f64> = (0..WEEKS_PER_YEAR).map(|week| (week % 5) as f64).collect();
        let history: Vec<f64> = season.iter().chain(season.iter()).copied().collect();

        let result = forecast_seasonal_naive(&history, 60).unwrap();

        assert_eq!(result.season_length, WEEKS_PER_YEAR);
        assert_eq!(result.forecast[..WEEKS_PER_YEAR], season[..]);
        assert_eq!(result.forecast[WEEKS_PER_YEAR..], season[..8]);
    }

    #[test]
    fn naive_repeats_short_season() {
        let history = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0];

        let forecast = forecast_with_season(&history, 3, 4).unwrap();

        assert_eq!(forecast, vec![1.0, 2.0, 3.0, 1.0]);
    }

    #[test]
    fn naive_keeps_all_zeros() {
        let result = forecast_seasonal_naive(&[0.0; 8], 4).unwrap();

        assert_eq!(result.forecast, vec![0.0; 4]);
    }

    #[test]
    fn naive_repeats_single_point() {
        let result = forecast_seasonal_naive(&[3.5], 2).unwrap();

        assert_eq!(result.forecast, vec![3.5, 3.5]);
    }

    #[test]
    fn naive_rejects_invalid_history() {
        assert_eq!(
            forecast_seasonal_naive(&[], 2),
            Err(ForecastError::EmptyHistory)
        );
        assert_eq!(
            forecast_seasonal_naive(&[1.0, f64::NAN], 2),
            Err(ForecastError::NonFiniteHistory { index: 1 })
        );
        assert!(matches!(
            forecast_with_season(&[1.0, 2.0], 3, 1),
            Err(ForecastError::InvalidSeasonLength { .. })
        ));
        assert!(matches!(
            forecast_with_season(&[1.0, 2.0], 0, 1),
            Err(ForecastError::InvalidSeasonLength { .. })
        ));
    }
}
