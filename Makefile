# Every target sets up .venv on first use: `run` installs only what serving needs, the others add
# the dev tools. Setup writes nothing to stdout: under `make run` stdout is the MCP JSON-RPC wire.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev
MAKEFLAGS += --no-print-directory

.PHONY: run inspect test lint format bench fuzz e2e dist mcpb clean

$(SERVE_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . >&2
	@touch $@

$(DEV_STAMP): $(SERVE_STAMP)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" >&2
	@touch $@

run: $(SERVE_STAMP)  ## the MCP server over stdio (TRANSPORT=http for Streamable HTTP on 127.0.0.1:8000)
	@exec $(BIN)/stata-tools serve --transport $${TRANSPORT:-stdio}

inspect: $(SERVE_STAMP)  ## the MCP inspector on this checkout (needs Node.js); STATA_* settings pass through
	@$(BIN)/stata-tools config > $(VENV)/mcp.json
	npm_config_yes=true npx @modelcontextprotocol/inspector --config $(VENV)/mcp.json --server stata

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

e2e: $(DEV_STAMP)  ## external clients: the official TypeScript SDK (needs Node.js and npm)
	$(BIN)/python -m pytest -q -m e2e tests/e2e

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks

fuzz: $(DEV_STAMP)  ## lexer, log parser, command policy and tracker on mutated inputs (FUZZ_ARGS="--seed 1")
	$(BIN)/python -m fuzz $(FUZZ_ARGS)

dist: $(DEV_STAMP)  ## the wheel and sdist in dist/
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

mcpb:  ## the Claude Desktop extension, dist/stata-tools.mcpb (needs Node.js; the host brings uv)
	rm -rf build/mcpb && mkdir -p build/mcpb dist
	cp packaging/mcpb/manifest.json pyproject.toml README.md LICENSE build/mcpb/
	git ls-files stata_tools | tar -cf - -T - | tar -xf - -C build/mcpb
	npm_config_yes=true npx --package=@anthropic-ai/mcpb@2 -- mcpb validate build/mcpb/manifest.json
	npm_config_yes=true npx --package=@anthropic-ai/mcpb@2 -- mcpb pack build/mcpb dist/stata-tools.mcpb

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis dist build
