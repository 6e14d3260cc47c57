//! Binary logistic regression trained by mini-batch gradient descent with
//! Adam, then refined by Newton steps to the exact minimum.
//!
//! Adam with a fixed step size stops near the minimum of the penalized
//! cross-entropy but keeps moving around it with the mini-batch noise. The
//! objective is convex, so a few full-batch Newton steps from there reach
//! its minimum to within 1e-9 in gradient, the same weights any exact
//! solver finds. Each Newton direction is solved by conjugate gradients
//! with Hessian-vector products, so no Hessian is ever formed (the
//! "newton-cg" method of Nocedal and Wright, Numerical Optimization,
//! chapter 7).
//!
//! The model is small enough to train in a fraction of a second on a
//! shop's customers, and its weights on standardized features can be read
//! as the direction and strength of each feature's effect. Training is
//! single-threaded and draws all randomness from one seeded [`StdRng`], so
//! the same data and options give bit-identical weights.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::matrix::FeatureMatrix;

/// Adam's decay rate for the first-moment estimate (Kingma & Ba 2015).
const ADAM_BETA1: f64 = 0.9;
/// Adam's decay rate for the second-moment estimate (Kingma & Ba 2015).
const ADAM_BETA2: f64 = 0.999;
/// Adam's term that keeps the update finite when the second moment is 0.
const ADAM_EPSILON: f64 = 1e-8;

/// Largest number of Newton steps after Adam.
const NEWTON_STEPS: usize = 50;
/// Newton stops when no gradient component is larger than this.
const NEWTON_TOLERANCE: f64 = 1e-9;
/// Largest number of conjugate-gradient iterations per Newton direction.
const CG_ITERATIONS: usize = 200;

/// Hyperparameters of [`LogisticRegression::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per gradient step; the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Adam step size (alpha in Kingma & Ba 2015).
    pub learning_rate: f64,
    /// Coefficient `lambda` of the penalty `lambda / 2 * ||w||^2` on the
    /// weights; the intercept is not penalized.
    pub l2: f64,
    /// Seed of the generator that shuffles the rows each epoch.
    pub seed: u64,
}

/// Weights and intercept of a fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    weights: Vec<f64>,
    intercept: f64,
}

/// Adam's moment estimates for one parameter vector.
struct AdamState {
    first_moment: Vec<f64>,
    second_moment: Vec<f64>,
    n_steps: i32,
}

impl AdamState {
    fn new(n_params: usize) -> AdamState {
        AdamState {
            first_moment: vec![0.0; n_params],
            second_moment: vec![0.0; n_params],
            n_steps: 0,
        }
    }

    /// Applies one Adam update to `params` (Kingma & Ba 2015, "Adam: A
    /// Method for Stochastic Optimization", ICLR, arXiv:1412.6980,
    /// Algorithm 1), with bias-corrected first and second moments of the
    /// gradient.
    fn step(&mut self, params: &mut [f64], gradient: &[f64], learning_rate: f64) {
        self.n_steps += 1;
        let first_correction = 1.0 - ADAM_BETA1.powi(self.n_steps);
        let second_correction = 1.0 - ADAM_BETA2.powi(self.n_steps);
        for param_idx in 0..params.len() {
            let grad = gradient[param_idx];
            let m = &mut self.first_moment[param_idx];
            *m = ADAM_BETA1 * *m + (1.0 - ADAM_BETA1) * grad;
            let v = &mut self.second_moment[param_idx];
            *v = ADAM_BETA2 * *v + (1.0 - ADAM_BETA2) * grad * grad;

            let m_hat = self.first_moment[param_idx] / first_correction;
            let v_hat = self.second_moment[param_idx] / second_correction;
            params[param_idx] -= learning_rate * m_hat / (v_hat.sqrt() + ADAM_EPSILON);
        }
    }
}

