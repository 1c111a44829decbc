// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu VRAM resource manager: one per VRAM region, on the GPU buddy
 * allocator, as xe_ttm_vram_mgr and amdgpu_vram_mgr do.
 *
 * A resource is made of whatever buddy blocks are free: it is contiguous
 * only when its placement asks for it (TTM_PL_FLAG_CONTIGUOUS), or with
 * the module parameter vram_contiguous=1, which allocates every resource
 * contiguous as the driver once did (for comparison: more evictions in
 * a fragmented region, one engine command per move).  Everything that
 * reaches VRAM walks the blocks with a &struct simgpu_res_cursor: engine
 * moves and submissions (a command per piece), CPU copies and clears,
 * CPU faults (simgpu_io_mem_pfn()).
 *
 * A range-limited placement (the CPU-visible window) takes its blocks
 * from inside the range, wherever they are free there: a BO larger than
 * half the window fits without an aligned power-of-two block.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/slab.h>

#include <drm/drm_buddy.h>
#include <drm/drm_print.h>

#include "simgpu_drv.h"

static struct simgpu_vram_mgr *to_vram_mgr(struct ttm_resource_manager *man)
{
	return container_of(man, struct simgpu_vram_mgr, manager);
}

static bool simgpu_vram_blocks_contiguous(struct gpu_buddy *mm,
					  struct list_head *blocks)
{
	struct gpu_buddy_block *block, *next;

	list_for_each_entry(block, blocks, link) {
		if (list_is_last(&block->link, blocks))
			break;
		next = list_next_entry(block, link);
		if (gpu_buddy_block_offset(block) +
		    gpu_buddy_block_size(mm, block) !=
		    gpu_buddy_block_offset(next))
			return false;
	}
	return true;
}

/* Bytes of @blocks below @limit. */
static u64 simgpu_vram_blocks_below(struct gpu_buddy *mm,
				    struct list_head *blocks, u64 limit)
{
	struct gpu_buddy_block *block;
	u64 start, bytes = 0;

	list_for_each_entry(block, blocks, link) {
		start = gpu_buddy_block_offset(block);
		if (start < limit)
			bytes += min(start + gpu_buddy_block_size(mm, block),
				     limit) - start;
	}
	return bytes;
}

static int simgpu_vram_mgr_alloc(struct ttm_resource_manager *man,
				 struct ttm_buffer_object *tbo,
				 const struct ttm_place *place,
				 struct ttm_resource **res)
{
	struct simgpu_device *sdev = ttm_to_simgpu(man->bdev);
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	u64 pages = man->size >> PAGE_SHIFT;
	unsigned long flags = 0;
	struct gpu_buddy_block *block;
	struct simgpu_vram_res *vres;
	u64 lpfn = place->lpfn;
	int ret;

	if (!lpfn || lpfn > pages)
		lpfn = pages;
	if (place->fpfn >= lpfn ||
	    PFN_UP(tbo->base.size) > lpfn - place->fpfn)
		return -E2BIG; /* no eviction can make this fit */
	if ((place->flags & TTM_PL_FLAG_CONTIGUOUS) ||
	    READ_ONCE(simgpu_vram_contiguous))
		flags |= GPU_BUDDY_CONTIGUOUS_ALLOCATION;
	if (place->fpfn || lpfn != pages)
		flags |= GPU_BUDDY_RANGE_ALLOCATION;
	if (place->flags & TTM_PL_FLAG_TOPDOWN)
		flags |= GPU_BUDDY_TOPDOWN_ALLOCATION;

	vres = kzalloc_obj(*vres);
	if (!vres)
		return -ENOMEM;
	ttm_resource_init(tbo, place, &vres->base);
	INIT_LIST_HEAD(&vres->blocks);
	vres->mgr = mgr;

	mutex_lock(&mgr->lock);
	ret = gpu_buddy_alloc_blocks(&mgr->mm, place->fpfn << PAGE_SHIFT,
				     lpfn << PAGE_SHIFT, vres->base.size,
				     PAGE_SIZE, &vres->blocks, flags);
	if (ret)
		goto err_unlock;
	vres->num_blocks = list_count_nodes(&vres->blocks);
	vres->visible_bytes = simgpu_vram_blocks_below(&mgr->mm, &vres->blocks,
						       mgr->visible_size);
	if (simgpu_vram_blocks_contiguous(&mgr->mm, &vres->blocks)) {
		block = list_first_entry(&vres->blocks, struct gpu_buddy_block,
					 link);
		vres->base.start = gpu_buddy_block_offset(block) >> PAGE_SHIFT;
		vres->base.placement |= TTM_PL_FLAG_CONTIGUOUS;
	} else {
		/* Not an offset of anything: walk the blocks instead. */
		vres->base.start = pages;
		mgr->scattered++;
		atomic64_inc(&sdev->stats.vram_scattered);
	}
	mgr->used_blocks += vres->num_blocks;
	mutex_unlock(&mgr->lock);
	*res = &vres->base;
	return 0;

err_unlock:
	mutex_unlock(&mgr->lock);
	ttm_resource_fini(man, &vres->base);
	kfree(vres);
	/* TTM evicts on -ENOSPC; any buddy failure means "no room here". */
	return ret == -ENOMEM ? ret : -ENOSPC;
}

