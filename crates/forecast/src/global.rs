//! A global ridge regression trained across all series on lags, calendar, holidays and country.
//!
//! One model for every series lets sparse products borrow the shape of
//! busy ones. Each series is divided by its mean absolute value, so one set
//! of weights fits products of every size. Features of period `t`:
//! intercept, lags 1 to 4, the mean of lags 1 to 8, the lag one season back
//! (the lag-8 mean when the history is shorter), two Fourier pairs of the
//! position in the year (and one pair of the day of the week for daily
//! series), the number of public holidays of the series' country in the
//! period (see [`crate::calendar`]), and one indicator per frequent
//! country. Forecasts are recursive: each forecast becomes the next lag.
//!
//! Gradient-boosted trees are the usual choice for a global model. This
//! crate uses ridge regression instead, because it trains in one pass over
//! the data with a closed-form solve, needs no extra dependency, and gives
//! the same forecast on every run.
//! TODO: compare with the `perpetual` gradient-boosting crate (1.9 on
//! crates.io) once its build time is measured; trees would capture
//! interactions between lags and holidays that a linear model misses.

use std::collections::HashMap;
use std::f64::consts::PI;

use chrono::{Datelike, Duration, NaiveDate};

use mercator_data::linalg::solve_cholesky;

use crate::calendar::holidays_in;
use crate::panel::Frequency;

/// Lags needed before a period can be a training row.
const MIN_LAGS: usize = 8;

/// Countries with their own indicator feature, most series first.
const MAX_COUNTRY_FEATURES: usize = 8;

/// Ridge penalty on the weights of the standardized target.
const RIDGE_PENALTY: f64 = 1.0;

/// One series as input to the global model.
#[derive(Debug, Clone, Copy)]
pub struct GlobalSeries<'a> {
    /// Values from the first active period to the forecast origin.
    pub history: &'a [f64],
    /// Start date of `history[0]`.
    pub start: NaiveDate,
    /// Country of the series, `None` above country level.
    pub country: Option<&'a str>,
}

impl GlobalSeries<'_> {
    fn scale(&self) -> f64 {
        if self.history.is_empty() {
            return 0.0;
        }
        self.history.iter().map(|v| v.abs()).sum::<f64>() / self.history.len() as f64
    }
}

/// Fitted weights of the global model.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalModel {
    frequency: Frequency,
    countries: Vec<String>,
    weights: Vec<f64>,
}

/// Fits the global model on every series with at least one training row.
///
/// Returns `None` when no series has more than [`MIN_LAGS`] periods with a
/// non-zero scale.
pub fn fit_global(series: &[GlobalSeries<'_>], frequency: Frequency) -> Option<GlobalModel> {
    let countries = frequent_countries(series);
    let features = FeatureBuilder {
        frequency,
        countries: &countries,
    };
    let n_features = features.len();
    let mut gram = vec![0.0; n_features * n_features];
    let mut moment = vec![0.0; n_features];
    let mut n_rows = 0_usize;
    let mut row = vec![0.0; n_features];

    for s in series {
        let scale = s.scale();
        if scale <= 0.0 || s.history.len() <= MIN_LAGS {
            continue;
        }
        let scaled: Vec<f64> = s.history.iter().map(|v| v / scale).collect();
        for t in MIN_LAGS..scaled.len() {
            features.fill(&mut row, &scaled[..t], s.start, t, s.country);
            let target = scaled[t];
            for (i, &x_i) in row.iter().enumerate() {
                moment[i] += x_i * target;
                let gram_row = &mut gram[i * n_features..i * n_features + i + 1];
                for (cell, &x_j) in gram_row.iter_mut().zip(&row) {
                    *cell += x_i * x_j;
                }
            }
            n_rows += 1;
        }
    }
    if n_rows == 0 {
        return None;
    }

    for i in 0..n_features {
        for j in 0..i {
            gram[j * n_features + i] = gram[i * n_features + j];
        }
        gram[i * n_features + i] += RIDGE_PENALTY;
    }
    let weights = solve_cholesky(&mut gram, &moment, n_features)?;
    tracing::debug!(n_rows, n_features, "fitted global ridge model");
    Some(GlobalModel {
        frequency,
        countries,
        weights,
    })
}

impl GlobalModel {
    /// Forecasts `horizon` periods after the history, feeding each forecast back as a lag.
    ///
    /// A history of [`MIN_LAGS`] periods or fewer, or with zero scale,
    /// forecasts its mean.
    pub fn forecast(&self, series: &GlobalSeries<'_>, horizon: usize) -> Vec<f64> {
        let scale = series.scale();
        if scale <= 0.0 || series.history.len() <= MIN_LAGS {
            let mean = if series.history.is_empty() {
                0.0
            } else {
                series.history.iter().sum::<f64>() / series.history.len() as f64
            };
            return vec![mean; horizon];
        }

        let features = FeatureBuilder {
            frequency: self.frequency,
            countries: &self.countries,
        };
        let mut row = vec![0.0; features.len()];
        let mut scaled: Vec<f64> = series.history.iter().map(|v| v / scale).collect();
        let mut forecast = Vec::with_capacity(horizon);
        for _ in 0..horizon {
            let t = scaled.len();
            features.fill(&mut row, &scaled, series.start, t, series.country);
            let value: f64 = row.iter().zip(&self.weights).map(|(x, w)| x * w).sum();
            let value = if value.is_finite() { value } else { 0.0 };
            scaled.push(value);
            forecast.push(value * scale);
        }
        forecast
    }
}

/// Builds the feature row of one period.
struct FeatureBuilder<'a> {
    frequency: Frequency,
    countries: &'a [String],
}

