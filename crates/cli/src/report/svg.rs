//! Line charts as inline SVG for the HTML report.
//!
//! A small writer instead of a plotting crate: the report needs lines,
//! axes, ticks and a legend, and SVG text elements need no font files.

use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_RIGHT: f64 = 160.0;
const MARGIN_TOP: f64 = 36.0;
const MARGIN_BOTTOM: f64 = 44.0;

/// One polyline; `None` points break the line.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, Option<f64>)>,
}

/// A chart with numeric axes.
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Tick positions on the x axis with their labels.
    pub x_ticks: Vec<(f64, String)>,
    /// Fixed y range; computed from the data (including 0) when `None`.
    pub y_range: Option<(f64, f64)>,
    /// A labelled vertical line, such as the start of the test window.
    pub marker: Option<(f64, String)>,
    pub series: Vec<Series>,
}

impl LineChart {
    /// Renders the chart as an `<svg>` element.
    pub fn to_svg(&self) -> String {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (x_min, x_max) = min_max(xs).unwrap_or((0.0, 1.0));
        let (y_min, y_max) = self.y_range.unwrap_or_else(|| {
            let ys = self
                .series
                .iter()
                .flat_map(|s| s.points.iter().filter_map(|p| p.1))
                .chain([0.0]);
            let (lo, hi) = min_max(ys).unwrap_or((0.0, 1.0));
            nice_range(lo, hi)
        });
        let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
        let sx = |x: f64| MARGIN_LEFT + (x - x_min) / span(x_min, x_max) * plot_w;
        let sy = |y: f64| MARGIN_TOP + plot_h - (y - y_min) / span(y_min, y_max) * plot_h;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11">"#
        );
        let _ = write!(svg, "<title>{}</title>", escape(&self.title));
        let _ = write!(
            svg,
            r#"<text x="{MARGIN_LEFT}" y="20" font-size="13" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );

        // Grid and y ticks.
        for i in 0..=4 {
            let y = y_min + (y_max - y_min) * i as f64 / 4.0;
            let py = sy(y);
            let _ = write!(
                svg,
                r##"<line x1="{MARGIN_LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                MARGIN_LEFT + plot_w,
                MARGIN_LEFT - 6.0,
                py + 4.0,
                format_tick(y)
            );
        }
        for (x, label) in &self.x_ticks {
            let px = sx(*x);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}" stroke="#999"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                MARGIN_TOP + plot_h,
                MARGIN_TOP + plot_h + 4.0,
                MARGIN_TOP + plot_h + 16.0,
                escape(label)
            );
        }
        let _ = write!(
            svg,
            r##"<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#555"/>"##
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            MARGIN_LEFT + plot_w / 2.0,
            HEIGHT - 8.0,
            escape(&self.x_label)
        );
        let _ = write!(
            svg,
            r#"<text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            MARGIN_TOP + plot_h / 2.0,
            escape(&self.y_label)
        );

        if let Some((x, label)) = &self.marker {
            let px = sx(*x);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" x2="{px:.1}" y1="{MARGIN_TOP}" y2="{:.1}" stroke="#888" stroke-dasharray="2,3"/><text x="{:.1}" y="{:.1}" fill="#666">{}</text>"##,
                MARGIN_TOP + plot_h,
                px + 3.0,
                MARGIN_TOP + plot_h - 6.0,
                escape(label)
            );
        }

        for (i, series) in self.series.iter().enumerate() {
            let dash = if series.dashed {
                r#" stroke-dasharray="6,4""#
            } else {
                ""
            };
            for run in series.points.split(|p| p.1.is_none()) {
                let coords: Vec<String> = run
                    .iter()
                    .filter_map(|(x, y)| y.map(|y| format!("{:.1},{:.1}", sx(*x), sy(y))))
                    .collect();
                if coords.len() == 1 {
                    let (cx, cy) = coords[0].split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        svg,
                        r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{}"/>"#,
                        series.color
                    );
                } else if !coords.is_empty() {
                    let _ = write!(
                        svg,
                        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}/>"#,
                        coords.join(" "),
                        series.color
                    );
                }
            }
            let ly = MARGIN_TOP + 10.0 + 16.0 * i as f64;
            let lx = WIDTH - MARGIN_RIGHT + 12.0;
            let _ = write!(
                svg,
                r#"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
                lx + 18.0,
                series.color,
                lx + 24.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn span(lo: f64, hi: f64) -> f64 {
    if hi > lo {
        hi - lo
    } else {
        1.0
    }
}

/// Widens `[lo, hi]` to multiples of a round step, so ticks read well.
fn nice_range(lo: f64, hi: f64) -> (f64, f64) {
    let raw_step = span(lo, hi) / 4.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step)
        .unwrap_or(raw_step);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

fn format_tick(value: f64) -> String {
    if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Escapes text for HTML and SVG content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_escapes_names() {
        let chart = LineChart {
            title: "A <b> & C".to_string(),
            x_label: "week".to_string(),
            y_label: "units".to_string(),
            x_ticks: vec![(0.0, "w0".to_string())],
            y_range: None,
            marker: Some((1.0, "test".to_string())),
            series: vec![Series {
                name: "x\"y".to_string(),
                color: "#000",
                dashed: true,
                points: vec![
                    (0.0, Some(1.0)),
                    (1.0, None),
                    (2.0, Some(3.0)),
                    (3.0, Some(2.0)),
                ],
            }],
        };
        let svg = chart.to_svg();
        assert!(svg.contains("A &lt;b&gt; &amp; C"));
        assert!(svg.contains("x&quot;y"));
        assert!(svg.contains("<circle"), "a lone point is drawn as a dot");
        assert!(svg.contains("<polyline"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn nice_range_contains_data() {
        let (lo, hi) = nice_range(-3.0, 97.0);
        assert!(lo <= -3.0);
        assert!(hi >= 97.0);
    }
}
