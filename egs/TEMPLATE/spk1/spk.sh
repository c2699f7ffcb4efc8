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

template_options     # stage, nj, sets, methods, upstream ... (lib.sh)
min_wav_duration=0.5
max_wav_duration=60
# valid_set and test_sets each with a trials file (ESPnet's validation EER; the tests' scoring)

# Model
conf_prefix=train    # run config: conf/<conf_prefix>_<method>.yaml
spk_config=          # one explicit config (overrides methods)
run_prefix=          # run names: <run_prefix><method>, exp dirs: exp/spk_<run>
spk_args=            # extra arguments for spk_train
task_name=asv        # the metric's task name in results.json

# Scoring
inference_model=valid.eer.best.pth
inference_batch_sec=120

. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
check_template_options
require_num inference_batch_sec

stats_dir=${expdir}/spk_stats_$(echo "$train_set" | tr / _)

declare -a runs=() configs=()
method_runs "$conf_prefix" "$run_prefix" "$spk_config" "${run_prefix}$(basename "${spk_config%.*}")"

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  data_stage --label label
  for s in $valid_set $test_sets; do
    spawn $python -m adapters.data.trials "data/$s" || die "data/$s/trials is not a valid trial list"
  done
fi
copy_trials() { [ ! -f "data/$1/trials" ] || cp "data/$1/trials" "$2/trials"; }  # SET OUT
[ "$stage" -gt 3 ] || [ "$stop_stage" -lt 3 ] || format_stage "$train_set" copy_trials
[ "$stage" -gt 4 ] || [ "$stop_stage" -lt 4 ] || filter_stage "training utterances" "$train_set" --label label
[ "$stage" -gt 9 ] || [ "$stop_stage" -lt 9 ] || cache_stage spk "${spk_args}" "$train_set"

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

# spk_launch CONFIG DIR CACHE: the training command (train_one, lib.sh); validation trials
# always read the audio: the frontend takes either
spk_launch() {
  # shellcheck disable=SC2086
  $python -m adapters.bin.spk_train --config "$1" --use_preprocessor true --ngpu "$ngpu" --resume true \
    --spk2utt "${dumpdir}/raw/${train_set}/spk2utt" --spk_num "$(wc -l < "${dumpdir}/raw/${train_set}/spk2utt")" \
    --train_data_path_and_name_and_type "$(speech_data "$3" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/utt2spk,spk_labels,text" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial.scp,speech,sound" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial2.scp,speech2,sound" \
    --valid_data_path_and_name_and_type "${stats_dir}/valid/trial_label,spk_labels,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --output_dir "$2" ${spk_args}
}
train_run() {  # $1: index into runs
  train_one spk "${runs[$1]}" "${configs[$1]}" "$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" \
    valid_trials "$(file_sig "${stats_dir}/valid/trial.scp" "${stats_dir}/valid/trial2.scp" "${stats_dir}/valid/trial_label")")" \
    'mindcf=[^,]*' 'valid\] eer[^,]*' spk_launch false
}
[ "$stage" -gt 11 ] || [ "$stop_stage" -lt 11 ] || train_stage

if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
  # shellcheck disable=SC2207
  args=($(trained_exp_args "${expdir}/spk_" "$inference_model" "${runs[@]}"))
  for s in $test_sets; do args+=(--test "$(echo "$s" | tr / _)" "${dumpdir}/raw/$s"); done
  log "Stage 12: speaker embeddings of $test_sets with ${runs[*]}"
  # --ngpu > 0: on one GPU (--ngpu 1); on the CPU the option is left out
  # shellcheck disable=SC2046
  spawn $python -m adapters.bin.spk_embed --model_file "$inference_model" --batch_sec "$inference_batch_sec" "${args[@]}" \
    $([ "$ngpu" -eq 0 ] || echo --ngpu 1)
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
