# Corpus locations.  Empty means: synthesize the embedded default (a mini VoxCeleb1 in the
# real layout: wav/idNNNNN/<video>/NNNNN.wav, iden_split.txt, veri_test2.txt; speakers are
# espeak-ng voices, videos are channels) and prepare it with the same code as the real corpus.
# VOXCELEB1: the folder holding wav/, iden_split.txt and veri_test2.txt (or veri_test.txt).
VOXCELEB1=${VOXCELEB1:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
