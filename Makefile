# tkw-emulator: `make run` serves the emulator on 127.0.0.1:3000; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
TEAM ?=
STACK := tkw-emulator-$(TEAM)
MOTO_PORT ?= 5000
PIP_QUIET := --quiet --disable-pip-version-check
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run test lint unit validate build deploy destroy moto-server sam-local bench clean fuzz profiles tables

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/tkw/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt -e . 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	touch $@

# aws-sam-cli pins boto3, Flask and pydantic: it lives in its own venv and tests call it as a tool.
$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements-sam.txt 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	touch $@

# checkov (the IaC scanner) pins older boto3, networkx and packaging than the project: its own venv too.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_QUIET) -r requirements-checkov.txt 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Create the virtual environments

run: $(VENV)/.installed ## Serve the emulator on 127.0.0.1:$(PORT), moto embedded (AUTH_MODE, STRICT_MODE, ...)
	PORT=$(PORT) $(PY) -m tkw_local

lint: $(VENV)/.installed ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed lint ## Lint, then every test (unit, functional, end-to-end, SAM, checkov)
	SAM_BIN=$(abspath $(SAM)) CHECKOV_BIN=$(abspath $(CHECKOV_VENV)/bin/checkov) $(VENV)/bin/pytest -n auto

unit: $(VENV)/.installed ## Only the fast unit tests
	$(VENV)/bin/pytest tests/unit

validate: $(SAM_VENV)/.installed ## sam validate --lint
	$(SAM) validate --lint

build: $(SAM_VENV)/.installed ## sam build (no Docker needed)
	$(SAM) build

deploy: build ## Deploy an ephemeral stack for a team: make deploy TEAM=alpha [AUTH_MODE=int]
	@test -n "$(TEAM)" || { echo "usage: make deploy TEAM=<name>"; exit 2; }
	$(SAM) deploy --config-env team --stack-name $(STACK) \
	  --parameter-overrides AuthMode=$${AUTH_MODE:-sandbox} StrictMode=$${STRICT_MODE:-false} \
	  TkwEdition=$${TKW_EDITION:-live} UnknownTargets=$${UNKNOWN_TARGETS:-reject} \
	  --tags tkw:team=$(TEAM)

destroy: $(SAM_VENV)/.installed ## Delete a team's stack: make destroy TEAM=alpha
	@test -n "$(TEAM)" || { echo "usage: make destroy TEAM=<name>"; exit 2; }
	$(SAM) delete --config-env team --stack-name $(STACK) --no-prompts

moto-server: $(VENV)/.installed ## Standalone moto on :$(MOTO_PORT) with the template's resources (for sam local start-api)
	$(PY) -m tkw_local.provision --port $(MOTO_PORT)

sam-local: build ## sam local start-api against `make moto-server` (needs Docker)
	$(SAM) local start-api --port $(PORT) --env-vars sam-local-env.json --docker-network host

clean: ## Remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

bench: $(VENV)/.installed $(SAM_VENV)/.installed ## Benchmarks vs a reference server, next to their targets; writes bench/results.json [BENCH_QUICK=1]
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk (or brew install wrk)"; exit 1; }
	$(PY) bench/run.py

PROFILES_FROM ?= ../shared/fhir-packages
profiles: $(VENV)/.installed ## Refresh the shipped FHIR profiles from a folder of packages: make profiles [PROFILES_FROM=dir]
	$(PY) -m tkw.profiles.build $(PROFILES_FROM)

tables: $(VENV)/.installed ## Validate scenarios.yaml and applications.yaml and compile them into the layer (after editing either)
	$(PY) -m tkw.build_tables

FUZZ_CASES ?= 1000
FUZZ_SEED ?= $(shell date +%s)
fuzz: $(VENV)/.installed ## Long fuzzing against the official spec: make fuzz [FUZZ_CASES=1000] [FUZZ_SEED=n]
	@echo "fuzzing: $(FUZZ_CASES) cases per operation, seed $(FUZZ_SEED) (bad cases saved in .fuzz-failures/)"
	TKW_FUZZ_CASES=$(FUZZ_CASES) TKW_FUZZ_SEED=$(FUZZ_SEED) TKW_FUZZ_SAVE=$(abspath .fuzz-failures) \
	  $(VENV)/bin/pytest -n 2 tests/fuzz
