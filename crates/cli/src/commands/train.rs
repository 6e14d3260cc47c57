//! `mercator train recommend|propensity`: train on a stored dataset, record
//! a registry version and promote it when it is at least as good as the
//! current one on the validation window (or with `--force`).

use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, NaiveDateTime};
use clap::{Args, Subcommand};
use mercator_data::registry::NewModelVersion;
use mercator_data::{LineKind, OrderLine, Store};
use mercator_recommend::offline::HYBRID;
use mercator_recommend::propensity_model::{train_propensity, Classifier};
use mercator_recommend::{train_recommender, OfflineConfig, PropensityConfig};
use mercator_server::artifacts;

use crate::commands::ingest::open_store;
use crate::{progress, Global};

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train, evaluate and register the recommenders (ALS, BPR, item-kNN, popularity, ranker).
    Recommend(RecommendArgs),
    /// Train, evaluate and register the purchase-propensity model.
    Propensity(TrainArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset to train on.
    #[arg(long, default_value = "default")]
    pub dataset: String,

    /// Length of the validation and test windows, in days.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(i64).range(7..=182))]
    pub window_days: i64,

    /// Promote the new version even when its validation metric is lower.
    #[arg(long)]
    pub force: bool,

    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub common: TrainArgs,

    /// Length of the ALS and BPR vectors.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(2..=512))]
    pub factors: u32,

    /// ALS iterations.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub iterations: u32,

    /// BPR passes over the purchases.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub bpr_epochs: u32,

    /// Skip the search over ALS alpha and regularization on the validation window.
    #[arg(long)]
    pub no_search: bool,
}

pub fn execute(global: &Global, command: TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::Recommend(args) => train_recommend(global, &args),
        TrainCommand::Propensity(args) => train_propensity_command(global, &args),
    }
}

/// The dataset's order lines plus purchase and cart events, which count
/// as sales for the recommenders.
fn load_lines(store: &Store, dataset: &str, with_events: bool) -> anyhow::Result<Vec<OrderLine>> {
    let mut lines = store
        .order_lines(dataset)
        .with_context(|| format!("cannot load dataset {dataset:?}"))?;
    if lines.is_empty() {
        anyhow::bail!(
            "dataset {dataset:?} has no order lines; ingest some with \
             `mercator ingest orders FILE --dataset {dataset}`"
        );
    }
    if with_events {
        // The evaluation windows end at the latest sale, so a later event
        // would move them past the ingested orders and leave the test
        // window empty. Such events wait for the orders that follow them.
        let (first, last) = data_range(&lines);
        let mut n_later = 0usize;
        let mut countries = std::collections::HashMap::new();
        for line in &lines {
            if let Some(customer) = &line.customer_id {
                countries.insert(customer.clone(), line.country.clone());
            }
        }
        for (idx, event) in store.events_since(dataset, first)?.into_iter().enumerate() {
            if event.kind != "purchase" && event.kind != "add_to_cart" {
                continue;
            }
            if event.occurred_at > last {
                n_later += 1;
                continue;
            }
            let country = countries
                .get(&event.customer_id)
                .cloned()
                .unwrap_or_else(|| "Unspecified".to_string());
            lines.push(OrderLine {
                invoice: format!("event-{idx}"),
                sku: event.sku,
                description: String::new(),
                quantity: 1,
                invoiced_at: event.occurred_at,
                unit_price: 0.0,
                customer_id: Some(event.customer_id),
                country,
                kind: LineKind::Sale,
            });
        }
        if n_later > 0 {
            tracing::warn!(
                n_events = n_later,
                last_order = %last,
                "purchase and cart events after the latest order left out of training"
            );
        }
    }
    Ok(lines)
}

struct Outcome {
    version: i64,
    promoted: bool,
    previous: Option<(i64, f64)>,
}

/// Times of the first and the last order line; defaults for no lines.
pub(crate) fn data_range(lines: &[OrderLine]) -> (NaiveDateTime, NaiveDateTime) {
    let times = lines.iter().map(|l| l.invoiced_at);
    (
        times.clone().min().unwrap_or_default(),
        times.max().unwrap_or_default(),
    )
}

/// Records the version and promotes it when it beats or matches the current one.
#[allow(clippy::too_many_arguments)]
fn register(
    store: &mut Store,
    kind: &str,
    args: &TrainArgs,
    lines: &[OrderLine],
    artifact: &str,
    params: &serde_json::Value,
    metrics: &serde_json::Value,
    metric_name: &str,
    metric_value: f64,
) -> anyhow::Result<Outcome> {
    let (from, to) = data_range(lines);
    let previous = store
        .current_model_version(kind, &args.dataset)?
        .map(|v| (v.id, v.metric_value));
    let version = store.record_model_version(&NewModelVersion {
        kind,
        dataset: &args.dataset,
        data_from: &from.to_string(),
        data_to: &to.to_string(),
        params,
        metrics,
        metric_name,
        metric_value,
        artifact,
    })?;
    let better = previous.is_none_or(|(_, value)| metric_value >= value);
    let promoted = better || args.force;
    if promoted {
        let reason = match (previous, better) {
            (None, _) => "first version".to_string(),
            (Some((id, value)), true) => {
                format!("{metric_name} {metric_value:.4} >= {value:.4} of version {id}")
            }
            (Some((id, value)), false) => {
                format!("forced over version {id} ({metric_name} {value:.4})")
            }
        };
        store.promote_model_version(version, &reason)?;
    }
    Ok(Outcome {
        version,
        promoted,
        previous,
    })
}

