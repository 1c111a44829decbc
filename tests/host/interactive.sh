#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# interactive.sh BUILDDIR [KERNEL]: run-vm.sh on a terminal with no --exec
# gives a shell in the guest with the driver loaded; the shell's exit
# status is run-vm.sh's.  The terminal is a pty from script(1).  KERNEL:
# the kernel flavour to boot (default: run-vm.sh's).  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:?usage: interactive.sh BUILDDIR [KERNEL]}
K=${2:-default}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

mkfifo "$work/in"
script -qec "$TOP/run-vm.sh --no-build --builddir $B --kernel $K --log $work/console" \
	/dev/null <"$work/in" >"$work/out" 2>&1 &
pid=$!
exec 3>"$work/in"

echo "TAP version 13"
echo "1..3"
for _ in $(seq 240); do
	grep -q "exit the shell to power off" "$work/console" 2>/dev/null && break
	sleep 0.5
done
if grep -q "exit the shell to power off" "$work/console"; then
	echo "ok 1 - the guest offers a shell on the terminal"
else
	echo "not ok 1 - no shell prompt within 120 s"
	sed 's/^/# /' "$work/out" | tail -20
	exit 1
fi
sleep 1
echo 'cat /sys/class/drm/renderD128/device/vendor; exit 3' >&3
rc=0
wait $pid || rc=$?
pid=
grep -q '^0x1af4' "$work/console" &&
	echo "ok 2 - a command typed at the shell ran (render node vendor 0x1af4)" ||
	{ echo "not ok 2 - the typed command did not run"; sed 's/^/# /' "$work/out" | tail -20; }
[ $rc = 3 ] && echo "ok 3 - run-vm.sh exits with the shell's status (3)" ||
	echo "not ok 3 - run-vm.sh exited with $rc, not the shell's 3"
grep -q '^0x1af4' "$work/console" && [ $rc = 3 ]
