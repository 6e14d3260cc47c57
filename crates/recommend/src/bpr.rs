//! Bayesian personalized ranking (Rendle, Freudenthaler, Gantner &
//! Schmidt-Thieme 2009, "BPR: Bayesian Personalized Ranking from Implicit
//! Feedback", UAI).
//!
//! The model learns customer vectors, item vectors and item biases so that
//! a bought item `i` scores above an unbought item `j`: each stochastic
//! gradient step samples a bought pair `(u, i)` and an unbought `j` and
//! raises `ln sigmoid(x_u . (y_i - y_j) + b_i - b_j)`. Training is
//! sequential and seeded, so the same data and options give the same model.

use ndarray::{Array1, Array2, ArrayView1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::interactions::Csr;

/// Settings of [`BprModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BprOptions {
    /// Length of the customer and item vectors.
    pub factors: usize,
    /// Step size of stochastic gradient ascent.
    pub learning_rate: f32,
    /// L2 penalty on vectors and biases.
    pub regularization: f32,
    /// Passes, each of as many samples as bought pairs.
    pub epochs: usize,
    /// Seed of the initial vectors and the sampling.
    pub seed: u64,
}

impl Default for BprOptions {
    /// 64 factors, step 0.05, lambda 0.01, 20 epochs, seed 42.
    fn default() -> BprOptions {
        BprOptions {
            factors: 64,
            learning_rate: 0.05,
            regularization: 0.01,
            epochs: 20,
            seed: 42,
        }
    }
}

/// Fitted BPR vectors and item biases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BprModel {
    /// Customers by factors.
    pub user_factors: Array2<f32>,
    /// Items by factors.
    pub item_factors: Array2<f32>,
    /// One bias per item.
    pub item_bias: Array1<f32>,
}

impl BprModel {
    /// Fits the model to the bought pairs of `purchases` (customers by
    /// items; only the pattern of entries matters).
    pub fn fit(purchases: &Csr, options: &BprOptions) -> BprModel {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let n_items = purchases.n_cols();
        let scale = 1.0 / (options.factors as f32).sqrt();
        let mut init = |n_rows: usize| {
            Array2::from_shape_fn((n_rows, options.factors), |_| {
                (rng.gen::<f32>() - 0.5) * scale
            })
        };
        let mut users = init(purchases.n_rows());
        let mut items = init(n_items);
        let mut bias = Array1::<f32>::zeros(n_items);

        let pairs: Vec<(usize, u32)> = (0..purchases.n_rows())
            .flat_map(|user| purchases.row(user).0.iter().map(move |&item| (user, item)))
            .collect();
        if pairs.is_empty() || n_items < 2 {
            return BprModel {
                user_factors: users,
                item_factors: items,
                item_bias: bias,
            };
        }

        let (lr, reg) = (options.learning_rate, options.regularization);
        let mut x_u = Array1::<f32>::zeros(options.factors);
        let mut diff = Array1::<f32>::zeros(options.factors);
        for _ in 0..options.epochs {
            for _ in 0..pairs.len() {
                let (user, pos) = pairs[rng.gen_range(0..pairs.len())];
                let neg = loop {
                    let candidate = rng.gen_range(0..n_items as u32);
                    if !purchases.contains(user, candidate) {
                        break candidate;
                    }
                };
                let (pos, neg) = (pos as usize, neg as usize);
                x_u.assign(&users.row(user));
                diff.assign(&items.row(pos));
                diff -= &items.row(neg);
                let margin = x_u.dot(&diff) + bias[pos] - bias[neg];
                let gradient = 1.0 / (1.0 + margin.exp());

                let mut user_row = users.row_mut(user);
                user_row *= 1.0 - lr * reg;
                user_row.scaled_add(lr * gradient, &diff);
                let mut pos_row = items.row_mut(pos);
                pos_row *= 1.0 - lr * reg;
                pos_row.scaled_add(lr * gradient, &x_u);
                let mut neg_row = items.row_mut(neg);
                neg_row *= 1.0 - lr * reg;
                neg_row.scaled_add(-lr * gradient, &x_u);
                bias[pos] += lr * (gradient - reg * bias[pos]);
                bias[neg] += lr * (-gradient - reg * bias[neg]);
            }
        }
        BprModel {
            user_factors: users,
            item_factors: items,
            item_bias: bias,
        }
    }

    /// Scores of every item for the customer vector `user`.
    pub fn scores(&self, user: ArrayView1<'_, f32>) -> Array1<f32> {
        self.item_factors.dot(&user) + &self.item_bias
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpr_ranks_block_items_first() {
        let rows = (0..20)
            .map(|user| {
                let base = if user < 10 { 0 } else { 5 };
                (0..4)
                    .map(|offset| ((base + (user + offset) % 5) as u32, 1.0))
                    .collect()
            })
            .collect();
        let matrix = Csr::from_rows(10, rows);
        let options = BprOptions {
            factors: 4,
            epochs: 200,
            ..BprOptions::default()
        };
        let model = BprModel::fit(&matrix, &options);
        // Customer 0 bought 0..=3; item 4 shares its block, item 9 does not.
        let scores = model.scores(model.user_factors.row(0));
        assert!(scores[4] > scores[9], "{scores}");
    }
}
