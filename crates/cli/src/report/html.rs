//! `report.html`: one self-contained page with tables and inline SVG charts.

use std::fmt::Write;

use mercator_data::clean::Bucket;

use mercator_forecast::DemandReport;
use mercator_recommend::PropensityReport;

use super::svg::{escape, LineChart, Series};
use super::{RecommendSection, Report};

/// Forecast charts drawn in the report, largest series first.
const CHARTED_SERIES: usize = 6;

/// Line colours of the charts, in series order.
const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

const STYLE: &str = "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
h2{margin-top:1.8em;border-bottom:1px solid #ddd}\
.note{color:#555;font-size:0.9em}";

/// Renders the whole page.
pub fn render(report: &Report) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Mercator report: {}</title><style>{STYLE}</style></head><body>",
        escape(&report.dataset)
    );
    let _ = write!(
        page,
        "<h1>Mercator report</h1><p>Dataset <b>{}</b>, Mercator {}. Models are trained on \
         orders before {} and evaluated on the {} weeks to {}.</p>",
        escape(&report.dataset),
        escape(&report.mercator_version),
        report.split.cutoff,
        report.split.test_weeks,
        report.split.test_end
    );

    input_section(&mut page, report);
    if let Some(propensity) = &report.propensity {
        propensity_section(&mut page, propensity);
    }
    if let Some(recommend) = &report.recommend {
        recommend_section(&mut page, recommend);
    }
    if let Some(forecast) = &report.forecast {
        forecast_section(&mut page, forecast);
    }
    if !report.skipped.is_empty() {
        page.push_str("<h2>Skipped models</h2><table><tr><th>step</th><th>reason</th></tr>");
        for (step, reason) in &report.skipped {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(step),
                escape(reason)
            );
        }
        page.push_str("</table>");
    }

    page.push_str("<h2>Timings</h2><table><tr><th>step</th><th>ms</th></tr>");
    for (step, ms) in report.timings_ms.iter() {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=n>{ms}</td></tr>",
            escape(step)
        );
    }
    page.push_str("</table></body></html>\n");
    page
}

fn input_section(page: &mut String, report: &Report) {
    let input = &report.input;
    let _ = write!(
        page,
        "<h2>Input and cleaning</h2><p>{} rows read from <code>{}</code> (sha256 {}){}. \
         The dataset holds {} stored lines from {} to {}.</p>",
        input.rows,
        escape(&input.path),
        escape(&input.sha256[..input.sha256.len().min(12)]),
        if input.already_ingested {
            ", ingested by an earlier run"
        } else {
            ""
        },
        input.dataset_lines,
        input.first_invoice,
        input.last_invoice
    );
    page.push_str("<table><tr><th>bucket</th><th>rows</th></tr>");
    for bucket in Bucket::ALL {
        let count = report.cleaning.get(bucket.as_str()).copied().unwrap_or(0);
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=n>{count}</td></tr>",
            bucket.as_str()
        );
    }
    let total: u64 = report.cleaning.values().sum();
    let _ = write!(
        page,
        "<tr><th>total</th><th class=n>{total}</th></tr></table>"
    );
}

