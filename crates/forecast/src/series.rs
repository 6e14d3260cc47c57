//! Weekly net-unit demand per (SKU, country), built from order lines.
//!
//! Weeks are anchored at the forecast cutoff, so week `i` covers
//! `[cutoff + 7i days, cutoff + 7(i + 1) days)` for every integer `i`. Weeks
//! `0..horizon_weeks` form the test window and the negative weeks form the
//! history. The week that contains the first product line is dropped when it
//! starts before that line, because a partial week would look like a drop in
//! demand. Start from [`build_weekly_demand`], then rank with
//! [`select_top_series`].

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use mercator_data::{LineKind, OrderLine};

use crate::error::ForecastError;

/// Seconds in one week bucket.
const WEEK_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Weekly demand of every (SKU, country) pair seen in the weeks evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyDemand {
    /// Start of the oldest complete history week.
    pub first_week_start: NaiveDateTime,
    /// Complete weeks before the cutoff.
    pub n_history_weeks: usize,
    /// Weeks from the cutoff on that form the test window.
    pub horizon_weeks: usize,
    /// One entry per (SKU, country), in order of first appearance in the lines.
    pub series: Vec<DemandSeries>,
}

impl WeeklyDemand {
    /// Lists the start date of every history week and then every test week.
    pub fn week_starts(&self) -> Vec<NaiveDate> {
        let n_weeks = self.n_history_weeks + self.horizon_weeks;
        (0..n_weeks)
            .map(|week_idx| {
                let offset = Duration::weeks(week_idx as i64);
                (self.first_week_start + offset).date()
            })
            .collect()
    }
}

/// Net units per week of one SKU shipped to one country.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandSeries {
    pub sku: String,
    pub country: String,
    /// Description from the latest line that has one, or empty when no line has one.
    pub description: String,
    /// Net units (sales minus returns) per history week, oldest first.
    pub history: Vec<f64>,
    /// Net units per test week, starting at the cutoff.
    pub actual: Vec<f64>,
}

impl DemandSeries {
    /// Sums the net units over the history weeks.
    pub fn history_units(&self) -> f64 {
        self.history.iter().sum()
    }
}

/// Running totals of one series while the lines are scanned.
struct SeriesAccumulator<'a> {
    sku: &'a str,
    country: &'a str,
    description: &'a str,
    description_at: Option<NaiveDateTime>,
    units: Vec<f64>,
}

/// Builds the weekly net-unit series of every (SKU, country) from product lines.
///
/// Only sale and return lines count (see [`OrderLine::is_product`]),
/// whether or not a customer is known. A sale adds its quantity and a return
/// subtracts the absolute value of its quantity, so a return counts against
/// demand even when an export wrote it with a positive quantity. Lines before
/// the first complete week or at or after the end of the test window are
/// ignored. Weeks without lines are zero.
///
/// Fails when `horizon_weeks` is zero, when there are no product lines, when
/// the cutoff leaves no complete history week, or when the cutoff comes after
/// the last product line.
pub fn build_weekly_demand(
    lines: &[OrderLine],
    cutoff: NaiveDateTime,
    horizon_weeks: usize,
) -> Result<WeeklyDemand, ForecastError> {
    if horizon_weeks == 0 {
        return Err(ForecastError::ZeroHorizon);
    }

    let (first_line_at, last_line_at) =
        product_time_range(lines).ok_or(ForecastError::NoProductLines)?;
    if last_line_at < cutoff {
        return Err(ForecastError::CutoffAfterData {
            cutoff,
            last_line_at,
        });
    }

    let first_week_idx = first_complete_week_idx(cutoff, first_line_at);
    if first_week_idx >= 0 {
        return Err(ForecastError::NoHistoryWeek {
            cutoff,
            first_line_at,
        });
    }
    let n_history_weeks = first_week_idx.unsigned_abs() as usize;
    let n_weeks = n_history_weeks + horizon_weeks;
    let first_week_start = cutoff + Duration::weeks(first_week_idx);

    // A cutoff at midnight after the last line leaves less than a day
    // without lines at the end; only a longer gap means missing weeks.
    let test_end = cutoff + Duration::weeks(horizon_weeks as i64);
    if last_line_at < test_end - Duration::days(1) {
        tracing::warn!(
            %last_line_at,
            %test_end,
            "lines end before the test window does, so its last week may be partial"
        );
    }

    let accumulators = accumulate_weeks(lines, cutoff, first_week_idx, n_weeks);
    let series = accumulators
        .into_iter()
        .map(|acc| {
            let mut history = acc.units;
            let actual = history.split_off(n_history_weeks);
            DemandSeries {
                sku: acc.sku.to_string(),
                country: acc.country.to_string(),
                description: acc.description.to_string(),
                history,
                actual,
            }
        })
        .collect::<Vec<_>>();

    tracing::debug!(
        n_series = series.len(),
        n_history_weeks,
        horizon_weeks,
        %first_week_start,
        "built weekly demand series"
    );
    Ok(WeeklyDemand {
        first_week_start,
        n_history_weeks,
        horizon_weeks,
        series,
    })
}

