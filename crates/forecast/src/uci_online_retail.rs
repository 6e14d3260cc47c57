//! End-to-end check of [`evaluate_demand`] on the UCI Online Retail data set.
//!
//! UCI Online Retail (Chen, Sain & Guo 2012) contains 541,909 invoice lines of
//! a UK online shop from 2010-12-01 to 2011-12-09. The test reads the gzipped
//! CSV export and classifies rows with a reduced form of the cleaning step's
//! rules that checks stock codes but not description keywords. It then
//! evaluates four test weeks on the 20 largest series. It is skipped, with a
//! message, when the file is missing. Set `MERCATOR_ONLINE_RETAIL_CSV` to use
//! another copy.

use std::fs::File;
use std::path::PathBuf;

use chrono::{Duration, NaiveDateTime};
use flate2::read::GzDecoder;
use mercator_data::clean::classify;
use mercator_data::OrderLine;

use crate::evaluate::{evaluate_demand, ETS, SEASONAL_NAIVE};

/// UCI Online Retail beside the checkout, relative to this crate.
const DEFAULT_PATH: &str = "../../../shared/data/online_retail/online_retail.csv.gz";

fn data_path() -> PathBuf {
    std::env::var_os("MERCATOR_ONLINE_RETAIL_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            PathBuf::from(crate_dir).join(DEFAULT_PATH)
        })
}

/// Reads every row of the UCI Online Retail CSV, or returns `None` when the file is missing.
fn load_lines() -> Option<Vec<OrderLine>> {
    let file = File::open(data_path()).ok()?;
    let mut reader = csv::Reader::from_reader(GzDecoder::new(file));

    let mut lines = Vec::new();
    for (row_idx, record) in reader.records().enumerate() {
        let record = record.unwrap_or_else(|err| panic!("row {row_idx} is unreadable: {err}"));
        let field = |idx: usize| record.get(idx).unwrap_or("").trim();

        let invoice = field(0).to_string();
        let sku = field(1).to_string();
        let quantity: i64 = field(3)
            .parse()
            .unwrap_or_else(|_| panic!("row {row_idx} has an invalid Quantity"));
        let invoiced_at = NaiveDateTime::parse_from_str(field(4), "%Y-%m-%d %H:%M:%S")
            .unwrap_or_else(|_| panic!("row {row_idx} has an invalid InvoiceDate"));
        let unit_price: f64 = field(5)
            .parse()
            .unwrap_or_else(|_| panic!("row {row_idx} has an invalid UnitPrice"));
        let customer_id = Some(field(6))
            .filter(|id| !id.is_empty())
            .map(str::to_string);

        let description = field(2).to_string();
        lines.push(OrderLine {
            kind: classify(&invoice, &sku, &description, quantity, unit_price),
            invoice,
            sku,
            description,
            quantity,
            invoiced_at,
            unit_price,
            customer_id,
            country: field(7).to_string(),
        });
    }
    Some(lines)
}

#[test]
fn uci_online_retail_models_score_finite() {
    let Some(lines) = load_lines() else {
        eprintln!(
            "skipping: UCI Online Retail CSV not found; set MERCATOR_ONLINE_RETAIL_CSV to its path"
        );
        return;
    };
    assert_eq!(lines.len(), 541_909);

    // The cutoff leaves four whole weeks up to the day after the last invoice.
    let last_invoice_at = lines.iter().map(|line| line.invoiced_at).max().unwrap();
    let day_after_last = last_invoice_at.date() + Duration::days(1);
    let cutoff = (day_after_last - Duration::days(28))
        .and_hms_opt(0, 0, 0)
        .unwrap();

    let report = evaluate_demand(&lines, cutoff, 4, 20).unwrap();

    let n_history_weeks = report.series[0].history.len();
    assert_eq!(report.series.len(), 20);
    assert_eq!(report.horizon_weeks, 4);
    assert_eq!(report.season_length_weeks, 1);
    assert_eq!(report.week_starts.len(), n_history_weeks + 4);
    assert_eq!(report.week_starts[n_history_weeks], cutoff.date());
    for model in [SEASONAL_NAIVE, ETS] {
        let accuracy = &report.models[model];
        eprintln!(
            "UCI Online Retail, {model}: MASE {:.3}, sMAPE {:.1}%, {} series, {} without MASE scale",
            accuracy.mase, accuracy.smape, accuracy.n_series, accuracy.mase_skipped
        );
        assert!(accuracy.mase.is_finite(), "{model} MASE");
        assert!((0.0..=200.0).contains(&accuracy.smape), "{model} sMAPE");
        assert_eq!(accuracy.n_series, 20);
    }
}
