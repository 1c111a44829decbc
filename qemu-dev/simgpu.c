/*
 * simgpu: a simulated discrete GPU for testing GPU memory management
 *
 * The device models what a TTM driver has to manage on a discrete GPU:
 * one or two VRAM regions, each exposed to the CPU through its own 64-bit
 * prefetchable BAR which may be smaller than the region (small-BAR), a GART
 * through which the device reaches system memory pages, and a copy/fill
 * engine fed by a command ring in guest memory that signals fences with
 * MSI-X (or INTx) interrupts.  The register interface is defined in
 * simgpu_hw.h, which the Linux driver shares.
 *
 * The engine runs in its own thread so that a large copy never blocks a
 * vCPU.  It touches guest memory only through the PCI device's DMA address
 * space, and only where that is RAM (no peer-to-peer to MMIO), so it never
 * needs the BQL; this is what lets the BQL holders (MMIO handlers, reset,
 * migration) wait for it to go idle.
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/thread.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/host-utils.h"
#include "qemu/cutils.h"
#include "qemu/range.h"
#include "qemu/rcu.h"
#include "qemu/atomic.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/display/simgpu_hw.h"
#include "migration/vmstate.h"
#include "system/dma.h"
#include "system/runstate.h"
#include "exec/memory.h"
#include "qom/object.h"
#include "trace.h"

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

static void simgpu_engine_run_sync_locked(SimgpuState *s);

static const char *const simgpu_err_names[] = {
    [SIMGPU_ERR_NONE] = "none",
    [SIMGPU_ERR_BAD_OPCODE] = "bad opcode",
    [SIMGPU_ERR_BAD_RESERVED] = "reserved bits set",
    [SIMGPU_ERR_OUT_OF_RANGE] = "out of range",
    [SIMGPU_ERR_GART_FAULT] = "GART fault",
    [SIMGPU_ERR_DMA_ERROR] = "DMA error",
    [SIMGPU_ERR_INJECTED] = "injected fault",
    [SIMGPU_ERR_RING_CONFIG] = "bad ring base or size",
    [SIMGPU_ERR_RING_TAIL] = "bad ring tail",
    [SIMGPU_ERR_BAD_SPACE] = "bad address space",
    [SIMGPU_ERR_BAD_ALIGN] = "misaligned length or address",
};

static const char *simgpu_err_name(uint32_t code)
{
    if (code < ARRAY_SIZE(simgpu_err_names) && simgpu_err_names[code]) {
        return simgpu_err_names[code];
    }
    return "?";
}

/* Is [off, off + len) inside [0, size)?  Safe for any 64-bit values. */
static bool simgpu_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    uint64_t end;

    return !uadd64_overflow(off, len, &end) && end <= size;
}

static uint32_t simgpu_caps(SimgpuState *s)
{
    uint32_t caps = SIMGPU_CAP_VRAM | SIMGPU_CAP_ENGINE | SIMGPU_CAP_GART |
                    SIMGPU_CAP_FAULT_INJECT;
    unsigned int i;

    for (i = 0; i < s->num_regions; i++) {
        if (s->region[i].visible < s->region[i].size) {
            caps |= SIMGPU_CAP_SMALL_BAR;
        }
    }
    if (msix_present(PCI_DEVICE(s))) {
        caps |= SIMGPU_CAP_MSIX;
    }
    return caps;
}

/* splitmix64: a small PRNG whose sequence depends only on the seed. */
static uint64_t simgpu_prng_next(SimgpuState *s)
{
    uint64_t z = (s->prng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * Interrupts
 */

/* FAULT_REMOVED_MS is in effect: the device is "off the bus". */
static bool simgpu_removed_locked(SimgpuState *s)
{
    return s->removed_until &&
           qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) < s->removed_until;
}

/*
 * One MSI-X vector: a newly raised cause sends its message (or, with the
 * vector masked, sets its pending bit); a cause that is no longer pending
 * (acknowledged, or masked in INT_MASK) clears the pending bit, so that
 * unmasking the vector later sends nothing stale.
 */
static void simgpu_msix_update(PCIDevice *pdev, unsigned int vector,
                               bool pending, bool raised)
{
    if (!pending) {
        msix_clr_pending(pdev, vector);
    } else if (raised) {
        trace_simgpu_msix_notify(vector);
        msix_notify(pdev, vector);
    }
}

/* Deliver the interrupt state; @raised are newly raised events.  BQL. */
static void simgpu_update_irq(SimgpuState *s, uint32_t raised)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t pending;

    WITH_QEMU_LOCK_GUARD(&s->lock) {
        pending = s->int_status & s->int_mask;
        if (simgpu_removed_locked(s)) {
            pending = 0;
        }
    }
    if (msix_enabled(pdev)) {
        pci_set_irq(pdev, 0);
        simgpu_msix_update(pdev, SIMGPU_MSIX_VECTOR_FENCE,
                           pending & SIMGPU_INT_FENCE,
                           raised & SIMGPU_INT_FENCE);
        simgpu_msix_update(pdev, SIMGPU_MSIX_VECTOR_ERROR,
                           pending & SIMGPU_INT_ERROR,
                           raised & SIMGPU_INT_ERROR);
    } else {
        trace_simgpu_intx(pending != 0);
        pci_set_irq(pdev, pending != 0);
    }
}

static void simgpu_irq_bh(void *opaque)
{
    SimgpuState *s = opaque;
    uint32_t raised;

    WITH_QEMU_LOCK_GUARD(&s->lock) {
        raised = s->irq_raised;
        s->irq_raised = 0;
    }
    simgpu_update_irq(s, raised);
}

/* Raise interrupt events from any thread; delivered by irq_bh. */
static void simgpu_raise_locked(SimgpuState *s, uint32_t events)
{
    trace_simgpu_irq_raise(events, s->int_mask);
    s->int_status |= events;
    s->irq_raised |= events;
    qemu_bh_schedule(s->irq_bh);
}

/*
 * Engine state changes, all with @lock held
 */

static void simgpu_engine_error_locked(SimgpuState *s, uint32_t code,
                                       uint32_t head)
{
    if (s->error) {
        return;
    }
    trace_simgpu_engine_error(head, code, simgpu_err_name(code));
    if (code != SIMGPU_ERR_INJECTED) {
        qemu_log_mask(LOG_GUEST_ERROR, "simgpu: engine stopped on command at "
                      "ring offset 0x%x: %s\n", head, simgpu_err_name(code));
    }
    s->error = true;
    s->error_code = code;
    s->error_head = head;
    s->stats[SIMGPU_STAT_ERRORS]++;
    simgpu_raise_locked(s, SIMGPU_INT_ERROR);
}

static bool simgpu_ring_offset_ok(SimgpuState *s, uint32_t off)
{
    return off < s->ring_size && !(off % SIMGPU_CMD_SIZE);
}

/* Are RING_BASE and RING_SIZE usable? */
static bool simgpu_ring_config_ok_locked(SimgpuState *s)
{
    uint64_t end;

    return s->ring_size >= SIMGPU_RING_SIZE_MIN &&
           s->ring_size <= SIMGPU_RING_SIZE_MAX &&
           is_power_of_2(s->ring_size) &&
           !(s->ring_base % SIMGPU_RING_ALIGN) &&
           !uadd64_overflow(s->ring_base, s->ring_size, &end);
}

/* Check the ring registers; SIMGPU_ERR_NONE if the engine may use them. */
static uint32_t simgpu_ring_check_locked(SimgpuState *s)
{
    /* Head and tail can be off only if RING_SIZE changed under them. */
    if (!simgpu_ring_config_ok_locked(s) ||
        !simgpu_ring_offset_ok(s, s->ring_head) ||
        !simgpu_ring_offset_ok(s, s->ring_tail)) {
        return SIMGPU_ERR_RING_CONFIG;
    }
    return SIMGPU_ERR_NONE;
}

