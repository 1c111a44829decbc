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
 * This file is the PCI device: registers, interrupts, realize, reset and
 * migration; simgpu-engine.c is the engine, simgpu_int.h their shared
 * state.  The engine runs in its own thread so that a large copy never
 * blocks a vCPU.  It touches guest memory only through the PCI device's
 * DMA address space, and only where that is RAM (no peer-to-peer to
 * MMIO), so it never needs the BQL; this is what lets the BQL holders
 * (MMIO handlers, reset, migration) wait for it to go idle.
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
#include "simgpu_int.h"
#include "trace.h"

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
void simgpu_raise_locked(SimgpuState *s, uint32_t events)
{
    trace_simgpu_irq_raise(events, s->int_mask);
    s->int_status |= events;
    s->irq_raised |= events;
    qemu_bh_schedule(s->irq_bh);
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

    if (running) {
        /* A failed load of the device state left the engine stopped. */
        simgpu_engine_start(s);
    }
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
    simgpu_engine_start(s);
}

static void simgpu_exit(PCIDevice *pdev)
{
    SimgpuState *s = SIMGPU(pdev);

    simgpu_engine_stop(s, true);
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

/* The load writes what the engine thread reads: no thread meanwhile. */
static int simgpu_pre_load(void *opaque)
{
    simgpu_engine_stop(opaque, false);
    return 0;
}

static int simgpu_post_load(void *opaque, int version_id)
{
    SimgpuState *s = opaque;

    /* The ring registers are checked on use; these are trusted. */
    if (s->gart_entries > s->gart_size >> SIMGPU_GART_PAGE_SHIFT) {
        return -EINVAL;
    }
    s->int_status &= SIMGPU_INT_FENCE | SIMGPU_INT_ERROR;
    s->int_mask &= SIMGPU_INT_FENCE | SIMGPU_INT_ERROR;
    if (s->irq_raised) {
        qemu_bh_schedule(s->irq_bh);
    }
    simgpu_engine_start(s);
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
    .pre_load = simgpu_pre_load,
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
