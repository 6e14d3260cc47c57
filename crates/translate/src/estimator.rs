//! A quality estimator trained on human scores of translations.
//!
//! The rule-based score weighs each signal by hand. A trained estimator
//! instead reads the text signals, the source words the translation keeps
//! unchanged, the language model's token log-probabilities and the
//! embedding vectors of source and translation, and predicts the human
//! score by ridge regression. Human error scores are skewed (most
//! segments are perfect, a few are very bad), so the regression predicts ln(1 + 100 - score) and turns it back into a score.
//! The penalty strength, and the weight of the embedding values against
//! the other features, are chosen by two-fold cross-validation on the
//! training rows, grouped by document, so that no document is both read
//! and predicted.

use mercator_data::linalg::solve_cholesky;
use serde::{Deserialize, Serialize};

use crate::metrics::spearman;
use crate::qe::{Signals, Weights};

/// Kind of quality estimators in the model registry.
pub const ESTIMATOR_KIND: &str = "quality";
/// Registry dataset of quality estimators: one estimator serves every
/// dataset.
pub const ESTIMATOR_DATASET: &str = "default";

/// Text signals the estimator reads, by name in [`Signals::NAMES`]: the
/// checks that need no engine, so any translation has them.
pub const TEXT_SIGNALS: [&str; 7] = [
    "untranslated",
    "wrong_language",
    "number_mismatch",
    "length_deviation",
    "repetition",
    "punctuation_mismatch",
    "source_complexity",
];

/// Weights of the embedding values against the other features, tried
/// with each penalty: the vectors hold thousands of values, which at full
/// weight drown the few scalar features.
const EMBEDDING_SHARES: [f64; 4] = [1.0, 0.5, 0.25, 0.1];

/// Penalty strengths tried, per training row.
const PENALTIES: [f64; 6] = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0];

/// Language pairs with fewer rows than this in a fold do not count
/// towards the cross-validated agreement.
const MIN_PAIR_ROWS: usize = 10;

/// Evidence about one translated segment, as the estimator reads it.
pub struct Evidence<'a> {
    pub signals: &'a Signals,
    pub source: &'a str,
    pub translation: &'a str,
    /// Language pair as "source-target" ISO 639-1 codes: "en-de".
    pub pair: &'a str,
    /// Log-probabilities of the translation's tokens under the language
    /// model, after the source.
    pub logprobs: Option<&'a [f32]>,
    /// Log-probabilities of the same tokens without the source: what the
    /// source adds to them tells how much the translation follows it.
    pub baseline: Option<&'a [f32]>,
    /// Embeddings of the source and of the translation.
    pub vectors: Option<(&'a [f32], &'a [f32])>,
}

/// The models whose outputs an estimator reads, and the language pairs it
/// distinguishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Name of the language model, when its log-probabilities are read.
    pub language_model: Option<String>,
    /// Name of the embedding model and its vector length, when read.
    pub embedding_model: Option<(String, usize)>,
    /// Whether the language model's log-probabilities of the translation
    /// without its source are read too.
    #[serde(default)]
    pub baseline: bool,
    /// Language pairs ("en-de") with a weight of their own for each
    /// feature but the embeddings: the same language-model surprise means
    /// more in one target language than in another. Other pairs use the
    /// shared weights alone.
    #[serde(default)]
    pub pairs: Vec<String>,
    /// Whether the counts of source words the translation keeps unchanged
    /// are read.
    #[serde(default)]
    pub copies: bool,
}

/// Lists the language pairs of training rows that get weights of their
/// own: each pair once, sorted, and none unless there are several.
pub fn distinct_pairs(pairs: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut pairs: Vec<String> = pairs.into_iter().collect();
    pairs.sort();
    pairs.dedup();
    if pairs.len() < 2 {
        pairs.clear();
    }
    pairs
}

/// Features read from the language model's log-probabilities.
const LM_FEATURES: usize = 6;

/// Features read from the log-probabilities with and without the source.
const BASELINE_FEATURES: usize = LM_FEATURES + 4;

impl Inputs {
    /// Counts the features of these inputs.
    fn width(&self) -> usize {
        let scalars = self.scalar_width();
        scalars
            + self.embedding_model.as_ref().map_or(0, |(_, dim)| 4 * dim)
            + self.pairs.len() * (1 + scalars)
    }

