#!/usr/bin/env bash
# The multi-task ASR pipeline (a task per speaker, say), on asr.sh, with ESPnet's stage numbers:
#   1-10  asr.sh's data, tokens and stats (../asr1/asr.sh), with the task list --task_list
#   11-13 the multi-task runs (--methods): frozen, finetune, per-task houlsby, hra (shared
#         controller + a head per task, mixed-task batches), lora / bitfit / elp (one
#         adapter shared by all tasks, no task id); after them, the runs that adapt a
#         trained run's model with it frozen (with fusion in --methods: extract, A-AF stage 1,
#         one adapter per task on the frozen run's ASR model, so each adapter learns from its
#         own task alone; decoded with task ids it is the task-id routing baseline);
#   14    adapter-only files of the runs later runs start from (exp/asr_ctc_extract/adapters/<task>.pt,
#         exp/asr_ctc_hra/adapters/adapter.pt), and the serving pack of a run tasks are added to
#         (exp/asr_ctc_hra/pack.zip: adapters.bin.infer serves every task from it);
#   15    the compositions of per-task adapters (A-AF stage 2, fusion in --methods: `fusion`,
#         attention fusion + LayerNorm, the paper's A-AF, and the --aaf_methods compositions of
#         the stage-1 files), no task id at decoding, downstream started from stage 1's;
#   16    runs that add the new task(s) to a trained run (hra in --methods, --new_task true:
#         only their heads train, everything else frozen); checks that the old tasks'
#         decodings are unchanged;
#   17    the multi-task table over every trained run: exp/multitask/RESULTS.md and results.json;
#         the claims' verdicts (--claims); where the attention fusion looks
#         (exp/multitask/fusion_weights.md, adapters.bin.fusion_weights).
# Which run goes to which stage is the catalogue's (adapters.catalogue.multitask_plan: a run's
# `after`, `adds_tasks`, `frozen_base`): this script knows no method by name.
# Data (local/data.sh): utt2task in every set; --seen_tasks lists the tasks trained on,
# --task_list every task (seen, new, zero-shot; adapters.tasks.TaskSet: task ids index it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../TEMPLATE/common/lib.sh"

stage=1
stop_stage=17
methods="frozen hra"
aaf_methods="aaf_avg"   # more compositions of the same adapters, trained when one in --methods composes; also: aaf_wavg aaf_attention_noln aaf_attention_update aaf_avg_update aaf_wavg_update aaf_attention_ownout aaf_attention_vreg
new_task=true        # stage 16
train_jobs=1
nj=2
token_type=bpe
expdir=exp
dumpdir=dump
asr_args=
local_data_opts=
use_cache=true       # the upstream's frozen part computed once (asr.sh stage 9)
cache_dtype=float32
python=${PYTHON:-python3}
train_set=train
valid_set=dev
test_set=test                  # the seen tasks' test set
zeroshot_set=test_zeroshot     # tasks never trained on
new_sets="train_new dev_new test_new"  # the task(s) added in stage 16: train, valid, test
seen_tasks=data/tasks          # the tasks of stages 11-15
task_list=data/tasks_all       # every task: the ids of utt2task_id index it
fallback_task=                 # the task whose adapter decodes the zero-shot tasks
stats_config=
upstream_ckpt=
upstream_family=hubert
upstream_size=pretrained
min_wav_duration=0.1
max_wav_duration=30
claims=conf/claims.yaml        # stage 17: the claims checked (adapters.bin.claims), if the file is there
. "$(dirname "${BASH_SOURCE[0]}")/../../../tools/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
require_stages
require_pos_int nj train_jobs
require_bool new_task use_cache
read -r new_train new_valid new_test <<< "$new_sets"

common=(--python "$python" --expdir "$expdir" --dumpdir "$dumpdir" --nj "$nj" --train_jobs "$train_jobs"
        --use_cache "$use_cache" --cache_dtype "$cache_dtype"
        --token_type "$token_type" --decoder ctc ${stats_config:+--stats_config "$stats_config"}
        --task_list "$task_list" ${fallback_task:+--fallback_task "$fallback_task"}
        --upstream_ckpt "$upstream_ckpt" --upstream_family "$upstream_family" --upstream_size "$upstream_size"
        --min_wav_duration "$min_wav_duration" --max_wav_duration "$max_wav_duration")
