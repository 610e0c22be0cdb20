# smtpfeed. `make demo` runs the simulated network; `make test` is what CI runs.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# An execution count, not a duration: go1.26's fuzz coordinator can fail
# a duration-bound run with "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in 1.27).
FUZZTIME ?= 200000x
BENCHTIME ?= 1s
# The binaries are static: smtpfeed needs nothing of libc (its resolver is
# its own), and without the dynamic loader it starts some 1.5 ms sooner,
# for every message sendmail or Exim starts it for. (The tests keep cgo:
# the race detector needs it.)
BUILD := CGO_ENABLED=0 $(GO) build
# Every OS the poller must compile for: epoll on linux, kqueue on the rest.
CROSS := linux/amd64 linux/arm64 freebsd/amd64 freebsd/arm64 openbsd/amd64 \
	openbsd/arm64 netbsd/amd64 netbsd/arm64 darwin/amd64 darwin/arm64 dragonfly/amd64
.PHONY: all build test vet lint cross fuzz-smoke bench bench-feed bench-1m demo install clean

all: build

build:
	$(GO) build ./...
	$(BUILD) -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

# vet, then every test under the race detector; fuzz targets replay their
# seed corpora as ordinary tests.
test: vet
	$(GO) test -race -count=1 ./...

# The MTA integration tests (build tag mta, root): a real sendmail, Exim or
# Postfix submits a list message and hands it to smtpfeed, which delivers into
# simnet, each run in namespaces of its own. Debian installs one MTA at a
# time, so MTA_RUN picks the test: Sendmail, Exim or Postfix (empty: all).
# With Postfix, feedbench's Postfix peer (make bench's Postfix column) runs too.
MTA_RUN ?=
.PHONY: test-mta
test-mta:
	$(GO) test -tags mta -race -count=1 -timeout 15m -run 'TestMTA$(MTA_RUN)' -v . ./cmd/feedbench

lint:
	$(GO) run $(STATICCHECK) ./...

# Build everything, tests included (vet type-checks them), for each OS.
cross:
	@set -e; for t in $(CROSS); do \
		echo "cross: $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... ; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... ; \
	done

# Each fuzz target for FUZZTIME executions, one at a time (go test -fuzz
# takes one).
fuzz-smoke:
	@set -e; found=0; for pkg in $$($(GO) list ./fuzz/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			found=1; echo "fuzz-smoke: $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done; \
	if [ $$found = 0 ]; then echo "fuzz-smoke: no fuzz targets under ./fuzz yet"; fi

# The Go benchmarks, then smtpfeed itself on three simulated worlds.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(MAKE) bench-feed

# smtpfeed on simnet worlds of 30, 10,000 and 100,000 recipients: a table on
# stdout and in out/bench.md, charts in out/bench-<world>.svg. FEEDBENCH_FLAGS
# picks, e.g. -worlds paper,10k or -no-strace.
FEEDBENCH_FLAGS ?=
bench-feed:
	$(BUILD) -o bin/smtpfeed ./cmd/smtpfeed
	$(GO) run ./cmd/feedbench -bench -smtpfeed bin/smtpfeed $(FEEDBENCH_FLAGS)

# The million: one LMTP transaction of 1,000,000 recipients over 100,000
# domains and 10,000 hosts; minutes, so not in bench-feed's default worlds.
bench-1m:
	$(MAKE) bench-feed FEEDBENCH_FLAGS='-worlds 1m -no-strace -limit 20m'

# smtpfeed delivering one message to about 2,000 recipients of a simulated
# Internet on loopback, checked against what the world expects.
demo:
	$(BUILD) -o bin/smtpfeed ./cmd/smtpfeed
	$(GO) run ./cmd/feedbench -demo -smtpfeed bin/smtpfeed

PREFIX ?= /usr/local
install:
	$(BUILD) -o bin/smtpfeed ./cmd/smtpfeed
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 bin/smtpfeed $(DESTDIR)$(PREFIX)/sbin/smtpfeed
	install -m 644 cmd/smtpfeed/smtpfeed.8 $(DESTDIR)$(PREFIX)/share/man/man8/smtpfeed.8

clean:
	rm -rf bin out
