#!/usr/bin/env bash
# Emotion recognition (SUPERB ER: IEMOCAP, 4 classes, leave-one-session-out 5-fold) with adapters.
#   ./run.sh                              # embedded default, default methods, all five folds
#   ./run.sh --folds "1" --methods "lora" # one fold, one method
#   IEMOCAP=/data/IEMOCAP_full_release ./run.sh
# Options of ../../TEMPLATE/cls1/cls.sh can be given too (--stage, --stop_stage, --train_jobs ...);
# each fold is one cls.sh run (exp/cls_fold<k>_<method>), averaged into exp/cls_5fold_<method>.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ../../TEMPLATE/common/lib.sh  # die, spawn, the signal trap (TERM/INT stop cls.sh and its trainings)

folds="1 2 3 4 5"
methods="frozen hra elp"
expdir=exp
args=()
while [ $# -gt 0 ]; do  # take our options; hand the rest to cls.sh (which checks them)
  case "$1" in --folds|--methods|--expdir) [ $# -ge 2 ] || die "option $1 needs a value" ;; esac
  case "$1" in
    --folds) folds=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --expdir) expdir=$2; args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$(echo $folds)" ] || die "--folds expects one or more of 1 2 3 4 5, got nothing"
for k in $folds; do [[ "$k" =~ ^[1-5]$ ]] || die "--folds expects folds among 1 2 3 4 5 (IEMOCAP's sessions), got '$k'"; done
[ "$(echo $folds | tr ' ' '\n' | sort | uniq -d)" = "" ] || die "--folds names a fold twice: '$folds'"
[ -n "$(echo $methods)" ] || die "--methods expects one or more methods, got nothing"

first=true
for k in $folds; do
  spawn ./cls.sh --python "$PYTHON" --task_name er \
    --train_set "fold$k/train" --valid_set "fold$k/dev" --test_sets "fold$k/test" --run_prefix "fold${k}_" \
    --skip_data_prep "$([ "$first" = true ] && echo false || echo true)" --methods "$methods" --train_jobs 3 \
    --upstream_ckpt ../../upstream/hubert_pretrained_small.pt --upstream_family hubert --upstream_size pretrained \
    --min_wav_duration 0.3 --max_wav_duration 15 "${args[@]}"
  first=false
done

# the protocol's number: accuracy averaged over the five folds
n=$(echo "$folds" | wc -w)
for m in $methods; do
  res=(); for k in $folds; do [ -f "$expdir/cls_fold${k}_$m/results.json" ] && res+=("$expdir/cls_fold${k}_$m/results.json"); done
  [ ${#res[@]} -eq "$n" ] || continue  # stopped before scoring
  spawn $PYTHON -m adapters.bin.aggregate_folds --expected "$n" --out "$expdir/cls_${n}fold_$m" "${res[@]}"
done
agg=(); for m in $methods; do [ -f "$expdir/cls_${n}fold_$m/results.json" ] && agg+=("$expdir/cls_${n}fold_$m/results.json"); done
[ ${#agg[@]} -eq 0 ] || spawn $PYTHON -m adapters.bin.compare "${agg[@]}"
