//! End-to-end tests of `mercator translate` with the real Apertium engine
//! (run `scripts/setup` to install it) on the bundled sample's products
//! and on small catalogs.

use std::path::Path;

mod common;

use common::{mercator, run_ok};

#[cfg(feature = "nmt")]
#[path = "../../models/tests/support/tiny_nmt.rs"]
mod tiny_nmt;

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
        "sku,title,description\nW1,RED WOOLLY HOTTIE WHITE HEART,\nW2,Blue glass vase,\n\
         W3,Gift card for {name} and woolly friends,\nW4,=1+1 WOOLLY HOTTIE,\n",
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
    // A spreadsheet would run a cell starting with "=" as a formula.
    let formula = rows.iter().find(|row| row["sku"] == "W4").unwrap();
    assert_eq!(formula["source"], "'=1+1 WOOLLY HOTTIE", "{formula:?}");
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
        let correction = match (row["sku"].as_str(), row["field"].as_str()) {
            ("W1", "title") => "Bolsa de agua caliente de lana roja",
            // Stored, but the checks flag it as still in English.
            ("W3", "title") => "Gift card for {name} and woolly friends",
            // As a spreadsheet keeps it: the apostrophe marks text.
            ("W4", "title") => "'=1+1 OFERTA",
            _ => "",
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

    // Imports `export` with `from` replaced by `to`; expects a rejection and
    // returns its message.
    let rejected_import = |name: &str, from: &str, to: &str| -> String {
        let file = dir.path().join(name);
        let text = std::fs::read_to_string(&export).unwrap().replace(from, to);
        std::fs::write(&file, text).unwrap();
        let output = mercator(&data)
            .args(["translate", "review", "--import"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name} was imported");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };

    // A correction that adds markup the source lacks is rejected whole.
    let stderr = rejected_import(
        "hostile.csv",
        "Bolsa de agua caliente de lana roja",
        "Bolsa <script>alert(1)</script>",
    );
    assert!(stderr.contains("tag <script>"), "{stderr}");
    let w1_line = 2 + rows.iter().position(|row| row["sku"] == "W1").unwrap();
    assert!(stderr.contains(&format!("line {w1_line},")), "{stderr}");

    // Spreadsheets save with \r\n line ends; the line is still the right one.
    let crlf = dir.path().join("crlf.csv");
    let text = std::fs::read_to_string(&export)
        .unwrap()
        .replace("Bolsa de agua caliente de lana roja", "Bolsa <script>")
        .replace('\n', "\r\n");
    std::fs::write(&crlf, text).unwrap();
    let output = mercator(&data)
        .args(["translate", "review", "--import"])
        .arg(&crlf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("line {w1_line},")), "{stderr}");

    // So is one that adds an attribute, such as an event handler.
    let stderr = rejected_import(
        "handler.csv",
        "Bolsa de agua caliente de lana roja",
        "<b onclick=\"alert(1)\">Bolsa</b>",
    );
    assert!(stderr.contains("attribute \"onclick\""), "{stderr}");

    // So is one that drops a placeholder of the source.
    let stderr = rejected_import(
        "dropped.csv",
        "Gift card for {name} and woolly friends\n",
        "Tarjeta regalo para amigos\n",
    );
    assert!(stderr.contains("\"{name}\""), "{stderr}");
    assert!(stderr.contains("field correction"), "{stderr}");

    // So is a row whose source is not its item's, as in a file exported
    // from another store: the correction would land on another text.
    let w1_source = &rows[w1_line - 2]["source"];
    let stderr = rejected_import("other_store.csv", w1_source, "Blue ceramic coffee mug");
    assert!(
        stderr.contains(&format!("line {w1_line}, field source")),
        "{stderr}"
    );
    assert!(stderr.contains("another store"), "{stderr}");

    let imported = run_ok(
        mercator(&data)
            .args(["--json", "translate", "review", "--import"])
            .arg(&export),
    );
    let report: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(report["imported"], 3, "{report}");
    // The English copy is flagged as untranslated and
    // scores below the review threshold; the Spanish title is not.
    let flagged = report["flagged"].as_array().unwrap();
    let untranslated: Vec<&serde_json::Value> = flagged
        .iter()
        .filter(|item| {
            item["flags"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("untranslated"))
        })
        .collect();
    assert_eq!(untranslated.len(), 1, "{report}");
    let w3_line = 2 + rows.iter().position(|row| row["sku"] == "W3").unwrap();
    assert_eq!(untranslated[0]["line"], w3_line, "{report}");
    assert!(
        untranslated[0]["score"].as_f64().unwrap() < 70.0,
        "{report}"
    );

    let second = translate("70");
    assert_eq!(second[0]["title"], "Bolsa de agua caliente de lana roja");
    // The catalog is opened in spreadsheets too: the formula stays text.
    assert_eq!(second[3]["title"], "'=1+1 OFERTA");
    assert!(second[0]["qe_flags"].contains("human"), "{:?}", second[0]);
    assert_eq!(second[1]["title"], first[1]["title"]);
    // The stored English copy wins too, but keeps its flag and low score,
    // so it is queued again instead of trusted.
    assert_eq!(
        second[2]["title"],
        "Gift card for {name} and woolly friends"
    );
    assert!(
        second[2]["qe_flags"].contains("untranslated"),
        "{:?}",
        second[2]
    );
    assert!(
        second[2]["qe_score"].parse::<f64>().unwrap() < 70.0,
        "{:?}",
        second[2]
    );
}

/// Any translation can be corrected, not only a queued one: a row that
/// names its source and target language instead of a review item.
#[test]
fn corrections_without_a_review_item() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description\nT1,Large wooden dining table,\n",
    )
    .unwrap();
    let translate = || {
        run_ok(
            mercator(&data)
                .args(["--quiet", "translate"])
                .arg(&catalog)
                .args(["--to", "es", "--review-threshold", "0", "--out"])
                .arg(&out),
        );
        read_csv(&out.join("catalog.es.csv"))
    };
    let first = translate();
    assert_ne!(first[0]["title"], "Mesa de comedor grande de madera");

    let import = |name: &str, text: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        mercator(&data)
            .args(["--json", "translate", "review", "--import"])
            .arg(&file)
            .output()
            .unwrap()
    };
    // Without a target language the row does not name what it corrects.
    let failed = import(
        "no_target.csv",
        "id,source,correction\n,Large wooden dining table,Mesa de comedor grande de madera\n",
    );
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(
        message.contains(
            "line 2, field id: empty; give the id of a review item, or the source and target_lang"
        ),
        "{message}"
    );
    let failed = import(
        "klingon.csv",
        "source,target_lang,correction\nLarge wooden dining table,klingon,Mesa\n",
    );
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(
        message.contains("line 2, field target_lang") && message.contains("not a language code"),
        "{message}"
    );
    let imported = import(
        "fixes.csv",
        "sku,field,source,target_lang,correction\n\
         T1,title,Large wooden dining table,es,Mesa de comedor grande de madera\n",
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(report["imported"], 1, "{report}");

    let second = translate();
    assert_eq!(second[0]["title"], "Mesa de comedor grande de madera");
    assert!(second[0]["qe_flags"].contains("human"), "{:?}", second[0]);
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

    // A source language the engine lacks is named as --from, not --to.
    let output = mercator(&data)
        .arg("translate")
        .arg(&catalog)
        .args(["--from", "de", "--to", "es"])
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("invalid --from value \"de\""), "{message}");

    // Catalog files: another encoding, a made-up language, a value of the
    // wrong type; each named by line or listing, field and fix.
    let failure = |name: &str, content: &[u8]| -> String {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let output = mercator(&data)
            .arg("translate")
            .arg(&file)
            .args(["--to", "es"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name} was translated");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let latin1 = failure("latin1.csv", b"sku,title,description\nA1,Caf\xe9 mug,\n");
    assert!(
        latin1.contains("line 2: byte 0xE9 is not UTF-8"),
        "{latin1}"
    );
    assert_eq!(latin1.matches("not UTF-8").count(), 1, "{latin1}");
    let klingon = failure(
        "klingon.csv",
        b"sku,title,description,source_lang\nA1,Mug,,en\nA2,Cup,,klingon\n",
    );
    assert!(
        klingon.contains("line 3: field source_lang: \"klingon\" is not a language code"),
        "{klingon}"
    );
    let listed = failure(
        "listed.json",
        br#"[{"sku": "A1", "title": "Mug", "attributes": {"color": ["Red"]}}]"#,
    );
    assert!(
        listed.contains("field attributes: the value of \"color\""),
        "{listed}"
    );
    let typed = failure("typed.json", br#"[{"sku": "A1", "title": ["Mug"]}]"#);
    assert!(
        typed.contains("listing 1 of the array: field title"),
        "{typed}"
    );
    // A null optional field is no error.
    let nulls = dir.path().join("nulls.json");
    std::fs::write(
        &nulls,
        r#"[{"sku": "A1", "title": "Red mug", "description": null, "bullets": null,
             "attributes": {"size": null, "color": "red"}}]"#,
    )
    .unwrap();
    run_ok(
        mercator(&data)
            .arg("translate")
            .arg(&nulls)
            .args(["--to", "es", "--out"])
            .arg(dir.path().join("out")),
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

/// The nmt engine translates a catalog file with a model folder and
/// scores every listing.
#[cfg(feature = "nmt")]
#[test]
fn translate_with_nmt_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let model = dir.path().join("tiny-nmt");
    tiny_nmt::write_tiny_nmt_model(&model);
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description\n\
         N1,Red wool scarf,Blue cotton shirt with red scarf\n\
         N2,Blue mug,\n\
         N3,Cotton shirt and wool scarf,Red mug\n",
    )
    .unwrap();

    let translate = || {
        run_ok(
            mercator(&data)
                .args(["--quiet", "translate"])
                .arg(&catalog)
                .args(["--to", "es", "--engine", "nmt", "--nmt-model"])
                .arg(&model)
                .arg("--out")
                .arg(&out),
        );
        read_csv(&out.join("catalog.es.csv"))
    };
    let rows = translate();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row["target_lang"], "es", "{row:?}");
        assert!(!row["title"].is_empty(), "{row:?}");
        let score: f64 = row["qe_score"].parse().unwrap();
        assert!((0.0..=100.0).contains(&score), "{row:?}");
    }
    assert!(out.join("qe.es.json").is_file());
    assert!(out.join("qe.es.html").is_file());

    // The same catalog gives the same text again. The second run reads the
    // translation memory, so only the texts are compared, not the scores.
    let texts = |rows: &[std::collections::HashMap<String, String>]| -> Vec<(String, String)> {
        rows.iter()
            .map(|row| (row["title"].clone(), row["description"].clone()))
            .collect()
    };
    assert_eq!(texts(&translate()), texts(&rows));

    // Installed under a name, the folder is detected as a translation model,
    // passes verify, and --nmt-model takes the name.
    let added = run_ok(
        mercator(&data)
            .args(["models", "add", "tiny-en-es", "--path"])
            .arg(&model),
    );
    assert!(
        String::from_utf8_lossy(&added.stdout).contains("translation"),
        "{}",
        String::from_utf8_lossy(&added.stdout)
    );
    run_ok(mercator(&data).args(["models", "verify", "tiny-en-es"]));
    let by_name = dir.path().join("by-name");
    run_ok(
        mercator(&data)
            .args(["--quiet", "translate"])
            .arg(&catalog)
            .args([
                "--to",
                "es",
                "--engine",
                "nmt",
                "--nmt-model",
                "tiny-en-es",
                "--out",
            ])
            .arg(&by_name),
    );
    assert_eq!(read_csv(&by_name.join("catalog.es.csv")).len(), 3);
}

