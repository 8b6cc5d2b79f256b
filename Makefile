# goebm: every target a user or CI needs. `make help` lists them.
GO      ?= go
BIN     := bin
GOFLAGS ?=
TESTTIMEOUT ?= 9m

.PHONY: help build asm test test-purego test-race test-slow demo bench lint plugins proto clean fuzz fuzz-short study-small report-screenshot bench-peers bench-scaling bench-study release test-slurm

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the ebm command into bin/ (pure Go, no cgo needed)
	$(GO) build $(GOFLAGS) -o $(BIN)/ebm ./cmd/ebm

test: lint ## vet, format check, the whole test suite, a short run of every fuzz target and test-purego (under 10 minutes on 2 cores)
	$(GO) test $(GOFLAGS) -timeout $(TESTTIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory test-purego

# test-purego: the energies' Go twins of their assembly kernels on the other builds and
# architectures (README: Same results on every machine). On 386 math.FMA runs in software
# (and arm64 runs under qemu-user), so the statistical tests, a minute or more each there, are
# left out of those runs by the names below: they run in the amd64 suite, and TestBitsGolden
# checks that the energies they rest on give the same bits. GOAMD64=v3 lets the compiler fuse
# x*y + z, as arm64's does.
SLOW_EMULATED := Converges|Reaches|Gauss20|Ising10|Digits|NearerMLE|TestPLL1|Moments|Marginals|GaussianVariance|TestBernoulli

test-purego: ## the energies with -tags purego, GOAMD64=v3, GOARCH=386 and GOARCH=arm64 (under qemu-user: apt install qemu-user)
	$(GO) vet -tags purego ./energy/
	GOARCH=arm64 $(GO) vet ./energy/
	$(GO) test $(GOFLAGS) -tags purego -timeout $(TESTTIMEOUT) ./energy/ ./plugins/examples/mlp/
	@if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo; then \
	  echo "GOAMD64=v3 $(GO) test -run 'TestBitsGolden|TestGemm|TestKern' ./energy/"; \
	  GOAMD64=v3 $(GO) test $(GOFLAGS) -run 'TestBitsGolden|TestGemm|TestKern' ./energy/ || exit 1; \
	else echo "test-purego: this CPU cannot run GOAMD64=v3 binaries (no AVX2/FMA/BMI2): the arm64 run checks fused arithmetic"; fi
	GOARCH=386 $(GO) test $(GOFLAGS) -skip '$(SLOW_EMULATED)' -timeout $(TESTTIMEOUT) ./energy/ ./framework/ ./samplers/ ./trainers/
	@command -v qemu-aarch64 >/dev/null || { echo "test-purego: qemu-aarch64 not found (Debian: apt-get install qemu-user)"; exit 1; }
	GOARCH=arm64 $(GO) test $(GOFLAGS) -exec qemu-aarch64 -skip '$(SLOW_EMULATED)' -timeout $(TESTTIMEOUT) ./energy/

# Fuzz targets as package:Target. Each runs FUZZTIME in `make test` and FUZZLONG in `make fuzz`.
FUZZ_TARGETS := ./energy:FuzzGemm ./framework:FuzzParseCSV ./framework:FuzzParseParams ./run:FuzzDecode ./plugins/internal/wire:FuzzMatrix ./framework:FuzzRestore ./run:FuzzBuild ./internal/binstate:FuzzReader
FUZZTIME ?= 4s
FUZZLONG ?= 2m

# A failing input is written to PKG/testdata/fuzz/TARGET and replayed by every later go test,
# so a failure is judged by the re-run: a found input fails it again. A failure that left no
# input (the fuzzing engine's own, e.g. a worker lost on a loaded machine) is printed in full
# and counts only if the re-run fails too.
fuzz-short: ## every fuzz target for FUZZTIME (4s) each
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1 && continue; \
	  cat $$log; \
	  echo "fuzz $$pkg $$fn failed; re-running it with its corpus ($$pkg/testdata/fuzz/$$fn)"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  if [ -n "$$(git status --porcelain -- $$pkg/testdata/fuzz 2>/dev/null)" ]; then \
	    echo "fuzz $$pkg $$fn wrote a failing input:"; git status --porcelain -- $$pkg/testdata/fuzz; exit 1; fi; \
	done

fuzz: ## every fuzz target for FUZZLONG (2m) each
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=$(FUZZLONG)

# The version `make release` stamps into the binaries (ebm version prints it).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST    := dist

release: ## static CGO_ENABLED=0 binaries of ebm for linux/amd64 and linux/arm64 into dist/, version from git describe (VERSION=...)
	@mkdir -p $(DIST)
	@for arch in amd64 arm64; do \
	  echo "ebm $(VERSION) linux/$$arch -> $(DIST)/ebm-linux-$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(GOFLAGS) -trimpath -ldflags "-s -w -X main.Version=$(VERSION)" \
	    -o $(DIST)/ebm-linux-$$arch ./cmd/ebm || exit 1; \
	done
	cd $(DIST) && sha256sum ebm-linux-amd64 ebm-linux-arm64 > SHA256SUMS

test-slurm: ## the studies-on-Slurm tests (build tag slurm); needs a cluster: scripts/slurm-local/start.sh starts one here
	$(GO) test $(GOFLAGS) -tags slurm -run 'Slurm' -count=1 -timeout 30m -v ./cmd/ebm/

asm: ## regenerate energy's generated assembly (kern_mx8_amd64.s, kconst_amd64.{s,h}) from its generator (energy/asmgen_test.go) and kconst.go
	$(GO) test ./energy/ -run '^TestGeneratedAssembly$$' -count=1 -update-asm

test-slow: ## the slow statistical checks (build tag slow)
	$(GO) test $(GOFLAGS) -tags slow -timeout 30m ./...

demo: build ## train the built-in examples: gauss20 (score matching) and ring8 (MLP, exact SM)
	$(BIN)/ebm train examples/gauss20-sm.toml --out runs/demo-gauss20 --force
	$(BIN)/ebm train examples/ring8-sm.toml --out runs/demo-ring8 --force

bench: ## micro-benchmarks of the hot paths (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./energy/ ./trainers/ ./samplers/ ./framework/

bench-peers: build ## goebm side by side with the PyTorch and scikit-learn peers, in-process and end to end (apt: python3-torch python3-sklearn python3-scipy); see docs/benchmarks.md
	@mkdir -p runs
	$(BIN)/ebm bench --peers --e2e --repeats 3 --vary-seed --json runs/bench-peers.json

bench-scaling: build ## seconds per step and peak memory as batch, width and d grow, beside PyTorch: docs/scaling.{csv,md}, docs/img/scaling-*
	@mkdir -p runs
	$(BIN)/ebm bench --scaling --peers --out docs --json runs/bench-scaling.json

bench-study: build ## cells per hour of a small example study against the number of workers
	@mkdir -p runs
	$(BIN)/ebm bench --study examples/studies/gauss20-small.toml --study-workers 1,2 --repeats 2 --json runs/bench-study.json

STATICCHECK_VERSION = v0.8.2

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$$' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The packages that start goroutines (or test code that does), for the race detector.
RACE_PKGS := ./framework/ ./check/ ./energy/ ./eval/ ./internal/lockfile/ ./plugins/host/ ./plugins/sdk/ \
	./plugins/internal/wire/ ./run/ ./samplers/ ./study/ ./trainers/

test-race: ## go test -race -short on the packages with goroutines (about 8 minutes on 2 cores; .ci/run runs it)
	$(GO) test $(GOFLAGS) -race -short -count=1 -timeout 30m $(RACE_PKGS)

study-small: build ## the four example studies, reduced (300 steps, 2 seeds; a few minutes on 2 cores) into runs/study-small/
	rm -rf runs/study-small
	$(BIN)/ebm study examples/studies/ring8-small.toml
	$(BIN)/ebm study examples/studies/gauss20-small.toml
	$(BIN)/ebm study examples/studies/ising10-small.toml
	$(BIN)/ebm study examples/studies/digits-small.toml

report-screenshot: ## ring8-small's report.html (after make study-small) as headless Chromium draws it, into examples/studies/img/report.png (apt: chromium)
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	  --disable-sync --no-first-run --user-data-dir=$$(mktemp -d) --hide-scrollbars --window-size=1100,1500 \
	  --screenshot=$(CURDIR)/examples/studies/img/report.png file://$(CURDIR)/runs/study-small/ring8/report.html

plugins: ## build the Go example plugins into bin/ (doublewell, mlp)
	$(GO) build -o $(BIN)/doublewell ./plugins/examples/doublewell
	$(GO) build -o $(BIN)/mlp ./plugins/examples/mlp

PROTOC_GEN_GO_VERSION = v1.36.12
PROTOC_GEN_GO_GRPC_VERSION = v1.6.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin

proto: ## regenerate the plugin protocol's Go and Python code (needs apt: protobuf-compiler protobuf-compiler-grpc)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH="$(GOBIN):$$PATH" protoc -I plugins/proto \
		--go_out=plugins/proto --go_opt=paths=source_relative \
		--go-grpc_out=plugins/proto --go-grpc_opt=paths=source_relative \
		goebm/v1/goebm.proto
	protoc -I plugins/proto -I plugins/proto/vendor \
		--python_out=plugins/python/goebm_plugin/_gen \
		--grpc_python_out=plugins/python/goebm_plugin/_gen \
		--plugin=protoc-gen-grpc_python=$$(command -v grpc_python_plugin) \
		goebm/v1/goebm.proto health.proto grpc_controller.proto google/rpc/status.proto
	rm -f plugins/python/goebm_plugin/_gen/google/rpc/status_pb2_grpc.py

clean: ## remove build outputs and demo runs
	rm -rf $(BIN) $(DIST) runs
