//! `mercator translate`: localize a catalog, and `mercator translate
//! review`: list the review queue and import corrections.
//!
//! The catalog comes from a CSV or JSON file, from a catalog ingested with
//! `mercator ingest catalog`, or, with `--from-orders`, from the product
//! descriptions of a dataset's order lines. For each target language the
//! command writes `catalog.<lang>.csv`, `qe.<lang>.json` and
//! `qe.<lang>.html` into `--out`, and queues low-scoring fields for review.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use mercator_data::ingest::lines::{describe_error, unclosed_quote, LineIndex, UNCLOSED_QUOTE};
use mercator_models::embed::Embedder;
use mercator_models::generate::openai::OpenAiGenerator;
use mercator_models::generate::{TextGenerator, TokenScorer};
use mercator_models::manifest::Role;
use mercator_models::store::ModelStore;
use mercator_translate::catalog::{self, Listing};
use mercator_translate::engine::{self, apertium, Engine, EngineError, LlmEngine};
use mercator_translate::glossary::Glossary;
use mercator_translate::lang::LanguagePair;
use mercator_translate::locale::RateTable;
use mercator_translate::memory::{Memory, ReviewItem};
use mercator_translate::pipeline::{Options, Pipeline, RunReport};
use mercator_translate::{qe, report};

