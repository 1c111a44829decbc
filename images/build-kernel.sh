#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh FLAVOUR OUTDIR [TREE] : build the guest kernel (FLAVOUR
# is default, debug or kasan) and link into OUTDIR:
#   bzImage, vmlinux (what run-vm.sh boots: its PVH entry point), kbuild
#   (the O= build dir, for out-of-tree modules),
#   modules/ (modules_install tree).
#
# TREE (run-vm.sh --kernel-tree): the user's kernel source tree instead of
# Debian's.  It is never written to: the build reads it through a tree of
# symbolic links (images/source-tree.py mirror) with simgpu's hooks, in a
# cache directory keyed by TREE's path, the flavour and the fragments;
# kbuild rebuilds incrementally what changed, and nothing at all runs
# when TREE's state (every file's size and mtime) is what was built last.
#
# The kernel is "make tinyconfig" + images/kconfig/*.config, with simgpu
# built in tree as a module (drivers/gpu/drm/simgpu, from guest-driver/).
# The build directory is keyed by kernel version, config fragments and the
# driver's Kconfig only: editing driver sources never rebuilds the
# kernel (the module used at run time is built out of tree).
set -euo pipefail
. "$(dirname "$0")/common.sh"

FLAVOUR=${1:?usage: build-kernel.sh default|debug|kasan OUTDIR [TREE]}
OUT=${2:?usage: build-kernel.sh default|debug|kasan OUTDIR [TREE]}
TREE=${3:-}
KC=$SIMGPU_TOP/images/kconfig
DRV=$SIMGPU_TOP/guest-driver

case $FLAVOUR in
default) fragments=("$KC/base.config") ;;
debug) fragments=("$KC/base.config" "$KC/debug.config") ;;
kasan) fragments=("$KC/base.config" "$KC/debug.config" "$KC/kasan.config") ;;
*) die "unknown kernel flavour '$FLAVOUR' (default, debug or kasan)" ;;
esac

"$SIMGPU_TOP/images/deps.sh"
# Bump when the way the kernel is configured or built changes.
BUILD_EPOCH=1
key=$(echo "$BUILD_EPOCH" | cat - "${fragments[@]}" "$DRV/Kconfig" | sha256sum | cut -c1-16)
if [ -n "$TREE" ]; then
	[ -d "$TREE" ] || die "--kernel-tree: no directory '$TREE'"
	TREE=$(cd "$TREE" && pwd -P)
	ver=$("$SIMGPU_TOP/images/source-tree.py" version linux "$TREE") || exit 1
	pristine=$TREE
	build=$SIMGPU_CACHE/linux-tree-$(echo "$TREE" | sha256sum | cut -c1-12)-$FLAVOUR-$key
else
	pristine=$("$SIMGPU_TOP/images/fetch.sh" kernel)
	ver=${pristine##*/linux-}
	build=$SIMGPU_CACHE/linux-build-$ver-$FLAVOUR-$key
fi

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

# hook_drm SRC: drivers/gpu/drm/{Kconfig,Makefile} of the pristine tree
# plus simgpu's lines, as files of SRC's own (a file we change is
# replaced, never written through a link); rewritten only when they
# change, so an unchanged tree rebuilds nothing.
hook_drm() {
	local src=$1 t tmp
	tmp=$(mktemp)
	for t in Kconfig Makefile; do
		cp "$pristine/drivers/gpu/drm/$t" "$tmp"
		case $t in
		Kconfig) printf '\nsource "drivers/gpu/drm/simgpu/Kconfig"\n' ;;
		Makefile) printf '\nobj-$(CONFIG_DRM_SIMGPU) += simgpu/\n' ;;
		esac >>"$tmp"
		if ! [ -f "$src/drivers/gpu/drm/$t" ] || [ -L "$src/drivers/gpu/drm/$t" ] ||
		   ! cmp -s "$tmp" "$src/drivers/gpu/drm/$t"; then
			rm -f "$src/drivers/gpu/drm/$t"
			cp "$tmp" "$src/drivers/gpu/drm/$t"
		fi
	done
	rm -f "$tmp"
}

# A source tree per key: hard links to the pristine tree (symbolic links
# to a user's TREE), plus the driver (built in tree too, so that its
# Kconfig selects what it needs; the module loaded at run time is built
# out of tree by build-module.sh).
prepare_tree() {
	local src=$1
	if [ -n "$TREE" ]; then
		mkdir -p "$src"
		"$SIMGPU_TOP/images/source-tree.py" mirror linux "$TREE" "$src" >&2 ||
			die "cannot mirror $TREE into $src"
	else
		cp -al "$pristine" "$src"
	fi
	rm -rf "$src/drivers/gpu/drm/simgpu"
	mkdir -p "$src/drivers/gpu/drm/simgpu"
	cp "$DRV"/*.c "$DRV"/*.h "$DRV/Kconfig" "$DRV/Makefile" \
		"$src/drivers/gpu/drm/simgpu/"
	cp -r "$DRV/uapi" "$src/drivers/gpu/drm/simgpu/"
	hook_drm "$src"
}

# make_kernel: build and install the kernel and modules in $build
make_kernel() {
	"${MAKE[@]}" -C "$build/src" O="$kb" bzImage modules >"$build/make.log" 2>&1 ||
		{ grep -E 'error:|Error [0-9]' -B2 -A3 "$build/make.log" | head -40 >&2;
		  die "kernel build of ${TREE:-Linux $ver} failed; full log: $build/make.log"; }
	rm -rf "$build/modules"
	"${MAKE[@]}" -C "$build/src" O="$kb" INSTALL_MOD_PATH="$build/modules" \
		INSTALL_MOD_STRIP=1 modules_install >>"$build/make.log" 2>&1 ||
		{ tail -5 "$build/make.log" >&2; die "kernel modules_install failed"; }
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

# A user's tree whose last build failed after configuration (a compile
# error in the tree) goes on incrementally, like any edit: no rebuild
# from scratch for each fix.
if [ ! -f "$build/.simgpu-complete" ] &&
   { [ -z "$TREE" ] || [ ! -f "$build/.simgpu-configured" ]; }; then
	need_space "$SIMGPU_CACHE" 4000
	rm -rf "$build"
	mkdir -p "$build"
	log "building Linux $ver ($FLAVOUR) in $build"
	start=$SECONDS
	[ -n "$TREE" ] && state=$("$SIMGPU_TOP/images/source-tree.py" state linux "$TREE")
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
	touch "$build/.simgpu-configured"
	make_kernel
	echo $((SECONDS - start)) >"$build/.simgpu-build-seconds"
	[ -n "$TREE" ] && echo "$state" >"$build/.simgpu-tree-state"
	touch "$build/.simgpu-complete"
elif [ -n "$TREE" ]; then
	# An incremental rebuild when the tree changed since the last build.
	state=$("$SIMGPU_TOP/images/source-tree.py" state linux "$TREE")
	if [ "$state" != "$(cat "$build/.simgpu-tree-state" 2>/dev/null)" ]; then
		log "rebuilding Linux $ver ($FLAVOUR) from $TREE (${state% *})"
		start=$SECONDS
		kb=$build/kbuild
		rm -f "$build/.simgpu-tree-state"
		"$SIMGPU_TOP/images/source-tree.py" mirror linux "$TREE" "$build/src" >/dev/null ||
			die "cannot mirror $TREE into $build/src"
		hook_drm "$build/src"
		make_kernel
		echo "$state" >"$build/.simgpu-tree-state"
		touch "$build/.simgpu-complete"
		log "rebuilt in $((SECONDS - start)) s"
	fi
fi

mkdir -p "$OUT"
ln -sfn "$build/kbuild/arch/x86/boot/bzImage" "$OUT/bzImage"
ln -sfn "$build/kbuild/vmlinux" "$OUT/vmlinux"
ln -sfn "$build/kbuild" "$OUT/kbuild"
ln -sfn "$build/modules" "$OUT/modules"
echo "$ver" >"$OUT/kernel-version"
echo "${TREE:-$pristine}" >"$OUT/kernel-tree"
