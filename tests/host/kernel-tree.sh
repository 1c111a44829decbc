#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-tree.sh: run-vm.sh --kernel-tree on a kernel tree of the user's
# own: a copy of Debian's source with a marker pr_info() added to
# ttm_bo_shrink().  The VM boots that kernel and the driver's shrinker
# prints the marker; editing the marker (one TTM file) rebuilds only what
# it touches (the number: seconds from the edit to a finished run); an
# unchanged tree rebuilds nothing; nothing is ever written into the tree;
# a tree that is too old is refused with one line.  TAP output.
#
# kernel-tree.sh BUILDDIR: its own build directory is BUILDDIR/kernel-tree.
# The copy lives in the cache (SIMGPU_CACHE/test-trees/linux), so its
# kernel build is cached across runs like any other.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/images/common.sh"
B=${1:?usage: kernel-tree.sh BUILDDIR}/kernel-tree

. "$TOP/tests/host/tap.sh"
# ok STATUS DESCRIPTION [DETAILS]: a test point, the details' last lines
ok() { result "$1" "$2" "$(printf '%s\n' "${3:-}" | tail -25)"; }

echo "TAP version 13"
echo "1..6"

# 1: a tree that is too old: one line, before anything builds.
old=$(mktemp -d)
mkdir -p "$old/drivers/gpu/drm/ttm"
printf 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 9\nEXTRAVERSION =\n' >"$old/Makefile"
err=$("$TOP/run-vm.sh" --kernel-tree "$old" --exec true 2>&1 >/dev/null)
rc=$?
out=$("$TOP/run-tests.sh" --kernel-tree "$old" 2>&1)
rm -rf "$old"
[ $rc = 2 ] && [ "$(printf '%s\n' "$err" | grep -c .)" = 1 ] &&
	[[ $err == *"Linux 6.12.9 is too old: simgpu needs 6.14 or newer"* ]] &&
	[ "$(printf '%s\n' "$out" | tail -n 1)" = "0 passed, 1 failed" ] &&
	[[ $out == *"Linux 6.12.9 is too old"* ]]
ok $? "a 6.12 tree is refused with one line by run-vm.sh (status $rc: $err) and run-tests.sh" \
	"$err"$'\n'"$out"

# The user's tree: Debian's source, hard-linked (each file we change is
# replaced, never written through a link).
pristine=$("$TOP/images/fetch.sh" kernel) || { echo "Bail out! no kernel source"; exit 1; }
T=$SIMGPU_CACHE/test-trees/linux
exec 9>"$SIMGPU_CACHE/test-trees.lock"
flock 9
if [ ! -f "$T/.simgpu-test-tree" ]; then
	rm -rf "$T"
	mkdir -p "${T%/*}"
	cp -al "$pristine" "$T"
	rm -f "$T/.simgpu-complete"
	touch "$T/.simgpu-test-tree"
fi
F=drivers/gpu/drm/ttm/ttm_bo_util.c

# set_marker TEXT: ttm_bo_shrink() of the pristine file plus a pr_info()
set_marker() {
	local tmp
	tmp=$(mktemp)
	awk -v m="$1" '
		/^long ttm_bo_shrink\(/ { f = 1 }
		{ print }
		f && /dma_resv_assert_held\(bo->base.resv\);/ {
			printf "\tpr_info_ratelimited(\"%s\\n\");\n", m; f = 0 }' \
		"$pristine/$F" >"$tmp"
	rm -f "$T/$F"
	mv "$tmp" "$T/$F"
	chmod 0644 "$T/$F"
}

# run_marker MARKER: boot the tree's kernel, shrink, count the marker
run_marker() {
	"$TOP/run-vm.sh" --kernel-tree "$T" --builddir "$B" --accel tcg \
		--swap 128M --timeout 400 --exec \
		"simgpu-shrink forced >/dev/null; s=\$?; echo shrink-status \$s; echo marker-lines \$(dmesg | grep -c '$1'); exit \$s" \
		>"$B.out" 2>"$B.err"
}

mkdir -p "$B"
stamp=$B/.stamp
marker=simgpu-tree-marker-$(date +%s)
set_marker "$marker"
touch "$stamp"
sleep 1
start=$SECONDS
run_marker "$marker"
rc=$?
first=$((SECONDS - start))
lines=$(sed -n 's/^marker-lines \([0-9]*\).*/\1/p' "$B.out" | tr -d '\r')
[ $rc = 0 ] && [ "${lines:-0}" -gt 0 ]
ok $? "the tree's kernel boots, simgpu-shrink forced passes and ttm_bo_shrink() printed the marker ${lines:-0} times (status $rc, build and run ${first}s)" \
	"$(cat "$B.err" "$B.out")"

# 3: the tree was not written to (only the file this test replaced).
written=$(find "$T" -newer "$stamp" ! -path "$T/$F" -print | head -5)
[ -z "$written" ] && [ ! -e "$T/.config" ] && [ ! -e "$T/include/generated" ]
ok $? "nothing was written into the tree" "$written"

# 4: edit one TTM file: an incremental rebuild, then the run.
marker2=simgpu-tree-marker-$(date +%s)-edited
set_marker "$marker2"
start=$SECONDS
run_marker "$marker2"
rc=$?
second=$((SECONDS - start))
lines=$(sed -n 's/^marker-lines \([0-9]*\).*/\1/p' "$B.out" | tr -d '\r')
rebuilt=$(grep -o 'rebuilt in [0-9]* s' "$B.err" | head -n 1)
[ $rc = 0 ] && [ "${lines:-0}" -gt 0 ] && [ -n "$rebuilt" ]
ok $? "after editing $F: $rebuilt (kernel), ${second}s from the edit to a finished run (first build and run: ${first}s); the new marker printed ${lines:-0} times" \
	"$(cat "$B.err" "$B.out")"
echo "# kernel-tree rebuild: ${second} s edit to finished run (first: ${first} s)"

# 5: no change: nothing rebuilt.
start=$SECONDS
run_marker "$marker2"
rc=$?
third=$((SECONDS - start))
! grep -q 'rebuilding Linux' "$B.err" && [ $rc = 0 ]
ok $? "an unchanged tree rebuilds nothing (${third}s to a finished run)" \
	"$(cat "$B.err")"

# 6: scenarios take the tree too.
out=$("$TOP/run-vm.sh" --kernel-tree "$T" --builddir "$B" --test shrink-enomem 2>&1)
rc=$?
[ $rc = 0 ] && [[ $out == *"scenario shrink-enomem: PASS"* ]]
ok $? "run-vm.sh --kernel-tree TREE --test shrink-enomem passes on the tree's debug kernel" "$out"

tap_finish
