#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh [--shard K/N] [--lanes N] [--kernel-tree DIR] [--qemu-tree DIR]
#              [--all] [MESON TEST ARGS]: build everything that is missing
# and run the tests with meson test.  The last line is "N passed, N failed".
#
# Without arguments: the quick set (what CI runs), every test but the
# scenarios marked "slow: yes" (meson suite "slow": full-size and long
# versions).  --all: every test.  Other arguments go to meson test as
# they are (no filter added), e.g.
#   ./run-tests.sh --suite qtest
#   ./run-tests.sh --suite shrink --no-suite slow
# --shard K/N: only shard K of N of the selected tests, split by their
# expected times (tests/test-times.json); its results are also kept as
# BUILDDIR/meson-logs/shard-K-of-N.{json,junit.xml}, which
# tests/host/merge-results combines: run shard 1/2 on one machine and
# 2/2 on another, or one after the other.
# --lanes N: run the tests in N lanes side by side, one test at a time in
# each (default: one more than CPUs, or $MESON_TESTTHREADS: most of the
# lanes' VMs have one vCPU, and a lane whose test waits on a modelled
# slow link leaves its CPU to the others; 2 CPUs, quick set: lanes of
# 365-371 s in 3, ~390 s in 2).  The tests meson
# runs alone (is_parallel: false) go first, then the heavy scenarios
# (suite "heavy": both vCPUs busy) one at a time: beside another VM one
# took 1.5-2.5x its time alone.  Beside them, the host tests that boot
# no VM (suite "background") on the CPU time the heavy VMs leave idle:
# in a cpu cgroup with cpu.idle set, where the host has one to give
# (root, cgroup v1's cpu controller or v2 with cpu in the root);
# otherwise they join the lanes.  Then the others in the N lanes.  Lines
# start with the lane: "h: " (the heavy tests), "b: " (the background
# ones) or "K: "; tests/test-times.json balances the lanes.
# --kernel-tree DIR, --qemu-tree DIR: build the kernels and simgpu.ko, or
# QEMU, from these source trees (as run-vm.sh does), in the build
# directory build-tree-HASH (SIMGPU_BUILDDIR overrides it).
set -uo pipefail
TOP=$(cd "$(dirname "$0")" && pwd)

fail() { echo "run-tests.sh: $*"; echo "0 passed, 1 failed"; exit 2; }
shard= kernel_tree= qemu_tree= lanes=$(($(nproc) + 1))
[[ ${MESON_TESTTHREADS:-} =~ ^[1-9][0-9]?$ ]] && lanes=$MESON_TESTTHREADS
while [ $# -gt 0 ]; do
	case $1 in
	--shard)
		shard=${2:-}
		"$TOP/tests/host/shard.py" "$shard" "$TOP/tests/test-times.json" \
			>/dev/null 2>&1 ||
			fail "--shard: expected K/N with 1 <= K <= N (got '$shard')" ;;
	--lanes)
		[[ ${2:-} =~ ^[1-9][0-9]?$ ]] ||
			fail "--lanes: expected a number of lanes, 1-99 (got '${2:-}')"
		lanes=$2 ;;
	--kernel-tree|--qemu-tree)
		[ -n "${2:-}" ] && [ -d "$2" ] || fail "$1: no such directory '${2:-}'"
		kind=linux
		[ "$1" = --qemu-tree ] && kind=qemu
		msg=$("$TOP/images/source-tree.py" version $kind "$2" 2>&1 >/dev/null) ||
			fail "${msg#source-tree: }"
		[ -z "$msg" ] || echo "run-tests.sh: ${msg#source-tree: }"
		if [ $kind = linux ]; then kernel_tree=$2; else qemu_tree=$2; fi ;;
	*) break ;;
	esac
	shift $(( $# > 1 ? 2 : 1 ))
done
if [ -n "${SIMGPU_BUILDDIR:-}" ]; then
	B=$SIMGPU_BUILDDIR
else
	B=$("$TOP/images/builddir.sh" name "$kernel_tree" "$qemu_tree")
fi

case "${1:-}" in
-h|--help)
	sed -n '4,30s/^# \{0,1\}//p' "$0"
	exit 0 ;;
--all)
	shift
	set -- "$@" ;;
