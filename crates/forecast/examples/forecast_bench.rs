//! Holdout benchmark of the panel forecaster on a stored dataset, without the CLI.
//!
//! Loads a dataset's lines from a Mercator store, builds the weekly series
//! of one level, times the holdout evaluation (backtest, selection, final
//! fit, intervals), prints the report as JSON and, when given a path,
//! writes the scored series as CSV (`unique_id,ds,y,split`) for other tools.
//!
//! Usage: `forecast_bench DATA_DIR DATASET LEVEL HORIZON_WEEKS [SERIES_CSV]`

use std::fmt::Write as _;
use std::time::Instant;

use mercator_data::store::Store;
use mercator_forecast::{build_panel, evaluate_holdout, ForecastOptions, Frequency, Level};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err(
            "usage: forecast_bench DATA_DIR DATASET LEVEL HORIZON_WEEKS [SERIES_CSV]".into(),
        );
    }
    let level = Level::parse(&args[3])
        .ok_or("invalid level; use sku,country, sku, country, category or total")?;
    let horizon: usize = args[4].parse()?;

    let store = Store::open(std::path::Path::new(&args[1]))?;
    let lines = store.order_lines(&args[2])?;
    let started = Instant::now();
    let panel = build_panel(&lines, level, Frequency::Weekly, None)?;
    let (report, forecast) = evaluate_holdout(&panel, &ForecastOptions::new(horizon))?;
    let seconds = started.elapsed().as_secs_f64();

    if let Some(path) = args.get(5) {
        let mut csv = String::from("unique_id,ds,y,split\n");
        for (series, prediction) in panel.series.iter().zip(&forecast.series) {
            if prediction.is_short || prediction.scale <= 0.0 {
                continue;
            }
            let id = series.key.to_string().replace(',', " ");
            for idx in series.first_active..forecast.origin + horizon {
                let split = if idx < forecast.origin {
                    "train"
                } else {
                    "test"
                };
                writeln!(
                    csv,
                    "{id},{},{},{split}",
                    panel.period_start(idx),
                    series.units[idx]
                )?;
            }
        }
        std::fs::write(path, csv)?;
    }

    let output = serde_json::json!({ "holdout": report, "seconds": seconds });
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}
