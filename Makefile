# skiff: a Kubernetes-compatible orchestrator in one binary.

SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
KUBE_VERSION := 1.37.2
LDFLAGS := -s -w \
	-X github.com/skiffhq/skiff/apiserver.Version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=v$(KUBE_VERSION)+skiff.$(VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=37
DATA_DIR ?= .skiff
# A static binary that runs on any Linux; tests build with the same setting
# so that the build cache is shared.
export CGO_ENABLED := 0
TEST_TIMEOUT ?= 15m

.PHONY: help build run test test-unit deps test-image envtest-assets bench generate verify lint

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## Build bin/skiff
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/skiff ./cmd/skiff

SIM_NODES ?= 0
ARGS ?=
run: build ## Build and start a cluster with its data in ./.skiff, this machine its node (SIM_NODES=3 adds simulated nodes; ARGS="--runtime sim" without root)
	@hack/install-deps.sh || echo "warning: could not install the runtime packages; use ARGS=\"--runtime sim\" or ARGS=\"--disable-agent\"" >&2
	@if [ -x /bin/busybox ]; then $(GO) run ./test/images/build -o bin/test-image.tar && mkdir -p $(DATA_DIR)/images && cp bin/test-image.tar $(DATA_DIR)/images/; fi
	bin/skiff server --data-dir $(DATA_DIR) --sim-nodes $(SIM_NODES) $(ARGS)

deps: ## Install the missing runtime packages (containerd, runc, CNI plugins, nftables, busybox-static, docker-registry; needs root)
	hack/install-deps.sh

test-image: ## Build the local test image (OCI tarball from busybox-static) into bin/test-image.tar
	$(GO) run ./test/images/build -o bin/test-image.tar

test: build ## Run all tests (unit, integration against bin/skiff); installs missing runtime packages when root
	@hack/install-deps.sh || echo "warning: runtime packages missing; the tests that need containerd or busybox are skipped" >&2
	SKIFF_BIN=$(CURDIR)/bin/skiff $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

envtest-assets: build ## Make bin/envtest: kube-apiserver, etcd and kubectl links to skiff for KUBEBUILDER_ASSETS
	mkdir -p bin/envtest
	for n in kube-apiserver etcd kubectl; do ln -sf ../skiff bin/envtest/$$n; done
	@echo "export KUBEBUILDER_ASSETS=$(CURDIR)/bin/envtest"

test-unit: ## Run the unit tests only
	$(GO) test -short ./...

BENCH ?= all
bench: build ## Run the benchmarks into test/bench/results (summary.md); BENCH=startup|api|schedule|envtest|node|podstart|runtimefloor|proxy|micro (comma-separated) runs some; node, podstart, runtimefloor and proxy need root; SKIFF_BENCH_PROFILE=DIR saves the server's CPU and heap profiles
	$(GO) run ./test/bench/run -bench $(BENCH)

generate: ## Regenerate the OpenAPI definitions
	hack/update-codegen.sh

verify: ## Check that generated code is up to date and the code is formatted
	hack/verify.sh

lint: ## Run go vet
	$(GO) vet ./...
