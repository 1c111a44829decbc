// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu command submission: user COPY/FILL commands on buffer objects.
 *
 * The whole submission is checked first (ops, flags, handles, ranges).
 * Then every BO is locked (drm_gem_lock_reservations(), ww-mutex backoff
 * included), moved where the engine reaches
 * it (VRAM or TT) if needed, the commands and a fence are queued, and the
 * fence is added to every BO, which stays busy until it signals.  TTM
 * waits for that fence before it moves or frees the BO.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_ttm_helper.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

#define SIMGPU_GPU_PLACEMENTS \
	(DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) | \
	 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1) | \
	 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT))

static bool simgpu_range_ok(struct simgpu_bo *bo, u64 offset, u64 length)
{
	u64 size = bo->tbo.base.size;

	return offset <= size && length <= size - offset;
}

static int simgpu_cmd_check(const struct drm_simgpu_cmd *cmd)
{
	if (cmd->flags || !cmd->length || !cmd->dst_handle)
		return -EINVAL;
	switch (cmd->op) {
	case DRM_SIMGPU_CMD_COPY:
		if (!cmd->src_handle || cmd->value)
			return -EINVAL;
		return 0;
	case DRM_SIMGPU_CMD_FILL:
		if (cmd->src_handle || cmd->src_offset ||
		    cmd->value > U32_MAX || cmd->length % 4 ||
		    cmd->dst_offset % 4)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Move a locked BO where the engine reaches it. */
static int simgpu_submit_place(struct simgpu_bo *bo)
{
	struct ttm_operation_ctx ctx = {
		.interruptible = true,
		.gfp_retry_mayfail = true,
	};
	u32 mask = bo->placements & SIMGPU_GPU_PLACEMENTS;
	u32 first;
	int ret;

	if (simgpu_mem_is_vram(bo->tbo.resource->mem_type) ||
	    bo->tbo.resource->mem_type == TTM_PL_TT)
		return 0;
	first = mask & DRM_SIMGPU_PLACEMENT(bo->preferred) ?
		bo->preferred : __ffs(mask);
	ret = simgpu_bo_placement(bo, mask, first, false);
	if (ret)
		return ret;
	return ttm_bo_validate(&bo->tbo, &bo->placement, &ctx);
}

static int simgpu_submit_locked(struct simgpu_device *sdev,
				struct drm_gem_object **objs,
				unsigned int num_objs,
				const struct drm_simgpu_cmd *cmds,
				struct simgpu_bo **bos, unsigned int num_cmds,
				u64 *seqno)
{
	struct simgpu_engine_op *ops;
	struct dma_fence *fence;
	unsigned int i;
	int ret;

	for (i = 0; i < num_objs; i++) {
		ret = simgpu_submit_place(to_simgpu_bo(drm_gem_ttm_of_gem(objs[i])));
		if (ret)
			return ret;
		/* After the move, which may have used the slots it reserved. */
		ret = dma_resv_reserve_fences(objs[i]->resv, 1);
		if (ret)
			return ret;
	}

	ops = kvmalloc_objs(*ops, num_cmds);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < num_cmds; i++) {
		struct simgpu_bo *src = bos[2 * i], *dst = bos[2 * i + 1];

		ops[i].op = cmds[i].op == DRM_SIMGPU_CMD_COPY ?
			    SIMGPU_OP_COPY : SIMGPU_OP_FILL;
		ops[i].len = cmds[i].length;
		ops[i].value = cmds[i].value;
		ops[i].dst = dst->tbo.resource;
		ops[i].dst_offset = cmds[i].dst_offset;
		ops[i].src = src ? src->tbo.resource : NULL;
		ops[i].src_offset = cmds[i].src_offset;
	}

	fence = simgpu_engine_submit(sdev, ops, num_cmds);
	kvfree(ops);
	if (IS_ERR(fence))
		return PTR_ERR(fence);

	for (i = 0; i < num_objs; i++)
		dma_resv_add_fence(objs[i]->resv, fence, DMA_RESV_USAGE_WRITE);
	*seqno = fence->seqno;
	dma_fence_put(fence);
	atomic64_inc(&sdev->stats.submits);
	return 0;
}

/**
 * simgpu_submit_ioctl - DRM_IOCTL_SIMGPU_SUBMIT
 * @drm: DRM device
 * @data: struct drm_simgpu_submit
 * @file: DRM file of the caller, whose handles the commands name
 *
 * Return: 0 with the seqno of the submission, -EINVAL for a bad command,
 * a range outside its BO or a BO the engine cannot reach (neither VRAM nor
 * TT in its placement mask), -ENOENT for an unknown handle, -EFAULT,
 * -ERESTARTSYS on a signal, -ENOSPC/-ENOMEM if the BOs cannot be placed,
 * -EIO if the engine was reset while the work was queued, -ENODEV if the
 * device is gone.
 */
int simgpu_submit_ioctl(struct drm_device *drm, void *data,
			struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_submit *args = data;
	struct drm_simgpu_cmd *cmds;
	struct ww_acquire_ctx ticket;
	struct drm_gem_object **objs;
	struct simgpu_bo **bos;
	unsigned int i, j, num_objs = 0, n = args->num_cmds;
	int ret, idx;

	if (args->flags || !n || n > DRM_SIMGPU_MAX_CMDS)
		return -EINVAL;

	cmds = memdup_array_user(u64_to_user_ptr(args->cmds), n, sizeof(*cmds));
	if (IS_ERR(cmds))
		return PTR_ERR(cmds);
	bos = kvzalloc_objs(*bos, 2 * n);
	objs = kvzalloc_objs(*objs, 2 * n);
	if (!bos || !objs) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < n; i++) {
		ret = simgpu_cmd_check(&cmds[i]);
		if (ret)
			goto out_put;
		ret = -ENOENT;
		if (cmds[i].src_handle) {
			bos[2 * i] = simgpu_bo_lookup(file, cmds[i].src_handle);
			if (!bos[2 * i])
				goto out_put;
		}
		bos[2 * i + 1] = simgpu_bo_lookup(file, cmds[i].dst_handle);
		if (!bos[2 * i + 1])
			goto out_put;
		ret = -EINVAL;
		if ((bos[2 * i] && !simgpu_range_ok(bos[2 * i],
						    cmds[i].src_offset,
						    cmds[i].length)) ||
		    !simgpu_range_ok(bos[2 * i + 1], cmds[i].dst_offset,
				     cmds[i].length))
			goto out_put;
		if ((bos[2 * i] &&
		     !(bos[2 * i]->placements & SIMGPU_GPU_PLACEMENTS)) ||
		    !(bos[2 * i + 1]->placements & SIMGPU_GPU_PLACEMENTS))
			goto out_put;
	}

	/* Each BO once: a ww-mutex must not be locked twice. */
	for (i = 0; i < 2 * n; i++) {
		if (!bos[i])
			continue;
		for (j = 0; j < num_objs; j++)
			if (objs[j] == &bos[i]->tbo.base)
				break;
		if (j == num_objs)
			objs[num_objs++] = &bos[i]->tbo.base;
	}

	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_put;
	}
	ret = drm_gem_lock_reservations(objs, num_objs, &ticket);
	if (!ret) {
		ret = simgpu_submit_locked(sdev, objs, num_objs, cmds, bos, n,
					   &args->seqno);
		drm_gem_unlock_reservations(objs, num_objs, &ticket);
	}
	drm_dev_exit(idx);
out_put:
	for (i = 0; i < 2 * n; i++)
		if (bos[i])
			drm_gem_object_put(&bos[i]->tbo.base);
out_free:
	kvfree(objs);
	kvfree(bos);
	kfree(cmds);
	return ret;
}
