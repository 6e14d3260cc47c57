//! Holdout evaluation of every demand model on the top series.
//!
//! [`evaluate_demand`] builds weekly series (see [`crate::series`]), keeps
//! the series with the most net units in history, forecasts the test window
//! with each model from history alone, and scores the forecasts with MASE and
//! sMAPE (see [`crate::metrics`]). The result, a [`DemandReport`], contains
//! no NaN or infinite value, so it serializes to plain JSON numbers.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use mercator_data::OrderLine;
use serde::Serialize;

use crate::error::ForecastError;
use crate::ets::forecast_ets;
use crate::metrics::{mase, smape};
use crate::naive::{forecast_seasonal_naive, season_length_weeks};
use crate::series::{build_weekly_demand, select_top_series, DemandSeries};

/// Report key of the seasonal naive model.
pub const SEASONAL_NAIVE: &str = "seasonal_naive";

/// Report key of the damped-trend exponential smoothing model.
pub const ETS: &str = "ets";

/// Accuracy of every model on the top demand series over one test window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemandReport {
    /// Weeks in the test window, starting at the cutoff.
    pub horizon_weeks: usize,
    /// Season length m in weeks used by the seasonal naive model and the MASE
    /// scale. It is 1 unless the history has at least 53 weeks.
    pub season_length_weeks: usize,
    /// Start date of every history week and then every test week.
    pub week_starts: Vec<NaiveDate>,
    /// Accuracy averaged over the series, keyed by model name.
    pub models: BTreeMap<String, ModelAccuracy>,
    /// The evaluated series, most history net units first.
    pub series: Vec<SeriesForecast>,
}

/// Accuracy of one model averaged over the evaluated series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelAccuracy {
    /// Mean MASE over the series that have a MASE scale.
    pub mase: f64,
    /// Mean sMAPE in percent over all evaluated series.
    pub smape: f64,
    /// Number of evaluated series, all of which count in `smape`.
    pub n_series: usize,
    /// Series left out of `mase` because their history is all zeros, so no
    /// MASE scale exists.
    pub mase_skipped: usize,
}

/// History, actual values and every model's forecast of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesForecast {
    pub sku: String,
    pub country: String,
    pub description: String,
    /// Net units (sales minus returns) per history week, oldest first.
    pub history: Vec<f64>,
    /// Net units per test week.
    pub actual: Vec<f64>,
    /// Forecast net units per test week, keyed by model name.
    pub forecasts: BTreeMap<String, Vec<f64>>,
    /// MASE per model, empty when the history is all zeros.
    pub mase: BTreeMap<String, f64>,
    /// sMAPE in percent per model.
    pub smape: BTreeMap<String, f64>,
}

/// Evaluates every demand model on the `n_series` largest (SKU, country) series.
///
/// Weeks are anchored at `cutoff`, the test window is the `horizon_weeks`
/// weeks starting there, and the history is every complete week before it.
/// Series are ranked by net units in history. Each model forecasts from
/// history only. Forecasts are not clamped at zero, because the actual net
/// demand of a week can be negative when returns exceed sales, and a clamp
/// would score a different quantity than the one measured.
///
/// Fails when `horizon_weeks` or `n_series` is zero, when the lines leave no
/// complete history week or no test data (see
/// [`build_weekly_demand`]), when every selected series has zero history, or
/// when a model produces a non-finite value.
pub fn evaluate_demand(
    lines: &[OrderLine],
    cutoff: NaiveDateTime,
    horizon_weeks: usize,
    n_series: usize,
) -> Result<DemandReport, ForecastError> {
    let _span = tracing::info_span!("evaluate_demand", %cutoff, horizon_weeks, n_series).entered();
    if n_series == 0 {
        return Err(ForecastError::ZeroSeries);
    }

    let demand = build_weekly_demand(lines, cutoff, horizon_weeks)?;
    let week_starts = demand.week_starts();
    let n_history_weeks = demand.n_history_weeks;
    let top = select_top_series(demand.series, n_series);
    if top
        .iter()
        .all(|series| series.history.iter().all(|&units| units == 0.0))
    {
        return Err(ForecastError::NoHistoryDemand);
    }

    let series = top
        .into_iter()
        .map(forecast_series)
        .collect::<Result<Vec<_>, _>>()?;
    let models = summarize_models(&series);
    for (model, accuracy) in &models {
        tracing::info!(
            model = %model,
            mase = accuracy.mase,
            smape = accuracy.smape,
            n_series = accuracy.n_series,
            mase_skipped = accuracy.mase_skipped,
            "evaluated demand model"
        );
    }

    Ok(DemandReport {
        horizon_weeks,
        season_length_weeks: season_length_weeks(n_history_weeks),
        week_starts,
        models,
        series,
    })
}

