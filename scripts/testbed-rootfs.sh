#!/usr/bin/env bash
# testbed-rootfs.sh — prepare the systemd-nspawn test bed used by
# internal/testbed (Linux acceptance tests against a real systemd).
#
#   sudo scripts/testbed-rootfs.sh
#
# Idempotent. It
#   1. installs debootstrap and systemd-container (systemd-nspawn) with apt
#      when they are missing (apt-get update runs only then);
#   2. builds a Debian bookworm minbase rootfs with systemd, dbus,
#      ca-certificates, logrotate and curl, and caches it as a tarball at
#      ${ADLDAPCTL_TESTBED_CACHE:-/var/cache/adldapctl-testbeds}/bookworm-rootfs.tar
#      (built in a temporary directory, then renamed into place; skipped when
#      the tarball is already there).
# It prints the tarball path on stdout. Concurrent runs wait for each other
# (flock on $CACHE/.lock). The rootfs is never part of the repository.
#
# Environment:
#   ADLDAPCTL_TESTBED_CACHE    cache directory (default /var/cache/adldapctl-testbeds)
#   ADLDAPCTL_TESTBED_MIRROR   Debian mirror (default: the one this host's apt uses)
set -euo pipefail

CACHE=${ADLDAPCTL_TESTBED_CACHE:-/var/cache/adldapctl-testbeds}
# The Debian mirror: the one this host's apt already uses, unless given.
host_mirror() {
	{
		grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{for (i = 2; i <= NF; i++) print $i}'
		grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break }}'
	} | grep -E '/debian/?$' | head -n1 || true
}
MIRROR=${ADLDAPCTL_TESTBED_MIRROR:-$(host_mirror)}
SUITE=bookworm
TARBALL="$CACHE/$SUITE-rootfs.tar"
INCLUDE=systemd,systemd-sysv,dbus,ca-certificates,logrotate,curl

log() { printf 'testbed-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and systemd-nspawn need it): sudo $0"

# 1. Tools.
missing=()
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
PATH=$PATH:/usr/sbin:/sbin

# 2. Rootfs tarball.
mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE/.lock"
	flock 9
fi

if [ -s "$TARBALL" ]; then
	log "cached: $TARBALL"
	printf '%s\n' "$TARBALL"
	exit 0
fi

work=$(mktemp -d "$CACHE/build.XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT

[ -n "$MIRROR" ] || die "no Debian mirror in this host's apt sources: set ADLDAPCTL_TESTBED_MIRROR=<mirror URL>"
rootfs="$work/rootfs"
log "debootstrap $SUITE into $rootfs (a few minutes; log: $work/debootstrap.log)"
start=$(date +%s)
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
	tail -n 30 "$work/debootstrap.log" >&2 || true
	die "debootstrap failed (mirror $MIRROR)"
fi
log "debootstrap done in $(( $(date +%s) - start ))s"

# Trim what a test bed never needs, and drop host identity debootstrap
# copied in. The machine-id stays (an empty one means "first boot").
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
printf 'adldap-testbed\n' >"$rootfs/etc/hostname"

tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
mv -f "$work/rootfs.tar" "$TARBALL"
log "built $TARBALL ($(du -h "$TARBALL" | cut -f1))"
printf '%s\n' "$TARBALL"
