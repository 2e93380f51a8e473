#!/usr/bin/env bash
# Installs what the test beds and the demo need, idempotently: Debian
# packages, Node.js for the sample connector, and the cached Debian rootfs
# tarballs for the systemd-nspawn beds (systemd, and sysvinit for the SysV
# tests). Safe to run again; does nothing when all is there.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
cd "$(dirname "$0")/.."

need=()
command -v debootstrap >/dev/null     || need+=(debootstrap)
command -v systemd-nspawn >/dev/null  || need+=(systemd-container)
command -v nsenter >/dev/null         || need+=(util-linux)
command -v setpriv >/dev/null         || need+=(util-linux)
command -v node >/dev/null            || need+=(nodejs)
command -v npm >/dev/null             || need+=(npm)
command -v squid >/dev/null           || need+=(squid)
# The TLS-interception bed needs squid built with OpenSSL (ssl_bump):
# squid-openssl, which conflicts with (replaces) plain squid and serves the
# Basic-auth bed as well. chrony under faketime is the skewed SNTP server.
if ! squid -v 2>/dev/null | grep -q -- --with-openssl; then
	kept=(); for p in "${need[@]}"; do [ "$p" = squid ] || kept+=("$p"); done
	need=("${kept[@]}" squid-openssl)
fi
command -v chronyd >/dev/null         || need+=(chrony)
command -v faketime >/dev/null        || need+=(faketime)
command -v tar >/dev/null             || need+=(tar)
command -v openssl >/dev/null         || need+=(openssl)
command -v slapd >/dev/null           || need+=(slapd)
command -v ldapsearch >/dev/null      || need+=(ldap-utils)
command -v dnsmasq >/dev/null         || need+=(dnsmasq)
# rpm -qpi/-qpl check the release .rpm (packaging/tools).
command -v rpm >/dev/null             || need+=(rpm)
# The Windows beds: Wine (64-bit) runs adldapctl.exe, msiexec, the SCM and the
# certificate stores; wixl builds the sample MSIs; mingw builds the ProcessPrng
# shim Go needs under Wine 8; osslsigncode signs and verifies Authenticode.
command -v wine >/dev/null            || need+=(wine)
[ -x /usr/lib/wine/wine64 ]           || need+=(wine64)
command -v wixl >/dev/null            || need+=(wixl)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v osslsigncode >/dev/null    || need+=(osslsigncode)
# adldapctl's own .msi: msibuild adds the PATH Environment table wixl lacks;
# msiinfo/msiextract read it back in tests.
command -v msibuild >/dev/null        || need+=(msitools)
# The .deb test renders the installed man page with the host's man-db (the
# minbase rootfs has none) and drives bash-completion's loader in the
# container with the host's bash_completion script.
command -v man >/dev/null             || need+=(man-db)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
# slapd and dnsmasq start system daemons (ports 389, 53) from their postinst;
# the tests run their own on loopback. Keep invoke-rc.d from starting them
# while we install (a Docker-style policy-rc.d that is already there stays).
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing ${need[*]}; run as root (apt-get install)" >&2
		exit 1
	fi
	echo "deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$(id -u)" = 0 ]; then
	bash scripts/testbed-rootfs.sh
fi
# No system slapd or dnsmasq left running or enabled: the tests start their
# own on loopback, by pid. (No-ops when the service never started.)
if [ "$(id -u)" = 0 ]; then
	for svc in slapd dnsmasq; do
		[ -x "/etc/init.d/$svc" ] || continue
		"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		else
			update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
	done
fi
