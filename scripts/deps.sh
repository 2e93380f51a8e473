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
