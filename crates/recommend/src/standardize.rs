//! Z-score standardization of feature columns.
//!
//! The means and standard deviations come from the training rows only and
//! are then applied unchanged to the test rows, so no statistic of the test
//! window reaches the model.

use serde::{Deserialize, Serialize};

use crate::matrix::FeatureMatrix;

/// Column means and population standard deviations of a training matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    means: Vec<f64>,
    stds: Vec<f64>,
}

impl Standardizer {
    /// Computes the mean and standard deviation of every column.
    ///
    /// A column with zero spread gets a standard deviation of 1, so it maps
    /// to 0 everywhere instead of dividing by zero.
    pub fn fit(matrix: &FeatureMatrix) -> Standardizer {
        let n_features = matrix.n_features();
        let n_rows = matrix.n_rows().max(1) as f64;

        let mut means = vec![0.0; n_features];
        for row in matrix.rows() {
            for (mean, &value) in means.iter_mut().zip(row) {
                *mean += value;
            }
        }
        for mean in &mut means {
            *mean /= n_rows;
        }

        let mut variances = vec![0.0; n_features];
        for row in matrix.rows() {
            for ((variance, &value), &mean) in variances.iter_mut().zip(row).zip(&means) {
                *variance += (value - mean).powi(2);
            }
        }
        let stds = variances
            .into_iter()
            .map(|variance| {
                let std = (variance / n_rows).sqrt();
                if std > 0.0 {
                    std
                } else {
                    1.0
                }
            })
            .collect();

        Standardizer { means, stds }
    }

    /// Standardizes one row in place.
    pub fn transform_row(&self, row: &mut [f64]) {
        for ((value, &mean), &std) in row.iter_mut().zip(&self.means).zip(&self.stds) {
            *value = (*value - mean) / std;
        }
    }

    /// Replaces every value by `(value - mean) / std` of its column.
    pub fn transform(&self, matrix: &mut FeatureMatrix) {
        assert_eq!(
            matrix.n_features(),
            self.means.len(),
            "column count changed"
        );
        for row in matrix.rows_mut() {
            for ((value, &mean), &std) in row.iter_mut().zip(&self.means).zip(&self.stds) {
                *value = (*value - mean) / std;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[[f64; 2]]) -> FeatureMatrix {
        let mut matrix = FeatureMatrix::new(2);
        for row in rows {
            matrix.push_row(row);
        }
        matrix
    }

    #[test]
    fn standardized_training_columns_have_zero_mean_unit_std() {
        let mut train = matrix(&[[1.0, 10.0], [3.0, 20.0], [5.0, 30.0]]);
        let standardizer = Standardizer::fit(&train);
        standardizer.transform(&mut train);

        let std_first = (8.0f64 / 3.0).sqrt();
        assert!((train.row(0)[0] - (-2.0 / std_first)).abs() < 1e-12);
        assert!((train.row(1)[0]).abs() < 1e-12);
        assert!((train.row(2)[1] - 10.0 / (200.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn constant_column_maps_to_zero() {
        let mut train = matrix(&[[7.0, 1.0], [7.0, 2.0]]);
        let standardizer = Standardizer::fit(&train);
        standardizer.transform(&mut train);
        assert_eq!(train.row(0)[0], 0.0);
        assert_eq!(train.row(1)[0], 0.0);
    }

    #[test]
    fn test_rows_use_training_statistics() {
        let train = matrix(&[[0.0, 0.0], [2.0, 2.0]]);
        let standardizer = Standardizer::fit(&train);

        let mut test = matrix(&[[4.0, 1.0]]);
        standardizer.transform(&mut test);
        // Training mean 1 and std 1 in both columns.
        assert_eq!(test.row(0), &[3.0, 0.0]);
    }
}
