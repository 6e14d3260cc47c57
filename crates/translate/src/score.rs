//! Quality estimates of translations made anywhere: a source text and its
//! translation, scored with the checks and the optional models that score
//! the pipeline's own output. This is what `mercator translate score` and
//! the server's quality endpoint run on a user's pairs.

use mercator_models::embed::{cosine, Embedder};
use mercator_models::generate::TokenScorer;
use serde::{Deserialize, Serialize};

use crate::estimator::{Evidence, Inputs, QualityEstimator};
use crate::qe::{self, Signals, Weights};

/// Pairs embedded per batch by [`meaning_vectors`] (two texts each).
const MEANING_BATCH: usize = 16;

/// A source text and a translation of it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TranslationPair {
    pub source: String,
    pub translation: String,
    /// ISO 639-1 code of the source text.
    pub source_lang: String,
    /// ISO 639-1 code of the translation.
    pub target_lang: String,
}

/// Models that add signals to the text checks; both optional.
#[derive(Clone, Copy, Default)]
pub struct QeModels<'a> {
    /// A language model: the `lm_surprise` and `lm_worst_token` signals.
    pub scorer: Option<&'a dyn TokenScorer>,
    /// A multilingual embedding model: the `meaning_drift` signal.
    pub embedder: Option<&'a Embedder>,
}

/// Quality estimate of one pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    /// 0 (unusable) to 100 (no problem found).
    pub score: f64,
    /// Names of the problems found, as in a catalog's `qe_flags`.
    pub flags: Vec<String>,
    pub signals: Signals,
    /// Protected spans of the source (URLs, placeholders, model numbers)
    /// that the translation lacks.
    pub missing_spans: Vec<String>,
    /// Links and emails of the translation that the source lacks.
    pub new_links: Vec<String>,
}

/// Embeddings of a source text and of its translation.
pub type PairVectors = (Vec<f32>, Vec<f32>);

/// Outputs of the models for one pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOutputs {
    /// Log-probabilities of the translation's tokens after its source.
    pub logprobs: Option<Vec<f32>>,
    /// Log-probabilities of the same tokens without the source.
    pub baseline: Option<Vec<f32>>,
    /// Embeddings of the source and the translation.
    pub vectors: Option<PairVectors>,
    /// Why a model failed on the pair or could not read all of it.
    pub skip_reason: Option<String>,
}

/// Reads `translation` with the language model after its source and,
/// when `baseline`, after the target language's name alone. Returns the
/// log-probabilities of the translation's tokens for each reading. A
/// failed reading without the source is logged and left out.
pub fn read_with_model(
    scorer: &dyn TokenScorer,
    (source, source_lang): (&str, &str),
    (translation, target_lang): (&str, &str),
    baseline: bool,
) -> mercator_models::Result<(Vec<f32>, Option<Vec<f32>>)> {
    let (prompt, continuation) = qe::lm_prompt(source, source_lang, translation, target_lang);
    let logprobs = scorer.continuation_logprobs(&prompt, &continuation)?;
    let without_source = if baseline {
        let prompt = qe::lm_baseline_prompt(target_lang);
        match scorer.continuation_logprobs(&prompt, &continuation) {
            Ok(logprobs) => Some(logprobs),
            Err(err) => {
                tracing::warn!(error = %err, "language model failed to read a translation without its source");
                None
            }
        }
    } else {
        None
    };
    Ok((logprobs, without_source))
}

/// Runs the given models on every pair. With `baseline`, the language
/// model also reads each translation without its source, as an estimator
/// with [`Inputs::baseline`] needs.
pub fn model_outputs(
    pairs: &[TranslationPair],
    models: QeModels<'_>,
    baseline: bool,
) -> Vec<ModelOutputs> {
    let mut outputs = vec![ModelOutputs::default(); pairs.len()];
    if let Some(scorer) = models.scorer {
        for (pair, output) in pairs.iter().zip(&mut outputs) {
            let source = plain_text(&pair.source);
            let translation = plain_text(&pair.translation);
            match read_with_model(
                scorer,
                (&source, &pair.source_lang),
                (&translation, &pair.target_lang),
                baseline,
            ) {
                Ok((logprobs, without_source)) => {
                    output.logprobs = Some(logprobs);
                    output.baseline = without_source;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "scoring model skipped a pair");
                    output.skip_reason = Some(format!("the language model failed: {err}"));
                }
            }
        }
    }
    if let Some(embedder) = models.embedder {
        let texts: Vec<(String, String)> = pairs
            .iter()
            .map(|pair| (plain_text(&pair.source), plain_text(&pair.translation)))
            .collect();
        for (output, vectors) in outputs.iter_mut().zip(meaning_vectors(embedder, &texts)) {
            match vectors {
                Ok(vectors) => output.vectors = Some(vectors),
                Err(reason) => output.skip_reason = Some(reason),
            }
        }
    }
    outputs
}