use crate::commands::ingest::{ingest_orders, open_store, ReadOptions};
use crate::commands::translate_score::{self, ScoreArgs, TrainQeArgs};
use crate::spreadsheet::{from_cell, to_catalog_cell, to_cell};
use crate::{progress, sample, Global};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TranslateArgs {
    #[command(subcommand)]
    pub command: Option<TranslateCommand>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum TranslateCommand {
    /// List the review queue, export it as CSV, or import corrected rows.
    Review(ReviewArgs),
    /// Score translations made anywhere: a quality estimate per source and
    /// translation pair, with the checks and models of `translate`.
    Score(ScoreArgs),
    /// Train a quality estimator on human scores of translations; once
    /// promoted, `translate score` uses it.
    TrainQe(TrainQeArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Catalog file (CSV or JSON with sku,title,description) [default: the catalog ingested into --dataset].
    pub file: Option<PathBuf>,

    /// Target languages, comma-separated ISO 639-1 codes, e.g. es,ca.
    #[arg(long, value_delimiter = ',', value_name = "LANG,...")]
    pub to: Vec<String>,

    /// Language of listings that do not name theirs.
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub from: String,

    /// Glossary CSV: term,translation,target_lang (empty translation: do not translate).
    #[arg(long, value_name = "FILE")]
    pub glossary: Option<PathBuf>,

    /// Translation engine: apertium, llm (a local GGUF model, or an
    /// OpenAI-compatible server with --endpoint), or nmt (a CTranslate2
    /// translation model given with --nmt-model).
    #[arg(long, default_value = "apertium", value_name = "NAME")]
    pub engine: String,

    /// CTranslate2 translation model of the nmt engine: a model folder or
    /// the name of an installed model. It translates --from into the one
    /// --to language.
    #[arg(long, value_name = "DIR_OR_NAME")]
    pub nmt_model: Option<String>,

    /// Tokens every nmt translation starts with, separated by spaces: the
    /// target language token of a multilingual model, e.g. spa_Latn (NLLB)
    /// or __es__ (M2M100).
    #[arg(long, value_name = "TOKEN", requires = "nmt_model")]
    pub target_prefix: Option<String>,

    /// Installed GGUF model of the llm engine [default: gemma-3-270m].
    #[arg(long, value_name = "NAME", conflicts_with = "endpoint")]
    pub llm_model: Option<String>,

    /// OpenAI-compatible server for the llm engine, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Model name sent to --endpoint.
    #[arg(long, default_value = "default", requires = "endpoint")]
    pub endpoint_model: String,

    /// Folder for catalog.<lang>.csv and the QE reports.
    #[arg(long, default_value = "./mercator-translate")]
    pub out: PathBuf,

    /// Exchange rates CSV (from,to,rate); prices are converted only with it.
    #[arg(long, value_name = "FILE")]
    pub rates: Option<PathBuf>,

    /// Build the catalog from the product descriptions of the dataset's order lines.
    #[arg(long, conflicts_with = "file")]
    pub from_orders: bool,

    /// Dataset of the ingested catalog or order lines [default: "sample" with --from-orders, else "default"].
    #[arg(long)]
    pub dataset: Option<String>,

    /// Translate only the first N listings.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Back-translate every segment and use the round trip in the quality score (twice the engine time).
    #[arg(long)]
    pub round_trip: bool,

    /// Installed model that adds to the quality score; repeat it or separate
    /// names with commas to use several. A multilingual embedding model
    /// (embeddinggemma-300m) compares each translation's meaning with its
    /// source's. A GGUF language model (gemma-3-270m) reads each
    /// translation after its source and adds its surprise. Both rank
    /// segments closer to human error scores (bench/TRANSLATE.md).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub qe_model: Vec<String>,

    /// Score with the hand-set weights of the checks, even when a trained
    /// quality estimator (`translate train-qe`) is current. Without this
    /// flag, the estimator scores and its models load without --qe-model.
    #[arg(long)]
    pub rules: bool,

    /// Fields scoring below this (0-100) go to the review queue.
    #[arg(long, default_value_t = 70.0, value_name = "SCORE")]
    pub review_threshold: f64,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Only items of this target language.
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,

    /// Write the open items as CSV; fill the `correction` column and import it.
    #[arg(long, value_name = "FILE", conflicts_with = "import")]
    pub export: Option<PathBuf>,

    /// Import a reviewed CSV: rows with a `correction` are stored and win over the engine next time.
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
}

pub fn execute(global: &Global, args: TranslateArgs) -> anyhow::Result<()> {
    match args.command {
        Some(TranslateCommand::Review(review)) => execute_review(global, review),
        Some(TranslateCommand::Score(score)) => translate_score::execute(global, score),
        Some(TranslateCommand::TrainQe(train)) => translate_score::train(global, train),
        None => execute_run(global, args.run),
    }
}

fn execute_run(global: &Global, args: RunArgs) -> anyhow::Result<()> {
    if args.to.is_empty() {
        bail!("no target language given; add --to with ISO 639-1 codes, e.g. --to es");
    }
    if !(0.0..=100.0).contains(&args.review_threshold) {
        bail!(
            "--review-threshold {} is outside 0 to 100",
            args.review_threshold
        );
    }
    let engine = open_engine(global, &args)?;
    check_targets(engine.as_ref(), &args.from, &args.to)?;

    let mut listings = load_catalog(global, &args)?;
    if let Some(limit) = args.limit {
        listings.truncate(limit);
    }
    if listings.is_empty() {
        bail!("the catalog has no listings; nothing to translate");
    }

    let glossary = match &args.glossary {
        Some(path) => Glossary::load(path)?,
        None => Glossary::default(),
    };
    let rates = match &args.rates {
        Some(path) => RateTable::load(path)?,
        None => RateTable::default(),
    };
    let (estimator, qe_models) =
        translate_score::estimator_and_models(global, args.rules, &args.qe_model)?;
    let estimator_version = estimator.as_ref().map(|(version, _)| *version);
    let options = Options {
        source_lang: args.from.clone(),
        glossary,
        rates,
        round_trip: args.round_trip,
        review_threshold: args.review_threshold,
        estimator: estimator.map(|(_, estimator)| estimator),
        ..Options::default()
    };

    let (scorer, embedder) = load_qe_models(global, &qe_models)?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut memory = Memory::open(&global.data_dir)?;
    let mut summaries = Vec::new();
    for target in &args.to {
        let bar = progress::count_bar(global.quiet, listings.len() as u64, target);
        let mut pipeline = Pipeline::new(engine.as_ref(), Some(&mut memory), options.clone());
        if let Some(scorer) = &scorer {
            pipeline = pipeline.with_scorer(scorer.as_ref());
        }
        if let Some(embedder) = &embedder {
            pipeline = pipeline.with_embedder(embedder);
        }
        let result =
            pipeline.translate(&listings, target, &mut |done| bar.set_position(done as u64));
        bar.finish_and_clear();
        let run = result.with_context(|| {
            // Name the listings whose own source_lang picked the pair.
            let named: Vec<String> = listings
                .iter()
                .filter(|listing| listing.source_lang.is_some())
                .take(3)
                .map(|listing| format!("{} (line {})", listing.sku, listing.position))
                .collect();
            if named.is_empty() {
                format!("translating to {target}")
            } else {
                format!(
                    "translating to {target}; the catalog's source_lang column sets the language \
                     of listings such as {}",
                    named.join(", ")
                )
            }
        })?;

        let paths = write_outputs(&args.out, &run, args.review_threshold)?;
        let summary = report::to_json(&run, args.review_threshold)["summary"].clone();
        tracing::info!(target = %run.target_lang, listings = run.listings.len(), "catalog translated");
        summaries.push(serde_json::json!({
            "target_lang": run.target_lang,
            "catalog": paths[0],
            "report_json": paths[1],
            "report_html": paths[2],
            "summary": summary,
            "quality_estimator": estimator_version,
        }));
    }

    if global.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    } else if !global.quiet {
        for item in &summaries {
            let s = &item["summary"];
            println!(
                "{}: {} listings, mean score {}, {} fields queued for review",
                item["target_lang"].as_str().unwrap_or(""),
                s["listings"],
                s["mean_score"],
                s["queued_for_review"]
            );
            for key in ["catalog", "report_json", "report_html"] {
                println!("  {}", item[key].as_str().unwrap_or(""));
            }
        }
        if let Some(version) = estimator_version {
            println!(
                "scored by the trained quality estimator, version {version} (--rules for the \
                 hand-set weights)"
            );
        }
    }
    Ok(())
}

/// Opens the engine named by --engine, loading the model of the llm and
/// nmt engines.
/// The `--qe-model` models: a language model and an embedding model.
pub(crate) type QeModels = (Option<Box<dyn TokenScorer>>, Option<Embedder>);

/// Loads the `--qe-model` models by their role: at most one language
/// model and one embedding model.
pub(crate) fn load_qe_models(global: &Global, names: &[String]) -> anyhow::Result<QeModels> {
    let store = ModelStore::new(&global.data_dir);
    let (mut scorer, mut embedder) = (None, None);
    for name in names.iter().map(|name| name.trim()) {
        let manifest = store.manifest(name)?;
        match manifest.role {
            Role::Llm if scorer.is_none() => {
                scorer = Some(crate::commands::generate::load_scorer(global, name)?);
            }
            Role::Embedding if embedder.is_none() => {
                let dir = store.require(name, Role::Embedding)?;
                let model = Embedder::load(&dir)
                    .with_context(|| format!("--qe-model {name}: cannot load"))?;
                if let Err(reason) = mercator_translate::score::check_multilingual(&model) {
                    bail!(
                        "--qe-model {name}: {reason}; use a multilingual embedding model \
                         (`mercator models pull embeddinggemma-300m`)"
                    );
                }
                embedder = Some(model);
            }
            Role::Llm | Role::Embedding => bail!(
                "--qe-model {name}: another {} model is already given; use one language \
                 model and one embedding model at most",
                manifest.role
            ),
            other => bail!(
                "--qe-model {name}: is a {other} model; give a language model (gemma-3-270m) \
                 or a multilingual embedding model (embeddinggemma-300m)"
            ),
        }
    }
    Ok((scorer, embedder))
}

fn open_engine(global: &Global, args: &RunArgs) -> anyhow::Result<Box<dyn Engine>> {
    if args.engine != "nmt" && args.nmt_model.is_some() {
        bail!(
            "--nmt-model and --target-prefix apply to --engine nmt, not {:?}",
            args.engine
        );
    }
    if args.engine != "llm" {
        if args.endpoint.is_some() || args.llm_model.is_some() {
            bail!(
                "--endpoint and --llm-model apply to --engine llm, not {:?}",
                args.engine
            );
        }
        if args.engine == "nmt" {
            return open_nmt_engine(global, args);
        }
        return Ok(engine::open(&args.engine)?);
    }
    let (name, generator): (String, Box<dyn TextGenerator + Send>) = match &args.endpoint {
        Some(endpoint) => (
            args.endpoint_model.clone(),
            Box::new(OpenAiGenerator::new(endpoint, &args.endpoint_model)?),
        ),
        None => crate::commands::generate::load_local(
            global,
            args.llm_model.as_deref(),
            LLM_CONTEXT_TOKENS,
        )?,
    };
    Ok(Box::new(LlmEngine::new(format!("llm:{name}"), generator)))
}

/// Loads the --nmt-model for the pair --from to the single --to language.
#[cfg(feature = "nmt")]
fn open_nmt_engine(global: &Global, args: &RunArgs) -> anyhow::Result<Box<dyn Engine>> {
    use mercator_models::nmt::NmtModel;
    use mercator_translate::engine::NmtEngine;

    let Some(model) = &args.nmt_model else {
        bail!(
            "--engine nmt needs --nmt-model: a CTranslate2 translation model folder or the \
             name of an installed model"
        );
    };
    let [target] = args.to.as_slice() else {
        bail!(
            "--engine nmt translates one language pair per model, but --to gives {} languages \
             ({}); run the command once per target language, each with its own --nmt-model",
            args.to.len(),
            args.to.join(",")
        );
    };
    let dir = nmt_model_dir(global, model)?;
    let loaded = NmtModel::load(&dir)?;
    let name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| model.clone());
    let prefix: Vec<String> = args
        .target_prefix
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pair = LanguagePair::new(&args.from, target);
    Ok(Box::new(
        NmtEngine::new(format!("nmt:{name}"), loaded, pair).with_target_prefix(prefix),
    ))
}

