//! Net units and revenue per period for any aggregation level, built from stored order lines.
//!
//! [`build_panel`] buckets sale and return lines into weeks (starting on
//! Monday) or days and sums them per key of the chosen [`Level`]: SKU x
//! country, SKU, country, category or total. A return subtracts its units
//! and its revenue, so a period where returns exceed sales is negative.
//! Periods without lines are zero. A leading week that starts before the
//! first line and a trailing week that ends after the last line are dropped,
//! because a partial week looks like a drop in demand.
//!
//! Each series also records the first period with a line
//! ([`PanelSeries::first_active`]), because a product launched late has
//! leading zeros that are not demand, and whether it is too short to model
//! ([`PanelSeries::is_short`]).

use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, Duration, NaiveDate};
use mercator_data::{LineKind, OrderLine};
use serde::{Deserialize, Serialize};

use crate::category::category_of;
use crate::error::ForecastError;

/// Shortest active history, in periods, that the models are fitted on.
/// Shorter series get the mean-of-history fallback.
pub const MIN_MODEL_PERIODS: usize = 8;

/// Length of one bucket of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Monday-to-Sunday weeks.
    Weekly,
    /// Calendar days.
    Daily,
}

impl Frequency {
    /// Days in one period.
    pub fn period_days(self) -> i64 {
        match self {
            Frequency::Weekly => 7,
            Frequency::Daily => 1,
        }
    }

    /// Candidate season lengths in periods, shortest first: a year for weeks,
    /// a week and a year for days.
    pub fn season_lengths(self) -> &'static [usize] {
        match self {
            Frequency::Weekly => &[52],
            Frequency::Daily => &[7, 365],
        }
    }

    /// Returns the start of the period that contains `date`.
    pub fn period_start(self, date: NaiveDate) -> NaiveDate {
        match self {
            Frequency::Weekly => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Frequency::Daily => date,
        }
    }
}

/// Aggregation level of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    SkuCountry,
    Sku,
    Country,
    Category,
    Total,
}

impl Level {
    /// Parses a level as the CLI writes it: `sku,country`, `sku`, `country`,
    /// `category` or `total`.
    pub fn parse(text: &str) -> Option<Level> {
        match text.replace(' ', "").to_lowercase().as_str() {
            "sku,country" | "country,sku" => Some(Level::SkuCountry),
            "sku" => Some(Level::Sku),
            "country" => Some(Level::Country),
            "category" => Some(Level::Category),
            "total" => Some(Level::Total),
            _ => None,
        }
    }

    /// Returns the key of the series a line belongs to at this level.
    fn key_of(self, line: &OrderLine, category: impl FnOnce() -> String) -> SeriesKey {
        let mut key = SeriesKey::default();
        match self {
            Level::SkuCountry => {
                key.sku = Some(line.sku.clone());
                key.country = Some(line.country.clone());
            }
            Level::Sku => key.sku = Some(line.sku.clone()),
            Level::Country => key.country = Some(line.country.clone()),
            Level::Category => key.category = Some(category()),
            Level::Total => {}
        }
        key
    }
}

/// Identity of a series: the fields its level groups by, `None` for the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeriesKey {
    pub sku: Option<String>,
    pub country: Option<String>,
    pub category: Option<String>,
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            ("sku", &self.sku),
            ("country", &self.country),
            ("category", &self.category),
        ]
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
        .collect();
        if parts.is_empty() {
            write!(f, "total")
        } else {
            write!(f, "{}", parts.join("|"))
        }
    }
}

/// Net units and revenue per period of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelSeries {
    pub key: SeriesKey,
    /// Description from the latest line of the series, empty above SKU level.
    pub description: String,
    /// Net units (sales minus returns) per period, oldest first.
    pub units: Vec<f64>,
    /// Net revenue per period in the shop's currency.
    pub revenue: Vec<f64>,
    /// Index of the first period with a line of this series.
    pub first_active: usize,
    /// Periods whose net units are negative because returns exceed sales.
    pub n_negative_periods: usize,
}

impl PanelSeries {
    /// Net units from the first active period on.
    pub fn active_units(&self) -> &[f64] {
        &self.units[self.first_active.min(self.units.len())..]
    }

