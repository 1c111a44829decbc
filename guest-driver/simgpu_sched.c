// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu GPU scheduler: all engine work goes through one drm_sched
 * scheduler for the engine's ring, as in v3d and panfrost.  TTM's moves
 * and clears come from a kernel entity, each DRM file's submissions from
 * an entity of its own (simgpu_submit.c), so files share the engine
 * fairly and the kernel goes first.  A job waits for its dependencies
 * (fences: the BOs' reservations, for implicit sync); run_job() writes
 * its commands and a FENCE to the ring and returns that engine fence;
 * the job's finished fence is what the rest of the kernel and userspace
 * wait for.  A job takes one credit per ring slot (the scheduler then
 * runs a job only when the ring has room for it; a job larger than the
 * ring waits for space in run_job()).
 *
 * Timeouts: the scheduler's timeout (at most every second, sooner with a
 * lower timeout_ms) asks the engine whether it finished a command or a
 * fence within timeout_ms.  If it did, the job at the head is merely long
 * (DRM_GPU_SCHED_STAT_NO_HANG).  If it did not, or if the engine reported
 * an error or a hang (its interrupt triggers the timeout at once), the
 * engine is reset.  What a reset does to the jobs:
 *
 * - every job already written to the ring, the guilty one and the jobs
 *   behind it, fails with -EIO: the reset dropped its commands, after
 *   some of them may have run.  A job that depends on another job of
 *   this scheduler is written to the ring as soon as that one is
 *   (drm_sched pipelines such dependencies; the engine runs the ring in
 *   order), so a job that depends on the hung one fails too;
 * - jobs not yet written to the ring (waiting for ring credits, or for a
 *   fence from elsewhere) run after the reset;
 * - a device that is gone (registers read all-ones) fails every job on
 *   the ring, and every later one, with -ENODEV.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/slab.h>
#include <linux/workqueue.h>

#include <drm/drm_print.h>

#include "simgpu_drv.h"

static struct simgpu_job *to_simgpu_job(struct drm_sched_job *job)
{
	return container_of(job, struct simgpu_job, base);
}

static struct dma_fence *simgpu_sched_run_job(struct drm_sched_job *sched_job)
{
	struct simgpu_job *job = to_simgpu_job(sched_job);
	struct dma_fence *fence;

	/* Cancelled (entity killed) or set to fail: do not run it. */
	if (unlikely(sched_job->s_fence->finished.error))
		return NULL;
	fence = simgpu_engine_submit(job->sdev, job->cmds, job->num_cmds,
				     job->hw_fence);
	if (!IS_ERR(fence))
		job->hw_fence = NULL; /* the engine's now */
	return fence;
}

static enum drm_gpu_sched_stat
simgpu_sched_timedout_job(struct drm_sched_job *sched_job)
{
	struct simgpu_device *sdev = to_simgpu_job(sched_job)->sdev;
	const char *why;
	int ret;

	ret = simgpu_engine_timeout(sdev, &why);
	if (!ret)
		return DRM_GPU_SCHED_STAT_NO_HANG;
	/*
	 * v3d's order: stop the scheduler first, so that no job reaches the
	 * ring while it is reset (run_job() waiting for ring space gave up
	 * when the hang was found), then reset, which fails the engine
	 * fences of the jobs on the ring, and start again: those jobs are
	 * done with their error, the queued ones run.  A lost device has
	 * failed them all already.
	 */
	drm_sched_stop(&sdev->sched, sched_job);
	if (ret == -EIO)
		simgpu_engine_reset(sdev, why);
	drm_sched_start(&sdev->sched, ret);
	return ret == -ENODEV ? DRM_GPU_SCHED_STAT_ENODEV :
				DRM_GPU_SCHED_STAT_RESET;
}

/* Teardown (drm_sched_fini()): the engine is stopped for good. */
static void simgpu_sched_cancel_job(struct drm_sched_job *sched_job)
{
	simgpu_engine_cancel(to_simgpu_job(sched_job)->sdev);
}

