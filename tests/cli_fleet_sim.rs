//! `palisade fleet-sim` end to end: devices serve Prometheus text while it
//! runs, the ground truth file adds up, and bad arguments get clear errors.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

#[test]
fn fleet_sim_serves_each_device_and_writes_the_ground_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let truth_path = dir.path().join("truth.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["fleet-sim", "--devices", "6", "--requests", "5"])
        .args(["--round-interval-ms", "10", "--serve-s", "30", "--k", "1"])
        .arg("--truth-out")
        .arg(&truth_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run palisade");
    let stdout = child.stdout.take().expect("stdout");
    let mut urls = Vec::new();
    let mut summary = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(url) = line.trim().strip_prefix("http://") {
            urls.push(format!("http://{url}"));
        }
        if line.starts_with("all devices") {
            summary = line.clone();
        }
        if line.starts_with("serving for") {
            break;
        }
    }
    assert_eq!(urls.len(), 6, "one listener per device");
    let mut texts = Vec::new();
    for url in &urls {
        let mut body = String::new();
        ureq::get(url)
            .call()
            .expect("scrape")
            .into_body()
            .into_reader()
            .read_to_string(&mut body)
            .expect("body");
        texts.push(body);
    }
    let _ = child.kill();
    let _ = child.wait();
    // Laptops and desktops are exact; phones (every third device) use dp.
    assert!(
        texts[0].contains("palisade_privacy_devices{"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("gen_ai_client_operation_duration_seconds_count{"));
    assert!(
        texts[2].contains("palisade_dp_reports_total{"),
        "{}",
        texts[2]
    );
    assert!(
        !texts[2].contains("gen_ai_client_operation_duration"),
        "dp devices send no exact metric"
    );

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&truth_path).expect("truth")).expect("json");
    let devices = truth["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 6);
    assert!(devices.iter().all(|d| d["requests"] == 5));
    let refusals: u64 = devices
        .iter()
        .filter(|d| d["privacy"] == "aggregate")
        .map(|d| d["refusals"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        summary.contains(&format!("20 requests, {refusals} refusals")),
        "{summary}"
    );
}

#[test]
fn fleet_sim_refuses_an_empty_fleet_and_a_used_state_dir() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .output()
            .expect("run palisade")
    };
    let out = run(&["fleet-sim", "--devices", "0", "--serve-s", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one device"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("device-0-ledger.json"), "{}").expect("write");
    let used = dir.path().to_string_lossy().into_owned();
    let out = run(&[
        "fleet-sim",
        "--devices",
        "2",
        "--state-dir",
        &used,
        "--serve-s",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
}