/// Stands in for the nmt engine in builds without CTranslate2.
#[cfg(not(feature = "nmt"))]
fn open_nmt_engine(_global: &Global, _args: &RunArgs) -> anyhow::Result<Box<dyn Engine>> {
    bail!("this build has no CTranslate2 runtime; rebuild with the `nmt` feature")
}

/// Resolves --nmt-model: an existing folder, else an installed model name.
#[cfg(feature = "nmt")]
fn nmt_model_dir(global: &Global, model: &str) -> anyhow::Result<PathBuf> {
    use mercator_models::store::ModelStore;

    let path = Path::new(model);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let store = ModelStore::new(&global.data_dir);
    if mercator_models::store::validate_name(model).is_ok() && store.contains(model) {
        return Ok(store.require(model, mercator_models::manifest::Role::Translation)?);
    }
    bail!(
        "--nmt-model {model:?} is neither a folder nor a model installed in {}; give the \
         folder of a CTranslate2 translation model (model.bin and tokenizer.json)",
        store.root().display()
    )
}

/// Context of the llm engine's local model: room for the prompt, one
/// segment and its translation.
const LLM_CONTEXT_TOKENS: u32 = 4096;

/// Fails with the installed pairs, and the package to install, when the
/// engine cannot translate into one of the targets.
fn check_targets(engine: &dyn Engine, from: &str, targets: &[String]) -> anyhow::Result<()> {
    for target in targets {
        let pair = LanguagePair::new(from, target);
        if engine.supports(&pair) {
            continue;
        }
        let known = |code: &str| mercator_translate::lang::Language::lookup(code).is_some();
        let hint = if !known(target) {
            let codes: Vec<&str> = mercator_translate::lang::LANGUAGES
                .iter()
                .map(|language| language.code)
                .collect();
            format!(
                "; it is not a language code Mercator knows: use one of {}",
                codes.join(", ")
            )
        } else if engine.name() == "apertium" && known(from) {
            format!(
                "; if Debian packages the pair, it is named {} (check with `apt-cache policy {}`, install with `apt-get install`)",
                apertium::package_for(&pair),
                apertium::package_for(&pair)
            )
        } else {
            String::new()
        };
        return Err(EngineError::UnsupportedPair {
            engine: engine.name().to_string(),
            pair,
            supported: engine::describe_pairs(engine),
        })
        .with_context(|| {
            // The engine translates from --from into other languages: then
            // the target is the problem, else the source.
            let from_known = engine.pairs().iter().any(|pair| pair.source == from);
            if from_known {
                format!("invalid --to value {target:?}{hint}")
            } else {
                format!("invalid --from value {from:?}{hint}")
            }
        });
    }
    Ok(())
}

