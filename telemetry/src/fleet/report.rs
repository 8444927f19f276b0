//! The static fleet report: every panel of every dashboard, evaluated
//! against Prometheus's HTTP API and drawn as inline SVG in one HTML file,
//! for users without Grafana.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::dashboard::{Dashboard, PanelKind};
use super::query::{GrafanaVars, PrometheusApi, Series};
use super::svg::{bucket_bars, escape, format_value, legend, line_chart};

/// One evaluated panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelResult {
    /// The panel's title.
    pub title: String,
    /// How it is drawn.
    pub kind: PanelKind,
    /// Its Grafana unit.
    pub unit: &'static str,
    /// (legend, points) of every series of every query.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Queries that failed, with the reason.
    pub errors: Vec<String>,
}

impl PanelResult {
    /// Whether some series has a finite value.
    pub fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|(_, p)| p.iter().any(|(_, v)| v.is_finite()))
    }
}

/// One evaluated dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardResult {
    /// The dashboard's title.
    pub title: &'static str,
    /// Its panels, in order.
    pub panels: Vec<PanelResult>,
}

/// A Grafana legend format (`{{label}}` placeholders) filled from `labels`.
pub fn fill_legend(format: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = format.to_owned();
    for (k, v) in labels {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// Evaluates every query of every panel of `dashboards` over `start..end`
/// (Unix seconds): range queries for time series and heatmaps, instant
/// queries at `end` for stats.
pub fn evaluate(
    api: &PrometheusApi,
    dashboards: &[Dashboard],
    vars: &GrafanaVars,
    start: f64,
    end: f64,
) -> Vec<DashboardResult> {
    dashboards
        .iter()
        .map(|d| DashboardResult {
            title: d.title,
            panels: d
                .panels
                .iter()
                .map(|p| {
                    let mut result = PanelResult {
                        title: p.title.clone(),
                        kind: p.kind,
                        unit: p.unit,
                        series: Vec::new(),
                        errors: Vec::new(),
                    };
                    for t in &p.targets {
                        let expr = vars.substitute(&t.expr);
                        let answer = if p.kind.instant() {
                            api.instant(&expr, end)
                        } else {
                            api.range(&expr, start, end, vars.step_s)
                        };
                        match answer {
                            Ok(series) => result.series.extend(series.into_iter().map(
                                |Series { labels, points }| {
                                    (fill_legend(&t.legend, &labels), points)
                                },
                            )),
                            Err(e) => result.errors.push(e.to_string()),
                        }
                    }
                    result
                })
                .collect(),
        })
        .collect()
}

fn panel_html(out: &mut String, p: &PanelResult) {
    let _ = write!(
        out,
        "<section class=\"panel\"><h3>{}</h3>",
        escape(&p.title)
    );
    for e in &p.errors {
        let _ = write!(out, "<p class=\"error\">{}</p>", escape(e));
    }
    if !p.has_data() {
        out.push_str("<p class=\"empty\">No data (or every group has fewer than k devices).</p>");
    } else {
        match p.kind {
            PanelKind::Stat => {
                for (name, points) in &p.series {
                    let v = points.last().map(|(_, v)| *v).unwrap_or(f64::NAN);
                    let _ = write!(
                        out,
                        "<p class=\"stat\"><b>{}</b> {}</p>",
                        escape(&format_value(v, p.unit)),
                        escape(name)
                    );
                }
            }
            PanelKind::Heatmap => out.push_str(&bucket_bars(&p.series)),
            PanelKind::TimeSeries => {
                out.push_str(&line_chart(&p.series, p.unit));
                let names: Vec<&str> = p.series.iter().map(|(n, _)| n.as_str()).collect();
                out.push_str(&legend(&names));
            }
        }
    }
    out.push_str("</section>");
}

/// The report as one self-contained HTML page (no script, no external file).
pub fn render_html(results: &[DashboardResult], vars: &GrafanaVars, source: &str) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Palisade fleet report</title><style>\
         body{font-family:sans-serif;margin:16px;background:#fff;color:#222}\
         .grid{display:grid;grid-template-columns:repeat(2,580px);gap:12px}\
         .panel{border:1px solid #ddd;border-radius:4px;padding:8px}\
         h3{font-size:14px;margin:0 0 6px}.stat b{font-size:28px}\
         .legend{list-style:none;padding:0;margin:4px 0;font-size:11px;columns:2}\
         .legend span{display:inline-block;width:10px;height:10px;margin-right:4px}\
         .error{color:#b00;font-size:12px}.empty{color:#888}</style></head><body>",
    );
    let _ = write!(
        out,
        "<h1>Palisade fleet report</h1><p>From {} over the last {} s; groups of fewer than {} devices are hidden.</p>",
        escape(source),
        vars.range_s,
        vars.k
    );
    for d in results {
        let _ = write!(out, "<h2>{}</h2><div class=\"grid\">", escape(d.title));
        for p in &d.panels {
            panel_html(&mut out, p);
        }
        out.push_str("</div>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_are_filled_and_html_is_escaped() {
        let labels = BTreeMap::from([("gen_ai_request_model".to_owned(), "m<1>".to_owned())]);
        assert_eq!(
            fill_legend("p50 {{gen_ai_request_model}}", &labels),
            "p50 m<1>"
        );
        let results = [DashboardResult {
            title: "T",
            panels: vec![PanelResult {
                title: "Refusals".into(),
                kind: PanelKind::Stat,
                unit: "short",
                series: vec![("m<1>".into(), vec![(0.0, 42.0)])],
                errors: vec!["bad <query>".into()],
            }],
        }];
        let vars = GrafanaVars {
            k: 5,
            range_s: 60,
            scrape_interval_s: 15,
            step_s: 15,
        };
        let html = render_html(&results, &vars, "http://p");
        assert!(html.contains("<b>42</b> m&lt;1&gt;"), "{html}");
        assert!(html.contains("bad &lt;query&gt;"));
        assert!(!html.contains("<script"));
    }
}
