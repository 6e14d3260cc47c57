//! Offline benchmark of the recommenders on a stored dataset, without the CLI.
//!
//! Runs the validation search, the ranker and the test-window evaluation
//! of every model, times one ALS fit on the test split with the chosen
//! settings, and writes for other tools the same split: `train.csv`
//! (`user,item,confidence` of the ALS input) and `eval.csv`
//! (`user,n_relevant,relevant items separated by spaces`). Prints the
//! report as JSON. It also trains the propensity classifiers and writes
//! their feature rows as `propensity_{train,validation,test}.csv`.
//!
//! Usage: `recommend_bench DATA_DIR DATASET OUT_DIR`

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use mercator_data::store::Store;
use mercator_recommend::als::AlsModel;
use mercator_recommend::engine::Generators;
use mercator_recommend::history::PurchaseHistory;
use mercator_recommend::interactions::Interactions;
use mercator_recommend::offline::{eval_customers, train_recommender, OfflineConfig};
use mercator_recommend::propensity_model::{build_split, train_propensity, Rows};
use mercator_recommend::PropensityConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: recommend_bench DATA_DIR DATASET OUT_DIR".into());
    }
    let store = Store::open(Path::new(&args[1]))?;
    let lines = store.order_lines(&args[2])?;
    let out_dir = Path::new(&args[3]);
    std::fs::create_dir_all(out_dir)?;

    let started = Instant::now();
    let config = OfflineConfig::default();
    let (_, report) = train_recommender(&lines, &config)?;
    let total_seconds = started.elapsed().as_secs_f64();

    // The test split exactly as the evaluation built it.
    let als_options = report.chosen.als.clone();
    let history = PurchaseHistory::build(&lines, report.test_cutoff);
    let interactions = Interactions::from_history(&history);
    let confidence = interactions.confidence(als_options.alpha);
    let mut als_seconds = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let model = AlsModel::fit(&confidence, &als_options);
        als_seconds.push(started.elapsed().as_secs_f64());
        std::hint::black_box(model);
    }

    let mut train_csv = String::from("user,item,confidence\n");
    for user in 0..confidence.n_rows() {
        let (items, values) = confidence.row(user);
        for (item, value) in items.iter().zip(values) {
            writeln!(train_csv, "{user},{item},{value}")?;
        }
    }
    std::fs::write(out_dir.join("train.csv"), train_csv)?;

    let generators = Generators::fit(&lines, report.test_cutoff, &report.chosen);
    let customers = eval_customers(&lines, &generators, report.test_cutoff, report.test_end);
    let mut eval_csv = String::from("user,n_relevant,relevant\n");
    for customer in &customers {
        let user = interactions
            .user_idx(&customer.customer_id)
            .ok_or("evaluated customer missing from the matrix")?;
        let relevant: Vec<String> = customer.relevant.iter().map(u32::to_string).collect();
        writeln!(
            eval_csv,
            "{user},{},{}",
            customer.n_relevant,
            relevant.join(" ")
        )?;
    }
    std::fs::write(out_dir.join("eval.csv"), eval_csv)?;

    let window = chrono::Duration::days(config.window_days);
    let propensity_config = PropensityConfig::default();
    let started = Instant::now();
    let (_, propensity) = train_propensity(&lines, window, &propensity_config)?;
    let propensity_seconds = started.elapsed().as_secs_f64();
    let split = build_split(
        &lines,
        propensity.test_cutoff,
        window,
        propensity_config.n_snapshots,
    );
    for (name, rows) in [
        ("train", &split.train),
        ("validation", &split.validation),
        ("test", &split.test),
    ] {
        write_rows(
            &out_dir.join(format!("propensity_{name}.csv")),
            &split.names,
            rows,
        )?;
    }

    let output = serde_json::json!({
        "propensity": propensity,
        "propensity_seconds": propensity_seconds,
        "propensity_l2": propensity_config.l2,
        "report": report,
        "als_fit_seconds": als_seconds,
        "total_seconds": total_seconds,
        "n_users": confidence.n_rows(),
        "n_items": confidence.n_cols(),
        "nnz": confidence.nnz(),
        "threads": rayon::current_num_threads(),
    });
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

fn write_rows(
    path: &Path,
    names: &[String],
    rows: &Rows,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut csv = names.join(",");
    csv.push_str(",label\n");
    for (row, label) in rows.values.iter().zip(&rows.labels) {
        let values: Vec<String> = row.iter().map(f64::to_string).collect();
        writeln!(csv, "{},{}", values.join(","), u8::from(*label))?;
    }
    std::fs::write(path, csv)?;
    Ok(())
}
