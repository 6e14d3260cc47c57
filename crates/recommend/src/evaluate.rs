//! Time-split evaluation of the item recommenders.
//!
//! Every model is fitted on the sales before the cutoff and asked for `k`
//! items per customer. A customer is evaluated when they have a known id,
//! bought before the cutoff, and bought in the test window at least one item
//! they had not bought before. Those new items are the relevant set, and
//! each model is scored by HR@k and NDCG@k averaged over these customers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};
use serde::Serialize;
use tracing::info;

use crate::copurchase::{CopurchaseModel, CopurchaseOptions};
use crate::error::RecommendError;
use crate::history::PurchaseHistory;
use crate::metrics::{hit_at_k, ndcg_at_k};
use crate::popularity::{CountryPopularity, Popularity};
use crate::recommender::Recommender;

/// Ranking quality of one model over the evaluated customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingMetrics {
    /// Mean NDCG@k with binary relevance.
    pub ndcg_at_k: f64,
    /// Share of customers with at least one relevant item in the top k.
    pub hr_at_k: f64,
    /// Customers averaged over.
    pub n_customers: usize,
}

/// Metrics of every recommender on one time split.
///
/// The metric names stay generic in `k`, and the `k` field records the cut.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendReport {
    /// List length that the metrics are cut at.
    pub k: usize,
    /// Customers with history and at least one new item in the test window.
    pub n_eval_customers: usize,
    /// Metrics by model name: `popularity`, `popularity_country`, `copurchase`.
    pub models: BTreeMap<String, RankingMetrics>,
}

/// Items one customer bought in the test window and not before the cutoff.
struct EvalCustomer<'a> {
    customer_id: &'a str,
    /// Catalog indices of the new items sold before the cutoff to anyone.
    relevant_items: BTreeSet<usize>,
    /// Size of the relevant set, counting items absent from the catalog,
    /// which no model can recommend.
    n_relevant: usize,
}

/// Fits the popularity, country-popularity and co-purchase recommenders on
/// the sales before `cutoff` and scores their top `k` lists against the new
/// items each customer bought in `[cutoff, cutoff + window)`.
///
/// Returns an error when `k` or `window` is not positive, when no known
/// customer bought before the cutoff, or when no customer bought a new item
/// in the window.
pub fn evaluate_recommenders(
    lines: &[OrderLine],
    cutoff: NaiveDateTime,
    window: Duration,
    k: usize,
) -> Result<RecommendReport, RecommendError> {
    if k == 0 {
        return Err(RecommendError::invalid("k", k, "at least 1"));
    }
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
    let history = PurchaseHistory::build(lines, cutoff);
    if history.n_customers() == 0 {
        return Err(RecommendError::EmptyHistory { cutoff });
    }
    let (eval_customers, n_active_in_window) =
        find_eval_customers(lines, &history, cutoff, window_end);
    if eval_customers.is_empty() {
        return Err(RecommendError::NoEvalCustomers {
            cutoff,
            window_end,
            n_with_history: history.n_customers(),
            n_active_in_window,
        });
    }
    info!(
        n_items = history.n_items(),
        n_baskets = history.baskets().len(),
        n_with_history = history.n_customers(),
        n_active_in_window,
        n_eval_customers = eval_customers.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "indexed recommendation history"
    );

    let mut models = BTreeMap::new();
    let popularity = Popularity::fit(&history);
    let metrics = score_model(&popularity, &history, &eval_customers, k, "popularity");
    models.insert("popularity".to_string(), metrics);

    let country_popularity = CountryPopularity::fit(&history);
    let metrics = score_model(
        &country_popularity,
        &history,
        &eval_customers,
        k,
        "popularity_country",
    );
    models.insert("popularity_country".to_string(), metrics);

    let fit_started = Instant::now();
    let copurchase = CopurchaseModel::fit(&history, &CopurchaseOptions::default());
    info!(
        elapsed_ms = fit_started.elapsed().as_millis() as u64,
        "fitted co-purchase model"
    );
    let metrics = score_model(&copurchase, &history, &eval_customers, k, "copurchase");
    models.insert("copurchase".to_string(), metrics);

    Ok(RecommendReport {
        k,
        n_eval_customers: eval_customers.len(),
        models,
    })
}

/// Returns the customers to evaluate, in customer-id order, and the number
/// of customers with history who bought anything in `[cutoff, window_end)`.
fn find_eval_customers<'a>(
    lines: &'a [OrderLine],
    history: &PurchaseHistory,
    cutoff: NaiveDateTime,
    window_end: NaiveDateTime,
) -> (Vec<EvalCustomer<'a>>, usize) {
    let mut window_skus: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in lines {
        let in_window = line.invoiced_at >= cutoff && line.invoiced_at < window_end;
        if line.kind != LineKind::Sale || !in_window {
            continue;
        }
        if let Some(customer_id) = line.customer_id.as_deref() {
            window_skus
                .entry(customer_id)
                .or_default()
                .insert(&line.sku);
        }
    }

    let mut n_active_in_window = 0;
    let mut eval_customers = Vec::new();
    for (customer_id, skus) in window_skus {
        let Some(customer) = history.customer(customer_id) else {
            continue;
        };
        n_active_in_window += 1;

        let new_skus: Vec<&str> = skus
            .into_iter()
            .filter(|sku| {
                history
                    .item_idx(sku)
                    .is_none_or(|item_idx| !customer.has_bought(item_idx))
            })
            .collect();
        if new_skus.is_empty() {
            continue;
        }
        eval_customers.push(EvalCustomer {
            customer_id,
            relevant_items: new_skus
                .iter()
                .filter_map(|sku| history.item_idx(sku))
                .collect(),
            n_relevant: new_skus.len(),
        });
    }
    (eval_customers, n_active_in_window)
}

