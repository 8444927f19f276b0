//! Speed of the guard with the shipped default policy (no classifier).
//!
//! Targets (issue): p50 <= 20 µs on a 1 KB prompt, <= 100 µs on 8 KB; >= 200 MB/s single-core on
//! mixed text; streaming <= 2 µs per token.
//!
//! `cargo bench -p palisade-guard --bench guard`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use palisade_guard::{Direction, Guard, Policy};

mod texts;

use texts::{mixed, non_latin};

fn default_guard() -> Guard {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/default.yaml");
    Guard::new(Policy::from_file(&path).expect("default policy")).expect("guard")
}

fn check(c: &mut Criterion) {
    let guard = default_guard();
    let mut group = c.benchmark_group("check_default");
    for (name, len) in [("1KB", 1024), ("8KB", 8192)] {
        let text = mixed(len);
        for direction in [Direction::Input, Direction::Output] {
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(BenchmarkId::new(direction.as_str(), name), &text, |b, t| {
                b.iter(|| black_box(guard.check(direction, black_box(t))))
            });
        }
    }
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let guard = default_guard();
    let text = mixed(256 * 1024);
    let mut group = c.benchmark_group("throughput_default");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("input_256KB", |b| {
        b.iter(|| black_box(guard.check(Direction::Input, black_box(&text))))
    });
    let non_latin = non_latin(256 * 1024);
    group.throughput(Throughput::Bytes(non_latin.len() as u64));
    group.bench_function("input_256KB_non_latin", |b| {
        b.iter(|| black_box(guard.check(Direction::Input, black_box(&non_latin))))
    });
    group.finish();
}

fn stream(c: &mut Criterion) {
    let guard = default_guard();
    let text = mixed(4096);
    // Model tokens are ~4 bytes of text.
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let mut end = (pos + 4).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        tokens.push(&text[pos..end]);
        pos = end;
    }
    let mut group = c.benchmark_group("stream_default");
    group.throughput(Throughput::Elements(tokens.len() as u64));
    // As the chat pipeline runs it: measuring every detector's time and failures.
    for (name, measured) in [("per_token_4KB", false), ("per_token_4KB_measured", true)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut s = guard.output_stream(None);
                if measured {
                    s = s.measured();
                }
                let mut released = 0;
                for t in &tokens {
                    released += s.push(t).text.len();
                }
                released += s.finish().text.len();
                black_box(released)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, check, throughput, stream);
criterion_main!(benches);
