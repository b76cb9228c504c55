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

# ORANGE_UP_TEST=overlay: internal/up's tests run `orange up` with the whole staging overlay
# too (docs/up.md). Its 15 binaries are built with ko's flags, so resolve-check's ko run
# after the tests finds their packages compiled and only links.
test: lint axe-core
	ORANGE_UP_TEST=overlay $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory resolve-check

# vet builds with -race so that `make test` compiles the dependencies (Knative's API
# packages among them) once for vet and the race-enabled tests, not twice.
lint:
	$(GO) vet -race ./...
	@unformatted=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Benchmarks report ratios against baselines measured in the same run (design.md §8). Each
# line runs one package's benchmarks: $(BENCH) takes go test's arguments, appends the output
# to BENCH_OUT and goes on when a line fails; then the gate (tools/benchgate) prints one
# table — figure, baseline, ratio, target, ok/FAIL — and fails when a ratio misses its floor
# or a gated benchmark did not report (docs/benchmarks.md). BENCH_ONLY=regex runs only the
# lines whose arguments match it (make bench BENCH_ONLY='fleet|admission'). On demand only,
# never in `make test` (the gate's own unit tests are).
BENCH_OUT  ?= .cache/bench.txt
BENCH_ONLY ?=
BENCH = @bench() { \
	if [ -n '$(BENCH_ONLY)' ] && ! printf '%s\n' "$$*" | grep -Eq -- '$(BENCH_ONLY)'; then return 0; fi; \
	echo "== go test $$*" | tee -a $(BENCH_OUT); $(GO) test "$$@" 2>&1 | tee -a $(BENCH_OUT); }; bench

bench:
	@mkdir -p $(dir $(BENCH_OUT)) && uptime > $(BENCH_OUT) && cat $(BENCH_OUT)
	$(BENCH) -run '^$$' -bench StartToReady -benchtime 5x ./internal/startbench/ # every function's binary (ko's flags): exec → /readyz 200 vs a bare server, idle RSS
	$(BENCH) -run '^$$' -bench . -benchtime 3s ./functions/locations/
	$(BENCH) -run '^$$' -bench . -benchtime 5000x ./events/
	$(BENCH) -v -run '^$$' -bench . ./events/broker/ # -v: the ratio lines (durable queues too)
	$(BENCH) -run '^$$' -bench ObservabilityOverhead -benchtime 1x ./functions/all/ # metrics+tracing vs none: instrumented/bare
	$(BENCH) -run '^$$' -bench GatewayGET -benchtime 1x ./functions/all/ # GET /api/vehicles/{id} through the gateway and vehicles-api alone vs bare handler + SELECT
	$(BENCH) -run '^$$' -bench Overload -benchtime 1x ./platform/admission/ # 4× capacity open loop: goodput/capacity, accepted p99/unloaded p99 (OVERLOAD_SECONDS=20 for the acceptance run)
	$(BENCH) -v -run '^$$' -bench SearchAtScale -benchtime 1x ./functions/fleet/ # search on 10k cars/100k bookings vs bare SELECT; open-loop rate at p99 ≤ 20 ms
	$(BENCH) -v -run '^$$|^TestBookingIsOneCommit$$' -bench Booking -benchtime 1x ./functions/reservations/ # booking vs bare handler + 1 INSERT tx: ratio (target ≥ 0.40); statements and commits per booking
	$(BENCH) -v -run '^$$' -bench ConfirmationLag -benchtime 1x ./functions/all/ # booking → confirmed through the whole pipeline, fsync on, LAG_RATE/s (50) open loop: lag p50/p99 (target p99 ≤ 1 s), backlog, WAL fsyncs and commits per booking; then a ladder of rates (LAG_LADDER): the highest with p99 ≤ 1 s
	$(BENCH) -v -run '^$$' -bench GeneratorOverhead -benchtime 1x ./internal/loadgen/ # `orange load` alone vs a minimal client on a bare server: max rate, CPU µs/request (OVERHEAD_SECONDS)
	$(GO) run ./tools/benchgate $(if $(BENCH_ONLY),-subset) $(BENCH_OUT)

# The capacity model (docs/capacity.md, issue 18): `capacity` measures one replica of each
# function pinned to CPU 1 (GOMAXPROCS=1; the generator, PostgreSQL and the dependencies on
# CPU 0), writes docs/capacity/measured.json, then replays; `capacity-replay` only replays the
# committed measurement through Knative's KPA (charts and the doc's generated block).
# CAPACITY_FLAGS='-only vehicles-api -step 3s' re-measures some Services, keeping the others.
.PHONY: capacity capacity-replay
CAPACITY_FLAGS ?=
capacity:
	taskset -c 0 $(GO) run ./tools/capacity measure -cpu 1 $(CAPACITY_FLAGS)
	$(MAKE) --no-print-directory capacity-replay

capacity-replay:
	$(GO) run ./tools/capacity replay

# `orange up` with the whole staging overlay (internal/up, TestUpWholeOverlay; docs/up.md):
# 15 binaries built once for the package's tests, every Service at its min-scale, one
# request through the gateway to each public API. ~1.5 min: too long for `make test`, which
# runs the package's subset acceptance test; .ci/run runs this after `make test`.
# `orange up`'s tests alone, the whole staging overlay included (make test runs them too).
.PHONY: up-test
up-test:
	ORANGE_UP_TEST=overlay $(GO) test -race -count=1 ./internal/up/

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
