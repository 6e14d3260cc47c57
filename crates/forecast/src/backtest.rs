//! Rolling-origin backtest: every candidate model forecasts from several origins before the end.
//!
//! For origins `end - k * horizon` (k = 1, 2, ... up to `n_origins`), each
//! candidate forecasts the `horizon` periods after the origin from the
//! periods before it, and its errors are kept per series, model and step.
//! [`run_backtest`] fits the global model once per origin on every series.
//! Model selection then picks, per series, the candidate with the smallest
//! mean absolute error over the origins (see [`select_model`]).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::global::{fit_global, GlobalModel, GlobalSeries};
use crate::models::{forecast_local, ModelKind};
use crate::panel::{Panel, MIN_MODEL_PERIODS};

/// Errors (actual minus forecast) of one model on one series, one vector per origin.
pub type ModelErrors = BTreeMap<ModelKind, Vec<Vec<f64>>>;

/// Returns the active history of series `idx` up to (not including) period `end`.
pub(crate) fn active_history(panel: &Panel, idx: usize, end: usize) -> &[f64] {
    let series = &panel.series[idx];
    let end = end.min(series.units.len());
    &series.units[series.first_active.min(end)..end]
}

/// Returns whether series `idx` has enough active periods before `end` to fit models on.
pub(crate) fn is_modelable(panel: &Panel, idx: usize, end: usize) -> bool {
    let history = active_history(panel, idx, end);
    let n_nonzero = history.iter().filter(|&&v| v != 0.0).count();
    history.len() >= MIN_MODEL_PERIODS && n_nonzero >= 2
}

/// Fits the global model on the modelable series' histories before `end`.
pub(crate) fn fit_global_at(panel: &Panel, end: usize) -> Option<GlobalModel> {
    let series: Vec<GlobalSeries<'_>> = (0..panel.series.len())
        .filter(|&idx| is_modelable(panel, idx, end))
        .map(|idx| global_series(panel, idx, end))
        .collect();
    fit_global(&series, panel.frequency)
}

/// Returns series `idx` before `end` as the global model takes it.
pub(crate) fn global_series(panel: &Panel, idx: usize, end: usize) -> GlobalSeries<'_> {
    let series = &panel.series[idx];
    GlobalSeries {
        history: active_history(panel, idx, end),
        start: panel.period_start(series.first_active.min(end)),
        country: series.key.country.as_deref(),
    }
}

/// Forecasts series `idx` from `end` with every applicable candidate.
pub(crate) fn forecast_candidates(
    panel: &Panel,
    idx: usize,
    end: usize,
    horizon: usize,
    candidates: &[ModelKind],
    global: Option<&GlobalModel>,
) -> BTreeMap<ModelKind, Vec<f64>> {
    let history = active_history(panel, idx, end);
    let seasons = panel.frequency.season_lengths();
    candidates
        .iter()
        .filter_map(|&kind| {
            let forecast = match kind {
                ModelKind::Global => global
                    .map(|model| model.forecast(&global_series(panel, idx, end), horizon))
                    .filter(|f| f.iter().all(|v| v.is_finite())),
                _ => forecast_local(kind, history, seasons, horizon),
            };
            forecast.map(|f| (kind, f))
        })
        .collect()
}

/// Runs every candidate from each origin before `end` and returns the
/// errors per series (empty for a series not modelable at any origin).
pub fn run_backtest(
    panel: &Panel,
    end: usize,
    horizon: usize,
    n_origins: usize,
    candidates: &[ModelKind],
) -> Vec<ModelErrors> {
    let mut errors: Vec<ModelErrors> = vec![BTreeMap::new(); panel.series.len()];
    for k in 1..=n_origins {
        let Some(origin) = end.checked_sub(k * horizon) else {
            break;
        };
        let _span = tracing::debug_span!("backtest_origin", origin).entered();
        let global = if candidates.contains(&ModelKind::Global) {
            fit_global_at(panel, origin)
        } else {
            None
        };

        let origin_errors: Vec<Option<BTreeMap<ModelKind, Vec<f64>>>> = (0..panel.series.len())
            .into_par_iter()
            .map(|idx| {
                if !is_modelable(panel, idx, origin) {
                    return None;
                }
                let actual = &panel.series[idx].units[origin..origin + horizon];
                let forecasts =
                    forecast_candidates(panel, idx, origin, horizon, candidates, global.as_ref());
                let step_errors = forecasts
                    .into_iter()
                    .map(|(kind, f)| (kind, actual.iter().zip(&f).map(|(a, p)| a - p).collect()))
                    .collect();
                Some(step_errors)
            })
            .collect();

        for (series_errors, origin_errors) in errors.iter_mut().zip(origin_errors) {
            for (kind, step_errors) in origin_errors.into_iter().flatten() {
                series_errors.entry(kind).or_default().push(step_errors);
            }
        }
    }
    errors
}

