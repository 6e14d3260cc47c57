//! The served purchase-propensity model: richer features, logistic
//! regression and gradient-boosted trees, Platt calibration and
//! per-prediction feature contributions.
//!
//! Rows are customer-by-snapshot as in [`crate::propensity`]: snapshot `j`
//! sits `j` windows before the test cutoff. Snapshot 1 is the validation
//! window (it calibrates and chooses the model), snapshots `2..=n + 1`
//! train, and the customers at the test cutoff are the test rows. The
//! served model is refitted with every date shifted one window later, so
//! its validation window is the last window of the data.
//!
//! Features extend [`FeatureEncoder`]'s RFM, inter-purchase and return
//! columns with seasonality (month of the snapshot, sales in the same
//! window one year earlier), the gap since the last invoice relative to
//! the mean gap, and a category mix: the share of the customer's sale
//! lines whose title holds each of the most common title words.
//! Contributions are exact for the linear model (weight times standardized
//! value) and TreeSHAP values (perpetual's `Shapley` method) for the trees.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};
use perpetual::booster::config::ContributionsMethod;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::RecommendError;
use crate::features::{group_by_customer, CustomerFeatures, CustomerTimeline, FeatureEncoder};
use crate::logistic::{LogisticRegression, TrainOptions};
use crate::matrix::FeatureMatrix;
use crate::metrics::{calibration_bins, log_loss, roc_auc, CalibrationBin};
use crate::propensity::{PropensityConfig, MIN_ROWS_PER_CLASS};
use crate::standardize::Standardizer;

/// Title words that define the category-mix columns.
const N_CATEGORY_WORDS: usize = 8;

/// Countries with their own one-hot column.
const N_COUNTRY_COLUMNS: usize = 5;

/// Words too generic to name a category.
const STOP_WORDS: [&str; 12] = [
    "set", "of", "red", "white", "pink", "blue", "green", "small", "large", "the", "and", "in",
];

/// Which classifier the served model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classifier {
    /// Logistic regression with Adam and L2.
    Logistic,
    /// Gradient-boosted trees (perpetual).
    Trees,
}

/// Encodes a customer at a point in time as one numeric row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RichEncoder {
    countries: Vec<String>,
    category_words: Vec<String>,
    window_days: i64,
    #[serde(skip)]
    base: Option<FeatureEncoder>,
}

impl RichEncoder {
    fn new(
        timelines: &[CustomerTimeline<'_>],
        cutoff: NaiveDateTime,
        window_days: i64,
    ) -> RichEncoder {
        let base = FeatureEncoder::from_history(timelines, cutoff, N_COUNTRY_COLUMNS);
        let names = base.names();
        let countries = names
            .iter()
            .filter_map(|n| n.strip_prefix("country="))
            .filter(|c| *c != "other")
            .map(str::to_string)
            .collect();

        let mut word_counts: HashMap<String, usize> = HashMap::new();
        for timeline in timelines {
            for line in timeline.lines_before(cutoff) {
                if line.kind == LineKind::Sale {
                    for word in title_words(&line.description) {
                        *word_counts.entry(word).or_default() += 1;
                    }
                }
            }
        }
        let mut ranked: Vec<(String, usize)> = word_counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let category_words = ranked
            .into_iter()
            .take(N_CATEGORY_WORDS)
            .map(|(word, _)| word)
            .collect();
        RichEncoder {
            countries,
            category_words,
            window_days,
            base: Some(base),
        }
    }

    fn base(&self) -> FeatureEncoder {
        self.base
            .clone()
            .unwrap_or_else(|| FeatureEncoder::with_countries(self.countries.clone()))
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.base().names();
        names.extend(
            [
                "month_sin",
                "month_cos",
                "log1p_invoices_same_window_last_year",
                "recency_over_mean_gap",
                "log1p_returns",
            ]
            .map(str::to_string),
        );
        names.extend(
            self.category_words
                .iter()
                .map(|w| format!("category_share={w}")),
        );
        names
    }

    /// The row of a customer at `at`, or `None` without an earlier sale.
    pub fn encode(
        &self,
        timeline: &CustomerTimeline<'_>,
        at: NaiveDateTime,
        base: &FeatureEncoder,
    ) -> Option<Vec<f64>> {
        let features = CustomerFeatures::at(timeline, at)?;
        let mut row = Vec::new();
        base.encode(&features, &mut row);

        let angle = 2.0 * std::f64::consts::PI * f64::from(at.month0()) / 12.0;
        let last_year_start = at - Duration::days(365);
        let last_year_end = last_year_start + Duration::days(self.window_days);
        let lines = timeline.lines_before(at);
        let mut last_year_invoices: Vec<&str> = lines
            .iter()
            .filter(|l| {
                l.kind == LineKind::Sale
                    && l.invoiced_at >= last_year_start
                    && l.invoiced_at < last_year_end
            })
            .map(|l| l.invoice.as_str())
            .collect();
        last_year_invoices.sort_unstable();
        last_year_invoices.dedup();
        let gap = features
            .mean_days_between_invoices
            .unwrap_or(features.tenure_days)
            .max(1.0);
        let n_returns = lines.iter().filter(|l| l.kind == LineKind::Return).count();
        row.extend_from_slice(&[
            angle.sin(),
            angle.cos(),
            (last_year_invoices.len() as f64).ln_1p(),
            (features.recency_days / gap).min(50.0),
            (n_returns as f64).ln_1p(),
        ]);

        let sales: Vec<&&OrderLine> = lines.iter().filter(|l| l.kind == LineKind::Sale).collect();
        for word in &self.category_words {
            let n = sales
                .iter()
                .filter(|l| title_words(&l.description).any(|w| &w == word))
                .count();
            row.push(n as f64 / sales.len().max(1) as f64);
        }
        Some(row)
    }
}

fn title_words(title: &str) -> impl Iterator<Item = String> + '_ {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
}

