// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu hardware discovery: identify the device and read its VRAM layout.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/pci.h>

#include <drm/drm_print.h>

#include "simgpu_drv.h"

static u64 simgpu_read_region64(struct simgpu_device *sdev, unsigned int n,
				u32 lo)
{
	u32 reg = SIMGPU_REG_REGION_BASE(n) + lo;

	return simgpu_read(sdev, reg) | (u64)simgpu_read(sdev, reg + 4) << 32;
}

static int simgpu_region_init(struct simgpu_device *sdev, struct pci_dev *pdev,
			      unsigned int n)
{
	struct simgpu_vram_region *r = &sdev->region[n];
	int bar = SIMGPU_VRAM_BAR(n);
	int ret;

	r->size = simgpu_read_region64(sdev, n, SIMGPU_REGION_SIZE_LO);
	r->visible_size = simgpu_read_region64(sdev, n, SIMGPU_REGION_VISIBLE_LO);

	if (!r->size || r->visible_size > r->size) {
		drm_err(&sdev->drm, "vram%u: bad layout (size %pa, visible %pa)\n",
			n, &r->size, &r->visible_size);
		return -ENODEV;
	}
	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, bar) != r->visible_size) {
		drm_err(&sdev->drm, "vram%u: BAR%d does not match the %pa bytes visible\n",
			n, bar, &r->visible_size);
		return -ENODEV;
	}

	ret = pcim_request_region(pdev, bar, DRIVER_NAME);
	if (ret)
		return ret;
	r->io_start = pci_resource_start(pdev, bar);

	drm_info(&sdev->drm, "vram%u: %llu MiB, %llu MiB CPU-visible at %pa\n",
		 n, (u64)r->size >> 20, (u64)r->visible_size >> 20,
		 &r->io_start);
	return 0;
}

/**
 * simgpu_hw_init - identify the device and discover its VRAM regions
 * @sdev: simgpu device, with @sdev->regs mapped
 * @pdev: its PCI device
 *
 * Checks the identification and version registers, reads the capability
 * bits and the layout of every VRAM region, and claims the VRAM BARs after
 * checking that each one is as large as its region's CPU-visible part.
 *
 * Return: 0 on success, -ENODEV if the device is not a simgpu this driver
 * supports, or another negative error code.
 */
int simgpu_hw_init(struct simgpu_device *sdev, struct pci_dev *pdev)
{
	unsigned int n;
	u32 id;
	int ret;

	id = simgpu_read(sdev, SIMGPU_REG_ID);
	if (id != SIMGPU_ID_MAGIC) {
		drm_err(&sdev->drm, "unexpected ID 0x%08x\n", id);
		return -ENODEV;
	}
	sdev->hw_version = simgpu_read(sdev, SIMGPU_REG_VERSION);
	if (SIMGPU_VERSION_MAJOR(sdev->hw_version) !=
	    SIMGPU_VERSION_MAJOR(SIMGPU_VERSION_CURRENT)) {
		drm_err(&sdev->drm, "unsupported hardware version %u.%u\n",
			SIMGPU_VERSION_MAJOR(sdev->hw_version),
			SIMGPU_VERSION_MINOR(sdev->hw_version));
		return -ENODEV;
	}
	sdev->hw_caps = simgpu_read(sdev, SIMGPU_REG_CAPS);
	if (!(sdev->hw_caps & SIMGPU_CAP_VRAM)) {
		drm_err(&sdev->drm, "device has no VRAM\n");
		return -ENODEV;
	}

	sdev->num_regions = simgpu_read(sdev, SIMGPU_REG_NUM_REGIONS);
	if (!sdev->num_regions || sdev->num_regions > SIMGPU_MAX_REGIONS) {
		drm_err(&sdev->drm, "bad number of VRAM regions %u\n",
			sdev->num_regions);
		return -ENODEV;
	}
	for (n = 0; n < sdev->num_regions; n++) {
		ret = simgpu_region_init(sdev, pdev, n);
		if (ret)
			return ret;
	}

	if (sdev->hw_caps & SIMGPU_CAP_GART)
		sdev->gart_max_entries = simgpu_read(sdev,
						     SIMGPU_REG_GART_MAX_ENTRIES);

	drm_info(&sdev->drm, "simgpu hardware %u.%u, caps 0x%08x\n",
		 SIMGPU_VERSION_MAJOR(sdev->hw_version),
		 SIMGPU_VERSION_MINOR(sdev->hw_version), sdev->hw_caps);
	return 0;
}
