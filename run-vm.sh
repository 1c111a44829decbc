#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm.sh: boot a VM whose /dev/dri/renderD128 is a simgpu.
# Builds whatever is missing first (through meson).  See --help.
set -euo pipefail

TOP=$(cd "$(dirname "$0")" && pwd)
PROG=run-vm.sh

# Exit statuses of run-vm.sh itself; any other status is the guest's.
readonly EXIT_TIMEOUT=124	# the guest did not finish in --timeout seconds
readonly EXIT_SETUP=125		# the guest's /init could not set up the VM
readonly EXIT_NOSTATUS=126	# guest kernel panic, or the VM ended silently
readonly EXIT_QEMU=127		# QEMU failed to start or crashed
readonly EXIT_USAGE=2

usage() {
	cat <<EOF
Usage: $PROG [OPTION]...
       $PROG --test NAME|FILE.scn [--kernel FLAVOUR] [--duration TIME] [--log FILE] [--builddir DIR] [--no-build]
                  [--samples FILE] [--sample-ms N] [--plot FILE.svg] [--trace DIR]
       $PROG --test list
       $PROG --bench [NAME...] [--accel A] [--builddir DIR] [--no-build]
Boot a VM with a simgpu device and its driver loaded.

With a terminal and no --exec: an interactive shell in the guest (exit it,
or press Ctrl-A X, to stop the VM; its exit status becomes run-vm.sh's).  Without a terminal and no --exec: runs
the default demo workload (simgpu-smoke) and exits with its status.

Guest workload:
  --exec CMD              run CMD with sh in the guest; exit with its status
  --timeout SECS          hard limit for a non-interactive boot (default 600)
  --modparam 'K=V ...'    simgpu module parameters
  --stats                 print the driver's debugfs statistics on the console
                          before and after the command, between the lines
                          'simgpu-stats-begin before|after' and
                          'simgpu-stats-end'
Observability (these also combine with --test):
  --samples FILE          sample memory during the command: every --sample-ms
                          a line of driver gauges and counters (simgpu_stats),
                          /proc/meminfo and /proc/vmstat values, written by
                          the guest to a second serial port (ttyS1); FILE
                          gets a header line and one tab-separated line per
                          sample (format: images/sampler.awk)
  --sample-ms N           sampling interval in ms (default 200, 10-60000)
  --plot FILE.svg         sample (as --samples) and render FILE.svg: memory
                          over time, with eviction and shrink rates
                          (tests/host/plot.py)
  --trace DIR             trace the command: the driver's trace events
                          (tracefs events/simgpu) to DIR/guest-trace.txt and
                          QEMU's simgpu_* trace events to DIR/qemu-trace.log
Machine:
  --mem SIZE              guest RAM (default 512M)
  --cpus N                vCPUs (default 2)
  --cpu MODEL             QEMU CPU model (default: max without ERMS/FSRM,
                          host with KVM), e.g.
                          EPYC: an AMD Zen CPU, with which Linux allows
                          peer-to-peer DMA between PCI devices (dma-buf)
  --gpu virgl             a virtio-gpu-gl-pci (virglrenderer, OpenGL) beside
                          simgpu: QEMU's virgl flavour (built on first use,
                          ~7 min), run under Xvfb with Mesa's software GL
  --devices N             simgpu devices, all alike (default 1, at most 4):
                          for dma-buf sharing between two of them
  --vram SIZE[,SIZE]      VRAM per region; two sizes make two regions
                          (default 256M)
  --gart SIZE             GART aperture, the most the TT placement holds
                          (default 256M)
  --visible-vram SIZE[,SIZE]
                          CPU-visible part of each region (small-BAR), a power
                          of two (default: the whole region)
  --engine-bandwidth SIZE modelled engine copy/fill rate per second of guest
                          time, e.g. 512M (default: as fast as the host); see
                          README, "The device"
  --engine-latency US     modelled time from a command's submission to the
                          engine starting it, in microseconds (default 0)
  --profile NAME[/N]      a hardware profile (profiles/NAME.profile): VRAM
                          regions, BAR, GART, engine bandwidth and latency
                          of a class of real cards; /N divides its sizes and
                          bandwidth by N (a power of two) to fit a TCG guest,
                          e.g. dg1/64.  Options beside it override its values
  --profile list          list the profiles
  --swap SIZE             zram swap of SIZE in the guest (compressible data)
  --swap-disk SIZE        virtio-blk swap disk backed by a sparse host file
  --accel kvm|tcg|auto    accelerator; auto (default) uses KVM only when a short
                          probe boot proves it works, else TCG
  --rootfs debian         run the command (or the shell) chrooted into a Debian
                          root file system with stress-ng, procps and less
                          (built into the cache on first use, ~2 min; a
                          virtio-blk disk with snapshot=on: changes are lost
                          at power-off).  simgpu-* and vm-exit are in
                          /usr/local/bin.  In a scenario's vm: line, write
                          --append simgpu.rootfs=debian
Kernel:
  --debug-kernel          boot the debug kernel (lockdep, DEBUG_VM, ...)
  --kernel FLAVOUR        default, debug or kasan
  --append ARGS           extra kernel command line
  --verbose               full kernel log on the console (default: warnings)
  --gdb                   QEMU gdbstub on tcp::1234, guest paused until gdb
                          attaches (gdb BUILD/images/kernel-FLAVOUR/kbuild/vmlinux)
Your own sources (also with --test and --bench; README, "Your own kernel
and QEMU"):
  --kernel-tree DIR       build the kernel (each flavour) and simgpu.ko from
                          the Linux source tree DIR (>= 6.14; 7.2 and 7.3
                          tested), out of tree: DIR is never written to;
                          an edit in DIR rebuilds only what it touches
  --qemu-tree DIR         build QEMU from the source tree DIR (>= 10.0) with
                          the simgpu device overlaid, the same way.
                          Both build in their own build directory,
                          $TOP/build-tree-HASH (one per pair of
                          trees), unless --builddir is given
Test scenarios (tests/scenarios/NAME.scn; the file sets machine and command):
  --test NAME             run scenario NAME (or a .scn file; NAME@FLAVOUR
                          for its run on another kernel of its kernels:
                          line, e.g. driver-evict@debug) through
                          tests/host/scenario.py: print its TAP and a line
                          'scenario NAME: PASS|FAIL in N.Ns (console: ..., stats: ...)';
                          exit 0 if every test point passed, else 1.  Only
                          --kernel, --duration, --log, --builddir, --no-build,
                          --kernel-tree, --qemu-tree and the observability
                          options combine with it.
                          Logs: BUILDDIR/meson-logs/scenarios/NAME/ (with
                          samples.tsv when sampling)
  --duration TIME         run time of a scenario that has one (soak):
                          90, 90s, 30m, 2h
  --test list, --list-tests
                          list the scenarios with their descriptions
Benchmarks (bench/; also meson test -C BUILDDIR --benchmark):
  --bench [NAME...]       build, run the benchmarks NAME (default: all of
                          copy evict swap scan dmabuf policy pipeline; each boots its own
                          VMs, ~6 min in all on 2 idle cores) and print their
                          tables; results in BUILDDIR/bench/NAME.{json,md}
                          and BUILDDIR/bench/summary.md.  Fails only if a
                          benchmark could not measure.  Only --accel
                          (default tcg), --builddir and --no-build combine
                          with it
Other:
  --qemu-opts 'OPTS'      extra QEMU options (split on spaces)
  --log FILE              keep a copy of the console in FILE
  --builddir DIR          meson build directory (default: $TOP/build)
  --no-build              do not run the build; use what BUILDDIR has
  -h, --help              this text

SIZE is a number with an optional K, M, G or T suffix (powers of 1024); a
bare number means MiB.

Exit status: the guest command's status, or $EXIT_TIMEOUT timeout, $EXIT_SETUP guest setup failed,
$EXIT_NOSTATUS guest kernel panic or no status, $EXIT_QEMU QEMU failed, $EXIT_USAGE bad usage.
EOF
}

die() { echo "$PROG: error: $1" >&2; exit "${2:-1}"; }
usage_error() { echo "$PROG: error: $* (see $PROG --help)" >&2; exit $EXIT_USAGE; }
note() { echo "$PROG: $*" >&2; }

# to_bytes OPTION VALUE VAR: parse a SIZE into VAR (bytes)
to_bytes() {
	local opt=$1 val=$2 num unit mult
	if [[ ! $val =~ ^([0-9]+)([KkMmGgTt]?)(i?B)?$ ]]; then
		usage_error "$opt: bad size '$val' (expected e.g. 512M, 2G)"
	fi
	num=${BASH_REMATCH[1]}
	unit=${BASH_REMATCH[2]:-M}
	case $unit in
	[Kk]) mult=$((1 << 10)) ;;
	[Mm]) mult=$((1 << 20)) ;;
	[Gg]) mult=$((1 << 30)) ;;
	[Tt]) mult=$((1 << 40)) ;;
	esac
	# Reject zero and values that overflow 64-bit arithmetic.
	if [ "${#num}" -gt 15 ] || [ "$((10#$num))" -eq 0 ]; then
		usage_error "$opt: size '$val' out of range"
	fi
	printf -v "$3" '%s' $((10#$num * mult))
}

# to_size_list OPTION VALUE ARRAY: one or two comma-separated SIZEs
to_size_list() {
	local opt=$1 val=$2 part bytes
	local -n list=$3
	IFS=, read -r -a parts <<<"$val"
	[ "${#parts[@]}" -ge 1 ] && [ "${#parts[@]}" -le 2 ] ||
		usage_error "$opt: give one or two sizes (got '$val')"
	list=()
	for part in "${parts[@]}"; do
		to_bytes "$opt" "$part" bytes
		list+=("$bytes")
	done
}

need_arg() { [ $# -ge 2 ] || usage_error "$1 needs an argument"; }

# profile_value FILE KEY: a profile's value for KEY ("" if none)
profile_value() {
	sed -n "s/^$2:[[:space:]]*\([^#]*[^#[:space:]]\).*/\1/p" "$1" | head -n 1
}

profile_list() {
	local f
	printf '%-12s %s\n' PROFILE DESCRIPTION
	for f in "$TOP"/profiles/*.profile; do
		f=${f##*/}
		printf '%-12s %s\n' "${f%.profile}" \
			"$(profile_value "$TOP/profiles/$f" description)"
	done
	echo "(profiles/README.md: keys and scaling; --profile NAME/N scales by 1/N)"
}

# load_profile NAME[/N]: the profile's device values, divided by N, into
# prof_vram, prof_visible (arrays), prof_gart, prof_bw, prof_latency
load_profile() {
	local spec=$1 name scale=1 file key line val b v
	name=${spec%%/*}
	[[ $spec == */* ]] && scale=${spec#*/}
	[[ $name =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] ||
		usage_error "--profile: bad profile name '$name' (letters, digits and -)"
	file=$TOP/profiles/$name.profile
	[ -f "$file" ] ||
		usage_error "--profile: no profile '$name' (--profile list shows them)"
	[[ $scale =~ ^[1-9][0-9]{0,4}$ ]] && [ $((scale & (scale - 1))) = 0 ] ||
		usage_error "--profile: the divisor of '$spec' must be a power of two, 1-16384"
	prof_vram=() prof_visible=() prof_gart='' prof_bw='' prof_latency=''
	while IFS= read -r line; do
		line=${line%%#*}
		[[ $line =~ ^[[:space:]]*$ ]] && continue
		[[ $line =~ ^([a-z-]+):[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] ||
			usage_error "$file: bad line '$line' (key: value)"
		key=${BASH_REMATCH[1]}
		val=${BASH_REMATCH[2]}
		case $key in
		description) ;;
		vram) to_size_list "--profile $name: vram" "$val" prof_vram ;;
		visible-vram) to_size_list "--profile $name: visible-vram" "$val" prof_visible ;;
		gart) to_bytes "--profile $name: gart" "$val" prof_gart ;;
		engine-bandwidth) to_bytes "--profile $name: engine-bandwidth" "$val" prof_bw ;;
		engine-latency-us)
			[[ $val =~ ^[0-9]{1,7}$ ]] ||
				usage_error "$file: engine-latency-us: bad number '$val'"
			prof_latency=$val ;;
		*) usage_error "$file: unknown key '$key' (profiles/README.md)" ;;
		esac
	done <"$file"
	[ ${#prof_vram[@]} -gt 0 ] || usage_error "$file: no vram"
	# Divide, keeping whole MiB for sizes (the device's granule).
	for v in prof_vram prof_visible prof_gart prof_bw; do
		local -n ref=$v
		for b in "${!ref[@]}"; do
			[ $((ref[b] % scale)) = 0 ] && { [ $v = prof_bw ] ||
				[ $((ref[b] / scale % (1 << 20))) = 0 ]; } ||
				usage_error "--profile $spec: $((ref[b] >> 20)) MiB does not divide into whole MiB by $scale"
			ref[b]=$((ref[b] / scale))
		done
		unset -n ref
	done
}

set_rootfs() {	# option, value
	case $2 in
	debian) rootfs=$2 ;;
	*) usage_error "$1: expected debian (got '$2')" ;;
	esac
}