impl FeatureBuilder<'_> {
    /// Intercept, 4 lags, lag-8 mean, seasonal lag, 2 yearly Fourier pairs,
    /// 1 weekly pair, holidays, and the country indicators.
    fn len(&self) -> usize {
        1 + 4 + 1 + 1 + 4 + 2 + 1 + self.countries.len()
    }

    /// Writes the features of period `t` (whose lags are `past`) into `row`.
    fn fill(
        &self,
        row: &mut [f64],
        past: &[f64],
        start: NaiveDate,
        t: usize,
        country: Option<&str>,
    ) {
        let lag = |k: usize| past[past.len() - k];
        let mean8 = (1..=MIN_LAGS).map(lag).sum::<f64>() / MIN_LAGS as f64;
        let season = self.frequency.season_lengths()[0];

        let period_days = self.frequency.period_days();
        let date = start + Duration::days(t as i64 * period_days);
        let year_angle = 2.0 * PI * f64::from(date.ordinal0()) / 365.25;
        let week_angle = 2.0 * PI * f64::from(date.weekday().num_days_from_monday()) / 7.0;
        let holidays = country.map_or(0, |c| holidays_in(c, date, period_days as u32));

        row[0] = 1.0;
        row[1] = lag(1);
        row[2] = lag(2);
        row[3] = lag(3);
        row[4] = lag(4);
        row[5] = mean8;
        row[6] = if past.len() >= season {
            lag(season)
        } else {
            mean8
        };
        row[7] = year_angle.sin();
        row[8] = year_angle.cos();
        row[9] = (2.0 * year_angle).sin();
        row[10] = (2.0 * year_angle).cos();
        let is_daily = self.frequency == Frequency::Daily;
        row[11] = if is_daily { week_angle.sin() } else { 0.0 };
        row[12] = if is_daily { week_angle.cos() } else { 0.0 };
        row[13] = holidays as f64;
        for (cell, name) in row[14..].iter_mut().zip(self.countries) {
            *cell = f64::from(u8::from(country == Some(name.as_str())));
        }
    }
}

/// Returns the countries with the most series, at most [`MAX_COUNTRY_FEATURES`].
fn frequent_countries(series: &[GlobalSeries<'_>]) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for country in series.iter().filter_map(|s| s.country) {
        *counts.entry(country).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(MAX_COUNTRY_FEATURES)
        .map(|(c, _)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn global_model_learns_constant_series() {
        let histories: Vec<Vec<f64>> = (1..=5).map(|k| vec![k as f64 * 10.0; 40]).collect();
        let series: Vec<GlobalSeries<'_>> = histories
            .iter()
            .map(|h| GlobalSeries {
                history: h,
                start: date("2011-01-03"),
                country: Some("France"),
            })
            .collect();

        let model = fit_global(&series, Frequency::Weekly).unwrap();
        let forecast = model.forecast(&series[2], 4);

        for value in forecast {
            assert!((value - 30.0).abs() < 1.5, "forecast {value}");
        }
    }

    #[test]
    fn global_model_needs_training_rows() {
        let short = [1.0, 2.0, 3.0];
        let series = [GlobalSeries {
            history: &short,
            start: date("2011-01-03"),
            country: None,
        }];

        assert_eq!(fit_global(&series, Frequency::Weekly), None);
    }
}
