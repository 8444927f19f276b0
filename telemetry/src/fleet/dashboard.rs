//! The dashboard model and its Grafana JSON form. The dashboards themselves
//! are built from the registry in [`super::panels`].

use serde_json::{Value, json};

use super::promql::{DEVICE_CLASS_VAR, K_VAR, MODEL_VAR, label, series};
use crate::attrs::AttrKey;
use crate::registry::MetricId;

/// The default minimum number of devices behind a shown group.
pub const DEFAULT_K: u32 = 5;

/// How a panel shows its queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelKind {
    /// Lines over time (range queries).
    TimeSeries,
    /// One number per series at the end of the range (instant queries).
    Stat,
    /// Histogram buckets over time (range queries, `format: heatmap`).
    Heatmap,
}

impl PanelKind {
    /// Whether Grafana runs the panel's queries as instant queries.
    pub fn instant(self) -> bool {
        self == PanelKind::Stat
    }

    fn grafana_type(self) -> &'static str {
        match self {
            PanelKind::TimeSeries => "timeseries",
            PanelKind::Stat => "stat",
            PanelKind::Heatmap => "heatmap",
        }
    }
}

/// One PromQL query of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The expression, with Grafana variables (`$k`, `$__rate_interval`, ...).
    pub expr: String,
    /// The legend format, e.g. `{{gen_ai_request_model}}`.
    pub legend: String,
}

/// One panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The title (unique within its dashboard).
    pub title: String,
    /// What it shows and how to read it.
    pub description: String,
    /// How it is drawn.
    pub kind: PanelKind,
    /// The Grafana unit of its values (`s`, `reqps`, `percentunit`, `short`).
    pub unit: &'static str,
    /// Its queries.
    pub targets: Vec<Target>,
}

impl Panel {
    /// A panel without queries yet.
    pub fn new(kind: PanelKind, title: &str, unit: &'static str, description: &str) -> Self {
        Self {
            title: title.to_owned(),
            description: description.to_owned(),
            kind,
            unit,
            targets: Vec::new(),
        }
    }

    /// Adds a query.
    pub fn query(mut self, expr: String, legend: &str) -> Self {
        self.targets.push(Target {
            expr,
            legend: legend.to_owned(),
        });
        self
    }
}

/// One dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    /// The Grafana uid, also the file name stem.
    pub uid: &'static str,
    /// The title.
    pub title: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Its panels, in layout order.
    pub panels: Vec<Panel>,
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn label_variable(name: &str, title: &str, key: AttrKey) -> Value {
    let query = format!(
        "label_values({}, {})",
        series(MetricId::DeviceCount, super::promql::Part::Value),
        label(key)
    );
    json!({
        "name": name,
        "label": title,
        "type": "query",
        "datasource": datasource(),
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
        "hide": 0
    })
}

fn variables() -> Value {
    let k = DEFAULT_K.to_string();
    json!([
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "hide": 0
        },
        {
            "name": K_VAR,
            "label": "Minimum devices per group (k)",
            "description": "Groups reported by fewer devices are hidden in every panel.",
            "type": "textbox",
            "query": k,
            "current": {"text": k, "value": k},
            "hide": 0
        },
        label_variable(DEVICE_CLASS_VAR, "Device class", AttrKey::DeviceClass),
        label_variable(MODEL_VAR, "Model", AttrKey::RequestModel),
    ])
}

impl Panel {
    fn to_json(&self, id: usize, x: u32, y: u32, w: u32, h: u32) -> Value {
        let instant = self.kind.instant();
        let targets: Vec<Value> = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let ref_id = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0)).to_string();
                json!({
                    "refId": ref_id,
                    "datasource": datasource(),
                    "expr": t.expr,
                    "legendFormat": t.legend,
                    "instant": instant,
                    "range": !instant,
                    "format": if self.kind == PanelKind::Heatmap { "heatmap" } else { "time_series" }
                })
            })
            .collect();
        let options = match self.kind {
            PanelKind::TimeSeries => json!({
                "legend": {"displayMode": "table", "placement": "bottom", "showLegend": true},
                "tooltip": {"mode": "multi", "sort": "desc"}
            }),
            PanelKind::Stat => json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "value",
                "graphMode": "none",
                "textMode": "value_and_name"
            }),
            PanelKind::Heatmap => json!({
                "calculate": false,
                "yAxis": {"unit": self.unit},
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges"}
            }),
        };
        json!({
            "id": id,
            "type": self.kind.grafana_type(),
            "title": self.title,
            "description": self.description,
            "datasource": datasource(),
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": self.unit}, "overrides": []},
            "options": options,
            "targets": targets
        })
    }
}

impl Dashboard {
    /// The committed file name, `dashboards/<uid>.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.uid)
    }

    /// The Grafana dashboard JSON model. Stat panels take a quarter of the
    /// width, others half; panels flow left to right.
    pub fn to_json(&self) -> Value {
        let (mut x, mut y, mut row_h) = (0u32, 0u32, 0u32);
        let mut panels = Vec::with_capacity(self.panels.len());
        for (i, p) in self.panels.iter().enumerate() {
            let (w, h) = if p.kind == PanelKind::Stat {
                (6, 4)
            } else {
                (12, 8)
            };
            if x + w > 24 {
                x = 0;
                y += row_h;
                row_h = 0;
            }
            panels.push(p.to_json(i + 1, x, y, w, h));
            x += w;
            row_h = row_h.max(h);
        }
        json!({
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["palisade", "generated"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "editable": true,
            "graphTooltip": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "annotations": {"list": []},
            "links": [],
            "templating": {"list": variables()},
            "panels": panels
        })
    }

    /// The JSON as committed: pretty-printed, with a final newline.
    pub fn render(&self) -> String {
        let mut out = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        out.push('\n');
        out
    }
}
