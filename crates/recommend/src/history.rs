//! Sales before a cutoff, indexed for the recommenders.
//!
//! [`PurchaseHistory::build`] keeps only sale lines strictly before the
//! cutoff, so no recommender fitted on it can see the test window. Items get
//! dense indices (`item_idx`) in SKU order, which makes every model and its
//! tie-breaking deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDateTime;
use mercator_data::{LineKind, OrderLine};

/// An item a customer bought before the cutoff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchasedItem {
    /// Index of the item in the history's catalog.
    pub item_idx: usize,
    /// Time of the customer's latest sale of the item.
    pub last_bought_at: NaiveDateTime,
    /// Distinct invoices of the customer that contain the item.
    pub n_invoices: u32,
}

/// Items one known customer bought before the cutoff, and their country.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerHistory {
    /// Country of the customer's latest sale.
    pub country: String,
    /// Distinct items bought, sorted by `item_idx`.
    pub items: Vec<PurchasedItem>,
}

impl CustomerHistory {
    /// Returns whether the customer bought the item before the cutoff.
    pub fn has_bought(&self, item_idx: usize) -> bool {
        self.items
            .binary_search_by_key(&item_idx, |item| item.item_idx)
            .is_ok()
    }
}

/// Sales before a cutoff: the item catalog, each known customer's items and
/// the baskets of every invoice, guests' invoices included.
#[derive(Debug, Clone)]
pub struct PurchaseHistory {
    cutoff: NaiveDateTime,
    skus: Vec<String>,
    item_index: HashMap<String, usize>,
    customers: BTreeMap<String, CustomerHistory>,
    baskets: Vec<Vec<usize>>,
}

impl PurchaseHistory {
    /// Indexes the sale lines strictly before `cutoff`. Returns, cancelled
    /// lines and non-product lines are ignored.
    pub fn build(lines: &[OrderLine], cutoff: NaiveDateTime) -> PurchaseHistory {
        let sales: Vec<&OrderLine> = lines
            .iter()
            .filter(|line| line.kind == LineKind::Sale && line.invoiced_at < cutoff)
            .collect();

        let skus: Vec<String> = sales
            .iter()
            .map(|line| line.sku.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let item_index: HashMap<String, usize> = skus
            .iter()
            .enumerate()
            .map(|(item_idx, sku)| (sku.clone(), item_idx))
            .collect();

        let mut basket_items: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        let mut customer_items: BTreeMap<&str, BTreeMap<usize, (NaiveDateTime, u32)>> =
            BTreeMap::new();
        let mut seen_invoice_items: HashSet<(&str, usize)> = HashSet::new();
        let mut customer_country: HashMap<&str, (NaiveDateTime, &str)> = HashMap::new();
        for line in &sales {
            let item_idx = item_index[&line.sku];
            basket_items
                .entry(&line.invoice)
                .or_default()
                .insert(item_idx);

            let Some(customer_id) = line.customer_id.as_deref() else {
                continue;
            };
            let (last_bought_at, n_invoices) = customer_items
                .entry(customer_id)
                .or_default()
                .entry(item_idx)
                .or_insert((line.invoiced_at, 0));
            *last_bought_at = (*last_bought_at).max(line.invoiced_at);
            if seen_invoice_items.insert((&line.invoice, item_idx)) {
                *n_invoices += 1;
            }

            let latest = customer_country
                .entry(customer_id)
                .or_insert((line.invoiced_at, &line.country));
            if line.invoiced_at > latest.0 {
                *latest = (line.invoiced_at, &line.country);
            }
        }

        let customers = customer_items
            .into_iter()
            .map(|(customer_id, items)| {
                let history = CustomerHistory {
                    country: customer_country[customer_id].1.to_string(),
                    items: items
                        .into_iter()
                        .map(|(item_idx, (last_bought_at, n_invoices))| PurchasedItem {
                            item_idx,
                            last_bought_at,
                            n_invoices,
                        })
                        .collect(),
                };
                (customer_id.to_string(), history)
            })
            .collect();
        let baskets = basket_items
            .into_values()
            .map(|items| items.into_iter().collect())
            .collect();

        PurchaseHistory {
            cutoff,
            skus,
            item_index,
            customers,
            baskets,
        }
    }

    /// End (exclusive) of the history.
    pub fn cutoff(&self) -> NaiveDateTime {
        self.cutoff
    }

    /// Number of distinct items sold before the cutoff.
    pub fn n_items(&self) -> usize {
        self.skus.len()
    }

    /// SKU of an item.
    pub fn sku(&self, item_idx: usize) -> &str {
        &self.skus[item_idx]
    }

    /// Index of a SKU, or `None` when it was not sold before the cutoff.
    pub fn item_idx(&self, sku: &str) -> Option<usize> {
        self.item_index.get(sku).copied()
    }

    /// History of one customer, or `None` when they bought nothing before the cutoff.
    pub fn customer(&self, customer_id: &str) -> Option<&CustomerHistory> {
        self.customers.get(customer_id)
    }

    /// Known customers with at least one sale, in customer-id order.
    pub fn customers(&self) -> impl Iterator<Item = (&str, &CustomerHistory)> {
        self.customers
            .iter()
            .map(|(customer_id, history)| (customer_id.as_str(), history))
    }

    /// Number of known customers with at least one sale.
    pub fn n_customers(&self) -> usize {
        self.customers.len()
    }

    /// Distinct items of every invoice, sorted by `item_idx`, in invoice order.
    pub fn baskets(&self) -> &[Vec<usize>] {
        &self.baskets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};

    #[test]
    fn history_excludes_lines_from_cutoff_on() {
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "France", at(2011, 1, 1)),
            line("2", "B", 1, 1.0, "c1", "France", at(2011, 2, 1)),
            line("3", "C", 1, 1.0, "c2", "France", at(2011, 2, 2)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));

