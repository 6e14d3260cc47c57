//! Forecasts every series of a panel: backtest, per-series model selection, final fit, intervals.
//!
//! [`forecast_panel`] is the entry point for both future forecasts and
//! holdout evaluation: it uses the periods before `end` only. Steps:
//!
//! 1. classify each series' demand (ADI/CV², see [`crate::intermittent`]);
//! 2. run the rolling-origin backtest of every candidate ([`crate::backtest`]);
//! 3. pick each series' model by backtest error; series too short for any
//!    origin get SBA when intermittent and ETS otherwise, and series too
//!    short to model at all get the mean of their history;
//! 4. refit the selected model on all periods before `end` and forecast;
//! 5. add split-conformal 80% and 95% intervals ([`crate::conformal`]).
//!    Their errors come, for each backtest origin, from the model selected
//!    on the other origins (the default model of step 3 when there is no
//!    other origin), because the selected model's own errors are
//!    optimistic. The quantile levels are calibrated by repeating this one
//!    origin earlier: errors from the origins before the latest build
//!    intervals that are checked on the latest origin, where the model
//!    selected on the earlier origins forecast.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

use crate::backtest::{
    active_history, fit_global_at, forecast_candidates, is_modelable, keep_origins,
    out_of_selection_errors, run_backtest, select_model, ModelErrors,
};
use crate::conformal::{
    calibrate_level, conformal_widths, CalibrationCase, CalibrationCoverage, ErrorPool,
    IntervalWidths, Intervals, NOMINAL_80, NOMINAL_95,
};
use crate::error::ForecastError;
use crate::intermittent::{classify_demand, DemandProfile};
use crate::metrics::mase_scale;
use crate::models::{forecast_local, ModelKind};
use crate::panel::{Frequency, Level, Panel, SeriesKey};

/// Settings of [`forecast_panel`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastOptions {
    /// Periods to forecast after the origin.
    pub horizon: usize,
    /// Backtest origins before the forecast origin.
    pub n_origins: usize,
    /// Models that compete in selection.
    pub candidates: Vec<ModelKind>,
    /// Keep every candidate's final forecast (for holdout comparison), not only the selected one.
    pub keep_candidate_forecasts: bool,
}

impl ForecastOptions {
    /// Creates options with every candidate, three origins, and selected forecasts only.
    pub fn new(horizon: usize) -> ForecastOptions {
        ForecastOptions {
            horizon,
            n_origins: 3,
            candidates: ModelKind::CANDIDATES.to_vec(),
            keep_candidate_forecasts: false,
        }
    }
}

/// The forecast of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPrediction {
    pub key: SeriesKey,
    pub description: String,
    pub profile: DemandProfile,
    /// Whether the history was too short to fit models on.
    pub is_short: bool,
    pub model: ModelKind,
    /// Mean absolute backtest error per candidate, divided by `scale`.
    pub backtest_scaled_mae: BTreeMap<String, f64>,
    /// MASE scale: in-sample MAE of the seasonal naive forecast (see
    /// [`crate::metrics::mase_scale`]), 0 for an all-zero history.
    pub scale: f64,
    /// Point forecast per period.
    pub point: Vec<f64>,
    pub intervals: Intervals,
    /// Every candidate's forecast, when requested in the options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub candidates: BTreeMap<String, Vec<f64>>,
}

/// Forecasts of every series of a panel from one origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelForecast {
    pub level: Level,
    pub frequency: Frequency,
    /// Period index of the origin: the first forecast period.
    pub origin: usize,
    /// Start date of the first forecast period.
    pub first_forecast_start: NaiveDate,
    pub horizon: usize,
    pub widths: IntervalWidths,
    pub series: Vec<SeriesPrediction>,
}

impl PanelForecast {
    /// Share of series classified intermittent or lumpy, among series with demand.
    pub fn intermittent_share(&self) -> f64 {
        let with_demand: Vec<_> = self
            .series
            .iter()
            .filter(|s| s.profile.class != crate::intermittent::DemandClass::NoDemand)
            .collect();
        if with_demand.is_empty() {
            return 0.0;
        }
        let n = with_demand
            .iter()
            .filter(|s| s.profile.class.is_intermittent())
            .count();
        n as f64 / with_demand.len() as f64
    }

    /// Number of series per selected model.
    pub fn model_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for s in &self.series {
            *counts.entry(s.model.name().to_string()).or_default() += 1;
        }
        counts
    }
}

