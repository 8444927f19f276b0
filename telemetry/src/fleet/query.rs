//! A small client of Prometheus's HTTP API (`/api/v1/query`,
//! `/api/v1/query_range`, label values), and Grafana's substitution of
//! dashboard variables, so that dashboards can be evaluated outside Grafana.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Prometheus could not be reached or answered with something unreadable.
    #[error("querying {url}: {message}")]
    Http {
        /// The URL asked.
        url: String,
        /// The cause.
        message: String,
    },
    /// Prometheus refused the query (e.g. a PromQL syntax error).
    #[error("Prometheus answered {error_type}: {message}")]
    Api {
        /// Prometheus's error type, e.g. `bad_data`.
        error_type: String,
        /// Its message.
        message: String,
    },
}

/// One series of a result: its labels and its (Unix seconds, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The labels, `__name__` included when Prometheus kept it.
    pub labels: BTreeMap<String, String>,
    /// The points, oldest first; a scalar or instant result has one.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// Whether any point is a finite number.
    pub fn has_data(&self) -> bool {
        self.points.iter().any(|(_, v)| v.is_finite())
    }
}

/// Grafana's values for the dashboards' variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrafanaVars {
    /// `$k`, the minimum devices per group.
    pub k: usize,
    /// The dashboard's time range, for `$__range`.
    pub range_s: u64,
    /// The data source's scrape interval.
    pub scrape_interval_s: u64,
    /// The query step, `$__interval`.
    pub step_s: u64,
}

impl GrafanaVars {
    /// `$__rate_interval`: `max($__interval + scrape interval, 4 × scrape interval)`.
    pub fn rate_interval_s(&self) -> u64 {
        (self.step_s + self.scrape_interval_s).max(4 * self.scrape_interval_s)
    }

    /// `expr` with the variables replaced as Grafana does with `All`
    /// selected: multi-value variables become their `allValue`, `.*`.
    pub fn substitute(&self, expr: &str) -> String {
        expr.replace("$__rate_interval", &format!("{}s", self.rate_interval_s()))
            .replace("$__range", &format!("{}s", self.range_s))
            .replace("$__interval", &format!("{}s", self.step_s))
            .replace(&format!("${}", super::promql::DEVICE_CLASS_VAR), ".*")
            .replace(&format!("${}", super::promql::MODEL_VAR), ".*")
            .replace(&format!("${}", super::promql::K_VAR), &self.k.to_string())
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn number(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

fn point(v: &Value) -> (f64, f64) {
    (v[0].as_f64().unwrap_or(f64::NAN), number(&v[1]))
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The series of a query answer's `data`: a scalar, an instant vector
/// (`value`) or a range matrix (`values`).
fn parse_result(data: &Value) -> Vec<Series> {
    if data["resultType"] == "scalar" {
        return vec![Series {
            labels: BTreeMap::new(),
            points: vec![point(&data["result"])],
        }];
    }
    data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Series {
            labels: labels(&r["metric"]),
            points: match r["values"].as_array() {
                Some(values) => values.iter().map(point).collect(),
                None => vec![point(&r["value"])],
            },
        })
        .collect()
}

/// A Prometheus HTTP API endpoint.
#[derive(Debug, Clone)]
pub struct PrometheusApi {
    base: String,
    client: reqwest::blocking::Client,
}

impl PrometheusApi {
    /// A client of the Prometheus at `base` (e.g. `http://127.0.0.1:9090`).
    /// Call it from a thread without a Tokio runtime.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, QueryError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| QueryError::Http {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// The `data` of a successful answer to `path` (with its query string).
    pub fn get(&self, path: &str) -> Result<Value, QueryError> {
        let url = format!("{}{path}", self.base);
        let http = |message: String| QueryError::Http {
            url: url.clone(),
            message,
        };
        let text = self
            .client
            .get(&url)
            .send()
            .and_then(|r| r.text())
            .map_err(|e| http(e.to_string()))?;
        let body: Value = serde_json::from_str(&text).map_err(|e| {
            http(format!(
                "{e} in {}",
                text.chars().take(200).collect::<String>()
            ))
        })?;
        if body["status"] != "success" {
            return Err(QueryError::Api {
                error_type: body["errorType"].as_str().unwrap_or("unknown").to_owned(),
                message: body["error"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(body["data"].clone())
    }

    /// Every metric name stored.
    pub fn metric_names(&self) -> Result<BTreeSet<String>, QueryError> {
        let data = self.get("/api/v1/label/__name__/values")?;
        Ok(data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }

    /// An instant query at `time` (Unix seconds).
    pub fn instant(&self, expr: &str, time: f64) -> Result<Vec<Series>, QueryError> {
        let data = self.get(&format!(
            "/api/v1/query?query={}&time={time:.3}",
            encode(expr)
        ))?;
        Ok(parse_result(&data))
    }

    /// A range query from `start` to `end` (Unix seconds) every `step_s`.
    pub fn range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step_s: u64,
    ) -> Result<Vec<Series>, QueryError> {
        let data = self.get(&format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step_s}",
            encode(expr)
        ))?;
        Ok(parse_result(&data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_substituted_as_grafana_does() {
        let vars = GrafanaVars {
            k: 3,
            range_s: 120,
            scrape_interval_s: 1,
            step_s: 2,
        };
        assert_eq!(vars.rate_interval_s(), 4);
        assert_eq!(
            vars.substitute("sum(rate(x{m=~\"$model\"}[$__rate_interval])) >= $k + 0*$__range"),
            "sum(rate(x{m=~\".*\"}[4s])) >= 3 + 0*120s"
        );
        assert_eq!(encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }

    #[test]
    fn scalars_vectors_and_matrices_are_parsed() {
        let scalar = serde_json::json!({"resultType": "scalar", "result": [10.5, "3"]});
        assert_eq!(parse_result(&scalar)[0].points, [(10.5, 3.0)]);
        let vector = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"le": "0.5"}, "value": [1.0, "NaN"]}]});
        let v = parse_result(&vector);
        assert_eq!(v[0].labels["le"], "0.5");
        assert!(!v[0].has_data());
        let matrix = serde_json::json!({"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1.0, "1"], [2.0, "+Inf"]]}]});
        let m = parse_result(&matrix);
        assert_eq!(m[0].points[0], (1.0, 1.0));
        assert!(m[0].points[1].1.is_infinite());
    }
}
