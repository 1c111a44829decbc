#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# qtest.sh QEMU_OUT: run the simgpu qtest (TAP) against the built QEMU.
set -eu
Q=${1:?usage: qtest.sh QEMU_OUT}
export QTEST_QEMU_BINARY="$Q/qemu-system-x86_64"
exec "$Q/simgpu-test" --tap -k
