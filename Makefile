# proeftuin: two commands on a fresh machine.
#   make report  -> set up the environment, build the panel, execute the notebooks, render the report
#   make test    -> set up the environment, run the test suite
# The environment is a project-local virtualenv built from the committed lock file; a
# second run reuses it unless requirements.lock, pyproject.toml or this Makefile changed.
# Bytecode is compiled at install (--compile-bytecode): with PYTHONDONTWRITEBYTECODE=1,
# common on shared machines and CI, every notebook kernel would otherwise compile its imports.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV_VERSION := 0.13.8
LOCK_HASH := $(shell cat requirements.lock pyproject.toml Makefile | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(LOCK_HASH)
KERNEL := proeftuin

.PHONY: env report data run render test lint lab lock clean

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml Makefile
	@echo ">> creating $(VENV) from requirements.lock"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --compile-bytecode --python $(PY) --require-hashes requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (proeftuin)" >/dev/null
	rm -f $(VENV)/.installed-*
	touch $@

report: env
	$(VENV)/bin/proeftuin all

data: env
	$(VENV)/bin/proeftuin data

run: env
	$(VENV)/bin/proeftuin run

render: env
	$(VENV)/bin/proeftuin report

test: env
	$(PY) -m pytest

lint: env
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

lab: env
	$(VENV)/bin/jupyter lab notebooks/

# Regenerate the lock after editing pyproject.toml dependencies.
lock:
	test -x $(VENV)/bin/uv || ($(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet uv==$(UV_VERSION))
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf data/processed reports/executed reports/results reports/previews reports/sites _site .quarto
