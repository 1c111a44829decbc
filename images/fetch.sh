#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch.sh qemu|kernel|firmware : download and unpack a Debian source or
# firmware package into the simgpu cache, print the unpacked directory.
# Versions come from images/versions; the first one that downloads wins.
# fetch.sh kernel PKG=VERSION... : those kernel source packages instead
# (e.g. $KERNEL_OTHER_PKGS, the second kernel the slow set runs on).
# Nothing half-unpacked is ever left under its final name.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SRC=$SIMGPU_CACHE/src
mkdir -p "$SRC"
# SIMGPU_FIRMWARE_DIR: a directory with QEMU 10's ROMs (bios-256k.bin,
# ...) instead of Debian's packages, for hosts without apt.
if [ "${1:-}" = firmware ] && [ -n "${SIMGPU_FIRMWARE_DIR:-}" ]; then
	[ -f "$SIMGPU_FIRMWARE_DIR/bios-256k.bin" ] ||
		die "SIMGPU_FIRMWARE_DIR=$SIMGPU_FIRMWARE_DIR has no bios-256k.bin"
	(cd "$SIMGPU_FIRMWARE_DIR" && pwd)
	exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	die "no apt-get/dpkg-deb on this host: Debian's ${1:-} sources cannot be fetched; give run-vm.sh --kernel-tree DIR and --qemu-tree DIR, and SIMGPU_FIRMWARE_DIR for the ROMs (README, Hosts)"
# Builds run in parallel (two kernel flavours need the same source): one
# download and unpack of each kind at a time; the second finds it done.
exec 9>"$SRC/.fetch-${1:-none}.lock"
flock 9

# apt_try WHAT CMD... : run an apt download, naming the package on failure
apt_try() {
	local what=$1
	shift
	"$@" >apt.log 2>&1 && return 0
	log "download of $what failed: $(grep -E '^(E|W):' apt.log | head -1)"
	return 1
}

# try_versions KIND DIRPREFIX UNPACK PKG=VERSION...: the first version that
# downloads and unpacks (UNPACK TMPDIR PKG VERSION) is published as
# SRC/DIRPREFIX-VERSION; prints that directory.
try_versions() {
	local kind=$1 prefix=$2 unpack=$3 pv pkg v dir
	shift 3
	for pv in "$@"; do
		pkg=${pv%%=*}
		v=${pv#*=}
		dir=$SRC/$prefix-${v#*:}
		[ -f "$dir/.simgpu-complete" ] && { echo "$dir"; return; }
		need_space "$SRC" 2500
		tmp=$(mktemp -d "$SRC/.$prefix.XXXXXX")
		if (cd "$tmp" && "$unpack" "$pkg" "$v"); then
			touch "$tmp/tree/.simgpu-complete"
			publish "$tmp/tree" "$dir"
			rm -rf "$tmp"
			echo "$dir"
			return
		fi
		rm -rf "$tmp"
	done
	die "could not download any $kind of: $*"
}

# Run in the temporary directory; leave the unpacked tree in ./tree.
unpack_qemu() {
	apt_try "$1=$2 (source)" apt-get source -qq "$1=$2" || return 1
	mv qemu-*/ tree
}

unpack_kernel() {
	apt_try "$1=$2" apt-get download -qq "$1=$2" || return 1
	dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards './usr/src/*.tar.xz'
	rm -f ./*.deb
	mkdir tree
	tar -xJf usr/src/*.tar.xz -C tree --strip-components=1
}

fetch_qemu() {
	# shellcheck disable=SC2086
	try_versions "QEMU source package" qemu unpack_qemu $(printf 'qemu=%s ' $QEMU_VERSIONS)
}

fetch_kernel() {
	# shellcheck disable=SC2086,SC2048
	try_versions "kernel source" linux unpack_kernel ${*:-$KERNEL_PKGS}
}

fetch_firmware() {
	local dir pv deb
	dir=$SRC/firmware-$(echo "$FIRMWARE_PKGS" | sha256sum | cut -c1-12)
	[ -f "$dir/.simgpu-complete" ] && { echo "$dir/fw"; return; }
	tmp=$(mktemp -d "$SRC/.fw.XXXXXX")
	for pv in $FIRMWARE_PKGS; do
		(cd "$tmp" && apt_try "$pv" apt-get download -qq "$pv") ||
			{ rm -rf "$tmp"; die "could not download firmware package $pv"; }
	done
	mkdir "$tmp/tree"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/tree"
	done
	# One directory for QEMU's -L with both packages' ROMs.
	mkdir "$tmp/tree/fw"
	(cd "$tmp/tree/fw" && ln -s ../usr/share/qemu/* ../usr/share/seabios/* .)
	touch "$tmp/tree/.simgpu-complete"
	publish "$tmp/tree" "$dir"
	rm -rf "$tmp"
	echo "$dir/fw"
}

case "${1:-}" in
qemu) fetch_qemu ;;
kernel) shift; fetch_kernel "$@" ;;
firmware) fetch_firmware ;;
*) die "usage: $0 qemu|kernel|firmware" ;;
esac
