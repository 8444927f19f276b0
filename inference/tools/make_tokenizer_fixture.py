#!/usr/bin/env python3
"""Produce inference/testdata/smollm2_tokenizer.jsonl: reference token ids for SmolLM2.

Two implementations that share no code with palisade-inference must agree on every line:

1. Hugging Face transformers' own GGUF tokenizer conversion
   (`transformers.integrations.gguf.gguf_tokenizer_mapping.convert_gguf_tokenizer`), fed the
   `tokenizer.*` metadata read with the `gguf` package. transformers has no split regex for
   `tokenizer.ggml.pre = "smollm"`, so we set the one llama.cpp uses for it (the StarCoder
   family: isolate every digit, then the GPT-2 regex), which is also what SmolLM2's original
   tokenizer.json does (`Digits(individual_digits)` + `ByteLevel`).
2. A from-scratch pure-Python byte-level BPE (the algorithm of OpenAI's GPT-2 encoder.py) over
   the same vocabulary and merge list, with llama.cpp's two smollm regexes and special tokens
   matched whole before splitting.

Usage (needs no torch, no network besides PyPI for the install):
    python3 -m venv /tmp/tokvenv
    /tmp/tokvenv/bin/pip install transformers gguf tokenizers regex
    /tmp/tokvenv/bin/python inference/tools/make_tokenizer_fixture.py \
        ~/.cache/palisade/assets/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
        inference/testdata/smollm2_tokenizer.jsonl

Versions used for the committed fixture: transformers 5.24.0, gguf 0.19.0, tokenizers 0.23.3.
"""

import json
import sys

import gguf
import regex
from tokenizers import pre_tokenizers
from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer

# llama.cpp, llama-vocab.cpp, LLAMA_VOCAB_PRE_TYPE_SMOLLM (shared with STARCODER, REFACT, ...).
SMOLLM_REGEXES = [
    r"\p{N}",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
]

TEXTS = [
    "Hello, world!",
    "What is the capital of France?",
    "The capital of France is Paris.",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n",
    "<|endoftext|>",
    "a<|im_end|>b<|im_start|>c",
    "<|im_start|><|im_start|>",
    "<|im_start",
    "Numbers: 12345 and 3.14159, year 2024, x  12, -7e10",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber Stra\u00dfe",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u4e2d\u6587\u6587\u672c",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd",
    "Emoji: \U0001F600\U0001F680 \U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 \u2764\ufe0f",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\t\ttabs",
    "multiple\n\nnewlines\n\n\n\nhere",
    "mixed \t \n  whitespace \r\n runs",
    "     ",
    "\n",
    "",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    'fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!("{v:?}");\n}\n',
    "<div class=\"x\">&amp; <b>bold</b></div>",
    "SELECT * FROM users WHERE id = 42;",
    "I'm sure you've seen they'll say it's 'quoted' \"double\"",
    "URL: https://example.com/path?q=1&r=two#frag",
    "email me at someone@example.org!!!",
    "\u2014 em dash \u2013 en dash \u2026 ellipsis \u00ab guillemets \u00bb",
    "\u00a0non-breaking\u00a0space and zero\u200bwidth",
    "MiXeD CaSe WoRdS and ALLCAPS",
    "palisade fetch --model smollm2-135m-instruct",
    "a" * 40,
    "\U0001F600" * 5,
    "\u0301combining accent alone",
    "1+1=2; 10/3\u22483.333",
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class PureBpe:
    """Independent byte-level BPE, written from the GPT-2 algorithm."""

    def __init__(self, tokens, merges, special):
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
        self.byte_enc = bytes_to_unicode()
        self.special = sorted(special, key=len, reverse=True)
        self.regexes = [regex.compile(r) for r in SMOLLM_REGEXES]

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            pairs = [p for p in pairs if p[0] is not None]
            if not pairs:
                break
            _, i = min(pairs)
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        return [self.vocab[p] for p in parts]

    def split(self, pieces, rx):
        out = []
        for piece in pieces:
            pos = 0
            for m in rx.finditer(piece):
                if m.start() > pos:
                    out.append(piece[pos:m.start()])
                out.append(m.group(0))
                pos = m.end()
            if pos < len(piece):
                out.append(piece[pos:])
        return out

    def encode(self, text):
        ids = []
        # special tokens are matched whole, leftmost-longest, before any splitting
        rx = regex.compile("|".join(regex.escape(s) for s in self.special))
        pos = 0
        chunks = []
        for m in rx.finditer(text):
            chunks.append((text[pos:m.start()], False))
            chunks.append((m.group(0), True))
            pos = m.end()
        chunks.append((text[pos:], False))
        for chunk, is_special in chunks:
            if is_special:
                ids.append(self.vocab[chunk])
                continue
            if not chunk:
                continue
            pieces = [chunk]
            for r in self.regexes:
                pieces = self.split(pieces, r)
            for p in pieces:
                ids.extend(self.bpe("".join(self.byte_enc[b] for b in p.encode("utf-8"))))
        return ids


def main():
    path, out = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(path)
    md = lambda k: r.fields[k].contents() if k in r.fields else None
    d = {
        "tokenizer_type": md("tokenizer.ggml.model"),
        "pre_tokenizer_type": md("tokenizer.ggml.pre"),
        "tokens": md("tokenizer.ggml.tokens"),
        "token_type": md("tokenizer.ggml.token_type"),
        "merges": md("tokenizer.ggml.merges"),
        "bos_token_id": md("tokenizer.ggml.bos_token_id"),
        "eos_token_id": md("tokenizer.ggml.eos_token_id"),
        "unk_token_id": md("tokenizer.ggml.unknown_token_id"),
        "pad_token_id": md("tokenizer.ggml.padding_token_id"),
        "add_prefix_space": md("tokenizer.ggml.add_space_prefix"),
    }
    assert d["tokenizer_type"] == "gpt2" and d["pre_tokenizer_type"] == "smollm", d["pre_tokenizer_type"]
    hf, _ = convert_gguf_tokenizer(md("general.architecture"), d)
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    special = [t for t, ty in zip(d["tokens"], d["token_type"]) if ty == 3]
    pure = PureBpe(d["tokens"], d["merges"], special)
    with open(out, "w", encoding="utf-8") as f:
        for text in TEXTS:
            a = hf.encode(text, add_special_tokens=False).ids
            b = pure.encode(text)
            if a != b:
                sys.exit(f"implementations disagree on {text!r}:\n transformers {a}\n pure-python  {b}")
            f.write(json.dumps({"text": text, "ids": a}, ensure_ascii=False) + "\n")
    print(f"wrote {len(TEXTS)} lines to {out}; both implementations agree")


if __name__ == "__main__":
    main()
