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

# Test files run side by side, one process per core and one more (TEST_WORKERS=1 for one process):
# a quarter of the time some test waits (retries, timeouts, servers starting), and the extra process
# fills that core. Each file runs whole in one process so its fixtures are built once; files with
# slow tests start first.
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(or $(TEST_WORKERS),$(shell echo $$(( $$(nproc) + 1 )))) --dist loadfile --no-loadscope-reorder

dev: $(VENV)/.installed
	export DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/var/dagster_home} && mkdir -p $$DAGSTER_HOME && \
	{ [ -f $$DAGSTER_HOME/dagster.yaml ] || cp deploy/dagster.yaml $$DAGSTER_HOME/; } && \
	$(BIN)/dg dev

# Not part of `make test`; about 40 minutes on 2 cores (the fleet days are generated once and cached):
#   bench.run       8 k (the fixed cost), 1 M, 3 M, 10 M and 30 M requests a day: the phases beside
#                   the whole `invoice-true run` command -> bench/results.md (the 30 M day's server
#                   holds ~13 GiB of rows: 24 GiB is enough for it and the pipeline)
#   bench.history   30 nights at 1 M requests a day, one run a night -> bench/history.md and .svg
#   bench.backfill  a 7-day run, days landed serially and side by side -> bench/backfill.md
#   bench.focus     the FOCUS adapter on a month of hourly rows (146,000) and a 5 M-row export
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run --requests-per-day $(or $(SCALES),8000 1000000 3000000 10000000 30000000)
	$(BIN)/python -m bench.history --nights 30 --requests-per-day 1000000
	$(BIN)/python -m bench.backfill --days 7 --requests-per-day 1000000
	$(BIN)/python -m bench.focus
	$(MAKE) bench-litellm

# A 10 M-request day read from LiteLLM's PostgreSQL beside the contract-API ingest of the same day
# (target: at most 1.5x); needs Debian's postgresql. Results in bench/litellm_results.json.
bench-litellm: $(VENV)/.installed
	$(BIN)/python -m bench.litellm --requests-per-day $(or $(LITELLM_SCALE),10000000) --contract

clean:
	rm -rf $(VENV) var .cache
