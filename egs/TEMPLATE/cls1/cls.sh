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

template_options     # stage, nj, sets, methods, upstream ... (lib.sh)

# Model
conf_prefix=train    # run config: conf/<conf_prefix>_<method>.yaml
cls_config=          # one explicit config (overrides methods)
run_prefix=          # run names: <run_prefix><method> (e.g. fold1_), exp dirs: exp/cls_<run>
cls_args=            # extra arguments for cls_train
task_name=cls        # the metric's task name in results.json (ks, er, sid ...)

# Inference
inference_model=valid.acc.best.pth
inference_batch_sec=120  # seconds of audio per inference batch

. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
check_template_options
require_num inference_batch_sec

set_tag=$(echo "$train_set" | tr / _)
token_list=data/token_list/${set_tag}/tokens.txt
stats_dir=${expdir}/cls_stats_${set_tag}

declare -a runs=() configs=()
method_runs "$conf_prefix" "$run_prefix" "$cls_config" "${run_prefix}$(basename "${cls_config%.*}")"

[ "$stage" -gt 1 ] || [ "$stop_stage" -lt 1 ] || data_stage --label label
[ "$stage" -gt 3 ] || [ "$stop_stage" -lt 3 ] || format_stage "$train_set $valid_set"
[ "$stage" -gt 4 ] || [ "$stop_stage" -lt 4 ] || filter_stage "utterances with a label" "$train_set $valid_set" --label label

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

# shellcheck disable=SC2086
[ "$stage" -gt 9 ] || [ "$stop_stage" -lt 9 ] || cache_stage cls "${cls_args}" $train_set $valid_set $test_sets

if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "Stage 10: shape files -> $stats_dir"
  for part in train valid; do
    s=$([ $part = train ] && echo "$train_set" || echo "$valid_set")
    mkdir -p "$stats_dir/$part"
    cp "${dumpdir}/raw/$s/utt2num_samples" "$stats_dir/$part/speech_shape.tmp"
    replace_if_changed "$stats_dir/$part/speech_shape.tmp" "$stats_dir/$part/speech_shape"
  done
fi

# cls_launch CONFIG DIR CACHE: the training command (train_one, lib.sh)
cls_launch() {
  # shellcheck disable=SC2086
  $python -m adapters.bin.cls_train --config "$1" --use_preprocessor true \
    --token_list "$token_list" --ngpu "$ngpu" --resume true \
    --train_data_path_and_name_and_type "$(speech_data "$3" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/label,label,text" \
    --valid_data_path_and_name_and_type "$(speech_data "$3" "$valid_set")" \
    --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/label,label,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --output_dir "$2" ${cls_args}
}
train_run() {  # $1: index into runs
  train_one cls "${runs[$1]}" "${configs[$1]}" "$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" \
    valid_data "$(data_sig "${dumpdir}/raw/${valid_set}")" class_list "$(file_sig "$token_list")")" \
    'acc=[^,]*' 'valid\] loss[^,]*, acc[^,]*' cls_launch
}
[ "$stage" -gt 11 ] || [ "$stop_stage" -lt 11 ] || train_stage

if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
  # one process for every run and test set: ESPnet's imports cost more than these small test sets
  # shellcheck disable=SC2207
  args=($(trained_exp_args "${expdir}/cls_" "$inference_model" "${runs[@]}"))
  for s in $test_sets; do args+=(--test "$(echo "$s" | tr / _)" "${dumpdir}/raw/$s"); done
  log "Stage 12: inference on $test_sets with ${runs[*]}"
  # --ngpu > 0: on one GPU (--ngpu 1); on the CPU the option is left out
  # shellcheck disable=SC2046
  spawn $python -m adapters.bin.cls_inference --model_file "$inference_model" --batch_sec "$inference_batch_sec" \
    --use_cache "$use_cache" --data_root "${dumpdir}/raw" "${args[@]}" $([ "$ngpu" -eq 0 ] || echo --ngpu 1)
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