static void simgpu_vram_mgr_free(struct ttm_resource_manager *man,
				 struct ttm_resource *res)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	struct simgpu_vram_res *vres = to_simgpu_vram_res(res);

	mutex_lock(&mgr->lock);
	mgr->used_blocks -= vres->num_blocks;
	if (!(res->placement & TTM_PL_FLAG_CONTIGUOUS))
		mgr->scattered--;
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

/* Whether any block of @res overlaps @place's range. */
static bool simgpu_vram_mgr_intersects(struct ttm_resource_manager *man,
				       struct ttm_resource *res,
				       const struct ttm_place *place,
				       size_t size)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	struct simgpu_vram_res *vres = to_simgpu_vram_res(res);
	struct gpu_buddy_block *block;
	u64 fpfn, lpfn, start, end;

	simgpu_place_range(man, place, &fpfn, &lpfn);
	list_for_each_entry(block, &vres->blocks, link) {
		start = gpu_buddy_block_offset(block) >> PAGE_SHIFT;
		end = start + (gpu_buddy_block_size(&mgr->mm, block) >>
			       PAGE_SHIFT);
		if (start < lpfn && end > fpfn)
			return true;
	}
	return false;
}

/* Whether every block of @res is inside @place's range (and contiguous if asked). */
static bool simgpu_vram_mgr_compatible(struct ttm_resource_manager *man,
				       struct ttm_resource *res,
				       const struct ttm_place *place,
				       size_t size)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);
	struct simgpu_vram_res *vres = to_simgpu_vram_res(res);
	struct gpu_buddy_block *block;
	u64 fpfn, lpfn, start, end;

	if ((place->flags & TTM_PL_FLAG_CONTIGUOUS) &&
	    !(res->placement & TTM_PL_FLAG_CONTIGUOUS))
		return false;
	simgpu_place_range(man, place, &fpfn, &lpfn);
	list_for_each_entry(block, &vres->blocks, link) {
		start = gpu_buddy_block_offset(block) >> PAGE_SHIFT;
		end = start + (gpu_buddy_block_size(&mgr->mm, block) >>
			       PAGE_SHIFT);
		if (start < fpfn || end > lpfn)
			return false;
	}
	return true;
}

static void simgpu_vram_mgr_debug(struct ttm_resource_manager *man,
				  struct drm_printer *p)
{
	struct simgpu_vram_mgr *mgr = to_vram_mgr(man);

	drm_printf(p, "visible: %llu MiB\n", mgr->visible_size >> 20);
	mutex_lock(&mgr->lock);
	/* With free_blocks per order below: how fragmented the region is. */
	drm_printf(p, "used_blocks: %lu, scattered_resources: %lu\n",
		   mgr->used_blocks, mgr->scattered);
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
	if (!io_mapping_init_wc(&mgr->iomap, sdev->region[region].io_start,
				mgr->visible_size))
		return -ENOMEM;
	mutex_init(&mgr->lock);

	man->func = &simgpu_vram_mgr_func;
	ttm_resource_manager_init(man, &sdev->bdev, sdev->region[region].size);
	ret = gpu_buddy_init(&mgr->mm, man->size, PAGE_SIZE);
	if (ret) {
		mutex_destroy(&mgr->lock);
		io_mapping_fini(&mgr->iomap);
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
	io_mapping_fini(&mgr->iomap);
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
	if (!simgpu_mem_is_vram(res->mem_type))
		return true;
	return to_simgpu_vram_res(res)->visible_bytes == res->size;
}

/**
 * simgpu_vram_mgr_blocks - how scattered a region's resources are
 * @sdev: simgpu device
 * @region: index of the region
 * @blocks: returns the buddy blocks of its live resources
 * @scattered: returns how many of those resources are not contiguous
 */
void simgpu_vram_mgr_blocks(struct simgpu_device *sdev, unsigned int region,
			    unsigned long *blocks, unsigned long *scattered)
{
	struct simgpu_vram_mgr *mgr = &sdev->vram_mgr[region];

	mutex_lock(&mgr->lock);
	*blocks = mgr->used_blocks;
	*scattered = mgr->scattered;
	mutex_unlock(&mgr->lock);
}