/*
 * Stop the engine thread from starting commands and wait until it has none
 * in flight; with @abort, the command in flight is abandoned.  BQL held.
 */
static void simgpu_quiesce_locked(SimgpuState *s, bool abort)
{
    qatomic_set(&s->quiesce, true);
    if (abort) {
        qatomic_set(&s->abort, true);
    }
    qemu_cond_broadcast(&s->wake);
    while (s->busy) {
        qemu_cond_wait(&s->idle, &s->lock);
    }
}

/*
 * The engine may have work or be allowed to run again.  If it was idle,
 * its modelled time starts now: a command's time counts from when the
 * engine could start it, not from when its host thread got to it.
 */
static void simgpu_engine_wake_locked(SimgpuState *s)
{
    if (!s->busy) {
        s->engine_time = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    }
    if (s->engine_sync) {
        simgpu_engine_run_sync_locked(s);
        return;
    }
    qemu_cond_broadcast(&s->wake);
}

static void simgpu_unquiesce_locked(SimgpuState *s)
{
    qatomic_set(&s->abort, false);
    qatomic_set(&s->quiesce, false);
    simgpu_engine_wake_locked(s);
}

/* ENGINE_CTRL.RESET, with the engine quiesced. */
static void simgpu_engine_reset_locked(SimgpuState *s)
{
    s->ring_head = 0;
    s->ring_tail = 0;
    s->error = false;
    s->hung = false;
    s->error_code = SIMGPU_ERR_NONE;
    s->error_head = 0;
    s->cmd_progress = 0;
    s->fault_fail_count = 0;
    s->fault_hang = 0;
    s->fault_stall_us = 0;
    s->fault_rate_ppm = 0;
    s->prng = s->fault_seed;
}

/*
 * DMA.  The engine thread reaches guest RAM only, never MMIO: an MMIO
 * access (or a bounce buffer) takes the BQL, which reset, pre_save, the
 * VM-state handler and unrealize hold while they wait for the engine.
 * Whether an address is RAM is decided in the same RCU section that maps
 * it, so a memory map change in between (the guest clears bus mastering,
 * a region goes away) cannot turn a checked address into an MMIO access:
 * whatever is not RAM is a DMA error.
 */
static const MemTxAttrs simgpu_dma_attrs = { .memory = true };

/*
 * Map up to *@len bytes at @addr: a host pointer into RAM, with a
 * reference on its region (simgpu_dma_unmap() drops it), and *@len set to
 * the bytes mapped.  NULL if @addr is not RAM in the device's DMA space.
 */
static void *simgpu_dma_map(SimgpuState *s, dma_addr_t addr,
                            dma_addr_t *len, bool is_write)
{
    AddressSpace *as = pci_get_address_space(&s->parent_obj);
    MemoryRegion *mr;
    hwaddr xlat, l = *len;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(as, addr, &xlat, &l, is_write,
                                 simgpu_dma_attrs);
    if (!l || !memory_access_is_direct(mr, is_write, simgpu_dma_attrs)) {
        return NULL;
    }
    memory_region_ref(mr);
    if (!is_write) {
        fuzz_dma_read_cb(addr, l, mr);
    }
    *len = MIN(l, *len);
    return qemu_map_ram_ptr(mr->ram_block, xlat);
}

/* Undo simgpu_dma_map(); the first @written bytes were written. */
static void simgpu_dma_unmap(SimgpuState *s, void *ptr, dma_addr_t len,
                             bool is_write, dma_addr_t written)
{
    dma_memory_unmap(pci_get_address_space(&s->parent_obj), ptr, len,
                     is_write ? DMA_DIRECTION_FROM_DEVICE :
                                DMA_DIRECTION_TO_DEVICE, written);
}

/* Small transfers: ring, GART table, fence. */
static bool simgpu_dma_rw(SimgpuState *s, dma_addr_t addr, void *buf,
                          dma_addr_t len, DMADirection dir)
{
    bool is_write = dir == DMA_DIRECTION_FROM_DEVICE;
    uint64_t end;

    if (uadd64_overflow(addr, len, &end)) {
        return false;
    }
    while (len) {
        dma_addr_t l = len;
        void *ptr = simgpu_dma_map(s, addr, &l, is_write);

        if (!ptr) {
            return false;
        }
        if (is_write) {
            memcpy(ptr, buf, l);
        } else {
            memcpy(buf, ptr, l);
        }
        simgpu_dma_unmap(s, ptr, l, is_write, is_write ? l : 0);
        addr += l;
        buf = (uint8_t *)buf + l;
        len -= l;
    }
    return true;
}

/*
 * Read GART entries [@idx, @idx + @n) into @ents and check them.  The
 * caller has checked that they are below job->gart_entries.
 */
static uint32_t simgpu_gart_read(SimgpuState *s, const SimgpuJob *job,
                                 uint64_t idx, unsigned int n, uint64_t *ents)
{
    uint64_t addr;
    unsigned int i;

    if (job->gart_base % SIMGPU_GART_PAGE_SIZE) {
        return SIMGPU_ERR_GART_FAULT;
    }
    /* idx < 2^22, so the product cannot wrap. */
    if (uadd64_overflow(job->gart_base, idx * SIMGPU_GART_ENTRY_SIZE, &addr) ||
        !simgpu_dma_rw(s, addr, ents, n * SIMGPU_GART_ENTRY_SIZE,
                       DMA_DIRECTION_TO_DEVICE)) {
        return SIMGPU_ERR_DMA_ERROR;
    }
    for (i = 0; i < n; i++) {
        ents[i] = le64_to_cpu(ents[i]);
        if ((ents[i] & ~SIMGPU_GART_ENTRY_ADDR_MASK) !=
            SIMGPU_GART_ENTRY_VALID) {
            return SIMGPU_ERR_GART_FAULT;
        }
    }
    return SIMGPU_ERR_NONE;
}

/* Size of address space @space; false if there is no such space. */
static bool simgpu_space_size(SimgpuState *s, const SimgpuJob *job,
                              uint32_t space, uint64_t *size)
{
    switch (space) {
    case SIMGPU_SPACE_VRAM0:
    case SIMGPU_SPACE_VRAM1:
        if (space - SIMGPU_SPACE_VRAM0 >= s->num_regions) {
            return false;
        }
        *size = s->region[space - SIMGPU_SPACE_VRAM0].size;
        return true;
    case SIMGPU_SPACE_GART:
        *size = (uint64_t)job->gart_entries << SIMGPU_GART_PAGE_SHIFT;
        return true;
    default:
        return false;
    }
}

static uint32_t simgpu_check_range(SimgpuState *s, const SimgpuJob *job,
                                   uint32_t space, uint64_t off, uint64_t len)
{
    uint64_t size, end;

    if (!simgpu_space_size(s, job, space, &size)) {
        return SIMGPU_ERR_BAD_SPACE;
    }
    if (uadd64_overflow(off, len, &end)) {
        return SIMGPU_ERR_OUT_OF_RANGE;
    }
    if (!simgpu_range_ok(off, len, size)) {
        /* Beyond the GART aperture means an entry index >= GART_ENTRIES. */
        return space == SIMGPU_SPACE_GART ? SIMGPU_ERR_GART_FAULT :
                                            SIMGPU_ERR_OUT_OF_RANGE;
    }
    return SIMGPU_ERR_NONE;
}

/*
 * Map a piece of (@space, range checked by the caller) into host memory:
 * forward, [@pos, @pos + len) with 0 < len <= @max; backward, [@pos - len,
 * @pos).  A GART piece forward may span several physically contiguous
 * pages; backward, it stays within one page.
 */
