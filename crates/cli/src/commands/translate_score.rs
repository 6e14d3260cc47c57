//! `mercator translate score`: quality estimates of translations made
//! anywhere (another tool, an agency, a person), one per source and
//! translation pair, with the checks and models of `mercator translate`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use mercator_data::ingest::lines::{describe_error, unclosed_quote, LineIndex, UNCLOSED_QUOTE};
use mercator_translate::lang::{Language, LANGUAGES};
use mercator_translate::qe::Weights;
use mercator_translate::score::{self, PairScore, QeModels, TranslationPair};

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

    /// Language of the sources, for rows without source_lang.
    #[arg(long, default_value = "en", value_name = "LANG")]
    pub from: String,

    /// Language of the translations, for rows without target_lang.
    #[arg(long, value_name = "LANG")]
    pub to: Option<String>,

    /// Installed models that add to the score, as for `mercator translate`:
    /// a multilingual embedding model and a GGUF language model.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub qe_model: Vec<String>,

    /// Write the rows with qe_score and qe_flags added to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// One scored row: its id (given, or its line) and the estimate.
#[derive(Debug, serde::Serialize)]
struct ScoredRow {
    id: String,
    source_lang: String,
    target_lang: String,
    #[serde(flatten)]
    score: PairScore,
}

pub fn execute(global: &Global, args: ScoreArgs) -> anyhow::Result<()> {
    let (ids, pairs) = match (&args.file, &args.source, &args.translation) {
        (Some(path), _, _) => read_pairs(path, &args.from, args.to.as_deref())?,
        (None, Some(source), Some(translation)) => {
            let Some(target) = &args.to else {
                bail!(
                    "--to is needed with --source: the language of the translation, e.g. --to es"
                );
            };
            let pair = TranslationPair {
                source: source.clone(),
                translation: translation.clone(),
                source_lang: checked_code(&args.from, "--from")?,
                target_lang: checked_code(target, "--to")?,
            };
            if pair.source.trim().is_empty() {
                bail!("--source is empty; give the text that was translated");
            }
            (vec!["1".to_string()], vec![pair])
        }
        _ => bail!("give a FILE of pairs, or --source and --translation"),
    };

    let (scorer, embedder) = super::translate::load_qe_models(global, &args.qe_model)?;
    let models = QeModels {
        scorer: scorer.as_deref(),
        embedder: embedder.as_ref(),
    };
    let scores = score::score_pairs(&pairs, models, &Weights::default());
    let rows: Vec<ScoredRow> = ids
        .into_iter()
        .zip(&pairs)
        .zip(scores)
        .map(|((id, pair), score)| ScoredRow {
            id,
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
    }
    Ok(())
}

/// Reads pairs from CSV, a JSON array or JSON Lines, by extension (`.csv`,
/// `.json`, `.jsonl`); returns each row's id and its pair.
fn read_pairs(
    path: &Path,
    from: &str,
    to: Option<&str>,
) -> anyhow::Result<(Vec<String>, Vec<TranslationPair>)> {
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
            let headers: Vec<String> = reader
                .headers()
                .with_context(|| format!("{name} line 1: invalid CSV header"))?
                .iter()
                .map(|h| h.trim().to_string())
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
                            "{name} {place} {line}, field {key}: expected a string, found {other}"
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
    let mut ids = Vec::with_capacity(rows.len());
    let mut pairs = Vec::with_capacity(rows.len());
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
        ids.push(match take("id") {
            id if id.trim().is_empty() => line.to_string(),
            id => id,
        });
        pairs.push(pair);
    }
    if pairs.is_empty() {
        bail!("{name}: no rows; nothing to score");
    }
    Ok((ids, pairs))
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
