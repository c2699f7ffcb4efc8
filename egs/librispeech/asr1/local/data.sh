#!/usr/bin/env bash
# Stage 1 of run.sh: LibriSpeech (real, or synthesized in its layout) -> data/<set>.
set -euo pipefail
. ./path.sh
. ./db.sh

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
for part in $parts; do
  dir=data/$(echo "$part" | tr - _)
  if [ -s "$dir/wav.scp" ] && [ -f "$dir/.done" ]; then echo "$dir: done"; continue; fi
  $PYTHON -m adapters.data.librispeech "$root" "$part" "$dir"
  touch "$dir/.done"
done
