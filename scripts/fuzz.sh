#!/usr/bin/env bash
# fuzz.sh — runs every Go native fuzz target for FUZZTIME each (default
# 5s: the short run of `make test`; `make fuzz` gives each a minute).
# A crash fails the run; go test writes the crashing input under the
# package's testdata/fuzz/<Target>/, where it stays as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
	while read -r f; do
		pkg=$(dirname "$f")
		grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed "s|^func |$pkg |"
	done | sort)
[ -n "$targets" ] || { echo "fuzz: no fuzz targets found"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while read -r pkg name; do
	echo "fuzz: $pkg $name ($FUZZTIME)"
	for attempt in 1 2; do
		if $GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="${FUZZMINIMIZETIME:-1s}" "$pkg" >"$log" 2>&1; then
			break
		fi
		# A found crash names its input; a worker that was still busy when
		# the time ran out ("context deadline exceeded") found nothing, and
		# gets one more run on a loaded machine.
		if [ "$attempt" = 2 ] || grep -q 'Failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
			cat "$log"; exit 1
		fi
		echo "fuzz: $name: the time ran out on a busy worker; running it again"
	done
done <<<"$targets"