/// Picks the candidate with the smallest mean absolute error over the
/// origins it ran on. Only candidates that ran on as many origins as the
/// most-run one compete, so a model that skipped a hard origin cannot win
/// by it. Ties go to the earlier candidate in [`ModelKind::CANDIDATES`].
/// Returns `None` when no candidate ran.
pub fn select_model(errors: &ModelErrors) -> Option<ModelKind> {
    let max_origins = errors.values().map(Vec::len).max()?;
    errors
        .iter()
        .filter(|(_, origins)| origins.len() == max_origins && max_origins > 0)
        .map(|(&kind, origins)| {
            let values = origins.iter().flatten();
            let n = values.clone().count().max(1);
            (kind, values.map(|e| e.abs()).sum::<f64>() / n as f64)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
        .map(|(kind, _)| kind)
}

/// Returns the errors, per origin, of the model selected without that origin.
///
/// For each origin, [`select_model`] picks the model on the other origins,
/// or `default` is taken when there is no other origin. Intervals need
/// these errors, because selection makes the selected model's own errors
/// smaller than its errors on new weeks. Origins are skipped where the
/// picked model did not run on every origin.
pub fn out_of_selection_errors(errors: &ModelErrors, default: ModelKind) -> Vec<Vec<f64>> {
    let n_origins = errors.values().map(Vec::len).max().unwrap_or(0);
    (0..n_origins)
        .filter_map(|left_out| {
            let others = keep_origins(errors, |origin| origin != left_out);
            let model = select_model(&others).unwrap_or(default);
            errors
                .get(&model)
                .filter(|origins| origins.len() == n_origins)
                .map(|origins| origins[left_out].clone())
        })
        .collect()
}

/// Returns the errors of the models that ran on every origin, at the origins `keep` accepts.
///
/// Only those models keep their origin positions, because a model that
/// failed at an origin has one vector fewer.
pub fn keep_origins(errors: &ModelErrors, keep: impl Fn(usize) -> bool) -> ModelErrors {
    let n_origins = errors.values().map(Vec::len).max().unwrap_or(0);
    errors
        .iter()
        .filter(|(_, origins)| origins.len() == n_origins)
        .map(|(&kind, origins)| {
            let kept_origins = origins
                .iter()
                .enumerate()
                .filter(|(origin, _)| keep(*origin))
                .map(|(_, e)| e.clone())
                .collect();
            (kind, kept_origins)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_prefers_smaller_error() {
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Ets, vec![vec![1.0, -1.0], vec![2.0, 2.0]]);
        errors.insert(ModelKind::Tsb, vec![vec![0.5, -0.5], vec![0.5, 0.5]]);

        assert_eq!(select_model(&errors), Some(ModelKind::Tsb));
    }

    #[test]
    fn select_ignores_models_with_fewer_origins() {
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Ets, vec![vec![1.0], vec![1.0]]);
        errors.insert(ModelKind::Mstl, vec![vec![0.0]]);

        assert_eq!(select_model(&errors), Some(ModelKind::Ets));
    }

    #[test]
    fn select_breaks_ties_by_simplicity() {
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Global, vec![vec![1.0]]);
        errors.insert(ModelKind::SeasonalNaive, vec![vec![1.0]]);

        assert_eq!(select_model(&errors), Some(ModelKind::SeasonalNaive));
        assert_eq!(select_model(&ModelErrors::new()), None);
    }

    #[test]
    fn out_of_selection_takes_other_origins_winner() {
        // ETS wins origin 0 and TSB origin 1, so each origin's errors come
        // from the model that won the other one.
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Ets, vec![vec![1.0], vec![9.0]]);
        errors.insert(ModelKind::Tsb, vec![vec![5.0], vec![2.0]]);

        let pooled = out_of_selection_errors(&errors, ModelKind::Sba);

        assert_eq!(pooled, vec![vec![5.0], vec![9.0]]);
        assert_eq!(select_model(&errors), Some(ModelKind::Tsb));
    }

    #[test]
    fn out_of_selection_uses_default_for_one_origin() {
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Ets, vec![vec![1.0, 1.0]]);
        errors.insert(ModelKind::Sba, vec![vec![4.0, -3.0]]);

        let pooled = out_of_selection_errors(&errors, ModelKind::Sba);

        assert_eq!(pooled, vec![vec![4.0, -3.0]]);
    }

    #[test]
    fn keep_origins_drops_partial_models() {
        let mut errors = ModelErrors::new();
        errors.insert(ModelKind::Ets, vec![vec![1.0], vec![2.0], vec![3.0]]);
        errors.insert(ModelKind::Mstl, vec![vec![0.5]]);

        let later = keep_origins(&errors, |origin| origin >= 1);

        assert_eq!(
            later.get(&ModelKind::Ets),
            Some(&vec![vec![2.0], vec![3.0]])
        );
        assert!(!later.contains_key(&ModelKind::Mstl));
    }
}