        assert_eq!(history.n_items(), 1);
        assert_eq!(history.item_idx("B"), None);
        assert_eq!(history.n_customers(), 1);
        assert_eq!(history.baskets().len(), 1);
    }

    #[test]
    fn history_ignores_returns() {
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "France", at(2011, 1, 1)),
            line("C2", "B", -1, 1.0, "c1", "France", at(2011, 1, 2)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));
        let customer = history.customer("c1").unwrap();
        assert_eq!(customer.items.len(), 1);
        assert_eq!(history.item_idx("B"), None);
    }

    #[test]
    fn guest_invoices_count_as_baskets_only() {
        let mut guest = line("1", "A", 1, 1.0, "x", "France", at(2011, 1, 1));
        guest.customer_id = None;
        let lines = vec![guest, line("2", "B", 1, 1.0, "c1", "Spain", at(2011, 1, 2))];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));

        assert_eq!(history.baskets().len(), 2);
        assert_eq!(history.n_customers(), 1);
        assert_eq!(history.n_items(), 2);
    }

    #[test]
    fn customer_keeps_latest_purchase_and_country() {
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "France", at(2011, 1, 1)),
            line("2", "A", 1, 1.0, "c1", "Belgium", at(2011, 1, 20)),
            line("3", "B", 1, 1.0, "c1", "France", at(2011, 1, 5)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));
        let customer = history.customer("c1").unwrap();

        assert_eq!(customer.country, "Belgium");
        let item_a = history.item_idx("A").unwrap();
        assert!(customer.has_bought(item_a));
        assert_eq!(customer.items[item_a].last_bought_at, at(2011, 1, 20));
    }

    #[test]
    fn items_are_indexed_in_sku_order() {
        let lines = vec![
            line("1", "Z", 1, 1.0, "c1", "France", at(2011, 1, 1)),
            line("1", "A", 1, 1.0, "c1", "France", at(2011, 1, 1)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));
        assert_eq!(history.sku(0), "A");
        assert_eq!(history.sku(1), "Z");
        assert_eq!(history.baskets()[0], vec![0, 1]);
    }
}