static uint32_t simgpu_map_piece(SimgpuState *s, const SimgpuJob *job,
                                 uint32_t space, uint64_t pos, uint64_t max,
                                 bool backward, bool is_write, SimgpuPiece *p)
{
    uint64_t ents[SIMGPU_GART_BATCH];
    uint64_t start, idx, in_page, len;
    dma_addr_t dma, map_len;
    unsigned int n, i;
    uint32_t err;

    memset(p, 0, sizeof(*p));
    p->is_write = is_write;
    if (space != SIMGPU_SPACE_GART) {
        SimgpuRegion *r = &s->region[space - SIMGPU_SPACE_VRAM0];

        start = backward ? pos - max : pos;
        p->ptr = r->ptr + start;
        p->len = max;
        p->vram = &r->vram;
        p->vram_off = start;
        return SIMGPU_ERR_NONE;
    }

    if (backward) {
        in_page = (pos - 1) & (SIMGPU_GART_PAGE_SIZE - 1);
        len = MIN(max, in_page + 1);
        start = pos - len;
        idx = start >> SIMGPU_GART_PAGE_SHIFT;
        err = simgpu_gart_read(s, job, idx, 1, ents);
        if (err) {
            return err;
        }
        dma = (ents[0] & SIMGPU_GART_ENTRY_ADDR_MASK) +
              (start & (SIMGPU_GART_PAGE_SIZE - 1));
    } else {
        start = pos;
        idx = start >> SIMGPU_GART_PAGE_SHIFT;
        in_page = start & (SIMGPU_GART_PAGE_SIZE - 1);
        n = MIN(DIV_ROUND_UP(in_page + max, SIMGPU_GART_PAGE_SIZE),
                SIMGPU_GART_BATCH);
        err = simgpu_gart_read(s, job, idx, n, ents);
        if (err) {
            return err;
        }
        /* Coalesce physically contiguous pages. */
        for (i = 1; i < n; i++) {
            if ((ents[i] & SIMGPU_GART_ENTRY_ADDR_MASK) !=
                (ents[0] & SIMGPU_GART_ENTRY_ADDR_MASK) +
                i * SIMGPU_GART_PAGE_SIZE) {
                break;
            }
        }
        len = MIN(max, i * SIMGPU_GART_PAGE_SIZE - in_page);
        dma = (ents[0] & SIMGPU_GART_ENTRY_ADDR_MASK) + in_page;
    }

    map_len = len;
    p->map = simgpu_dma_map(s, dma, &map_len, is_write);
    if (!p->map || (backward && map_len < len)) {
        if (p->map) {
            simgpu_dma_unmap(s, p->map, map_len, is_write, 0);
        }
        p->map = NULL;
        return SIMGPU_ERR_DMA_ERROR;
    }
    p->map_len = map_len;
    p->ptr = p->map;
    p->len = MIN(map_len, len);
    return SIMGPU_ERR_NONE;
}

static void simgpu_unmap_piece(SimgpuState *s, SimgpuPiece *p)
{
    if (p->map) {
        simgpu_dma_unmap(s, p->map, p->map_len, p->is_write,
                         p->is_write ? p->map_len : 0);
    } else if (p->vram && p->is_write) {
        memory_region_set_dirty(p->vram, p->vram_off, p->len);
    }
}

/*
 * Time.  Commands take modelled time on QEMU_CLOCK_VIRTUAL, which stops
 * with the VM: a command started at T0 lands its first N bytes no earlier
 * than T0 + N / engine-bandwidth, and completes (head, fence, interrupt) at
 * T0 + engine-latency + length / engine-bandwidth.  The engine waits on
 * @wake for @pace_timer, so that a reset, a VM stop or a save gets it
 * between two pieces at once, and qtest's clock_step drives it exactly.
 */

/* Main loop, BQL: the engine's modelled time has come. */
static void simgpu_pace_timer_cb(void *opaque)
{
    SimgpuState *s = opaque;

    QEMU_LOCK_GUARD(&s->lock);
    qemu_cond_broadcast(&s->wake);
}

/* Modelled time for @bytes at engine-bandwidth, in ns (0: no limit). */
static int64_t simgpu_transfer_ns(SimgpuState *s, uint64_t bytes)
{
    uint64_t lo, hi;

    if (!s->bandwidth) {
        return 0;
    }
    mulu64(&lo, &hi, bytes, NANOSECONDS_PER_SECOND);
    divu128(&lo, &hi, s->bandwidth);
    return hi || lo > INT64_MAX / 4 ? INT64_MAX / 4 : lo;
}

/*
 * Wait until QEMU_CLOCK_VIRTUAL reaches @deadline (ns).  Returns
 * SIMGPU_ERR_ABORTED on a reset, SIMGPU_ERR_PAUSED if the VM stops or is
 * saved meanwhile (or already was), else SIMGPU_ERR_NONE.  Engine thread,
 * without @lock.
 */
static uint32_t simgpu_engine_wait(SimgpuState *s, int64_t deadline)
{
    if (s->engine_sync) {
        /* Under the BQL: the clock cannot move until we return. */
        return SIMGPU_ERR_NONE;
    }
    QEMU_LOCK_GUARD(&s->lock);
    for (;;) {
        int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

        if (s->abort) {
            return SIMGPU_ERR_ABORTED;
        }
        if (s->quiesce || !s->vm_running) {
            return SIMGPU_ERR_PAUSED;
        }
        if (now >= deadline) {
            return SIMGPU_ERR_NONE;
        }
        timer_mod(s->pace_timer, deadline);
        qemu_cond_wait(&s->wake, &s->lock);
    }
}

/*
 * Between pieces of a COPY or FILL started at @t0: may the piece that
 * brings the command to @done bytes land now?  Waits for its modelled time;
 * without a bandwidth limit only checks for a reset or a pause.
 */
static uint32_t simgpu_engine_pace(SimgpuState *s, int64_t t0, uint64_t done)
{
    if (s->engine_sync) {
        return SIMGPU_ERR_NONE;
    }
    if (!s->bandwidth) {
        if (qatomic_read(&s->abort)) {
            return SIMGPU_ERR_ABORTED;
        }
        if (qatomic_read(&s->quiesce) || !qatomic_read(&s->vm_running)) {
            return SIMGPU_ERR_PAUSED;
        }
        return SIMGPU_ERR_NONE;
    }
    return simgpu_engine_wait(s, t0 + simgpu_transfer_ns(s, done));
}

/*
 * COPY.  Same-space overlapping copies run backward when the destination
 * is above the source, so the result is that of memmove().  On an error or
 * abort, part of the destination may have been written.
 */
static uint32_t simgpu_copy(SimgpuState *s, const SimgpuJob *job,
                            const SimgpuCmd *c, int64_t t0, uint64_t *progress)
{
    bool backward = c->src_space == c->dst_space && c->dst > c->src &&
                    c->dst - c->src < c->len;
    uint64_t done = *progress;
    SimgpuPiece sp, dp;
    uint32_t err;

    while (done < c->len) {
        uint64_t max = MIN(c->len - done, SIMGPU_CHUNK);
        uint64_t n;

        if (backward) {
            uint64_t end = c->len - done;

            err = simgpu_map_piece(s, job, c->src_space, c->src + end, max,
                                   true, false, &sp);
            if (err) {
                return err;
            }
            err = simgpu_map_piece(s, job, c->dst_space, c->dst + end,
                                   sp.len, true, true, &dp);
            if (err) {
                simgpu_unmap_piece(s, &sp);
                return err;
            }
            n = MIN(sp.len, dp.len);
            err = simgpu_engine_pace(s, t0, done + n);
            if (!err) {
                memmove(dp.ptr + dp.len - n, sp.ptr + sp.len - n, n);
            }
        } else {
            err = simgpu_map_piece(s, job, c->src_space, c->src + done, max,
                                   false, false, &sp);
            if (err) {
                return err;
            }
            err = simgpu_map_piece(s, job, c->dst_space, c->dst + done,
                                   sp.len, false, true, &dp);
            if (err) {
                simgpu_unmap_piece(s, &sp);
                return err;
            }
            n = MIN(sp.len, dp.len);
            err = simgpu_engine_pace(s, t0, done + n);
            if (!err) {
                memmove(dp.ptr, sp.ptr, n);
            }
        }
        simgpu_unmap_piece(s, &dp);
        simgpu_unmap_piece(s, &sp);
        if (err) {
            return err;
        }
        done += n;
        *progress = done;
    }
    return SIMGPU_ERR_NONE;
}

