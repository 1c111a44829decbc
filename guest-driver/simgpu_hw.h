/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * simgpu hardware interface: PCI identity, BAR layout and registers.
 *
 * Shared verbatim by the QEMU device model (copied to
 * include/hw/display/simgpu_hw.h) and the Linux driver, so the two cannot
 * disagree.  Macros only (integers, and the error names), nothing from
 * either world.
 *
 * All registers are 32 bits wide, little endian, and must be accessed with
 * aligned 32-bit loads and stores.  64-bit quantities are split in _LO/_HI
 * pairs.
 */
#ifndef SIMGPU_HW_H
#define SIMGPU_HW_H

#define SIMGPU_BIT(n)                  (1U << (n))

/* PCI identity: 1af4:10f0-10ff is reserved for experimental devices. */
#define SIMGPU_PCI_VENDOR_ID           0x1af4
#define SIMGPU_PCI_DEVICE_ID           0x10f0
#define SIMGPU_PCI_REVISION            0x01

/*
 * BARs.  BAR0 holds the registers.  Each VRAM region n has its own 64-bit
 * prefetchable BAR (BAR2 for region 0, BAR4 for region 1) that exposes the
 * first REGION_VISIBLE bytes of the region to the CPU: a BAR smaller than
 * its region models a small-BAR discrete GPU.
 */
#define SIMGPU_REG_BAR                 0
#define SIMGPU_REG_BAR_SIZE            0x1000
#define SIMGPU_VRAM_BAR(n)             (2 + 2 * (n))
#define SIMGPU_MAX_REGIONS             2

/* Identification */
#define SIMGPU_REG_ID                  0x000
#define SIMGPU_ID_MAGIC                0x55504753 /* "SGPU" */
#define SIMGPU_REG_VERSION             0x004
#define SIMGPU_VERSION_MAJOR(v)        (((v) >> 16) & 0xffff)
#define SIMGPU_VERSION_MINOR(v)        ((v) & 0xffff)
#define SIMGPU_VERSION_CURRENT         0x00010000 /* 1.0: engine, GART */
#define SIMGPU_REG_CAPS                0x008
/* Capability bits: set only for what the device implements. */
#define SIMGPU_CAP_VRAM                SIMGPU_BIT(0)
#define SIMGPU_CAP_SMALL_BAR           SIMGPU_BIT(1)
#define SIMGPU_CAP_ENGINE              SIMGPU_BIT(2)
#define SIMGPU_CAP_GART                SIMGPU_BIT(3)
#define SIMGPU_CAP_MSIX                SIMGPU_BIT(4)
#define SIMGPU_CAP_FAULT_INJECT        SIMGPU_BIT(5)
#define SIMGPU_REG_NUM_REGIONS         0x00c

/*
 * Scratch register: reads back what was written.  Lets a driver prove that
 * it reaches the register BAR rather than a hole.
 */
#define SIMGPU_REG_SCRATCH             0x010

/* VRAM region n layout, read only. */
#define SIMGPU_REG_REGION_BASE(n)      (0x100 + 0x20 * (n))
#define SIMGPU_REGION_SIZE_LO          0x00
#define SIMGPU_REGION_SIZE_HI          0x04
#define SIMGPU_REGION_VISIBLE_LO       0x08
#define SIMGPU_REGION_VISIBLE_HI       0x0c

/* VRAM geometry rules the device enforces on its properties. */
#define SIMGPU_VRAM_ALIGN              0x100000ULL /* 1 MiB */

/*
 * Interrupts.  INT_STATUS bits are set by the engine and cleared by writing
 * 1 to them; INT_MASK enables them (1 = enabled, all disabled at reset).
 * With MSI-X enabled each enabled event sends its own vector (FENCE: 0,
 * ERROR: 1) when it is raised, or when it is unmasked while pending;
 * otherwise INTx is asserted while INT_STATUS & INT_MASK is not zero.
 * The MSI-X table and PBA live in the register BAR.
 */
#define SIMGPU_REG_INT_STATUS          0x020
#define SIMGPU_REG_INT_MASK            0x024
#define SIMGPU_INT_FENCE               SIMGPU_BIT(0)
#define SIMGPU_INT_ERROR               SIMGPU_BIT(1)
#define SIMGPU_MSIX_VECTOR_FENCE       0
#define SIMGPU_MSIX_VECTOR_ERROR       1
#define SIMGPU_MSIX_VECTORS            2
#define SIMGPU_MSIX_TABLE_OFFSET       0x800
#define SIMGPU_MSIX_PBA_OFFSET         0xc00

/*
 * GART: a table of GART_ENTRIES little-endian 64-bit entries at the DMA
 * address GART_BASE (4 KiB aligned) in system memory.  Entry i maps the
 * 4 KiB page at GART offset i * 4 KiB to the system page whose DMA address
 * is in bits 63..12; bit 0 marks the entry valid, bits 11..1 must be zero.
 * The GART aperture is [0, GART_ENTRIES * 4 KiB).  GART_ENTRIES writes
 * above GART_MAX_ENTRIES (read only, from the gart-size property) are
 * ignored.  The engine reads entries when it uses them: the driver may
 * change the table while the engine is idle, without any flush.
 */
