//! The localization pipeline: from source listings to translated listings
//! with quality scores, in batches through one engine.
//!
//! For each field of a listing it builds a plan ([`plan`]): text runs with
//! their masked protected spans, sentences and inline tag pairs. All
//! sentences of a batch are looked up in the translation memory, and the
//! rest go to the engine in one call. Each field is then assembled
//! ([`assemble`]): tags are placed around the translation of their content,
//! masks are restored, casing is applied and every segment is scored.

mod assemble;
mod plan;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::catalog::Listing;
use crate::engine::{Engine, EngineError, EngineOutput};
use crate::estimator::QualityEstimator;
use crate::glossary::{Glossary, GlossaryMatcher};
use crate::lang::{Language, LanguagePair};
use crate::locale::RateTable;
use crate::memory::{EngineSegment, Memory, MemoryError, MemoryMatch, ReviewItem};
use crate::qe::{self, Signals, Weights};
use crate::score::{meaning_vectors, read_with_model, PairVectors};
use mercator_models::embed::Embedder;
use mercator_models::generate::TokenScorer;

pub use plan::FieldPlan;

/// The plans of a listing's fields, by field name.
type FieldPlans = Vec<(String, FieldPlan)>;

/// Maximum length of a segment sent to an engine, in characters. A
/// sentence is far shorter, and Apertium takes minutes over a 30 MB word.
pub const MAX_SEGMENT_CHARS: usize = 10_000;

/// A field whose stored correction was made for a similar source: it is
/// adapted, or the field goes to the engine, once the batch is planned.
struct FuzzyCorrection {
    /// Index of the listing in its batch.
    listing: usize,
    /// Index of the field in the listing's plans.
    field: usize,
    pair: LanguagePair,
    text: String,
    found: MemoryMatch,
}

/// Returns the listing text that decides between shoe and clothing charts
/// and between men's and women's sizes.
fn listing_context(listing: &Listing) -> String {
    format!("{} {}", listing.title, listing.description)
}

/// Options of a translation run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Language of listings that do not name theirs.
    pub source_lang: String,
    pub glossary: Glossary,
    pub rates: RateTable,
    /// Back-translate every segment and score the round trip (doubles
    /// engine time).
    pub round_trip: bool,
    /// Fields scoring below this go to the review queue.
    pub review_threshold: f64,
    /// Segments per engine call.
    pub batch_segments: usize,
    pub weights: Weights,
    /// Trained quality estimator that scores sentences in place of the
    /// hand-set weights; it needs the outputs of the models it was trained
    /// with ([`Pipeline::with_scorer`], [`Pipeline::with_embedder`]).
    pub estimator: Option<QualityEstimator>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            source_lang: "en".to_string(),
            glossary: Glossary::default(),
            rates: RateTable::default(),
            round_trip: false,
            review_threshold: 70.0,
            batch_segments: 4000,
            weights: Weights::default(),
            estimator: None,
        }
    }
}

/// Failure of a whole run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// Source of a segment's translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Engine,
    Memory,
    MemoryFuzzy,
    Human,
    /// Nothing to translate (markup, numbers, protected spans only).
    Unchanged,
    /// The engine failed; the source text was kept.
    Failed,
}

/// One translated sentence with its quality estimate.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentReport {
    pub source: String,
    pub output: String,
    pub origin: Origin,
    pub score: f64,
    pub flags: Vec<String>,
    pub signals: Signals,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One translated field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldReport {
    /// `title`, `description`, `bullets[0]`, `attributes[color]`.
    pub field: String,
    pub source: String,
    pub output: String,
    pub score: f64,
    pub flags: Vec<String>,
    pub segments: Vec<SegmentReport>,
}

/// A glossary term found in a listing and what was written for it.
#[derive(Debug, Clone, Serialize)]
pub struct GlossaryUse {
    pub term: String,
    pub matched: String,
    pub written: String,
    pub field: String,
    /// Whether the written form is in the output.
    pub enforced: bool,
}

/// One translated listing.
#[derive(Debug, Clone, Serialize)]
pub struct ListingReport {
    pub sku: String,
    pub score: f64,
    pub flags: Vec<String>,
    pub fields: Vec<FieldReport>,
    pub glossary: Vec<GlossaryUse>,
    #[serde(skip)]
    pub translated: Listing,
}

