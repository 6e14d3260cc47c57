//! Item-to-item nearest neighbours over customers' purchases.
//!
//! Each item is a vector over customers; two items are similar when their
//! vectors have a high cosine. [`KnnWeighting::Cosine`] uses 1 for every
//! bought pair. [`KnnWeighting::Bm25`] weighs entries like the Okapi BM25
//! term weight (Robertson & Zaragoza 2009), treating a customer as a
//! document and their invoice count as term frequency: heavy buyers and
//! items everyone buys count less. Neighbour lists are computed in
//! parallel with rayon and truncated to the most similar items.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::interactions::Csr;

/// How entries of the customer-by-item matrix are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum KnnWeighting {
    /// Binary: 1 for every bought pair.
    Cosine,
    /// BM25 weight with saturation `k1` and length normalization `b`.
    Bm25 {
        /// Saturation of repeated purchases.
        k1: f32,
        /// Weight of the customer's basket breadth, in `[0, 1]`.
        b: f32,
    },
}

/// Item neighbour lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemKnn {
    /// For each item, `(item, cosine)` pairs, most similar first.
    pub neighbors: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    /// Computes the `max_neighbors` most similar items of every item from
    /// purchase counts (customers by items).
    pub fn fit(counts: &Csr, weighting: KnnWeighting, max_neighbors: usize) -> ItemKnn {
        let weighted = weigh(counts, weighting);
        let by_item = weighted.transpose();
        let norms: Vec<f32> = (0..by_item.n_rows())
            .map(|item| {
                by_item
                    .row(item)
                    .1
                    .iter()
                    .map(|w| w * w)
                    .sum::<f32>()
                    .sqrt()
            })
            .collect();

        let n_items = by_item.n_rows();
        let neighbors = (0..n_items)
            .into_par_iter()
            .map_init(
                || (vec![0f32; n_items], Vec::<u32>::new()),
                |(dots, touched), item| {
                    let (users, weights) = by_item.row(item);
                    for (&user, &w_ui) in users.iter().zip(weights) {
                        let (others, other_weights) = weighted.row(user as usize);
                        for (&other, &w_uj) in others.iter().zip(other_weights) {
                            if other as usize == item {
                                continue;
                            }
                            if dots[other as usize] == 0.0 {
                                touched.push(other);
                            }
                            dots[other as usize] += w_ui * w_uj;
                        }
                    }
                    let mut list: Vec<(u32, f32)> = touched
                        .iter()
                        .map(|&other| {
                            let norm = norms[item] * norms[other as usize];
                            (other, dots[other as usize] / norm.max(f32::MIN_POSITIVE))
                        })
                        .collect();
                    for &other in touched.iter() {
                        dots[other as usize] = 0.0;
                    }
                    touched.clear();
                    keep_top(&mut list, max_neighbors);
                    list
                },
            )
            .collect();
        ItemKnn { neighbors }
    }

    /// Neighbours of an item, most similar first.
    pub fn neighbors(&self, item: usize) -> &[(u32, f32)] {
        &self.neighbors[item]
    }
}

/// Sorts `(item, score)` pairs by score, highest first with ties to the
/// lower item, and keeps the first `k`.
pub(crate) fn keep_top(list: &mut Vec<(u32, f32)>, k: usize) {
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if list.len() > k && k > 0 {
        list.select_nth_unstable_by(k - 1, order);
    }
    list.truncate(k);
    list.sort_by(order);
}

fn weigh(counts: &Csr, weighting: KnnWeighting) -> Csr {
    match weighting {
        KnnWeighting::Cosine => counts.map_values(|_| 1.0),
        KnnWeighting::Bm25 { k1, b } => {
            let n_users = counts.n_rows() as f32;
            let by_item = counts.transpose();
            let idf: Vec<f32> = (0..by_item.n_rows())
                .map(|item| {
                    let df = by_item.row(item).0.len() as f32;
                    (n_users / df.max(1.0)).ln().max(0.0) + 1e-3
                })
                .collect();
            let lengths: Vec<f32> = (0..counts.n_rows())
                .map(|user| counts.row(user).0.len() as f32)
                .collect();
            let mean_length = lengths.iter().sum::<f32>() / n_users.max(1.0);
            counts.map_entries(|user, item, tf| {
                let norm = (1.0 - b) + b * lengths[user] / mean_length.max(1.0);
                tf * (k1 + 1.0) / (k1 * norm + tf) * idf[item as usize]
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Csr {
        // Items 0 and 1 always bought together; item 2 alone.
        Csr::from_rows(
            3,
            vec![
                vec![(0, 1.0), (1, 1.0)],
                vec![(0, 1.0), (1, 2.0)],
                vec![(2, 1.0)],
                vec![(0, 1.0), (2, 1.0)],
            ],
        )
    }

    #[test]
    fn cosine_matches_hand_value() {
        let knn = ItemKnn::fit(&matrix(), KnnWeighting::Cosine, 10);
        // Item 0 has customers {0, 1, 3}, item 1 {0, 1}: cos = 2 / sqrt(6).
        let first = knn.neighbors(0)[0];
        assert_eq!(first.0, 1);
        assert!((first.1 - 2.0 / 6f32.sqrt()).abs() < 1e-6);
        assert_eq!(knn.neighbors(1).len(), 1, "item 1 never meets item 2");
    }

    #[test]
    fn bm25_keeps_neighbour_order() {
        let knn = ItemKnn::fit(&matrix(), KnnWeighting::Bm25 { k1: 1.2, b: 0.75 }, 1);
        assert_eq!(knn.neighbors(0).len(), 1);
        assert_eq!(knn.neighbors(0)[0].0, 1);
    }
}
