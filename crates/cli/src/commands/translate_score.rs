//! `mercator translate score`: quality estimates of translations made
//! anywhere (another tool, an agency, a person), one per source and
//! translation pair, with the checks and models of `mercator translate`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use mercator_data::ingest::lines::{describe_error, unclosed_quote, LineIndex, UNCLOSED_QUOTE};
use mercator_data::registry::NewModelVersion;
use mercator_models::manifest::Role;
use mercator_models::store::ModelStore;
use mercator_server::artifacts;
use mercator_translate::estimator::{
    agreement_of_scores, agreement_per_pair, distinct_pairs, mean_agreement, row_key, Example,
    Inputs, QualityEstimator, ESTIMATOR_DATASET, ESTIMATOR_KIND,
};
use mercator_translate::lang::{Language, LANGUAGES};
use mercator_translate::memory::Memory;
use mercator_translate::metrics;
use mercator_translate::qe::{self, Weights};
use mercator_translate::score::{self, PairScore, QeModels, TranslationPair};

use crate::commands::ingest::open_store;
use crate::spreadsheet::{from_cell, to_cell};
use crate::Global;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// CSV, JSON array or JSON Lines file with the columns source and
    /// translation, and optionally id, source_lang and target_lang.
    #[arg(required_unless_present = "source", conflicts_with_all = ["source", "translation"])]
    pub file: Option<PathBuf>,

    /// One source text to score with --translation.
    #[arg(long, requires = "translation")]
    pub source: Option<String>,

    /// The translation of --source.
    #[arg(long, requires = "source")]
    pub translation: Option<String>,

    #[command(flatten)]
    pub languages: Languages,

    /// Installed models that add to the score, as for `mercator translate`:
    /// a multilingual embedding model and a GGUF language model.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub qe_model: Vec<String>,

    /// Write the rows with qe_score and qe_flags added to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Score with the hand-set weights of the checks, even when a trained
    /// quality estimator is current.
    #[arg(long)]
    pub rules: bool,
}

/// Languages of rows that do not name theirs.
#[derive(Debug, Args)]
pub struct Languages {
    /// Language of the sources, for rows without source_lang.
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub from: String,

    /// Language of the translations, for rows without target_lang.
    #[arg(long, value_name = "LANG")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrainQeArgs {
    /// CSV, JSON array or JSON Lines file with the columns source,
    /// translation and score (the human score, 0 for unusable to 100 for
    /// perfect, such as an MQM score). Optional columns: source_lang,
    /// target_lang and group, a document id whose rows are never split
    /// between training and validation.
    #[arg(required_unless_present = "from_reviews")]
    pub file: Option<PathBuf>,

    /// Also learn from the review queue: each reviewed field scores the
    /// chrF of the machine's translation against the reviewer's
    /// correction (100 when it was kept as it was).
    #[arg(long)]
    pub from_reviews: bool,

    #[command(flatten)]
    pub languages: Languages,

    /// Installed models whose outputs the estimator reads: a multilingual
    /// embedding model and a GGUF language model. Scoring then needs them.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub qe_model: Vec<String>,

    /// Promote the new version even if it ranks the rows worse than the
    /// hand-set weights or the current estimator.
    #[arg(long)]
    pub force: bool,
}

/// One scored row: its id (given, or its line) and the estimate.
#[derive(Debug, serde::Serialize)]
struct ScoredRow {
    id: String,
    /// Version of the trained quality estimator that gave the score; none
    /// for the hand-set weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    estimator: Option<i64>,
    source_lang: String,
    target_lang: String,
    #[serde(flatten)]
    score: PairScore,
}

