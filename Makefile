# journeyflow — `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export JOURNEYFLOW_HOME ?= $(CURDIR)/.journeyflow
export UV_LINK_MODE ?= copy
RUN := $(UV) run --frozen

.PHONY: setup demo test test-fast lint up stop bench bench-big clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

setup: $(UV)
	$(UV) sync --frozen

demo: setup
	JOURNEYFLOW_MODE=local $(RUN) journeyflow demo

test: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) pytest -n 2 --dist loadfile

test-fast: setup
	$(RUN) pytest -n 2 --dist loadfile -m "not slow"

lint: setup
	$(RUN) ruff check . && $(RUN) ruff format --check .

up: setup
	JOURNEYFLOW_MODE=local $(RUN) journeyflow up

stop: setup
	$(RUN) journeyflow stop

bench: setup
	$(RUN) python bench/extract_load.py --contacts 100000

bench-big: setup
	$(RUN) python bench/extract_load.py --contacts 1000000

clean:
	-$(RUN) journeyflow stop-db
	rm -rf .journeyflow
