//! The recommendation engine: every candidate model fitted on one history,
//! the ranker that merges their candidates, and the reasons shown to users.
//!
//! [`Generators::fit`] fits implicit ALS, BPR, item-kNN (cosine and BM25),
//! basket co-purchase and country-and-season popularity on the sales
//! before a cutoff, plus a TF-IDF index of titles for products without
//! sales. [`Generators::candidates`] pools the best items of each model for
//! a [`Profile`] (a known customer, or a new one described by country and
//! first views or purchases) and describes every candidate by
//! [`FEATURE_NAMES`]. A [`Ranker`] (logistic regression) orders the pool,
//! and the model contributing most to an item's score gives its reason.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};
use ndarray::Array1;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::als::{AlsModel, AlsOptions};
use crate::bpr::{BprModel, BprOptions};
use crate::content::TitleIndex;
use crate::copurchase::{CopurchaseModel, CopurchaseOptions};
use crate::history::PurchaseHistory;
use crate::interactions::Interactions;
use crate::itemknn::{keep_top, ItemKnn, KnnWeighting};
use crate::logistic::{LogisticRegression, TrainOptions};
use crate::matrix::FeatureMatrix;
use crate::seasonal::{SeasonalOptions, SeasonalPopularity};
use crate::standardize::Standardizer;

/// Seconds in a day.
const SECONDS_PER_DAY: f64 = 86_400.0;

/// Half-life in days of a purchase's weight in neighbour scores.
const PROFILE_HALF_LIFE_DAYS: f64 = 60.0;

/// Names of the ranker's features, in column order.
pub const FEATURE_NAMES: [&str; 12] = [
    "als_score",
    "als_reciprocal_rank",
    "bpr_score",
    "knn_bm25_score",
    "knn_bm25_reciprocal_rank",
    "copurchase_score",
    "copurchase_reciprocal_rank",
    "season_reciprocal_rank",
    "season_in_country",
    "log1p_buyers",
    "log1p_recent_buyers",
    "log1p_profile_items",
];

/// Which candidate model a feature column belongs to, for reasons.
const FEATURE_SOURCE: [Source; 12] = [
    Source::Als,
    Source::Als,
    Source::Als,
    Source::Knn,
    Source::Knn,
    Source::Copurchase,
    Source::Copurchase,
    Source::Season,
    Source::Season,
    Source::Popular,
    Source::Popular,
    Source::Popular,
];

/// Settings of every candidate model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Implicit ALS settings.
    pub als: AlsOptions,
    /// BPR settings.
    pub bpr: BprOptions,
    /// Neighbours kept per item by item-kNN and co-purchase.
    pub max_neighbors: usize,
    /// BM25 saturation `k1`.
    pub bm25_k1: f32,
    /// BM25 length normalization `b`.
    pub bm25_b: f32,
    /// Country-and-season popularity settings.
    pub seasonal: SeasonalOptions,
    /// Items each model adds to a customer's candidate pool.
    pub candidates_per_model: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            als: AlsOptions::default(),
            bpr: BprOptions::default(),
            max_neighbors: 100,
            bm25_k1: 1.2,
            bm25_b: 0.75,
            seasonal: SeasonalOptions::default(),
            candidates_per_model: 50,
        }
    }
}

/// What a customer bought before the cutoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownCustomer {
    /// Row in the ALS and BPR matrices.
    pub user_idx: usize,
    /// Country of the latest sale.
    pub country: String,
    /// `(item, invoices, recency weight)` of every item bought.
    pub items: Vec<(u32, f32, f32)>,
}

/// The customer a list is made for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// Row of a customer known at training time.
    pub user_idx: Option<usize>,
    /// Country used by the popularity model.
    pub country: String,
    /// `(item, weight)` of every item the customer bought or looked at.
    pub items: Vec<(u32, f32)>,
    /// Events after training: folded into the ALS vector.
    pub has_new_events: bool,
}