/// Result of translating a catalog into one language.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub engine: String,
    pub target_lang: String,
    pub listings: Vec<ListingReport>,
    pub segments: usize,
    pub from_engine: usize,
    pub from_memory: usize,
    pub failed: usize,
    pub queued_for_review: usize,
}

/// The pipeline bound to an engine and an optional translation store.
pub struct Pipeline<'a> {
    engine: &'a dyn Engine,
    memory: Option<&'a mut Memory>,
    options: Options,
    scorer: Option<&'a dyn TokenScorer>,
    embedder: Option<&'a Embedder>,
}

/// A segment sent to the engine or found in memory.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub pair: LanguagePair,
    /// Masked source text.
    pub text: String,
    /// Sentences are stored in and looked up from memory; tag contents are not.
    pub sentence: bool,
    pub output: Option<Result<EngineOutput, String>>,
    pub origin: Origin,
    pub similarity: f64,
    pub back_translation: Option<String>,
    /// Log-probabilities of the output's tokens under the scoring model,
    /// or the error that kept it from scoring them.
    pub lm_score: Option<Result<Vec<f32>, String>>,
    /// Log-probabilities of the same tokens without the source, when the
    /// model scored both.
    pub lm_baseline: Option<Vec<f32>>,
    /// Multilingual embeddings of the source and the output, or the error
    /// that kept the embedding model from computing them.
    pub embeddings: Option<Result<PairVectors, String>>,
    /// The output came from this run's engine, now or stored in memory, and
    /// that engine's every word is in its dictionary or reported unknown
    /// ([`Engine::closed_vocabulary`]).
    pub closed_vocabulary: bool,
}