/// Scores every pair with the text checks and the given models. With a
/// trained estimator, the score is its estimate, less the default
/// penalties of the problems it does not read (lost spans, broken tags,
/// glossary violations, untranslated text and the like).
pub fn score_pairs(
    pairs: &[TranslationPair],
    models: QeModels<'_>,
    weights: &Weights,
    estimator: Option<&QualityEstimator>,
) -> Vec<PairScore> {
    let baseline = estimator.is_some_and(|estimator| estimator.inputs.baseline);
    let outputs = model_outputs(pairs, models, baseline);
    pairs
        .iter()
        .zip(outputs)
        .map(|(pair, output)| {
            let mut check = qe::check_pair(
                &pair.source,
                &pair.translation,
                &pair.source_lang,
                &pair.target_lang,
            );
            add_model_signals(&mut check.signals, &output);
            check.rescore(weights);
            let mut skipped = output.skip_reason.is_some();
            if let Some(estimator) = estimator {
                match pair_features(&estimator.inputs, pair, &check.signals, &output) {
                    Ok(features) => {
                        check.score = estimator.score(&features, &check.signals, weights);
                    }
                    Err(reason) => {
                        tracing::debug!(reason = %reason, "estimator skipped a pair");
                        skipped = true;
                    }
                }
            }
            let mut flags: Vec<String> = check.flags.iter().map(|f| f.to_string()).collect();
            if skipped {
                flags.push("qe_model_skipped".to_string());
            }
            PairScore {
                score: (check.score * 10.0).round() / 10.0,
                flags,
                signals: check.signals,
                missing_spans: check.missing_spans,
                new_links: check.new_links,
            }
        })
        .collect()
}

/// Sets the signals of the models' outputs: the language model's surprise
/// and the meaning drift between the embeddings.
pub fn add_model_signals(signals: &mut Signals, output: &ModelOutputs) {
    if let Some(logprobs) = &output.logprobs {
        qe::set_lm_signals(signals, logprobs);
    }
    if let Some((source, translation)) = &output.vectors {
        signals.meaning_drift = qe::meaning_drift(f64::from(cosine(source, translation)));
    }
}

/// Features of a checked pair for an estimator reading `inputs`, from the
/// pair's text signals and model outputs.
pub fn pair_features(
    inputs: &Inputs,
    pair: &TranslationPair,
    signals: &Signals,
    output: &ModelOutputs,
) -> Result<Vec<f64>, String> {
    let (source, translation) = (plain_text(&pair.source), plain_text(&pair.translation));
    inputs.features(&Evidence {
        signals,
        source: &source,
        translation: &translation,
        pair: &format!("{}-{}", pair.source_lang, pair.target_lang),
        logprobs: output.logprobs.as_deref(),
        baseline: output.baseline.as_deref(),
        vectors: output
            .vectors
            .as_ref()
            .map(|(s, t)| (s.as_slice(), t.as_slice())),
    })
}