/// Every candidate model fitted on one history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generators {
    /// End (exclusive) of the sales the models saw.
    pub cutoff: NaiveDateTime,
    /// SKU of every item.
    pub skus: Vec<String>,
    /// Most frequent title of every item.
    pub titles: Vec<String>,
    /// Known customers by id.
    pub customers: HashMap<String, KnownCustomer>,
    /// Implicit ALS.
    pub als: AlsModel,
    /// BPR.
    pub bpr: BprModel,
    /// Item-kNN, binary cosine.
    pub knn_cosine: ItemKnn,
    /// Item-kNN, BM25-weighted cosine.
    pub knn_bm25: ItemKnn,
    /// Basket co-purchase neighbours.
    pub copurchase: ItemKnn,
    /// Popularity per country and season.
    pub seasonal: SeasonalPopularity,
    /// Distinct buyers per item.
    pub buyers: Vec<f32>,
    /// Distinct buyers per item in the 28 days before the cutoff.
    pub recent_buyers: Vec<f32>,
    /// TF-IDF index of every titled SKU, sold or not.
    pub title_index: TitleIndex,
    /// SKUs of `title_index` entries.
    pub title_skus: Vec<String>,
    /// Titles of `title_index` entries.
    pub title_texts: Vec<String>,
    #[serde(skip)]
    sku_index: HashMap<String, usize>,
    #[serde(skip)]
    title_sku_index: HashMap<String, usize>,
}

/// Which model a candidate or reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Matrix factorization (ALS, BPR).
    Als,
    /// Item-kNN over customers.
    Knn,
    /// Bought in the same invoices.
    Copurchase,
    /// Popular in the customer's country this season.
    Season,
    /// Popular overall.
    Popular,
}

/// One pooled candidate with its features.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Item index.
    pub item: u32,
    /// Values in [`FEATURE_NAMES`] order.
    pub features: [f64; 12],
    /// Profile item that contributes most to the kNN score.
    pub knn_because: Option<u32>,
    /// Profile item that contributes most to the co-purchase score.
    pub copurchase_because: Option<u32>,
    /// Whether the popularity rank is the customer's country's.
    pub season_local: bool,
}

impl Generators {
    /// Fits every model on the sales in `lines` before `cutoff`.
    pub fn fit(lines: &[OrderLine], cutoff: NaiveDateTime, config: &EngineConfig) -> Generators {
        let history = PurchaseHistory::build(lines, cutoff);
        let interactions = Interactions::from_history(&history);
        let n_items = history.n_items();

        let started = Instant::now();
        let als = AlsModel::fit(&interactions.confidence(config.als.alpha), &config.als);
        let als_ms = started.elapsed().as_millis() as u64;
        let started = Instant::now();
        let bpr = BprModel::fit(interactions.counts(), &config.bpr);
        let bpr_ms = started.elapsed().as_millis() as u64;
        let knn_cosine = ItemKnn::fit(
            interactions.counts(),
            KnnWeighting::Cosine,
            config.max_neighbors,
        );
        let knn_bm25 = ItemKnn::fit(
            interactions.counts(),
            KnnWeighting::Bm25 {
                k1: config.bm25_k1,
                b: config.bm25_b,
            },
            config.max_neighbors,
        );
        let copurchase_model = CopurchaseModel::fit(
            &history,
            &CopurchaseOptions {
                max_neighbors: config.max_neighbors,
                recency_half_life_days: None,
            },
        );
        let copurchase = ItemKnn {
            neighbors: (0..n_items)
                .map(|item| {
                    copurchase_model
                        .neighbors(item)
                        .iter()
                        .map(|n| (n.item_idx as u32, n.similarity as f32))
                        .collect()
                })
                .collect(),
        };
        let seasonal = SeasonalPopularity::fit(lines, &history, &config.seasonal);

        let mut buyers = vec![0f32; n_items];
        let mut recent_buyers = vec![0f32; n_items];
        let recent_start = cutoff - Duration::days(28);
        let mut customers = HashMap::new();
        for (customer_id, customer) in history.customers() {
            for item in &customer.items {
                buyers[item.item_idx] += 1.0;
                if item.last_bought_at >= recent_start {
                    recent_buyers[item.item_idx] += 1.0;
                }
            }
            let known = KnownCustomer {
                user_idx: interactions
                    .user_idx(customer_id)
                    .expect("every customer of the history has a row"),
                country: customer.country.clone(),
                items: customer
                    .items
                    .iter()
                    .map(|item| {
                        let age_days =
                            (cutoff - item.last_bought_at).num_seconds() as f64 / SECONDS_PER_DAY;
                        let weight = 0.5f64.powf(age_days.max(0.0) / PROFILE_HALF_LIFE_DAYS);
                        (item.item_idx as u32, item.n_invoices as f32, weight as f32)
                    })
                    .collect(),
            };
            customers.insert(customer_id.to_string(), known);
        }

        let (title_skus, title_texts) = catalog_titles(lines, cutoff);
        let title_refs: Vec<&str> = title_texts.iter().map(String::as_str).collect();
        let title_index = TitleIndex::build(&title_refs);
        let skus: Vec<String> = (0..n_items).map(|i| history.sku(i).to_string()).collect();

        let mut generators = Generators {
            cutoff,
            titles: Vec::new(),
            skus,
            customers,
            als,
            bpr,
            knn_cosine,
            knn_bm25,
            copurchase,
            seasonal,
            buyers,
            recent_buyers,
            title_index,
            title_skus,
            title_texts,
            sku_index: HashMap::new(),
            title_sku_index: HashMap::new(),
        };
        generators.rebuild_indexes();
        generators.titles = (0..n_items)
            .map(|item| {
                generators
                    .title_of_sku(&generators.skus[item])
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        info!(
            n_items,
            n_customers = generators.customers.len(),
            als_ms,
            bpr_ms,
            "fitted candidate models"
        );
        generators
    }

    /// Rebuilds the lookup tables that are not serialized.
    pub fn rebuild_indexes(&mut self) {
        self.sku_index = self
            .skus
            .iter()
            .enumerate()
            .map(|(idx, sku)| (sku.clone(), idx))
            .collect();
        self.title_sku_index = self
            .title_skus
            .iter()
            .enumerate()
            .map(|(idx, sku)| (sku.clone(), idx))
            .collect();
    }

    /// Number of items with sales.
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// Item index of a SKU with sales.
    pub fn item_idx(&self, sku: &str) -> Option<usize> {
        self.sku_index.get(sku).copied()
    }

    /// Title of any SKU seen in the order lines.
    pub fn title_of_sku(&self, sku: &str) -> Option<&str> {
        self.title_sku_index
            .get(sku)
            .map(|&idx| self.title_texts[idx].as_str())
    }

    /// Profile of a known customer, or `None`.
    pub fn known_profile(&self, customer_id: &str) -> Option<Profile> {
        let known = self.customers.get(customer_id)?;
        Some(Profile {
            user_idx: Some(known.user_idx),
            country: known.country.clone(),
            items: known.items.iter().map(|&(i, _, w)| (i, w)).collect(),
            has_new_events: false,
        })
    }

    /// The ALS vector of a profile: the trained row, or one folded in from
    /// the profile's items.
    fn als_vector(&self, profile: &Profile) -> Option<Array1<f32>> {
        match profile.user_idx {
            Some(user) if !profile.has_new_events => {
                Some(self.als.user_factors.row(user).to_owned())
            }
            _ if profile.items.is_empty() => None,
            _ => {
                let alpha_items: Vec<(u32, f32)> = profile
                    .items
                    .iter()
                    .map(|&(item, weight)| (item, 1.0 + self.als.alpha * weight))
                    .collect();
                Some(self.als.fold_in(&alpha_items))
            }
        }
    }

    /// Scores of every item by summed neighbour similarity, with the
    /// profile item contributing most to each.
    fn neighbour_scores(&self, knn: &ItemKnn, profile: &Profile) -> NeighbourScores {
        let mut scores = NeighbourScores::new(self.skus.len());
        for &(item, weight) in &profile.items {
            for &(other, similarity) in knn.neighbors(item as usize) {
                scores.add(other, item, weight * similarity);
            }
        }
        scores
    }

    /// Single-model top `k` for evaluation: `model` is one of
    /// [`SINGLE_MODELS`]. Items in `exclude` are skipped.
    pub fn recommend_single(
        &self,
        model: &str,
        profile: &Profile,
        k: usize,
        exclude: &dyn Fn(u32) -> bool,
    ) -> Vec<u32> {
        let mut scored: Vec<(u32, f32)> = match model {
            "als" => match self.als_vector(profile) {
                Some(vector) => enumerate_scores(self.als.scores(vector.view())),
                None => Vec::new(),
            },
            "bpr" => match profile.user_idx {
                Some(user) => enumerate_scores(self.bpr.scores(self.bpr.user_factors.row(user))),
                None => Vec::new(),
            },
            "knn_cosine" | "knn_bm25" | "copurchase" => {
                let knn = match model {
                    "knn_cosine" => &self.knn_cosine,
                    "knn_bm25" => &self.knn_bm25,
                    _ => &self.copurchase,
                };
                self.neighbour_scores(knn, profile)
                    .iter()
                    .map(|(item, (score, _, _))| (item, score))
                    .collect()
            }
            "popularity_season" => {
                let n = self.seasonal.global.len() as f32;
                self.seasonal
                    .ranking(&profile.country)
                    .enumerate()
                    .map(|(rank, (item, _, _))| (item, n * 2.0 - rank as f32))
                    .collect()
            }
            _ => panic!("unknown single model {model:?}"),
        };
        scored.retain(|&(item, _)| !exclude(item));
        keep_top(&mut scored, k);
        let mut items: Vec<u32> = scored.into_iter().map(|(item, _)| item).collect();
        // Short lists are completed from popularity, as a shop would.
        for (item, _, _) in self.seasonal.ranking(&profile.country) {
            if items.len() >= k {
                break;
            }
            if !exclude(item) && !items.contains(&item) {
                items.push(item);
            }
        }
        items
    }

    /// Pools the best items of every model for `profile` and computes
    /// their features. Items in `exclude` are skipped.
    pub fn candidates(
        &self,
        profile: &Profile,
        per_model: usize,
        exclude: &dyn Fn(u32) -> bool,
    ) -> Vec<Candidate> {
        let mut pool: BTreeMap<u32, Candidate> = BTreeMap::new();
        let blank = |item: u32| Candidate {
            item,
            features: [0.0; 12],
            knn_because: None,
            copurchase_because: None,
            season_local: false,
        };

        let als_scores = self.als_vector(profile).map(|v| self.als.scores(v.view()));
        if let Some(scores) = &als_scores {
            let mut top = enumerate_scores(scores.clone());
            top.retain(|&(item, _)| !exclude(item));
            keep_top(&mut top, per_model);
            for (rank, (item, _)) in top.into_iter().enumerate() {
                pool.entry(item).or_insert_with(|| blank(item)).features[1] =
                    1.0 / (1.0 + rank as f64);
            }
        }

        let mut neighbour_pass = |knn: &ItemKnn, score_col: usize, is_copurchase: bool| {
            let scores = self.neighbour_scores(knn, profile);
            let mut top: Vec<(u32, f32)> = scores
                .iter()
                .filter(|&(item, _)| !exclude(item))
                .map(|(item, (score, _, _))| (item, score))
                .collect();
            keep_top(&mut top, per_model);
            for (rank, &(item, _)) in top.iter().enumerate() {
                pool.entry(item).or_insert_with(|| blank(item)).features[score_col + 1] =
                    1.0 / (1.0 + rank as f64);
            }
            for candidate in pool.values_mut() {
                if let Some((score, because, _)) = scores.get(candidate.item) {
                    candidate.features[score_col] = f64::from(score).ln_1p();
                    if is_copurchase {
                        candidate.copurchase_because = Some(because);
                    } else {
                        candidate.knn_because = Some(because);
                    }
                }
            }
        };
        neighbour_pass(&self.knn_bm25, 3, false);
        neighbour_pass(&self.copurchase, 5, true);

        let mut n_season = 0;
        for (rank, (item, _, local)) in self.seasonal.ranking(&profile.country).enumerate() {
            if n_season >= per_model {
                break;
            }
            if exclude(item) {
                continue;
            }
            n_season += 1;
            let candidate = pool.entry(item).or_insert_with(|| blank(item));
            candidate.features[7] = 1.0 / (1.0 + rank as f64);
            candidate.features[8] = f64::from(u8::from(local));
            candidate.season_local = local;
        }

        let bpr_scores = profile
            .user_idx
            .map(|user| self.bpr.scores(self.bpr.user_factors.row(user)));
        let n_profile = (profile.items.len() as f64).ln_1p();
        for candidate in pool.values_mut() {
            let item = candidate.item as usize;
            if let Some(scores) = &als_scores {
                candidate.features[0] = f64::from(scores[item]);
            }
            if let Some(scores) = &bpr_scores {
                candidate.features[2] = f64::from(scores[item]);
            }
            candidate.features[9] = f64::from(self.buyers[item]).ln_1p();
            candidate.features[10] = f64::from(self.recent_buyers[item]).ln_1p();
            candidate.features[11] = n_profile;
        }
        pool.into_values().collect()
    }
}

/// The ranker: logistic regression on standardized candidate features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranker {
    standardizer: Standardizer,
    model: LogisticRegression,
}

impl Ranker {
    /// Fits the ranker on candidate rows labelled true when the customer
    /// bought the item in the label window.
    pub fn fit(rows: &[[f64; 12]], labels: &[bool], seed: u64) -> Ranker {
        let mut matrix = FeatureMatrix::new(FEATURE_NAMES.len());
        for row in rows {
            matrix.push_row(row);
        }
        let standardizer = Standardizer::fit(&matrix);
        standardizer.transform(&mut matrix);
        let options = TrainOptions {
            epochs: 8,
            batch_size: 512,
            learning_rate: 0.01,
            l2: 1e-4,
            seed,
        };
        let model = LogisticRegression::fit(&matrix, labels, &options);
        Ranker {
            standardizer,
            model,
        }
    }