/// Keeps the `n_series` series with the most net units in history.
///
/// Ties are broken by SKU and then country, so the order does not depend on
/// the order of the lines. Returns every series when fewer exist.
pub fn select_top_series(mut series: Vec<DemandSeries>, n_series: usize) -> Vec<DemandSeries> {
    series.sort_by(|a, b| {
        b.history_units()
            .total_cmp(&a.history_units())
            .then_with(|| a.sku.cmp(&b.sku))
            .then_with(|| a.country.cmp(&b.country))
    });
    series.truncate(n_series);
    series
}

/// Returns the times of the first and last product lines, or `None` without any.
fn product_time_range(lines: &[OrderLine]) -> Option<(NaiveDateTime, NaiveDateTime)> {
    lines
        .iter()
        .filter(|line| line.is_product())
        .map(|line| line.invoiced_at)
        .fold(None, |range, at| match range {
            None => Some((at, at)),
            Some((first, last)) => Some((first.min(at), last.max(at))),
        })
}

/// Returns the index of the week that contains `at` (negative before the cutoff).
fn week_idx(cutoff: NaiveDateTime, at: NaiveDateTime) -> i64 {
    (at - cutoff).num_seconds().div_euclid(WEEK_SECONDS)
}

/// Returns the index of the first week that starts at or after `first_line_at`.
fn first_complete_week_idx(cutoff: NaiveDateTime, first_line_at: NaiveDateTime) -> i64 {
    let idx = week_idx(cutoff, first_line_at);
    let week_start = cutoff + Duration::weeks(idx);
    match week_start.cmp(&first_line_at) {
        Ordering::Less => idx + 1,
        Ordering::Equal | Ordering::Greater => idx,
    }
}

/// Adds each product line's signed quantity to its series and week.
fn accumulate_weeks<'a>(
    lines: &'a [OrderLine],
    cutoff: NaiveDateTime,
    first_week_idx: i64,
    n_weeks: usize,
) -> Vec<SeriesAccumulator<'a>> {
    let mut series_idx_by_key: HashMap<(&str, &str), usize> = HashMap::new();
    let mut accumulators: Vec<SeriesAccumulator<'a>> = Vec::new();
    let mut n_lines_outside = 0_usize;

    for line in lines.iter().filter(|line| line.is_product()) {
        let offset = week_idx(cutoff, line.invoiced_at) - first_week_idx;
        let Some(week_offset) = usize::try_from(offset).ok().filter(|&w| w < n_weeks) else {
            n_lines_outside += 1;
            continue;
        };

        let key = (line.sku.as_str(), line.country.as_str());
        let series_idx = *series_idx_by_key.entry(key).or_insert_with(|| {
            accumulators.push(SeriesAccumulator {
                sku: &line.sku,
                country: &line.country,
                description: "",
                description_at: None,
                units: vec![0.0; n_weeks],
            });
            accumulators.len() - 1
        });
        let acc = &mut accumulators[series_idx];

        acc.units[week_offset] += signed_units(line);
        let is_newer = acc.description_at.is_none_or(|at| line.invoiced_at > at);
        if !line.description.is_empty() && is_newer {
            acc.description = &line.description;
            acc.description_at = Some(line.invoiced_at);
        }
    }

    tracing::debug!(
        n_lines_outside,
        "skipped product lines outside the evaluated weeks"
    );
    accumulators
}