    /// Whether the active history is too short (fewer than
    /// [`MIN_MODEL_PERIODS`] periods or fewer than two periods with demand) to fit models on.
    pub fn is_short(&self) -> bool {
        let active = self.active_units();
        let n_nonzero = active.iter().filter(|&&units| units != 0.0).count();
        active.len() < MIN_MODEL_PERIODS || n_nonzero < 2
    }

    /// Sums the net units over all periods.
    pub fn total_units(&self) -> f64 {
        self.units.iter().sum()
    }
}

/// Every series of one level over a common range of periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub level: Level,
    pub frequency: Frequency,
    /// Start date of the first period.
    pub first_period_start: NaiveDate,
    pub n_periods: usize,
    /// Series in order of the keys, so the output does not depend on line order.
    pub series: Vec<PanelSeries>,
}

impl Panel {
    /// Returns the start date of period `idx` (may be past the last period).
    pub fn period_start(&self, idx: usize) -> NaiveDate {
        self.first_period_start + Duration::days(idx as i64 * self.frequency.period_days())
    }

    /// Returns the country of every series key, or `None` above country level.
    pub fn countries(&self) -> Vec<Option<&str>> {
        self.series
            .iter()
            .map(|s| s.key.country.as_deref())
            .collect()
    }
}

/// Builds the series of `level` at `frequency` from sale and return lines.
///
/// `categories` maps SKU to catalog category. A SKU missing from it (or every
/// SKU when it is `None`) gets a category derived from its description (see
/// [`crate::category`]). Fails when there are no product lines or when the
/// complete periods leave nothing.
pub fn build_panel(
    lines: &[OrderLine],
    level: Level,
    frequency: Frequency,
    categories: Option<&HashMap<String, String>>,
) -> Result<Panel, ForecastError> {
    let products: Vec<&OrderLine> = lines.iter().filter(|line| line.is_product()).collect();
    let first_date = products.iter().map(|l| l.invoiced_at.date()).min();
    let last_date = products.iter().map(|l| l.invoiced_at.date()).max();
    let (Some(first_date), Some(last_date)) = (first_date, last_date) else {
        return Err(ForecastError::NoProductLines);
    };

    let period_days = frequency.period_days();
    let mut first_start = frequency.period_start(first_date);
    if first_start < first_date {
        first_start += Duration::days(period_days);
    }
    let mut last_start = frequency.period_start(last_date);
    if last_start + Duration::days(period_days - 1) > last_date {
        last_start -= Duration::days(period_days);
    }
    if last_start < first_start {
        return Err(ForecastError::NoCompletePeriod {
            first_date,
            last_date,
        });
    }
    let n_periods = ((last_start - first_start).num_days() / period_days) as usize + 1;

    let descriptions = latest_descriptions(&products);
    let mut by_key: HashMap<SeriesKey, PanelSeries> = HashMap::new();
    for line in products {
        let offset = (line.invoiced_at.date() - first_start).num_days();
        if offset < 0 || offset / period_days >= n_periods as i64 {
            continue;
        }
        let period = (offset / period_days) as usize;

        let category = || {
            categories
                .and_then(|map| map.get(&line.sku).cloned())
                .unwrap_or_else(|| {
                    category_of(descriptions.get(line.sku.as_str()).copied().unwrap_or(""))
                })
        };
        let key = level.key_of(line, category);
        let series = by_key.entry(key.clone()).or_insert_with(|| PanelSeries {
            description: match level {
                Level::SkuCountry | Level::Sku => descriptions
                    .get(line.sku.as_str())
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            },
            key,
            units: vec![0.0; n_periods],
            revenue: vec![0.0; n_periods],
            first_active: period,
            n_negative_periods: 0,
        });

        let (units, revenue) = signed_units_and_revenue(line);
        series.units[period] += units;
        series.revenue[period] += revenue;
        series.first_active = series.first_active.min(period);
    }

    let mut series: Vec<PanelSeries> = by_key.into_values().collect();
    for s in &mut series {
        s.n_negative_periods = s.units.iter().filter(|&&u| u < 0.0).count();
    }
    series.sort_by(|a, b| a.key.cmp(&b.key));

    tracing::debug!(
        n_series = series.len(),
        n_periods,
        %first_start,
        "built demand panel"
    );
    Ok(Panel {
        level,
        frequency,
        first_period_start: first_start,
        n_periods,
        series,
    })
}

