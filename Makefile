# cognito-obo — the two commands: `make demo` (local end-to-end demo) and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
SAM ?= sam
CFN_LINT ?= cfn-lint
# The two Lambda binaries (their package and binary names agree); tests/tests/deploy.rs checks
# template.yaml's BuildProperties.Binary names against the workspace.
LAMBDAS := pre-token pre-token-lookup interceptor
# The deployed build: static musl binaries for arm64 (provided.al2023), built with cargo-lambda
# (Zig links them). Not glibc: lambda_runtime sets _X_AMZN_TRACE_ID with std::env::set_var on every
# invocation, glibc's setenv never frees a replaced value (the function grows ~170 bytes per
# invocation) and musl's frees what it allocated. docs/performance.md.
LAMBDA_TARGET := aarch64-unknown-linux-musl
# The same build for this (x86_64) machine: what `make bench` and `make test-rie-release` run.
HOST_TARGET := x86_64-unknown-linux-musl
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
HOST_BIN_DIR := $(TARGET_DIR)/$(HOST_TARGET)/release

# The Python examples' virtual environment (examples/python/requirements.txt, pinned).
PY_EXAMPLES := $(TARGET_DIR)/py-examples

.PHONY: demo test test-tools python-examples test-rie-release lint fmt bench build package tools clean-dist \
	sam-build lint-template inspector host-build $(addprefix lambda-,$(LAMBDAS)) \
	build-PreTokenFunction build-PreTokenLookupFunction build-InterceptorFunction

## The local end-to-end demo (no AWS account needed).
demo:
	$(CARGO) build --workspace --bins
	$(CARGO) build -p obo-target --example billing_lambda
	$(CARGO) run -q -p obo-local --bin obo-local -- demo

## Every test: unit, integration and end-to-end (builds the Lambda binaries first).
test: test-tools python-examples
	cd examples/python && $(abspath $(PY_EXAMPLES))/bin/python -m unittest discover
	$(CARGO) build --workspace --bins
	$(CARGO) build -p obo-target --example billing_lambda
	OBO_PYTHON=$(abspath $(PY_EXAMPLES))/bin/python OBO_MOTO_PYTHON=$(PYTHON) $(CARGO) test --workspace --all-features

## AWS's Lambda Runtime Interface Emulator, which the end-to-end tests run the binaries under,
## ships in the aws-sam-cli wheel; moto's server is the DynamoDB the shared cache tier's tests run
## against (docs/shared-cache.md): each installed once if missing.
test-tools:
	@$(PYTHON) -c 'import samcli' 2>/dev/null || $(PYTHON) -m pip install --quiet \
		--disable-pip-version-check 'aws-sam-cli==1.170.0'
	@$(PYTHON) -c 'import moto.server, flask_cors' 2>/dev/null || $(PYTHON) -m pip install --quiet \
		--disable-pip-version-check 'moto[server]==5.2.1'

## The Python examples' dependencies from PyPI, pinned, in a venv under the target directory;
## reinstalled when the requirements change.
python-examples: $(PY_EXAMPLES)/installed.txt

$(PY_EXAMPLES)/installed.txt: examples/python/requirements.txt
	$(PYTHON) -m venv $(PY_EXAMPLES)
	$(PY_EXAMPLES)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	$(PY_EXAMPLES)/bin/python -m pip freeze > $@

## The deployed build (musl, release profile; for this machine's architecture) under AWS's Runtime
## Interface Emulator, then every end-to-end test of the local stack on it.
test-rie-release: test-tools host-build
	OBO_E2E_PROFILE=$(HOST_TARGET)/release $(CARGO) test -p obo-e2e --test runtime_interface_emulator \
		--test local_stack --test pre_token_runtime --test metrics_runtime

## Formatting and lints, as CI runs them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	$(CARGO) fmt --all

## Every figure of docs/performance.md in one table, also written to
## target/bench/latest.json (not part of the test path). Builds what it measures first: the
## deployed build for this machine (cold starts, memory, load: the arm64 binaries cannot run on
## x86_64), the arm64 binaries themselves (sizes) and the hello-world floor both ways; the criterion
## benches build for the same musl target; the shared-tier latencies run against moto's server
## (test-tools). BENCH_ARGS=--quick shortens it.
bench: build host-build test-tools
	$(CARGO) build --release -p obo-bench
	$(CARGO) lambda build --release --target $(LAMBDA_TARGET) -p hello-lambda --example hello-lambda
	OBO_MOTO_PYTHON=$(PYTHON) $(TARGET_DIR)/release/obo-bench --bin-dir $(HOST_BIN_DIR) \
		--bench-target $(HOST_TARGET) $(BENCH_ARGS)

## The deployed build for this machine: the same packages, profile, musl target family and allocator
## for x86_64, one package at a time so that each binary gets only its own features:
## $(HOST_BIN_DIR)/<name> (and examples/hello-lambda, the benchmarks' floor). Plain cargo: aws-lc's
## and mimalloc's C code then needs `musl-gcc` (Debian: musl-tools), as the criterion benches do.
host-build:
	for f in $(LAMBDAS); do $(CARGO) build --release --target $(HOST_TARGET) -p $$f || exit 1; done
	$(CARGO) build --release --target $(HOST_TARGET) -p obo-target --example billing_lambda
	$(CARGO) build --release --target $(HOST_TARGET) -p hello-lambda --example hello-lambda

## Deployment tools, once (idempotent): cargo-lambda (brings Zig, cross-compiles without Docker),
## the SAM CLI and cfn-lint, and the musl Rust targets (arm64 deployed, x86_64 measured here).
tools:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		'cargo-lambda==1.9.2' 'aws-sam-cli==1.170.0' 'cfn-lint==1.58.0'
	rustup target add $(LAMBDA_TARGET) $(HOST_TARGET)

## One Lambda binary as deployed, from the workspace root with its package alone selected (so it
## gets only its own features): $(TARGET_DIR)/lambda/<name>/bootstrap.
$(addprefix lambda-,$(LAMBDAS)): lambda-%:
	$(CARGO) lambda build --release --target $(LAMBDA_TARGET) -p $*

## The Lambda binaries as deployed (`make package` zips them, `sam build` copies them).
build: $(addprefix lambda-,$(LAMBDAS))

## Deployment zips with `bootstrap` at the root: dist/<name>.zip.
package: build
	rm -rf dist && mkdir -p dist
	$(foreach f,$(LAMBDAS),zip -q -X -j dist/$(f).zip $(TARGET_DIR)/lambda/$(f)/bootstrap &&) true
	ls -l dist

ifneq ($(filter build-%,$(MAKECMDGOALS)),)
ifndef ARTIFACTS_DIR
$(error ARTIFACTS_DIR is not set: the build-<LogicalId> targets are what `sam build` runs)
endif
endif
## What `sam build` runs for each function (template.yaml: `BuildMethod: makefile`, in this
## directory): the binary `make build` makes, copied into SAM's $(ARTIFACTS_DIR).
build-PreTokenFunction: lambda-pre-token
	cp $(TARGET_DIR)/lambda/pre-token/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-PreTokenLookupFunction: lambda-pre-token-lookup
	cp $(TARGET_DIR)/lambda/pre-token-lookup/bootstrap $(ARTIFACTS_DIR)/bootstrap
build-InterceptorFunction: lambda-interceptor
	cp $(TARGET_DIR)/lambda/interceptor/bootstrap $(ARTIFACTS_DIR)/bootstrap

clean-dist:
	rm -rf dist

## `sam build` (the build-<LogicalId> targets above; needs `make tools`), then `sam deploy --guided`.
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
