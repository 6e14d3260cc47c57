//! Model artefacts on disk: one JSON file per registry version under
//! `DATA_DIR/models/`, written beside its target and renamed over it so a
//! crash never leaves half a file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mercator_forecast::snapshot::ForecastSnapshot;
use mercator_recommend::propensity_model::PropensityModel;
use mercator_recommend::RecommendModel;
use mercator_translate::estimator::QualityEstimator;
use serde::Serialize;

/// Folder of the artefacts inside the data dir.
pub const MODELS_DIR: &str = "models";

/// Writes `model` as `models/{kind}-{dataset}-{stamp}.json` and returns
/// the path relative to `data_dir`.
pub fn save(
    data_dir: &Path,
    kind: &str,
    dataset: &str,
    model: &impl Serialize,
) -> anyhow::Result<String> {
    let dir = data_dir.join(MODELS_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
    let safe_dataset: String = dataset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let relative = format!("{MODELS_DIR}/{kind}-{safe_dataset}-{stamp}.json");
    let target = data_dir.join(&relative);
    let partial = target.with_extension("json.partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, model).context("cannot serialize the model")?;
    std::io::Write::flush(&mut writer)?;
    drop(writer);
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move the model to {}", target.display()))?;
    Ok(relative)
}

fn open(
    data_dir: &Path,
    relative: &str,
) -> anyhow::Result<(PathBuf, std::io::BufReader<std::fs::File>)> {
    let path = data_dir.join(relative);
    let file = std::fs::File::open(&path).with_context(|| {
        format!(
            "cannot open model artefact {}; retrain with `mercator train` or roll back with \
             `mercator models rollback`",
            path.display()
        )
    })?;
    Ok((path, std::io::BufReader::new(file)))
}

/// Reads a recommendation model written by [`save`].
pub fn load_recommend(data_dir: &Path, relative: &str) -> anyhow::Result<RecommendModel> {
    let (path, reader) = open(data_dir, relative)?;
    let mut model: RecommendModel = serde_json::from_reader(reader).with_context(|| {
        format!(
            "model artefact {} is not a recommendation model",
            path.display()
        )
    })?;
    model.after_load();
    Ok(model)
}

/// Reads a propensity model written by [`save`].
pub fn load_propensity(data_dir: &Path, relative: &str) -> anyhow::Result<PropensityModel> {
    let (path, reader) = open(data_dir, relative)?;
    serde_json::from_reader(reader).with_context(|| {
        format!(
            "model artefact {} is not a propensity model",
            path.display()
        )
    })
}

/// Reads a translation quality estimator written by `mercator translate train-qe`.
pub fn load_quality_estimator(data_dir: &Path, relative: &str) -> anyhow::Result<QualityEstimator> {
    let (path, reader) = open(data_dir, relative)?;
    serde_json::from_reader(reader).with_context(|| {
        format!(
            "model artefact {} is not a quality estimator",
            path.display()
        )
    })
}

/// Reads a forecast run written by `mercator forecast`, ready for lookups.
pub fn load_forecast(data_dir: &Path, relative: &str) -> anyhow::Result<ForecastSnapshot> {
    let (path, reader) = open(data_dir, relative)?;
    let mut snapshot: ForecastSnapshot = serde_json::from_reader(reader)
        .with_context(|| format!("model artefact {} is not a forecast run", path.display()))?;
    snapshot.build_index();
    Ok(snapshot)
}
