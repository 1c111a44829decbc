#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# builddir.sh name KERNEL_TREE QEMU_TREE : print the default meson build
#   directory for these source trees (either may be ""): TOP/build for
#   Debian's, TOP/build-tree-HASH for a user's (one per pair of trees, so
#   switching trees never rebuilds the other's kernels).
# builddir.sh setup BUILDDIR KERNEL_TREE QEMU_TREE : create BUILDDIR, or
#   set its kernel_tree/qemu_tree options when they differ.
# Used by run-vm.sh and run-tests.sh (--kernel-tree, --qemu-tree).
set -euo pipefail
. "$(dirname "$0")/common.sh"

abs() {	# a tree's canonical path ("" stays "")
	[ -z "$1" ] && return
	[ -d "$1" ] || die "no such source tree directory: '$1'"
	(cd "$1" && pwd -P)
}

case "${1:-}" in
name)
	kt=$(abs "${2:-}")
	qt=$(abs "${3:-}")
	if [ -z "$kt$qt" ]; then
		echo "$SIMGPU_TOP/build"
	else
		echo "$SIMGPU_TOP/build-tree-$(printf '%s\n%s\n' "$kt" "$qt" | sha256sum | cut -c1-12)"
	fi ;;
setup)
	b=${2:?usage: builddir.sh setup BUILDDIR KERNEL_TREE QEMU_TREE}
	kt=$(abs "${3:-}")
	qt=$(abs "${4:-}")
	if [ ! -f "$b/build.ninja" ]; then
		meson setup "$b" "$SIMGPU_TOP" -Dkernel_tree="$kt" -Dqemu_tree="$qt" >/dev/null ||
			die "meson setup $b failed"
		exit 0
	fi
	have=$(/usr/bin/python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
print(o.get("kernel_tree", ""), o.get("qemu_tree", ""), sep="\n")' \
		"$b/meson-info/intro-buildoptions.json" 2>/dev/null || true)
	if [ "$have" != "$(printf '%s\n%s' "$kt" "$qt")" ]; then
		meson configure "$b" -Dkernel_tree="$kt" -Dqemu_tree="$qt" >/dev/null ||
			die "meson configure $b failed"
	fi ;;
*) die "usage: builddir.sh name KERNEL_TREE QEMU_TREE | setup BUILDDIR KERNEL_TREE QEMU_TREE" ;;
esac
