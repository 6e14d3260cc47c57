//! Evaluation metrics for binary classifiers and top-k rankings.
//!
//! The classifier metrics ([`roc_auc`], [`log_loss`], [`ConfusionMatrix`],
//! [`best_f1_threshold`], [`calibration_bins`]) score the propensity model.
//! The ranking metrics ([`ndcg_at_k`], [`hit_at_k`]) score one customer's
//! recommendation list with binary relevance; the caller averages them.
//! Scores are expected to be finite: a NaN is sorted by [`f64::total_cmp`].

use serde::Serialize;

/// Area under the ROC curve, or `None` when either class is empty.
///
/// Computed as the Mann-Whitney U statistic divided by `n_pos * n_neg`
/// (Hanley & McNeil 1982, "The meaning and use of the area under a receiver
/// operating characteristic (ROC) curve", Radiology 143). Tied scores get their average
/// rank, so a tie between a positive and a negative counts one half.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let n_pos = labels.iter().filter(|&&label| label).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));

    // Ranks are 1-based, and a group of ties at sorted positions
    // start..end gets the mean rank (start + 1 + end) / 2.
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let n_pos_in_group = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += mean_rank * n_pos_in_group as f64;
        start = end;
    }

    let n_pos = n_pos as f64;
    let u_statistic = positive_rank_sum - n_pos * (n_pos + 1.0) / 2.0;
    Some(u_statistic / (n_pos * n_neg as f64))
}

/// Smallest and largest probability used by [`log_loss`], so that a
/// confident wrong prediction costs about 34.5 nats instead of infinity.
const PROBABILITY_CLIP: f64 = 1e-15;

/// Mean binary cross-entropy in nats, with probabilities clipped to
/// `[1e-15, 1 - 1e-15]`; NaN for empty input.
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> f64 {
    assert_eq!(
        probabilities.len(),
        labels.len(),
        "one label per probability"
    );
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &label)| {
            let p = p.clamp(PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP);
            if label {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    total / probabilities.len() as f64
}

/// Counts of a binary decision against the true labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfusionMatrix {
    /// Predicted positive, labelled positive.
    pub true_positives: usize,
    /// Predicted positive, labelled negative.
    pub false_positives: usize,
    /// Predicted negative, labelled negative.
    pub true_negatives: usize,
    /// Predicted negative, labelled positive.
    pub false_negatives: usize,
}

impl ConfusionMatrix {
    /// Counts the decisions `score >= threshold` against `labels`.
    pub fn at_threshold(scores: &[f64], labels: &[bool], threshold: f64) -> ConfusionMatrix {
        assert_eq!(scores.len(), labels.len(), "one label per score");
        let mut counts = ConfusionMatrix::default();
        for (&score, &label) in scores.iter().zip(labels) {
            match (score >= threshold, label) {
                (true, true) => counts.true_positives += 1,
                (true, false) => counts.false_positives += 1,
                (false, false) => counts.true_negatives += 1,
                (false, true) => counts.false_negatives += 1,
            }
        }
        counts
    }

    /// Share of correct decisions; 0 when there are none.
    pub fn accuracy(&self) -> f64 {
        let n_total =
            self.true_positives + self.false_positives + self.true_negatives + self.false_negatives;
        ratio(self.true_positives + self.true_negatives, n_total)
    }

    /// Share of predicted positives that are positive; 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of positives predicted positive; 0 when there are no positives.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Threshold `t` that maximizes F1 of the decision `score >= t`, or `None`
/// when there is no positive label.
///
/// Every distinct score is tried. Among equal F1 values the highest
/// threshold wins, which predicts fewer positives.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let n_pos = labels.iter().filter(|&&label| label).count();
    if n_pos == 0 {
        return None;
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));

    // Walk the scores from high to low. After a group of ties ends, every
    // score in it and above is predicted positive.
    let mut best: Option<(f64, f64)> = None;
    let mut true_positives = 0;
    let mut n_predicted = 0;
    for (position, &idx) in order.iter().enumerate() {
        n_predicted += 1;
        if labels[idx] {
            true_positives += 1;
        }
        let group_ends = order
            .get(position + 1)
            .is_none_or(|&next| scores[next] != scores[idx]);
        if !group_ends {
            continue;
        }
        // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted positives + positives).
        let f1 = 2.0 * true_positives as f64 / (n_predicted + n_pos) as f64;
        if best.is_none_or(|(best_f1, _)| f1 > best_f1) {
            best = Some((f1, scores[idx]));
        }
    }
    best.map(|(_, threshold)| threshold)
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Mean predicted probability of the rows in the bin.
    pub mean_predicted: f64,
    /// Share of the rows in the bin whose label is positive.
    pub observed_rate: f64,
    /// Rows in the bin.
    pub count: usize,
}

