//! Holdout accuracy of the selected models and of every candidate, with interval coverage.
//!
//! [`evaluate_holdout`] forecasts the last `horizon` periods of a panel from
//! the periods before them (see [`crate::panel_forecast`]) and compares
//! with what happened. Only series that were modelable at the origin and
//! have a positive MASE scale count, so the numbers describe the series the
//! models were fitted on. Coverage is the share of holdout values inside
//! the 80% and 95% intervals, and the mean width is `(upper - lower) /
//! scale` averaged over those values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::conformal::{count_covered, scaled_width_sum, CalibrationCoverage};
use crate::error::ForecastError;
use crate::metrics::{mean_absolute_error, smape};
use crate::models::ModelKind;
use crate::panel::Panel;
use crate::panel_forecast::{forecast_panel, ForecastOptions, PanelForecast};

/// Report key of the per-series selected models.
pub const SELECTED: &str = "selected";

/// Mean accuracy of one model (or of the selection) over the evaluated series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldoutAccuracy {
    pub mase: f64,
    /// sMAPE in percent.
    pub smape: f64,
    pub n_series: usize,
}

/// Holdout accuracy and coverage of one panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldoutReport {
    pub horizon: usize,
    /// Series in the panel.
    pub n_series: usize,
    /// Series evaluated: modelable at the origin with a positive MASE scale.
    pub n_evaluated: usize,
    /// Share of intermittent or lumpy series among series with demand.
    pub intermittent_share: f64,
    /// Accuracy keyed by model name, plus [`SELECTED`].
    pub accuracy: BTreeMap<String, HoldoutAccuracy>,
    /// Share of holdout values inside the 80% intervals of the selected models.
    pub coverage_80: f64,
    /// Share of holdout values inside the 95% intervals.
    pub coverage_95: f64,
    /// Mean width of the 80% intervals in units of the series' MASE scale.
    pub mean_width_80: f64,
    /// Mean width of the 95% intervals in units of the series' MASE scale.
    pub mean_width_95: f64,
    /// Quantile levels of the 80% and 95% intervals after calibration.
    pub interval_levels: [f64; 2],
    /// Coverage and widths on the latest backtest origin, where the levels were calibrated.
    pub backtest_calibration: Option<CalibrationCoverage>,
    /// Series per selected model.
    pub selected_models: BTreeMap<String, usize>,
}

/// Evaluates the last `horizon` periods of `panel` as a holdout.
///
/// Returns the report and the forecast made at the holdout origin. Fails
/// when the panel is not longer than the horizon.
pub fn evaluate_holdout(
    panel: &Panel,
    options: &ForecastOptions,
) -> Result<(HoldoutReport, PanelForecast), ForecastError> {
    let horizon = options.horizon;
    let Some(origin) = panel.n_periods.checked_sub(horizon).filter(|&o| o > 0) else {
        return Err(ForecastError::HistoryShorterThanHorizon {
            n_periods: panel.n_periods,
            horizon,
        });
    };
    let options = ForecastOptions {
        keep_candidate_forecasts: true,
        ..options.clone()
    };
    let forecast = forecast_panel(panel, origin, &options)?;

    let mut mases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut smapes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut inside_80, mut inside_95, mut total) = (0, 0, 0);
    let (mut width_80, mut width_95) = (0.0, 0.0);
    let mut n_evaluated = 0;
    for (prediction, series) in forecast.series.iter().zip(&panel.series) {
        if prediction.is_short || prediction.scale <= 0.0 {
            continue;
        }
        n_evaluated += 1;
        let actual = &series.units[origin..origin + horizon];

        let mut scored = prediction.candidates.clone();
        scored.insert(SELECTED.to_string(), prediction.point.clone());
        for (name, point) in &scored {
            let mae = mean_absolute_error(actual, point)?;
            mases
                .entry(name.clone())
                .or_default()
                .push(mae / prediction.scale);
            smapes
                .entry(name.clone())
                .or_default()
                .push(smape(actual, point)?);
        }

        let intervals = &prediction.intervals;
        let (in80, n) = count_covered(actual, &intervals.lower_80, &intervals.upper_80);
        let (in95, _) = count_covered(actual, &intervals.lower_95, &intervals.upper_95);
        inside_80 += in80;
        inside_95 += in95;
        total += n;
        width_80 += scaled_width_sum(&intervals.lower_80, &intervals.upper_80, prediction.scale);
        width_95 += scaled_width_sum(&intervals.lower_95, &intervals.upper_95, prediction.scale);
    }

    let accuracy = mases
        .iter()
        .map(|(name, values)| {
            let smape_values = &smapes[name];
            let accuracy = HoldoutAccuracy {
                mase: mean(values),
                smape: mean(smape_values),
                n_series: values.len(),
            };
            (name.clone(), accuracy)
        })
        .collect();
    let per_value = |sum: f64| if total == 0 { 0.0 } else { sum / total as f64 };

    let report = HoldoutReport {
        horizon,
        n_series: panel.series.len(),
        n_evaluated,
        intermittent_share: forecast.intermittent_share(),
        accuracy,
        coverage_80: per_value(inside_80 as f64),
        coverage_95: per_value(inside_95 as f64),
        mean_width_80: per_value(width_80),
        mean_width_95: per_value(width_95),
        interval_levels: [forecast.widths.level_80, forecast.widths.level_95],
        backtest_calibration: forecast.widths.calibration.clone(),
        selected_models: forecast.model_counts(),
    };
    Ok((report, forecast))
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Names of every candidate model, for report readers that need a fixed list.
pub fn candidate_names() -> Vec<&'static str> {
    ModelKind::CANDIDATES.iter().map(|k| k.name()).collect()
}
