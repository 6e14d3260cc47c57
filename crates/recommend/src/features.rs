//! Per-customer purchase features at a point in time, and their encoding as
//! a numeric row for the propensity model.
//!
//! [`CustomerFeatures::at`] reads only the lines strictly before the given
//! time, which is what keeps the test window out of the features.
//! [`FeatureEncoder`] turns the features into a fixed-length row with
//! log transforms for heavy-tailed counts and amounts and a one-hot country.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};

/// Seconds in a day, for converting durations to fractional days.
const SECONDS_PER_DAY: f64 = 86_400.0;

/// Product lines (sales and returns) of one known customer, ordered by
/// invoice time and then invoice number.
#[derive(Debug, Clone)]
pub struct CustomerTimeline<'a> {
    /// Customer id as stored.
    pub customer_id: &'a str,
    /// The customer's product lines in time order.
    pub lines: Vec<&'a OrderLine>,
}

impl CustomerTimeline<'_> {
    /// Lines strictly before `at`.
    pub fn lines_before(&self, at: NaiveDateTime) -> &[&OrderLine] {
        let end = self.lines.partition_point(|line| line.invoiced_at < at);
        &self.lines[..end]
    }

    /// Returns whether the customer has a sale in `[start, end)`.
    pub fn has_sale_between(&self, start: NaiveDateTime, end: NaiveDateTime) -> bool {
        let first = self.lines.partition_point(|line| line.invoiced_at < start);
        self.lines[first..]
            .iter()
            .take_while(|line| line.invoiced_at < end)
            .any(|line| line.kind == LineKind::Sale)
    }
}

/// Groups the product lines of known customers by customer, in customer-id
/// order so that every later step visits customers deterministically.
pub fn group_by_customer(lines: &[OrderLine]) -> Vec<CustomerTimeline<'_>> {
    let mut by_customer: BTreeMap<&str, Vec<&OrderLine>> = BTreeMap::new();
    for line in lines.iter().filter(|line| line.is_product()) {
        if let Some(customer_id) = line.customer_id.as_deref() {
            by_customer.entry(customer_id).or_default().push(line);
        }
    }

    by_customer
        .into_iter()
        .map(|(customer_id, mut lines)| {
            lines.sort_by(|a, b| {
                (a.invoiced_at, a.invoice.as_str()).cmp(&(b.invoiced_at, b.invoice.as_str()))
            });
            CustomerTimeline { customer_id, lines }
        })
        .collect()
}

/// Summary of a customer's purchase history at one point in time.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFeatures {
    /// Days from the last sale to the reference time.
    pub recency_days: f64,
    /// Distinct invoices with at least one sale line.
    pub n_invoices: usize,
    /// Revenue of sales minus returns, in the shop's currency.
    pub net_revenue: f64,
    /// Days from the first sale to the reference time.
    pub tenure_days: f64,
    /// Units sold per invoice.
    pub mean_basket_units: f64,
    /// Sale lines per invoice.
    pub mean_basket_lines: f64,
    /// Share of product lines that are returns, in `[0, 1]`.
    pub return_rate: f64,
    /// Invoices in the 4 weeks before the reference time.
    pub n_invoices_last_4_weeks: usize,
    /// Invoices in the 12 weeks before the reference time.
    pub n_invoices_last_12_weeks: usize,
    /// Distinct SKUs bought.
    pub n_distinct_skus: usize,
    /// Mean gap in days between consecutive invoices; `None` with one invoice.
    pub mean_days_between_invoices: Option<f64>,
    /// Country of the customer's latest line.
    pub country: String,
}

/// Sale totals of one invoice.
struct InvoiceTotals {
    invoiced_at: NaiveDateTime,
    units: i64,
    n_lines: usize,
}

