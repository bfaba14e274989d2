# The two commands a newcomer needs:  make lab   and   make test
# Both create .venv on first use and install everything the project needs into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Users get an unpinned torch (pyproject.toml says torch>=2.2). CI pins the CPU wheel by passing, e.g.,
#   make test TORCH_SPEC=torch==2.13.0
TORCH_SPEC ?=
STAMP := $(VENV)/.installed-stamp
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers, CI); harmless otherwise.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

# Notebooks run in the smoke budget under test, offline, without progress bars.
TEST_ENV := MMO_BUDGET=smoke MMO_OFFLINE=1 MPLBACKEND=Agg PYTHONHASHSEED=0
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 --nbval-kernel-startup-timeout=120

.PHONY: lab test unit notebooks lint format install clean student site browser course-tests bench bench-full

# The course-experience tests (student version, site, widgets in Chromium) execute every notebook again, in a
# kernel and in a browser; `make test` runs them with the rest, `make unit` leaves them out, `make course-tests`
# runs only them.
COURSE_TESTS := tests/test_student.py tests/test_site.py tests/test_browser.py
COURSE_IGNORE := $(foreach f,$(COURSE_TESTS),--ignore=$(f))

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then echo "pip install $(TORCH_SPEC)"; $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"; fi
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/python -m jupyter lab --notebook-dir=notebooks --port=$(PORT) $(LAB_FLAGS)

# The whole suite: lint, notebook hygiene, unit tests, every notebook executed in the smoke budget (nbval), the
# student version, the site, and the widgets driven in Chromium.
# pytest's "no tests collected" (exit 5) is not a failure; every other non-zero exit is.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check mmobjectives tests notebooks
	$(BIN)/nbstripout --keep-id --verify notebooks/*.ipynb
	$(TEST_ENV) $(BIN)/python -m pytest tests notebooks $(NBVAL_FLAGS) -p no:cacheprovider -q -rs --durations=15 $(PYTEST_ARGS); \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

unit: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest tests $(COURSE_IGNORE) -q -p no:cacheprovider $(PYTEST_ARGS)

course-tests: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest $(COURSE_TESTS) -q -rs -p no:cacheprovider $(PYTEST_ARGS)

notebooks: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest notebooks $(NBVAL_FLAGS) -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check mmobjectives tests notebooks

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format mmobjectives tests notebooks
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

# The student version: every cell tagged `solution` becomes a stub raising NotImplementedError (into student/).
student: $(STAMP)
	$(BIN)/python tools/make_student.py notebooks student

# The course as a static site (site/): every notebook executed in the default budget, then mkdocs-jupyter.
# Another budget: make site SITE_BUDGET=smoke; real MNIST (if online): make site SITE_OFFLINE=0
SITE_BUDGET ?= default
SITE_OFFLINE ?= 1
site: $(STAMP)
	MMO_OFFLINE=$(SITE_OFFLINE) $(BIN)/python tools/build_site.py --budget $(SITE_BUDGET) --out site

# Only the widget tests in a real browser (JupyterLab + Chromium from apt; part of `make test` too).
browser: $(STAMP)
	$(TEST_ENV) MMO_SCREENSHOTS=$(CURDIR)/build/screens $(BIN)/python -m pytest tests/test_browser.py -q -s -p no:cacheprovider $(PYTEST_ARGS)

# Benchmarks (not part of `make test`; about 20 minutes on a 2-core CPU): every notebook's time, peak memory and
# distance to its optimum in the smoke and default budgets, and the loss microbenchmarks, into
# benchmarks/results.json and the table in benchmarks/README.md. On a GPU: make bench-full (or tools/gpu_full_run.sh).
bench: $(STAMP)
	$(BIN)/python tools/bench.py --budgets smoke default

bench-full: $(STAMP)
	MMO_BUDGET=full $(BIN)/python tools/bench.py --budgets full

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build site student *.egg-info