    /// Log-odds of a candidate and each feature's share of it.
    pub fn score(&self, features: &[f64; 12]) -> (f64, [f64; 12]) {
        let mut row = *features;
        self.standardizer.transform_row(&mut row);
        let mut contributions = [0.0; 12];
        let mut logit = self.model.intercept();
        for (col, (&value, &weight)) in row.iter().zip(self.model.weights()).enumerate() {
            contributions[col] = value * weight;
            logit += value * weight;
        }
        (logit, contributions)
    }

    /// Weights by feature name.
    pub fn weights(&self) -> BTreeMap<String, f64> {
        FEATURE_NAMES
            .iter()
            .zip(self.model.weights())
            .map(|(name, &w)| (name.to_string(), w))
            .collect()
    }
}

/// A recommended item with its score and reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Product code.
    pub sku: String,
    /// Product title.
    pub title: String,
    /// Ranker log-odds; higher is better.
    pub score: f64,
    /// Model that contributed most.
    pub source: Source,
    /// Why the item is shown, in words.
    pub reason: String,
}

/// Ranks the candidate pool and returns the top `k` with reasons.
pub fn rank(
    generators: &Generators,
    ranker: &Ranker,
    profile: &Profile,
    candidates: Vec<Candidate>,
    k: usize,
) -> Vec<Recommendation> {
    let mut scored: Vec<(f64, [f64; 12], Candidate)> = candidates
        .into_iter()
        .map(|candidate| {
            let (score, contributions) = ranker.score(&candidate.features);
            (score, contributions, candidate)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.item.cmp(&b.2.item)));
    scored.truncate(k);
    scored
        .into_iter()
        .map(|(score, contributions, candidate)| {
            let source = dominant_source(&contributions, &candidate);
            Recommendation {
                sku: generators.skus[candidate.item as usize].clone(),
                title: generators.titles[candidate.item as usize].clone(),
                score,
                source,
                reason: reason(generators, profile, &candidate, source),
            }
        })
        .collect()
}