main_sets=(--train_set "$train_set" --valid_set "$valid_set" --test_sets "$test_set $zeroshot_set")
list() { paste -sd, "$1"; }
# the runs of each stage (scratch_runs, adapt_runs, export_runs, compose_runs, compose_base,
# addtask_runs, table_runs): a run asked for brings the runs it starts from (fusion: frozen, extract)
plan=$($python -m adapters.bin.multitask_plan --methods "$methods" --compositions "$aaf_methods" --new_task "$new_task") \
  || die "no plan for --methods '$methods' --aaf_methods '$aaf_methods' (above)"
eval "$plan"
adapt_names=$(for ra in $adapt_runs; do echo "${ra%%:*}"; done | paste -sd' ')
model=valid.loss.ave.pth
# downstream (projection, encoder, CTC, layer weights) of a trained run, for --init_param
init_downstream() {
  local m=$1/$model k
  for k in encoder ctc frontend.featurizer; do printf -- "%s:%s:%s " "$m" "$k" "$k"; done
}

if [ "$stage" -le 10 ]; then
  spawn ./asr.sh "${common[@]}" "${main_sets[@]}" --stage "$stage" --stop_stage $(( stop_stage < 10 ? stop_stage : 10 )) \
    --methods "$scratch_runs${adapt_names:+ $adapt_names}" --local_data_opts "$local_data_opts"
fi
[ "$stop_stage" -ge 11 ] || exit 0
[ -s "$seen_tasks" ] || die "$seen_tasks missing: run stage 1 first"
tasks=$(list "$seen_tasks")
# the tasks of the stage-16 data (in --task_list's order, though task ids do not depend on it)
new_tasks=$( (grep -Fxf <(cut -d' ' -f2 "data/$new_train/utt2task" 2>/dev/null | sort -u) "$task_list" || true) | paste -sd,)
log "seen tasks: $tasks; new: ${new_tasks:-none}; zero-shot: $(cut -d' ' -f2 "data/$zeroshot_set/utt2task" | sort -u | paste -sd,)"

s11=$(( stage > 11 ? stage : 11 ))
if [ "$stage" -le 13 ] && [ -n "$scratch_runs" ]; then
  spawn ./asr.sh "${common[@]}" "${main_sets[@]}" --stage "$s11" --stop_stage $(( stop_stage < 13 ? stop_stage : 13 )) \
    --methods "$scratch_runs" --asr_args "--frontend_conf tasks=[$tasks] $asr_args"
