// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu VRAM resource manager: one per VRAM region, on the GPU buddy
 * allocator, as xe_ttm_vram_mgr and amdgpu_vram_mgr do.
 *
 * Every resource is allocated contiguous.  That keeps the engine copy of
 * a BO to one command, lets ttm_bo_move_memcpy() and the CPU fault path
 * map VRAM linearly through the BAR (&ttm_resource.bus.offset), and makes
 * "is it CPU-visible" a single comparison.  Fragmentation is handled by
 * TTM eviction: an allocation that finds no free block evicts.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/slab.h>

#include <drm/drm_buddy.h>
#include <drm/drm_print.h>

#include "simgpu_drv.h"

/**
 * struct simgpu_vram_res - a VRAM resource
 * @base: the TTM resource, embedded
 * @blocks: buddy blocks of the resource (one contiguous range)
 */
struct simgpu_vram_res {
	struct ttm_resource base;
	struct list_head blocks;
};

static struct simgpu_vram_mgr *to_vram_mgr(struct ttm_resource_manager *man)
{
	return container_of(man, struct simgpu_vram_mgr, manager);
}

static struct simgpu_vram_res *to_vram_res(struct ttm_resource *res)
{
	return container_of(res, struct simgpu_vram_res, base);
}

static int simgpu_vram_mgr_alloc(struct ttm_resource_manager *man,
				 struct ttm_buffer_object *tbo,
				 const struct ttm_place *place,
				 struct ttm_resource **res)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	u64 pages = man->size >> PAGE_SHIFT;
	unsigned long flags = GPU_BUDDY_CONTIGUOUS_ALLOCATION;
	struct gpu_buddy_block *block;
	struct simgpu_vram_res *vres;
	u64 lpfn = place->lpfn;
	int ret;

	if (!lpfn || lpfn > pages)
		lpfn = pages;
	if (place->fpfn >= lpfn ||
	    PFN_UP(tbo->base.size) > lpfn - place->fpfn)
		return -E2BIG; /* no eviction can make this fit */
	if (place->fpfn || lpfn != pages)
		flags |= GPU_BUDDY_RANGE_ALLOCATION;
	if (place->flags & TTM_PL_FLAG_TOPDOWN)
		flags |= GPU_BUDDY_TOPDOWN_ALLOCATION;

	vres = kzalloc_obj(*vres);
	if (!vres)
		return -ENOMEM;
	ttm_resource_init(tbo, place, &vres->base);
	INIT_LIST_HEAD(&vres->blocks);

	mutex_lock(&mgr->lock);
	ret = gpu_buddy_alloc_blocks(&mgr->mm, place->fpfn << PAGE_SHIFT,
				     lpfn << PAGE_SHIFT, vres->base.size,
				     PAGE_SIZE, &vres->blocks, flags);
	mutex_unlock(&mgr->lock);
	if (ret)
		goto err_fini;

	block = list_first_entry(&vres->blocks, struct gpu_buddy_block, link);
	vres->base.start = gpu_buddy_block_offset(block) >> PAGE_SHIFT;
	vres->base.placement |= TTM_PL_FLAG_CONTIGUOUS;
	*res = &vres->base;
	return 0;

err_fini:
	ttm_resource_fini(man, &vres->base);
	kfree(vres);
	/* TTM evicts on -ENOSPC; any buddy failure means "no room here". */
	return ret == -ENOMEM ? ret : -ENOSPC;
}

static void simgpu_vram_mgr_free(struct ttm_resource_manager *man,
				 struct ttm_resource *res)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	struct simgpu_vram_res *vres = to_vram_res(res);

	mutex_lock(&mgr->lock);
	gpu_buddy_free_list(&mgr->mm, &vres->blocks, 0);
	mutex_unlock(&mgr->lock);
	ttm_resource_fini(man, res);
	kfree(vres);
}

static void simgpu_place_range(struct ttm_resource_manager *man,
			       const struct ttm_place *place,
			       u64 *fpfn, u64 *lpfn)
{
	u64 pages = man->size >> PAGE_SHIFT;

	*fpfn = place->fpfn;
	*lpfn = place->lpfn && place->lpfn < pages ? place->lpfn : pages;
}