"")
	set -- --no-suite slow ;;
esac

"$TOP/images/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$B/build.ninja" ] || [ -n "$kernel_tree$qemu_tree" ]; then
	"$TOP/images/builddir.sh" setup "$B" "$kernel_tree" "$qemu_tree" ||
		{ echo "meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
# The tests to run, then one build of everything they need beyond the
# default targets (another kernel flavour, the Debian rootfs): one ninja
# run, so the QEMU, kernel and rootfs builds overlap instead of waiting
# for each other (none of them keeps both cores busy all the time).
# First bring build.ninja and the test list up to date.
ninja -C "$B" build.ninja >/dev/null ||
	{ echo "meson reconfigure failed"; echo "0 passed, 1 failed"; exit 1; }
mapfile -t names < <(meson test -C "$B" --no-rebuild --list "$@" 2>/dev/null |
	sed -n 's|^[^ ]* / ||p')
if [ ${#names[@]} = 0 ]; then
	echo "run-tests.sh: no test matches: $*"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ -n "$shard" ]; then
	# A shard keeps to the tests of one guest kernel where it can.
	mapfile -t kernels < <("$TOP/tests/host/test-needs.py" "$B" kernels \
		"${names[@]}")
	groups=()
	for g in $(printf '%s\n' "${kernels[@]}" | cut -d' ' -f1 | sort -u); do
		[ "$g" = - ] || groups+=(--group "$g:$(printf '%s\n' "${kernels[@]}" |
			awk -v g="$g" '$1 == g { print $2 }' | paste -sd,)")
	done
	mapfile -t names < <("$TOP/tests/host/shard.py" "$shard" \
		"$TOP/tests/test-times.json" "${groups[@]}" "${names[@]}")
	if [ ${#names[@]} = 0 ]; then
		echo "run-tests.sh: shard $shard has no tests"
		echo "0 passed, 0 failed"
		exit 0
	fi
fi
mapfile -t targets < <("$TOP/tests/host/test-needs.py" "$B" targets "${names[@]}")
start=$(date +%s)
meson compile -C "$B" "${targets[@]}" ||
	{ echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "run-tests.sh: build took $(( $(date +%s) - start ))s"

# meson test's options among the arguments, without the test names
# (each run below gets its own names).
opts=()
while [ $# -gt 0 ]; do
	case $1 in
	--suite|--no-suite|--setup|--num-processes|--timeout-multiplier|-t|\
	--repeat|--wrapper|--test-args|--maxfail|--max-lines|-C)
		opts+=("$1" "${2:-}")
		shift ;;
	-*) opts+=("$1") ;;
	esac
	shift
done
# Which tests run alone and which are heavy; then the lanes.
mapfile -t kinds < <("$TOP/tests/host/test-needs.py" "$B" kinds "${names[@]}")
alone=() heavy=() background=() light=()
for k in "${kinds[@]}"; do
	case ${k%% *} in
	alone) alone+=("${k#* }") ;;
	heavy) heavy+=("${k#* }") ;;
	background) background+=("${k#* }") ;;
	*) light+=("${k#* }") ;;
	esac
done

