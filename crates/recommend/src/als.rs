//! Implicit-feedback matrix factorization by alternating least squares.
//!
//! The model of Hu, Koren & Volinsky (2008, "Collaborative Filtering for
//! Implicit Feedback Datasets", ICDM): every customer u and item i get
//! vectors `x_u`, `y_i` of `factors` values, fitted to the preference
//! `p_ui = 1` (bought) or 0 (not bought) with confidence `c_ui` (1 for
//! unbought items) by minimizing
//! `sum c_ui (p_ui - x_u . y_i)^2 + regularization * (|x|^2 + |y|^2)`.
//!
//! Each half-step solves every customer's (then every item's) normal
//! equations `(Y'Y + Y' (C_u - I) Y + lambda I) x_u = Y' C_u p_u` with a few
//! conjugate-gradient steps started from the previous solution (Takács,
//! Pilászy & Tikk 2011, "Applications of the conjugate gradient method for
//! implicit feedback collaborative filtering", RecSys), so one iteration
//! costs `O(nnz * factors * cg_steps + n * factors^2)`. The dense products
//! go through ndarray (matrixmultiply); rows are solved in parallel with rayon.

use ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::interactions::Csr;

/// Squared residual norm below which conjugate gradient stops early.
const CG_TOLERANCE: f32 = 1e-20;

/// Settings of [`AlsModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsOptions {
    /// Length of the customer and item vectors.
    pub factors: usize,
    /// L2 penalty `lambda` on every vector.
    pub regularization: f32,
    /// Alternating passes (customers, then items).
    pub iterations: usize,
    /// Confidence scale: `c = 1 + alpha * ln(1 + invoices)`.
    pub alpha: f32,
    /// Conjugate-gradient steps per row and half-step.
    pub cg_steps: usize,
    /// Seed of the initial vectors.
    pub seed: u64,
}

impl Default for AlsOptions {
    /// 64 factors, lambda 0.1, 15 iterations, alpha 20, 3 CG steps, seed 42.
    fn default() -> AlsOptions {
        AlsOptions {
            factors: 64,
            regularization: 0.1,
            iterations: 15,
            alpha: 20.0,
            cg_steps: 3,
            seed: 42,
        }
    }
}

/// Fitted customer and item vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsModel {
    /// Customers by factors, rows in [`Interactions`] order.
    ///
    /// [`Interactions`]: crate::interactions::Interactions
    pub user_factors: Array2<f32>,
    /// Items by factors.
    pub item_factors: Array2<f32>,
    /// L2 penalty used in training, reused to fold in new customers.
    pub regularization: f32,
    /// Confidence scale used in training, reused to fold in new customers.
    pub alpha: f32,
}

/// Work vectors of one conjugate-gradient solve.
struct CgBuffers {
    residual: Array1<f32>,
    direction: Array1<f32>,
    product: Array1<f32>,
}

impl CgBuffers {
    fn new(factors: usize) -> CgBuffers {
        CgBuffers {
            residual: Array1::zeros(factors),
            direction: Array1::zeros(factors),
            product: Array1::zeros(factors),
        }
    }
}

impl AlsModel {
    /// Fits the model to `confidence`, customers by items, whose entries are
    /// the confidences `c_ui` of bought items.
    pub fn fit(confidence: &Csr, options: &AlsOptions) -> AlsModel {
        let by_item = confidence.transpose();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut init = |n_rows: usize| {
            Array2::from_shape_fn((n_rows, options.factors), |_| rng.gen::<f32>() * 0.01)
        };
        let mut user_factors = init(confidence.n_rows());
        let mut item_factors = init(confidence.n_cols());

        for _ in 0..options.iterations {
            solve_side(
                &mut user_factors,
                &item_factors,
                confidence,
                options.regularization,
                options.cg_steps,
            );
            solve_side(
                &mut item_factors,
                &user_factors,
                &by_item,
                options.regularization,
                options.cg_steps,
            );
        }
        AlsModel {
            user_factors,
            item_factors,
            regularization: options.regularization,
            alpha: options.alpha,
        }
    }

    /// Number of factors per vector.
    pub fn factors(&self) -> usize {
        self.item_factors.ncols()
    }

