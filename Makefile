# Drift Inward. `make render` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: render test fast style bench lint coqui browser clean

render: $(STAMP)  ## Render every script in scripts/ into build/
	$(BIN)/drift render scripts -o build

test: $(STAMP) browser  ## Run the test suite
	$(BIN)/python -m pytest

fast: $(STAMP)  ## The inner loop: every test but those marked slow (whole renders, long checks)
	$(BIN)/python -m pytest -m "not slow"

style: $(STAMP)  ## What .ci/run checks before the tests: the formatter and the linter (ruff, pyproject.toml)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

bench: $(STAMP)  ## Run the benchmarks; results go to bench/results/
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

lint: $(STAMP)  ## Check every script without rendering
	$(BIN)/drift lint scripts

# Reinstall whenever the project's dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

coqui: $(STAMP)  ## Add the Coqui TTS engine (torch, several GB) to .venv
	$(BIN)/python -m pip install --quiet -e '.[test,coqui]'

browser:  ## Debian's Chromium for the preview page's browser tests (skipped where it cannot be installed)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| echo "could not install chromium: the browser tests will be skipped"

clean:
	rm -rf build .pytest_cache