/// The nmt engine rejects a folder without model.bin, several --to
/// languages and a missing --nmt-model, each with the fix.
#[cfg(feature = "nmt")]
#[test]
fn translate_nmt_errors_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(&catalog, "sku,title,description\nA1,Red mug,\n").unwrap();
    let empty_model = dir.path().join("empty-model");
    std::fs::create_dir_all(&empty_model).unwrap();

    let run = |args: &[&str]| {
        let output = mercator(&data)
            .arg("translate")
            .arg(&catalog)
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let empty = empty_model.to_str().unwrap();

    let message = run(&["--to", "es", "--engine", "nmt", "--nmt-model", empty]);
    assert!(message.contains("model.bin not found"), "{message}");
    assert!(message.contains("ct2-transformers-converter"), "{message}");

    let message = run(&["--to", "es,de", "--engine", "nmt", "--nmt-model", empty]);
    assert!(message.contains("one language pair per model"), "{message}");
    assert!(message.contains("es,de"), "{message}");

    let message = run(&["--to", "es", "--engine", "nmt"]);
    assert!(message.contains("--nmt-model"), "{message}");

    let message = run(&[
        "--to",
        "es",
        "--engine",
        "nmt",
        "--nmt-model",
        "absent-model",
    ]);
    assert!(
        message.contains("neither a folder nor a model installed"),
        "{message}"
    );

    let message = run(&["--to", "es", "--nmt-model", empty]);
    assert!(message.contains("apply to --engine nmt"), "{message}");
}

/// `translate score` rates translations made elsewhere, from a file or
/// the command line, and names the row and field of bad input.
#[test]
fn score_rates_outside_translations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(
        &pairs,
        "id,source,translation\n\
         good,<p>The <b>red mug</b> holds 350 ml.</p>,<p>La <b>taza roja</b> tiene capacidad para 350 ml.</p>\n\
         number,The red mug holds 350 ml.,La taza roja tiene capacidad para 250 ml.\n\
         english,Gift card for {name} and woolly friends,Gift card for {name} and woolly friends\n\
         dropped,Gift card for {name} and woolly friends,Tarjeta regalo para amigos\n\
         price,Now only $19.99 for the red mug.,Ahora solo 1.999 $ por la taza roja.\n\
         sign,Keep the red mug above -5 °C.,Mantén la taza roja por encima de 5 °C.\n\
         cut,\"Soft cotton socks with a reinforced heel, sold in packs of five pairs.\",Calcetines suaves de algodón con\n",
    )
    .unwrap();
    let out = dir.path().join("scored.csv");
    let output = run_ok(
        mercator(&data)
            .args(["--json", "translate", "score"])
            .arg(&pairs)
            .args(["--to", "es", "--out"])
            .arg(&out),
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let by_id = |id: &str| rows.iter().find(|row| row["id"] == id).unwrap();
    let flags = |id: &str| by_id(id)["flags"].to_string();
    let score = |id: &str| by_id(id)["score"].as_f64().unwrap();
    assert!(score("good") > 90.0, "{:?}", by_id("good"));
    assert!(flags("number").contains("number_mismatch"));
    assert!(flags("english").contains("untranslated"));
    assert!(flags("dropped").contains("span_problems"));
    assert_eq!(by_id("dropped")["missing_spans"][0], "{name}");
    for id in ["number", "english", "dropped"] {
        assert!(score(id) < score("good"), "{id}: {:?}", by_id(id));
    }
    // A decimal point read as a thousands group, a lost minus sign and a
    // text cut short each send the pair to review.
    for id in ["price", "sign", "cut"] {
        assert!(score(id) < 70.0, "{id}: {:?}", by_id(id));
    }
    assert!(flags("price").contains("number_mismatch"));
    assert!(flags("sign").contains("number_mismatch"));
    assert!(flags("cut").contains("length_deviation"));
    let written = read_csv(&out);
    assert_eq!(written.len(), 7);
    assert_eq!(written[2]["id"], "english");
    assert!(written[2]["qe_flags"].contains("untranslated"));

    let single = run_ok(mercator(&data).args([
        "translate",
        "score",
        "--source",
        "Height: 10.5 inches",
        "--translation",
        "Altura: 26,7 cm",
        "--to",
        "es",
    ]));
    let line = String::from_utf8(single.stdout).unwrap();
    assert!(line.starts_with("1\t"), "{line}");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"source\": \"Red mug\", \"translation\": \"Taza roja\", \"target_lang\": \"es\"}\n\
         {\"source\": \"Blue cup\", \"translation\": \"Taza azul\", \"target_lang\": \"zz\"}\n",
    )
    .unwrap();
    let failed = mercator(&data)
        .args(["translate", "score"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(
        message.contains("bad.jsonl line 2, field target_lang: \"zz\""),
        "{message}"
    );
    let no_translation = dir.path().join("sources.csv");
    std::fs::write(&no_translation, "id,source\n1,Wooden chair\n").unwrap();
    let failed = mercator(&data)
        .args(["translate", "score", "--to", "es"])
        .arg(&no_translation)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(
        message.contains("line 1: the header has no translation column (found: id,source)"),
        "{message}"
    );

    let no_target = mercator(&data)
        .args(["translate", "score"])
        .arg(&pairs)
        .output()
        .unwrap();
    assert!(!no_target.status.success());
    let message = String::from_utf8_lossy(&no_target.stderr);
    assert!(message.contains("line 2, field target_lang"), "{message}");
}

/// English sentences and correct Spanish translations, for training a
/// quality estimator on text checks alone.
const SCORED_PAIRS: [(&str, &str); 20] = [
    (
        "The red mug holds 350 ml.",
        "La taza roja tiene capacidad para 350 ml.",
    ),
    (
        "Your order ships within 2 days.",
        "Tu pedido se envía en un plazo de 2 días.",
    ),
    (
        "This lamp is made of solid oak.",
        "Esta lámpara está hecha de roble macizo.",
    ),
    (
        "We refund returns within 14 days.",
        "Reembolsamos las devoluciones en 14 días.",
    ),
    (
        "The jacket is waterproof and light.",
        "La chaqueta es impermeable y ligera.",
    ),
    (
        "Please check your email for the tracking number.",
        "Consulta tu correo para ver el número de seguimiento.",
    ),
    ("The set includes 6 glasses.", "El juego incluye 6 vasos."),
    (
        "Wash the cover at 30 degrees.",
        "Lava la funda a 30 grados.",
    ),
    (
        "Our shop is closed on Sundays.",
        "Nuestra tienda cierra los domingos.",
    ),
    (
        "The battery lasts up to 10 hours.",
        "La batería dura hasta 10 horas.",
    ),
    (
        "Can I change the delivery address?",
        "¿Puedo cambiar la dirección de entrega?",
    ),
    (
        "The chair supports up to 120 kg.",
        "La silla soporta hasta 120 kg.",
    ),
    ("Thank you for your patience.", "Gracias por tu paciencia."),
    (
        "The blanket is soft and warm.",
        "La manta es suave y cálida.",
    ),
    ("We ship to 40 countries.", "Enviamos a 40 países."),
    (
        "The price includes taxes.",
        "El precio incluye los impuestos.",
    ),
    (
        "The poster measures 50 by 70 cm.",
        "El póster mide 50 por 70 cm.",
    ),
    (
        "Your parcel was delivered yesterday.",
        "Tu paquete se entregó ayer.",
    ),
    (
        "The kettle boils water in 3 minutes.",
        "El hervidor hierve el agua en 3 minutos.",
    ),
    (
        "Free shipping on orders over 50 euros.",
        "Envío gratis en pedidos de más de 50 euros.",
    ),
];

/// `translate train-qe` fits an estimator to human scores, records and
/// promotes it, and `translate score` then uses it unless given `--rules`.
#[test]
fn train_qe_learns_from_human_scores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Each translation as written (human score 100), cut after three
    // words (40) and with its last number changed (70).
    let mut rows = String::from("source,translation,score,group\n");
    for (i, (source, translation)) in SCORED_PAIRS.iter().enumerate() {
        let group = format!("doc{}", i % 7);
        let cut: Vec<&str> = translation.split_whitespace().take(3).collect();
        let changed = translation.replace(|c: char| c.is_ascii_digit(), "9");
        rows.push_str(&format!("\"{source}\",\"{translation}\",100,{group}\n"));
        rows.push_str(&format!("\"{source}\",\"{}\",40,{group}\n", cut.join(" ")));
        if changed != *translation {
            rows.push_str(&format!("\"{source}\",\"{changed}\",70,{group}\n"));
        }
    }
    let scored = dir.path().join("scored.csv");
    std::fs::write(&scored, rows).unwrap();

    let trained = run_ok(
        mercator(&data)
            .args(["--json", "translate", "train-qe", "--to", "es"])
            .arg(&scored),
    );
    let trained: serde_json::Value = serde_json::from_slice(&trained.stdout).unwrap();
    assert_eq!(trained["promoted"], true, "{trained}");
    let spearman = trained["metrics"]["cross_validated_spearman"]
        .as_f64()
        .unwrap();
    assert!(spearman > 0.5, "{trained}");
    let version = trained["version"].as_i64().unwrap();

    let pairs = dir.path().join("pairs.csv");
    std::fs::write(
        &pairs,
        "id,source,translation\n\
         whole,The sofa has 3 seats and a soft cover.,El sofá tiene 3 plazas y una funda suave.\n\
         cut,The sofa has 3 seats and a soft cover.,El sofá tiene\n\
         empty,The sofa has 3 seats and a soft cover.,\n\
         renumbered,The sofa has 3 seats and a soft cover.,El sofá tiene 5 plazas y una funda suave.\n",
    )
    .unwrap();
    let score = |extra: &[&str]| -> Vec<serde_json::Value> {
        let output = run_ok(
            mercator(&data)
                .args(["--json", "translate", "score", "--to", "es"])
                .args(extra)
                .arg(&pairs),
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let with_estimator = score(&[]);
    assert_eq!(with_estimator[0]["estimator"], version);
    let (whole, cut) = (
        with_estimator[0]["score"].as_f64().unwrap(),
        with_estimator[1]["score"].as_f64().unwrap(),
    );
    assert!(whole > cut + 20.0, "{with_estimator:?}");
    // Gross failures stay below the review threshold whatever the
    // estimator learned.
    for row in &with_estimator[1..] {
        assert!(row["score"].as_f64().unwrap() < 70.0, "{row}");
    }
    let with_rules = score(&["--rules"]);
    assert!(with_rules[0].get("estimator").is_none(), "{with_rules:?}");

    // Catalog translation scores its segments with the estimator as well.
    let catalog = dir.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "sku,title,description
S1,Blue sofa,The sofa has 3 seats and a soft cover.
",
    )
    .unwrap();
    let translate = |extra: &[&str]| -> serde_json::Value {
        let output = run_ok(
            mercator(&data)
                .args(["--json", "translate"])
                .arg(&catalog)
                .args(["--to", "es", "--out"])
                .arg(dir.path().join("out"))
                .args(extra),
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()[0].clone()
    };
    assert_eq!(translate(&[])["quality_estimator"], version);
    assert!(translate(&["--rules"])["quality_estimator"].is_null());

    for (body, expected) in [
        (
            "source,translation,score\nRed mug,Taza roja,100\nBlue cup,Taza azul,high\n",
            "line 3, field score: \"high\" is not a number",
        ),
        (
            "source,translation\nRed mug,Taza roja\n",
            "no row has a score (in CSV, the header has no score column)",
        ),
        (
            "source,translation,score\nRed mug,Taza roja,90\nBlue cup,Taza azul,\n",
            "line 3, field score: missing",
        ),
        (
            // Known columns match in any case.
            "Source,TRANSLATION,Score\nRed mug,Taza roja,100\n",
            "too few scored translations (1)",
        ),
        ("", "the file is empty"),
        (
            "source,translation,score\nRed mug,Taza roja,250\n",
            "line 2, field score: 250 is above 100",
        ),
    ] {
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, body).unwrap();
        let failed = mercator(&data)
            .args(["translate", "train-qe", "--to", "es"])
            .arg(&bad)
            .output()
            .unwrap();
        assert!(!failed.status.success());
        let message = String::from_utf8_lossy(&failed.stderr);
        assert!(message.contains(expected), "{message}");
    }
    // A failed training leaves the promoted version in place, and the
    // registry lists it.
    assert_eq!(score(&[])[0]["estimator"], version);
    let history = run_ok(mercator(&data).args(["models", "history", "--kind", "quality"]));
    let history = String::from_utf8(history.stdout).unwrap();
    assert!(history.contains(&format!("* v{version}")), "{history}");

    // The server's quality endpoint uses it too.
    let key = String::from_utf8(
        run_ok(mercator(&data).args(["keys", "create", "--name", "shop"])).stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let mut command = mercator(&data);
    command.args(["serve", "--port", "0"]);
    let server = common::Server::start(command);
    let quality = common::request(
        server.addr,
        "POST",
        "/v1/translations/quality",
        Some(&key),
        r#"{"pairs": [
            {"source": "The sofa has 3 seats and a soft cover.", "translation": "El sofá tiene 3 plazas y una funda suave.", "target_lang": "es"},
            {"source": "The sofa has 3 seats and a soft cover.", "translation": "El sofá tiene", "target_lang": "es"}
        ]}"#,
    );
    assert_eq!(quality.status, 200, "{}", quality.body);
    let scores = quality.body["scores"].as_array().unwrap();
    assert_eq!(scores[0]["estimator"], version);
    assert_eq!(scores[0]["score"], with_estimator[0]["score"]);
    assert_eq!(scores[1]["score"], with_estimator[1]["score"]);

    // Scores that all agree teach nothing, and copies of rows count once.
    let same = dir.path().join("same.csv");
    let text = std::fs::read_to_string(&scored).unwrap();
    std::fs::write(
        &same,
        text.replace(",40,", ",100,").replace(",70,", ",100,"),
    )
    .unwrap();
    let refused = mercator(&data)
        .args(["translate", "train-qe", "--to", "es"])
        .arg(&same)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("translations score 100"), "{message}");
    // Scores that count errors (100 for the worst) are not promoted.
    let reversed = dir.path().join("reversed.csv");
    std::fs::write(
        &reversed,
        text.replace(",100,", ",0,")
            .replace(",40,", ",60,")
            .replace(",70,", ",30,"),
    )
    .unwrap();
    let inverted = run_ok(
        mercator(&data)
            .args(["--json", "translate", "train-qe", "--to", "es"])
            .arg(&reversed),
    );
    let inverted: serde_json::Value = serde_json::from_slice(&inverted.stdout).unwrap();
    assert_eq!(inverted["promoted"], false, "{inverted}");
    assert!(
        inverted["reason"]
            .as_str()
            .unwrap()
            .contains("error counts"),
        "{inverted}"
    );
    assert_eq!(score(&[])[0]["estimator"], version);
    let twice = dir.path().join("twice.csv");
    let body = text.lines().skip(1).collect::<Vec<_>>().join("\n");
    std::fs::write(&twice, format!("{text}{body}\n")).unwrap();
    let doubled = run_ok(
        mercator(&data)
            .args(["--json", "translate", "train-qe", "--to", "es"])
            .arg(&twice),
    );
    let doubled: serde_json::Value = serde_json::from_slice(&doubled.stdout).unwrap();
    assert_eq!(doubled["metrics"]["rows"], trained["metrics"]["rows"]);
    assert_eq!(
        doubled["metrics"]["duplicate_rows_merged"],
        trained["metrics"]["rows"]
    );
    assert_eq!(
        doubled["metrics"]["cross_validated_spearman"],
        trained["metrics"]["cross_validated_spearman"]
    );
    let forced = run_ok(
        mercator(&data)
            .args(["--json", "translate", "train-qe", "--force", "--to", "es"])
            .arg(&scored),
    );
    let forced: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    let newest = forced["version"].as_i64().unwrap();
    assert_eq!(forced["promoted"], true, "{forced}");
    // The estimator the running server scores "Red mug" with.
    let served = || {
        common::request(
            server.addr,
            "POST",
            "/v1/translations/quality",
            Some(&key),
            r#"{"pairs": [{"source": "Red mug", "translation": "Taza roja", "target_lang": "es"}]}"#,
        )
        .body["scores"][0]["estimator"]
            .clone()
    };
    assert_eq!(served(), newest);

    // A damaged estimator file leaves the hand-set weights scoring, with a
    // warning that names the recovery commands.
    let store = rusqlite::Connection::open(data.join("mercator.db")).unwrap();
    let artifact: String = store
        .query_row(
            "SELECT artifact FROM model_versions WHERE id = ?1",
            [newest],
            |row| row.get(0),
        )
        .unwrap();
    std::fs::write(data.join(artifact), "{}").unwrap();
    let output = mercator(&data)
        .args(["--json", "translate", "score", "--to", "es"])
        .arg(&pairs)
        .output()
        .unwrap();
    assert!(output.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(rows[0].get("estimator").is_none(), "{rows}");
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("rollback --kind quality"), "{warning}");

    // Rollbacks walk back to the first estimator, then to the hand-set
    // weights, on the command line and on the running server.
    let rollback = || {
        let output =
            run_ok(mercator(&data).args(["--json", "models", "rollback", "--kind", "quality"]));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    // The copies trained a version of their own, promoted like the first.
    let copies = doubled["version"].as_i64().unwrap();
    assert_eq!(doubled["promoted"], true, "{doubled}");
    assert_eq!(
        rollback(),
        serde_json::json!({ "from": newest, "to": copies })
    );
    assert_eq!(
        rollback(),
        serde_json::json!({ "from": copies, "to": version })
    );
    assert_eq!(score(&[])[0]["estimator"], version);
    assert_eq!(served(), version);
    assert_eq!(
        rollback(),
        serde_json::json!({ "from": version, "to": null })
    );
    assert!(score(&[])[0].get("estimator").is_none());
    assert!(served().is_null());
    let history = run_ok(mercator(&data).args(["models", "history", "--kind", "quality"]));
    assert!(!String::from_utf8(history.stdout).unwrap().contains('*'));
    let none_left = mercator(&data)
        .args(["models", "rollback", "--kind", "quality"])
        .output()
        .unwrap();
    assert!(!none_left.status.success());
    let message = String::from_utf8_lossy(&none_left.stderr);
    assert!(message.contains("no earlier quality version"), "{message}");
}