/// Rows with labels.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Customer of each row.
    pub customer_ids: Vec<String>,
    /// Raw feature values, row after row.
    pub values: Vec<Vec<f64>>,
    /// Whether the customer bought in the window after the snapshot.
    pub labels: Vec<bool>,
}

impl Rows {
    fn add_snapshot(
        &mut self,
        timelines: &[CustomerTimeline<'_>],
        encoder: &RichEncoder,
        base: &FeatureEncoder,
        at: NaiveDateTime,
        label_end: NaiveDateTime,
    ) {
        for timeline in timelines {
            if let Some(row) = encoder.encode(timeline, at, base) {
                self.customer_ids.push(timeline.customer_id.to_string());
                self.values.push(row);
                self.labels.push(timeline.has_sale_between(at, label_end));
            }
        }
    }

    fn matrix(&self, n_features: usize) -> FeatureMatrix {
        let mut matrix = FeatureMatrix::new(n_features);
        for row in &self.values {
            matrix.push_row(row);
        }
        matrix
    }

    fn class_counts(&self) -> (usize, usize) {
        let n_pos = self.labels.iter().filter(|&&l| l).count();
        (n_pos, self.labels.len() - n_pos)
    }
}

/// Training, validation and test rows of one split.
#[derive(Debug, Clone)]
pub struct PropensitySplit {
    /// Column names.
    pub names: Vec<String>,
    /// Snapshots 2 to n + 1.
    pub train: Rows,
    /// Snapshot 1.
    pub validation: Rows,
    /// Customers at the cutoff (labels from the window after it, when known).
    pub test: Rows,
}

/// Builds the rows of a split whose test window starts at `cutoff`.
pub fn build_split(
    lines: &[OrderLine],
    cutoff: NaiveDateTime,
    window: Duration,
    n_snapshots: usize,
) -> PropensitySplit {
    let timelines = group_by_customer(lines);
    let validation_at = cutoff - window;
    let encoder = RichEncoder::new(&timelines, validation_at, window.num_days());
    let base = encoder.base();
    let mut train = Rows::default();
    for j in 2..=n_snapshots + 1 {
        let at = cutoff - window * j as i32;
        train.add_snapshot(&timelines, &encoder, &base, at, at + window);
    }
    let mut validation = Rows::default();
    validation.add_snapshot(&timelines, &encoder, &base, validation_at, cutoff);
    let mut test = Rows::default();
    test.add_snapshot(&timelines, &encoder, &base, cutoff, cutoff + window);
    PropensitySplit {
        names: encoder.names(),
        train,
        validation,
        test,
    }
}

/// Platt scaling `p = sigmoid(a * logit + b)` (Platt 1999), fitted by
/// Newton steps on the validation rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    /// Slope on the uncalibrated log-odds.
    pub a: f64,
    /// Offset.
    pub b: f64,
}

