#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz-device.sh QEMU_FUZZ_OUT [--seconds N] [--runs N] [--seed N]
#                [--corpus DIR] [--artifacts DIR]
#
# Fuzz the simgpu device with libFuzzer through QEMU's generic-fuzz
# (target generic-fuzz-simgpu: random MMIO/PIO/config accesses, and every
# DMA read of the device - ring, GART table, copy sources - served from
# the input), in the ASan + UBSan build of images/build-qemu.sh OUT fuzz,
# starting from the seeds of tests/host/fuzz-seeds.py (inputs that set up
# the ring and GART and run commands).  No leak check after each input:
# it makes the fuzzer ~5x slower, and the qtests' teardown covers leaks.
# The engine runs at the doorbell (x-engine-sync), so a reproducer replays
# exactly.  Stops after --seconds (default 120) or --runs inputs (default
# 1000000), whichever comes first; the seed (default 1) fixes the input
# sequence.  TAP: one point, failed on any crash, sanitizer report,
# timeout or leak, with the reproducer's path (--artifacts, default
# QEMU_FUZZ_OUT/../fuzz-artifacts) and the command that replays it.  Diagnostics:
# inputs, inputs/s, libFuzzer's coverage, and the edges of the device
# (simgpu.c, simgpu-engine.c) covered.
set -uo pipefail

usage() { sed -n '4,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }

OUT=${1:-}
if [ -z "$OUT" ] || [ "${OUT#-}" != "$OUT" ]; then
	usage
fi
shift
seconds=120 runs=1000000 seed=1 corpus='' artifacts=''
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=${2:-} ;;
	--runs) runs=${2:-} ;;
	--seed) seed=${2:-} ;;
	--corpus) corpus=${2:-} ;;
	--artifacts) artifacts=${2:-} ;;
	*) usage ;;
	esac
	shift 2 || usage
done
for n in "$seconds" "$runs" "$seed"; do
	case $n in '' | *[!0-9]*) echo "fuzz-device.sh: not a number: '$n'" >&2; exit 2 ;; esac
done
bin=$OUT/qemu-fuzz-x86_64
[ -x "$bin" ] || { echo "fuzz-device.sh: no $bin (build it: images/build-qemu.sh $OUT fuzz)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
corpus=${corpus:-$tmp/corpus}
artifacts=${artifacts:-$(dirname "$OUT")/fuzz-artifacts}
mkdir -p "$corpus" "$artifacts"
# llvm-symbolizer names functions and lines in reports and coverage.
export PATH=/usr/lib/llvm-14/bin:$PATH
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
/usr/bin/python3 "$(dirname "$0")/fuzz-seeds.py" "$tmp/seeds" || exit 2

echo "1..1"
touch "$tmp/log.start"
start=$SECONDS
"$bin" --fuzz-target=generic-fuzz-simgpu -seed="$seed" -runs="$runs" \
	-max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
	-detect_leaks=0 -print_final_stats=1 -print_coverage=1 \
	-artifact_prefix="$artifacts/" "$corpus" "$tmp/seeds" >"$tmp/log" 2>&1
rc=$?
elapsed=$((SECONDS - start))

# stat::number_of_executed_units: 123456
inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log" | tail -1)
cov=$(grep -E '^#[0-9]+' "$tmp/log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
# COVERED_FUNC: hits: 12 edges: 5/9 simgpu_mmio_write .../simgpu.c:123
edges=$(awk '/^(UN)?COVERED_FUNC:/ && /simgpu(-engine)?\.c:/ {
		split($5, e, "/"); c += e[1]; t += e[2]
	} END { if (t) printf "%d of %d (%.0f%%)", c, t, 100 * c / t }' "$tmp/log")
uncovered=$(grep -E '^UNCOVERED_FUNC:.*simgpu(-engine)?\.c:' "$tmp/log" |
	awk '{ print $(NF - 1) }' | tr '\n' ' ')

if [ $rc = 0 ] && [ -n "$inputs" ]; then
	echo "ok 1 - $inputs inputs in ${elapsed}s (seed $seed), no crash or sanitizer report"
else
	echo "not ok 1 - the fuzzer stopped with status $rc after ${elapsed}s (seed $seed)"
	grep -E 'ERROR:|SUMMARY:|runtime error:|^ *#[0-9]+ 0x' "$tmp/log" | head -30 |
		sed 's/^/# /'
	find "$artifacts" -newer "$tmp/log.start" -type f |
		while read -r a; do
			echo "# reproducer: $a"
			echo "# replay: $bin --fuzz-target=generic-fuzz-simgpu $a"
		done
	tail -5 "$tmp/log" | sed 's/^/# /'
fi
[ -n "$inputs" ] && [ "$elapsed" -gt 0 ] &&
	echo "# $((inputs / elapsed)) inputs/s; libFuzzer ${cov:-cov: ?}"
echo "# device edges covered: ${edges:-unknown (no coverage printed)}"
[ -n "$uncovered" ] && echo "# device functions never reached: $uncovered"
[ $rc = 0 ] && [ -n "$inputs" ]
