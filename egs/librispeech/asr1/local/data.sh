#!/usr/bin/env bash
# Stage 1 of run.sh: LibriSpeech (real, or synthesized in its layout) -> data/<set>.
set -euo pipefail
. ./path.sh
. ./db.sh
. ../../TEMPLATE/common/lib.sh  # corpus_fingerprint, corpus_done, the signal trap

synth_scale=1.0   # embedded default only: utterances per chapter x this
synth_test_scale= # the same for test_clean and test_other only (empty: synth_scale)
synth_test_other_scale= # the same for test_other alone (empty: synth_test_scale)
synth_train_speakers= # the training utterances spread over this many speakers (empty: 48, two chapters each)
synth_train_chapters= # chapters each training speaker reads (empty: 2); dev and test stay the same
lm_text_lines=0   # language-model text: keep its first N sentences (0: all; the real one has 40 M)
nj=2
. ../../../tools/parse_options.sh

parts="train-clean-100 dev-clean test-clean test-other"
if [ -z "$LIBRISPEECH" ]; then
  echo "LIBRISPEECH is empty: using the embedded mini-LibriSpeech under $SYNTH_CACHE"
  root=$($PYTHON -m adapters.synth.librispeech --out "$SYNTH_CACHE/librispeech_synth" \
           --scale "$synth_scale" ${synth_test_scale:+--test_scale "$synth_test_scale"} \
           ${synth_test_other_scale:+--test_other_scale "$synth_test_other_scale"} \
           ${synth_train_speakers:+--train_speakers "$synth_train_speakers"} \
           ${synth_train_chapters:+--train_chapters "$synth_train_chapters"} --nj "$nj" | tail -n 1)
  lm_text=$SYNTH_CACHE/librispeech_synth/librispeech-lm-norm.txt.gz
else
  root=$LIBRISPEECH
  lm_text=$LIBRISPEECH_LM_TEXT
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

# The language model's extra text, as ESPnet's LibriSpeech recipe keeps it: data/local/other_text/text,
# one "<id> <sentence>" a line (stages 6-8 train on it with the training transcripts)
other=data/local/other_text
if [ -z "$lm_text" ]; then
  echo "LIBRISPEECH_LM_TEXT is empty: a language model (--use_lm true) trains on the training transcripts only"
  rm -rf "$other"
else
  [ -s "$lm_text" ] || { echo "ERROR: the language-model text $lm_text is missing or empty (LIBRISPEECH_LM_TEXT, db.sh)" >&2; exit 1; }
  rec=$(record source "$lm_text" lines "$lm_text_lines" fingerprint "$(corpus_fingerprint "$lm_text")")
  if [ -s "$other/text" ] && corpus_done "$other/.done" "" "$rec"; then
    echo "$other: done"
  else
    rm -f "$other/.done"; mkdir -p "$other"
    case "$lm_text" in *.gz) cat_lm="gzip -dc" ;; *) cat_lm=cat ;; esac
    # awk stops reading after --lm_text_lines: the reader's SIGPIPE (141) is then no error
    set +o pipefail
    $cat_lm "$lm_text" | awk -v n="$lm_text_lines" 'n > 0 && NR > n { exit } NF { printf("librispeech_lm_norm_%08d %s\n", NR, $0) }' \
      > "$other/text.tmp"
    st=("${PIPESTATUS[@]}")
    set -o pipefail
    { [ "${st[1]}" -eq 0 ] && { [ "${st[0]}" -eq 0 ] || [ "${st[0]}" -eq 141 ]; }; } \
      || { echo "ERROR: could not read the language-model text $lm_text ($cat_lm: status ${st[0]})" >&2; exit 1; }
    [ -s "$other/text.tmp" ] || { echo "ERROR: no sentence in the language-model text $lm_text" >&2; exit 1; }
    mv "$other/text.tmp" "$other/text"
    stamp_write "$other/.done" "$rec"
    echo "$other/text: $(wc -l < "$other/text") sentences from $lm_text"
  fi
fi
