# Corpus locations.  Empty means: synthesize the embedded default (a mini Speech Commands
# in the real corpus's v0.01 layout) and prepare it with the same code as the real corpus.
# SPEECH_COMMANDS: the folder with the word folders, validation_list.txt, testing_list.txt
# and _background_noise_ (v0.01 for the SUPERB protocol; v0.02 with --version v0.02).
SPEECH_COMMANDS=${SPEECH_COMMANDS:-}
# SUPERB's test set: the separate speech_commands_test_set_v0.01 (label folders); empty:
# testing_list.txt of SPEECH_COMMANDS.
SPEECH_COMMANDS_TEST=${SPEECH_COMMANDS_TEST:-}
# where the embedded default is synthesized (cached; reused across runs)
SYNTH_CACHE=${SYNTH_CACHE:-downloads}
