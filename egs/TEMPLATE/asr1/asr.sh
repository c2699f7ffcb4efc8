#!/usr/bin/env bash
# The staged ASR pipeline shared by the ASR recipes, with ESPnet's stage numbers:
#   1 data (local/data.sh)    3 format/dump audio     4 filter short/long utterances
#   5 tokens (bpe|char)       6 LM text (--use_lm)     7 LM training            8 LM perplexity
#   9 frozen-upstream cache  10 ESPnet collect_stats
#  11 train                  12 decode                13 score
# Stages 11-13 run once per method in --methods (conf/train_<decoder>_<method>.yaml).
# Every stage skips what is complete and resumes what was interrupted: its .done records what it
# was made from (data signatures, options; lib.sh), and it runs again when that changed.
# TERM or INT stops every process the pipeline started, and no stage is then marked done.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/lib.sh"

template_options     # stage, nj, sets, methods, upstream ... (lib.sh)

# Tokens
token_type=bpe       # bpe | char | word
nbpe=300
bpemode=unigram
bpe_train_text=      # default: the training set's text

# Model
decoder=ctc          # ctc | rnnt: picks conf/train_<decoder>_<method>.yaml
asr_config=          # one explicit config (overrides decoder/methods)
asr_tag=
asr_args=            # extra arguments for asr_train
stats_config=        # config for collect_stats (default: the first run's config)
stats_args=          # extra arguments for collect_stats
stats_dir=           # default: ${expdir}/asr_stats_<token tag>
task_list=           # multi-task data: file of task names (adapters.tasks.TaskSet); utt2task -> utt2task_id
                     # (indices into it), read through it in training and decoding: each utterance
                     # reaches its task's adapter, whatever the order of the list
fallback_task=       # decoding: the task whose adapter decodes tasks the model does not know (zero-shot)

# Language model (ESPnet's; stage 12 decodes with it by shallow fusion)
use_lm=false
lm_config=conf/train_lm.yaml
lm_train_text=       # default: the training set's text and, when local/data.sh wrote it, data/local/other_text/text
lm_args=             # extra arguments for lm_train
inference_lm=valid.loss.best.pth

# Decoding
inference_config=    # default: conf/decode_<decoder>.yaml (--use_lm true: conf/decode_<decoder>_lm.yaml)
inference_args=
inference_model=valid.loss.ave.pth

. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
check_template_options
require_int nbpe
require_bool use_lm

case "$token_type" in bpe|char|word) ;; *) die "--token_type must be bpe, char or word, got $token_type" ;; esac

if [ "$token_type" = bpe ]; then
  token_tag=bpe_${bpemode}${nbpe}
else
  token_tag=$token_type
fi
token_dir=data/token_list/${token_tag}
token_list=${token_dir}/tokens.txt
bpemodel=${token_dir}/bpe.model
stats_dir=${stats_dir:-${expdir}/asr_stats_${token_tag}}
lm_exp=${expdir}/lm_${token_tag}

# task_ids DIR...: each DIR/utt2task_id (its utterances' indices in --task_list) from DIR/utt2task,
# written by the TaskSet that training (asr_train --task_list) and decoding read them with
task_ids() {
  [ -s "$task_list" ] || die "--task_list $task_list: missing or empty"
  spawn $python -m adapters.bin.task_ids --task_list "$task_list" "$@" || die "could not write the task ids of $*"
}
# task_data_args PREFIX DIR...: the data options that feed each batch's task ids (run
# task_ids on each DIR first: a failure inside $(...) would not stop the pipeline)
task_data_args() {
  [ -n "$task_list" ] || return 0
  local opt=$1 d; shift
  for d in "$@"; do echo "--${opt}data_path_and_name_and_type $d/utt2task_id,task,text_int"; done
  echo "--allow_variable_data_keys true"
}

