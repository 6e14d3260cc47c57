//! Listing translation and translation quality over HTTP: the pipeline of
//! `mercator translate` with Apertium and the data dir's translation
//! memory, and the quality estimate of `mercator translate score`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use mercator_models::embed::Embedder;
use mercator_translate::catalog::{self, Listing};
use mercator_translate::engine::{self, Engine};
use mercator_translate::estimator::{QualityEstimator, ESTIMATOR_DATASET, ESTIMATOR_KIND};
use mercator_translate::glossary::Glossary;
use mercator_translate::lang::{Language, LanguagePair};
use mercator_translate::memory::Memory;
use mercator_translate::pipeline::{Options, Pipeline};
use mercator_translate::qe::Weights;
use mercator_translate::score::{self, QeModels, TranslationPair};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::params;
use crate::state::AppState;

/// Maximum number of listings in one translation request.
pub const MAX_LISTINGS: usize = 100;
/// Maximum number of pairs in one quality request.
pub const MAX_PAIRS: usize = 1000;

/// Shared state of the translation endpoints: data dir, glossary and
/// optional quality model.
pub struct TranslateService {
    data_dir: PathBuf,
    /// Glossary of every translation, from `mercator serve --glossary`.
    pub glossary: Glossary,
    /// Multilingual embedding model that adds `meaning_drift` to scores.
    pub embedder: Option<Embedder>,
    /// Name of the embedding model loaded as `embedder`.
    embedding_name: Option<String>,
    /// The promoted quality estimator last read, by version; `None` inside
    /// when that version cannot serve here.
    estimator: Mutex<Option<(i64, Option<Arc<QualityEstimator>>)>>,
    /// One translation at a time writes the translation memory.
    memory: Mutex<Option<Memory>>,
}

impl std::fmt::Debug for TranslateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranslateService")
            .field("data_dir", &self.data_dir)
            .field("glossary_terms", &self.glossary.entries.len())
            .field("embedder", &self.embedder.is_some())
            .field("embedding_name", &self.embedding_name)
            .finish()
    }
}

impl TranslateService {
    pub fn new(data_dir: PathBuf, glossary: Glossary, embedder: Option<Embedder>) -> Self {
        TranslateService {
            data_dir,
            glossary,
            embedder,
            embedding_name: None,
            estimator: Mutex::new(None),
            memory: Mutex::new(None),
        }
    }

    /// Names the embedding model given as `embedder`, so that an estimator
    /// trained on it can serve.
    pub fn with_embedding_name(mut self, name: &str) -> Self {
        self.embedding_name = Some(name.to_string());
        self
    }

