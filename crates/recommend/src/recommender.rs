//! The interface shared by the item recommenders.
//!
//! A recommender ranks items of a [`PurchaseHistory`] catalog for one
//! customer and never returns an item the customer already bought, because
//! the evaluation counts only items new to the customer.
//!
//! [`PurchaseHistory`]: crate::history::PurchaseHistory

use crate::history::CustomerHistory;

/// Ranks catalog items for a customer.
pub trait Recommender {
    /// Returns up to `k` distinct item indices, best first, none of which
    /// the customer bought before the cutoff.
    fn recommend(&self, customer: &CustomerHistory, k: usize) -> Vec<usize>;
}

/// Appends items from `ranking` to `chosen`, in order, skipping items the
/// customer bought and items already chosen, until `chosen` contains `k` items.
pub(crate) fn extend_unseen(
    chosen: &mut Vec<usize>,
    ranking: &[usize],
    customer: &CustomerHistory,
    k: usize,
) {
    for &item_idx in ranking {
        if chosen.len() >= k {
            break;
        }
        if !customer.has_bought(item_idx) && !chosen.contains(&item_idx) {
            chosen.push(item_idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::PurchasedItem;
    use crate::testing::at;

    #[test]
    fn extend_unseen_skips_bought_and_chosen_items() {
        let customer = CustomerHistory {
            country: "France".to_string(),
            items: vec![PurchasedItem {
                item_idx: 1,
                last_bought_at: at(2011, 1, 1),
                n_invoices: 1,
            }],
        };
        let mut chosen = vec![2];
        extend_unseen(&mut chosen, &[1, 2, 3, 4, 5], &customer, 3);
        assert_eq!(chosen, vec![2, 3, 4]);
    }
}