/// Computes the embeddings of each (source, translation) with the
/// model's sentence-similarity prompt. A pair gets the reason instead when
/// the model failed on its batch or a text is longer than the model reads,
/// since its end would go unchecked.
pub fn meaning_vectors(
    embedder: &Embedder,
    pairs: &[(String, String)],
) -> Vec<Result<PairVectors, String>> {
    let prompt = embedder.prompt("STS").unwrap_or("");
    let mut results: Vec<Option<Result<PairVectors, String>>> = vec![None; pairs.len()];
    let mut todo = Vec::with_capacity(pairs.len());
    for (index, (source, translation)) in pairs.iter().enumerate() {
        let too_long = [source, translation]
            .into_iter()
            .find(|text| embedder.truncates(&format!("{prompt}{text}")));
        match too_long {
            Some(text) => {
                let message = format!(
                    "a text of {} characters is longer than the embedding model's {} tokens",
                    text.chars().count(),
                    embedder.max_tokens()
                );
                tracing::debug!(pair = index, reason = %message, "meaning not compared");
                results[index] = Some(Err(message));
            }
            None => todo.push(index),
        }
    }
    for batch in todo.chunks(MEANING_BATCH) {
        let texts: Vec<&str> = batch
            .iter()
            .flat_map(|&index| [pairs[index].0.as_str(), pairs[index].1.as_str()])
            .collect();
        match embedder.embed_prompted(prompt, &texts, MEANING_BATCH * 2) {
            Ok(vectors) => {
                for (&index, pair) in batch.iter().zip(vectors.chunks_exact(2)) {
                    results[index] = Some(Ok((pair[0].clone(), pair[1].clone())));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, pairs = batch.len(), "embedding model skipped a batch");
                for &index in batch {
                    results[index] = Some(Err(err.to_string()));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|result| result.expect("each pair has vectors or a reason"))
        .collect()
}

/// Sentences in four languages and their English translations, to tell a
/// multilingual embedding model from an English-only one.
const PROBE: [(&str, &str); 4] = [
    (
        "The red mug is broken and I want my money back.",
        "La taza roja está rota y quiero que me devuelvan el dinero.",
    ),
    (
        "Where is my parcel? It was due on Monday.",
        "Wo ist mein Paket? Es sollte am Montag ankommen.",
    ),
    (
        "This lamp gives a warm light in the evening.",
        "Cette lampe donne une lumière chaude le soir.",
    ),
    (
        "Please send the invoice to my office address.",
        "Por favor, envie a fatura para o endereço do meu escritório.",
    ),
];

/// Margin by which a sentence must be closer to its translation than to
/// the other sentences' translations, on average.
const PROBE_MARGIN: f32 = 0.2;

/// Checks that `embedder` maps translations close to each other: a model
/// trained on English only gives meaningless `meaning_drift`. Returns the
/// measured margin, or an error that gives it.
pub fn check_multilingual(embedder: &Embedder) -> Result<f32, String> {
    let prompt = embedder.prompt("STS").unwrap_or("");
    let texts: Vec<&str> = PROBE.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let vectors = embedder
        .embed_prompted(prompt, &texts, texts.len())
        .map_err(|err| format!("cannot embed the probe sentences: {err}"))?;
    let (mut matched, mut other) = (0.0f32, 0.0f32);
    for i in 0..PROBE.len() {
        for j in 0..PROBE.len() {
            let similarity = cosine(&vectors[2 * i], &vectors[2 * j + 1]);
            if i == j {
                matched += similarity;
            } else {
                other += similarity;
            }
        }
    }
    let n = PROBE.len() as f32;
    let margin = matched / n - other / (n * (n - 1.0));
    if margin < PROBE_MARGIN {
        return Err(format!(
            "the model does not place translations near each other (a sentence is only \
             {margin:.2} closer to its Spanish, German, French or Portuguese translation than to \
             unrelated ones; {PROBE_MARGIN} is needed), so it is not multilingual"
        ));
    }
    Ok(margin)
}

/// Text without markup, with white space collapsed.
fn plain_text(text: &str) -> String {
    qe::strip_markup(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(source: &str, translation: &str) -> TranslationPair {
        TranslationPair {
            source: source.to_string(),
            translation: translation.to_string(),
            source_lang: "en".to_string(),
            target_lang: "es".to_string(),
        }
    }

    #[test]
    fn text_checks_rank_broken_translations_lower() {
        let pairs = [
            pair(
                "<p>The <b>red mug</b> holds 350 ml.</p>",
                "<p>La <b>taza roja</b> tiene capacidad para 350 ml.</p>",
            ),
            pair(
                "<p>The <b>red mug</b> holds 350 ml.</p>",
                "<p>La taza roja tiene capacidad para 250 ml.</p>",
            ),
            pair("The red mug holds 350 ml.", "The red mug holds 350 ml."),
        ];
        let scores = score_pairs(&pairs, QeModels::default(), &Weights::default(), None);
        assert!(scores[0].flags.is_empty(), "{:?}", scores[0]);
        assert!(scores[0].score > 90.0, "{:?}", scores[0]);
        assert!(scores[1].flags.contains(&"number_mismatch".to_string()));
        assert!(scores[1].flags.contains(&"tag_problems".to_string()));
        assert!(scores[2].flags.contains(&"untranslated".to_string()));
        assert!(scores[1].score < scores[0].score, "{:?}", scores[1]);
        assert!(scores[2].score < 70.0, "{:?}", scores[2]);
    }
}