fi
# A-AF stage 1: the single-task adapters learn on the frozen run's ASR model (upstream,
# downstream, CTC and layer weights all frozen), as the paper trains them on its frozen base
# model: one routed run is then exactly one adapter trained per task, from that task's
# utterances alone.  With the downstream trained beside them (as until 2026-12-03) every
# adapter fitted a downstream shared with the other tasks and routing was worse than the
# frozen model itself (70.3 against 69.1 mean WER on the Euphonia default)
for ra in $([ "$stage" -le 13 ] && echo "$adapt_runs"); do
  run=${ra%%:*} base=$expdir/asr_ctc_${ra#*:}
  [ -s "$base/$model" ] || die "$run adapts the ${ra#*:} run's ASR model: $base/$model is missing (train ${ra#*:}, stages 11-13)"
  spawn ./asr.sh "${common[@]}" "${main_sets[@]}" --stage "$s11" --stop_stage $(( stop_stage < 13 ? stop_stage : 13 )) \
    --methods "$run" --asr_args "--frontend_conf tasks=[$tasks] --init_param $(init_downstream "$base") \
      --freeze_param encoder ctc frontend.featurizer $asr_args"
done

if [ "$stage" -le 14 ] && [ "$stop_stage" -ge 14 ]; then
  for re in $export_runs; do
    run=${re%%:*} per_task=${re#*:} dir=$expdir/asr_ctc_${re%%:*}
    [ -s "$dir/$model" ] || continue
    if [ -s "$dir/adapters/adapters.json" ] && [ "$dir/adapters/adapters.json" -nt "$dir/$model" ]; then
      log "Stage 14: $dir/adapters: done"
    else
      log "Stage 14: adapter-only files of $run -> $dir/adapters"
      spawn $python -m adapters.bin.export_adapters --config "$dir/config.yaml" --model "$dir/$model" \
        --out "$dir/adapters" --per_task "$per_task"
    fi
    # a run tasks are added to serves them all from one upstream: its pack (adapters.bin.pack,
    # adapters.bin.infer) holds every task's parts, the downstream, tokens and decoding options
    if [ "$per_task" = false ] && ! { [ -s "$dir/pack.zip" ] && [ "$dir/pack.zip" -nt "$dir/$model" ]; }; then
      log "Stage 14: the serving pack of $run -> $dir/pack.zip"
      spawn $python -m adapters.bin.pack "$dir" --out "$dir/pack.zip" --model_file "$model"
    fi
  done
fi

if [ "$stage" -le 15 ] && [ "$stop_stage" -ge 15 ] && [ -n "$compose_runs" ]; then
  ext=$expdir/asr_ctc_$compose_base
  [ -s "$ext/adapters/adapters.json" ] || die "stage 15 needs the per-task adapters of $ext: run stages 11-14 with --methods '$methods'"
  paths=$(for t in $(cat "$seen_tasks"); do echo "$ext/adapters/$t.pt"; done | paste -sd,)
  # from stage 9 (their feature cache: the extraction run's, built already) on; asr.sh skips
  # what is done
  spawn ./asr.sh "${common[@]}" "${main_sets[@]}" --stage 9 --stop_stage 13 --methods "$compose_runs" \
    --asr_args "--frontend_conf method_conf.adapter_paths=[$paths] --init_param $(init_downstream "$ext") $asr_args"
fi

for ra in $([ "$stage" -le 16 ] && [ "$stop_stage" -ge 16 ] && echo "$addtask_runs"); do
  run=${ra%%:*} base=$expdir/asr_ctc_${ra#*:}
  [ -n "$new_tasks" ] || die "stage 16: no new task in data/$new_train (local/data.sh --new names it; --new_task false skips the stage)"
  [ -s "$base/adapters/adapter.pt" ] || die "stage 16: $run adds a task to the trained ${ra#*:} run: $base/adapters/adapter.pt is missing (--methods ${ra#*:}, stages 11-14)"
  # the new task's data goes through stages 3-4 and its own shape statistics (always from
  # stage 3: a run started at stage 11 has not formatted them; done stages are skipped);
  # the token list stays
  spawn ./asr.sh "${common[@]}" --train_set "$new_train" --valid_set "$new_valid" --test_sets "$new_test $test_set" \
    --stage 3 --stop_stage 13 --methods "$run" \
    --stats_dir "$expdir/asr_stats_${token_type}_new" --bpe_train_text "$dumpdir/raw/$train_set/text" \
    --asr_args "--freeze_param encoder ctc frontend.featurizer --init_param $(init_downstream "$base") \
      --frontend_conf tasks=[$tasks,$new_tasks] --frontend_conf train_tasks=[$new_tasks] \
      --frontend_conf adapter_init=$base/adapters/adapter.pt $asr_args"
  before=$base/decode_decode_ctc/$test_set/text after=$expdir/asr_ctc_$run/decode_decode_ctc/$test_set/text
  if cmp -s "$before" "$after"; then
    log "Stage 16: the seen tasks' decodings are identical before and after adding ${new_tasks}"
  else
    die "Stage 16: adding ${new_tasks} changed the seen tasks' decodings (diff $before $after)"
  fi
done

if [ "$stage" -le 17 ] && [ "$stop_stage" -ge 17 ]; then
  log "Stage 17: the multi-task table -> $expdir/multitask"
  args=()
  for r in "${table_runs[@]}"; do  # every known run: run|label|SUPERB row ('-': its method's)
    IFS='|' read -r run label row <<< "$r"
    [ -s "$expdir/asr_ctc_$run/results.json" ] && args+=(--run "$label" "$row" "$expdir/asr_ctc_$run")
  done
  [ ${#args[@]} -gt 0 ] || die "stage 17: no trained run under $expdir"
  spawn $python -m adapters.bin.score_multitask --data "$dumpdir/raw" --decode decode_decode_ctc --out "$expdir/multitask" "${args[@]}"
  # the papers' claims (HRA vs per-task adapters, A-AF vs task-id routing, ELP vs fine-tuning) with their intervals
  if [ -f "$claims" ]; then
    spawn $python -m adapters.bin.claims --spec "$claims" --exp "$expdir" --out "$expdir/multitask/claims.md"
  fi
  inspect=${compose_runs%% *}  # the composition asked for in --methods (skipped unless an attention fusion)
  if [ -n "$inspect" ] && [ -s "$expdir/asr_ctc_$inspect/results.json" ]; then
    # where the attention fusion looks, per layer, on seen and on held-out speakers
    spawn $python -m adapters.bin.fusion_weights "$expdir/asr_ctc_$inspect" --data "$dumpdir/raw/$test_set" "$dumpdir/raw/$zeroshot_set" \
      --model_file "$model" --out "$expdir/multitask/fusion_weights" --skip_other
  fi
fi
log "Successfully finished"
