# The two commands a newcomer needs:  make lab   and   make test
# Both create .venv on first use and install everything the project needs into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Users get an unpinned torch (pyproject.toml says torch>=2.2). CI pins the CPU wheel by passing, e.g.,
#   make test TORCH_SPEC=torch==2.13.0
TORCH_SPEC ?=
# Which build of PyTorch a new .venv gets. Unset (the default): whatever `pip install torch` resolves to, i.e. the
# CUDA build with its NVIDIA libraries on Linux x86-64, the only build on macOS and Windows. TORCH=cpu: the CPU-only
# wheels from PyTorch's own index (torch alone comes from there; everything else from PyPI). It applies when .venv is
# created: `make clean` first to switch an existing one.
TORCH ?=
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
ifeq ($(TORCH),cpu)
TORCH_PIP := --index-url $(TORCH_CPU_INDEX) "$(or $(TORCH_SPEC),torch)"
else ifneq ($(TORCH),)
$(error TORCH=$(TORCH) is not a known build: use TORCH=cpu for the CPU-only wheels, or leave TORCH unset)
else ifneq ($(TORCH_SPEC),)
TORCH_PIP := "$(TORCH_SPEC)"
endif
STAMP := $(VENV)/.installed-stamp
PORT ?= 8888
# JupyterLab refuses to run as root unless told to (containers, CI); harmless otherwise.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

# Notebooks run in the smoke budget under test, offline, without progress bars, never loading a cached model.
TEST_ENV := MMO_BUDGET=smoke MMO_OFFLINE=1 MMO_CACHE=0 MPLBACKEND=Agg PYTHONHASHSEED=0
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 --nbval-kernel-startup-timeout=120

.PHONY: lab test unit notebooks lint format install clean student site browser course-tests bench bench-full test-min

# The course-experience tests (student version, site, widgets in Chromium). In `make test` the student and site
# tests read nbval's run of each notebook (tools/nbval_course.py: one kernel per notebook serves all three), and the
# browser runs each widget notebook in JupyterLab up to its last panel. `make unit` leaves them out; `make
# course-tests` runs only them, executing the notebooks itself (nbclient).
COURSE_TESTS := tests/course/test_student.py tests/course/test_site.py tests/course/test_browser.py
COURSE_IGNORE := $(foreach f,$(COURSE_TESTS),--ignore=$(f))

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_PIP),$(BIN)/python -m pip install --quiet $(TORCH_PIP))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# The lowest versions pyproject.toml declares (pinned in constraints-min.txt; a test keeps the two in step), in a
# second environment, .venv-min: the unit tests (without the course-experience files) and every notebook in the
# smoke budget. numpy 1.24 has no wheels for Python >= 3.12: give a 3.10 or 3.11 interpreter, e.g.
#   make test-min MIN_PYTHON=python3.10
MIN_PYTHON ?= $(PYTHON)
MIN_VENV ?= .venv-min
MIN_STAMP := $(MIN_VENV)/.installed-stamp

$(MIN_STAMP): pyproject.toml constraints-min.txt
	@test -x $(MIN_VENV)/bin/python || $(MIN_PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -c constraints-min.txt -e ".[dev]"
	@touch $(MIN_STAMP)

test-min: $(MIN_STAMP)
	$(TEST_ENV) $(MIN_VENV)/bin/python -m pytest tests notebooks $(COURSE_IGNORE) $(NBVAL_FLAGS) -p no:cacheprovider -q -rs $(PYTEST_ARGS)

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
	$(BIN)/python -m tools.make_student notebooks student

# The course as a static site (site/): every notebook executed in the default budget, then mkdocs-jupyter.
# Another budget: make site SITE_BUDGET=smoke; real MNIST (if online): make site SITE_OFFLINE=0
SITE_BUDGET ?= default
SITE_OFFLINE ?= 1
site: $(STAMP)
	MMO_OFFLINE=$(SITE_OFFLINE) $(BIN)/python -m tools.build_site --budget $(SITE_BUDGET) --out site

# Only the widget tests in a real browser (JupyterLab + Chromium from apt; part of `make test` too).
browser: $(STAMP)
	$(TEST_ENV) MMO_SCREENSHOTS=$(CURDIR)/build/screens $(BIN)/python -m pytest tests/course/test_browser.py -q -s -p no:cacheprovider $(PYTEST_ARGS)

# Benchmarks (not part of `make test`; about 20 minutes on a 2-core CPU): every notebook's time, peak memory and
# distance to its optimum in the smoke and default budgets, and the loss microbenchmarks, into
# benchmarks/results.json and the table in benchmarks/README.md. On a GPU: make bench-full (or tools/gpu_full_run.sh).
bench: $(STAMP)
	$(BIN)/python -m tools.bench --budgets smoke default

bench-full: $(STAMP)
	MMO_BUDGET=full $(BIN)/python -m tools.bench --budgets full

clean:
	rm -rf $(VENV) $(MIN_VENV) .pytest_cache .ruff_cache build site student *.egg-info
