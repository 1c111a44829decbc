#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pipeline.sh BUILDDIR: how fast the developer's loop is, measured here.
#  - boot to guest command: run-vm.sh --exec true, median of 5 (TCG)
#  - edit -> rerun: touch a driver .c file, run-vm.sh --exec true (rebuilds
#    the module and initramfs, boots)
#  - cold build breakdown, as recorded by the cache entries when built
# Writes BUILDDIR/bench/pipeline.{md,json} and prints the table (bench.py
# pipeline runs it and adds the figures to BUILDDIR/bench/summary.md).  Build
# times are what the cache entries recorded when they were first built
# (n/a for entries built before recording existed).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/images/common.sh"
B=$(cd "${1:?usage: pipeline.sh BUILDDIR}" && pwd)
out=$B/bench
mkdir -p "$out"

now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$2 - $1" | bc)"; }

boots=()
for _ in 1 2 3 4 5; do
	t0=$(now)
	"$TOP/run-vm.sh" --no-build --builddir "$B" --accel tcg --exec true >/dev/null
	boots+=("$(secs "$t0" "$(now)")")
done
boot_median=$(printf '%s\n' "${boots[@]}" | sort -n | sed -n 3p)

touch "$TOP/guest-driver/simgpu_drv.c"
t0=$(now)
"$TOP/run-vm.sh" --builddir "$B" --accel tcg --exec true >/dev/null 2>&1
edit_run=$(secs "$t0" "$(now)")

rec() {	# glob: recorded build seconds of the newest matching cache entry
	local f
	f=$(ls -t $SIMGPU_CACHE/$1/.simgpu-build-seconds 2>/dev/null | head -n1)
	[ -n "$f" ] && cat "$f" || echo "n/a"
}
qemu_cold=$(rec 'qemu-build-*')
kernel_cold=$(rec 'linux-build-*-default-*')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')

{
	echo "| measure | seconds | target |"
	echo "|---|---|---|"
	echo "| boot to guest command (TCG, median of 5) | $boot_median | <= 5 |"
	echo "| edit driver .c -> run-vm.sh --exec true | $edit_run | <= 60 |"
	echo "| QEMU configure + build, first successful run (recorded) | $qemu_cold | |"
	echo "| kernel build, first successful run (recorded) | $kernel_cold | |"
	echo
	echo "Machine: $(nproc) cores, $cpu; boots: ${boots[*]}"
} | tee "$out/pipeline.md"
cat >"$out/pipeline.json" <<JSON
{"boot_to_command_s": $boot_median, "boots_s": [$(IFS=,; echo "${boots[*]}")],
 "edit_to_run_s": $edit_run, "qemu_cold_build_s": "$qemu_cold",
 "kernel_cold_build_s": "$kernel_cold", "cores": $(nproc)}
JSON
