/*
 * QTest testcase for the simgpu device
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "qobject/qdict.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "hw/display/simgpu_hw.h"

#define SIMGPU_DEVFN QPCI_DEVFN(4, 0)

/*
 * Long enough for a CPU that other work keeps busy (simgpu's run-tests.sh
 * runs this test at idle CPU priority beside its heaviest VMs), shorter
 * than the test's time limit, so that a hang fails with its place.
 */
#define TIMEOUT_US (120 * G_USEC_PER_SEC)
/*
 * The engine models time on QEMU_CLOCK_VIRTUAL, which under qtest moves
 * only when the test steps it: each poll of a wait loop moves it this far.
 */
#define POLL_STEP_NS (100 * 1000)

/* Device options of the engine tests: two regions, all CPU visible. */
#define ENGINE_PROPS "regions=2,vram0-size=16M,vram1-size=8M,gart-size=1M"

#define GART_PAGE SIMGPU_GART_PAGE_SIZE
#define GART_TEST_PAGES 64

typedef struct SimgpuTest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar regs;
    QGuestAllocator alloc;
    QPCIBar vram[SIMGPU_MAX_REGIONS];
    unsigned int num_regions;

    /* Driver side of the engine ring */
    uint64_t ring;
    uint32_t ring_size;
    uint32_t tail;
    uint64_t fence_addr;
    uint64_t seqno;

    /* GART: the table and the system page behind each entry */
    uint64_t gart;
    uint64_t gart_page[GART_TEST_PAGES];
} SimgpuTest;

static void simgpu_test_start(SimgpuTest *t, const char *props)
{
    unsigned int i;

    memset(t, 0, sizeof(*t));
    t->qts = qtest_initf("-machine q35 -device simgpu,addr=04.0%s%s",
                         props ? "," : "", props ? props : "");
    pc_alloc_init(&t->alloc, t->qts, ALLOC_NO_FLAGS);
    t->bus = qpci_new_pc(t->qts, &t->alloc);
    t->dev = qpci_device_find(t->bus, SIMGPU_DEVFN);
    g_assert(t->dev);
    qpci_device_enable(t->dev);
    t->regs = qpci_iomap(t->dev, SIMGPU_REG_BAR, NULL);
    t->num_regions = qpci_io_readl(t->dev, t->regs, SIMGPU_REG_NUM_REGIONS);
    for (i = 0; i < t->num_regions; i++) {
        t->vram[i] = qpci_iomap(t->dev, SIMGPU_VRAM_BAR(i), NULL);
    }
}

static void simgpu_test_stop(SimgpuTest *t)
{
    g_free(t->dev);
    qpci_free_pc(t->bus);
    alloc_destroy(&t->alloc);
    qtest_quit(t->qts);
}

static uint32_t reg_read(SimgpuTest *t, uint64_t reg)
{
    return qpci_io_readl(t->dev, t->regs, reg);
}

static void reg_write(SimgpuTest *t, uint64_t reg, uint32_t val)
{
    qpci_io_writel(t->dev, t->regs, reg, val);
}

static uint64_t reg_read64(SimgpuTest *t, uint64_t lo)
{
    return reg_read(t, lo) | (uint64_t)reg_read(t, lo + 4) << 32;
}

static void reg_write64(SimgpuTest *t, uint64_t lo, uint64_t val)
{
    reg_write(t, lo, val);
    reg_write(t, lo + 4, val >> 32);
}

static uint64_t region_read64(SimgpuTest *t, unsigned int n, uint64_t lo)
{
    return reg_read64(t, SIMGPU_REG_REGION_BASE(n) + lo);
}

static uint64_t stat_read(SimgpuTest *t, unsigned int n)
{
    return reg_read64(t, SIMGPU_REG_STAT_LO(n));
}

/* Poorly compressible bytes that depend on @seed. */
static void pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = 0x9e3779b9u * (seed + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = x >> 24;
    }
}

static void assert_bytes(const uint8_t *got, const uint8_t *want, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (got[i] != want[i]) {
            g_test_message("byte %zu of %zu: got 0x%02x, want 0x%02x",
                           i, len, got[i], want[i]);
            g_assert_not_reached();
        }
    }
}

/*
 * Memory of each address space, as the CPU sees it: VRAM through the BAR
 * window, GART offsets through the system pages behind the table.
 */
static void space_rw(SimgpuTest *t, uint32_t space, uint64_t off, void *buf,
                     size_t len, bool write)
{
    uint8_t *p = buf;

    if (space != SIMGPU_SPACE_GART) {
        uint64_t addr = t->vram[space].addr + off;

        if (write) {
            qtest_bufwrite(t->qts, addr, buf, len);
        } else {
            qtest_bufread(t->qts, addr, buf, len);
        }
        return;
    }
    while (len) {
        uint64_t idx = off / GART_PAGE, in_page = off % GART_PAGE;
        size_t l = MIN(len, GART_PAGE - in_page);

        g_assert_cmpuint(idx, <, GART_TEST_PAGES);
        if (write) {
            qtest_bufwrite(t->qts, t->gart_page[idx] + in_page, p, l);
        } else {
            qtest_bufread(t->qts, t->gart_page[idx] + in_page, p, l);
        }
        p += l;
        off += l;
        len -= l;
    }
}

static void space_write(SimgpuTest *t, uint32_t space, uint64_t off,
                        const void *buf, size_t len)
{
    space_rw(t, space, off, (void *)buf, len, true);
}

static void space_read(SimgpuTest *t, uint32_t space, uint64_t off,
                       void *buf, size_t len)
{
    space_rw(t, space, off, buf, len, false);
}

/*
 * GART: GART_TEST_PAGES entries.  Pages 0-15 are physically contiguous
 * (the engine may coalesce them), the others scattered in reverse order.
 */
static void gart_setup(SimgpuTest *t)
{
    uint64_t block = guest_alloc(&t->alloc, 16 * GART_PAGE);
    unsigned int i;

    t->gart = guest_alloc(&t->alloc, GART_TEST_PAGES * 8);
    for (i = 0; i < 16; i++) {
        t->gart_page[i] = block + i * GART_PAGE;
    }
    for (i = GART_TEST_PAGES - 1; i >= 16; i--) {
        t->gart_page[i] = guest_alloc(&t->alloc, GART_PAGE);
    }
    for (i = 0; i < GART_TEST_PAGES; i++) {
        qtest_writeq(t->qts, t->gart + 8 * i,
                     t->gart_page[i] | SIMGPU_GART_ENTRY_VALID);
    }
    reg_write64(t, SIMGPU_REG_GART_BASE_LO, t->gart);
    reg_write(t, SIMGPU_REG_GART_ENTRIES, GART_TEST_PAGES);
}

static void engine_setup(SimgpuTest *t, uint32_t ring_size)
{
    t->ring_size = ring_size;
    t->ring = guest_alloc(&t->alloc, ring_size);
    g_assert_cmpuint(t->ring % SIMGPU_RING_ALIGN, ==, 0);
    qtest_memset(t->qts, t->ring, 0xff, ring_size);
    t->fence_addr = guest_alloc(&t->alloc, 4096);
    qtest_writeq(t->qts, t->fence_addr, 0);
    t->tail = 0;
    t->seqno = 0;
    reg_write64(t, SIMGPU_REG_RING_BASE_LO, t->ring);
    reg_write(t, SIMGPU_REG_RING_SIZE, ring_size);
    reg_write(t, SIMGPU_REG_ENGINE_CTRL, SIMGPU_ENGINE_CTRL_ENABLE);
}

static void ring_kick(SimgpuTest *t)
{
    reg_write(t, SIMGPU_REG_RING_TAIL, t->tail);
}

/* One poll of a wait loop: let QEMU's threads run, let modelled time pass. */
static void poll_step(SimgpuTest *t)
{
    g_usleep(50);
    qtest_clock_step(t->qts, POLL_STEP_NS);
}

/*
 * QEMU_CLOCK_VIRTUAL now, in ns.  qtest reads it only by moving it, so
 * this moves it by 1 ns.
 */
static int64_t clock_now(SimgpuTest *t)
{
    return qtest_clock_step(t->qts, 1);
}

/* Move QEMU_CLOCK_VIRTUAL to @when (ns), running the timers due. */
static void clock_step_to(SimgpuTest *t, int64_t when)
{
    int64_t now = clock_now(t);

    g_assert_cmpint(when, >=, now);
    if (when > now) {
        qtest_clock_step(t->qts, when - now);
    }
}

/* Whether the @len bytes at @off of @space are @want. */
static bool space_equals(SimgpuTest *t, uint32_t space, uint64_t off,
                         const uint8_t *want, size_t len)
{
    g_autofree uint8_t *got = g_malloc(len);

    space_read(t, space, off, got, len);
    return !memcmp(got, want, len);
}

/* Wait, without moving the clock, until @off of @space holds @want. */
static void wait_space(SimgpuTest *t, uint32_t space, uint64_t off,
                       const uint8_t *want, size_t len)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (!space_equals(t, space, off, want, len)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(100);
    }
}

/*
 * Queue a raw command.  The slots from RING_HEAD to the tail belong to the
 * engine: when the ring is full, submit what is queued and wait for room,
 * so the tail never catches up with the head.
 */