/// Forecasts `options.horizon` periods of every series from period `end`.
///
/// Uses only periods before `end`. Fails when `end` is zero or past the
/// panel, or when the horizon is zero.
pub fn forecast_panel(
    panel: &Panel,
    end: usize,
    options: &ForecastOptions,
) -> Result<PanelForecast, ForecastError> {
    let horizon = options.horizon;
    if horizon == 0 {
        return Err(ForecastError::ZeroHorizon);
    }
    if end == 0 || end > panel.n_periods {
        return Err(ForecastError::InvalidOrigin {
            origin: end,
            n_periods: panel.n_periods,
        });
    }
    let _span = tracing::info_span!("forecast_panel", level = ?panel.level, end, horizon).entered();

    let errors = run_backtest(panel, end, horizon, options.n_origins, &options.candidates);
    let global = if options.candidates.contains(&ModelKind::Global) {
        fit_global_at(panel, end)
    } else {
        None
    };
    let season = panel.frequency.season_lengths()[0];

    let mut series = Vec::with_capacity(panel.series.len());
    let predictions: Vec<(SeriesPrediction, IntervalErrors)> = (0..panel.series.len())
        .into_par_iter()
        .map(|idx| {
            predict_series(
                panel,
                idx,
                end,
                options,
                &errors[idx],
                global.as_ref(),
                season,
            )
        })
        .collect();

    let mut pool = ErrorPool::new(horizon);
    let mut calibration_pool = ErrorPool::new(horizon);
    let mut calibration_cases = Vec::new();
    let mut non_negative = Vec::with_capacity(predictions.len());
    for (prediction, interval_errors) in predictions {
        for origin_errors in &interval_errors.pool {
            pool.add(origin_errors, prediction.scale);
        }
        for origin_errors in &interval_errors.calibration_pool {
            calibration_pool.add(origin_errors, interval_errors.calibration_scale);
        }
        calibration_cases.extend(interval_errors.calibration_case);
        non_negative.push(interval_errors.non_negative);
        series.push(prediction);
    }

    let widths = calibrated_widths(&pool, &calibration_pool, &calibration_cases, horizon);
    for (prediction, non_negative) in series.iter_mut().zip(non_negative) {
        prediction.intervals = widths.intervals(&prediction.point, prediction.scale, non_negative);
    }

    tracing::info!(
        n_series = series.len(),
        n_backtest_errors = widths.n_errors,
        level_80 = widths.level_80,
        level_95 = widths.level_95,
        "forecast panel"
    );
    Ok(PanelForecast {
        level: panel.level,
        frequency: panel.frequency,
        origin: end,
        first_forecast_start: panel.period_start(end),
        horizon,
        widths,
        series,
    })
}

/// Computes the interval bounds from `pool` at the quantile levels that
/// reach nominal coverage on the calibration cases, or at the nominal
/// levels when there is nothing to calibrate on.
fn calibrated_widths(
    pool: &ErrorPool,
    calibration_pool: &ErrorPool,
    calibration_cases: &[CalibrationCase],
    horizon: usize,
) -> IntervalWidths {
    let calibrated_80 = calibrate_level(calibration_pool, calibration_cases, NOMINAL_80);
    let calibrated_95 = calibrate_level(calibration_pool, calibration_cases, NOMINAL_95);
    let level_80 = calibrated_80.map_or(NOMINAL_80, |(level, _)| level);
    let level_95 = calibrated_95.map_or(NOMINAL_95, |(level, _)| level.max(level_80));
    let mut widths = conformal_widths(pool, horizon, level_80, level_95);
    if let (Some((_, at_80)), Some((_, at_95))) = (calibrated_80, calibrated_95) {
        widths.calibration = Some(CalibrationCoverage {
            coverage_80: at_80.share(),
            coverage_95: at_95.share(),
            mean_width_80: at_80.mean_width(),
            mean_width_95: at_95.mean_width(),
            n_values: at_80.total,
        });
    }
    widths
}

/// Backtest errors of one series for its intervals, unscaled.
struct IntervalErrors {
    /// Errors per origin of the model selected without that origin.
    pool: Vec<Vec<f64>>,
    /// The same over the origins before the latest one.
    calibration_pool: Vec<Vec<f64>>,
    /// MASE scale of the history before the latest origin.
    calibration_scale: f64,
    /// Forecast at the latest origin by the model selected on the earlier origins.
    calibration_case: Option<CalibrationCase>,
    /// Whether the history before the forecast origin has no negative value.
    non_negative: bool,
}

/// Returns the model a series gets when no backtest origin selects one.
fn default_model(profile: &DemandProfile) -> ModelKind {
    if profile.class.is_intermittent() {
        ModelKind::Sba
    } else {
        ModelKind::Ets
    }
}

