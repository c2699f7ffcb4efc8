#!/usr/bin/env bash
# Shell helpers shared by the staged pipelines (asr.sh, cls.sh, spk.sh); sourced, not run.

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0")) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# ensure_upstream CKPT FAMILY SIZE: build the local upstream checkpoint the configs name, when missing
ensure_upstream() {
  local ckpt=$1 family=$2 size=$3
  [ -n "$ckpt" ] || return 0
  [ -s "$ckpt" ] && return 0
  if [ "$size" = pretrained ]; then
    log "pretraining the offline upstream $ckpt (HuBERT iteration 1 on synthetic speech; resumable)"
    $python -m adapters.bin.pretrain_upstream --out "$ckpt"
  else
    log "building a randomly initialised upstream $ckpt ($family, $size)"
    $python -m adapters.bin.make_upstream --family "$family" --size "$size" --out "$ckpt"
  fi
}

# share_cores JOBS: give each of JOBS concurrent trainings its share of the cores
share_cores() {
  if [ "$1" -gt 1 ] && [ -z "${OMP_NUM_THREADS:-}" ]; then
    export OMP_NUM_THREADS=$(( $(nproc) / $1 > 0 ? $(nproc) / $1 : 1 ))
  fi
}

# watch_training PID DIR NAME METRIC_REGEX: one progress line per finished epoch of an
# ESPnet training writing DIR/train.log, until PID exits; returns PID's status.
watch_training() {
  local pid=$1 dir=$2 name=$3 metric=$4 seen=0 n line max
  while kill -0 "$pid" 2>/dev/null; do
    sleep 10
    n=$(grep -c "epoch results" "$dir/train.log" 2>/dev/null || true)
    if [ "${n:-0}" -gt "$seen" ]; then
      seen=$n
      line=$(grep "epoch results" "$dir/train.log" | tail -n 1)
      max=$(grep -m1 -o '^max_epoch: [0-9]*' "$dir/config.yaml" 2>/dev/null | cut -d' ' -f2)
      log "  $name: epoch $(echo "$line" | grep -o '[0-9]*epoch results' | cut -de -f1) of ${max:-?}," \
          "$(echo "$line" | grep -o ' time=[^,]*' | head -n 1 | sed 's/ time=/took /');" \
          "$(echo "$line" | grep -o 'valid\] [^,]*' | sed 's/\]//') $(echo "$line" | grep -oE "$metric" | tail -n 1)"
    fi
  done
  wait "$pid"
}

# run_parallel JOBS FN ARGS...: FN ARG for each ARG, JOBS at a time; fails if any failed
run_parallel() {
  local jobs=$1 fn=$2 failed=0 p; shift 2
  local -a pids=()
  for a in "$@"; do
    if [ "$jobs" -le 1 ]; then
      "$fn" "$a" || failed=1
    else
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 2; done
      "$fn" "$a" & pids+=($!)
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}

# trained_exp_args PREFIX MODEL_FILE RUN...: "--exp <PREFIX><RUN>" for every run; dies when
# a run has no MODEL_FILE yet (stages 12-13 need stage 11)
trained_exp_args() {
  local prefix=$1 model=$2 run; shift 2
  for run in "$@"; do
    [ -s "${prefix}${run}/$model" ] || die "${prefix}${run}/$model not found: train $run first (stage 11)"
    echo "--exp ${prefix}${run}"
  done
}

# compare_runs PREFIX RUN...: one comparison table over the runs that have a results.json
compare_runs() {
  local prefix=$1 run; shift
  local -a res=()
  for run in "$@"; do [ -f "${prefix}${run}/results.json" ] && res+=("${prefix}${run}/results.json"); done
  [ ${#res[@]} -eq 0 ] || $python -m adapters.bin.compare "${res[@]}"
}

# feature_cache_stage TRAIN_ARGS RUN CONFIG ... -- SET ...: stage 9, the frozen part of the upstream
# once per data set for each run's method (adapters.bin.cache_features); with --use_cache false, nothing
feature_cache_stage() {
  local -a args=(--train_args "$1") sets=()
  shift
  while [ "$1" != -- ]; do args+=(--run "$1" --config "$2"); shift 2; done
  shift; sets=("$@")
  if [ "$use_cache" != true ]; then
    log "Stage 9: feature cache off (--use_cache $use_cache): every epoch reads the audio"
    return 0
  fi
  log "Stage 9: the upstream's frozen part, once per data set -> ${dumpdir}/cache"
  $python -m adapters.bin.cache_features "${args[@]}" --data_root "${dumpdir}/raw" --sets "${sets[@]}" \
    --cache_root "${dumpdir}/cache" --dtype "$cache_dtype" || die "the feature cache failed (see above)"
}

# run_cache KEY: the feature cache stage 9 made for the run KEY (its exp dir's name: asr_ctc_hra,
# cls_fold1_elp, spk_elp ...), or nothing (the run reads the audio)
run_cache() {
  [ "$use_cache" = true ] || return 0
  local f=${dumpdir}/cache/runs/$1
  if [ ! -f "$f" ]; then
    log "  $1: no feature cache (stage 9 has not run); reading the audio" >&2; return 0
  fi
  cat "$f"
}

# speech_data CACHE SET: ESPnet's data triple for SET's speech: the cache's features, or the audio
speech_data() {
  if [ -n "$1" ]; then echo "$1/$2/feats.scp,speech,kaldi_ark"; else echo "${dumpdir}/raw/$2/wav.scp,speech,sound"; fi
}
