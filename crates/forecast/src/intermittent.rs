//! Intermittent-demand classification and the Croston, SBA and TSB methods.
//!
//! Classification uses the Syntetos-Boylan cut-offs (Syntetos & Boylan
//! 2005, below, as applied by the R package m5's `m5_demand_type`): the
//! average inter-demand interval `ADI = n_periods / n_demand_periods` and
//! the squared coefficient of variation `CV² = (sd / mean)²` of the
//! positive demand sizes, split at 1.32 and 0.49. A series with
//! `ADI >= 1.32` is intermittent, or lumpy when `CV² >= 0.49` too.
//!
//! Forecasts, with smoothing weight `alpha` and, for TSB, `beta`:
//!
//! - Croston (1972), "Forecasting and stock control for intermittent
//!   demands", ORQ 23(3): smooth the non-zero sizes `z` and the intervals
//!   `p` between them separately, forecast `z / p`.
//! - SBA, Syntetos & Boylan (2005), "The accuracy of intermittent demand
//!   estimates", IJF 21(2): Croston times `1 - alpha / 2`, which removes
//!   Croston's positive bias.
//! - TSB, Teunter, Syntetos & Babai (2011), "Intermittent demand: linking
//!   forecasting to inventory obsolescence", EJOR 214(3): smooth the size
//!   `z` on demand periods and the demand probability `d` every period,
//!   forecast `d * z`, so a product that stops selling decays to zero.
//!
//! Net demand can be negative after returns. The methods treat a period
//! with net units at or below zero as a period without demand. Weights are
//! chosen from a grid by in-sample one-step squared error.

use serde::Serialize;

/// ADI cut-off between regular and intermittent demand.
pub const ADI_CUTOFF: f64 = 1.32;

/// CV² cut-off between stable and erratic demand sizes.
pub const CV2_CUTOFF: f64 = 0.49;

/// Smoothing weights tried for Croston, SBA and TSB.
const ALPHA_GRID: [f64; 6] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3];

/// Demand-probability weights tried for TSB.
const BETA_GRID: [f64; 6] = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3];

/// Syntetos-Boylan-Croston demand class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandClass {
    Smooth,
    Erratic,
    Intermittent,
    Lumpy,
    /// No period with positive demand.
    NoDemand,
}

impl DemandClass {
    /// Returns whether the class has sparse demand periods (intermittent or lumpy).
    pub fn is_intermittent(self) -> bool {
        matches!(self, DemandClass::Intermittent | DemandClass::Lumpy)
    }
}

/// ADI, CV² and the class of one history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DemandProfile {
    pub adi: f64,
    pub cv2: f64,
    pub class: DemandClass,
}

/// Classifies a history by ADI and CV² of its positive demand sizes.
pub fn classify_demand(history: &[f64]) -> DemandProfile {
    let sizes: Vec<f64> = history.iter().copied().filter(|&y| y > 0.0).collect();
    if sizes.is_empty() {
        return DemandProfile {
            adi: 0.0,
            cv2: 0.0,
            class: DemandClass::NoDemand,
        };
    }

    let adi = history.len() as f64 / sizes.len() as f64;
    let mean = sizes.iter().sum::<f64>() / sizes.len() as f64;
    let variance = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / sizes.len() as f64;
    let cv2 = variance / (mean * mean);
    let class = match (adi >= ADI_CUTOFF, cv2 >= CV2_CUTOFF) {
        (false, false) => DemandClass::Smooth,
        (false, true) => DemandClass::Erratic,
        (true, false) => DemandClass::Intermittent,
        (true, true) => DemandClass::Lumpy,
    };
    DemandProfile { adi, cv2, class }
}

/// Croston-family method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrostonVariant {
    Classic,
    Sba,
}

/// Forecasts with Croston's method or SBA; every future period gets the same value.
///
/// A history without positive demand forecasts zero.
pub fn forecast_croston(history: &[f64], horizon: usize, variant: CrostonVariant) -> Vec<f64> {
    let best = ALPHA_GRID
        .iter()
        .map(|&alpha| (alpha, run_croston(history, alpha, variant)))
        .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1));
    let level = best.map_or(0.0, |(_, (level, _))| level);
    vec![level; horizon]
}

