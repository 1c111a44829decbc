// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu ioctls: device query and buffer objects.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-resv.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include <drm/drm_device.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_utils.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

static_assert(DRM_SIMGPU_MAX_REGIONS >= SIMGPU_MAX_REGIONS);
static_assert(DRM_SIMGPU_NUM_MEM == SIMGPU_NUM_MEM);

/**
 * simgpu_device_query_ioctl - DRM_IOCTL_SIMGPU_DEVICE_QUERY
 * @drm: DRM device
 * @data: struct drm_simgpu_device_query, copied in and out by the DRM core
 * @file: DRM file of the caller
 *
 * Reports the hardware version, capabilities, VRAM regions, GART size and
 * the driver's statistics.
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
	args->gart_size = (u64)sdev->gart.entries << SIMGPU_GART_PAGE_SHIFT;
	args->tt_size = simgpu_gart_tt_size(sdev);
	simgpu_stats_read(sdev, &args->stats);
	return 0;
}

/**
 * simgpu_stats_read - a snapshot of the driver's statistics
 * @sdev: simgpu device
 * @out: filled with the counters
 *
 * Each counter is read atomically; the snapshot as a whole is not.
 */
void simgpu_stats_read(struct simgpu_device *sdev, struct drm_simgpu_stats *out)
{
	const struct simgpu_stats *st = &sdev->stats;
	const struct simgpu_shrinker *sh = &sdev->shrinker;
	unsigned int s, d;

	for (s = 0; s < SIMGPU_NUM_MEM; s++)
		for (d = 0; d < SIMGPU_NUM_MEM; d++)
			out->evictions[s][d] = atomic64_read(&st->evictions[s][d]);
	out->engine_bytes = atomic64_read(&st->engine_bytes);
	out->cpu_bytes = atomic64_read(&st->cpu_bytes);
	out->engine_fallbacks = atomic64_read(&st->engine_fallbacks);
	out->engine_errors = atomic64_read(&st->engine_errors);
	out->engine_resets = atomic64_read(&st->engine_resets);
	out->invisible_faults = atomic64_read(&st->invisible_faults);
	out->submits = atomic64_read(&st->submits);
	out->pages_purged = atomic64_read(&sh->purged);
	out->pages_backed_up = atomic64_read(&sh->backups);
	out->pages_restored = atomic64_read(&sh->restored);
}

/* A placement mask the device can honour? */
static bool simgpu_placements_ok(struct simgpu_device *sdev, u32 mask)
{
	if (!mask || mask & ~DRM_SIMGPU_PLACEMENT_ALL)
		return false;
	if (sdev->num_regions < 2 &&
	    mask & DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1))
		return false;
	return true;
}

/**
 * simgpu_gem_create_ioctl - DRM_IOCTL_SIMGPU_GEM_CREATE
 * @drm: DRM device
 * @data: struct drm_simgpu_gem_create
 * @file: DRM file of the caller, which gets the handle
 *
 * Return: 0, -EINVAL for bad arguments, -ENOMEM/-ENOSPC if there is no
 * room, -ENODEV if the device is gone.
 */
int simgpu_gem_create_ioctl(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_gem_create *args = data;
	struct simgpu_bo *bo;
	u64 size;
	int ret, idx;

	if (args->flags & ~DRM_SIMGPU_GEM_CREATE_FLAGS || args->pad ||
	    args->handle || !simgpu_placements_ok(sdev, args->placements) ||
	    args->preferred >= DRM_SIMGPU_NUM_MEM ||
	    !(args->placements & DRM_SIMGPU_PLACEMENT(args->preferred)))
		return -EINVAL;
	if (!args->size || args->size > U64_MAX - PAGE_SIZE)
		return -EINVAL;
	size = PAGE_ALIGN(args->size);
	if (size >> PAGE_SHIFT > INT_MAX)
		return -EINVAL;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	bo = simgpu_bo_create(sdev, size, args->placements, args->preferred,
			      args->flags);
	if (IS_ERR(bo)) {
		ret = PTR_ERR(bo);
		goto out;
	}
	ret = drm_gem_handle_create(file, &bo->tbo.base, &args->handle);
	drm_gem_object_put(&bo->tbo.base);
out:
	drm_dev_exit(idx);
	return ret;
}

/**
 * simgpu_gem_mmap_offset_ioctl - DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET
 * @drm: DRM device
 * @data: struct drm_simgpu_gem_mmap_offset
 * @file: DRM file of the caller
 *
 * Return: 0, -EINVAL for bad flags, -ENOENT for an unknown handle.
 */
int simgpu_gem_mmap_offset_ioctl(struct drm_device *drm, void *data,
				 struct drm_file *file)
{
	struct drm_simgpu_gem_mmap_offset *args = data;
	struct simgpu_bo *bo;

	if (args->flags)
		return -EINVAL;
	bo = simgpu_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;
	args->offset = drm_vma_node_offset_addr(&bo->tbo.base.vma_node);
	drm_gem_object_put(&bo->tbo.base);
	return 0;
}

/**
 * simgpu_gem_query_ioctl - DRM_IOCTL_SIMGPU_GEM_QUERY
 * @drm: DRM device
 * @data: struct drm_simgpu_gem_query
 * @file: DRM file of the caller
 *
 * Return: 0, -EINVAL for bad flags, -ENOENT for an unknown handle,
 * -ERESTARTSYS on a signal.
 */