static bool simgpu_vram_mgr_intersects(struct ttm_resource_manager *man,
				       struct ttm_resource *res,
				       const struct ttm_place *place,
				       size_t size)
{
	u64 fpfn, lpfn;

	simgpu_place_range(man, place, &fpfn, &lpfn);
	return res->start < lpfn && res->start + PFN_UP(res->size) > fpfn;
}

static bool simgpu_vram_mgr_compatible(struct ttm_resource_manager *man,
				       struct ttm_resource *res,
				       const struct ttm_place *place,
				       size_t size)
{
	u64 fpfn, lpfn;

	simgpu_place_range(man, place, &fpfn, &lpfn);
	return res->start >= fpfn && res->start + PFN_UP(res->size) <= lpfn;
}

static void simgpu_vram_mgr_debug(struct ttm_resource_manager *man,
				  struct drm_printer *p)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);

	drm_printf(p, "visible: %llu MiB\n", mgr->visible_size >> 20);
	mutex_lock(&mgr->lock);
	drm_buddy_print(&mgr->mm, p);
	mutex_unlock(&mgr->lock);
}

static const struct ttm_resource_manager_func simgpu_vram_mgr_func = {
	.alloc = simgpu_vram_mgr_alloc,
	.free = simgpu_vram_mgr_free,
	.intersects = simgpu_vram_mgr_intersects,
	.compatible = simgpu_vram_mgr_compatible,
	.debug = simgpu_vram_mgr_debug,
};

/**
 * simgpu_vram_mgr_init - create the TTM manager of a VRAM region
 * @sdev: simgpu device, with its TTM device initialised
 * @region: index of the region
 *
 * Return: 0 or a negative error code.
 */
int simgpu_vram_mgr_init(struct simgpu_device *sdev, unsigned int region)
{
	struct simgpu_vram_mgr *mgr = &sdev->vram_mgr[region];
	struct ttm_resource_manager *man = &mgr->manager;
	int ret;

	mgr->region = region;
	mgr->mem_type = region ? SIMGPU_PL_VRAM1 : SIMGPU_PL_VRAM0;
	mgr->visible_size = sdev->region[region].visible_size;
	mutex_init(&mgr->lock);

	man->func = &simgpu_vram_mgr_func;
	ttm_resource_manager_init(man, &sdev->bdev, sdev->region[region].size);
	ret = gpu_buddy_init(&mgr->mm, man->size, PAGE_SIZE);
	if (ret) {
		mutex_destroy(&mgr->lock);
		return ret;
	}
	gpu_buddy_driver_set_lock(&mgr->mm, &mgr->lock);
	ttm_set_driver_manager(&sdev->bdev, mgr->mem_type, man);
	ttm_resource_manager_set_used(man, true);
	return 0;
}

/**
 * simgpu_vram_mgr_fini - evict everything from a VRAM region, tear down
 * @sdev: simgpu device
 * @region: index of the region
 *
 * Called before ttm_device_fini(); the manager must have been set up by
 * simgpu_vram_mgr_init().
 */
void simgpu_vram_mgr_fini(struct simgpu_device *sdev, unsigned int region)
{
	struct simgpu_vram_mgr *mgr = &sdev->vram_mgr[region];
	struct ttm_resource_manager *man = &mgr->manager;

	ttm_resource_manager_set_used(man, false);
	if (ttm_resource_manager_evict_all(&sdev->bdev, man))
		return; /* leak rather than free VRAM still in use */
	ttm_resource_manager_cleanup(man);
	ttm_set_driver_manager(&sdev->bdev, mgr->mem_type, NULL);
	gpu_buddy_fini(&mgr->mm);
	mutex_destroy(&mgr->lock);
}

/**
 * simgpu_vram_res_visible - is a resource reachable by the CPU?
 * @sdev: simgpu device
 * @res: a resource of any placement
 *
 * Return: true for TT and SYSTEM, and for VRAM wholly inside the
 * CPU-visible window of its region.
 */
bool simgpu_vram_res_visible(struct simgpu_device *sdev,
			     struct ttm_resource *res)
{
	struct simgpu_vram_mgr *mgr;

	if (!simgpu_mem_is_vram(res->mem_type))
		return true;
	mgr = &sdev->vram_mgr[res->mem_type == SIMGPU_PL_VRAM1];
	return ((u64)res->start << PAGE_SHIFT) + res->size <= mgr->visible_size;
}