#define SIMGPU_REG_GART_BASE_LO        0x040
#define SIMGPU_REG_GART_BASE_HI        0x044
#define SIMGPU_REG_GART_ENTRIES        0x048
#define SIMGPU_REG_GART_MAX_ENTRIES    0x04c
#define SIMGPU_GART_PAGE_SHIFT         12
#define SIMGPU_GART_PAGE_SIZE          0x1000ULL
#define SIMGPU_GART_ENTRY_SIZE         8
#define SIMGPU_GART_ENTRY_VALID        0x1ULL
#define SIMGPU_GART_ENTRY_ADDR_MASK    0xfffffffffffff000ULL

/*
 * Engine: a ring of 64-byte commands at the DMA address RING_BASE (4 KiB
 * aligned) of RING_SIZE bytes (a power of two, 4 KiB to 1 MiB).  The driver
 * writes commands at RING_TAIL and then writes the byte offset after the
 * last one to RING_TAIL (the doorbell; 64-byte aligned, below RING_SIZE).
 * The engine executes commands in order while ENGINE_CTRL.ENABLE is set;
 * RING_HEAD is the offset of the next command it will execute, so the
 * slots from RING_HEAD up to RING_TAIL belong to the engine and the ring
 * holds at most RING_SIZE / 64 - 1 commands.
 *
 * On an error the engine stops on the failing command (RING_HEAD =
 * ERROR_HEAD), sets ENGINE_STATUS.ERROR and ERROR_CODE, raises
 * INT_ERROR and executes nothing more until ENGINE_CTRL.RESET.  A failed
 * COPY or FILL may have written part of its destination: treat the whole
 * destination as undefined.  Commands failed by FAULT_FAIL_COUNT or
 * FAULT_RATE_PPM touch nothing.
 *
 * Writing ENGINE_CTRL.RESET stops the engine, waits for the command in
 * flight, drops all queued work, sets RING_HEAD = RING_TAIL = 0, clears
 * ERROR, HUNG, ERROR_CODE, ERROR_HEAD and the fault-injection registers,
 * and counts a reset; ENABLE in the same write then takes effect.
 */
#define SIMGPU_REG_RING_BASE_LO        0x200
#define SIMGPU_REG_RING_BASE_HI        0x204
#define SIMGPU_REG_RING_SIZE           0x208
#define SIMGPU_REG_RING_HEAD           0x20c
#define SIMGPU_REG_RING_TAIL           0x210
#define SIMGPU_REG_ENGINE_CTRL         0x214
#define SIMGPU_ENGINE_CTRL_ENABLE      SIMGPU_BIT(0)
#define SIMGPU_ENGINE_CTRL_RESET       SIMGPU_BIT(1)
#define SIMGPU_REG_ENGINE_STATUS       0x218
#define SIMGPU_ENGINE_STATUS_IDLE      SIMGPU_BIT(0) /* no work pending */
#define SIMGPU_ENGINE_STATUS_BUSY      SIMGPU_BIT(1) /* work pending */
#define SIMGPU_ENGINE_STATUS_ERROR     SIMGPU_BIT(2) /* stopped: error */
#define SIMGPU_ENGINE_STATUS_HUNG      SIMGPU_BIT(3) /* stopped: hang */
#define SIMGPU_REG_ERROR_CODE          0x21c
#define SIMGPU_REG_ERROR_HEAD          0x220
#define SIMGPU_REG_FENCE_SEQNO_LO      0x224
#define SIMGPU_REG_FENCE_SEQNO_HI      0x228

#define SIMGPU_RING_ALIGN              0x1000
#define SIMGPU_RING_SIZE_MIN           0x1000
#define SIMGPU_RING_SIZE_MAX           0x100000

/* ERROR_CODE values */
#define SIMGPU_ERR_NONE                0
#define SIMGPU_ERR_BAD_OPCODE          1  /* unknown op */
#define SIMGPU_ERR_BAD_RESERVED        2  /* flags or reserved bytes not 0 */
#define SIMGPU_ERR_OUT_OF_RANGE        3  /* range outside VRAM or GART */
#define SIMGPU_ERR_GART_FAULT          4  /* invalid or malformed entry */
#define SIMGPU_ERR_DMA_ERROR           5  /* system memory access failed */
#define SIMGPU_ERR_INJECTED            6  /* FAULT_FAIL_COUNT/RATE_PPM */
#define SIMGPU_ERR_RING_CONFIG         7  /* bad RING_BASE or RING_SIZE */
#define SIMGPU_ERR_RING_TAIL           8  /* bad RING_TAIL written */
#define SIMGPU_ERR_BAD_SPACE           9  /* no such address space */
#define SIMGPU_ERR_BAD_ALIGN           10 /* FILL length, FENCE address */

/*
 * The ERROR_CODE values' names, for messages: an array initialiser.  Not
 * indented: Linux's checkpatch wants tabs, QEMU's spaces.
 */