static void ring_emit_raw(SimgpuTest *t, const uint8_t *cmd)
{
    uint32_t next = (t->tail + SIMGPU_CMD_SIZE) & (t->ring_size - 1);
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;

    if (next == reg_read(t, SIMGPU_REG_RING_HEAD)) {
        ring_kick(t);
        while (next == reg_read(t, SIMGPU_REG_RING_HEAD)) {
            g_assert_cmphex(reg_read(t, SIMGPU_REG_ENGINE_STATUS) &
                            (SIMGPU_ENGINE_STATUS_ERROR |
                             SIMGPU_ENGINE_STATUS_HUNG), ==, 0);
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            poll_step(t);
        }
    }
    qtest_memwrite(t->qts, t->ring + t->tail, cmd, SIMGPU_CMD_SIZE);
    t->tail = next;
}

static void cmd_build(uint8_t *cmd, uint32_t op, uint32_t src_space,
                      uint64_t src, uint32_t dst_space, uint64_t dst,
                      uint64_t len, uint64_t value)
{
    memset(cmd, 0, SIMGPU_CMD_SIZE);
    stl_le_p(cmd + SIMGPU_CMD_OFF_OP, op);
    stq_le_p(cmd + SIMGPU_CMD_OFF_SRC_ADDR, src);
    stq_le_p(cmd + SIMGPU_CMD_OFF_DST_ADDR, dst);
    stq_le_p(cmd + SIMGPU_CMD_OFF_LENGTH, len);
    stl_le_p(cmd + SIMGPU_CMD_OFF_SRC_SPACE, src_space);
    stl_le_p(cmd + SIMGPU_CMD_OFF_DST_SPACE, dst_space);
    stq_le_p(cmd + SIMGPU_CMD_OFF_VALUE, value);
}

static void emit_copy(SimgpuTest *t, uint32_t src_space, uint64_t src,
                      uint32_t dst_space, uint64_t dst, uint64_t len)
{
    uint8_t cmd[SIMGPU_CMD_SIZE];

    cmd_build(cmd, SIMGPU_OP_COPY, src_space, src, dst_space, dst, len, 0);
    ring_emit_raw(t, cmd);
}

static void emit_fill(SimgpuTest *t, uint32_t dst_space, uint64_t dst,
                      uint64_t len, uint32_t value)
{
    uint8_t cmd[SIMGPU_CMD_SIZE];

    cmd_build(cmd, SIMGPU_OP_FILL, 0, 0, dst_space, dst, len, value);
    ring_emit_raw(t, cmd);
}

static void emit_fence(SimgpuTest *t, uint64_t addr, uint64_t seqno)
{
    uint8_t cmd[SIMGPU_CMD_SIZE];

    cmd_build(cmd, SIMGPU_OP_FENCE, 0, 0, 0, addr, 0, seqno);
    ring_emit_raw(t, cmd);
}

static void emit_nop(SimgpuTest *t)
{
    uint8_t cmd[SIMGPU_CMD_SIZE];

    cmd_build(cmd, SIMGPU_OP_NOP, 0, 0, 0, 0, 0, 0);
    ring_emit_raw(t, cmd);
}

/* Wait until (register & mask) == want; return the register. */
static uint32_t wait_reg(SimgpuTest *t, uint64_t reg, uint32_t mask,
                         uint32_t want)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint32_t val;

    while (((val = reg_read(t, reg)) & mask) != want) {
        if (g_get_monotonic_time() > deadline) {
            g_test_message("register 0x%" PRIx64 " is 0x%x, waited for "
                           "0x%x under mask 0x%x (status 0x%x, error %u)",
                           reg, val, want, mask,
                           reg_read(t, SIMGPU_REG_ENGINE_STATUS),
                           reg_read(t, SIMGPU_REG_ERROR_CODE));
            g_assert_not_reached();
        }
        poll_step(t);
    }
    return val;
}

/* Wait for the INTx line (seen in the PCI status register) to be @level. */
static void wait_intx(SimgpuTest *t, bool level)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint16_t want = level ? PCI_STATUS_INTERRUPT : 0;

    while ((qpci_config_readw(t->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT) !=
           want) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        poll_step(t);
    }
}

/* Wait until the engine is idle or stopped on an error; return status. */
static uint32_t wait_idle_or_error(SimgpuTest *t)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;
    uint32_t st;

    while (!((st = reg_read(t, SIMGPU_REG_ENGINE_STATUS)) &
             (SIMGPU_ENGINE_STATUS_IDLE | SIMGPU_ENGINE_STATUS_ERROR))) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        poll_step(t);
    }
    return st;
}

/* Queue a fence, submit, and wait for it: everything before it is done. */
static void engine_sync(SimgpuTest *t)
{
    uint64_t seqno = ++t->seqno | 0x5a5a000000000000ULL;

    emit_fence(t, t->fence_addr, seqno);
    ring_kick(t);
    wait_reg(t, SIMGPU_REG_RING_HEAD, ~0u, t->tail);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_IDLE);
    g_assert_cmphex(reg_read64(t, SIMGPU_REG_FENCE_SEQNO_LO), ==, seqno);
    g_assert_cmphex(qtest_readq(t->qts, t->fence_addr), ==, seqno);
}

/* Wait for the engine to stop on an error; check what it reports. */
static void expect_error(SimgpuTest *t, uint32_t code, uint32_t head)
{
    wait_reg(t, SIMGPU_REG_ENGINE_STATUS, SIMGPU_ENGINE_STATUS_ERROR,
             SIMGPU_ENGINE_STATUS_ERROR);
    g_assert_cmpuint(reg_read(t, SIMGPU_REG_ERROR_CODE), ==, code);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_ERROR_HEAD), ==, head);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_RING_HEAD), ==, head);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_INT_STATUS) & SIMGPU_INT_ERROR,
                    ==, SIMGPU_INT_ERROR);
}

/* ENGINE_CTRL.RESET and re-enable: the ring starts over at 0. */
static void engine_reset(SimgpuTest *t)
{
    reg_write(t, SIMGPU_REG_ENGINE_CTRL,
              SIMGPU_ENGINE_CTRL_RESET | SIMGPU_ENGINE_CTRL_ENABLE);
    reg_write(t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_IDLE);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_RING_HEAD), ==, 0);
    g_assert_cmphex(reg_read(t, SIMGPU_REG_RING_TAIL), ==, 0);
    g_assert_cmpuint(reg_read(t, SIMGPU_REG_ERROR_CODE), ==,
                     SIMGPU_ERR_NONE);
    t->tail = 0;
}

/*
 * Identification and layout
 */

static void test_identification(void)
{
    SimgpuTest t;
    uint32_t version;

    simgpu_test_start(&t, NULL);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_VENDOR_ID), ==,
                    SIMGPU_PCI_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_DEVICE_ID), ==,
                    SIMGPU_PCI_DEVICE_ID);
    g_assert_cmphex(qpci_config_readb(t.dev, PCI_REVISION_ID), ==,
                    SIMGPU_PCI_REVISION);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_CLASS_DEVICE), ==,
                    PCI_CLASS_DISPLAY_OTHER);
    g_assert_cmphex(qpci_config_readb(t.dev, PCI_INTERRUPT_PIN), ==, 1);
    g_assert_cmphex(qpci_find_capability(t.dev, PCI_CAP_ID_MSIX, 0), !=, 0);

    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    version = reg_read(&t, SIMGPU_REG_VERSION);
    g_assert_cmpuint(version, ==, SIMGPU_VERSION_CURRENT);
    g_assert_cmpuint(SIMGPU_VERSION_MAJOR(version), ==, 1);
    /* Whole VRAM visible by default: no small-BAR capability. */
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_CAPS), ==,
                    SIMGPU_CAP_VRAM | SIMGPU_CAP_ENGINE | SIMGPU_CAP_GART |
                    SIMGPU_CAP_MSIX | SIMGPU_CAP_FAULT_INJECT);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_NUM_REGIONS), ==, 1);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_SIZE_LO), ==,
                     256 * MiB);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_VISIBLE_LO), ==,
                     256 * MiB);
    /* An absent region reads as zero. */
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_SIZE_LO), ==, 0);
    /* 256 MiB GART by default. */
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_GART_MAX_ENTRIES), ==,
                     256 * MiB / GART_PAGE);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_IDLE);
    simgpu_test_stop(&t);
}

static void test_bar_layout(void)
{
    SimgpuTest t;
    uint64_t size0, size1;
    QPCIBar bar0, bar1;
    uint32_t bar_cfg;

    simgpu_test_start(&t, "regions=2,vram0-size=48M,vram0-visible-size=16M,"
                      "vram1-size=8M,gart-size=8M");
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_CAPS) &
                    (SIMGPU_CAP_VRAM | SIMGPU_CAP_SMALL_BAR), ==,
                    SIMGPU_CAP_VRAM | SIMGPU_CAP_SMALL_BAR);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_NUM_REGIONS), ==, 2);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_SIZE_LO), ==, 48 * MiB);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_VISIBLE_LO), ==,
                     16 * MiB);
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_SIZE_LO), ==, 8 * MiB);
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_VISIBLE_LO), ==,
                     8 * MiB);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_GART_MAX_ENTRIES), ==, 2048);

    /* VRAM BARs are 64-bit prefetchable memory, sized by the window. */
    bar_cfg = qpci_config_readl(t.dev, PCI_BASE_ADDRESS_0 +
                                4 * SIMGPU_VRAM_BAR(0));
    g_assert_cmphex(bar_cfg & 0xf, ==, PCI_BASE_ADDRESS_MEM_TYPE_64 |
                    PCI_BASE_ADDRESS_MEM_PREFETCH);
    bar0 = qpci_iomap(t.dev, SIMGPU_VRAM_BAR(0), &size0);
    bar1 = qpci_iomap(t.dev, SIMGPU_VRAM_BAR(1), &size1);
    g_assert_cmpuint(size0, ==, 16 * MiB);
    g_assert_cmpuint(size1, ==, 8 * MiB);
    qpci_iounmap(t.dev, bar0);
    qpci_iounmap(t.dev, bar1);
    simgpu_test_stop(&t);
}