/// Runs Croston's recursion and returns the final forecast and the
/// in-sample one-step squared error.
///
/// Size and interval start from the mean positive size and the ADI of the
/// whole history, so a perfectly periodic history is fitted exactly.
fn run_croston(history: &[f64], alpha: f64, variant: CrostonVariant) -> (f64, f64) {
    let correction = match variant {
        CrostonVariant::Classic => 1.0,
        CrostonVariant::Sba => 1.0 - alpha / 2.0,
    };
    let profile = classify_demand(history);
    if profile.class == DemandClass::NoDemand {
        let sse = history.iter().map(|y| y * y).sum();
        return (0.0, sse);
    }
    let sizes = history.iter().filter(|&&y| y > 0.0);
    let mut size = sizes.clone().sum::<f64>() / sizes.count() as f64;
    let mut interval = profile.adi;

    // The interval before the first demand is unknown, so the first demand
    // updates only the size.
    let mut periods_since: Option<f64> = None;
    let mut sse = 0.0;
    for &y in history {
        sse += (y - correction * size / interval).powi(2);
        if y > 0.0 {
            size += alpha * (y - size);
            if let Some(periods) = periods_since {
                interval += alpha * (periods - interval);
            }
            periods_since = Some(1.0);
        } else if let Some(periods) = periods_since.as_mut() {
            *periods += 1.0;
        }
    }
    (correction * size / interval, sse)
}

/// Forecasts with TSB; every future period gets the same value.
pub fn forecast_tsb(history: &[f64], horizon: usize) -> Vec<f64> {
    let mut best = (0.0, f64::INFINITY);
    for alpha in ALPHA_GRID {
        for beta in BETA_GRID {
            let (forecast, sse) = run_tsb(history, alpha, beta);
            if sse < best.1 {
                best = (forecast, sse);
            }
        }
    }
    vec![best.0; horizon]
}

/// Runs the TSB recursion and returns the final forecast and the in-sample
/// one-step squared error. Size and probability start from the first demand
/// and the share of demand periods.
fn run_tsb(history: &[f64], alpha: f64, beta: f64) -> (f64, f64) {
    let n_demand = history.iter().filter(|&&y| y > 0.0).count();
    if n_demand == 0 {
        let sse = history.iter().map(|y| y * y).sum();
        return (0.0, sse);
    }
    let mut size = history.iter().copied().find(|&y| y > 0.0).unwrap_or(0.0);
    let mut probability = n_demand as f64 / history.len() as f64;
    let mut sse = 0.0;
    for &y in history {
        sse += (y - probability * size).powi(2);
        if y > 0.0 {
            probability += beta * (1.0 - probability);
            size += alpha * (y - size);
        } else {
            probability -= beta * probability;
        }
    }
    (probability * size, sse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intermittent_history() -> Vec<f64> {
        (0..40)
            .map(|t| if t % 4 == 0 { 8.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn classify_marks_sparse_demand_intermittent() {
        let profile = classify_demand(&intermittent_history());

        assert_eq!(profile.class, DemandClass::Intermittent);
        assert_eq!(profile.adi, 4.0);
        assert_eq!(profile.cv2, 0.0);
    }

    #[test]
    fn classify_marks_regular_demand_smooth() {
        assert_eq!(classify_demand(&[5.0; 20]).class, DemandClass::Smooth);
        assert_eq!(
            classify_demand(&[1.0, 9.0, 1.0, 9.0]).class,
            DemandClass::Erratic
        );
        assert_eq!(classify_demand(&[0.0; 5]).class, DemandClass::NoDemand);
    }

    #[test]
    fn croston_forecasts_size_over_interval() {
        let forecast = forecast_croston(&intermittent_history(), 3, CrostonVariant::Classic);

        assert_eq!(forecast.len(), 3);
        assert!((forecast[0] - 2.0).abs() < 0.1, "Croston {}", forecast[0]);
    }

    #[test]
    fn sba_shrinks_croston() {
        let history = intermittent_history();

        let croston = forecast_croston(&history, 1, CrostonVariant::Classic)[0];
        let sba = forecast_croston(&history, 1, CrostonVariant::Sba)[0];

        assert!(sba < croston);
        assert!(sba > 0.8 * croston);
    }

    #[test]
    fn tsb_decays_after_demand_stops() {
        let mut history = intermittent_history();
        history.extend([0.0; 30]);

        let tsb = forecast_tsb(&history, 1)[0];
        let croston = forecast_croston(&history, 1, CrostonVariant::Classic)[0];

        assert!(tsb < croston);
    }

    #[test]
    fn intermittent_methods_keep_all_zeros() {
        assert_eq!(
            forecast_croston(&[0.0; 6], 2, CrostonVariant::Sba),
            vec![0.0; 2]
        );
        assert_eq!(forecast_tsb(&[0.0; 6], 2), vec![0.0; 2]);
    }
}
