# Corpus locations.  Empty means: synthesize the embedded default (a mini-LibriSpeech
# in LibriSpeech's own layout) and prepare it with the same code as the real corpus.
# LIBRISPEECH is the folder holding train-clean-100/ ... (or the one holding LibriSpeech/).
LIBRISPEECH=${LIBRISPEECH:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