/* CPU access through each VRAM window keeps every byte, per region. */
static void test_vram_window(void)
{
    const size_t len = 64 * KiB;
    g_autofree uint8_t *want = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    uint64_t offsets[] = { 0, 4 * MiB - len / 2, 8 * MiB - len };
    SimgpuTest t;
    unsigned int n, i;

    simgpu_test_start(&t, "regions=2,vram0-size=32M,vram0-visible-size=8M,"
                      "vram1-size=8M");
    for (n = 0; n < 2; n++) {
        for (i = 0; i < ARRAY_SIZE(offsets); i++) {
            pattern(want, len, n * 16 + i);
            qpci_memwrite(t.dev, t.vram[n], offsets[i], want, len);
            qpci_memread(t.dev, t.vram[n], offsets[i], got, len);
            assert_bytes(got, want, len);
        }
    }
    simgpu_test_stop(&t);
}

/* Each bad property is refused at startup with a message naming it. */
static void test_bad_properties(void)
{
    static const struct {
        const char *props;
        const char *error;
    } cases[] = {
        { "regions=0", "regions must be 1 or 2" },
        { "regions=3", "regions must be 1 or 2" },
        { "vram0-size=0", "vram0-size must be a multiple of 1 MiB" },
        { "vram0-size=1000K", "vram0-size must be a multiple of 1 MiB" },
        { "vram0-size=128G", "vram0-size must be a multiple of 1 MiB" },
        { "vram0-size=64M,vram0-visible-size=128M", "exceeds vram0-size" },
        { "vram0-size=64M,vram0-visible-size=24M", "must be a power of two" },
        { "vram0-size=48M", "must be a power of two" },
        { "regions=2,vram1-size=3M", "vram1-visible-size must be a power" },
        { "vram1-size=64M", "vram1-visible-size need regions=2" },
        { "regions=1,vram1-visible-size=1M",
          "vram1-visible-size need regions=2" },
        { "gart-size=0", "gart-size must be a multiple of 4 KiB" },
        { "gart-size=6K", "gart-size must be a multiple of 4 KiB" },
        { "gart-size=32G", "gart-size must be a multiple of 4 KiB" },
        { "engine-bandwidth=1000", "engine-bandwidth must be 0" },
        { "engine-latency-us=2000000", "engine-latency-us must be at most" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned int i;

    g_assert(qemu);
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *dev = g_strdup_printf("simgpu,%s", cases[i].props);
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        const char *argv[] = {
            qemu, "-machine", "q35", "-display", "none", "-nodefaults",
            "-S", "-device", dev, NULL,
        };
        g_autoptr(GError) gerr = NULL;
        int status;

        g_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
                              NULL, NULL, &out, &err, &status, &gerr));
        g_assert(!g_spawn_check_exit_status(status, NULL));
        if (!strstr(err, cases[i].error)) {
            g_test_message("props %s: stderr was: %s", cases[i].props, err);
            g_assert_not_reached();
        }
    }
}

/* -device simgpu,help documents every property. */
static void test_property_help(void)
{
    static const char *const props[] = {
        "regions", "vram0-size", "vram0-visible-size", "vram1-size",
        "vram1-visible-size", "gart-size", "engine-bandwidth",
        "engine-latency-us", "fault-seed",
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    const char *argv[] = { qemu, "-device", "simgpu,help", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    unsigned int i;
    int status;

    g_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
                          NULL, &out, &err, &status, &gerr));
    for (i = 0; i < ARRAY_SIZE(props); i++) {
        g_autofree char *line = g_strdup_printf("  %s=", props[i]);
        const char *p = strstr(out, line);
        const char *eol;

        g_assert(p);
        eol = strchr(p, '\n');
        /* "name=<type> - description" */
        g_assert(g_strstr_len(p, eol ? eol - p : -1, " - "));
    }
}

/*
 * Engine
 */

/* COPY between every pair of spaces, at odd offsets and lengths. */
static void test_copy_spaces(void)
{
    static const uint32_t spaces[] = {
        SIMGPU_SPACE_VRAM0, SIMGPU_SPACE_VRAM1, SIMGPU_SPACE_GART,
    };
    /* Src and dst offsets per space, so that same-space copies overlap not */
    static const uint64_t src_off[] = { 0x1235, 0x2001, 3 * GART_PAGE + 17 };
    static const uint64_t dst_off[] = { 6 * MiB + 3, 0x40ffd, 40 * GART_PAGE -
                                        5 };
    const size_t len = 20 * GART_PAGE + 77, guard = 64;
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *want = g_malloc(len + 2 * guard);
    g_autofree uint8_t *got = g_malloc(len + 2 * guard);
    uint64_t copied = 0;
    unsigned int i, j, seed = 0;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);

    for (i = 0; i < ARRAY_SIZE(spaces); i++) {
        for (j = 0; j < ARRAY_SIZE(spaces); j++) {
            uint32_t ss = spaces[i], ds = spaces[j];

            /* Known bytes around and under the destination. */
            pattern(want, len + 2 * guard, seed++);
            space_write(&t, ds, dst_off[j] - guard, want, len + 2 * guard);
            pattern(src, len, seed++);
            space_write(&t, ss, src_off[i], src, len);
            memcpy(want + guard, src, len);

            emit_copy(&t, ss, src_off[i], ds, dst_off[j], len);
            engine_sync(&t);
            copied += len;

            space_read(&t, ds, dst_off[j] - guard, got, len + 2 * guard);
            assert_bytes(got, want, len + 2 * guard);
            /* The source is intact. */
            space_read(&t, ss, src_off[i], got, len);
            assert_bytes(got, src, len);
        }
    }
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_BYTES_COPIED), ==, copied);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_COMMANDS), ==, 2 * 9);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_ERRORS), ==, 0);
    simgpu_test_stop(&t);
}

/* Overlapping copies within one space behave like memmove(). */
static void test_copy_overlap(void)
{
    static const struct {
        uint32_t space;
        uint64_t src, dst, len;
    } cases[] = {
        /* Larger than the engine's internal chunk, both directions */
        { SIMGPU_SPACE_VRAM0, 0x10000, 0x10000 + 4097, 3 * MiB + 11 },
        { SIMGPU_SPACE_VRAM0, 0x400000 + 999, 0x400000, 3 * MiB },
        { SIMGPU_SPACE_VRAM1, 100, 101, 64 * KiB },
        { SIMGPU_SPACE_GART, 5, 3 * GART_PAGE + 1, 30 * GART_PAGE },
        { SIMGPU_SPACE_GART, 9 * GART_PAGE + 3, 8 * GART_PAGE, 40 * GART_PAGE },
        /* Exact self copy */
        { SIMGPU_SPACE_GART, GART_PAGE, GART_PAGE, 2 * GART_PAGE },
    };
    SimgpuTest t;
    unsigned int i;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t lo = MIN(cases[i].src, cases[i].dst);
        uint64_t span = MAX(cases[i].src, cases[i].dst) + cases[i].len - lo;
        g_autofree uint8_t *want = g_malloc(span);
        g_autofree uint8_t *got = g_malloc(span);

        pattern(want, span, 100 + i);
        space_write(&t, cases[i].space, lo, want, span);
        memmove(want + cases[i].dst - lo, want + cases[i].src - lo,
                cases[i].len);
        emit_copy(&t, cases[i].space, cases[i].src, cases[i].space,
                  cases[i].dst, cases[i].len);
        engine_sync(&t);
        space_read(&t, cases[i].space, lo, got, span);
        assert_bytes(got, want, span);
    }
    simgpu_test_stop(&t);
}

static void test_fill(void)
{
    static const struct {
        uint32_t space;
        uint64_t dst, len;
        uint32_t value;
    } cases[] = {
        { SIMGPU_SPACE_VRAM0, 3, 2 * MiB + 4, 0xdeadbeef },
        { SIMGPU_SPACE_VRAM1, 8 * MiB - 4096, 4096, 0x01020304 },
        { SIMGPU_SPACE_GART, 2 * GART_PAGE - 6, 30 * GART_PAGE, 0xa5c3e10f },
        { SIMGPU_SPACE_VRAM0, 0, 0, 0x11111111 },
    };
    const size_t guard = 64;
    uint64_t filled = 0;
    SimgpuTest t;
    unsigned int i;
    size_t j;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        static const uint64_t sizes[] = { 16 * MiB, 8 * MiB,
                                          GART_TEST_PAGES * GART_PAGE };
        uint64_t size = sizes[cases[i].space];
        size_t pre = MIN(cases[i].dst, guard);
        uint64_t lo = cases[i].dst - pre;
        size_t span = pre + cases[i].len +
                      MIN(guard, size - cases[i].dst - cases[i].len);
        g_autofree uint8_t *want = g_malloc(span);
        g_autofree uint8_t *got = g_malloc(span);

        pattern(want, span, 200 + i);
        space_write(&t, cases[i].space, lo, want, span);
        for (j = 0; j < cases[i].len; j++) {
            want[pre + j] = cases[i].value >> (8 * (j % 4));
        }
        emit_fill(&t, cases[i].space, cases[i].dst, cases[i].len,
                  cases[i].value);
        engine_sync(&t);
        filled += cases[i].len;
        space_read(&t, cases[i].space, lo, got, span);
        assert_bytes(got, want, span);
    }
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_BYTES_FILLED), ==, filled);
    simgpu_test_stop(&t);
}