pub fn execute(global: &Global, args: ScoreArgs) -> anyhow::Result<()> {
    let (ids, pairs) = match (&args.file, &args.source, &args.translation) {
        (Some(path), _, _) => read_pairs(path, &args.languages)?
            .into_iter()
            .map(|row| (row.id, row.pair))
            .unzip(),
        (None, Some(source), Some(translation)) => {
            let Some(target) = &args.languages.to else {
                bail!(
                    "--to is needed with --source: the language of the translation, e.g. --to es"
                );
            };
            let pair = TranslationPair {
                source: source.clone(),
                translation: translation.clone(),
                source_lang: checked_code(&args.languages.from, "--from")?,
                target_lang: checked_code(target, "--to")?,
            };
            if pair.source.trim().is_empty() {
                bail!("--source is empty; give the text that was translated");
            }
            (vec!["1".to_string()], vec![pair])
        }
        _ => bail!("give a FILE of pairs, or --source and --translation"),
    };

    let (estimator, names) = estimator_and_models(global, args.rules, &args.qe_model)?;
    let (scorer, embedder) = super::translate::load_qe_models(global, &names)?;
    let models = QeModels {
        scorer: scorer.as_deref(),
        embedder: embedder.as_ref(),
    };
    let scores = score::score_pairs(
        &pairs,
        models,
        &Weights::default(),
        estimator.as_ref().map(|(_, e)| e),
    );
    let rows: Vec<ScoredRow> = ids
        .into_iter()
        .zip(&pairs)
        .zip(scores)
        .map(|((id, pair), score)| ScoredRow {
            id,
            estimator: estimator.as_ref().map(|(version, _)| *version),
            source_lang: pair.source_lang.clone(),
            target_lang: pair.target_lang.clone(),
            score,
        })
        .collect();

    if let Some(out) = &args.out {
        write_csv(out, &rows, &pairs)?;
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if !global.quiet {
        for row in &rows {
            let flags = if row.score.flags.is_empty() {
                "-".to_string()
            } else {
                row.score.flags.join(" ")
            };
            println!("{}\t{:.1}\t{flags}", row.id, row.score.score);
        }
        if let Some(out) = &args.out {
            println!("{} pairs scored into {}", rows.len(), out.display());
        }
        if let Some((version, _)) = &estimator {
            eprintln!(
                "scored by the trained quality estimator, version {version} (--rules for the \
                 hand-set weights)"
            );
        }
    }
    Ok(())
}

/// A quality estimator and its registry version.
pub(crate) type Versioned = (i64, QualityEstimator);

/// Rows the current estimator must not have seen, at least, to be
/// compared with a new one.
const MIN_COMPARISON_ROWS: usize = 40;

/// The promoted quality estimator and its version, if any.
pub(crate) fn current_estimator(global: &Global) -> anyhow::Result<Option<Versioned>> {
    let store = open_store(&global.data_dir)?;
    let Some(version) = store.current_model_version(ESTIMATOR_KIND, ESTIMATOR_DATASET)? else {
        return Ok(None);
    };
    let loaded = artifacts::load_quality_estimator(&global.data_dir, &version.artifact).and_then(
        |estimator| {
            estimator
                .validate()
                .map_err(|reason| anyhow::anyhow!("{reason}"))?;
            Ok(estimator)
        },
    );
    match loaded {
        Ok(estimator) => {
            tracing::info!(
                version = version.id,
                "scoring with the trained quality estimator"
            );
            Ok(Some((version.id, estimator)))
        }
        Err(err) => {
            // A damaged estimator must not stop translation: the hand-set
            // weights still score.
            tracing::warn!(
                version = version.id,
                "quality estimator unusable ({err:#}); scoring with the hand-set weights. \
                 Retrain with `mercator translate train-qe` or roll back with \
                 `mercator models rollback --kind quality`"
            );
            Ok(None)
        }
    }
}

/// Returns the current quality estimator unless `rules`, and the models to
/// load: the requested `--qe-model` names plus those the estimator reads.
pub(crate) fn estimator_and_models(
    global: &Global,
    rules: bool,
    requested: &[String],
) -> anyhow::Result<(Option<Versioned>, Vec<String>)> {
    let estimator = if rules {
        None
    } else {
        current_estimator(global)?
    };
    if let Some((version, current)) = &estimator {
        if let Some(names) = estimator_models(*version, current, requested) {
            return Ok((estimator, names));
        }
    }
    Ok((None, requested.to_vec()))
}

/// Returns the models `estimator` reads, or `None` when `requested` names a
/// model it does not read. That model was requested, so the hand-set
/// weights score, with its signals.
fn estimator_models(
    version: i64,
    estimator: &QualityEstimator,
    requested: &[String],
) -> Option<Vec<String>> {
    let needed: Vec<String> = [
        estimator.inputs.language_model.clone(),
        estimator
            .inputs
            .embedding_model
            .as_ref()
            .map(|(n, _)| n.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let extra: Vec<&str> = requested
        .iter()
        .map(|n| n.trim())
        .filter(|n| !needed.iter().any(|m| m == n))
        .collect();
    if extra.is_empty() {
        return Some(needed);
    }
    let reads = if needed.is_empty() {
        "no model".to_string()
    } else {
        needed.join(" and ")
    };
    tracing::warn!(
        version,
        "the quality estimator reads {reads}, not {}; scoring with the hand-set weights",
        extra.join(", ")
    );
    None
}

/// Runs `mercator translate train-qe`: fits a quality estimator to human
/// scores, records it in the registry and promotes it when it ranks the
/// rows better than the hand-set weights and the current estimator.
pub fn train(global: &Global, args: TrainQeArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut human = Vec::new();
    let mut reviewed_rows = 0;
    if let Some(file) = &args.file {
        let read = read_pairs(file, &args.languages)?;
        if !read.is_empty() && read.iter().all(|row| !row.rest.contains_key("score")) {
            bail!(
                "{}: no row has a score (in CSV, the header has no score column); add the human \
                 score of each translation, from 0 (unusable) to 100 (perfect)",
                file.display()
            );
        }
        for row in read {
            human.push(human_score(&row)?);
            rows.push(row);
        }
    }
    if args.from_reviews {
        let memory = Memory::open(&global.data_dir)?;
        let reviewed = memory.reviewed()?;
        if reviewed.is_empty() && args.file.is_none() {
            bail!(
                "the review queue has no reviewed fields yet; import corrections with \
                 `mercator translate review --import FILE`, or give a FILE of scored translations"
            );
        }
        reviewed_rows = reviewed.len();
        for (item, correction) in reviewed {
            human.push(metrics::chrf(
                std::slice::from_ref(&item.translation),
                std::slice::from_ref(&correction),
            ));
            let mut rest = HashMap::new();
            rest.insert("group".to_string(), item.sku.clone());
            rows.push(InputRow {
                id: format!("review {}", item.id),
                place: format!("review item {}", item.id),
                pair: TranslationPair {
                    source: item.source,
                    translation: item.translation,
                    source_lang: item.source_lang,
                    target_lang: item.target_lang,
                },
                rest,
            });
        }
    }

    // Scores below 0 (MQM allows them) count as 0, before copies of a row
    // are averaged.
    let below_zero = human.iter().filter(|&&h| h < 0.0).count();
    let human: Vec<f64> = human.into_iter().map(|h| h.max(0.0)).collect();
    let (rows, human, merged) = merge_duplicates(rows, human);
    // Fewer rows are refused by the training itself.
    if let [first, _, ..] = &human[..] {
        if human.iter().all(|h| h == first) {
            bail!(
                "all {} translations score {first}; an estimator learns from the differences \
                 between scores, so give translations of varying quality",
                human.len(),
            );
        }
    }

    let pairs: Vec<TranslationPair> = rows.iter().map(|row| row.pair.clone()).collect();
    let (scorer, embedder) = super::translate::load_qe_models(global, &args.qe_model)?;
    let models = QeModels {
        scorer: scorer.as_deref(),
        embedder: embedder.as_ref(),
    };
    // New estimators read the language model without the source too.
    let outputs = score::model_outputs(&pairs, models, true);
    let (language_model, embedding_model) = model_names(global, &args.qe_model)?;
    if let Some(name) = &embedding_model {
        if outputs.iter().all(|o| o.vectors.is_none()) {
            bail!("--qe-model {name}: the embedding model read none of the rows; run with RUST_LOG=debug to see why");
        }
    }
    let inputs = Inputs {
        baseline: language_model.is_some(),
        language_model,
        embedding_model: embedding_model.zip(
            outputs
                .iter()
                .find_map(|o| o.vectors.as_ref().map(|(v, _)| v.len())),
        ),
        // Each language pair gets weights of its own once there are several.
        pairs: distinct_pairs(
            pairs
                .iter()
                .map(|pair| format!("{}-{}", pair.source_lang, pair.target_lang)),
        ),
        copies: true,
    };

    let mut examples = Vec::with_capacity(rows.len());
    let mut rule_scores = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut left_out: Vec<String> = Vec::new();
    for ((row, output), human) in rows.iter().zip(&outputs).zip(&human) {
        let mut check = qe::check_pair(
            &row.pair.source,
            &row.pair.translation,
            &row.pair.source_lang,
            &row.pair.target_lang,
        );
        match score::pair_features(&inputs, &row.pair, &check.signals, output) {
            Ok(features) => {
                score::add_model_signals(&mut check.signals, output);
                check.rescore(&Weights::default());
                rule_scores.push(check.score);
                keys.push(row_key(&row.pair.source, &row.pair.translation));
                examples.push(Example {
                    features,
                    human: *human,
                    pair: format!("{}-{}", row.pair.source_lang, row.pair.target_lang),
                    group: match row.rest.get("group") {
                        Some(group) if !group.trim().is_empty() => group.clone(),
                        _ => row.pair.source.clone(),
                    },
                });
            }
            Err(reason) => {
                let reason = output.skip_reason.clone().unwrap_or(reason);
                tracing::warn!(row = %row.place, reason = %reason, "row left out of training");
                left_out.push(format!("{}: {reason}", row.place));
            }
        }
    }

    let origin = match (&args.file, reviewed_rows > 0) {
        (Some(file), false) => file.display().to_string(),
        (Some(file), true) => format!("{} and the reviewed fields", file.display()),
        (None, _) => "the reviewed fields".to_string(),
    };
    let estimator = QualityEstimator::train(inputs, &examples).with_context(|| {
        let mut context = format!("cannot train on {origin}");
        if let Some(first) = left_out.first() {
            context.push_str(&format!(
                " ({} rows left out, the first at {first})",
                left_out.len()
            ));
        }
        context
    })?;

    // The hand-set weights on the same rows, and the current estimator
    // when it reads the same inputs, set the bar for promotion.
    let refs: Vec<&Example> = examples.iter().collect();
    let rules = mean_agreement(&agreement_of_scores(&rule_scores, &refs));
    // The current estimator is judged only on rows it was not trained on,
    // as the new one is by cross-validation. With too few such rows, or
    // other inputs, only the hand-set weights set the bar.
    let current = match current_estimator(global) {
        Ok(Some((id, current))) if current.inputs == estimator.inputs => {
            let seen: std::collections::HashSet<u64> = current.row_keys.iter().copied().collect();
            let unseen: Vec<&Example> = refs
                .iter()
                .zip(&keys)
                .filter(|(_, key)| !seen.contains(key))
                .map(|(example, _)| *example)
                .collect();
            (unseen.len() >= MIN_COMPARISON_ROWS)
                .then(|| (id, mean_agreement(&agreement_per_pair(&current, &unseen))))
        }
        _ => None,
    };
    let trained = estimator.cross_validated_spearman;
    // A Spearman correlation of unrelated scores over n rows strays by
    // about 1/sqrt(n), so a smaller gain is noise.
    let margin = 1.0 / (examples.len() as f64).sqrt();
    // Checks that rank the rows clearly in reverse point to scores that
    // count errors instead of quality, so an estimator learns the reverse.
    let reversed = rules < -2.0 * margin;
    // An estimator that does not rank the rows at all is never better.
    let beats_rules = trained > 0.0 && trained > rules + margin && !reversed;
    let beats_current = current.is_none_or(|(_, value)| trained >= value);
    let forced = args.force && !(beats_rules && beats_current);
    let promoted = forced || (beats_rules && beats_current);
    let mut estimator = estimator;
    estimator.row_keys = keys;

    let mut store = open_store(&global.data_dir)?;
    let artifact = artifacts::save(
        &global.data_dir,
        ESTIMATOR_KIND,
        ESTIMATOR_DATASET,
        &estimator,
    )?;
    let metrics = serde_json::json!({
        "cross_validated_spearman": trained,
        "hand_set_weights_spearman": rules,
        "current_version_spearman": current.map(|(_, value)| value),
        "rows": examples.len(),
        "rows_left_out": left_out.len(),
        "duplicate_rows_merged": merged,
        "scores_below_zero": below_zero,
    });
    let params = serde_json::json!({
        "inputs": estimator.inputs,
        "penalty": estimator.penalty,
        "embedding_share": estimator.embedding_share,
        "trained_on": origin,
    });
    let version = store.record_model_version(&NewModelVersion {
        kind: ESTIMATOR_KIND,
        dataset: ESTIMATOR_DATASET,
        data_from: "",
        data_to: "",
        params: &params,
        metrics: &metrics,
        metric_name: "spearman",
        metric_value: trained,
        artifact: &artifact,
    })?;
    let verdict = match (beats_rules, current) {
        (false, _) if reversed => format!(
            "the hand-set checks rank these rows in reverse ({rules:.3}): the scores look like \
             error counts, where 100 must mean a perfect translation and 0 an unusable one"
        ),
        (false, _) if trained <= 0.0 => {
            format!("it does not rank these rows (Spearman {trained:.3})")
        }
        (false, _) => {
            format!("it ranks these rows no better than the hand-set weights ({rules:.3})")
        }
        (true, Some((id, value))) if !beats_current => {
            format!("version {id} ranks these rows better ({value:.3})")
        }
        (true, Some((id, value))) => format!(
            "it ranks these rows better than the hand-set weights ({rules:.3}) and at least as \
             well as version {id} ({value:.3})"
        ),
        (true, None) => {
            format!("it ranks these rows better than the hand-set weights ({rules:.3})")
        }
    };
    if promoted {
        let reason = if args.force {
            format!("forced; {verdict}")
        } else {
            verdict.clone()
        };
        store.promote_model_version(version, &reason)?;
    }
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": version,
                "promoted": promoted,
                "forced": forced,
                "reason": verdict,
                "metrics": metrics,
                "params": params,
            }))?
        );
    } else if !global.quiet {
        println!(
            "quality estimator version {version}: trained on {} rows ({} left out), \
             cross-validated Spearman {trained:.3}",
            examples.len(),
            left_out.len()
        );
        if forced {
            println!("promoted by --force ({verdict})");
        } else if promoted {
            println!("promoted ({verdict}): `mercator translate score` now uses it");
        } else {
            println!("not promoted: {verdict}; use --force to promote it anyway");
        }
    }
    Ok(())
}

