# Corpus location.  Empty means: synthesize the embedded default (a TORGO-like corpus of
# impaired and typical speakers in TORGO's own layout) and prepare it with the same code.
# TORGO is the folder holding the speaker folders (F01/ ... or F/F01/ ...).
TORGO=${TORGO:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
