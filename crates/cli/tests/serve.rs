//! End-to-end tests of `mercator serve`: a real server process on a
//! loopback port, a real store, models trained on the bundled Online
//! Retail sample, and plain HTTP/1.1 requests over TCP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::{get, mercator, request, run_ok, Reply, Server};

/// Starts `mercator serve` for `dataset` on a free port.
fn start_server(data_dir: &Path, dataset: &str) -> Server {
    let mut command = mercator(data_dir);
    command
        .args(["serve", "--port", "0", "--reload-seconds", "1"])
        .args(["--dataset", dataset]);
    Server::start(command)
}

fn error_message(reply: &Reply) -> String {
    reply.body["error"].as_str().unwrap_or_default().to_string()
}

/// Creates an API key and returns it.
fn create_key(data_dir: &Path, name: &str) -> String {
    let output = run_ok(mercator(data_dir).args(["keys", "create", "--name", name]));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Polls `/health` until the served recommendation version is `version`.
fn wait_for_version(addr: SocketAddr, version: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = get(addr, "/health", None);
        if health.body["recommend_version"].as_i64() == Some(version) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server still serves {:?}, expected version {version}",
            health.body["recommend_version"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sample_orders() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/online_retail_sample.csv.gz")
}

/// Customer with the most order lines in the store.
fn busiest_customer(data_dir: &Path) -> String {
    let conn = rusqlite::Connection::open(data_dir.join("mercator.db")).unwrap();
    conn.query_row(
        "SELECT customer_id FROM order_lines WHERE customer_id IS NOT NULL
         GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn stored_events(data_dir: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(data_dir.join("mercator.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT customer_id, sku, kind FROM events ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Trains a small, quick recommender. `--force` promotes it regardless.
fn train_recommend(data_dir: &Path, force: bool) {
    let mut command = mercator(data_dir);
    command.args(["--quiet", "train", "recommend", "--dataset", "shop"]);
    command.args(["--no-search", "--factors", "16", "--iterations", "5"]);
    command.args(["--bpr-epochs", "5"]);
    if force {
        command.arg("--force");
    }
    run_ok(&mut command);
}

/// Open endpoints return 200, protected ones reject a missing or invalid
/// key, and with no trained model the API returns how to train one.
#[test]
fn serve_without_model_returns_503() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = create_key(&data, "shop-front");
    let server = start_server(&data, "shop");

    let health = get(server.addr, "/health", None);
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    assert!(health.body["recommend_version"].is_null());

    let openapi = get(server.addr, "/openapi.json", None);
    assert_eq!(openapi.status, 200);
    let paths = openapi.body["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/customers/{id}/recommendations"));
    assert!(paths.contains_key("/v1/events"));

    let path = "/v1/customers/17850/recommendations";
    let missing = get(server.addr, path, None);
    assert_eq!(missing.status, 401);
    assert!(error_message(&missing).contains("Authorization: Bearer"));
    let wrong = get(server.addr, path, Some("mk_not-a-key"));
    assert_eq!(wrong.status, 401);
    assert!(error_message(&wrong).contains("invalid"));

    let unavailable = get(server.addr, path, Some(&key));
    assert_eq!(unavailable.status, 503);
    let message = error_message(&unavailable);
    assert!(
        message.contains("mercator train recommend --dataset shop"),
        "{message}"
    );
    let propensity = request(
        server.addr,
        "POST",
        "/v1/propensity",
        Some(&key),
        r#"{"customer_ids": ["17850"]}"#,
    );
    assert_eq!(propensity.status, 503);
    assert!(error_message(&propensity).contains("mercator train propensity"));
}

/// A server started before any training serves the first promoted model,
/// then a newer one, without a restart. Known and unknown customers get
/// lists, bad requests get 400, and events reach the store and the next
/// training run.
#[test]
fn serve_reloads_models_and_checks_requests() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(
        mercator(&data)
            .args(["--quiet", "ingest", "orders"])
            .arg(sample_orders())
            .args(["--dataset", "shop"]),
    );
    let key = create_key(&data, "shop-front");
    let customer = busiest_customer(&data);
    let server = start_server(&data, "shop");
    let addr = server.addr;
    let known_path = format!("/v1/customers/{customer}/recommendations?k=5");
    assert_eq!(get(addr, &known_path, Some(&key)).status, 503);

    train_recommend(&data, false);
    wait_for_version(addr, 1);

    let known = get(addr, &known_path, Some(&key));
    assert_eq!(known.status, 200, "{}", known.body);
    assert_eq!(known.body["model_version"], 1);
    assert_eq!(known.body["cold_start"], false);
    let items = known.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in items {
        assert!(!item["sku"].as_str().unwrap().is_empty(), "{item}");
        assert!(!item["reason"].as_str().unwrap().is_empty(), "{item}");
    }

    let cold = get(
        addr,
        "/v1/customers/new-visitor/recommendations?country=Germany",
        Some(&key),
    );
    assert_eq!(cold.status, 200, "{}", cold.body);
    assert_eq!(cold.body["cold_start"], true);
    assert_eq!(cold.body["country"], "Germany");
    assert_eq!(cold.body["items"].as_array().unwrap().len(), 10);

    let similar_sku = items[0]["sku"].as_str().unwrap();
    let similar = get(
        addr,
        &format!("/v1/items/{similar_sku}/similar?k=3"),
        Some(&key),
    );
    assert_eq!(similar.status, 200, "{}", similar.body);
    assert!(!similar.body["items"].as_array().unwrap().is_empty());

    for (query, fragment) in [
        ("k=0", "k = \"0\""),
        ("k=101", "k = \"101\""),
        ("size=3", "size"),
    ] {
        let reply = get(
            addr,
            &format!("/v1/customers/{customer}/recommendations?{query}"),
            Some(&key),
        );
        assert_eq!(reply.status, 400, "{query}");
        assert!(
            error_message(&reply).contains(fragment),
            "{query}: {}",
            reply.body
        );
    }
    let long_id = "c".repeat(101);
    for (path, fragment) in [
        (
            format!("/v1/customers/{customer}/recommendations?k=5&k=abc"),
            "more than once",
        ),
        (
            format!("/v1/customers/{customer}/recommendations?country=%FF"),
            "not UTF-8",
        ),
        (
            format!("/v1/customers/{long_id}/recommendations"),
            "1 to 100 characters",
        ),
        (
            format!("/v1/items/{long_id}/similar"),
            "1 to 100 characters",
        ),
    ] {
        let reply = get(addr, &path, Some(&key));
        assert_eq!(reply.status, 400, "{path}");
        assert!(
            error_message(&reply).contains(fragment),
            "{path}: {}",
            reply.body
        );
    }

    // Kept by the reply cache until the visitor's events arrive.
    let before_events = get(
        addr,
        "/v1/customers/new-visitor/recommendations",
        Some(&key),
    );
    assert_eq!(before_events.status, 200);
    let post = |body: &str| request(addr, "POST", "/v1/events", Some(&key), body);
    let malformed = post(r#"{"events": [{"customer_id": "#);
    assert_eq!(malformed.status, 400);
    assert!(error_message(&malformed).contains("invalid events request"));
    let unknown_field =
        post(r#"{"events": [{"customer_id": "c1", "sku": "22423", "type": "view", "price": 3}]}"#);
    assert_eq!(unknown_field.status, 400);
    assert!(error_message(&unknown_field).contains("price"));
    let bad_type = post(r#"{"events": [{"customer_id": "c1", "sku": "22423", "type": "like"}]}"#);
    assert_eq!(bad_type.status, 400);
    assert!(error_message(&bad_type).contains("events[0].type"));
    assert!(stored_events(&data).is_empty());

    let stored = post(
        r#"{"events": [
            {"customer_id": "new-visitor", "sku": "22423", "type": "purchase",
             "at": "2011-12-08T10:00:00Z"},
            {"customer_id": "new-visitor", "sku": "85123A", "type": "view"}
        ]}"#,
    );
    assert_eq!(stored.status, 202, "{}", stored.body);
    assert_eq!(stored.body["stored"], 2);
    assert_eq!(
        stored_events(&data),
        vec![
            ("new-visitor".into(), "22423".into(), "purchase".into()),
            ("new-visitor".into(), "85123A".into(), "view".into()),
        ]
    );
    let after_events = get(
        addr,
        "/v1/customers/new-visitor/recommendations",
        Some(&key),
    );
    assert_eq!(after_events.status, 200);
    let skus: Vec<&str> = after_events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["sku"].as_str().unwrap())
        .collect();
    assert!(
        !skus.contains(&"22423"),
        "a purchased item is excluded: {skus:?}"
    );
    assert_ne!(
        after_events.body["items"], before_events.body["items"],
        "events must replace the list sent before them"
    );

    // Viewing an item keeps it in the list; buying it removes it.
    let top = items[0]["sku"].as_str().unwrap().to_string();
    let top_skus = |reply: &common::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["sku"].as_str().unwrap().to_string())
            .collect()
    };
    let event = |kind: &str| {
        let body = format!(
            r#"{{"events": [{{"customer_id": "{customer}", "sku": "{top}", "type": "{kind}"}}]}}"#
        );
        let reply = request(addr, "POST", "/v1/events", Some(&key), &body);
        assert_eq!(reply.status, 202, "{}", reply.body);
    };
    event("view");
    let after_view = get(addr, &known_path, Some(&key));
    assert!(top_skus(&after_view).contains(&top), "{}", after_view.body);
    event("purchase");
    let after_purchase = get(addr, &known_path, Some(&key));
    assert!(
        !top_skus(&after_purchase).contains(&top),
        "{}",
        after_purchase.body
    );

    run_ok(mercator(&data).args(["--quiet", "train", "propensity", "--dataset", "shop"]));
    let propensity_body = format!(r#"{{"customer_ids": ["{customer}", "new-visitor"]}}"#);
    let deadline = Instant::now() + Duration::from_secs(20);
    let propensity = loop {
        let reply = request(addr, "POST", "/v1/propensity", Some(&key), &propensity_body);
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(propensity.status, 200, "{}", propensity.body);
    let predictions = propensity.body["predictions"].as_array().unwrap();
    assert_eq!(predictions[0]["known"], true);
    let probability = predictions[0]["probability"].as_f64().unwrap();
    assert!(probability > 0.0, "{probability}");
    assert!(probability < 1.0, "{probability}");
    assert!(!predictions[0]["contributions"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(predictions[1]["known"], false);
    let empty = request(
        addr,
        "POST",
        "/v1/propensity",
        Some(&key),
        r#"{"customer_ids": []}"#,
    );
    assert_eq!(empty.status, 400);
    assert!(error_message(&empty).contains("customer_ids has 0 entries"));

    train_recommend(&data, true);
    wait_for_version(addr, 3);
    let newer = get(addr, &known_path, Some(&key));
    assert_eq!(newer.status, 200);
    assert_eq!(newer.body["model_version"], 3);
    let visitor = get(
        addr,
        "/v1/customers/new-visitor/recommendations",
        Some(&key),
    );
    assert_eq!(visitor.status, 200);
    assert_eq!(
        visitor.body["cold_start"], false,
        "the stored purchase event is part of the next training"
    );
}

/// Replaces the characters a query value cannot carry as they are.
fn query_value(text: &str) -> String {
    text.replace('%', "%25")
        .replace(' ', "%20")
        .replace('&', "%26")
        .replace('#', "%23")
        .replace('+', "%2B")
}

/// Polls `/health` until a forecast run is served and returns its version.
fn wait_for_forecast(addr: SocketAddr) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(version) = get(addr, "/health", None).body["forecast_version"].as_i64() {
            return version;
        }
        assert!(Instant::now() < deadline, "no forecast run served");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `mercator forecast` records its run, and the running server answers
/// forecasts for SKU x country, SKU, country, category and total series
/// with the numbers of forecast.csv, the levels adding up.
#[test]
fn serve_answers_forecasts_of_the_latest_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("forecast");
    run_ok(
        mercator(&data)
            .args(["--quiet", "ingest", "orders"])
            .arg(sample_orders())
            .args(["--dataset", "shop"]),
    );
    let key = create_key(&data, "planner");
    let server = start_server(&data, "shop");
    let addr = server.addr;

    let before = get(addr, "/v1/forecasts", Some(&key));
    assert_eq!(before.status, 503);
    assert!(
        error_message(&before).contains("mercator forecast --dataset shop"),
        "{}",
        error_message(&before)
    );
    assert_eq!(get(addr, "/v1/forecasts", None).status, 401);

    run_ok(
        mercator(&data)
            .args([
                "--quiet",
                "forecast",
                "--dataset",
                "shop",
                "--horizon",
                "8w",
            ])
            .arg("--out")
            .arg(&out),
    );
    let version = wait_for_forecast(addr);

    // The first SKU x country row of forecast.csv, whose fields have no commas.
    let csv = std::fs::read_to_string(out.join("forecast.csv")).unwrap();
    let row: Vec<&str> = csv
        .lines()
        .skip(1)
        .find(|line| !line.contains('"'))
        .unwrap()
        .split(',')
        .collect();
    let (sku, country, first_start, first_point) = (row[0], row[1], row[3], row[4]);
    let path = format!(
        "/v1/forecasts?sku={}&country={}",
        query_value(sku),
        query_value(country)
    );
    let bottom = get(addr, &path, Some(&key));
    assert_eq!(bottom.status, 200, "{}", bottom.body);
    assert_eq!(bottom.body["forecast_version"], version);
    assert_eq!(bottom.body["level"], "sku_country");
    assert_eq!(bottom.body["sku"], sku);
    let periods = bottom.body["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 8);
    assert_eq!(periods[0]["period_start"], first_start);
    let point = periods[0]["point"].as_f64().unwrap();
    assert!((point - first_point.parse::<f64>().unwrap()).abs() < 1e-3);
    for period in periods {
        let value = |name: &str| period[name].as_f64().unwrap();
        assert!(value("lower_95") <= value("lower_80") && value("lower_80") <= value("point"));
        assert!(value("point") <= value("upper_80") && value("upper_80") <= value("upper_95"));
    }

    let by_sku = get(
        addr,
        &format!("/v1/forecasts?sku={}", query_value(sku)),
        Some(&key),
    );
    assert_eq!(by_sku.status, 200, "{}", by_sku.body);
    assert_eq!(by_sku.body["level"], "sku");
    assert!(by_sku.body["country"].is_null());
    let by_country = get(
        addr,
        &format!("/v1/forecasts?country={}", query_value(country)),
        Some(&key),
    );
    assert_eq!(by_country.body["level"], "country", "{}", by_country.body);

    // Reconciled: the total is the sum of the SKU x country forecasts.
    let total = get(addr, "/v1/forecasts", Some(&key));
    assert_eq!(total.status, 200, "{}", total.body);
    assert_eq!(total.body["level"], "total");
    let bottom_sum: f64 = csv
        .lines()
        .skip(1)
        .filter(|line| line.contains(&format!(",{first_start},")))
        .map(|line| {
            let fields: Vec<&str> = line.rsplitn(7, ',').collect();
            fields[5].parse::<f64>().unwrap()
        })
        .sum();
    let total_point = total.body["periods"][0]["point"].as_f64().unwrap();
    assert!(
        (total_point - bottom_sum).abs() < 0.01 * bottom_sum.abs().max(1.0),
        "total {total_point} against the sum of the bottom series {bottom_sum}"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("forecast.json")).unwrap()).unwrap();
    let category = summary["markets"]["categories"][0]["market"]
        .as_str()
        .unwrap();
    let by_category = get(
        addr,
        &format!("/v1/forecasts?category={}", query_value(category)),
        Some(&key),
    );
    assert_eq!(by_category.status, 200, "{}", by_category.body);
    assert_eq!(by_category.body["category"], category);

    let unknown = get(addr, "/v1/forecasts?sku=NO-SUCH-SKU", Some(&key));
    assert_eq!(unknown.status, 404);
    assert!(
        error_message(&unknown).contains("sku=NO-SUCH-SKU"),
        "{}",
        error_message(&unknown)
    );
    let mixed = get(addr, "/v1/forecasts?sku=A&category=B", Some(&key));
    assert_eq!(mixed.status, 400);
    assert!(error_message(&mixed).contains("category"));
    let typo = get(addr, "/v1/forecasts?skus=A", Some(&key));
    assert_eq!(typo.status, 400);
    assert!(error_message(&typo).contains("\"skus\""));

    let history = run_ok(mercator(&data).args([
        "models",
        "history",
        "--kind",
        "forecast",
        "--dataset",
        "shop",
    ]));
    let history = String::from_utf8(history.stdout).unwrap();
    assert!(history.contains("holdout_mase"), "{history}");
}
