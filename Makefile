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

# uv installs the pinned stack, not pip: pip holds every downloaded wheel (3 GB, most of it the
# CUDA libraries that PyPI's torch 2.11 brings even to a CPU machine) until the last one is
# installed; uv unpacks as it downloads and hardlinks from its cache, kept inside the venv so that
# it shares the venv's file system and goes with `make clean`.  --compile-bytecode: pip writes the
# .pyc files at install time and uv does not, and where PYTHONDONTWRITEBYTECODE is set (as on this
# project's machines) nothing ever writes them: every process then compiled ESPnet and torch
# again (importing espnet2.tasks.asr: 18.7 s against 10.5; make demo-quick 22.1 min against 14.3).
# Measured here from an empty venv: pip 7.4 GB of disk at the peak and 2.5 min, uv 5.8 GB and
# 57 s, the same versions (ci_sdr too).  --system-certs: the system's CA bundle, as pip uses here.
UV_VERSION := 0.13.9
INSTALL_NEEDS_MB := 6000
$(STAMP): setup.py
	@free_mb=$$(df -Pm . | awk 'NR==2 {print $$4}'); \
	if [ "$$free_mb" -lt $(INSTALL_NEEDS_MB) ]; then \
	  echo "make install: $$free_mb MB free on $$(df -P . | awk 'NR==2 {print $$6}'), the install needs $(INSTALL_NEEDS_MB) MB" >&2; exit 1; fi
	python3 -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	UV_CACHE_DIR=$(VENV)/.uv-cache $(VENV)/bin/uv pip install -q --compile-bytecode --system-certs --python $(PY) -e ".[test]"
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
