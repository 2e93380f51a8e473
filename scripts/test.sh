#!/usr/bin/env bash
# make test: every tier. Installs what the beds need (idempotent), then
# vets and cross-builds, runs unit + integration tests, then the acceptance
# tier against real systemd in systemd-nspawn and Windows under Wine. Each
# bed is started and stopped by the test that uses it.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
cd "$(dirname "$0")/.."
GO=${GO:-go}
start=$(date +%s)

echo "== deps"
bash scripts/deps.sh

echo "== vet, staticcheck, errcheck and cross-build (linux, windows/amd64, windows/386)"
make --no-print-directory vet

echo "== release build (static, version stamped)"
make --no-print-directory build VERSION=0.0.0-test COMMIT=testcommit
for f in dist/adldapctl-linux-amd64 dist/adldapctl-linux-arm64 dist/adldapctl-windows-amd64.exe dist/adldapctl-windows-386.exe; do
	[ -s "$f" ] || { echo "missing $f"; exit 1; }
done
if ldd dist/adldapctl-linux-amd64 >/dev/null 2>&1; then echo "dist/adldapctl-linux-amd64 is not static"; exit 1; fi
dist/adldapctl-linux-amd64 version | grep -q '0.0.0-test (commit testcommit' || { echo "version not stamped"; dist/adldapctl-linux-amd64 version; exit 1; }

echo "== unit and integration tests"
$GO test -count=1 -timeout 20m ./...

echo "== release tooling (packaging/tools: nfpm golden files, .deb/.rpm, .msi under Wine, Authenticode, signed SHA256SUMS, self-update mirror)"
staticcheck=$($GO tool -n staticcheck)
errcheck=$($GO tool -n errcheck)
(cd packaging/tools && $GO vet ./... && "$staticcheck" ./... && "$errcheck" -ignoretests ./... &&
	$GO test -count=1 -timeout 10m ./...)

echo "== fuzz targets (short run; make fuzz runs them longer)"
FUZZTIME=${FUZZTIME:-5s} bash scripts/fuzz.sh

echo "== acceptance tests (systemd-nspawn, Wine)"
$GO test -count=1 -tags acceptance -timeout 30m -v ./test/acceptance/
echo "== all tiers passed in $(( $(date +%s) - start ))s"
