//! The run report: `report.json` for scripts, `report.html` for people,
//! and a short table on the terminal.

mod html;
pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDateTime;
use mercator_forecast::DemandReport;
use mercator_recommend::{PropensityReport, RecommendReport};

/// List length of the recommendation metrics in the report.
pub const TOP_K: usize = 10;
use serde::Serialize;

/// Everything `mercator run` measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub mercator_version: String,
    pub dataset: String,
    pub input: InputSection,
    /// Rows of the input file per cleaning bucket; adds up to `input.rows`.
    pub cleaning: BTreeMap<String, u64>,
    pub split: SplitSection,
    /// `None` when the step was skipped; `skipped` gives the reason.
    pub propensity: Option<PropensityReport>,
    pub recommend: Option<RecommendSection>,
    pub forecast: Option<DemandReport>,
    /// Model steps that could not run on this data, with the reason.
    pub skipped: BTreeMap<String, String>,
    pub timings_ms: Timings,
}

#[derive(Debug, Serialize)]
pub struct InputSection {
    pub path: String,
    pub sha256: String,
    /// Rows read from the input file, header excluded.
    pub rows: u64,
    /// True when the file was ingested by an earlier run and not read again.
    pub already_ingested: bool,
    /// Stored order lines of the dataset the models were trained on.
    pub dataset_lines: u64,
    pub first_invoice: NaiveDateTime,
    pub last_invoice: NaiveDateTime,
}

/// Recommendation metrics at [`TOP_K`], keyed `ndcg_at_10` and `hr_at_10`.
#[derive(Debug, Serialize)]
pub struct RecommendSection {
    pub n_eval_customers: usize,
    pub models: BTreeMap<String, RankingAtTen>,
}

#[derive(Debug, Serialize)]
pub struct RankingAtTen {
    pub ndcg_at_10: f64,
    pub hr_at_10: f64,
    pub n_customers: usize,
}

impl From<RecommendReport> for RecommendSection {
    fn from(report: RecommendReport) -> Self {
        debug_assert_eq!(report.k, TOP_K);
        RecommendSection {
            n_eval_customers: report.n_eval_customers,
            models: report
                .models
                .into_iter()
                .map(|(name, m)| {
                    let metrics = RankingAtTen {
                        ndcg_at_10: m.ndcg_at_k,
                        hr_at_10: m.hr_at_k,
                        n_customers: m.n_customers,
                    };
                    (name, metrics)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SplitSection {
    /// Start of the test window; models see only lines before it.
    pub cutoff: NaiveDateTime,
    /// End of the test window (exclusive).
    pub test_end: NaiveDateTime,
    pub test_weeks: u32,
}

/// Wall time per step in milliseconds, serialized in the order the steps ran.
#[derive(Debug, Default)]
pub struct Timings(Vec<(String, u64)>);

impl Timings {
    /// Records the time since `started` under `step`, replacing an earlier value.
    pub fn record(&mut self, step: &str, started: Instant) {
        let ms = started.elapsed().as_millis() as u64;
        match self.0.iter_mut().find(|(k, _)| k == step) {
            Some(entry) => entry.1 = ms,
            None => self.0.push((step.to_string(), ms)),
        }
    }

    pub fn get(&self, step: &str) -> Option<u64> {
        self.0.iter().find(|(k, _)| k == step).map(|(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl Serialize for Timings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (step, ms) in &self.0 {
            map.serialize_entry(step, ms)?;
        }
        map.end()
    }
}

/// Paths of the written report files.
pub struct ReportPaths {
    pub json: PathBuf,
    pub html: PathBuf,
}

impl Report {
    /// Writes `report.html` into `dir`, creating it, atomically.
    pub fn write_html(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("report.html");
        write_atomic(&path, html::render(self).as_bytes())?;
        Ok(path)
    }

    /// Writes `report.json` into `dir`, creating it, atomically.
    pub fn write_json(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("report.json");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The terminal summary: data, split, one line per model, report paths.
    pub fn summary_table(&self, paths: &ReportPaths) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Mercator run on dataset {:?}: {} rows read from {}{}",
            self.dataset,
            self.input.rows,
            self.input.path,
            if self.input.already_ingested {
                " (already ingested)"
            } else {
                ""
            }
        );
        let buckets: Vec<String> = self
            .cleaning
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(b, n)| format!("{b} {n}"))
            .collect();
        let _ = writeln!(out, "cleaning: {}", buckets.join(", "));
        let _ = writeln!(
            out,
            "test window: {} to {} ({} weeks); the dataset holds {} stored lines\n",
            self.split.cutoff.date(),
            (self.split.test_end - chrono::Duration::days(1)).date(),
            self.split.test_weeks,
            self.input.dataset_lines
        );
        let _ = writeln!(out, "{:<34} test-window metrics", "model");
        if let Some(p) = &self.propensity {
            let _ = writeln!(
                out,
                "{:<34} AUC {:.3} (recency baseline {:.3}), log-loss {:.3}, precision {:.3}, recall {:.3}",
                "propensity: logistic regression", p.auc, p.baseline_auc, p.log_loss, p.precision, p.recall
            );
        }
        let recommend_models = self.recommend.iter().flat_map(|r| &r.models);
        for (name, m) in recommend_models {
            let _ = writeln!(
                out,
                "{:<34} NDCG@10 {:.4}, HR@10 {:.4} ({} customers)",
                format!("recommend: {name}"),
                m.ndcg_at_10,
                m.hr_at_10,
                m.n_customers
            );
        }
        for (name, m) in self.forecast.iter().flat_map(|f| &f.models) {
            let _ = writeln!(
                out,
                "{:<34} MASE {:.3}, sMAPE {:.1} ({} series)",
                format!("forecast: {name}"),
                m.mase,
                m.smape,
                m.n_series
            );
        }
        for (step, reason) in &self.skipped {
            let _ = writeln!(out, "{:<34} skipped: {reason}", step);
        }
        let total = self.timings_ms.get("total").unwrap_or(0);
        let _ = writeln!(
            out,
            "\nreports: {} and {} ({:.1} s)",
            paths.json.display(),
            paths.html.display(),
            total as f64 / 1000.0
        );
        out
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}