impl LogisticRegression {
    /// Fits the model to `features` and `labels` by minimizing the mean
    /// binary cross-entropy plus `l2 / 2 * ||w||^2`: Adam over mini-batches,
    /// then Newton steps on all rows.
    ///
    /// Weights and intercept start at 0, and the rows are shuffled at the
    /// start of every epoch. Panics when the label count differs from the
    /// row count or when `batch_size` is 0.
    pub fn fit(
        features: &FeatureMatrix,
        labels: &[bool],
        options: &TrainOptions,
    ) -> LogisticRegression {
        assert_eq!(features.n_rows(), labels.len(), "one label per row");
        assert!(options.batch_size > 0, "batch_size must be at least 1");

        let n_features = features.n_features();
        // Parameters are the weights followed by the intercept.
        let mut params = vec![0.0; n_features + 1];
        let mut gradient = vec![0.0; n_features + 1];
        let mut adam = AdamState::new(n_features + 1);
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut order: Vec<usize> = (0..features.n_rows()).collect();

        for _ in 0..options.epochs {
            order.shuffle(&mut rng);
            for batch in order.chunks(options.batch_size) {
                batch_gradient(&params, features, labels, batch, options.l2, &mut gradient);
                adam.step(&mut params, &gradient, options.learning_rate);
            }
        }

        let newton_steps = refine_newton(&mut params, features, labels, options.l2);

        let intercept = params.pop().unwrap_or(0.0);
        let model = LogisticRegression {
            weights: params,
            intercept,
        };
        debug!(
            n_rows = features.n_rows(),
            n_features,
            epochs = options.epochs,
            newton_steps,
            mean_loss = model.mean_cross_entropy(features, labels),
            "fitted logistic regression"
        );
        model
    }

    /// Probability of the positive class for one row of features.
    pub fn predict_probability(&self, row: &[f64]) -> f64 {
        sigmoid(linear_score(&self.weights, self.intercept, row))
    }

    /// Probabilities for every row of `features`.
    pub fn predict_probabilities(&self, features: &FeatureMatrix) -> Vec<f64> {
        features
            .rows()
            .map(|row| self.predict_probability(row))
            .collect()
    }

    /// Weights, one per feature column.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Intercept (bias) term.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    fn mean_cross_entropy(&self, features: &FeatureMatrix, labels: &[bool]) -> f64 {
        crate::metrics::log_loss(&self.predict_probabilities(features), labels)
    }
}

/// Writes into `gradient` the gradient of the batch's mean cross-entropy
/// plus the L2 penalty, with respect to the weights and then the intercept.
///
/// For one row, d(cross-entropy)/dw = (p - y) x and d/db = p - y, where
/// p = sigmoid(w.x + b). The penalty adds `l2 * w` to the weight gradient.
fn batch_gradient(
    params: &[f64],
    features: &FeatureMatrix,
    labels: &[bool],
    batch: &[usize],
    l2: f64,
    gradient: &mut [f64],
) {
    let n_features = features.n_features();
    let (weights, intercept) = (&params[..n_features], params[n_features]);
    gradient.fill(0.0);

    for &row_idx in batch {
        let row = features.row(row_idx);
        let label = if labels[row_idx] { 1.0 } else { 0.0 };
        let residual = sigmoid(linear_score(weights, intercept, row)) - label;
        for (grad, &value) in gradient[..n_features].iter_mut().zip(row) {
            *grad += residual * value;
        }
        gradient[n_features] += residual;
    }

    let batch_len = batch.len() as f64;
    for grad in gradient.iter_mut() {
        *grad /= batch_len;
    }
    for (grad, &weight) in gradient[..n_features].iter_mut().zip(weights) {
        *grad += l2 * weight;
    }
}

/// Moves `params` (weights, then intercept) to the minimum of the mean
/// cross-entropy plus `l2 / 2 * ||w||^2` by Newton steps with a
/// backtracking line search. Returns the number of steps taken.
fn refine_newton(params: &mut [f64], features: &FeatureMatrix, labels: &[bool], l2: f64) -> usize {
    let n_rows = features.n_rows();
    if n_rows == 0 {
        return 0;
    }
    let all: Vec<usize> = (0..n_rows).collect();
    let n_params = params.len();
    let mut gradient = vec![0.0; n_params];
    let mut curvature = vec![0.0; n_rows];
    for step in 0..NEWTON_STEPS {
        batch_gradient(params, features, labels, &all, l2, &mut gradient);
        if gradient.iter().all(|g| g.abs() <= NEWTON_TOLERANCE) {
            return step;
        }
        let n_features = n_params - 1;
        for (row_idx, weight) in curvature.iter_mut().enumerate() {
            let p = sigmoid(linear_score(
                &params[..n_features],
                params[n_features],
                features.row(row_idx),
            ));
            *weight = p * (1.0 - p);
        }
        let hessian_times = |v: &[f64], out: &mut [f64]| {
            hessian_vector(features, &curvature, l2, v, out);
        };
        let direction = conjugate_gradient(hessian_times, &gradient);

        // Backtracking: halve the step until the objective decreases.
        let before = objective(params, features, labels, l2);
        let slope: f64 = gradient.iter().zip(&direction).map(|(g, d)| g * d).sum();
        let mut size = 1.0;
        let mut candidate = params.to_vec();
        loop {
            for ((c, p), d) in candidate.iter_mut().zip(params.iter()).zip(&direction) {
                *c = p + size * d;
            }
            let after = objective(&candidate, features, labels, l2);
            if after <= before + 1e-4 * size * slope || size < 1e-10 {
                break;
            }
            size /= 2.0;
        }
        if size < 1e-10 {
            return step;
        }
        params.copy_from_slice(&candidate);
    }
    NEWTON_STEPS
}