/// Groups predictions into `n_bins` equal-width bins over `[0, 1]` and
/// returns the non-empty bins in increasing order of probability.
///
/// A probability of exactly 1 falls in the last bin.
pub fn calibration_bins(
    probabilities: &[f64],
    labels: &[bool],
    n_bins: usize,
) -> Vec<CalibrationBin> {
    assert_eq!(
        probabilities.len(),
        labels.len(),
        "one label per probability"
    );
    assert!(n_bins > 0, "at least one bin");

    let mut predicted_sums = vec![0.0; n_bins];
    let mut positive_counts = vec![0usize; n_bins];
    let mut counts = vec![0usize; n_bins];
    for (&p, &label) in probabilities.iter().zip(labels) {
        let bin_idx = ((p.clamp(0.0, 1.0) * n_bins as f64) as usize).min(n_bins - 1);
        predicted_sums[bin_idx] += p;
        counts[bin_idx] += 1;
        if label {
            positive_counts[bin_idx] += 1;
        }
    }

    (0..n_bins)
        .filter(|&bin_idx| counts[bin_idx] > 0)
        .map(|bin_idx| CalibrationBin {
            mean_predicted: predicted_sums[bin_idx] / counts[bin_idx] as f64,
            observed_rate: positive_counts[bin_idx] as f64 / counts[bin_idx] as f64,
            count: counts[bin_idx],
        })
        .collect()
}

/// Normalized discounted cumulative gain of one ranked list with binary
/// relevance, cut at `k`.
///
/// `hits[rank]` is true when the item at 0-based `rank` is relevant, and
/// `n_relevant` is the size of the relevant set, which may include items
/// the list could never contain. DCG = sum over hits at rank < k of
/// 1 / log2(rank + 2), and the ideal DCG places min(n_relevant, k) hits at
/// the top (Järvelin & Kekäläinen 2002, "Cumulated gain-based evaluation of
/// IR techniques", ACM TOIS 20). Returns 0 when `n_relevant` or `k` is 0.
pub fn ndcg_at_k(hits: &[bool], n_relevant: usize, k: usize) -> f64 {
    let n_ideal = n_relevant.min(k);
    if n_ideal == 0 {
        return 0.0;
    }
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = hits
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, &hit)| hit)
        .map(|(rank, _)| discount(rank))
        .sum();
    let ideal_dcg: f64 = (0..n_ideal).map(discount).sum();
    dcg / ideal_dcg
}

