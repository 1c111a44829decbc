#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-qemu.sh OUTDIR : build qemu-system-x86_64 with the simgpu device
# (and its qtest) from Debian's QEMU source with qemu-dev/patches/ applied,
# and link the results into OUTDIR: qemu-system-x86_64, simgpu-test
# (snapshots of this checkout's device), firmware/.
#
# build-qemu.sh OUTDIR fuzz : the fuzzing flavour instead, in a build
# directory of its own: clang, libFuzzer, ASan and UBSan
# (--enable-fuzzing --enable-asan --enable-ubsan), linking OUTDIR/qemu-fuzz-x86_64,
# whose generic-fuzz-simgpu target is qemu-dev/integration/fuzz-config.inc.
#
# build-qemu.sh OUTDIR tsan : ThreadSanitizer (clang, --enable-tsan):
# qemu-system-x86_64 and simgpu-test, to run the qtests under TSan.
#
# The pristine source is copied once into a work tree that qemu-dev/ is
# overlaid onto; files are rewritten only when their content changes, so
# editing simgpu.c rebuilds one object.  The build directory is keyed by
# the QEMU version and the configuration, and compiles through ccache.
#
# SIMGPU_QEMU_TREE=DIR (run-vm.sh --qemu-tree): the user's QEMU source
# tree instead of Debian's.  It is never written to: the work tree is a
# tree of symbolic links to it (images/source-tree.py mirror), refreshed
# on every build, with the overlay as files of its own; work and build
# directories are keyed by DIR's path.
set -euo pipefail
. "$(dirname "$0")/common.sh"

OUT=${1:?usage: build-qemu.sh OUTDIR [fuzz|tsan|virgl]}
FLAVOUR=${2:-default}
TREE=${SIMGPU_QEMU_TREE:-}
DEV=$SIMGPU_TOP/qemu-dev

CONFIGURE_ARGS=(
	--target-list=x86_64-softmmu
	--without-default-features --without-default-devices
	--with-devices-x86_64=simgpu
	--enable-kvm --enable-tcg
	--python=/usr/bin/python3
	--disable-download --disable-install-blobs --disable-docs
	--disable-werror --disable-user --disable-tools
	--cc="ccache gcc" --cxx="ccache g++"
)
TARGETS=(qemu-system-x86_64 tests/qtest/simgpu-test)
case $FLAVOUR in
default) deps=() ;;
fuzz)
	deps=(fuzz)
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--cc=*/--cc=ccache clang-14}")
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--cxx=*/--cxx=ccache clang++-14}")
	CONFIGURE_ARGS+=(--enable-fuzzing --enable-asan --enable-ubsan)
	TARGETS=(qemu-fuzz-x86_64)
	;;
virgl)
	# virtio-gpu-gl-pci beside simgpu: OpenGL and virglrenderer, and an
	# SDL display for the GL context (run-vm.sh --gpu virgl runs it
	# under Xvfb with Mesa's software rasteriser).
	deps=(virgl)
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--with-devices-x86_64=simgpu/--with-devices-x86_64=simgpu-virgl}")
	CONFIGURE_ARGS+=(--enable-opengl --enable-virglrenderer --enable-sdl)
	TARGETS=(qemu-system-x86_64)
	;;
tsan)
	deps=(fuzz)
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--cc=*/--cc=ccache clang-14}")
	CONFIGURE_ARGS=("${CONFIGURE_ARGS[@]/--cxx=*/--cxx=ccache clang++-14}")
	CONFIGURE_ARGS+=(--enable-tsan)
	;;
*) die "unknown QEMU flavour '$FLAVOUR' (default, fuzz, tsan or virgl)" ;;
esac

"$SIMGPU_TOP/images/deps.sh" "${deps[@]}"
if [ -n "$TREE" ]; then
	[ -d "$TREE" ] || die "--qemu-tree: no directory '$TREE'"
	TREE=$(cd "$TREE" && pwd -P)
	ver=$("$SIMGPU_TOP/images/source-tree.py" version qemu "$TREE") || exit 1
	pristine=$TREE
	ver=$ver-tree-$(echo "$TREE" | sha256sum | cut -c1-12)