    /// Counts the features that are not embedding values: text signals,
    /// lengths, language-model readings and the cosine.
    fn scalar_width(&self) -> usize {
        let lm = match (&self.language_model, self.baseline) {
            (Some(_), true) => LM_FEATURES + BASELINE_FEATURES,
            (Some(_), false) => LM_FEATURES,
            (None, _) => 0,
        };
        TEXT_SIGNALS.len()
            + 3
            + 2 * usize::from(self.copies)
            + lm
            + usize::from(self.embedding_model.is_some())
    }

    /// Positions of the embedding values among the features.
    fn embedding_values(&self) -> std::ops::Range<usize> {
        let start = self.scalar_width();
        start..start + self.embedding_model.as_ref().map_or(0, |(_, dim)| 4 * dim)
    }

    /// Features of one segment, or the reason it cannot be read: a model
    /// output the estimator was trained with is missing or has another size.
    pub fn features(&self, evidence: &Evidence<'_>) -> Result<Vec<f64>, String> {
        let values = evidence.signals.values();
        let mut features: Vec<f64> = TEXT_SIGNALS
            .iter()
            .map(|name| {
                values[Signals::NAMES
                    .iter()
                    .position(|n| n == name)
                    .expect("text signal is a known signal")]
            })
            .collect();
        let source_words = evidence.source.split_whitespace().count() as f64;
        let output_words = evidence.translation.split_whitespace().count() as f64;
        features.extend([
            source_words.ln_1p(),
            output_words.ln_1p(),
            (evidence.source.chars().count() as f64).ln_1p(),
        ]);
        if self.copies {
            let (lower, other) = crate::qe::copied_words(evidence.source, evidence.translation);
            features.extend([(lower as f64).ln_1p(), (other as f64).ln_1p()]);
        }
        if let Some(model) = &self.language_model {
            let logprobs = evidence
                .logprobs
                .ok_or_else(|| format!("the language model {model} gave no scores"))?;
            features.extend(surprise_features(logprobs));
            if self.baseline {
                let baseline = evidence.baseline.ok_or_else(|| {
                    format!("the language model {model} gave no scores without the source")
                })?;
                features.extend(surprise_features(baseline));
                // What the source adds to each token's log-probability.
                let gains: Vec<f64> = logprobs
                    .iter()
                    .zip(baseline)
                    .map(|(&with, &without)| f64::from(with - without))
                    .collect();
                let n = gains.len().max(1) as f64;
                features.extend([
                    gains.iter().sum(),
                    gains.iter().sum::<f64>() / n,
                    gains.iter().copied().fold(0.0, f64::min),
                    gains.iter().filter(|&&g| g < 0.0).count() as f64 / n,
                ]);
            }
        }
        let mut vectors = None;
        if let Some((model, dim)) = &self.embedding_model {
            let (source, output) = evidence
                .vectors
                .ok_or_else(|| format!("the embedding model {model} gave no vectors"))?;
            if source.len() != *dim || output.len() != *dim {
                return Err(format!(
                    "the embedding model gave vectors of {} values; {model} gives {dim}",
                    source.len()
                ));
            }
            features.push(f64::from(mercator_models::embed::cosine(source, output)));
            vectors = Some((source, output));
        }
        let scalars = features.len();
        if let Some((source, output)) = vectors {
            features.extend(source.iter().map(|&v| f64::from(v)));
            features.extend(output.iter().map(|&v| f64::from(v)));
            features.extend(source.iter().zip(output).map(|(&s, &t)| f64::from(s * t)));
            features.extend(
                source
                    .iter()
                    .zip(output)
                    .map(|(&s, &t)| f64::from((s - t).abs())),
            );
        }
        // One indicator per pair, then each scalar feature times it.
        let indicators: Vec<f64> = self
            .pairs
            .iter()
            .map(|pair| f64::from(u8::from(pair == evidence.pair)))
            .collect();
        features.extend(&indicators);
        for indicator in &indicators {
            for index in 0..scalars {
                features.push(features[index] * indicator);
            }
        }
        debug_assert_eq!(features.len(), self.width());
        Ok(features)
    }
}