/* Fence: memory write, FENCE_SEQNO, INT_STATUS and INTx. */
static void test_fence_intx(void)
{
    SimgpuTest t;
    uint64_t addr;

    simgpu_test_start(&t, ENGINE_PROPS);
    engine_setup(&t, 4096);
    addr = guest_alloc(&t.alloc, 4096) + 8;

    /* Masked: status set, no interrupt. */
    emit_fence(&t, addr, 0x123456789abcdef0ULL);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE, SIMGPU_INT_FENCE);
    g_assert_cmphex(qtest_readq(t.qts, addr), ==, 0x123456789abcdef0ULL);
    g_assert_cmphex(reg_read64(&t, SIMGPU_REG_FENCE_SEQNO_LO), ==,
                    0x123456789abcdef0ULL);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);

    /* Unmasking the pending event asserts INTx; W1C deasserts it. */
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_INT_MASK), ==,
                    SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, PCI_STATUS_INTERRUPT);
    reg_write(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_INT_STATUS), ==, 0);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);

    /* Unmasked: the next fence asserts INTx itself. */
    emit_fence(&t, addr, 2);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE, SIMGPU_INT_FENCE);
    g_assert_cmphex(qtest_readq(t.qts, addr), ==, 2);
    wait_intx(&t, true);
    simgpu_test_stop(&t);
}

static void msix_set_vector(SimgpuTest *t, unsigned int vector,
                            uint64_t addr, uint32_t data)
{
    uint64_t entry = SIMGPU_MSIX_TABLE_OFFSET + vector * PCI_MSIX_ENTRY_SIZE;

    reg_write(t, entry + PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    reg_write(t, entry + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    reg_write(t, entry + PCI_MSIX_ENTRY_DATA, data);
    reg_write(t, entry + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

/* MSI-X: fence on vector 0, error on vector 1, no INTx. */
static void test_msix(void)
{
    SimgpuTest t;
    uint64_t msg;

    simgpu_test_start(&t, ENGINE_PROPS);
    qpci_msix_enable(t.dev);
    /* The table is in BAR0, which qpci_msix_enable() mapped again. */
    g_assert_cmpuint(t.dev->msix_table_off, ==, SIMGPU_MSIX_TABLE_OFFSET);
    g_assert_cmpuint(t.dev->msix_pba_off, ==, SIMGPU_MSIX_PBA_OFFSET);
    g_assert_cmpuint(qpci_msix_table_size(t.dev), ==, SIMGPU_MSIX_VECTORS);
    t.regs = t.dev->msix_table_bar;
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);

    /* Vectors are masked after reset: the event is pending. */
    g_assert(qpci_msix_masked(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    emit_fence(&t, t.fence_addr, 1);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE, SIMGPU_INT_FENCE);
    wait_reg(&t, SIMGPU_MSIX_PBA_OFFSET, 1u << SIMGPU_MSIX_VECTOR_FENCE,
             1u << SIMGPU_MSIX_VECTOR_FENCE);
    g_assert(qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    g_assert(!qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_ERROR));
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);

    /* Unmasked vectors write their message to memory. */
    msg = guest_alloc(&t.alloc, 4096);
    qtest_memset(t.qts, msg, 0, 16);
    msix_set_vector(&t, SIMGPU_MSIX_VECTOR_FENCE, msg, 0xfe11ce);
    /* Unmasking delivers the pending message. */
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0xfe11ce);
    g_assert(!qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    qtest_writel(t.qts, msg, 0);
    msix_set_vector(&t, SIMGPU_MSIX_VECTOR_ERROR, msg + 4, 0xe5505);
    reg_write(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE);

    emit_fence(&t, t.fence_addr, 2);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_RING_HEAD, ~0u, t.tail);
    wait_reg(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE, SIMGPU_INT_FENCE);
    /* The message follows the status update, from the main loop. */
    {
        int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;

        while (qtest_readl(t.qts, msg) != 0xfe11ce) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            poll_step(&t);
        }
    }
    g_assert_cmphex(qtest_readl(t.qts, msg + 4), ==, 0);

    /* An error goes to vector 1. */
    reg_write(&t, SIMGPU_REG_FAULT_FAIL_COUNT, 1);
    emit_nop(&t);
    ring_kick(&t);
    expect_error(&t, SIMGPU_ERR_INJECTED, t.tail - SIMGPU_CMD_SIZE);
    {
        int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;

        while (qtest_readl(t.qts, msg + 4) != 0xe5505) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            poll_step(&t);
        }
    }
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);
    simgpu_test_stop(&t);
}

/* Set or clear the Enable bit of the MSI-X capability, BAR mappings kept. */
static void msix_enable_bit(SimgpuTest *t, bool enable)
{
    uint8_t cap = qpci_find_capability(t->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t flags = qpci_config_readw(t->dev, cap + PCI_MSIX_FLAGS);

    flags &= ~PCI_MSIX_FLAGS_ENABLE;
    qpci_config_writew(t->dev, cap + PCI_MSIX_FLAGS,
                       flags | (enable ? PCI_MSIX_FLAGS_ENABLE : 0));
}

static bool intx_asserted(SimgpuTest *t)
{
    return qpci_config_readw(t->dev, PCI_STATUS) & PCI_STATUS_INTERRUPT;
}

/*
 * MSI-X pending bits follow the cause: an event acknowledged, or masked in
 * INT_MASK, while its vector is masked leaves nothing pending, and
 * unmasking the vector then sends nothing.  Switching between INTx and
 * MSI-X with an event pending loses it in neither direction.
 */
static void test_msix_pending(void)
{
    const uint64_t ctrl = SIMGPU_MSIX_TABLE_OFFSET +
        SIMGPU_MSIX_VECTOR_FENCE * PCI_MSIX_ENTRY_SIZE +
        PCI_MSIX_ENTRY_VECTOR_CTRL;
    const uint32_t bit = 1u << SIMGPU_MSIX_VECTOR_FENCE;
    SimgpuTest t;
    uint64_t msg;

    simgpu_test_start(&t, ENGINE_PROPS);
    qpci_msix_enable(t.dev);
    t.regs = t.dev->msix_table_bar;
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    msg = guest_alloc(&t.alloc, 4096);
    qtest_memset(t.qts, msg, 0, 16);

    /* Acknowledged while the vector is masked: nothing left to send. */
    emit_fence(&t, t.fence_addr, 1);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_MSIX_PBA_OFFSET, bit, bit);
    reg_write(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE);
    g_assert(!qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    msix_set_vector(&t, SIMGPU_MSIX_VECTOR_FENCE, msg, 0xfe11ce);
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0);

    /* Masked in INT_MASK while the vector is masked: the same. */
    reg_write(&t, ctrl, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    emit_fence(&t, t.fence_addr, 2);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_MSIX_PBA_OFFSET, bit, bit);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_ERROR);
    g_assert(!qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    reg_write(&t, ctrl, 0);
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0);
    /* Unmasked in INT_MASK with the cause still set: sent at once. */
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0xfe11ce);
    qtest_writel(t.qts, msg, 0);

    /* MSI-X off with the fence event pending: INTx takes it over... */
    g_assert(!intx_asserted(&t));
    msix_enable_bit(&t, false);
    g_assert(intx_asserted(&t));
    /* ...and back: MSI-X sends it, INTx is released. */
    msix_enable_bit(&t, true);
    g_assert(!intx_asserted(&t));
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0xfe11ce);
    qtest_writel(t.qts, msg, 0);

    /* Acknowledged: switching again sends and asserts nothing. */
    reg_write(&t, SIMGPU_REG_INT_STATUS, SIMGPU_INT_FENCE);
    msix_enable_bit(&t, false);
    g_assert(!intx_asserted(&t));
    msix_enable_bit(&t, true);
    g_assert_cmphex(qtest_readl(t.qts, msg), ==, 0);
    g_assert(!qpci_msix_pending(t.dev, SIMGPU_MSIX_VECTOR_FENCE));
    simgpu_test_stop(&t);
}

/*
 * x-engine-sync: the doorbell write returns with the queued commands done,
 * without modelled time (the clock is never stepped here), and an error
 * stops the engine as it does in the engine thread.
 */
static void test_engine_sync(void)
{
    const size_t len = 1 * MiB;
    g_autofree uint8_t *src = g_malloc(len);
    uint8_t bad[SIMGPU_CMD_SIZE];
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS ",x-engine-sync=on,"
                      "engine-bandwidth=1M,engine-latency-us=1000");
    engine_setup(&t, 4096);
    pattern(src, len, 33);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, src, len);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, len);
    emit_fence(&t, t.fence_addr, 33);
    ring_kick(&t);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, t.tail);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 33);
    g_assert(space_equals(&t, SIMGPU_SPACE_VRAM1, 0, src, len));

    cmd_build(bad, 7, 0, 0, 0, 0, 16, 0);
    ring_emit_raw(&t, bad);
    emit_fence(&t, t.fence_addr, 34);
    ring_kick(&t);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_ERROR);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_ERROR_CODE), ==,
                     SIMGPU_ERR_BAD_OPCODE);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 33);
    engine_reset(&t);
    emit_fence(&t, t.fence_addr, 35);
    ring_kick(&t);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 35);
    simgpu_test_stop(&t);
}

/*
 * Many more commands than the ring holds, in submissions of several sizes:
 * the head wraps around several times and every command runs once.
 */
