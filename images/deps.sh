#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building simgpu needs on a Debian 12 host, from Debian's
# archive only.  Idempotent: a second run with everything present does
# nothing and exits 0 quickly.
#
# Newer suites (trixie, trixie-backports, bookworm-backports) are added
# with Pin-Priority 1, so "apt upgrade" never takes a host package from
# them; packages are taken from them only when named explicitly as
# pkg/suite.
set -euo pipefail

. "$(dirname "$0")/common.sh"
die() { echo "deps.sh: error: $*" >&2; exit 1; }

SOURCES=/etc/apt/sources.list.d/simgpu.sources
PREFS=/etc/apt/preferences.d/simgpu
MIRROR=$(debian_mirror) || exit 1

# Host packages from bookworm itself.
HOST_PKGS="ninja-build gcc make flex bison bc libelf-dev libssl-dev cpio
ccache busybox-static libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev
python3-pycotap python3-venv dpkg-dev xz-utils git pkg-config kmod
libdrm-dev debootstrap e2fsprogs patch python3-yaml"
# meson >= 1.5 is only in bookworm-backports.
BACKPORT_PKGS="meson/bookworm-backports"
# deps.sh fuzz: the libFuzzer/sanitizer QEMUs (build-qemu.sh OUTDIR fuzz
# or tsan) are built with clang; llvm-symbolizer names their reports.
FUZZ_PKGS="clang-14 libclang-rt-14-dev llvm-14"
# deps.sh virgl: the QEMU with OpenGL and virglrenderer (build-qemu.sh
# OUTDIR virgl), and the software GL display it runs on (Xvfb, Mesa).
VIRGL_PKGS="libvirglrenderer-dev libepoxy-dev libsdl2-dev libgbm-dev xvfb
xauth libgl1-mesa-dri"

need_install() {
	local want have
	want=$(echo $HOST_PKGS | wc -w)
	# shellcheck disable=SC2086
	have=$(dpkg-query -W -f='${Status}\n' $HOST_PKGS 2>/dev/null |
		grep -c 'install ok installed')
	[ "$have" = "$want" ] || return 0
	meson_ok || return 0
	return 1
}

meson_ok() {
	local v
	v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge 1.5
}

write_if_changed() {	# file, content on stdin
	local tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
		return 1
	fi
	install -m 0644 "$tmp" "$1"
	rm -f "$tmp"
	return 0
}

setup_sources() {
	local changed=0

	write_if_changed "$SOURCES" <<EOS && changed=1
# Written by simgpu images/deps.sh.  Pinned to priority 1 in $PREFS.
Types: deb deb-src
URIs: $MIRROR
Suites: trixie trixie-backports bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	write_if_changed "$PREFS" <<EOS && changed=1
# Written by simgpu images/deps.sh: never take host packages from these
# suites unless named explicitly (pkg/suite).
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: *
Pin: release n=trixie-backports
Pin-Priority: 1

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 1
EOS
	write_if_changed /etc/apt/apt.conf.d/99simgpu-snapshot <<EOS && changed=1
// The archive is a dated snapshot: its Release files look expired.
Acquire::Check-Valid-Until "false";
EOS
	[ -f /var/lib/apt/lists/.simgpu-updated ] || changed=1
	if [ $changed = 1 ]; then
		echo "deps.sh: apt-get update (trixie, trixie-backports, bookworm-backports added, pinned)"
		apt-get update -qq || die "apt-get update failed (is $MIRROR reachable?)"
		touch /var/lib/apt/lists/.simgpu-updated
	fi
}

main() {
	case ${1:-} in
	"") ;;
	fuzz) HOST_PKGS="$HOST_PKGS $FUZZ_PKGS" ;;
	virgl) HOST_PKGS="$HOST_PKGS $VIRGL_PKGS" ;;
	*) die "usage: deps.sh [fuzz|virgl]" ;;
	esac
	[ "$(id -u)" = 0 ] || {
		need_install && die "missing build dependencies; run $0 as root"
		exit 0
	}
	# The builds run in parallel and each checks its dependencies: one
	# apt at a time (apt-get fails rather than waits on dpkg's lock).
	mkdir -p "$SIMGPU_CACHE"
	exec 9>"$SIMGPU_CACHE/deps.lock"
	flock 9
	setup_sources
	if need_install; then
		echo "deps.sh: installing build dependencies"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $HOST_PKGS $BACKPORT_PKGS >/dev/null ||
			die "apt-get install failed for: $HOST_PKGS $BACKPORT_PKGS"
		meson_ok || die "meson >= 1.5 not available (need meson from bookworm-backports)"
	fi
}

main "$@"
