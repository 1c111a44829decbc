#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-tree.sh BUILDDIR: run-vm.sh --qemu-tree on a QEMU tree of the
# user's own: a copy of Debian's QEMU source whose -version says
# "simgpu-qemu-tree-marker".  The QEMU built from it has the marker and
# the simgpu device, a VM runs simgpu-smoke on it, and nothing was
# written into the tree.  Its build directory is BUILDDIR/qemu-tree; the
# copy lives in SIMGPU_CACHE/test-trees/qemu (built once, then cached).
# TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/images/common.sh"
B=${1:?usage: qemu-tree.sh BUILDDIR}/qemu-tree
. "$TOP/tests/host/tap.sh"

echo "TAP version 13"
echo "1..3"
pristine=$("$TOP/images/fetch.sh" qemu) || { echo "Bail out! no QEMU source"; exit 1; }
Q=$SIMGPU_CACHE/test-trees/qemu
F=system/vl.c
exec 9>"$SIMGPU_CACHE/test-trees-qemu.lock"
flock 9
if [ ! -f "$Q/.simgpu-test-tree" ]; then
	rm -rf "$Q"
	mkdir -p "${Q%/*}"
	cp -al "$pristine" "$Q"
	rm -f "$Q/.simgpu-complete"
	# The marker: a file replaced, never written through its link.
	sed 's|printf("QEMU emulator version " QEMU_FULL_VERSION "\\n"|printf("QEMU emulator version " QEMU_FULL_VERSION " (simgpu-qemu-tree-marker)\\n"|' \
		"$pristine/$F" >"$Q/$F.new"
	rm -f "$Q/$F"
	mv "$Q/$F.new" "$Q/$F"
	touch "$Q/.simgpu-test-tree"
fi
stamp=$(mktemp)
sleep 1
start=$SECONDS
out=$("$TOP/run-vm.sh" --qemu-tree "$Q" --builddir "$B" --accel tcg \
	--timeout 300 --exec simgpu-smoke 2>&1)
rc=$?
[ $rc = 0 ]
result $? "run-vm.sh --qemu-tree TREE --exec simgpu-smoke passes ($((SECONDS - start))s)" "$out"
ver=$("$B/qemu-dev/qemu/qemu-system-x86_64" -version 2>&1 | head -n 1)
dev=$("$B/qemu-dev/qemu/qemu-system-x86_64" -device simgpu,help 2>&1 | head -n 1)
[[ $ver == *simgpu-qemu-tree-marker* ]] && [ "$dev" = "simgpu options:" ]
result $? "the QEMU built is the tree's ($ver) with the simgpu device" "$ver"$'\n'"$dev"
written=$(find "$Q" -newer "$stamp" -print | head -5)
rm -f "$stamp"
[ -z "$written" ] && [ ! -e "$Q/build" ]
result $? "nothing was written into the tree" "$written"
tap_finish
