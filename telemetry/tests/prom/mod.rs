//! A private Prometheus for tests: Debian's `prometheus` binary on a free
//! 127.0.0.1 port with a temporary data folder, a generated scrape config,
//! and its HTTP API; plus Grafana's variable substitution.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Grafana's values for a dashboard's variables.
#[derive(Debug, Clone, Copy)]
pub struct Vars {
    /// `$k`.
    pub k: usize,
    /// The dashboard range, for `$__range`.
    pub range_s: u64,
    /// The data source's scrape interval.
    pub scrape_interval_s: u64,
    /// The query step, `$__interval`.
    pub step_s: u64,
}

impl Vars {
    /// `expr` with the variables replaced as Grafana does: `All` of a
    /// multi-value variable becomes its `allValue` (`.*`), and
    /// `$__rate_interval` is `max($__interval + scrape interval, 4 × scrape interval)`.
    pub fn substitute(&self, expr: &str) -> String {
        let rate_interval = (self.step_s + self.scrape_interval_s).max(4 * self.scrape_interval_s);
        expr.replace("$__rate_interval", &format!("{rate_interval}s"))
            .replace("$__range", &format!("{}s", self.range_s))
            .replace("$__interval", &format!("{}s", self.step_s))
            .replace("$device_class", ".*")
            .replace("$model", ".*")
            .replace("$k", &self.k.to_string())
    }
}

/// A running Prometheus, killed on drop.
pub struct Prometheus {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    client: reqwest::blocking::Client,
}

fn binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no `prometheus` on PATH: run `sh tools/ci/install-prometheus.sh` (make test does)"
            )
        })
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

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`) every `interval_s`.
    pub fn start(targets: &[String], interval_s: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: {interval_s}s\n  scrape_timeout: {interval_s}s\n  evaluation_interval: {interval_s}s\n\
             scrape_configs:\n  - job_name: palisade-devices\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .map_err(|e| e.to_string())?;
        let text = resp.text().map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"].clone())
    }

    /// Waits until `n` targets are up and have been scraped.
    pub fn wait_for_targets(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(data) = self.get("/api/v1/targets?state=active") {
                let targets = data["activeTargets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if targets.len() == n && targets.iter().all(|t| t["health"] == "up") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{n} targets not up within {limit:?}; prometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every metric name Prometheus has stored.
    pub fn metric_names(&self) -> BTreeSet<String> {
        let data = self
            .get("/api/v1/label/__name__/values")
            .unwrap_or_else(|e| panic!("metric names: {e}"));
        data.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Every value of an instant query at `time` (Unix seconds).
    pub fn instant(&self, expr: &str, time: f64) -> Result<Vec<f64>, String> {
        let data = self.get(&format!(
            "/api/v1/query?query={}&time={time:.3}",
            encode(expr)
        ))?;
        Ok(match data["resultType"].as_str() {
            Some("scalar") => vec![number(&data["result"][1])],
            _ => data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| number(&r["value"][1]))
                .collect(),
        })
    }

    /// Every value of every series of a range query.
    pub fn range(&self, expr: &str, start: f64, end: f64, step_s: u64) -> Result<Vec<f64>, String> {
        let data = self.get(&format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step_s}",
            encode(expr)
        ))?;
        Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["values"].as_array().cloned().unwrap_or_default())
            .map(|v| number(&v[1]))
            .collect())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
