# goebm: every target a user or CI needs. `make help` lists them.
GO      ?= go
BIN     := bin
GOFLAGS ?=
TESTTIMEOUT ?= 9m

.PHONY: help build test test-slow demo bench lint plugins proto clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the ebm command into bin/ (pure Go, no cgo needed)
	$(GO) build $(GOFLAGS) -o $(BIN)/ebm ./cmd/ebm

test: lint ## vet, format check and the whole test suite (under 10 minutes on 2 cores)
	$(GO) test $(GOFLAGS) -timeout $(TESTTIMEOUT) ./...

test-slow: ## the slow statistical checks (build tag slow)
	$(GO) test $(GOFLAGS) -tags slow -timeout 30m ./...

demo: build ## train the built-in examples: gauss20 (score matching) and ring8 (MLP, exact SM)
	$(BIN)/ebm train examples/gauss20-sm.toml --out runs/demo-gauss20 --set output.overwrite=true
	$(BIN)/ebm train examples/ring8-sm.toml --out runs/demo-ring8 --set output.overwrite=true

bench: ## micro-benchmarks of the hot paths (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./energy/ ./trainers/ ./samplers/ ./framework/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$$' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build outputs and demo runs
	rm -rf $(BIN) runs
