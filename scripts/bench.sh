#!/usr/bin/env bash
# make bench: speed and memory figures, each as a ratio or difference
# against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >&2
go test -count=1 -tags bench -timeout 20m -v ./test/bench/ > /tmp/adldapctl-bench.log 2>&1 || { cat /tmp/adldapctl-bench.log; exit 1; }
echo "adldapctl benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
grep '^BENCH ' /tmp/adldapctl-bench.log | sed 's/^BENCH /  /'
