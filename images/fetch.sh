#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch.sh qemu|kernel|firmware : download and unpack a Debian source or
# firmware package into the simgpu cache, print the unpacked directory.
# Versions come from images/versions; the first one that downloads wins.
# Nothing half-unpacked is ever left under its final name.
set -euo pipefail
. "$(dirname "$0")/common.sh"

SRC=$SIMGPU_CACHE/src
mkdir -p "$SRC"

# apt_try WHAT CMD... : run an apt download, naming the package on failure
apt_try() {
	local what=$1
	shift
	"$@" >"$tmp/apt.log" 2>&1 && return 0
	log "download of $what failed: $(grep -E '^(E|W):' "$tmp/apt.log" | head -1)"
	return 1
}

fetch_qemu() {
	local v dir
	for v in $QEMU_VERSIONS; do
		dir=$SRC/qemu-${v#*:}
		[ -f "$dir/.simgpu-complete" ] && { echo "$dir"; return; }
		need_space "$SRC" 1500
		tmp=$(mktemp -d "$SRC/.qemu.XXXXXX")
		if (cd "$tmp" && apt_try "qemu=$v (source)" \
			apt-get source -qq "qemu=$v"); then
			mv "$tmp"/qemu-*/ "$tmp/tree"
			touch "$tmp/tree/.simgpu-complete"
			publish "$tmp/tree" "$dir"
			rm -rf "$tmp"
			echo "$dir"
			return
		fi
		rm -rf "$tmp"
	done
	die "could not download any QEMU source package of: $QEMU_VERSIONS"
}

fetch_kernel() {
	local pv pkg v dir
	for pv in $KERNEL_PKGS; do
		pkg=${pv%%=*}
		v=${pv#*=}
		dir=$SRC/linux-$v
		[ -f "$dir/.simgpu-complete" ] && { echo "$dir"; return; }
		need_space "$SRC" 2500
		tmp=$(mktemp -d "$SRC/.linux.XXXXXX")
		if (cd "$tmp" && apt_try "$pkg=$v" apt-get download -qq "$pkg=$v"); then
			dpkg-deb --fsys-tarfile "$tmp"/*.deb |
				tar -x -C "$tmp" --wildcards './usr/src/*.tar.xz'
			rm -f "$tmp"/*.deb
			mkdir "$tmp/tree"
			tar -xJf "$tmp"/usr/src/*.tar.xz -C "$tmp/tree" \
				--strip-components=1
			touch "$tmp/tree/.simgpu-complete"
			publish "$tmp/tree" "$dir"
			rm -rf "$tmp"
			echo "$dir"
			return
		fi
		rm -rf "$tmp"
	done
	die "could not download any kernel source of: $KERNEL_PKGS"
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
kernel) fetch_kernel ;;
firmware) fetch_firmware ;;
*) die "usage: $0 qemu|kernel|firmware" ;;
esac
