#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# intree-build.sh KERNEL_OUT: the driver also builds as part of the kernel
# tree (drivers/gpu/drm/simgpu, CONFIG_DRM_SIMGPU=m, its Kconfig selecting
# TTM), with W=1 and no warnings.  Syncs guest-driver/ into the cached
# tree's copy first, under the kernel cache lock.  TAP output.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/images/common.sh"
KOUT=${1:?usage: intree-build.sh KERNEL_OUT}
kb=$(readlink -f "$KOUT/kbuild")
src=$(dirname "$kb")/src
dst=$src/drivers/gpu/drm/simgpu

exec 9>"$SIMGPU_CACHE/kernel.lock"
flock 9
rm -rf "$dst"
mkdir -p "$dst"
cp -r "$TOP"/guest-driver/*.[ch] "$TOP/guest-driver/Kconfig" \
	"$TOP/guest-driver/Makefile" "$TOP/guest-driver/uapi" "$dst/"
echo "TAP version 13"
echo "1..2"
grep -q '^CONFIG_DRM_SIMGPU=m' "$kb/.config" && grep -q '^CONFIG_DRM_TTM=m' "$kb/.config" &&
	echo "ok 1 - kernel .config has DRM_SIMGPU=m selecting DRM_TTM" ||
	echo "not ok 1 - kernel .config lacks DRM_SIMGPU=m / DRM_TTM"
# The directory target compiles and links simgpu.o without modpost: a
# single-target simgpu.ko build runs modpost on that module alone, which
# neither resolves symbols of other modules (ttm, drm_buddy) nor leaves
# the tree's Module.symvers intact for out-of-tree builds.
log=$(make -C "$src" O="$kb" CC="ccache gcc" W=1 -j"$(nproc)" \
	drivers/gpu/drm/simgpu/ 2>&1) && ok=1 || ok=0
warnings=$(printf '%s\n' "$log" | grep -E 'warning:|error:' || true)
if [ $ok = 1 ] && [ -z "$warnings" ]; then
	echo "ok 2 - in-tree build of drivers/gpu/drm/simgpu/, W=1 clean"
else
	echo "not ok 2 - in-tree build failed or warned"
	printf '%s\n' "$log" | tail -20 | sed 's/^/# /'
	exit 1
fi