/// Reviewed fields train an estimator: the loop from review back to the
/// scores that choose what to review.
#[test]
fn train_qe_learns_from_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let none = mercator(&data)
        .args(["translate", "train-qe", "--from-reviews"])
        .output()
        .unwrap();
    assert!(!none.status.success());
    let message = String::from_utf8_lossy(&none.stderr);
    assert!(message.contains("no reviewed fields yet"), "{message}");

    // Eighty descriptions of two sentences each, and their references.
    let mut catalog = String::from("sku,title,description\n");
    let mut references = std::collections::HashMap::new();
    for i in 0..80 {
        let (first, first_es) = SCORED_PAIRS[i % 20];
        let (second, second_es) = SCORED_PAIRS[(i + 1 + i / 20 * 2) % 20];
        let description = format!("{first} {second}");
        catalog.push_str(&format!("S{i},Item {i},\"{description}\"\n"));
        references.insert(description, format!("{first_es} {second_es}"));
    }
    let catalog_path = dir.path().join("catalog.csv");
    std::fs::write(&catalog_path, catalog).unwrap();
    // At a threshold of 100, any field with a problem is queued; every
    // description is long enough to count as a risk.
    run_ok(
        mercator(&data)
            .args(["--quiet", "translate"])
            .arg(&catalog_path)
            .args(["--to", "es", "--review-threshold", "100", "--out"])
            .arg(dir.path().join("out")),
    );
    let export = dir.path().join("review.csv");
    run_ok(
        mercator(&data)
            .args(["--quiet", "translate", "review", "--export"])
            .arg(&export),
    );
    let rows = read_csv(&export);
    assert!(rows.len() >= 40, "{} fields queued", rows.len());
    // Reviewers keep the titles and write the descriptions their own way.
    let mut writer = csv::Writer::from_path(&export).unwrap();
    writer
        .write_record(["id", "sku", "field", "target_lang", "source", "correction"])
        .unwrap();
    for row in &rows {
        let correction = if row["field"] == "title" {
            row["translation"].clone()
        } else {
            references[&row["source"]].clone()
        };
        writer
            .write_record([
                &row["id"],
                &row["sku"],
                &row["field"],
                &row["target_lang"],
                &row["source"],
                &correction,
            ])
            .unwrap();
    }
    writer.flush().unwrap();
    run_ok(
        mercator(&data)
            .args(["--quiet", "translate", "review", "--import"])
            .arg(&export),
    );

    let trained =
        run_ok(mercator(&data).args(["--json", "translate", "train-qe", "--from-reviews"]));
    let trained: serde_json::Value = serde_json::from_slice(&trained.stdout).unwrap();
    assert_eq!(trained["metrics"]["rows"], rows.len(), "{trained}");
    assert_eq!(trained["params"]["trained_on"], "the reviewed fields");
    assert_eq!(trained["promoted"], true);
}

