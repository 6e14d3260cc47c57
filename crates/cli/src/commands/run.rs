//! `mercator run`: the main job, from an order export to a report.
//!
//! Steps: ingest (skipped for a file already in the dataset), load the
//! dataset's cleaned lines, split by time, train and evaluate purchase
//! propensity, recommendations and demand forecasts, then write
//! `report.json` and `report.html` and print a summary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDateTime};
use clap::Args;
use mercator_forecast::evaluate_demand;
use mercator_recommend::{evaluate_propensity, evaluate_recommenders, PropensityConfig};

use crate::commands::ingest::{ingest_orders, open_store, ReadOptions};
use crate::report::{InputSection, Report, ReportPaths, SplitSection, Timings, TOP_K};
use crate::{progress, sample, Global};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Order export (CSV, CSV.gz or Parquet) [default: the bundled Online Retail sample].
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,

    /// Folder for report.json and report.html.
    #[arg(long, default_value = "./mercator-report")]
    pub out: PathBuf,

    /// Length of the test window at the end of the history, in weeks.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=26))]
    pub test_weeks: u32,

    /// Seed of every random choice (mini-batch order, initial weights).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Number of SKU x country series to forecast (the largest by units).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub forecast_series: u32,

    #[command(flatten)]
    pub read: ReadOptions,
}

pub fn execute(global: &Global, args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut timings = Timings::default();

    let (orders, dataset) = match &args.orders {
        Some(path) => (path.clone(), args.read.dataset().to_string()),
        None => (
            sample::materialize(&global.data_dir)?,
            args.read
                .dataset
                .clone()
                .unwrap_or_else(|| sample::SAMPLE_DATASET.to_string()),
        ),
    };

    let step = Instant::now();
    let mut store = open_store(&global.data_dir)?;
    let ingest = ingest_orders(global, &mut store, &orders, &dataset, &args.read)?;
    timings.record("ingest", step);

    let step = Instant::now();
    let lines = store
        .order_lines(&dataset)
        .with_context(|| format!("cannot load dataset {dataset:?}"))?;
    drop(store);
    timings.record("load", step);

    let last = lines
        .iter()
        .map(|l| l.invoiced_at)
        .max()
        .context("the dataset has no stored order lines; check the cleaning counts above")?;
    let first = lines.iter().map(|l| l.invoiced_at).min().unwrap_or(last);
    let window = Duration::weeks(i64::from(args.test_weeks));
    let cutoff = test_cutoff(last, window);
    if cutoff <= first {
        anyhow::bail!(
            "the orders span {} to {}, shorter than the {}-week test window; \
             use a longer history or a smaller --test-weeks",
            first,
            last,
            args.test_weeks
        );
    }

    // A model that cannot be trained on this data (no customer ids, too
    // few buyers) is reported as skipped, so the other models still run.
    let mut skipped = BTreeMap::new();

    let step = Instant::now();
    let spinner = progress::spinner(global.quiet, "training purchase propensity");
    let config = PropensityConfig {
        seed: args.seed,
        ..PropensityConfig::default()
    };
    let propensity = evaluate_propensity(&lines, cutoff, window, &config)
        .map_err(|err| skip(&mut skipped, "propensity", err))
        .ok();
    spinner.finish_and_clear();
    timings.record("propensity", step);

    let step = Instant::now();
    let spinner = progress::spinner(global.quiet, "evaluating recommendations");
    let recommend = evaluate_recommenders(&lines, cutoff, window, TOP_K)
        .map_err(|err| skip(&mut skipped, "recommend", err))
        .ok();
    spinner.finish_and_clear();
    timings.record("recommend", step);

    let step = Instant::now();
    let spinner = progress::spinner(global.quiet, "forecasting demand");
    let forecast = evaluate_demand(
        &lines,
        cutoff,
        args.test_weeks as usize,
        args.forecast_series as usize,
    )
    .map_err(|err| skip(&mut skipped, "forecast", err))
    .ok();
    spinner.finish_and_clear();
    timings.record("forecast", step);

    let mut report = Report {
        mercator_version: env!("CARGO_PKG_VERSION").to_string(),
        dataset: dataset.clone(),
        input: InputSection {
            path: ingest.path.display().to_string(),
            sha256: ingest.sha256.clone(),
            rows: ingest.rows_read,
            already_ingested: ingest.already_ingested,
            dataset_lines: lines.len() as u64,
            first_invoice: first,
            last_invoice: last,
        },
        cleaning: ingest.account.to_map(),
        split: SplitSection {
            cutoff,
            test_end: cutoff + window,
            test_weeks: args.test_weeks,
        },
        propensity,
        recommend: recommend.map(Into::into),
        forecast,
        skipped,
        timings_ms: timings,
    };

    let step = Instant::now();
    let write_error = || format!("cannot write the report to {}", args.out.display());
    let html = report.write_html(&args.out).with_context(write_error)?;
    report.timings_ms.record("report", step);
    report.timings_ms.record("total", started);
    // JSON goes last so that it carries the report and total timings.
    let json = report.write_json(&args.out).with_context(write_error)?;
    let paths = ReportPaths { json, html };

    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !global.quiet {
        print!("{}", report.summary_table(&paths));
    }
    Ok(())
}

/// Records why a model step was skipped and logs it.
fn skip(skipped: &mut BTreeMap<String, String>, step: &str, err: impl std::fmt::Display) {
    tracing::warn!(step, error = %err, "model step skipped");
    skipped.insert(step.to_string(), err.to_string());
}

/// Start of the test window: midnight after the last invoice, minus the window.
fn test_cutoff(last_invoice: NaiveDateTime, window: Duration) -> NaiveDateTime {
    let day_after = last_invoice.date() + Duration::days(1);
    day_after.and_hms_opt(0, 0, 0).unwrap_or(last_invoice) - window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_midnight_four_weeks_before_end() {
        let last =
            NaiveDateTime::parse_from_str("2011-12-09 12:50:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let cutoff = test_cutoff(last, Duration::weeks(4));
        assert_eq!(cutoff.to_string(), "2011-11-12 00:00:00");
    }
}
