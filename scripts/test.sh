#!/usr/bin/env bash
# make test: every tier. Installs what the beds need (idempotent), then
# vets and cross-builds, runs unit + integration tests, then the acceptance
# tier against real systemd in systemd-nspawn. Each bed is started and
# stopped by the test that uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
start=$(date +%s)

echo "== deps"
bash scripts/deps.sh

echo "== vet and cross-build (linux, windows/amd64, windows/386)"
make --no-print-directory vet

echo "== unit and integration tests"
$GO test -count=1 -timeout 20m ./...

echo "== acceptance tests (systemd-nspawn)"
$GO test -count=1 -tags acceptance -timeout 30m -v ./test/acceptance/
echo "== all tiers passed in $(( $(date +%s) - start ))s"