exec_cmd=
have_exec=0
timeout_s=600
modparams=
stats=0
mem=$((512 << 20))
cpus=2
cpu_model=
gpu=
devices=1
vram=($((256 << 20)))
vram_given=0
visible=()
gart=
engine_bw=
engine_latency=
profile=
zram=
swap_disk=
rootfs=
accel=auto
flavour=default
append=
verbose=0
gdb=0
qemu_opts=
logfile=
builddir=${SIMGPU_BUILDDIR:-$TOP/build}
builddir_given=0
kernel_tree=
qemu_tree=
build=1
test_name=
duration=
flavour_given=0
samples_file=
sample_ms=
plot_file=
trace_dir=
bench=0
bench_names=()
# Options given that set the machine or the command: with --test, the
# scenario file does that, so these are a usage error there.
machine_opts=()

while [ $# -gt 0 ]; do
	case $1 in
	--test) need_arg "$@"; test_name=$2; shift 2; continue ;;
	--list-tests) test_name=list; shift; continue ;;
	--bench)
		bench=1; shift
		while [ $# -gt 0 ] && [[ $1 != -* ]]; do bench_names+=("$1"); shift; done
		continue ;;
	--debug-kernel|--kernel|--log|--builddir|--no-build|--duration|-h|--help) ;;
	--kernel-tree|--qemu-tree) ;;
	--samples|--sample-ms|--plot|--trace) ;;
	-*) machine_opts+=("$1") ;;
	esac
	case $1 in
	--exec) need_arg "$@"; exec_cmd=$2; have_exec=1; shift ;;
	--timeout)
		need_arg "$@"
		[[ $2 =~ ^[1-9][0-9]{0,5}$ ]] ||
			usage_error "--timeout: bad number of seconds '$2'"
		timeout_s=$2; shift ;;
	--modparam) need_arg "$@"; modparams=$2; shift ;;
	--stats) stats=1 ;;
	--mem) need_arg "$@"; to_bytes --mem "$2" mem; shift ;;
	--cpus)
		need_arg "$@"
		[[ $2 =~ ^[1-9][0-9]?$ ]] && [ "$2" -le 8 ] ||
			usage_error "--cpus: bad CPU count '$2' (1-8)"
		cpus=$2; shift ;;
	--cpu)
		need_arg "$@"
		[[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] ||
			usage_error "--cpu: bad CPU model name '$2'"
		cpu_model=$2; shift ;;
	--gpu)
		need_arg "$@"
		[ "$2" = virgl ] ||
			usage_error "--gpu: expected virgl (got '$2')"
		gpu=$2; shift ;;
	--devices)
		need_arg "$@"
		[[ $2 =~ ^[1-4]$ ]] ||
			usage_error "--devices: bad number of simgpu devices '$2' (1-4)"
		devices=$2; shift ;;
	--vram) need_arg "$@"; to_size_list --vram "$2" vram; vram_given=1; shift ;;
	--gart) need_arg "$@"; to_bytes --gart "$2" gart; shift ;;
	--engine-bandwidth)
		need_arg "$@"; to_bytes --engine-bandwidth "$2" engine_bw; shift ;;
	--engine-latency)
		need_arg "$@"
		[[ $2 =~ ^[0-9]{1,7}$ ]] ||
			usage_error "--engine-latency: bad number of microseconds '$2'"
		engine_latency=$2; shift ;;
	--profile)
		need_arg "$@"
		[ "$2" = list ] && { profile_list; exit 0; }
		profile=$2; shift ;;
	--visible-vram) need_arg "$@"; to_size_list --visible-vram "$2" visible; shift ;;
	--swap) need_arg "$@"; to_bytes --swap "$2" zram; shift ;;
	--swap-disk) need_arg "$@"; to_bytes --swap-disk "$2" swap_disk; shift ;;
	--rootfs) need_arg "$@"; set_rootfs --rootfs "$2"; shift ;;
	--accel)
		need_arg "$@"
		case $2 in kvm|tcg|auto) accel=$2 ;;
		*) usage_error "--accel: expected kvm, tcg or auto (got '$2')" ;;
		esac
		shift ;;
	--debug-kernel) flavour=debug; flavour_given=1 ;;
	--kernel)
		need_arg "$@"
		case $2 in default|debug|kasan) flavour=$2; flavour_given=1 ;;
		*) usage_error "--kernel: expected default, debug or kasan (got '$2')" ;;
		esac
		shift ;;
	--append) need_arg "$@"; append="$append $2"; shift ;;
	--verbose) verbose=1 ;;
	--gdb) gdb=1 ;;
	--qemu-opts) need_arg "$@"; qemu_opts="$qemu_opts $2"; shift ;;
	--log) need_arg "$@"; logfile=$2; shift ;;
	--builddir) need_arg "$@"; builddir=$2; builddir_given=1; shift ;;
	--kernel-tree|--qemu-tree)
		need_arg "$@"
		[ -d "$2" ] || usage_error "$1: no such directory '$2'"
		if [ "$1" = --kernel-tree ]; then kernel_tree=$2; else qemu_tree=$2; fi
		shift ;;
	--no-build) build=0 ;;
	--duration) need_arg "$@"; duration=$2; shift ;;
	--samples) need_arg "$@"; samples_file=$2; shift ;;
	--sample-ms)
		need_arg "$@"
		[[ $2 =~ ^[1-9][0-9]{1,4}$ ]] && [ "$2" -le 60000 ] ||
			usage_error "--sample-ms: bad interval '$2' (10-60000 ms)"
		sample_ms=$2; shift ;;
	--plot) need_arg "$@"; plot_file=$2; shift ;;
	--trace) need_arg "$@"; trace_dir=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
	shift
