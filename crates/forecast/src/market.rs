//! Market view: which countries and categories grow and which shrink.
//!
//! For each series of a country or category panel, [`market_view`]
//! compares the last [`WINDOW_PERIODS`] periods with the ones before
//! (growth), fits a least-squares line through the last
//! `2 * WINDOW_PERIODS` periods (trend, as a percentage of their mean per
//! period), and compares the forecast with the same number of latest
//! periods. A market is `growing` or `shrinking` when its recent growth is
//! beyond plus or minus [`FLAT_BAND_PERCENT`], `flat` otherwise, and `new`
//! when it had no units in the earlier window.

use serde::Serialize;

use crate::panel::Panel;
use crate::panel_forecast::PanelForecast;

/// Periods in each compared window: a quarter of weeks.
pub const WINDOW_PERIODS: usize = 13;

/// Growth, in percent, inside which a market counts as flat.
pub const FLAT_BAND_PERCENT: f64 = 5.0;

/// Direction of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Growing,
    Shrinking,
    Flat,
    New,
}

/// Growth and trend of one country or category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketTrend {
    /// Country or category name.
    pub market: String,
    /// Net units in the last window.
    pub recent_units: f64,
    /// Net units in the window before it.
    pub previous_units: f64,
    /// Unit growth of the last window over the one before, in percent (0 when new).
    pub unit_growth_percent: f64,
    /// Revenue growth of the last window over the one before, in percent (0 when new).
    pub revenue_growth_percent: f64,
    /// Slope of a line through the last two windows, in percent of their mean per period.
    pub trend_percent_per_period: f64,
    /// Forecast units over the horizon against the same number of latest periods, in percent.
    pub forecast_growth_percent: f64,
    pub direction: Direction,
}

/// Computes the market trend of every series of `panel` (a country or
/// category panel) ending at period `end`, with the forecast made there.
pub fn market_view(
    panel: &Panel,
    end: usize,
    forecast: Option<&PanelForecast>,
) -> Vec<MarketTrend> {
    let mut trends: Vec<MarketTrend> = panel
        .series
        .iter()
        .enumerate()
        .map(|(idx, series)| {
            let units = &series.units[..end.min(series.units.len())];
            let revenue = &series.revenue[..end.min(series.revenue.len())];
            let recent_units = window_sum(units, 0);
            let previous_units = window_sum(units, 1);

            let forecast_growth_percent = forecast
                .and_then(|f| f.series.get(idx))
                .map(|prediction| {
                    let horizon = prediction.point.len().min(units.len());
                    let latest: f64 = units[units.len() - horizon..].iter().sum();
                    percent_change(prediction.point.iter().sum(), latest)
                })
                .unwrap_or(0.0);
            let unit_growth_percent = percent_change(recent_units, previous_units);
            let direction = if previous_units <= 0.0 {
                Direction::New
            } else if unit_growth_percent > FLAT_BAND_PERCENT {
                Direction::Growing
            } else if unit_growth_percent < -FLAT_BAND_PERCENT {
                Direction::Shrinking
            } else {
                Direction::Flat
            };

            MarketTrend {
                market: series
                    .key
                    .country
                    .clone()
                    .or_else(|| series.key.category.clone())
                    .unwrap_or_else(|| series.key.to_string()),
                recent_units,
                previous_units,
                unit_growth_percent,
                revenue_growth_percent: percent_change(
                    window_sum(revenue, 0),
                    window_sum(revenue, 1),
                ),
                trend_percent_per_period: trend_percent(units),
                forecast_growth_percent,
                direction,
            }
        })
        .collect();
    trends.sort_by(|a, b| {
        b.recent_units
            .total_cmp(&a.recent_units)
            .then_with(|| a.market.cmp(&b.market))
    });
    trends
}

/// Sums window `k` counted back from the end (0 is the latest).
fn window_sum(values: &[f64], k: usize) -> f64 {
    let end = values.len().saturating_sub(k * WINDOW_PERIODS);
    let start = end.saturating_sub(WINDOW_PERIODS);
    values[start..end].iter().sum()
}

/// Returns `100 * (new - old) / |old|`, or 0 when `old` is 0.
fn percent_change(new: f64, old: f64) -> f64 {
    if old == 0.0 {
        0.0
    } else {
        100.0 * (new - old) / old.abs()
    }
}

/// Least-squares slope of the last two windows, in percent of their mean absolute value.
fn trend_percent(values: &[f64]) -> f64 {
    let start = values.len().saturating_sub(2 * WINDOW_PERIODS);
    let window = &values[start..];
    let n = window.len() as f64;
    if window.len() < 2 {
        return 0.0;
    }
    let mean_t = (n - 1.0) / 2.0;
    let mean_y = window.iter().sum::<f64>() / n;
    let mut covariance = 0.0;
    let mut variance = 0.0;
    for (t, y) in window.iter().enumerate() {
        covariance += (t as f64 - mean_t) * (y - mean_y);
        variance += (t as f64 - mean_t).powi(2);
    }
    let level = window.iter().map(|y| y.abs()).sum::<f64>() / n;
    if level == 0.0 {
        return 0.0;
    }
    100.0 * covariance / variance / level
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::panel::{Frequency, Level, PanelSeries, SeriesKey};

    fn panel(units: Vec<Vec<f64>>) -> Panel {
        let n_periods = units[0].len();
        let series = units
            .into_iter()
            .enumerate()
            .map(|(i, u)| PanelSeries {
                key: SeriesKey {
                    country: Some(format!("C{i}")),
                    ..SeriesKey::default()
                },
                description: String::new(),
                revenue: u.clone(),
                units: u,
                first_active: 0,
                n_negative_periods: 0,
            })
            .collect();
        Panel {
            level: Level::Country,
            frequency: Frequency::Weekly,
            first_period_start: NaiveDate::from_ymd_opt(2011, 1, 3).unwrap(),
            n_periods,
            series,
        }
    }

    #[test]
    fn market_view_detects_growth_and_decline() {
        let growing: Vec<f64> = (0..26).map(|t| 10.0 + t as f64).collect();
        let shrinking: Vec<f64> = (0..26).map(|t| 40.0 - t as f64).collect();
        let flat = vec![20.0; 26];
        let panel = panel(vec![growing, shrinking, flat]);

        let view = market_view(&panel, 26, None);

        let direction_of = |name: &str| view.iter().find(|m| m.market == name).unwrap().direction;
        assert_eq!(direction_of("C0"), Direction::Growing);
        assert_eq!(direction_of("C1"), Direction::Shrinking);
        assert_eq!(direction_of("C2"), Direction::Flat);
    }

    #[test]
    fn market_view_marks_new_markets() {
        let mut units = vec![0.0; 13];
        units.extend([5.0; 13]);

        let view = market_view(&panel(vec![units]), 26, None);

        assert_eq!(view[0].direction, Direction::New);
        assert!(view[0].unit_growth_percent.is_finite());
    }
}
