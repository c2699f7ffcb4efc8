# Corpus locations.  Empty means: synthesize the embedded default (a mini-LibriSpeech
# in LibriSpeech's own layout) and prepare it with the same code as the real corpus.
# LIBRISPEECH is the folder holding train-clean-100/ ... (or the one holding LibriSpeech/).
LIBRISPEECH=${LIBRISPEECH:-}
# the language-model text (OpenSLR 11's librispeech-lm-norm.txt.gz) for a real corpus; empty: the LM
# (--use_lm true) trains on the training transcripts only.  The embedded default has its own.
LIBRISPEECH_LM_TEXT=${LIBRISPEECH_LM_TEXT:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