/* FILL.  On an error or abort, part of the destination may be filled. */
static uint32_t simgpu_fill(SimgpuState *s, const SimgpuJob *job,
                            const SimgpuCmd *c, int64_t t0, uint64_t *progress)
{
    uint8_t *pattern = s->fill_pattern;
    uint64_t done = *progress;
    SimgpuPiece dp;
    uint32_t err;
    size_t i;

    for (i = 0; i < SIMGPU_GART_PAGE_SIZE + 3; i++) {
        pattern[i] = c->value >> (8 * (i % 4));
    }
    while (done < c->len) {
        uint64_t max = MIN(c->len - done, SIMGPU_CHUNK);
        uint64_t j;

        err = simgpu_map_piece(s, job, c->dst_space, c->dst + done, max,
                               false, true, &dp);
        if (err) {
            return err;
        }
        err = simgpu_engine_pace(s, t0, done + dp.len);
        for (j = 0; !err && j < dp.len; j += SIMGPU_GART_PAGE_SIZE) {
            memcpy(dp.ptr + j, pattern + (done + j) % 4,
                   MIN(SIMGPU_GART_PAGE_SIZE, dp.len - j));
        }
        simgpu_unmap_piece(s, &dp);
        if (err) {
            return err;
        }
        done += dp.len;
        *progress = done;
    }
    return SIMGPU_ERR_NONE;
}

static void simgpu_decode(const uint8_t *raw, SimgpuCmd *c)
{
    c->op = ldl_le_p(raw + SIMGPU_CMD_OFF_OP);
    c->flags = ldl_le_p(raw + SIMGPU_CMD_OFF_FLAGS);
    c->src = ldq_le_p(raw + SIMGPU_CMD_OFF_SRC_ADDR);
    c->dst = ldq_le_p(raw + SIMGPU_CMD_OFF_DST_ADDR);
    c->len = ldq_le_p(raw + SIMGPU_CMD_OFF_LENGTH);
    c->src_space = ldl_le_p(raw + SIMGPU_CMD_OFF_SRC_SPACE);
    c->dst_space = ldl_le_p(raw + SIMGPU_CMD_OFF_DST_SPACE);
    c->value = ldq_le_p(raw + SIMGPU_CMD_OFF_VALUE);
    c->reserved_zero = buffer_is_zero(raw + SIMGPU_CMD_OFF_RESERVED,
                                      SIMGPU_CMD_RESERVED_SIZE);
}

static uint32_t simgpu_exec(SimgpuState *s, const SimgpuJob *job,
                            const SimgpuCmd *c, int64_t t0, uint64_t *progress)
{
    uint64_t le;
    uint32_t err;

    if (c->op > SIMGPU_OP_FENCE) {
        return SIMGPU_ERR_BAD_OPCODE;
    }
    if (c->flags || !c->reserved_zero) {
        return SIMGPU_ERR_BAD_RESERVED;
    }
    switch (c->op) {
    case SIMGPU_OP_COPY:
        err = simgpu_check_range(s, job, c->src_space, c->src, c->len);
        if (!err) {
            err = simgpu_check_range(s, job, c->dst_space, c->dst, c->len);
        }
        return err ? err : simgpu_copy(s, job, c, t0, progress);
    case SIMGPU_OP_FILL:
        if (c->len % 4) {
            return SIMGPU_ERR_BAD_ALIGN;
        }
        err = simgpu_check_range(s, job, c->dst_space, c->dst, c->len);
        return err ? err : simgpu_fill(s, job, c, t0, progress);
    case SIMGPU_OP_FENCE:
        if (c->dst % sizeof(le)) {
            return SIMGPU_ERR_BAD_ALIGN;
        }
        /* Earlier commands' data must be visible before the fence. */
        smp_wmb();
        le = cpu_to_le64(c->value);
        if (!simgpu_dma_rw(s, c->dst, &le, sizeof(le),
                           DMA_DIRECTION_FROM_DEVICE)) {
            return SIMGPU_ERR_DMA_ERROR;
        }
        trace_simgpu_fence(c->dst, c->value);
        return SIMGPU_ERR_NONE;
    default:
        return SIMGPU_ERR_NONE;
    }
}

/*
 * Execute the command at RING_HEAD.  Called and returns with @lock held;
 * drops it while the command runs.
 */
static void simgpu_engine_step(SimgpuState *s)
{
    uint32_t head = s->ring_head;
    uint64_t progress = s->cmd_progress;
    uint8_t raw[SIMGPU_CMD_SIZE];
    uint32_t ring_size, stall_us, err;
    uint64_t ring_addr;
    int64_t t0, done_at;
    bool inject = false;
    SimgpuCmd cmd = { 0 };
    SimgpuJob job;

    err = simgpu_ring_check_locked(s);
    if (err) {
        simgpu_engine_error_locked(s, err, head);
        return;
    }
    if (s->fault_hang) {
        trace_simgpu_engine_hang(head);
        s->hung = true;
        return;
    }
    if (progress) {
        trace_simgpu_cmd_resume(head, progress);
    } else if (s->fault_fail_count) {
        s->fault_fail_count--;
        inject = true;
    } else if (s->fault_rate_ppm &&
               simgpu_prng_next(s) % 1000000 < s->fault_rate_ppm) {
        inject = true;
    }
    ring_addr = s->ring_base + head;
    ring_size = s->ring_size;
    stall_us = progress ? 0 : s->fault_stall_us;
    job.gart_base = s->gart_base;
    job.gart_entries = s->gart_entries;
    /* A resumed command goes on where its modelled time left it. */
    t0 = s->engine_time - simgpu_transfer_ns(s, progress);
    qemu_mutex_unlock(&s->lock);

    err = SIMGPU_ERR_NONE;
    if (stall_us) {
        trace_simgpu_fault_stall(head, stall_us);
        err = simgpu_engine_wait(s, t0 + stall_us * SCALE_US);
        t0 += stall_us * SCALE_US;
    }
    if (!err && !simgpu_dma_rw(s, ring_addr, raw, sizeof(raw),
                               DMA_DIRECTION_TO_DEVICE)) {
        err = SIMGPU_ERR_DMA_ERROR;
    }
    if (!err) {
        simgpu_decode(raw, &cmd);
        if (!progress) {
            trace_simgpu_cmd_start(head, cmd.op, cmd.src_space, cmd.src,
                                   cmd.dst_space, cmd.dst, cmd.len);
        }
        done_at = t0 + s->latency_us * SCALE_US;
        if (cmd.op == SIMGPU_OP_COPY || cmd.op == SIMGPU_OP_FILL) {
            done_at += simgpu_transfer_ns(s, cmd.len);
        }
        if (inject) {
            trace_simgpu_fault_inject(head);
            err = SIMGPU_ERR_INJECTED;
        } else if (cmd.op == SIMGPU_OP_FENCE) {
            /* The fence lands when the command completes. */
            err = simgpu_engine_wait(s, done_at);
            err = err ? err : simgpu_exec(s, &job, &cmd, t0, &progress);
        } else {
            err = simgpu_exec(s, &job, &cmd, t0, &progress);
            err = err ? err : simgpu_engine_wait(s, done_at);
        }
    }

    qemu_mutex_lock(&s->lock);
    if (s->abort) {
        /* A reset dropped the ring under our feet. */
        return;
    }
    if (err == SIMGPU_ERR_PAUSED) {
        /* VM stop or save: resume here (the progress is migrated). */
        trace_simgpu_cmd_pause(head, progress);
        s->cmd_progress = progress;
        return;
    }
    s->cmd_progress = 0;
    if (err) {
        simgpu_engine_error_locked(s, err, head);
        return;
    }
    trace_simgpu_cmd_done(head, cmd.op);
    s->engine_time = done_at;
    s->ring_head = (head + SIMGPU_CMD_SIZE) & (ring_size - 1);
    s->stats[SIMGPU_STAT_COMMANDS]++;
    if (cmd.op == SIMGPU_OP_COPY) {
        s->stats[SIMGPU_STAT_BYTES_COPIED] += cmd.len;
    } else if (cmd.op == SIMGPU_OP_FILL) {
        s->stats[SIMGPU_STAT_BYTES_FILLED] += cmd.len;
    } else if (cmd.op == SIMGPU_OP_FENCE) {
        s->fence_seqno = cmd.value;
        simgpu_raise_locked(s, SIMGPU_INT_FENCE);
    }
}