impl CustomerFeatures {
    /// Computes the features from the customer's lines strictly before `at`,
    /// or returns `None` when the customer had no sale before `at`.
    pub fn at(timeline: &CustomerTimeline<'_>, at: NaiveDateTime) -> Option<CustomerFeatures> {
        let lines = timeline.lines_before(at);
        let latest = lines.last()?;

        let mut invoices: HashMap<&str, InvoiceTotals> = HashMap::new();
        let mut skus: HashSet<&str> = HashSet::new();
        let mut net_revenue = 0.0;
        let mut n_returns = 0;
        for line in lines {
            net_revenue += line.revenue();
            match line.kind {
                LineKind::Sale => {
                    skus.insert(&line.sku);
                    let totals = invoices.entry(&line.invoice).or_insert(InvoiceTotals {
                        invoiced_at: line.invoiced_at,
                        units: 0,
                        n_lines: 0,
                    });
                    totals.units += line.quantity;
                    totals.n_lines += 1;
                }
                LineKind::Return => n_returns += 1,
                _ => {}
            }
        }
        if invoices.is_empty() {
            return None;
        }

        let n_invoices = invoices.len();
        let first_sale = invoices.values().map(|inv| inv.invoiced_at).min()?;
        let last_sale = invoices.values().map(|inv| inv.invoiced_at).max()?;
        let count_since = |weeks: i64| {
            let start = at - Duration::weeks(weeks);
            invoices
                .values()
                .filter(|inv| inv.invoiced_at >= start)
                .count()
        };
        let total_units: i64 = invoices.values().map(|inv| inv.units).sum();
        let total_sale_lines: usize = invoices.values().map(|inv| inv.n_lines).sum();
        let mean_days_between_invoices =
            (n_invoices > 1).then(|| days_between(first_sale, last_sale) / (n_invoices - 1) as f64);

        Some(CustomerFeatures {
            recency_days: days_between(last_sale, at),
            n_invoices,
            net_revenue,
            tenure_days: days_between(first_sale, at),
            mean_basket_units: total_units as f64 / n_invoices as f64,
            mean_basket_lines: total_sale_lines as f64 / n_invoices as f64,
            return_rate: n_returns as f64 / lines.len() as f64,
            n_invoices_last_4_weeks: count_since(4),
            n_invoices_last_12_weeks: count_since(12),
            n_distinct_skus: skus.len(),
            mean_days_between_invoices,
            country: latest.country.clone(),
        })
    }
}

fn days_between(start: NaiveDateTime, end: NaiveDateTime) -> f64 {
    (end - start).num_seconds() as f64 / SECONDS_PER_DAY
}

/// Names of the numeric columns written by [`FeatureEncoder::encode`],
/// before the country columns.
const NUMERIC_FEATURE_NAMES: [&str; 13] = [
    "recency_days",
    "log1p_recency_days",
    "log1p_invoices",
    "signed_log1p_net_revenue",
    "tenure_days",
    "log1p_mean_basket_units",
    "log1p_mean_basket_lines",
    "return_rate",
    "log1p_invoices_last_4_weeks",
    "log1p_invoices_last_12_weeks",
    "log1p_distinct_skus",
    "log1p_mean_days_between_invoices",
    "single_invoice",
];

/// Column of the raw recency in days, which the baseline score uses.
pub const RECENCY_DAYS_COLUMN: usize = 0;

/// Maps [`CustomerFeatures`] to a fixed-length numeric row.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureEncoder {
    countries: Vec<String>,
}

