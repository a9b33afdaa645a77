# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PKGS := -e services/common -e services/tools -e services/cf_service -e services/audio_service -e services/gateway
PIP := $(BIN)/pip install --disable-pip-version-check -q
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: run test install install-dev lint typecheck bench bench-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade "pip>=24" "setuptools>=70" wheel

# Runtime dependencies (no test tools); stamp reinstalls when a requirements file changes.
$(VENV)/.installed-run: $(BIN)/python requirements/*.txt services/*/pyproject.toml
	$(PIP) -r requirements/run.txt -c requirements/constraints.txt
	@# tinysoundfont renders MIDI in-process; its pyaudio dependency (playback only) does not build.
	$(PIP) --no-deps -c requirements/constraints.txt tinysoundfont
	$(PIP) --no-deps --no-build-isolation $(PKGS)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run requirements/dev.txt
	$(PIP) -r requirements/dev.txt -c requirements/constraints.txt
	@# Browser tests drive Debian's Chromium with Playwright (`playwright install` cannot download here).
	@test -x /usr/bin/chromium || command -v chromium >/dev/null || \
		{ echo "installing Debian's chromium for the browser tests"; \
		  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); }
	@# tests/deploy validate docker-compose.yml with `docker compose config` (v2 plugin), else Debian's docker-compose.
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || \
		{ echo "installing Debian's docker-compose for the deployment tests"; \
		  (apt-get install -y -q docker-compose >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q docker-compose >/dev/null)); }
	@# tests/deploy/test_nginx.py runs deploy/nginx/default.conf in a real nginx in front of the test gateway.
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		{ echo "installing Debian's nginx-light for the deployment tests"; \
		  (apt-get install -y -q nginx-light >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null)); }
	@# tests/cf/test_spark.py runs pyspark (needs Java 17+); Spark's ALS solves ~2x faster with a native BLAS/LAPACK.
	@command -v java >/dev/null && test -e /usr/lib/x86_64-linux-gnu/liblapack.so.3 -o -e /usr/lib/aarch64-linux-gnu/liblapack.so.3 || \
		{ echo "installing Debian's Java runtime and OpenBLAS for the Spark tests"; \
		  (apt-get install -y -q openjdk-17-jre-headless libopenblas0-pthread >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless libopenblas0-pthread >/dev/null)); }
	@# A second General MIDI SoundFont (FluidR3_GM, MIT) for the versioned catalog; optional, nothing fails without it.
	@test -e /usr/share/sounds/sf2/FluidR3_GM.sf2 || \
		{ echo "installing Debian's fluid-soundfont-gm for the versioned catalog"; \
		  (apt-get install -y -q fluid-soundfont-gm >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q fluid-soundfont-gm >/dev/null) || true); }
	touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## Start Redis (embedded), cf_service, audio_service and the gateway; Ctrl-C stops them all.
run: install
	$(BIN)/python -m musicrec_tools.devstack

## Install what the tests need and run the whole suite.
test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python bench/bench_loader.py

## Re-run the recorded ranking-quality figures (about 2 minutes); fails where bench/RESULTS.md no longer reproduces.
bench-check: install
	$(BIN)/python bench/check_quality.py

clean:
	rm -rf var .pytest_cache
