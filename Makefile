# Two commands: `make lab` opens the course, `make test` runs every test.
# Both create .venv (Python >= 3.11 and pip are all they need) when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test notebooks bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports  # the layers of ARCHITECTURE.md (contracts in pyproject.toml)
	$(BIN)/pytest -q tests --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg

notebooks: $(STAMP)  # re-run every notebook and store its outputs (what nbval then checks)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
