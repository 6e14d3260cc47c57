//! Coherent forecasts across SKU x country, SKU, country and total.
//!
//! Forecasts made separately at each level do not add up. Two methods make
//! them coherent:
//!
//! - bottom-up: every aggregate is the sum of its SKU x country forecasts;
//! - WLS with structural scaling, the diagonal approximation of the MinT
//!   estimator in Wickramasuriya, Athanasopoulos & Hyndman (2019),
//!   "Optimal forecast reconciliation for hierarchical and grouped time
//!   series through trace minimization", JASA 114(526). With summing matrix
//!   `S` (rows: total, countries, SKUs, SKU x country) and `W = diag(S 1)`,
//!   the number of bottom series under each node, the reconciled bottom
//!   forecasts are `b = (S' W^-1 S)^-1 S' W^-1 y_hat` and every level is
//!   `S b`.
//!
//! Bottom forecasts that WLS turns negative while their base forecast was
//! not are set to 0 before the levels are summed again, the usual
//! non-negativity heuristic: the levels stay coherent, at a small cost in
//! optimality.
//!
//! The grouped structure (SKU and country both split the total) has one
//! unknown per SKU x country series, which is tens of thousands for a
//! large shop. The WLS system is therefore solved per forecast step with
//! conjugate gradients, applying `S` and `S'` as sums instead of storing
//! a matrix.

use serde::Serialize;

/// Reconciliation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileMethod {
    BottomUp,
    WlsStructural,
}

/// Mapping of each bottom (SKU x country) series to its SKU and country.
#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    /// `(sku_idx, country_idx)` of each bottom series.
    pub bottom: Vec<(usize, usize)>,
    pub n_skus: usize,
    pub n_countries: usize,
}

/// Forecasts of every level for one forecast step.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelValues {
    pub total: f64,
    pub countries: Vec<f64>,
    pub skus: Vec<f64>,
    pub bottom: Vec<f64>,
}

/// Conjugate-gradient iterations at most per step.
const MAX_CG_ITERATIONS: usize = 1000;

/// Relative residual norm at which conjugate gradients stop.
const CG_TOLERANCE: f64 = 1e-10;

impl Hierarchy {
    /// Sums bottom values into every level: the `S b` product.
    pub fn aggregate(&self, bottom: &[f64]) -> LevelValues {
        let mut countries = vec![0.0; self.n_countries];
        let mut skus = vec![0.0; self.n_skus];
        for (&(sku, country), &value) in self.bottom.iter().zip(bottom) {
            countries[country] += value;
            skus[sku] += value;
        }
        LevelValues {
            total: bottom.iter().sum(),
            countries,
            skus,
            bottom: bottom.to_vec(),
        }
    }

    /// Number of bottom series under each SKU and each country.
    fn counts(&self) -> (Vec<f64>, Vec<f64>) {
        let mut skus = vec![0.0; self.n_skus];
        let mut countries = vec![0.0; self.n_countries];
        for &(sku, country) in &self.bottom {
            skus[sku] += 1.0;
            countries[country] += 1.0;
        }
        (skus, countries)
    }

    /// Applies `S' W^-1` to values of every level, giving one value per bottom series.
    fn transpose_weighted(
        &self,
        values: &LevelValues,
        sku_counts: &[f64],
        country_counts: &[f64],
    ) -> Vec<f64> {
        let n_bottom = self.bottom.len() as f64;
        self.bottom
            .iter()
            .enumerate()
            .map(|(i, &(sku, country))| {
                values.total / n_bottom
                    + safe_div(values.countries[country], country_counts[country])
                    + safe_div(values.skus[sku], sku_counts[sku])
                    + values.bottom[i]
            })
            .collect()
    }
}

fn safe_div(value: f64, count: f64) -> f64 {
    if count > 0.0 {
        value / count
    } else {
        0.0
    }
}

/// Reconciles base forecasts of one step with `method`.
pub fn reconcile_step(
    hierarchy: &Hierarchy,
    base: &LevelValues,
    method: ReconcileMethod,
) -> LevelValues {
    match method {
        ReconcileMethod::BottomUp => hierarchy.aggregate(&base.bottom),
        ReconcileMethod::WlsStructural => {
            let mut bottom = solve_wls(hierarchy, base);
            // WLS can push a small series below zero to fit its aggregates.
            // Demand that its own model saw as non-negative stays so, and
            // the aggregates are summed again, so the levels still add up.
            for (value, &base_value) in bottom.iter_mut().zip(&base.bottom) {
                if base_value >= 0.0 && *value < 0.0 {
                    *value = 0.0;
                }
            }
            hierarchy.aggregate(&bottom)
        }
    }
}

/// Solves `(S' W^-1 S) b = S' W^-1 y_hat` by conjugate gradients, starting from the base bottom forecasts.
fn solve_wls(hierarchy: &Hierarchy, base: &LevelValues) -> Vec<f64> {
    let (sku_counts, country_counts) = hierarchy.counts();
    let apply = |x: &[f64]| {
        hierarchy.transpose_weighted(&hierarchy.aggregate(x), &sku_counts, &country_counts)
    };
    let rhs = hierarchy.transpose_weighted(base, &sku_counts, &country_counts);

    let mut x = base.bottom.clone();
    let ax = apply(&x);
    let mut residual: Vec<f64> = rhs.iter().zip(&ax).map(|(b, a)| b - a).collect();
    let mut direction = residual.clone();
    let mut residual_norm: f64 = residual.iter().map(|r| r * r).sum();
    let rhs_norm: f64 = rhs.iter().map(|r| r * r).sum::<f64>().max(1e-300);

    for _ in 0..MAX_CG_ITERATIONS {
        if residual_norm <= CG_TOLERANCE * CG_TOLERANCE * rhs_norm {
            break;
        }
        let a_direction = apply(&direction);
        let curvature: f64 = direction.iter().zip(&a_direction).map(|(d, a)| d * a).sum();
        if curvature <= 0.0 || !curvature.is_finite() {
            break;
        }
        let step = residual_norm / curvature;
        for i in 0..x.len() {
            x[i] += step * direction[i];
            residual[i] -= step * a_direction[i];
        }
        let new_norm: f64 = residual.iter().map(|r| r * r).sum();
        let ratio = new_norm / residual_norm;
        for i in 0..direction.len() {
            direction[i] = residual[i] + ratio * direction[i];
        }
        residual_norm = new_norm;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two SKUs in two countries, with SKU 1 sold only in country 0.
    fn hierarchy() -> Hierarchy {
        Hierarchy {
            bottom: vec![(0, 0), (0, 1), (1, 0)],
            n_skus: 2,
            n_countries: 2,
        }
    }

    fn incoherent_base() -> LevelValues {
        LevelValues {
            total: 40.0,
            countries: vec![25.0, 8.0],
            skus: vec![20.0, 12.0],
            bottom: vec![10.0, 5.0, 10.0],
        }
    }

    fn assert_coherent(values: &LevelValues) {
        let h = hierarchy();
        let sums = h.aggregate(&values.bottom);
        assert!((sums.total - values.total).abs() < 1e-8, "total");
        for (a, b) in sums.countries.iter().zip(&values.countries) {
            assert!((a - b).abs() < 1e-8, "country");
        }
        for (a, b) in sums.skus.iter().zip(&values.skus) {
            assert!((a - b).abs() < 1e-8, "sku");
        }
    }

    #[test]
    fn bottom_up_levels_add_up() {
        let reconciled =
            reconcile_step(&hierarchy(), &incoherent_base(), ReconcileMethod::BottomUp);

        assert_coherent(&reconciled);
        assert_eq!(reconciled.total, 25.0);
    }

    #[test]
    fn wls_levels_add_up() {
        let reconciled = reconcile_step(
            &hierarchy(),
            &incoherent_base(),
            ReconcileMethod::WlsStructural,
        );

        assert_coherent(&reconciled);
        assert!(reconciled.total > 25.0);
        assert!(reconciled.total < 40.0);
    }

    #[test]
    fn wls_keeps_coherent_forecasts() {
        let coherent = hierarchy().aggregate(&[3.0, 4.0, 5.0]);

        let reconciled = reconcile_step(&hierarchy(), &coherent, ReconcileMethod::WlsStructural);

        for (a, b) in reconciled.bottom.iter().zip(&coherent.bottom) {
            assert!((a - b).abs() < 1e-8);
        }
    }

    #[test]
    fn wls_never_turns_non_negative_demand_negative() {
        // Aggregates far below the bottom forecasts pull the small series
        // under 0 without the clip.
        let base = LevelValues {
            total: 2.0,
            countries: vec![2.0, 0.0],
            skus: vec![0.0, 2.0],
            bottom: vec![0.1, 0.1, 10.0],
        };

        let reconciled = reconcile_step(&hierarchy(), &base, ReconcileMethod::WlsStructural);

        assert!(
            reconciled.bottom.iter().all(|v| *v >= 0.0),
            "{reconciled:?}"
        );
        assert_coherent(&reconciled);
        let unclipped = hierarchy().aggregate(&solve_wls(&hierarchy(), &base));
        assert!(
            unclipped.bottom.iter().any(|v| *v < 0.0),
            "the case must need the clip: {unclipped:?}"
        );
    }
}
