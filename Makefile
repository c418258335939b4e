# Two commands for a newcomer: `make run` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 3000
PROGRAM ?=
STAGE  ?= dev

.PHONY: run test lint typecheck template-check unit integration e2e browser build deploy bench soak mutate clean keys simulate what-if lock seed screenshots

RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
SCAN      := $(VENV)/scan
PIP       := $(BIN)/python -m pip install --quiet --disable-pip-version-check

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# Every install is the lock's pins, checked against their hashes; the project itself on top, editable.
# `make run` needs the runtime and the emulator only (requirements/run.txt); `make test` adds the toolchain.
$(RUN_STAMP): requirements/run.txt pyproject.toml | $(BIN)/python
	$(PIP) --require-hashes --no-deps -r requirements/run.txt
	$(PIP) --no-deps -e .
	@touch $(RUN_STAMP)

$(DEV_STAMP): requirements/dev.txt $(RUN_STAMP)
	$(PIP) --require-hashes --no-deps -r requirements/dev.txt
	@touch $(DEV_STAMP)

# cosmic-ray (make mutate) too: its pins are its own; it runs the tests with the project's venv.
MUTATION := $(VENV)/mutation
$(MUTATION)/.installed: requirements/mutation.txt | $(BIN)/python
	@test -d $(MUTATION) || $(PYTHON) -m venv $(MUTATION)
	$(MUTATION)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/mutation.txt
	@touch $@

# checkov lives in a venv of its own: its pins (boto3 1.35, an older pydantic) must not choose the runtime's.
$(SCAN)/.installed: requirements/scan.txt | $(BIN)/python
	@test -d $(SCAN) || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/scan.txt
	@touch $@

## run: serve the whole API on http://127.0.0.1:$(PORT) against an embedded in-memory AWS
run: $(RUN_STAMP)
	$(BIN)/python -m loyalty_local --port $(PORT) $(if $(PROGRAM),--program $(PROGRAM),)

## test: lint (ruff, mypy, the import contracts), template checks (cfn-lint, SAM, checkov) and the whole suite, the packaging test included
test: lint template-check
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/loyalty/loyalty loyalty_local functions bench simulator ship
	$(BIN)/lint-imports --no-cache

template-check: $(DEV_STAMP) $(SCAN)/.installed
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m loyalty_local.validate_template template.yaml
	$(SCAN)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/unit
integration: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/integration
e2e: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/e2e

## simulate: a synthetic year through the replay engine in process (or SIM_URL over HTTP); summary, chart
##           and the history it made: sim-out/<program>-<date>{.json,.png,-history.jsonl.gz}; in groups of
##           GROUP_MEMBERS members (default 500; 0: one engine) on WORKERS processes (default: one per core);
##           prints members/s per core and the peak memory of the whole run (bench.memory)
SIM_PROGRAM := $(or $(PROGRAM),programs/demo.yaml)
MEMBERS ?= 200
MONTHS  ?= 13
GROUPS_ARGS = $(if $(GROUP_MEMBERS),--group-members $(GROUP_MEMBERS),) $(if $(WORKERS),--workers $(WORKERS),)
simulate: $(DEV_STAMP)
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[sim]'
	$(BIN)/python -m bench.memory -- $(BIN)/python -m simulator --program $(SIM_PROGRAM) --members $(MEMBERS) --months $(MONTHS) $(if $(SIM_URL),,$(GROUPS_ARGS))

