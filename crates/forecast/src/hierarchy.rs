//! Reconciles the panel forecasts of the four levels so that they add up.
//!
//! [`reconcile_panels`] takes the forecasts of SKU x country, SKU, country
//! and total made from the same lines and origin, builds the
//! [`Hierarchy`] from the bottom keys, reconciles every step (see
//! [`crate::reconcile`]) and writes the coherent points back. Intervals
//! move with their point forecast, keeping their width.
//! NOTE: shifting keeps each interval's width from the base model, so the
//! stated coverage of reconciled intervals is only approximate.

use std::collections::HashMap;

use crate::error::ForecastError;
use crate::panel::Level;
use crate::panel_forecast::{PanelForecast, SeriesPrediction};
use crate::reconcile::{reconcile_step, Hierarchy, LevelValues, ReconcileMethod};

/// Forecasts of the four levels of one origin.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelForecasts {
    pub sku_country: PanelForecast,
    pub sku: PanelForecast,
    pub country: PanelForecast,
    pub total: PanelForecast,
}

/// Makes the four levels coherent with `method`, in place.
///
/// Fails when a level has the wrong [`Level`], the horizons differ, or a
/// bottom series' SKU or country has no series at its level.
pub fn reconcile_panels(
    levels: &mut LevelForecasts,
    method: ReconcileMethod,
) -> Result<(), ForecastError> {
    let expected = [
        (&levels.sku_country, Level::SkuCountry),
        (&levels.sku, Level::Sku),
        (&levels.country, Level::Country),
        (&levels.total, Level::Total),
    ];
    for (forecast, level) in expected {
        if forecast.level != level || forecast.horizon != levels.sku_country.horizon {
            return Err(ForecastError::InconsistentLevels);
        }
    }
    if levels.total.series.len() != 1 {
        return Err(ForecastError::InconsistentLevels);
    }

    let sku_index = index_by(&levels.sku.series, |s| s.key.sku.clone());
    let country_index = index_by(&levels.country.series, |s| s.key.country.clone());
    let bottom = levels
        .sku_country
        .series
        .iter()
        .map(|s| {
            let sku = s.key.sku.as_ref().and_then(|k| sku_index.get(k)).copied();
            let country = s
                .key
                .country
                .as_ref()
                .and_then(|k| country_index.get(k))
                .copied();
            sku.zip(country).ok_or(ForecastError::InconsistentLevels)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hierarchy = Hierarchy {
        bottom,
        n_skus: levels.sku.series.len(),
        n_countries: levels.country.series.len(),
    };

    for step in 0..levels.sku_country.horizon {
        let base = LevelValues {
            total: levels.total.series[0].point[step],
            countries: points_at(&levels.country.series, step),
            skus: points_at(&levels.sku.series, step),
            bottom: points_at(&levels.sku_country.series, step),
        };
        let coherent = reconcile_step(&hierarchy, &base, method);

        set_points(&mut levels.total.series, &[coherent.total], step);
        set_points(&mut levels.country.series, &coherent.countries, step);
        set_points(&mut levels.sku.series, &coherent.skus, step);
        set_points(&mut levels.sku_country.series, &coherent.bottom, step);
    }
    tracing::info!(
        ?method,
        n_bottom = hierarchy.bottom.len(),
        "reconciled forecast levels"
    );
    Ok(())
}

fn index_by(
    series: &[SeriesPrediction],
    key: impl Fn(&SeriesPrediction) -> Option<String>,
) -> HashMap<String, usize> {
    series
        .iter()
        .enumerate()
        .filter_map(|(idx, s)| key(s).map(|k| (k, idx)))
        .collect()
}

fn points_at(series: &[SeriesPrediction], step: usize) -> Vec<f64> {
    series.iter().map(|s| s.point[step]).collect()
}

/// Replaces the point forecast at `step` and moves the intervals by the
/// same amount. Bounds that were not negative (a series clipped at 0)
/// stay so, and every interval still contains its point.
fn set_points(series: &mut [SeriesPrediction], values: &[f64], step: usize) {
    for (s, &value) in series.iter_mut().zip(values) {
        let shift = value - s.point[step];
        s.point[step] = value;
        let intervals = &mut s.intervals;
        let non_negative = intervals.lower_95.get(step).is_some_and(|&v| v >= 0.0);
        for (bound, is_lower) in [
            (&mut intervals.lower_80, true),
            (&mut intervals.upper_80, false),
            (&mut intervals.lower_95, true),
            (&mut intervals.upper_95, false),
        ] {
            if let Some(v) = bound.get_mut(step) {
                *v += shift;
                if non_negative {
                    *v = v.max(0.0);
                }
                *v = if is_lower { v.min(value) } else { v.max(value) };
            }
        }
    }
}
