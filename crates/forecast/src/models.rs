//! The candidate models a series can be forecast with, and how each local one is run.
//!
//! Local models ([`ModelKind::is_local`]) are pure functions of one history.
//! The global model needs every series and is run by
//! [`crate::backtest`] through [`crate::global`].

use std::fmt;

use serde::Serialize;

use crate::ets::forecast_ets;
use crate::intermittent::{forecast_croston, forecast_tsb, CrostonVariant};
use crate::mstl::forecast_mstl;
use crate::naive::forecast_with_season;

/// A forecasting model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    SeasonalNaive,
    Ets,
    Croston,
    Sba,
    Tsb,
    Mstl,
    Global,
    /// Mean of the history, for series too short to fit a model on.
    Fallback,
}

impl ModelKind {
    /// Every model tried in model selection, simplest first so ties go to it.
    pub const CANDIDATES: [ModelKind; 7] = [
        ModelKind::SeasonalNaive,
        ModelKind::Ets,
        ModelKind::Croston,
        ModelKind::Sba,
        ModelKind::Tsb,
        ModelKind::Mstl,
        ModelKind::Global,
    ];

    /// Report and CSV name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::SeasonalNaive => "seasonal_naive",
            ModelKind::Ets => "ets",
            ModelKind::Croston => "croston",
            ModelKind::Sba => "sba",
            ModelKind::Tsb => "tsb",
            ModelKind::Mstl => "mstl",
            ModelKind::Global => "global_ridge",
            ModelKind::Fallback => "fallback_mean",
        }
    }

    /// Whether the model is a function of one history alone.
    pub fn is_local(self) -> bool {
        self != ModelKind::Global
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Forecasts `horizon` periods with a local model.
///
/// `season_lengths` are the candidate seasons of the series' frequency.
/// Returns `None` when the model does not apply (MSTL without two full
/// cycles, the global model, an empty history) or produced a non-finite
/// value.
pub fn forecast_local(
    kind: ModelKind,
    history: &[f64],
    season_lengths: &[usize],
    horizon: usize,
) -> Option<Vec<f64>> {
    if history.is_empty() {
        return None;
    }
    let forecast = match kind {
        ModelKind::SeasonalNaive => {
            let season = season_lengths
                .iter()
                .copied()
                .filter(|&m| history.len() > m)
                .max()
                .unwrap_or(1);
            forecast_with_season(history, season, horizon).ok()?
        }
        ModelKind::Ets => forecast_ets(history, horizon).ok()?.forecast,
        ModelKind::Croston => forecast_croston(history, horizon, CrostonVariant::Classic),
        ModelKind::Sba => forecast_croston(history, horizon, CrostonVariant::Sba),
        ModelKind::Tsb => forecast_tsb(history, horizon),
        ModelKind::Mstl => forecast_mstl(history, season_lengths, horizon)?,
        ModelKind::Fallback => {
            let mean = history.iter().sum::<f64>() / history.len() as f64;
            vec![mean; horizon]
        }
        ModelKind::Global => return None,
    };
    forecast.iter().all(|v| v.is_finite()).then_some(forecast)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_models_forecast_constant() {
        for kind in ModelKind::CANDIDATES
            .into_iter()
            .filter(|k| k.is_local() && !matches!(k, ModelKind::Mstl | ModelKind::Sba))
        {
            let forecast = forecast_local(kind, &[6.0; 30], &[52], 3).unwrap();
            for value in forecast {
                assert!((value - 6.0).abs() < 1e-6, "{kind}: {value}");
            }
        }
    }

    #[test]
    fn local_models_reject_empty_history() {
        assert_eq!(forecast_local(ModelKind::Ets, &[], &[52], 3), None);
        assert_eq!(forecast_local(ModelKind::Global, &[1.0], &[52], 3), None);
    }

    #[test]
    fn fallback_forecasts_mean() {
        assert_eq!(
            forecast_local(ModelKind::Fallback, &[1.0, 3.0], &[52], 2),
            Some(vec![2.0, 2.0])
        );
    }
}