int simgpu_gem_query_ioctl(struct drm_device *drm, void *data,
			   struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_gem_query *args = data;
	struct simgpu_bo *bo;
	int ret;

	if (args->flags)
		return -EINVAL;
	bo = simgpu_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;

	ret = ttm_bo_reserve(&bo->tbo, true, false, NULL);
	if (ret)
		goto out;
	args->size = bo->tbo.base.size;
	args->placements = bo->placements;
	args->preferred = bo->preferred;
	args->create_flags = bo->flags;
	args->mem = simgpu_mem_index(bo->tbo.resource->mem_type);
	args->cpu_visible = simgpu_vram_res_visible(sdev, bo->tbo.resource);
	args->busy = !dma_resv_test_signaled(bo->tbo.base.resv,
					     DMA_RESV_USAGE_BOOKKEEP);
	ttm_bo_unreserve(&bo->tbo);
out:
	drm_gem_object_put(&bo->tbo.base);
	return ret;
}

/**
 * simgpu_gem_migrate_ioctl - DRM_IOCTL_SIMGPU_GEM_MIGRATE
 * @drm: DRM device
 * @data: struct drm_simgpu_gem_migrate
 * @file: DRM file of the caller
 *
 * Return: 0, -EINVAL for bad arguments or a placement outside the BO's
 * allowed mask, -ENOENT for an unknown handle, -ENOSPC if the BO does not
 * fit, -ERESTARTSYS on a signal, -ENODEV if the device is gone.
 */
int simgpu_gem_migrate_ioctl(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_gem_migrate *args = data;
	struct simgpu_bo *bo;
	int ret, idx;

	if (args->flags & ~DRM_SIMGPU_MIGRATE_FLAGS || args->pad ||
	    args->mem >= DRM_SIMGPU_NUM_MEM ||
	    !simgpu_placements_ok(sdev, DRM_SIMGPU_PLACEMENT(args->mem)))
		return -EINVAL;
	bo = simgpu_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;
	if (!(bo->placements & DRM_SIMGPU_PLACEMENT(args->mem))) {
		ret = -EINVAL;
		goto out;
	}
	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out;
	}
	ret = simgpu_bo_migrate(bo, args->mem,
				args->flags & DRM_SIMGPU_MIGRATE_CPU_VISIBLE,
				true);
	drm_dev_exit(idx);
out:
	drm_gem_object_put(&bo->tbo.base);
	return ret;
}

static int simgpu_wait_bo(struct simgpu_bo *bo, long timeout)
{
	struct dma_resv *resv = bo->tbo.base.resv;
	struct dma_fence **fences, *fence;
	struct dma_resv_iter cursor;
	unsigned int count = 0, i = 0;
	long left = 1;	/* no fences: idle */
	int ret;

	/*
	 * Hold the fences the object has now, signalled ones too (which
	 * the unlocked iterators skip), and wait on those: once signalled,
	 * a fence can be replaced in the reservation object by the next one
	 * added to it (dma_resv_add_fence() reuses signalled slots), and
	 * with it the error of work an unbind or a reset dropped.
	 */
	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		return ret;
	dma_resv_for_each_fence(&cursor, resv, DMA_RESV_USAGE_BOOKKEEP, fence)
		count++;
	fences = kmalloc_array(count, sizeof(*fences), GFP_KERNEL);
	if (!fences) {
		dma_resv_unlock(resv);
		return -ENOMEM;
	}
	dma_resv_for_each_fence(&cursor, resv, DMA_RESV_USAGE_BOOKKEEP, fence)
		fences[i++] = dma_fence_get(fence);
	dma_resv_unlock(resv);

	for (i = 0; i < count; i++) {
		left = dma_fence_wait_timeout(fences[i], true, timeout);
		if (left <= 0)
			break;
		/* A poll stays a poll; a wait uses up its time. */
		if (timeout)
			timeout = left;
	}
	if (left < 0)
		ret = left;
	else if (!left)
		ret = -ETIME;
	for (i = 0; i < count; i++) {
		if (!ret && dma_fence_get_status(fences[i]) < 0)
			ret = -EIO;
		dma_fence_put(fences[i]);
	}
	kfree(fences);
	return ret;
}

/**
 * simgpu_wait_ioctl - DRM_IOCTL_SIMGPU_WAIT
 * @drm: DRM device
 * @data: struct drm_simgpu_wait
 * @file: DRM file of the caller
 *
 * Return: 0 when idle, -ETIME on timeout, -EIO if the awaited work
 * failed, -ERESTARTSYS on a signal, -EINVAL/-ENOENT for bad arguments.
 */
int simgpu_wait_ioctl(struct drm_device *drm, void *data,
		      struct drm_file *file)
{
	struct drm_simgpu_wait *args = data;
	unsigned long timeout;
	struct simgpu_bo *bo;
	int ret;

	if (args->flags & ~DRM_SIMGPU_WAIT_FLAGS || args->timeout_ns < 0)
		return -EINVAL;
	timeout = nsecs_to_jiffies(args->timeout_ns);
	if (args->timeout_ns && !timeout)
		timeout = 1;
	timeout = min_t(unsigned long, timeout, MAX_SCHEDULE_TIMEOUT);

	if (args->flags & DRM_SIMGPU_WAIT_SEQNO) {
		if (args->handle)
			return -EINVAL;
		return simgpu_file_wait_seqno(file, args->seqno, timeout);
	}
	if (args->seqno)
		return -EINVAL;
	bo = simgpu_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;
	ret = simgpu_wait_bo(bo, timeout);
	drm_gem_object_put(&bo->tbo.base);
	return ret;
}