    /// Scores of every item for the vector `user`: `Y x_u`.
    pub fn scores(&self, user: ArrayView1<'_, f32>) -> Array1<f32> {
        self.item_factors.dot(&user)
    }

    /// Vector of a customer absent from training, from the items they
    /// bought or viewed and their confidences: one exact least-squares
    /// solve against the fixed item vectors (conjugate gradient run to
    /// `factors` steps).
    pub fn fold_in(&self, items: &[(u32, f32)]) -> Array1<f32> {
        let factors = self.factors();
        let mut gram = self.item_factors.t().dot(&self.item_factors);
        gram.diag_mut().mapv_inplace(|v| v + self.regularization);
        let mut sorted = items.to_vec();
        sorted.sort_by_key(|&(item, _)| item);
        sorted.dedup_by_key(|&mut (item, _)| item);
        let (indices, values): (Vec<u32>, Vec<f32>) = sorted.into_iter().unzip();

        let mut user = Array1::zeros(factors);
        let mut buffers = CgBuffers::new(factors);
        solve_row(
            user.view_mut(),
            &gram,
            &self.item_factors,
            &indices,
            &values,
            factors,
            &mut buffers,
        );
        user
    }

    /// Cosine similarity of two items' vectors, 0 when either is zero.
    pub fn item_cosine(&self, a: usize, b: usize) -> f32 {
        let (va, vb) = (self.item_factors.row(a), self.item_factors.row(b));
        let norms = va.dot(&va).sqrt() * vb.dot(&vb).sqrt();
        if norms > 0.0 {
            va.dot(&vb) / norms
        } else {
            0.0
        }
    }
}

/// Updates every row of `target` given the fixed vectors of the other side.
fn solve_side(
    target: &mut Array2<f32>,
    fixed: &Array2<f32>,
    confidence: &Csr,
    regularization: f32,
    cg_steps: usize,
) {
    let factors = fixed.ncols();
    let mut gram = fixed.t().dot(fixed);
    gram.diag_mut().mapv_inplace(|v| v + regularization);

    target
        .as_slice_mut()
        .expect("factor matrices are contiguous")
        .par_chunks_mut(factors)
        .enumerate()
        .for_each_init(
            || CgBuffers::new(factors),
            |buffers, (row_idx, row)| {
                let (indices, values) = confidence.row(row_idx);
                solve_row(
                    ArrayViewMut1::from(row),
                    &gram,
                    fixed,
                    indices,
                    values,
                    cg_steps,
                    buffers,
                );
            },
        );
}

/// Runs `steps` conjugate-gradient steps on one row's normal equations
/// `A x = b`, with `A = gram + sum (c - 1) y y'` and `b = sum c y` over the
/// row's entries, starting from the current `x`.
fn solve_row(
    x: ArrayViewMut1<'_, f32>,
    gram: &Array2<f32>,
    fixed: &Array2<f32>,
    indices: &[u32],
    confidences: &[f32],
    steps: usize,
    buffers: &mut CgBuffers,
) {
    let CgBuffers {
        residual,
        direction,
        product,
    } = buffers;
    let as_slice = "factor vectors are contiguous";
    cg_steps(
        x.into_slice().expect(as_slice),
        gram.as_slice().expect(as_slice),
        fixed.as_slice().expect(as_slice),
        indices,
        confidences,
        steps,
        residual.as_slice_mut().expect(as_slice),
        direction.as_slice_mut().expect(as_slice),
        product.as_slice_mut().expect(as_slice),
    );
}

