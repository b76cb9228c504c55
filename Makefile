# Orange Car Rental. The two commands a newcomer needs:
#   make run    every function in one process on :8080, with its own PostgreSQL
#   make test   the whole suite (race detector on), against real PostgreSQL
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFILES  = $(shell find . -name '*.go' -not -path './.cache/*' -not -path './.data/*')

.PHONY: run build test lint bench fuzz

run: build
	./bin/orange dev

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

test: lint
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory resolve-check

# vet builds with -race so that `make test` compiles the dependencies (Knative's API
# packages among them) once for vet and the race-enabled tests, not twice.
lint:
	$(GO) vet -race ./...
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Benchmarks report ratios against baselines measured in the same run (design.md §8).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./cmd/locations-api/
	$(GO) test -run '^$$' -bench . -benchtime 3s ./functions/locations/
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./events/
	$(GO) test -v -run '^$$' -bench . ./events/broker/ # -v: the ratio lines (durable queues too)

# Fuzzing: each target for FUZZTIME, one after the other (`make test` replays their seed
# corpora, f.Add and testdata/fuzz/, without -fuzz). make fuzz FUZZTIME=5m for a longer run.
FUZZTIME ?= 20s
FUZZ_TARGETS = \
	./platform/:FuzzDecodeJSON \
	./platform/:FuzzIfMatch \
	./platform/auth/:FuzzUnverifiedIssuer \
	./platform/auth/:FuzzBearer \
	./platform/auth/:FuzzVerify \
	./events/:FuzzReceiver \
	./events/broker/:FuzzTriggerFilter \
	./functions/customers/:FuzzParseFilter \
	./functions/locations/:FuzzParseFilter \
	./functions/fleet/:FuzzParseSearch

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

-include knative.mk
