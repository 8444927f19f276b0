#!/usr/bin/env python3
"""Produce inference/testdata/smollm2_reference_logprobs.json: next-token log-probabilities of
SmolLM2-135M-Instruct Q4_1 from an independent NumPy forward pass.

The weights are dequantized to f32 with the `gguf` package and run through a plain Llama
forward (RMSNorm, interleaved RoPE as llama.cpp's GGUF layout expects, grouped-query
attention, SwiGLU, tied output embedding). candle (like llama.cpp) also quantizes activations
to 8 bits inside its quantized matmuls, so its log-probabilities differ from these by a few
tenths of a nat; the Rust test allows for that.

Usage (same venv as make_tokenizer_fixture.py, plus numpy):
    /tmp/tokvenv/bin/python inference/tools/reference_logprobs.py MODEL.gguf \
        inference/testdata/smollm2_reference_logprobs.json
"""

import json
import os
import sys

import gguf
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixture import PureBpe  # noqa: E402

PROMPTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    ",
]


class Model:
    def __init__(self, path):
        self.r = gguf.GGUFReader(path)
        self.t = {t.name: t for t in self.r.tensors}
        f = self.r.fields
        c = lambda k: f[k].contents()
        self.n_layer = c("llama.block_count")
        self.n_head = c("llama.attention.head_count")
        self.n_kv = c("llama.attention.head_count_kv")
        self.dim = c("llama.embedding_length")
        self.hd = self.dim // self.n_head
        self.eps = c("llama.attention.layer_norm_rms_epsilon")
        self.base = c("llama.rope.freq_base")
        self.cache = {}

    def w(self, name):
        if name not in self.cache:
            t = self.t[name]
            a = gguf.quants.dequantize(t.data, t.tensor_type)
            shape = [int(x) for x in reversed(t.shape)]
            self.cache[name] = np.asarray(a, dtype=np.float32).reshape(shape)
        return self.cache[name]

    def logits(self, ids):
        hd, L = self.hd, len(ids)
        x = self.w("token_embd.weight")[ids]
        inv = 1.0 / self.base ** (np.arange(0, hd, 2) / hd)
        ang = np.arange(L)[:, None] * inv[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

        def rope(q):
            q2 = q.reshape(L, q.shape[1], hd // 2, 2)
            a, b = q2[..., 0], q2[..., 1]
            return np.stack([a * cos - b * sin, a * sin + b * cos], -1).reshape(q.shape)

        def rms(x, w):
            return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

        mask = np.triu(np.full((L, L), -np.inf), 1)
        rep = self.n_head // self.n_kv
        for l in range(self.n_layer):
            p = f"blk.{l}."
            h = rms(x, self.w(p + "attn_norm.weight"))
            q = rope((h @ self.w(p + "attn_q.weight").T).reshape(L, self.n_head, hd))
            k = rope((h @ self.w(p + "attn_k.weight").T).reshape(L, self.n_kv, hd))
            v = (h @ self.w(p + "attn_v.weight").T).reshape(L, self.n_kv, hd)
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            o = np.einsum("hqk,khd->qhd", att, v).reshape(L, self.dim)
            x = x + o @ self.w(p + "attn_output.weight").T
            h = rms(x, self.w(p + "ffn_norm.weight"))
            g = h @ self.w(p + "ffn_gate.weight").T
            u = h @ self.w(p + "ffn_up.weight").T
            x = x + ((g / (1 + np.exp(-g))) * u) @ self.w(p + "ffn_down.weight").T
        x = rms(x, self.w("output_norm.weight"))
        out = self.w("output.weight") if "output.weight" in self.t else self.w("token_embd.weight")
        return (x[-1] @ out.T).astype(np.float64)


def main():
    path, out = sys.argv[1], sys.argv[2]
    model = Model(path)
    f = model.r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    bpe = PureBpe(tokens, f["tokenizer.ggml.merges"].contents(), [t for t, ty in zip(tokens, types) if ty == 3])
    cases = []
    for prompt in PROMPTS:
        ids = bpe.encode(prompt)
        logits = model.logits(ids)
        m = logits.max()
        lp = logits - (m + np.log(np.exp(logits - m).sum()))
        entropy = float(-(np.exp(lp) * lp).sum())
        top = np.argsort(-logits)[:10]
        cases.append({
            "prompt": prompt,
            "ids": ids,
            "entropy": entropy,
            "top": [[int(i), float(lp[i])] for i in top],
        })
        print(repr(prompt[-30:]), len(ids), "entropy", round(entropy, 3), cases[-1]["top"][:3])
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"model": os.path.basename(path), "cases": cases}, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