static void test_ring_wrap(void)
{
    static const unsigned int batches[] = { 1, 7, 63, 64, 150, 3, 200 };
    const size_t slot = 256;
    unsigned int b, i, n = 0;
    g_autofree uint8_t *got = g_malloc(slot);
    g_autofree uint8_t *want = g_malloc(slot);
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    engine_setup(&t, 4096);  /* 64 slots */
    for (b = 0; b < ARRAY_SIZE(batches); b++) {
        for (i = 0; i < batches[b]; i++, n++) {
            /* Each command fills its own slot of VRAM1. */
            emit_fill(&t, SIMGPU_SPACE_VRAM1, n * slot, slot,
                      (n & 0xff) * 0x01010101u);
        }
        engine_sync(&t);
    }
    for (i = 0; i < n; i++) {
        memset(want, i, slot);
        space_read(&t, SIMGPU_SPACE_VRAM1, i * slot, got, slot);
        assert_bytes(got, want, slot);
    }
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_COMMANDS), ==,
                     n + ARRAY_SIZE(batches));
    simgpu_test_stop(&t);
}

/*
 * Errors
 */

/* FAULT_FAIL_COUNT: error reported, destination untouched, reset works. */
static void test_fault_fail_count(void)
{
    const size_t len = 3 * GART_PAGE;
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *old = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    uint32_t head;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_ERROR);
    pattern(src, len, 1);
    pattern(old, len, 2);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, src, len);
    space_write(&t, SIMGPU_SPACE_GART, 5, old, len);

    emit_nop(&t);
    engine_sync(&t);
    reg_write(&t, SIMGPU_REG_FAULT_FAIL_COUNT, 2);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_FAIL_COUNT), ==, 2);
    head = t.tail;
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_GART, 5, len);
    emit_fence(&t, t.fence_addr, 99);
    ring_kick(&t);
    expect_error(&t, SIMGPU_ERR_INJECTED, head);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_ERROR);
    wait_intx(&t, true);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_FAIL_COUNT), ==, 1);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_ERRORS), ==, 1);
    /* Stopped on the failing command: the fence behind it never runs. */
    g_usleep(20 * 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, head);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), !=, 99);
    space_read(&t, SIMGPU_SPACE_GART, 5, got, len);
    assert_bytes(got, old, len);

    /* Reset recovers; it also clears the remaining injected failure. */
    engine_reset(&t);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_FAIL_COUNT), ==, 0);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_RESETS), ==, 1);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_GART, 5, len);
    engine_sync(&t);
    space_read(&t, SIMGPU_SPACE_GART, 5, got, len);
    assert_bytes(got, src, len);
    simgpu_test_stop(&t);
}

/*
 * FAULT_REMOVED_MS: all-ones reads and no effect of writes for that long
 * (virtual time), then the device answers again with its state intact.
 */
static void test_fault_removed(void)
{
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    reg_write(&t, SIMGPU_REG_SCRATCH, 0x1234);
    reg_write(&t, SIMGPU_REG_FAULT_REMOVED_MS, SIMGPU_FAULT_REMOVED_MS_MAX + 1);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    reg_write(&t, SIMGPU_REG_FAULT_REMOVED_MS, 20);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, UINT32_MAX);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_FENCE_SEQNO_LO), ==, UINT32_MAX);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_FENCE_SEQNO_HI), ==, UINT32_MAX);
    reg_write(&t, SIMGPU_REG_SCRATCH, 0x5678);
    qtest_clock_step(t.qts, 10 * 1000 * 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, UINT32_MAX);
    qtest_clock_step(t.qts, 11 * 1000 * 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, 0x1234);

    /* Device reset ends it at once. */
    reg_write(&t, SIMGPU_REG_FAULT_REMOVED_MS, 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, UINT32_MAX);
    qtest_system_reset(t.qts);
    qpci_device_enable(t.dev);
    t.regs = qpci_iomap(t.dev, SIMGPU_REG_BAR, NULL);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_FAULT_REMOVED_MS), ==, 0);
    simgpu_test_stop(&t);
}

/* FAULT_HANG: no progress, HUNG, reset recovers. */
static void test_fault_hang(void)
{
    const size_t len = 8192;
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    engine_setup(&t, 4096);
    pattern(src, len, 3);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, src, len);
    emit_nop(&t);
    engine_sync(&t);

    reg_write(&t, SIMGPU_REG_FAULT_HANG, 1);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_HANG), ==, 1);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, len);
    emit_fence(&t, t.fence_addr, 77);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_ENGINE_STATUS, ~0u, SIMGPU_ENGINE_STATUS_HUNG);
    g_usleep(50 * 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==,
                    t.tail - 2 * SIMGPU_CMD_SIZE);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), !=, 77);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_INT_STATUS) & SIMGPU_INT_ERROR,
                    ==, 0);

    engine_reset(&t);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_HANG), ==, 0);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, len);
    engine_sync(&t);
    space_read(&t, SIMGPU_SPACE_VRAM1, 0, got, len);
    assert_bytes(got, src, len);
    simgpu_test_stop(&t);
}

/* FAULT_STALL_US slows the engine down but changes no result. */
static void test_fault_stall(void)
{
    const size_t len = 4096;
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    int64_t start;
    unsigned int i;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    pattern(src, len, 4);
    space_write(&t, SIMGPU_SPACE_VRAM1, 0, src, len);
    reg_write(&t, SIMGPU_REG_FAULT_STALL_US, 5000);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_STALL_US), ==, 5000);
    start = clock_now(&t);
    for (i = 0; i < 4; i++) {
        emit_copy(&t, SIMGPU_SPACE_VRAM1, 0, SIMGPU_SPACE_GART,
                  (i + 1) * len, len);
    }
    engine_sync(&t);
    /* Five commands with the fence, 5 ms of modelled time each. */
    g_assert_cmpint(clock_now(&t) - start, >=, 25 * SCALE_MS);
    for (i = 0; i < 4; i++) {
        space_read(&t, SIMGPU_SPACE_GART, (i + 1) * len, got, len);
        assert_bytes(got, src, len);
    }
    /* Out-of-range values are refused. */
    reg_write(&t, SIMGPU_REG_FAULT_STALL_US, SIMGPU_FAULT_STALL_US_MAX + 1);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_STALL_US), ==, 5000);
    simgpu_test_stop(&t);
}

/*
 * A VM stop during an injected stall, before the command ran: the command
 * starts over after the stop with the same faults, so the failure that
 * FAULT_FAIL_COUNT asked for still happens (and only once).
 */
static void test_fault_stall_stop(void)
{
    SimgpuTest t;
    int64_t start;

    simgpu_test_start(&t, ENGINE_PROPS);
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_FAULT_FAIL_COUNT, 1);
    reg_write(&t, SIMGPU_REG_FAULT_STALL_US, 10000);
    start = clock_now(&t);
    emit_nop(&t);
    ring_kick(&t);
    clock_step_to(&t, start + 5 * SCALE_MS);
    g_usleep(10 * 1000);
    qtest_qmp_assert_success(t.qts, "{ 'execute': 'stop' }");
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, 0);
    qtest_qmp_assert_success(t.qts, "{ 'execute': 'cont' }");
    expect_error(&t, SIMGPU_ERR_INJECTED, 0);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_FAIL_COUNT), ==, 0);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_ERRORS), ==, 1);
    simgpu_test_stop(&t);
}

/* Run NOPs one by one until one fails; return its index. */
static unsigned int first_random_failure(SimgpuTest *t)
{
    unsigned int i;

    for (i = 0; i < 1000; i++) {
        emit_nop(t);
        ring_kick(t);
        if (wait_idle_or_error(t) & SIMGPU_ENGINE_STATUS_ERROR) {
            g_assert_cmpuint(reg_read(t, SIMGPU_REG_ERROR_CODE), ==,
                             SIMGPU_ERR_INJECTED);
            return i;
        }
    }
    g_assert_not_reached();
}

/* FAULT_RATE_PPM: failures follow the fault-seed PRNG, reset re-seeds. */
static void test_fault_rate(void)
{
    unsigned int a[4], i;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS ",fault-seed=12345");
    engine_setup(&t, 4096);
    for (i = 0; i < ARRAY_SIZE(a); i++) {
        reg_write(&t, SIMGPU_REG_FAULT_RATE_PPM, 250000);
        a[i] = first_random_failure(&t);
        engine_reset(&t);
        g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_RATE_PPM), ==, 0);
    }
    /* The same sequence after every reset. */
    for (i = 1; i < ARRAY_SIZE(a); i++) {
        g_assert_cmpuint(a[i], ==, a[0]);
    }
    /* Every command fails at 100%. */
    reg_write(&t, SIMGPU_REG_FAULT_RATE_PPM, SIMGPU_FAULT_RATE_PPM_MAX);
    g_assert_cmpuint(first_random_failure(&t), ==, 0);
    engine_reset(&t);
    reg_write(&t, SIMGPU_REG_FAULT_RATE_PPM, SIMGPU_FAULT_RATE_PPM_MAX + 1);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_FAULT_RATE_PPM), ==, 0);
    emit_nop(&t);
    engine_sync(&t);
    simgpu_test_stop(&t);
}

