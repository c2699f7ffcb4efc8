#!/usr/bin/env bash
# The main job: the SUPERB benchmark on the embedded defaults (every recipe of the
# profile, every method its own run, resumable; see adapters/bin/benchmark.py), then
# the method benchmark on a small offline upstream, then one table with both.
#   bash ci/demo.sh                      # the full profile -> superb/superb.md
#   bash ci/demo.sh --profile quick      # smaller data and epochs -> superb_quick/superb.md
#   bash ci/demo.sh --only iemocap/er1 --jobs 2
# Exit status: 0 when every run is done, 1 otherwise (the report is written all the same).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(pwd)/.venv/bin/python}

case " $* " in  # only look: no runs, no method benchmark
  *" --dry_run "*|*" -h "*|*" --help "*|*" --collect_only "*) exec "$PY" -m adapters.bin.benchmark "$@" ;;
esac

# the method benchmark's upstream: small (3.2 M parameters), tiny for the quick profile
BENCH_SIZE=small
case " $* " in *" --profile quick "*|*" --profile=quick "*) BENCH_SIZE=tiny ;; esac
BENCH_JSON=exp/bench/bench_methods_$BENCH_SIZE.json

status=0
"$PY" -m adapters.bin.benchmark --no_collect "$@" || status=$?
# 2: the plan is inconsistent (nothing ran; the problems are printed); more: interrupted,
# the state is saved, run again to resume
[ "$status" -le 1 ] || exit "$status"
mkdir -p "$(dirname "$BENCH_JSON")"
"$PY" -m adapters.bin.bench_methods --family hubert --size "$BENCH_SIZE" --json "$BENCH_JSON" \
  || { echo "warning: the method benchmark failed; the report goes without it" >&2; status=1; }
"$PY" -m adapters.bin.benchmark --collect_only --bench "$BENCH_JSON" "$@" || status=1
exit "$status"
