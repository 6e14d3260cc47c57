//! Purchase propensity: which known customers will buy in the next window.
//!
//! [`evaluate_propensity`] builds customer-by-snapshot training rows from
//! the history before the cutoff, trains a [`LogisticRegression`] on them
//! and scores the customers at the cutoff against who actually bought in
//! the test window. Snapshot `j` (1-based) sits at `cutoff - j * window`,
//! so its label window ends at or before the cutoff and no test-window sale
//! reaches training. The report compares the model with ranking customers
//! by recency alone.

use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use mercator_data::OrderLine;
use serde::Serialize;
use tracing::{debug, info};

use crate::error::RecommendError;
use crate::features::{
    group_by_customer, CustomerFeatures, CustomerTimeline, FeatureEncoder, RECENCY_DAYS_COLUMN,
};
use crate::logistic::{LogisticRegression, TrainOptions};
use crate::matrix::FeatureMatrix;
use crate::metrics::{
    best_f1_threshold, calibration_bins, log_loss, roc_auc, CalibrationBin, ConfusionMatrix,
};
use crate::standardize::Standardizer;

/// Minimum number of buyers, and of non-buyers, required in the training
/// rows and in the test rows. Below this an AUC rests on a handful of pairs.
pub const MIN_ROWS_PER_CLASS: usize = 5;

/// Countries that get their own one-hot column; the rest share one column.
const N_COUNTRY_COLUMNS: usize = 5;

/// Equal-width bins of the calibration table.
const N_CALIBRATION_BINS: usize = 10;

/// Training settings of the propensity model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityConfig {
    /// Seed of the row shuffling; the same seed and data give the same report.
    pub seed: u64,
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per Adam step.
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f64,
    /// L2 penalty coefficient on the weights of standardized features.
    pub l2: f64,
    /// Training snapshots, one window apart, before the cutoff.
    pub n_snapshots: usize,
}

impl Default for PropensityConfig {
    /// Seed 42, 30 epochs of batches of 256 rows, step size 0.01, L2 0.001
    /// and 6 snapshots.
    fn default() -> PropensityConfig {
        PropensityConfig {
            seed: 42,
            epochs: 30,
            batch_size: 256,
            learning_rate: 0.01,
            l2: 0.001,
            n_snapshots: 6,
        }
    }
}