done

if [ $bench = 1 ]; then
	for o in "${machine_opts[@]}" ${test_name:+--test}; do
		[ "$o" = --accel ] || usage_error "--bench: $o cannot be combined with it"
	done
fi

# --append simgpu.rootfs=NAME means --rootfs NAME: a scenario's vm: line
# can say that (its options are a fixed list).  It is not passed on to
# the kernel.
if [[ " $append " == *" simgpu.rootfs="* ]]; then
	read -r -a args <<<"$append"
	words=()
	for w in "${args[@]}"; do
		case $w in
		simgpu.rootfs=*) set_rootfs --append "${w#*=}" ;;
		*) words+=("$w") ;;
		esac
	done
	append=" ${words[*]}"
	append=${append% }
fi

# A tree that is not one, or too old, is refused before anything builds.
for kind in linux qemu; do
	tree=$kernel_tree
	[ $kind = qemu ] && tree=$qemu_tree
	[ -n "$tree" ] || continue
	if ! msg=$("$TOP/images/source-tree.py" version $kind "$tree" 2>&1 >/dev/null); then
		echo "$PROG: error: ${msg#source-tree: }" >&2
		exit $EXIT_USAGE
	fi
	[ -z "$msg" ] || note "${msg#source-tree: }"
done
if [ -n "$kernel_tree$qemu_tree" ] && [ $builddir_given = 0 ]; then
	builddir=$("$TOP/images/builddir.sh" name "$kernel_tree" "$qemu_tree") ||
		exit $EXIT_USAGE
