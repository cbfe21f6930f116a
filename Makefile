# cognito-obo — the two commands: `make demo` (local end-to-end demo) and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
SAM ?= sam
CFN_LINT ?= cfn-lint
# The two Lambda binaries (their package and binary names agree); tests/tests/deploy.rs checks
# template.yaml's BuildProperties.Binary names against the workspace.
LAMBDAS := pre-token pre-token-lookup interceptor

# The Python examples' virtual environment (examples/python/requirements.txt, pinned).
PY_EXAMPLES := $(or $(CARGO_TARGET_DIR),target)/py-examples

.PHONY: demo test test-tools python-examples test-rie-release lint fmt bench build package tools clean-dist sam-build \
	lint-template inspector

## The local end-to-end demo (no AWS account needed).
demo:
	$(CARGO) build --workspace --bins
	$(CARGO) run -q -p obo-local --bin obo-local -- demo

## Every test: unit, integration and end-to-end (builds the Lambda binaries first).
test: test-tools python-examples
	cd examples/python && $(abspath $(PY_EXAMPLES))/bin/python -m unittest discover
	$(CARGO) build --workspace --bins
	OBO_PYTHON=$(abspath $(PY_EXAMPLES))/bin/python $(CARGO) test --workspace --all-features

## AWS's Lambda Runtime Interface Emulator, which the end-to-end tests run the binaries under,
## ships in the aws-sam-cli wheel: installed once if missing.
test-tools:
	@$(PYTHON) -c 'import samcli' 2>/dev/null || $(PYTHON) -m pip install --quiet \
		--disable-pip-version-check 'aws-sam-cli==1.170.0'

## The Python examples' dependencies from PyPI, pinned, in a venv under the target directory;
## reinstalled when the requirements change.
python-examples: $(PY_EXAMPLES)/installed.txt

$(PY_EXAMPLES)/installed.txt: examples/python/requirements.txt
	$(PYTHON) -m venv $(PY_EXAMPLES)
	$(PY_EXAMPLES)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	$(PY_EXAMPLES)/bin/python -m pip freeze > $@

## The release binaries (size-optimised profile) under AWS's Runtime Interface Emulator.
test-rie-release: test-tools
	$(CARGO) build --release -p pre-token -p interceptor
	OBO_E2E_PROFILE=release $(CARGO) test -p obo-e2e --test runtime_interface_emulator

## Formatting and lints, as CI runs them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	$(CARGO) fmt --all

## Every figure of the README's Performance section in one table, also written to
## target/bench/latest.json (not part of the test path). Builds what it measures first: the
## release binaries for this machine (cold starts, memory, load), one package at a time so each
## gets only its own features, and the arm64 ones (sizes). BENCH_ARGS=--quick shortens it.
bench: build
	for p in pre-token interceptor obo-bench; do $(CARGO) build --release -p $$p || exit 1; done
	$(CARGO) build --release -p hello-lambda --example hello-lambda
	$(CARGO) lambda build --release --arm64 -p hello-lambda --example hello-lambda
	$${CARGO_TARGET_DIR:-target}/release/obo-bench $(BENCH_ARGS)

## Deployment tools, once (idempotent): cargo-lambda (brings Zig, cross-compiles without Docker),
## the SAM CLI and cfn-lint, and the arm64 Rust target.
tools:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		'cargo-lambda==1.9.2' 'aws-sam-cli==1.170.0' 'cfn-lint==1.58.0'
	rustup target add aarch64-unknown-linux-gnu

## Both Lambdas for arm64 (provided.al2023), one package at a time so that each binary gets only
## its own features: target/lambda/<name>/bootstrap.
build:
	for f in $(LAMBDAS); do $(CARGO) lambda build --release --arm64 -p $$f || exit 1; done

## Deployment zips with `bootstrap` at the root: dist/<name>.zip.
package: build
	rm -rf dist && mkdir -p dist
	for f in $(LAMBDAS); do (cd target/lambda/$$f && zip -q -X ../../../dist/$$f.zip bootstrap) || exit 1; done
	ls -l dist

clean-dist:
	rm -rf dist

## `sam build` (BuildMethod rust-cargolambda; needs `make tools`), then `sam deploy --guided`.
sam-build:
	SAM_CLI_TELEMETRY=0 $(SAM) build --template template.yaml

## The template checks CI runs, all offline: cfn-lint >= 1.58 against CloudFormation's resource
## schemas plus this project's rules (scripts/cfn-lint-rules: enum values in every `Fn::If` branch
## against the AWS API models in botocore), `sam validate --lint`, and the deployment tests
## (physical names unique under every combination of conditions and within their patterns for any
## stack name, DependsOn edges, defaults, parameter groups).
lint-template:
	$(CFN_LINT) --template template.yaml --append-rules scripts/cfn-lint-rules
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template template.yaml --region us-east-1
	$(CARGO) test -p obo-e2e --test deploy

## The official MCP Inspector CLI (npm) lists and calls the tools through the local gateway.
inspector:
	scripts/inspector.sh