/// Mean cross-entropy over all rows plus the L2 penalty on the weights.
fn objective(params: &[f64], features: &FeatureMatrix, labels: &[bool], l2: f64) -> f64 {
    let n_features = features.n_features();
    let (weights, intercept) = (&params[..n_features], params[n_features]);
    let total: f64 = features
        .rows()
        .zip(labels)
        .map(|(row, &label)| {
            // log(1 + e^z) - y z, written to stay finite for large |z|.
            let z = linear_score(weights, intercept, row);
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            softplus - if label { z } else { 0.0 }
        })
        .sum();
    total / features.n_rows() as f64 + l2 / 2.0 * weights.iter().map(|w| w * w).sum::<f64>()
}

/// Writes `H v` into `out`, where `H` is the Hessian of [`objective`]:
/// `X' diag(curvature) X / n` over the rows extended by a 1 for the
/// intercept, plus `l2` on the weights' diagonal.
fn hessian_vector(
    features: &FeatureMatrix,
    curvature: &[f64],
    l2: f64,
    v: &[f64],
    out: &mut [f64],
) {
    let n_features = features.n_features();
    out.fill(0.0);
    for (row, &weight) in features.rows().zip(curvature) {
        let projection = weight * linear_score(&v[..n_features], v[n_features], row);
        for (o, &x) in out[..n_features].iter_mut().zip(row) {
            *o += projection * x;
        }
        out[n_features] += projection;
    }
    let n = features.n_rows() as f64;
    for (o, &vi) in out[..n_features].iter_mut().zip(v) {
        *o = *o / n + l2 * vi;
    }
    out[n_features] /= n;
}

/// Solves `H d = -gradient` by conjugate gradients, given `H v` products.
fn conjugate_gradient(hessian_times: impl Fn(&[f64], &mut [f64]), gradient: &[f64]) -> Vec<f64> {
    let n = gradient.len();
    let mut solution = vec![0.0; n];
    let mut residual: Vec<f64> = gradient.iter().map(|g| -g).collect();
    let mut search = residual.clone();
    let mut product = vec![0.0; n];
    let mut residual_norm: f64 = residual.iter().map(|r| r * r).sum();
    let stop = residual_norm * 1e-20;
    for _ in 0..CG_ITERATIONS {
        if residual_norm <= stop {
            break;
        }
        hessian_times(&search, &mut product);
        let curvature: f64 = search.iter().zip(&product).map(|(s, p)| s * p).sum();
        if curvature <= 0.0 {
            break;
        }
        let alpha = residual_norm / curvature;
        for i in 0..n {
            solution[i] += alpha * search[i];
            residual[i] -= alpha * product[i];
        }
        let next_norm: f64 = residual.iter().map(|r| r * r).sum();
        let beta = next_norm / residual_norm;
        residual_norm = next_norm;
        for i in 0..n {
            search[i] = residual[i] + beta * search[i];
        }
    }
    if solution.iter().all(|s| *s == 0.0) {
        // No usable curvature: fall back to the steepest-descent direction.
        return gradient.iter().map(|g| -g).collect();
    }
    solution
}

fn linear_score(weights: &[f64], intercept: f64, row: &[f64]) -> f64 {
    intercept + weights.iter().zip(row).map(|(w, x)| w * x).sum::<f64>()
}

