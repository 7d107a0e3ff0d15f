# journeyflow — `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export JOURNEYFLOW_HOME ?= $(CURDIR)/.journeyflow
export UV_LINK_MODE ?= copy
RUN := $(UV) run --frozen

.PHONY: setup browser demo test test-fast lint up stop bench bench-big clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

setup: $(UV)
	$(UV) sync --frozen

demo: setup
	JOURNEYFLOW_MODE=local $(RUN) journeyflow demo --nights 5

# The cockpit's screenshots need Debian's chromium (driven by Playwright, no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the cockpit's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "the cockpit's browser tests need chromium: sudo apt-get install chromium" >&2; \
	    exit 1; \
	  fi; }

test: setup browser
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
