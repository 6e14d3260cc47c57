//! The bundled sample: a real subset of UCI Online Retail (CC BY 4.0,
//! Chen, Sain & Guo 2012), compiled into the binary so `mercator run` works
//! from any folder.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The sample's bytes (gzip-compressed CSV in the Online Retail layout).
const SAMPLE_GZ: &[u8] = include_bytes!("../../../samples/online_retail_sample.csv.gz");

/// File name of the sample once written to the data dir.
pub const SAMPLE_FILE: &str = "online_retail_sample.csv.gz";

/// Dataset name the sample is ingested into.
pub const SAMPLE_DATASET: &str = "sample";

/// Writes the sample into `data_dir/samples/` unless an identical copy is there; returns its path.
pub fn materialize(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join("samples");
    let path = dir.join(SAMPLE_FILE);
    if std::fs::read(&path).is_ok_and(|bytes| bytes == SAMPLE_GZ) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Write beside the target and rename, so a crash never leaves half a sample.
    let partial = dir.join(format!("{SAMPLE_FILE}.partial"));
    std::fs::write(&partial, SAMPLE_GZ)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot move sample to {}", path.display()))?;
    Ok(path)
}
