/*
 * QTest testcase for the simgpu device
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "hw/display/simgpu_hw.h"

#define SIMGPU_DEVFN QPCI_DEVFN(4, 0)

typedef struct SimgpuTest {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar regs;
} SimgpuTest;

static void simgpu_test_start(SimgpuTest *t, const char *props)
{
    t->qts = qtest_initf("-machine q35 -device simgpu,addr=04.0%s%s",
                         props ? "," : "", props ? props : "");
    t->bus = qpci_new_pc(t->qts, NULL);
    t->dev = qpci_device_find(t->bus, SIMGPU_DEVFN);
    g_assert_nonnull(t->dev);
    qpci_device_enable(t->dev);
    t->regs = qpci_iomap(t->dev, SIMGPU_REG_BAR, NULL);
}

static void simgpu_test_stop(SimgpuTest *t)
{
    qpci_iounmap(t->dev, t->regs);
    g_free(t->dev);
    qpci_free_pc(t->bus);
    qtest_quit(t->qts);
}

static uint32_t reg_read(SimgpuTest *t, uint64_t reg)
{
    return qpci_io_readl(t->dev, t->regs, reg);
}

static uint64_t region_read64(SimgpuTest *t, unsigned int n, uint64_t lo)
{
    uint64_t base = SIMGPU_REG_REGION_BASE(n) + lo;

    return reg_read(t, base) | (uint64_t)reg_read(t, base + 4) << 32;
}

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

    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);
    version = reg_read(&t, SIMGPU_REG_VERSION);
    g_assert_cmpuint(version, ==, SIMGPU_VERSION_CURRENT);
    /* Whole VRAM visible by default: no small-BAR capability. */
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_CAPS), ==, SIMGPU_CAP_VRAM);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_NUM_REGIONS), ==, 1);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_SIZE_LO), ==,
                     256 * MiB);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_VISIBLE_LO), ==,
                     256 * MiB);
    /* An absent region reads as zero. */
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_SIZE_LO), ==, 0);
    simgpu_test_stop(&t);
}

static void test_bar_layout(void)
{
    SimgpuTest t;
    uint64_t size0, size1;
    QPCIBar bar0, bar1;
    uint32_t bar_cfg;

    simgpu_test_start(&t, "regions=2,vram0-size=48M,vram0-visible-size=16M,"
                      "vram1-size=8M");
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_CAPS), ==,
                    SIMGPU_CAP_VRAM | SIMGPU_CAP_SMALL_BAR);
    g_assert_cmpuint(reg_read(&t, SIMGPU_REG_NUM_REGIONS), ==, 2);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_SIZE_LO), ==, 48 * MiB);
    g_assert_cmpuint(region_read64(&t, 0, SIMGPU_REGION_VISIBLE_LO), ==,
                     16 * MiB);
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_SIZE_LO), ==, 8 * MiB);
    g_assert_cmpuint(region_read64(&t, 1, SIMGPU_REGION_VISIBLE_LO), ==,
                     8 * MiB);

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
    g_autofree uint8_t *pattern = g_malloc(len);
    g_autofree uint8_t *readback = g_malloc(len);
    uint64_t offsets[] = { 0, 4 * MiB - len / 2, 8 * MiB - len };
    SimgpuTest t;
    unsigned int n, i;
    size_t j;

    simgpu_test_start(&t, "regions=2,vram0-size=32M,vram0-visible-size=8M,"
                      "vram1-size=8M");
    for (n = 0; n < 2; n++) {
        QPCIBar bar = qpci_iomap(t.dev, SIMGPU_VRAM_BAR(n), NULL);

        for (i = 0; i < ARRAY_SIZE(offsets); i++) {
            uint32_t x = 0x9e3779b9u * (n * 16 + i + 1);

            for (j = 0; j < len; j++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                pattern[j] = x;
            }
            qpci_memwrite(t.dev, bar, offsets[i], pattern, len);
            qpci_memread(t.dev, bar, offsets[i], readback, len);
            g_assert(memcmp(pattern, readback, len) == 0);
        }
        qpci_iounmap(t.dev, bar);
    }
    simgpu_test_stop(&t);
}

static void test_scratch_and_reset(void)
{
    SimgpuTest t;

    simgpu_test_start(&t, NULL);
    qpci_io_writel(t.dev, t.regs, SIMGPU_REG_SCRATCH, 0xdeadbeef);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, 0xdeadbeef);
    /* Read-only registers ignore writes. */
    qpci_io_writel(t.dev, t.regs, SIMGPU_REG_ID, 0);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_ID), ==, SIMGPU_ID_MAGIC);

    qtest_system_reset(t.qts);
    /* Reset disabled the device; enable it again to reach its BAR. */
    qpci_device_enable(t.dev);
    g_assert_cmphex(reg_read(&t, SIMGPU_REG_SCRATCH), ==, 0);
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
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned int i;

    g_assert_nonnull(qemu);
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
        g_assert_false(g_spawn_check_wait_status(status, NULL));
        if (!strstr(err, cases[i].error)) {
            g_test_message("props %s: stderr was: %s", cases[i].props, err);
            g_assert_not_reached();
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/simgpu/identification", test_identification);
    qtest_add_func("/simgpu/bar-layout", test_bar_layout);
    qtest_add_func("/simgpu/vram-window", test_vram_window);
    qtest_add_func("/simgpu/scratch-and-reset", test_scratch_and_reset);
    qtest_add_func("/simgpu/bad-properties", test_bad_properties);

    return g_test_run();
}
