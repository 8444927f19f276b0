#!/bin/sh
# Palisade's engine (each --cpu-repack) and llama.cpp on the same GGUF and prompt tokens,
# alternating, 2 threads, greedy. Needs llama-cpp-python in $LLAMACPP_PYTHON's environment:
#   python3 -m venv /tmp/venv-llamacpp
#   CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" /tmp/venv-llamacpp/bin/pip install llama-cpp-python==0.3.36
#   LLAMACPP_PYTHON=/tmp/venv-llamacpp/bin/python sh tools/inference/side_by_side.sh
set -eu
MODEL=${MODEL:-${PALISADE_HOME:-$HOME/.cache/palisade}/assets/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
PYTHON=${LLAMACPP_PYTHON:-python3}
TOKENS=${TOKENS:-64}
ROUNDS=${ROUNDS:-3}
PROMPT_FILE=$(mktemp)
trap 'rm -f "$PROMPT_FILE"' EXIT
# The 28-token chat prompt of inference/examples/bench.rs, rendered with SmolLM2's template.
printf '<|im_start|>system\nYou are a storyteller.<|im_end|>\n<|im_start|>user\nWrite a long story about a dragon.<|im_end|>\n<|im_start|>assistant\n' > "$PROMPT_FILE"
cargo build --quiet -p palisade-inference --example bench
BENCH=${CARGO_TARGET_DIR:-target}/debug/examples/bench
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    i=$((i + 1))
    for repack in off q8_0 q4_0; do
        printf 'palisade --cpu-repack %s round %s: ' "$repack" "$i"
        "$BENCH" "$MODEL" --prompt-file "$PROMPT_FILE" --threads 2 --max-tokens "$TOKENS" \
            --cpu-repack "$repack" 2>&1 >/dev/null | grep 'time to first token'
    done
    "$PYTHON" "$(dirname "$0")/llamacpp_bench.py" "$MODEL" "$PROMPT_FILE" --threads 2 \
        --max-tokens "$TOKENS" --rounds 1 | head -1
done
