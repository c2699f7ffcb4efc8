#!/usr/bin/env bash
# Stage 1 of run.sh: LibriSpeech (real, or synthesized in its layout) -> data/<set>.
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

synth_scale=1.0   # embedded default only: utterances per chapter x this
nj=2
. ../../../tools/parse_options.sh

parts="train-clean-100 dev-clean test-clean test-other"
if [ -z "$LIBRISPEECH" ]; then
  echo "LIBRISPEECH is empty: using the embedded mini-LibriSpeech under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.librispeech --out "$SYNTH_CACHE/librispeech_synth" \
           --scale "$synth_scale" --nj "$nj" | tail -n 1)
else
  root=$LIBRISPEECH
fi
dirs=
for part in $parts; do
  dir=data/$(echo "$part" | tr - _)
  dirs="$dirs $dir"
  src=$root/$part; [ -d "$src" ] || src=$root/LibriSpeech/$part
  rec=$(record source "$root" part "$part" fingerprint "$(corpus_fingerprint "$src")")
  # a set prepared before stamps recorded their source (an empty .done) is taken as it was then
  [ -s "$dir/wav.scp" ] && [ -f "$dir/.done" ] && [ ! -s "$dir/.done" ] && stamp_write "$dir/.done" "$rec"
  if [ -s "$dir/wav.scp" ] && corpus_done "$dir/.done" "" "$rec"; then echo "$dir: done"; continue; fi
  rm -f "$dir/.done"
  spawn $PYTHON -m adapters.data.librispeech "$root" "$part" "$dir"
  stamp_write "$dir/.done" "$rec"
done
# leakage: the sets must share no utterance and no speaker (cheap: reads utt2spk only)
$PYTHON -m adapters.data.librispeech --check_disjoint $dirs