## what-if: the running stack's history (make run) replayed under PROGRAM and under the current programme,
##          side by side, with the reconciliation (HISTORY=<export file> or TABLE=<deployed table> STAGE=<stage>
##          instead; CURRENT=<file or ssm:name> names the current programme); report in whatif-out/; member
##          groups of up to GROUP_MEMBERS (default 500; 0: one engine) on WORKERS processes (default: a core each)
what-if: $(RUN_STAMP)
	@test -n "$(PROGRAM)" || { echo "usage: make what-if PROGRAM=candidate.yaml [HISTORY=<export> | TABLE=<table>]" >&2; exit 2; }
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[sim]'
	$(BIN)/python -m bench.memory -- $(BIN)/python -m loyalty_local.whatif --program $(PROGRAM) $(if $(HISTORY),--history $(HISTORY),$(if $(TABLE),--table $(TABLE) --stage $(STAGE),--url http://127.0.0.1:$(PORT))) $(if $(CURRENT),--current $(CURRENT),) $(GROUPS_ARGS)

## seed: a year of demo history on the running `make run` stack (members, orders, redemptions, monthly jobs),
##       for the console at http://127.0.0.1:$(PORT)/console (make seed SEED_MEMBERS=100 PORT=3001); it ends
##       yesterday and gives the stack's clock back to real time
SEED_MEMBERS ?= 40
seed: $(RUN_STAMP)
	$(BIN)/python -m loyalty_local.demo_history --url http://127.0.0.1:$(PORT) --members $(SEED_MEMBERS)

## browser: the console's browser tests alone (Debian's chromium; see tests/browser/conftest.py)
browser: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/browser -p no:xdist

## screenshots: the console's screens for docs/console.md, taken by its browser tests
screenshots: $(DEV_STAMP)
	CONSOLE_SCREENSHOTS=docs/img/console $(BIN)/python -m pytest tests/browser -p no:xdist

## keys: manage API keys (make keys ARGS="create --name shop --scopes earn read")
keys: $(DEV_STAMP)
	$(BIN)/python -m loyalty keys $(ARGS)

## bench: round trips, capacity and cost per operation, latency, cold imports, package sizes, monthly
##        jobs at 1k/10k members, the what-if replay by group size (members/s per core, peak memory);
##        prints tables, writes bench/results.json (make bench ARGS=--quick: small; ARGS="--only replay")
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run $(ARGS)

## soak: the slow evidence (many more model-based runs and steps, fuzzing, mutation testing); prints its figures
soak: $(DEV_STAMP)
	MODEL_EXAMPLES=$${MODEL_EXAMPLES:-150} MODEL_STEPS=$${MODEL_STEPS:-60} MODEL_RECONCILE_EVERY=$${MODEL_RECONCILE_EVERY:-1} \
		$(BIN)/python -m pytest -s -p no:cacheprovider tests/integration/test_model.py tests/integration/test_faults.py
	FUZZ_COVERAGE=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} $(BIN)/python -m pytest -s -p no:cacheprovider tests/e2e/test_fuzz.py
	$(MAKE) mutate

## mutate: mutation testing of the funnel, the ledger maths and the checkout pricing (cosmic-ray, about an hour);
##         the survivors in bench/mutation.json and in the bench report (bench/mutation.py)
mutate: $(DEV_STAMP) $(MUTATION)/.installed
	$(BIN)/python -m bench.mutation $(ARGS)

## build: every function and layer for Lambda (arm64, python3.12) into .aws-sam/build: `sam build` when sam
##        is installed, else our builder running the same per-directory Makefiles (no Docker either way)
build: $(RUN_STAMP)
	@if command -v sam >/dev/null; then sam build; else $(BIN)/python -m ship.build; fi

## lock: re-pin requirements/*.txt and the layers' locks (linux/arm64, CPython 3.12) from pyproject.toml,
##       keeping every pin that still fits (make lock UPGRADE=1: the newest versions that fit)
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes $(if $(UPGRADE),--upgrade,)
RUNTIME_PACKAGES := boto3 botocore s3transfer python-dateutil six urllib3
lock: $(DEV_STAMP)
	$(LOCK) --universal --python-version 3.11 pyproject.toml --extra local --extra dev -o requirements/dev.txt
	$(LOCK) --universal --python-version 3.11 pyproject.toml --extra local -c requirements/dev.txt -o requirements/run.txt
	$(LOCK) --universal --python-version 3.11 requirements/scan.in -o requirements/scan.txt
	$(LOCK) --universal --python-version 3.11 requirements/mutation.in -o requirements/mutation.txt
	$(LOCK) --python-platform aarch64-manylinux2014 --python-version 3.12 layers/deps/requirements.in \
		-c requirements/dev.txt $(addprefix --no-emit-package ,$(RUNTIME_PACKAGES)) -o layers/deps/requirements.txt
	$(LOCK) --python-platform aarch64-manylinux2014 --python-version 3.12 --no-deps layers/docs/requirements.in \
		-c requirements/dev.txt -o layers/docs/requirements.txt
	$(LOCK) --python-platform aarch64-manylinux2014 --python-version 3.12 functions/members/requirements.in \
		-c requirements/dev.txt -o functions/members/requirements.txt

deploy: build
	sam deploy --guided --parameter-overrides Stage=$(STAGE)

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache
