#!/usr/bin/env bash
# Stage 1 of run.sh: TORGO (real, or synthesized in its layout) -> data/<set> with utt2task,
# data/tasks (the seen tasks) and data/tasks_all (seen, new, zero-shot).
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

synth_impaired=19   # embedded default only: impaired speakers (each a task), up to 128
synth_typical=4     # typical (control) speakers, together the task "typical"
synth_prompts=40    # prompts per speaker
synth_vocab=20      # words the prompts draw from (20: digits and commands; up to 50 TORGO-like words)
zeroshot=           # tasks held out whole (default: the last --zeroshot_count impaired speakers)
# default: 4 on the embedded corpus (one held-out speaker made attention-vs-Avg a coin toss:
# see RESULTS.md), 1 on real TORGO, which has 8 impaired speakers
zeroshot_count=
new=                # tasks added later by training only their HRA head (default: the one before the zero-shot ones)
nj=2
. ../../../tools/parse_options.sh

if [ -z "$TORGO" ]; then
  echo "TORGO is empty: using the embedded TORGO-like corpus under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.torgo --out "$SYNTH_CACHE/torgo_synth_${synth_impaired}" \
           --impaired "$synth_impaired" --typical "$synth_typical" --prompts "$synth_prompts" --vocab "$synth_vocab" --nj "$nj" | tail -n 1)
  zeroshot_count=${zeroshot_count:-4}
else
  root=$TORGO
  zeroshot_count=${zeroshot_count:-1}
fi
rec=$(record source "$root" zeroshot "${zeroshot:--}" zeroshot_count "$zeroshot_count" new "${new:--}" \
  fingerprint "$(corpus_fingerprint "$root")")
if [ -f data/.done ] && [ -s data/tasks_all ] && corpus_done data/.done "$root $zeroshot $zeroshot_count $new" "$rec"; then
  echo "data: done"; exit 0
fi
rm -f data/.done
spawn $PYTHON -m adapters.data.torgo "$root" data ${zeroshot:+--zeroshot $zeroshot} --zeroshot_count "$zeroshot_count" \
  ${new:+--new $new}
stamp_write data/.done "$rec"
