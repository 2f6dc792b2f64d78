# The README's two commands are `make run` and `make test`; both install what
# is missing first (scripts/deps.sh), so they work on a fresh Debian machine.
GO      ?= go
BIN     := bin/hlsd
GOFLAGS ?=
ARGS    ?=

.PHONY: all build run test test-short bench fuzz deps deps-test deps-bench vet fmt clean

all: build

build:
	$(GO) build $(GOFLAGS) -trimpath -o $(BIN) ./cmd/hlsd

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
	rm -rf bin testdata/.cache
