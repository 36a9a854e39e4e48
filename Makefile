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

test: venv lint
	$(PY) -m pytest $(PYTEST_ARGS)

data: venv
	$(PY) -m ramp_kit.data --n-train 2000 --n-test 500 --out $(DEMO_DIR)/student

demo: venv
	$(PY) -m server.demo --dir $(DEMO_DIR)

bench: venv
	$(PY) bench/bench_data.py
	$(PY) bench/bench_scoring.py

clean:
	rm -rf $(VENV) var build *.egg-info
