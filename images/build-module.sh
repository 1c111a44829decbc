#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KERNEL_OUT OUTDIR : build simgpu.ko out of tree against
# the kernel in KERNEL_OUT (from build-kernel.sh), objects under
# OUTDIR/obj, the module as OUTDIR/simgpu.ko.  Incremental: only changed
# driver files are recompiled.  guest-driver/ itself stays clean (MO=).
set -euo pipefail
. "$(dirname "$0")/common.sh"

KOUT=${1:?usage: build-module.sh KERNEL_OUT OUTDIR}
OUT=${2:?usage: build-module.sh KERNEL_OUT OUTDIR}

[ -f "$KOUT/kbuild/Module.symvers" ] ||
	die "no built kernel in $KOUT (run the kernel build first)"
export CCACHE_DIR=${CCACHE_DIR:-$SIMGPU_CACHE/ccache}
mkdir -p "$OUT/obj"
OUT=$(cd "$OUT" && pwd)
make -s -C "$KOUT/kbuild" M="$SIMGPU_TOP/guest-driver" MO="$OUT/obj" \
	CC="ccache gcc" W=1 -j"$(nproc)" modules ||
	die "simgpu.ko build failed"
cmp -s "$OUT/obj/simgpu.ko" "$OUT/simgpu.ko" ||
	cp "$OUT/obj/simgpu.ko" "$OUT/simgpu.ko"