/// Logistic function 1 / (1 + e^-z), written so that neither branch
/// overflows for large |z|.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let exp_z = z.exp();
        exp_z / (1.0 + exp_z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn options(seed: u64) -> TrainOptions {
        TrainOptions {
            epochs: 50,
            batch_size: 16,
            learning_rate: 0.05,
            l2: 0.0,
            seed,
        }
    }

    /// Rows with two features; the label is 1 when the first feature plus
    /// noise is positive, and the second feature is pure noise.
    fn noisy_rows(n_rows: usize, seed: u64) -> (FeatureMatrix, Vec<bool>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut features = FeatureMatrix::new(2);
        let mut labels = Vec::new();
        for _ in 0..n_rows {
            let signal: f64 = rng.gen_range(-2.0..2.0);
            let noise: f64 = rng.gen_range(-2.0..2.0);
            features.push_row(&[signal, noise]);
            labels.push(signal + rng.gen_range(-0.5..0.5) > 0.0);
        }
        (features, labels)
    }

    #[test]
    fn fit_reaches_the_minimum_of_the_penalized_loss() {
        let (features, labels) = noisy_rows(400, 9);
        let mut options = options(3);
        options.l2 = 0.01;
        options.epochs = 2;
        let model = LogisticRegression::fit(&features, &labels, &options);

        let mut params = model.weights().to_vec();
        params.push(model.intercept());
        let all: Vec<usize> = (0..features.n_rows()).collect();
        let mut gradient = vec![0.0; params.len()];
        batch_gradient(&params, &features, &labels, &all, options.l2, &mut gradient);
        assert!(
            gradient.iter().all(|g| g.abs() < 1e-8),
            "gradient at the fitted weights: {gradient:?}"
        );
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(800.0) <= 1.0);
        assert!(sigmoid(-800.0) >= 0.0);
        assert!(sigmoid(-800.0).is_finite());
    }

    #[test]
    fn fit_learns_sign_of_signal() {
        let (features, labels) = noisy_rows(400, 1);
        let model = LogisticRegression::fit(&features, &labels, &options(7));

        assert!(model.weights()[0] > 2.0, "weights = {:?}", model.weights());
        assert!(
            model.weights()[1].abs() < 0.5,
            "weights = {:?}",
            model.weights()
        );
        assert!(model.predict_probability(&[1.5, 0.0]) > 0.9);
        assert!(model.predict_probability(&[-1.5, 0.0]) < 0.1);
    }

    #[test]
    fn fit_same_seed_is_bit_identical() {
        let (features, labels) = noisy_rows(200, 2);
        let first = LogisticRegression::fit(&features, &labels, &options(11));
        let second = LogisticRegression::fit(&features, &labels, &options(11));
        assert_eq!(first, second);
    }

    #[test]
    fn l2_penalty_shrinks_weights() {
        let (features, labels) = noisy_rows(400, 3);
        let free = LogisticRegression::fit(&features, &labels, &options(5));
        let penalized = LogisticRegression::fit(
            &features,
            &labels,
            &TrainOptions {
                l2: 1.0,
                ..options(5)
            },
        );
        assert!(penalized.weights()[0].abs() < free.weights()[0].abs());
    }

    #[test]
    fn batch_gradient_matches_finite_difference() {
        let (features, labels) = noisy_rows(20, 4);
        let params = [0.3, -0.2, 0.1];
        let batch: Vec<usize> = (0..20).collect();
        let l2 = 0.5;
        let mut gradient = [0.0; 3];
        batch_gradient(&params, &features, &labels, &batch, l2, &mut gradient);

        let objective = |params: &[f64]| {
            let model = LogisticRegression {
                weights: params[..2].to_vec(),
                intercept: params[2],
            };
            let penalty = l2 / 2.0 * (params[0].powi(2) + params[1].powi(2));
            model.mean_cross_entropy(&features, &labels) + penalty
        };
        let step = 1e-6;
        for param_idx in 0..3 {
            let mut plus = params;
            let mut minus = params;
            plus[param_idx] += step;
            minus[param_idx] -= step;
            let numeric = (objective(&plus) - objective(&minus)) / (2.0 * step);
            assert!(
                (numeric - gradient[param_idx]).abs() < 1e-6,
                "param {param_idx}: numeric {numeric}, analytic {}",
                gradient[param_idx]
            );
        }
    }
}
