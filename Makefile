# telltale: the two commands of the quick start, and their set-up.
#   make demo   the live view over the built-in demo capture (its report, without a terminal)
#   make test   formatting, lints, cargo deny and every test (what CI runs)
# Both install what a fresh Debian machine lacks (libpcap-dev) first.
#   make bench  whole audits timed against ndpiReader, tshark and a bare libpcap loop
#               (scripts/bench.sh installs those; the figures are in docs/performance.md)
#   make fuzz   every cargo-fuzz target for FUZZ_SECONDS each (default 600; docs/fuzzing.md)

CARGO ?= cargo

.PHONY: all demo test deny bench soak deps build release clean fuzz

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build

release: deps
	$(CARGO) build --release

demo: deps
	$(CARGO) run --quiet -- demo

# cargo deny: banned crates (no HTTP or DNS client), licences, sources, and the RustSec
# advisories (the snapshot in ../shared/advisory-db, cloned into a cache folder; required
# under CI). scripts/deny.sh installs cargo-deny when missing.
deny:
	@mkdir -p target; rm -f target/deny-summary.txt; \
	CARGO="$(CARGO)" TELLTALE_DENY_SUMMARY="$(CURDIR)/target/deny-summary.txt" scripts/deny.sh

# Tests that cannot run here (no root, tmux, strace, Chromium, ../shared ...) fail under CI
# and are skipped elsewhere; each skip goes to TELLTALE_SKIP_LOG, summed up in the last line.
test: deps deny
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@log="$${TELLTALE_SKIP_LOG:-$(CURDIR)/target/test-skips.log}"; rm -f "$$log"; \
	echo "$(CARGO) test --workspace"; status=0; TELLTALE_SKIP_LOG="$$log" $(CARGO) test --workspace || status=$$?; \
	TELLTALE_SKIP_LOG="$$log" scripts/skip-summary.sh; \
	if [ -s target/deny-summary.txt ]; then cat target/deny-summary.txt; fi; exit $$status

bench:
	@CARGO="$(CARGO)" scripts/bench.sh

# The soak (tests/soak.rs): a generated day of a media server's traffic through `audit -i` and
# `watch -r`, each with a history, the live audit with a rotating journal, both with a hook.
# `make test` runs it over a two-hour day; this runs 24 hours (SOAK_HOURS, SOAK_PER_HOUR,
# SOAK_PPS and SOAK_SPEED change it). Needs root, like the other live tests.
soak: deps
	SOAK_HOURS=$${SOAK_HOURS:-24} $(CARGO) test --test soak -- --test-threads 1 --nocapture

# Builds the fuzz targets (libFuzzer + ASan, on stable through RUSTC_BOOTSTRAP), seeds them from
# the fixtures and ../shared/captures, and runs each for FUZZ_SECONDS; any finding fails.
FUZZ_SECONDS ?= 600
fuzz: deps
	@CARGO="$(CARGO)" FUZZ_SECONDS="$(FUZZ_SECONDS)" scripts/fuzz.sh

clean:
	$(CARGO) clean
