# Two commands for a newcomer: `make run` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 3000
PROGRAM ?=
STAGE  ?= dev

.PHONY: run test lint typecheck template-check unit integration e2e build deploy bench soak clean keys simulate

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: serve the whole API on http://127.0.0.1:$(PORT) against an embedded in-memory AWS
run: $(STAMP)
	$(BIN)/python -m loyalty_local --port $(PORT) $(if $(PROGRAM),--program $(PROGRAM),)

## test: lint, template checks and the whole suite
test: lint template-check
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/loyalty/loyalty loyalty_local functions bench simulator

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m loyalty_local.validate_template template.yaml

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit
integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration
e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

## simulate: a synthetic year against a local stack (or SIM_URL); summary + sim-out/<program>-<date>.png
SIM_PROGRAM := $(or $(PROGRAM),programs/demo.yaml)
MEMBERS ?= 200
MONTHS  ?= 13
simulate: $(STAMP)
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[dev,sim]'
	$(BIN)/python -m simulator --program $(SIM_PROGRAM) --members $(MEMBERS) --months $(MONTHS)

## keys: manage API keys (make keys ARGS="create --name shop --scopes earn read")
keys: $(STAMP)
	$(BIN)/python -m loyalty.cli keys $(ARGS)

## bench: round trips, capacity and cost per operation, latency, cold imports, package sizes, monthly
##        jobs at 1k/10k members; prints tables, writes bench/results.json (make bench ARGS=--quick: small)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(ARGS)

## soak: the slow evidence (many more model-based runs and steps); prints its figures
soak: $(STAMP)
	MODEL_EXAMPLES=$${MODEL_EXAMPLES:-150} MODEL_STEPS=$${MODEL_STEPS:-60} \
		$(BIN)/python -m pytest -s -p no:cacheprovider tests/integration/test_model.py tests/integration/test_faults.py
	FUZZ_COVERAGE=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} $(BIN)/python -m pytest -s -p no:cacheprovider tests/e2e/test_fuzz.py

build:
	sam build

deploy: build
	sam deploy --guided --parameter-overrides Stage=$(STAGE)

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache
