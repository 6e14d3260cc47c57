//! The customer-by-item purchase matrix in compressed sparse row form.
//!
//! [`Interactions::from_history`] turns a [`PurchaseHistory`] into one row
//! per known customer (in customer-id order) holding, for every item they
//! bought, the number of distinct invoices with that item. The matrix
//! factorization and neighbourhood models read it by row (customers) and by
//! column (items, through [`Csr::transpose`]).

use std::collections::HashMap;

use crate::history::PurchaseHistory;

/// A sparse matrix in compressed sparse row form with `f32` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    n_rows: usize,
    n_cols: usize,
    /// Row `r` contains entries `indptr[r]..indptr[r + 1]`.
    indptr: Vec<usize>,
    /// Column of each entry, sorted within a row.
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Csr {
    /// Builds a matrix from rows of `(column, value)` pairs; panics when a
    /// column is out of range. Pairs are sorted by column within each row.
    pub fn from_rows(n_cols: usize, rows: Vec<Vec<(u32, f32)>>) -> Csr {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        indptr.push(0);
        for mut row in rows {
            row.sort_by_key(|&(col, _)| col);
            for (col, value) in row {
                assert!((col as usize) < n_cols, "column {col} out of range");
                indices.push(col);
                values.push(value);
            }
            indptr.push(indices.len());
        }
        Csr {
            n_rows: indptr.len() - 1,
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Columns and values of row `row_idx`.
    pub fn row(&self, row_idx: usize) -> (&[u32], &[f32]) {
        let range = self.indptr[row_idx]..self.indptr[row_idx + 1];
        (&self.indices[range.clone()], &self.values[range])
    }

    /// Whether row `row_idx` has an entry in column `col`.
    pub fn contains(&self, row_idx: usize, col: u32) -> bool {
        self.row(row_idx).0.binary_search(&col).is_ok()
    }

    /// The same entries with rows and columns swapped.
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.n_cols + 1];
        for &col in &self.indices {
            counts[col as usize + 1] += 1;
        }
        for col in 0..self.n_cols {
            counts[col + 1] += counts[col];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for row_idx in 0..self.n_rows {
            let (cols, vals) = self.row(row_idx);
            for (&col, &value) in cols.iter().zip(vals) {
                let slot = next[col as usize];
                indices[slot] = row_idx as u32;
                values[slot] = value;
                next[col as usize] += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }

    /// A copy with every value replaced by `f(value)`.
    pub fn map_values(&self, f: impl Fn(f32) -> f32) -> Csr {
        Csr {
            values: self.values.iter().map(|&value| f(value)).collect(),
            ..self.clone()
        }
    }

    /// A copy with every value replaced by `f(row, col, value)`.
    pub fn map_entries(&self, f: impl Fn(usize, u32, f32) -> f32) -> Csr {
        let mut values = Vec::with_capacity(self.nnz());
        for row_idx in 0..self.n_rows {
            let (cols, vals) = self.row(row_idx);
            for (&col, &value) in cols.iter().zip(vals) {
                values.push(f(row_idx, col, value));
            }
        }
        Csr {
            values,
            ..self.clone()
        }
    }
}

/// Purchase counts of known customers before a cutoff.
#[derive(Debug, Clone)]
pub struct Interactions {
    customer_ids: Vec<String>,
    customer_index: HashMap<String, usize>,
    /// Customers by items: distinct invoices containing the item.
    counts: Csr,
}

impl Interactions {
    /// One row per customer of `history`, in customer-id order, and one
    /// column per catalog item.
    pub fn from_history(history: &PurchaseHistory) -> Interactions {
        let mut customer_ids = Vec::with_capacity(history.n_customers());
        let mut rows = Vec::with_capacity(history.n_customers());
        for (customer_id, customer) in history.customers() {
            customer_ids.push(customer_id.to_string());
            rows.push(
                customer
                    .items
                    .iter()
                    .map(|item| (item.item_idx as u32, item.n_invoices as f32))
                    .collect(),
            );
        }
        let customer_index = customer_ids
            .iter()
            .enumerate()
            .map(|(user_idx, id)| (id.clone(), user_idx))
            .collect();
        Interactions {
            customer_ids,
            customer_index,
            counts: Csr::from_rows(history.n_items(), rows),
        }
    }

    /// Row index of a customer, or `None` when they bought nothing.
    pub fn user_idx(&self, customer_id: &str) -> Option<usize> {
        self.customer_index.get(customer_id).copied()
    }

    /// Customer id of a row.
    pub fn customer_id(&self, user_idx: usize) -> &str {
        &self.customer_ids[user_idx]
    }

    /// Purchase counts, customers by items.
    pub fn counts(&self) -> &Csr {
        &self.counts
    }

    /// Confidence `1 + alpha * ln(1 + n)` for `n` invoices with the item,
    /// the implicit-feedback weighting of Hu, Koren & Volinsky (2008) with
    /// a log scale so that a wholesale buyer's repeat orders do not swamp
    /// everyone else.
    pub fn confidence(&self, alpha: f32) -> Csr {
        self.counts.map_values(|n| 1.0 + alpha * n.ln_1p())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let matrix = Csr::from_rows(3, vec![vec![(2, 1.0), (0, 2.0)], vec![(1, 3.0)]]);
        let transposed = matrix.transpose();
        assert_eq!(transposed.n_rows(), 3);
        assert_eq!(transposed.row(0), (&[0u32][..], &[2.0f32][..]));
        assert_eq!(transposed.row(1), (&[1u32][..], &[3.0f32][..]));
        assert_eq!(transposed.row(2), (&[0u32][..], &[1.0f32][..]));
        assert_eq!(transposed.transpose(), matrix);
    }

    #[test]
    fn counts_are_distinct_invoices() {
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "UK", at(2011, 1, 1)),
            line("1", "A", 5, 1.0, "c1", "UK", at(2011, 1, 1)),
            line("2", "A", 1, 1.0, "c1", "UK", at(2011, 1, 3)),
            line("2", "B", 1, 1.0, "c1", "UK", at(2011, 1, 3)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));
        let interactions = Interactions::from_history(&history);
        let (items, counts) = interactions.counts().row(0);
        assert_eq!(items, &[0, 1]);
        assert_eq!(counts, &[2.0, 1.0]);
        let confidence = interactions.confidence(10.0);
        assert!((confidence.row(0).1[0] - (1.0 + 10.0 * 3f32.ln())).abs() < 1e-5);
    }
}
