# One command to run the tracker, one to test it. Both create ./.venv on first use, with the
# versions constraints.txt pins: `make run` installs what the tracker needs to run, `make test`
# adds the test tools.
PYTHON ?= python3
PORT ?= 8080
HOST ?= 127.0.0.1
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet -c constraints.txt
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test bench clean chromium

run: $(RUN_STAMP)  # make run PORT=8081 HOST=0.0.0.0
	$(BIN)/tracker run --host $(HOST) --port $(PORT)

# The lint first (ruff, configured in pyproject.toml), then the suite in three pytest workers (each with
# its own database and Redis database): the suite mostly waits
# on the processes it starts, so this halves its wall time on 2 cores. `-n 0` runs it serially.
test: $(TEST_STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 3

# The browser tests (tests/browser) drive Debian's chromium. As root, a missing one is installed
# here; otherwise those tests fail and say how to install it (they never pass without a browser).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	fi

bench: $(BENCH_STAMP)
	$(BIN)/python bench/ingest.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(TEST_STAMP): setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(RUN_STAMP)

$(BENCH_STAMP): $(TEST_STAMP)
	$(PIP) -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) var *.egg-info