# idle_cgroup: make a cpu cgroup beside this script's whose tasks get only
# CPU time nothing else wants (cpu.idle = 1) and print its directory, or
# print nothing.  The heavy VMs keep ~1.5 of 2 cores busy, and a host
# test beside them at normal priority slowed them by more than it saved;
# at idle priority they take their usual times (heavy phase 294 s against
# 290, 2026-11-27) and the host tests get the rest.
idle_cgroup() {
	local rel dir
	rel=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup)
	if [ -n "$rel" ] && [ -d "/sys/fs/cgroup/cpu$rel" ]; then
		dir=/sys/fs/cgroup/cpu${rel%/}
	elif [ "$(cat /proc/self/cgroup)" = 0::/ ] &&
		grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		dir=/sys/fs/cgroup
	else
		return 0
	fi
	for old in "$dir"/simgpu-idle-*; do	# left by a killed run
		[ -d "$old" ] && ! kill -0 "${old##*-}" 2>/dev/null &&
			rmdir "$old" 2>/dev/null
	done
	dir=$dir/simgpu-idle-$$
	mkdir "$dir" 2>/dev/null || return 0
	if echo 1 >"$dir/cpu.idle" 2>/dev/null; then
		echo "$dir"
	else
		rmdir "$dir"
	fi
}
idle_cg=
if [ ${#background[@]} -gt 0 ] && [ ${#heavy[@]} -gt 0 ]; then
	idle_cg=$(idle_cgroup)
	if [ -n "$idle_cg" ]; then
		echo "run-tests.sh: ${#background[@]} host tests beside the heavy ones at idle CPU priority ($idle_cg)"
		trap 'rmdir "$idle_cg" 2>/dev/null' EXIT
	else
		echo "run-tests.sh: no cpu cgroup to make (needs root and a cpu controller): the host tests run in the lanes"
	fi
fi
[ -n "$idle_cg" ] || { light+=("${background[@]}"); background=(); }
mapfile -t laned < <([ ${#light[@]} = 0 ] ||
	"$TOP/tests/host/shard.py" --lanes "$lanes" \
		"$TOP/tests/test-times.json" "${light[@]}")

logs=$B/meson-logs
rm -f "$logs"/testlog*.json "$logs"/testlog*.junit.xml "$logs"/lane-*.rc
tests_start=$(date +%s)
rc=0
if [ ${#alone[@]} -gt 0 ]; then
	meson test -C "$B" --no-rebuild --print-errorlogs --logbase testlog-alone \
		"${opts[@]}" "${alone[@]}" || rc=1
fi
# Kill the lanes' meson runs (their process group) with this script.
trap 'trap - INT TERM; kill 0' INT TERM
started=()
# lane NAME TEST...: the tests one at a time, in the background (in the
# cgroup $lane_cgroup if set); lane_pid is the job's
lane_cgroup= lane_pid=
lane() {
	local k=$1
	shift
	lane_pid=
	[ $# -gt 0 ] || return 0
	started+=("$k")
	{
		[ -z "$lane_cgroup" ] ||
			echo "$BASHPID" >"$lane_cgroup/cgroup.procs" ||
			echo "run-tests.sh: cannot join $lane_cgroup: lane $k at normal priority"
		meson test -C "$B" --no-rebuild --print-errorlogs \
			--num-processes 1 --logbase "testlog-lane$k" \
			"${opts[@]}" "$@" 2>&1
		echo $? >"$logs/lane-$k.rc"
	} | sed -u "s/^/$k: /" &
	lane_pid=$!
}
lane_cgroup=$idle_cg lane b "${background[@]}"
lane h "${heavy[@]}"
[ -z "$lane_pid" ] || wait "$lane_pid"
# What is left of the background lane competes as one more lane.
[ -z "$idle_cg" ] || echo 0 >"$idle_cg/cpu.idle"
for k in $(seq "$lanes"); do
	tests=()
	for l in "${laned[@]}"; do
		[ "${l%% *}" = "$k" ] && tests+=("${l#* }")
	done
	lane "$k" "${tests[@]}"
done
wait
# A lane that left no status (killed) failed too.
for k in "${started[@]}"; do
	[ "$(cat "$logs/lane-$k.rc" 2>/dev/null)" = 0 ] || rc=1
done
# One testlog.json/junit.xml of all of them, as one meson run writes.
cat "$logs"/testlog-*.json >"$logs/testlog.json" 2>/dev/null
"$TOP/tests/host/merge-results" --slowest 0 --junit "$logs/testlog.junit.xml" \
	"$logs"/testlog-*.junit.xml >/dev/null 2>&1
# Per-scenario wall times of this run (VM tests only).
/usr/bin/python3 "$TOP/tests/host/scenario-times.py" "$B" --since "$tests_start"
if [ -n "$shard" ]; then
	out=$B/meson-logs/shard-${shard%/*}-of-${shard#*/}
	cp "$B/meson-logs/testlog.json" "$out.json" 2>/dev/null
	cp "$B/meson-logs/testlog.junit.xml" "$out.junit.xml" 2>/dev/null
fi
"$TOP/tests/host/merge-results" "$B/meson-logs/testlog.json"
exit $rc
