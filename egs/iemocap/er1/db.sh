# Corpus locations.  Empty means: synthesize the embedded default (a mini IEMOCAP in the
# real release's layout, emotions made audible by rate, pitch, loudness and sox effects)
# and prepare it with the same code as the real corpus.
# IEMOCAP: the IEMOCAP_full_release folder (holding Session1 ... Session5), or its parent.
IEMOCAP=${IEMOCAP:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