/* Malformed or out-of-range commands stop the engine and touch nothing. */
static void test_bad_commands(void)
{
    enum { BAD_FLAGS = 1, BAD_RESERVED = 2, DST_IN_REGS = 3 };
    static const struct {
        const char *name;
        uint32_t op, src_space, dst_space;
        uint64_t src, dst, len;
        unsigned int tweak;
        uint32_t error;
    } cases[] = {
        { "bad opcode", 7, 0, 0, 0, 0, 16, 0, SIMGPU_ERR_BAD_OPCODE },
        { "flags", SIMGPU_OP_COPY, 0, 0, 0, 4096, 16, BAD_FLAGS,
          SIMGPU_ERR_BAD_RESERVED },
        { "reserved", SIMGPU_OP_NOP, 0, 0, 0, 0, 0, BAD_RESERVED,
          SIMGPU_ERR_BAD_RESERVED },
        { "vram dst beyond end", SIMGPU_OP_COPY, 0, 1, 0, 8 * MiB - 16, 32,
          0, SIMGPU_ERR_OUT_OF_RANGE },
        { "vram src beyond end", SIMGPU_OP_COPY, 0, 1, 16 * MiB, 0, 1, 0,
          SIMGPU_ERR_OUT_OF_RANGE },
        { "offset + length wraps", SIMGPU_OP_COPY, 0, 1, 0, -16ULL, 32, 0,
          SIMGPU_ERR_OUT_OF_RANGE },
        { "length 2^64-1", SIMGPU_OP_COPY, 0, 1, 0, 1, UINT64_MAX, 0,
          SIMGPU_ERR_OUT_OF_RANGE },
        { "fill length 2^64-4", SIMGPU_OP_FILL, 0, 0, 0, 4, -4ULL, 0,
          SIMGPU_ERR_OUT_OF_RANGE },
        { "fill length not x4", SIMGPU_OP_FILL, 0, 0, 0, 0, 6, 0,
          SIMGPU_ERR_BAD_ALIGN },
        { "no such space", SIMGPU_OP_COPY, 0, 7, 0, 0, 16, 0,
          SIMGPU_ERR_BAD_SPACE },
        { "gart index >= entries", SIMGPU_OP_COPY, 0, 2, 0,
          GART_TEST_PAGES * GART_PAGE - 8, 16, 0, SIMGPU_ERR_GART_FAULT },
        { "gart wraps", SIMGPU_OP_COPY, 2, 0, -8ULL, 0, 16, 0,
          SIMGPU_ERR_OUT_OF_RANGE },
        { "gart invalid entry", SIMGPU_OP_COPY, 0, 2, 0, 20 * GART_PAGE, 16,
          0, SIMGPU_ERR_GART_FAULT },
        { "gart reserved entry bits", SIMGPU_OP_COPY, 2, 0,
          21 * GART_PAGE, 0, 16, 0, SIMGPU_ERR_GART_FAULT },
        { "gart page not RAM", SIMGPU_OP_COPY, 0, 2, 0, 22 * GART_PAGE, 16, 0,
          SIMGPU_ERR_DMA_ERROR },
        { "gart page in the register BAR", SIMGPU_OP_COPY, 0, 2, 0,
          23 * GART_PAGE, 16, 0, SIMGPU_ERR_DMA_ERROR },
        { "fence in the register BAR", SIMGPU_OP_FENCE, 0, 0, 0,
          SIMGPU_REG_SCRATCH, 0, DST_IN_REGS, SIMGPU_ERR_DMA_ERROR },
        { "fence misaligned", SIMGPU_OP_FENCE, 0, 0, 0, 0x100004, 0, 0,
          SIMGPU_ERR_BAD_ALIGN },
        { "fence not RAM", SIMGPU_OP_FENCE, 0, 0, 0, 0x7ff00000000ULL, 0, 0,
          SIMGPU_ERR_DMA_ERROR },
        { "fence wraps", SIMGPU_OP_FENCE, 0, 0, 0, -8ULL, 0, 0,
          SIMGPU_ERR_DMA_ERROR },
    };
    const size_t guard_len = 64 * KiB;
    g_autofree uint8_t *vram1 = g_malloc(guard_len);
    g_autofree uint8_t *got = g_malloc(guard_len);
    uint8_t cmd[SIMGPU_CMD_SIZE];
    unsigned int i;
    SimgpuTest t;

    simgpu_test_start(&t, "regions=2,vram0-size=16M,vram1-size=8M,"
                      "gart-size=1M");
    gart_setup(&t);
    /*
     * Entry 20 invalid, 21 with reserved bits, 22 points to no RAM, 23 to
     * the device's own registers (MMIO: the engine must never reach it).
     */
    qtest_writeq(t.qts, t.gart + 8 * 20, t.gart_page[20]);
    qtest_writeq(t.qts, t.gart + 8 * 21,
                 t.gart_page[21] | SIMGPU_GART_ENTRY_VALID | 0x10);
    qtest_writeq(t.qts, t.gart + 8 * 22,
                 0x7ff00000000ULL | SIMGPU_GART_ENTRY_VALID);
    qtest_writeq(t.qts, t.gart + 8 * 23,
                 t.regs.addr | SIMGPU_GART_ENTRY_VALID);
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_ERROR);
    pattern(vram1, guard_len, 5);
    space_write(&t, SIMGPU_SPACE_VRAM1, 8 * MiB - guard_len, vram1,
                guard_len);
    space_write(&t, SIMGPU_SPACE_VRAM1, 0, vram1, guard_len);

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        uint32_t head;

        g_test_message("case: %s", cases[i].name);
        /* Some good work before, so that the failing head is not 0. */
        emit_nop(&t);
        emit_nop(&t);
        head = t.tail;
        cmd_build(cmd, cases[i].op, cases[i].src_space, cases[i].src,
                  cases[i].dst_space, cases[i].dst, cases[i].len, 0);
        if (cases[i].tweak == BAD_FLAGS) {
            cmd[SIMGPU_CMD_OFF_FLAGS + 3] = 0x80;
        } else if (cases[i].tweak == BAD_RESERVED) {
            cmd[SIMGPU_CMD_OFF_RESERVED + SIMGPU_CMD_RESERVED_SIZE - 1] = 1;
        } else if (cases[i].tweak == DST_IN_REGS) {
            stq_le_p(cmd + SIMGPU_CMD_OFF_DST_ADDR,
                     t.regs.addr + cases[i].dst);
        }
        ring_emit_raw(&t, cmd);
        emit_fence(&t, t.fence_addr, 1000 + i);
        ring_kick(&t);
        expect_error(&t, cases[i].error, head);
        wait_intx(&t, true);
        g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), !=, 1000 + i);
        g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_ERRORS), ==, i + 1);
        engine_reset(&t);
    }
    /* Nothing reached VRAM1 at either end. */
    space_read(&t, SIMGPU_SPACE_VRAM1, 8 * MiB - guard_len, got, guard_len);
    assert_bytes(got, vram1, guard_len);
    space_read(&t, SIMGPU_SPACE_VRAM1, 0, got, guard_len);
    assert_bytes(got, vram1, guard_len);
    /* A single region device has no VRAM1. */
    simgpu_test_stop(&t);

    simgpu_test_start(&t, "vram0-size=16M");
    engine_setup(&t, 4096);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, 16);
    ring_kick(&t);
    expect_error(&t, SIMGPU_ERR_BAD_SPACE, 0);
    /* GART_ENTRIES cannot exceed GART_MAX_ENTRIES; no GART, no access. */
    reg_write(&t, SIMGPU_REG_GART_ENTRIES,
              reg_read(&t, SIMGPU_REG_GART_MAX_ENTRIES) + 1);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_GART_ENTRIES), ==, 0);
    engine_reset(&t);
    emit_copy(&t, SIMGPU_SPACE_GART, 0, SIMGPU_SPACE_VRAM0, 0, 16);
    ring_kick(&t);
    expect_error(&t, SIMGPU_ERR_GART_FAULT, 0);
    simgpu_test_stop(&t);
}

/* ENGINE_CTRL.RESET stops a long command at once and drops the ring. */
static void test_reset_busy(void)
{
    const size_t len = 4 * MiB;
    int64_t start;
    SimgpuTest t;

    /* 4 s of modelled transfer time */
    simgpu_test_start(&t, ENGINE_PROPS ",engine-bandwidth=1M");
    engine_setup(&t, 4096);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, len);
    emit_fence(&t, t.fence_addr, 31);
    ring_kick(&t);
    g_usleep(20 * 1000);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_BUSY);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, 0);
    start = g_get_monotonic_time();
    engine_reset(&t);
    g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
    g_usleep(20 * 1000);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 0);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_COMMANDS), ==, 0);
    emit_fill(&t, SIMGPU_SPACE_VRAM0, 0, 64, 5);
    engine_sync(&t);
    simgpu_test_stop(&t);
}

/*
 * The guest turns bus mastering off and on and resets the engine while
 * copies between VRAM and the GART run.  Each copy ends, done or with a
 * DMA error, and nothing hangs: the engine decides that a page is RAM in
 * the same step that maps it.  When it checked first and mapped in a
 * second step, bus mastering could go off in between; the mapping then
 * read the page through a bounce buffer, which waits for the BQL, held by
 * the engine reset that waits for the engine.
 */
