# adldapctl — see README.md. `make demo` and `make test` work on a fresh
# Debian machine as root; they install what they need.
SHELL    := /bin/bash
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
PKG      := github.com/adldapctl/adldapctl/cmd/adldapctl/cli
LDFLAGS  := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
DIST     := dist
TARGETS  := linux/amd64 linux/arm64 windows/amd64 windows/386
GO       ?= go
export CGO_ENABLED := 0

# make release VERSION=x.y.z KEY=FILE: binaries, archives, .deb/.rpm,
# completion, man page, signed SHA256SUMS and self-update mirror in
# dist/release (packaging/tools, a separate module: nfpm stays out of go.mod).
KEY      ?= $(ADLDAPCTL_RELEASE_KEY)
# Authenticode for adldapctl.exe and the .msi (osslsigncode): SIGN_PKCS12=FILE
# or SIGN_CERT=FILE SIGN_KEY=FILE, SIGN_PASSWORD in the environment,
# SIGN_TIMESTAMP_URL optional; REQUIRE_SIGNING=1 fails an unsigned release.
SIGN_PKCS12 ?=
SIGN_CERT   ?=
SIGN_KEY    ?=
SIGN_TIMESTAMP_URL ?=
REQUIRE_SIGNING ?=
export SIGN_PASSWORD

.PHONY: release all build bin test test-unit test-acceptance vet fuzz demo demo-windows bench deps clean

all: build

# Static binaries for every target, version, commit and date stamped in.
build:
	@mkdir -p $(DIST)
	@for t in $(TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=$(DIST)/adldapctl-$$os-$$arch$$ext; \
		echo "build $$out"; \
		GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/adldapctl || exit 1; \
	done

# The host's binary only.
bin:
	@mkdir -p $(DIST)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/adldapctl ./cmd/adldapctl

release:
	cd packaging/tools && $(GO) run ./cmd/release -version '$(VERSION)' -commit '$(COMMIT)' -date '$(DATE)' \
		-key '$(if $(KEY),$(abspath $(KEY)))' -repo '$(CURDIR)' -out '$(CURDIR)/$(DIST)/release' \
		-sign-pkcs12 '$(if $(SIGN_PKCS12),$(abspath $(SIGN_PKCS12)))' -sign-cert '$(if $(SIGN_CERT),$(abspath $(SIGN_CERT)))' \
		-sign-key '$(if $(SIGN_KEY),$(abspath $(SIGN_KEY)))' -sign-timestamp-url '$(SIGN_TIMESTAMP_URL)' \
		$(if $(filter 1,$(REQUIRE_SIGNING)),-require-signing)

vet:
	$(GO) vet ./...
	$(GO) vet -tags testhooks ./...
	$(GO) vet -tags acceptance ./test/... ./internal/...
	$(GO) tool staticcheck ./...
	$(GO) tool errcheck -ignoretests -exclude .errcheck-excludes ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=windows GOARCH=386 $(GO) build ./...
	GOOS=windows GOARCH=amd64 $(GO) build ./...

# Every tier: unit, integration, acceptance against real beds.
test:
	bash scripts/test.sh

test-unit:
	$(GO) test -count=1 ./...

test-acceptance:
	bash scripts/deps.sh
	$(GO) test -count=1 -tags acceptance -timeout 30m -v ./test/acceptance/

# Every fuzz target for a minute each (make test runs them for seconds).
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} bash scripts/fuzz.sh

# Builds adldapctl, serves a sample connector from a local feed and runs
# install → verify → update → rollback in a throwaway systemd-nspawn
# container, printing what a user would see. Needs root; touches none of the
# host's real paths, services or trust store.
demo: bin
	bash scripts/deps.sh
	$(GO) run ./internal/cmd/demo -bin $(DIST)/adldapctl

# The same story on Windows: builds adldapctl.exe, serves sample connector
# MSIs from a local feed and runs install → status → verify → update →
# failed update rolled back → rollback under Wine, in a throwaway prefix
# (real msiexec, service control manager and registry), printing each
# command as typed at an elevated prompt. Touches nothing of the host.
demo-windows:
	bash scripts/deps.sh
	@mkdir -p $(DIST)
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/adldapctl-windows-amd64.exe ./cmd/adldapctl
	$(GO) run ./internal/cmd/demo -windows -bin $(DIST)/adldapctl-windows-amd64.exe

bench:
	bash scripts/bench.sh

deps:
	bash scripts/deps.sh

clean:
	rm -rf $(DIST)
