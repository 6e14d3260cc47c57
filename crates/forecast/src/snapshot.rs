//! A stored forecast run: every forecast series of a run with its dates,
//! point forecasts and interval bounds, in a form that is written to disk
//! once and read back to answer lookups by SKU, country or category.
//!
//! `mercator forecast` saves one snapshot per run and records it in the
//! model registry under the kind [`KIND`]; the HTTP server loads the
//! promoted snapshot and answers `GET /v1/forecasts` from it.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::panel::{Frequency, Level, SeriesKey};
use crate::panel_forecast::PanelForecast;

/// Registry kind of stored forecast runs.
pub const KIND: &str = "forecast";

/// Forecasts of one run, across levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSnapshot {
    /// Dataset the series were built from.
    pub dataset: String,
    pub frequency: Frequency,
    pub horizon: usize,
    /// Start of the first forecast period.
    pub first_forecast_start: NaiveDate,
    /// Reconciliation method of the SKU x country, SKU, country and total
    /// levels, when they were reconciled.
    pub reconciliation: Option<String>,
    pub series: Vec<SnapshotSeries>,
    /// Position of each series by level and key, rebuilt after loading.
    #[serde(skip)]
    index: HashMap<(Level, SeriesKey), usize>,
}

/// One series' forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSeries {
    pub level: Level,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub category: Option<String>,
    /// Product description, when the series is a SKU's.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub description: String,
    /// Model chosen for the series.
    pub model: String,
    pub point: Vec<f64>,
    pub lower_80: Vec<f64>,
    pub upper_80: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
}

impl SnapshotSeries {
    /// The series' key.
    pub fn key(&self) -> SeriesKey {
        SeriesKey {
            sku: self.sku.clone(),
            country: self.country.clone(),
            category: self.category.clone(),
        }
    }
}

impl ForecastSnapshot {
    /// Creates an empty snapshot for `dataset` with the dates and horizon of
    /// `first`; [`ForecastSnapshot::add`] appends the levels.
    pub fn new(dataset: &str, first: &PanelForecast, reconciliation: Option<String>) -> Self {
        ForecastSnapshot {
            dataset: dataset.to_string(),
            frequency: first.frequency,
            horizon: first.horizon,
            first_forecast_start: first.first_forecast_start,
            reconciliation,
            series: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Appends every series of `forecast`. Values are rounded to three
    /// decimals, as in forecast.csv.
    ///
    /// A forecast with another frequency, horizon or start than the
    /// snapshot's is skipped and reported as `false`, because its periods
    /// would not line up with the snapshot's dates.
    pub fn add(&mut self, forecast: &PanelForecast) -> bool {
        if forecast.frequency != self.frequency
            || forecast.horizon != self.horizon
            || forecast.first_forecast_start != self.first_forecast_start
        {
            return false;
        }
        let round = |values: &[f64]| -> Vec<f64> {
            values
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        (v * 1000.0).round() / 1000.0
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        for prediction in &forecast.series {
            let intervals = &prediction.intervals;
            let series = SnapshotSeries {
                level: forecast.level,
                sku: prediction.key.sku.clone(),
                country: prediction.key.country.clone(),
                category: prediction.key.category.clone(),
                description: prediction.description.clone(),
                model: prediction.model.to_string(),
                point: round(&prediction.point),
                lower_80: round(&intervals.lower_80),
                upper_80: round(&intervals.upper_80),
                lower_95: round(&intervals.lower_95),
                upper_95: round(&intervals.upper_95),
            };
            self.index
                .insert((forecast.level, series.key()), self.series.len());
            self.series.push(series);
        }
        true
    }

    /// Rebuilds the lookup index; call it after deserializing.
    pub fn build_index(&mut self) {
        self.index = self
            .series
            .iter()
            .enumerate()
            .map(|(idx, series)| ((series.level, series.key()), idx))
            .collect();
    }

    /// Finds the series of `level` with exactly `key`, if the run forecast it.
    pub fn find(&self, level: Level, key: &SeriesKey) -> Option<&SnapshotSeries> {
        self.index
            .get(&(level, key.clone()))
            .map(|&idx| &self.series[idx])
    }

    /// Tells whether the run has any series of `level`.
    pub fn has_level(&self, level: Level) -> bool {
        self.series.iter().any(|series| series.level == level)
    }

    /// Returns the start date of forecast period `step`.
    pub fn period_start(&self, step: usize) -> NaiveDate {
        self.first_forecast_start + Duration::days(step as i64 * self.frequency.period_days())
    }
}