/// The source whose features add most to the score; neighbour sources
/// need a contributing profile item.
fn dominant_source(contributions: &[f64; 12], candidate: &Candidate) -> Source {
    let mut totals: HashMap<Source, f64> = HashMap::new();
    for (col, &value) in contributions.iter().enumerate() {
        *totals.entry(FEATURE_SOURCE[col]).or_default() += value;
    }
    let mut ranked: Vec<(Source, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then((a.0 as u8).cmp(&(b.0 as u8))));
    for (source, _) in ranked {
        let usable = match source {
            Source::Knn => candidate.knn_because.is_some(),
            Source::Copurchase => candidate.copurchase_because.is_some(),
            Source::Als => candidate.features[1] > 0.0 || candidate.features[0] > 0.0,
            Source::Season => candidate.features[7] > 0.0,
            Source::Popular => true,
        };
        if usable {
            return source;
        }
    }
    Source::Popular
}

fn reason(
    generators: &Generators,
    profile: &Profile,
    candidate: &Candidate,
    source: Source,
) -> String {
    let title = |item: u32| {
        let title = &generators.titles[item as usize];
        if title.is_empty() {
            generators.skus[item as usize].clone()
        } else {
            title.clone()
        }
    };
    let month = month_name(generators.seasonal.month);
    match source {
        Source::Copurchase => match candidate.copurchase_because {
            Some(item) => format!("bought together with {}", title(item)),
            None => "often bought together with your items".to_string(),
        },
        Source::Knn => match candidate.knn_because {
            Some(item) => format!("bought by customers who bought {}", title(item)),
            None => "bought by customers like you".to_string(),
        },
        Source::Als => {
            let closest = profile.items.iter().max_by(|a, b| {
                let sa = generators
                    .als
                    .item_cosine(a.0 as usize, candidate.item as usize);
                let sb = generators
                    .als
                    .item_cosine(b.0 as usize, candidate.item as usize);
                sa.total_cmp(&sb)
            });
            match closest {
                Some(&(item, _)) => format!("similar to {}", title(item)),
                None => "matches what customers like you buy".to_string(),
            }
        }
        Source::Season if candidate.season_local => {
            format!("popular in {} in {month}", profile.country)
        }
        Source::Season => format!("popular in {month}"),
        Source::Popular => "popular with many customers".to_string(),
    }
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(month.clamp(1, 12) - 1) as usize]
}