/// Returns whether any of the first `k` items is relevant.
pub fn hit_at_k(hits: &[bool], k: usize) -> bool {
    hits.iter().take(k).any(|&hit| hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn auc_perfect_ranking_is_one() {
        let auc = roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]);
        assert_eq!(auc, Some(1.0));
    }

    #[test]
    fn auc_reversed_ranking_is_zero() {
        let auc = roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]);
        assert_eq!(auc, Some(0.0));
    }

    #[test]
    fn auc_all_ties_is_half() {
        let auc = roc_auc(&[0.5; 4], &[false, true, false, true]);
        assert_eq!(auc, Some(0.5));
    }

    #[test]
    fn auc_counts_mixed_tie_as_half() {
        // Pairs (pos, neg): (0.7, 0.3) wins, (0.7, 0.5) wins, (0.5, 0.3) wins,
        // (0.5, 0.5) ties. AUC = (3 + 0.5) / 4.
        let auc = roc_auc(&[0.3, 0.5, 0.5, 0.7], &[false, false, true, true]).unwrap();
        assert!((auc - 0.875).abs() < EPS, "auc = {auc}");
    }

    #[test]
    fn auc_single_class_is_none() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[false, false]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn log_loss_matches_hand_value() {
        // -(ln 0.8 + ln(1 - 0.4)) / 2
        let expected = -(0.8f64.ln() + 0.6f64.ln()) / 2.0;
        let loss = log_loss(&[0.8, 0.4], &[true, false]);
        assert!((loss - expected).abs() < EPS, "loss = {loss}");
    }

    #[test]
    fn log_loss_clips_certain_mistake() {
        let loss = log_loss(&[0.0], &[true]);
        assert!(loss.is_finite());
        assert!((loss - (-(1e-15f64).ln())).abs() < 1e-9, "loss = {loss}");
    }

    #[test]
    fn confusion_counts_ties_as_positive() {
        let counts =
            ConfusionMatrix::at_threshold(&[0.9, 0.5, 0.5, 0.1], &[true, false, true, false], 0.5);
        assert_eq!(counts.true_positives, 2);
        assert_eq!(counts.false_positives, 1);
        assert_eq!(counts.true_negatives, 1);
        assert_eq!(counts.false_negatives, 0);
        assert!((counts.accuracy() - 0.75).abs() < EPS);
        assert!((counts.precision() - 2.0 / 3.0).abs() < EPS);
        assert!((counts.recall() - 1.0).abs() < EPS);
    }

    #[test]
    fn confusion_without_predicted_positives_has_zero_precision() {
        let counts = ConfusionMatrix::at_threshold(&[0.1, 0.2], &[true, false], 0.9);
        assert_eq!(counts.precision(), 0.0);
        assert_eq!(counts.recall(), 0.0);
    }

    #[test]
    fn best_f1_threshold_separates_classes() {
        let threshold = best_f1_threshold(&[0.1, 0.4, 0.6, 0.9], &[false, false, true, true]);
        assert_eq!(threshold, Some(0.6));
    }

    #[test]
    fn best_f1_threshold_keeps_tied_scores_together() {
        // Cutting at 0.5 predicts both tied rows: F1 = 2*2 / (3 + 2) = 0.8.
        // Cutting at 0.9 predicts one row: F1 = 2*1 / (1 + 2) = 0.667.
        let threshold = best_f1_threshold(&[0.9, 0.5, 0.5, 0.1], &[true, true, false, false]);
        assert_eq!(threshold, Some(0.5));
    }

    #[test]
    fn best_f1_threshold_without_positives_is_none() {
        assert_eq!(best_f1_threshold(&[0.3, 0.7], &[false, false]), None);
    }

    #[test]
    fn calibration_skips_empty_bins() {
        let bins = calibration_bins(&[0.05, 0.15, 0.12, 1.0], &[false, true, false, true], 10);
        assert_eq!(bins.len(), 3);

        assert_eq!(bins[0].count, 1);
        assert!((bins[0].mean_predicted - 0.05).abs() < EPS);
        assert_eq!(bins[0].observed_rate, 0.0);

        assert_eq!(bins[1].count, 2);
        assert!((bins[1].mean_predicted - 0.135).abs() < EPS);
        assert!((bins[1].observed_rate - 0.5).abs() < EPS);

        assert_eq!(bins[2].count, 1);
        assert_eq!(bins[2].mean_predicted, 1.0);
        assert_eq!(bins[2].observed_rate, 1.0);
    }

    #[test]
    fn ndcg_perfect_list_is_one() {
        assert!((ndcg_at_k(&[true, true, false], 2, 3) - 1.0).abs() < EPS);
    }

    #[test]
    fn ndcg_matches_hand_value() {
        // One hit at rank 1 (0-based), two relevant items:
        // DCG = 1 / log2(3), IDCG = 1 + 1 / log2(3).
        let expected = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        let ndcg = ndcg_at_k(&[false, true, false], 2, 3);
        assert!((ndcg - expected).abs() < EPS, "ndcg = {ndcg}");
    }

    #[test]
    fn ndcg_ideal_is_capped_at_k() {
        // Ten relevant items but k = 2: both slots hit is a perfect list.
        assert!((ndcg_at_k(&[true, true], 10, 2) - 1.0).abs() < EPS);
    }

    #[test]
    fn ndcg_ignores_hits_beyond_k() {
        assert_eq!(ndcg_at_k(&[false, false, true], 1, 2), 0.0);
    }

    #[test]
    fn ndcg_without_relevant_items_is_zero() {
        assert_eq!(ndcg_at_k(&[false, false], 0, 2), 0.0);
    }

    #[test]
    fn hit_at_k_looks_only_at_top_k() {
        assert!(hit_at_k(&[false, true], 2));
        assert!(!hit_at_k(&[false, true], 1));
        assert!(!hit_at_k(&[], 3));
    }
}
