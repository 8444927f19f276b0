#!/usr/bin/env python3
"""llama.cpp's time to first token and decode speed on a GGUF, the reference for
`inference/examples/bench.rs` (run both with tools/inference/side_by_side.sh).

    llamacpp_bench.py MODEL.gguf PROMPT_FILE [--threads N] [--max-tokens N] [--rounds N]

The prompt file holds the already rendered chat prompt (special tokens are parsed), so both
engines see the same tokens. Greedy decoding; prints one line per round and the median.
"""

import argparse
import statistics
import time

from llama_cpp import Llama


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("prompt_file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    prompt = open(args.prompt_file, encoding="utf-8").read()
    llm = Llama(
        model_path=args.model,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_ctx=2048,
        verbose=False,
    )
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    ttfts, rates = [], []
    for round_ in range(args.rounds):
        llm.reset()
        start = time.perf_counter()
        first = None
        n = 0
        for token in llm.generate(tokens, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            now = time.perf_counter()
            if first is None:
                first = now
            n += 1
            if n >= args.max_tokens or token == llm.token_eos():
                break
        last = time.perf_counter()
        ttft = (first - start) * 1e3
        rate = (n - 1) / (last - first) if n > 1 else 0.0
        ttfts.append(ttft)
        rates.append(rate)
        label = f"llama.cpp round {round_ + 1}" if args.rounds > 1 else "llama.cpp"
        print(f"{label}: prompt {len(tokens)} tokens, completion {n} tokens, "
              f"time to first token {ttft:.1f} ms, decode {rate:.1f} tok/s")
    print(f"llama.cpp median: time to first token {statistics.median(ttfts):.1f} ms, "
          f"decode {statistics.median(rates):.1f} tok/s")


if __name__ == "__main__":
    main()