/// Collects the interval errors of series `idx` (see [`IntervalErrors`]).
///
/// The latest backtest origin is `end - horizon`, origin 0 of `errors`.
fn interval_errors(
    panel: &Panel,
    idx: usize,
    end: usize,
    horizon: usize,
    errors: &ModelErrors,
    profile: &DemandProfile,
    season: usize,
) -> IntervalErrors {
    let history = active_history(panel, idx, end);
    let mut collected = IntervalErrors {
        pool: out_of_selection_errors(errors, default_model(profile)),
        calibration_pool: Vec::new(),
        calibration_scale: 0.0,
        calibration_case: None,
        non_negative: history.iter().all(|&v| v >= 0.0),
    };
    let Some(latest) = end.checked_sub(horizon) else {
        return collected;
    };
    let earlier_history = active_history(panel, idx, latest);
    let earlier_profile = classify_demand(earlier_history);
    let earlier = keep_origins(errors, |origin| origin >= 1);
    collected.calibration_pool = out_of_selection_errors(&earlier, default_model(&earlier_profile));
    collected.calibration_scale = scale_of(earlier_history, season);

    let model = select_model(&earlier).unwrap_or(default_model(&earlier_profile));
    let latest_errors = errors
        .get(&model)
        .filter(|origins| origins.len() == earlier.values().map(Vec::len).max().unwrap_or(0) + 1)
        .and_then(|origins| origins.first());
    if let Some(latest_errors) = latest_errors {
        let actual = panel.series[idx].units[latest..latest + latest_errors.len()].to_vec();
        let point = actual
            .iter()
            .zip(latest_errors)
            .map(|(a, e)| a - e)
            .collect();
        collected.calibration_case = Some(CalibrationCase {
            point,
            actual,
            scale: collected.calibration_scale,
            non_negative: earlier_history.iter().all(|&v| v >= 0.0),
        });
    }
    collected
}

/// Returns the MASE scale of a history, 0 when it has none.
fn scale_of(history: &[f64], season: usize) -> f64 {
    mase_scale(history, if history.len() > season { season } else { 1 }).unwrap_or(0.0)
}

/// Selects, fits and forecasts one series. Returns the prediction (without
/// intervals yet) and the backtest errors for its intervals.
fn predict_series(
    panel: &Panel,
    idx: usize,
    end: usize,
    options: &ForecastOptions,
    errors: &crate::backtest::ModelErrors,
    global: Option<&crate::global::GlobalModel>,
    season: usize,
) -> (SeriesPrediction, IntervalErrors) {
    let source = &panel.series[idx];
    let history = active_history(panel, idx, end);
    let profile = classify_demand(history);
    let scale = scale_of(history, season);
    let is_short = !is_modelable(panel, idx, end);

    let model = if is_short {
        ModelKind::Fallback
    } else {
        select_model(errors).unwrap_or(default_model(&profile))
    };

    let mut candidates = BTreeMap::new();
    let point = if model == ModelKind::Fallback {
        forecast_local(ModelKind::Fallback, history, &[], options.horizon)
            .unwrap_or_else(|| vec![0.0; options.horizon])
    } else {
        let wanted: Vec<ModelKind> = if options.keep_candidate_forecasts {
            options.candidates.clone()
        } else {
            vec![model]
        };
        let mut forecasts = forecast_candidates(panel, idx, end, options.horizon, &wanted, global);
        let point = forecasts
            .remove(&model)
            .or_else(|| forecast_local(ModelKind::Ets, history, &[], options.horizon))
            .unwrap_or_else(|| vec![0.0; options.horizon]);
        if options.keep_candidate_forecasts {
            candidates = forecasts
                .into_iter()
                .map(|(kind, f)| (kind.name().to_string(), f))
                .collect();
            candidates.insert(model.name().to_string(), point.clone());
        }
        point
    };

    let backtest_scaled_mae = errors
        .iter()
        .filter(|_| scale > 0.0)
        .map(|(kind, origins)| {
            let values: Vec<f64> = origins.iter().flatten().map(|e| e.abs()).collect();
            let mae = values.iter().sum::<f64>() / values.len().max(1) as f64;
            (kind.name().to_string(), mae / scale)
        })
        .collect();
    let interval_errors = if is_short {
        IntervalErrors {
            pool: Vec::new(),
            calibration_pool: Vec::new(),
            calibration_scale: 0.0,
            calibration_case: None,
            non_negative: history.iter().all(|&v| v >= 0.0),
        }
    } else {
        interval_errors(panel, idx, end, options.horizon, errors, &profile, season)
    };

    let prediction = SeriesPrediction {
        key: source.key.clone(),
        description: source.description.clone(),
        profile,
        is_short,
        model,
        backtest_scaled_mae,
        scale,
        intervals: Intervals {
            lower_80: Vec::new(),
            upper_80: Vec::new(),
            lower_95: Vec::new(),
            upper_95: Vec::new(),
        },
        point,
        candidates,
    };
    (prediction, interval_errors)
}
