//! A bounded on-disk spool of encoded OTLP metric requests, kept for devices
//! that are offline, across restarts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::health::Health;

const EXT: &str = "pb";

/// The spool directory and its size cap.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// With cumulative temporality a newer batch supersedes this process's
    /// older ones, so only the latest is kept.
    latest_only: bool,
    written: Mutex<Vec<PathBuf>>,
    seq: AtomicU64,
    health: Arc<Health>,
}

/// One spooled batch.
#[derive(Debug)]
pub(crate) struct Spooled {
    pub(crate) path: PathBuf,
    pub(crate) bytes: Vec<u8>,
}

impl Spool {
    /// Opens (creating) the spool at `dir`.
    pub(crate) fn open(
        dir: &Path,
        max_bytes: u64,
        latest_only: bool,
        health: Arc<Health>,
    ) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            latest_only,
            written: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            health,
        };
        spool.refresh_queued();
        Ok(spool)
    }

    /// Spooled batches, oldest first, with their sizes.
    fn list(&self) -> Vec<(PathBuf, u64)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<(PathBuf, u64)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == EXT))
            .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
            .collect();
        files.sort();
        files
    }

    fn refresh_queued(&self) {
        self.health
            .queued
            .store(self.list().len() as u64, Ordering::Relaxed);
    }

    /// Keeps `bytes`, evicting the oldest batches to stay under the cap.
    /// Returns whether it was kept.
    pub(crate) fn push(&self, bytes: &[u8]) -> bool {
        let len = bytes.len() as u64;
        let mut written = match self.written.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.latest_only {
            for old in written.drain(..) {
                let _ = fs::remove_file(old);
            }
        }
        if len > self.max_bytes {
            Health::add(&self.health.batches_dropped, 1);
            self.refresh_queued();
            return false;
        }
        let mut files = self.list();
        let mut total: u64 = files.iter().map(|(_, n)| n).sum();
        while total + len > self.max_bytes && !files.is_empty() {
            let (oldest, n) = files.remove(0);
            if fs::remove_file(&oldest).is_ok() {
                Health::add(&self.health.batches_dropped, 1);
            }
            total -= n;
        }
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let name = format!(
            "{millis:016}-{:010}-{:08}.{EXT}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(name);
        let kept = write_atomic(&path, bytes).is_ok();
        if kept {
            written.push(path);
            Health::add(&self.health.batches_spooled, 1);
        } else {
            Health::add(&self.health.batches_dropped, 1);
        }
        self.refresh_queued();
        kept
    }

    /// The oldest spooled batch, if any.
    pub(crate) fn oldest(&self) -> Option<Spooled> {
        self.list().into_iter().find_map(|(path, _)| {
            let bytes = fs::read(&path).ok()?;
            Some(Spooled { path, bytes })
        })
    }

    /// Removes a delivered batch.
    pub(crate) fn remove(&self, batch: &Spooled) {
        let _ = fs::remove_file(&batch.path);
        if let Ok(mut written) = self.written.lock() {
            written.retain(|p| *p != batch.path);
        }
        self.refresh_queued();
    }

    /// Batches waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list().len()
    }
}

/// Writes `bytes` to a temporary file, syncs it and renames it to `path`.
/// On any failure (a full disk, typically) the temporary file is removed:
/// names are unique per batch, so a leftover would never be reclaimed.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_to_stay_under_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let health = Arc::new(Health::default());
        let spool = Spool::open(dir.path(), 2500, false, health.clone()).expect("open");
        for i in 0..3u8 {
            assert!(spool.push(&[i; 1000]));
        }
        assert_eq!(spool.len(), 2);
        let snap = health.snapshot();
        assert_eq!(
            (snap.batches_dropped, snap.batches_spooled, snap.queued),
            (1, 3, 2)
        );
        let oldest = spool.oldest().expect("some");
        assert_eq!(oldest.bytes[0], 1, "batch 0 was evicted");
        spool.remove(&oldest);
        assert_eq!(spool.oldest().expect("some").bytes[0], 2);
        assert!(!spool.push(&[9; 3000]), "larger than the cap");
        assert_eq!(health.snapshot().batches_dropped, 2);
    }

    #[test]
    fn cumulative_keeps_only_this_process_latest_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let health = Arc::new(Health::default());
        std::fs::write(
            dir.path().join("0000000000000001-0000000001-00000000.pb"),
            b"old run",
        )
        .expect("write");
        let spool = Spool::open(dir.path(), 1 << 20, true, health.clone()).expect("open");
        assert_eq!(health.snapshot().queued, 1);
        spool.push(b"first");
        spool.push(b"second");
        assert_eq!(spool.len(), 2, "the previous run's batch and our latest");
        drop(spool);
        let reopened = Spool::open(dir.path(), 1 << 20, true, health).expect("open");
        assert_eq!(reopened.oldest().expect("some").bytes, b"old run");
    }
}
