#!/usr/bin/env bash
# Euphonia-like multi-task ASR: each impaired speaker is a task, plus "typical" speech.
#   ./run.sh                                   # embedded default (19 impaired speakers, 4 held out
#                                              # for zero-shot, 1 added later), everything below
#   ./run.sh --local_data_opts "--synth_impaired 128"
#   TORGO=/data/TORGO ./run.sh --local_data_opts "--zeroshot M05 --new F04"
# Stages (ESPnet's numbers): 1-13 data, tokens, stats and the multi-task runs (--methods;
# ../../TEMPLATE/asr1/asr.sh), 14 adapter-only files, 15 A-AF's compositions (fusion and
# --aaf_methods), 16 HRA adds the new task, 17 the multi-task table and the claims
# (conf/claims.yaml): see ../../TEMPLATE/asr1/multitask.sh, whose options can be given here.
# Data (local/data.sh): data/tasks (the seen tasks), data/tasks_all (seen, new, zero-shot:
# the task list); train/dev/test, test_zeroshot, train_new/dev_new/test_new.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh

# exec: multitask.sh takes this process's place, so a TERM or INT sent to run.sh reaches the pipeline
exec ./multitask.sh \
  --python "$PYTHON" \
  --methods "frozen finetune houlsby hra elp fusion" \
  --aaf_methods "aaf_avg" \
  --train_jobs 3 \
  --token_type word \
  --train_set train --valid_set dev --test_set test --zeroshot_set test_zeroshot \
  --new_sets "train_new dev_new test_new" \
  --seen_tasks data/tasks --task_list data/tasks_all --fallback_task typical \
  --stats_config conf/collect_stats.yaml \
  --upstream_ckpt ../../upstream/hubert_pretrained_small.pt \
  --upstream_family hubert --upstream_size pretrained \
  --min_wav_duration 0.3 --max_wav_duration 20 \
  "$@"