impl Platt {
    /// Fits `a` and `b` to minimize log-loss on `(logit, label)` pairs.
    pub fn fit(logits: &[f64], labels: &[bool]) -> Platt {
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..50 {
            let (mut g_a, mut g_b, mut h_aa, mut h_ab, mut h_bb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&z, &y) in logits.iter().zip(labels) {
                let p = sigmoid(a * z + b);
                let r = p - f64::from(u8::from(y));
                let w = (p * (1.0 - p)).max(1e-12);
                g_a += r * z;
                g_b += r;
                h_aa += w * z * z;
                h_ab += w * z;
                h_bb += w;
            }
            let det = h_aa * h_bb - h_ab * h_ab;
            if det.abs() < 1e-12 {
                break;
            }
            let step_a = (h_bb * g_a - h_ab * g_b) / det;
            let step_b = (h_aa * g_b - h_ab * g_a) / det;
            a -= step_a;
            b -= step_b;
            if step_a.abs() + step_b.abs() < 1e-10 {
                break;
            }
        }
        Platt { a, b }
    }

    /// Calibrated probability of a log-odds value.
    pub fn apply(&self, logit: f64) -> f64 {
        sigmoid(self.a * logit + self.b)
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Metrics of one classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMetrics {
    /// AUC on the validation snapshot.
    pub validation_auc: f64,
    /// AUC on the test rows.
    pub test_auc: f64,
    /// Test log-loss before calibration.
    pub test_log_loss_raw: f64,
    /// Test log-loss after Platt scaling.
    pub test_log_loss_calibrated: f64,
}

/// Report of [`train_propensity`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityTrainReport {
    /// Start of the test window.
    pub test_cutoff: NaiveDateTime,
    /// Rows per part.
    pub n_train: usize,
    /// Validation rows.
    pub n_validation: usize,
    /// Test rows.
    pub n_test: usize,
    /// Feature names.
    pub features: Vec<String>,
    /// Logistic regression metrics.
    pub logistic: ClassifierMetrics,
    /// Gradient-boosted trees metrics.
    pub trees: ClassifierMetrics,
    /// perpetual budget of the trees, chosen by validation AUC.
    pub trees_budget: f32,
    /// Model served, chosen by validation AUC.
    pub chosen: Classifier,
    /// Reliability bins of the chosen, calibrated model on the test rows.
    pub reliability: Vec<CalibrationBin>,
}

/// One prediction with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityPrediction {
    /// Calibrated probability of a purchase in the next window.
    pub probability: f64,
    /// Uncalibrated log-odds.
    pub log_odds: f64,
    /// Log-odds of the base rate (intercept or tree bias).
    pub base_log_odds: f64,
    /// Each feature's share of `log_odds - base_log_odds`, largest first.
    pub contributions: Vec<(String, f64)>,
}

/// The served propensity model and every customer's current features.
#[derive(Clone, Serialize, Deserialize)]
pub struct PropensityModel {
    /// Column names.
    pub names: Vec<String>,
    /// Served classifier.
    pub classifier: Classifier,
    standardizer: Standardizer,
    logistic: LogisticRegression,
    trees: PerpetualBooster,
    platt: Platt,
    /// Raw features of every customer at the end of the data.
    pub customers: HashMap<String, Vec<f64>>,
    /// Length of the predicted window, in days.
    pub window_days: i64,
}

impl std::fmt::Debug for PropensityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PropensityModel")
            .field("classifier", &self.classifier)
            .field("n_features", &self.names.len())
            .field("n_customers", &self.customers.len())
            .finish_non_exhaustive()
    }
}

struct Fitted {
    standardizer: Standardizer,
    logistic: LogisticRegression,
    trees: PerpetualBooster,
    trees_budget: f32,
}

/// perpetual budgets tried for the trees. At 0.5 the trees overfit the
/// snapshot rows (log-odds beyond +-11), so larger budgets are tried too
/// and the validation rows choose.
const TREE_BUDGETS: [f32; 3] = [0.5, 1.0, 1.5];

/// Fits both classifiers on `train`; `validation` chooses the trees' budget.
fn fit_both(
    train: &Rows,
    validation: &Rows,
    n_features: usize,
    config: &PropensityConfig,
) -> Result<Fitted, RecommendError> {
    let mut matrix = train.matrix(n_features);
    let standardizer = Standardizer::fit(&matrix);
    standardizer.transform(&mut matrix);
    let options = TrainOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        l2: config.l2,
        seed: config.seed,
    };
    let logistic = LogisticRegression::fit(&matrix, &train.labels, &options);

    let column_major = column_major(&train.values, n_features);
    let data = Matrix::new(&column_major, train.values.len(), n_features);
    let targets: Vec<f64> = train
        .labels
        .iter()
        .map(|&l| f64::from(u8::from(l)))
        .collect();
    let mut best: Option<(f64, f32, PerpetualBooster)> = None;
    for budget in TREE_BUDGETS {
        let mut trees = PerpetualBooster::default()
            .set_objective(Objective::LogLoss)
            .set_budget(budget)
            .set_seed(config.seed);
        trees.fit(&data, &targets, None, None).map_err(|err| {
            RecommendError::invalid("gradient-boosted trees", err, "a trainable feature matrix")
        })?;
        let validation_auc =
            roc_auc(&tree_logits(&trees, validation), &validation.labels).unwrap_or(0.5);
        if best
            .as_ref()
            .is_none_or(|(auc, _, _)| validation_auc > *auc)
        {
            best = Some((validation_auc, budget, trees));
        }
    }
    let (_, trees_budget, trees) = best.expect("TREE_BUDGETS is not empty");
    Ok(Fitted {
        standardizer,
        logistic,
        trees,
        trees_budget,
    })
}

