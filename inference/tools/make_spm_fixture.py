#!/usr/bin/env python3
"""Produce inference/testdata/phi3_spm_tokenizer.jsonl: reference token ids for the Phi-3
SentencePiece vocabulary (inference/testdata/ggml-vocab-phi-3.gguf, llama.cpp's vocab-only test
file, MIT; from the llama-cpp-python 0.3.36 sdist, vendor/llama.cpp/models/).

The ids come from Google's `sentencepiece` (the C++ library the vocabulary was made for): the
script builds a BPE `ModelProto` from the GGUF's pieces, scores and token types (identity
normalizer, dummy-prefix on, whitespace kept, byte fallback on: Llama 2's settings) and encodes
every text with it. The texts: llama.cpp's own tokenizer test inputs
(ggml-vocab-phi-3.gguf.inp, whose .out ids were made with Hugging Face's tokenizer; the script
checks sentencepiece agrees with them), and a few hundred generated sentences (words, numbers,
punctuation, whitespace runs, accents, CJK, Cyrillic, emoji, code).

Usage (no network besides PyPI for the install):
    python3 -m venv /tmp/spmvenv
    /tmp/spmvenv/bin/pip install sentencepiece protobuf gguf numpy
    /tmp/spmvenv/bin/python inference/tools/make_spm_fixture.py \
        inference/testdata/ggml-vocab-phi-3.gguf inference/testdata/phi3_spm_tokenizer.jsonl

Versions used for the committed fixture: sentencepiece 0.2.3, protobuf 7.36.2, gguf 0.19.0.
Result: 446 lines; sentencepiece agrees with all 46 ids lines of the .out file.
"""

import json
import random
import sys

import gguf
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

# sentencepiece piece types.
NORMAL, UNKNOWN, CONTROL, UNUSED, BYTE = 1, 2, 3, 5, 6


def piece_type(token_id, unk_id, kind):
    """The sentencepiece type of a GGUF piece. llama.cpp's export marks `<unk>` as control, the
    padding pieces as unknown and `</s>` as user-defined; sentencepiece wants exactly one
    unknown piece and never matches control or unused pieces inside text."""
    if token_id == unk_id:
        return UNKNOWN
    if kind in (NORMAL, BYTE):
        return kind
    return UNUSED if kind == UNKNOWN else CONTROL


def field(reader, key):
    f = reader.fields[key]
    return [f.parts[i] for i in f.data]


def load_vocab(path):
    reader = gguf.GGUFReader(path)
    tokens = [bytes(p).decode("utf-8") for p in field(reader, "tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in field(reader, "tokenizer.ggml.scores")]
    types = [int(p[0]) for p in field(reader, "tokenizer.ggml.token_type")]
    return tokens, scores, types


def processor(tokens, scores, types):
    m = model_pb2.ModelProto()
    m.trainer_spec.model_type = model_pb2.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = tokens.index("<unk>")
    m.trainer_spec.bos_id = tokens.index("<s>")
    m.trainer_spec.eos_id = tokens.index("</s>")
    m.trainer_spec.pad_id = -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    for token_id, (token, score, kind) in enumerate(zip(tokens, scores, types)):
        piece = m.pieces.add()
        piece.piece = token
        piece.score = score
        piece.type = piece_type(token_id, m.trainer_spec.unk_id, kind)
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    return sp


WORDS = (
    "the of and to in is that for it as was with be by on not he I this are or his from at "
    "which but have an they you were her she there been one all we their has would when if "
    "so no what up out who them some could time only other new people into year your just "
    "capital France Paris model token language inference policy guard stream Hello World"
).split()
EXTRA = [
    "caf\u00e9", "na\u00efve", "r\u00e9sum\u00e9", "\u00fcber", "Stra\u00dfe", "\u00c4pfel",
    "\u65e5\u672c\u8a9e", "\u4e2d\u6587", "\u041f\u0440\u0438\u0432\u0435\u0442",
    "\u043c\u0438\u0440", "\U0001F600", "\U0001F999", "\U0001F44D\U0001F3FD", "\u2764\ufe0f",
    "fn main() {}", "x += 1;", "<div>", "C++", "e-mail", "3.14159", "2024-05-01", "$1,000",
    "100%", "it's", "don't", "\u00a0", "\u2581", "<0x41>", "[PAD32011]",
]
# Not "<unk>", "<s>" or the chat markers: sentencepiece has no added tokens, while llama.cpp and
# Hugging Face match them in text (tests/tokenizer_spm.rs checks that separately).
SEPARATORS = [" ", " ", " ", " ", "  ", "\t", "\n", ", ", ". ", "! ", "? ", "   ", "\n\n"]


def sentences(n, seed=5):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 14)):
            pool = EXTRA if rng.random() < 0.2 else WORDS
            word = rng.choice(pool)
            if rng.random() < 0.15:
                word = word.upper()
            elif rng.random() < 0.2:
                word = word.capitalize()
            if rng.random() < 0.1:
                word += str(rng.randint(0, 99999))
            parts.append(word)
            parts.append(rng.choice(SEPARATORS))
        text = "".join(parts)
        if rng.random() < 0.5:
            text = text.rstrip()
        if rng.random() < 0.1:
            text = " " + text
        out.append(text)
    return out


def main(gguf_path, out_path):
    tokens, scores, types = load_vocab(gguf_path)
    sp = processor(tokens, scores, types)
    with open(gguf_path + ".inp", encoding="utf-8") as f:
        # Every text is followed by the separator.
        llama_texts = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(gguf_path + ".out", encoding="utf-8") as f:
        llama_ids = [[int(t) for t in line.split()] for line in f.read().split("\n")[:-1]]
    assert len(llama_texts) == len(llama_ids), (len(llama_texts), len(llama_ids))
    lines, disagreements = [], 0
    for text, expected in zip(llama_texts, llama_ids):
        ids = sp.encode(text) if text else []
        if ids != expected:
            disagreements += 1
            print(f"sentencepiece and llama.cpp's .out differ on {text!r}", file=sys.stderr)
        lines.append({"text": text, "ids": ids})
    for text in sentences(400):
        lines.append({"text": text, "ids": sp.encode(text)})
    with open(out_path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(lines)} lines, {disagreements} disagreements with the .out file", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
