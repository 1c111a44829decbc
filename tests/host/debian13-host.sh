#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debian13-host.sh [--bootstrap-only]: simgpu on a Debian 13 (trixie) host:
# a debootstrap chroot of trixie (cached in SIMGPU_CACHE/test-trees)
# gets this checkout's tracked files and runs the README's two commands
# in it, with a cache of its own: images/deps.sh takes the chroot's own
# suites (no pinning of trixie there), QEMU and the kernels are built
# with trixie's compilers, and ./run-vm.sh and ./run-tests.sh must pass.
#
# --bootstrap-only: the host-specific part only (dependency bootstrap,
# then the QEMU and kernel sources fetched through the chroot's apt, and
# meson setup), minutes instead of the full build's hour.  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/images/common.sh"

only=0
[ "${1:-}" = --bootstrap-only ] && only=1
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (debootstrap, chroot)"; exit 0; }

. "$TOP/tests/host/tap.sh"
# ok STATUS DESCRIPTION [DETAILS]: a test point, the details' last lines
ok() { result "$1" "$2" "$(printf '%s\n' "${3:-}" | tail -25)"; }

echo "TAP version 13"
[ $only = 1 ] && echo "1..4" || echo "1..5"

root=$SIMGPU_CACHE/test-trees/trixie-root
mkdir -p "${root%/*}"
exec 9>"$root.lock"
flock 9
start=$SECONDS
if [ ! -f "$root/.simgpu-complete" ]; then
	rm -rf "$root"
	mirror=$(debian_mirror) || exit 1
	debootstrap --variant=minbase --include=ca-certificates trixie "$root" \
		"$mirror" >"$root.log" 2>&1
	rc=$?
	[ $rc = 0 ] && touch "$root/.simgpu-complete"
	ok $rc "debootstrap of trixie ($((SECONDS - start))s)" "$(tail -5 "$root.log")"
else
	ok 0 "trixie chroot from the cache ($root)"
fi
codename=$(. "$root/etc/os-release" && echo "$VERSION_CODENAME")

# This checkout's tracked files, as a fresh clone would have them; in a
# copy that is not a git checkout (this test run inside the chroot by
# the full run's run-tests.sh), its files but the build directories.
tracked_files() {
	if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$TOP" ls-files -z
	else
		(cd "$TOP" && find . -path './build*' -prune -o -type f -print0)
	fi
}
rm -rf "$root/simgpu"
mkdir -p "$root/simgpu"
tracked_files | (cd "$TOP" && tar --null -T - -cf -) | tar -x -C "$root/simgpu"
[ -x "$root/simgpu/run-vm.sh" ] ||
	{ echo "Bail out! could not copy $TOP into the chroot"; exit 1; }

mounts=()
cleanup() {
	local m
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${mounts[i]}" 2>/dev/null
	done
}
trap cleanup EXIT
for m in proc sys dev dev/pts; do
	mkdir -p "$root/$m"
	mount --bind "/$m" "$root/$m" && mounts+=("$root/$m")
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null

in_root() {	# log command...: run in the chroot (its own cache)
	local log=$1
	shift
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 SIMGPU_CACHE=/root/.cache/simgpu \
		/bin/bash -c "cd /simgpu && $*" >"$log" 2>&1
}

start=$SECONDS
in_root "$root.deps.log" images/deps.sh
rc=$?
pinned=$(grep -c 'n=trixie$' "$root/etc/apt/preferences.d/simgpu" 2>/dev/null)
[ $rc = 0 ] && [ "$codename" = trixie ] && [ "${pinned:-0}" = 0 ]
ok $? "images/deps.sh on a $codename host: installed, trixie itself not pinned ($((SECONDS - start))s)" \
	"$(cat "$root.deps.log" "$root/etc/apt/sources.list.d/simgpu.sources" 2>/dev/null)"

start=$SECONDS
in_root "$root.fetch.log" 'images/fetch.sh qemu && images/fetch.sh kernel && images/fetch.sh firmware'
ok $? "QEMU, kernel and firmware sources through the chroot's apt ($((SECONDS - start))s)" \
	"$(cat "$root.fetch.log")"

if [ $only = 1 ]; then
	in_root "$root.meson.log" 'meson setup build'
	ok $? "meson setup with trixie's meson" "$(cat "$root.meson.log")"
else
	start=$SECONDS
	in_root "$root.vm.log" ./run-vm.sh </dev/null
	rc=$?
	ok $rc "./run-vm.sh (the first build, then simgpu-smoke) on trixie ($((SECONDS - start))s)" \
		"$(tail -20 "$root.vm.log")"
	start=$SECONDS
	in_root "$root.tests.log" ./run-tests.sh
	rc=$?
	ok $rc "./run-tests.sh on trixie: $(tail -n 1 "$root.tests.log") ($((SECONDS - start))s)" \
		"$(tail -30 "$root.tests.log")"
fi
tap_finish
