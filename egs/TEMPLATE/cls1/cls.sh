#!/usr/bin/env bash
# The staged utterance-classification pipeline (keyword spotting, emotion, speaker
# identification) on ESPnet's classification task, with ESPnet's stage numbers:
#   1 data (local/data.sh)   3 format/dump audio   4 filter short/long utterances
#   5 class list             9 frozen-upstream cache  10 shape files
#  11 train                 12 inference             13 score
# Stages 11-13 run once per method in --methods (conf/<conf_prefix>_<method>.yaml).
# Every stage skips what is complete and resumes what was interrupted: its .done records what it
# was made from (data signatures, options; lib.sh), and it runs again when that changed.
# TERM or INT stops every process the pipeline started, and no stage is then marked done.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/lib.sh"

# General
stage=1
stop_stage=13
ngpu=0               # ESPnet --ngpu
nj=2                 # parallel jobs for format
train_jobs=1         # runs (methods) trained at the same time, sharing the cores
dumpdir=dump
expdir=exp
python=${PYTHON:-python3}
fs=16000
audio_format=flac
skip_bad=false       # format: drop unreadable utterances instead of stopping
min_wav_duration=0.1
max_wav_duration=30
use_cache=true       # stage 9: compute the upstream's frozen part once (adapters.feature_cache)
cache_dtype=float32  # float32: bit-for-bit the on-the-fly inputs; float16 halves the disk it takes

# Data
train_set=
valid_set=
test_sets=
local_data_opts=
skip_data_prep=false # stage 1: data/ was prepared by the caller (e.g. once for all folds)

# Model
methods=frozen       # one or more adapter methods, each a run
conf_prefix=train    # run config: conf/<conf_prefix>_<method>.yaml
cls_config=          # one explicit config (overrides methods)
run_prefix=          # run names: <run_prefix><method> (e.g. fold1_), exp dirs: exp/cls_<run>
cls_args=            # extra arguments for cls_train
task_name=cls        # the metric's task name in results.json (ks, er, sid ...)
upstream_ckpt=       # local upstream checkpoint the configs name; built when missing
upstream_family=hubert
upstream_size=pretrained  # pretrained (adapters.bin.pretrain_upstream) | tiny | small | base (random init)

# Inference
inference_model=valid.acc.best.pth
inference_batch_sec=120  # seconds of audio per inference batch

. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
require_stages
require_int ngpu fs
require_pos_int nj train_jobs
require_num min_wav_duration max_wav_duration inference_batch_sec
require_bool skip_bad use_cache skip_data_prep

[ -n "$train_set" ] || die "--train_set is required"
[ -n "$valid_set" ] || die "--valid_set is required"
[ -n "$test_sets" ] || die "--test_sets is required"

set_tag=$(echo "$train_set" | tr / _)
token_list=data/token_list/${set_tag}/tokens.txt
stats_dir=${expdir}/cls_stats_${set_tag}

declare -a runs=() configs=()
if [ -n "$cls_config" ]; then
  runs+=("${run_prefix}$(basename "${cls_config%.*}")"); configs+=("$cls_config")
else
  for m in $methods; do
    c=conf/${conf_prefix}_${m}.yaml
    [ -f "$c" ] || die "no config $c for method '$m' (available: $(ls conf/${conf_prefix}_*.yaml 2>/dev/null | sed "s|conf/${conf_prefix}_||; s|.yaml||" | tr '\n' ' '))"
    runs+=("${run_prefix}${m}"); configs+=("$c")
  done
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  if [ "$skip_data_prep" = true ]; then
    log "Stage 1: data prepared by the caller"
  else
    log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
    # shellcheck disable=SC2086
    spawn local/data.sh ${local_data_opts}
  fi
  for s in $train_set $valid_set $test_sets; do
    spawn $python -m adapters.data.kaldi "data/$s" --label label --no_audio || die "data/$s is not a valid data directory"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: format and dump audio (${fs} Hz ${audio_format}) to ${dumpdir}/raw"
  for s in $train_set $valid_set $test_sets; do
    if [ "$s" = "$train_set" ] || [ "$s" = "$valid_set" ]; then out=${dumpdir}/raw/org/$s; else out=${dumpdir}/raw/$s; fi
    rec=$(record data "$(data_sig "data/$s")" fs "$fs" audio_format "$audio_format" skip_bad "$skip_bad")
    if stage_done "$s" "$out/.done" "$rec" test "$out/.done" -nt "data/$s/wav.scp"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format format "data/$s" "$out" --dump_dir "${dumpdir}/audio/$s" \
      --fs "$fs" --audio_format "$audio_format" --nj "$nj" --skip_bad "$skip_bad"
    stamp_write "$out/.done" "$rec"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: keep ${min_wav_duration}-${max_wav_duration} s utterances with a label"
  for s in $train_set $valid_set; do
    out=${dumpdir}/raw/$s
    rec=$(record data "$(data_sig "${dumpdir}/raw/org/$s")" fs "$fs" min_sec "$min_wav_duration" max_sec "$max_wav_duration")
    if stage_done "$s" "$out/.done" "$rec"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format filter "${dumpdir}/raw/org/$s" "$out" \
      --fs "$fs" --min_sec "$min_wav_duration" --max_sec "$max_wav_duration" --label label
    stamp_write "$out/.done" "$rec"
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "Stage 5: class list $token_list"
  mkdir -p "$(dirname "$token_list")"
  # ESPnet's classifier has len(token_list) - 1 outputs: the classes, then <unk>
  { cut -d' ' -f2 "${dumpdir}/raw/${train_set}/label" | LC_ALL=C sort -u; echo "<unk>"; } > "${token_list}.tmp"
  replace_if_changed "${token_list}.tmp" "$token_list"  # unchanged: its mtime stays
  n=$(( $(wc -l < "$token_list") - 1 ))
  [ "$n" -ge 2 ] || die "${dumpdir}/raw/${train_set}/label has $n class(es); classification needs at least 2"
  unseen=$(cut -d' ' -f2 "${dumpdir}/raw/${valid_set}/label" | LC_ALL=C sort -u | grep -vxFf "$token_list" || true)
  [ -z "$unseen" ] || die "classes in $valid_set but not in $train_set: $(echo $unseen)"
  log "  $n classes: $(head -n "$n" "$token_list" | tr '\n' ' ')"
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  cache_args=()
  for i in "${!runs[@]}"; do cache_args+=("cls_${runs[$i]}" "${configs[$i]}"); done
  # shellcheck disable=SC2086
  feature_cache_stage "${cls_args}" "${cache_args[@]}" -- $train_set $valid_set $test_sets
