# Two commands on a fresh machine with Python 3.11 and pip:
#   make demo   runs the main job on the bundled fixture fleet
#   make test   runs the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test dev bench bench-litellm clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/invoice-true demo || [ $$? -eq 2 ]  # 2: published, but a check flagged a day

test: $(VENV)/.installed
	$(BIN)/python -m pytest

dev: $(VENV)/.installed
	export DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/var/dagster_home} && mkdir -p $$DAGSTER_HOME && \
	{ [ -f $$DAGSTER_HOME/dagster.yaml ] || cp deploy/dagster.yaml $$DAGSTER_HOME/; } && \
	$(BIN)/dg dev

# Not part of `make test`: generates (and caches) up to a 10 M-request day; about 7 minutes.
# bench.focus: the FOCUS adapter on a month of hourly rows (144,000) and on a 5 M-row export.
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run --requests-per-day $(or $(SCALES),1000000 3000000 10000000)
	$(BIN)/python -m bench.focus
	$(MAKE) bench-litellm

# A 10 M-request day read from LiteLLM's PostgreSQL beside the contract-API ingest of the same day
# (target: at most 1.5x); needs Debian's postgresql. Results in bench/litellm_results.json.
bench-litellm: $(VENV)/.installed
	$(BIN)/python -m bench.litellm --requests-per-day $(or $(LITELLM_SCALE),10000000) --contract

clean:
	rm -rf $(VENV) var .cache