/// Returns the description of each SKU from its latest line with one.
fn latest_descriptions<'a>(products: &[&'a OrderLine]) -> HashMap<&'a str, &'a str> {
    let mut latest: HashMap<&str, (&str, chrono::NaiveDateTime)> = HashMap::new();
    for line in products.iter().filter(|l| !l.description.is_empty()) {
        let entry = latest
            .entry(line.sku.as_str())
            .or_insert((line.description.as_str(), line.invoiced_at));
        if line.invoiced_at > entry.1 {
            *entry = (line.description.as_str(), line.invoiced_at);
        }
    }
    latest.into_iter().map(|(sku, (d, _))| (sku, d)).collect()
}

/// Returns a line's signed units and revenue: positive for a sale, negative for a return.
fn signed_units_and_revenue(line: &OrderLine) -> (f64, f64) {
    let units = line.quantity.unsigned_abs() as f64;
    let revenue = units * line.unit_price.abs();
    match line.kind {
        LineKind::Return => (-units, -revenue),
        _ => (units, revenue),
    }
}

/// A series given as dated values, after duplicated dates are summed.
#[derive(Debug, Clone, PartialEq)]
pub struct DatedSeries {
    pub first_period_start: NaiveDate,
    /// One value per period, zero where no date fell.
    pub values: Vec<f64>,
    /// Input dates that repeated a period already seen; their values were added.
    pub n_duplicates: usize,
    /// Input values that were NaN or infinite and were left out.
    pub n_non_finite: usize,
}

