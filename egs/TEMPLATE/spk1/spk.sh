#!/usr/bin/env bash
# The staged speaker-verification pipeline on ESPnet's speaker task, with ESPnet's stage numbers:
#   1 data (local/data.sh)   3 format/dump audio   4 filter short/long training utterances
#   9 frozen-upstream cache (off for runs that crop random waveform segments in training)
#  10 shape and trial files 11 train (ESPnet validates on trials: EER, minDCF)
#  12 embeddings of the test sets   13 cosine scoring of the trial lists: EER, minDCF
# Stages 11-13 run once per method in --methods (conf/<conf_prefix>_<method>.yaml).
# Every stage skips what is complete and resumes what was interrupted: its .done records what it
# was made from (data signatures, options; lib.sh), and it runs again when that changed.
# TERM or INT stops every process the pipeline started, and no stage is then marked done.
# Data dirs: label (= speaker), utt2spk, spk2utt; valid and test sets also have a
# `trials` file (`<1|0> <utt1> <utt2>`, 1 = same speaker).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/lib.sh"

# General
stage=1
stop_stage=13
ngpu=0
nj=2
train_jobs=1
dumpdir=dump
expdir=exp
python=${PYTHON:-python3}
fs=16000
audio_format=flac
skip_bad=false
min_wav_duration=0.5
max_wav_duration=60
use_cache=true       # stage 9: compute the upstream's frozen part once (adapters.feature_cache)
cache_dtype=float32

# Data
train_set=
valid_set=           # with a trials file (ESPnet's validation EER)
test_sets=           # each with a trials file
local_data_opts=
skip_data_prep=false

# Model
methods=frozen
conf_prefix=train
spk_config=
run_prefix=
spk_args=
task_name=asv
upstream_ckpt=
upstream_family=hubert
upstream_size=pretrained

# Scoring
inference_model=valid.eer.best.pth
inference_batch_sec=120

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

stats_dir=${expdir}/spk_stats_$(echo "$train_set" | tr / _)

declare -a runs=() configs=()
if [ -n "$spk_config" ]; then
  runs+=("${run_prefix}$(basename "${spk_config%.*}")"); configs+=("$spk_config")
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
  for s in $valid_set $test_sets; do
    spawn $python -m adapters.data.trials "data/$s" || die "data/$s/trials is not a valid trial list"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: format and dump audio (${fs} Hz ${audio_format}) to ${dumpdir}/raw"
  for s in $train_set $valid_set $test_sets; do
    if [ "$s" = "$train_set" ]; then out=${dumpdir}/raw/org/$s; else out=${dumpdir}/raw/$s; fi
    rec=$(record data "$(data_sig "data/$s")" fs "$fs" audio_format "$audio_format" skip_bad "$skip_bad")
    if stage_done "$s" "$out/.done" "$rec" test "$out/.done" -nt "data/$s/wav.scp"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format format "data/$s" "$out" --dump_dir "${dumpdir}/audio/$s" \
      --fs "$fs" --audio_format "$audio_format" --nj "$nj" --skip_bad "$skip_bad"
    [ ! -f "data/$s/trials" ] || cp "data/$s/trials" "$out/trials"
    stamp_write "$out/.done" "$rec"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: keep ${min_wav_duration}-${max_wav_duration} s training utterances"
  out=${dumpdir}/raw/$train_set
  rec=$(record data "$(data_sig "${dumpdir}/raw/org/$train_set")" fs "$fs" min_sec "$min_wav_duration" max_sec "$max_wav_duration")
  if stage_done "$train_set" "$out/.done" "$rec"; then
    log "  $train_set: done"
  else
    rm -f "$out/.done"
    spawn $python -m adapters.data.format filter "${dumpdir}/raw/org/$train_set" "$out" \
      --fs "$fs" --min_sec "$min_wav_duration" --max_sec "$max_wav_duration" --label label
    stamp_write "$out/.done" "$rec"
  fi
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  cache_args=()
  for i in "${!runs[@]}"; do cache_args+=("spk_${runs[$i]}" "${configs[$i]}"); done
  feature_cache_stage "${spk_args}" "${cache_args[@]}" -- "$train_set"
fi

