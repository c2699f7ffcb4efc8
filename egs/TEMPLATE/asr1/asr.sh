#!/usr/bin/env bash
# The staged ASR pipeline shared by the ASR recipes, with ESPnet's stage numbers:
#   1 data (local/data.sh)    3 format/dump audio     4 filter short/long utterances
#   5 tokens (bpe|char)       9 frozen-upstream cache  10 ESPnet collect_stats
#  11 train                  12 decode                13 score
# Stages 11-13 run once per method in --methods (conf/train_<decoder>_<method>.yaml).
# Every stage skips what is complete and resumes what was interrupted: its .done records what it
# was made from (data signatures, options; lib.sh), and it runs again when that changed.
# TERM or INT stops every process the pipeline started, and no stage is then marked done.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/lib.sh"

# General
stage=1
stop_stage=13
ngpu=0               # ESPnet --ngpu
nj=2                 # parallel jobs for format and decoding
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

# Tokens
token_type=bpe       # bpe | char | word
nbpe=300
bpemode=unigram
bpe_train_text=      # default: the training set's text

# Model
decoder=ctc          # ctc | rnnt: picks conf/train_<decoder>_<method>.yaml
methods=frozen       # one or more adapter methods, each a run
asr_config=          # one explicit config (overrides decoder/methods)
asr_tag=
asr_args=            # extra arguments for asr_train
stats_config=        # config for collect_stats (default: the first run's config)
stats_args=          # extra arguments for collect_stats
stats_dir=           # default: ${expdir}/asr_stats_<token tag>
task_list=           # multi-task data: file of task names; utt2task -> utt2task_id (indices into it),
                     # passed to training and decoding so each utterance reaches its task's adapter
fallback_task=       # decoding: the task whose adapter decodes tasks the model does not know (zero-shot)
upstream_ckpt=       # local upstream checkpoint the configs name; built when missing
upstream_family=hubert
upstream_size=pretrained  # pretrained (adapters.bin.pretrain_upstream) | tiny | small | base (random init)

# Decoding
inference_config=    # default: conf/decode_<decoder>.yaml
inference_args=
inference_model=valid.loss.ave.pth

. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
require_stages
require_int ngpu fs nbpe
require_pos_int nj train_jobs
require_num min_wav_duration max_wav_duration
require_bool skip_bad use_cache

[ -n "$train_set" ] || die "--train_set is required"
[ -n "$valid_set" ] || die "--valid_set is required"
[ -n "$test_sets" ] || die "--test_sets is required"
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

# task_ids DIR: DIR/utt2task_id (each utterance's index in --task_list) from DIR/utt2task
task_ids() {
  local d=$1
  [ -s "$task_list" ] || die "--task_list $task_list: missing or empty"
  [ -s "$d/utt2task" ] || die "$d/utt2task missing: multi-task data (--task_list) names each utterance's task"
  [ -s "$d/utt2task_id" ] && [ "$d/utt2task_id" -nt "$d/utt2task" ] && [ "$d/utt2task_id" -nt "$task_list" ] && return 0
  local tmp
  tmp=$(mktemp "$d/utt2task_id.XXXXXX")
  awk 'NR == FNR { id[$1] = FNR - 1; next }
       !($2 in id) { printf "utterance %s: task %s is not in %s\n", $1, $2, list > "/dev/stderr"; bad = 1; exit 1 }
       { print $1, id[$2] }' list="$task_list" "$task_list" "$d/utt2task" > "$tmp" \
    || { rm -f "$tmp"; die "$d/utt2task names a task outside --task_list"; }
  mv "$tmp" "$d/utt2task_id"
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
    for s in "$@"; do task_ids "${dumpdir}/raw/$s"; done
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
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 $python -m adapters.bin.asr_inference --config "$inference_config" --ngpu 0 \
      --data_path_and_name_and_type "$speech" --key_file "$k" \
      --asr_train_config "$dir/config.yaml" --asr_model_file "$dir/$inference_model" \
      --output_dir "$out/output.$j" ${task_opts} ${inference_args} > "$out/decode.$j.log" 2>&1 &
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
    config "$(file_sig "$inference_config")"
}

