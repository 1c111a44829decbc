#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# style.sh KERNEL_OUT QEMU_OUT: kernel checkpatch --strict and
# kernel-doc on guest-driver/, QEMU's checkpatch on qemu-dev/ and on the
# patches to QEMU itself (qemu-dev/patches/).  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
KOUT=${1:?usage: style.sh KERNEL_OUT QEMU_OUT}
QOUT=${2:?usage: style.sh KERNEL_OUT QEMU_OUT}
ksrc=$(dirname "$(readlink -f "$KOUT/kbuild")")/src
qsrc=$(readlink -f "$QOUT/src")

cd "$TOP"
drv=$(git ls-files 'guest-driver/*.c' 'guest-driver/*.h' 2>/dev/null)
[ -n "$drv" ] || drv=$(ls guest-driver/*.[ch] guest-driver/uapi/*.h)
# QEMU's checkpatch judges files by where they sit in its tree (qtests
# may use g_assert_cmp*), so check the overlaid copies in the work tree.
qdev="hw/display/simgpu.c hw/display/simgpu-engine.c hw/display/simgpu_int.h
	tests/qtest/simgpu-test.c include/hw/display/simgpu_hw.h"

n=0
failed=0
result() {	# ok? description output
	n=$((n + 1))
	if [ "$1" = 0 ] && [ -z "$3" ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		printf '%s\n' "$3" | head -30 | sed 's/^/# /'
	fi
}

echo "TAP version 13"
echo "1..4"
# shellcheck disable=SC2086
out=$(perl "$ksrc/scripts/checkpatch.pl" --no-tree --strict --terse -q -f $drv 2>&1 |
	grep -E 'ERROR|WARNING|CHECK')
result 0 "kernel checkpatch --strict on guest-driver/" "$out"
# shellcheck disable=SC2086
out=$(perl "$ksrc/scripts/kernel-doc" -none -Wall $(echo $drv | tr ' ' '\n' | grep '\.[ch]$') 2>&1)
result 0 "kernel-doc -Wall on guest-driver/" "$out"
# shellcheck disable=SC2086
out=$(cd "$qsrc" && perl scripts/checkpatch.pl --no-tree --terse -f $qdev 2>&1 |
	grep -E 'ERROR|WARNING')
result 0 "QEMU checkpatch on qemu-dev/ and the shared hardware header" "$out"
out=$(for p in "$TOP"/qemu-dev/patches/*.patch; do
	[ -e "$p" ] || continue
	(cd "$qsrc" && perl scripts/checkpatch.pl --no-tree --terse "$p" 2>&1 |
		grep -E 'ERROR|WARNING')
done)
result 0 "QEMU checkpatch on qemu-dev/patches/" "$out"
echo "# $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
