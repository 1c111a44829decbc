/*
 * simgpu: a simulated discrete GPU for testing GPU memory management
 *
 * The device models what a TTM driver has to manage on a discrete GPU:
 * one or two VRAM regions, each exposed to the CPU through its own 64-bit
 * prefetchable BAR which may be smaller than the region (small-BAR), and a
 * register BAR describing them.  The register interface is defined in
 * simgpu_hw.h, which the Linux driver shares.
 *
 * Copyright (c) 2026 The simgpu authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/qdev-properties.h"
#include "hw/display/simgpu_hw.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "trace.h"

#define TYPE_SIMGPU "simgpu"
OBJECT_DECLARE_SIMPLE_TYPE(SimgpuState, SIMGPU)

/*
 * Largest VRAM region accepted.  VRAM is host RAM committed on first touch,
 * so this bounds address arithmetic rather than host memory use.
 */
#define SIMGPU_VRAM_MAX        (64 * GiB)

typedef struct SimgpuRegion {
    MemoryRegion vram;      /* the whole region, host RAM */
    MemoryRegion bar;       /* the BAR: its first @visible bytes alias @vram */
    MemoryRegion window;    /* alias of vram[0, visible) inside @bar */
    uint64_t size;
    uint64_t visible;
} SimgpuRegion;

struct SimgpuState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    SimgpuRegion region[SIMGPU_MAX_REGIONS];

    /* Guest-visible register state, migrated. */
    uint32_t scratch;

    /* Properties */
    uint32_t num_regions;
    uint64_t prop_size[SIMGPU_MAX_REGIONS];
    uint64_t prop_visible[SIMGPU_MAX_REGIONS];
};

static uint32_t simgpu_caps(SimgpuState *s)
{
    uint32_t caps = SIMGPU_CAP_VRAM;
    unsigned int i;

    for (i = 0; i < s->num_regions; i++) {
        if (s->region[i].visible < s->region[i].size) {
            caps |= SIMGPU_CAP_SMALL_BAR;
        }
    }
    return caps;
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
    case SIMGPU_REG_REGION_BASE(0) ...
         SIMGPU_REG_REGION_BASE(SIMGPU_MAX_REGIONS) - 1:
        val = simgpu_region_read(s, addr);
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

static void simgpu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    SimgpuState *s = opaque;

    trace_simgpu_mmio_write(addr, val);
    switch (addr) {
    case SIMGPU_REG_SCRATCH:
        s->scratch = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "simgpu: write 0x%" PRIx64 " to read-only or unknown "
                      "register 0x%" HWADDR_PRIx "\n", val, addr);
        break;
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

static void simgpu_realize(PCIDevice *pdev, Error **errp)
{
    SimgpuState *s = SIMGPU(pdev);
    Object *obj = OBJECT(pdev);
    unsigned int i;

    if (s->num_regions < 1 || s->num_regions > SIMGPU_MAX_REGIONS) {
        error_setg(errp, "regions must be 1 or %d (got %u)",
                   SIMGPU_MAX_REGIONS, s->num_regions);
        return;
    }
    for (i = 0; i < s->num_regions; i++) {
        if (!simgpu_check_region(s, i, errp)) {
            return;
        }
    }

    memory_region_init_io(&s->mmio, obj, &simgpu_mmio_ops, s,
                          "simgpu-regs", SIMGPU_REG_BAR_SIZE);
    pci_register_bar(pdev, SIMGPU_REG_BAR, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->mmio);

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
}

static void simgpu_reset_hold(Object *obj, ResetType type)
{
    SimgpuState *s = SIMGPU(obj);

    s->scratch = 0;
}

static const VMStateDescription vmstate_simgpu = {
    .name = TYPE_SIMGPU,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, SimgpuState),
        VMSTATE_UINT32(scratch, SimgpuState),
        VMSTATE_END_OF_LIST()
    },
};

static const Property simgpu_properties[] = {
    DEFINE_PROP_UINT32("regions", SimgpuState, num_regions, 1),
    DEFINE_PROP_SIZE("vram0-size", SimgpuState, prop_size[0], 256 * MiB),
    DEFINE_PROP_SIZE("vram0-visible-size", SimgpuState, prop_visible[0], 0),
    DEFINE_PROP_SIZE("vram1-size", SimgpuState, prop_size[1], 256 * MiB),
    DEFINE_PROP_SIZE("vram1-visible-size", SimgpuState, prop_visible[1], 0),
};

static void simgpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = simgpu_realize;
    k->vendor_id = SIMGPU_PCI_VENDOR_ID;
    k->device_id = SIMGPU_PCI_DEVICE_ID;
    k->revision = SIMGPU_PCI_REVISION;
    k->class_id = PCI_CLASS_DISPLAY_OTHER;
    rc->phases.hold = simgpu_reset_hold;
    dc->desc = "simulated discrete GPU with VRAM (for memory-management tests)";
    dc->vmsd = &vmstate_simgpu;
    device_class_set_props(dc, simgpu_properties);
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
}

static const TypeInfo simgpu_info = {
    .name = TYPE_SIMGPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SimgpuState),
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