/// Merges rows with the same source, translation and languages into the
/// first of them, scored with their mean. Copies of a row would otherwise
/// weigh it twice and land in both validation folds. Returns the rows,
/// their scores and how many were merged away.
fn merge_duplicates(rows: Vec<InputRow>, human: Vec<f64>) -> (Vec<InputRow>, Vec<f64>, usize) {
    let mut first: HashMap<(String, String, String, String), usize> = HashMap::new();
    let mut distinct: Vec<(InputRow, Vec<f64>)> = Vec::new();
    for (row, score) in rows.into_iter().zip(human) {
        let pair = &row.pair;
        let key = (
            pair.source.clone(),
            pair.translation.clone(),
            pair.source_lang.clone(),
            pair.target_lang.clone(),
        );
        match first.get(&key) {
            Some(&index) => {
                let (original, scores) = &mut distinct[index];
                if scores[0] != score {
                    tracing::warn!(
                        row = %row.place,
                        first = %original.place,
                        "the same translation has another score; the scores are averaged"
                    );
                }
                scores.push(score);
            }
            None => {
                first.insert(key, distinct.len());
                distinct.push((row, vec![score]));
            }
        }
    }
    let merged = distinct.iter().map(|(_, scores)| scores.len() - 1).sum();
    let (rows, human) = distinct
        .into_iter()
        .map(|(row, scores)| (row, scores.iter().sum::<f64>() / scores.len() as f64))
        .unzip();
    (rows, human, merged)
}

