// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu: DRM driver for the simgpu simulated discrete GPU.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

bool simgpu_force_cpu_copy;
module_param_named(force_cpu_copy, simgpu_force_cpu_copy, bool, 0644);
MODULE_PARM_DESC(force_cpu_copy, "Move buffer objects with the CPU, never the engine (writable at run time: each move reads it)");

unsigned int simgpu_timeout_ms = 1000;
module_param_named(timeout_ms, simgpu_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "Engine progress timeout before a reset, in ms (default 1000)");

unsigned long simgpu_test_bugs;
module_param_named(test_bugs, simgpu_test_bugs, ulong, 0600);
MODULE_PARM_DESC(test_bugs, "Bitmask of deliberate defects (enum simgpu_test_bug), only to show that the tests catch them (default 0)");

static const char *const simgpu_pool_names[] = {
	[SIMGPU_POOL_NORMAL] = "normal",
	[SIMGPU_POOL_DMA32] = "dma32",
	[SIMGPU_POOL_COHERENT] = "coherent",
};

int simgpu_pool_mode = SIMGPU_POOL_NORMAL;

/* Unknown names fail modprobe rather than a later probe. */
static int simgpu_pool_set(const char *val, const struct kernel_param *kp)
{
	int mode = sysfs_match_string(simgpu_pool_names, val);

	if (mode < 0)
		return -EINVAL;
	*(int *)kp->arg = mode;
	return 0;
}

static int simgpu_pool_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", simgpu_pool_names[*(int *)kp->arg]);
}

static const struct kernel_param_ops simgpu_pool_ops = {
	.set = simgpu_pool_set,
	.get = simgpu_pool_get,
};

module_param_cb(pool, &simgpu_pool_ops, &simgpu_pool_mode, 0444);
MODULE_PARM_DESC(pool, "Pages of BOs in system memory: normal, dma32 or coherent (dma_alloc; only TTM's watermark swapout reclaims them)");

bool simgpu_watermark_swapout;
module_param_named(watermark_swapout, simgpu_watermark_swapout, bool, 0444);
MODULE_PARM_DESC(watermark_swapout, "Leave BO pages to TTM's watermark swapout (ttm.pages_limit) instead of the driver's shrinker (implied by pool=coherent)");

bool simgpu_vram_contiguous;
module_param_named(vram_contiguous, simgpu_vram_contiguous, bool, 0644);
MODULE_PARM_DESC(vram_contiguous, "Allocate every VRAM resource as one contiguous range, as the driver once did (default: scattered buddy blocks; writable at run time, for comparisons)");

bool simgpu_sync_moves;
module_param_named(sync_moves, simgpu_sync_moves, bool, 0644);
MODULE_PARM_DESC(sync_moves, "Wait for each engine move before committing it, as the driver once did (default: pipelined moves, committed with their fence as xe and amdgpu do; writable at run time, for comparisons)");

bool simgpu_evict_to_system;
module_param_named(evict_to_system, simgpu_evict_to_system, bool, 0644);
MODULE_PARM_DESC(evict_to_system, "Evict VRAM buffer objects on to system memory, out of the GART, instead of leaving them in TT (an eviction-policy example, docs/prototyping.md; default: no; writable at run time: each eviction reads it)");

bool simgpu_p2p = true;
module_param_named(p2p, simgpu_p2p, bool, 0644);
MODULE_PARM_DESC(p2p, "Let dma-buf importers on other PCI devices reach VRAM through the BAR when the PCI topology allows peer-to-peer DMA (default: yes; no: exported BOs are always mapped in TT; writable at run time)");

bool simgpu_dynamic_import = true;
module_param_named(dynamic_import, simgpu_dynamic_import, bool, 0644);
MODULE_PARM_DESC(dynamic_import, "Import dma-bufs dynamically, following the exporter's invalidations (default: yes; no: attach statically, as a driver without invalidation support does, which makes a dynamic exporter pin the buffer while it is mapped; read at each import)");

static const struct drm_ioctl_desc simgpu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(SIMGPU_DEVICE_QUERY, simgpu_device_query_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_GEM_CREATE, simgpu_gem_create_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_GEM_MMAP_OFFSET, simgpu_gem_mmap_offset_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_GEM_QUERY, simgpu_gem_query_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_GEM_MIGRATE, simgpu_gem_migrate_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_SUBMIT, simgpu_submit_ioctl,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_WAIT, simgpu_wait_ioctl, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(SIMGPU_GEM_MADVISE, simgpu_gem_madvise_ioctl,
			  DRM_RENDER_ALLOW),
};