impl<'a> Pipeline<'a> {
    pub fn new(
        engine: &'a dyn Engine,
        memory: Option<&'a mut Memory>,
        options: Options,
    ) -> Pipeline<'a> {
        Pipeline {
            engine,
            memory,
            options,
            scorer: None,
            embedder: None,
        }
    }

    /// Compares every translated sentence with its source through a
    /// multilingual embedding model (the `meaning_drift` signal).
    pub fn with_embedder(mut self, embedder: &'a Embedder) -> Pipeline<'a> {
        self.embedder = Some(embedder);
        self
    }

    /// Scores every translated sentence with a language model (the
    /// `lm_surprise` and `lm_worst_token` signals), one forward pass each.
    pub fn with_scorer(mut self, scorer: &'a dyn TokenScorer) -> Pipeline<'a> {
        self.scorer = Some(scorer);
        self
    }

    /// Translates `listings` into `target`, calling `progress` with the
    /// number of listings done after each batch.
    pub fn translate(
        &mut self,
        listings: &[Listing],
        target: &str,
        progress: &mut dyn FnMut(usize),
    ) -> Result<RunReport, PipelineError> {
        let target_language = target_language(target);
        let glossary = self
            .options
            .glossary
            .for_target(&target_language.code_string());
        self.check_pairs(listings, &target_language.code_string())?;

        let mut report = RunReport {
            engine: self.engine.name().to_string(),
            target_lang: target_language.code_string(),
            listings: Vec::with_capacity(listings.len()),
            segments: 0,
            from_engine: 0,
            from_memory: 0,
            failed: 0,
            queued_for_review: 0,
        };

        // The engine translates a batch while the previous batch is
        // assembled and scored on the other threads, so quality estimation
        // adds little to the engine's time.
        let options = self.options.clone();
        let target_ref: &Language = &target_language;
        let glossary_ref = &glossary;
        std::thread::scope(|scope| -> Result<(), PipelineError> {
            let mut pending: Option<(usize, std::thread::ScopedJoinHandle<'_, _>)> = None;
            let mut start = 0;
            while start < listings.len() {
                // Fill a batch up to the segment budget, at least one listing.
                let mut units: Vec<Unit> = Vec::new();
                let mut plans: Vec<FieldPlans> = Vec::new();
                let mut fuzzy: Vec<FuzzyCorrection> = Vec::new();
                let mut end = start;
                while end < listings.len()
                    && (end == start || units.len() < self.options.batch_segments)
                {
                    let listing = &listings[end];
                    let pair = LanguagePair::new(
                        self.source_lang(listing),
                        &target_language.code_string(),
                    );
                    let fields = self.plan_listing(
                        listing,
                        &pair,
                        &target_language,
                        &glossary,
                        &mut units,
                        (plans.len(), &mut fuzzy),
                    )?;
                    plans.push(fields);
                    end += 1;
                }
                let fuzzy = std::mem::take(&mut fuzzy);
                self.adapt_corrections(
                    &listings[start..end],
                    &mut plans,
                    fuzzy,
                    &target_language,
                    &glossary,
                    &mut units,
                );

                self.fill_units(&mut units)?;
                for unit in units.iter().filter(|unit| unit.sentence) {
                    report.segments += 1;
                    match unit.origin {
                        Origin::Engine => report.from_engine += 1,
                        Origin::Memory | Origin::MemoryFuzzy | Origin::Human => {
                            report.from_memory += 1
                        }
                        Origin::Failed => report.failed += 1,
                        Origin::Unchanged => {}
                    }
                }
                if let Some((done, handle)) = pending.take() {
                    report.listings.extend(join_assembly(handle));
                    progress(done);
                }
                let batch = &listings[start..end];
                let options = &options;
                let handle = scope.spawn(move || {
                    assemble_batch(batch, plans, &units, target_ref, glossary_ref, options)
                });
                pending = Some((end, handle));
                start = end;
            }
            if let Some((done, handle)) = pending.take() {
                report.listings.extend(join_assembly(handle));
                progress(done);
            }
            Ok(())
        })?;

        report.queued_for_review = self.queue_reviews(&report)?;
        Ok(report)
    }

    fn source_lang<'l>(&'l self, listing: &'l Listing) -> &'l str {
        listing
            .source_lang
            .as_deref()
            .unwrap_or(&self.options.source_lang)
    }

    /// Fails early, with the supported pairs, when the engine lacks the
    /// pair of every listing. Listings whose own `source_lang` the engine
    /// lacks are translated as failed segments, and the run goes on.
    fn check_pairs(&self, listings: &[Listing], target: &str) -> Result<(), EngineError> {
        let mut unsupported: BTreeMap<LanguagePair, usize> = BTreeMap::new();
        let mut any_supported = false;
        for listing in listings {
            let pair = LanguagePair::new(self.source_lang(listing), target);
            if self.engine.supports(&pair) || pair.source == pair.target {
                any_supported = true;
            } else {
                *unsupported.entry(pair).or_default() += 1;
            }
        }
        if let (false, Some(pair)) = (any_supported, unsupported.keys().next()) {
            return Err(EngineError::UnsupportedPair {
                engine: self.engine.name().to_string(),
                pair: pair.clone(),
                supported: crate::engine::describe_pairs(self.engine),
            });
        }
        for (pair, count) in unsupported {
            tracing::warn!(pair = %pair, listings = count, engine = self.engine.name(),
                "engine lacks the pair; these listings keep their source text and score 0");
        }
        Ok(())
    }

    /// Plans every field of `listing`, adding its segments to `units`.
    /// Fields with a fuzzy correction go to `fuzzy`, marked with the
    /// listing's index in its batch, and keep the correction as their plan
    /// until [`Pipeline::adapt_corrections`] decides.
    fn plan_listing(
        &mut self,
        listing: &Listing,
        pair: &LanguagePair,
        target: &Language,
        glossary: &GlossaryMatcher,
        units: &mut Vec<Unit>,
        (index, fuzzy): (usize, &mut Vec<FuzzyCorrection>),
    ) -> Result<Vec<(String, FieldPlan)>, PipelineError> {
        let context = listing_context(listing);
        let mut fields = vec![("title".to_string(), listing.title.clone())];
        fields.push(("description".to_string(), listing.description.clone()));
        for (i, bullet) in listing.bullets.iter().enumerate() {
            fields.push((format!("bullets[{i}]"), bullet.clone()));
        }
        for (name, value) in &listing.attributes {
            fields.push((format!("attributes[{name}]"), value.clone()));
        }

        let mut plans = Vec::with_capacity(fields.len());
        for (name, text) in fields {
            if pair.source == pair.target {
                plans.push((name, FieldPlan::Unchanged { source: text }));
                continue;
            }
            let correction = match self.memory.as_deref() {
                Some(memory) if !text.trim().is_empty() => memory.correction(pair, &text)?,
                _ => None,
            };
            // A fuzzy correction is adapted to this text once the engine
            // has translated both sources; fields with markup reuse only
            // exact corrections.
            let correction = match correction {
                Some(found) if found.similarity < 1.0 => {
                    let adaptable = !text.contains('<')
                        && !found.source.contains('<')
                        && self.engine.supports(pair);
                    if adaptable {
                        fuzzy.push(FuzzyCorrection {
                            listing: index,
                            field: plans.len(),
                            pair: pair.clone(),
                            text: text.clone(),
                            found: found.clone(),
                        });
                    }
                    adaptable.then_some(found)
                }
                exact => exact,
            };
            let plan = match correction {
                Some(found) => FieldPlan::Corrected {
                    source: text,
                    text: found.target,
                    similarity: found.similarity,
                    pair: pair.clone(),
                },
                None => {
                    let context = plan::Context {
                        sku: &listing.sku,
                        pair,
                        target,
                        glossary,
                        rates: &self.options.rates,
                        listing_text: &context,
                    };
                    plan::field(&text, &context, units)
                }
            };
            plans.push((name, plan));
        }
        Ok(plans)
    }

    /// Adapts the fuzzy corrections of a batch, one engine call per pair:
    /// the engine translates each corrected source and the new text, and
    /// the words its two outputs differ in are changed in the correction.
    /// An engine failure, or words the correction does not share with the
    /// engine's output, leave the field to the engine.
    fn adapt_corrections(
        &self,
        listings: &[Listing],
        plans: &mut [FieldPlans],
        fuzzy: Vec<FuzzyCorrection>,
        target: &Language,
        glossary: &GlossaryMatcher,
        units: &mut Vec<Unit>,
    ) {
        let mut by_pair: BTreeMap<LanguagePair, Vec<FuzzyCorrection>> = BTreeMap::new();
        for correction in fuzzy {
            by_pair
                .entry(correction.pair.clone())
                .or_default()
                .push(correction);
        }
        for (pair, corrections) in by_pair {
            let sources: Vec<String> = corrections
                .iter()
                .flat_map(|c| [c.found.source.clone(), c.text.clone()])
                .collect();
            let outputs = self
                .engine
                .translate(&pair, &sources)
                .inspect_err(|err| {
                    tracing::warn!(error = %err, pair = %pair, "cannot check fuzzy corrections")
                })
                .unwrap_or_default();
            for (index, correction) in corrections.into_iter().enumerate() {
                let adapted = match (outputs.get(2 * index), outputs.get(2 * index + 1)) {
                    (Some(old), Some(new)) => adapt(correction.found, old, new),
                    _ => None,
                };
                let plan = match adapted {
                    Some(found) => FieldPlan::Corrected {
                        source: correction.text,
                        text: found.target,
                        similarity: found.similarity,
                        pair: pair.clone(),
                    },
                    None => {
                        let listing = &listings[correction.listing];
                        let context = plan::Context {
                            sku: &listing.sku,
                            pair: &pair,
                            target,
                            glossary,
                            rates: &self.options.rates,
                            listing_text: &listing_context(listing),
                        };
                        plan::field(&correction.text, &context, units)
                    }
                };
                plans[correction.listing][correction.field].1 = plan;
            }
        }
    }

    /// Fills every unit from memory or the engine, then back-translates.
    fn fill_units(&mut self, units: &mut [Unit]) -> Result<(), PipelineError> {
        // Fuzzy matches wait for the engine's translations of both sources,
        // which tell what to change in the stored translation.
        let mut fuzzy: HashMap<usize, MemoryMatch> = HashMap::new();
        if let Some(memory) = self.memory.as_deref_mut() {
            for (index, unit) in units.iter_mut().enumerate() {
                if !unit.sentence {
                    continue;
                }
                let Some(found) = memory.segment(&unit.pair, &unit.text)? else {
                    continue;
                };
                if found.similarity < 1.0 {
                    fuzzy.insert(index, found);
                    continue;
                }
                unit.origin = if found.human {
                    Origin::Human
                } else {
                    Origin::Memory
                };
                // Stored by this closed-vocabulary engine, with its unknown
                // words: scored as when it came fresh.
                unit.closed_vocabulary =
                    found.engine == self.engine.name() && self.engine.closed_vocabulary();
                unit.similarity = found.similarity;
                unit.output = Some(Ok(EngineOutput {
                    text: found.target,
                    unknown_words: found.unknown_words,
                }));
            }
        }

        // One engine call per pair, each distinct text sent once. A segment
        // too long for any sentence fails alone instead of holding the
        // engine for minutes.
        let mut by_pair: BTreeMap<LanguagePair, Vec<usize>> = BTreeMap::new();
        for (index, unit) in units.iter_mut().enumerate() {
            let length = unit.text.chars().count();
            if unit.output.is_none() && length > MAX_SEGMENT_CHARS {
                unit.origin = Origin::Failed;
                unit.output = Some(Err(format!(
                    "a segment of {length} characters is longer than the limit of \
                     {MAX_SEGMENT_CHARS}; split the text into sentences"
                )));
            }
            if unit.output.is_none() {
                by_pair.entry(unit.pair.clone()).or_default().push(index);
            }
        }
        for (pair, indices) in by_pair {
            if !self.engine.supports(&pair) {
                let message = format!(
                    "engine {} has no pair {pair}; it supports {}",
                    self.engine.name(),
                    crate::engine::describe_pairs(self.engine)
                );
                for index in indices {
                    units[index].origin = Origin::Failed;
                    units[index].output = Some(Err(message.clone()));
                }
                continue;
            }
            let mut distinct: Vec<String> = Vec::new();
            let mut slot: HashMap<String, usize> = HashMap::new();
            let mut position_of = |text: &str| -> usize {
                *slot.entry(text.to_string()).or_insert_with(|| {
                    distinct.push(text.to_string());
                    distinct.len() - 1
                })
            };
            let positions: Vec<usize> = indices
                .iter()
                .map(|&i| position_of(&units[i].text))
                .collect();
            // The stored sources of fuzzy matches go in the same call.
            let old_positions: HashMap<usize, usize> = indices
                .iter()
                .filter_map(|i| fuzzy.get(i).map(|found| (*i, position_of(&found.source))))
                .collect();
            tracing::debug!(pair = %pair, segments = distinct.len(), engine = self.engine.name(), "engine batch");
            let outputs = self.engine.translate(&pair, &distinct)?;
            for (&index, position) in indices.iter().zip(positions) {
                let output = outputs[position].clone().map(|mut output| {
                    output.text = tidy_spaces(&units[index].text, &output.text);
                    output
                });
                let adapted = match (fuzzy.remove(&index), old_positions.get(&index)) {
                    (Some(found), Some(&old)) => {
                        // Both outputs tidied alike, so only words differ.
                        let old_output = outputs[old].clone().map(|mut output| {
                            output.text = tidy_spaces(&distinct[old], &output.text);
                            output
                        });
                        adapt(found, &old_output, &output)
                    }
                    _ => None,
                };
                if let Some(found) = adapted {
                    units[index].origin = if found.human {
                        Origin::Human
                    } else {
                        Origin::MemoryFuzzy
                    };
                    units[index].similarity = found.similarity;
                    units[index].output = Some(Ok(EngineOutput {
                        text: found.target,
                        unknown_words: found.unknown_words,
                    }));
                    continue;
                }
                units[index].origin = if output.is_ok() {
                    Origin::Engine
                } else {
                    Origin::Failed
                };
                units[index].closed_vocabulary = self.engine.closed_vocabulary();
                if let Err(message) = &output {
                    tracing::warn!(pair = %pair, error = %message, "segment failed");
                }
                units[index].output = Some(output);
            }

            if let Some(memory) = self.memory.as_deref_mut() {
                let fresh: Vec<EngineSegment> = indices
                    .iter()
                    .map(|&i| &units[i])
                    .filter(|unit| unit.sentence && unit.origin == Origin::Engine)
                    .filter_map(|unit| match &unit.output {
                        Some(Ok(output)) => Some(EngineSegment {
                            source: unit.text.clone(),
                            target: output.text.clone(),
                            unknown_words: output.unknown_words.clone(),
                        }),
                        _ => None,
                    })
                    .collect();
                memory.store_segments(&pair, self.engine.name(), &fresh)?;
            }
        }

        if self.options.round_trip {
            self.back_translate(units)?;
        }
        if let Some(scorer) = self.scorer {
            let baseline = (self.options.estimator.as_ref())
                .is_some_and(|estimator| estimator.inputs.baseline);
            score_with_model(scorer, units, baseline);
        }
        if let Some(embedder) = self.embedder {
            compare_meaning(embedder, units);
        }
        Ok(())
    }

    /// Back-translates engine output of sentences when the engine has the
    /// reverse pair.
    fn back_translate(&self, units: &mut [Unit]) -> Result<(), PipelineError> {
        let mut by_pair: BTreeMap<LanguagePair, Vec<usize>> = BTreeMap::new();
        for (index, unit) in units.iter().enumerate() {
            if unit.sentence && matches!(unit.output, Some(Ok(_))) {
                by_pair.entry(unit.pair.reversed()).or_default().push(index);
            }
        }
        for (reverse, indices) in by_pair {
            if !self.engine.supports(&reverse) {
                continue;
            }
            let texts: Vec<String> = indices
                .iter()
                .map(|&i| match &units[i].output {
                    Some(Ok(output)) => output.text.clone(),
                    _ => String::new(),
                })
                .collect();
            let backs = self.engine.translate(&reverse, &texts)?;
            for (&index, back) in indices.iter().zip(backs) {
                units[index].back_translation = back.ok().map(|output| output.text);
            }
        }
        Ok(())
    }

    /// Queues fields scoring below the threshold for review.
    fn queue_reviews(&mut self, report: &RunReport) -> Result<usize, PipelineError> {
        let Some(memory) = self.memory.as_deref_mut() else {
            return Ok(0);
        };
        let mut items = Vec::new();
        for listing in &report.listings {
            for field in &listing.fields {
                if field.score >= self.options.review_threshold || field.source.trim().is_empty() {
                    continue;
                }
                items.push(ReviewItem {
                    id: 0,
                    sku: listing.sku.clone(),
                    field: field.field.clone(),
                    source_lang: listing
                        .translated
                        .source_lang
                        .clone()
                        .unwrap_or_else(|| self.options.source_lang.clone()),
                    target_lang: report.target_lang.clone(),
                    source: field.source.clone(),
                    translation: field.output.clone(),
                    score: field.score,
                    flags: field.flags.join(" "),
                });
            }
        }
        memory.enqueue(&items)?;
        Ok(items.len())
    }
}

/// Waits for a batch's assembly; a panic there is a bug, so it goes on.
fn join_assembly(
    handle: std::thread::ScopedJoinHandle<'_, Vec<ListingReport>>,
) -> Vec<ListingReport> {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Assembles and scores the listings of a batch on every core; quality
/// estimation (language identification above all) costs about as much
/// as the engine itself.
fn assemble_batch(
    listings: &[Listing],
    plans: Vec<FieldPlans>,
    units: &[Unit],
    target: &Language,
    glossary: &GlossaryMatcher,
    options: &Options,
) -> Vec<ListingReport> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = listings.len().div_ceil(threads).max(1);
    let mut plans = plans.into_iter();
    let chunks: Vec<(&[Listing], Vec<FieldPlans>)> = listings
        .chunks(chunk)
        .map(|part| (part, plans.by_ref().take(part.len()).collect()))
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(part, part_plans)| {
                scope.spawn(move || {
                    part.iter()
                        .zip(part_plans)
                        .map(|(listing, fields)| {
                            assemble::listing(listing, fields, units, target, glossary, options)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(join_assembly).collect()
    })
}

/// Adapts the fuzzy match `found` to a new source, given the engine's
/// translations of the stored source (`old`) and of the new one (`new`);
/// see [`crate::memory::repair`].
fn adapt(
    found: MemoryMatch,
    old: &Result<EngineOutput, String>,
    new: &Result<EngineOutput, String>,
) -> Option<MemoryMatch> {
    let (Ok(old), Ok(new)) = (old, new) else {
        return None;
    };
    let target = crate::memory::repair(&old.text, &new.text, &found.target)?;
    Some(MemoryMatch { target, ..found })
}

/// Looks up the target language; an unknown code gets English conventions.
fn target_language(code: &str) -> TargetLanguage {
    match Language::lookup(code) {
        Some(language) => TargetLanguage::Known(*language),
        None => TargetLanguage::Other(code.to_ascii_lowercase()),
    }
}

enum TargetLanguage {
    Known(Language),
    Other(String),
}

impl TargetLanguage {
    fn code_string(&self) -> String {
        match self {
            TargetLanguage::Known(language) => language.code.to_string(),
            TargetLanguage::Other(code) => code.clone(),
        }
    }
}

impl std::ops::Deref for TargetLanguage {
    type Target = Language;

    fn deref(&self) -> &Language {
        match self {
            TargetLanguage::Known(language) => language,
            TargetLanguage::Other(_) => Language::lookup("en").expect("English is listed"),
        }
    }
}

/// Removes white space the engine added where the source had none: runs
/// of spaces, a space at either end, and a space before a full stop, comma
/// or closing parenthesis. Apertium drops the subject of "It is a lamp."
/// but keeps its space, and writes "lámpara .". Marks that take a space
/// before them in French (":", ";", "!", "?") are left alone.
fn tidy_spaces(source: &str, output: &str) -> String {
    let mut tidy = String::with_capacity(output.len());
    if source.contains("  ") {
        tidy.push_str(output);
    } else {
        let mut previous_space = false;
        for c in output.chars() {
            if c == ' ' && previous_space {
                continue;
            }
            previous_space = c == ' ';
            tidy.push(c);
        }
    }
    for mark in [".", ",", ")"] {
        let spaced = format!(" {mark}");
        if tidy.contains(&spaced) && !source.contains(&spaced) {
            tidy = tidy.replace(&spaced, mark);
        }
    }
    if !source.starts_with(char::is_whitespace) {
        tidy = tidy.trim_start().to_string();
    }
    if !source.ends_with(char::is_whitespace) {
        tidy.truncate(tidy.trim_end().len());
    }
    tidy
}

/// Sets the scoring model's log-probabilities on translated sentences. A
/// sentence the model cannot score (longer than its context) is flagged
/// `qe_model_skipped` and scored without the model.
fn score_with_model(scorer: &dyn TokenScorer, units: &mut [Unit], baseline: bool) {
    for unit in units.iter_mut().filter(|unit| unit.sentence) {
        let Some(Ok(output)) = &unit.output else {
            continue;
        };
        let readings = read_with_model(
            scorer,
            (&unit.text, &unit.pair.source),
            (&output.text, &unit.pair.target),
            baseline,
        );
        unit.lm_score = Some(match readings {
            Ok((logprobs, without_source)) => {
                unit.lm_baseline = without_source;
                Ok(logprobs)
            }
            Err(err) => {
                tracing::warn!(error = %err, "scoring model skipped a segment");
                Err(err.to_string())
            }
        });
    }
}

/// Sets the embeddings of source and output on translated sentences, with
/// the model's sentence-similarity prompt. A sentence the
/// model could not compare is flagged `qe_model_skipped`.
fn compare_meaning(embedder: &Embedder, units: &mut [Unit]) {
    let clean = |text: &str| {
        qe::strip_tokens(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut indices = Vec::new();
    let mut texts = Vec::new();
    for (index, unit) in units.iter().enumerate() {
        if let (true, Some(Ok(output))) = (unit.sentence, &unit.output) {
            indices.push(index);
            texts.push((clean(&unit.text), clean(&output.text)));
        }
    }
    for (index, vectors) in indices.into_iter().zip(meaning_vectors(embedder, &texts)) {
        units[index].embeddings = Some(vectors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::UppercaseTestEngine;

    fn listing(title: &str, description: &str) -> Listing {
        Listing {
            sku: "A1".to_string(),
            title: title.to_string(),
            description: description.to_string(),
            ..Listing::default()
        }
    }

    #[test]
    fn pipeline_keeps_markup_and_placeholders() {
        let engine = UppercaseTestEngine;
        let mut pipeline = Pipeline::new(&engine, None, Options::default());
        let source = listing(
            "Red mug",
            r#"<p>A <b>red</b> mug for {name} &nbsp;<a href="/x" title="Mug page">here</a>.</p>"#,
        );
        let run = pipeline.translate(&[source], "es", &mut |_| {}).unwrap();
        let description = &run.listings[0].translated.description;
        assert_eq!(
            description,
            r#"<p>A <b>RED</b> MUG FOR {name} &nbsp;<a href="/x" title="MUG PAGE">HERE</a>.</p>"#
        );
    }

    #[test]
    fn failing_segment_is_recorded_and_run_continues() {
        let engine = UppercaseTestEngine;
        let mut pipeline = Pipeline::new(&engine, None, Options::default());
        let listings = [
            listing("Red mug", "It breaks. FAIL here. It is red."),
            listing("Blue cup", ""),
        ];
        let run = pipeline.translate(&listings, "es", &mut |_| {}).unwrap();
        assert_eq!(run.failed, 1);
        let description = &run.listings[0].fields[1];
        assert_eq!(description.output, "IT BREAKS. FAIL here. IT IS RED.");
        assert!(description.flags.contains(&"engine_error".to_string()));
        let failed = description
            .segments
            .iter()
            .find(|s| s.error.is_some())
            .unwrap();
        assert_eq!(failed.origin, Origin::Failed);
        // The rest of the description translated fine, yet the field goes
        // to review with the failed segment's score.
        assert!(description.score <= failed.score, "{}", description.score);
        assert!(description.score < Options::default().review_threshold);
        assert_eq!(run.listings[1].translated.title, "BLUE CUP");
    }

    #[test]
    fn tidy_spaces_removes_only_added_space() {
        assert_eq!(
            tidy_spaces("It is a lamp.", " Es una  lámpara ."),
            "Es una lámpara."
        );
        assert_eq!(
            tidy_spaces("Wait : here !", "Attendez : ici !"),
            "Attendez : ici !"
        );
        assert_eq!(tidy_spaces("a  b .5", "a  b .5"), "a  b .5");
    }

    #[test]
    fn overlong_segment_fails_alone() {
        let engine = UppercaseTestEngine;
        let mut pipeline = Pipeline::new(&engine, None, Options::default());
        let word = format!("X{}", "x".repeat(MAX_SEGMENT_CHARS));
        let listings = [listing("Red mug", &format!("It is short. {word}"))];
        let run = pipeline.translate(&listings, "es", &mut |_| {}).unwrap();
        assert_eq!(run.failed, 1);
        let description = &run.listings[0].fields[1];
        assert!(description.output.starts_with("IT IS SHORT. Xxx"));
        let failed = description
            .segments
            .iter()
            .find_map(|s| s.error.as_deref())
            .unwrap();
        assert!(failed.contains("split the text into sentences"), "{failed}");
        assert!(description.flags.contains(&"engine_error".to_string()));
    }

    #[test]
    fn listing_in_the_target_language_is_kept() {
        let engine = UppercaseTestEngine;
        let mut pipeline = Pipeline::new(&engine, None, Options::default());
        let mut spanish = listing("Taza roja", "De gres.");
        spanish.source_lang = Some("es".to_string());
        let run = pipeline
            .translate(
                &[listing("Red mug", ""), spanish.clone()],
                "es",
                &mut |_| {},
            )
            .unwrap();
        let kept = &run.listings[1];
        assert_eq!(kept.translated.title, "Taza roja");
        assert_eq!(kept.translated.description, "De gres.");
        assert_eq!(kept.score, 100.0);
        assert!(
            kept.flags.contains(&"same_language".to_string()),
            "{:?}",
            kept.flags
        );
        assert_eq!(run.failed, 0);
        // A catalog all in the target language needs no engine pair.
        let run = pipeline.translate(&[spanish], "es", &mut |_| {}).unwrap();
        assert_eq!(run.listings[0].translated.title, "Taza roja");
    }

    #[test]
    fn unsupported_language_listing_fails_alone() {
        let engine = UppercaseTestEngine;
        let mut pipeline = Pipeline::new(&engine, None, Options::default());
        let mut german = listing("Roter Becher", "Aus Steingut.");
        german.source_lang = Some("de".to_string());
        let listings = [listing("Red mug", ""), german, listing("Blue cup", "")];
        let run = pipeline.translate(&listings, "es", &mut |_| {}).unwrap();
        assert_eq!(run.listings[0].translated.title, "RED MUG");
        assert_eq!(run.listings[2].translated.title, "BLUE CUP");
        let skipped = &run.listings[1];
        assert_eq!(skipped.translated.title, "Roter Becher");
        assert_eq!(skipped.score, 0.0);
        let error = skipped.fields[0].segments[0].error.as_deref().unwrap();
        assert!(error.contains("no pair de-es"), "{error}");
        assert_eq!(run.failed, 2);

        // Without one listing the engine can translate, the run stops.
        let error = pipeline
            .translate(&listings[1..2], "es", &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains("en-es"), "{error}");
    }

    #[test]
    fn pipeline_reports_glossary_uses() {
        let engine = UppercaseTestEngine;
        let glossary = Glossary::parse(
            std::path::Path::new("g.csv"),
            "term,translation,target_lang\nmug,taza,es\nAcme,,es\n",
        )
        .unwrap();
        let options = Options {
            glossary,
            ..Options::default()
        };
        let mut pipeline = Pipeline::new(&engine, None, options);
        let run = pipeline
            .translate(&[listing("Acme mugs", "")], "es", &mut |_| {})
            .unwrap();
        assert_eq!(run.listings[0].translated.title, "Acme tazas");
        assert_eq!(run.listings[0].glossary.len(), 2);
        assert!(run.listings[0].glossary.iter().all(|use_| use_.enforced));
    }
}