/// Reads log-probabilities as surprise: the total, the mean, the worst
/// token, the tokens beyond 5 and 8 nats, and ln(1 + tokens).
fn surprise_features(logprobs: &[f32]) -> [f64; LM_FEATURES] {
    let surprise: Vec<f64> = logprobs.iter().map(|&lp| -f64::from(lp)).collect();
    let total: f64 = surprise.iter().sum();
    let n = surprise.len().max(1) as f64;
    [
        total,
        total / n,
        surprise.iter().copied().fold(0.0, f64::max),
        surprise.iter().filter(|&&s| s > 5.0).count() as f64,
        surprise.iter().filter(|&&s| s > 8.0).count() as f64,
        n.ln_1p(),
    ]
}

/// One human-scored translation, as features.
pub struct Example {
    pub features: Vec<f64>,
    /// Human score from 0 (unusable) to 100 (perfect), such as an MQM score.
    pub human: f64,
    /// Language pair, for the agreement per pair.
    pub pair: String,
    /// Document or other group; rows of one group share a fold.
    pub group: String,
}

/// A trained estimator: standardization, weights and the chosen penalty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityEstimator {
    pub inputs: Inputs,
    /// Ridge penalty per training row chosen by cross-validation.
    pub penalty: f64,
    /// Mean Spearman correlation per language pair in cross-validation,
    /// at the chosen penalty.
    pub cross_validated_spearman: f64,
    pub training_rows: usize,
    /// Keys of the training rows ([`row_key`]), so that a later estimator
    /// is compared with this one on rows this one never saw.
    #[serde(default)]
    pub row_keys: Vec<u64>,
    /// Weight of the embedding values against the other features, chosen
    /// with the penalty.
    #[serde(default = "full_share")]
    pub embedding_share: f64,
    mean: Vec<f64>,
    scale: Vec<f64>,
    weights: Vec<f64>,
    bias: f64,
}

/// Returns the embedding share of estimators saved before it was chosen.
fn full_share() -> f64 {
    1.0
}

/// Failure to train an estimator.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrainError {
    #[error("too few scored translations ({0}); give at least 40")]
    TooFew(usize),
    #[error(
        "all rows fall in one validation fold, which a hash of their group picks; give rows from \
         more groups (documents)"
    )]
    OneGroup,
    #[error("the features of row {row} have {found} values; the inputs give {expected}")]
    Width {
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("the regression could not be solved (the features are degenerate)")]
    Singular,
}

impl QualityEstimator {
    /// Trains on `examples`, choosing the penalty by two-fold
    /// cross-validation over document groups.
    pub fn train(inputs: Inputs, examples: &[Example]) -> Result<QualityEstimator, TrainError> {
        if examples.len() < 40 {
            return Err(TrainError::TooFew(examples.len()));
        }
        let width = inputs.width();
        if let Some((row, example)) = examples
            .iter()
            .enumerate()
            .find(|(_, e)| e.features.len() != width)
        {
            return Err(TrainError::Width {
                row,
                found: example.features.len(),
                expected: width,
            });
        }

        let fold: Vec<bool> = examples.iter().map(|e| group_fold(&e.group)).collect();
        if fold.iter().all(|&f| f) || fold.iter().all(|&f| !f) {
            return Err(TrainError::OneGroup);
        }
        let shares: &[f64] = if inputs.embedding_model.is_some() {
            &EMBEDDING_SHARES
        } else {
            &[1.0]
        };
        let grid: Vec<(f64, f64)> = shares
            .iter()
            .flat_map(|&share| PENALTIES.iter().map(move |&penalty| (penalty, share)))
            .collect();
        // Each fold's design is set up once and solved at every point of
        // the grid.
        let mut agreements = vec![Vec::new(); grid.len()];
        for side in [true, false] {
            let (train, test): (Vec<_>, Vec<_>) =
                examples.iter().zip(&fold).partition(|(_, &f)| f == side);
            let train: Vec<&Example> = train.into_iter().map(|(e, _)| e).collect();
            let test: Vec<&Example> = test.into_iter().map(|(e, _)| e).collect();
            let design = Design::new(&inputs, &train);
            for (&(penalty, share), found) in grid.iter().zip(&mut agreements) {
                let model = design.solve(inputs.clone(), penalty, share)?;
                found.extend(
                    agreement_per_pair(&model, &test)
                        .into_iter()
                        .map(|(_, r)| r),
                );
            }
        }
        let mut best = (f64::NEG_INFINITY, grid[0]);
        for (&(penalty, share), found) in grid.iter().zip(&agreements) {
            let mean = if found.is_empty() {
                f64::NEG_INFINITY
            } else {
                found.iter().sum::<f64>() / found.len() as f64
            };
            tracing::debug!(
                penalty,
                share,
                spearman = mean,
                "estimator cross-validation"
            );
            if mean > best.0 {
                best = (mean, (penalty, share));
            }
        }

        let all: Vec<&Example> = examples.iter().collect();
        let (penalty, share) = best.1;
        let mut model = Design::new(&inputs, &all).solve(inputs, penalty, share)?;
        model.cross_validated_spearman = if best.0.is_finite() { best.0 } else { 0.0 };
        Ok(model)
    }