static const struct file_operations simgpu_fops = {
	.owner = THIS_MODULE,
	DRM_GEM_FOPS,
	.show_fdinfo = drm_show_fdinfo,
};

/* Per-client memory in /proc/PID/fdinfo: total, shared, resident, purgeable. */
static void simgpu_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	drm_show_memory_stats(p, file);
}

static const struct drm_driver simgpu_drm_driver = {
	.driver_features = DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ |
			   DRIVER_SYNCOBJ_TIMELINE,
	.open = simgpu_file_open,
	.postclose = simgpu_file_close,
	.show_fdinfo = simgpu_show_fdinfo,
	.gem_prime_import = simgpu_gem_prime_import,
	.ioctls = simgpu_ioctls,
	.num_ioctls = ARRAY_SIZE(simgpu_ioctls),
	.fops = &simgpu_fops,
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	.major = DRIVER_MAJOR,
	.minor = DRIVER_MINOR,
};

/* Last reference to the DRM device gone: free what outlives the hardware. */
static void simgpu_drm_release(struct drm_device *drm, void *arg)
{
	struct simgpu_device *sdev = arg;

	if (sdev->ttm_ready)
		simgpu_ttm_fini(sdev);
	simgpu_sched_fini(sdev);
	simgpu_migrate_fini(sdev);
	simgpu_engine_release(sdev);
}

static int simgpu_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *ent)
{
	struct simgpu_device *sdev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	/* The GART maps any scatterlist, page by page (dma-buf imports). */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);

	sdev = devm_drm_dev_alloc(&pdev->dev, &simgpu_drm_driver,
				  struct simgpu_device, drm);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	sdev->pdev = pdev;
	pci_set_drvdata(pdev, sdev);

	sdev->regs = pcim_iomap_region(pdev, SIMGPU_REG_BAR, DRIVER_NAME);
	if (IS_ERR(sdev->regs))
		return PTR_ERR(sdev->regs);

	ret = simgpu_hw_init(sdev, pdev);
	if (ret)
		return ret;

	ret = drmm_add_action_or_reset(&sdev->drm, simgpu_drm_release, sdev);
	if (ret)
		return ret;

	ret = simgpu_engine_init(sdev);
	if (ret)
		return ret;
	ret = simgpu_migrate_init(sdev);
	if (ret)
		goto err_engine;
	ret = simgpu_sched_init(sdev);
	if (ret)
		goto err_engine;
	ret = simgpu_ttm_init(sdev);
	if (ret)
		goto err_engine;
	sdev->ttm_ready = true;
	ret = simgpu_shrinker_init(sdev);
	if (ret)
		goto err_engine;

	simgpu_debugfs_init(sdev);
	ret = drm_dev_register(&sdev->drm, 0);
	if (ret)
		goto err_shrinker;
	return 0;

err_shrinker:
	simgpu_shrinker_fini(sdev);
err_engine:
	simgpu_engine_fini(sdev);
	return ret;
}

static void simgpu_pci_remove(struct pci_dev *pdev)
{
	struct simgpu_device *sdev = pci_get_drvdata(pdev);

	drm_dev_unplug(&sdev->drm);
	simgpu_shrinker_fini(sdev);
	/* CPU mappings of BOs fault again, onto a dummy page. */
	unmap_mapping_range(sdev->drm.anon_inode->i_mapping, 0, 0, 1);
	simgpu_engine_fini(sdev);
	/*
	 * Nothing reaches the hardware any more.  Give back every DMA
	 * mapping and allocation now, not when the last open file lets go
	 * of the DRM device: the BOs' pages (their content is gone with the
	 * device), the GART table, the ring.
	 */
	simgpu_shrinker_unplug(sdev);
	simgpu_gart_hw_fini(sdev);
	simgpu_engine_hw_release(sdev);
}

static const struct pci_device_id simgpu_pci_ids[] = {
	{ PCI_DEVICE(SIMGPU_PCI_VENDOR_ID, SIMGPU_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, simgpu_pci_ids);

static struct pci_driver simgpu_pci_driver = {
	.name = DRIVER_NAME,
	.id_table = simgpu_pci_ids,
	.probe = simgpu_pci_probe,
	.remove = simgpu_pci_remove,
};
module_pci_driver(simgpu_pci_driver);

MODULE_DESCRIPTION(DRIVER_DESC);
MODULE_AUTHOR("The simgpu authors");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
