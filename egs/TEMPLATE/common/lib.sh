#!/usr/bin/env bash
# Shell helpers shared by the staged pipelines (asr.sh, cls.sh, spk.sh); sourced, not run.
__template_lib=${BASH_SOURCE[0]}  # read by parse_options.sh --help

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0")) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# ensure_upstream CKPT FAMILY SIZE: build the local upstream checkpoint the configs name, when missing
ensure_upstream() {
  local ckpt=$1 family=$2 size=$3
  [ -n "$ckpt" ] || return 0
  [ -s "$ckpt" ] && return 0
  if [ "$size" = pretrained ]; then
    log "pretraining the offline upstream $ckpt (HuBERT iteration 1 on synthetic speech; resumable)"
    spawn $python -m adapters.bin.pretrain_upstream --out "$ckpt"
  else
    log "building a randomly initialised upstream $ckpt ($family, $size)"
    spawn $python -m adapters.bin.make_upstream --family "$family" --size "$size" --out "$ckpt"
  fi
}

# share_cores JOBS: give each of JOBS concurrent trainings its share of the cores
share_cores() {
  if [ "$1" -gt 1 ] && [ -z "${OMP_NUM_THREADS:-}" ]; then
    export OMP_NUM_THREADS=$(( $(nproc) / $1 > 0 ? $(nproc) / $1 : 1 ))
  fi
}

