#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm-options.sh BUILDDIR [KERNEL]: bad run-vm.sh input gets a one-line
# error naming the problem and a non-zero exit status, quickly.  KERNEL:
# the kernel flavour the checks that start QEMU boot (default: run-vm.sh's).
# TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:?usage: run-vm-options.sh BUILDDIR [KERNEL]}
K=${2:-default}

n=0
failed=0
# Options every check passes first (--test takes no --timeout).
common=(--no-build --builddir "$B" --kernel "$K" --timeout 60)
# check WANT_STATUS 'expected text' run-vm args...
check() {
	local want=$1 text=$2 err rc lines
	shift 2
	n=$((n + 1))
	err=$("$TOP/run-vm.sh" "${common[@]}" "$@" \
		2>&1 >/dev/null </dev/null)
	rc=$?
	lines=$(printf '%s\n' "$err" | grep -c .)
	if [ $rc = "$want" ] && [ "$lines" = 1 ] && [[ $err == *"$text"* ]]; then
		echo "ok $n - run-vm.sh $* -> $rc: $err"
	else
		failed=$((failed + 1))
		echo "not ok $n - run-vm.sh $*: wanted status $want and one line with '$text'"
		printf '%s\n' "status $rc" "$err" | sed 's/^/# /'
	fi
}

echo "TAP version 13"
echo "1..54"
check 2 "unknown option '--bogus'" --bogus
check 2 "--exec needs an argument" --exec
check 2 "--mem: size '0' out of range" --mem 0
check 2 "--mem: bad size '-1'" --mem -1
check 2 "--vram: bad size '3x'" --vram 3x
check 2 "--vram: give one or two sizes" --vram 1G,1G,1G
check 2 "--visible-vram: give one size per VRAM region" --vram 64M,64M --visible-vram 32M
check 2 "--gart: bad size '3x'" --gart 3x
check 2 "--engine-bandwidth: bad size '1.5G'" --engine-bandwidth 1.5G
check 2 "--swap: bad size '1Q'" --swap 1Q
check 2 "--cpus: bad CPU count '0'" --cpus 0
check 2 "--accel: expected kvm, tcg or auto" --accel xen
check 2 "--devices: bad number of simgpu devices '5' (1-4)" --devices 5
check 2 "--devices: bad number of simgpu devices '0' (1-4)" --devices 0
check 2 "--gpu: expected virgl (got 'voodoo')" --gpu voodoo
check 2 "--cpu: bad CPU model name 'a b'" --cpu 'a b'
check 2 "--cpu: QEMU has no CPU model 'Pentium9'" --cpu Pentium9 --exec true
check 2 "--timeout: bad number of seconds" --timeout 5s
check 2 "--kernel: expected default, debug or kasan" --kernel big
check 2 "--sample-ms: bad interval '5'" --samples /dev/null --sample-ms 5
check 2 "--sample-ms: give --samples or --plot too" --sample-ms 100
check 2 "--trace: cannot create or write directory" --trace /proc/nonexistent
check 2 "--mem: size '99999999999999999G' out of range" --mem 99999999999999999G
check 2 "--rootfs: expected debian (got 'ubuntu')" --rootfs ubuntu
check 2 "--rootfs needs an argument" --rootfs
check 2 "--append: expected debian (got 'arch')" --append 'quiet simgpu.rootfs=arch'
check 2 "--engine-latency: bad number of microseconds '5ms'" --engine-latency 5ms
check 2 "--profile: no profile 'voodoo5' (--profile list shows them)" --profile voodoo5
check 2 "--profile: bad profile name '..' (letters, digits and -)" --profile ../etc/x
check 2 "--profile: the divisor of 'dg1/3' must be a power of two" --profile dg1/3
check 2 "--profile dg1/8192: 4096 MiB does not divide into whole MiB by 8192" --profile dg1/8192
bad_profile=$TOP/profiles/zz-bad-test-$$.profile
printf 'vram: 64M\nbandwidth: 1G\n' >"$bad_profile"
check 2 "zz-bad-test-$$.profile: unknown key 'bandwidth'" --profile "zz-bad-test-$$"
rm -f "$bad_profile"
# Your own source trees: not a tree, or too old, is one line, found
# before anything builds.
tree=$(mktemp -d)
check 2 "--kernel-tree: no such directory '$tree/none'" --kernel-tree "$tree/none"
check 2 "$tree: not a Linux source tree" --kernel-tree "$tree"
check 2 "$tree: not a QEMU source tree" --qemu-tree "$tree"
mkdir -p "$tree/drivers/gpu/drm/ttm" "$tree/hw/display"
printf 'VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 7\nEXTRAVERSION = -rc1\n' >"$tree/Makefile"
check 2 "Linux 6.13.7-rc1 is too old: simgpu needs 6.14 or newer" --kernel-tree "$tree"
echo 9.2.4 >"$tree/VERSION"
touch "$tree/hw/display/meson.build"
check 2 "QEMU 9.2.4 is too old: simgpu needs 10.0 or newer" --qemu-tree "$tree"
rm -rf "$tree"
SIMGPU_KVM_DEVICE=/nonexistent/kvm check 1 "--accel kvm: /nonexistent/kvm is missing" \
	--accel kvm --exec true
