//! Panel forecasting on series with a known correct forecast, and on bad input.
//!
//! Each test builds a small panel by hand, runs the full pipeline (backtest,
//! selection, final fit, conformal intervals) and checks the forecast
//! against the value the series implies. The bad-input tests check that
//! every output number is finite.

use chrono::NaiveDate;
use mercator_forecast::holdout::evaluate_holdout;
use mercator_forecast::intermittent::DemandClass;
use mercator_forecast::models::ModelKind;
use mercator_forecast::panel::{
    bucket_dated_values, Frequency, Level, Panel, PanelSeries, SeriesKey,
};
use mercator_forecast::panel_forecast::{forecast_panel, ForecastOptions, PanelForecast};

fn panel_of(series: Vec<(&str, Vec<f64>)>) -> Panel {
    let n_periods = series.iter().map(|(_, units)| units.len()).max().unwrap();
    let series = series
        .into_iter()
        .map(|(sku, units)| {
            let first_active = units.iter().position(|&u| u != 0.0).unwrap_or(0);
            PanelSeries {
                key: SeriesKey {
                    sku: Some(sku.to_string()),
                    ..SeriesKey::default()
                },
                description: String::new(),
                revenue: units.clone(),
                n_negative_periods: units.iter().filter(|&&u| u < 0.0).count(),
                units,
                first_active,
            }
        })
        .collect();
    Panel {
        level: Level::Sku,
        frequency: Frequency::Weekly,
        first_period_start: NaiveDate::from_ymd_opt(2010, 12, 6).unwrap(),
        n_periods,
        series,
    }
}

fn forecast_all(panel: &Panel, horizon: usize) -> PanelForecast {
    forecast_panel(panel, panel.n_periods, &ForecastOptions::new(horizon)).unwrap()
}

fn assert_finite(forecast: &PanelForecast) {
    for series in &forecast.series {
        let intervals = &series.intervals;
        let values = series
            .point
            .iter()
            .chain(&intervals.lower_80)
            .chain(&intervals.upper_80)
            .chain(&intervals.lower_95)
            .chain(&intervals.upper_95)
            .chain(series.backtest_scaled_mae.values())
            .chain([&series.scale, &series.profile.adi, &series.profile.cv2]);
        for value in values {
            assert!(value.is_finite(), "{}: {value}", series.key);
        }
    }
}

fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= tolerance,
            "expected {expected:?}, got {actual:?}"
        );
    }
}

#[test]
fn constant_series_forecasts_constant() {
    let panel = panel_of(vec![("flat", vec![12.0; 40])]);

    let forecast = forecast_all(&panel, 4);

    assert_close(&forecast.series[0].point, &[12.0; 4], 1e-6);
}

#[test]
fn linear_trend_keeps_rising() {
    let trend: Vec<f64> = (0..40).map(|t| 20.0 + 3.0 * t as f64).collect();
    let panel = panel_of(vec![("trend", trend)]);

    let forecast = forecast_all(&panel, 4);

    let point = &forecast.series[0].point;
    assert!(point[0] > 135.0, "first step {point:?}");
    assert!(point[3] > point[0], "rising {point:?}");
}

#[test]
fn yearly_season_repeats() {
    let season: Vec<f64> = (0..52).map(|w| 10.0 + (w % 13) as f64).collect();
    let history: Vec<f64> = season
        .iter()
        .chain(&season)
        .chain(&season[..20])
        .copied()
        .collect();
    let panel = panel_of(vec![("season", history)]);

    let forecast = forecast_all(&panel, 6);

    assert_close(&forecast.series[0].point, &season[20..26], 0.5);
}

#[test]
fn intermittent_series_is_classified_and_forecast() {
    let sparse: Vec<f64> = (0..48)
        .map(|t| if t % 4 == 1 { 8.0 } else { 0.0 })
        .collect();
    let panel = panel_of(vec![("sparse", sparse)]);

    let forecast = forecast_all(&panel, 4);

    let series = &forecast.series[0];
    assert_eq!(series.profile.class, DemandClass::Intermittent);
    assert_eq!(forecast.intermittent_share(), 1.0);
    let mean_forecast = series.point.iter().sum::<f64>() / 4.0;
    assert!(
        (mean_forecast - 2.0).abs() < 1.0,
        "{:?} from {}",
        series.point,
        series.model
    );
}

#[test]
fn intervals_contain_point_forecast() {
    let noisy: Vec<f64> = (0..40)
        .map(|t| 20.0 + [3.0, -2.0, 1.0, -4.0, 2.0][t % 5])
        .collect();
    let panel = panel_of(vec![
        ("a", noisy.clone()),
        ("b", noisy.iter().map(|v| v * 2.0).collect()),
    ]);

    let forecast = forecast_all(&panel, 4);

    for series in &forecast.series {
        let i = &series.intervals;
        for step in 0..4 {
            assert!(i.lower_95[step] <= i.lower_80[step]);
            assert!(i.lower_80[step] <= series.point[step]);
            assert!(series.point[step] <= i.upper_80[step]);
            assert!(i.upper_80[step] <= i.upper_95[step]);
        }
    }
}

