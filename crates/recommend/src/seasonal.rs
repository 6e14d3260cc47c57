//! Popularity per country and season: what new customers are shown first.
//!
//! Each sale to a known customer before the cutoff adds to its item's score
//! in the customer's country and globally, with weight
//! `0.5^(age / half_life) + season_weight * 0.5^(months_apart)`, where
//! `months_apart` is the distance (0 to 6, wrapping over the year) between
//! the sale's month and the month at the cutoff. Recent sales and sales in
//! the same month of earlier years count most, so December's list holds the
//! Christmas items even when the shop's history has a single December.
//! A country ranking is completed from the global one.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};
use serde::{Deserialize, Serialize};

use crate::history::PurchaseHistory;

/// Seconds in a day.
const SECONDS_PER_DAY: f64 = 86_400.0;

/// Settings of [`SeasonalPopularity::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalOptions {
    /// Days after which a sale counts half.
    pub half_life_days: f64,
    /// Extra weight of a sale in the same calendar month as the cutoff.
    pub season_weight: f64,
    /// Items kept per ranking.
    pub max_items: usize,
}

impl Default for SeasonalOptions {
    /// 30-day half-life, season weight 1, 300 items.
    fn default() -> SeasonalOptions {
        SeasonalOptions {
            half_life_days: 30.0,
            season_weight: 1.0,
            max_items: 300,
        }
    }
}

/// Ranked `(item, score)` lists per country and globally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalPopularity {
    /// Ranking per country, best first.
    pub by_country: BTreeMap<String, Vec<(u32, f32)>>,
    /// Ranking over all countries, best first.
    pub global: Vec<(u32, f32)>,
    /// Calendar month (1 to 12) the rankings are tuned to.
    pub month: u32,
}

impl SeasonalPopularity {
    /// Scores the sales in `lines` before the history's cutoff.
    pub fn fit(
        lines: &[OrderLine],
        history: &PurchaseHistory,
        options: &SeasonalOptions,
    ) -> SeasonalPopularity {
        let cutoff = history.cutoff();
        let month = cutoff.month();
        let mut by_country: HashMap<&str, HashMap<u32, f64>> = HashMap::new();
        let mut global: HashMap<u32, f64> = HashMap::new();
        for line in lines {
            if line.kind != LineKind::Sale
                || line.invoiced_at >= cutoff
                || line.customer_id.is_none()
            {
                continue;
            }
            let Some(item) = history.item_idx(&line.sku) else {
                continue;
            };
            let weight = sale_weight(line.invoiced_at, cutoff, options);
            *by_country
                .entry(&line.country)
                .or_default()
                .entry(item as u32)
                .or_default() += weight;
            *global.entry(item as u32).or_default() += weight;
        }

        let rank = |scores: HashMap<u32, f64>| {
            let mut list: Vec<(u32, f32)> = scores
                .into_iter()
                .map(|(item, score)| (item, score as f32))
                .collect();
            crate::itemknn::keep_top(&mut list, options.max_items);
            list
        };
        SeasonalPopularity {
            by_country: by_country
                .into_iter()
                .map(|(country, scores)| (country.to_string(), rank(scores)))
                .collect(),
            global: rank(global),
            month,
        }
    }

    /// The country's ranking followed by the global one, without repeats.
    pub fn ranking<'a>(&'a self, country: &str) -> impl Iterator<Item = (u32, f32, bool)> + 'a {
        let local = self.by_country.get(country).map(Vec::as_slice);
        let local_items: Vec<u32> = local.unwrap_or(&[]).iter().map(|&(i, _)| i).collect();
        local
            .unwrap_or(&[])
            .iter()
            .map(|&(item, score)| (item, score, true))
            .chain(
                self.global
                    .iter()
                    .filter(move |(item, _)| !local_items.contains(item))
                    .map(|&(item, score)| (item, score, false)),
            )
    }
}

/// Recency decay plus the same-season bonus of one sale.
fn sale_weight(at: NaiveDateTime, cutoff: NaiveDateTime, options: &SeasonalOptions) -> f64 {
    let age_days = (cutoff - at).num_seconds() as f64 / SECONDS_PER_DAY;
    let recency = 0.5f64.powf(age_days.max(0.0) / options.half_life_days);
    let raw_gap = (at.month() as i32 - cutoff.month() as i32).rem_euclid(12);
    let months_apart = raw_gap.min(12 - raw_gap);
    recency + options.season_weight * 0.5f64.powi(months_apart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};

    #[test]
    fn same_month_last_year_outweighs_off_season() {
        // Item X sold in December 2010, item Y in June 2011; cutoff in December 2011.
        let lines = vec![
            line("1", "X", 1, 1.0, "c1", "UK", at(2010, 12, 5)),
            line("2", "Y", 1, 1.0, "c2", "UK", at(2011, 6, 5)),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 12, 1));
        let model = SeasonalPopularity::fit(&lines, &history, &SeasonalOptions::default());
        let top = model.global[0].0 as usize;
        assert_eq!(history.sku(top), "X");
        assert_eq!(model.month, 12);
    }

    #[test]
    fn country_ranking_comes_first_then_global() {
        let day = at(2011, 11, 20);
        let lines = vec![
            line("1", "A", 1, 1.0, "c1", "UK", day),
            line("2", "A", 1, 1.0, "c2", "UK", day),
            line("3", "B", 1, 1.0, "g1", "Germany", day),
        ];
        let history = PurchaseHistory::build(&lines, at(2011, 12, 1));
        let model = SeasonalPopularity::fit(&lines, &history, &SeasonalOptions::default());
        let ranked: Vec<(&str, bool)> = model
            .ranking("Germany")
            .map(|(item, _, local)| (history.sku(item as usize), local))
            .collect();
        assert_eq!(ranked, vec![("B", true), ("A", false)]);
    }
}