static bool simgpu_engine_runnable_locked(SimgpuState *s)
{
    return (s->engine_ctrl & SIMGPU_ENGINE_CTRL_ENABLE) && !s->error &&
           !s->hung && s->ring_head != s->ring_tail && s->vm_running &&
           !s->quiesce;
}

/*
 * x-engine-sync: run the queued commands to completion now, in the MMIO
 * write (or other BQL holder) that made the engine runnable, with no
 * modelled time.  Deterministic, for fuzzing and record/replay; a guest
 * can hold the BQL for as long as its commands take.
 */
static void simgpu_engine_run_sync_locked(SimgpuState *s)
{
    while (simgpu_engine_runnable_locked(s)) {
        s->busy = true;
        simgpu_engine_step(s);
    }
    s->busy = false;
}

static void *simgpu_engine_thread(void *opaque)
{
    SimgpuState *s = opaque;

    rcu_register_thread();
    qemu_mutex_lock(&s->lock);
    while (!s->quit) {
        if (!simgpu_engine_runnable_locked(s)) {
            s->busy = false;
            qemu_cond_broadcast(&s->idle);
            qemu_cond_wait(&s->wake, &s->lock);
            continue;
        }
        s->busy = true;
        simgpu_engine_step(s);
    }
    s->busy = false;
    qemu_cond_broadcast(&s->idle);
    qemu_mutex_unlock(&s->lock);
    rcu_unregister_thread();
    return NULL;
}

/*
 * Registers
 */

static uint32_t simgpu_engine_status_locked(SimgpuState *s)
{
    uint32_t st = 0;

    if (s->error) {
        st |= SIMGPU_ENGINE_STATUS_ERROR;
    }
    if (s->hung) {
        st |= SIMGPU_ENGINE_STATUS_HUNG;
    }
    if (!st) {
        st = s->ring_head != s->ring_tail ? SIMGPU_ENGINE_STATUS_BUSY :
                                            SIMGPU_ENGINE_STATUS_IDLE;
    }
    return st;
}

static uint64_t simgpu_region_read(SimgpuState *s, hwaddr addr)
{
    hwaddr base = SIMGPU_REG_REGION_BASE(0);
    hwaddr stride = SIMGPU_REG_REGION_BASE(1) - base;
    unsigned int n = (addr - base) / stride;
    SimgpuRegion *r;

    /* Registers of absent regions read as zero. */
    if (n >= s->num_regions) {
        return 0;
    }
    r = &s->region[n];

    switch ((addr - base) % stride) {
    case SIMGPU_REGION_SIZE_LO:
        return (uint32_t)r->size;
    case SIMGPU_REGION_SIZE_HI:
        return r->size >> 32;
    case SIMGPU_REGION_VISIBLE_LO:
        return (uint32_t)r->visible;
    case SIMGPU_REGION_VISIBLE_HI:
        return r->visible >> 32;
    default:
        return 0;
    }
}

static uint64_t simgpu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    SimgpuState *s = opaque;
    uint64_t val;

    QEMU_LOCK_GUARD(&s->lock);
    if (simgpu_removed_locked(s)) {
        trace_simgpu_mmio_read(addr, UINT32_MAX);
        return UINT32_MAX;
    }
    switch (addr) {
    case SIMGPU_REG_ID:
        val = SIMGPU_ID_MAGIC;
        break;
    case SIMGPU_REG_VERSION:
        val = SIMGPU_VERSION_CURRENT;
        break;
    case SIMGPU_REG_CAPS:
        val = simgpu_caps(s);
        break;
    case SIMGPU_REG_NUM_REGIONS:
        val = s->num_regions;
        break;
    case SIMGPU_REG_SCRATCH:
        val = s->scratch;
        break;
    case SIMGPU_REG_INT_STATUS:
        val = s->int_status;
        break;
    case SIMGPU_REG_INT_MASK:
        val = s->int_mask;
        break;
    case SIMGPU_REG_GART_BASE_LO:
        val = (uint32_t)s->gart_base;
        break;
    case SIMGPU_REG_GART_BASE_HI:
        val = s->gart_base >> 32;
        break;
    case SIMGPU_REG_GART_ENTRIES:
        val = s->gart_entries;
        break;
    case SIMGPU_REG_GART_MAX_ENTRIES:
        val = s->gart_size >> SIMGPU_GART_PAGE_SHIFT;
        break;
    case SIMGPU_REG_RING_BASE_LO:
        val = (uint32_t)s->ring_base;
        break;
    case SIMGPU_REG_RING_BASE_HI:
        val = s->ring_base >> 32;
        break;
    case SIMGPU_REG_RING_SIZE:
        val = s->ring_size;
        break;
    case SIMGPU_REG_RING_HEAD:
        val = s->ring_head;
        break;
    case SIMGPU_REG_RING_TAIL:
        val = s->ring_tail;
        break;
    case SIMGPU_REG_ENGINE_CTRL:
        val = s->engine_ctrl;
        break;
    case SIMGPU_REG_ENGINE_STATUS:
        val = simgpu_engine_status_locked(s);
        break;
    case SIMGPU_REG_ERROR_CODE:
        val = s->error_code;
        break;
    case SIMGPU_REG_ERROR_HEAD:
        val = s->error_head;
        break;
    case SIMGPU_REG_FENCE_SEQNO_LO:
        val = (uint32_t)s->fence_seqno;
        break;
    case SIMGPU_REG_FENCE_SEQNO_HI:
        val = s->fence_seqno >> 32;
        break;
    case SIMGPU_REG_FAULT_FAIL_COUNT:
        val = s->fault_fail_count;
        break;
    case SIMGPU_REG_FAULT_HANG:
        val = s->fault_hang || s->hung;
        break;
    case SIMGPU_REG_FAULT_STALL_US:
        val = s->fault_stall_us;
        break;
    case SIMGPU_REG_FAULT_RATE_PPM:
        val = s->fault_rate_ppm;
        break;
    case SIMGPU_REG_FAULT_REMOVED_MS:
        val = 0;
        break;
    case SIMGPU_REG_REGION_BASE(0) ...
         SIMGPU_REG_REGION_BASE(SIMGPU_MAX_REGIONS) - 1:
        val = simgpu_region_read(s, addr);
        break;
    case SIMGPU_REG_STAT_LO(0) ... SIMGPU_REG_STAT_LO(SIMGPU_NUM_STATS) - 1:
        val = s->stats[(addr - SIMGPU_REG_STAT_LO(0)) / 8];
        if (addr % 8) {
            val >>= 32;
        }
        val = (uint32_t)val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "simgpu: read of unknown register 0x%" HWADDR_PRIx "\n",
                      addr);
        val = 0;
        break;
    }
    trace_simgpu_mmio_read(addr, val);
    return val;
}

