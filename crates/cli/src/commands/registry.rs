//! `mercator models history|rollback`: the versions in the model registry.

use clap::{Args, Subcommand, ValueEnum};

use crate::commands::ingest::open_store;
use crate::Global;

/// Registry subcommands, to sit under `mercator models`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// List trained versions, newest first, with metrics and which one is current.
    History(RegistryArgs),
    /// Make the previously promoted version current again (for quality
    /// estimators, the hand-set weights after the first one).
    Rollback(RegistryArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelKind {
    Recommend,
    Propensity,
    /// Stored runs of `mercator forecast`, served by `GET /v1/forecasts`.
    Forecast,
    /// Translation quality estimators of `mercator translate train-qe`.
    Quality,
}

impl ModelKind {
    /// The command that records a version of this kind.
    fn producing_command(self, dataset: &str) -> String {
        match self {
            ModelKind::Forecast => format!("mercator forecast --dataset {dataset} --out DIR"),
            ModelKind::Quality => "mercator translate train-qe FILE".to_string(),
            other => format!("mercator train {} --dataset {dataset}", other.as_str()),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ModelKind::Recommend => "recommend",
            ModelKind::Propensity => "propensity",
            ModelKind::Forecast => mercator_forecast::snapshot::KIND,
            ModelKind::Quality => mercator_translate::estimator::ESTIMATOR_KIND,
        }
    }
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Kind of model.
    #[arg(long, value_enum, default_value = "recommend")]
    pub kind: ModelKind,

    /// Dataset the models were trained on.
    #[arg(long, default_value = "default")]
    pub dataset: String,
}

pub fn execute(global: &Global, command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::History(args) => history(global, &args),
        RegistryCommand::Rollback(args) => rollback(global, &args),
    }
}

fn history(global: &Global, args: &RegistryArgs) -> anyhow::Result<()> {
    let store = open_store(&global.data_dir)?;
    let versions = store.model_versions(args.kind.as_str(), &args.dataset)?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(());
    }
    if versions.is_empty() {
        println!(
            "no {} version recorded for dataset {:?}; run `{}`",
            args.kind.as_str(),
            args.dataset,
            args.kind.producing_command(&args.dataset)
        );
        return Ok(());
    }
    for version in versions {
        // Quality estimators learn from scored translations, not a range
        // of order lines.
        let range = if version.data_from.is_empty() {
            String::new()
        } else {
            format!("  data {} .. {}", version.data_from, version.data_to)
        };
        println!(
            "{} v{:<4} {}{range}  {} = {:.4}",
            if version.current { "*" } else { " " },
            version.id,
            version.created_at,
            version.metric_name,
            version.metric_value
        );
    }
    Ok(())
}

fn rollback(global: &Global, args: &RegistryArgs) -> anyhow::Result<()> {
    let mut store = open_store(&global.data_dir)?;
    let kind = args.kind.as_str();
    let rolled = match store.rollback_model(kind, &args.dataset)? {
        Some((from, to)) => Some((from, Some(to))),
        // Past the first estimator, quality scores use the hand-set weights.
        None if matches!(args.kind, ModelKind::Quality) => store
            .retire_model(kind, &args.dataset)?
            .map(|from| (from, None)),
        None => None,
    };
    let Some((from, to)) = rolled else {
        anyhow::bail!(
            "no earlier {kind} version of dataset {:?} to roll back to; see `mercator models \
             history`",
            args.dataset
        );
    };
    if global.json {
        println!("{}", serde_json::json!({ "from": from, "to": to }));
    } else if !global.quiet {
        match to {
            Some(to) => println!("rolled back from version {from} to version {to}"),
            None => println!(
                "rolled back from version {from} to the hand-set weights; no quality estimator \
                 is promoted"
            ),
        }
    }
    Ok(())
}
