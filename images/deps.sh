#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building simgpu needs on a Debian 12 (bookworm) or 13
# (trixie) host, from Debian's archive only (the one the host's apt
# uses).  Idempotent: a second run with everything present does nothing
# and exits 0 quickly.
#
# The suites simgpu's sources come from (QEMU: trixie; the kernel:
# trixie-backports) are added when the host does not have them, with
# Pin-Priority 1, so "apt upgrade" never takes a host package from them;
# packages are taken from them only when named explicitly as pkg/suite.
# The host's own suite gets only its deb-src line, if it lacks one.
#
# SIMGPU_NO_DEPS=1: install nothing (another distribution, no root):
# check that the commands and libraries are there and name what is
# missing (README, "Hosts").  Debian's sources are then fetched only if
# apt-get is there; --kernel-tree and --qemu-tree supply them instead.
set -euo pipefail

. "$(dirname "$0")/common.sh"
die() { echo "deps.sh: error: $*" >&2; exit 1; }

SOURCES=/etc/apt/sources.list.d/simgpu.sources
PREFS=/etc/apt/preferences.d/simgpu

# Host packages from bookworm itself.
HOST_PKGS="ninja-build gcc make flex bison bc libelf-dev libssl-dev cpio
ccache busybox-static libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev
python3-pycotap python3-venv dpkg-dev xz-utils git pkg-config kmod
libdrm-dev debootstrap e2fsprogs patch python3-yaml lz4"
# meson >= 1.5: trixie's own; bookworm has it only in bookworm-backports.
BACKPORT_PKGS=
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

# host_has TYPE SUITE: the host's own apt sources have a TYPE (deb or
# deb-src) entry for SUITE (one-line or deb822 format)
host_has() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v t="$1" -v s="$2" '$1 == t { for (i = 2; i <= NF; i++) if ($i == s) f = 1 }
			END { exit !f }' "$f" && return 0
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$SOURCES" ] || continue
		awk -v t="$1" -v s="$2" '
			/^[[:space:]]*$/ { if (ty && su) f = 1; ty = su = 0; next }
			/^Types:/ { for (i = 2; i <= NF; i++) if ($i == t) ty = 1 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) su = 1 }
			END { if (ty && su) f = 1; exit !f }' "$f" && return 0
	done
	return 1
}

setup_sources() {
	local changed=0 suite pinned=() both=() src_only=()

	for suite in $NEED_SUITES; do
		if [ "$suite" = "$HOST_SUITE" ]; then
			host_has deb-src "$suite" || src_only+=("$suite")
		elif host_has deb "$suite"; then
			host_has deb-src "$suite" || src_only+=("$suite")
		else
			both+=("$suite")
			pinned+=("$suite")
		fi
	done
	{
		echo "# Written by simgpu images/deps.sh for a $HOST_SUITE host: the suites it"
		echo "# lacks, pinned to priority 1 in $PREFS."
		if [ ${#both[@]} -gt 0 ]; then
			printf '\nTypes: deb deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				"$MIRROR" "${both[*]}"
		fi
		if [ ${#src_only[@]} -gt 0 ]; then
			printf '\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				"$MIRROR" "${src_only[*]}"
		fi
	} | write_if_changed "$SOURCES" && changed=1
	{
		echo "# Written by simgpu images/deps.sh: never take host packages from these"
		echo "# suites unless named explicitly (pkg/suite)."
		for suite in "${pinned[@]}"; do
			printf '\nPackage: *\nPin: release n=%s\nPin-Priority: 1\n' "$suite"
		done
	} | write_if_changed "$PREFS" && changed=1
	write_if_changed /etc/apt/apt.conf.d/99simgpu-snapshot <<EOS && changed=1
// The archive is a dated snapshot: its Release files look expired.
Acquire::Check-Valid-Until "false";
EOS
	[ -f /var/lib/apt/lists/.simgpu-updated ] || changed=1
	if [ $changed = 1 ]; then
		echo "deps.sh: apt-get update (for a $HOST_SUITE host: ${both[*]:-} ${src_only[*]:-} added)"
		apt-get update -qq || die "apt-get update failed (is $MIRROR reachable?)"
		touch /var/lib/apt/lists/.simgpu-updated
	fi
}

# SIMGPU_NO_DEPS=1: what the build runs, by command and by pkg-config
# name; every missing one is named.
NO_DEPS_CMDS="meson ninja gcc make flex bison bc cpio ccache python3 git
pkg-config patch xz lz4 sha256sum flock"
NO_DEPS_LIBS="glib-2.0 pixman-1 zlib libdrm libelf libssl"
check_no_deps() {
	local missing=() c v
	for c in $NO_DEPS_CMDS; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	for c in $NO_DEPS_LIBS; do
		command -v pkg-config >/dev/null && pkg-config --exists "$c" ||
			missing+=("$c (pkg-config)")
	done
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
		missing+=("/bin/busybox (statically linked)")
	if command -v meson >/dev/null; then
		v=$(meson --version)
		[ "$(printf '%s\n1.5\n' "$v" | sort -V | head -n 1)" = 1.5 ] ||
			missing+=("meson >= 1.5 (have $v)")
	fi
	[ ${#missing[@]} = 0 ] ||
		die "SIMGPU_NO_DEPS=1 and missing: ${missing[*]} (README, Hosts)"
}

main() {
	case ${1:-} in
	"") ;;
	fuzz) HOST_PKGS="$HOST_PKGS $FUZZ_PKGS" ;;
	virgl) HOST_PKGS="$HOST_PKGS $VIRGL_PKGS" ;;
	*) die "usage: deps.sh [fuzz|virgl]" ;;
	esac
	if [ "${SIMGPU_NO_DEPS:-0}" = 1 ]; then
		check_no_deps
		exit 0
	fi
	HOST_SUITE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	case $HOST_SUITE in
	bookworm)
		NEED_SUITES="trixie trixie-backports bookworm-backports"
		BACKPORT_PKGS="meson/bookworm-backports" ;;
	trixie)
		NEED_SUITES="trixie trixie-backports"
		BACKPORT_PKGS="meson" ;;
	*)
		die "this host is '${HOST_SUITE:-unknown}': the package bootstrap knows Debian 12 (bookworm) and 13 (trixie); elsewhere install what README, Hosts lists and set SIMGPU_NO_DEPS=1" ;;
	esac
	MIRROR=$(debian_mirror) || exit 1
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
		meson_ok || die "meson >= 1.5 not available (on bookworm: from bookworm-backports)"
	fi
}

main "$@"