/* Doorbell: the driver queued commands up to @tail. */
static void simgpu_ring_tail_write_locked(SimgpuState *s, uint32_t tail)
{
    trace_simgpu_doorbell(tail, s->ring_head);
    if (!simgpu_ring_config_ok_locked(s)) {
        qemu_log_mask(LOG_GUEST_ERROR, "simgpu: doorbell with bad ring: base "
                      "0x%" PRIx64 " size 0x%x\n", s->ring_base, s->ring_size);
        simgpu_engine_error_locked(s, SIMGPU_ERR_RING_CONFIG, s->ring_head);
        return;
    }
    if (!simgpu_ring_offset_ok(s, tail)) {
        qemu_log_mask(LOG_GUEST_ERROR, "simgpu: bad RING_TAIL 0x%x (ring "
                      "size 0x%x)\n", tail, s->ring_size);
        simgpu_engine_error_locked(s, SIMGPU_ERR_RING_TAIL, s->ring_head);
        return;
    }
    s->ring_tail = tail;
    simgpu_engine_wake_locked(s);
}

static void simgpu_engine_ctrl_write_locked(SimgpuState *s, uint32_t val)
{
    if (val & ~(SIMGPU_ENGINE_CTRL_ENABLE | SIMGPU_ENGINE_CTRL_RESET)) {
        qemu_log_mask(LOG_GUEST_ERROR, "simgpu: reserved ENGINE_CTRL bits "
                      "0x%x set\n", val);
    }
    if (val & SIMGPU_ENGINE_CTRL_RESET) {
        simgpu_quiesce_locked(s, true);
        simgpu_engine_reset_locked(s);
        s->stats[SIMGPU_STAT_RESETS]++;
        trace_simgpu_engine_reset(s->stats[SIMGPU_STAT_RESETS]);
        simgpu_unquiesce_locked(s);
    }
    s->engine_ctrl = val & SIMGPU_ENGINE_CTRL_ENABLE;
    simgpu_engine_wake_locked(s);
}

static void simgpu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    SimgpuState *s = opaque;
    uint32_t raised = 0;
    bool update_irq = false;

    trace_simgpu_mmio_write(addr, val);
    qemu_mutex_lock(&s->lock);
    if (simgpu_removed_locked(s)) {
        qemu_mutex_unlock(&s->lock);
        return;
    }
    switch (addr) {
    case SIMGPU_REG_SCRATCH:
        s->scratch = val;
        break;
    case SIMGPU_REG_INT_STATUS:
        s->int_status &= ~val;
        update_irq = true;
        break;
    case SIMGPU_REG_INT_MASK:
        val &= SIMGPU_INT_FENCE | SIMGPU_INT_ERROR;
        /* Unmasking a pending event delivers it. */
        raised = val & ~s->int_mask;
        s->int_mask = val;
        update_irq = true;
        break;
    case SIMGPU_REG_GART_BASE_LO:
        s->gart_base = deposit64(s->gart_base, 0, 32, val);
        break;
    case SIMGPU_REG_GART_BASE_HI:
        s->gart_base = deposit64(s->gart_base, 32, 32, val);
        break;
    case SIMGPU_REG_GART_ENTRIES:
        if (val > s->gart_size >> SIMGPU_GART_PAGE_SHIFT) {
            qemu_log_mask(LOG_GUEST_ERROR, "simgpu: GART_ENTRIES %" PRIu64
                          " above GART_MAX_ENTRIES %" PRIu64 " ignored\n",
                          val, s->gart_size >> SIMGPU_GART_PAGE_SHIFT);
            break;
        }
        s->gart_entries = val;
        break;
    case SIMGPU_REG_RING_BASE_LO:
        s->ring_base = deposit64(s->ring_base, 0, 32, val);
        break;
    case SIMGPU_REG_RING_BASE_HI:
        s->ring_base = deposit64(s->ring_base, 32, 32, val);
        break;
    case SIMGPU_REG_RING_SIZE:
        s->ring_size = val;
        break;
    case SIMGPU_REG_RING_TAIL:
        simgpu_ring_tail_write_locked(s, val);
        break;
    case SIMGPU_REG_ENGINE_CTRL:
        simgpu_engine_ctrl_write_locked(s, val);
        break;
    case SIMGPU_REG_FAULT_FAIL_COUNT:
        trace_simgpu_fault_set("fail-count", val);
        s->fault_fail_count = val;
        break;
    case SIMGPU_REG_FAULT_HANG:
        trace_simgpu_fault_set("hang", val);
        s->fault_hang = val & 1;
        break;
    case SIMGPU_REG_FAULT_STALL_US:
        if (val > SIMGPU_FAULT_STALL_US_MAX) {
            qemu_log_mask(LOG_GUEST_ERROR, "simgpu: FAULT_STALL_US %" PRIu64
                          " above %d ignored\n", val,
                          SIMGPU_FAULT_STALL_US_MAX);
            break;
        }
        trace_simgpu_fault_set("stall-us", val);
        s->fault_stall_us = val;
        break;
    case SIMGPU_REG_FAULT_RATE_PPM:
        if (val > SIMGPU_FAULT_RATE_PPM_MAX) {
            qemu_log_mask(LOG_GUEST_ERROR, "simgpu: FAULT_RATE_PPM %" PRIu64
                          " above %d ignored\n", val,
                          SIMGPU_FAULT_RATE_PPM_MAX);
            break;
        }
        trace_simgpu_fault_set("rate-ppm", val);
        s->fault_rate_ppm = val;
        break;
    case SIMGPU_REG_FAULT_REMOVED_MS:
        if (val > SIMGPU_FAULT_REMOVED_MS_MAX) {
            qemu_log_mask(LOG_GUEST_ERROR, "simgpu: FAULT_REMOVED_MS %" PRIu64
                          " above %u ignored\n", val,
                          SIMGPU_FAULT_REMOVED_MS_MAX);
            break;
        }
        trace_simgpu_fault_set("removed-ms", val);
        s->removed_until = val ? qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                                 val * SCALE_MS : 0;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "simgpu: write 0x%" PRIx64 " to read-only or unknown "
                      "register 0x%" HWADDR_PRIx "\n", val, addr);
        break;
    }
    qemu_mutex_unlock(&s->lock);

    if (update_irq) {
        simgpu_update_irq(s, raised);
    }
}

