//! Offline evaluation with a validation window before the test window, and
//! training of the served [`RecommendModel`].
//!
//! The history is cut three times: models fitted on sales before
//! `validation_cutoff` are tuned and the ranker is trained on the
//! validation window `[validation_cutoff, test_cutoff)`; models refitted on
//! sales before `test_cutoff` are scored once on the test window
//! `[test_cutoff, test_end)`. Validation customers are split in two halves
//! by a hash of their id: the ranker learns on one half, and the
//! hyper-parameter search and the validation metrics use the other, so the
//! ranker's validation score is out of sample. The served model is refitted
//! on every sale.
//!
//! A customer is evaluated in a window when they bought before it and
//! bought an item new to them in it; metrics are HR@k, NDCG@k, MAP@k,
//! recall@k, catalog coverage and novelty, overall and per country.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::engine::{
    rank, EngineConfig, Generators, Profile, Ranker, Recommendation, SINGLE_MODELS,
};
use crate::error::RecommendError;
use crate::metrics::{hit_at_k, ndcg_at_k};

/// Name of the merged model in reports.
pub const HYBRID: &str = "hybrid";

/// Settings of [`train_recommender`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineConfig {
    /// Length of the validation and of the test window, in days.
    pub window_days: i64,
    /// List length the metrics are cut at.
    pub k: usize,
    /// Candidate models' settings; the search overrides ALS alpha and
    /// regularization.
    pub engine: EngineConfig,
    /// ALS `(alpha, regularization)` pairs tried on the validation window.
    pub als_grid: Vec<(f32, f32)>,
    /// Seed of the ranker.
    pub seed: u64,
}

impl Default for OfflineConfig {
    fn default() -> OfflineConfig {
        OfflineConfig {
            window_days: 28,
            k: 10,
            engine: EngineConfig::default(),
            als_grid: vec![(5.0, 0.1), (20.0, 0.1), (20.0, 1.0), (40.0, 1.0)],
            seed: 42,
        }
    }
}

/// Ranking metrics of one model in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    /// Mean NDCG@k.
    pub ndcg_at_k: f64,
    /// Share of customers with a hit in the top k.
    pub hr_at_k: f64,
    /// Mean average precision at k.
    pub map_at_k: f64,
    /// Mean share of the relevant items found in the top k.
    pub recall_at_k: f64,
    /// Share of the catalog recommended to at least one customer.
    pub coverage: f64,
    /// Mean self-information `-log2(buyers / customers)` of recommended items.
    pub novelty: f64,
    /// Customers evaluated.
    pub n_customers: usize,
    /// NDCG@k and customers per country.
    pub by_country: BTreeMap<String, CountryMetrics>,
}

/// NDCG@k and HR@k of one country's customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryMetrics {
    /// Mean NDCG@k.
    pub ndcg_at_k: f64,
    /// Share of customers with a hit.
    pub hr_at_k: f64,
    /// Customers evaluated.
    pub n_customers: usize,
}

/// One point of the hyper-parameter search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchTrial {
    /// ALS confidence scale.
    pub alpha: f32,
    /// ALS L2 penalty.
    pub regularization: f32,
    /// ALS NDCG@k on the validation half.
    pub validation_ndcg_at_k: f64,
}

/// Everything the offline evaluation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineReport {
    /// First sale in the data.
    pub data_from: NaiveDateTime,
    /// Last sale in the data.
    pub data_to: NaiveDateTime,
    /// Start of the validation window.
    pub validation_cutoff: NaiveDateTime,
    /// Start of the test window.
    pub test_cutoff: NaiveDateTime,
    /// End (exclusive) of the test window.
    pub test_end: NaiveDateTime,
    /// List length of the metrics.
    pub k: usize,
    /// Settings chosen by the search.
    pub chosen: EngineConfig,
    /// Every trial of the search.
    pub search: Vec<SearchTrial>,
    /// Metrics per model on the validation half.
    pub validation: BTreeMap<String, ModelMetrics>,
    /// Metrics per model on the test window.
    pub test: BTreeMap<String, ModelMetrics>,
    /// Ranker weights by feature, on standardized features.
    pub ranker_weights: BTreeMap<String, f64>,
    /// Seconds to fit the models on the test split, by step.
    pub fit_seconds: BTreeMap<String, f64>,
}

