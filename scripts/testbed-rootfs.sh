#!/usr/bin/env bash
# testbed-rootfs.sh — prepare the systemd-nspawn test beds used by
# internal/testbed (Linux acceptance tests against a real systemd, and
# against SysV init on a host without systemd).
#
#   sudo scripts/testbed-rootfs.sh [all|systemd|sysv]    (default: all)
#
# Idempotent. It
#   1. installs debootstrap and systemd-container (systemd-nspawn) with apt
#      when they are missing (apt-get update runs only then);
#   2. builds a Debian bookworm minbase rootfs with systemd, dbus,
#      ca-certificates, logrotate and curl, and caches it as a tarball at
#      ${ADLDAPCTL_TESTBED_CACHE:-/var/cache/adldapctl-testbeds}/bookworm-rootfs-2.tar
#      (built in a temporary directory, then renamed into place; skipped when
#      the tarball is already there);
#   3. (all, sysv) builds a second tarball from the first,
#      $CACHE/bookworm-sysv-rootfs-2.tar: the same rootfs with sysvinit-core
#      installed by apt in a chroot, so /sbin/init is SysV init (systemd-sysv
#      is removed; systemd's binaries stay but never run as PID 1).
# It prints the path of each tarball it was asked for on stdout. Concurrent runs wait for each other
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
# The -N suffix is the rootfs content's version: bump it when INCLUDE
# changes, so a cached rootfs without the new packages is rebuilt.
ROOTFS_REV=2
TARBALL="$CACHE/$SUITE-rootfs-$ROOTFS_REV.tar"
SYSV_TARBALL="$CACHE/$SUITE-sysv-rootfs-$ROOTFS_REV.tar"
WHAT=${1:-all}
case "$WHAT" in all|systemd|sysv) ;; *) printf 'usage: %s [all|systemd|sysv]\n' "$0" >&2; exit 2 ;; esac
# man-db and bash-completion: the .deb test reads `man adldapctl` and
# completes `adldapctl <TAB>` inside the container.
INCLUDE=systemd,systemd-sysv,dbus,ca-certificates,logrotate,curl,man-db,bash-completion

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

# Older revisions of the rootfs are dead weight (hundreds of MB each).
for old in "$CACHE/$SUITE-rootfs.tar" "$CACHE/$SUITE-sysv-rootfs.tar" "$CACHE/$SUITE"-rootfs-[0-9]*.tar "$CACHE/$SUITE"-sysv-rootfs-[0-9]*.tar; do
	[ -e "$old" ] || continue
	case "$old" in "$TARBALL"|"$SYSV_TARBALL") continue ;; esac
	log "removing an older rootfs revision: $old"
	rm -f "$old"
done

work=
cleanup() {
	[ -n "$work" ] || return 0
	umount "$work/rootfs/dev" "$work/rootfs/proc" 2>/dev/null || true
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

build_systemd() {
	if [ -s "$TARBALL" ]; then
		log "cached: $TARBALL"
		return 0
	fi
	work=$(mktemp -d "$CACHE/build.XXXXXX")
	[ -n "$MIRROR" ] || die "no Debian mirror in this host's apt sources: set ADLDAPCTL_TESTBED_MIRROR=<mirror URL>"
	local rootfs="$work/rootfs" start
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
	cleanup
	work=
}

# The SysV bed: the systemd rootfs with sysvinit-core as /sbin/init. apt
# runs in a chroot with the host's resolv.conf (and /proc, /dev bound for
# the maintainer scripts), never starting a service (policy-rc.d).
build_sysv() {
	if [ -s "$SYSV_TARBALL" ]; then
		log "cached: $SYSV_TARBALL"
		return 0
	fi
	work=$(mktemp -d "$CACHE/build.XXXXXX")
	local rootfs="$work/rootfs" start rc=0
	start=$(date +%s)
	mkdir "$rootfs"
	tar --numeric-owner -xpf "$TARBALL" -C "$rootfs"
	cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
	chmod 755 "$rootfs/usr/sbin/policy-rc.d"
	mount --bind /proc "$rootfs/proc"
	mount --bind /dev "$rootfs/dev"
	log "installing sysvinit-core in $rootfs (log: $work/apt.log)"
	chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get update && apt-get install -y --no-install-recommends sysvinit-core' >"$work/apt.log" 2>&1 || rc=$?
	umount "$rootfs/dev" "$rootfs/proc"
	if [ "$rc" -ne 0 ]; then
		tail -n 30 "$work/apt.log" >&2 || true
		die "apt-get install sysvinit-core in the chroot failed (exit $rc)"
	fi
	# systemd-sysv made /sbin/init a link to systemd; sysvinit's is a file.
	[ -f "$rootfs/sbin/init" ] && [ ! -L "$rootfs/sbin/init" ] ||
		die "/sbin/init in the sysv rootfs is not sysvinit's ($(ls -l "$rootfs/sbin/init" 2>&1))"
	[ -x "$rootfs/sbin/start-stop-daemon" ] || [ -x "$rootfs/usr/sbin/start-stop-daemon" ] || die "no start-stop-daemon in the sysv rootfs"
	# No getty respawning on consoles a container does not have.
	sed -i -E 's/^([1-6]:[0-9]+:respawn:)/#\1/' "$rootfs/etc/inittab"
	rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
	rm -rf "$rootfs"/var/lib/apt/lists/*
	: >"$rootfs/etc/resolv.conf"
	printf 'adldap-testbed-sysv\n' >"$rootfs/etc/hostname"
	tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
	mv -f "$work/rootfs.tar" "$SYSV_TARBALL"
	log "built $SYSV_TARBALL in $(( $(date +%s) - start ))s ($(du -h "$SYSV_TARBALL" | cut -f1))"
	cleanup
	work=
}

build_systemd
case "$WHAT" in all|systemd) printf '%s\n' "$TARBALL" ;; esac
if [ "$WHAT" != systemd ]; then
	build_sysv
	printf '%s\n' "$SYSV_TARBALL"
fi