# decode_sets RUN DIR DEC SET...: decode the union of the sets with --nj jobs into
# DEC/.union, then give each set its own DEC/<set>/text
decode_sets() {
  local run=$1 dir=$2 dec=$3 out=$3/.union s k j n jobs failed=0 task_opts= cache speech
  shift 3
  for s in "$@"; do rm -f "$dec/$s/.done"; done
  rm -rf "$out"; mkdir -p "$out/split"
  for s in "$@"; do cat "${dumpdir}/raw/$s/wav.scp"; done > "$out/wav.scp"
  cache=$(run_cache "asr_$run")
  if [ -n "$cache" ]; then
    for s in "$@"; do cat "$cache/$s/feats.scp"; done > "$out/feats.scp"; speech="$out/feats.scp,speech,kaldi_ark"
  else
    speech="$out/wav.scp,speech,sound"
  fi
  if [ -n "$task_list" ]; then
    task_ids "${@/#/${dumpdir}/raw/}"
    for s in "$@"; do cat "${dumpdir}/raw/$s/utt2task_id"; done > "$out/utt2task_id"
    task_opts="$(task_data_args "" "$out") --task_list $task_list ${fallback_task:+--fallback_task $fallback_task}"
  fi
  # a job per 100 utterances at most: each job's ESPnet import costs about what
  # decoding 100 short utterances does
  n=$(wc -l < "$out/wav.scp"); jobs=$(( (n + 99) / 100 )); jobs=$(( nj < jobs ? nj : jobs ))
  log "Stage 12: decoding $* with $run ($n utterances, $jobs jobs) -> $dec"
  split -n "l/$jobs" -d -a 3 "$out/wav.scp" "$out/split/keys."
  local -a pids=()
  for k in "$out"/split/keys.*; do
    j=${k##*.}
    # --ngpu > 0: each job on the GPU (ESPnet's inference takes at most one); 0: the CPU
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 $python -m adapters.bin.asr_inference --config "$inference_config" --ngpu $(( ngpu > 0 ? 1 : 0 )) \
      --data_path_and_name_and_type "$speech" --key_file "$k" \
      --asr_train_config "$dir/config.yaml" --asr_model_file "$dir/$inference_model" \
      --output_dir "$out/output.$j" ${task_opts} ${lm_opts} ${inference_args} > "$out/decode.$j.log" 2>&1 &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || failed=1; done
  [ $failed -eq 0 ] || die "decoding $* with $run failed; see $out/decode.*.log"
  cat "$out"/output.*/1best_recog/text | LC_ALL=C sort > "$out/text"
  for s in "$@"; do
    mkdir -p "$dec/$s"
    awk 'NR == FNR { keep[$1]; next } $1 in keep' "${dumpdir}/raw/$s/wav.scp" "$out/text" > "$dec/$s/text.tmp"
    mv "$dec/$s/text.tmp" "$dec/$s/text"
    stamp_write "$dec/$s/.done" "$(dec_record "$s")"
  done
}
# dec_record SET: what stage 12's decoding of SET is made from (the model: by mtime, as before)
dec_record() {
  record data "$(data_sig "${dumpdir}/raw/$1")" inference_args "$(echo $inference_args | md5sum | cut -c1-32)" \
    config "$(file_sig "$inference_config")" lm "$("$use_lm" && file_sig "$lm_exp/$inference_lm" || echo none)"
}

# run name -> config
declare -a runs=() configs=()
method_runs "train_${decoder}" "${asr_tag:+${asr_tag}_}${decoder}_" "$asr_config" "${asr_tag:-$(basename "${asr_config%.*}")}"
if [ -z "$inference_config" ]; then
  inference_config=conf/decode_${decoder}.yaml
  ! "$use_lm" || inference_config=conf/decode_${decoder}_lm.yaml
fi
lm_opts=
! "$use_lm" || lm_opts="--lm_train_config $lm_exp/config.yaml --lm_file $lm_exp/$inference_lm"

[ "$stage" -gt 1 ] || [ "$stop_stage" -lt 1 ] || data_stage
check_dump() { spawn $python -m adapters.data.kaldi "$2" --fs "$fs" --no_audio; }  # SET OUT
[ "$stage" -gt 3 ] || [ "$stop_stage" -lt 3 ] || format_stage "$train_set $valid_set" check_dump
[ "$stage" -gt 4 ] || [ "$stop_stage" -lt 4 ] || filter_stage "utterances with a transcript" "$train_set $valid_set"

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "Stage 5: token list ($token_tag)"
  mkdir -p "$token_dir"
  text=${bpe_train_text:-${dumpdir}/raw/${train_set}/text}
  [ -s "$text" ] || die "$text: missing or empty (stages 3-4 make it)"
  rec=$(record text "$(file_sig "$text")" token_type "$token_type" bpemode "$bpemode" nbpe "$nbpe")
  # a token list from before stamps: judged by its mtime, as it was then
  [ -e "${token_dir}/.done" ] || [ ! -s "$token_list" ] || : > "${token_dir}/.done"
  if stage_done "$token_list" "${token_dir}/.done" "$rec" test "$token_list" -nt "$text"; then
    log "  $token_list: done"
  else
    rm -f "${token_dir}/.done"
    cut -f 2- -d " " "$text" > "${token_dir}/train.txt"
    if [ "$token_type" = bpe ]; then
      spawn $python -m adapters.bin.spm_train --input="${token_dir}/train.txt" --vocab_size="$nbpe" \
        --model_type="$bpemode" --model_prefix="${token_dir}/bpe" --character_coverage=1.0 \
        --input_sentence_size=100000000
      tok_opts="--token_type bpe --bpemodel $bpemodel"
    else
      tok_opts="--token_type $token_type"
    fi
    # shellcheck disable=SC2086
    spawn $python -m adapters.bin.espnet tokenize_text --input "${token_dir}/train.txt" --output "${token_list}.tmp" \
      $tok_opts --field 1- --cleaner none --g2p none --write_vocabulary true \
      --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1"
    replace_if_changed "${token_list}.tmp" "$token_list"
    stamp_write "${token_dir}/.done" "$rec"
  fi
fi

tok_args() {
  echo "--token_type $token_type --token_list $token_list $([ "$token_type" = bpe ] && echo "--bpemodel $bpemodel")"
}
# vocab_shapes DIR: DIR/{train,valid}/text_shape.<token_type>, ESPnet's shape files for the token
# sequences, which carry the vocabulary size
vocab_shapes() {
  local part
  for part in train valid; do
    awk -v N="$(wc -l < "$token_list")" '{ print $0 "," N }' "$1/$part/text_shape" > "$1/$part/text_shape.${token_type}"
  done
}

if "$use_lm" && [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  lm_text_files=${lm_train_text:-${dumpdir}/raw/${train_set}/text $([ ! -s data/local/other_text/text ] || echo data/local/other_text/text)}
  log "Stage 6: LM text: $lm_text_files -> ${dumpdir}/raw/lm_train.txt"
  # shellcheck disable=SC2086
  for f in $lm_text_files; do [ -s "$f" ] || die "$f: missing or empty (--lm_train_text)"; done
  # shellcheck disable=SC2086
  rec=$(record text "$(file_sig $lm_text_files)")
  if stage_done "LM text" "${dumpdir}/raw/.lm_train.done" "$rec"; then
    log "  done"
  else
    # "<id> <words>" lines; an id with no words would be an empty sentence to the LM
    # shellcheck disable=SC2086
    awk 'NF > 1' $lm_text_files > "${dumpdir}/raw/lm_train.txt.tmp"
    mv "${dumpdir}/raw/lm_train.txt.tmp" "${dumpdir}/raw/lm_train.txt"
    stamp_write "${dumpdir}/raw/.lm_train.done" "$rec"
    log "  $(wc -l < "${dumpdir}/raw/lm_train.txt") sentences"
  fi
fi

if "$use_lm" && [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  log "Stage 7: LM training ($lm_config) -> $lm_exp (log: $lm_exp/train.log)"
  lm_text=${dumpdir}/raw/lm_train.txt lm_valid=${dumpdir}/raw/${valid_set}/text
  [ -s "$lm_text" ] || die "$lm_text: missing or empty (stage 6 makes it)"
  rec=$(record text "$(file_sig "$lm_text")" valid "$(file_sig "$lm_valid")" token_list "$(file_sig "$token_list")" \
    config "$(file_sig "$lm_config")" lm_args "$(echo $lm_args | md5sum | cut -c1-32)")
  if [ -s "$lm_exp/$inference_lm" ] && stage_done "$lm_exp" "$lm_exp/.done" "$rec"; then
    log "  done"
  else
    # a model trained on other inputs is not resumed: ESPnet would load its checkpoint
    [ ! -f "$lm_exp/.inputs" ] || [ "$(cat "$lm_exp/.inputs")" = "$rec" ] || rm -rf "$lm_exp"
    rm -f "$lm_exp/.done"; mkdir -p "$lm_exp"
    stamp_write "$lm_exp/.inputs" "$rec"
    # shellcheck disable=SC2046,SC2086
    spawn $python -m adapters.bin.espnet lm_train --collect_stats true --use_preprocessor true --config "$lm_config" \
      $(tok_args) --cleaner none --g2p none --ngpu 0 --num_workers 0 \
      --train_data_path_and_name_and_type "$lm_text,text,text" --valid_data_path_and_name_and_type "$lm_valid,text,text" \
      --train_shape_file "$lm_text" --valid_shape_file "$lm_valid" --output_dir "$lm_exp/stats" ${lm_args} \
      > "$lm_exp/stats.log" 2>&1 || die "LM collect_stats failed; see $lm_exp/stats.log"
    vocab_shapes "$lm_exp/stats"
    # shellcheck disable=SC2046,SC2086
    $python -m adapters.bin.espnet lm_train --use_preprocessor true --config "$lm_config" $(tok_args) --cleaner none --g2p none \
      --ngpu "$ngpu" --resume true \
      --train_data_path_and_name_and_type "$lm_text,text,text" --valid_data_path_and_name_and_type "$lm_valid,text,text" \
      --train_shape_file "$lm_exp/stats/train/text_shape.${token_type}" \
      --valid_shape_file "$lm_exp/stats/valid/text_shape.${token_type}" \
      --output_dir "$lm_exp" ${lm_args} > "$lm_exp/train.log" 2>&1 &
    watch_training $! "$lm_exp" LM '^$' || die "LM training failed; see $lm_exp/train.log (rerun resumes from the last epoch)"
    [ -s "$lm_exp/$inference_lm" ] || die "$lm_exp/$inference_lm not found after training (--inference_lm)"
    stamp_write "$lm_exp/.done" "$rec"
  fi
fi

if "$use_lm" && [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "Stage 8: LM perplexity on $test_sets"
  for s in $test_sets; do
    out=$lm_exp/perplexity_$s
    rec=$(record lm "$(file_sig "$lm_exp/$inference_lm")" text "$(file_sig "${dumpdir}/raw/$s/text")")
    if ! { [ -s "$out/ppl" ] && stage_done "LM perplexity $s" "$out/.done" "$rec"; }; then
      rm -f "$out/.done"
      spawn $python -m adapters.bin.espnet lm_calc_perplexity --ngpu 0 --data_path_and_name_and_type "${dumpdir}/raw/$s/text,text,text" \
        --train_config "$lm_exp/config.yaml" --model_file "$lm_exp/$inference_lm" --output_dir "$out" \
        > "$out.log" 2>&1 || die "LM perplexity on $s failed; see $out.log"
      stamp_write "$out/.done" "$rec"
    fi
    log "  $s: perplexity $(printf '%.2f' "$(cat "$out/ppl")") per token"
  done
fi

# shellcheck disable=SC2086
[ "$stage" -gt 9 ] || [ "$stop_stage" -lt 9 ] || cache_stage asr "${asr_args}" $train_set $valid_set $test_sets


if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "Stage 10: ESPnet collect_stats -> $stats_dir"
  mkdir -p "$expdir"
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  stats_conf=${stats_config:-${configs[0]}}
  rec=$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" valid_data "$(data_sig "${dumpdir}/raw/${valid_set}")" \
    token_list "$(file_sig "$token_list")" config "$(file_sig "$stats_conf")" stats_args "$(echo $stats_args | md5sum | cut -c1-32)")
  if stage_done "$stats_dir" "$stats_dir/.done" "$rec" true; then
    log "  done"
  else
    rm -f "$stats_dir/.done"
    # shellcheck disable=SC2046,SC2086
    spawn $python -m adapters.bin.asr_train --collect_stats true --use_preprocessor true \
      --config "$stats_conf" $(tok_args) --ngpu 0 --num_workers 0 \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/wav.scp,speech,sound" \
      --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/text,text,text" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/wav.scp,speech,sound" \
      --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/text,text,text" \
      --train_shape_file "${dumpdir}/raw/${train_set}/wav.scp" \
      --valid_shape_file "${dumpdir}/raw/${valid_set}/wav.scp" \
      --output_dir "$stats_dir" ${stats_args} > "${stats_dir}.log" 2>&1 \
      || die "collect_stats failed; see ${stats_dir}.log"
    vocab_shapes "$stats_dir"
    stamp_write "$stats_dir/.done" "$rec"
  fi
fi

# asr_launch CONFIG DIR CACHE: the training command (train_one, lib.sh)
asr_launch() {
  # shellcheck disable=SC2046,SC2086
  $python -m adapters.bin.asr_train --config "$1" --use_preprocessor true $(tok_args) \
    --ngpu "$ngpu" --resume true \
    --train_data_path_and_name_and_type "$(speech_data "$3" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/text,text,text" \
    --valid_data_path_and_name_and_type "$(speech_data "$3" "$valid_set")" \
    --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/text,text,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --train_shape_file "${stats_dir}/train/text_shape.${token_type}" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/text_shape.${token_type}" \
    $(task_data_args train_ "${dumpdir}/raw/${train_set}") \
    $(task_data_args valid_ "${dumpdir}/raw/${valid_set}" | grep -v allow_variable) ${task_list:+--task_list $task_list} \
    --output_dir "$2" ${asr_args}
}
train_run() {  # $1: index into runs
  train_one asr "${runs[$1]}" "${configs[$1]}" "$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" \
    valid_data "$(data_sig "${dumpdir}/raw/${valid_set}")" token_list "$(file_sig "$token_list")" \
    task_list "$([ -z "$task_list" ] || file_sig "$task_list")")" 'cer_ctc=[^,]*' 'valid\] loss[^,]*, cer[^,]*' asr_launch
}

if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ]; then
  # once, before the parallel runs: each of them reads these files
  [ -z "$task_list" ] || task_ids "${dumpdir}/raw/${train_set}" "${dumpdir}/raw/${valid_set}"
  train_stage
fi

for i in "${!runs[@]}"; do
  run=${runs[$i]}; dir=${expdir}/asr_${run}

  dec=${dir}/decode_$(basename "${inference_config%.*}")
  if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
    [ -s "$dir/$inference_model" ] || die "$dir/$inference_model not found: train $run first (stage 11)"
    ! "$use_lm" || [ -s "$lm_exp/$inference_lm" ] \
      || die "$lm_exp/$inference_lm not found: train the language model first (stages 6-7), or decode without it (--use_lm false)"
    todo=()
    for s in $test_sets; do
      if [ -s "$dec/$s/text" ] && [ "$dec/$s/text" -nt "$dir/$inference_model" ]; then
        [ -e "$dec/$s/.done" ] || : > "$dec/$s/.done"  # decoded before stamps: judged by mtime, as then
        if stage_done "Stage 12: $run/$s" "$dec/$s/.done" "$(dec_record "$s")" true; then
          log "Stage 12: $run/$s: decoded"; continue
        fi
      fi
      todo+=("$s")
    done
    if [ ${#todo[@]} -gt 0 ]; then
      # one pass over all the sets when their utterance ids are distinct: each decoding
      # process pays ESPnet's import and the model load once, not once per set
      if [ -z "$(for s in "${todo[@]}"; do cut -d' ' -f1 "${dumpdir}/raw/$s/wav.scp"; done | sort | uniq -d | head -n 1)" ]; then
        decode_sets "$run" "$dir" "$dec" "${todo[@]}"
      else
        for s in "${todo[@]}"; do decode_sets "$run" "$dir" "$dec" "$s"; done
      fi
    fi
  fi

  if [ "$stage" -le 13 ] && [ "$stop_stage" -ge 13 ]; then
    # what the scores are made from: each set's references (its data dir) and hypotheses, and the
    # run's files that results.json reports (score_record, lib.sh)
    args=(); rec=$(score_record "$dir" "$test_sets")
    for s in $test_sets; do
      args+=(--test "$s" "${dumpdir}/raw/$s" "$dec/$s/text")
      rec+=$'\n'$(record "ref_$s" "$(data_sig "${dumpdir}/raw/$s")" "hyp_$s" "$(file_sig "$dec/$s/text")")
    done
    if outputs_done "Stage 13: $run" "$dir/.score.done" "$rec" "${SCORE_OUTPUTS[@]/#/$dir/}"; then
      log "Stage 13: $run: scored"
    else
      log "Stage 13: scoring $run"
      rm -f "$dir/.score.done"
      spawn $python -m adapters.bin.score_asr --exp "$dir" "${args[@]}" --inference_config "$inference_config" \
        ${lm_opts:+--lm "$lm_exp/$inference_lm"}
      stamp_write "$dir/.score.done" "$rec"
    fi
  fi
done

if [ "$stop_stage" -ge 13 ] && [ ${#runs[@]} -gt 0 ]; then
  compare_runs "${expdir}/asr_" "${runs[@]}"
fi
log "Successfully finished"
