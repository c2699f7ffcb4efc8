#!/usr/bin/env bash
# Keyword spotting (SUPERB KS: Speech Commands v0.01, 12 classes) with adapters on an s3prl upstream.
#   ./run.sh                                  # embedded default, default methods
#   ./run.sh --methods "frozen lora houlsby"
#   SPEECH_COMMANDS=/data/speech_commands_v0.01 SPEECH_COMMANDS_TEST=/data/speech_commands_test_set_v0.01 ./run.sh
#   ./run.sh --local_data_opts "--version v0.02"   # the 35-word task
# Options of ../../TEMPLATE/cls1/cls.sh can be given here (--stage, --stop_stage, --train_jobs ...).
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh

# exec: cls.sh takes this process's place, so a TERM or INT sent to run.sh reaches the pipeline
exec ./cls.sh \
  --python "$PYTHON" \
  --task_name ks \
  --train_set train \
  --valid_set dev \
  --test_sets test \
  --methods "frozen hra elp" \
  --train_jobs 3 \
  --upstream_ckpt ../../upstream/hubert_pretrained_small.pt \
  --upstream_family hubert --upstream_size pretrained \
  --min_wav_duration 0.1 --max_wav_duration 2 \
  "$@"
