#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# qtest-tsan.sh QEMU_TSAN_OUT [SIMGPU-TEST ARGS]: the simgpu qtests (TAP)
# against the ThreadSanitizer build (images/build-qemu.sh OUT tsan), then
# one more point: no TSan report (data race, lock order, ...) of which an
# access is made by the device's code, i.e. whose first frame in QEMU's
# source is in hw/display/simgpu*.  Not the device's: reports whose
# accesses are all in QEMU's core (the thread-safe APIs the engine calls,
# qemu_bh_schedule() and memory_region_ref(), race inside themselves),
# and the engine's copies and fills of guest memory racing with accesses
# of the guest (qtest) to the same bytes, which is what DMA is.  Those are
# listed by kind and first frame.  QEMU's own suppressions apply
# (tests/tsan/suppressions.tsan).
set -u
Q=${1:?usage: qtest-tsan.sh QEMU_TSAN_OUT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export QTEST_QEMU_BINARY="$Q/qemu-system-x86_64"
# die_after_fork=0: libqtest forks QEMU from a threaded test program;
# exitcode=0: QEMU ends as usual, the reports are judged below.
export TSAN_OPTIONS="suppressions=$Q/src/tests/tsan/suppressions.tsan halt_on_error=0 exitcode=0 die_after_fork=0 second_deadlock_stack=1 log_path=$tmp/tsan"

shift
"$Q/simgpu-test" --tap -k "$@" >"$tmp/tap" 2>"$tmp/stderr"
rc=$?
n=$(grep -c '^1\.\.' "$tmp/tap")
# The qtests' own points, renumbered after ours at the end.
grep -E '^(ok|not ok|#)' "$tmp/tap"
total=$(grep -cE '^(ok|not ok)' "$tmp/tap")
if [ "$n" != 1 ] && [ $# = 0 ] || [ $rc != 0 ]; then
	echo "# simgpu-test exited with status $rc"
	tail -5 "$tmp/stderr" | sed 's/^/# /'
fi

# Split every report (files tsan.PID) at its "====" lines; classify.
cat "$tmp"/tsan.* 2>/dev/null >"$tmp/all" || : >"$tmp/all"
awk -v dir="$tmp" '
	/^==================$/ { if (inrep) { close(f) } inrep = !inrep;
		if (inrep) { r++; f = dir "/rep." r } next }
	inrep { print > f }' "$tmp/all"
# The first frame of each access that is in QEMU's source (not a libc
# interceptor such as memmove).
access_frames() {
	awk '/^  (Previous )?([Aa]tomic )?([Rr]ead|[Ww]rite) of size|^  Mutex .* acquired here/ {
		want = 1; next }
	     want && /^    #[0-9]+ / && /qemu-work|hw\/display/ {
		print $2, $3; want = 0 }' "$1"
}
ours=0 theirs=0
for r in "$tmp"/rep.*; do
	[ -e "$r" ] || continue
	kind=$(sed -n 's/^WARNING: ThreadSanitizer: \(.*\) (pid.*/\1/p' "$r")
	frames=$(access_frames "$r")
	if printf '%s\n' "$frames" | grep 'hw/display/simgpu' |
		grep -qvE '^simgpu_(copy|fill) '; then
		ours=$((ours + 1))
		sed 's/^/# /' "$r" | head -40
	else
		theirs=$((theirs + 1))
		printf '# not the device: %s in %s\n' "$kind" \
			"$(printf '%s\n' "$frames" | awk '{ print $1 }' | sort -u |
			   tr '\n' ' ')"
	fi
done
total=$((total + 1))
if [ $ours = 0 ]; then
	echo "ok $total - no ThreadSanitizer report in the device's code ($theirs elsewhere, listed)"
else
	echo "not ok $total - $ours ThreadSanitizer reports in the device (above)"
fi
echo "1..$total"
[ $rc = 0 ] && [ $ours = 0 ]