/// Returns a line's contribution to net demand: positive for a sale, negative for a return.
fn signed_units(line: &OrderLine) -> f64 {
    match line.kind {
        LineKind::Return => -(line.quantity.unsigned_abs() as f64),
        _ => line.quantity as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M").unwrap()
    }

    fn line(
        sku: &str,
        country: &str,
        quantity: i64,
        invoiced_at: &str,
        kind: LineKind,
    ) -> OrderLine {
        OrderLine {
            invoice: "1".to_string(),
            sku: sku.to_string(),
            description: format!("item {sku}"),
            quantity,
            invoiced_at: at(invoiced_at),
            unit_price: 1.0,
            customer_id: None,
            country: country.to_string(),
            kind,
        }
    }

    fn sale(sku: &str, quantity: i64, invoiced_at: &str) -> OrderLine {
        line(sku, "UK", quantity, invoiced_at, LineKind::Sale)
    }

    #[test]
    fn weekly_demand_anchors_weeks_at_cutoff() {
        let cutoff = at("2024-01-29 00:00");
        let lines = vec![
            sale("A", 1, "2024-01-08 00:00"),
            sale("A", 2, "2024-01-21 23:59"),
            sale("A", 4, "2024-01-22 00:00"),
            sale("A", 8, "2024-01-29 00:00"),
            sale("A", 16, "2024-02-11 23:59"),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 2).unwrap();

        assert_eq!(demand.n_history_weeks, 3);
        assert_eq!(demand.first_week_start, at("2024-01-08 00:00"));
        assert_eq!(demand.series[0].history, vec![1.0, 2.0, 4.0]);
        assert_eq!(demand.series[0].actual, vec![8.0, 16.0]);
    }

    #[test]
    fn weekly_demand_drops_leading_partial_week() {
        let cutoff = at("2024-01-29 00:00");
        let lines = vec![
            sale("A", 100, "2024-01-10 12:00"),
            sale("A", 3, "2024-01-15 00:00"),
            sale("A", 5, "2024-01-29 01:00"),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 1).unwrap();

        assert_eq!(demand.first_week_start, at("2024-01-15 00:00"));
        assert_eq!(demand.series[0].history, vec![3.0, 0.0]);
        assert_eq!(demand.series[0].actual, vec![5.0]);
    }

    #[test]
    fn weekly_demand_nets_product_returns() {
        let cutoff = at("2024-01-15 00:00");
        let lines = vec![
            sale("A", 10, "2024-01-08 00:00"),
            line("A", "UK", -3, "2024-01-09 00:00", LineKind::Return),
            line("A", "UK", 2, "2024-01-09 00:00", LineKind::Return),
            line("A", "UK", 50, "2024-01-09 00:00", LineKind::ZeroPrice),
            line("POST", "UK", 1, "2024-01-09 00:00", LineKind::NonProduct),
            sale("A", 1, "2024-01-15 00:00"),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 1).unwrap();

        assert_eq!(demand.series.len(), 1);
        assert_eq!(demand.series[0].history, vec![5.0]);
    }

    #[test]
    fn weekly_demand_separates_countries() {
        let cutoff = at("2024-01-15 00:00");
        let lines = vec![
            line("A", "UK", 1, "2024-01-08 00:00", LineKind::Sale),
            line("A", "France", 2, "2024-01-08 00:00", LineKind::Sale),
            line("B", "UK", 4, "2024-01-08 00:00", LineKind::Sale),
            line("A", "UK", 8, "2024-01-15 00:00", LineKind::Sale),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 1).unwrap();

        let keys: Vec<(&str, &str)> = demand
            .series
            .iter()
            .map(|s| (s.sku.as_str(), s.country.as_str()))
            .collect();
        assert_eq!(keys, vec![("A", "UK"), ("A", "France"), ("B", "UK")]);
        assert_eq!(demand.series[0].actual, vec![8.0]);
        assert_eq!(demand.series[1].actual, vec![0.0]);
    }

    #[test]
    fn weekly_demand_ignores_lines_after_test_window() {
        let cutoff = at("2024-01-15 00:00");
        let lines = vec![
            sale("A", 1, "2024-01-08 00:00"),
            sale("A", 2, "2024-01-21 23:59"),
            sale("A", 64, "2024-01-22 00:00"),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 1).unwrap();

        assert_eq!(demand.series[0].actual, vec![2.0]);
    }

    #[test]
    fn weekly_demand_keeps_latest_description() {
        let cutoff = at("2024-01-15 00:00");
        let mut old = sale("A", 1, "2024-01-08 00:00");
        old.description = "OLD NAME".to_string();
        let mut new = sale("A", 1, "2024-01-10 00:00");
        new.description = "NEW NAME".to_string();
        let mut blank = sale("A", 1, "2024-01-11 00:00");
        blank.description = String::new();
        let mut in_test_window = sale("A", 1, "2024-01-15 00:00");
        in_test_window.description = String::new();

        let demand = build_weekly_demand(&[new, old, blank, in_test_window], cutoff, 1).unwrap();

        assert_eq!(demand.series[0].description, "NEW NAME");
    }

    #[test]
    fn weekly_demand_lists_week_starts() {
        let cutoff = at("2024-01-29 12:00");
        let lines = vec![
            sale("A", 1, "2024-01-15 12:00"),
            sale("A", 1, "2024-01-30 00:00"),
        ];

        let demand = build_weekly_demand(&lines, cutoff, 2).unwrap();

        let expected = ["2024-01-15", "2024-01-22", "2024-01-29", "2024-02-05"]
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        assert_eq!(demand.week_starts(), expected.to_vec());
    }

    #[test]
    fn weekly_demand_rejects_invalid_input() {
        let cutoff = at("2024-01-15 00:00");
        let lines = vec![
            sale("A", 1, "2024-01-08 00:00"),
            sale("A", 1, "2024-01-15 00:00"),
        ];
        let fee = line("POST", "UK", 1, "2024-01-08 00:00", LineKind::NonProduct);

        assert_eq!(
            build_weekly_demand(&lines, cutoff, 0),
            Err(ForecastError::ZeroHorizon)
        );
        assert_eq!(
            build_weekly_demand(&[fee], cutoff, 1),
            Err(ForecastError::NoProductLines)
        );
        assert!(matches!(
            build_weekly_demand(&lines, at("2024-01-14 00:00"), 1),
            Err(ForecastError::NoHistoryWeek { .. })
        ));
        assert!(matches!(
            build_weekly_demand(&lines, at("2024-01-16 00:00"), 1),
            Err(ForecastError::CutoffAfterData { .. })
        ));
    }

    #[test]
    fn top_series_ranks_by_history_units() {
        let series_of = |sku: &str, history: Vec<f64>| DemandSeries {
            sku: sku.to_string(),
            country: "UK".to_string(),
            description: String::new(),
            history,
            actual: vec![0.0],
        };
        let series = vec![
            series_of("low", vec![1.0, 1.0]),
            series_of("high", vec![5.0, 5.0]),
            series_of("tie_b", vec![3.0, 0.0]),
            series_of("tie_a", vec![0.0, 3.0]),
        ];

        let top = select_top_series(series, 3);

        let skus: Vec<&str> = top.iter().map(|s| s.sku.as_str()).collect();
        assert_eq!(skus, vec!["high", "tie_a", "tie_b"]);
    }
}