/// Buckets dated values into periods, summing duplicates and zero-filling gaps.
///
/// Non-finite values are counted and skipped, so the result is always
/// finite. Fails on an empty input or one with no finite value.
pub fn bucket_dated_values(
    points: &[(NaiveDate, f64)],
    frequency: Frequency,
) -> Result<DatedSeries, ForecastError> {
    let finite: Vec<(NaiveDate, f64)> = points
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite())
        .collect();
    let n_non_finite = points.len() - finite.len();
    let first = finite.iter().map(|(d, _)| frequency.period_start(*d)).min();
    let last = finite.iter().map(|(d, _)| frequency.period_start(*d)).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Err(ForecastError::EmptyHistory);
    };

    let period_days = frequency.period_days();
    let n_periods = ((last - first).num_days() / period_days) as usize + 1;
    let mut values = vec![0.0; n_periods];
    let mut seen = vec![false; n_periods];
    let mut n_duplicates = 0;
    for (date, value) in finite {
        let idx = ((frequency.period_start(date) - first).num_days() / period_days) as usize;
        if seen[idx] {
            n_duplicates += 1;
        }
        seen[idx] = true;
        values[idx] += value;
    }
    Ok(DatedSeries {
        first_period_start: first,
        values,
        n_duplicates,
        n_non_finite,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn line(sku: &str, country: &str, quantity: i64, when: &str, kind: LineKind) -> OrderLine {
        OrderLine {
            invoice: "1".to_string(),
            sku: sku.to_string(),
            description: format!("{sku} LUNCH BAG"),
            quantity,
            invoiced_at: at(when),
            unit_price: 2.0,
            customer_id: None,
            country: country.to_string(),
            kind,
        }
    }

    /// Sales from Monday 2024-01-01 to Sunday 2024-01-28: four whole weeks.
    fn four_weeks() -> Vec<OrderLine> {
        vec![
            line("A", "UK", 3, "2024-01-01 10:00", LineKind::Sale),
            line("A", "UK", -1, "2024-01-02 10:00", LineKind::Return),
            line("A", "France", 2, "2024-01-09 10:00", LineKind::Sale),
            line("B", "UK", 5, "2024-01-16 10:00", LineKind::Sale),
            line("B", "UK", -7, "2024-01-17 10:00", LineKind::Return),
            line("A", "UK", 1, "2024-01-28 10:00", LineKind::Sale),
        ]
    }

    #[test]
    fn panel_nets_returns_and_zero_fills() {
        let panel = build_panel(&four_weeks(), Level::SkuCountry, Frequency::Weekly, None).unwrap();

        let a_uk = &panel.series[1];
        assert_eq!(panel.n_periods, 4);
        assert_eq!(a_uk.key.to_string(), "sku=A|country=UK");
        assert_eq!(a_uk.units, vec![2.0, 0.0, 0.0, 1.0]);
        assert_eq!(a_uk.revenue, vec![4.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn panel_counts_negative_weeks() {
        let panel = build_panel(&four_weeks(), Level::Sku, Frequency::Weekly, None).unwrap();

        let b = panel
            .series
            .iter()
            .find(|s| s.key.sku.as_deref() == Some("B"))
            .unwrap();
        assert_eq!(b.units[2], -2.0);
        assert_eq!(b.n_negative_periods, 1);
        assert_eq!(b.first_active, 2);
    }

    #[test]
    fn panel_aggregates_every_level() {
        let lines = four_weeks();

        let total = build_panel(&lines, Level::Total, Frequency::Weekly, None).unwrap();
        let country = build_panel(&lines, Level::Country, Frequency::Weekly, None).unwrap();
        let category = build_panel(&lines, Level::Category, Frequency::Weekly, None).unwrap();

        assert_eq!(total.series.len(), 1);
        assert_eq!(total.series[0].units, vec![2.0, 2.0, -2.0, 1.0]);
        assert_eq!(country.series.len(), 2);
        assert_eq!(category.series[0].key.category.as_deref(), Some("bag"));
    }

    #[test]
    fn panel_drops_partial_edge_weeks() {
        let mut lines = four_weeks();
        lines.push(line("A", "UK", 9, "2023-12-30 10:00", LineKind::Sale));
        lines.push(line("A", "UK", 9, "2024-01-30 10:00", LineKind::Sale));

        let panel = build_panel(&lines, Level::Total, Frequency::Weekly, None).unwrap();

        assert_eq!(panel.first_period_start, date("2024-01-01"));
        assert_eq!(panel.n_periods, 4);
    }

    #[test]
    fn panel_builds_daily_series() {
        let panel = build_panel(&four_weeks(), Level::Total, Frequency::Daily, None).unwrap();

        assert_eq!(panel.n_periods, 28);
        assert_eq!(panel.series[0].units[1], -1.0);
    }

    #[test]
    fn panel_flags_short_series() {
        let panel = build_panel(&four_weeks(), Level::SkuCountry, Frequency::Weekly, None).unwrap();

        assert!(panel.series.iter().all(|s| s.is_short()));
    }

    #[test]
    fn panel_rejects_lines_without_whole_week() {
        let lines = vec![line("A", "UK", 1, "2024-01-03 10:00", LineKind::Sale)];

        let result = build_panel(&lines, Level::Total, Frequency::Weekly, None);

        assert!(matches!(
            result,
            Err(ForecastError::NoCompletePeriod { .. })
        ));
    }

    #[test]
    fn dated_values_sum_duplicates() {
        let points = [
            (date("2024-01-01"), 1.0),
            (date("2024-01-01"), 2.0),
            (date("2024-01-15"), 4.0),
            (date("2024-01-16"), f64::NAN),
        ];

        let series = bucket_dated_values(&points, Frequency::Weekly).unwrap();

        assert_eq!(series.values, vec![3.0, 0.0, 4.0]);
        assert_eq!(series.n_duplicates, 1);
        assert_eq!(series.n_non_finite, 1);
    }

    #[test]
    fn dated_values_reject_empty_input() {
        assert_eq!(
            bucket_dated_values(&[], Frequency::Weekly),
            Err(ForecastError::EmptyHistory)
        );
    }

    #[test]
    fn level_parses_cli_names() {
        assert_eq!(Level::parse("sku,country"), Some(Level::SkuCountry));
        assert_eq!(Level::parse("total"), Some(Level::Total));
        assert_eq!(Level::parse("store"), None);
    }
}