# watch_training PID DIR NAME METRIC_REGEX: one progress line per finished epoch of an
# ESPnet training writing DIR/train.log, until PID exits; returns PID's status.  It looks once a
# second: the stage goes on as soon as the training ends (a 10 s sleep kept every training
# waiting 5 s on average after its end, and counted the wait in train_time_s).
watch_training() {
  local pid=$1 dir=$2 name=$3 metric=$4 seen=0 n line max
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1 & wait $!  # (a signal's trap runs at once, not after the sleep)
    n=$(grep -c "epoch results" "$dir/train.log" 2>/dev/null || true)
    while [ "${n:-0}" -gt "$seen" ]; do  # every epoch finished since the last look, in order
      seen=$(( seen + 1 ))
      line=$(grep "epoch results" "$dir/train.log" | sed -n "${seen}p")
      max=$(grep -m1 -o '^max_epoch: [0-9]*' "$dir/config.yaml" 2>/dev/null | cut -d' ' -f2)
      log "  $name: epoch $(echo "$line" | grep -o '[0-9]*epoch results' | cut -de -f1) of ${max:-?}," \
          "$(echo "$line" | grep -o ' time=[^,]*' | head -n 1 | sed 's/ time=/took /');" \
          "$(echo "$line" | grep -o 'valid\] [^,]*' | sed 's/\]//') $(echo "$line" | grep -oE "$metric" | tail -n 1)"
    done
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
  [ ${#res[@]} -eq 0 ] || spawn $python -m adapters.bin.compare "${res[@]}"
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
  spawn $python -m adapters.bin.cache_features "${args[@]}" --data_root "${dumpdir}/raw" --sets "${sets[@]}" \
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

# ---------------------------------------------------------------- the templates' shared stages
# The options every template (asr.sh, cls.sh, spk.sh) has, with their defaults; a template sets
# its own after this (and may change a default), then parses the command line.
template_options() {
  # General
  stage=1
  stop_stage=13
  ngpu=0               # ESPnet --ngpu for training (> 1: ESPnet's DDP); > 0 also runs stage 12 on one GPU
  nj=2                 # parallel jobs for format (and decoding)
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
  upstream_ckpt=       # local upstream checkpoint the configs name; built when missing
  upstream_family=hubert
  upstream_size=pretrained  # pretrained (adapters.bin.pretrain_upstream) | tiny | small | base (random init)
}

# check_template_options: the values of template_options' options (after parse_options.sh)
check_template_options() {
  require_stages
  require_int ngpu fs
  require_pos_int nj train_jobs
  require_num min_wav_duration max_wav_duration
  require_bool skip_bad use_cache skip_data_prep
  [ -n "$train_set" ] || die "--train_set is required"
  [ -n "$valid_set" ] || die "--valid_set is required"
  [ -n "$test_sets" ] || die "--test_sets is required"
}

# method_runs CONF_PREFIX RUN_PREFIX CONFIG CONFIG_RUN: the runs of stages 11-13 in the arrays
# runs (names) and configs: the run CONFIG_RUN of the one config CONFIG when it is given, else
# the run <RUN_PREFIX><method> of conf/<CONF_PREFIX>_<method>.yaml for each method in --methods
method_runs() {
  local prefix=$1 run_prefix=$2 config=$3 config_run=$4 m c
  runs=(); configs=()
  if [ -n "$config" ]; then
    runs+=("$config_run"); configs+=("$config")
    return 0
  fi
  for m in $methods; do
    c=conf/${prefix}_${m}.yaml
    [ -f "$c" ] || die "no config $c for method '$m' (available: $(ls conf/${prefix}_*.yaml 2>/dev/null | sed "s|conf/${prefix}_||; s|.yaml||" | tr '\n' ' '))"
    runs+=("${run_prefix}${m}"); configs+=("$c")
  done
}

# data_stage KALDI_ARG...: stage 1, local/data.sh (unless --skip_data_prep true), then each set's
# data dir checked (adapters.data.kaldi DIR KALDI_ARG... --no_audio)
data_stage() {
  local s
  if [ "$skip_data_prep" = true ]; then
    log "Stage 1: data prepared by the caller"
  else
    log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
    # shellcheck disable=SC2086
    spawn local/data.sh ${local_data_opts}
  fi
  for s in $train_set $valid_set $test_sets; do
    spawn $python -m adapters.data.kaldi "data/$s" "$@" --no_audio || die "data/$s is not a valid data directory"
  done
}

# format_stage "ORG_SET..." [AFTER]: stage 3, every set formatted and dumped to dumpdir/raw (the
# ORG_SETs to dumpdir/raw/org, which stage 4 filters); AFTER SET OUT runs after each set's format
format_stage() {
  local org=" $1 " after=${2:-} s out rec
  log "Stage 3: format and dump audio (${fs} Hz ${audio_format}) to ${dumpdir}/raw"
  for s in $train_set $valid_set $test_sets; do
    if [[ "$org" == *" $s "* ]]; then out=${dumpdir}/raw/org/$s; else out=${dumpdir}/raw/$s; fi
    rec=$(record data "$(data_sig "data/$s")" fs "$fs" audio_format "$audio_format" skip_bad "$skip_bad")
    if stage_done "$s" "$out/.done" "$rec" test "$out/.done" -nt "data/$s/wav.scp"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format format "data/$s" "$out" --dump_dir "${dumpdir}/audio/$s" \
      --fs "$fs" --audio_format "$audio_format" --nj "$nj" --skip_bad "$skip_bad"
    [ -z "$after" ] || "$after" "$s" "$out"
    stamp_write "$out/.done" "$rec"
  done
  # a held-out utterance with a training utterance's very samples scores memory: warn, naming them
  local train_dir= others=()
  for s in $train_set $valid_set $test_sets; do
    if [[ "$org" == *" $s "* ]]; then out=${dumpdir}/raw/org/$s; else out=${dumpdir}/raw/$s; fi
    if [ "$s" = "$train_set" ]; then train_dir=$out; else others+=("$out"); fi
  done
  [ ${#others[@]} -eq 0 ] || spawn $python -m adapters.data.overlap "$train_dir" "${others[@]}"
}

# filter_stage WHAT "SET..." FILTER_ARG...: stage 4, the SETs' utterances of the allowed
# durations (and whatever FILTER_ARGs ask) from dumpdir/raw/org/SET to dumpdir/raw/SET
filter_stage() {
  local what=$1 sets=$2 s out rec; shift 2
  log "Stage 4: keep ${min_wav_duration}-${max_wav_duration} s $what"
  for s in $sets; do
    out=${dumpdir}/raw/$s
    rec=$(record data "$(data_sig "${dumpdir}/raw/org/$s")" fs "$fs" min_sec "$min_wav_duration" max_sec "$max_wav_duration")
    if stage_done "$s" "$out/.done" "$rec"; then log "  $s: done"; continue; fi
    rm -f "$out/.done"
    spawn $python -m adapters.data.format filter "${dumpdir}/raw/org/$s" "$out" \
      --fs "$fs" --min_sec "$min_wav_duration" --max_sec "$max_wav_duration" "$@"
    stamp_write "$out/.done" "$rec"
  done
}

# cache_stage KIND TRAIN_ARGS SET...: stage 9 (feature_cache_stage) for every run (exp dir KIND_<run>)
cache_stage() {
  local kind=$1 train_args=$2 i; shift 2
  local -a cache_args=()
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  for i in "${!runs[@]}"; do cache_args+=("${kind}_${runs[$i]}" "${configs[$i]}"); done
  feature_cache_stage "$train_args" "${cache_args[@]}" -- "$@"
}

# train_one KIND RUN CONFIG RECORD METRIC SUMMARY LAUNCH [SAVE_CACHE]: stage 11 for one run, in
# exp dir KIND_RUN: skipped when trained on RECORD, refused when trained on other inputs
# (train_state); else LAUNCH CONFIG DIR CACHE (the template's training command, CACHE its
# feature cache or nothing) writes DIR/train.log, with a progress line per epoch (METRIC, the
# regex of the epoch's metric) and a last line with SUMMARY (a regex of the log).  With
# SAVE_CACHE true (the default), DIR/feature_cache names the cache for inference.
train_one() {
  local kind=$1 run=$2 config=$3 rec=$4 metric=$5 summary=$6 launch=$7 save_cache=${8:-true}
  local dir=${expdir}/${kind}_$2 verdict cache start
  # the config's content is an input too: a run resumed under another config would load a
  # checkpoint of another shape (or, worse, of the same shape and another meaning)
  rec="$rec"$'\n'"$(record config "$(file_sig "$config")")"
  verdict=$(train_state "$dir" "$config" "$rec")
  case "$verdict" in
    trained) log "Stage 11: $run: trained"; return 0 ;;
    refuse:*) log "ERROR: Stage 11: $run: ${verdict#refuse: }" >&2; return 1 ;;
  esac
  cache=$(run_cache "${kind}_$run")
  log "Stage 11: training $run ($config) -> $dir (log: $dir/train.log)${cache:+; frozen part from $cache}"
  mkdir -p "$dir"
  rm -f "$dir/.done"
  stamp_write "$dir/.inputs" "$rec"
  [ "$save_cache" != true ] || echo "$cache" > "$dir/feature_cache"
  start=$(date +%s)
  "$launch" "$config" "$dir" "$cache" > "$dir/train.log" 2>&1 &
  watch_training $! "$dir" "$run" "$metric" \
    || { log "ERROR: training $run failed; see $dir/train.log (rerun resumes from the last epoch)"; return 1; }
  echo $(( $(date +%s) - start + $(cat "$dir/train_time_s" 2>/dev/null || echo 0) )) > "$dir/train_time_s"
  stamp_write "$dir/.done" "$rec"
  log "Stage 11: $run trained in $(cat "$dir/train_time_s") s; $(grep -o "$summary" "$dir/train.log" | tail -n 1)"
}

# train_stage: stage 11, train_run (the template's: train_one with its record) for every run,
# --train_jobs at a time
train_stage() {
  # stage 10's shape files, which every training reads (ESPnet's own error names neither stage 10 nor a
  # remedy): an --expdir started at stage 11 has none
  [ -s "$stats_dir/train/speech_shape" ] || die "$stats_dir/train/speech_shape is missing: stage 10 writes it" \
    "(run from --stage 10; a new --expdir needs it too)"
  ensure_upstream "$upstream_ckpt" "$upstream_family" "$upstream_size"
  share_cores "$train_jobs"
  run_parallel "$train_jobs" train_run "${!runs[@]}" || die "training failed (see the logs named above)"
}

# ---------------------------------------------------------------- option values
# Kaldi's parse_options.sh checks that an option exists and has a value; these check its type.
# Each names the option, what it expected and what it got, and exits non-zero.

# require_int NAME...: each option a whole number >= 0 (stages, jobs, sizes)
require_int() {
  local n
  for n in "$@"; do
    [[ "${!n}" =~ ^[0-9]+$ ]] || die "--$n expects a whole number (0, 1, 2 ...), got '${!n}'"
  done
}
# require_pos_int NAME...: each option a whole number >= 1 (job counts)
require_pos_int() {
  local n
  for n in "$@"; do
    [[ "${!n}" =~ ^[0-9]+$ ]] && [ "${!n}" -ge 1 ] || die "--$n expects a whole number of at least 1, got '${!n}'"
  done
}
# require_num NAME...: each option a number (durations)
require_num() {
  local n
  for n in "$@"; do
    [[ "${!n}" =~ ^[0-9]*\.?[0-9]+$|^[0-9]+\.$ ]] || die "--$n expects a number (e.g. 0.5), got '${!n}'"
  done
}
# require_bool NAME...: each option true or false
require_bool() {
  local n
  for n in "$@"; do
    case "${!n}" in true|false) ;; *) die "--$n expects true or false, got '${!n}'" ;; esac
  done
}
# require_stages: --stage and --stop_stage whole numbers, and at least one stage between them
require_stages() {
  require_int stage stop_stage
  [ "$stage" -le "$stop_stage" ] || die "--stage $stage is after --stop_stage $stop_stage: no stage would run"
}

# ---------------------------------------------------------------- signals
# TERM and INT stop the whole job: the trap stops every process this script started (trainings
# run in the background, several at once with --train_jobs; their watchers; decoding jobs), so
# none lives on to write a .done later, and exits 143 (TERM) or 130 (INT).  A stage writes its
# .done only after it succeeded (stamp_write), so an interrupted stage never has one.
# Bash runs a trap only between commands: `spawn CMD` runs a long command so that the trap
# runs at once (`wait` returns when a signal comes; a foreground command would delay it).

# descendants PID: the live processes below PID (children first), from one snapshot of ps
descendants() {
  local self=$BASHPID  # the subshell this runs in, with its ps and awk: skipped
  ps -eo pid=,ppid=,stat= 2>/dev/null | awk -v root="$1" -v self="$self" '
    $3 !~ /^Z/ && $1 != self { kids[$2] = kids[$2] " " $1 }
    END { n = split(kids[root], q, " "); i = 1
          while (i <= n) { p = q[i++]; print p; m = split(kids[p], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }'
}

# stop_children: TERM every descendant (again for any started meanwhile), KILL what is left after 5 s
stop_children() {
  local pids round
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(descendants $$)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    if [ "$round" -lt 10 ]; then kill -TERM $pids 2>/dev/null || true; else kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.5
  done
}

_on_signal() {
  trap '' TERM INT  # a second signal while stopping does not cut the stopping short
  echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0")) caught SIG$1: stopping this job and every process it started" >&2
  stop_children
  [ "$1" = INT ] && exit 130
  exit 143
}
trap '_on_signal TERM' TERM
trap '_on_signal INT' INT

# spawn CMD ARGS...: CMD as a child that a signal stops at once; CMD's exit status
spawn() {
  "$@" &
  wait $!
}

# ---------------------------------------------------------------- stamps
# A stage's .done records what the stage was made from: one "key value" line per input (a data
# dir's signature, a corpus fingerprint, an option).  The stage is done when its .done records
# exactly what it would be made from now; otherwise it is redone (or, where redoing would throw
# away a trained model, refused with the reason).  An empty .done is an older pipeline's `touch`:
# it is judged as that pipeline judged it (by mtimes) and then given the record.

# data_sig DIR: the fingerprint of DIR's tables, a digest of their names and contents (never their
# mtimes: data prepared again byte for byte is the same data; the audio they point to is covered by
# the stamp of the stage that wrote them); "missing" when there is no DIR.  One implementation,
# adapters/data/fingerprint.py (results.json's provenance and the feature cache record it too), run
# as a script: it imports nothing outside Python's standard library.
FINGERPRINT_PY=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)/adapters/data/fingerprint.py
data_sig() {
  [ -f "$FINGERPRINT_PY" ] || die "$FINGERPRINT_PY not found (lib.sh computes data fingerprints with it)"
  ${python:-python3} -I "$FINGERPRINT_PY" "$1" || die "could not fingerprint the data dir $1"
}

# file_sig FILE...: a signature of the files' contents ("missing" for one that is not there)
file_sig() {
  local f
  for f in "$@"; do
    if [ -f "$f" ]; then echo "$f $(md5sum < "$f" | cut -c1-32)"; else echo "$f missing"; fi
  done | md5sum | cut -c1-32
}

# corpus_fingerprint DIR...: a cheap fingerprint of corpus trees: every file's path, size and
# mtime (not the contents), so that an edited, added or removed file changes it
corpus_fingerprint() {
  local d
  for d in "$@"; do
    [ -n "$d" ] || continue
    if [ -e "$d" ]; then
      echo "tree $d"
      find -L "$d" -type f -printf '%P %s %T@\n' 2>/dev/null | LC_ALL=C sort
    else
      echo "missing $d"
    fi
  done | md5sum | cut -c1-32
}

# stamp_state FILE RECORD: "done" when FILE records RECORD; "none" when there is no FILE;
# "legacy" when FILE is empty; otherwise "changed: KEY,..." (the keys whose values differ)
stamp_state() {
  local f=$1 rec=$2
  [ -f "$f" ] || { echo none; return 0; }
  [ -s "$f" ] || { echo legacy; return 0; }
  [ "$(cat "$f")" = "$rec" ] && { echo done; return 0; }
  echo "changed: $(awk 'NR == FNR { was[$1] = $0; next } { now[$1] = $0 }
      END { for (k in was) if (was[k] != now[k]) d[k]; for (k in now) if (was[k] != now[k]) d[k]
            s = ""; for (k in d) s = s (s == "" ? "" : ",") k; print s }' "$f" <(printf '%s\n' "$rec"))"
}

# stamp_write FILE RECORD: FILE records RECORD (written aside, then renamed: never half a stamp)
stamp_write() {
  local f=$1 rec=$2
  printf '%s\n' "$rec" > "$f.tmp.$$"
  mv -f "$f.tmp.$$" "$f"
}

# record KEY VALUE [KEY VALUE ...]: the lines of a stamp
record() {
  while [ $# -ge 2 ]; do printf '%s %s\n' "$1" "$2"; shift 2; done
}

# stage_done NAME STAMP RECORD [LEGACY_TEST...]: whether the stage is done (0) or must run (1),
# with a line saying why it runs again.  LEGACY_TEST is the old rule for an empty STAMP (a command;
# when it holds, the stamp gets RECORD and the stage counts as done).
stage_done() {
  local name=$1 f=$2 rec=$3 st; shift 3
  st=$(stamp_state "$f" "$rec")
  case "$st" in
    done) return 0 ;;
    none) return 1 ;;
    legacy)
      if [ $# -gt 0 ] && "$@"; then stamp_write "$f" "$rec"; return 0; fi
      log "  $name: its inputs are newer than its output: running it again"; return 1 ;;
    *) log "  $name: made from other inputs ($st since it ran): running it again"; return 1 ;;
  esac
}