/// Names of the language model and the embedding model among `names`.
fn model_names(
    global: &Global,
    names: &[String],
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let store = ModelStore::new(&global.data_dir);
    let (mut language_model, mut embedding_model) = (None, None);
    for name in names.iter().map(|n| n.trim()) {
        match store.manifest(name)?.role {
            Role::Llm => language_model = Some(name.to_string()),
            Role::Embedding => embedding_model = Some(name.to_string()),
            _ => {}
        }
    }
    Ok((language_model, embedding_model))
}

/// Reads the human score of a row from its `score` field.
fn human_score(row: &InputRow) -> anyhow::Result<f64> {
    let cell = row.rest.get("score").map(|s| s.trim()).unwrap_or("");
    match cell.parse::<f64>() {
        Ok(value) if value > 100.0 => bail!(
            "{}, field score: {cell} is above 100; give the human score from 0 (unusable) to \
             100 (perfect)",
            row.place
        ),
        Ok(value) if value.is_finite() => Ok(value),
        _ if cell.is_empty() => bail!(
            "{}, field score: missing; every row needs the human score, from 0 (unusable) to \
             100 (perfect)",
            row.place
        ),
        _ => bail!(
            "{}, field score: {cell:?} is not a number; give the human score from 0 (unusable) \
             to 100 (perfect)",
            row.place
        ),
    }
}

