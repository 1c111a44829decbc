/*
 * simgpu: the device state, and what the core (simgpu.c: registers,
 * interrupts, realize, reset, migration) and the engine (simgpu-engine.c:
 * ring, GART, DMA, modelled time, the engine thread) share.
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_DISPLAY_SIMGPU_INT_H
#define HW_DISPLAY_SIMGPU_INT_H

#include "qemu/units.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "hw/pci/pci_device.h"
#include "hw/display/simgpu_hw.h"
#include "system/dma.h"
#include "exec/memory.h"
#include "qom/object.h"

#define TYPE_SIMGPU "simgpu"
OBJECT_DECLARE_SIMPLE_TYPE(SimgpuState, SIMGPU)

/*
 * Largest VRAM region accepted.  VRAM is host RAM committed on first touch,
 * so this bounds address arithmetic rather than host memory use.
 */
#define SIMGPU_VRAM_MAX        (64 * GiB)
#define SIMGPU_VRAM_DEFAULT    (256 * MiB)
#define SIMGPU_GART_MAX        (16 * GiB)
#define SIMGPU_LATENCY_MAX_US  1000000
#define SIMGPU_BANDWIDTH_MIN   (1 * MiB)

/* The registers fill BAR0 below the MSI-X table. */
#define SIMGPU_REGS_SIZE       SIMGPU_MSIX_TABLE_OFFSET

/*
 * Largest piece of a command the engine moves in one go: it checks for an
 * abort (reset) between pieces, so this bounds how long a reset waits.
 */
#define SIMGPU_CHUNK           (1 * MiB)
/* GART entries read from the table in one DMA. */
#define SIMGPU_GART_BATCH      64

/* Internal: the command was abandoned because of a reset; never reported. */
#define SIMGPU_ERR_ABORTED     0xffffffffu
/*
 * Internal: the command stopped between two pieces because the VM stops
 * or is being saved (quiesce); it resumes at @cmd_progress.  Never reported.
 */
#define SIMGPU_ERR_PAUSED      0xfffffffeu

typedef struct SimgpuRegion {
    MemoryRegion vram;      /* the whole region, host RAM */
    MemoryRegion bar;       /* the BAR: its first @visible bytes alias @vram */
    MemoryRegion window;    /* alias of vram[0, visible) inside @bar */
    uint8_t *ptr;           /* host address of @vram */
    uint64_t size;
    uint64_t visible;
} SimgpuRegion;

/* A decoded ring command. */
typedef struct SimgpuCmd {
    uint32_t op;
    uint32_t flags;
    uint64_t src;
    uint64_t dst;
    uint64_t len;
    uint32_t src_space;
    uint32_t dst_space;
    uint64_t value;
    bool reserved_zero;
} SimgpuCmd;

/* What a command sees of the device state, copied when it starts. */
typedef struct SimgpuJob {
    uint64_t gart_base;
    uint32_t gart_entries;
} SimgpuJob;

/* A piece of an address space mapped into host memory. */
typedef struct SimgpuPiece {
    uint8_t *ptr;
    uint64_t len;
    bool is_write;
    MemoryRegion *vram;     /* VRAM piece: region to mark dirty */
    uint64_t vram_off;
    void *map;              /* GART piece: the DMA mapping */
    dma_addr_t map_len;
} SimgpuPiece;

struct SimgpuState {
    PCIDevice parent_obj;

    MemoryRegion bar0;      /* registers + MSI-X table and PBA */
    MemoryRegion mmio;
    SimgpuRegion region[SIMGPU_MAX_REGIONS];

    QemuThread thread;
    bool thread_running;    /* @thread exists (BQL) */
    QEMUBH *irq_bh;
    QEMUTimer *pace_timer;  /* wakes the engine at a modelled time */
    VMChangeStateEntry *vmstate_change;
    /* FILL's pattern, repeated, 3 extra bytes to start at any phase */
    uint8_t fill_pattern[SIMGPU_GART_PAGE_SIZE + 3]; /* engine thread */

    /*
     * Locking: the MMIO handlers, reset, migration and the interrupt bottom
     * half run under the BQL; the engine thread never takes the BQL.  All
     * the fields from @lock to the end of the guest-visible state are
     * protected by @lock.  The engine thread drops @lock while it executes
     * a command, with @busy set; it only touches guest RAM and VRAM then,
     * plus the @abort, @quiesce and @vm_running flags, which it reads with
     * qatomic_read() (they are written under @lock with qatomic_set()).
     * To get the engine quiet, a BQL holder sets @quiesce (and @abort to
     * abandon the command in flight) and waits on @idle until !@busy.
     */
    QemuMutex lock;
    QemuCond wake;          /* engine thread: work or state changed */
    QemuCond idle;          /* engine thread went idle (!busy) */
    bool busy;
    bool quiesce;
    bool abort;
    bool vm_running;
    bool quit;

    /* Guest-visible state, migrated. */
    uint32_t scratch;
    uint32_t int_status;
    uint32_t int_mask;
    uint32_t irq_raised;    /* events raised, not yet seen by irq_bh */
    uint64_t gart_base;
    uint32_t gart_entries;
    uint64_t ring_base;
    uint32_t ring_size;
    uint32_t ring_head;
    uint32_t ring_tail;
    uint32_t engine_ctrl;
    bool error;
    bool hung;
    uint32_t error_code;
    uint32_t error_head;
    uint64_t fence_seqno;
    /* bytes of the COPY/FILL at ring_head done before it was paused */
    uint64_t cmd_progress;
    /* QEMU_CLOCK_VIRTUAL (ns) at which the next command may start */
    int64_t engine_time;
    uint32_t fault_fail_count;
    uint32_t fault_hang;
    uint32_t fault_stall_us;
    uint32_t fault_rate_ppm;
    /* FAULT_REMOVED_MS: removed until this QEMU_CLOCK_VIRTUAL time (ns) */
    int64_t removed_until;
    uint64_t prng;
    uint64_t stats[SIMGPU_NUM_STATS];

    /* Properties, constant after realize */
    uint32_t num_regions;
    uint64_t prop_size[SIMGPU_MAX_REGIONS];
    uint64_t prop_visible[SIMGPU_MAX_REGIONS];
    uint64_t gart_size;
    uint64_t bandwidth;
    uint32_t latency_us;
    uint64_t fault_seed;
    bool engine_sync;       /* x-engine-sync: no thread, see engine_wake */
};

/* simgpu.c */
void simgpu_raise_locked(SimgpuState *s, uint32_t events);

/* simgpu-engine.c */
void simgpu_engine_error_locked(SimgpuState *s, uint32_t code,
                                uint32_t head);
bool simgpu_ring_offset_ok(SimgpuState *s, uint32_t off);
bool simgpu_ring_config_ok_locked(SimgpuState *s);
void simgpu_quiesce_locked(SimgpuState *s, bool abort);
void simgpu_unquiesce_locked(SimgpuState *s);
void simgpu_engine_wake_locked(SimgpuState *s);
void simgpu_engine_reset_locked(SimgpuState *s);
void simgpu_pace_timer_cb(void *opaque);
void simgpu_engine_start(SimgpuState *s);
void simgpu_engine_stop(SimgpuState *s, bool abort);

#endif
