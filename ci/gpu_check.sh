#!/usr/bin/env bash
# The GPU check of issue 22, one script, rerun as is on a machine with a GPU (repo root, e.g.
# 1 GPU and 16 cores; run `make install` first when there is no .venv):
#   1. the method benchmark (bench_methods, HuBERT) at base and large size, each plain, with
#      --gradient_checkpointing (every layer, and every 2nd: the setting that meets issue 22's
#      targets on the CPU) and with --amp bf16: JSON and printed table per run under $OUT;
#   2. the `gpu` benchmark profile end to end (every method on every column, one GPU shared by
#      4 runs; sized for <= 30 min on one H100-class GPU) into $OUT/superb_gpu, with a timeout,
#      then its table ($OUT/superb_gpu/superb.md);
#   3. the wall time of every step ($OUT/walltimes.txt).
#   bash ci/gpu_check.sh               # everything
#   bash ci/gpu_check.sh --bench_only  # step 1 only
#   bash ci/gpu_check.sh --dry_run     # (or GPU_CHECK_DRY=1) print the commands, run nothing
# Environment: OUT (default exp/gpu_check), FAMILY (hubert), REPEAT (10, bench_methods'),
# PROFILE_TIMEOUT (2400 s: the profile's target is 1800).  Exit status: 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-exp/gpu_check}
FAMILY=${FAMILY:-hubert}
REPEAT=${REPEAT:-10}
PROFILE_TIMEOUT=${PROFILE_TIMEOUT:-2400}
DRY=${GPU_CHECK_DRY:-0}
BENCH_ONLY=0
for a in "$@"; do
  case "$a" in
    --dry_run) DRY=1 ;;
    --bench_only) BENCH_ONLY=1 ;;
    *) echo "usage: bash ci/gpu_check.sh [--dry_run] [--bench_only]" >&2; exit 2 ;;
  esac
done
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
failed=0

# step NAME LOG CMD...: CMD with its output shown and kept in LOG, its wall time recorded
step() {
  local name=$1 log=$2 start rc; shift 2
  echo "+ $(printf '%q ' "$@")"
  [ "$DRY" = 1 ] && return 0
  start=$(date +%s)
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  printf '%-28s %6d s  exit %d\n' "$name" "$(( $(date +%s) - start ))" "$rc" | tee -a "$OUT/walltimes.txt"
  [ "$rc" -eq 0 ] || failed=1
}

if [ "$DRY" != 1 ]; then
  mkdir -p "$OUT"
  : > "$OUT/walltimes.txt"
  "$PY" -c 'import torch, sys
ok = torch.cuda.is_available()
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}: " + (", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if ok else "no GPU"))
sys.exit(0 if ok else 1)' || { echo "ERROR: torch.cuda is not available: this check needs a GPU (nothing was run)" >&2; exit 1; }
  git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' | tee "$OUT/commit.txt"
fi

for size in base large; do
  for variant in plain checkpointing checkpointing_every2 bf16; do
    case $variant in
      plain) opt=() ;;
      checkpointing) opt=(--gradient_checkpointing) ;;
      checkpointing_every2) opt=(--gradient_checkpointing --checkpoint_every 2) ;;
      bf16) opt=(--amp bf16) ;;
    esac
    name=bench_${FAMILY}_${size}_${variant}
    step "$name" "$OUT/$name.txt" "$PY" -m adapters.bin.bench_methods --family "$FAMILY" --size "$size" \
      --device cuda --repeat "$REPEAT" "${opt[@]}" --json "$OUT/$name.json"
  done
done

if [ "$BENCH_ONLY" != 1 ]; then
  # resumable: a second run continues where this one stopped (state in $OUT/superb_gpu); the table
  # comes after it (also after the timeout), with the base-size method benchmark
  step profile_gpu "$OUT/profile_gpu.log" timeout "$PROFILE_TIMEOUT" "$PY" -m adapters.bin.benchmark \
    --profile gpu --out "$OUT/superb_gpu" --no_collect
  step profile_gpu_table "$OUT/profile_gpu_table.log" "$PY" -m adapters.bin.benchmark \
    --profile gpu --out "$OUT/superb_gpu" --collect_only --bench "$OUT/bench_${FAMILY}_base_plain.json"
fi

if [ "$DRY" != 1 ]; then
  echo "== wall times ($OUT/walltimes.txt)"; cat "$OUT/walltimes.txt"
  [ "$BENCH_ONLY" = 1 ] || echo "== the table: $OUT/superb_gpu/superb.md; the runs: $OUT/superb_gpu/state.json"
fi
exit "$failed"
