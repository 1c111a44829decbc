// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu command submission: user COPY/FILL commands on buffer objects,
 * run by the GPU scheduler from the file's own entity.
 *
 * The whole submission is checked first (ops, flags, handles, ranges).
 * Then every BO is locked (drm_gem_lock_reservations(), ww-mutex backoff
 * included) and moved where the engine reaches it (VRAM or TT) if
 * needed.  The job depends on the BOs' fences (implicit sync: a BO it
 * writes waits for every reader and writer, one it only reads for the
 * writers, TTM's moves included), and its finished fence is added to
 * every BO, as a writer of the destinations and a reader of the sources:
 * TTM waits for it before it moves or frees them.
 *
 * Explicit sync: the job also waits for the submission's in-syncs
 * (syncobjs, binary or timeline points), and its finished fence goes to
 * the out-syncs and, on request, to a sync_file.  Everything that can
 * fail (handles, points, the timeline's chain node, the file descriptor)
 * is looked up or allocated before the job is armed.
 *
 * Each submission gets the next seqno of its file, for
 * DRM_IOCTL_SIMGPU_WAIT: a file waits for its own work only.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-fence-chain.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/sync_file.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_ttm_helper.h>
#include <drm/drm_syncobj.h>

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

/**
 * struct simgpu_out_sync - a syncobj to signal, looked up beforehand
 * @syncobj: a reference
 * @chain: for a timeline point, its node (else NULL)
 * @point: the timeline point, 0 for a binary syncobj
 */
struct simgpu_out_sync {
	struct drm_syncobj *syncobj;
	struct dma_fence_chain *chain;
	u64 point;
};

/**
 * struct simgpu_syncs - a submission's explicit sync
 * @in: the in-syncs, copied from userspace
 * @in_fences: their fences (references), until they become the job's
 *	dependencies
 * @num_in: entries in @in and @in_fences
 * @out: the out-syncs, looked up
 * @num_out: entries in @out
 * @fence_fd: a reserved file descriptor for the sync_file, or -1
 */
struct simgpu_syncs {
	struct drm_simgpu_sync *in;
	struct dma_fence **in_fences;
	unsigned int num_in;
	struct simgpu_out_sync *out;
	unsigned int num_out;
	int fence_fd;
};

static void simgpu_syncs_free(struct simgpu_syncs *sy)
{
	unsigned int i;

	for (i = 0; sy->in_fences && i < sy->num_in; i++)
		dma_fence_put(sy->in_fences[i]);
	kvfree(sy->in_fences);
	for (i = 0; i < sy->num_out; i++) {
		dma_fence_chain_free(sy->out[i].chain);
		if (sy->out[i].syncobj)
			drm_syncobj_put(sy->out[i].syncobj);
	}
	kvfree(sy->out);
	kvfree(sy->in);
	if (sy->fence_fd >= 0)
		put_unused_fd(sy->fence_fd);
}

/* Copy, check and look up the syncs of @args before anything runs. */
static int simgpu_syncs_get(struct drm_file *file,
			    const struct drm_simgpu_submit *args,
			    struct simgpu_syncs *sy)
{
	struct drm_simgpu_sync *out = NULL;
	unsigned int i;
	int ret = 0;

	memset(sy, 0, sizeof(*sy));
	sy->fence_fd = -1;
	if (args->num_in_syncs > DRM_SIMGPU_MAX_SYNCS ||
	    args->num_out_syncs > DRM_SIMGPU_MAX_SYNCS)
		return -EINVAL;
	if (args->num_in_syncs) {
		sy->in = memdup_array_user(u64_to_user_ptr(args->in_syncs),
					   args->num_in_syncs,
					   sizeof(*sy->in));
		if (IS_ERR(sy->in)) {
			ret = PTR_ERR(sy->in);
			sy->in = NULL;
			return ret;
		}
		sy->num_in = args->num_in_syncs;
		sy->in_fences = kvzalloc_objs(*sy->in_fences, sy->num_in);
		if (!sy->in_fences)
			return -ENOMEM;
		for (i = 0; i < sy->num_in; i++) {
			if (sy->in[i].flags)
				return -EINVAL;
			/* Now, so that a bad one fails before the BOs move. */
			ret = drm_syncobj_find_fence(file, sy->in[i].handle,
						     sy->in[i].point, 0,
						     &sy->in_fences[i]);
			if (ret)
				return ret;
		}
	}
	if (args->num_out_syncs) {
		out = memdup_array_user(u64_to_user_ptr(args->out_syncs),
					args->num_out_syncs, sizeof(*out));
		if (IS_ERR(out))
			return PTR_ERR(out);
		sy->out = kvzalloc_objs(*sy->out, args->num_out_syncs);
		if (!sy->out) {
			ret = -ENOMEM;
			goto out_free;
		}
		for (i = 0; i < args->num_out_syncs; i++) {
			sy->num_out++;
			ret = -EINVAL;
			if (out[i].flags)
				goto out_free;
			ret = -ENOENT;
			sy->out[i].syncobj = drm_syncobj_find(file,
							      out[i].handle);
			if (!sy->out[i].syncobj)
				goto out_free;
			sy->out[i].point = out[i].point;
			if (!out[i].point)
				continue;
			ret = -ENOMEM;
			sy->out[i].chain = dma_fence_chain_alloc();
			if (!sy->out[i].chain)
				goto out_free;
		}
		ret = 0;
	}
	if (args->flags & DRM_SIMGPU_SUBMIT_FENCE_OUT) {
		sy->fence_fd = get_unused_fd_flags(O_CLOEXEC);
		if (sy->fence_fd < 0)
			ret = sy->fence_fd;
	}
out_free:
	kvfree(out);
	return ret;
}

/* The in-syncs' fences, as dependencies of @job. */
static int simgpu_syncs_add_deps(struct simgpu_syncs *sy,
				 struct simgpu_job *job)
{
	struct dma_fence *fence;
	unsigned int i;
	int ret;

	for (i = 0; i < sy->num_in; i++) {
		fence = sy->in_fences[i];
		sy->in_fences[i] = NULL; /* the job's (even on failure) */
		if (simgpu_test_bug(SIMGPU_BUG_NO_IN_SYNCS)) {
			dma_fence_put(fence);
			continue;
		}
		ret = drm_sched_job_add_dependency(&job->base, fence);
		if (ret)
			return ret;
	}
	return 0;
}

/* Hand the pushed job's @fence to the out-syncs and the sync_file. */
static void simgpu_syncs_signal(struct simgpu_syncs *sy,
				struct dma_fence *fence, s32 *fence_fd)
{
	struct sync_file *sync_file;
	unsigned int i;

	for (i = 0; i < sy->num_out; i++) {
		if (sy->out[i].chain) {
			drm_syncobj_add_point(sy->out[i].syncobj,
					      sy->out[i].chain, fence,
					      sy->out[i].point);
			sy->out[i].chain = NULL; /* the syncobj's now */
		} else {
			drm_syncobj_replace_fence(sy->out[i].syncobj, fence);
		}
	}
	if (sy->fence_fd < 0)
		return;
	/* The work is queued anyway: without memory, no sync_file (-1). */
	sync_file = sync_file_create(fence);
	if (!sync_file) {
		*fence_fd = -1;
		return;
	}
	fd_install(sy->fence_fd, sync_file->file);
	*fence_fd = sy->fence_fd;
	sy->fence_fd = -1;
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

/* Whether @obj is the destination of one of the commands. */
static bool simgpu_submit_writes(struct drm_gem_object *obj,
				 struct simgpu_bo **bos, unsigned int num_cmds)
{
	unsigned int i;

	for (i = 0; i < num_cmds; i++)
		if (&bos[2 * i + 1]->tbo.base == obj)
			return true;
	return false;
}

/*
 * Drop the fences of signalled submissions from the front of @sf's
 * record, keeping what a late wait needs to know: whether it failed.
 */
static void simgpu_file_prune(struct simgpu_file *sf)
{
	struct dma_fence *fence;

	lockdep_assert_held(&sf->lock);
	while (sf->oldest <= sf->last_seqno) {
		fence = xa_load(&sf->fences, sf->oldest);
		if (fence && !xa_is_value(fence)) {
			if (!dma_fence_is_signaled(fence))
				break;
			/* Replacing an entry allocates nothing. */
			if (fence->error)
				xa_store(&sf->fences, sf->oldest,
					 xa_mk_value(1), GFP_NOWAIT);
			else
				xa_erase(&sf->fences, sf->oldest);
			dma_fence_put(fence);
		}
		sf->oldest++;
	}
}

static int simgpu_submit_locked(struct simgpu_device *sdev,
				struct drm_file *file,
				struct drm_gem_object **objs,
				unsigned int num_objs,
				const struct drm_simgpu_cmd *cmds,
				struct simgpu_bo **bos, unsigned int num_cmds,
				struct simgpu_syncs *sy,
				struct drm_simgpu_submit *args)
{
	struct simgpu_file *sf = file->driver_priv;
	struct simgpu_engine_op *ops;
	struct simgpu_job *job;
	struct dma_fence *fence;
	unsigned int i;
	bool write;
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
	job = simgpu_job_create(sdev, &sf->entity, ops, num_cmds,
				file->client_id);
	kvfree(ops);
	if (IS_ERR(job))
		return PTR_ERR(job);

	for (i = 0; i < num_objs; i++) {
		write = simgpu_submit_writes(objs[i], bos, num_cmds);
		ret = drm_sched_job_add_implicit_dependencies(&job->base,
							      objs[i], write);
		if (ret)
			goto err_put;
	}
	ret = simgpu_syncs_add_deps(sy, job);
	if (ret)
		goto err_put;

	mutex_lock(&sf->lock);
	simgpu_file_prune(sf);
	/* The slot now: nothing may allocate between arm and push. */
	ret = xa_reserve(&sf->fences, sf->last_seqno + 1, GFP_KERNEL);
	if (ret) {
		mutex_unlock(&sf->lock);
		goto err_put;
	}
	fence = simgpu_job_push(job);
	for (i = 0; i < num_objs; i++) {
		write = simgpu_submit_writes(objs[i], bos, num_cmds);
		dma_resv_add_fence(objs[i]->resv, fence, write ?
				   DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ);
	}
	args->seqno = ++sf->last_seqno;
	xa_store(&sf->fences, args->seqno, fence, GFP_NOWAIT);
	mutex_unlock(&sf->lock);
	simgpu_syncs_signal(sy, fence, &args->out_fence_fd);
	atomic64_inc(&sdev->stats.submits);
	return 0;

err_put:
	simgpu_job_put(job);
	return ret;
}

/**
 * simgpu_file_wait_seqno - wait for a submission of a file
 * @file: the DRM file that submitted it
 * @seqno: its seqno, from DRM_IOCTL_SIMGPU_SUBMIT
 * @timeout: jiffies; 0 only checks
 *
 * Interruptible.
 *
 * Return: 0 if the work completed, -EIO if it failed (the engine was
 * reset or the device is gone), -ETIME on timeout, -ERESTARTSYS on a
 * signal, -EINVAL if the file never made submission @seqno.
 */
int simgpu_file_wait_seqno(struct drm_file *file, u64 seqno, long timeout)
{
	struct simgpu_file *sf = file->driver_priv;
	struct dma_fence *fence;
	long ret;

	mutex_lock(&sf->lock);
	if (!seqno || seqno > sf->last_seqno) {
		mutex_unlock(&sf->lock);
		return -EINVAL;
	}
	fence = xa_load(&sf->fences, seqno);
	if (xa_is_value(fence) || !fence) {
		mutex_unlock(&sf->lock);
		return fence ? -EIO : 0;
	}
	dma_fence_get(fence);
	mutex_unlock(&sf->lock);

	ret = timeout ? dma_fence_wait_timeout(fence, true, timeout) :
			dma_fence_is_signaled(fence);
	/* A wait can time out just as the fence signals: look again. */
	if (!ret && dma_fence_is_signaled(fence))
		ret = 1;
	if (ret > 0)
		ret = fence->error ? -EIO : 0;
	else if (!ret)
		ret = -ETIME;
	dma_fence_put(fence);
	return ret;
}

/**
 * simgpu_file_open - set up a new DRM file's submission state
 * @drm: DRM device
 * @file: the new file
 *
 * Return: 0 or a negative error code.
 */
int simgpu_file_open(struct drm_device *drm, struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_gpu_scheduler *sched = &sdev->sched;
	struct simgpu_file *sf;
	int ret;

	sf = kzalloc_obj(*sf);
	if (!sf)
		return -ENOMEM;
	ret = drm_sched_entity_init(&sf->entity,
				    simgpu_test_bug(SIMGPU_BUG_FIRST_FILE_LOW) &&
				    atomic_read(&drm->open_count) == 1 ?
				    DRM_SCHED_PRIORITY_LOW :
				    DRM_SCHED_PRIORITY_NORMAL, &sched, 1, NULL);
	if (ret) {
		kfree(sf);
		return ret;
	}
	mutex_init(&sf->lock);
	xa_init(&sf->fences);
	sf->oldest = 1;
	file->driver_priv = sf;
	return 0;
}

/**
 * simgpu_file_close - tear down a DRM file's submission state
 * @drm: DRM device
 * @file: the file being closed
 *
 * Its queued submissions still run (for up to a few seconds, then the
 * scheduler drops them).
 */
void simgpu_file_close(struct drm_device *drm, struct drm_file *file)
{
	struct simgpu_file *sf = file->driver_priv;
	struct dma_fence *fence;
	unsigned long seqno;

	drm_sched_entity_destroy(&sf->entity);
	xa_for_each(&sf->fences, seqno, fence)
		if (!xa_is_value(fence))
			dma_fence_put(fence);
	xa_destroy(&sf->fences);
	mutex_destroy(&sf->lock);
	kfree(sf);
}

/**
 * simgpu_submit_ioctl - DRM_IOCTL_SIMGPU_SUBMIT
 * @drm: DRM device
 * @data: struct drm_simgpu_submit
 * @file: DRM file of the caller, whose handles the commands name
 *
 * Return: 0 with the seqno of the submission, -EINVAL for a bad field or
 * command, a range outside its BO, a BO the engine cannot reach (neither
 * VRAM nor TT in its placement mask) or an in-sync without a fence,
 * -ENOENT for an unknown BO or syncobj handle, -EFAULT, -EMFILE,
 * -ERESTARTSYS on a signal, -ENOSPC/-ENOMEM if the BOs cannot be placed,
 * -ENODEV if the device is gone.  Whether the work succeeds, the
 * submission's seqno, out-syncs and sync_file tell.
 */
int simgpu_submit_ioctl(struct drm_device *drm, void *data,
			struct drm_file *file)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct drm_simgpu_submit *args = data;
	struct drm_simgpu_cmd *cmds;
	struct ww_acquire_ctx ticket;
	struct drm_gem_object **objs;
	struct simgpu_syncs sy;
	struct simgpu_bo **bos;
	unsigned int i, j, num_objs = 0, n = args->num_cmds;
	int ret, idx;

	if (args->flags & ~DRM_SIMGPU_SUBMIT_FLAGS || args->pad ||
	    args->extensions || !n || n > DRM_SIMGPU_MAX_CMDS)
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
	ret = simgpu_syncs_get(file, args, &sy);
	if (ret)
		goto out_syncs;

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

	/* Unplugged, or the engine is lost (all-ones): refuse new work. */
	if (!drm_dev_enter(drm, &idx)) {
		ret = -ENODEV;
		goto out_put;
	}
	if (READ_ONCE(sdev->engine.dead)) {
		ret = -ENODEV;
		drm_dev_exit(idx);
		goto out_put;
	}
	ret = drm_gem_lock_reservations(objs, num_objs, &ticket);
	if (!ret) {
		ret = simgpu_submit_locked(sdev, file, objs, num_objs, cmds,
					   bos, n, &sy, args);
		drm_gem_unlock_reservations(objs, num_objs, &ticket);
	}
	drm_dev_exit(idx);
out_put:
	for (i = 0; i < 2 * n; i++)
		if (bos[i])
			drm_gem_object_put(&bos[i]->tbo.base);
out_syncs:
	simgpu_syncs_free(&sy);
out_free:
	kvfree(objs);
	kvfree(bos);
	kfree(cmds);
	return ret;
}
