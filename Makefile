# Every target sets up .venv (and installs the package) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench fuzz e2e clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)  ## the MCP server over stdio (TRANSPORT=http for Streamable HTTP on 127.0.0.1:8000)
	$(BIN)/stata-tools serve --transport $${TRANSPORT:-stdio}

test: $(STAMP)
	$(BIN)/python -m pytest -q

e2e: $(STAMP)  ## external clients: the official TypeScript SDK (needs Node.js and npm)
	$(BIN)/python -m pytest -q -m e2e tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fuzz: $(STAMP)  ## lexer, log parser, command policy and tracker on mutated inputs (FUZZ_ARGS="--seed 1")
	$(BIN)/python -m fuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