/// Reads the catalog from the file, the store or the order lines.
fn load_catalog(global: &Global, args: &RunArgs) -> anyhow::Result<Vec<Listing>> {
    if let Some(path) = &args.file {
        return Ok(catalog::read(path)?);
    }
    if args.from_orders {
        let dataset = args
            .dataset
            .clone()
            .unwrap_or_else(|| sample::SAMPLE_DATASET.to_string());
        let mut store = open_store(&global.data_dir)?;
        if dataset == sample::SAMPLE_DATASET && store.dataset_id(&dataset)?.is_none() {
            // The bundled sample is ingested on first use, as `run` does.
            let path = sample::materialize(&global.data_dir)?;
            let read = ReadOptions {
                dataset: Some(dataset.clone()),
                map: None,
                map_file: None,
                date_format: None,
                strict: false,
            };
            ingest_orders(global, &mut store, &path, &dataset, &read)?;
        }
        let lines = store.order_lines(&dataset)?;
        return Ok(catalog::from_order_lines(&lines));
    }
    let dataset = args.dataset.as_deref().unwrap_or("default");
    let listings = Memory::open(&global.data_dir)?.catalog(dataset)?;
    if listings.is_empty() {
        bail!(
            "no catalog in dataset {dataset:?}; give a catalog FILE, ingest one with \
             `mercator ingest catalog FILE --dataset {dataset}`, or use --from-orders"
        );
    }
    Ok(listings)
}