static void simgpu_job_free(struct simgpu_job *job)
{
	if (!job->cmds_shared)
		kvfree(job->cmds);
	kfree(job->hw_fence);
	kfree(job);
}

static void simgpu_sched_free_job(struct drm_sched_job *sched_job)
{
	drm_sched_job_cleanup(sched_job);
	simgpu_job_free(to_simgpu_job(sched_job));
}

static const struct drm_sched_backend_ops simgpu_sched_ops = {
	.run_job = simgpu_sched_run_job,
	.timedout_job = simgpu_sched_timedout_job,
	.free_job = simgpu_sched_free_job,
	.cancel_job = simgpu_sched_cancel_job,
};

/* One credit per ring slot; one slot always stays free. */
static u32 simgpu_sched_credit_limit(struct simgpu_device *sdev)
{
	return sdev->engine.ring_size / SIMGPU_CMD_SIZE - 1;
}

/**
 * simgpu_job_create_cmds - a job of engine commands, not yet pushed
 * @sdev: simgpu device
 * @entity: the entity to run it from: &simgpu_device.kernel_entity or
 *	a file's
 * @cmds: the commands, from simgpu_engine_build_cmds(); the job owns
 *	them if it is created, unless &simgpu_job.cmds_shared is set
 * @num_cmds: entries in @cmds
 * @client_id: the DRM client's id (&drm_file.client_id), 0 for the kernel
 *
 * Return: the job, or an ERR_PTR().
 */
struct simgpu_job *simgpu_job_create_cmds(struct simgpu_device *sdev,
					  struct drm_sched_entity *entity,
					  struct simgpu_hw_cmd *cmds,
					  unsigned int num_cmds, u64 client_id)
{
	struct simgpu_job *job;
	u32 credits;
	int ret;

	job = kzalloc_obj(*job);
	if (!job)
		return ERR_PTR(-ENOMEM);
	job->cmds = cmds;
	job->num_cmds = num_cmds;
	job->sdev = sdev;
	job->hw_fence = kzalloc_obj(*job->hw_fence);
	if (!job->hw_fence) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* Its commands and a FENCE, as one job can have: all the ring. */
	credits = min(num_cmds + 1, simgpu_sched_credit_limit(sdev));
	ret = drm_sched_job_init(&job->base, entity, credits, NULL, client_id);
	if (ret)
		goto err_free;
	return job;

err_free:
	kfree(job->hw_fence);
	kfree(job);
	return ERR_PTR(ret);
}

/**
 * simgpu_job_create - a job of engine work, not yet pushed
 * @sdev: simgpu device
 * @entity: the entity to run it from: &simgpu_device.kernel_entity or
 *	a file's
 * @ops: the work, turned into engine commands at once: its resources
 *	may go once the job is pushed, their memory must not be reused
 *	until the job's finished fence signals
 * @num_ops: entries in @ops, at least one
 * @client_id: the DRM client's id (&drm_file.client_id), 0 for the kernel
 *
 * Add dependencies with drm_sched_job_add_*(), then simgpu_job_push();
 * or drop it with simgpu_job_put().
 *
 * Return: the job, or an ERR_PTR().
 */
struct simgpu_job *simgpu_job_create(struct simgpu_device *sdev,
				     struct drm_sched_entity *entity,
				     const struct simgpu_engine_op *ops,
				     unsigned int num_ops, u64 client_id)
{
	struct simgpu_hw_cmd *cmds;
	struct simgpu_job *job;
	unsigned int num_cmds;

	cmds = simgpu_engine_build_cmds(ops, num_ops, &num_cmds);
	if (!cmds)
		return ERR_PTR(-ENOMEM);
	job = simgpu_job_create_cmds(sdev, entity, cmds, num_cmds, client_id);
	if (IS_ERR(job))
		kvfree(cmds);
	return job;
}

/**
 * simgpu_job_push - hand a job to the scheduler
 * @job: from simgpu_job_create(), with its dependencies added
 *
 * The job belongs to the scheduler from then on.  Pushes to one entity
 * must be serialised by the caller (the order of arming is the order of
 * the entity's fences): a file's under &simgpu_file.lock; the kernel's
 * through simgpu_kernel_job_push().
 *
 * Return: a reference to its finished fence.
 */