static const MemoryRegionOps simgpu_mmio_ops = {
    .read = simgpu_mmio_read,
    .write = simgpu_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
        .unaligned = false,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static void simgpu_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                int len)
{
    bool was_msix = msix_enabled(pdev);

    pci_default_write_config(pdev, addr, val, len);
    /*
     * Enabling MSI-X takes over from INTx and back.  Events still pending
     * then are not lost: the level-triggered INTx is simply asserted, and
     * each pending cause sends its MSI-X message as if newly raised.
     */
    if (msix_present(pdev) && was_msix != msix_enabled(pdev)) {
        simgpu_update_irq(SIMGPU(pdev),
                          SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    }
}

static void simgpu_vm_state_change(void *opaque, bool running,
                                   RunState state)
{
    SimgpuState *s = opaque;

    QEMU_LOCK_GUARD(&s->lock);
    qatomic_set(&s->vm_running, running);
    if (running) {
        simgpu_engine_wake_locked(s);
    } else {
        /*
         * Guest RAM must not change while stopped: the command in flight
         * pauses after its current piece (at most SIMGPU_CHUNK bytes).
         */
        qemu_cond_broadcast(&s->wake);
        while (s->busy) {
            qemu_cond_wait(&s->idle, &s->lock);
        }
    }
}

/*
 * Realize, reset, migration
 */

/* Check region @n's properties; on success fill in its geometry. */
static bool simgpu_check_region(SimgpuState *s, unsigned int n, Error **errp)
{
    uint64_t size = s->prop_size[n];
    uint64_t visible = s->prop_visible[n] ? s->prop_visible[n] : size;

    if (size < SIMGPU_VRAM_ALIGN || size > SIMGPU_VRAM_MAX ||
        size % SIMGPU_VRAM_ALIGN) {
        error_setg(errp, "vram%u-size must be a multiple of 1 MiB between "
                   "1 MiB and %" PRIu64 " GiB (got %" PRIu64 ")",
                   n, SIMGPU_VRAM_MAX / GiB, size);
        return false;
    }
    if (visible > size) {
        error_setg(errp, "vram%u-visible-size (%" PRIu64 ") exceeds "
                   "vram%u-size (%" PRIu64 ")", n, visible, n, size);
        return false;
    }
    /* The window is a BAR, and BAR sizes are powers of two. */
    if (visible < SIMGPU_VRAM_ALIGN || !is_power_of_2(visible)) {
        error_setg(errp, "vram%u-visible-size must be a power of two of at "
                   "least 1 MiB (got %" PRIu64 "); a region whose size is "
                   "not a power of two needs an explicit visible size",
                   n, visible);
        return false;
    }
    s->region[n].size = size;
    s->region[n].visible = visible;
    return true;
}

static bool simgpu_check_engine(SimgpuState *s, Error **errp)
{
    if (s->gart_size < SIMGPU_GART_PAGE_SIZE ||
        s->gart_size > SIMGPU_GART_MAX ||
        s->gart_size % SIMGPU_GART_PAGE_SIZE) {
        error_setg(errp, "gart-size must be a multiple of 4 KiB between "
                   "4 KiB and %" PRIu64 " GiB (got %" PRIu64 ")",
                   SIMGPU_GART_MAX / GiB, s->gart_size);
        return false;
    }
    if (s->bandwidth && s->bandwidth < SIMGPU_BANDWIDTH_MIN) {
        error_setg(errp, "engine-bandwidth must be 0 (unlimited) or at least "
                   "%" PRIu64 " bytes/s (got %" PRIu64 ")",
                   (uint64_t)SIMGPU_BANDWIDTH_MIN, s->bandwidth);
        return false;
    }
    if (s->latency_us > SIMGPU_LATENCY_MAX_US) {
        error_setg(errp, "engine-latency-us must be at most %d (got %u)",
                   SIMGPU_LATENCY_MAX_US, s->latency_us);
        return false;
    }
    return true;
}

static void simgpu_realize(PCIDevice *pdev, Error **errp)
{
    SimgpuState *s = SIMGPU(pdev);
    Object *obj = OBJECT(pdev);
    Error *err = NULL;
    unsigned int i;
    int ret;

    if (s->num_regions < 1 || s->num_regions > SIMGPU_MAX_REGIONS) {
        error_setg(errp, "regions must be 1 or %d (got %u)",
                   SIMGPU_MAX_REGIONS, s->num_regions);
        return;
    }
    /* A property that would be ignored is an error, not a surprise. */
    if (s->num_regions < 2 && (s->prop_size[1] || s->prop_visible[1])) {
        error_setg(errp, "vram1-size and vram1-visible-size need regions=2");
        return;
    }
    if (s->num_regions == 2 && !s->prop_size[1]) {
        s->prop_size[1] = SIMGPU_VRAM_DEFAULT;
    }
    for (i = 0; i < s->num_regions; i++) {
        if (!simgpu_check_region(s, i, errp)) {
            return;
        }
    }
    if (!simgpu_check_engine(s, errp)) {
        return;
    }

    pci_config_set_interrupt_pin(pdev->config, 1);
    memory_region_init(&s->bar0, obj, "simgpu-bar0", SIMGPU_REG_BAR_SIZE);
    memory_region_init_io(&s->mmio, obj, &simgpu_mmio_ops, s,
                          "simgpu-regs", SIMGPU_REGS_SIZE);
    memory_region_add_subregion(&s->bar0, 0, &s->mmio);
    pci_register_bar(pdev, SIMGPU_REG_BAR, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->bar0);

    for (i = 0; i < s->num_regions; i++) {
        SimgpuRegion *r = &s->region[i];
        g_autofree char *name = g_strdup_printf("simgpu-vram%u", i);
        g_autofree char *bar_name = g_strdup_printf("simgpu-vram%u-bar", i);

        /*
         * Anonymous host memory: pages are committed on first touch, so a
         * large fake VRAM costs nothing until used.
         */
        if (!memory_region_init_ram(&r->vram, obj, name, r->size, errp)) {
            return;
        }
        r->ptr = memory_region_get_ram_ptr(&r->vram);
        memory_region_init(&r->bar, obj, bar_name, r->visible);
        memory_region_init_alias(&r->window, obj, "simgpu-vram-window",
                                 &r->vram, 0, r->visible);
        memory_region_add_subregion(&r->bar, 0, &r->window);
        pci_register_bar(pdev, SIMGPU_VRAM_BAR(i),
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64 |
                         PCI_BASE_ADDRESS_MEM_PREFETCH, &r->bar);
        trace_simgpu_region(i, r->size, r->visible);
    }

    /* MSI-X where the platform has MSI, INTx only otherwise. */
    ret = msix_init(pdev, SIMGPU_MSIX_VECTORS,
                    &s->bar0, SIMGPU_REG_BAR, SIMGPU_MSIX_TABLE_OFFSET,
                    &s->bar0, SIMGPU_REG_BAR, SIMGPU_MSIX_PBA_OFFSET,
                    0, &err);
    if (ret == -ENOTSUP) {
        error_free(err);
    } else if (ret) {
        error_propagate(errp, err);
        return;
    } else {
        for (i = 0; i < SIMGPU_MSIX_VECTORS; i++) {
            msix_vector_use(pdev, i);
        }
    }

    s->irq_bh = qemu_bh_new_guarded(simgpu_irq_bh, s,
                                    &DEVICE(pdev)->mem_reentrancy_guard);
    s->pace_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, simgpu_pace_timer_cb, s);
    s->vm_running = runstate_is_running();
    /* Ordered by the device tree, as other devices' handlers are. */
    s->vmstate_change = qdev_add_vm_change_state_handler(
        DEVICE(pdev), simgpu_vm_state_change, s);
    s->prng = s->fault_seed;
    if (!s->engine_sync) {
        qemu_thread_create(&s->thread, "simgpu-engine", simgpu_engine_thread,
                           s, QEMU_THREAD_JOINABLE);
    }
}

static void simgpu_exit(PCIDevice *pdev)
{
    SimgpuState *s = SIMGPU(pdev);

    WITH_QEMU_LOCK_GUARD(&s->lock) {
        s->quit = true;
        qatomic_set(&s->abort, true);
        qemu_cond_broadcast(&s->wake);
    }
    if (!s->engine_sync) {
        qemu_thread_join(&s->thread);
    }
    qemu_del_vm_change_state_handler(s->vmstate_change);
    qemu_bh_delete(s->irq_bh);
    timer_free(s->pace_timer);
    if (msix_present(pdev)) {
        msix_unuse_all_vectors(pdev);
        msix_uninit(pdev, &s->bar0, &s->bar0);
    }
}

static void simgpu_instance_init(Object *obj)
{
    SimgpuState *s = SIMGPU(obj);

    qemu_mutex_init(&s->lock);
    qemu_cond_init(&s->wake);
    qemu_cond_init(&s->idle);
}

static void simgpu_instance_finalize(Object *obj)
{
    SimgpuState *s = SIMGPU(obj);

    qemu_cond_destroy(&s->idle);
    qemu_cond_destroy(&s->wake);
    qemu_mutex_destroy(&s->lock);
}

static void simgpu_reset_hold(Object *obj, ResetType type)
{
    SimgpuState *s = SIMGPU(obj);

    trace_simgpu_device_reset();
    QEMU_LOCK_GUARD(&s->lock);
    simgpu_quiesce_locked(s, true);
    simgpu_engine_reset_locked(s);
    s->scratch = 0;
    s->int_status = 0;
    s->int_mask = 0;
    s->irq_raised = 0;
    s->gart_base = 0;
    s->gart_entries = 0;
    s->ring_base = 0;
    s->ring_size = 0;
    s->engine_ctrl = 0;
    s->fence_seqno = 0;
    s->removed_until = 0;
    memset(s->stats, 0, sizeof(s->stats));
    simgpu_unquiesce_locked(s);
}