/// Writes the translated catalog and the QE reports; returns their paths.
fn write_outputs(out: &Path, run: &RunReport, threshold: f64) -> anyhow::Result<[String; 3]> {
    let lang = &run.target_lang;
    let catalog_path = out.join(format!("catalog.{lang}.csv"));
    let json_path = out.join(format!("qe.{lang}.json"));
    let html_path = out.join(format!("qe.{lang}.html"));

    write_atomic(&catalog_path, &catalog_csv(run)?)?;
    let json = serde_json::to_vec_pretty(&report::to_json(run, threshold))?;
    write_atomic(&json_path, &json)?;
    write_atomic(&html_path, report::to_html(run, threshold).as_bytes())?;
    Ok([catalog_path, json_path, html_path].map(|p| p.display().to_string()))
}

/// Writes the translated catalog as CSV: the source columns plus qe_score and qe_flags.
fn catalog_csv(run: &RunReport) -> anyhow::Result<Vec<u8>> {
    // A catalog written here and translated again carries the columns
    // this run computes afresh; the old values are dropped.
    const COMPUTED: [&str; 3] = ["target_lang", "qe_score", "qe_flags"];
    let mut extra_columns: Vec<String> = run
        .listings
        .iter()
        .flat_map(|listing| listing.translated.extra.keys().cloned())
        .filter(|column| !COMPUTED.contains(&column.as_str()))
        .collect();
    extra_columns.sort();
    extra_columns.dedup();

    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "sku",
        "title",
        "description",
        "bullets",
        "attributes",
        "source_lang",
    ];
    header.extend(extra_columns.iter().map(String::as_str));
    header.extend(COMPUTED);
    writer.write_record(&header)?;
    for listing in &run.listings {
        let t = &listing.translated;
        let mut row = vec![
            t.sku.clone(),
            t.title.clone(),
            t.description.clone(),
            catalog::join_bullets(&t.bullets),
            catalog::join_attributes(&t.attributes),
            t.source_lang.clone().unwrap_or_default(),
        ];
        row.extend(
            extra_columns
                .iter()
                .map(|column| t.extra.get(column).cloned().unwrap_or_default()),
        );
        row.extend([
            run.target_lang.clone(),
            format!("{:.1}", listing.score),
            listing.flags.join(" "),
        ]);
        writer.write_record(row.iter().map(|cell| to_catalog_cell(cell).into_owned()))?;
    }
    writer.into_inner().map_err(|err| anyhow::anyhow!("{err}"))
}

