#!/usr/bin/env bash
# Stage 1 of run.sh: Speech Commands (real, or synthesized in its layout) -> data/{train,dev,test}.
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

version=v0.01        # v0.01: SUPERB's 12 classes; v0.02: its 35 words as classes
synth_speakers=120   # embedded default only
synth_aux=3          # embedded default only: non-command words per speaker
nj=2
. ../../../tools/parse_options.sh

if [ -z "$SPEECH_COMMANDS" ]; then
  echo "SPEECH_COMMANDS is empty: using the embedded mini Speech Commands under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.speech_commands --out "$SYNTH_CACHE/speech_commands_synth" \
           --speakers "$synth_speakers" --aux_per_speaker "$synth_aux" --nj "$nj" | tail -n 1)
else
  root=$SPEECH_COMMANDS
fi
rec=$(record source "$root" test_source "${SPEECH_COMMANDS_TEST:--}" version "$version" \
  fingerprint "$(corpus_fingerprint "$root" ${SPEECH_COMMANDS_TEST:+"$SPEECH_COMMANDS_TEST"})")
if [ -f data/.done ] && [ data/.done -nt db.sh ] && corpus_done data/.done "$root $version" "$rec"; then
  echo "data/: done"; exit 0
fi
rm -f data/.done
spawn $PYTHON -m adapters.data.speech_commands "$root" data --version "$version" \
  ${SPEECH_COMMANDS_TEST:+--test_root "$SPEECH_COMMANDS_TEST"}
stamp_write data/.done "$rec"
