// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu ioctls.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <drm/drm_device.h>
#include <drm/drm_file.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

static_assert(DRM_SIMGPU_MAX_REGIONS >= SIMGPU_MAX_REGIONS);

/**
 * simgpu_device_query_ioctl - DRM_IOCTL_SIMGPU_DEVICE_QUERY
 * @drm: DRM device
 * @data: struct drm_simgpu_device_query, copied in and out by the DRM core
 * @file: DRM file of the caller
 *
 * Reports the hardware version, capabilities and VRAM regions.
 *
 * Return: 0, or -EINVAL if @data has flags set.
 */
int simgpu_device_query_ioctl(struct drm_device *drm, void *data,
			      struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_device_query *args = data;
	unsigned int n;

	if (args->flags)
		return -EINVAL;

	args->hw_version = sdev->hw_version;
	args->hw_caps = sdev->hw_caps;
	args->num_regions = sdev->num_regions;
	memset(args->regions, 0, sizeof(args->regions));
	for (n = 0; n < sdev->num_regions; n++) {
		args->regions[n].size = sdev->region[n].size;
		args->regions[n].visible_size = sdev->region[n].visible_size;
	}
	return 0;
}
