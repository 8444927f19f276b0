//! Inline SVG charts for the static fleet report: lines over time, bars for
//! histogram buckets, and value formatting by Grafana unit.

use std::fmt::Write as _;

const W: f64 = 560.0;
const H: f64 = 200.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 22.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `v` formatted for Grafana unit `unit`.
pub fn format_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    match unit {
        "percentunit" => format!("{:.1}%", v * 100.0),
        "s" if v.abs() < 1.0 => format!("{:.1} ms", v * 1000.0),
        "s" => format!("{v:.2} s"),
        "reqps" => format!("{v:.2} req/s"),
        "bytes" => format!("{v:.0} B"),
        _ if v.fract() == 0.0 && v.abs() < 1e9 => format!("{v:.0}"),
        _ => format!("{v:.3}"),
    }
}

fn frame(out: &mut String, y_min: f64, y_max: f64, unit: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\
         <rect x=\"{LEFT}\" y=\"4\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>\
         <text x=\"{}\" y=\"14\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
        W - LEFT - 4.0,
        H - BOTTOM - 4.0,
        LEFT - 4.0,
        escape(&format_value(y_max, unit)),
        LEFT - 4.0,
        H - BOTTOM,
        escape(&format_value(y_min, unit)),
    );
}

/// Lines of `series` ((legend, points)) over time; gaps where a value is
/// not finite.
pub fn line_chart(series: &[(String, Vec<(f64, f64)>)], unit: &str) -> String {
    let finite = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter())
            .filter(|(_, v)| v.is_finite())
    };
    let (t0, t1) = finite().fold((f64::MAX, f64::MIN), |(a, b), (t, _)| {
        (a.min(*t), b.max(*t))
    });
    let (y0, y1) = finite().fold((0.0f64, f64::MIN), |(a, b), (_, v)| (a.min(*v), b.max(*v)));
    let y1 = if y1 <= y0 { y0 + 1.0 } else { y1 };
    let span_t = if t1 > t0 { t1 - t0 } else { 1.0 };
    let x = |t: f64| LEFT + (t - t0) / span_t * (W - LEFT - 4.0);
    let y = |v: f64| 4.0 + (1.0 - (v - y0) / (y1 - y0)) * (H - BOTTOM - 4.0);
    let mut out = String::new();
    frame(&mut out, y0, y1, unit);
    for (i, (_, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        for run in points.split(|(_, v)| !v.is_finite()) {
            if run.is_empty() {
                continue;
            }
            let coords: Vec<String> = run
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
                coords.join(" ")
            );
            if run.len() == 1 {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{color}\"/>",
                    x(run[0].0),
                    y(run[0].1)
                );
            }
        }
    }
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"10\">{:.0} s</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">now</text></svg>",
        H - 6.0,
        -(span_t),
        W - 4.0,
        H - 6.0
    );
    out
}

/// Bars of the bucket counts in the last point of cumulative bucket series
/// whose legends are their `le` bounds.
pub fn bucket_bars(series: &[(String, Vec<(f64, f64)>)]) -> String {
    let mut buckets: Vec<(f64, String, f64)> = series
        .iter()
        .filter_map(|(le, points)| {
            let last = points.iter().rev().find(|(_, v)| v.is_finite())?.1;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, le.clone(), last))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut prev = 0.0;
    let counts: Vec<(String, f64)> = buckets
        .into_iter()
        .map(|(_, le, cumulative)| {
            let c = (cumulative - prev).max(0.0);
            prev = cumulative;
            (le, c)
        })
        .collect();
    let max = counts
        .iter()
        .map(|c| c.1)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut out = String::new();
    frame(&mut out, 0.0, max, "short");
    let slot = (W - LEFT - 4.0) / counts.len().max(1) as f64;
    for (i, (le, c)) in counts.iter().enumerate() {
        let h = c / max * (H - BOTTOM - 4.0);
        let x = LEFT + i as f64 * slot;
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">≤{}</text>",
            x + 1.0,
            H - BOTTOM - h,
            (slot - 2.0).max(1.0),
            COLORS[1],
            x + slot / 2.0,
            H - 8.0,
            escape(le)
        );
    }
    out.push_str("</svg>");
    out
}

/// A legend: one colored swatch and name per series (at most 12).
pub fn legend(names: &[&str]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for (i, name) in names.iter().take(12).enumerate() {
        let _ = write!(
            out,
            "<li><span style=\"background:{}\"></span>{}</li>",
            COLORS[i % COLORS.len()],
            escape(name)
        );
    }
    if names.len() > 12 {
        let _ = write!(out, "<li>and {} more</li>", names.len() - 12);
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_skip_gaps_and_bars_difference_cumulative_buckets() {
        let series = vec![(
            "a<b".to_owned(),
            vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)],
        )];
        let svg = line_chart(&series, "s");
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("<circle"), "a lone point is drawn");
        let buckets = vec![
            ("+Inf".to_owned(), vec![(0.0, 10.0)]),
            ("0.5".to_owned(), vec![(0.0, 4.0)]),
            ("1".to_owned(), vec![(0.0, 9.0)]),
        ];
        let bars = bucket_bars(&buckets);
        let order: Vec<usize> = ["≤0.5", "≤1", "≤+Inf"]
            .iter()
            .map(|l| bars.find(l).expect("label"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{bars}");
        assert_eq!(format_value(0.1234, "percentunit"), "12.3%");
        assert_eq!(format_value(0.25, "s"), "250.0 ms");
        assert_eq!(escape("a<b"), "a&lt;b");
        assert!(legend(&["a<b"]).contains("a&lt;b"));
    }
}
