#!/usr/bin/env bash
# The main job on the embedded default.  Until the recipes land, it runs the
# method benchmark on a small offline upstream and writes exp/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p exp/bench
"$PY" -m adapters.bin.bench_methods --family hubert --size small --json exp/bench/bench_methods.json
echo "results: exp/bench/bench_methods.json"