/// Forecasts one series with every model and scores each forecast.
fn forecast_series(series: DemandSeries) -> Result<SeriesForecast, ForecastError> {
    let horizon_weeks = series.actual.len();
    let naive = forecast_seasonal_naive(&series.history, horizon_weeks)?;
    let ets = forecast_ets(&series.history, horizon_weeks)?;
    tracing::debug!(
        sku = %series.sku,
        country = %series.country,
        ets_model = ?ets.model,
        "fitted demand models"
    );

    let mut result = SeriesForecast {
        sku: series.sku,
        country: series.country,
        description: series.description,
        history: series.history,
        actual: series.actual,
        forecasts: BTreeMap::new(),
        mase: BTreeMap::new(),
        smape: BTreeMap::new(),
    };

    for (model, forecast) in [(SEASONAL_NAIVE, naive.forecast), (ETS, ets.forecast)] {
        let non_finite = |quantity| ForecastError::NonFiniteResult {
            model: model.to_string(),
            quantity,
            sku: result.sku.clone(),
            country: result.country.clone(),
        };
        if forecast.iter().any(|value| !value.is_finite()) {
            return Err(non_finite("forecast"));
        }

        let series_smape = smape(&result.actual, &forecast)?;
        if !series_smape.is_finite() {
            return Err(non_finite("sMAPE"));
        }
        let series_mase = mase(
            &result.actual,
            &forecast,
            &result.history,
            naive.season_length,
        )?;
        if series_mase.is_some_and(|value| !value.is_finite()) {
            return Err(non_finite("MASE"));
        }

        result.smape.insert(model.to_string(), series_smape);
        if let Some(value) = series_mase {
            result.mase.insert(model.to_string(), value);
        }
        result.forecasts.insert(model.to_string(), forecast);
    }
    Ok(result)
}

/// Averages each model's per-series MASE and sMAPE.
///
/// A model's MASE would be 0.0 if no series had a MASE scale.
/// `evaluate_demand` rejects that case first, so the fallback never reaches a
/// report.
fn summarize_models(series: &[SeriesForecast]) -> BTreeMap<String, ModelAccuracy> {
    let mut models = BTreeMap::new();
    for model in [SEASONAL_NAIVE, ETS] {
        let smapes: Vec<f64> = series
            .iter()
            .filter_map(|s| s.smape.get(model).copied())
            .collect();
        let mases: Vec<f64> = series
            .iter()
            .filter_map(|s| s.mase.get(model).copied())
            .collect();

        let accuracy = ModelAccuracy {
            mase: mean_or_zero(&mases),
            smape: mean_or_zero(&smapes),
            n_series: series.len(),
            mase_skipped: series.len() - mases.len(),
        };
        models.insert(model.to_string(), accuracy);
    }
    models
}

