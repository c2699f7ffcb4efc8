#!/usr/bin/env bash
# The main job on the embedded default: the LibriSpeech recipe (synthesize, prepare,
# train the default methods with CTC, decode, score, compare), then the method
# benchmark on a small offline upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(pwd)/.venv/bin/python}
PYTHON=$PY egs/librispeech/asr1/run.sh
mkdir -p exp/bench
"$PY" -m adapters.bin.bench_methods --family hubert --size small --json exp/bench/bench_methods.json
echo "results: egs/librispeech/asr1/exp/asr_*/RESULTS.md, exp/bench/bench_methods.json"