/// One row of a file of pairs.
struct InputRow {
    /// The row's id, or its line or item number.
    id: String,
    /// File and line (or item), for errors.
    place: String,
    pair: TranslationPair,
    /// The row's other fields.
    rest: HashMap<String, String>,
}

/// Columns of a file of pairs that Mercator reads.
const KNOWN_COLUMNS: [&str; 7] = [
    "id",
    "source",
    "translation",
    "source_lang",
    "target_lang",
    "score",
    "group",
];

/// Reads pairs from CSV, a JSON array or JSON Lines, by extension (`.csv`,
/// `.json`, `.jsonl`).
fn read_pairs(path: &Path, languages: &Languages) -> anyhow::Result<Vec<InputRow>> {
    let (from, to) = (languages.from.as_str(), languages.to.as_deref());
    let text = mercator_data::ingest::lines::read_utf8(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    // (line, fields by name) for every row.
    let mut rows: Vec<(u64, HashMap<String, String>)> = Vec::new();
    match extension.as_str() {
        "csv" => {
            if let Some(line) = unclosed_quote(text.as_bytes()) {
                bail!("{name} line {line}: {UNCLOSED_QUOTE}");
            }
            let mut lines = LineIndex::of(text.as_bytes());
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            if text.trim().is_empty() {
                bail!(
                    "{name}: the file is empty; give a header line with source and translation, \
                     then one row per pair"
                );
            }
            // Known column names match in any case ("Score", "SOURCE").
            let headers: Vec<String> = reader
                .headers()
                .with_context(|| format!("{name} line 1: invalid CSV header"))?
                .iter()
                .map(|h| {
                    let lower = h.trim().to_lowercase();
                    if KNOWN_COLUMNS.contains(&lower.as_str()) {
                        lower
                    } else {
                        h.trim().to_string()
                    }
                })
                .collect();
            for column in ["source", "translation"] {
                if !headers.iter().any(|h| h == column) {
                    bail!(
                        "{name} line 1: the header has no {column} column (found: {}); name the \
                         columns source and translation, and optionally id, source_lang and \
                         target_lang",
                        headers.join(",")
                    );
                }
            }
            for record in reader.records() {
                let record = record.map_err(|err| {
                    let (line, message) = describe_error(&err, &mut lines);
                    anyhow::anyhow!("{name} line {line}: {message}")
                })?;
                let line = lines.line_of(record.position());
                let fields = headers
                    .iter()
                    .cloned()
                    .zip(record.iter().map(|cell| from_cell(cell).to_string()))
                    .collect();
                rows.push((line, fields));
            }
        }
        "json" | "jsonl" | "ndjson" => {
            let values: Vec<(u64, serde_json::Value)> = if extension == "json" {
                let value: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| format!("{name}: invalid JSON"))?;
                let serde_json::Value::Array(items) = value else {
                    bail!("{name}: expected a JSON array of objects with source and translation");
                };
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i as u64 + 1, v))
                    .collect()
            } else {
                let mut values = Vec::new();
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let value = serde_json::from_str(line)
                        .with_context(|| format!("{name} line {}: invalid JSON", i + 1))?;
                    values.push((i as u64 + 1, value));
                }
                values
            };
            let place = if extension == "json" { "item" } else { "line" };
            for (line, value) in values {
                let serde_json::Value::Object(object) = value else {
                    bail!("{name} {place} {line}: expected an object with source and translation");
                };
                let mut fields = HashMap::new();
                for (key, value) in object {
                    let text = match value {
                        serde_json::Value::String(text) => text,
                        serde_json::Value::Number(number) => number.to_string(),
                        serde_json::Value::Null => String::new(),
                        other => bail!(
                            "{name} {place} {line}, field {key}: {other} is neither text nor a \
                             number; write the value as a string (or as a number for score)"
                        ),
                    };
                    fields.insert(key, text);
                }
                rows.push((line, fields));
            }
        }
        other => bail!(
            "{name}: unknown file type {other:?}; use .csv, .json (an array) or .jsonl (one \
             object per line)"
        ),
    }

    let place = if extension == "json" { "item" } else { "line" };
    let mut read = Vec::with_capacity(rows.len());
    for (line, mut fields) in rows {
        let Some(translation) = fields.remove("translation") else {
            bail!(
                "{name} {place} {line}, field translation: missing; every row needs the source \
                 text and its translation (an empty translation is scored as missing text)"
            );
        };
        let mut take = |field: &str| fields.remove(field).unwrap_or_default();
        let source = take("source");
        if source.trim().is_empty() {
            bail!(
                "{name} {place} {line}, field source: empty or missing; every row needs the \
                 source text and its translation"
            );
        }
        let source_lang = match take("source_lang") {
            code if code.trim().is_empty() => from.to_string(),
            code => code,
        };
        let target_lang = match (take("target_lang"), to) {
            (code, _) if !code.trim().is_empty() => code,
            (_, Some(to)) => to.to_string(),
            (_, None) => bail!(
                "{name} {place} {line}, field target_lang: missing; add the column or give --to"
            ),
        };
        let at = |field: &str| format!("{name} {place} {line}, field {field}");
        let pair = TranslationPair {
            source,
            translation,
            source_lang: checked_code(&source_lang, &at("source_lang"))?,
            target_lang: checked_code(&target_lang, &at("target_lang"))?,
        };
        let id = match take("id") {
            id if id.trim().is_empty() => line.to_string(),
            id => id,
        };
        read.push(InputRow {
            id,
            place: format!("{name} {place} {line}"),
            pair,
            rest: fields,
        });
    }
    if read.is_empty() {
        bail!("{name}: no rows; add rows of source and translation");
    }
    Ok(read)
}

