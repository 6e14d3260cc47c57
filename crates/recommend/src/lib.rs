//! Purchase-propensity scoring and item recommendations from order history,
//! with time-split evaluations against simple baselines.
//!
//! The two entry points take the cleaned [`OrderLine`]s of a shop, a cutoff
//! and a test window `[cutoff, cutoff + window)`. Models see only lines
//! strictly before the cutoff (features, item similarities, popularity),
//! and the test window provides the labels and the relevant items.
//!
//! - [`evaluate_propensity`] trains a logistic regression on
//!   customer-by-snapshot rows and reports AUC, log-loss, calibration and
//!   more, next to the AUC of ranking customers by recency alone.
//! - [`evaluate_recommenders`] scores the popularity, country-popularity
//!   and co-purchase recommenders by HR@k and NDCG@k.
//!
//! Both use product lines only ([`OrderLine::is_product`]) and only lines
//! with a customer id for anything per customer. Guests' invoices still
//! count as baskets for item similarity.
//!
//! # Layout
//!
//! - [`error`] defines [`RecommendError`].
//! - [`features`] computes per-customer features at a point in time and encodes them.
//! - [`matrix`] stores feature rows in one dense matrix.
//! - [`standardize`] turns columns into z-scores with training statistics.
//! - [`logistic`] trains logistic regression with Adam.
//! - [`metrics`] computes AUC, log-loss, the F1 threshold, calibration, NDCG and hit rate.
//! - [`propensity`] builds snapshot rows, trains the model and fills [`PropensityReport`].
//! - [`history`] indexes the sales before the cutoff by item and customer.
//! - [`recommender`] defines the [`Recommender`] trait.
//! - [`popularity`] ranks items by buyers, globally and per country.
//! - [`copurchase`] ranks items by basket cosine to the customer's items.
//! - [`evaluate`] scores the recommenders and fills [`RecommendReport`].
//! - [`interactions`] holds the customer-by-item purchase matrix.
//! - [`als`], [`bpr`], [`itemknn`], [`seasonal`] and [`content`] are the
//!   candidate models: implicit ALS, BPR, item-kNN, popularity per country
//!   and season, and title similarity for new products.
//! - [`engine`] pools their candidates, ranks them and explains each item.
//! - [`propensity_model`] trains the served propensity model (logistic
//!   regression and gradient-boosted trees, calibrated, explained).
//! - [`offline`] tunes and evaluates everything on a validation and a test
//!   window and fits the served [`RecommendModel`].
//!
//! [`OrderLine`]: mercator_data::OrderLine
//! [`OrderLine::is_product`]: mercator_data::OrderLine::is_product

pub mod als;
pub mod bpr;
pub mod content;
pub mod copurchase;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod history;
pub mod interactions;
pub mod itemknn;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod offline;
pub mod popularity;
pub mod propensity;
pub mod propensity_model;
pub mod recommender;
pub mod seasonal;
pub mod standardize;

#[cfg(test)]
mod testing;

pub use error::RecommendError;
pub use evaluate::{evaluate_recommenders, RankingMetrics, RecommendReport};
pub use metrics::CalibrationBin;
pub use offline::{train_recommender, OfflineConfig, OfflineReport, RecommendModel};
pub use propensity::{evaluate_propensity, FeatureWeight, PropensityConfig, PropensityReport};
pub use recommender::Recommender;