impl FeatureEncoder {
    /// Builds an encoder with one-hot columns for the `n_countries` countries
    /// with the most customers before `cutoff`, plus one column for all
    /// other countries. Ties in customer count go to the name that sorts first.
    pub fn from_history(
        timelines: &[CustomerTimeline<'_>],
        cutoff: NaiveDateTime,
        n_countries: usize,
    ) -> FeatureEncoder {
        let mut customers_per_country: HashMap<&str, usize> = HashMap::new();
        for timeline in timelines {
            if let Some(latest) = timeline.lines_before(cutoff).last() {
                *customers_per_country.entry(&latest.country).or_default() += 1;
            }
        }

        let mut ranked: Vec<(&str, usize)> = customers_per_country.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let countries = ranked
            .into_iter()
            .take(n_countries)
            .map(|(country, _)| country.to_string())
            .collect();
        FeatureEncoder { countries }
    }

    /// An encoder with the given one-hot countries.
    pub fn with_countries(countries: Vec<String>) -> FeatureEncoder {
        FeatureEncoder { countries }
    }

    /// Column names in the order [`FeatureEncoder::encode`] writes them.
    pub fn names(&self) -> Vec<String> {
        let numeric = NUMERIC_FEATURE_NAMES.iter().map(|name| name.to_string());
        let countries = self
            .countries
            .iter()
            .map(|country| format!("country={country}"));
        numeric
            .chain(countries)
            .chain(std::iter::once("country=other".to_string()))
            .collect()
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        NUMERIC_FEATURE_NAMES.len() + self.countries.len() + 1
    }

    /// Writes the encoded row into `row`, replacing its contents.
    ///
    /// With a single invoice the gap between invoices is unknown, so its
    /// column takes the tenure (a lower bound on the gap to the next
    /// invoice) and `single_invoice` is set to 1.
    pub fn encode(&self, features: &CustomerFeatures, row: &mut Vec<f64>) {
        row.clear();
        let gap_days = features
            .mean_days_between_invoices
            .unwrap_or(features.tenure_days);
        let single_invoice = features.mean_days_between_invoices.is_none();

        row.extend_from_slice(&[
            features.recency_days,
            features.recency_days.max(0.0).ln_1p(),
            (features.n_invoices as f64).ln_1p(),
            signed_log1p(features.net_revenue),
            features.tenure_days,
            features.mean_basket_units.max(0.0).ln_1p(),
            features.mean_basket_lines.ln_1p(),
            features.return_rate,
            (features.n_invoices_last_4_weeks as f64).ln_1p(),
            (features.n_invoices_last_12_weeks as f64).ln_1p(),
            (features.n_distinct_skus as f64).ln_1p(),
            gap_days.max(0.0).ln_1p(),
            if single_invoice { 1.0 } else { 0.0 },
        ]);

        let country_idx = self.countries.iter().position(|c| *c == features.country);
        for idx in 0..=self.countries.len() {
            let is_match = match country_idx {
                Some(known_idx) => idx == known_idx,
                None => idx == self.countries.len(),
            };
            row.push(if is_match { 1.0 } else { 0.0 });
        }
    }
}

/// `sign(x) * ln(1 + |x|)`, a log scale that keeps the sign of net revenue.
fn signed_log1p(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, line};