if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "Stage 10: shape and trial files -> $stats_dir"
  mkdir -p "$stats_dir/train" "$stats_dir/valid"
  cp "${dumpdir}/raw/$train_set/utt2num_samples" "$stats_dir/train/speech_shape.tmp"
  replace_if_changed "$stats_dir/train/speech_shape.tmp" "$stats_dir/train/speech_shape"
  # ESPnet validates on trial pairs: trial.scp / trial2.scp / trial_label keyed by "utt1*utt2"
  # (written aside, each file replacing the old one only when it differs: a rerun changes nothing)
  rm -rf "$stats_dir/valid.tmp"
  spawn $python -m adapters.data.trials "${dumpdir}/raw/$valid_set" --espnet_out "$stats_dir/valid.tmp"
  for f in "$stats_dir"/valid.tmp/*; do replace_if_changed "$f" "$stats_dir/valid/$(basename "$f")"; done
  rm -rf "$stats_dir/valid.tmp"
fi

train_run() {  # $1: index into runs
  local run=${runs[$1]} config=${configs[$1]} dir=${expdir}/spk_${runs[$1]} start cache
  local rec verdict
  rec=$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" \
    valid_trials "$(file_sig "${stats_dir}/valid/trial.scp" "${stats_dir}/valid/trial2.scp" "${stats_dir}/valid/trial_label")")
  verdict=$(train_state "$dir" "$config" "$rec")
  case "$verdict" in
    trained) log "Stage 11: $run: trained"; return 0 ;;
    refuse:*) log "ERROR: Stage 11: $run: ${verdict#refuse: }" >&2; return 1 ;;
  esac
  cache=$(run_cache "spk_$run")  # validation trials always read the audio: the frontend takes either
  log "Stage 11: training $run ($config) -> $dir (log: $dir/train.log)${cache:+; frozen part from $cache}"
  mkdir -p "$dir"
  rm -f "$dir/.done"
  stamp_write "$dir/.inputs" "$rec"
  start=$(date +%s)
  # shellcheck disable=SC2086
  $python -m adapters.bin.spk_train --config "$config" --use_preprocessor true --ngpu "$ngpu" --resume true \
    --spk2utt "${dumpdir}/raw/${train_set}/spk2utt" --spk_num "$(wc -l < "${dumpdir}/raw/${train_set}/spk2utt")" \
    --train_data_path_and_name_and_type "$(speech_data "$cache" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/utt2spk,spk_labels,text" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial.scp,speech,sound" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial2.scp,speech2,sound" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial_label,spk_labels,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --output_dir "$dir" ${spk_args} > "$dir/train.log" 2>&1 &
  watch_training $! "$dir" "$run" 'mindcf=[^,]*' \
    || { log "ERROR: training $run failed; see $dir/train.log (rerun resumes from the last epoch)"; return 1; }
  echo $(( $(date +%s) - start + $(cat "$dir/train_time_s" 2>/dev/null || echo 0) )) > "$dir/train_time_s"
  stamp_write "$dir/.done" "$rec"
  log "Stage 11: $run trained in $(cat "$dir/train_time_s") s; $(grep -o 'valid\] eer[^,]*' "$dir/train.log" | tail -n 1)"
}

if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  share_cores "$train_jobs"
  run_parallel "$train_jobs" train_run "${!runs[@]}" || die "training failed (see the logs named above)"
fi

if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
  # shellcheck disable=SC2207
  args=($(trained_exp_args "${expdir}/spk_" "$inference_model" "${runs[@]}"))
  for s in $test_sets; do args+=(--test "$(echo "$s" | tr / _)" "${dumpdir}/raw/$s"); done
  log "Stage 12: speaker embeddings of $test_sets with ${runs[*]}"
  spawn $python -m adapters.bin.spk_embed --model_file "$inference_model" --batch_sec "$inference_batch_sec" "${args[@]}"
fi

if [ "$stage" -le 13 ] && [ "$stop_stage" -ge 13 ]; then
  for run in "${runs[@]}"; do
    dir=${expdir}/spk_${run}
    # what the scores are made from: each set's trials (its data dir) and embeddings, the task
    # name, and the run's files that results.json reports (score_record, lib.sh)
    args=(); outs=("${SCORE_OUTPUTS[@]/#/$dir/}"); rec=$(score_record "$dir" "$test_sets" task "$task_name")
    for s in $test_sets; do
      t=$(echo "$s" | tr / _)
      args+=(--test "$t" "${dumpdir}/raw/$s/trials" "$dir/embed/$t/embeddings.npz")
      outs+=("$dir/embed/$t/scores")
      rec+=$'\n'$(record "ref_$t" "$(data_sig "${dumpdir}/raw/$s")" "hyp_$t" "$(file_sig "$dir/embed/$t/embeddings.npz")")
    done
    if outputs_done "Stage 13: $run" "$dir/.score.done" "$rec" "${outs[@]}"; then
      log "Stage 13: $run: scored"
      continue
    fi
    log "Stage 13: scoring $run (cosine similarity; EER, minDCF at p_target 0.05 and 0.01)"
    rm -f "$dir/.score.done"
    spawn $python -m adapters.bin.score_spk --exp "$dir" --task "$task_name" "${args[@]}"
    stamp_write "$dir/.score.done" "$rec"
  done
  compare_runs "${expdir}/spk_" "${runs[@]}"
fi
log "Successfully finished"