# outputs_done NAME STAMP RECORD FILE...: stage_done NAME STAMP RECORD for a stage whose outputs
# are FILE... (stage 13's results): not done while one of them is missing or empty (it runs
# again, saying which)
outputs_done() {
  local name=$1 f=$2 rec=$3 o; shift 3
  for o in "$@"; do
    if [ ! -s "$o" ]; then
      [ ! -f "$f" ] || log "  $name: $o is missing: running it again"
      return 1
    fi
  done
  stage_done "$name" "$f" "$rec"
}

# Stage 13 (scoring) writes SCORE_OUTPUTS into the run's exp dir; it is done when they are there
# and its .score.done records what they were made from (outputs_done): score_record's lines, and
# each test set's references and hypotheses (the template's)
SCORE_OUTPUTS=(results.json RESULTS.md per_item.json)
# score_record DIR TESTS [KEY VALUE...]: the scoring stamp's lines that every template has: the test
# sets, the run's files that results.json reports besides the scores (config.yaml: method,
# upstream, training sets; model_info.json: parameter counts; train_time_s; peak_mem_mb) and the
# scoring options KEY VALUE
score_record() {
  local dir=$1 tests=$2; shift 2
  # shellcheck disable=SC2086
  record test_sets "$(echo $tests)" \
    run "$(file_sig "$dir/config.yaml" "$dir/model_info.json" "$dir/train_time_s" "$dir/peak_mem_mb")" "$@"
}

