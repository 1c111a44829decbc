# SPDX-License-Identifier: GPL-2.0
# Shared helpers for images/*.sh (sourced, not run).

SIMGPU_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIMGPU_CACHE=${SIMGPU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simgpu}
# shellcheck source=images/versions
. "$SIMGPU_TOP/images/versions"

die() { echo "${0##*/}: error: $*" >&2; exit 1; }
log() { echo "${0##*/}: $*" >&2; }

# hash_of FILE... : a short content hash of files (and their names)
hash_of() {
	local f
	for f in "$@"; do
		printf '%s\n' "${f#"$SIMGPU_TOP"/}"
		cat "$f"
	done | sha256sum | cut -c1-16
}

# Check there is room before a big step, so a full disk fails with a
# clear message instead of a half-written tree.
need_space() {	# dir, MiB
	local avail
	mkdir -p "$1"
	avail=$(df -Pm "$1" | awk 'NR==2 {print $4}')
	[ "$avail" -ge "$2" ] ||
		die "not enough disk space in $1: ${avail} MiB free, ${2} MiB needed"
}

# publish TMPDIR DEST: atomically move a finished tree into the cache, so a
# failed or interrupted step never leaves a half-written entry behind.
publish() {
	rm -rf "$2.old"
	[ -e "$2" ] && mv "$2" "$2.old"
	mv "$1" "$2"
	rm -rf "$2.old"
}

# debian_mirror: the Debian archive this host's apt already uses (the
# first source whose path ends in /debian, in sources.list.d/*.sources or
# sources.list): simgpu names no archive host of its own.
# SIMGPU_DEBIAN_MIRROR overrides it.
debian_mirror() {
	local uri
	if [ -n "${SIMGPU_DEBIAN_MIRROR:-}" ]; then
		echo "$SIMGPU_DEBIAN_MIRROR"
		return
	fi
	uri=$({ awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
		awk '$1 == "deb" || $1 == "deb-src" {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	      } | grep -E '/debian/?$' | head -n 1)
	[ -n "$uri" ] ||
		die "no Debian archive in this host's apt sources (/etc/apt/sources.list*); set SIMGPU_DEBIAN_MIRROR"
	echo "${uri%/}"
}

