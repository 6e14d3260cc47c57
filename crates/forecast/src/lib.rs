//! Weekly demand forecasting per SKU and country, with holdout accuracy.
//!
//! Start from [`evaluate_demand`], which turns cleaned order lines into weekly
//! net-unit series, forecasts the weeks after a cutoff with each model from
//! the weeks before it, and scores every forecast with MASE and sMAPE. The
//! returned [`DemandReport`] serializes to JSON and contains each series'
//! history, actual values and forecasts for charts.
//!
//! Layout, one concept per module:
//!
//! - [`series`]: weekly buckets anchored at the cutoff, net units per
//!   (SKU, country), ranking of the largest series.
//! - [`naive`]: seasonal naive forecast (yearly season once the history is
//!   longer than a year, last value otherwise).
//! - [`ets`]: exponential smoothing with additive damped trend, ETS(A,Ad,N),
//!   with simple exponential smoothing for very short histories.
//! - `optimize`: bounded Nelder-Mead search used to fit the smoothing
//!   parameters.
//! - [`metrics`]: MASE and sMAPE.
//! - [`evaluate`]: runs every model on every selected series and averages
//!   the metrics.
//! - [`error`]: [`ForecastError`], returned by every fallible function.
//! - `uci_online_retail` (tests only): end-to-end check on the UCI Online
//!   Retail data set.
//!
//! The panel pipeline behind `mercator forecast`:
//!
//! - [`panel`]: weekly or daily net units and revenue per SKU x country,
//!   SKU, country, category or total; [`category`] derives categories from
//!   descriptions when no catalog gives them.
//! - [`intermittent`] (ADI/CV² classes, Croston, SBA, TSB), [`mstl`]
//!   (seasonal-trend decomposition) and [`global`] (one ridge model across
//!   all series, with [`calendar`] holidays) join the models above;
//!   [`models`] lists them.
//! - [`backtest`]: rolling-origin backtest and per-series model selection;
//!   [`panel_forecast`] runs it and fits the selected models;
//!   [`conformal`] adds 80% and 95% intervals, calibrated on the backtest.
//! - [`holdout`]: accuracy and interval coverage on the last periods.
//! - [`reconcile`] and [`hierarchy`]: bottom-up and WLS (structural MinT)
//!   reconciliation of SKU x country, SKU, country and total.
//! - [`market`]: growth and trend per country and category.
//!
//! Every model is a pure function of a history slice. Library code reads no
//! files and no store, so callers pass the lines in.

pub mod backtest;
pub mod calendar;
pub mod category;
pub mod conformal;
pub mod error;
pub mod ets;
pub mod evaluate;
pub mod global;
pub mod hierarchy;
pub mod holdout;
pub mod intermittent;
pub mod market;
pub mod metrics;
pub mod models;
pub mod mstl;
pub mod naive;
mod optimize;
pub mod panel;
pub mod panel_forecast;
pub mod reconcile;
pub mod series;
pub mod snapshot;

#[cfg(test)]
mod uci_online_retail;

pub use error::ForecastError;
pub use evaluate::{
    evaluate_demand, DemandReport, ModelAccuracy, SeriesForecast, ETS, SEASONAL_NAIVE,
};
pub use holdout::{evaluate_holdout, HoldoutReport};
pub use panel::{build_panel, Frequency, Level, Panel};
pub use panel_forecast::{forecast_panel, ForecastOptions, PanelForecast};
