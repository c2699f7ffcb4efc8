#!/usr/bin/env bash
# Stage 1 of run.sh: VoxCeleb1 (real, or synthesized in its layout) -> data/sid_{train,dev,test}
# (identification, iden_split.txt) and data/asv_{train,dev,test} (verification: train on the
# speakers outside the trial list, validate on held-out trials of those, test on the official list).
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

trials=              # default: veri_test2.txt, else veri_test.txt
dev_trials=100
synth_speakers=40    # embedded default only
synth_test_speakers=10
synth_videos=5       # videos (recording channels) per speaker: one goes to the SID test (with 3 the
synth_utts_per_video=2  # models learnt the 2 training channels, not the speakers: RESULTS.md)
nj=2
. ../../../tools/parse_options.sh

if [ -z "$VOXCELEB1" ]; then
  echo "VOXCELEB1 is empty: using the embedded mini VoxCeleb1 under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.voxceleb --out "$SYNTH_CACHE/voxceleb_synth" \
           --speakers "$synth_speakers" --test_speakers "$synth_test_speakers" \
           --videos "$synth_videos" --utts_per_video "$synth_utts_per_video" --nj "$nj" | tail -n 1)
else
  root=$VOXCELEB1
fi
rec=$(record source "$root" trials "${trials:--}" dev_trials "$dev_trials" fingerprint "$(corpus_fingerprint "$root")")
if [ -f data/.done ] && [ data/.done -nt db.sh ] && corpus_done data/.done "$root $trials $dev_trials" "$rec"; then
  echo "data/: done"; exit 0
fi
rm -f data/.done
spawn $PYTHON -m adapters.data.voxceleb "$root" data --dev_trials "$dev_trials" ${trials:+--trials "$trials"}
stamp_write data/.done "$rec"