#define SIMGPU_ERR_NAMES { \
[SIMGPU_ERR_NONE] = "none", \
[SIMGPU_ERR_BAD_OPCODE] = "bad opcode", \
[SIMGPU_ERR_BAD_RESERVED] = "reserved bits set", \
[SIMGPU_ERR_OUT_OF_RANGE] = "out of range", \
[SIMGPU_ERR_GART_FAULT] = "GART fault", \
[SIMGPU_ERR_DMA_ERROR] = "DMA error", \
[SIMGPU_ERR_INJECTED] = "injected fault", \
[SIMGPU_ERR_RING_CONFIG] = "bad ring base or size", \
[SIMGPU_ERR_RING_TAIL] = "bad ring tail", \
[SIMGPU_ERR_BAD_SPACE] = "bad address space", \
[SIMGPU_ERR_BAD_ALIGN] = "misaligned length or address", \
}

/*
 * Commands: 64 bytes, little endian; offsets of the fields below.
 *   COPY   length bytes from (src_space, src_addr) to (dst_space, dst_addr);
 *          overlapping ranges of one space behave like memmove.
 *   FILL   length bytes (a multiple of 4) at (dst_space, dst_addr) with
 *          the low 32 bits of value repeated.
 *   FENCE  once all earlier commands are done, write the 64-bit value to
 *          the 8-byte aligned DMA address dst_addr in system memory, set
 *          FENCE_SEQNO to it and raise INT_FENCE.
 *   NOP    nothing.
 * Fields an op does not use are ignored; flags and the reserved bytes
 * must be zero.  Addresses are offsets in their space: VRAM region n, or
 * the GART aperture.
 */
#define SIMGPU_CMD_SIZE                64
#define SIMGPU_CMD_OFF_OP              0x00 /* 32 bits */
#define SIMGPU_CMD_OFF_FLAGS           0x04 /* 32 bits, must be 0 */
#define SIMGPU_CMD_OFF_SRC_ADDR        0x08 /* 64 bits */
#define SIMGPU_CMD_OFF_DST_ADDR        0x10 /* 64 bits */
#define SIMGPU_CMD_OFF_LENGTH          0x18 /* 64 bits */
#define SIMGPU_CMD_OFF_SRC_SPACE       0x20 /* 32 bits */
#define SIMGPU_CMD_OFF_DST_SPACE       0x24 /* 32 bits */
#define SIMGPU_CMD_OFF_VALUE           0x28 /* 64 bits */
#define SIMGPU_CMD_OFF_RESERVED        0x30 /* 16 bytes, must be 0 */
#define SIMGPU_CMD_RESERVED_SIZE       16

#define SIMGPU_OP_NOP                  0
#define SIMGPU_OP_COPY                 1
#define SIMGPU_OP_FILL                 2
#define SIMGPU_OP_FENCE                3

#define SIMGPU_SPACE_VRAM0             0
#define SIMGPU_SPACE_VRAM1             1
#define SIMGPU_SPACE_GART              2

/*
 * Fault injection.  FAULT_FAIL_COUNT: the next N commands fail with
 * ERR_INJECTED without touching anything (reads back what is left).
 * FAULT_HANG: write 1 and the engine hangs (ENGINE_STATUS.HUNG) when it
 * reaches its next command, until ENGINE_CTRL.RESET.  FAULT_STALL_US:
 * delay before each command (at most 1 s).  FAULT_RATE_PPM: each command
 * fails with ERR_INJECTED with this probability per million, drawn from a
 * PRNG seeded by the fault-seed property at reset.  ENGINE_CTRL.RESET and
 * device reset clear all four.  FAULT_REMOVED_MS: write N (at most 10 s)
 * and for N ms of virtual time the device acts as one that fell off the
 * bus (surprise removal): every register read returns all-ones, writes
 * are ignored and no interrupt is delivered; the engine keeps running.
 * Device reset ends it.
 */
#define SIMGPU_REG_FAULT_FAIL_COUNT    0x300
#define SIMGPU_REG_FAULT_HANG          0x304
#define SIMGPU_REG_FAULT_STALL_US      0x308
#define SIMGPU_REG_FAULT_RATE_PPM      0x30c
#define SIMGPU_REG_FAULT_REMOVED_MS    0x310
#define SIMGPU_FAULT_STALL_US_MAX      1000000
#define SIMGPU_FAULT_RATE_PPM_MAX      1000000
#define SIMGPU_FAULT_REMOVED_MS_MAX    10000

/*
 * Statistics, read only, 64 bits as _LO/_HI pairs (read LO first, then HI;
 * the counters are not latched).  Cleared by device reset only.
 */
#define SIMGPU_REG_STAT_LO(n)          (0x400 + 8 * (n))
#define SIMGPU_REG_STAT_HI(n)          (0x404 + 8 * (n))
#define SIMGPU_STAT_COMMANDS           0 /* commands completed */
#define SIMGPU_STAT_BYTES_COPIED       1
#define SIMGPU_STAT_BYTES_FILLED       2
#define SIMGPU_STAT_ERRORS             3 /* times the engine stopped */
#define SIMGPU_STAT_RESETS             4 /* ENGINE_CTRL.RESET writes */
#define SIMGPU_NUM_STATS               5

#endif /* SIMGPU_HW_H */
