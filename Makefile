# Two entry points: `make quickstart` runs the standalone gateway serving examples/quickstart,
# `make test` runs the whole test suite. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: quickstart test lint
quickstart: $(VENV)/.installed
	$(VENV)/bin/propylon up -f examples/quickstart --echo 127.0.0.1:9001

lint: $(VENV)/.installed
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/pytest -q