/// Log-odds of the trees for every row.
fn tree_logits(trees: &PerpetualBooster, rows: &Rows) -> Vec<f64> {
    if rows.values.is_empty() {
        return Vec::new();
    }
    let n_features = rows.values[0].len();
    let data = column_major(&rows.values, n_features);
    trees.predict(&Matrix::new(&data, rows.values.len(), n_features), true)
}

fn column_major(rows: &[Vec<f64>], n_features: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * n_features);
    for col in 0..n_features {
        out.extend(rows.iter().map(|row| row[col]));
    }
    out
}

impl Fitted {
    fn logistic_logits(&self, rows: &Rows) -> Vec<f64> {
        rows.values
            .iter()
            .map(|row| {
                let mut row = row.clone();
                self.standardizer.transform_row(&mut row);
                let p = self
                    .logistic
                    .predict_probability(&row)
                    .clamp(1e-12, 1.0 - 1e-12);
                (p / (1.0 - p)).ln()
            })
            .collect()
    }

    fn tree_logits(&self, rows: &Rows) -> Vec<f64> {
        tree_logits(&self.trees, rows)
    }
}

fn check_classes(
    rows: &Rows,
    cutoff: NaiveDateTime,
    window: Duration,
) -> Result<(), RecommendError> {
    let (n_pos, n_neg) = rows.class_counts();
    if n_pos < MIN_ROWS_PER_CLASS || n_neg < MIN_ROWS_PER_CLASS {
        return Err(RecommendError::NotEnoughTestRows {
            cutoff,
            window_end: cutoff + window,
            n_rows: rows.labels.len(),
            n_positive: n_pos,
            n_negative: n_neg,
            min_per_class: MIN_ROWS_PER_CLASS,
        });
    }
    Ok(())
}

fn metrics(
    val_logits: &[f64],
    val: &Rows,
    test_logits: &[f64],
    test: &Rows,
) -> (ClassifierMetrics, Platt) {
    let platt = Platt::fit(val_logits, &val.labels);
    let raw: Vec<f64> = test_logits.iter().map(|&z| sigmoid(z)).collect();
    let calibrated: Vec<f64> = test_logits.iter().map(|&z| platt.apply(z)).collect();
    (
        ClassifierMetrics {
            validation_auc: roc_auc(val_logits, &val.labels).unwrap_or(0.5),
            test_auc: roc_auc(test_logits, &test.labels).unwrap_or(0.5),
            test_log_loss_raw: log_loss(&raw, &test.labels),
            test_log_loss_calibrated: log_loss(&calibrated, &test.labels),
        },
        platt,
    )
}