/// Returns the mean of `values`, or 0.0 for an empty slice.
fn mean_or_zero(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use mercator_data::LineKind;

    use super::*;

    fn at(date: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M").unwrap()
    }

    fn sale(sku: &str, quantity: i64, invoiced_at: NaiveDateTime) -> OrderLine {
        OrderLine {
            invoice: "1".to_string(),
            sku: sku.to_string(),
            description: format!("item {sku}"),
            quantity,
            invoiced_at,
            unit_price: 1.0,
            customer_id: None,
            country: "UK".to_string(),
            kind: LineKind::Sale,
        }
    }

    /// Lines with one sale per week of `units[week]` units, weeks starting at `first_week`.
    fn weekly_sales(sku: &str, first_week: NaiveDateTime, units: &[i64]) -> Vec<OrderLine> {
        units
            .iter()
            .enumerate()
            .filter(|(_, &quantity)| quantity != 0)
            .map(|(week, &quantity)| {
                let invoiced_at = first_week + chrono::Duration::weeks(week as i64);
                sale(sku, quantity, invoiced_at)
            })
            .collect()
    }

    fn assert_report_finite(report: &DemandReport) {
        for (model, accuracy) in &report.models {
            assert!(accuracy.mase.is_finite(), "{model} mean MASE");
            assert!(accuracy.smape.is_finite(), "{model} mean sMAPE");
        }
        for series in &report.series {
            let values = series
                .forecasts
                .values()
                .flatten()
                .chain(series.mase.values())
                .chain(series.smape.values());
            for value in values {
                assert!(value.is_finite(), "series {} has {value}", series.sku);
            }
        }
    }

    #[test]
    fn evaluate_scores_perfect_naive_forecast() {
        let first_week = at("2024-01-01 00:00");
        let lines = weekly_sales("A", first_week, &[4, 4, 4, 4, 4, 4, 4, 4]);
        let cutoff = at("2024-02-12 00:00");

        let report = evaluate_demand(&lines, cutoff, 2, 5).unwrap();

        let naive = &report.models[SEASONAL_NAIVE];
        assert_eq!(report.season_length_weeks, 1);
        assert_eq!(naive.mase, 0.0);
        assert_eq!(naive.smape, 0.0);
        assert_eq!(naive.n_series, 1);
        assert_eq!(naive.mase_skipped, 0);
        assert_eq!(report.series[0].forecasts[SEASONAL_NAIVE], vec![4.0, 4.0]);
    }

    #[test]
    fn evaluate_lists_history_and_test_weeks() {
        let first_week = at("2024-01-01 00:00");
        let lines = weekly_sales("A", first_week, &[1, 2, 3, 4, 5, 6]);
        let cutoff = at("2024-01-29 00:00");

        let report = evaluate_demand(&lines, cutoff, 2, 1).unwrap();

        assert_eq!(report.week_starts.len(), 6);
        assert_eq!(report.week_starts[0], first_week.date());
        assert_eq!(report.week_starts[4], cutoff.date());
        assert_eq!(report.series[0].history, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(report.series[0].actual, vec![5.0, 6.0]);
    }

    #[test]
    fn evaluate_keeps_top_series() {
        let first_week = at("2024-01-01 00:00");
        let mut lines = weekly_sales("small", first_week, &[1, 1, 1, 1, 1]);
        lines.extend(weekly_sales("large", first_week, &[9, 9, 9, 9, 9]));
        lines.extend(weekly_sales("medium", first_week, &[5, 5, 5, 5, 5]));
        let cutoff = at("2024-01-29 00:00");

        let report = evaluate_demand(&lines, cutoff, 1, 2).unwrap();

        let skus: Vec<&str> = report.series.iter().map(|s| s.sku.as_str()).collect();
        assert_eq!(skus, vec!["large", "medium"]);
        assert_eq!(report.models[ETS].n_series, 2);
    }

    #[test]
    fn evaluate_stays_finite_on_degenerate_series() {
        let first_week = at("2024-01-01 00:00");
        let mut lines = weekly_sales("steady", first_week, &[3, 3, 3, 3, 3, 0]);
        lines.extend(weekly_sales("one_week", first_week, &[0, 0, 0, 7, 0, 5]));
        lines.extend(weekly_sales("test_only", first_week, &[0, 0, 0, 0, 0, 2]));
        lines.push(OrderLine {
            kind: LineKind::Return,
            ..sale("returned", -6, first_week)
        });
        lines.push(sale("returned", 6, first_week + chrono::Duration::days(1)));
        let cutoff = at("2024-02-05 00:00");

        let report = evaluate_demand(&lines, cutoff, 1, 10).unwrap();

        assert_report_finite(&report);
        assert_eq!(report.series.len(), 4);
        assert_eq!(report.models[ETS].mase_skipped, 2);
        assert_eq!(report.models[SEASONAL_NAIVE].mase_skipped, 2);
        let steady = report.series.iter().find(|s| s.sku == "steady").unwrap();
        assert_eq!(steady.mase[SEASONAL_NAIVE], 1.0);
        assert_eq!(steady.smape[SEASONAL_NAIVE], 200.0);
    }

    #[test]
    fn evaluate_handles_single_history_week() {
        let lines = vec![
            sale("A", 5, at("2024-01-01 00:00")),
            sale("A", 2, at("2024-01-08 00:00")),
        ];

        let report = evaluate_demand(&lines, at("2024-01-08 00:00"), 3, 1).unwrap();

        assert_report_finite(&report);
        for value in &report.series[0].forecasts[ETS] {
            assert!((value - 5.0).abs() < 1e-9, "ETS forecast {value}");
        }
        assert_eq!(report.series[0].actual, vec![2.0, 0.0, 0.0]);
    }

    #[test]
    fn evaluate_serializes_without_nulls() {
        let first_week = at("2024-01-01 00:00");
        let lines = weekly_sales("A", first_week, &[1, 0, 3, 0, 5, 0]);

        let report = evaluate_demand(&lines, at("2024-01-29 00:00"), 2, 1).unwrap();

        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("null"));
        assert!(json.contains("\"seasonal_naive\""));
        assert!(json.contains("\"ets\""));
    }

    #[test]
    fn evaluate_rejects_invalid_arguments() {
        let first_week = at("2024-01-01 00:00");
        let lines = weekly_sales("A", first_week, &[1, 1, 1]);
        let zero_lines = vec![
            sale("A", 1, first_week),
            OrderLine {
                kind: LineKind::Return,
                ..sale("A", -1, first_week + chrono::Duration::days(1))
            },
            sale("A", 1, at("2024-01-15 00:00")),
        ];
        let cutoff = at("2024-01-15 00:00");

        assert_eq!(
            evaluate_demand(&lines, cutoff, 1, 0),
            Err(ForecastError::ZeroSeries)
        );
        assert_eq!(
            evaluate_demand(&lines, cutoff, 0, 1),
            Err(ForecastError::ZeroHorizon)
        );
        assert_eq!(
            evaluate_demand(&zero_lines, cutoff, 1, 1),
            Err(ForecastError::NoHistoryDemand)
        );
    }
}