    /// Returns the promoted quality estimator, read again whenever the
    /// registry promotes or rolls back one. It serves only when it reads no
    /// language model, because the server runs none, and reads the embedding
    /// model loaded here. An estimator that cannot be read leaves the
    /// hand-set weights in use. One read serves from memory until the
    /// registry names another version, whatever happens to its file.
    fn current_estimator(&self, state: &AppState) -> Option<(i64, Arc<QualityEstimator>)> {
        let version = match state.promoted_version(ESTIMATOR_KIND, ESTIMATOR_DATASET) {
            Ok(Some(version)) => version,
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the model registry; hand-set QE weights used");
                return None;
            }
        };
        let mut cache = self.estimator.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, estimator)) = cache.as_ref() {
            if *id == version.id {
                return estimator.clone().map(|e| (*id, e));
            }
        }
        let usable = match self.read_estimator(&version.artifact) {
            Ok(estimator) => Some(estimator),
            Err(problem) => {
                tracing::warn!(version = version.id, "{problem}");
                None
            }
        };
        *cache = Some((version.id, usable.clone()));
        usable.map(|e| (version.id, e))
    }

    /// Reads and checks the estimator artefact at `artifact`. The error
    /// explains why the server cannot use it and what to do.
    fn read_estimator(&self, artifact: &str) -> Result<Arc<QualityEstimator>, String> {
        let unusable = |reason: String| {
            format!(
                "quality estimator unusable ({reason}); quality scores use the hand-set weights. \
                 Retrain with `mercator translate train-qe` or roll back with `mercator models \
                 rollback --kind quality`"
            )
        };
        let estimator = crate::artifacts::load_quality_estimator(&self.data_dir, artifact)
            .map_err(|err| unusable(format!("{err:#}")))?;
        estimator.validate().map_err(unusable)?;
        let expected = estimator.inputs.embedding_model.as_ref().map(|(n, _)| n);
        if estimator.inputs.language_model.is_some() || expected != self.embedding_name.as_ref() {
            return Err(
                "the quality estimator reads other models than the server loads; \
                        quality scores use the hand-set weights. Start the server with the \
                        estimator's embedding model (`--qe-model`), or promote an estimator \
                        trained on that model alone (`mercator translate train-qe --qe-model \
                        EMBEDDING_MODEL`)"
                    .to_string(),
            );
        }
        Ok(Arc::new(estimator))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslateRequest {
    to: String,
    #[serde(default = "default_from")]
    from: String,
    /// Listings in the JSON catalog format.
    listings: Vec<serde_json::Value>,
    review_threshold: Option<f64>,
}

fn default_from() -> String {
    "en".to_string()
}

/// One pair of a quality request.
struct PairBody {
    /// Echoed in the reply, to match scores with the caller's rows.
    id: Option<String>,
    source: String,
    translation: String,
    source_lang: String,
    target_lang: String,
}

/// Reads the pairs of a quality request, naming the pair and field of
/// any error: `pairs[2].translation: true is not text; …`.
fn score_request(body: &[u8]) -> Result<Vec<PairBody>, ApiError> {
    let value: serde_json::Value = params::json_body(body, "quality request")?;
    let serde_json::Value::Object(mut request) = value else {
        return Err(ApiError::bad_request(
            "the quality request must be a JSON object with a pairs array".to_string(),
        ));
    };
    let pairs = match request.remove("pairs") {
        Some(serde_json::Value::Array(pairs)) => pairs,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "pairs: {other} is not an array; send pairs as an array of objects with source, \
                 translation and target_lang"
            )))
        }
        None => {
            return Err(ApiError::bad_request(
                "pairs: missing; send an array of objects with source, translation and \
                 target_lang"
                    .to_string(),
            ))
        }
    };
    if let Some(field) = request.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field {field:?}; the quality request has only pairs"
        )));
    }
    pairs
        .into_iter()
        .enumerate()
        .map(|(index, pair)| pair_body(index, pair))
        .collect()
}

/// Reads pair `index` of a quality request.
fn pair_body(index: usize, pair: serde_json::Value) -> Result<PairBody, ApiError> {
    let serde_json::Value::Object(mut pair) = pair else {
        return Err(ApiError::bad_request(format!(
            "pairs[{index}]: {pair} is not an object; send source, translation and target_lang"
        )));
    };
    let mut text = |field: &str, required: bool| -> Result<Option<String>, ApiError> {
        match pair.remove(field) {
            Some(serde_json::Value::String(text)) => Ok(Some(text)),
            Some(serde_json::Value::Number(number)) if field == "id" => {
                Ok(Some(number.to_string()))
            }
            // As in files: a null translation is missing text, scored 0.
            Some(serde_json::Value::Null) if field == "translation" => Ok(Some(String::new())),
            Some(serde_json::Value::Null) | None if !required => Ok(None),
            None | Some(serde_json::Value::Null) => Err(ApiError::bad_request(format!(
                "pairs[{index}].{field}: missing; every pair needs source, translation and \
                 target_lang (an empty translation is scored as missing text)"
            ))),
            Some(other) => Err(ApiError::bad_request(format!(
                "pairs[{index}].{field}: {other} is not text; send a JSON string"
            ))),
        }
    };
    let body = PairBody {
        id: text("id", false)?,
        source: text("source", true)?.unwrap_or_default(),
        translation: text("translation", true)?.unwrap_or_default(),
        source_lang: text("source_lang", false)?.unwrap_or_else(default_from),
        target_lang: text("target_lang", true)?.unwrap_or_default(),
    };
    if let Some(field) = pair.keys().next() {
        return Err(ApiError::bad_request(format!(
            "pairs[{index}]: unknown field {field:?}; a pair has id, source, translation, \
             source_lang and target_lang"
        )));
    }
    Ok(body)
}

