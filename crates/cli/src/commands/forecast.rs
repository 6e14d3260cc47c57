//! `mercator forecast`: demand forecasts with intervals for every series of a stored dataset.
//!
//! Steps: load the dataset's cleaned lines, build the series of the
//! requested level, score the models on a holdout at the end of the history
//! (accuracy, interval coverage, share of intermittent series), forecast
//! the future from all periods, reconcile SKU x country, SKU, country and
//! total, compute the market view per country and category, then write
//! `forecast.csv`, `forecast.json` and one SVG chart per charted series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use mercator_data::registry::NewModelVersion;
use mercator_data::OrderLine;
use mercator_forecast::hierarchy::{reconcile_panels, LevelForecasts};
use mercator_forecast::holdout::SELECTED;
use mercator_forecast::market::{market_view, MarketTrend};
use mercator_forecast::panel::{PanelSeries, SeriesKey};
use mercator_forecast::reconcile::ReconcileMethod;
use mercator_forecast::snapshot::{self, ForecastSnapshot};
use mercator_forecast::{
    build_panel, evaluate_holdout, forecast_panel, ForecastOptions, Frequency, HoldoutReport,
    Level, Panel, PanelForecast,
};
use mercator_server::artifacts;
use serde::Serialize;

use crate::report::svg::{LineChart, Series};
use crate::Global;

/// Periods of history drawn before the forecast in each chart.
const CHART_HISTORY_PERIODS: usize = 52;

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// Aggregation level: sku,country | sku | country | category | total.
    #[arg(long, default_value = "sku,country")]
    pub by: String,

    /// Forecast horizon: a number of weeks (`12w`) or days (`30d`); the unit sets the period.
    #[arg(long, default_value = "12w")]
    pub horizon: String,

    /// Holdout length for accuracy and coverage, in the horizon's unit [default: the horizon].
    #[arg(long)]
    pub holdout: Option<usize>,

    /// Series to chart besides the top ones: a SKU, a country, a category, or a
    /// full key such as `sku=85123A|country=United Kingdom`. Repeatable.
    #[arg(long = "series", value_name = "KEY")]
    pub series: Vec<String>,

    /// Number of largest series to chart.
    #[arg(long, default_value_t = 10)]
    pub top: usize,

    /// Folder for forecast.csv, forecast.json and the charts.
    #[arg(long)]
    pub out: PathBuf,

    /// Dataset to read from the store (`mercator run` uses `sample` for the
    /// bundled sample and `default` for --orders).
    #[arg(long, default_value = "default")]
    pub dataset: String,

    /// Reconciliation of SKU x country, SKU, country and total: `wls` or `bottom-up`.
    #[arg(long, default_value = "wls")]
    pub reconcile: String,

    /// Write the holdout series (train and test periods) of the level to this CSV,
    /// for comparison with other forecasting tools.
    #[arg(long, value_name = "FILE")]
    pub export_series: Option<PathBuf>,
}

/// Contents of forecast.json.
#[derive(Debug, Serialize)]
struct ForecastSummary {
    dataset: String,
    level: Level,
    frequency: Frequency,
    horizon: usize,
    first_forecast_start: chrono::NaiveDate,
    n_series: usize,
    intermittent_share: f64,
    selected_models: BTreeMap<String, usize>,
    holdout: HoldoutReport,
    reconciliation: Option<ReconciliationSummary>,
    markets: MarketSummary,
    charts: Vec<String>,
    timings_ms: BTreeMap<String, u128>,
}

#[derive(Debug, Serialize)]
struct ReconciliationSummary {
    method: ReconcileMethod,
    /// Largest absolute difference between the total forecast and the sum of its bottom series.
    max_total_gap: f64,
}

#[derive(Debug, Serialize)]
struct MarketSummary {
    countries: Vec<MarketTrend>,
    categories: Vec<MarketTrend>,
}

