//! A private Prometheus for tests: Debian's `prometheus` binary on a free
//! 127.0.0.1 port with a temporary data folder and a generated scrape
//! config, queried through the library's API client. Killed on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_telemetry::fleet::PrometheusApi;

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    dir: tempfile::TempDir,
    /// Its base URL.
    pub url: String,
    /// Its HTTP API.
    pub api: PrometheusApi,
}

/// The first executable `name` on PATH.
pub fn on_path(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no `{name}` on PATH: run `sh {install}` (make test does)"))
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
        let child = Command::new(on_path("prometheus", "tools/ci/install-prometheus.sh"))
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
        let url = format!("http://127.0.0.1:{port}");
        let api = PrometheusApi::new(&url, Duration::from_secs(10)).expect("client");
        Self {
            child,
            dir,
            url,
            api,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Waits until `n` targets are up and have been scraped.
    pub fn wait_for_targets(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(data) = self.api.get("/api/v1/targets?state=active") {
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
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
