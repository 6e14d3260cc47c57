//! End-to-end tests of `mercator forecast` on the bundled UCI Online Retail sample.

use std::path::Path;

mod common;

use common::{mercator, run_ok};

/// Ingests the bundled sample through `mercator run`, into dataset `sample`.
fn ingest_sample(data_dir: &Path, report_dir: &Path) {
    run_ok(
        mercator(data_dir)
            .args(["--quiet", "run", "--out"])
            .arg(report_dir),
    );
}

/// Forecasting the sample writes a CSV with intervals, a JSON summary and charts.
#[test]
fn forecast_writes_csv_json_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = dir.path().join("forecast");
    ingest_sample(&data_dir, &dir.path().join("report"));

    run_ok(
        mercator(&data_dir)
            .args([
                "--quiet",
                "forecast",
                "--dataset",
                "sample",
                "--by",
                "sku,country",
            ])
            .args([
                "--horizon",
                "4w",
                "--top",
                "2",
                "--series",
                "United Kingdom",
                "--out",
            ])
            .arg(&out),
    );

    let csv = std::fs::read_to_string(out.join("forecast.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "sku,country,category,period_start,point,lower_80,upper_80,lower_95,upper_95,model"
    );
    assert!(!csv.contains("NaN"));
    assert!(!csv.contains("inf"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("forecast.json")).unwrap()).unwrap();
    let gap = json["reconciliation"]["max_total_gap"].as_f64().unwrap();
    assert!(gap < 1e-6, "total minus bottom forecasts: {gap}");
    let coverage = json["holdout"]["coverage_95"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&coverage));
    assert!(json["markets"]["countries"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
    assert!(json["markets"]["categories"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
    let charts = json["charts"].as_array().unwrap();
    assert!(charts.len() >= 2);
    for chart in charts {
        assert!(out.join(chart.as_str().unwrap()).exists());
    }
}

/// An unknown level is rejected with the list of valid ones.
#[test]
fn forecast_rejects_unknown_level() {
    let dir = tempfile::tempdir().unwrap();

    let output = mercator(dir.path())
        .args(["forecast", "--by", "store", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sku,country"));
}

/// A dataset without lines fails with an error.
#[test]
fn forecast_rejects_empty_dataset() {
    let dir = tempfile::tempdir().unwrap();

    let output = mercator(dir.path())
        .args(["forecast", "--dataset", "missing", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();

    assert!(!output.status.success());
}
