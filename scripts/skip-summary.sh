#!/bin/sh
# The line `make test` ends with: how many tests skipped for a missing prerequisite, and
# why, from the skip log the tests append to (tests/common/mod.rs, `require`), e.g.
#   skipped: 12 tests (root: 9, tmux: 2, ../shared: 1); under CI these fail
# or `skipped: none`. Always exits 0: the summary never changes make test's outcome.
log="${TELLTALE_SKIP_LOG:-target/test-skips.log}"
if [ ! -s "$log" ]; then
	echo "skipped: none"
	exit 0
fi
# One line per test and reason, even where a test checked twice.
sort -u "$log" | awk -F '\t' '
	{ tests[$1] = 1; if (!($2 in count)) order[n++] = $2; count[$2]++ }
	END {
		total = 0; for (t in tests) total++
		# the commonest reason first
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
			if (count[order[j]] > count[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
		line = ""
		for (i = 0; i < n; i++) line = line (i ? ", " : "") order[i] ": " count[order[i]]
		printf "skipped: %d test%s (%s); under CI these fail\n", total, (total == 1 ? "" : "s"), line
	}'
exit 0
