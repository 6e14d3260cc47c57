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
//! 5. add split-conformal 80% and 95% intervals from the selected models'
//!    backtest errors ([`crate::conformal`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

use crate::backtest::{
    active_history, fit_global_at, forecast_candidates, is_modelable, run_backtest, select_model,
};
use crate::conformal::{conformal_widths, IntervalWidths, Intervals};
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

    let mut scaled_errors: Vec<Vec<f64>> = vec![Vec::new(); horizon];
    let mut series = Vec::with_capacity(panel.series.len());
    let predictions: Vec<(SeriesPrediction, Vec<Vec<f64>>)> = (0..panel.series.len())
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
    for (prediction, selected_errors) in predictions {
        for origin_errors in selected_errors {
            for (step, e) in origin_errors.into_iter().enumerate() {
                if prediction.scale > 0.0 {
                    scaled_errors[step].push(e / prediction.scale);
                }
            }
        }
        series.push(prediction);
    }

    let widths = conformal_widths(&scaled_errors, horizon);
    for prediction in &mut series {
        prediction.intervals = widths.intervals(&prediction.point, prediction.scale);
    }

    tracing::info!(
        n_series = series.len(),
        n_backtest_errors = widths.n_errors,
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

/// Selects, fits and forecasts one series. Returns the prediction (without
/// intervals yet) and the backtest errors of the selected model.
fn predict_series(
    panel: &Panel,
    idx: usize,
    end: usize,
    options: &ForecastOptions,
    errors: &crate::backtest::ModelErrors,
    global: Option<&crate::global::GlobalModel>,
    season: usize,
) -> (SeriesPrediction, Vec<Vec<f64>>) {
    let source = &panel.series[idx];
    let history = active_history(panel, idx, end);
    let profile = classify_demand(history);
    let scale = mase_scale(history, if history.len() > season { season } else { 1 }).unwrap_or(0.0);
    let is_short = !is_modelable(panel, idx, end);

    let model = if is_short {
        ModelKind::Fallback
    } else {
        select_model(errors).unwrap_or(if profile.class.is_intermittent() {
            ModelKind::Sba
        } else {
            ModelKind::Ets
        })
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
    let selected_errors = errors.get(&model).cloned().unwrap_or_default();

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
    (prediction, selected_errors)
}
