//! `palisade serve` as a child process (for the fault and soak tests): its
//! address from the log, the log lines, signals, and what `/proc` says of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `palisade serve`, killed on drop.
pub struct ServeChild {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeChild {
    /// Starts `palisade serve --listen 127.0.0.1:0 ARGS` (binary `exe`) and
    /// waits for its address.
    pub fn start<S: AsRef<OsStr>>(exe: &str, args: &[S]) -> ServeChild {
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("PALISADE_CONFIG")
            .env_remove("PALISADE_API_KEY")
            .env_remove("PALISADE_LISTEN")
            .env_remove("PALISADE_TELEMETRY")
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
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("an address"),
            Err(_) => panic!(
                "the server printed no address; its log: {:?}",
                log.lock().expect("lock")
            ),
        };
        ServeChild { child, addr, log }
    }

    /// Waits (up to 10 s) for the process to exit and returns its exit code.
    pub async fn exit_code(mut self) -> Option<i32> {
        for _ in 0..500 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server did not exit");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("lock").clone()
    }

    /// Whether a log line contains every one of `needles`.
    pub fn logged(&self, needles: &[&str]) -> bool {
        self.log()
            .iter()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    }

    /// Sends a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`) or a count
    /// (`Threads`).
    pub fn proc_status(&self, field: &str) -> Option<u64> {
        proc_status(self.pid(), field)
    }

    /// Open file descriptors (sockets included).
    pub fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .ok()
            .map(|d| d.count())
    }
}

/// A field of `/proc/PID/status`, as a number (kB for memory fields).
pub fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