/// The server translates listings through the same pipeline and memory
/// as the command line, and scores outside translations.
#[test]
fn serve_translates_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = String::from_utf8(
        run_ok(mercator(&data).args(["keys", "create", "--name", "shop"])).stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let glossary = dir.path().join("terms.csv");
    std::fs::write(&glossary, "term,translation,target_lang\nAcme,,es\n").unwrap();
    let mut command = mercator(&data);
    command
        .args(["serve", "--port", "0", "--glossary"])
        .arg(&glossary);
    let server = common::Server::start(command);

    let body = serde_json::json!({
        "to": "es",
        "listings": [
            {"sku": "H1", "title": "Acme table lamp",
             "description": "<p>Height: 10.5 inches. See <a href=\"https://shop.example/h1\" title=\"Lamp page\">the red lamp</a>.</p>"},
            {"sku": "D1", "title": "Roter Becher", "source_lang": "de"},
            {"sku": "M1", "title": "Red mug", "bullets": "Holds 350 ml | Dishwasher safe", "color_code": "R7"}
        ]
    });
    let reply = common::request(
        server.addr,
        "POST",
        "/v1/translations",
        Some(&key),
        &body.to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lamp = &reply.body["listings"][0]["listing"];
    assert!(
        lamp["title"].as_str().unwrap().starts_with("Acme"),
        "{lamp}"
    );
    let description = lamp["description"].as_str().unwrap();
    assert!(description.contains("26,7 cm"), "{description}");
    assert!(
        description.contains("href=\"https://shop.example/h1\""),
        "{description}"
    );
    // The German listing has no Apertium pair here: it fails alone.
    assert_eq!(reply.body["listings"][1]["qe_score"], 0.0);
    assert!(reply.body["listings"][1]["qe_flags"]
        .to_string()
        .contains("engine_error"));
    let reason = reply.body["listings"][1]["fields"][0]["errors"][0].to_string();
    assert!(reason.contains("no pair de-es"), "{reason}");
    assert!(reply.body["queued_for_review"].as_u64().unwrap() >= 1);
    // Bullets may come as one string, as in a CSV cell; other fields and
    // the listing's place in the request come back.
    let mug = &reply.body["listings"][2]["listing"];
    assert_eq!(mug["bullets"].as_array().unwrap().len(), 2, "{mug}");
    assert_eq!(mug["extra"]["color_code"], "R7", "{mug}");
    assert_eq!(mug["position"], 3, "{mug}");

    let quality = common::request(
        server.addr,
        "POST",
        "/v1/translations/quality",
        Some(&key),
        r#"{"pairs": [
            {"id": "mug-es", "source": "The red mug holds 350 ml.", "translation": "La taza roja tiene capacidad para 350 ml.", "target_lang": "es"},
            {"source": "The red mug holds 350 ml.", "translation": "The red mug holds 350 ml.", "target_lang": "es"},
            {"id": 7, "source": "Red mug", "translation": null, "target_lang": "es"}
        ]}"#,
    );
    assert_eq!(quality.status, 200, "{}", quality.body);
    let scores = quality.body["scores"].as_array().unwrap();
    assert!(scores[0]["score"].as_f64().unwrap() > scores[1]["score"].as_f64().unwrap());
    assert!(scores[1]["flags"].to_string().contains("untranslated"));
    assert_eq!(scores[0]["id"], "mug-es");
    assert_eq!(scores[1]["id"], "2");
    // A numeric id comes back as text, and a null translation is missing.
    assert_eq!(scores[2]["id"], "7");
    assert_eq!(scores[2]["score"], 0.0);

    for (path, body, expected) in [
        (
            "/v1/translations",
            r#"{"to": "xx", "listings": [{"sku": "A", "title": "Mug"}]}"#,
            "\"xx\"",
        ),
        (
            "/v1/translations",
            r#"{"to": "es", "listings": []}"#,
            "send 1 to 100",
        ),
        (
            "/v1/translations",
            r#"{"to": "es", "listings": [{"sku": "A", "title": "Mug", "bullets": 7}]}"#,
            "listings[0]: bullets 7",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": [{"source": "a", "translation": "b", "target_lang": "qq"}]}"#,
            "pairs[0].target_lang",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": [{"source": " ", "translation": "b", "target_lang": "es"}]}"#,
            "pairs[0].source",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": [{"source": "a", "translation": "b", "target_lang": "es"}, {"source": "a", "translation": true, "target_lang": "es"}]}"#,
            "pairs[1].translation: true is not text",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": [{"source": "a", "target_lang": "es"}]}"#,
            "pairs[0].translation: missing",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": [{"source": "a", "translation": "b", "target_lang": "es", "score": 3}]}"#,
            "pairs[0]: unknown field \"score\"",
        ),
        (
            "/v1/translations/quality",
            r#"{"pairs": {"source": "a"}}"#,
            "pairs: {",
        ),
    ] {
        let reply = common::request(server.addr, "POST", path, Some(&key), body);
        assert_eq!(reply.status, 400, "{path} {body}: {}", reply.body);
        let message = reply.body["error"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let unauthorized = common::request(server.addr, "POST", "/v1/translations/quality", None, "{}");
    assert_eq!(unauthorized.status, 401);
}
