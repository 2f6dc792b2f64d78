# The README's two commands are `make run` and `make test`; both install what
# is missing first (scripts/deps.sh), so they work on a fresh Debian machine.
GO      ?= go
BIN     := bin/hlsd
GOFLAGS ?=
ARGS    ?=

.PHONY: all build web run test test-short bench fuzz deps deps-test deps-bench vet fmt clean

all: build

# The binary carries its version, VCS revision and commit date (`hlsd
# --version`): these machines build with -buildvcs=false, so make stamps
# them from git with -X. Outside a git checkout they stay empty and hlsd
# says "devel".
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILDDATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION) -X main.buildDate=$(BUILDDATE)

build: web
	$(GO) build $(GOFLAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hlsd

# web copies the pinned front-end libraries (hls.js, tus-js-client) from
# web/node_modules into web/dist/vendor, which the binary embeds. npm ci runs
# when node_modules is missing or older than package-lock.json.
web: web/node_modules/.package-lock.json
	@cd web && npm run --silent build

web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "hlsd: npm is needed to build the web UI: run make deps (installs nodejs and npm with apt-get)" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

deps-bench:
	@scripts/deps.sh bench

run: deps build
	./$(BIN) serve $(ARGS)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps-test build vet
	$(GO) test -race -timeout 25m -count=1 ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)

# Fuzzing: every Fuzz target of the module, one after another, for FUZZTIME
# each (`make fuzz FUZZTIME=10m`). `make test` runs them for FUZZTIME_TEST
# after the seed corpora (testdata/fuzz/, run by go test as plain tests).
# New crashers land in the package's testdata/fuzz/FuzzX/: commit them.
FUZZTIME      ?= 30s
FUZZTIME_TEST ?= 3s
fuzz:
	@set -e; for f in $$(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git . | sort); do \
	  pkg=$$(dirname $$f); \
	  for t in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(f \*testing\.F\).*/\1/p' $$f); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

test-short:
	$(GO) test -short ./...

bench: deps-bench build
	bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin testdata/.cache web/dist/vendor