impl PropensityConfig {
    fn validate(&self) -> Result<(), RecommendError> {
        if self.epochs == 0 {
            return Err(RecommendError::invalid("epochs", self.epochs, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(RecommendError::invalid(
                "batch_size",
                self.batch_size,
                "at least 1",
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(RecommendError::invalid(
                "learning_rate",
                self.learning_rate,
                "a finite number above 0",
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(RecommendError::invalid(
                "l2",
                self.l2,
                "a finite number of at least 0",
            ));
        }
        if self.n_snapshots == 0 {
            return Err(RecommendError::invalid(
                "n_snapshots",
                self.n_snapshots,
                "at least 1",
            ));
        }
        Ok(())
    }
}

/// Weight of one standardized feature in the fitted model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureWeight {
    /// Feature name; `intercept` for the bias term.
    pub feature: String,
    /// Change in log-odds per training standard deviation of the feature.
    /// For the intercept, the log-odds of a customer at the training means.
    pub weight: f64,
}

/// Test-window metrics of the propensity model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityReport {
    /// ROC AUC of the predicted probabilities on the test rows.
    pub auc: f64,
    /// ROC AUC of ranking the test rows by recency alone (most recent first).
    pub baseline_auc: f64,
    /// Mean cross-entropy of the test predictions, in nats.
    pub log_loss: f64,
    /// Share of test rows classified correctly at `threshold`.
    pub accuracy: f64,
    /// Share of test rows predicted to buy that bought.
    pub precision: f64,
    /// Share of test buyers predicted to buy.
    pub recall: f64,
    /// Probability at or above which a customer is predicted to buy; the
    /// value that maximizes F1 on the training rows.
    pub threshold: f64,
    /// Customer-by-snapshot training rows.
    pub n_train: usize,
    /// Customers scored at the cutoff.
    pub n_test: usize,
    /// Share of test rows whose customer bought in the test window.
    pub test_positive_rate: f64,
    /// Non-empty bins of 10 equal-width probability bins on the test rows.
    pub calibration: Vec<CalibrationBin>,
    /// Model weights by feature, then the intercept.
    pub weights: Vec<FeatureWeight>,
}

/// Feature rows with their labels.
struct LabelledRows {
    features: FeatureMatrix,
    labels: Vec<bool>,
}

impl LabelledRows {
    fn new(n_features: usize) -> LabelledRows {
        LabelledRows {
            features: FeatureMatrix::new(n_features),
            labels: Vec::new(),
        }
    }

    fn n_positive(&self) -> usize {
        self.labels.iter().filter(|&&label| label).count()
    }

    fn n_negative(&self) -> usize {
        self.labels.len() - self.n_positive()
    }

    fn has_both_classes(&self) -> bool {
        self.n_positive() >= MIN_ROWS_PER_CLASS && self.n_negative() >= MIN_ROWS_PER_CLASS
    }

    /// Appends one row per customer with a sale before `at`: features from
    /// lines before `at`, label true when the customer has a sale in
    /// `[at, label_end)`.
    fn add_snapshot(
        &mut self,
        timelines: &[CustomerTimeline<'_>],
        encoder: &FeatureEncoder,
        at: NaiveDateTime,
        label_end: NaiveDateTime,
    ) {
        let mut row = Vec::with_capacity(encoder.n_features());
        for timeline in timelines {
            let Some(features) = CustomerFeatures::at(timeline, at) else {
                continue;
            };
            encoder.encode(&features, &mut row);
            self.features.push_row(&row);
            self.labels.push(timeline.has_sale_between(at, label_end));
        }
    }
}

/// Trains the propensity model on snapshots before `cutoff` and evaluates
/// it on who bought in `[cutoff, cutoff + window)`.
///
/// Uses the product lines of known customers only. Returns an error when
/// the configuration or window is invalid, or when the training rows or the
/// test rows have fewer than [`MIN_ROWS_PER_CLASS`] buyers or non-buyers.
pub fn evaluate_propensity(
    lines: &[OrderLine],
    cutoff: NaiveDateTime,
    window: Duration,
    config: &PropensityConfig,
) -> Result<PropensityReport, RecommendError> {
    config.validate()?;
    let window_end = match cutoff.checked_add_signed(window) {
        Some(end) if window > Duration::zero() => end,
        _ => {
            return Err(RecommendError::invalid(
                "window",
                window,
                "a positive duration",
            ))
        }
    };
    let started = Instant::now();

    let timelines = group_by_customer(lines);
    let encoder = FeatureEncoder::from_history(&timelines, cutoff, N_COUNTRY_COLUMNS);
    let mut train = build_training_rows(&timelines, &encoder, cutoff, window, config.n_snapshots);
    if !train.has_both_classes() {
        return Err(RecommendError::NotEnoughTrainingRows {
            cutoff,
            n_snapshots: config.n_snapshots,
            n_rows: train.labels.len(),
            n_positive: train.n_positive(),
            n_negative: train.n_negative(),
            min_per_class: MIN_ROWS_PER_CLASS,
        });
    }

    let mut test = LabelledRows::new(encoder.n_features());
    test.add_snapshot(&timelines, &encoder, cutoff, window_end);
    if !test.has_both_classes() {
        return Err(RecommendError::NotEnoughTestRows {
            cutoff,
            window_end,
            n_rows: test.labels.len(),
            n_positive: test.n_positive(),
            n_negative: test.n_negative(),
            min_per_class: MIN_ROWS_PER_CLASS,
        });
    }

    // The baseline reads the raw recency before standardization.
    let recency_scores: Vec<f64> = test
        .features
        .rows()
        .map(|row| -row[RECENCY_DAYS_COLUMN])
        .collect();

    let standardizer = Standardizer::fit(&train.features);
    standardizer.transform(&mut train.features);
    standardizer.transform(&mut test.features);

    let options = TrainOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        l2: config.l2,
        seed: config.seed,
    };
    let model = LogisticRegression::fit(&train.features, &train.labels, &options);

    let report = score_test_rows(&model, &encoder, &train, &test, &recency_scores);
    info!(
        n_train = report.n_train,
        n_test = report.n_test,
        auc = report.auc,
        baseline_auc = report.baseline_auc,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "evaluated propensity model"
    );
    Ok(report)
}

/// Rows of every snapshot `cutoff - j * window` for `j` in `1..=n_snapshots`.
/// Snapshots before the first sale contribute no rows.
fn build_training_rows(
    timelines: &[CustomerTimeline<'_>],
    encoder: &FeatureEncoder,
    cutoff: NaiveDateTime,
    window: Duration,
    n_snapshots: usize,
) -> LabelledRows {
    let mut train = LabelledRows::new(encoder.n_features());
    for snapshot_idx in 1..=n_snapshots {
        let snapshot_at = i32::try_from(snapshot_idx)
            .ok()
            .and_then(|j| window.checked_mul(j))
            .and_then(|offset| cutoff.checked_sub_signed(offset));
        let Some(snapshot_at) = snapshot_at else {
            break;
        };
        let n_rows_before = train.labels.len();
        train.add_snapshot(timelines, encoder, snapshot_at, snapshot_at + window);
        debug!(
            snapshot_idx,
            %snapshot_at,
            n_rows = train.labels.len() - n_rows_before,
            "built training snapshot"
        );
    }
    train
}

/// Computes the report's metrics from the fitted model.
fn score_test_rows(
    model: &LogisticRegression,
    encoder: &FeatureEncoder,
    train: &LabelledRows,
    test: &LabelledRows,
    recency_scores: &[f64],
) -> PropensityReport {
    let train_probabilities = model.predict_probabilities(&train.features);
    let test_probabilities = model.predict_probabilities(&test.features);

    // Both classes are present in both row sets, so neither AUC nor the
    // threshold can be missing.
    let threshold = best_f1_threshold(&train_probabilities, &train.labels)
        .expect("training rows contain buyers");
    let auc = roc_auc(&test_probabilities, &test.labels).expect("test rows contain both classes");
    let baseline_auc =
        roc_auc(recency_scores, &test.labels).expect("test rows contain both classes");
    let confusion = ConfusionMatrix::at_threshold(&test_probabilities, &test.labels, threshold);

    let mut weights: Vec<FeatureWeight> = encoder
        .names()
        .into_iter()
        .zip(model.weights())
        .map(|(feature, &weight)| FeatureWeight { feature, weight })
        .collect();
    weights.push(FeatureWeight {
        feature: "intercept".to_string(),
        weight: model.intercept(),
    });

    PropensityReport {
        auc,
        baseline_auc,
        log_loss: log_loss(&test_probabilities, &test.labels),
        accuracy: confusion.accuracy(),
        precision: confusion.precision(),
        recall: confusion.recall(),
        threshold,
        n_train: train.labels.len(),
        n_test: test.labels.len(),
        test_positive_rate: test.n_positive() as f64 / test.labels.len() as f64,
        calibration: calibration_bins(&test_probabilities, &test.labels, N_CALIBRATION_BINS),
        weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Two years of weekly purchase chances for 200 customers. Each customer
    /// has a fixed weekly purchase probability between 2% and 60%, so
    /// frequent past buyers are the likely future buyers.
    fn synthetic_lines() -> Vec<OrderLine> {
        let mut rng = StdRng::seed_from_u64(3);
        let start = at(2010, 1, 4);
        let mut lines = Vec::new();
        for customer_idx in 0..200 {
            let weekly_probability = 0.02 + 0.58 * (customer_idx as f64 / 199.0);
            let customer_id = format!("c{customer_idx}");
            let country = if customer_idx % 3 == 0 {
                "France"
            } else {
                "UK"
            };
            for week in 0..104 {
                if rng.gen::<f64>() < weekly_probability {
                    let invoice = format!("{customer_idx}-{week}");
                    let when = start + Duration::weeks(week) + Duration::hours(10);
                    let sku = format!("SKU{}", rng.gen_range(0..20));
                    lines.push(line(&invoice, &sku, 2, 3.5, &customer_id, country, when));
                }
            }
        }
        lines
    }

    fn cutoff() -> NaiveDateTime {
        at(2011, 11, 1)
    }

    #[test]
    fn propensity_beats_chance_on_synthetic_buyers() {
        let lines = synthetic_lines();
        let report = evaluate_propensity(
            &lines,
            cutoff(),
            Duration::days(28),
            &PropensityConfig::default(),
        )
        .unwrap();

        assert!(report.auc > 0.75, "auc = {}", report.auc);
        assert!(report.n_test > 150, "n_test = {}", report.n_test);
        assert!(report.n_train > 6 * 150, "n_train = {}", report.n_train);
        assert!(report.threshold > 0.0, "threshold = {}", report.threshold);
        assert!(report.threshold < 1.0, "threshold = {}", report.threshold);
        let calibrated_rows: usize = report.calibration.iter().map(|bin| bin.count).sum();
        assert_eq!(calibrated_rows, report.n_test);
        assert_eq!(report.weights.last().unwrap().feature, "intercept");
    }

    #[test]
    fn same_seed_gives_identical_report() {
        let lines = synthetic_lines();
        let config = PropensityConfig::default();
        let first = evaluate_propensity(&lines, cutoff(), Duration::days(28), &config).unwrap();
        let second = evaluate_propensity(&lines, cutoff(), Duration::days(28), &config).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn window_sales_change_labels_only() {
        // Extra sales inside the test window must not change the training
        // rows or the fitted weights.
        let mut lines = synthetic_lines();
        let config = PropensityConfig::default();
        let before = evaluate_propensity(&lines, cutoff(), Duration::days(28), &config).unwrap();
        lines.push(line(
            "extra",
            "SKU1",
            500,
            9.0,
            "c0",
            "Spain",
            at(2011, 11, 2),
        ));
        let after = evaluate_propensity(&lines, cutoff(), Duration::days(28), &config).unwrap();

        assert_eq!(before.n_train, after.n_train);
        assert_eq!(before.weights, after.weights);
        assert_eq!(before.threshold, after.threshold);
    }

    #[test]
    fn test_window_after_data_is_an_error() {
        // The synthetic sales end in December 2011, so the training
        // snapshots still see buyers but the test window has none.
        let lines = synthetic_lines();
        let err = evaluate_propensity(
            &lines,
            at(2012, 1, 15),
            Duration::days(28),
            &PropensityConfig::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, RecommendError::NotEnoughTestRows { n_positive: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn cutoff_before_data_is_an_error() {
        let lines = synthetic_lines();
        let err = evaluate_propensity(
            &lines,
            at(2010, 1, 1),
            Duration::days(28),
            &PropensityConfig::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, RecommendError::NotEnoughTrainingRows { n_rows: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn invalid_config_is_rejected() {
        let lines = synthetic_lines();
        let cases = [
            (
                "epochs",
                PropensityConfig {
                    epochs: 0,
                    ..Default::default()
                },
            ),
            (
                "batch_size",
                PropensityConfig {
                    batch_size: 0,
                    ..Default::default()
                },
            ),
            (
                "learning_rate",
                PropensityConfig {
                    learning_rate: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "l2",
                PropensityConfig {
                    l2: -1.0,
                    ..Default::default()
                },
            ),
            (
                "n_snapshots",
                PropensityConfig {
                    n_snapshots: 0,
                    ..Default::default()
                },
            ),
        ];
        for (field, config) in cases {
            let err =
                evaluate_propensity(&lines, cutoff(), Duration::days(28), &config).unwrap_err();
            assert!(
                matches!(err, RecommendError::InvalidParameter { name, .. } if name == field),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn non_positive_window_is_rejected() {
        let err = evaluate_propensity(
            &synthetic_lines(),
            cutoff(),
            Duration::days(-1),
            &PropensityConfig::default(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            RecommendError::InvalidParameter { name: "window", .. }
        ));
    }
}
