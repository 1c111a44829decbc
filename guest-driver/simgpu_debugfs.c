// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu debugfs files, under /sys/kernel/debug/dri/<minor>/.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/seq_file.h>

#include <drm/drm_debugfs.h>
#include <drm/drm_file.h>

#include "simgpu_drv.h"

static int simgpu_info_show(struct seq_file *m, void *unused)
{
	struct drm_debugfs_entry *entry = m->private;
	struct simgpu_device *sdev = to_simgpu(entry->dev);
	unsigned int n;

	seq_printf(m, "hw_version %u.%u\n",
		   SIMGPU_VERSION_MAJOR(sdev->hw_version),
		   SIMGPU_VERSION_MINOR(sdev->hw_version));
	seq_printf(m, "hw_caps 0x%08x\n", sdev->hw_caps);
	for (n = 0; n < sdev->num_regions; n++)
		seq_printf(m, "vram%u size %llu visible %llu\n", n,
			   (u64)sdev->region[n].size,
			   (u64)sdev->region[n].visible_size);
	return 0;
}

/**
 * simgpu_debugfs_init - register the driver's debugfs files
 * @sdev: simgpu device, before drm_dev_register()
 *
 * The files appear when the DRM device is registered and go with it.
 */
void simgpu_debugfs_init(struct simgpu_device *sdev)
{
	drm_debugfs_add_file(&sdev->drm, "simgpu_info", simgpu_info_show, NULL);
}