    /// Checks a loaded estimator: one mean, scale and weight per feature
    /// of its inputs, all finite, and positive scales.
    pub fn validate(&self) -> Result<(), String> {
        let width = self.inputs.width();
        for (name, values) in [
            ("mean", &self.mean),
            ("scale", &self.scale),
            ("weights", &self.weights),
        ] {
            if values.len() != width {
                return Err(format!(
                    "{name} has {} values; its inputs need {width}",
                    values.len()
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format!("{name} holds a value that is not a finite number"));
            }
        }
        if self.scale.iter().any(|s| *s <= 0.0) || !self.bias.is_finite() {
            return Err("scale or bias is out of range".to_string());
        }
        Ok(())
    }

    /// Estimates the human score, 0 to 100.
    pub fn estimate(&self, features: &[f64]) -> f64 {
        let prediction: f64 = features
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .zip(&self.weights)
            .map(|(((x, m), s), w)| (x - m) / s * w)
            .sum::<f64>()
            + self.bias;
        (100.0 - prediction.exp_m1().max(0.0)).clamp(0.0, 100.0)
    }
}

/// Signals that human error scores of fluent translations rarely contain,
/// so an estimator cannot learn them from such scores.
const OUTSIDE_ESTIMATOR: [&str; 8] = [
    "untranslated",
    "span_problems",
    "unknown_words",
    "round_trip",
    "tag_problems",
    "glossary_violations",
    "fuzzy_match",
    "engine_error",
];

impl QualityEstimator {
    /// Scores a segment: the estimate, less the `weights` penalties
    /// of the problems the estimator cannot have learned (lost spans,
    /// broken tags, glossary violations, untranslated text and the like).
    ///
    /// Gross failures are rare in human-scored data, so the estimate alone
    /// can rate an empty, cut-off or renumbered translation highly. The
    /// score therefore stays under [`Signals::cap`].
    pub fn score(&self, features: &[f64], signals: &Signals, weights: &Weights) -> f64 {
        let outside: f64 = Signals::NAMES
            .iter()
            .zip(signals.values())
            .zip(weights.values())
            .filter(|((name, _), _)| OUTSIDE_ESTIMATOR.contains(name))
            .map(|((_, signal), weight)| signal * weight)
            .sum();
        (self.estimate(features) - outside)
            .min(signals.cap(weights))
            .clamp(0.0, 100.0)
    }
}

/// Computes the Spearman correlation of estimates and human scores per
/// language pair, for pairs with enough rows.
pub fn agreement_per_pair(model: &QualityEstimator, examples: &[&Example]) -> Vec<(String, f64)> {
    let scores: Vec<f64> = examples
        .iter()
        .map(|e| model.estimate(&e.features))
        .collect();
    agreement_of_scores(&scores, examples)
}

/// Computes the Spearman correlation of any `scores` of `examples` with
/// their human scores, per language pair with enough rows.
pub fn agreement_of_scores(scores: &[f64], examples: &[&Example]) -> Vec<(String, f64)> {
    let mut pairs: Vec<&str> = examples.iter().map(|e| e.pair.as_str()).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .filter_map(|pair| {
            let (estimates, human): (Vec<f64>, Vec<f64>) = examples
                .iter()
                .zip(scores)
                .filter(|(e, _)| e.pair == pair)
                .map(|(e, score)| (*score, e.human))
                .unzip();
            if estimates.len() < MIN_PAIR_ROWS {
                return None;
            }
            let r = spearman(&estimates, &human);
            r.is_finite().then(|| (pair.to_string(), r))
        })
        .collect()
}

/// Averages the per-pair agreements, 0 without any.
pub fn mean_agreement(agreements: &[(String, f64)]) -> f64 {
    if agreements.is_empty() {
        0.0
    } else {
        agreements.iter().map(|(_, r)| r).sum::<f64>() / agreements.len() as f64
    }
}

/// Key of a training row: the FNV-1a hash of its source and translation.
pub fn row_key(source: &str, translation: &str) -> u64 {
    source
        .bytes()
        .chain([0])
        .chain(translation.bytes())
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        })
}