fi

scenario_py=$TOP/tests/host/scenario.py
[ -n "$duration" ] && [ -z "$test_name" ] &&
	usage_error "--duration goes with --test (a scenario with a run time, e.g. soak)"
if [ -n "$test_name" ]; then
	[ ${#machine_opts[@]} = 0 ] ||
		usage_error "--test: ${machine_opts[0]} cannot be combined with a scenario (its file sets the machine and the command)"
	if [ "$test_name" = list ]; then
		exec "$scenario_py" --list
	fi
	# The scenario's kernel flavour (an unknown or malformed scenario
	# is a usage error, reported by scenario.py).
	sargs=(--prog "$PROG" --builddir "$builddir")
	[ $flavour_given = 1 ] && sargs+=(--kernel "$flavour")
	[ -n "$duration" ] && sargs+=(--duration "$duration")
	flavour=$("$scenario_py" "${sargs[@]}" --flavour "$test_name") ||
		exit $EXIT_USAGE
	# Build the scenario's root file system too (vm: ... --rootfs NAME,
	# or --append simgpu.rootfs=NAME).
	scn=$test_name
	case $scn in *@default|*@debug|*@kasan) scn=${scn%@*} ;; esac	# NAME@FLAVOUR
	[[ $scn == */* || $scn == *.scn ]] || scn=$TOP/tests/scenarios/$scn.scn
	rootfs=$(sed -n 's/^vm:.*\(--rootfs \|simgpu\.rootfs=\)\([a-z]*\).*/\2/p' "$scn" | head -n 1)
fi

# A profile gives what the options beside it did not.
if [ -n "$profile" ]; then
	load_profile "$profile"
	if [ $vram_given = 0 ]; then
		vram=("${prof_vram[@]}")
		[ ${#visible[@]} = 0 ] && visible=("${prof_visible[@]}")
	fi
	[ -n "$gart" ] || gart=$prof_gart
	[ -n "$engine_bw" ] || engine_bw=$prof_bw
	[ -n "$engine_latency" ] || engine_latency=$prof_latency
fi
if [ ${#visible[@]} -gt 0 ] && [ ${#visible[@]} -ne ${#vram[@]} ]; then
	usage_error "--visible-vram: give one size per VRAM region (${#vram[@]})"
fi
if [ -n "$logfile" ]; then
	: >>"$logfile" 2>/dev/null || usage_error "--log: cannot write '$logfile'"
fi
[ -n "$sample_ms" ] && [ -z "$samples_file$plot_file" ] &&
	usage_error "--sample-ms: give --samples or --plot too"
for f in "$samples_file" "$plot_file"; do
	[ -z "$f" ] || : >>"$f" 2>/dev/null || usage_error "cannot write '$f'"
done
if [ -n "$trace_dir" ]; then
	mkdir -p "$trace_dir" 2>/dev/null && [ -w "$trace_dir" ] ||
		usage_error "--trace: cannot create or write directory '$trace_dir'"
	trace_dir=$(cd "$trace_dir" && pwd)
fi

interactive=0
if [ $have_exec = 0 ] && [ -t 0 ] && [ -t 1 ]; then
	interactive=1
elif [ $have_exec = 0 ]; then
	exec_cmd=simgpu-smoke
fi

# --- build ---------------------------------------------------------------
if [ $build = 1 ]; then
	"$TOP/images/deps.sh" $([ -n "$gpu" ] && echo virgl)
	if [ ! -f "$builddir/build.ninja" ]; then
		note "first build in $builddir: QEMU, kernel, driver, initramfs (~15 min cold, see README)"
	fi
	if [ -n "$kernel_tree$qemu_tree" ] || [ ! -f "$builddir/build.ninja" ]; then
		"$TOP/images/builddir.sh" setup "$builddir" "$kernel_tree" "$qemu_tree" ||
			die "cannot set up $builddir"
	fi
	meson compile -C "$builddir" "initramfs-$flavour" qemu \
		$([ $bench = 1 ] && echo simgpu-memcpy) \
		$([ -n "$gpu" ] && echo qemu-dev/qemu-virgl) >&2 ||
		die "build failed (see above)"
	# Separately: the first compile regenerates a stale build directory,
	# which may not know the target yet.
	if [ -n "$rootfs" ]; then
		meson compile -C "$builddir" "rootfs-$rootfs" >&2 ||
			die "build of the $rootfs root file system failed (see above)"
	fi
fi

if [ $bench = 1 ]; then
	# TCG unless --accel says otherwise: the baseline the figures are for.
	[ ${#machine_opts[@]} = 0 ] && accel=tcg
	exec "$TOP/bench/bench.py" --builddir "$builddir" --accel "$accel" "${bench_names[@]}"
fi

if [ -n "$test_name" ]; then
	[ -n "$logfile" ] && sargs+=(--log "$logfile")
	[ -n "$samples_file" ] && sargs+=(--samples "$samples_file")
	[ -n "$sample_ms" ] && sargs+=(--sample-ms "$sample_ms")
	[ -n "$plot_file" ] && sargs+=(--plot "$plot_file")
	[ -n "$trace_dir" ] && sargs+=(--trace "$trace_dir")
	exec "$scenario_py" "${sargs[@]}" --summary "$test_name"
fi

kdir=$builddir/images/kernel-$flavour
qemu=$builddir/qemu-dev/qemu/qemu-system-x86_64
firmware=$builddir/qemu-dev/qemu/firmware
display=(-display none)
gl_wrap=()
if [ "$gpu" = virgl ]; then
	# QEMU's GL context needs a display: SDL on a virtual X server, with
	# Mesa's software rasteriser (no GPU, no /dev/dri on the host).
	qemu=$builddir/qemu-dev/qemu-virgl/qemu-system-x86_64
	[ -x "$qemu" ] || die "--gpu virgl: $qemu is not built (meson compile -C $builddir qemu-dev/qemu-virgl)"
	command -v xvfb-run >/dev/null ||
		die "--gpu virgl: xvfb-run is missing (images/deps.sh virgl installs it)"
	display=(-display sdl,gl=on -device virtio-gpu-gl-pci)
	gl_wrap=(xvfb-run -a -s "-screen 0 1024x768x24 -nolisten tcp")
fi
initramfs=$builddir/initramfs-$flavour.cpio
rootfs_img=
[ -n "$rootfs" ] && rootfs_img=$builddir/images/rootfs-$rootfs/rootfs.ext4
# The uncompressed vmlinux, through its PVH entry point (images/kconfig/
# base.config): the bzImage's decompressor took ~0.2 s of every boot
# under TCG.  A kernel built before simgpu linked vmlinux boots its
# bzImage.
kimage=$kdir/vmlinux
[ -e "$kimage" ] || kimage=$kdir/bzImage
for f in "$qemu" "$kimage" "$initramfs" "$firmware/bios-256k.bin" $rootfs_img; do
	[ -e "$f" ] || die "$f is missing; run without --no-build"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/simgpu-vm.XXXXXX")
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- samples and traces: the guest's second serial port ------------------
sampling=0
[ -n "$samples_file$plot_file" ] && sampling=1
sample_ms=${sample_ms:-200}
[ $sampling = 1 ] && [ -z "$samples_file" ] && samples_file=$work/samples.tsv
with_aux=0	# make_initrd: the real boot (not the KVM probe) gets them

# split_aux: ttyS1's blocks (see images/init) into their files; --plot
split_aux() {
	local aux=$work/ttyS1.out trace_out=
	[ -f "$aux" ] || return 0
	[ -n "$trace_dir" ] && trace_out=$trace_dir/guest-trace.txt
	for f in "$samples_file" "$trace_out"; do
		[ -n "$f" ] && : >"$f"
	done
	tr -d '\r' <"$aux" | awk -v s="$samples_file" -v t="$trace_out" '
		/^simgpu-samples-begin$/ { w = s; next }
		/^simgpu-trace-begin$/ { w = t; next }
		/^simgpu-(samples|trace)-end$/ { w = ""; next }
		w != "" { print > w }'
	if [ -n "$trace_out" ] && ! grep -q 'simgpu-trace-end' "$aux"; then
		note "--trace: the guest wrote no (complete) trace; $trace_out may be partial"
	fi
	if [ -n "$plot_file" ]; then
		python3 "$TOP/tests/host/plot.py" --title "run-vm.sh: $exec_cmd" \
			-o "$plot_file" "$samples_file" ||
			note "--plot: no plot (see above)"
	fi
}

# --- accelerator ---------------------------------------------------------
kvm_dev=${SIMGPU_KVM_DEVICE:-/dev/kvm}
kvm_usable() { [ -c "$kvm_dev" ] && [ -r "$kvm_dev" ] && [ -w "$kvm_dev" ]; }

# The guest's settings and command travel as a second cpio archive appended
# to the initramfs, so commands need no kernel command-line quoting.
make_initrd() {	# out, interactive, command
	local d=$work/extra
	rm -rf "$d"
	mkdir -p "$d/etc/simgpu"
	{
		printf 'SIMGPU_INTERACTIVE=%s\n' "$2"
		printf 'SIMGPU_MODPARAMS=%q\n' "$modparams"
		printf 'SIMGPU_STATS=%s\n' "$stats"
		[ -n "$zram" ] && printf 'SIMGPU_ZRAM=%s\n' "$zram"
		[ -n "$swap_disk" ] && printf 'SIMGPU_SWAP_DISK=/dev/vda\n'
		if [ "$with_aux" = 1 ]; then
			[ $sampling = 1 ] && printf 'SIMGPU_SAMPLE_MS=%s\n' "$sample_ms"
			[ -n "$trace_dir" ] && printf 'SIMGPU_TRACE=1\n'
		fi
		# The disks are vda, vdb, ... in the order of their -device
		# options below: the swap disk first.
		[ -n "$rootfs" ] && printf 'SIMGPU_ROOTFS_DISK=/dev/vd%s\n' \
			"$([ -n "$swap_disk" ] && echo b || echo a)"
	} >"$d/etc/simgpu/run.env"
	[ "$with_aux" = 1 ] && cp "$TOP/images/sampler.awk" "$d/etc/simgpu/"
	printf '%s\n' "$3" >"$d/etc/simgpu/cmd"
	# The kernel looks for the next archive at a 4-byte boundary.
	cp "$initramfs" "$1"
	truncate -s %4 "$1"
	(cd "$d" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) >>"$1"
}

device="simgpu,regions=${#vram[@]}"
for i in "${!vram[@]}"; do
	device="$device,vram$i-size=${vram[$i]}"
	[ ${#visible[@]} -gt 0 ] && device="$device,vram$i-visible-size=${visible[$i]}"
done
[ -n "$gart" ] && device="$device,gart-size=$gart"
[ -n "$engine_bw" ] && device="$device,engine-bandwidth=$engine_bw"
[ -n "$engine_latency" ] && device="$device,engine-latency-us=$engine_latency"

cmdline="console=ttyS0 panic=-1 loglevel=$([ $verbose = 1 ] && echo 7 || echo 5)"
# KASAN with 5-level paging (-cpu max has LA57): an interrupt early in
# start_kernel() can read per-CPU data in the LA57 direct map before its
# shadow is there ("wild-memory-access in rcu_is_watching", seen once in
# ~40 boots, with KASLR).  4-level paging does not have that window.
[ "$flavour" = kasan ] && cmdline="$cmdline no5lvl"
# The debug flavours' hung-task detector: a task in D state that has not
# run for 60 s is reported ("INFO: task ... blocked for more than 60
# seconds", which fails a scenario), checked every 10 s: a hang is named
# 60-70 s after it began, well within the shortest scenario time limit
# (300 s).  The longest legitimate wait seen under TCG on a busy 2-core
# host is ~10 s (an allocation stalled in reclaim on the KASAN kernel,
# shrink-concurrent), and the driver's engine timeout resets a hung
# engine after 1 s: 60 s leaves a wide margin.
case $flavour in
debug|kasan)
	cmdline="$cmdline sysctl.kernel.hung_task_timeout_secs=60"
	cmdline="$cmdline sysctl.kernel.hung_task_check_interval_secs=10"
	;;
esac
# kmemleak (built into the debug flavours, off unless asked for): on for
# kasan, whose runs are slow anyway; /init scans after the command and
# prints what it found.  Not for debug, which the quick set boots 26
# times: kmemleak=on made a debug boot to the command cost 2.5x the QEMU
# CPU time (19-21 s instead of 8-9 s at host load 2.5, 22-30 s instead of
# 10-12 s at load 13), and /init's wait and two scans after the command
# add 5 s + 2 x 2-7 s.
[ "$flavour" = kasan ] && cmdline="$cmdline kmemleak=on"
[ $gdb = 1 ] && cmdline="$cmdline nokaslr"
cmdline="$cmdline$append"

qemu_base() {	# accel: the QEMU command without console and workload
	# TCG runs rep stosb/movsb a byte per iteration: without ERMS and
	# FSRM the guest kernel clears and copies pages with 8-byte string
	# ops instead (shrink-zram-debug: 15 % less QEMU CPU time).
	local cpu=max,-erms,-fsrm,-fsrs
	[ "$1" = kvm ] && cpu=host
	[ -n "$cpu_model" ] && cpu=$cpu_model
	local a=("$qemu" -L "$firmware" -machine "q35,accel=$1" -cpu "$cpu"
		-smp "$cpus" -m "$((mem >> 20))M" -nodefaults -no-reboot
		"${display[@]}" -kernel "$kimage" -append "$cmdline"
		-device isa-debug-exit,iobase=0xf4,iosize=0x04)
	local i
	for ((i = 0; i < devices; i++)); do a+=(-device "$device"); done
	printf '%s\0' "${a[@]}"
}

# run_qemu ACCEL INITRD LOG TIMEOUT [extra QEMU args]: non-interactive boot
run_qemu() {
	local accel=$1 initrd=$2 log=$3 t=$4 rc=0
	shift 4
	local cmd=()
	mapfile -d '' cmd < <(qemu_base "$accel")
	cmd+=(-initrd "$initrd" -chardev "stdio,id=con,signal=off,logfile=$log"
		-serial chardev:con -monitor none "$@")
	# QEMU's stderr is kept apart and shown after it ends, so that a
	# startup failure becomes one line naming the problem.
	timeout -k 5 "$t" "${gl_wrap[@]}" "${cmd[@]}" </dev/null \
		2>"$work/qemu.err" || rc=$?
	return $rc
}

probe_kvm() {
	local cache key
	cache=${SIMGPU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simgpu}
	key=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
	# One probe per host boot; concurrent runs wait for it.
	mkdir -p "$cache"
	exec 8>"$cache/kvm-probe.lock"
	flock 8
	if [ -f "$cache/kvm-probe-$key" ]; then
		cat "$cache/kvm-probe-$key"
		return
	fi
	# The probe boots without disks.
	swap_disk='' rootfs='' make_initrd "$work/probe.cpio" 0 "exit 42"
	local rc=0 result=tcg
	run_qemu kvm "$work/probe.cpio" "$work/probe.log" 20 >/dev/null 2>&1 || rc=$?
	[ $rc = $((42 << 1 | 1)) ] && result=kvm
	echo "$result" >"$cache/kvm-probe-$key"
	[ $result = tcg ] && note "KVM probe boot failed (status $rc); using TCG from now on"
	echo "$result"
}

if [ -n "$cpu_model" ] &&
	! "$qemu" -cpu help | awk '{ print $1 }' | grep -qxF "$cpu_model"; then
	die "--cpu: QEMU has no CPU model '$cpu_model' (list: $qemu -cpu help)" $EXIT_USAGE
fi
case $accel in
kvm) kvm_usable || die "--accel kvm: $kvm_dev is missing or not accessible" ;;
auto)
	accel=tcg
	kvm_usable && accel=$(probe_kvm)
	;;
esac

extra=()
if [ -n "$swap_disk" ]; then
	truncate -s "$swap_disk" "$work/swap.img" ||
		die "--swap-disk: cannot create a $swap_disk-byte file in $work"
	extra+=(-drive "file=$work/swap.img,if=none,id=swap,format=raw,cache=unsafe"
		-device virtio-blk-pci,drive=swap)
fi
if [ -n "$rootfs" ]; then
	# snapshot=on: the guest's writes go to a temporary overlay (in
	# $work, through TMPDIR), never to the cached image.
	export TMPDIR=$work
	extra+=(-drive "file=$rootfs_img,if=none,id=rootfs,format=raw,snapshot=on"
		-device virtio-blk-pci,drive=rootfs,serial=simgpu-rootfs)
fi
if [ $gdb = 1 ]; then
	extra+=(-gdb tcp::1234 -S)
	note "gdbstub on :1234; attach with: gdb $kdir/kbuild/vmlinux -ex 'target remote :1234'"
fi
if [ $sampling = 1 ] || [ -n "$trace_dir" ]; then
	with_aux=1
	extra+=(-serial "file:$work/ttyS1.out")
fi
if [ -n "$trace_dir" ]; then
	: >"$trace_dir/qemu-trace.log"
	# -msg timestamp=on: each line starts with PID@SECONDS.USEC (host time)
	extra+=(-trace "enable=simgpu_*,file=${trace_dir//,/,,}/qemu-trace.log"
		-msg timestamp=on)
fi
# shellcheck disable=SC2206
extra+=($qemu_opts)
log=${logfile:-$work/console.log}
: >"$log"

start=$(date +%s.%N)
rc=0
if [ $interactive = 1 ]; then
	# The terminal is the console (Ctrl-A C: QEMU monitor); no timeout.
	make_initrd "$work/initrd.cpio" 1 ""
	cmd=()
	mapfile -d '' cmd < <(qemu_base "$accel")
	: >"$work/qemu.err"
	"${cmd[@]}" -initrd "$work/initrd.cpio" \
		-chardev "stdio,id=con,mux=on,signal=off,logfile=$log" \
		-serial chardev:con -mon chardev=con,mode=readline "${extra[@]}" || rc=$?
else
	make_initrd "$work/initrd.cpio" 0 "$exec_cmd"
	run_qemu "$accel" "$work/initrd.cpio" "$log" "$timeout_s" "${extra[@]}" || rc=$?
fi
elapsed=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
split_aux
# vm-exit makes QEMU exit with 2 * status + 1.  QEMU's own failures exit
# with 1 or 128 + signal, so those values count as a guest status only
# when vm-exit's console line confirms them.
guest_status() {
	local s=$(((rc - 1) >> 1))
	[ $((rc & 1)) = 1 ] || return 1
	if [ "$rc" = 1 ] || [ "$rc" -ge 129 ]; then
		[ "$reported" = "$s" ] || return 1
	fi
	echo "$s"
}
qemu_failed() { [ $rc != 0 ] && [ $rc != 124 ] && ! guest_status >/dev/null && [ -z "$panic" ]; }

reported=$(grep -a -o 'vm-exit: status [0-9]*' "$log" |
	tail -n 1 | grep -o '[0-9]*$' || true)
panic=$(grep -a -m1 -E 'Kernel panic - not syncing' "$log" || true)
qemu_failed || cat "$work/qemu.err" >&2

if [ $rc = 124 ] || [ $rc = 137 ]; then
	die "guest did not finish within ${timeout_s}s (--timeout); console: ${logfile:-(use --log)}" $EXIT_TIMEOUT
elif [ -n "$panic" ]; then
	die "guest kernel panic after ${elapsed}s: ${panic#*] }" $EXIT_NOSTATUS
elif status=$(guest_status); then
	if [ "$status" = $EXIT_SETUP ]; then
		die "guest setup failed: $(grep -a -m1 'simgpu-init:' "$log" || echo '(no message)')" $EXIT_SETUP
	fi
	[ "$status" != 0 ] && note "guest command exited with status $status (${elapsed}s)"
	exit "$status"
elif [ $rc = 0 ]; then
	die "VM ended without reporting a status (guest reboot or poweroff)" $EXIT_NOSTATUS
else
	die "QEMU failed (exit status $rc): $(grep -v '^$' "$work/qemu.err" | tail -n 1)" $EXIT_QEMU
fi