fn propensity_section(page: &mut String, p: &PropensityReport) {
    let _ = write!(
        page,
        "<h2>Purchase propensity</h2><p>Logistic regression (Adam, L2) on customer \
         features; target: the customer buys in the test window. {} training rows, {} test \
         customers, {:.1}% of whom bought.</p>",
        p.n_train,
        p.n_test,
        100.0 * p.test_positive_rate
    );
    page.push_str("<table><tr><th>metric</th><th>value</th></tr>");
    for (name, value) in [
        ("AUC", p.auc),
        ("baseline AUC (recency only)", p.baseline_auc),
        ("log-loss", p.log_loss),
        ("accuracy", p.accuracy),
        ("precision", p.precision),
        ("recall", p.recall),
        ("decision threshold (best F1 on training rows)", p.threshold),
    ] {
        let _ = write!(page, "<tr><td>{name}</td><td class=n>{value:.4}</td></tr>");
    }
    page.push_str("</table>");

    let chart = LineChart {
        title: "Calibration on the test window".to_string(),
        x_label: "mean predicted probability".to_string(),
        y_label: "observed purchase rate".to_string(),
        x_ticks: (0..=4)
            .map(|i| (i as f64 / 4.0, format!("{:.2}", i as f64 / 4.0)))
            .collect(),
        y_range: Some((0.0, 1.0)),
        marker: None,
        series: vec![
            Series {
                name: "perfect".to_string(),
                color: "#aaa",
                dashed: true,
                points: vec![(0.0, Some(0.0)), (1.0, Some(1.0))],
            },
            Series {
                name: "model".to_string(),
                color: COLORS[0],
                dashed: false,
                points: p
                    .calibration
                    .iter()
                    .map(|b| (b.mean_predicted, Some(b.observed_rate)))
                    .collect(),
            },
        ],
    };
    page.push_str(&chart.to_svg());

    page.push_str(
        "<h3>Weights (standardized features)</h3><table><tr><th>feature</th><th>weight</th></tr>",
    );
    for w in &p.weights {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=n>{:.4}</td></tr>",
            escape(&w.feature),
            w.weight
        );
    }
    page.push_str("</table>");
}

fn recommend_section(page: &mut String, r: &RecommendSection) {
    let _ = write!(
        page,
        "<h2>Recommendations</h2><p>Top-10 lists for {} customers who bought items new to \
         them in the test window; items they bought before are not recommended.</p>\
         <table><tr><th>model</th><th>NDCG@10</th><th>HR@10</th><th>customers</th></tr>",
        r.n_eval_customers
    );
    for (name, m) in &r.models {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=n>{:.4}</td><td class=n>{:.4}</td><td class=n>{}</td></tr>",
            escape(name),
            m.ndcg_at_10,
            m.hr_at_10,
            m.n_customers
        );
    }
    page.push_str("</table>");
}

fn forecast_section(page: &mut String, f: &DemandReport) {
    let _ = write!(
        page,
        "<h2>Demand forecasts</h2><p>Weekly net units (sales minus returns) of the {} largest \
         SKU x country series, forecast {} weeks ahead from the cutoff.</p>\
         <table><tr><th>model</th><th>MASE</th><th>sMAPE</th><th>series</th></tr>",
        f.series.len(),
        f.horizon_weeks
    );
    for (name, m) in &f.models {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=n>{:.3}</td><td class=n>{:.1}</td><td class=n>{}</td></tr>",
            escape(name),
            m.mase,
            m.smape,
            m.n_series
        );
    }
    page.push_str("</table>");

    for series in f.series.iter().take(CHARTED_SERIES) {
        page.push_str(&forecast_chart(f, series).to_svg());
    }
}

fn forecast_chart(f: &DemandReport, series: &mercator_forecast::SeriesForecast) -> LineChart {
    let n_history = series.history.len();
    let offset = f
        .week_starts
        .len()
        .saturating_sub(n_history + series.actual.len());
    let x_ticks = f
        .week_starts
        .iter()
        .enumerate()
        .skip(offset)
        .step_by(8)
        .map(|(i, d)| ((i - offset) as f64, d.format("%Y-%m-%d").to_string()))
        .collect();

    let mut observed: Vec<(f64, Option<f64>)> = series
        .history
        .iter()
        .chain(&series.actual)
        .enumerate()
        .map(|(i, v)| (i as f64, Some(*v)))
        .collect();
    observed.truncate(n_history + series.actual.len());
    let mut lines = vec![Series {
        name: "actual".to_string(),
        color: "#222",
        dashed: false,
        points: observed,
    }];
    for (i, (model, values)) in series.forecasts.iter().enumerate() {
        lines.push(Series {
            name: model.clone(),
            color: COLORS[(i + 1) % COLORS.len()],
            dashed: true,
            points: values
                .iter()
                .enumerate()
                .map(|(h, v)| ((n_history + h) as f64, Some(*v)))
                .collect(),
        });
    }
    LineChart {
        title: format!("{} {} ({})", series.sku, series.description, series.country),
        x_label: "week starting".to_string(),
        y_label: "net units".to_string(),
        x_ticks,
        y_range: None,
        marker: Some((n_history as f64 - 0.5, "test window".to_string())),
        series: lines,
    }
}