    fn timeline_of(lines: &[OrderLine]) -> CustomerTimeline<'_> {
        let mut timelines = group_by_customer(lines);
        assert_eq!(timelines.len(), 1);
        timelines.remove(0)
    }

    #[test]
    fn features_ignore_lines_at_or_after_reference_time() {
        let lines = vec![
            line("1", "A", 2, 5.0, "c1", "France", at(2011, 1, 1)),
            line("2", "B", 100, 50.0, "c1", "Germany", at(2011, 1, 11)),
            line("3", "C", 100, 50.0, "c1", "Germany", at(2011, 1, 12)),
        ];
        let timeline = timeline_of(&lines);
        let features = CustomerFeatures::at(&timeline, at(2011, 1, 11)).unwrap();

        assert_eq!(features.n_invoices, 1);
        assert_eq!(features.net_revenue, 10.0);
        assert_eq!(features.recency_days, 10.0);
        assert_eq!(features.n_distinct_skus, 1);
        assert_eq!(features.country, "France");
    }

    #[test]
    fn features_match_hand_counts() {
        let lines = vec![
            line("1", "A", 2, 5.0, "c1", "France", at(2011, 1, 1)),
            line("1", "B", 4, 1.0, "c1", "France", at(2011, 1, 1)),
            line("2", "A", 6, 5.0, "c1", "France", at(2011, 3, 2)),
            line("C3", "A", -1, 5.0, "c1", "France", at(2011, 3, 5)),
        ];
        let timeline = timeline_of(&lines);
        let features = CustomerFeatures::at(&timeline, at(2011, 3, 12)).unwrap();

        assert_eq!(features.n_invoices, 2);
        assert_eq!(features.recency_days, 10.0);
        assert_eq!(features.tenure_days, 70.0);
        assert_eq!(features.net_revenue, 10.0 + 4.0 + 30.0 - 5.0);
        assert_eq!(features.mean_basket_units, 6.0);
        assert_eq!(features.mean_basket_lines, 1.5);
        assert_eq!(features.return_rate, 0.25);
        assert_eq!(features.n_invoices_last_4_weeks, 1);
        assert_eq!(features.n_invoices_last_12_weeks, 2);
        assert_eq!(features.n_distinct_skus, 2);
        assert_eq!(features.mean_days_between_invoices, Some(60.0));
    }

    #[test]
    fn customer_without_earlier_sale_has_no_features() {
        let lines = vec![
            line("C1", "A", -1, 5.0, "c1", "France", at(2011, 1, 1)),
            line("2", "A", 1, 5.0, "c1", "France", at(2011, 2, 1)),
        ];
        let timeline = timeline_of(&lines);
        assert_eq!(CustomerFeatures::at(&timeline, at(2011, 1, 15)), None);
        assert_eq!(CustomerFeatures::at(&timeline, at(2011, 1, 1)), None);
    }

    #[test]
    fn grouping_skips_guests_and_non_products() {
        let mut fee = line("1", "POST", 1, 18.0, "c1", "France", at(2011, 1, 1));
        fee.kind = LineKind::NonProduct;
        let mut guest = line("2", "A", 1, 5.0, "c1", "France", at(2011, 1, 2));
        guest.customer_id = None;
        let sale = line("3", "A", 1, 5.0, "c2", "France", at(2011, 1, 3));
        let lines = vec![fee, guest, sale];

        let timelines = group_by_customer(&lines);
        assert_eq!(timelines.len(), 1);
        assert_eq!(timelines[0].customer_id, "c2");
        assert_eq!(timelines[0].lines.len(), 1);
    }

    #[test]
    fn has_sale_between_uses_half_open_window() {
        let lines = vec![line("1", "A", 1, 5.0, "c1", "France", at(2011, 1, 10))];
        let timeline = timeline_of(&lines);
        assert!(timeline.has_sale_between(at(2011, 1, 10), at(2011, 1, 11)));
        assert!(!timeline.has_sale_between(at(2011, 1, 1), at(2011, 1, 10)));
    }

    #[test]
    fn encoder_one_hot_marks_rare_country_as_other() {
        let lines = vec![
            line("1", "A", 1, 5.0, "c1", "France", at(2011, 1, 1)),
            line("2", "A", 1, 5.0, "c2", "France", at(2011, 1, 1)),
            line("3", "A", 1, 5.0, "c3", "Spain", at(2011, 1, 1)),
        ];
        let timelines = group_by_customer(&lines);
        let encoder = FeatureEncoder::from_history(&timelines, at(2011, 2, 1), 1);
        let names = encoder.names();
        assert_eq!(names.len(), encoder.n_features());
        assert_eq!(names[names.len() - 2], "country=France");
        assert_eq!(names[names.len() - 1], "country=other");

        let spain = CustomerFeatures::at(&timelines[2], at(2011, 2, 1)).unwrap();
        let mut row = Vec::new();
        encoder.encode(&spain, &mut row);
        assert_eq!(row.len(), encoder.n_features());
        assert_eq!(&row[row.len() - 2..], &[0.0, 1.0]);
        assert_eq!(row[RECENCY_DAYS_COLUMN], 31.0);
        assert_eq!(row[12], 1.0, "single_invoice");
    }

    #[test]
    fn signed_log1p_keeps_sign() {
        assert_eq!(signed_log1p(0.0), 0.0);
        assert!((signed_log1p(-(std::f64::consts::E - 1.0)) + 1.0).abs() < 1e-12);
    }
}
