# telltale: the two commands of the quick start, and their set-up.
#   make demo   the live view over the built-in demo capture (its report, without a terminal)
#   make test   formatting, lints and every test (what CI runs)
# Both install what a fresh Debian machine lacks (libpcap-dev) first.
#   make bench  whole audits timed against ndpiReader, tshark and a bare libpcap loop
#               (scripts/bench.sh installs those; the figures are in docs/performance.md)

CARGO ?= cargo

.PHONY: all demo test bench deps build release clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build

release: deps
	$(CARGO) build --release

demo: deps
	$(CARGO) run --quiet -- demo

test: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

bench:
	@CARGO="$(CARGO)" scripts/bench.sh

clean:
	$(CARGO) clean
