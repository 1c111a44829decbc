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
