/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The simgpu authors */

#ifndef SIMGPU_DRV_H
#define SIMGPU_DRV_H

#include <linux/io.h>
#include <linux/types.h>
#include <drm/drm_device.h>

#include "simgpu_hw.h"

#define DRIVER_NAME	"simgpu"
#define DRIVER_DESC	"simgpu simulated discrete GPU"
#define DRIVER_MAJOR	0
#define DRIVER_MINOR	1

struct pci_dev;

/**
 * struct simgpu_vram_region - one VRAM region and the BAR that exposes it
 * @size: bytes of VRAM in the region
 * @visible_size: bytes at the start of the region reachable through the BAR
 * @io_start: bus address of the BAR (CPU view of VRAM offset 0)
 */
struct simgpu_vram_region {
	resource_size_t size;
	resource_size_t visible_size;
	resource_size_t io_start;
};

/**
 * struct simgpu_device - driver state of one simgpu
 * @drm: the DRM device, embedded
 * @regs: mapped register BAR
 * @hw_version: the device's version register
 * @hw_caps: the device's capability bits
 * @num_regions: number of VRAM regions in @region
 * @region: the VRAM regions
 *
 * All fields are set during probe and read-only afterwards.
 */
struct simgpu_device {
	struct drm_device drm;
	void __iomem *regs;
	u32 hw_version;
	u32 hw_caps;
	unsigned int num_regions;
	struct simgpu_vram_region region[SIMGPU_MAX_REGIONS];
};

static inline struct simgpu_device *to_simgpu(struct drm_device *drm)
{
	return container_of(drm, struct simgpu_device, drm);
}

static inline u32 simgpu_read(struct simgpu_device *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void simgpu_write(struct simgpu_device *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

int simgpu_hw_init(struct simgpu_device *sdev, struct pci_dev *pdev);
void simgpu_debugfs_init(struct simgpu_device *sdev);

int simgpu_device_query_ioctl(struct drm_device *drm, void *data,
			      struct drm_file *file);

#endif /* SIMGPU_DRV_H */
