//! End-to-end tests of the `mercator` binary on the bundled sample and on
//! UCI Online Retail, run as a user runs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;

use common::{mercator, run_ok};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks that every key `run` promises in report.json is present and finite.
fn assert_report_complete(report: &serde_json::Value) {
    let rows = report["input"]["rows"].as_u64().unwrap();
    let bucket_sum: u64 = report["cleaning"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        bucket_sum, rows,
        "cleaning buckets must add up to the input rows"
    );

    for key in [
        "auc",
        "baseline_auc",
        "log_loss",
        "accuracy",
        "precision",
        "recall",
    ] {
        let value = report["propensity"][key].as_f64();
        assert!(
            value.is_some_and(f64::is_finite),
            "propensity.{key} = {value:?}"
        );
    }
    for model in ["popularity", "copurchase"] {
        for key in ["ndcg_at_10", "hr_at_10"] {
            let value = report["recommend"]["models"][model][key].as_f64();
            assert!(
                value.is_some_and(f64::is_finite),
                "recommend.models.{model}.{key} = {value:?}"
            );
        }
    }
    let forecast_models = report["forecast"]["models"].as_object().unwrap();
    assert!(forecast_models.len() >= 2, "{forecast_models:?}");
    for (name, metrics) in forecast_models {
        for key in ["mase", "smape"] {
            let value = metrics[key].as_f64();
            assert!(
                value.is_some_and(f64::is_finite),
                "forecast.models.{name}.{key} = {value:?}"
            );
        }
    }
    for step in [
        "ingest",
        "propensity",
        "recommend",
        "forecast",
        "report",
        "total",
    ] {
        assert!(
            report["timings_ms"][step].is_u64(),
            "timings_ms.{step} missing"
        );
    }
}

#[test]
fn run_on_bundled_sample_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let output = run_ok(
        mercator(&dir.path().join("data"))
            .arg("run")
            .arg("--out")
            .arg(&out),
    );

    let summary = String::from_utf8(output.stdout).unwrap();
    assert!(summary.contains("propensity"), "{summary}");
    assert!(summary.contains("NDCG@10"), "{summary}");
    assert!(summary.contains("MASE"), "{summary}");

    let report = read_json(&out.join("report.json"));
    assert_report_complete(&report);
    assert_eq!(report["dataset"], "sample");
    assert_eq!(report["input"]["rows"], 116_474);
    let auc = report["propensity"]["auc"].as_f64().unwrap();
    assert!(auc > 0.7, "sample AUC {auc}");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 2,
        "calibration and forecast charts"
    );
    assert!(html.contains("Calibration"));
    assert!(!html.contains("NaN"));
}

#[test]
fn run_twice_is_reproducible_and_ingests_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dir.path().join("a");
    let second = dir.path().join("b");
    run_ok(
        mercator(&data)
            .args(["--quiet", "run", "--seed", "7", "--out"])
            .arg(&first),
    );
    run_ok(
        mercator(&data)
            .args(["--quiet", "run", "--seed", "7", "--out"])
            .arg(&second),
    );

    let a = read_json(&first.join("report.json"));
    let b = read_json(&second.join("report.json"));
    assert_eq!(a["input"]["already_ingested"], false);
    assert_eq!(b["input"]["already_ingested"], true);
    assert_eq!(a["input"]["dataset_lines"], b["input"]["dataset_lines"]);
    assert_eq!(a["cleaning"], b["cleaning"]);
    assert_eq!(a["propensity"], b["propensity"], "same seed, same model");
    assert_eq!(a["recommend"], b["recommend"]);
    assert_eq!(a["forecast"], b["forecast"]);
}

#[test]
fn quiet_run_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_ok(
        mercator(&dir.path().join("data"))
            .args(["--quiet", "run", "--out"])
            .arg(dir.path().join("r")),
    );
    assert!(output.stdout.is_empty());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn json_flag_prints_report() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_ok(
        mercator(&dir.path().join("data"))
            .args(["--json", "run", "--out"])
            .arg(dir.path().join("r")),
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_report_complete(&printed);
}

#[test]
fn ingest_with_map_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.csv");
    std::fs::write(
        &file,
        "Order,Item,Qty,When,Each,Client,Ship to\n\
         A-1,SKU-9,2,2011-01-03 10:00:00,7.50,c-17,Germany\n\
         A-2,SKU-9,1,2011-01-04 10:00:00,7.50,,Germany\n",
    )
    .unwrap();
    let output = run_ok(
        mercator(&dir.path().join("data"))
            .args(["--json", "ingest", "orders"])
            .arg(&file)
            .args(["--map", "invoice=Order,sku=Item,quantity=Qty,invoiced_at=When,unit_price=Each,customer_id=Client"]),
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["rows"], 2);
    assert_eq!(summary["cleaning"]["sale"], 1);
    assert_eq!(summary["cleaning"]["sale_without_customer"], 1);
}

#[test]
fn bad_input_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    std::fs::write(
        &file,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
         536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n\
         536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,abc,17850,United Kingdom\n",
    )
    .unwrap();
    let output = mercator(&dir.path().join("data"))
        .args(["ingest", "orders", "--strict"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("orders.csv line 3"), "{stderr}");
    assert!(
        stderr.contains("\"UnitPrice\" (field unit_price)"),
        "{stderr}"
    );
}

#[test]
fn json_flag_prints_error_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = mercator(&dir.path().join("data"))
        .args(["--json", "ingest", "orders", "no-such-file.csv"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("no-such-file.csv"), "{message}");
}

#[test]
fn missing_orders_file_is_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = mercator(&dir.path().join("data"))
        .args(["run", "--orders", "no-such-file.csv", "--out"])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("no-such-file.csv"), "{stderr}");
}

fn online_retail() -> Option<PathBuf> {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../../shared/data/online_retail/online_retail.csv.gz");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: UCI Online Retail not found at {}", path.display());
        None
    }
}

/// Row counts of the store's tables, read with a separate SQLite connection.
fn table_counts(data_dir: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(data_dir.join("mercator.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    ["datasets", "sources", "order_lines"]
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect()
}

#[test]
fn kill_mid_ingest_leaves_store_unchanged() {
    let Some(full) = online_retail() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let small = dir.path().join("small.csv");
    std::fs::write(
        &small,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
         536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n",
    )
    .unwrap();
    run_ok(
        mercator(&data)
            .args(["--quiet", "ingest", "orders"])
            .arg(&small),
    );
    let before = table_counts(&data);

    let mut child = mercator(&data)
        .args(["--quiet", "ingest", "orders"])
        .arg(&full)
        .spawn()
        .unwrap();
    // The full file takes several seconds to ingest, so two seconds in the
    // transaction is under way and not yet committed.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "ingest finished before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(table_counts(&data), before);
}
