#!/usr/bin/env bash
# VoxCeleb1 with adapters on an s3prl upstream: speaker identification (SUPERB SID, accuracy,
# ESPnet's classification task) and speaker verification (SUPERB ASV, EER and minDCF,
# ESPnet's speaker task with cosine scoring).
#   ./run.sh                               # embedded default, both tasks, default methods
#   ./run.sh --tasks asv --methods "lora houlsby"
#   VOXCELEB1=/data/VoxCeleb1 ./run.sh
# Other options go to ../../TEMPLATE/cls1/cls.sh (SID) and ../../TEMPLATE/spk1/spk.sh (ASV).
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ../../TEMPLATE/common/lib.sh  # die, spawn, the signal trap (TERM/INT stop cls.sh/spk.sh and their trainings)

tasks="sid asv"
methods="frozen hra elp"
args=(); cls_only=(); spk_only=()
while [ $# -gt 0 ]; do  # options of one template go to that one only (the templates check them)
  case "$1" in
    --tasks|--methods|--cls_args|--cls_config|--spk_args|--spk_config) [ $# -ge 2 ] || die "option $1 needs a value" ;;
  esac
  case "$1" in
    --tasks) tasks=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --cls_args|--cls_config) cls_only+=("$1" "$2"); shift 2 ;;
    --spk_args|--spk_config) spk_only+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
common=(--python "$PYTHON" --methods "$methods" --train_jobs 3
        --upstream_ckpt ../../upstream/hubert_pretrained_small.pt
        --upstream_family hubert --upstream_size pretrained)

[ -n "$(echo $tasks)" ] || die "--tasks expects sid, asv or both, got nothing"
for t in $tasks; do
  case "$t" in sid|asv) ;; *) die "--tasks expects sid, asv or both, got '$t'" ;; esac
done
first=true
for t in $tasks; do
  skip=$([ "$first" = true ] && echo false || echo true); first=false
  case "$t" in
    sid) spawn ./cls.sh "${common[@]}" --task_name sid --conf_prefix train_sid --skip_data_prep "$skip" \
           --train_set sid_train --valid_set sid_dev --test_sets sid_test \
           --min_wav_duration 0.5 --max_wav_duration 20 "${args[@]}" "${cls_only[@]}" ;;
    asv) spawn ./spk.sh "${common[@]}" --task_name asv --conf_prefix train_asv --skip_data_prep "$skip" \
           --train_set asv_train --valid_set asv_dev --test_sets asv_test \
           --min_wav_duration 1.0 --max_wav_duration 20 "${args[@]}" "${spk_only[@]}" ;;
    *) echo "unknown task '$t' (sid, asv)" >&2; exit 1 ;;
  esac
done