/// Returns the ISO 639-1 code of `code`, or an error that names `place` and
/// lists the supported codes.
fn checked_code(code: &str, place: &str) -> anyhow::Result<String> {
    match Language::lookup(code.trim()) {
        Some(language) => Ok(language.code.to_string()),
        None => {
            let known: Vec<&str> = LANGUAGES.iter().map(|l| l.code).collect();
            bail!(
                "{place}: {code:?} is not a language code Mercator knows; use one of {}",
                known.join(", ")
            )
        }
    }
}

/// Writes the rows' pairs with id, qe_score and qe_flags; cells that a
/// spreadsheet would run as formulas start with an apostrophe.
fn write_csv(path: &Path, rows: &[ScoredRow], pairs: &[TranslationPair]) -> anyhow::Result<()> {
    let mut writer =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    writer.write_record([
        "id",
        "source_lang",
        "target_lang",
        "source",
        "translation",
        "qe_score",
        "qe_flags",
    ])?;
    for (row, pair) in rows.iter().zip(pairs) {
        writer.write_record([
            to_cell(&row.id).as_ref(),
            &pair.source_lang,
            &pair.target_lang,
            &to_cell(&pair.source),
            &to_cell(&pair.translation),
            &format!("{:.1}", row.score.score),
            &row.score.flags.join(" "),
        ])?;
    }
    writer
        .flush()
        .with_context(|| format!("cannot write {}", path.display()))
}
