#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-initramfs.sh OUT.cpio KERNEL_OUT SIMGPU_KO PROGRAM... :
# busybox-static, the kernel's modules with the out-of-tree simgpu.ko
# in place of the in-tree one, images/init, and the given programs
# (installed in /usr/bin) with the shared libraries they link, from this
# host at the same paths.  Written atomically.
#
# Not compressed: under TCG the guest kernel took ~1.0 s (default kernel)
# to ~1.1 s (debug) of every boot to unpack the ~12 MB gzip archive (~25
# MB of statically linked programs), and 0.3 s (default) to 0.8 s (debug)
# to unpack it uncompressed.  Linked dynamically, the programs share one
# C library: 7.9 MB instead of 26.7 MB (debug), ~0.7 s less CPU time per
# debug-kernel boot (QEMU and guest) and 19 MB more free guest RAM.
set -euo pipefail
. "$(dirname "$0")/common.sh"

OUTFILE=${1:?usage: build-initramfs.sh OUT.cpio KERNEL_OUT SIMGPU_KO PROGRAM...}
KOUT=${2:?missing KERNEL_OUT}
KO=${3:?missing SIMGPU_KO}
shift 3

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (install busybox-static)"
! ldd "$BUSYBOX" >/dev/null 2>&1 ||
	die "$BUSYBOX is dynamically linked (install busybox-static)"

stage=$(mktemp -d "$(dirname "$OUTFILE")/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc/simgpu,lib/modules,proc,sys,dev,tmp,run,root}
cp "$BUSYBOX" "$stage/bin/busybox"
# The applets' links, made here: "busybox --install -s" in /init took
# 0.13 s of every debug-kernel boot.  A program of the same name
# installed below replaces its link.
"$BUSYBOX" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] || ln -s /bin/busybox "$stage/$applet"
done
install -m 0755 "$SIMGPU_TOP/images/init" "$stage/init"
# Stripped: their debug information was a quarter of the archive, which
# the kernel copies into its tmpfs on every boot (gdb on the host reads
# the build directory's copies).
for prog in "$@"; do
	rm -f "$stage/usr/bin/$(basename "$prog")"
	if [ "$(head -c 4 "$prog" | tail -c 3)" = ELF ]; then
		install -s -m 0755 "$prog" "$stage/usr/bin/"
	else
		install -m 0755 "$prog" "$stage/usr/bin/"
	fi
done
# ldd's lines: "NAME => /PATH (ADDRESS)" and "/INTERPRETER (ADDRESS)";
# scripts are not dynamic executables.
ldd_out=$(for prog in "$@"; do ldd "$prog" 2>/dev/null || true; done)
! grep -q "not found" <<<"$ldd_out" ||
	die "a program's library is missing: $(grep "not found" <<<"$ldd_out" | sort -u)"
libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
	<<<"$ldd_out" | sort -u)
for lib in $libs; do
	install -D -m 0755 "$lib" "$stage$lib"
done

cp -a "$KOUT/modules/lib/modules/." "$stage/lib/modules/"
kver=$(ls "$stage/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one kernel in $KOUT/modules"
moddir=$stage/lib/modules/$kver
rm -f "$moddir"/kernel/drivers/gpu/drm/simgpu/simgpu.ko "$moddir"/build "$moddir"/source
install -D -m 0644 "$KO" "$moddir/updates/simgpu.ko"
depmod -b "$stage" "$kver" || die "depmod failed"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) >"$stage.out"
mv "$stage.out" "$OUTFILE"