fn print_outcome(
    global: &Global,
    kind: &str,
    metric_name: &str,
    value: f64,
    outcome: &Outcome,
    report: serde_json::Value,
) -> anyhow::Result<()> {
    if global.json {
        let out = serde_json::json!({
            "kind": kind,
            "version": outcome.version,
            "promoted": outcome.promoted,
            "previous_version": outcome.previous.map(|p| p.0),
            "metric": { "name": metric_name, "value": value },
            "report": report,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if global.quiet {
        return Ok(());
    }
    println!(
        "{kind} version {}: {metric_name} = {value:.4}",
        outcome.version
    );
    match (outcome.promoted, outcome.previous) {
        (true, _) => println!("promoted; `mercator serve` picks it up without a restart"),
        (false, Some((id, previous))) => println!(
            "not promoted: version {id} has {metric_name} = {previous:.4}; \
             rerun with --force to promote anyway"
        ),
        (false, None) => {}
    }
    Ok(())
}

fn train_recommend(global: &Global, recommend: &RecommendArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let args = &recommend.common;
    let mut store = open_store(&global.data_dir)?;
    let lines = load_lines(&store, &args.dataset, true)?;
    let mut config = OfflineConfig {
        window_days: args.window_days,
        seed: args.seed,
        ..OfflineConfig::default()
    };
    config.engine.als.factors = recommend.factors as usize;
    config.engine.als.iterations = recommend.iterations as usize;
    config.engine.bpr.factors = recommend.factors as usize;
    config.engine.bpr.epochs = recommend.bpr_epochs as usize;
    if recommend.no_search {
        config.als_grid.truncate(1);
    }
    let spinner = progress::spinner(global.quiet, "training recommenders");
    let (model, report) =
        train_recommender(&lines, &config).context("cannot train the recommenders")?;
    spinner.finish_and_clear();
    let artifact = artifacts::save(&global.data_dir, "recommend", &args.dataset, &model)?;
    let value = report
        .validation
        .get(HYBRID)
        .map(|m| m.ndcg_at_k)
        .unwrap_or_default();
    let metric_name = format!("validation_ndcg_at_{}", report.k);
    let report_json = serde_json::to_value(&report)?;
    let outcome = register(
        &mut store,
        "recommend",
        args,
        &lines,
        &artifact,
        &serde_json::to_value(&config)?,
        &report_json,
        &metric_name,
        value,
    )?;
    tracing::info!(
        version = outcome.version,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "trained recommenders"
    );
    if !global.json && !global.quiet {
        println!(
            "{:<18} {:>10} {:>10} {:>9} {:>9}",
            "model", "val ndcg", "test ndcg", "test hr", "coverage"
        );
        for (name, test) in &report.test {
            let validation = report
                .validation
                .get(name)
                .map(|m| m.ndcg_at_k)
                .unwrap_or(f64::NAN);
            println!(
                "{name:<18} {validation:>10.4} {:>10.4} {:>9.4} {:>9.4}",
                test.ndcg_at_k, test.hr_at_k, test.coverage
            );
        }
    }
    print_outcome(
        global,
        "recommend",
        &metric_name,
        value,
        &outcome,
        report_json,
    )
}

fn train_propensity_command(global: &Global, args: &TrainArgs) -> anyhow::Result<()> {
    let mut store = open_store(&global.data_dir)?;
    let lines = load_lines(&store, &args.dataset, false)?;
    let config = PropensityConfig {
        seed: args.seed,
        ..PropensityConfig::default()
    };
    let spinner = progress::spinner(global.quiet, "training propensity models");
    let (model, report) = train_propensity(&lines, Duration::days(args.window_days), &config)
        .context("cannot train the propensity model")?;
    spinner.finish_and_clear();
    let artifact = artifacts::save(&global.data_dir, "propensity", &args.dataset, &model)?;
    let chosen = match report.chosen {
        Classifier::Logistic => &report.logistic,
        Classifier::Trees => &report.trees,
    };
    let value = chosen.validation_auc;
    let report_json = serde_json::to_value(&report)?;
    let outcome = register(
        &mut store,
        "propensity",
        args,
        &lines,
        &artifact,
        &serde_json::to_value(&config)?,
        &report_json,
        "validation_auc",
        value,
    )?;
    if !global.json && !global.quiet {
        println!(
            "logistic regression: validation AUC {:.4}, test AUC {:.4}",
            report.logistic.validation_auc, report.logistic.test_auc
        );
        println!(
            "gradient-boosted trees: validation AUC {:.4}, test AUC {:.4}",
            report.trees.validation_auc, report.trees.test_auc
        );
    }
    print_outcome(
        global,
        "propensity",
        "validation_auc",
        value,
        &outcome,
        report_json,
    )
}