static void test_dma_bus_master_race(void)
{
    const uint64_t len = GART_TEST_PAGES * GART_PAGE;
    g_autofree uint8_t *want = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    unsigned int rounds = 0, errors = 0, i;
    uint16_t cmd;
    int64_t end;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    cmd = qpci_config_readw(t.dev, PCI_COMMAND);
    end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        for (i = 0; i < 8; i++) {
            emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_GART, 0, len);
            emit_copy(&t, SIMGPU_SPACE_GART, 0, SIMGPU_SPACE_VRAM0, len,
                      len);
        }
        ring_kick(&t);
        for (i = 0; i < 8; i++) {
            qpci_config_writew(t.dev, PCI_COMMAND,
                               cmd & ~PCI_COMMAND_MASTER);
            qpci_config_writew(t.dev, PCI_COMMAND, cmd);
        }
        if (reg_read(&t, SIMGPU_REG_ENGINE_STATUS) &
            SIMGPU_ENGINE_STATUS_ERROR) {
            g_assert_cmpuint(reg_read(&t, SIMGPU_REG_ERROR_CODE), ==,
                             SIMGPU_ERR_DMA_ERROR);
            errors++;
        }
        engine_reset(&t);
        rounds++;
    }
    g_test_message("%u rounds, %u stopped by a DMA error", rounds, errors);
    /* The engine works afterwards. */
    pattern(want, len, 77);
    space_write(&t, SIMGPU_SPACE_VRAM1, 0, want, len);
    emit_copy(&t, SIMGPU_SPACE_VRAM1, 0, SIMGPU_SPACE_GART, 0, len);
    engine_sync(&t);
    space_read(&t, SIMGPU_SPACE_GART, 0, got, len);
    assert_bytes(got, want, len);
    simgpu_test_stop(&t);
}

/* Bad ring setup is reported as an error, and reset recovers. */
static void test_bad_ring(void)
{
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    engine_setup(&t, 8192);

    /* Tail not a multiple of the command size */
    reg_write(&t, SIMGPU_REG_RING_TAIL, 32);
    expect_error(&t, SIMGPU_ERR_RING_TAIL, 0);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_TAIL), ==, 0);
    engine_reset(&t);
    /* Tail beyond the ring */
    reg_write(&t, SIMGPU_REG_RING_TAIL, 8192);
    expect_error(&t, SIMGPU_ERR_RING_TAIL, 0);
    engine_reset(&t);
    /* Size not a power of two */
    reg_write(&t, SIMGPU_REG_RING_SIZE, 6144);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_RING_CONFIG, 0);
    engine_reset(&t);
    /* Size too small, too large */
    reg_write(&t, SIMGPU_REG_RING_SIZE, 2048);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_RING_CONFIG, 0);
    engine_reset(&t);
    reg_write(&t, SIMGPU_REG_RING_SIZE, 2 * MiB);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_RING_CONFIG, 0);
    engine_reset(&t);
    /* Misaligned base */
    reg_write(&t, SIMGPU_REG_RING_SIZE, 8192);
    reg_write64(&t, SIMGPU_REG_RING_BASE_LO, t.ring + 64);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_RING_CONFIG, 0);
    engine_reset(&t);
    /* Base + size wraps */
    reg_write64(&t, SIMGPU_REG_RING_BASE_LO, -4096ULL);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_RING_CONFIG, 0);
    engine_reset(&t);
    /* Ring not in RAM */
    reg_write64(&t, SIMGPU_REG_RING_BASE_LO, 0x7ff00000000ULL);
    reg_write(&t, SIMGPU_REG_RING_TAIL, 64);
    expect_error(&t, SIMGPU_ERR_DMA_ERROR, 0);
    engine_reset(&t);

    /* Good again */
    reg_write64(&t, SIMGPU_REG_RING_BASE_LO, t.ring);
    emit_fill(&t, SIMGPU_SPACE_VRAM0, 0, 64, 1);
    engine_sync(&t);
    simgpu_test_stop(&t);
}

/* engine-bandwidth and engine-latency-us slow the engine down. */
static void test_bandwidth(void)
{
    const size_t len = 4 * MiB;
    const int64_t piece_ns = 10 * SCALE_MS;     /* 1 MiB at 100 MiB/s */
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *zero = g_malloc0(MiB);
    unsigned int i;
    int64_t start;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS ",engine-bandwidth=100M,"
                      "engine-latency-us=2000");
    engine_setup(&t, 4096);
    pattern(src, len, 12);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, src, len);
    start = clock_now(&t);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM1, 0, len);
    emit_fence(&t, t.fence_addr, 12);
    ring_kick(&t);
    for (i = 0; i < len / MiB; i++) {
        clock_step_to(&t, start + (i + 1) * piece_ns - 1);
        /* An engine that did not wait would have landed the piece. */
        g_usleep(10 * 1000);
        g_assert(space_equals(&t, SIMGPU_SPACE_VRAM1, i * MiB, zero, MiB));
        qtest_clock_step(t.qts, 1);
        wait_space(&t, SIMGPU_SPACE_VRAM1, i * MiB, src + i * MiB, MiB);
    }
    /* 40 ms of transfer, 2 ms of latency for the copy and the fence each. */
    clock_step_to(&t, start + 44 * SCALE_MS - 1);
    g_usleep(10 * 1000);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), !=, 12);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_FENCE_SEQNO_LO), !=, 12);
    qtest_clock_step(t.qts, 1);
    wait_reg(&t, SIMGPU_REG_FENCE_SEQNO_LO, ~0u, 12);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 12);
    simgpu_test_stop(&t);
}

/*
 * Device reset: every register back to its power-on value, including
 * while the engine is hung with queued work.
 */
static void test_system_reset(void)
{
    static const struct {
        uint64_t reg;
        uint32_t val;
    } power_on[] = {
        { SIMGPU_REG_SCRATCH, 0 },
        { SIMGPU_REG_INT_STATUS, 0 },
        { SIMGPU_REG_INT_MASK, 0 },
        { SIMGPU_REG_GART_BASE_LO, 0 },
        { SIMGPU_REG_GART_BASE_HI, 0 },
        { SIMGPU_REG_GART_ENTRIES, 0 },
        { SIMGPU_REG_RING_BASE_LO, 0 },
        { SIMGPU_REG_RING_BASE_HI, 0 },
        { SIMGPU_REG_RING_SIZE, 0 },
        { SIMGPU_REG_RING_HEAD, 0 },
        { SIMGPU_REG_RING_TAIL, 0 },
        { SIMGPU_REG_ENGINE_CTRL, 0 },
        { SIMGPU_REG_ENGINE_STATUS, SIMGPU_ENGINE_STATUS_IDLE },
        { SIMGPU_REG_ERROR_CODE, 0 },
        { SIMGPU_REG_ERROR_HEAD, 0 },
        { SIMGPU_REG_FENCE_SEQNO_LO, 0 },
        { SIMGPU_REG_FENCE_SEQNO_HI, 0 },
        { SIMGPU_REG_FAULT_FAIL_COUNT, 0 },
        { SIMGPU_REG_FAULT_HANG, 0 },
        { SIMGPU_REG_FAULT_STALL_US, 0 },
        { SIMGPU_REG_FAULT_RATE_PPM, 0 },
        { SIMGPU_REG_FAULT_REMOVED_MS, 0 },
    };
    SimgpuTest t;
    unsigned int i;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_SCRATCH, 0xdeadbeef);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, 0xdeadbeef);
    /* Read-only registers ignore writes. */
    reg_write(&t, SIMGPU_REG_ID, 0);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    reg_write(&t, SIMGPU_REG_RING_HEAD, 64);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, 0);

    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_GART, 0, 4096);
    engine_sync(&t);
    reg_write(&t, SIMGPU_REG_FAULT_STALL_US, 10);
    reg_write(&t, SIMGPU_REG_FAULT_RATE_PPM, 10);
    reg_write(&t, SIMGPU_REG_FAULT_FAIL_COUNT, 10);
    reg_write(&t, SIMGPU_REG_FAULT_HANG, 1);
    emit_nop(&t);
    ring_kick(&t);
    wait_reg(&t, SIMGPU_REG_ENGINE_STATUS, ~0u, SIMGPU_ENGINE_STATUS_HUNG);
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_COMMANDS), ==, 2);

    qtest_system_reset(t.qts);
    /* Reset disabled the device and its BARs; map them again. */
    qpci_device_enable(t.dev);
    t.regs = qpci_iomap(t.dev, SIMGPU_REG_BAR, NULL);
    for (i = 0; i < ARRAY_SIZE(power_on); i++) {
        g_assert_cmphex(reg_read(&t, power_on[i].reg), ==, power_on[i].val);
    }
    for (i = 0; i < SIMGPU_NUM_STATS; i++) {
        g_assert_cmpuint(stat_read(&t, i), ==, 0);
    }
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_GART_MAX_ENTRIES), ==, 256);
    g_assert_cmphex(qpci_config_readw(t.dev, PCI_STATUS) &
                    PCI_STATUS_INTERRUPT, ==, 0);

    /* And the engine works from scratch. */
    t.vram[0] = qpci_iomap(t.dev, SIMGPU_VRAM_BAR(0), NULL);
    t.vram[1] = qpci_iomap(t.dev, SIMGPU_VRAM_BAR(1), NULL);
    engine_setup(&t, 4096);
    emit_fill(&t, SIMGPU_SPACE_VRAM0, 0, 64, 7);
    engine_sync(&t);
    simgpu_test_stop(&t);
}

/* Wait until QMP command @cmd returns @key == @want. */
static void wait_qmp_str(QTestState *qts, const char *cmd, const char *key,
                         const char *want)
{
    int64_t deadline = g_get_monotonic_time() + TIMEOUT_US;

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': %s }", cmd);
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *val = ret ? qdict_get_try_str(ret, key) : NULL;
        bool done = val && !strcmp(val, want);

        g_assert(val && strcmp(val, "failed"));
        qobject_unref(rsp);
        if (done) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
}

