# knative.mk: image build and deployment targets for knative/ (included by
# the Makefile with `-include knative.mk`). See docs/deploy.md.
#
#   make resolve [OVERLAY=production]   offline: rendered overlay with every ko:// image built and
#                                       replaced by a digest (no registry, no Docker)
#   make resolve-check                  resolve every overlay; fail on any image without @sha256:
#   make knative-test                   the manifest checks and the tools' tests
#   make deploy OVERLAY=... KO_DOCKER_REPO=...   the real-cluster path (needs kubectl context + registry)

KNATIVE_MK     := $(lastword $(MAKEFILE_LIST))
# Included before the Makefile's first target, this file must not become the default goal.
KNATIVE_SAVED_GOAL := $(.DEFAULT_GOAL)
KO_VERSION     ?= v0.19.1
KO             := $(CURDIR)/.cache/bin/ko
KO_CACHE       := $(CURDIR)/.cache/ko
RESOLVED_DIR   := $(CURDIR)/.cache/resolved
OVERLAY        ?= production
KNATIVE_OVERLAYS := $(notdir $(wildcard knative/overlays/*))
# Nothing is pushed by resolve; the repository only names the images in its output.
RESOLVE_REPO   ?= registry.invalid/orange
GOARCH_HOST    := $(shell go env GOARCH)

# ko reads ko.yaml only through KO_CONFIG_PATH (a file path; a directory makes it
# look for .ko.yaml). KOCACHE is where ko keeps its base-image cache, an OCI
# layout under $(KO_CACHE)/img; tools/offlinebase writes the offline base there.
KO_ENV := KO_CONFIG_PATH=$(CURDIR)/ko.yaml KOCACHE=$(KO_CACHE)
# -B: image names from the last import path element (…/locations-api@sha256:…).
KO_FLAGS := --base-import-paths

.PHONY: resolve resolve-check deploy knative-test

$(KO):
	GOBIN=$(CURDIR)/.cache/bin go install github.com/google/ko@$(KO_VERSION)

# The offline base goes only through KO_DEFAULTBASEIMAGE, here: a digest
# reference that ko finds in its on-disk cache, so it never contacts a registry.
resolve: $(KO)
	@mkdir -p $(KO_CACHE) $(RESOLVED_DIR)
	@go run ./tools/render knative/overlays/$(OVERLAY) > $(RESOLVED_DIR)/$(OVERLAY).rendered.yaml
	@base=$$(go run ./tools/offlinebase -layout $(KO_CACHE)/img -arch $(GOARCH_HOST)) && \
	env $(KO_ENV) KO_DEFAULTBASEIMAGE=$$base KO_DOCKER_REPO=$(RESOLVE_REPO) \
		$(KO) resolve $(KO_FLAGS) --sbom=none --push=false --platform=linux/$(GOARCH_HOST) \
		-f $(RESOLVED_DIR)/$(OVERLAY).rendered.yaml > $(RESOLVED_DIR)/$(OVERLAY).yaml
	@cat $(RESOLVED_DIR)/$(OVERLAY).yaml

# Fails unless, for every overlay, ko replaced every ko:// reference and every
# image (Knative Services, the migration Job, CronJobs) is pinned by digest. All overlays
# go through one ko run: ko builds each import path once for all of them (two runs built
# every image twice, minutes of a cold CI run).
# resolve-check runs inside `make test`, right after the race-enabled tests: its two small
# tools run race-built too, so they reuse the packages the tests just compiled (kustomize,
# Kubernetes' API machinery, go-containerregistry) instead of compiling them a second time
# without -race — minutes of a cold CI run. ko's images are built as always.
RACE_RUN := go run -race

resolve-check: $(KO)
	@set -e; mkdir -p $(KO_CACHE) $(RESOLVED_DIR); files=""; services=0; \
	for o in $(KNATIVE_OVERLAYS); do \
		r=$(RESOLVED_DIR)/$$o.rendered.yaml; \
		$(RACE_RUN) ./tools/render knative/overlays/$$o > $$r; \
		n=$$(grep -c '^kind: Service$$' $$r || true); \
		if [ "$$n" -lt 1 ]; then echo "resolve-check: $$o: no Knative Service in output" >&2; exit 1; fi; \
		services=$$((services + n)); files="$$files -f $$r"; \
	done; \
	f=$(RESOLVED_DIR)/resolve-check.yaml; \
	base=$$($(RACE_RUN) ./tools/offlinebase -layout $(KO_CACHE)/img -arch $(GOARCH_HOST)); \
	env $(KO_ENV) KO_DEFAULTBASEIMAGE=$$base KO_DOCKER_REPO=$(RESOLVE_REPO) \
		$(KO) resolve $(KO_FLAGS) --sbom=none --push=false --platform=linux/$(GOARCH_HOST) \
		$$files > $$f 2>$(RESOLVED_DIR)/resolve-check.log \
		|| { cat $(RESOLVED_DIR)/resolve-check.log >&2; echo "resolve-check: ko resolve failed" >&2; exit 1; }; \
	if grep -n 'ko://' $$f; then echo "resolve-check: unresolved ko:// reference(s) above" >&2; exit 1; fi; \
	if grep -nE '^[[:space:]]*(- )?image:' $$f | grep -v '@sha256:[0-9a-f]\{64\}'; then \
		echo "resolve-check: image(s) above not pinned by digest" >&2; exit 1; fi; \
	n=$$(grep -c '^kind: Service$$' $$f || true); \
	if [ "$$n" -ne "$$services" ]; then echo "resolve-check: $$n Services resolved, $$services rendered" >&2; exit 1; fi; \
	echo "resolve-check: $(KNATIVE_OVERLAYS): $$(grep -cE '^[[:space:]]*(- )?image:' $$f) images pinned by digest, $$n Services, $$(grep -oE '/[a-z-]+(:[a-z0-9.-]+)?@sha256:[0-9a-f]+' $$f | sort -u | wc -l) distinct images"

knative-test:
	go test -race ./knative/... ./tools/...

# Real cluster: builds and pushes every image to KO_DOCKER_REPO with the
# production base of ko.yaml, then applies. The migration Job is deleted first
# because a Job's pod template is immutable (the new one carries the new image).
deploy: $(KO)
	@test "$(origin OVERLAY)" != file || { echo "deploy: name the environment: make deploy OVERLAY=staging|production" >&2; exit 1; }
	@test -n "$(KO_DOCKER_REPO)" || { echo "deploy: set KO_DOCKER_REPO (e.g. registry.example.com/orange)" >&2; exit 1; }
	@mkdir -p $(RESOLVED_DIR)
	go run ./tools/render knative/overlays/$(OVERLAY) > $(RESOLVED_DIR)/$(OVERLAY).rendered.yaml
	kubectl -n orange delete job orange-migrate --ignore-not-found
	env $(KO_ENV) KO_DOCKER_REPO=$(KO_DOCKER_REPO) $(KO) apply $(KO_FLAGS) -f $(RESOLVED_DIR)/$(OVERLAY).rendered.yaml

.DEFAULT_GOAL := $(KNATIVE_SAVED_GOAL)
