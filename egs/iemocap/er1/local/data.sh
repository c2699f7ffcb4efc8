#!/usr/bin/env bash
# Stage 1 of run.sh: IEMOCAP (real, or synthesized in its layout) -> data/fold{1..5}/{train,dev,test}
# (leave one session out; dev is a stratified share of the training sessions).
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

valid_ratio=0.2
synth_utts_per_actor=32   # embedded default only: 4-class utterances per actor (10 actors)
nj=2
. ../../../tools/parse_options.sh

if [ -z "$IEMOCAP" ]; then
  echo "IEMOCAP is empty: using the embedded mini IEMOCAP under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.iemocap --out "$SYNTH_CACHE/iemocap_synth" \
           --utts_per_actor "$synth_utts_per_actor" --nj "$nj" | tail -n 1)
else
  root=$IEMOCAP
fi
rec=$(record source "$root" valid_ratio "$valid_ratio" fingerprint "$(corpus_fingerprint "$root")")
if [ -f data/.done ] && [ data/.done -nt db.sh ] && corpus_done data/.done "$root $valid_ratio" "$rec"; then
  echo "data/: done"; exit 0
fi
rm -f data/.done
spawn $PYTHON -m adapters.data.iemocap "$root" data --valid_ratio "$valid_ratio"
stamp_write data/.done "$rec"
