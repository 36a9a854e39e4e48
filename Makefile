# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= var/demo

.PHONY: venv test lint demo data bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# With DEBLEND_TEST_POSTGRES_URL set (as .ci/run does), the database tests run again on
# PostgreSQL after the whole suite has run on SQLite.
test: venv lint
	$(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$DEBLEND_TEST_POSTGRES_URL" ]; then \
		echo "== database tests on PostgreSQL"; \
		DEBLEND_TEST_DATABASE_URL="$$DEBLEND_TEST_POSTGRES_URL" $(PY) -m pytest $(PYTEST_ARGS) \
			-m "not browser" tests/web tests/engine/test_scheduling.py; \
	fi

data: venv
	$(PY) -m ramp_kit.data --n-train 2000 --n-test 500 --out $(DEMO_DIR)/student

demo: venv
	$(PY) -m server.demo --dir $(DEMO_DIR)

# Benchmarks measure and print; run them on an otherwise idle machine (about 5 minutes).
bench: venv
	$(PY) bench/bench_data.py
	$(PY) bench/bench_scoring.py
	$(PY) bench/bench_engine.py
	$(PY) bench/bench_leaderboard.py
	$(PY) bench/bench_slurm.py  # as root, with Slurm up: deploy/dask/one-node-slurm.sh

clean:
	rm -rf $(VENV) var build *.egg-info