/// The loop of [`solve_row`] on plain slices: `gram` is `k x k` and
/// `fixed` holds one row of `k` factors per item, both row-major.
///
/// Compiled twice, for the baseline x86-64 instruction set and with AVX2
/// and FMA, and the variant is picked at run time: one binary runs on any
/// x86-64 CPU and uses the wider vectors where the CPU has them. The dot
/// products keep 8 partial sums so that the compiler can vectorize them.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn cg_steps(
    x: &mut [f32],
    gram: &[f32],
    fixed: &[f32],
    indices: &[u32],
    confidences: &[f32],
    steps: usize,
    residual: &mut [f32],
    direction: &mut [f32],
    product: &mut [f32],
) {
    let k = x.len();
    let item = |idx: u32| &fixed[idx as usize * k..(idx as usize + 1) * k];

    // residual = b - A x
    for (row, r) in residual.iter_mut().enumerate() {
        *r = -dot(&gram[row * k..(row + 1) * k], x);
    }
    for (&idx, &c) in indices.iter().zip(confidences) {
        let y = item(idx);
        axpy(c - (c - 1.0) * dot(y, x), y, residual);
    }
    direction.copy_from_slice(residual);
    let mut residual_norm = dot(residual, residual);

    for _ in 0..steps {
        if residual_norm < CG_TOLERANCE {
            break;
        }
        for (row, p) in product.iter_mut().enumerate() {
            *p = dot(&gram[row * k..(row + 1) * k], direction);
        }
        for (&idx, &c) in indices.iter().zip(confidences) {
            let y = item(idx);
            axpy((c - 1.0) * dot(y, direction), y, product);
        }
        let step = residual_norm / dot(direction, product);
        axpy(step, direction, x);
        axpy(-step, product, residual);

        let new_norm = dot(residual, residual);
        let beta = new_norm / residual_norm;
        for (d, &r) in direction.iter_mut().zip(residual.iter()) {
            *d = r + beta * *d;
        }
        residual_norm = new_norm;
    }
}

/// Sum of `a[i] * b[i]`, in 8 interleaved partial sums.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (xa, xb) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            sums[lane] += xa[lane] * xb[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// `out += scale * v`.
#[inline(always)]
fn axpy(scale: f32, v: &[f32], out: &mut [f32]) {
    for (o, &value) in out.iter_mut().zip(v) {
        *o += scale * value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two groups of customers, each buying only its own group's items.
    fn two_blocks() -> Csr {
        let rows = (0..20)
            .map(|user| {
                let base = if user < 10 { 0 } else { 5 };
                (0..4)
                    .map(|offset| ((base + (user + offset) % 5) as u32, 3.0))
                    .collect()
            })
            .collect();
        Csr::from_rows(10, rows)
    }

    fn options() -> AlsOptions {
        AlsOptions {
            factors: 4,
            regularization: 0.1,
            iterations: 10,
            alpha: 1.0,
            cg_steps: 3,
            seed: 1,
        }
    }

    #[test]
    fn scores_own_block_above_other_block() {
        let matrix = two_blocks();
        let model = AlsModel::fit(&matrix, &options());
        // Customer 0 bought items 0..=3; item 4 is in its block, item 9 not.
        let scores = model.scores(model.user_factors.row(0));
        assert!(scores[4] > scores[9], "{scores}");
        assert!(scores[4] > 0.3, "{scores}");
    }

    #[test]
    fn fold_in_matches_block() {
        let model = AlsModel::fit(&two_blocks(), &options());
        let user = model.fold_in(&[(6, 3.0), (7, 3.0)]);
        let scores = model.scores(user.view());
        assert!(scores[8] > scores[1], "{scores}");
    }

    #[test]
    fn cg_solves_small_system_exactly() {
        // With as many steps as factors, CG reaches the exact solution.
        let fixed = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let mut gram = fixed.t().dot(&fixed);
        gram.diag_mut().mapv_inplace(|v| v + 0.5);
        let mut x = Array1::zeros(2);
        let mut buffers = CgBuffers::new(2);
        solve_row(
            x.view_mut(),
            &gram,
            &fixed,
            &[0, 2],
            &[3.0, 2.0],
            2,
            &mut buffers,
        );
        // A = gram + 2 y0 y0' + 1 y2 y2' = [[5.5, 2], [2, 3.5]] and
        // b = 3 y0 + 2 y2 = [5, 2].
        let a = [[5.5f32, 2.0], [2.0, 3.5]];
        let b = [5.0f32, 2.0];
        for r in 0..2 {
            let lhs = a[r][0] * x[0] + a[r][1] * x[1];
            assert!((lhs - b[r]).abs() < 1e-4, "row {r}: {lhs} vs {}", b[r]);
        }
    }
}
