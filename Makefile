# Two commands on a fresh machine: `make demo` and `make test`.
# The demo needs the torch extra; `make test` installs dev (torch, jax, data extras).
# torch is always installed through constraints.txt (pins the CPU build; an unpinned
# torch would pull several GB of CUDA packages).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q -c constraints.txt
# Test workers: one per core, at most 4 (the corpus test runs two scripts at once itself).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(1, min(4, os.cpu_count() or 1)))')

.PHONY: demo test install install-dev docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e ".[torch]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.core-installed

install: $(VENV)/.core-installed
install-dev: $(VENV)/.dev-installed

demo: install
	$(VENV)/bin/nndoctor demo --html build/nndoctor-demo.html

test: install-dev
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

docs: install
	$(PY) -m nndoctor.core.catalogue > docs/rules.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
