# Orange Car Rental. The two commands a newcomer needs:
#   make run    every function in one process on :8080, with its own PostgreSQL
#   make test   the whole suite (race detector on), against real PostgreSQL
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFILES  = $(shell find . -name '*.go' -not -path './.cache/*' -not -path './.data/*')

.PHONY: run build test lint bench fuzz axe-core screenshots

run: build
	./bin/orange dev

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

test: lint axe-core
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
	$(GO) test -run '^$$' -bench ObservabilityOverhead -benchtime 1x ./functions/all/ # metrics+tracing vs none: instrumented/bare
	$(GO) test -run '^$$' -bench Overload -benchtime 1x ./platform/admission/ # 4× capacity open loop: goodput/capacity, accepted p99/unloaded p99 (OVERLOAD_SECONDS=20 for the acceptance run)
	$(GO) test -v -run '^$$' -bench SearchAtScale -benchtime 1x ./functions/fleet/ # search on 10k cars/100k bookings vs bare SELECT; open-loop rate at p99 ≤ 20 ms
	$(GO) test -v -run '^$$|^TestBookingIsOneCommit$$' -bench Booking -benchtime 1x ./functions/reservations/ # booking vs bare handler + 1 INSERT tx: ratio (target ≥ 0.40); statements and commits per booking

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

# The browser tests (tests/browser) audit the portals with axe-core from the npm registry,
# pinned and checked against the registry's published SHA-1 of the tarball, into the
# git-ignored cache. `make screenshots` regenerates docs/screenshots/ (the README links it)
# from the same tests.
AXE_VERSION := 4.11.0
AXE_SHA1    := 16f74d6482e343ff263d4f4503829e9ee91a86b6
AXE_JS      := .cache/axe-core-$(AXE_VERSION)/axe.min.js

axe-core: $(AXE_JS)

$(AXE_JS):
	@mkdir -p $(@D)
	cd $(@D) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && \
		echo "$(AXE_SHA1)  axe-core-$(AXE_VERSION).tgz" | sha1sum -c --quiet - && \
		tar -xzmf axe-core-$(AXE_VERSION).tgz --strip-components=1 package/axe.min.js && \
		rm axe-core-$(AXE_VERSION).tgz

screenshots: axe-core
	rm -f docs/screenshots/*.png docs/screenshots/README.md
	ORANGE_SCREENSHOTS=docs/screenshots $(GO) test -race -count=1 ./tests/browser/

-include knative.mk
