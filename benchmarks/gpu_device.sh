#!/usr/bin/env bash
# The GPU benchmark on a lent GPU machine (the sessions' device tool), prepared so that one call
# does it all. That machine has Python 3.12 with torch, transformers, tokenizers, safetensors,
# numpy and pandas, but not pydantic and pydantic-settings (finsentry's settings) nor the 88 MB
# backbone package, and it cannot download anything; the working tree it receives (the model
# directory alone is 54 MB) leaves room for a few wheels only.
#
#   here:   bash benchmarks/gpu_device.sh wheels     # the missing wheels, into .whl/ (ignored)
#   there:  device run, carry [".whl"], timeout_s 480:
#           bash benchmarks/gpu_device.sh run        # writes gpu_scoring.json and logs to $OUT
#
# The default model is built without its backbone package (gpu_scoring.py --backbone-from-config:
# word embeddings at init, the same work per text; tests/unit/test_gpu_scoring.py checks that it
# is the default model otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

# versions as the project's own environment resolved them (pydantic-core must match pydantic)
WHEELS=(
    "pydantic==2.14.4" "pydantic-core==2.50.5" "pydantic-settings==2.16.3"
    "annotated-types==0.8.0" "typing-inspection==0.4.5" "python-dotenv==1.2.4"
    "typing-extensions==4.16.0"
)

case "${1:-}" in
wheels)
    rm -rf .whl && mkdir -p .whl
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
    ls -l .whl
    du -sh .whl
    ;;
run)
    out="${OUT:-/tmp/gpu-out}"
    mkdir -p "$out"
    python3 -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD/src" PYTHONUNBUFFERED=1
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
    python3 benchmarks/gpu_scoring.py --dry-run --backbone-from-config >"$out/dry-run.log" 2>&1
    timeout 420 python3 benchmarks/gpu_scoring.py --backbone-from-config \
        --json "$out/gpu_scoring.json" 2>&1 | tee "$out/gpu_scoring.log"
    ;;
*)
    echo "usage: bash benchmarks/gpu_device.sh wheels|run" >&2
    exit 2
    ;;
esac
