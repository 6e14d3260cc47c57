//! Popularity baselines: the items most customers bought, globally and per
//! country.
//!
//! Popularity counts distinct known customers per item, not units or lines,
//! so one wholesale buyer cannot push an item to the top. These baselines
//! are what a personalized recommender has to beat, and they fill the list
//! when a personalized model has fewer than `k` candidates.

use std::collections::HashMap;

use crate::history::{CustomerHistory, PurchaseHistory};
use crate::recommender::{extend_unseen, Recommender};

/// Items ranked by the number of distinct customers who bought them.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    ranking: Vec<usize>,
}

impl Popularity {
    /// Ranks every catalog item by distinct buyers, most first; ties go to
    /// the lower `item_idx`. Items bought only by guests rank last.
    pub fn fit(history: &PurchaseHistory) -> Popularity {
        let mut n_buyers = vec![0usize; history.n_items()];
        for (_, customer) in history.customers() {
            for item in &customer.items {
                n_buyers[item.item_idx] += 1;
            }
        }
        Popularity {
            ranking: rank_by_count(&n_buyers),
        }
    }

    /// Returns all catalog items, most popular first.
    pub fn ranking(&self) -> &[usize] {
        &self.ranking
    }
}

impl Recommender for Popularity {
    fn recommend(&self, customer: &CustomerHistory, k: usize) -> Vec<usize> {
        let mut chosen = Vec::with_capacity(k);
        extend_unseen(&mut chosen, &self.ranking, customer, k);
        chosen
    }
}

/// Items ranked by distinct buyers within the customer's country, then by
/// global popularity for the rest of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryPopularity {
    by_country: HashMap<String, Vec<usize>>,
    global: Popularity,
}

impl CountryPopularity {
    /// Ranks, for each country, the items its customers bought by distinct
    /// buyers. A country ranking contains only items bought in that country.
    pub fn fit(history: &PurchaseHistory) -> CountryPopularity {
        let mut n_buyers_by_country: HashMap<&str, HashMap<usize, usize>> = HashMap::new();
        for (_, customer) in history.customers() {
            let n_buyers = n_buyers_by_country.entry(&customer.country).or_default();
            for item in &customer.items {
                *n_buyers.entry(item.item_idx).or_default() += 1;
            }
        }

        let by_country = n_buyers_by_country
            .into_iter()
            .map(|(country, n_buyers)| {
                let mut ranked: Vec<(usize, usize)> = n_buyers.into_iter().collect();
                ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let ranking = ranked.into_iter().map(|(item_idx, _)| item_idx).collect();
                (country.to_string(), ranking)
            })
            .collect();

        CountryPopularity {
            by_country,
            global: Popularity::fit(history),
        }
    }
}

impl Recommender for CountryPopularity {
    fn recommend(&self, customer: &CustomerHistory, k: usize) -> Vec<usize> {
        let mut chosen = Vec::with_capacity(k);
        if let Some(ranking) = self.by_country.get(&customer.country) {
            extend_unseen(&mut chosen, ranking, customer, k);
        }
        extend_unseen(&mut chosen, &self.global.ranking, customer, k);
        chosen
    }
}

/// Item indices sorted by count, highest first, ties by lower index.
fn rank_by_count(counts: &[usize]) -> Vec<usize> {
    let mut ranking: Vec<usize> = (0..counts.len()).collect();
    ranking.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    ranking
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};
    use mercator_data::OrderLine;

    /// Item A: one customer buying many times; item B: three customers;
    /// item C: two French customers.
    fn sample_lines() -> Vec<OrderLine> {
        let day = at(2011, 1, 1);
        vec![
            line("1", "A", 100, 1.0, "c1", "UK", day),
            line("2", "A", 100, 1.0, "c1", "UK", day),
            line("3", "B", 1, 1.0, "c2", "UK", day),
            line("4", "B", 1, 1.0, "c3", "UK", day),
            line("5", "B", 1, 1.0, "c4", "UK", day),
            line("6", "C", 1, 1.0, "f1", "France", day),
            line("7", "C", 1, 1.0, "f2", "France", day),
            line("8", "A", 1, 1.0, "f2", "France", day),
        ]
    }

    #[test]
    fn popularity_counts_distinct_customers() {
        let history = PurchaseHistory::build(&sample_lines(), at(2011, 2, 1));
        let popularity = Popularity::fit(&history);
        let skus: Vec<&str> = popularity
            .ranking()
            .iter()
            .map(|&i| history.sku(i))
            .collect();
        assert_eq!(skus, vec!["B", "A", "C"]);
    }

    #[test]
    fn popularity_excludes_bought_items() {
        let history = PurchaseHistory::build(&sample_lines(), at(2011, 2, 1));
        let popularity = Popularity::fit(&history);
        let customer = history.customer("c2").unwrap();
        let skus: Vec<&str> = popularity
            .recommend(customer, 5)
            .into_iter()
            .map(|i| history.sku(i))
            .collect();
        assert_eq!(skus, vec!["A", "C"]);
    }

    #[test]
    fn country_popularity_ranks_country_items_first() {
        let mut lines = sample_lines();
        lines.push(line("9", "D", 1, 1.0, "f3", "France", at(2011, 1, 1)));
        let history = PurchaseHistory::build(&lines, at(2011, 2, 1));
        let model = CountryPopularity::fit(&history);
        let customer = history.customer("f3").unwrap();
        let skus: Vec<&str> = model
            .recommend(customer, 3)
            .into_iter()
            .map(|i| history.sku(i))
            .collect();
        // France: C (2 buyers), A (1); then global backfill: B.
        assert_eq!(skus, vec!["C", "A", "B"]);
    }
}