# run name -> config
declare -a runs=() configs=()
if [ -n "$asr_config" ]; then
  runs+=("${asr_tag:-$(basename "${asr_config%.*}")}"); configs+=("$asr_config")
else
  for m in $methods; do
    c=conf/train_${decoder}_${m}.yaml
    [ -f "$c" ] || die "no config $c for method '$m' (available: $(ls conf/train_${decoder}_*.yaml 2>/dev/null | sed "s|conf/train_${decoder}_||; s|.yaml||" | tr '\n' ' '))"
    runs+=("${asr_tag:+${asr_tag}_}${decoder}_${m}"); configs+=("$c")
  done
fi
[ -n "$inference_config" ] || inference_config=conf/decode_${decoder}.yaml

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
  # shellcheck disable=SC2086
  spawn local/data.sh ${local_data_opts}
  for s in $train_set $valid_set $test_sets; do
    spawn $python -m adapters.data.kaldi data/$s --no_audio || die "data/$s is not a valid data directory"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "Stage 3: format and dump audio (${fs} Hz ${audio_format}) to ${dumpdir}/raw"
  for s in $train_set $valid_set $test_sets; do
    if [ "$s" = "$train_set" ] || [ "$s" = "$valid_set" ]; then out=${dumpdir}/raw/org/$s; else out=${dumpdir}/raw/$s; fi
    rec=$(record data "$(data_sig "data/$s")" fs "$fs" audio_format "$audio_format" skip_bad "$skip_bad")
    if stage_done "$s" "$out/.done" "$rec" test "$out/.done" -nt "data/$s/wav.scp"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format format data/$s "$out" --dump_dir "${dumpdir}/audio/$s" \
      --fs "$fs" --audio_format "$audio_format" --nj "$nj" --skip_bad "$skip_bad"
    spawn $python -m adapters.data.kaldi "$out" --fs "$fs" --no_audio
    stamp_write "$out/.done" "$rec"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: keep ${min_wav_duration}-${max_wav_duration} s utterances with a transcript"
  for s in $train_set $valid_set; do
    out=${dumpdir}/raw/$s
    rec=$(record data "$(data_sig "${dumpdir}/raw/org/$s")" fs "$fs" min_sec "$min_wav_duration" max_sec "$max_wav_duration")
    if stage_done "$s" "$out/.done" "$rec"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format filter ${dumpdir}/raw/org/$s "$out" \
      --fs "$fs" --min_sec "$min_wav_duration" --max_sec "$max_wav_duration"
    stamp_write "$out/.done" "$rec"
  done
fi

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
      spawn $python -m espnet2.bin.spm_train --input="${token_dir}/train.txt" --vocab_size="$nbpe" \
        --model_type="$bpemode" --model_prefix="${token_dir}/bpe" --character_coverage=1.0 \
        --input_sentence_size=100000000
      tok_opts="--token_type bpe --bpemodel $bpemodel"
    else
      tok_opts="--token_type $token_type"
    fi
    # shellcheck disable=SC2086
    spawn $python -m espnet2.bin.tokenize_text --input "${token_dir}/train.txt" --output "${token_list}.tmp" \
      $tok_opts --field 1- --cleaner none --g2p none --write_vocabulary true \
      --add_symbol "<blank>:0" --add_symbol "<unk>:1" --add_symbol "<sos/eos>:-1"
    replace_if_changed "${token_list}.tmp" "$token_list"
    stamp_write "${token_dir}/.done" "$rec"
  fi
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  cache_args=()
  for i in "${!runs[@]}"; do cache_args+=("asr_${runs[$i]}" "${configs[$i]}"); done
  # shellcheck disable=SC2086
  feature_cache_stage "${asr_args}" "${cache_args[@]}" -- $train_set $valid_set $test_sets
fi

tok_args() {
  echo "--token_type $token_type --token_list $token_list $([ "$token_type" = bpe ] && echo "--bpemodel $bpemodel")"
}

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
    # ESPnet's shape files for the token sequences carry the vocabulary size
    for part in train valid; do
      awk -v N="$(wc -l < "$token_list")" '{ print $0 "," N }' "$stats_dir/$part/text_shape" \
        > "$stats_dir/$part/text_shape.${token_type}"
    done
    stamp_write "$stats_dir/.done" "$rec"
  fi