/// Single models that [`Generators::recommend_single`] handles.
pub const SINGLE_MODELS: [&str; 6] = [
    "als",
    "bpr",
    "knn_cosine",
    "knn_bm25",
    "copurchase",
    "popularity_season",
];

/// Summed neighbour scores over a dense item array: a request touches
/// thousands of items, and indexing beats hashing each of them.
struct NeighbourScores {
    /// `(score, item contributing most, its contribution)` per item.
    by_item: Vec<(f32, u32, f32)>,
    /// Items with at least one contribution, in first-touch order.
    touched: Vec<u32>,
}

impl NeighbourScores {
    fn new(n_items: usize) -> NeighbourScores {
        NeighbourScores {
            by_item: vec![(0.0, 0, f32::NEG_INFINITY); n_items],
            touched: Vec::new(),
        }
    }

    fn add(&mut self, item: u32, because: u32, contribution: f32) {
        let entry = &mut self.by_item[item as usize];
        if entry.2 == f32::NEG_INFINITY {
            self.touched.push(item);
            *entry = (0.0, because, 0.0);
        }
        entry.0 += contribution;
        if contribution > entry.2 {
            entry.1 = because;
            entry.2 = contribution;
        }
    }

    fn get(&self, item: u32) -> Option<(f32, u32, f32)> {
        let entry = *self.by_item.get(item as usize)?;
        (entry.2 != f32::NEG_INFINITY).then_some(entry)
    }

    fn iter(&self) -> impl Iterator<Item = (u32, (f32, u32, f32))> + '_ {
        self.touched
            .iter()
            .map(|&item| (item, self.by_item[item as usize]))
    }
}

fn enumerate_scores(scores: Array1<f32>) -> Vec<(u32, f32)> {
    scores
        .into_iter()
        .enumerate()
        .map(|(item, score)| (item as u32, score))
        .collect()
}

/// The most frequent non-empty description of every SKU with a product
/// line before `cutoff`, in SKU order.
fn catalog_titles(lines: &[OrderLine], cutoff: NaiveDateTime) -> (Vec<String>, Vec<String>) {
    let mut counts: BTreeMap<&str, HashMap<&str, usize>> = BTreeMap::new();
    for line in lines {
        let is_product = matches!(
            line.kind,
            LineKind::Sale | LineKind::Return | LineKind::ZeroPrice
        );
        if !is_product || line.invoiced_at >= cutoff || line.description.trim().is_empty() {
            continue;
        }
        *counts
            .entry(&line.sku)
            .or_default()
            .entry(line.description.trim())
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(sku, titles)| {
            let title = titles
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(title, _)| title.to_string())
                .unwrap_or_default();
            (sku.to_string(), title)
        })
        .unzip()
}
