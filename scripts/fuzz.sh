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
while read -r pkg name; do
	echo "fuzz: $pkg $name ($FUZZTIME)"
	$GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/adldapctl-fuzz.$$ 2>&1 || {
		cat /tmp/adldapctl-fuzz.$$; rm -f /tmp/adldapctl-fuzz.$$; exit 1
	}
done <<<"$targets"
rm -f /tmp/adldapctl-fuzz.$$