static int simgpu_pre_save(void *opaque)
{
    SimgpuState *s = opaque;

    QEMU_LOCK_GUARD(&s->lock);
    simgpu_quiesce_locked(s, false);
    return 0;
}

static int simgpu_post_save(void *opaque)
{
    SimgpuState *s = opaque;

    QEMU_LOCK_GUARD(&s->lock);
    simgpu_unquiesce_locked(s);
    return 0;
}

static int simgpu_post_load(void *opaque, int version_id)
{
    SimgpuState *s = opaque;

    QEMU_LOCK_GUARD(&s->lock);
    /* The ring registers are checked on use; these are trusted. */
    if (s->gart_entries > s->gart_size >> SIMGPU_GART_PAGE_SHIFT) {
        return -EINVAL;
    }
    s->int_status &= SIMGPU_INT_FENCE | SIMGPU_INT_ERROR;
    s->int_mask &= SIMGPU_INT_FENCE | SIMGPU_INT_ERROR;
    if (s->irq_raised) {
        qemu_bh_schedule(s->irq_bh);
    }
    simgpu_engine_wake_locked(s);
    return 0;
}

static bool simgpu_msix_needed(void *opaque, int version_id)
{
    return msix_present(PCI_DEVICE(opaque));
}

static bool simgpu_removed_needed(void *opaque)
{
    SimgpuState *s = opaque;

    return s->removed_until != 0;
}

/* The virtual clock migrates with the VM: the deadline stays valid. */
static const VMStateDescription vmstate_simgpu_removed = {
    .name = TYPE_SIMGPU "/removed",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = simgpu_removed_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(removed_until, SimgpuState),
        VMSTATE_END_OF_LIST()
    },
};

static bool simgpu_progress_needed(void *opaque)
{
    SimgpuState *s = opaque;

    return s->cmd_progress != 0;
}

/* A COPY or FILL paused part-way by the save resumes on the destination. */
static const VMStateDescription vmstate_simgpu_progress = {
    .name = TYPE_SIMGPU "/cmd-progress",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = simgpu_progress_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(cmd_progress, SimgpuState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_simgpu = {
    .name = TYPE_SIMGPU,
    .version_id = 2,
    .minimum_version_id = 2,
    .pre_save = simgpu_pre_save,
    .post_save = simgpu_post_save,
    .post_load = simgpu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, SimgpuState),
        VMSTATE_MSIX_TEST(parent_obj, SimgpuState, simgpu_msix_needed),
        VMSTATE_UINT32(scratch, SimgpuState),
        VMSTATE_UINT32(int_status, SimgpuState),
        VMSTATE_UINT32(int_mask, SimgpuState),
        VMSTATE_UINT32(irq_raised, SimgpuState),
        VMSTATE_UINT64(gart_base, SimgpuState),
        VMSTATE_UINT32(gart_entries, SimgpuState),
        VMSTATE_UINT64(ring_base, SimgpuState),
        VMSTATE_UINT32(ring_size, SimgpuState),
        VMSTATE_UINT32(ring_head, SimgpuState),
        VMSTATE_UINT32(ring_tail, SimgpuState),
        VMSTATE_UINT32(engine_ctrl, SimgpuState),
        VMSTATE_BOOL(error, SimgpuState),
        VMSTATE_BOOL(hung, SimgpuState),
        VMSTATE_UINT32(error_code, SimgpuState),
        VMSTATE_UINT32(error_head, SimgpuState),
        VMSTATE_UINT64(fence_seqno, SimgpuState),
        VMSTATE_UINT32(fault_fail_count, SimgpuState),
        VMSTATE_UINT32(fault_hang, SimgpuState),
        VMSTATE_UINT32(fault_stall_us, SimgpuState),
        VMSTATE_UINT32(fault_rate_ppm, SimgpuState),
        VMSTATE_UINT64(prng, SimgpuState),
        VMSTATE_UINT64_ARRAY(stats, SimgpuState, SIMGPU_NUM_STATS),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_simgpu_removed,
        &vmstate_simgpu_progress,
        NULL
    },
};

static const Property simgpu_properties[] = {
    DEFINE_PROP_UINT32("regions", SimgpuState, num_regions, 1),
    DEFINE_PROP_SIZE("vram0-size", SimgpuState, prop_size[0],
                     SIMGPU_VRAM_DEFAULT),
    DEFINE_PROP_SIZE("vram0-visible-size", SimgpuState, prop_visible[0], 0),
    /* 0: not set; SIMGPU_VRAM_DEFAULT with regions=2 */
    DEFINE_PROP_SIZE("vram1-size", SimgpuState, prop_size[1], 0),
    DEFINE_PROP_SIZE("vram1-visible-size", SimgpuState, prop_visible[1], 0),
    DEFINE_PROP_SIZE("gart-size", SimgpuState, gart_size, 256 * MiB),
    DEFINE_PROP_SIZE("engine-bandwidth", SimgpuState, bandwidth, 0),
    DEFINE_PROP_UINT32("engine-latency-us", SimgpuState, latency_us, 0),
    DEFINE_PROP_UINT64("fault-seed", SimgpuState, fault_seed, 0),
    DEFINE_PROP_BOOL("x-engine-sync", SimgpuState, engine_sync, false),
};

static void simgpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = simgpu_realize;
    k->exit = simgpu_exit;
    k->config_write = simgpu_write_config;
    k->vendor_id = SIMGPU_PCI_VENDOR_ID;
    k->device_id = SIMGPU_PCI_DEVICE_ID;
    k->revision = SIMGPU_PCI_REVISION;
    k->class_id = PCI_CLASS_DISPLAY_OTHER;
    rc->phases.hold = simgpu_reset_hold;
    dc->desc = "simulated discrete GPU with VRAM (for memory-management tests)";
    dc->vmsd = &vmstate_simgpu;
    device_class_set_props(dc, simgpu_properties);
    object_class_property_set_description(klass, "regions",
        "number of VRAM regions, each with its own BAR (1 or 2)");
    object_class_property_set_description(klass, "vram0-size",
        "size of VRAM region 0 (multiple of 1 MiB, at most 64 GiB)");
    object_class_property_set_description(klass, "vram0-visible-size",
        "CPU-visible part of VRAM region 0, the size of its BAR (power of "
        "two; default: the whole region)");
    object_class_property_set_description(klass, "vram1-size",
        "size of VRAM region 1 (multiple of 1 MiB, at most 64 GiB; "
        "default 256 MiB; only with regions=2)");
    object_class_property_set_description(klass, "vram1-visible-size",
        "CPU-visible part of VRAM region 1, the size of its BAR (power of "
        "two; default: the whole region)");
    object_class_property_set_description(klass, "gart-size",
        "size of the GART aperture (multiple of 4 KiB, at most 16 GiB)");
    object_class_property_set_description(klass, "engine-bandwidth",
        "modelled engine bandwidth in bytes/s, e.g. 2G (0: as fast as the "
        "host)");
    object_class_property_set_description(klass, "engine-latency-us",
        "modelled engine latency per command in microseconds (at most 1 s)");
    object_class_property_set_description(klass, "fault-seed",
        "seed of the PRNG behind the FAULT_RATE_PPM register");
    object_class_property_set_description(klass, "x-engine-sync",
        "run commands at the doorbell, under the BQL, without modelled "
        "time (deterministic: fuzzing, record/replay)");
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
}

static const TypeInfo simgpu_info = {
    .name = TYPE_SIMGPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SimgpuState),
    .instance_init = simgpu_instance_init,
    .instance_finalize = simgpu_instance_finalize,
    .class_init = simgpu_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void simgpu_register_types(void)
{
    type_register_static(&simgpu_info);
}

type_init(simgpu_register_types)