/// Averages HR@k and NDCG@k of one model over the evaluated customers.
fn score_model(
    model: &impl Recommender,
    history: &PurchaseHistory,
    eval_customers: &[EvalCustomer<'_>],
    k: usize,
    model_name: &str,
) -> RankingMetrics {
    let started = Instant::now();
    let mut ndcg_sum = 0.0;
    let mut n_hits = 0;
    for eval_customer in eval_customers {
        let customer = history
            .customer(eval_customer.customer_id)
            .expect("evaluated customers have history");
        let hits: Vec<bool> = model
            .recommend(customer, k)
            .iter()
            .map(|item_idx| eval_customer.relevant_items.contains(item_idx))
            .collect();
        ndcg_sum += ndcg_at_k(&hits, eval_customer.n_relevant, k);
        if hit_at_k(&hits, k) {
            n_hits += 1;
        }
    }

    let n_customers = eval_customers.len();
    let metrics = RankingMetrics {
        ndcg_at_k: ndcg_sum / n_customers as f64,
        hr_at_k: n_hits as f64 / n_customers as f64,
        n_customers,
    };
    info!(
        model = model_name,
        k,
        ndcg_at_k = metrics.ndcg_at_k,
        hr_at_k = metrics.hr_at_k,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "evaluated recommender"
    );
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};

    fn window() -> Duration {
        Duration::days(28)
    }

    /// Before the cutoff, A and B are bought together and C is popular on
    /// its own. In the window, c1 (who bought A) buys B and c2 rebuys A.
    fn split_lines() -> Vec<OrderLine> {
        let before = at(2011, 1, 1);
        let during = at(2011, 2, 10);
        vec![
            line("1", "A", 1, 1.0, "c1", "UK", before),
            line("2", "A", 1, 1.0, "c2", "UK", before),
            line("3", "A", 1, 1.0, "c3", "UK", before),
            line("3", "B", 1, 1.0, "c3", "UK", before),
            line("4", "C", 1, 1.0, "c4", "UK", before),
            line("5", "C", 1, 1.0, "c5", "UK", before),
            line("6", "C", 1, 1.0, "c6", "UK", before),
            line("7", "B", 1, 1.0, "c1", "UK", during),
            line("8", "A", 1, 1.0, "c2", "UK", during),
        ]
    }

    #[test]
    fn only_customers_with_new_items_are_evaluated() {
        let lines = split_lines();
        let report = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 1).unwrap();
        assert_eq!(report.n_eval_customers, 1);
        assert_eq!(report.models.len(), 3);
    }

    #[test]
    fn copurchase_finds_basket_partner() {
        let lines = split_lines();
        let report = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 1).unwrap();
        // c1's only new item is B, which co-occurs with A; popularity
        // recommends C (3 buyers) instead.
        assert_eq!(report.models["copurchase"].hr_at_k, 1.0);
        assert_eq!(report.models["copurchase"].ndcg_at_k, 1.0);
        assert_eq!(report.models["popularity"].hr_at_k, 0.0);
    }

    #[test]
    fn window_lines_do_not_reach_models() {
        let mut lines = split_lines();
        let baseline = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 1).unwrap();

        // Many window baskets pairing A with C would make C the neighbor of
        // A if the window leaked into the co-purchase model.
        for idx in 0..20 {
            let invoice = format!("w{idx}");
            let customer = format!("w{idx}");
            lines.push(line(&invoice, "A", 1, 1.0, &customer, "UK", at(2011, 2, 5)));
            lines.push(line(&invoice, "C", 1, 1.0, &customer, "UK", at(2011, 2, 5)));
        }
        let with_window_baskets =
            evaluate_recommenders(&lines, at(2011, 2, 1), window(), 1).unwrap();
        assert_eq!(baseline, with_window_baskets);
    }

    #[test]
    fn unknown_new_item_counts_as_relevant() {
        let mut lines = split_lines();
        lines.push(line("9", "NEW", 1, 1.0, "c1", "UK", at(2011, 2, 10)));
        let report = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 2).unwrap();
        // Relevant set {B, NEW}; copurchase ranks B first, so DCG = 1 and
        // IDCG = 1 + 1 / log2(3).
        let expected = 1.0 / (1.0 + 1.0 / 3f64.log2());
        assert!((report.models["copurchase"].ndcg_at_k - expected).abs() < 1e-12);
    }

    #[test]
    fn no_new_items_is_an_error() {
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "UK", at(2011, 1, 1)),
            line("2", "A", 1, 1.0, "c1", "UK", at(2011, 2, 10)),
        ];
        let err = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 10).unwrap_err();
        assert!(matches!(
            err,
            RecommendError::NoEvalCustomers {
                n_with_history: 1,
                n_active_in_window: 1,
                ..
            }
        ));
    }

    #[test]
    fn empty_history_is_an_error() {
        let lines = vec![line("1", "A", 1, 1.0, "c1", "UK", at(2011, 2, 10))];
        let err = evaluate_recommenders(&lines, at(2011, 2, 1), window(), 10).unwrap_err();
        assert!(matches!(err, RecommendError::EmptyHistory { .. }));
    }

    #[test]
    fn zero_k_is_rejected() {
        let err = evaluate_recommenders(&split_lines(), at(2011, 2, 1), window(), 0).unwrap_err();
        assert!(matches!(
            err,
            RecommendError::InvalidParameter { name: "k", .. }
        ));
    }

    #[test]
    fn non_positive_window_is_rejected() {
        let err = evaluate_recommenders(&split_lines(), at(2011, 2, 1), Duration::zero(), 10)
            .unwrap_err();
        assert!(matches!(
            err,
            RecommendError::InvalidParameter { name: "window", .. }
        ));
    }
}