fi

train_run() {  # $1: index into runs
  local run=${runs[$1]} config=${configs[$1]} dir=${expdir}/asr_${runs[$1]} start cache
  local rec verdict
  rec=$(record train_data "$(data_sig "${dumpdir}/raw/${train_set}")" valid_data "$(data_sig "${dumpdir}/raw/${valid_set}")" \
    token_list "$(file_sig "$token_list")" task_list "$([ -z "$task_list" ] || file_sig "$task_list")")
  verdict=$(train_state "$dir" "$config" "$rec")
  case "$verdict" in
    trained) log "Stage 11: $run: trained"; return 0 ;;
    refuse:*) log "ERROR: Stage 11: $run: ${verdict#refuse: }" >&2; return 1 ;;
  esac
  cache=$(run_cache "asr_$run")
  log "Stage 11: training $run ($config) -> $dir (log: $dir/train.log)${cache:+; frozen part from $cache}"
  mkdir -p "$dir"
  rm -f "$dir/.done"
  stamp_write "$dir/.inputs" "$rec"
  echo "$cache" > "$dir/feature_cache"
  start=$(date +%s)
  # shellcheck disable=SC2046,SC2086
  $python -m adapters.bin.asr_train --config "$config" --use_preprocessor true $(tok_args) \
    --ngpu "$ngpu" --resume true \
    --train_data_path_and_name_and_type "$(speech_data "$cache" "$train_set")" \
    --train_data_path_and_name_and_type "${dumpdir}/raw/${train_set}/text,text,text" \
    --valid_data_path_and_name_and_type "$(speech_data "$cache" "$valid_set")" \
    --valid_data_path_and_name_and_type "${dumpdir}/raw/${valid_set}/text,text,text" \
    --train_shape_file "${stats_dir}/train/speech_shape" \
    --train_shape_file "${stats_dir}/train/text_shape.${token_type}" \
    --valid_shape_file "${stats_dir}/valid/speech_shape" \
    --valid_shape_file "${stats_dir}/valid/text_shape.${token_type}" \
    $(task_data_args train_ "${dumpdir}/raw/${train_set}") \
    $(task_data_args valid_ "${dumpdir}/raw/${valid_set}" | grep -v allow_variable) \
    --output_dir "$dir" ${asr_args} > "$dir/train.log" 2>&1 &
  watch_training $! "$dir" "$run" 'cer_ctc=[^,]*' \
    || { log "ERROR: training $run failed; see $dir/train.log (rerun resumes from the last epoch)"; return 1; }
  echo $(( $(date +%s) - start + $(cat "$dir/train_time_s" 2>/dev/null || echo 0) )) > "$dir/train_time_s"
  stamp_write "$dir/.done" "$rec"
  log "Stage 11: $run trained in $(cat "$dir/train_time_s") s; $(grep -o 'valid\] loss[^,]*, cer[^,]*' "$dir/train.log" | tail -n 1)"
}

if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ]; then
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  # once, before the parallel runs: each of them reads these files
  [ -z "$task_list" ] || { task_ids "${dumpdir}/raw/${train_set}"; task_ids "${dumpdir}/raw/${valid_set}"; }
  share_cores "$train_jobs"
  run_parallel "$train_jobs" train_run "${!runs[@]}" || die "training failed (see the logs named above)"
fi

for i in "${!runs[@]}"; do
  run=${runs[$i]}; dir=${expdir}/asr_${run}

  dec=${dir}/decode_$(basename "${inference_config%.*}")
  if [ "$stage" -le 12 ] && [ "$stop_stage" -ge 12 ]; then
    [ -s "$dir/$inference_model" ] || die "$dir/$inference_model not found: train $run first (stage 11)"
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
      spawn $python -m adapters.bin.score_asr --exp "$dir" "${args[@]}"
      stamp_write "$dir/.score.done" "$rec"
    fi
  fi
done

if [ "$stop_stage" -ge 13 ] && [ ${#runs[@]} -gt 0 ]; then
  compare_runs "${expdir}/asr_" "${runs[@]}"
fi
log "Successfully finished"
