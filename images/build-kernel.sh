#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh FLAVOUR OUTDIR : build the guest kernel (FLAVOUR is
# default, debug or kasan) and link into OUTDIR:
#   bzImage, kbuild (the O= build dir, for out-of-tree modules),
#   modules/ (modules_install tree).
#
# The kernel is "make tinyconfig" + images/kconfig/*.config, with simgpu
# built in tree as a module (drivers/gpu/drm/simgpu, from guest-driver/).
# The build directory is keyed by kernel version, config fragments and the
# driver's Kconfig only: editing driver sources never rebuilds the
# kernel (the module used at run time is built out of tree).
set -euo pipefail
. "$(dirname "$0")/common.sh"

FLAVOUR=${1:?usage: build-kernel.sh default|debug|kasan OUTDIR}
OUT=${2:?usage: build-kernel.sh default|debug|kasan OUTDIR}
KC=$SIMGPU_TOP/images/kconfig
DRV=$SIMGPU_TOP/guest-driver

case $FLAVOUR in
default) fragments=("$KC/base.config") ;;
debug) fragments=("$KC/base.config" "$KC/debug.config") ;;
kasan) fragments=("$KC/base.config" "$KC/debug.config" "$KC/kasan.config") ;;
*) die "unknown kernel flavour '$FLAVOUR' (default, debug or kasan)" ;;
esac

"$SIMGPU_TOP/images/deps.sh"
pristine=$("$SIMGPU_TOP/images/fetch.sh" kernel)
ver=${pristine##*/linux-}

# Bump when the way the kernel is configured or built changes.
BUILD_EPOCH=1
key=$(echo "$BUILD_EPOCH" | cat - "${fragments[@]}" "$DRV/Kconfig" | sha256sum | cut -c1-16)
build=$SIMGPU_CACHE/linux-build-$ver-$FLAVOUR-$key

# One lock per cache entry: a build of one flavour never holds up users
# of another that is already built.
mkdir -p "$SIMGPU_CACHE"
exec 9>"$build.lock"
flock 9
export CCACHE_DIR=${CCACHE_DIR:-$SIMGPU_CACHE/ccache}
# Paths relative to the build directory, so ccache hits across keys.
export CCACHE_BASEDIR=$build
# Reproducible inputs make ccache hits across build directories.
export KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=simgpu \
	KBUILD_BUILD_HOST=simgpu
MAKE=(make -s -j"$(nproc)" CC="ccache gcc")

# A source tree per key: hard links to the pristine tree, plus the driver.
# Files we change are replaced, never written through a link.
prepare_tree() {
	local src=$1 t
	cp -al "$pristine" "$src"
	mkdir -p "$src/drivers/gpu/drm/simgpu"
	cp "$DRV"/*.c "$DRV"/*.h "$DRV/Kconfig" "$DRV/Makefile" \
		"$src/drivers/gpu/drm/simgpu/"
	cp -r "$DRV/uapi" "$src/drivers/gpu/drm/simgpu/"
	for t in Kconfig Makefile; do
		rm "$src/drivers/gpu/drm/$t"
		cp "$pristine/drivers/gpu/drm/$t" "$src/drivers/gpu/drm/$t"
	done
	printf '\nsource "drivers/gpu/drm/simgpu/Kconfig"\n' \
		>>"$src/drivers/gpu/drm/Kconfig"
	printf '\nobj-$(CONFIG_DRM_SIMGPU) += simgpu/\n' \
		>>"$src/drivers/gpu/drm/Makefile"
}

# Every option a fragment sets must survive olddefconfig.
check_config() {
	local line opt want got bad=0
	while read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		opt=${line%%=*}
		want=${line#*=}
		got=$(grep -E "^$opt=|^# $opt is not set" "$1/.config" || true)
		if [ "$want" = n ]; then
			case $got in "$opt="*) ;; *) continue ;; esac
		elif [ "$got" = "$opt=$want" ]; then
			continue
		fi
		log "config: wanted $opt=$want, got '${got:-unset}'"
		bad=1
	done < <(cat "${fragments[@]}")
	return $bad
}

if [ ! -f "$build/.simgpu-complete" ]; then
	need_space "$SIMGPU_CACHE" 4000
	rm -rf "$build"
	mkdir -p "$build"
	log "building Linux $ver ($FLAVOUR) in $build"
	start=$SECONDS
	prepare_tree "$build/src"
	kb=$build/kbuild
	{
		"${MAKE[@]}" -C "$build/src" O="$kb" tinyconfig &&
		"$build/src/scripts/kconfig/merge_config.sh" -m -O "$kb" \
			"$kb/.config" "${fragments[@]}" &&
		"${MAKE[@]}" -C "$build/src" O="$kb" olddefconfig
	} >"$build/config.log" 2>&1 ||
		{ tail -20 "$build/config.log" >&2; die "kernel configuration failed"; }
	check_config "$kb" ||
		die "kernel config fragments did not apply (see above); $build kept for inspection"
	"${MAKE[@]}" -C "$build/src" O="$kb" bzImage modules >"$build/make.log" 2>&1 ||
		{ grep -E 'error:|Error [0-9]' -B2 -A3 "$build/make.log" | head -40 >&2;
		  die "kernel build failed; full log: $build/make.log"; }
	"${MAKE[@]}" -C "$build/src" O="$kb" INSTALL_MOD_PATH="$build/modules" \
		INSTALL_MOD_STRIP=1 modules_install >>"$build/make.log" 2>&1 ||
		{ tail -5 "$build/make.log" >&2; die "kernel modules_install failed"; }
	echo $((SECONDS - start)) >"$build/.simgpu-build-seconds"
	touch "$build/.simgpu-complete"
fi

mkdir -p "$OUT"
ln -sfn "$build/kbuild/arch/x86/boot/bzImage" "$OUT/bzImage"
ln -sfn "$build/kbuild" "$OUT/kbuild"
ln -sfn "$build/modules" "$OUT/modules"
echo "$ver" >"$OUT/kernel-version"
