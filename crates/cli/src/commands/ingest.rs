//! `mercator ingest orders FILE`: read an export into the store.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use mercator_data::ingest::{self, ColumnMapping, IngestOptions, IngestSummary};
use mercator_data::Store;

use crate::{progress, Global};

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Order lines: CSV, CSV.gz or Parquet.
    Orders(OrdersArgs),
    /// Product listings to translate: CSV or JSON with sku,title,description.
    Catalog(CatalogArgs),
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Catalog to read (.csv or .json).
    pub file: PathBuf,

    /// Dataset (shop) the catalog belongs to.
    #[arg(long, default_value = "default")]
    pub dataset: String,
}

/// Options shared by every command that reads an order export.
#[derive(Debug, Clone, Args)]
pub struct ReadOptions {
    /// Dataset (shop) the lines belong to [default: "default", or "sample" for the bundled sample].
    #[arg(long)]
    pub dataset: Option<String>,

    /// Column of each field, as field=Column pairs, e.g. invoice="Order ID",unit_price=Price.
    /// Fields: invoice, sku, description, quantity, invoiced_at, unit_price, customer_id, country.
    #[arg(long, value_name = "FIELD=COLUMN,...")]
    pub map: Option<String>,

    /// TOML file with a [columns] table of field = "Column" and an optional date_format.
    #[arg(long, value_name = "FILE")]
    pub map_file: Option<PathBuf>,

    /// strftime pattern of the date column, e.g. '%d.%m.%Y %H:%M' (detected when absent).
    #[arg(long, value_name = "PATTERN")]
    pub date_format: Option<String>,

    /// Stop at the first rejected row, naming its file, line and field.
    #[arg(long)]
    pub strict: bool,
}

impl ReadOptions {
    /// The dataset named with `--dataset`, or "default".
    pub fn dataset(&self) -> &str {
        self.dataset.as_deref().unwrap_or("default")
    }
}

#[derive(Debug, Args)]
pub struct OrdersArgs {
    /// Export to read.
    pub file: PathBuf,

    #[command(flatten)]
    pub read: ReadOptions,
}

pub fn execute(global: &Global, command: IngestCommand) -> anyhow::Result<()> {
    match command {
        IngestCommand::Catalog(args) => {
            crate::commands::translate::ingest_catalog(global, &args.file, &args.dataset)
        }
        IngestCommand::Orders(args) => {
            let mut store = open_store(&global.data_dir)?;
            let summary = ingest_orders(
                global,
                &mut store,
                &args.file,
                args.read.dataset(),
                &args.read,
            )?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&summary_json(&summary))?);
            } else if !global.quiet {
                print_summary(&summary);
            }
            Ok(())
        }
    }
}

/// Opens the store in the data dir, with the path in the error.
pub fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    Store::open(data_dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

/// Ingests `file` with a progress bar over its bytes.
pub fn ingest_orders(
    global: &Global,
    store: &mut Store,
    file: &Path,
    dataset: &str,
    read: &ReadOptions,
) -> anyhow::Result<IngestSummary> {
    let mut mapping = match &read.map_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read mapping file {}", path.display()))?;
            ColumnMapping::from_toml(&path.display().to_string(), &text)?
        }
        None => ColumnMapping::default(),
    };
    if let Some(spec) = &read.map {
        // Columns given with --map win over those of --map-file.
        mapping = mapping.overridden_by(&ColumnMapping::parse_spec(spec)?);
    }
    let options = IngestOptions {
        dataset: dataset.to_string(),
        mapping,
        strict: read.strict,
        date_format: read.date_format.clone(),
    };

    let total = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let bar = progress::bytes_bar(global.quiet, total, "ingest");
    let result = ingest::ingest_file(store, file, &options, &mut |bytes| bar.set_position(bytes));
    bar.finish_and_clear();
    let summary = result?;

    for rejection in &summary.rejections {
        tracing::debug!(
            file = %summary.path.display(),
            location = %rejection.location,
            column = %rejection.column,
            problem = %rejection.problem,
            "row rejected"
        );
    }
    Ok(summary)
}

pub fn summary_json(summary: &IngestSummary) -> serde_json::Value {
    serde_json::json!({
        "path": summary.path.display().to_string(),
        "sha256": summary.sha256,
        "rows": summary.rows_read,
        "already_ingested": summary.already_ingested,
        "stored": if summary.already_ingested { 0 } else { summary.account.stored() },
        "cleaning": summary.account,
        "rejections": summary.rejections.iter().map(|r| serde_json::json!({
            "location": r.location.to_string(),
            "field": r.field.map(|f| f.name()),
            "column": r.column,
            "value": r.value,
            "problem": r.problem,
        })).collect::<Vec<_>>(),
    })
}

fn print_summary(summary: &IngestSummary) {
    if summary.already_ingested {
        println!(
            "{} was already ingested (sha256 {}): nothing added",
            summary.path.display(),
            &summary.sha256[..12]
        );
    } else {
        println!(
            "{}: {} rows read, {} stored",
            summary.path.display(),
            summary.rows_read,
            summary.account.stored()
        );
    }
    for (bucket, count) in summary.account.to_map() {
        println!("  {bucket:<24} {count:>9}");
    }
    for r in &summary.rejections {
        println!(
            "  rejected {} column {:?}: {} {:?}",
            r.location, r.column, r.problem, r.value
        );
    }
}