pub fn execute(global: &Global, args: ForecastArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut timings = BTreeMap::new();
    let level = Level::parse(&args.by).with_context(|| {
        format!(
            "invalid --by {:?}; use sku,country, sku, country, category or total",
            args.by
        )
    })?;
    let (frequency, horizon) = parse_horizon(&args.horizon)?;
    let method = match args.reconcile.as_str() {
        "wls" => ReconcileMethod::WlsStructural,
        "bottom-up" => ReconcileMethod::BottomUp,
        other => anyhow::bail!("invalid --reconcile {other:?}; use wls or bottom-up"),
    };

    let step = Instant::now();
    let store = crate::commands::ingest::open_store(&global.data_dir)?;
    let lines = store
        .order_lines(&args.dataset)
        .with_context(|| format!("cannot load dataset {:?}", args.dataset))?;
    drop(store);
    if lines.is_empty() {
        anyhow::bail!(
            "dataset {:?} has no stored order lines; ingest orders first with `mercator ingest orders FILE`",
            args.dataset
        );
    }
    timings.insert("load".to_string(), step.elapsed().as_millis());

    let build = |level| {
        build_panel(&lines, level, frequency, None)
            .with_context(|| format!("cannot build {level:?} series"))
    };
    let panel = build(level)?;
    let options = ForecastOptions::new(horizon);

    let step = Instant::now();
    let holdout_options = ForecastOptions::new(args.holdout.unwrap_or(horizon));
    let (holdout, holdout_forecast) =
        evaluate_holdout(&panel, &holdout_options).context("holdout evaluation failed")?;
    timings.insert("holdout".to_string(), step.elapsed().as_millis());
    if let Some(path) = &args.export_series {
        export_series(path, &panel, &holdout_forecast)?;
    }

    let step = Instant::now();
    let end = panel.n_periods;
    let mut reconciliation = None;
    let snapshot;
    let forecast = if level == Level::Category {
        let forecast = forecast_panel(&panel, end, &options)?;
        snapshot = new_snapshot(&args.dataset, &[&forecast], None);
        forecast
    } else {
        let mut levels = LevelForecasts {
            sku_country: forecast_level(&panel, Level::SkuCountry, &build, end, &options)?,
            sku: forecast_level(&panel, Level::Sku, &build, end, &options)?,
            country: forecast_level(&panel, Level::Country, &build, end, &options)?,
            total: forecast_level(&panel, Level::Total, &build, end, &options)?,
        };
        reconcile_panels(&mut levels, method).context("reconciliation failed")?;
        reconciliation = Some(ReconciliationSummary {
            method,
            max_total_gap: total_gap(&levels),
        });
        snapshot = new_snapshot(
            &args.dataset,
            &[
                &levels.sku_country,
                &levels.sku,
                &levels.country,
                &levels.total,
            ],
            Some(method),
        );
        match level {
            Level::SkuCountry => levels.sku_country,
            Level::Sku => levels.sku,
            Level::Country => levels.country,
            _ => levels.total,
        }
    };
    timings.insert("forecast".to_string(), step.elapsed().as_millis());

    let step = Instant::now();
    let country_panel = build(Level::Country)?;
    let country_forecast = forecast_panel(&country_panel, country_panel.n_periods, &options)?;
    let category_panel = build(Level::Category)?;
    let category_forecast = forecast_panel(&category_panel, category_panel.n_periods, &options)?;
    let markets = MarketSummary {
        countries: market_view(
            &country_panel,
            country_panel.n_periods,
            Some(&country_forecast),
        ),
        categories: market_view(
            &category_panel,
            category_panel.n_periods,
            Some(&category_forecast),
        ),
    };
    timings.insert("markets".to_string(), step.elapsed().as_millis());
    let mut snapshot = snapshot;
    if level != Level::Category {
        snapshot.add(&category_forecast);
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;
    write_atomic(
        &args.out.join("forecast.csv"),
        &forecast_csv(&forecast, &panel),
    )?;
    let charts = write_charts(&args, &panel, &forecast)?;

    timings.insert("total".to_string(), started.elapsed().as_millis());
    let summary = ForecastSummary {
        dataset: args.dataset.clone(),
        level,
        frequency,
        horizon,
        first_forecast_start: forecast.first_forecast_start,
        n_series: forecast.series.len(),
        intermittent_share: forecast.intermittent_share(),
        selected_models: forecast.model_counts(),
        holdout,
        reconciliation,
        markets,
        charts,
        timings_ms: timings,
    };
    let json = serde_json::to_string_pretty(&summary)?;
    write_atomic(&args.out.join("forecast.json"), &json)?;
    let version = publish(global, &args, &lines, &snapshot, &summary)?;
    tracing::info!(version, "forecast run recorded and promoted");

    if global.json {
        println!("{json}");
    } else if !global.quiet {
        print!("{}", summary_text(&summary, &args.out));
    }
    Ok(())
}

/// A snapshot of the given forecasts, the first setting its dates and horizon.
fn new_snapshot(
    dataset: &str,
    forecasts: &[&PanelForecast],
    method: Option<ReconcileMethod>,
) -> ForecastSnapshot {
    let reconciliation = method.map(|m| {
        serde_json::to_value(m)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{m:?}"))
    });
    let mut snapshot = ForecastSnapshot::new(dataset, forecasts[0], reconciliation);
    for forecast in forecasts {
        snapshot.add(forecast);
    }
    snapshot
}

/// Saves the snapshot beside the trained models and records it in the
/// registry as the current forecast of the dataset, so `mercator serve`
/// answers `GET /v1/forecasts` from it. Returns the version id.
///
/// A forecast describes the latest data, so every run is promoted; `mercator
/// models rollback --kind forecast` brings back the previous run.
fn publish(
    global: &Global,
    args: &ForecastArgs,
    lines: &[OrderLine],
    snapshot: &ForecastSnapshot,
    summary: &ForecastSummary,
) -> anyhow::Result<i64> {
    let artifact = artifacts::save(&global.data_dir, snapshot::KIND, &args.dataset, snapshot)?;
    let selected = summary.holdout.accuracy.get(SELECTED);
    let mase = selected.map(|a| a.mase).filter(|m| m.is_finite());
    let params = serde_json::json!({
        "by": summary.level,
        "horizon": summary.horizon,
        "frequency": summary.frequency,
        "reconcile": snapshot.reconciliation,
    });
    let metrics = serde_json::json!({
        "holdout_mase": mase,
        "holdout_smape": selected.map(|a| a.smape).filter(|m| m.is_finite()),
        "coverage_80": summary.holdout.coverage_80,
        "coverage_95": summary.holdout.coverage_95,
        "n_series": snapshot.series.len(),
    });
    let (from, to) = crate::commands::train::data_range(lines);
    let mut store = crate::commands::ingest::open_store(&global.data_dir)?;
    let version = store.record_model_version(&NewModelVersion {
        kind: snapshot::KIND,
        dataset: &args.dataset,
        data_from: &from.to_string(),
        data_to: &to.to_string(),
        params: &params,
        metrics: &metrics,
        metric_name: "holdout_mase",
        metric_value: mase.unwrap_or(0.0),
        artifact: &artifact,
    })?;
    store.promote_model_version(version, "latest forecast run")?;
    Ok(version)
}

/// Parses `12w` (weeks) or `30d` (days); a bare number means weeks.
fn parse_horizon(text: &str) -> anyhow::Result<(Frequency, usize)> {
    let text = text.trim().to_lowercase();
    let (number, frequency) = if let Some(n) = text.strip_suffix('w') {
        (n, Frequency::Weekly)
    } else if let Some(n) = text.strip_suffix('d') {
        (n, Frequency::Daily)
    } else {
        (text.as_str(), Frequency::Weekly)
    };
    let horizon: usize = number.parse().ok().filter(|&h| h > 0).with_context(|| {
        format!("invalid --horizon {text:?}; use a positive number of weeks (12w) or days (30d)")
    })?;
    Ok((frequency, horizon))
}

/// Forecasts one level, reusing the requested panel when it is that level.
fn forecast_level(
    panel: &Panel,
    level: Level,
    build: &dyn Fn(Level) -> anyhow::Result<Panel>,
    end: usize,
    options: &ForecastOptions,
) -> anyhow::Result<PanelForecast> {
    let forecast = if panel.level == level {
        forecast_panel(panel, end, options)
    } else {
        forecast_panel(&build(level)?, end, options)
    };
    forecast.with_context(|| format!("forecasting {level:?} series failed"))
}

/// Returns the largest gap between the total forecast and the sum of the bottom forecasts.
fn total_gap(levels: &LevelForecasts) -> f64 {
    (0..levels.total.horizon)
        .map(|step| {
            let bottom: f64 = levels
                .sku_country
                .series
                .iter()
                .map(|s| s.point[step])
                .sum();
            (levels.total.series[0].point[step] - bottom).abs()
        })
        .fold(0.0, f64::max)
}

/// Renders forecast.csv: one row per series and period.
fn forecast_csv(forecast: &PanelForecast, panel: &Panel) -> String {
    let mut csv = String::from(
        "sku,country,category,period_start,point,lower_80,upper_80,lower_95,upper_95,model\n",
    );
    for series in &forecast.series {
        let key = &series.key;
        for step in 0..forecast.horizon {
            let intervals = &series.intervals;
            let _ = writeln!(
                csv,
                "{},{},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{}",
                csv_field(key.sku.as_deref()),
                csv_field(key.country.as_deref()),
                csv_field(key.category.as_deref()),
                panel.period_start(forecast.origin + step),
                series.point[step],
                intervals.lower_80[step],
                intervals.upper_80[step],
                intervals.lower_95[step],
                intervals.upper_95[step],
                series.model,
            );
        }
    }
    csv
}

fn csv_field(value: Option<&str>) -> String {
    let value = value.unwrap_or("");
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Writes the holdout series that the holdout report scores: active history
/// as `train`, the holdout periods as `test`.
fn export_series(path: &Path, panel: &Panel, holdout: &PanelForecast) -> anyhow::Result<()> {
    let mut csv = String::from("unique_id,ds,y,split\n");
    for (series, prediction) in panel.series.iter().zip(&holdout.series) {
        if prediction.is_short || prediction.scale <= 0.0 {
            continue;
        }
        let id = csv_field(Some(&series.key.to_string()));
        for idx in series.first_active..holdout.origin + holdout.horizon {
            let split = if idx < holdout.origin {
                "train"
            } else {
                "test"
            };
            let _ = writeln!(
                csv,
                "{id},{},{},{split}",
                panel.period_start(idx),
                series.units[idx]
            );
        }
    }
    write_atomic(path, &csv).with_context(|| format!("cannot export series to {}", path.display()))
}

/// Writes a chart for the largest series and every `--series` match; returns the file names.
fn write_charts(
    args: &ForecastArgs,
    panel: &Panel,
    forecast: &PanelForecast,
) -> anyhow::Result<Vec<String>> {
    let mut order: Vec<usize> = (0..panel.series.len()).collect();
    order.sort_by(|&a, &b| {
        panel.series[b]
            .total_units()
            .total_cmp(&panel.series[a].total_units())
    });
    let mut chosen: Vec<usize> = order.into_iter().take(args.top).collect();
    for wanted in &args.series {
        let matches: Vec<usize> = (0..panel.series.len())
            .filter(|&idx| key_matches(&panel.series[idx].key, wanted))
            .collect();
        if matches.is_empty() {
            tracing::warn!(series = %wanted, "no series matches --series");
        }
        chosen.extend(matches.into_iter().take(args.top.max(1)));
    }
    chosen.dedup();

    let mut names = Vec::new();
    for idx in chosen {
        let name = format!("chart_{}.svg", file_stem(&panel.series[idx].key));
        let svg = chart(panel, &panel.series[idx], forecast, idx).to_svg();
        write_atomic(&args.out.join(&name), &svg)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn key_matches(key: &SeriesKey, wanted: &str) -> bool {
    key.to_string() == wanted
        || [&key.sku, &key.country, &key.category]
            .iter()
            .any(|part| part.as_deref() == Some(wanted))
}

fn file_stem(key: &SeriesKey) -> String {
    key.to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Builds the chart of one series: history, forecast, and the interval bounds.
fn chart(panel: &Panel, series: &PanelSeries, forecast: &PanelForecast, idx: usize) -> LineChart {
    let prediction = &forecast.series[idx];
    let first = forecast.origin.saturating_sub(CHART_HISTORY_PERIODS);
    let history: Vec<(f64, Option<f64>)> = (first..forecast.origin)
        .map(|t| (t as f64, Some(series.units[t])))
        .collect();
    let future = |values: &[f64]| -> Vec<(f64, Option<f64>)> {
        let mut points = vec![(
            forecast.origin as f64 - 1.0,
            series.units.get(forecast.origin - 1).copied(),
        )];
        points.extend(
            values
                .iter()
                .enumerate()
                .map(|(h, v)| ((forecast.origin + h) as f64, Some(*v))),
        );
        points
    };
    let bound = |name: &str, values: &[f64], color| Series {
        name: name.to_string(),
        color,
        dashed: true,
        points: values
            .iter()
            .enumerate()
            .map(|(h, v)| ((forecast.origin + h) as f64, Some(*v)))
            .collect(),
    };

    let n_ticks = 6;
    let last = forecast.origin + forecast.horizon;
    let x_ticks = (0..=n_ticks)
        .map(|i| first + (last - 1 - first) * i / n_ticks)
        .map(|t| {
            (
                t as f64,
                panel.period_start(t).format("%Y-%m-%d").to_string(),
            )
        })
        .collect();
    let intervals = &prediction.intervals;
    LineChart {
        title: format!("{} ({})", series.key, prediction.model),
        x_label: "period start".to_string(),
        y_label: "net units".to_string(),
        x_ticks,
        y_range: None,
        marker: Some((forecast.origin as f64, "forecast".to_string())),
        series: vec![
            Series {
                name: "history".to_string(),
                color: "#1f77b4",
                dashed: false,
                points: history,
            },
            Series {
                name: "forecast".to_string(),
                color: "#d62728",
                dashed: false,
                points: future(&prediction.point),
            },
            bound("80% lower", &intervals.lower_80, "#ff9896"),
            bound("80% upper", &intervals.upper_80, "#ff9896"),
            bound("95% lower", &intervals.lower_95, "#c7c7c7"),
            bound("95% upper", &intervals.upper_95, "#c7c7c7"),
        ],
    }
}

/// Writes `contents` beside `path` and renames it over `path`.
fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, contents)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

fn summary_text(summary: &ForecastSummary, out: &Path) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "forecast: {} {:?} series, {} {:?} periods from {}",
        summary.n_series,
        summary.level,
        summary.horizon,
        summary.frequency,
        summary.first_forecast_start
    );
    let _ = writeln!(
        text,
        "holdout ({} periods, {} series): intermittent share {:.1}%, 80% coverage {:.1}%, 95% coverage {:.1}%",
        summary.holdout.horizon,
        summary.holdout.n_evaluated,
        100.0 * summary.holdout.intermittent_share,
        100.0 * summary.holdout.coverage_80,
        100.0 * summary.holdout.coverage_95
    );
    for (model, accuracy) in &summary.holdout.accuracy {
        let _ = writeln!(
            text,
            "  {model:<15} MASE {:.3}  sMAPE {:.1}%",
            accuracy.mase, accuracy.smape
        );
    }
    let _ = writeln!(text, "wrote {}", out.join("forecast.csv").display());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_parses_weeks_and_days() {
        assert_eq!(parse_horizon("12w").unwrap(), (Frequency::Weekly, 12));
        assert_eq!(parse_horizon("30d").unwrap(), (Frequency::Daily, 30));
        assert_eq!(parse_horizon("8").unwrap(), (Frequency::Weekly, 8));
        assert!(parse_horizon("0w").is_err());
        assert!(parse_horizon("soon").is_err());
    }
}
