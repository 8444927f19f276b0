//! The `palisade serve` binary: SIGHUP reloads the policy (a bad one is
//! rejected and logged), SIGTERM drains the requests in flight.

mod serve_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use serve_support::*;

struct Serve {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(upstream: &str, policy: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["serve", "--listen", "127.0.0.1:0", "--upstream", upstream])
            .arg("--policy")
            .arg(policy)
            .args(["--reload-poll-ms", "0", "--shutdown-grace-ms", "10000"])
            .env_remove("PALISADE_CONFIG")
            .env_remove("PALISADE_API_KEY")
            .env_remove("PALISADE_LISTEN")
            .stderr(Stdio::piped())
            .spawn()
            .expect("palisade serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.split(' ').next().unwrap_or("").to_string());
                }
                lines.lock().expect("lock").push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address")
            .parse()
            .expect("an address");
        Serve { child, addr, log }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn ready(&self) -> Value {
        json_of(reqwest::get(self.url("/readyz")).await.expect("readyz")).await
    }

    async fn exit_code(mut self) -> Option<i32> {
        for _ in 0..500 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server did not exit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_keeps_the_old_policy_when_the_new_one_is_bad() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let upstream = fake_upstream(Script::new(&["apple ", "banana"])).await;
    let serve = Serve::start(&upstream.base, &policy);
    let blocked_by = async || {
        let answer = post_json(
            &serve.url("/v1/chat/completions"),
            &chat_body("fruit", false),
        )
        .await;
        json_of(answer).await["palisade"]["blocked_by"].clone()
    };
    assert_eq!(blocked_by().await, "no-apple");

    write_keyword_policy(&policy, "banana");
    serve.signal("HUP");
    eventually("SIGHUP reloads", async || {
        serve.ready().await["policy_reloads"] == 1
    })
    .await;
    assert_eq!(blocked_by().await, "no-banana");

    std::fs::write(&policy, "version: \"1\"\nname: [broken\n").expect("write");
    serve.signal("HUP");
    eventually("the bad policy is rejected", async || {
        serve.ready().await["policy_reload_failures"] == 1
    })
    .await;
    assert_eq!(blocked_by().await, "no-banana");
    let log = serve.log.lock().expect("lock").join("\n");
    assert!(
        log.contains("policy reload rejected") && log.contains("policy.yaml"),
        "{log}"
    );
    assert!(
        !log.contains("fruit"),
        "request text is never logged: {log}"
    );
    serve.signal("TERM");
    assert_eq!(serve.exit_code().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_stream_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let pieces = vec!["step "; 20];
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(40))).await;
    let serve = Serve::start(&upstream.base, &policy);
    let mut response = post_json(&serve.url("/v1/chat/completions"), &chat_body("go", true)).await;
    let mut raw = String::from_utf8_lossy(&response.chunk().await.expect("read").expect("a frame"))
        .into_owned();
    serve.signal("TERM");
    while let Some(bytes) = response.chunk().await.expect("the stream continues") {
        raw.push_str(&String::from_utf8_lossy(&bytes));
    }
    let (text, last) = chat_stream_text(&sse_payloads(&raw));
    assert_eq!(text, "step ".repeat(20));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    let addr = serve.addr;
    assert_eq!(serve.exit_code().await, Some(0));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}
