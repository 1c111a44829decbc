#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Write seed inputs for QEMU's generic-fuzz-simgpu target into DIR.

usage: fuzz-seeds.py DIR

A random input almost never programs the ring, the GART and the engine
in the right order, so the fuzzer starts from inputs that do: each sets
the ring and GART registers, enables the engine and rings the doorbell,
with DMA patterns (generic-fuzz's answer to the device's DMA reads) that
hold the commands and GART entries.  Register numbers come from
guest-driver/simgpu_hw.h.  The input format is generic-fuzz's
(tests/qtest/fuzz/generic_fuzz.c): an opcode byte and its operands per
operation, operations separated by "FUZZ".
"""

import os
import re
import struct
import sys

HW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                  "guest-driver", "simgpu_hw.h")

# generic-fuzz's operations (enum cmds)
OP_WRITE = 3
OP_ADD_DMA_PATTERN = 7
SEPARATOR = b"FUZZ"
LONG = 2            # op_write size: 32 bits
REGS = 0            # the first fuzzable MMIO range: BAR0's registers

RING = 0x100000     # guest-physical addresses (the fuzzer's VM has 512 MiB)
GART = 0x200000
PAGES = 0x300000


def hw_defines():
    d = {}
    with open(HW) as f:
        for line in f:
            m = re.match(r"#define (SIMGPU_\w+)\s+(0x[0-9a-fA-F]+|\d+)"
                         r"[uUlL]*\s", line)
            b = re.match(r"#define (SIMGPU_\w+)\s+SIMGPU_BIT\((\d+)\)",
                         line)
            if m:
                d[m.group(1)] = int(m.group(2), 0)
            elif b:
                d[b.group(1)] = 1 << int(b.group(2))
    return d


H = hw_defines()


def write(reg, value):
    return bytes([OP_WRITE]) + struct.pack("<BBxxIQ", LONG, REGS,
                                           H["SIMGPU_REG_" + reg], value)


def pattern(data):
    return bytes([OP_ADD_DMA_PATTERN]) + struct.pack("<BB", 0, 0) + data


def cmd(op, src_space=0, src=0, dst_space=0, dst=0, length=0, value=0):
    c = bytearray(H["SIMGPU_CMD_SIZE"])
    struct.pack_into("<I", c, H["SIMGPU_CMD_OFF_OP"], H["SIMGPU_OP_" + op])
    struct.pack_into("<Q", c, H["SIMGPU_CMD_OFF_SRC_ADDR"], src)
    struct.pack_into("<Q", c, H["SIMGPU_CMD_OFF_DST_ADDR"], dst)
    struct.pack_into("<Q", c, H["SIMGPU_CMD_OFF_LENGTH"], length)
    struct.pack_into("<I", c, H["SIMGPU_CMD_OFF_SRC_SPACE"],
                     H["SIMGPU_SPACE_" + src_space] if src_space else 0)
    struct.pack_into("<I", c, H["SIMGPU_CMD_OFF_DST_SPACE"],
                     H["SIMGPU_SPACE_" + dst_space] if dst_space else 0)
    struct.pack_into("<Q", c, H["SIMGPU_CMD_OFF_VALUE"], value)
    return bytes(c)


def engine(commands, gart_entries=0):
    ops = [write("INT_MASK", H["SIMGPU_INT_FENCE"] | H["SIMGPU_INT_ERROR"]),
           write("RING_BASE_LO", RING), write("RING_SIZE", 0x1000)]
    if gart_entries:
        ops += [write("GART_BASE_LO", GART),
                write("GART_ENTRIES", gart_entries)]
    # One pattern per DMA read, in turn: the commands, then GART entries.
    ops += [pattern(c) for c in commands]
    if gart_entries:
        ops.append(pattern(struct.pack("<Q", PAGES |
                                       H["SIMGPU_GART_ENTRY_VALID"])))
    ops += [write("ENGINE_CTRL", H["SIMGPU_ENGINE_CTRL_ENABLE"]),
            write("RING_TAIL", H["SIMGPU_CMD_SIZE"] * len(commands))]
    return SEPARATOR.join(ops)


SEEDS = {
    "copy-vram": engine([cmd("COPY", "VRAM0", 0, "VRAM1", 0x1000, 0x10000)]),
    "fill-fence": engine([cmd("FILL", dst_space="VRAM1", dst=0x100,
                              length=0x2000, value=0x5a5a5a5a),
                          cmd("FENCE", dst=PAGES, value=7)]),
    "copy-gart": engine([cmd("COPY", "VRAM0", 0x800, "GART", 0x10, 0x3000)],
                        gart_entries=16),
    "overlap": engine([cmd("COPY", "VRAM0", 0, "VRAM0", 0x400, 0x100000)]),
    "faults": SEPARATOR.join([write("FAULT_FAIL_COUNT", 1),
                              engine([cmd("NOP"), cmd("NOP")]),
                              write("ENGINE_CTRL", 3)]),
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(sys.argv[1], "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
