#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bad-environment.sh: a failed download and a full disk each give a
# one-line error naming the problem, a non-zero exit, and leave nothing
# half-written in the cache.  Uses a copy of images/ with versions the
# archive does not have, and a small tmpfs as the cache.  The same for the
# Debian rootfs (images/build-rootfs.sh): a download that fails (404), a
# package the archive lacks, no debootstrap, a full disk.  A host without
# the package bootstrap (SIMGPU_NO_DEPS=1): what is missing is named, and
# without apt-get the sources must come from --kernel-tree/--qemu-tree.
# TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'mountpoint -q "$work/full" && umount "$work/full"; rm -rf "$work"' EXIT

. "$TOP/tests/host/tap.sh"

# expect_error DESCRIPTION TEXT CACHE fetch.sh-args: fails, last line names
# the problem, and the cache holds no partial entry afterwards.
expect_error() {
	local desc=$1 text=$2 cache=$3 out rc left
	shift 3
	out=$(SIMGPU_CACHE=$cache "$work/images/fetch.sh" "$@" 2>&1 >/dev/null)
	rc=$?
	left=$(find "$cache/src" -mindepth 1 -maxdepth 1 ! -name '*.lock' 2>/dev/null)
	[ $rc != 0 ] && [[ $(printf '%s\n' "$out" | tail -n 1) == *"$text"* ]] && [ -z "$left" ]
	result $? "$desc" "status $rc; output: $out; left in cache: $left"
}

echo "TAP version 13"
echo "1..10"
cp -r "$TOP/images" "$work/images"
sed -i 's/^KERNEL_PKGS=.*/KERNEL_PKGS="linux-source-7.99=7.99.1-1"/
	s/^QEMU_VERSIONS=.*/QEMU_VERSIONS="1:99.0+ds-1"/' "$work/images/versions"
expect_error "kernel source that the archive lacks: error names it" \
	"could not download any kernel source of: linux-source-7.99=7.99.1-1" \
	"$work/cache" kernel
expect_error "QEMU source that the archive lacks: error names it" \
	"could not download any QEMU source package of: qemu=1:99.0+ds-1" \
	"$work/cache" qemu

if [ "$(id -u)" = 0 ] && mkdir "$work/full" && mount -t tmpfs -o size=4m tmpfs "$work/full"; then
	cp "$TOP/images/versions" "$work/images/versions"
	expect_error "full disk: error says how much space is needed" \
		"not enough disk space" "$work/full" kernel
else
	echo "ok 3 # SKIP full-disk check needs root to mount a small tmpfs"
	n=3
fi

# rootfs_error DESCRIPTION TEXT CACHE [VAR=VALUE...]: build-rootfs.sh
# fails, its last line (the one error line) names the problem, and CACHE
# holds nothing but its lock file afterwards.
rootfs_error() {
	local desc=$1 text=$2 cache=$3 out rc left
	shift 3
	out=$(env SIMGPU_CACHE="$cache" "$@" "$work/images/build-rootfs.sh" \
		debian "$work/out" 2>&1 >/dev/null)
	rc=$?
	left=$(find "$cache" -mindepth 1 -maxdepth 1 ! -name '*.lock' 2>/dev/null)
	[ $rc != 0 ] && [ "$(printf '%s\n' "$out" | grep -c 'error:')" = 1 ] &&
		[[ $(printf '%s\n' "$out" | tail -n 1) == *"$text"* ]] && [ -z "$left" ]
	result $? "$desc" "status $rc; output: $out; left in cache: $left"
}

if [ "$(id -u)" = 0 ]; then
	# The copy's deps.sh must not point the host's apt at the bad mirror.
	printf '#!/bin/sh\nexit 0\n' >"$work/images/deps.sh"
	rootfs_error "rootfs: a download that fails (404): debootstrap's error names it" \
		"debootstrap of Debian trixie failed: E: Failed getting release file" \
		"$work/cache-rootfs" SIMGPU_DEBIAN_MIRROR="$(. "$TOP/images/common.sh" && debian_mirror)/simgpu-404"
	sed -i 's/^ROOTFS_DEBIAN_PKGS=.*/ROOTFS_DEBIAN_PKGS="stress-ng simgpu-no-such-package"/' \
		"$work/images/versions"
	rootfs_error "rootfs: a package the archive lacks: the error names it" \
		"simgpu-no-such-package" "$work/cache-rootfs"
	cp "$TOP/images/versions" "$work/images/versions"
	rootfs_error "rootfs: no debootstrap: error names it" \
		"/nonexistent/debootstrap is missing" "$work/cache-rootfs" \
		SIMGPU_DEBOOTSTRAP=/nonexistent/debootstrap
	if mountpoint -q "$work/full"; then
		rootfs_error "rootfs: full disk: error says how much space is needed" \
			"not enough disk space" "$work/full/rootfs"
	else
		echo "ok 7 # SKIP full-disk check needs a small tmpfs"
	fi
else
	for i in 4 5 6 7; do echo "ok $i # SKIP the rootfs is built as root"; done
fi

# SIMGPU_NO_DEPS=1: a PATH without flex and bison, then one without
# apt-get.
mkdir -p "$work/bin"
for f in /usr/local/bin/* /usr/bin/* /bin/*; do
	case ${f##*/} in flex|bison|apt-get) continue ;; esac
	[ -e "$work/bin/${f##*/}" ] || ln -s "$f" "$work/bin/${f##*/}"
done
out=$(PATH=$work/bin SIMGPU_NO_DEPS=1 "$TOP/images/deps.sh" 2>&1)
rc=$?
[ $rc != 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
	[[ $out == *"SIMGPU_NO_DEPS=1 and missing: flex bison"* ]]
result $? "SIMGPU_NO_DEPS=1 without flex and bison: one line names both" "status $rc: $out"
out=$(SIMGPU_NO_DEPS=1 "$TOP/images/deps.sh" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ]
result $? "SIMGPU_NO_DEPS=1 on this host: everything is there, nothing installed" "status $rc: $out"
out=$(PATH=$work/bin SIMGPU_CACHE=$work/cache-noapt "$TOP/images/fetch.sh" kernel 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"no apt-get/dpkg-deb on this host"*"--kernel-tree DIR and --qemu-tree DIR"* ]]
result $? "no apt-get: fetching Debian's sources fails naming --kernel-tree/--qemu-tree" "status $rc: $out"
tap_finish
