//! End-to-end checks of both evaluations on the UCI Online Retail data set
//! (Chen, Sain & Guo 2012): 541,909 invoice lines of a UK online retailer,
//! December 2010 to December 2011.
//!
//! The split puts the last 28 days in the test window: the cutoff is the
//! day after the last invoice minus 28 days. Each test skips with a message
//! when the data file is absent.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};
use flate2::read::GzDecoder;
use mercator_data::clean::classify;
use mercator_data::OrderLine;
use mercator_recommend::{evaluate_propensity, evaluate_recommenders, PropensityConfig};

/// UCI Online Retail beside the checkout, relative to this crate.
const DATA_PATH: &str = "../../../shared/data/online_retail/online_retail.csv.gz";

/// Length of the test window in days.
const WINDOW_DAYS: i64 = 28;

fn read_lines(path: &Path) -> Vec<OrderLine> {
    let file = std::fs::File::open(path).expect("open UCI Online Retail file");
    let mut reader = csv::Reader::from_reader(GzDecoder::new(file));
    let mut lines = Vec::with_capacity(541_909);
    for record in reader.records() {
        let record = record.expect("valid CSV record");
        let invoice = record[0].to_string();
        let sku = record[1].to_string();
        let quantity: i64 = record[3].parse().expect("integer Quantity");
        let invoiced_at = NaiveDateTime::parse_from_str(&record[4], "%Y-%m-%d %H:%M:%S")
            .expect("InvoiceDate as YYYY-MM-DD HH:MM:SS");
        let unit_price: f64 = record[5].parse().expect("numeric UnitPrice");
        let customer_id = Some(record[6].to_string()).filter(|id| !id.is_empty());
        let description = record[2].to_string();
        let kind = classify(&invoice, &sku, &description, quantity, unit_price);
        lines.push(OrderLine {
            invoice,
            sku,
            description,
            quantity,
            invoiced_at,
            unit_price,
            customer_id,
            country: record[7].to_string(),
            kind,
        });
    }
    lines
}

/// Reads all rows of UCI Online Retail once per test binary, or returns
/// `None` when the file is absent.
fn online_retail() -> Option<&'static [OrderLine]> {
    static LINES: OnceLock<Option<Vec<OrderLine>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            let path = Path::new(&crate_dir).join(DATA_PATH);
            if !path.exists() {
                return None;
            }
            let started = Instant::now();
            let lines = read_lines(&path);
            eprintln!(
                "read {} UCI Online Retail rows in {:.2?}",
                lines.len(),
                started.elapsed()
            );
            Some(lines)
        })
        .as_deref()
}

/// Returns the day after the last invoice, minus the test window.
fn cutoff(lines: &[OrderLine]) -> NaiveDateTime {
    let last = lines
        .iter()
        .map(|line| line.invoiced_at)
        .max()
        .expect("rows");
    let day_after_last = last
        .date()
        .succ_opt()
        .expect("valid date")
        .and_time(Default::default());
    day_after_last - Duration::days(WINDOW_DAYS)
}

#[test]
fn propensity_beats_recency_on_online_retail() {
    let Some(lines) = online_retail() else {
        eprintln!("skipping: the UCI Online Retail CSV file is missing");
        return;
    };
    assert_eq!(lines.len(), 541_909);

    let started = Instant::now();
    let report = evaluate_propensity(
        lines,
        cutoff(lines),
        Duration::days(WINDOW_DAYS),
        &PropensityConfig::default(),
    )
    .expect("propensity evaluation runs on UCI Online Retail");
    eprintln!(
        "UCI Online Retail propensity in {:.2?}: auc {:.4}, baseline_auc {:.4}, \
         log_loss {:.4}, accuracy {:.4}, precision {:.4}, recall {:.4}, threshold {:.4}, \
         n_train {}, n_test {}, test_positive_rate {:.4}",
        started.elapsed(),
        report.auc,
        report.baseline_auc,
        report.log_loss,
        report.accuracy,
        report.precision,
        report.recall,
        report.threshold,
        report.n_train,
        report.n_test,
        report.test_positive_rate,
    );
    for weight in &report.weights {
        eprintln!("  weight {:<36} {:+.4}", weight.feature, weight.weight);
    }
    for bin in &report.calibration {
        eprintln!(
            "  calibration predicted {:.3} observed {:.3} count {}",
            bin.mean_predicted, bin.observed_rate, bin.count
        );
    }

    assert!(report.auc > 0.7, "auc = {}", report.auc);
    assert!(
        report.auc > report.baseline_auc,
        "auc {} not above recency baseline {}",
        report.auc,
        report.baseline_auc
    );
    let calibrated_rows: usize = report.calibration.iter().map(|bin| bin.count).sum();
    assert_eq!(calibrated_rows, report.n_test);
}

#[test]
fn copurchase_beats_popularity_on_online_retail() {
    let Some(lines) = online_retail() else {
        eprintln!("skipping: the UCI Online Retail CSV file is missing");
        return;
    };

    let started = Instant::now();
    let report = evaluate_recommenders(lines, cutoff(lines), Duration::days(WINDOW_DAYS), 10)
        .expect("recommender evaluation runs on UCI Online Retail");
    eprintln!(
        "UCI Online Retail recommenders in {:.2?}: {} customers evaluated",
        started.elapsed(),
        report.n_eval_customers
    );
    for (name, metrics) in &report.models {
        eprintln!(
            "  {name:<20} ndcg@10 {:.4} hr@10 {:.4} over {} customers",
            metrics.ndcg_at_k, metrics.hr_at_k, metrics.n_customers
        );
    }

    let popularity = &report.models["popularity"];
    let copurchase = &report.models["copurchase"];
    assert!(
        report.n_eval_customers > 500,
        "n = {}",
        report.n_eval_customers
    );
    assert!(
        copurchase.ndcg_at_k > popularity.ndcg_at_k,
        "copurchase ndcg@10 {} not above popularity {}",
        copurchase.ndcg_at_k,
        popularity.ndcg_at_k
    );
    assert!(
        copurchase.hr_at_k > popularity.hr_at_k,
        "copurchase hr@10 {} not above popularity {}",
        copurchase.hr_at_k,
        popularity.hr_at_k
    );
}