/*
 * Migrate the test's VM through a file into a new QEMU with the device
 * properties @props, which then replaces it in @t (same guest memory
 * layout and BAR addresses).
 */
static void migrate(SimgpuTest *t, const char *props)
{
    g_autofree char *dir = g_dir_make_tmp("simgpu-test-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "state", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    QTestState *dst;

    g_assert(dir);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    wait_qmp_str(t->qts, "query-migrate", "status", "completed");
    dst = qtest_initf("-machine q35 -device simgpu,addr=04.0,%s"
                      " -incoming defer", props);
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming', "
                             "'arguments': { 'uri': %s } }", uri);
    wait_qmp_str(dst, "query-status", "status", "running");
    unlink(file);
    rmdir(dir);

    qtest_quit(t->qts);
    g_free(t->dev);
    qpci_free_pc(t->bus);
    t->qts = dst;
    t->bus = qpci_new_pc(dst, &t->alloc);
    t->dev = qpci_device_find(t->bus, SIMGPU_DEVFN);
    g_assert(t->dev);
}

/*
 * A VM stop, or a migration, in the middle of a long COPY (4 MiB, 1 MiB
 * pieces 10 ms apart): the engine pauses after its current piece instead
 * of holding the stop until the whole command is done, nothing moves while
 * the VM is stopped, and the copy resumes where it was, on the migration
 * destination too.  The copy overlaps its source, so starting it over
 * would copy bytes it had already moved: the result shows it.
 */
static void test_stop_mid_copy(gconstpointer data)
{
    const bool do_migrate = GPOINTER_TO_INT(data);
    const char *props = ENGINE_PROPS ",engine-bandwidth=100M";
    /*
     * 4 MiB: each read or write of the span through qtest's base64 costs
     * ~0.5 s per MiB here (8 MiB made this test 19 s, its migration
     * variant 11 s).
     */
    const size_t len = 4 * MiB, shift = 512 * KiB, span = len + shift;
    g_autofree uint8_t *want = g_malloc(span);
    g_autofree uint8_t *frozen = g_malloc(span);
    int64_t start;
    SimgpuTest t;

    simgpu_test_start(&t, props);
    engine_setup(&t, 4096);
    pattern(want, span, 21);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, want, span);
    memmove(want + shift, want, len);
    start = clock_now(&t);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_VRAM0, shift, len);
    emit_fence(&t, t.fence_addr, 21);
    ring_kick(&t);
    /* Backward (the destination is above the source): the top MiB first. */
    clock_step_to(&t, start + 20 * SCALE_MS);
    wait_space(&t, SIMGPU_SPACE_VRAM0, span - 2 * MiB, want + span - 2 * MiB,
               2 * MiB);

    if (do_migrate) {
        migrate(&t, props);
    } else {
        qtest_qmp_assert_success(t.qts, "{ 'execute': 'stop' }");
        space_read(&t, SIMGPU_SPACE_VRAM0, 0, frozen, span);
        g_assert(memcmp(frozen, want, span));
        qtest_clock_step(t.qts, 100 * SCALE_MS);
        g_usleep(20 * 1000);
        g_assert(space_equals(&t, SIMGPU_SPACE_VRAM0, 0, frozen, span));
        g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), !=, 21);
        qtest_qmp_assert_success(t.qts, "{ 'execute': 'cont' }");
    }
    wait_reg(&t, SIMGPU_REG_FENCE_SEQNO_LO, ~0u, 21);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ENGINE_STATUS), ==,
                    SIMGPU_ENGINE_STATUS_IDLE);
    g_assert(space_equals(&t, SIMGPU_SPACE_VRAM0, 0, want, span));
    g_assert_cmpuint(stat_read(&t, SIMGPU_STAT_BYTES_COPIED), ==, len);
    simgpu_test_stop(&t);
}

/*
 * Migration keeps the registers, the statistics, VRAM and the queued work,
 * which the engine executes on the destination.
 */
static void test_migration(void)
{
    const size_t len = 64 * KiB;
    g_autofree uint8_t *src = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    uint64_t fence, stats[SIMGPU_NUM_STATS];
    uint32_t head, tail;
    unsigned int i;
    SimgpuTest t;

    simgpu_test_start(&t, ENGINE_PROPS);
    gart_setup(&t);
    engine_setup(&t, 4096);
    reg_write(&t, SIMGPU_REG_SCRATCH, 0x5ca1ab1e);
    reg_write(&t, SIMGPU_REG_INT_MASK, SIMGPU_INT_FENCE);
    reg_write(&t, SIMGPU_REG_FAULT_STALL_US, 1);
    pattern(src, len, 9);
    space_write(&t, SIMGPU_SPACE_VRAM0, 0, src, len);
    emit_copy(&t, SIMGPU_SPACE_VRAM0, 0, SIMGPU_SPACE_GART, 0, len);
    engine_sync(&t);
    /* Work queued behind a disabled engine */
    reg_write(&t, SIMGPU_REG_ENGINE_CTRL, 0);
    emit_copy(&t, SIMGPU_SPACE_GART, 0, SIMGPU_SPACE_VRAM1, 4096, len);
    emit_fence(&t, t.fence_addr, 4242);
    ring_kick(&t);
    head = reg_read(&t, SIMGPU_REG_RING_HEAD);
    tail = reg_read(&t, SIMGPU_REG_RING_TAIL);
    g_assert_cmphex(tail, ==, t.tail);
    g_assert_cmphex(head, !=, tail);
    fence = reg_read64(&t, SIMGPU_REG_FENCE_SEQNO_LO);
    for (i = 0; i < SIMGPU_NUM_STATS; i++) {
        stats[i] = stat_read(&t, i);
    }

    migrate(&t, ENGINE_PROPS);

    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, 0x5ca1ab1e);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_INT_MASK), ==, SIMGPU_INT_FENCE);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_INT_STATUS), ==, SIMGPU_INT_FENCE);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_FAULT_STALL_US), ==, 1);
    g_assert_cmphex(reg_read64(&t, SIMGPU_REG_GART_BASE_LO), ==, t.gart);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_GART_ENTRIES), ==,
                     GART_TEST_PAGES);
    g_assert_cmphex(reg_read64(&t, SIMGPU_REG_RING_BASE_LO), ==, t.ring);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_RING_SIZE), ==, 4096);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_HEAD), ==, head);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_RING_TAIL), ==, tail);
    g_assert_cmphex(reg_read64(&t, SIMGPU_REG_FENCE_SEQNO_LO), ==, fence);
    for (i = 0; i < SIMGPU_NUM_STATS; i++) {
        g_assert_cmpuint(stat_read(&t, i), ==, stats[i]);
    }
    space_read(&t, SIMGPU_SPACE_VRAM0, 0, got, len);
    assert_bytes(got, src, len);

    reg_write(&t, SIMGPU_REG_ENGINE_CTRL, SIMGPU_ENGINE_CTRL_ENABLE);
    wait_reg(&t, SIMGPU_REG_FENCE_SEQNO_LO, ~0u, 4242);
    g_assert_cmphex(qtest_readq(t.qts, t.fence_addr), ==, 4242);
    space_read(&t, SIMGPU_SPACE_VRAM1, 4096, got, len);
    assert_bytes(got, src, len);
    simgpu_test_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/simgpu/identification", test_identification);
    qtest_add_func("/simgpu/bar-layout", test_bar_layout);
    qtest_add_func("/simgpu/vram-window", test_vram_window);
    qtest_add_func("/simgpu/bad-properties", test_bad_properties);
    qtest_add_func("/simgpu/property-help", test_property_help);
    qtest_add_func("/simgpu/engine/copy-spaces", test_copy_spaces);
    qtest_add_func("/simgpu/engine/copy-overlap", test_copy_overlap);
    qtest_add_func("/simgpu/engine/fill", test_fill);
    qtest_add_func("/simgpu/engine/fence-intx", test_fence_intx);
    qtest_add_func("/simgpu/engine/msix", test_msix);
    qtest_add_func("/simgpu/engine/msix-pending", test_msix_pending);
    qtest_add_func("/simgpu/engine/ring-wrap", test_ring_wrap);
    qtest_add_func("/simgpu/engine/sync", test_engine_sync);
    qtest_add_func("/simgpu/engine/bandwidth", test_bandwidth);
    qtest_add_func("/simgpu/errors/fail-count", test_fault_fail_count);
    qtest_add_func("/simgpu/errors/hang", test_fault_hang);
    qtest_add_func("/simgpu/errors/stall", test_fault_stall);
    qtest_add_func("/simgpu/errors/stall-stop", test_fault_stall_stop);
    qtest_add_func("/simgpu/errors/rate", test_fault_rate);
    qtest_add_func("/simgpu/errors/removed", test_fault_removed);
    qtest_add_func("/simgpu/errors/bad-commands", test_bad_commands);
    qtest_add_func("/simgpu/errors/bad-ring", test_bad_ring);
    qtest_add_func("/simgpu/errors/reset-busy", test_reset_busy);
    qtest_add_func("/simgpu/errors/bus-master-race",
                   test_dma_bus_master_race);
    qtest_add_func("/simgpu/system-reset", test_system_reset);
    qtest_add_func("/simgpu/migration", test_migration);
    qtest_add_data_func("/simgpu/engine/stop-mid-copy", GINT_TO_POINTER(0),
                        test_stop_mid_copy);
    qtest_add_data_func("/simgpu/engine/migrate-mid-copy", GINT_TO_POINTER(1),
                        test_stop_mid_copy);

    return g_test_run();
}