struct dma_fence *simgpu_job_push(struct simgpu_job *job)
{
	struct dma_fence *fence;

	drm_sched_job_arm(&job->base);
	fence = dma_fence_get(&job->base.s_fence->finished);
	drm_sched_entity_push_job(&job->base);
	return fence;
}

/**
 * simgpu_kernel_job_push - hand a job of the kernel entity to the scheduler
 * @job: from simgpu_job_create() on &simgpu_device.kernel_entity
 *
 * Return: a reference to its finished fence.
 */
struct dma_fence *simgpu_kernel_job_push(struct simgpu_job *job)
{
	struct simgpu_device *sdev = job->sdev;
	struct dma_fence *fence;

	mutex_lock(&sdev->kernel_push_lock);
	fence = simgpu_job_push(job);
	mutex_unlock(&sdev->kernel_push_lock);
	return fence;
}

/**
 * simgpu_job_put - drop a job that was never pushed
 * @job: from simgpu_job_create()
 */
void simgpu_job_put(struct simgpu_job *job)
{
	drm_sched_job_cleanup(&job->base);
	simgpu_job_free(job);
}

/**
 * simgpu_sched_init - create the scheduler and the kernel's entity
 * @sdev: simgpu device, with its engine set up
 *
 * Return: 0 or a negative error code.
 */
int simgpu_sched_init(struct simgpu_device *sdev)
{
	struct drm_gpu_scheduler *sched = &sdev->sched;
	struct drm_sched_init_args args = {
		.ops = &simgpu_sched_ops,
		.num_rqs = DRM_SCHED_PRIORITY_COUNT,
		.credit_limit = simgpu_sched_credit_limit(sdev),
		/*
		 * How often the job at the head is checked; the hang itself
		 * is timeout_ms without progress (simgpu_engine_timeout()).
		 */
		.timeout = msecs_to_jiffies(clamp(simgpu_timeout_ms, 10U, 1000U)),
		.name = DRIVER_NAME,
		.dev = sdev->drm.dev,
	};
	int ret;

	/*
	 * Reclaim may wait for engine fences (eviction, the shrinker), so
	 * the timeout that unsticks them needs a rescuer thread.
	 */
	args.timeout_wq = alloc_ordered_workqueue("simgpu-tdr", WQ_MEM_RECLAIM);
	if (!args.timeout_wq)
		return -ENOMEM;
	sdev->timeout_wq = args.timeout_wq;
	mutex_init(&sdev->kernel_push_lock);
	ret = drm_sched_init(sched, &args);
	if (ret)
		goto err_wq;
	ret = drm_sched_entity_init(&sdev->kernel_entity,
				    DRM_SCHED_PRIORITY_KERNEL, &sched, 1, NULL);
	if (ret)
		goto err_sched;
	ret = drm_sched_entity_init(&sdev->redo_entity,
				    DRM_SCHED_PRIORITY_KERNEL, &sched, 1, NULL);
	if (ret)
		goto err_entity;
	sdev->sched_ready = true;
	return 0;

err_entity:
	drm_sched_entity_destroy(&sdev->kernel_entity);
err_sched:
	drm_sched_fini(sched);
err_wq:
	mutex_destroy(&sdev->kernel_push_lock);
	destroy_workqueue(sdev->timeout_wq);
	return ret;
}

/**
 * simgpu_sched_fini - tear down the scheduler
 * @sdev: simgpu device, when the DRM device is released (no file and no
 *	BO is left to push jobs)
 */
void simgpu_sched_fini(struct simgpu_device *sdev)
{
	if (!sdev->sched_ready)
		return;
	drm_sched_entity_destroy(&sdev->kernel_entity);
	drm_sched_entity_destroy(&sdev->redo_entity);
	drm_sched_fini(&sdev->sched);
	mutex_destroy(&sdev->kernel_push_lock);
	destroy_workqueue(sdev->timeout_wq);
	sdev->sched_ready = false;
}