else
	pristine=$("$SIMGPU_TOP/images/fetch.sh" qemu)
	ver=${pristine##*/qemu-}
fi
firmware=$("$SIMGPU_TOP/images/fetch.sh" firmware)

# One lock per work tree (its flavours share it): a build from another
# tree never holds this one up.
mkdir -p "$SIMGPU_CACHE"
exec 9>"$SIMGPU_CACHE/qemu-$ver.lock"
flock 9

work=$SIMGPU_CACHE/qemu-work-$ver
if [ -n "$TREE" ]; then
	"$SIMGPU_TOP/images/source-tree.py" mirror qemu "$TREE" "$work" >/dev/null ||
		die "cannot mirror $TREE into $work"
	touch "$work/.simgpu-complete"
elif [ ! -f "$work/.simgpu-complete" ]; then
	log "copying QEMU $ver source into $work"
	need_space "$SIMGPU_CACHE" 3000
	rm -rf "$work.tmp"
	cp -a "$pristine" "$work.tmp"
	publish "$work.tmp" "$work"
fi

# put SRC DEST: copy a file into the work tree only if it changed (a
# link into a user's tree is replaced, never written through)
put() {
	[ ! -L "$work/$2" ] && cmp -s "$1" "$work/$2" && return
	rm -f "$work/$2"
	install -m 0644 -D "$1" "$work/$2"
}

# append PRISTINE_REL SNIPPET: pristine file + our lines (idempotent)
append() {
	local tmp
	tmp=$(mktemp)
	{ cat "$pristine/$1"; echo; echo "# simgpu"; cat "$2"; } >"$tmp"
	put "$tmp" "$1"
	rm -f "$tmp"
}

# Our fixes of QEMU itself (qemu-dev/patches/*.patch, in name order, -p1):
# each file they touch is rebuilt from the pristine one, and a file that
# an earlier build patched and no patch touches now goes back to pristine.
patched=$(mktemp -d)
for p in "$DEV"/patches/*.patch; do
	[ -e "$p" ] || continue
	for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p"); do
		[ -e "$patched/$f" ] || install -m 0644 -D "$pristine/$f" "$patched/$f"
	done
	if [ -n "$TREE" ] && patch -s -R -f --dry-run -p1 -d "$patched" <"$p" >/dev/null 2>&1; then
		log "${p#"$SIMGPU_TOP"/}: already in $TREE"
		continue
	fi
	patch -s -p1 -d "$patched" <"$p" >&2 ||
		{ rm -rf "$patched"; die "${p#"$SIMGPU_TOP"/} does not apply to QEMU $ver"; }
done
list=$(cd "$patched" && find . -type f ! -name '*.orig' | sed 's|^\./||' | sort)
for f in $list; do
	put "$patched/$f" "$f"
done
if [ -f "$work/.simgpu-patched" ]; then
	for f in $(comm -23 "$work/.simgpu-patched" - <<<"$list"); do
		put "$pristine/$f" "$f"
	done
fi
printf '%s\n' $list >"$work/.simgpu-patched"
rm -rf "$patched"

put "$DEV/simgpu.c" hw/display/simgpu.c
put "$DEV/simgpu-engine.c" hw/display/simgpu-engine.c
put "$DEV/simgpu_int.h" hw/display/simgpu_int.h
put "$SIMGPU_TOP/guest-driver/simgpu_hw.h" include/hw/display/simgpu_hw.h
put "$DEV/simgpu-test.c" tests/qtest/simgpu-test.c
put "$DEV/devices.mak" configs/devices/x86_64-softmmu/simgpu.mak
cat "$DEV/devices.mak" "$DEV/devices-virgl.mak" >"$work/.simgpu-virgl.mak"
put "$work/.simgpu-virgl.mak" configs/devices/x86_64-softmmu/simgpu-virgl.mak
append hw/display/Kconfig "$DEV/integration/Kconfig"
append hw/display/meson.build "$DEV/integration/meson.build"
append hw/display/trace-events "$DEV/integration/trace-events"
tmp=$(mktemp)
sed "/^qtests_x86_64 = qtests_i386\$/a\\
qtests_x86_64 += (config_all_devices.has_key('CONFIG_SIMGPU') ? ['simgpu-test'] : [])" \
	"$pristine/tests/qtest/meson.build" >"$tmp"
grep -q simgpu-test "$tmp" || die "cannot hook simgpu-test into QEMU's tests/qtest/meson.build"
put "$tmp" tests/qtest/meson.build
# generic-fuzz-simgpu: our entry first in generic-fuzz's predefined configs.
sed "/^const generic_fuzz_config predefined_configs\[\] = {\$/r $DEV/integration/fuzz-config.inc" \
	"$pristine/tests/qtest/fuzz/generic_fuzz_configs.h" >"$tmp"
grep -q '"simgpu"' "$tmp" || die "cannot add simgpu to QEMU's tests/qtest/fuzz/generic_fuzz_configs.h"
put "$tmp" tests/qtest/fuzz/generic_fuzz_configs.h
rm -f "$tmp"

mak=("$DEV/devices.mak")
[ "$FLAVOUR" = virgl ] && mak+=("$DEV/devices-virgl.mak")
key=$(printf '%s\n' "${CONFIGURE_ARGS[@]}" | cat - "${mak[@]}" | sha256sum | cut -c1-12)
build=$SIMGPU_CACHE/qemu-build-$ver-$key
export CCACHE_DIR=${CCACHE_DIR:-$SIMGPU_CACHE/ccache}

configure_seconds=0
if [ ! -f "$build/.simgpu-configured" ]; then
	configure_seconds=$SECONDS
	log "configuring QEMU $ver in $build"
	need_space "$SIMGPU_CACHE" 2000
	rm -rf "$build"
	mkdir -p "$build"
	(cd "$build" && "$work/configure" "${CONFIGURE_ARGS[@]}") \
		>"$build/configure.log" 2>&1 ||
		{ tail -20 "$build/configure.log" >&2; rm -rf "$build";
		  die "QEMU configure failed (log above)"; }
	touch "$build/.simgpu-configured"
	configure_seconds=$((SECONDS - configure_seconds))
fi

log "building QEMU $ver (ninja -C $build)"
start=$SECONDS
ninja -C "$build" "${TARGETS[@]}" >"$build/ninja.log" 2>&1 ||
	{ grep -A15 '^FAILED:' "$build/ninja.log" | grep -v '^ccache ' | head -40 >&2;
	  die "QEMU build failed; full log: $build/ninja.log"; }
[ -f "$build/.simgpu-build-seconds" ] ||
	echo $((SECONDS - start + configure_seconds)) >"$build/.simgpu-build-seconds"

# The +ds source ships no firmware: link the ROMs where the built binary
# looks by default, so qtests and plain runs need no -L.
bundle=$build/qemu-bundle/usr/local/share/qemu
mkdir -p "$bundle"
for f in "$firmware"/*; do
	[ -e "$bundle/${f##*/}" ] || ln -s "$f" "$bundle/${f##*/}"
done

# The binaries are snapshots (hard links: the linker writes a new file
# each time), so that another checkout building its own qemu-dev/ into
# this shared build directory never changes the device under this one's
# tests.  A qemu-bundle directory next to the binary is where QEMU
# looks for its data first: the ROMs.
mkdir -p "$OUT/qemu-bundle/usr/local/share"
for f in "${TARGETS[@]}"; do
	rm -f "$OUT/${f##*/}"
	ln "$build/$f" "$OUT/${f##*/}" 2>/dev/null || cp "$build/$f" "$OUT/${f##*/}"
done
ln -sfn "$bundle" "$OUT/qemu-bundle/usr/local/share/qemu"
ln -sfn "$firmware" "$OUT/firmware"
ln -sfn "$work" "$OUT/src"
echo "$ver" >"$OUT/qemu-version"