/// Writes beside `path` and renames, so readers never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))
}

const REVIEW_COLUMNS: [&str; 9] = [
    "id",
    "sku",
    "field",
    "target_lang",
    "score",
    "flags",
    "source",
    "translation",
    "correction",
];

fn execute_review(global: &Global, args: ReviewArgs) -> anyhow::Result<()> {
    let mut memory = Memory::open(&global.data_dir)?;
    if let Some(path) = &args.import {
        let imported = import_review(&mut memory, path)?;
        let count = imported.len();
        let flagged: Vec<&ImportedCorrection> = imported
            .iter()
            .filter(|c| !c.check.flags.is_empty())
            .collect();
        if global.json {
            println!(
                "{}",
                serde_json::json!({ "imported": count, "flagged": flagged })
            );
        } else if !global.quiet {
            println!("{count} corrections stored from {}", path.display());
            for correction in &flagged {
                let item = correction
                    .id
                    .map(|id| format!(" (review item {id})"))
                    .unwrap_or_default();
                println!(
                    "  line {}{item}: QE {:.1}, check {}",
                    correction.line,
                    correction.check.score,
                    correction.check.flags.join(", ")
                );
            }
        }
        return Ok(());
    }

    let items = memory.open_reviews(args.lang.as_deref())?;
    if let Some(path) = &args.export {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(REVIEW_COLUMNS)?;
        for item in &items {
            // Reviewers open this file in a spreadsheet: no cell may run
            // as a formula there.
            writer.write_record([
                item.id.to_string(),
                to_cell(&item.sku).into_owned(),
                item.field.clone(),
                item.target_lang.clone(),
                format!("{:.1}", item.score),
                item.flags.clone(),
                to_cell(&item.source).into_owned(),
                to_cell(&item.translation).into_owned(),
                String::new(),
            ])?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        write_atomic(path, &bytes)?;
        if !global.quiet && !global.json {
            println!("{} items written to {}", items.len(), path.display());
        }
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else if !global.quiet && args.export.is_none() {
        if items.is_empty() {
            println!("the review queue is empty");
        }
        for item in &items {
            println!(
                "#{} {} {} [{}] {:.1} {}\n  {}\n  {}",
                item.id,
                item.sku,
                item.field,
                item.target_lang,
                item.score,
                item.flags,
                item.source,
                item.translation
            );
        }
    }
    Ok(())
}

/// A stored correction and what the quality checks found in it.
#[derive(Debug, serde::Serialize)]
struct ImportedCorrection {
    line: u64,
    /// The review item corrected; `None` for a row that names its source.
    id: Option<i64>,
    #[serde(flatten)]
    check: qe::PairCheck,
}

/// How many times longer than its source a correction may be (plus 200
/// characters); more suggests shifted columns or a pasted file.
const MAX_CORRECTION_GROWTH: usize = 4;

/// Stores the corrections of a reviewed CSV and returns them with their
/// quality checks. A correction that drops a tag-free protected span of
/// the source (URL, email, placeholder, model number) or adds a tag the
/// source lacks is rejected, and then nothing is stored.
fn import_review(memory: &mut Memory, path: &Path) -> anyhow::Result<Vec<ImportedCorrection>> {
    let path_text = path.display();
    let text = mercator_data::ingest::lines::read_utf8(path)
        .with_context(|| format!("cannot read {path_text}"))?;
    if let Some(line) = unclosed_quote(text.as_bytes()) {
        bail!("{path_text} line {line}: {UNCLOSED_QUOTE}");
    }
    let mut lines = LineIndex::of(text.as_bytes());
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| format!("{path_text} line 1: invalid CSV header"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let names_source = column("source").is_some() && column("target_lang").is_some();
    let correction_column = match column("correction") {
        Some(index) if column("id").is_some() || names_source => index,
        _ => bail!(
            "{path_text} line 1: expected the columns id and correction, as written by \
             `mercator translate review --export`, or source, target_lang and correction \
             to correct any translation"
        ),
    };

    // Every row is checked before any is stored, so a bad row stores nothing.
    let mut corrections = Vec::new();
    let mut first_lines: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|err| {
            let (line, message) = describe_error(&err, &mut lines);
            anyhow::anyhow!("{path_text} line {line}: {message}")
        })?;
        let line = lines.line_of(record.position());
        let correction = from_cell(record.get(correction_column).unwrap_or("").trim());
        if correction.is_empty() {
            continue;
        }
        let cell = |name: &str| {
            column(name)
                .and_then(|index| record.get(index))
                .map(|value| from_cell(value).trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let (item, key) = match cell("id") {
            // A row without an id corrects any translation: the text of a
            // field that scored high and was never queued, for example.
            None => {
                let (Some(source), Some(target_lang)) = (cell("source"), cell("target_lang"))
                else {
                    bail!(
                        "{path_text} line {line}, field id: empty; give the id of a review \
                         item, or the source and target_lang of the text to correct"
                    );
                };
                let source_lang = cell("source_lang").unwrap_or_else(|| "en".to_string());
                for (name, code) in [("source_lang", &source_lang), ("target_lang", &target_lang)] {
                    if let Err(message) = catalog::check_language(code) {
                        bail!(
                            "{path_text} line {line}, {}",
                            message.replacen("source_lang", name, 1)
                        );
                    }
                }
                let (source_lang, target_lang) =
                    (source_lang.to_lowercase(), target_lang.to_lowercase());
                let key = format!("{source_lang}-{target_lang}:{source}");
                let item = ReviewItem {
                    id: 0,
                    sku: cell("sku").unwrap_or_default(),
                    field: cell("field").unwrap_or_default(),
                    source_lang,
                    target_lang,
                    source,
                    translation: String::new(),
                    score: 0.0,
                    flags: String::new(),
                };
                (item, key)
            }
            Some(id_text) => {
                let id: i64 = id_text.parse().with_context(|| {
                    format!(
                        "{path_text} line {line}, field id: {id_text:?} is not a review item id"
                    )
                })?;
                let Some(item) = memory.review(id)? else {
                    bail!(
                        "{path_text} line {line}, field id: no review item {id}; export the queue \
                         again with `mercator translate review --export FILE`"
                    );
                };
                // An id alone could attach the correction to another text: a
                // file exported from another store, or an edited id.
                for (name, stored) in [
                    ("sku", &item.sku),
                    ("field", &item.field),
                    ("target_lang", &item.target_lang),
                    ("source", &item.source),
                ] {
                    let Some(value) = column(name).and_then(|index| record.get(index)) else {
                        continue;
                    };
                    let value = from_cell(value);
                    if value.trim() != stored.trim() {
                        bail!(
                            "{path_text} line {line}, field {name}: {value:?} is not the {name} of \
                             review item {id} ({stored:?}); the file comes from another store or \
                             was edited outside the correction column. Export the queue again \
                             with `mercator translate review --export FILE`"
                        );
                    }
                }
                (item, format!("id:{id}"))
            }
        };
        if let Some(first) = first_lines.insert(key, line) {
            bail!(
                "{path_text} line {line}: the same text was already corrected on line {first}; \
                 keep one correction per item"
            );
        }
        let subject = match item.id {
            0 => "this row".to_string(),
            id => format!("review item {id}"),
        };
        let (length, source_length) = (correction.chars().count(), item.source.chars().count());
        if length > MAX_CORRECTION_GROWTH * source_length + 200 {
            bail!(
                "{path_text} line {line}, field correction: {length} characters for a source of \
                 {source_length} ({subject}); a translation is rarely more than \
                 {MAX_CORRECTION_GROWTH} times as long as its source: check that the row's \
                 columns are not shifted"
            );
        }
        if let Some(name) = new_attribute(&item.source, correction) {
            bail!(
                "{path_text} line {line}, field correction: attribute {name:?} is not in the \
                 source of {subject}; keep the source's markup and change only its text"
            );
        }
        if let Some(tag) = new_tag(&item.source, correction) {
            bail!(
                "{path_text} line {line}, field correction: tag <{tag}> is not in the source of \
                 {subject}; keep the source's markup and change only its text"
            );
        }
        let check = qe::check_correction(
            &item.source,
            correction,
            &item.source_lang,
            &item.target_lang,
        );
        if let Some(missing) = check.missing_spans.first() {
            bail!(
                "{path_text} line {line}, field correction: {missing:?} from the source of \
                 {subject} is missing; keep URLs, emails, placeholders and model numbers as they are"
            );
        }
        if let Some(link) = check.new_links.first() {
            bail!(
                "{path_text} line {line}, field correction: {link:?} is not in the source of \
                 {subject}; a correction may not add links or email addresses"
            );
        }
        corrections.push((item, correction.to_string(), line, check));
    }
    let pairs: Vec<(&ReviewItem, &str)> = corrections
        .iter()
        .map(|(item, correction, _, _)| (item, correction.as_str()))
        .collect();
    memory.correct(&pairs)?;
    Ok(corrections
        .into_iter()
        .map(|(item, _, line, check)| ImportedCorrection {
            line,
            id: (item.id != 0).then_some(item.id),
            check,
        })
        .collect())
}

/// Finds the first tag name in `correction` that `source` does not use,
/// which would put new markup (a script, say) into the catalog.
fn new_tag(source: &str, correction: &str) -> Option<String> {
    let tag_names = |text: &str| -> Vec<String> {
        text.split('<')
            .skip(1)
            .map(|rest| {
                rest.trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase()
            })
            .filter(|name| !name.is_empty())
            .collect()
    };
    let known = tag_names(source);
    tag_names(correction)
        .into_iter()
        .find(|name| !known.contains(name))
}

/// Finds the first attribute name in the tags of `correction` that no tag
/// of `source` uses, such as an `onclick` handler added to a paragraph.
fn new_attribute(source: &str, correction: &str) -> Option<String> {
    static TAG: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static ATTRIBUTE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let tag = TAG.get_or_init(|| regex::Regex::new(r"<[A-Za-z][^>]*>").expect("valid regex"));
    let attribute = ATTRIBUTE.get_or_init(|| {
        regex::Regex::new(
            r#"\s([A-Za-z_:@][-A-Za-z0-9_:.@]*)\s*(?:=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?"#,
        )
        .expect("valid regex")
    });
    let names = |text: &str| -> Vec<String> {
        tag.find_iter(text)
            .flat_map(|found| {
                attribute
                    .captures_iter(found.as_str())
                    .map(|caps| caps[1].to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let known = names(source);
    names(correction)
        .into_iter()
        .find(|name| !known.contains(name))
}

/// `mercator ingest catalog FILE`: stores a catalog in the translation store.
pub fn ingest_catalog(global: &Global, file: &Path, dataset: &str) -> anyhow::Result<()> {
    let listings = catalog::read(file)?;
    let mut memory = Memory::open(&global.data_dir)?;
    let stored = memory.store_catalog(dataset, &listings)?;
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "path": file.display().to_string(), "dataset": dataset, "listings": stored })
        );
    } else if !global.quiet {
        println!(
            "{}: {stored} listings stored in dataset {dataset:?}",
            file.display()
        );
    }
    Ok(())
}
