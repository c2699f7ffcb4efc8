# One-command install, tests and demo.  `make test` and `make demo` install first if needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := espeak-ng sox libsox-fmt-all flac
STAMP := $(VENV)/.installed

.PHONY: install apt venv test test-all demo demo-quick bench pretrain probe clean

install: apt $(STAMP)

apt:
	@bash tools/install_apt.sh $(APT_PACKAGES)

# pip 23.2 is the resolver that accepts espnet's dependency ci_sdr (newer pip
# rejects its git URL extra even though we never request that extra).
$(STAMP): setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q "pip==23.2.1"
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

test: install
	bash ci/test.sh

test-all: install
	$(PY) -m pytest -m "" test

# The SUPERB benchmark: every recipe and method, sized for 2 cores (resumable: run it again after an interruption).
demo: install
	bash ci/demo.sh

# The same recipes on less data, fewer epochs and three methods (frozen hra elp; MT-ASR frozen hra fusion), in exp_quick/.
demo-quick: install
	bash ci/demo.sh --profile quick

bench: install
	$(PY) -m adapters.bin.bench_methods --family hubert --size tiny --json exp/bench/bench_methods.json

# The offline default upstream: HuBERT iteration 1 on synthetic speech (about 20 min on 2 cores).
pretrain: install
	$(PY) -m adapters.bin.pretrain_upstream --out egs/upstream/hubert_pretrained_small.pt --work_dir cache/pretrain_small

probe: install
	$(PY) -m adapters.bin.probe_upstream --upstream egs/upstream/hubert_pretrained_small.pt --json exp/probe/probe_upstream.json

clean:
	rm -rf $(VENV) *.egg-info