/// Evaluates both classifiers with the last `window` of the data as test
/// window, then fits the served model on every line.
pub fn train_propensity(
    lines: &[OrderLine],
    window: Duration,
    config: &PropensityConfig,
) -> Result<(PropensityModel, PropensityTrainReport), RecommendError> {
    let last = lines
        .iter()
        .filter(|l| l.kind == LineKind::Sale)
        .map(|l| l.invoiced_at)
        .max()
        .ok_or(RecommendError::EmptyHistory {
            cutoff: NaiveDateTime::MAX,
        })?;
    let end = (last.date() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or(last);
    let test_cutoff = end - window;

    let split = build_split(lines, test_cutoff, window, config.n_snapshots);
    let n_features = split.names.len();
    for rows in [&split.train, &split.validation, &split.test] {
        check_classes(rows, test_cutoff, window)?;
    }
    let fitted = fit_both(&split.train, &split.validation, n_features, config)?;
    let (logistic, _) = metrics(
        &fitted.logistic_logits(&split.validation),
        &split.validation,
        &fitted.logistic_logits(&split.test),
        &split.test,
    );
    let (trees, _) = metrics(
        &fitted.tree_logits(&split.validation),
        &split.validation,
        &fitted.tree_logits(&split.test),
        &split.test,
    );
    let chosen = if trees.validation_auc > logistic.validation_auc {
        Classifier::Trees
    } else {
        Classifier::Logistic
    };
    let (val_logits, test_logits) = match chosen {
        Classifier::Logistic => (
            fitted.logistic_logits(&split.validation),
            fitted.logistic_logits(&split.test),
        ),
        Classifier::Trees => (
            fitted.tree_logits(&split.validation),
            fitted.tree_logits(&split.test),
        ),
    };
    let platt = Platt::fit(&val_logits, &split.validation.labels);
    let calibrated: Vec<f64> = test_logits.iter().map(|&z| platt.apply(z)).collect();
    let report = PropensityTrainReport {
        test_cutoff,
        n_train: split.train.labels.len(),
        n_validation: split.validation.labels.len(),
        n_test: split.test.labels.len(),
        features: split.names.clone(),
        logistic,
        trees,
        trees_budget: fitted.trees_budget,
        chosen,
        reliability: calibration_bins(&calibrated, &split.test.labels, 10),
    };
    info!(
        logistic_auc = report.logistic.test_auc,
        trees_auc = report.trees.test_auc,
        "evaluated propensity classifiers"
    );

    // Served model: the same recipe one window later.
    let served_split = build_split(lines, end, window, config.n_snapshots);
    check_classes(&served_split.validation, end - window, window)?;
    let served = fit_both(
        &served_split.train,
        &served_split.validation,
        n_features,
        config,
    )?;
    let served_val = match chosen {
        Classifier::Logistic => served.logistic_logits(&served_split.validation),
        Classifier::Trees => served.tree_logits(&served_split.validation),
    };
    let platt = Platt::fit(&served_val, &served_split.validation.labels);
    let customers = served_split
        .test
        .customer_ids
        .iter()
        .cloned()
        .zip(served_split.test.values.iter().cloned())
        .collect();
    let model = PropensityModel {
        names: served_split.names.clone(),
        classifier: chosen,
        standardizer: served.standardizer,
        logistic: served.logistic,
        trees: served.trees,
        platt,
        customers,
        window_days: window.num_days(),
    };
    Ok((model, report))
}

impl PropensityModel {
    /// Prediction for a known customer, or `None`.
    pub fn predict(&self, customer_id: &str) -> Option<PropensityPrediction> {
        let raw = self.customers.get(customer_id)?;
        let (log_odds, base, contributions) = match self.classifier {
            Classifier::Logistic => {
                let mut row = raw.clone();
                self.standardizer.transform_row(&mut row);
                let contributions: Vec<f64> = row
                    .iter()
                    .zip(self.logistic.weights())
                    .map(|(x, w)| x * w)
                    .collect();
                let base = self.logistic.intercept();
                (
                    base + contributions.iter().sum::<f64>(),
                    base,
                    contributions,
                )
            }
            Classifier::Trees => {
                let n = raw.len();
                let data = Matrix::new(raw, 1, n);
                let values =
                    self.trees
                        .predict_contributions(&data, ContributionsMethod::Shapley, false);
                let base = values[n];
                let contributions = values[..n].to_vec();
                (
                    base + contributions.iter().sum::<f64>(),
                    base,
                    contributions,
                )
            }
        };
        let mut named: Vec<(String, f64)> = self.names.iter().cloned().zip(contributions).collect();
        named.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        Some(PropensityPrediction {
            probability: self.platt.apply(log_odds),
            log_odds,
            base_log_odds: base,
            contributions: named,
        })
    }
}

/// Feature names to values, for exports.
pub fn rows_as_map(names: &[String], rows: &Rows) -> Vec<BTreeMap<String, f64>> {
    rows.values
        .iter()
        .map(|row| names.iter().cloned().zip(row.iter().copied()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_recovers_scale() {
        // Labels drawn so that P(y) = sigmoid(2z - 1) exactly in expectation:
        // use many repeated points with matching label shares.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for step in -20..=20 {
            let z = f64::from(step) / 10.0;
            let p = sigmoid(2.0 * z - 1.0);
            let n_pos = (p * 1000.0).round() as usize;
            for idx in 0..1000 {
                logits.push(z);
                labels.push(idx < n_pos);
            }
        }
        let platt = Platt::fit(&logits, &labels);
        assert!((platt.a - 2.0).abs() < 0.02, "{platt:?}");
        assert!((platt.b + 1.0).abs() < 0.02, "{platt:?}");
    }
}
