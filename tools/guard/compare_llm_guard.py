#!/usr/bin/env python3
"""Side by side: LLM Guard's Regex, BanSubstrings and Secrets scanners and the
equivalent Palisade policy, on the same prompts, one thread each.

Setup (once; llm-guard pulls the CUDA build of torch, ~6 GB, and runs on CPU):
    python3 -m venv /work/venv-llmguard
    /work/venv-llmguard/bin/pip install llm-guard==0.3.16
Run (from the repository root):
    /work/venv-llmguard/bin/python tools/guard/compare_llm_guard.py

It builds 2,000 prompts of 0.2-8 KB from testdata/guard/corpus.jsonl (seeded,
so both sides see the same bytes), times every LLM Guard scanner per prompt,
runs `cargo run --release -p palisade-guard --example compare_prompts` on the
same file with tools/guard/llm_guard_equivalent.yaml, and prints p50, p99 and
throughput for both, with the ratio.
"""

import argparse
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The seven PII patterns given to LLM Guard's Regex scanner.
PII_PATTERNS = [
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",  # e-mail
    r"\+?\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}",  # phone
    r"\b(?:\d[ -]?){13,19}\b",  # credit card
    r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}\s?[A-Z0-9]{1,4}\b",  # IBAN
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b",  # IPv4
    r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b",  # IPv6 (full form)
    r"\b\d{3}-\d{2}-\d{4}\b",  # US SSN
]


def build_prompts(corpus_path, count, seed):
    texts = []
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
    rng = random.Random(seed)
    rng.shuffle(texts)
    prompts, i = [], 0
    for n in range(count):
        size = int(math.exp(rng.uniform(math.log(200), math.log(8192))))
        parts, length = [], 0
        while length < size:
            t = texts[i % len(texts)]
            i += 1
            parts.append(t)
            length += len(t.encode("utf-8")) + 1
        prompts.append({"id": n, "text": " ".join(parts)})
    return prompts


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def summary(name, seconds, total_bytes):
    return {
        "name": name,
        "p50_ms": percentile(seconds, 50) * 1e3,
        "p99_ms": percentile(seconds, 99) * 1e3,
        "mb_per_s": total_bytes / sum(seconds) / 1e6,
    }


def run_llm_guard(prompts, words):
    logging.disable(logging.CRITICAL)
    try:
        from llm_guard.util import configure_logger

        configure_logger(log_level="ERROR")
    except Exception:  # older or newer llm-guard: logging is disabled above anyway
        pass
    from llm_guard.input_scanners import BanSubstrings, Regex, Secrets

    scanners = [
        ("Regex", Regex(patterns=PII_PATTERNS, is_blocked=True, match_type="search", redact=False)),
        ("BanSubstrings", BanSubstrings(substrings=words, match_type="word", case_sensitive=False, redact=False)),
        ("Secrets", Secrets(redact_mode="all")),
    ]
    per = {name: [] for name, _ in scanners}
    total = []
    for p in prompts:
        t_all = 0.0
        for name, scanner in scanners:
            t0 = time.perf_counter()
            scanner.scan(p["text"])
            dt = time.perf_counter() - t0
            per[name].append(dt)
            t_all += dt
        total.append(t_all)
    size = sum(len(p["text"].encode("utf-8")) for p in prompts)
    rows = [summary(f"LLM Guard {name}", per[name], size) for name, _ in scanners]
    rows.append(summary("LLM Guard Regex + BanSubstrings + Secrets", total, size))
    return rows


def run_palisade(prompts_path):
    cmd = [
        "cargo", "run", "--release", "-q", "-p", "palisade-guard", "--example", "compare_prompts", "--",
        prompts_path, os.path.join(HERE, "llm_guard_equivalent.yaml"),
    ]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="/tmp/palisade-compare-prompts.jsonl")
    ap.add_argument("--skip-palisade", action="store_true")
    args = ap.parse_args()

    prompts = build_prompts(os.path.join(ROOT, "testdata/guard/corpus.jsonl"), args.prompts, args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for p in prompts:
            f.write(json.dumps(p) + "\n")
    sizes = [len(p["text"].encode("utf-8")) for p in prompts]
    print(f"{len(prompts)} prompts, {min(sizes)}-{max(sizes)} bytes, median {statistics.median(sizes):.0f}")
    with open(os.path.join(HERE, "banned_words.txt"), encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip() and not w.startswith("#")]

    rows = run_llm_guard(prompts, words)
    if not args.skip_palisade:
        ours = run_palisade(args.out)
        rows.append({"name": "Palisade (pii + keywords + secrets)", **ours})
    print(f"{'engine':48} {'p50 ms':>9} {'p99 ms':>9} {'MB/s':>9}")
    for r in rows:
        print(f"{r['name']:48} {r['p50_ms']:9.4f} {r['p99_ms']:9.4f} {r['mb_per_s']:9.3f}")
    if not args.skip_palisade:
        theirs, ours = rows[-2], rows[-1]
        print(
            f"ratio (LLM Guard / Palisade): p50 {theirs['p50_ms'] / ours['p50_ms']:.0f}x, "
            f"p99 {theirs['p99_ms'] / ours['p99_ms']:.0f}x, "
            f"throughput {ours['mb_per_s'] / theirs['mb_per_s']:.0f}x"
        )


if __name__ == "__main__":
    sys.exit(main())