/// The served artefact: models fitted on every sale and the ranker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecommendModel {
    /// Candidate models.
    pub generators: Generators,
    /// Ranker.
    pub ranker: Ranker,
    /// Candidates per model.
    pub candidates_per_model: usize,
}

/// A customer of an evaluation window and the items new to them.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCustomer {
    /// Customer id.
    pub customer_id: String,
    /// Country of their latest sale before the window.
    pub country: String,
    /// Catalog items bought in the window and not before.
    pub relevant: BTreeSet<u32>,
    /// Count of new SKUs, including SKUs absent from the catalog.
    pub n_relevant: usize,
}

/// Customers who bought before `cutoff` and bought a new SKU in
/// `[cutoff, end)`, in customer-id order.
pub fn eval_customers(
    lines: &[OrderLine],
    generators: &Generators,
    cutoff: NaiveDateTime,
    end: NaiveDateTime,
) -> Vec<EvalCustomer> {
    let mut window: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in lines {
        if line.kind == LineKind::Sale && line.invoiced_at >= cutoff && line.invoiced_at < end {
            if let Some(customer_id) = line.customer_id.as_deref() {
                window.entry(customer_id).or_default().insert(&line.sku);
            }
        }
    }
    let mut customers = Vec::new();
    for (customer_id, skus) in window {
        let Some(known) = generators.customers.get(customer_id) else {
            continue;
        };
        let bought: BTreeSet<u32> = known.items.iter().map(|&(item, _, _)| item).collect();
        let new_skus: Vec<&str> = skus
            .into_iter()
            .filter(|sku| {
                generators
                    .item_idx(sku)
                    .is_none_or(|item| !bought.contains(&(item as u32)))
            })
            .collect();
        if new_skus.is_empty() {
            continue;
        }
        customers.push(EvalCustomer {
            customer_id: customer_id.to_string(),
            country: known.country.clone(),
            relevant: new_skus
                .iter()
                .filter_map(|sku| generators.item_idx(sku).map(|i| i as u32))
                .collect(),
            n_relevant: new_skus.len(),
        });
    }
    customers
}

/// Scores ranked lists against the customers' new items.
pub fn score_lists(
    generators: &Generators,
    customers: &[EvalCustomer],
    lists: &[Vec<u32>],
    k: usize,
) -> ModelMetrics {
    let n_customers_total = generators.customers.len().max(1) as f64;
    let mut ndcg_sum = 0.0;
    let mut hits = 0usize;
    let mut ap_sum = 0.0;
    let mut recall_sum = 0.0;
    let mut novelty_sum = 0.0;
    let mut n_recommended = 0usize;
    let mut recommended: BTreeSet<u32> = BTreeSet::new();
    let mut countries: BTreeMap<String, (f64, usize, usize)> = BTreeMap::new();
    for (customer, list) in customers.iter().zip(lists) {
        let flags: Vec<bool> = list
            .iter()
            .map(|item| customer.relevant.contains(item))
            .collect();
        let ndcg = ndcg_at_k(&flags, customer.n_relevant, k);
        let hit = hit_at_k(&flags, k);
        ndcg_sum += ndcg;
        hits += usize::from(hit);
        ap_sum += average_precision_at_k(&flags, customer.n_relevant, k);
        let n_hits = flags.iter().take(k).filter(|&&f| f).count();
        recall_sum += n_hits as f64 / customer.n_relevant.max(1) as f64;
        for &item in list.iter().take(k) {
            recommended.insert(item);
            let share = (f64::from(generators.buyers[item as usize]) + 1.0) / n_customers_total;
            novelty_sum += -share.min(1.0).log2();
            n_recommended += 1;
        }
        let entry = countries.entry(customer.country.clone()).or_default();
        entry.0 += ndcg;
        entry.1 += usize::from(hit);
        entry.2 += 1;
    }
    let n = customers.len().max(1) as f64;
    ModelMetrics {
        ndcg_at_k: ndcg_sum / n,
        hr_at_k: hits as f64 / n,
        map_at_k: ap_sum / n,
        recall_at_k: recall_sum / n,
        coverage: recommended.len() as f64 / generators.n_items().max(1) as f64,
        novelty: novelty_sum / n_recommended.max(1) as f64,
        n_customers: customers.len(),
        by_country: countries
            .into_iter()
            .map(|(country, (ndcg, hits, count))| {
                let metrics = CountryMetrics {
                    ndcg_at_k: ndcg / count as f64,
                    hr_at_k: hits as f64 / count as f64,
                    n_customers: count,
                };
                (country, metrics)
            })
            .collect(),
    }
}