fn service(state: &AppState) -> Result<Arc<TranslateService>, ApiError> {
    state.translate.clone().ok_or_else(|| {
        ApiError::unavailable("translation is not set up on this server".to_string())
    })
}

/// Pairs scored between two checks for an abandoned request.
const QUALITY_CHUNK: usize = 32;

/// Flag set on drop. A handler future is dropped when its client
/// disconnects, so the blocking work checks the flag and stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `POST /v1/translations`: translates listings into one language.
pub async fn translate(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request: TranslateRequest = params::json_body(&body, "translation request")?;
    if request.listings.is_empty() || request.listings.len() > MAX_LISTINGS {
        return Err(ApiError::bad_request(format!(
            "listings has {} entries; send 1 to {MAX_LISTINGS}",
            request.listings.len()
        )));
    }
    let mut listings = Vec::with_capacity(request.listings.len());
    for (index, item) in request.listings.into_iter().enumerate() {
        let listing = catalog::listing_from_json(item, index as u64 + 1)
            .map_err(|message| ApiError::bad_request(format!("listings[{index}]: {message}")))?;
        if listing.sku.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "listings[{index}].sku is empty; every listing needs its SKU"
            )));
        }
        listings.push(listing);
    }
    let threshold = request.review_threshold.unwrap_or(70.0);
    if !(0.0..=100.0).contains(&threshold) {
        return Err(ApiError::bad_request(format!(
            "review_threshold {threshold} is outside 0 to 100"
        )));
    }
    let service = service(&state)?;
    let task = tokio::task::spawn_blocking(move || {
        run_translation(&service, &request.from, &request.to, &listings, threshold)
    });
    task.await.map_err(ApiError::internal)?
}

fn run_translation(
    service: &TranslateService,
    from: &str,
    to: &str,
    listings: &[Listing],
    threshold: f64,
) -> Result<Json<serde_json::Value>, ApiError> {
    let engine = engine::open("apertium").map_err(|err| ApiError::unavailable(err.to_string()))?;
    let pair = LanguagePair::new(from, to);
    if !engine.supports(&pair) {
        return Err(ApiError::bad_request(format!(
            "cannot translate {pair}: {}; Apertium here supports {}",
            if Language::lookup(to).is_none() {
                format!("{:?} is not a language code Mercator knows", to)
            } else {
                "the language pair is not installed".to_string()
            },
            engine::describe_pairs(engine.as_ref())
        )));
    }

    let options = Options {
        source_lang: from.to_string(),
        glossary: service.glossary.clone(),
        review_threshold: threshold,
        ..Options::default()
    };
    let mut slot = service.memory.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(Memory::open(&service.data_dir).map_err(ApiError::internal)?);
    }
    let memory = slot.as_mut().expect("opened above");

    let mut pipeline = Pipeline::new(engine.as_ref() as &dyn Engine, Some(memory), options);
    if let Some(embedder) = &service.embedder {
        pipeline = pipeline.with_embedder(embedder);
    }
    let run = pipeline
        .translate(listings, to, &mut |_| {})
        .map_err(|err| {
            tracing::warn!(error = %err, target = %to, "translation request failed");
            ApiError::bad_request(err.to_string())
        })?;
    tracing::info!(target = %run.target_lang, listings = run.listings.len(), "listings translated");

    let listings: Vec<serde_json::Value> = run
        .listings
        .iter()
        .map(|listing| {
            json!({
                "sku": listing.sku,
                "listing": listing.translated,
                "qe_score": listing.score,
                "qe_flags": listing.flags,
                "fields": listing.fields.iter().map(|field| {
                    let mut errors: Vec<&str> = field
                        .segments
                        .iter()
                        .filter_map(|segment| segment.error.as_deref())
                        .collect();
                    errors.dedup();
                    json!({
                        "field": field.field,
                        "score": field.score,
                        "flags": field.flags,
                        "errors": errors,
                    })
                }).collect::<Vec<_>>(),
                "glossary": listing.glossary,
            })
        })
        .collect();
    Ok(Json(json!({
        "engine": run.engine,
        "target_lang": run.target_lang,
        "listings": listings,
        "segments": run.segments,
        "from_memory": run.from_memory,
        "failed": run.failed,
        "queued_for_review": run.queued_for_review,
    })))
}

