// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu: DRM driver for the simgpu simulated discrete GPU.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/module.h>
#include <linux/pci.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

static const struct drm_ioctl_desc simgpu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(SIMGPU_DEVICE_QUERY, simgpu_device_query_ioctl,
			  DRM_RENDER_ALLOW),
};

DEFINE_DRM_GEM_FOPS(simgpu_fops);

static const struct drm_driver simgpu_drm_driver = {
	.driver_features = DRIVER_GEM | DRIVER_RENDER,
	.ioctls = simgpu_ioctls,
	.num_ioctls = ARRAY_SIZE(simgpu_ioctls),
	.fops = &simgpu_fops,
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	.major = DRIVER_MAJOR,
	.minor = DRIVER_MINOR,
};

static int simgpu_pci_probe(struct pci_dev *pdev,
			    const struct pci_device_id *ent)
{
	struct simgpu_device *sdev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);

	sdev = devm_drm_dev_alloc(&pdev->dev, &simgpu_drm_driver,
				  struct simgpu_device, drm);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	pci_set_drvdata(pdev, sdev);

	sdev->regs = pcim_iomap_region(pdev, SIMGPU_REG_BAR, DRIVER_NAME);
	if (IS_ERR(sdev->regs))
		return PTR_ERR(sdev->regs);

	ret = simgpu_hw_init(sdev, pdev);
	if (ret)
		return ret;

	simgpu_debugfs_init(sdev);
	return drm_dev_register(&sdev->drm, 0);
}

static void simgpu_pci_remove(struct pci_dev *pdev)
{
	struct simgpu_device *sdev = pci_get_drvdata(pdev);

	drm_dev_unplug(&sdev->drm);
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
