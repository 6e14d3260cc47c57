//! The QE report: `qe.<lang>.json` for scripts and `qe.<lang>.html` for
//! people, with a summary, glossary use and every listing's fields,
//! scores and flags, lowest score first.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::html::escape_text;
use crate::pipeline::RunReport;

/// Builds the summary and details of a run as JSON.
pub fn to_json(report: &RunReport, review_threshold: f64) -> Value {
    let scores: Vec<f64> = report
        .listings
        .iter()
        .map(|listing| listing.score)
        .collect();
    let mean = if scores.is_empty() {
        100.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    let below = scores
        .iter()
        .filter(|&&score| score < review_threshold)
        .count();

    let mut flag_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for listing in &report.listings {
        for flag in &listing.flags {
            *flag_counts.entry(flag.as_str()).or_default() += 1;
        }
    }

    let mut glossary: BTreeMap<&str, (usize, usize, &str)> = BTreeMap::new();
    for listing in &report.listings {
        for term in &listing.glossary {
            let entry = glossary
                .entry(term.term.as_str())
                .or_insert((0, 0, term.written.as_str()));
            entry.0 += 1;
            entry.1 += usize::from(term.enforced);
        }
    }

    json!({
        "engine": report.engine,
        "target_lang": report.target_lang,
        "summary": {
            "listings": report.listings.len(),
            "segments": report.segments,
            "from_engine": report.from_engine,
            "from_memory": report.from_memory,
            "failed_segments": report.failed,
            "mean_score": (mean * 10.0).round() / 10.0,
            "review_threshold": review_threshold,
            "listings_below_threshold": below,
            "share_flagged": if scores.is_empty() { 0.0 } else { below as f64 / scores.len() as f64 },
            "queued_for_review": report.queued_for_review,
            "flags": flag_counts,
        },
        "glossary": glossary.iter().map(|(term, (uses, enforced, written))| json!({
            "term": term, "uses": uses, "enforced": enforced, "written": written,
        })).collect::<Vec<_>>(),
        "listings": report.listings,
    })
}

/// Renders the report as a self-contained HTML page.
pub fn to_html(report: &RunReport, review_threshold: f64) -> String {
    let summary = to_json(report, review_threshold);
    let mut listings: Vec<_> = report.listings.iter().collect();
    listings.sort_by(|a, b| a.score.total_cmp(&b.score).then_with(|| a.sku.cmp(&b.sku)));

    let mut rows = String::new();
    for listing in listings {
        for field in &listing.fields {
            if field.source.trim().is_empty() {
                continue;
            }
            let class = if field.score < review_threshold {
                " class=\"low\""
            } else {
                ""
            };
            rows.push_str(&format!(
                "<tr{class}><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape_text(&listing.sku),
                escape_text(&field.field),
                field.score,
                escape_text(&field.flags.join(", ")),
                escape_text(&field.source),
                escape_text(&field.output),
            ));
        }
    }

    let s = &summary["summary"];
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Translation quality: {engine} to {target}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; font-size: 14px; }}
tr.low td {{ background: #fdecea; }}
</style></head><body>
<h1>Translation quality: {engine} to {target}</h1>
<p>{listings} listings, {segments} segments ({from_engine} from the engine, {from_memory} from memory, {failed} failed).
Mean listing score {mean}; {below} listings below {threshold} ({queued} fields queued for review).</p>
<table><thead><tr><th>SKU</th><th>field</th><th>score</th><th>flags</th><th>source</th><th>translation</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        engine = escape_text(&report.engine),
        target = escape_text(&report.target_lang),
        listings = s["listings"],
        segments = s["segments"],
        from_engine = s["from_engine"],
        from_memory = s["from_memory"],
        failed = s["failed_segments"],
        mean = s["mean_score"],
        below = s["listings_below_threshold"],
        threshold = review_threshold,
        queued = s["queued_for_review"],
    )
}
