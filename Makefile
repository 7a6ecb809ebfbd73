# Chatr's everyday commands. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
PKGS  := ./...
NPM_DIRS := web hub/sdktest oauth/testdata/op interop aztables/testdata/azurite
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# govulncheck v1.9.0 needs an x/telemetry version the module proxy refuses.
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.8.0
FUZZTIME ?= 10s
SOAK_DURATION ?= 10m
SOAK_CONNS ?= 3000

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# npm packages come from the committed lockfiles; installed only when missing or stale.
%/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: deps
deps: $(addsuffix /node_modules/.package-lock.json,$(NPM_DIRS)) ## Install the npm packages the tests and `make web-vendor` use (the build needs none)

.PHONY: run
run: ## Serve Chatr on http://localhost:8080 (SQLite file chatr.db, guest sign-in)
	$(GO) run ./cmd/chatr

.PHONY: build
build: ## Build the chatr and chatr-bench binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...

# Tests of these packages drive separate chatr processes (and the load
# generator): the race detector would watch only the test driver, so they run
# without it. Every other package runs under the race detector.
NORACE_PKGS := ./bench/... ./cluster/...
RACE_PKGS    = $(shell $(GO) list $(PKGS) | grep -vE '^github.com/chatr/chatr/(bench|cluster)$$')

.PHONY: test
test: deps ## Run every test, most under the race detector (PostgreSQL, Redis and Chromium tests skip locally when absent, fail under CI=true)
	$(GO) vet $(PKGS)
	@# The soak loads the machine: alone, so that timing-sensitive tests do not share it.
	$(GO) test -count=1 -timeout 10m -run '^TestSoak$$' ./e2e/
	$(GO) test -count=1 -timeout 20m $(NORACE_PKGS)
	@# Last, so that the output ends with go test's summary of most packages.
	$(GO) test -race -count=1 -timeout 45m -skip '^TestSoak$$' $(RACE_PKGS)

.PHONY: lint
lint: deps check-web-vendor ## gofmt, go vet, staticcheck, and web/lib/ against its lockfile
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

.PHONY: fuzz
fuzz: deps ## Run every fuzz target for FUZZTIME each (default 10s; .ci/fuzz)
	FUZZTIME=$(FUZZTIME) GO=$(GO) .ci/fuzz

.PHONY: vuln
vuln: ## govulncheck on every package; needs vuln.go.dev or a copy of it in GOVULNDB (https:// or file://)
	@db=$${GOVULNDB:-https://vuln.go.dev}; \
	out=$$($(GO) run $(GOVULNCHECK) -db "$$db" ./... 2>&1); rc=$$?; echo "$$out"; \
	if [ $$rc -ne 0 ] && grep -q 'fetching vulnerabilities' <<<"$$out"; then \
	  echo "vuln: FAILED: the Go vulnerability database at $$db cannot be reached, so nothing was checked."; \
	  echo "vuln: run where vuln.go.dev is reachable, or set GOVULNDB to a mirror (file:///path/to/a/copy/of/vuln.go.dev)."; \
	fi; exit $$rc

.PHONY: soak
soak: ## The soak test for SOAK_DURATION (default 10m) with SOAK_CONNS sockets (default 3000)
	CHATR_SOAK_DURATION=$(SOAK_DURATION) CHATR_SOAK_CONNS=$(SOAK_CONNS) $(GO) test -count=1 -run '^TestSoak$$' -timeout 0 -v ./e2e/

.PHONY: bench
bench: deps ## Micro-benchmarks, then a short run of every load scenario (server pinned to CPU 0, generator to CPU 1; see BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./hub/ ./sqlite/ ./postgres/
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/chatr ./cmd/chatr-bench
	bin/chatr-bench --chatr bin/chatr --short
	CHATR_FILES_BENCH=1 $(GO) test -count=1 -run '^TestFileTransfersMemory$$' -v ./server/

.PHONY: clean
clean: ## Remove build output, test artifacts and npm packages
	rm -rf bin $(addsuffix /node_modules,$(NPM_DIRS)) web/testdata/screenshots

-include web/web.mk
