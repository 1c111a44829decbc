/*
 * simgpu: the copy/fill engine
 *
 * The engine runs the commands of a ring in guest memory: COPY and FILL
 * between VRAM and system memory (through the GART), FENCE and NOP.  It
 * runs in its own thread (or, with x-engine-sync, at the doorbell), takes
 * modelled time on QEMU_CLOCK_VIRTUAL, and stops between pieces of a
 * command for a reset, a VM stop or a save.  Locking: see SimgpuState.
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/lockable.h"
#include "qemu/host-utils.h"
#include "qemu/cutils.h"
#include "qemu/rcu.h"
#include "qemu/atomic.h"
#include "qemu/timer.h"
#include "system/dma.h"
#include "exec/memory.h"
#include "simgpu_int.h"
#include "trace.h"

static void simgpu_engine_run_sync_locked(SimgpuState *s);

static const char *const simgpu_err_names[] = SIMGPU_ERR_NAMES;

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

/* splitmix64: a small PRNG whose sequence depends only on the seed. */
static uint64_t simgpu_prng_next(SimgpuState *s)
{
    uint64_t z = (s->prng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * Engine state changes, all with @lock held
 */

void simgpu_engine_error_locked(SimgpuState *s, uint32_t code,
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

bool simgpu_ring_offset_ok(SimgpuState *s, uint32_t off)
{
    return off < s->ring_size && !(off % SIMGPU_CMD_SIZE);
}

/* Are RING_BASE and RING_SIZE usable? */
bool simgpu_ring_config_ok_locked(SimgpuState *s)
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
void simgpu_quiesce_locked(SimgpuState *s, bool abort)
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
void simgpu_engine_wake_locked(SimgpuState *s)
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

void simgpu_unquiesce_locked(SimgpuState *s)
{
    qatomic_set(&s->abort, false);
    qatomic_set(&s->quiesce, false);
    simgpu_engine_wake_locked(s);
}

/* ENGINE_CTRL.RESET, with the engine quiesced. */
void simgpu_engine_reset_locked(SimgpuState *s)
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
void simgpu_pace_timer_cb(void *opaque)
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
        /* Backward, a piece ends where the part still to copy ends. */
        uint64_t at = backward ? c->len - done : done;
        uint64_t n;

        err = simgpu_map_piece(s, job, c->src_space, c->src + at, max,
                               backward, false, &sp);
        if (err) {
            return err;
        }
        err = simgpu_map_piece(s, job, c->dst_space, c->dst + at, sp.len,
                               backward, true, &dp);
        if (err) {
            simgpu_unmap_piece(s, &sp);
            return err;
        }
        n = MIN(sp.len, dp.len);
        err = simgpu_engine_pace(s, t0, done + n);
        if (!err && backward) {
            memmove(dp.ptr + dp.len - n, sp.ptr + sp.len - n, n);
        } else if (!err) {
            memmove(dp.ptr, sp.ptr, n);
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
    uint64_t prng = s->prng;
    bool inject = false, counted = false;
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
        inject = counted = true;
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
        if (!progress) {
            /* Nothing of it ran: it starts over, with the same faults. */
            s->fault_fail_count += counted;
            s->prng = prng;
        }
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
 * Start the engine thread, allowed to run.  BQL.  Also after a failed
 * load, which left it stopped.
 */
void simgpu_engine_start(SimgpuState *s)
{
    if (s->engine_sync || s->thread_running) {
        return;
    }
    WITH_QEMU_LOCK_GUARD(&s->lock) {
        s->quit = false;
        simgpu_unquiesce_locked(s);
    }
    qemu_thread_create(&s->thread, "simgpu-engine", simgpu_engine_thread, s,
                       QEMU_THREAD_JOINABLE);
    s->thread_running = true;
}

/*
 * Stop the engine thread; with @abort, abandon the command in flight,
 * else let it pause after its current piece.  BQL.  Loading the device
 * state (migration, loadvm) writes the fields that the thread reads under
 * @lock without taking it: the thread is stopped meanwhile.
 */
void simgpu_engine_stop(SimgpuState *s, bool abort)
{
    if (s->engine_sync || !s->thread_running) {
        return;
    }
    WITH_QEMU_LOCK_GUARD(&s->lock) {
        simgpu_quiesce_locked(s, abort);
        s->quit = true;
        qemu_cond_broadcast(&s->wake);
    }
    qemu_thread_join(&s->thread);
    s->thread_running = false;
}
