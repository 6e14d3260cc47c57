//! End-to-end tests of `mercator translate` with the real Apertium engine
//! (run `scripts/setup` to install it) on the bundled sample's products
//! and on small catalogs.

use std::path::Path;

mod common;

use common::{mercator, run_ok};

fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Translating the sample's products writes the catalog, the QE reports
/// and the review queue, and applies the glossary wherever a term occurs.
#[test]
fn translate_sample_products_applies_glossary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let glossary = dir.path().join("terms.csv");
    std::fs::write(
        &glossary,
        "term,translation,target_lang\nt-light holder,portavelas,es\nRegency,,es\n",
    )
    .unwrap();

    run_ok(
        mercator(&data)
            .args([
                "--quiet",
                "translate",
                "--from-orders",
                "--to",
                "es",
                "--glossary",
            ])
            .arg(&glossary)
            .arg("--out")
            .arg(&out),
    );

    let rows = read_csv(&out.join("catalog.es.csv"));
    assert!(rows.len() > 1000, "only {} listings", rows.len());
    let mut regency = 0;
    let mut holders = 0;
    for row in &rows {
        let title = &row["title"];
        assert!(row["qe_score"].parse::<f64>().is_ok(), "{row:?}");
        if title.contains("Regency") {
            regency += 1;
        }
        assert!(
            !title.to_lowercase().contains("regencia"),
            "brand translated: {title}"
        );
        if title.contains("portavelas") {
            holders += 1;
        }
        assert!(
            !title.to_lowercase().contains("t-light holder"),
            "term left: {title}"
        );
    }
    assert!(regency >= 5, "{regency} titles keep Regency");
    assert!(holders >= 20, "{holders} titles use portavelas");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("qe.es.json")).unwrap()).unwrap();
    for term in report["glossary"].as_array().unwrap() {
        assert_eq!(term["uses"], term["enforced"], "{term}");
    }
    assert!(out.join("qe.es.html").exists());

    let queue = run_ok(mercator(&data).args(["--json", "translate", "review", "--lang", "es"]));
    let items: serde_json::Value = serde_json::from_slice(&queue.stdout).unwrap();
    let queued = report["summary"]["queued_for_review"].as_u64().unwrap();
    assert!(queued > 0);
    assert_eq!(items.as_array().unwrap().len() as u64, queued);
}

/// A correction imported from the review CSV replaces the engine's output
/// the next time the same text is translated.
#[test]
fn review_corrections_win_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description\nW1,RED WOOLLY HOTTIE WHITE HEART,\nW2,Blue glass vase,\n",
    )
    .unwrap();

    let translate = |threshold: &str| {
        run_ok(
            mercator(&data)
                .args(["--quiet", "translate"])
                .arg(&catalog)
                .args(["--to", "es", "--review-threshold", threshold, "--out"])
                .arg(&out),
        );
        read_csv(&out.join("catalog.es.csv"))
    };
    let first = translate("100");
    assert_ne!(first[0]["title"], "Bolsa de agua caliente de lana roja");

    let export = dir.path().join("review.csv");
    run_ok(
        mercator(&data)
            .args(["--quiet", "translate", "review", "--export"])
            .arg(&export),
    );
    let mut rows = read_csv(&export);
    assert!(rows
        .iter()
        .any(|row| row["sku"] == "W1" && row["field"] == "title"));
    let mut writer = csv::Writer::from_path(&export).unwrap();
    writer
        .write_record([
            "id",
            "sku",
            "field",
            "target_lang",
            "source",
            "translation",
            "correction",
        ])
        .unwrap();
    for row in &mut rows {
        let correction = if row["sku"] == "W1" && row["field"] == "title" {
            "Bolsa de agua caliente de lana roja"
        } else {
            ""
        };
        writer
            .write_record([
                &row["id"],
                &row["sku"],
                &row["field"],
                &row["target_lang"],
                &row["source"],
                &row["translation"],
                correction,
            ])
            .unwrap();
    }
    writer.flush().unwrap();
    let imported = run_ok(
        mercator(&data)
            .args(["--json", "translate", "review", "--import"])
            .arg(&export),
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("\"imported\":1"));

    let second = translate("70");
    assert_eq!(second[0]["title"], "Bolsa de agua caliente de lana roja");
    assert!(second[0]["qe_flags"].contains("human"), "{:?}", second[0]);
    assert_eq!(second[1]["title"], first[1]["title"]);
}

/// Bad input names the value, the place and the fix.
#[test]
fn translate_errors_name_value_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(&catalog, "sku,title,description\nA1,Red mug,\n").unwrap();

    let unknown = mercator(&data)
        .arg("translate")
        .arg(&catalog)
        .args(["--to", "xx"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("\"xx\""), "{message}");
    assert!(message.contains("en-es"), "{message}");

    let glossary = dir.path().join("terms.csv");
    std::fs::write(
        &glossary,
        "term,translation,target_lang\nmug,taza,es\nlamp,lámpara\n",
    )
    .unwrap();
    let bad_glossary = mercator(&data)
        .arg("translate")
        .arg(&catalog)
        .args(["--to", "es", "--glossary"])
        .arg(&glossary)
        .output()
        .unwrap();
    assert!(!bad_glossary.status.success());
    let message = String::from_utf8_lossy(&bad_glossary.stderr);
    assert!(message.contains("terms.csv line 3"), "{message}");
    assert!(message.contains("expected 3 columns"), "{message}");

    let missing_engine = mercator(&data)
        .arg("translate")
        .arg(&catalog)
        .args(["--to", "es"])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!missing_engine.status.success());
    let message = String::from_utf8_lossy(&missing_engine.stderr);
    assert!(message.contains("apt-get install apertium"), "{message}");

    let translate_to = |target: &str| {
        let output = mercator(&data)
            .arg("translate")
            .arg(&catalog)
            .args(["--to", target])
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let not_a_language = translate_to("xx");
    assert!(
        not_a_language.contains("not a language code")
            && !not_a_language.contains("apertium-eng-xx"),
        "{not_a_language}"
    );
    let uninstalled_pair = translate_to("de");
    assert!(
        uninstalled_pair.contains("apertium-eng-deu"),
        "{uninstalled_pair}"
    );
}

/// A catalog ingested into a dataset is what `translate` reads by default.
#[test]
fn ingest_catalog_then_translate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let catalog = dir.path().join("catalog.json");
    std::fs::write(
        &catalog,
        r#"[{"sku": "J1", "title": "Green table lamp", "description": "<p>Height: 10.5 inches</p>", "bullets": ["Weight: 0.9 lb"]}]"#,
    )
    .unwrap();
    run_ok(
        mercator(&data)
            .args(["--quiet", "ingest", "catalog"])
            .arg(&catalog)
            .args(["--dataset", "shop"]),
    );
    run_ok(
        mercator(&data)
            .args([
                "--quiet",
                "translate",
                "--dataset",
                "shop",
                "--to",
                "es",
                "--out",
            ])
            .arg(&out),
    );
    let rows = read_csv(&out.join("catalog.es.csv"));
    assert!(rows[0]["description"].contains("26,7 cm"), "{:?}", rows[0]);
    assert!(rows[0]["bullets"].contains("408 g"), "{:?}", rows[0]);
}
