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

const PROSE: &[&str] = &[
    "Could you help me plan a three-day trip to Lisbon in late spring? ",
    "I would like to see the old town, eat good seafood and maybe take a day trip to Sintra. ",
    "My budget is around 900 euros without flights, and I prefer small family-run hotels. ",
    "Last time the booking on order 58213-B went wrong, so please double-check the dates. ",
    "Here is the function that fails: fn parse(input: &str) -> Result<u32, Error> { input.trim().parse() } ",
    "The logs show 2024-05-01T10:22:33Z status=500 latency=231ms path=/api/v2/items?id=77. ",
    "Version 3.14.2 fixed the crash, but build 10.0.19045 still shows the warning. ",
    "Thanks a lot, and sorry for the long message! ",
    "If it matters, you can reach me at maria.silva@example.org or +351 912 345 678. ",
    "Résumé: café, naïve façade — «quotes» and emoji 🙂 are part of normal text too. ",
];

/// Text in scripts without case and with emoji, where every character takes the normaliser's
/// non-ASCII path.
const NON_LATIN: &[&str] = &[
    "请帮我计划一次去里斯本的三日游，预算大约九百欧元。🙂 ",
    "日本語のテキストも普通に使われます。よろしくお願いします！🎉👍 ",
    "Привет! Можно ли забронировать номер на двоих? ",
    "मुझे लिस्बन में एक छोटा होटल चाहिए। ",
];

fn mixed(len: usize) -> String {
    repeat_to(PROSE, len)
}

/// `pieces` repeated in turn, cut to at most `len` bytes on a character boundary.
fn repeat_to(pieces: &[&str], len: usize) -> String {
    let mut s = String::with_capacity(len + 128);
    let mut i = 0;
    while s.len() < len {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

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
    let non_latin = repeat_to(NON_LATIN, 256 * 1024);
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
