//! `mercator datasets`: what the store contains.

use crate::commands::ingest::open_store;
use crate::Global;

pub fn execute(global: &Global) -> anyhow::Result<()> {
    let store = open_store(&global.data_dir)?;
    let mut out = Vec::new();
    for (name, n_lines) in store.datasets()? {
        let sources = store.sources(&name)?;
        out.push(serde_json::json!({
            "name": name,
            "order_lines": n_lines,
            "sources": sources.iter().map(|s| serde_json::json!({
                "path": s.path,
                "sha256": s.sha256,
                "rows": s.rows_read,
                "ingested_at": s.ingested_at,
            })).collect::<Vec<_>>(),
        }));
    }
    if global.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if out.is_empty() && !global.quiet {
        println!("the store is empty; add orders with `mercator ingest orders FILE`");
    }
    for dataset in &out {
        println!(
            "{}: {} order lines",
            dataset["name"].as_str().unwrap_or(""),
            dataset["order_lines"]
        );
        for source in dataset["sources"].as_array().into_iter().flatten() {
            println!(
                "  {} ({} rows, {})",
                source["path"].as_str().unwrap_or(""),
                source["rows"],
                source["ingested_at"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