#[test]
fn single_point_series_gets_fallback() {
    let mut one = vec![0.0; 39];
    one.push(5.0);
    let panel = panel_of(vec![("one", one)]);

    let forecast = forecast_all(&panel, 3);

    assert_finite(&forecast);
    assert!(forecast.series[0].is_short);
    assert_eq!(forecast.series[0].model, ModelKind::Fallback);
    assert_close(&forecast.series[0].point, &[5.0; 3], 1e-12);
}

#[test]
fn all_zero_series_stays_finite() {
    let panel = panel_of(vec![("zero", vec![0.0; 30]), ("flat", vec![3.0; 30])]);

    let forecast = forecast_all(&panel, 3);

    assert_finite(&forecast);
    assert_close(&forecast.series[0].point, &[0.0; 3], 1e-12);
}

#[test]
fn negative_weeks_after_returns_stay_finite() {
    let net: Vec<f64> = (0..40)
        .map(|t| if t % 6 == 5 { -4.0 } else { 6.0 })
        .collect();
    let panel = panel_of(vec![("returns", net)]);

    let forecast = forecast_all(&panel, 4);

    assert_finite(&forecast);
    assert_eq!(panel.series[0].n_negative_periods, 6);
}

#[test]
fn duplicated_dates_are_summed_and_reported() {
    let day = |d: u32| NaiveDate::from_ymd_opt(2011, 3, d).unwrap();
    let points = [
        (day(7), 2.0),
        (day(7), 3.0),
        (day(14), 4.0),
        (day(28), f64::INFINITY),
    ];

    let series = bucket_dated_values(&points, Frequency::Weekly).unwrap();

    assert_eq!(series.values, vec![5.0, 4.0]);
    assert_eq!(series.n_duplicates, 1);
    assert_eq!(series.n_non_finite, 1);
}

#[test]
fn holdout_reports_finite_accuracy_and_coverage() {
    let series: Vec<(&str, Vec<f64>)> = ["a", "b", "c", "d"]
        .into_iter()
        .enumerate()
        .map(|(k, sku)| {
            let units = (0..40)
                .map(|t| 10.0 + k as f64 + ((t * (k + 3)) % 7) as f64)
                .collect();
            (sku, units)
        })
        .collect();
    let panel = panel_of(series);

    let (report, _) = evaluate_holdout(&panel, &ForecastOptions::new(4)).unwrap();

    let selected = &report.accuracy["selected"];
    assert_eq!(report.n_evaluated, 4);
    assert!(selected.mase.is_finite());
    assert!((0.0..=1.0).contains(&report.coverage_80));
    assert!((0.0..=1.0).contains(&report.coverage_95));
}

#[test]
fn holdout_rejects_horizon_past_history() {
    let panel = panel_of(vec![("a", vec![1.0; 5])]);

    let result = evaluate_holdout(&panel, &ForecastOptions::new(5));

    assert!(result.is_err());
}

#[test]
fn snapshot_round_trips_and_finds_series_by_key() {
    use mercator_forecast::snapshot::ForecastSnapshot;

    let panel = panel_of(vec![("A", vec![5.0; 30]), ("B", vec![2.0; 30])]);
    let forecast = forecast_all(&panel, 4);
    let mut snapshot = ForecastSnapshot::new("shop", &forecast, None);
    assert!(snapshot.add(&forecast));
    let other_horizon = forecast_all(&panel, 6);
    assert!(
        !snapshot.add(&other_horizon),
        "a different horizon must be refused"
    );

    let json = serde_json::to_string(&snapshot).unwrap();
    let mut loaded: ForecastSnapshot = serde_json::from_str(&json).unwrap();
    loaded.build_index();

    let key = SeriesKey {
        sku: Some("A".to_string()),
        ..SeriesKey::default()
    };
    let series = loaded.find(Level::Sku, &key).expect("series A");
    assert_eq!(series.point.len(), 4);
    assert!(
        series.point.iter().all(|p| (p - 5.0).abs() < 1e-3),
        "{:?}",
        series.point
    );
    assert!(series.lower_95[0] <= series.point[0] && series.point[0] <= series.upper_95[0]);
    assert!(loaded.find(Level::Country, &key).is_none());
    assert_eq!(
        loaded.period_start(1),
        loaded.first_forecast_start + chrono::Duration::days(7)
    );
    assert_eq!(loaded.series.len(), 2);
}