fi

if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "Stage 10: shape files -> $stats_dir"
  for part in train valid; do
    s=$([ $part = train ] && echo "$train_set" || echo "$valid_set")
    mkdir -p "$stats_dir/$part"
    cp "${dumpdir}/raw/$s/utt2num_samples" "$stats_dir/$part/speech_shape.tmp"
    replace_if_changed "$stats_dir/$part/speech_shape.tmp" "$stats_dir/$part/speech_shape"
  done
fi

train_run() {  # $1: index into runs
  local run=${runs[$1]} config=${configs[$1]} dir=${expdir}/cls_${runs[$1]} start cache
  local rec verdict
  rec=$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" valid_data "$(data_sig "${dumpdir}/raw/${valid_set}")" \
    class_list "$(file_sig "$token_list")")
  verdict=$(train_state "$dir" "$config" "$rec")
  case "$verdict" in
    trained) log "Stage 11: $run: trained"; return 0 ;;
    refuse:*) log "ERROR: Stage 11: $run: ${verdict#refuse: }" >&2; return 1 ;;
  esac
  cache=$(run_cache "cls_$run")
  log "Stage 11: training $run ($config) -> $dir (log: $dir/train.log)${cache:+; frozen part from $cache}"
  mkdir -p "$dir"
  rm -f "$dir/.done"
  stamp_write "$dir/.inputs" "$rec"
  echo "$cache" > "$dir/feature_cache"
  start=$(date +%s)
  # shellcheck disable=SC2086
  $python -m adapters.bin.cls_train --config "$config" --use_preprocessor true \
    --token_list "$token_list" --ngpu "$ngpu" --resume true \
    --train_data_path_and_name_and_type "$(speech_data "$cache" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/label,label,text" \
    --valid_data_path_and_name_and_type "$(speech_data "$cache" "$valid_set")" \
    --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/label,label,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --output_dir "$dir" ${cls_args} > "$dir/train.log" 2>&1 &
  watch_training $! "$dir" "$run" 'acc=[^,]*' \
    || { log "ERROR: training $run failed; see $dir/train.log (rerun resumes from the last epoch)"; return 1; }
  echo $(( $(date +%s) - start + $(cat "$dir/train_time_s" 2>/dev/null || echo 0) )) > "$dir/train_time_s"
  stamp_write "$dir/.done" "$rec"
  log "Stage 11: $run trained in $(cat "$dir/train_time_s") s; $(grep -o 'valid\] loss[^,]*, acc[^,]*' "$dir/train.log" | tail -n 1)"
}

if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  share_cores "$train_jobs"
  run_parallel "$train_jobs" train_run "${!runs[@]}" || die "training failed (see the logs named above)"
fi

if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
  # one process for every run and test set: ESPnet's imports cost more than these small test sets
  # shellcheck disable=SC2207
  args=($(trained_exp_args "${expdir}/cls_" "$inference_model" "${runs[@]}"))
  for s in $test_sets; do args+=(--test "$(echo "$s" | tr / _)" "${dumpdir}/raw/$s"); done
  log "Stage 12: inference on $test_sets with ${runs[*]}"
  spawn $python -m adapters.bin.cls_inference --model_file "$inference_model" --batch_sec "$inference_batch_sec" \
    --use_cache "$use_cache" --data_root "${dumpdir}/raw" "${args[@]}"
fi

if [ "$stage" -le 13 ] && [ "$stop_stage" -ge 13 ]; then
  for run in "${runs[@]}"; do
    dir=${expdir}/cls_${run}
    # what the scores are made from: each set's labels (its data dir) and predictions, the task
    # name, and the run's files that results.json reports (score_record, lib.sh)
    args=(); rec=$(score_record "$dir" "$test_sets" task "$task_name")
    for s in $test_sets; do
      t=$(echo "$s" | tr / _)
      args+=(--test "$t" "${dumpdir}/raw/$s" "$dir/decode/$t/prediction")
      rec+=$'\n'$(record "ref_$t" "$(data_sig "${dumpdir}/raw/$s")" "hyp_$t" "$(file_sig "$dir/decode/$t/prediction")")
    done
    if outputs_done "Stage 13: $run" "$dir/.score.done" "$rec" "${SCORE_OUTPUTS[@]/#/$dir/}"; then
      log "Stage 13: $run: scored"
      continue
    fi
    log "Stage 13: scoring $run"
    rm -f "$dir/.score.done"
    spawn $python -m adapters.bin.score_cls --exp "$dir" --task "$task_name" "${args[@]}"
    stamp_write "$dir/.score.done" "$rec"
  done
  compare_runs "${expdir}/cls_" "${runs[@]}"
fi
log "Successfully finished"
