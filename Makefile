# telltale: the two commands of the quick start, and their set-up.
#   make demo   the live view over the built-in demo capture (its report, without a terminal)
#   make test   formatting, lints and every test (what CI runs)
# Both install what a fresh Debian machine lacks (libpcap-dev) first.

CARGO ?= cargo

.PHONY: all demo test deps build release clean

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

clean:
	$(CARGO) clean