/// Fold of a group: a bit of its FNV-1a hash.
fn group_fold(group: &str) -> bool {
    let hash = group.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    (hash >> 7) & 1 == 0
}

/// Standardized training rows and their products, from which ridge
/// regressions of ln(1 + 100 - human) are solved at any penalty and
/// embedding share.
struct Design {
    mean: Vec<f64>,
    scale: Vec<f64>,
    x: Vec<Vec<f64>>,
    bias: f64,
    centred: Vec<f64>,
    embedding: std::ops::Range<usize>,
    products: Products,
}

/// Products of the standardized features: the d × d normal equations when
/// features are fewer than rows, else the n × n kernel, which is cheaper
/// when embedding vectors make features outnumber rows. The kernel is kept
/// in two parts, embedding values and the others, so that the share
/// scales them apart.
enum Products {
    Primal {
        gram: Vec<f64>,
        moment: Vec<f64>,
    },
    Dual {
        other: Vec<f64>,
        embedding: Vec<f64>,
    },
}

impl Design {
    /// Sets up the design of `rows`, with the cheaper of the two products.
    fn new(inputs: &Inputs, rows: &[&Example]) -> Design {
        Design::with_products(inputs, rows, inputs.width() > rows.len())
    }

    /// Sets up the design with the n × n kernel when `dual`, else with the
    /// d × d normal equations.
    fn with_products(inputs: &Inputs, rows: &[&Example], dual: bool) -> Design {
        let n = rows.len();
        let d = inputs.width();
        let mut mean = vec![0.0; d];
        for row in rows {
            for (m, x) in mean.iter_mut().zip(&row.features) {
                *m += x / n as f64;
            }
        }
        let mut scale = vec![0.0; d];
        for row in rows {
            for ((s, x), m) in scale.iter_mut().zip(&row.features).zip(&mean) {
                *s += (x - m).powi(2) / n as f64;
            }
        }
        for s in &mut scale {
            // A constant feature keeps weight 0 instead of dividing by zero.
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|row| {
                row.features
                    .iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((x, m), s)| (x - m) / s)
                    .collect()
            })
            .collect();
        let target: Vec<f64> = rows
            .iter()
            .map(|row| (100.0 - row.human.clamp(0.0, 100.0)).ln_1p())
            .collect();
        let bias = target.iter().sum::<f64>() / n.max(1) as f64;
        let centred: Vec<f64> = target.iter().map(|t| t - bias).collect();
        let embedding = inputs.embedding_values();
        let products = if !dual {
            let mut gram = vec![0.0; d * d];
            let mut moment = vec![0.0; d];
            for (row, t) in x.iter().zip(&centred) {
                for i in 0..d {
                    moment[i] += row[i] * t;
                    for j in 0..=i {
                        gram[i * d + j] += row[i] * row[j];
                    }
                }
            }
            Products::Primal { gram, moment }
        } else {
            let (mut other, mut embedded) = (vec![0.0; n * n], vec![0.0; n * n]);
            for i in 0..n {
                for j in 0..=i {
                    let dot = |range: std::ops::Range<usize>| -> f64 {
                        x[i][range.clone()]
                            .iter()
                            .zip(&x[j][range])
                            .map(|(a, b)| a * b)
                            .sum()
                    };
                    let e = dot(embedding.clone());
                    let o = dot(0..embedding.start) + dot(embedding.end..d);
                    (embedded[i * n + j], embedded[j * n + i]) = (e, e);
                    (other[i * n + j], other[j * n + i]) = (o, o);
                }
            }
            Products::Dual {
                other,
                embedding: embedded,
            }
        };
        Design {
            mean,
            scale,
            x,
            bias,
            centred,
            embedding,
            products,
        }
    }

    /// Solves the ridge regression with penalty `penalty` × rows, the
    /// embedding values weighed by `share`.
    fn solve(
        &self,
        inputs: Inputs,
        penalty: f64,
        share: f64,
    ) -> Result<QualityEstimator, TrainError> {
        let (n, d) = (self.x.len(), self.mean.len());
        let alpha = penalty * n as f64;
        let factor = |i: usize| {
            if self.embedding.contains(&i) {
                share
            } else {
                1.0
            }
        };
        let weights = match &self.products {
            Products::Primal { gram, moment } => {
                let mut a = vec![0.0; d * d];
                for i in 0..d {
                    for j in 0..=i {
                        let v = gram[i * d + j] * factor(i) * factor(j);
                        (a[i * d + j], a[j * d + i]) = (v, v);
                    }
                    a[i * d + i] += alpha;
                }
                let b: Vec<f64> = moment
                    .iter()
                    .enumerate()
                    .map(|(i, m)| m * factor(i))
                    .collect();
                solve_cholesky(&mut a, &b, d)
            }
            Products::Dual { other, embedding } => {
                let mut kernel: Vec<f64> = other
                    .iter()
                    .zip(embedding)
                    .map(|(o, e)| o + share * share * e)
                    .collect();
                for i in 0..n {
                    kernel[i * n + i] += alpha;
                }
                solve_cholesky(&mut kernel, &self.centred, n).map(|dual| {
                    let mut weights = vec![0.0; d];
                    for (row, c) in self.x.iter().zip(&dual) {
                        for (w, v) in weights.iter_mut().zip(row) {
                            *w += c * v;
                        }
                    }
                    weights
                        .iter()
                        .enumerate()
                        .map(|(i, w)| w * factor(i))
                        .collect()
                })
            }
        }
        .ok_or(TrainError::Singular)?;
        // The share scales the standardized embedding values; folded into
        // their scale, the estimate reads raw features as before.
        let scale = (self.scale.iter().enumerate())
            .map(|(i, s)| s / factor(i))
            .collect();
        Ok(QualityEstimator {
            inputs,
            penalty,
            embedding_share: share,
            cross_validated_spearman: 0.0,
            training_rows: n,
            row_keys: Vec::new(),
            mean: self.mean.clone(),
            scale,
            weights,
            bias: self.bias,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_inputs() -> Inputs {
        Inputs {
            language_model: None,
            embedding_model: None,
            baseline: false,
            pairs: Vec::new(),
            copies: false,
        }
    }

    /// Rows whose human score falls with the length deviation, plus noise
    /// from a fixed sequence.
    fn examples(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| {
                let deviation = (i % 17) as f64 / 8.0;
                let noise = ((i * 7919) % 13) as f64 / 13.0;
                let signals = Signals {
                    length_deviation: deviation,
                    ..Signals::default()
                };
                let evidence = Evidence {
                    signals: &signals,
                    source: "The red mug holds 350 ml.",
                    translation: "La taza roja tiene capacidad para 350 ml.",
                    pair: "en-es",
                    logprobs: None,
                    baseline: None,
                    vectors: None,
                };
                Example {
                    features: text_inputs().features(&evidence).unwrap(),
                    human: 100.0 - 20.0 * deviation - 5.0 * noise,
                    pair: if i % 2 == 0 { "en-es" } else { "en-de" }.to_string(),
                    group: format!("doc{}", i % 23),
                }
            })
            .collect()
    }

    #[test]
    fn train_learns_the_signal_that_predicts_human_scores() {
        let examples = examples(200);

        let model = QualityEstimator::train(text_inputs(), &examples).unwrap();

        assert!(model.cross_validated_spearman > 0.8, "{model:?}");
        let clean = &examples[0].features;
        let long = &examples[16].features;
        assert!(model.estimate(clean) > model.estimate(long) + 20.0);
        assert!((0.0..=100.0).contains(&model.estimate(long)));
    }

    #[test]
    fn validate_rejects_damaged_estimators() {
        let mut model = QualityEstimator::train(text_inputs(), &examples(80)).unwrap();
        assert_eq!(model.validate(), Ok(()));
        model.weights.truncate(3);
        assert!(model
            .validate()
            .unwrap_err()
            .contains("weights has 3 values"));
    }

    #[test]
    fn score_caps_gross_failures() {
        let model = QualityEstimator::train(text_inputs(), &examples(80)).unwrap();
        let features = &examples(1)[0].features;
        let renumbered = Signals {
            number_mismatch: 2.0,
            ..Signals::default()
        };
        let weights = Weights::default();
        assert!(model.score(features, &Signals::default(), &weights) > 90.0);
        assert!(model.score(features, &renumbered, &weights) <= 50.0);
    }

    #[test]
    fn score_caps_half_cut_text() {
        let model = QualityEstimator::train(text_inputs(), &examples(80)).unwrap();
        let features = &examples(1)[0].features;
        let source =
            "The ceramic mug holds 350 ml and is safe in the dishwasher and the microwave.";
        let whole = "La taza de cerámica tiene capacidad para 350 ml y puede ir al lavavajillas y al microondas.";
        let cut = "La taza de cerámica tiene capacidad para 350 ml.";
        let signals = |output: &str| crate::qe::check_pair(source, output, "en", "es").signals;
        let weights = Weights::default();
        assert!(model.score(features, &signals(whole), &weights) > 90.0);
        let cut_score = model.score(features, &signals(cut), &weights);
        assert!(cut_score < 70.0, "{cut_score}");
    }

    #[test]
    fn train_rejects_too_few_rows_and_one_group() {
        let mut examples = examples(60);
        assert_eq!(
            QualityEstimator::train(text_inputs(), &examples[..10]).unwrap_err(),
            TrainError::TooFew(10)
        );
        for example in &mut examples {
            example.group = "same".to_string();
        }
        assert_eq!(
            QualityEstimator::train(text_inputs(), &examples).unwrap_err(),
            TrainError::OneGroup
        );
    }

    #[test]
    fn features_need_the_trained_models_outputs() {
        let mut inputs = Inputs {
            language_model: Some("gemma-3-270m".to_string()),
            embedding_model: Some(("embeddinggemma-300m".to_string(), 3)),
            baseline: false,
            pairs: Vec::new(),
            copies: false,
        };
        let signals = Signals::default();
        let mut evidence = Evidence {
            signals: &signals,
            source: "Red mug",
            translation: "Taza roja",
            pair: "en-es",
            logprobs: None,
            baseline: None,
            vectors: Some((&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0])),
        };
        assert!(inputs
            .features(&evidence)
            .unwrap_err()
            .contains("gemma-3-270m"));
        evidence.logprobs = Some(&[-1.0, -9.0]);
        let features = inputs.features(&evidence).unwrap();
        assert_eq!(features.len(), TEXT_SIGNALS.len() + 3 + 6 + 1 + 12);

        inputs.baseline = true;
        assert!(inputs
            .features(&evidence)
            .unwrap_err()
            .contains("without the source"));
        evidence.baseline = Some(&[-2.0, -3.0]);
        let features = inputs.features(&evidence).unwrap();
        let scalars = TEXT_SIGNALS.len() + 3 + 6 + 10 + 1;
        assert_eq!(features.len(), scalars + 12);
        // The source raised the first token by 1 nat and lowered the
        // second by 6: gains 1 and -6.
        let gains = &features[TEXT_SIGNALS.len() + 3 + 12..TEXT_SIGNALS.len() + 3 + 16];
        assert_eq!(gains, [-5.0, -2.5, -6.0, 0.5]);

        evidence.vectors = Some((&[1.0, 0.0], &[0.0, 1.0]));
        assert!(inputs.features(&evidence).unwrap_err().contains("2 values"));
    }

    #[test]
    fn pair_features_repeat_scalars_for_their_pair() {
        let mut inputs = text_inputs();
        inputs.pairs = vec!["en-de".to_string(), "en-es".to_string()];
        let signals = Signals {
            length_deviation: 0.5,
            ..Signals::default()
        };
        let evidence = |pair| Evidence {
            signals: &signals,
            source: "Red mug",
            translation: "Taza roja",
            pair,
            logprobs: None,
            baseline: None,
            vectors: None,
        };
        let scalars = TEXT_SIGNALS.len() + 3;
        let spanish = inputs.features(&evidence("en-es")).unwrap();
        assert_eq!(spanish.len(), scalars + 2 * (1 + scalars));
        // Indicators: not German, Spanish; then the German copies (zero)
        // and the Spanish ones (the scalars again).
        assert_eq!(spanish[scalars..scalars + 2], [0.0, 1.0]);
        assert!(spanish[scalars + 2..scalars + 2 + scalars]
            .iter()
            .all(|&v| v == 0.0));
        assert_eq!(spanish[scalars + 2 + scalars..], spanish[..scalars]);
        // A pair the estimator never saw reads the shared weights alone.
        let french = inputs.features(&evidence("en-fr")).unwrap();
        assert!(french[scalars..].iter().all(|&v| v == 0.0));
    }

    /// Rows with a scalar signal and embedding values that carry part of
    /// the human score.
    fn embedded_examples(n: usize) -> (Inputs, Vec<Example>) {
        let inputs = Inputs {
            embedding_model: Some(("embeddinggemma-300m".to_string(), 3)),
            copies: true,
            ..text_inputs()
        };
        let examples = (0..n)
            .map(|i| {
                let deviation = (i % 7) as f64 / 4.0;
                let signals = Signals {
                    length_deviation: deviation,
                    ..Signals::default()
                };
                let wave = |k: usize| (((i * k) % 11) as f32 - 5.0) / 5.0;
                let (source, output) = ([wave(3), wave(5), 1.0], [wave(7), wave(2), wave(3)]);
                let evidence = Evidence {
                    signals: &signals,
                    source: "Tap Sign Out now",
                    translation: if i % 3 == 0 {
                        "Tap Sign Out now"
                    } else {
                        "Tippen Sie auf Abmelden"
                    },
                    pair: "en-de",
                    logprobs: None,
                    baseline: None,
                    vectors: Some((&source, &output)),
                };
                Example {
                    features: inputs.features(&evidence).unwrap(),
                    human: 100.0 - 20.0 * deviation - 10.0 * f64::from(wave(7).abs()),
                    pair: "en-de".to_string(),
                    group: format!("doc{}", i % 9),
                }
            })
            .collect();
        (inputs, examples)
    }

    #[test]
    fn both_solutions_weigh_the_embedding_share_alike() {
        let (inputs, examples) = embedded_examples(60);
        let rows: Vec<&Example> = examples.iter().collect();
        assert!(inputs.width() < rows.len());
        let primal = Design::with_products(&inputs, &rows, false);
        let dual = Design::with_products(&inputs, &rows, true);
        for share in [1.0, 0.25] {
            let a = primal.solve(inputs.clone(), 0.3, share).unwrap();
            let b = dual.solve(inputs.clone(), 0.3, share).unwrap();
            for (x, y) in a.weights.iter().zip(&b.weights) {
                assert!((x - y).abs() < 1e-9, "{x} against {y} at share {share}");
            }
            assert_eq!(a.scale, b.scale);
            for example in &examples {
                let (x, y) = (a.estimate(&example.features), b.estimate(&example.features));
                assert!((x - y).abs() < 1e-6);
            }
        }
        // A smaller share leaves the embedding values less weight.
        let embedding = inputs.embedding_values();
        let weight = |share: f64| -> f64 {
            let model = primal.solve(inputs.clone(), 0.3, share).unwrap();
            model.weights[embedding.clone()]
                .iter()
                .zip(&model.scale[embedding.clone()])
                .map(|(w, s)| (w / s).abs())
                .sum()
        };
        assert!(weight(0.1) < weight(1.0));
    }

    #[test]
    fn training_records_the_chosen_share() {
        let (inputs, examples) = embedded_examples(80);
        let model = QualityEstimator::train(inputs, &examples).unwrap();
        assert!(EMBEDDING_SHARES.contains(&model.embedding_share));
        assert!(PENALTIES.contains(&model.penalty));
        model.validate().unwrap();
        // An estimator saved before the share existed reads at full share.
        let mut saved = serde_json::to_value(&model).unwrap();
        saved.as_object_mut().unwrap().remove("embedding_share");
        saved["inputs"].as_object_mut().unwrap().remove("copies");
        let old: QualityEstimator = serde_json::from_value(saved).unwrap();
        assert_eq!(old.embedding_share, 1.0);
        assert!(!old.inputs.copies);
    }

    #[test]
    fn copies_add_the_kept_word_counts() {
        let inputs = Inputs {
            copies: true,
            ..text_inputs()
        };
        let signals = Signals::default();
        let evidence = Evidence {
            signals: &signals,
            source: "Tap Sign Out now.",
            translation: "Tippen Sie auf Sign Out now.",
            pair: "en-de",
            logprobs: None,
            baseline: None,
            vectors: None,
        };
        let features = inputs.features(&evidence).unwrap();
        let counts = &features[TEXT_SIGNALS.len() + 3..];
        // "now" in lower case; "Sign" and "Out" capitalized.
        assert_eq!(counts, [1f64.ln_1p(), 2f64.ln_1p()]);
        assert_eq!(features.len(), text_inputs().width() + 2);
    }
}
