# featherserve's one entry point. On a fresh machine `make serve` and `make test` do all
# the set-up themselves: a virtualenv from pyproject.toml, node_modules from the lock file.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.featherserve-installed
NODE_STAMP := node_modules/.featherserve-installed
STAGE ?= dev
REGION ?= us-east-1
PYTEST_ARGS ?=
# Extra arguments for `sls deploy`, e.g. SLS_ARGS='--param="corsOrigin=https://demo.example.org"'
SLS_ARGS ?=

# Every command below sees the project's Python and the pinned Serverless CLI first, and
# never lets an AWS SDK probe the EC2 metadata endpoint on a machine that is not EC2.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(abspath node_modules/.bin):$(PATH)
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup serve chromium test lint layers package verify deploy remove rollback models invoke bench bench-pool frontier clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Exactly what requirements/dev.lock pins (versions and sha256), then the project itself:
# a fresh machine gets what CI got. `featherserve lock` rewrites the locks from pyproject.
$(PY_STAMP): pyproject.toml requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(PY_STAMP) $(NODE_STAMP)  ## create .venv and node_modules when missing or stale

# serverless-offline unpacks the function zip (package.artifact) before a function's first
# answer, though it imports the handlers from here: on a fresh checkout, build the layers once.
build/layers/function.zip: | $(PY_STAMP)
	$(BIN)/featherserve layers

# Other ports: `make serve PORT=8080 LAMBDA_PORT=8082` (serverless-offline's --httpPort and
# --lambdaPort; the demo's proxy follows the Lambda port: serverless_plugins/web_app.js).
PORT ?= 3000
LAMBDA_PORT ?= 3002
serve: setup build/layers/function.zip  ## the web app and every served model on http://127.0.0.1:3000 (serverless-offline)
	@echo "Web app (catalog, demos, API docs): http://127.0.0.1:$(PORT)/"
	@$(BIN)/python -m featherserve.examples --base-url http://127.0.0.1:$(PORT)
	sls offline start --stage $(STAGE) --httpPort $(PORT) --lambdaPort $(LAMBDA_PORT)

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

chromium: /usr/bin/chromium  ## install Debian's Chromium for the browser tests when missing

test: setup layers /usr/bin/chromium  ## the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy handlers model_store preprocessing lambda_kit model_runtime webapp featherserve \
		training benchmarks

layers: setup  ## build the runtime layer and one layer per model under build/layers
	$(BIN)/featherserve layers

package: layers  ## sls package: artifacts and CloudFormation template in .serverless/
	sls package --stage $(STAGE) --region $(REGION)

# The packaged bytes run as Lambda runs them: CPython 3.12 + awslambdaric, every event under
# tests/events that targets a function, answers compared with the handler in process.
verify: package  ## run .serverless/'s functions as Lambda would, on every event in tests/events
	$(BIN)/featherserve verify .serverless

# Real AWS: the credentials of your shell (AWS_PROFILE, ...). README.md "Deploying to AWS" has the steps.
deploy: layers  ## sls deploy STAGE=... REGION=... to AWS (`npx sls info` shows the API key)
	sls deploy --stage $(STAGE) --region $(REGION) --conceal $(SLS_ARGS)
	@# The web pages' JS, CSS, onnxruntime-web and model files go to the CDN's bucket.
	$(BIN)/featherserve web-static --stage $(STAGE) --region $(REGION)

remove: setup  ## sls remove STAGE=... REGION=...: delete the stage's stack and what it created
	sls remove --stage $(STAGE) --region $(REGION)

rollback: setup  ## MODEL=breast_cancer [VERSION=n] STAGE=... REGION=...: move its live alias back
	@test -n "$(MODEL)" || { echo "usage: make rollback MODEL=<model> [VERSION=<n>] STAGE=<stage> REGION=<region>" >&2; exit 2; }
	sls rollback-model --function $(MODEL) --stage $(STAGE) --region $(REGION)$(if $(VERSION), --to-version $(VERSION))

models: setup  ## retrain and publish the shipped models to models/
	$(BIN)/featherserve train tabular breast_cancer --data sklearn:breast_cancer --target diagnosis
	$(BIN)/featherserve train image digits --preset digits

# The naive baselines load the teachers, which are build output (not committed): rebuild
# them with the same seed as the shipped students, publishing into a scratch store so
# models/ is never touched.
TEACHERS := build/teachers/breast_cancer_teacher.joblib build/teachers/digits_teacher.pt
build/teachers/breast_cancer_teacher.joblib: | $(PY_STAMP)
	$(BIN)/featherserve train tabular breast_cancer --data sklearn:breast_cancer --target diagnosis --store build/teacher-store --no-serve
build/teachers/digits_teacher.pt: | $(PY_STAMP)
	$(BIN)/featherserve train image digits --preset digits --store build/teacher-store --no-serve

bench: setup layers $(TEACHERS)  ## goals, cold start, warm, throughput, SnapStart, bulk → bench/results (~11 min)
	$(BIN)/python -m benchmarks --out bench/results
	$(BIN)/python -m benchmarks.bulk --out bench/results
	$(BIN)/python -m benchmarks.pool --out bench/results
	$(BIN)/python -m benchmarks.pool_readme

bench-pool: setup  ## pooled vs dedicated: cold start, first use (folder, S3), memory, LRU traffic → bench/results/pool.* (~3 min)
	$(BIN)/python -m benchmarks.pool --out bench/results
	$(BIN)/python -m benchmarks.pool_readme

frontier: setup  ## student sizes × accuracy, latency, cold start, size, cost → bench/results/frontier.*
	$(BIN)/python -m benchmarks.frontier --out bench/results

invoke: setup  ## FN=breast_cancer EVENT=tests/events/breast_cancer_predict_v1.json
	sls invoke local --stage $(STAGE) -f $(FN) --path $(EVENT)

clean:  ## remove build output (keeps .venv and node_modules)
	rm -rf build .serverless