/// Average precision at k with binary relevance, normalized by
/// `min(n_relevant, k)`.
pub fn average_precision_at_k(hits: &[bool], n_relevant: usize, k: usize) -> f64 {
    let ideal = n_relevant.min(k);
    if ideal == 0 {
        return 0.0;
    }
    let mut found = 0usize;
    let mut sum = 0.0;
    for (rank, &hit) in hits.iter().take(k).enumerate() {
        if hit {
            found += 1;
            sum += found as f64 / (rank + 1) as f64;
        }
    }
    sum / ideal as f64
}

/// Top-k lists of every model for every customer; `hybrid` needs a ranker.
fn lists_of(
    generators: &Generators,
    ranker: Option<&Ranker>,
    model: &str,
    customers: &[EvalCustomer],
    k: usize,
    per_model: usize,
) -> Vec<Vec<u32>> {
    customers
        .par_iter()
        .map(|customer| {
            let profile = generators
                .known_profile(&customer.customer_id)
                .expect("evaluated customers are known");
            let bought: BTreeSet<u32> = profile.items.iter().map(|&(i, _)| i).collect();
            let exclude = |item: u32| bought.contains(&item);
            match (model, ranker) {
                (HYBRID, Some(ranker)) => {
                    let candidates = generators.candidates(&profile, per_model, &exclude);
                    rank(generators, ranker, &profile, candidates, k)
                        .into_iter()
                        .map(|r| {
                            generators.item_idx(&r.sku).expect("ranked items are known") as u32
                        })
                        .collect()
                }
                _ => generators.recommend_single(model, &profile, k, &exclude),
            }
        })
        .collect()
}

/// Candidate rows and labels of the ranker from one window's customers.
fn ranker_rows(
    generators: &Generators,
    customers: &[EvalCustomer],
    per_model: usize,
) -> (Vec<[f64; 12]>, Vec<bool>) {
    let per_customer: Vec<(Vec<[f64; 12]>, Vec<bool>)> = customers
        .par_iter()
        .map(|customer| {
            let profile = generators
                .known_profile(&customer.customer_id)
                .expect("evaluated customers are known");
            let bought: BTreeSet<u32> = profile.items.iter().map(|&(i, _)| i).collect();
            let candidates =
                generators.candidates(&profile, per_model, &|item| bought.contains(&item));
            candidates
                .into_iter()
                .map(|c| (c.features, customer.relevant.contains(&c.item)))
                .unzip()
        })
        .collect();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (customer_rows, customer_labels) in per_customer {
        rows.extend(customer_rows);
        labels.extend(customer_labels);
    }
    (rows, labels)
}

/// Deterministic half of a customer id (FNV-1a hash).
fn in_ranker_half(customer_id: &str) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in customer_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % 2 == 0
}

/// Runs the offline evaluation and fits the served model on every sale.
///
/// Returns an error when the history is too short for two windows or when
/// a window has no customer to evaluate.
pub fn train_recommender(
    lines: &[OrderLine],
    config: &OfflineConfig,
) -> Result<(RecommendModel, OfflineReport), RecommendError> {
    if config.k == 0 || config.k > 1000 {
        return Err(RecommendError::invalid("k", config.k, "1 to 1000"));
    }
    if !(1..=365).contains(&config.window_days) {
        return Err(RecommendError::invalid(
            "window_days",
            config.window_days,
            "1 to 365",
        ));
    }
    let sales = lines
        .iter()
        .filter(|l| l.kind == LineKind::Sale && l.customer_id.is_some());
    let (first, last) = sales.fold(
        (None, None),
        |(lo, hi): (Option<NaiveDateTime>, Option<NaiveDateTime>), l| {
            (
                Some(lo.map_or(l.invoiced_at, |v| v.min(l.invoiced_at))),
                Some(hi.map_or(l.invoiced_at, |v| v.max(l.invoiced_at))),
            )
        },
    );
    let (Some(data_from), Some(data_to)) = (first, last) else {
        return Err(RecommendError::EmptyHistory {
            cutoff: NaiveDateTime::MAX,
        });
    };
    let window = Duration::days(config.window_days);
    let test_end = (data_to.date() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or(data_to);
    let test_cutoff = test_end - window;
    let validation_cutoff = test_cutoff - window;
    if validation_cutoff <= data_from {
        return Err(RecommendError::EmptyHistory {
            cutoff: validation_cutoff,
        });
    }
    let k = config.k;
    let per_model = config.engine.candidates_per_model;

    // Validation: search ALS settings, then train the ranker.
    let mut engine = config.engine.clone();
    let mut generators = Generators::fit(lines, validation_cutoff, &engine);
    let all_validation = eval_customers(lines, &generators, validation_cutoff, test_cutoff);
    let (ranker_half, holdout): (Vec<EvalCustomer>, Vec<EvalCustomer>) = all_validation
        .into_iter()
        .partition(|c| in_ranker_half(&c.customer_id));
    if holdout.is_empty() || ranker_half.is_empty() {
        return Err(RecommendError::NoEvalCustomers {
            cutoff: validation_cutoff,
            window_end: test_cutoff,
            n_with_history: generators.customers.len(),
            n_active_in_window: holdout.len() + ranker_half.len(),
        });
    }

    let mut search = Vec::new();
    let mut best: Option<(f64, Generators, f32, f32)> = None;
    for &(alpha, regularization) in &config.als_grid {
        if (alpha, regularization) != (engine.als.alpha, engine.als.regularization)
            || search.is_empty()
        {
            engine.als.alpha = alpha;
            engine.als.regularization = regularization;
            generators = Generators::fit(lines, validation_cutoff, &engine);
        }
        let lists = lists_of(&generators, None, "als", &holdout, k, per_model);
        let ndcg = score_lists(&generators, &holdout, &lists, k).ndcg_at_k;
        info!(alpha, regularization, ndcg, "validated ALS settings");
        search.push(SearchTrial {
            alpha,
            regularization,
            validation_ndcg_at_k: ndcg,
        });
        if best.as_ref().is_none_or(|b| ndcg > b.0) {
            best = Some((ndcg, generators.clone(), alpha, regularization));
        }
    }
    if let Some((_, best_generators, alpha, regularization)) = best {
        engine.als.alpha = alpha;
        engine.als.regularization = regularization;
        generators = best_generators;
    }

    let (rows, labels) = ranker_rows(&generators, &ranker_half, per_model);
    let ranker = Ranker::fit(&rows, &labels, config.seed);
    let mut validation = BTreeMap::new();
    for model in SINGLE_MODELS.iter().copied().chain([HYBRID]) {
        let lists = lists_of(&generators, Some(&ranker), model, &holdout, k, per_model);
        validation.insert(
            model.to_string(),
            score_lists(&generators, &holdout, &lists, k),
        );
    }

    // Test: refit before the test window and score once.
    let started = Instant::now();
    let test_generators = Generators::fit(lines, test_cutoff, &engine);
    let mut fit_seconds = BTreeMap::new();
    fit_seconds.insert("all_models".to_string(), started.elapsed().as_secs_f64());
    let test_customers = eval_customers(lines, &test_generators, test_cutoff, test_end);
    if test_customers.is_empty() {
        return Err(RecommendError::NoEvalCustomers {
            cutoff: test_cutoff,
            window_end: test_end,
            n_with_history: test_generators.customers.len(),
            n_active_in_window: 0,
        });
    }
    let mut test = BTreeMap::new();
    for model in SINGLE_MODELS.iter().copied().chain([HYBRID]) {
        let lists = lists_of(
            &test_generators,
            Some(&ranker),
            model,
            &test_customers,
            k,
            per_model,
        );
        test.insert(
            model.to_string(),
            score_lists(&test_generators, &test_customers, &lists, k),
        );
    }
    drop(test_generators);

    // Served model: every sale.
    let served = Generators::fit(lines, test_end, &engine);
    let report = OfflineReport {
        data_from,
        data_to,
        validation_cutoff,
        test_cutoff,
        test_end,
        k,
        chosen: engine,
        search,
        validation,
        test,
        ranker_weights: ranker.weights(),
        fit_seconds,
    };
    Ok((
        RecommendModel {
            generators: served,
            ranker,
            candidates_per_model: per_model,
        },
        report,
    ))
}

/// Where a list for an unknown customer comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColdStart {
    /// Country to rank popularity in.
    pub country: Option<String>,
    /// The customer's events since training.
    pub events: Vec<RecentEvent>,
}

/// An event received after the model's training data ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentEvent {
    pub sku: String,
    /// Weight in the customer's profile (a view counts less than a purchase).
    pub weight: f32,
    /// Purchases are excluded from the list like the trained purchases;
    /// views, clicks and cart additions are not.
    pub purchase: bool,
}

/// Result of a recommendation request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendationList {
    /// Whether the customer was unknown to the model.
    pub cold_start: bool,
    /// Country used for popularity.
    pub country: String,
    /// Items, best first.
    pub items: Vec<Recommendation>,
}

/// An item similar to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarItem {
    /// Product code.
    pub sku: String,
    /// Product title.
    pub title: String,
    /// Similarity in `[0, 1]`.
    pub similarity: f32,
    /// Why it is similar.
    pub reason: String,
}

impl RecommendModel {
    /// Rebuilds lookup tables after deserialization.
    pub fn after_load(&mut self) {
        self.generators.rebuild_indexes();
    }

    /// Top `k` items for a customer; unknown customers get country-and-season
    /// popularity refined by their events.
    pub fn recommend(
        &self,
        customer_id: &str,
        cold: &ColdStart,
        k: usize,
        exclude_purchased: bool,
    ) -> RecommendationList {
        let generators = &self.generators;
        let known = generators.known_profile(customer_id);
        let cold_start = known.is_none();
        let mut profile = known.unwrap_or_else(|| Profile {
            country: most_common_country(generators),
            ..Profile::default()
        });
        if let Some(country) = &cold.country {
            profile.country = country.clone();
        }
        let mut seen: BTreeSet<u32> = profile.items.iter().map(|&(i, _)| i).collect();
        for event in &cold.events {
            if let Some(item) = generators.item_idx(&event.sku) {
                profile.items.push((item as u32, event.weight));
                profile.has_new_events = true;
                if event.purchase {
                    seen.insert(item as u32);
                }
            }
        }
        let exclude = |item: u32| exclude_purchased && seen.contains(&item);
        let candidates = generators.candidates(&profile, self.candidates_per_model, &exclude);
        let items = rank(generators, &self.ranker, &profile, candidates, k);
        RecommendationList {
            cold_start,
            country: profile.country,
            items,
        }
    }

    /// Items similar to `sku`: customer neighbours for sold items, title
    /// similarity for items without sales. `None` when the SKU is unknown.
    pub fn similar(&self, sku: &str, k: usize) -> Option<Vec<SimilarItem>> {
        let generators = &self.generators;
        let mut out: Vec<SimilarItem> = Vec::new();
        if let Some(item) = generators.item_idx(sku) {
            let title = generators.titles[item].clone();
            for &(other, similarity) in generators.knn_bm25.neighbors(item).iter().take(k) {
                out.push(SimilarItem {
                    sku: generators.skus[other as usize].clone(),
                    title: generators.titles[other as usize].clone(),
                    similarity,
                    reason: format!("bought by customers who bought {title}"),
                });
            }
        }
        if out.len() < k {
            let title = generators.title_of_sku(sku)?;
            let vector = generators.title_index.vectorize(title);
            for (idx, similarity) in generators.title_index.nearest(&vector, k * 2 + 1, None) {
                let other_sku = &generators.title_skus[idx as usize];
                if out.len() >= k {
                    break;
                }
                if other_sku == sku || out.iter().any(|s| &s.sku == other_sku) {
                    continue;
                }
                out.push(SimilarItem {
                    sku: other_sku.clone(),
                    title: generators.title_texts[idx as usize].clone(),
                    similarity,
                    reason: format!("similar title to {title}"),
                });
            }
        }
        Some(out)
    }
}

fn most_common_country(generators: &Generators) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for known in generators.customers.values() {
        *counts.entry(&known.country).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(country, _)| country.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_precision_matches_hand_value() {
        // Hits at ranks 1 and 3 of 3 relevant: (1/1 + 2/3) / 3.
        let ap = average_precision_at_k(&[true, false, true], 3, 3);
        assert!((ap - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(average_precision_at_k(&[false, false], 2, 2), 0.0);
    }

    #[test]
    fn halves_are_stable() {
        assert_eq!(in_ranker_half("12345"), in_ranker_half("12345"));
        let n_first = (0..1000).filter(|i| in_ranker_half(&i.to_string())).count();
        assert!((400..600).contains(&n_first), "{n_first}");
    }
}