# replace_if_changed TMP DST: TMP becomes DST unless DST has the same contents (then DST, and
# its mtime, stay: later stages see nothing new)
replace_if_changed() {
  if [ -f "$2" ] && cmp -s "$1" "$2"; then rm -f "$1"; else mv -f "$1" "$2"; fi
}

# train_state DIR CONFIG RECORD: stage 11's verdict on the run in DIR: "trained" (its .done records
# RECORD, which train_one makes name CONFIG's content; a .done from before configs were recorded:
# its other inputs and a time newer than CONFIG's), "train" (to train, or to resume: ESPnet's --resume), or
# "refuse: REASON" when DIR was trained, or began training, on other inputs (resuming would mix
# them; training again would throw the model away: that is left to the user)
train_state() {
  local dir=$1 config=$2 rec=$3 f st done_st why
  for f in "$dir/.done" "$dir/.inputs"; do
    st=$(stamp_state "$f" "$rec")
    [ "$f" != "$dir/.done" ] || done_st=$st
    # a stamp written before the config was recorded: its other inputs are checked, and its
    # config by the modification times below
    if [[ $st == changed:* ]] && [[ $rec == *$'\n'config\ * ]] && ! grep -q '^config ' "$f"; then
      st=$(stamp_state "$f" "$(grep -v '^config ' <<< "$rec")")
    fi
    case "$st" in
      changed:*)
        why="${st#changed: } changed since $(basename "$f" | sed 's/.done/it finished/; s/.inputs/it started/')"
        [[ ,${st#changed: }, != *,config,* ]] || why="$why; its config: $config"
        echo "refuse: $dir was trained on other inputs ($why); move it away to train it on these"; return 0 ;;
    esac
  done
  if [ "$done_st" = done ] || { [ -f "$dir/.done" ] && [ "$dir/.done" -nt "$config" ]; }; then
    [ -s "$dir/.done" ] || stamp_write "$dir/.done" "$rec"  # an older pipeline's stamp gets its record
    echo trained
  else
    echo train
  fi
}

# corpus_done STAMP OLD RECORD: stage 1's check (local/data.sh): whether STAMP records RECORD (the
# corpus path, the options, corpus_fingerprint of its files).  A stamp of the older one-line kind
# equal to OLD is taken as it was then and gets RECORD.  Otherwise it says why it prepares again.
corpus_done() {
  local f=$1 old=$2 rec=$3 st
  if [ -n "$old" ] && [ -f "$f" ] && [ "$(cat "$f")" = "$old" ]; then stamp_write "$f" "$rec"; return 0; fi
  st=$(stamp_state "$f" "$rec")
  case "$st" in
    done) return 0 ;;
    none|legacy) return 1 ;;
    *) log "$(dirname "$f"): prepared from another corpus, other corpus files or other options" \
           "(${st}; the fingerprint is the corpus files' list, sizes and mtimes): preparing it again"
       return 1 ;;
  esac
}
