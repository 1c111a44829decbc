#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-rootfs.sh debian OUTDIR : build the optional Debian root file
# system (run-vm.sh --rootfs debian) and link into OUTDIR:
#   rootfs.ext4   the ext4 image (QEMU attaches it with snapshot=on, so
#                 no run ever writes to it)
#   packages.txt  the Debian packages in it, with versions
#
# debootstrap --variant=minbase of $ROOTFS_DEBIAN_SUITE with
# $ROOTFS_DEBIAN_PKGS (images/versions), turned into an ext4 image with
# mkfs.ext4 -d (no loop or root mounts).  The image is cached in
# SIMGPU_CACHE/rootfs-debian-SUITE-KEY, KEY from the suite, the package
# list and ROOTFS_EPOCH; it is published only when complete.  The
# project's programs (simgpu-*, vm-exit) are not in the image: the
# initramfs /init bind-mounts its own copies on /usr/local/bin at boot,
# so a rebuilt test program never rebuilds the image.
#
# Needs root (debootstrap runs the packages' maintainer scripts in a
# chroot).  SIMGPU_DEBOOTSTRAP overrides the debootstrap command.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage="usage: build-rootfs.sh debian OUTDIR"
KIND=${1:?$usage}
OUT=${2:?$usage}
case $KIND in
debian) ;;
*) die "unknown root file system '$KIND' (known: debian)" ;;
esac

# Bump when the way the image is built changes.
ROOTFS_EPOCH=1
# Free space left in the image for what the user writes in the guest
# (which goes to QEMU's throw-away overlay, not to the cached image).
FREE_MB=64
MIRROR=$(debian_mirror) || exit 1
DEBOOTSTRAP=${SIMGPU_DEBOOTSTRAP:-debootstrap}
suite=$ROOTFS_DEBIAN_SUITE
read -r -a pkgs <<<"$ROOTFS_DEBIAN_PKGS"

key=$(printf '%s\n' "$ROOTFS_EPOCH" "$suite" "${pkgs[@]}" | sha256sum | cut -c1-16)
name=rootfs-debian-$suite-$key
entry=$SIMGPU_CACHE/$name

link_out() {
	mkdir -p "$OUT"
	ln -sfn "$entry/rootfs.ext4" "$OUT/rootfs.ext4"
	ln -sfn "$entry/packages.txt" "$OUT/packages.txt"
}

if [ -f "$entry/.simgpu-complete" ]; then
	link_out
	exit 0
fi

"$SIMGPU_TOP/images/deps.sh"
[ "$(id -u)" = 0 ] ||
	die "building the Debian rootfs needs root (debootstrap runs package scripts in a chroot)"
command -v "$DEBOOTSTRAP" >/dev/null ||
	die "$DEBOOTSTRAP is missing (install the debootstrap package; images/deps.sh does)"
command -v mkfs.ext4 >/dev/null ||
	die "mkfs.ext4 is missing (install the e2fsprogs package)"

mkdir -p "$SIMGPU_CACHE"
exec 9>"$entry.lock"
flock 9

# remove_tree DIR: unmount whatever a killed debootstrap left mounted
# inside DIR (deepest first), then delete it without leaving DIR's
# file system, so a stray bind mount can never take host files along.
remove_tree() {
	local m
	[ -e "$1" ] || return 0
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$1"
}

# Another build may have finished while we waited for the lock.
if [ -f "$entry/.simgpu-complete" ]; then
	link_out
	exit 0
fi
# Leftovers of an interrupted build of this entry (we hold its lock).
for old in "$SIMGPU_CACHE/.$name".*; do
	remove_tree "$old"
done

need_space "$SIMGPU_CACHE" 1500
tmp=$(mktemp -d "$SIMGPU_CACHE/.$name.XXXXXX")
trap 'remove_tree "$tmp"' EXIT
tree=$tmp/tree
mkdir -p "$tmp/entry" "$OUT"
# The log goes to the build directory, never into the cache.
dlog=$OUT/debootstrap.log

log "building a Debian $suite root file system (${pkgs[*]}) in $entry (~2 min)"
start=$SECONDS
include=$(IFS=,; echo "${pkgs[*]}")
if ! "$DEBOOTSTRAP" --variant=minbase --include="$include" \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	"$suite" "$tree" "$MIRROR" >"$dlog" 2>&1; then
	why=$(grep -E '^(E|W): ' "$dlog" | grep -v 'W: Failure trying to run' |
		head -n 1 || true)
	[ -n "$why" ] || why=$(grep -v '^$' "$dlog" | tail -n 1)
	die "debootstrap of Debian $suite failed: ${why:-no output} (log: $dlog)"
fi

# Small: no apt caches or lists (the guest has no network), no docs or
# translations (copyright files stay); dpkg keeps it that way.
cat >"$tree/etc/dpkg/dpkg.cfg.d/simgpu-nodoc" <<'EOF'
# simgpu build-rootfs.sh: no docs or translations in the guest image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
find "$tree/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$tree/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/info/*
find "$tree/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias \
	-exec rm -rf {} +
rm -rf "$tree"/var/cache/apt/* "$tree"/var/lib/apt/lists/* \
	"$tree"/var/log/* "$tree"/debootstrap
mkdir -p "$tree/var/lib/apt/lists/partial" "$tree/var/cache/apt/archives/partial"
# apt works against the same dated snapshot, should a user give the guest
# a network some day.
echo "deb $MIRROR $suite main" >"$tree/etc/apt/sources.list"
echo 'Acquire::Check-Valid-Until "false";' \
	>"$tree/etc/apt/apt.conf.d/99simgpu-snapshot"
echo simgpu >"$tree/etc/hostname"
: >"$tree/etc/machine-id"
cat >"$tree/etc/simgpu-rootfs" <<EOF
simgpu Debian $suite root file system ($name)
packages: ${pkgs[*]}
simgpu-* and vm-exit in /usr/local/bin come from the initramfs at boot.
EOF
dpkg-query --admindir="$tree/var/lib/dpkg" -W -f '${Package} ${Version}\n' \
	>"$tmp/entry/packages.txt"

used=$(du -sm --one-file-system "$tree" | cut -f1)
size=$(( (used * 115 / 100 + FREE_MB + 15) / 16 * 16 ))
need_space "$SIMGPU_CACHE" "$size"
truncate -s "${size}M" "$tmp/entry/rootfs.ext4"
mkfs.ext4 -q -F -L simgpu-rootfs -b 4096 -m 0 -O ^has_journal -d "$tree" \
	"$tmp/entry/rootfs.ext4" >"$tmp/mkfs.log" 2>&1 ||
	die "mkfs.ext4 -d failed: $(grep -v '^$' "$tmp/mkfs.log" | tail -n 1)"
rm -rf --one-file-system "$tree"

echo $((SECONDS - start)) >"$tmp/entry/.simgpu-build-seconds"
touch "$tmp/entry/.simgpu-complete"
publish "$tmp/entry" "$entry"
log "built $name in $((SECONDS - start))s: ${size} MiB image, ${used} MiB of files, $(wc -l <"$entry/packages.txt") packages"
link_out