/// `POST /v1/translations/quality`: scores source and translation pairs.
pub async fn quality(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let request = score_request(&body)?;
    if request.is_empty() || request.len() > MAX_PAIRS {
        return Err(ApiError::bad_request(format!(
            "pairs has {} entries; send 1 to {MAX_PAIRS}",
            request.len()
        )));
    }
    let mut pairs = Vec::with_capacity(request.len());
    let mut ids = Vec::with_capacity(request.len());
    for (index, pair) in request.into_iter().enumerate() {
        ids.push(pair.id.unwrap_or_else(|| (index + 1).to_string()));
        if pair.source.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "pairs[{index}].source is empty; send the text that was translated"
            )));
        }
        let code = |value: &str, field: &str| {
            Language::lookup(value.trim())
                .map(|language| language.code.to_string())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "pairs[{index}].{field}: {value:?} is not a language code Mercator \
                         knows; use an ISO 639-1 code such as en, es or de"
                    ))
                })
        };
        pairs.push(TranslationPair {
            source_lang: code(&pair.source_lang, "source_lang")?,
            target_lang: code(&pair.target_lang, "target_lang")?,
            source: pair.source,
            translation: pair.translation,
        });
    }
    let service = service(&state)?;
    // Dropped with this handler when the client goes away.
    let guard = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let cancelled = guard.0.clone();
    let task = tokio::task::spawn_blocking(move || {
        let models = QeModels {
            scorer: None,
            embedder: service.embedder.as_ref(),
        };
        let estimator = service.current_estimator(&state);
        // Pairs are scored in chunks, so that a request whose client has
        // gone stops within one chunk instead of running to the end.
        let mut scores = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(QUALITY_CHUNK) {
            if cancelled.load(Ordering::Relaxed) {
                tracing::info!(
                    scored = scores.len(),
                    "quality request abandoned by its client"
                );
                break;
            }
            scores.extend(score::score_pairs(
                chunk,
                models,
                &Weights::default(),
                estimator.as_ref().map(|(_, e)| e.as_ref()),
            ));
        }
        let version = estimator.map(|(version, _)| version);
        (pairs, scores, version)
    });
    let (pairs, scores, estimator_version) = task.await.map_err(ApiError::internal)?;
    drop(guard);
    let scores: Vec<serde_json::Value> = ids
        .into_iter()
        .zip(&pairs)
        .zip(scores)
        .map(|((id, pair), score)| {
            let mut value = json!({
                "id": id,
                "estimator": estimator_version,
                "source_lang": pair.source_lang,
                "target_lang": pair.target_lang,
            });
            if let (Some(object), Ok(serde_json::Value::Object(fields))) =
                (value.as_object_mut(), serde_json::to_value(score))
            {
                object.extend(fields);
            }
            value
        })
        .collect();
    Ok(Json(json!({ "scores": scores })))
}
