//! Corpus metrics: chrF and BLEU for translation quality, Pearson and
//! Spearman for the agreement of quality estimates with human scores.
//!
//! chrF follows Popović (2015) with sacrebleu 2.x defaults (character
//! n-grams 1 to 6, beta 2, white space removed, statistics summed over the
//! corpus). BLEU follows Papineni et al. (2002): n-grams 1 to 4, geometric
//! mean of clipped precisions, brevity penalty, on a simple tokenization
//! that splits punctuation off words (close to, not equal to, sacrebleu's
//! 13a tokenizer), so scores can differ from sacrebleu by a few tenths.

use std::collections::HashMap;

/// Corpus chrF2 of `hypotheses` against `references`, 0 to 100.
pub fn chrf(hypotheses: &[String], references: &[String]) -> f64 {
    const ORDER: usize = 6;
    const BETA: f64 = 2.0;
    let mut matches = [0usize; ORDER];
    let mut hyp_total = [0usize; ORDER];
    let mut ref_total = [0usize; ORDER];

    for (hypothesis, reference) in hypotheses.iter().zip(references) {
        let hyp: Vec<char> = hypothesis.chars().filter(|c| !c.is_whitespace()).collect();
        let reference: Vec<char> = reference.chars().filter(|c| !c.is_whitespace()).collect();
        for n in 1..=ORDER {
            let hyp_grams = ngrams(&hyp, n);
            let ref_grams = ngrams(&reference, n);
            hyp_total[n - 1] += hyp_grams.values().sum::<usize>();
            ref_total[n - 1] += ref_grams.values().sum::<usize>();
            matches[n - 1] += hyp_grams
                .iter()
                .map(|(gram, count)| (*count).min(ref_grams.get(gram).copied().unwrap_or(0)))
                .sum::<usize>();
        }
    }

    let mut precision = 0.0;
    let mut recall = 0.0;
    let mut orders = 0.0;
    for n in 0..ORDER {
        if hyp_total[n] == 0 || ref_total[n] == 0 {
            continue;
        }
        precision += matches[n] as f64 / hyp_total[n] as f64;
        recall += matches[n] as f64 / ref_total[n] as f64;
        orders += 1.0;
    }
    if orders == 0.0 {
        return 0.0;
    }
    let (precision, recall) = (precision / orders, recall / orders);
    let beta2 = BETA * BETA;
    if precision + recall == 0.0 {
        0.0
    } else {
        100.0 * (1.0 + beta2) * precision * recall / (beta2 * precision + recall)
    }
}

fn ngrams<T: Clone + Eq + std::hash::Hash>(items: &[T], n: usize) -> HashMap<Vec<T>, usize> {
    let mut counts = HashMap::new();
    if items.len() >= n {
        for window in items.windows(n) {
            *counts.entry(window.to_vec()).or_insert(0) += 1;
        }
    }
    counts
}

/// Splits punctuation and symbols off words.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
        } else {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// Corpus BLEU of `hypotheses` against one reference each, 0 to 100.
pub fn bleu(hypotheses: &[String], references: &[String]) -> f64 {
    let mut matches = [0usize; 4];
    let mut totals = [0usize; 4];
    let (mut hyp_len, mut ref_len) = (0usize, 0usize);
    for (hypothesis, reference) in hypotheses.iter().zip(references) {
        let hyp = tokenize(hypothesis);
        let reference = tokenize(reference);
        hyp_len += hyp.len();
        ref_len += reference.len();
        for n in 1..=4 {
            let hyp_grams = ngrams(&hyp, n);
            let ref_grams = ngrams(&reference, n);
            totals[n - 1] += hyp_grams.values().sum::<usize>();
            matches[n - 1] += hyp_grams
                .iter()
                .map(|(gram, count)| (*count).min(ref_grams.get(gram).copied().unwrap_or(0)))
                .sum::<usize>();
        }
    }
    if matches.contains(&0) || hyp_len == 0 {
        return 0.0;
    }
    let log_precision: f64 = (0..4)
        .map(|n| (matches[n] as f64 / totals[n] as f64).ln())
        .sum::<f64>()
        / 4.0;
    let brevity = if hyp_len < ref_len {
        (1.0 - ref_len as f64 / hyp_len as f64).exp()
    } else {
        1.0
    };
    100.0 * brevity * log_precision.exp()
}

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut covariance, mut var_x, mut var_y) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        covariance += (a - mean_x) * (b - mean_y);
        var_x += (a - mean_x).powi(2);
        var_y += (b - mean_y).powi(2);
    }
    if var_x == 0.0 || var_y == 0.0 {
        0.0
    } else {
        covariance / (var_x * var_y).sqrt()
    }
}

/// Spearman rank correlation, ties given their mean rank.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        for &index in &order[i..=j] {
            ranks[index] = mean_rank;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identical_text_scores_100() {
        let text = strings(&["El coche rojo es muy rápido."]);
        assert!((chrf(&text, &text) - 100.0).abs() < 1e-9);
        assert!((bleu(&text, &text) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn partial_match_scores_between() {
        let hyp = strings(&["El coche rojo es rápidamente."]);
        let reference = strings(&["El coche rojo es muy rápido."]);
        let score = chrf(&hyp, &reference);
        assert!(score > 40.0, "{score}");
        assert!(score < 100.0, "{score}");
    }

    #[test]
    fn spearman_handles_ties_and_order() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-9);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-9);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}
