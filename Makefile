# The README's two commands are `make run` and `make test`; both install what
# is missing first (scripts/deps.sh), so they work on a fresh Debian machine.
GO      ?= go
BIN     := bin/hlsd
GOFLAGS ?=
ARGS    ?=

.PHONY: all build web run test test-short bench fuzz deps deps-test deps-bench vet fmt clean

all: build

build: web
	$(GO) build $(GOFLAGS) -trimpath -o $(BIN) ./cmd/hlsd

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

test-short:
	$(GO) test -short ./...

bench: deps-bench build
	bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin testdata/.cache web/dist/vendor
