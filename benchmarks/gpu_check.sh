#!/usr/bin/env bash
# GPU check (issue 13): simulator, native vector env and torch PPO on one CUDA device, in
# at most 8 minutes; writes benchmarks/results/gpu.md. Exit 2 with one line without CUDA.
#   bash benchmarks/gpu_check.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py "$@"