# Device properties are QEMU's to check: its message comes through.
check 127 "vram0-visible-size must be a power of two" --accel tcg --vram 48M --exec true
check 127 "exceeds vram0-size" --accel tcg --vram 64M --visible-vram 128M --exec true
check 127 "gart-size must be a multiple of 4 KiB" --accel tcg --gart 6K --exec true
check 127 "engine-bandwidth must be 0 (unlimited) or at least" --accel tcg --engine-bandwidth 512K --exec true
check 127 "engine-latency-us must be at most 1000000" --accel tcg --engine-latency 2000000 --exec true

# Test scenarios: bad names and files are usage errors, found before
# any build or boot.
common=(--no-build --builddir "$B")
check 2 "unknown scenario 'driver-evcit'; close: driver-evict" --test driver-evcit
check 2 "--test: --exec cannot be combined with a scenario" --test driver-evict --exec true
check 2 "--test needs an argument" --test
check 2 "--duration goes with --test" --duration 30m --exec true
check 2 "--duration: scenario driver-evict has no run time" --test driver-evict --duration 30m
check 2 "--duration: bad duration '5x'" --test soak --duration 5x
check 2 "--test: --rootfs cannot be combined with a scenario" --test driver-evict --rootfs debian
check 2 "scenario driver-evict does not run on the kasan kernel (kernels: default debug)" --test driver-evict@kasan
scn=$(mktemp --suffix=.scn)
printf '# a scenario with a bad key\nsuite: boot\nexec: true\nmem: 1G\n' >"$scn"
check 2 "$scn:4: unknown key 'mem'" --test "$scn"
rm -f "$scn"
n=$((n + 1))
out=$("$TOP/run-vm.sh" --test list 2>&1)
rc=$?
if [ $rc = 0 ] && printf '%s\n' "$out" | grep -q '^driver-evict  *driver  *[a-z]' &&
	[ "$("$TOP/run-vm.sh" --list-tests 2>&1)" = "$out" ]; then
	echo "ok $n - run-vm.sh --test list: $(printf '%s\n' "$out" | wc -l) scenarios with suite and description"
else
	failed=$((failed + 1))
	echo "not ok $n - run-vm.sh --test list (status $rc)"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
n=$((n + 1))
out=$("$TOP/run-vm.sh" --test list --mem 1G 2>&1)
rc=$?
if [ $rc = 2 ] && [[ $out == *"--mem cannot be combined"* ]]; then
	echo "ok $n - run-vm.sh --test list --mem 1G -> 2"
else
	failed=$((failed + 1))
	echo "not ok $n - run-vm.sh --test list --mem 1G (status $rc)"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
echo "# $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
