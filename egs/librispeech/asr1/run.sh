#!/usr/bin/env bash
# LibriSpeech ASR with adapters on an s3prl upstream (CTC or RNN-T).
#   ./run.sh                                   # embedded default, default methods, CTC
#   ./run.sh --methods "hra elp" --decoder rnnt
#   LIBRISPEECH=/data/LibriSpeech ./run.sh --token_type bpe --nbpe 5000
# Options of ../../TEMPLATE/asr1/asr.sh can be given here (--stage, --stop_stage, --nj, --ngpu ...).
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh

# exec: asr.sh takes this process's place, so a TERM or INT sent to run.sh reaches the pipeline
exec ./asr.sh \
  --python "$PYTHON" \
  --train_set train_clean_100 \
  --valid_set dev_clean \
  --test_sets "test_clean test_other" \
  --token_type char \
  --decoder ctc \
  --use_lm true \
  --methods "frozen hra elp" \
  --stats_config conf/collect_stats.yaml \
  --train_jobs 3 \
  --upstream_ckpt ../../upstream/hubert_pretrained_small.pt \
  --upstream_family hubert --upstream_size pretrained \
  --min_wav_duration 0.3 --max_wav_duration 20 \
  "$@"
