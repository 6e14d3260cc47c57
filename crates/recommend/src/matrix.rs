//! A dense row-major feature matrix.
//!
//! The propensity model keeps one row per customer and snapshot in a single
//! `Vec<f64>`, so training walks contiguous memory instead of one heap
//! allocation per row.

/// Rows of `n_features` values each, stored row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    values: Vec<f64>,
    n_features: usize,
}

impl FeatureMatrix {
    /// Creates a matrix with no rows; panics when `n_features` is 0.
    pub fn new(n_features: usize) -> FeatureMatrix {
        assert!(
            n_features > 0,
            "a feature matrix needs at least one feature"
        );
        FeatureMatrix {
            values: Vec::new(),
            n_features,
        }
    }

    /// Appends one row; panics when its length is not `n_features`.
    pub fn push_row(&mut self, row: &[f64]) {
        assert_eq!(
            row.len(),
            self.n_features,
            "row length must equal n_features"
        );
        self.values.extend_from_slice(row);
    }

    /// Values per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_features
    }

    /// Row `row_idx`.
    pub fn row(&self, row_idx: usize) -> &[f64] {
        let start = row_idx * self.n_features;
        &self.values[start..start + self.n_features]
    }

    /// Iterates over the rows in order.
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.values.chunks_exact(self.n_features)
    }

    /// Iterates mutably over the rows in order.
    pub fn rows_mut(&mut self) -> impl Iterator<Item = &mut [f64]> {
        self.values.chunks_exact_mut(self.n_features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_push_order() {
        let mut matrix = FeatureMatrix::new(2);
        matrix.push_row(&[1.0, 2.0]);
        matrix.push_row(&[3.0, 4.0]);

        assert_eq!(matrix.n_rows(), 2);
        assert_eq!(matrix.row(1), &[3.0, 4.0]);
        let rows: Vec<&[f64]> = matrix.rows().collect();
        assert_eq!(rows, vec![&[1.0, 2.0][..], &[3.0, 4.0][..]]);
    }
}
