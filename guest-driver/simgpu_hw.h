/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * simgpu hardware interface: PCI identity, BAR layout and registers.
 *
 * Shared verbatim by the QEMU device model (copied to
 * include/hw/display/simgpu_hw.h) and the Linux driver, so the two cannot
 * disagree.  Fixed-width integer macros only, nothing from either world.
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
#define SIMGPU_VERSION_CURRENT         0x00000001 /* 0.1 */
#define SIMGPU_REG_CAPS                0x008
/* Capability bits: set only for what the device implements. */
#define SIMGPU_CAP_VRAM                SIMGPU_BIT(0)
#define SIMGPU_CAP_SMALL_BAR           SIMGPU_BIT(1)
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

#endif /* SIMGPU_HW_H */
