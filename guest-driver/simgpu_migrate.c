// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu pipelined moves: the fence TTM gets for an engine move, and what
 * happens when the engine fails a move TTM has already committed.
 *
 * A pipelined move (the default; the module parameter sync_moves=1 keeps
 * the synchronous ones) is committed as soon as its job is pushed:
 * ttm_bo_move_accel_cleanup() adds the move's fence to the BO's
 * reservation, so that CPU faults and later engine work wait for it, and
 * either hands the old resource to a ghost object that TTM deletes once
 * the fence signals (a plain move) or frees the old VRAM at once and
 * keeps the fence as the manager's eviction fence, which every later
 * allocation from that manager waits for (an eviction).  The old content
 * therefore stays where it was until the move's fence signals.
 *
 * The fence TTM gets is a &struct simgpu_move_fence, not the job's:
 *
 * - it signals when the job succeeded, and never before the move fences
 *   pushed earlier: TTM keeps one eviction fence per fence context, the
 *   latest, and takes it as signalling after all earlier ones;
 * - if the job failed (an engine error or hang, and the reset that
 *   follows), the move is redone before the fence signals: by the CPU
 *   when every address of the job's commands is CPU-reachable (visible
 *   VRAM, bound GART pages), otherwise on the reset engine, once; only if
 *   that fails too does the fence signal with the error, the move counted
 *   in moves_lost and logged: the BO's content is lost;
 * - if the device is gone, the fence fails with its error (-ENODEV):
 *   VRAM's content is gone with the device; if the driver is still bound
 *   (the engine lost: registers read all-ones), that is a lost move as
 *   above.  A lost move's destination is zeroed where the CPU reaches it,
 *   so that the BO never shows what its new memory held before.
 *
 * debugfs's redo_by_cpu (default Y) set to N leaves every redo to the
 * engine, so that both ways are tested.
 *
 * Redoing works from the job's commands (device addresses), not from the
 * resources, which TTM may have freed by then.
 *
 * A move fence has its own (inline) lock and drops what it holds (the
 * commands, the job's fence) when it signals, its ops dropped by
 * dma-fence then: like the engine's fences it may outlive the device and
 * the module (a sync_file exported from a BO's reservation).  The job's
 * callback signals it while the engine fence's inline lock is held: the
 * same lock class, so it is taken as nested.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/highmem.h>
#include <linux/io-mapping.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>

#include "simgpu_drv.h"

/**
 * struct simgpu_move_fence - the fence of one pipelined engine move
 * @base: the fence, on &simgpu_migrate.fence_context (first: freed by
 *	dma_fence_free())
 * @sdev: the device, for the redo, until @base signals (the device waits
 *	for every move fence before it goes: simgpu_migrate_fini())
 * @link: in &simgpu_migrate.pending, in seqno order, until signalled
 * @state: SIMGPU_MOVE_* (under &simgpu_migrate.lock)
 * @error: the error of the last try
 * @tries: engine jobs run for the move so far
 * @job_fence: the finished fence of the current engine job, until @base
 *	signals
 * @cb: @job_fence's callback
 * @cmds: the commands, shared with the jobs, until @base signals
 * @num_cmds: entries in @cmds
 * @owner: the BO moved, only to tell its own move fences from those TTM
 *	adds to a BO's reservation (eviction fences); never dereferenced
 */
struct simgpu_move_fence {
	struct dma_fence base;
	struct simgpu_device *sdev;
	struct list_head link;
	unsigned int state;
	int error;
	unsigned int tries;
	struct dma_fence *job_fence;
	struct dma_fence_cb cb;
	struct simgpu_hw_cmd *cmds;
	unsigned int num_cmds;
	const void *owner;
};

static_assert(offsetof(struct simgpu_move_fence, base) == 0);

enum {
	SIMGPU_MOVE_RUNNING,	/* an engine job of it is pushed */
	SIMGPU_MOVE_FAILED,	/* the job failed: for the redo work */
	SIMGPU_MOVE_REDOING,	/* the redo work has it */
	SIMGPU_MOVE_DONE,	/* signals after the ones before it */
};

/* Engine jobs per move before its content is given up. */
#define SIMGPU_MOVE_MAX_TRIES	2

static const char *simgpu_move_fence_driver_name(struct dma_fence *fence)
{
	return DRIVER_NAME;
}

static const char *simgpu_move_fence_timeline_name(struct dma_fence *fence)
{
	return "move";
}

static const struct dma_fence_ops simgpu_move_fence_ops = {
	.get_driver_name = simgpu_move_fence_driver_name,
	.get_timeline_name = simgpu_move_fence_timeline_name,
};

/**
 * simgpu_is_other_move_fence - whether a fence is another BO's pending move
 * @fence: a fence of @tbo's reservation
 * @tbo: the BO
 *
 * Such a fence in a BO's reservation is an eviction fence: TTM adds the
 * manager's latest pipelined eviction to a BO it allocates from there.
 *
 * Return: true for an unsignalled fence of a pipelined simgpu move of
 * another BO.
 */
bool simgpu_is_other_move_fence(struct dma_fence *fence,
				struct ttm_buffer_object *tbo)
{
	return rcu_access_pointer(fence->ops) == &simgpu_move_fence_ops &&
	       container_of(fence, struct simgpu_move_fence, base)->owner != tbo &&
	       !dma_fence_is_signaled(fence);
}

/* Signal the finished moves at the head of the list, in order. */
static void simgpu_migrate_signal_locked(struct simgpu_migrate *mig)
{
	struct simgpu_move_fence *mf, *next;

	lockdep_assert_held(&mig->lock);
	list_for_each_entry_safe(mf, next, &mig->pending, link) {
		if (mf->state != SIMGPU_MOVE_DONE)
			break;
		list_del(&mf->link);
		/* Its jobs are done: nothing uses the commands any more. */
		kvfree_atomic(mf->cmds);
		mf->cmds = NULL;
		dma_fence_put(mf->job_fence);
		mf->job_fence = NULL;
		if (mf->error)
			dma_fence_set_error(&mf->base, mf->error);
		spin_lock_nested(dma_fence_spinlock(&mf->base),
				 SINGLE_DEPTH_NESTING);
		dma_fence_signal_locked(&mf->base);
		spin_unlock(dma_fence_spinlock(&mf->base));
		dma_fence_put(&mf->base); /* the list's reference */
	}
	if (list_empty(&mig->pending))
		wake_up_all(&mig->idle);
}

static void simgpu_move_fence_job_done(struct dma_fence *job_fence,
				       struct dma_fence_cb *cb)
{
	struct simgpu_move_fence *mf =
		container_of(cb, struct simgpu_move_fence, cb);
	struct simgpu_migrate *mig = &mf->sdev->migrate;
	unsigned long flags;

	spin_lock_irqsave(&mig->lock, flags);
	mf->error = job_fence->error;
	if (mf->error) {
		mf->state = SIMGPU_MOVE_FAILED;
		queue_work(mig->wq, &mig->redo_work);
	} else {
		mf->state = SIMGPU_MOVE_DONE;
		simgpu_migrate_signal_locked(mig);
	}
	spin_unlock_irqrestore(&mig->lock, flags);
}

/* Wait for the job's fence through the callback; false if it is done. */
static bool simgpu_move_fence_watch(struct simgpu_move_fence *mf,
				    struct dma_fence *job_fence)
{
	dma_fence_put(mf->job_fence);
	mf->job_fence = job_fence;
	mf->tries++;
	return !dma_fence_add_callback(job_fence, &mf->cb,
				       simgpu_move_fence_job_done);
}

/*
 * The CPU address of @len bytes at @addr of engine address space @space,
 * mapped for the current page only (unmap with simgpu_cpu_unmap()); NULL
 * if the CPU cannot reach it.  @n returns how many bytes are in the page.
 */
static void *simgpu_cpu_map(struct simgpu_device *sdev, u32 space, u64 addr,
			    u64 len, bool *iomem, u64 *n)
{
	struct simgpu_gart *gart = &sdev->gart;
	u64 in_page = offset_in_page(addr);
	struct io_mapping *iomap;
	struct page *page;
	u64 idx;

	*n = min_t(u64, len, PAGE_SIZE - in_page);
	if (space == SIMGPU_SPACE_GART) {
		idx = addr >> SIMGPU_GART_PAGE_SHIFT;
		if (idx >= gart->entries || !gart->pages)
			return NULL;
		page = READ_ONCE(gart->pages[idx]);
		if (!page)
			return NULL;
		*iomem = false;
		return kmap_local_page(page) + in_page;
	}
	if (space - SIMGPU_SPACE_VRAM0 >= sdev->num_regions ||
	    addr + *n > sdev->vram_mgr[space - SIMGPU_SPACE_VRAM0].visible_size)
		return NULL;
	iomap = &sdev->vram_mgr[space - SIMGPU_SPACE_VRAM0].iomap;
	*iomem = true;
	return (void __force *)io_mapping_map_local_wc(iomap, addr - in_page) +
	       in_page;
}

static void simgpu_cpu_unmap(void *p, bool iomem)
{
	void *page = (void *)((unsigned long)p & PAGE_MASK);

	if (iomem)
		io_mapping_unmap_local((void __iomem __force *)page);
	else
		kunmap_local(page);
}

/* Whether the CPU reaches every byte of [@addr, @addr + @len). */
static bool simgpu_cpu_reaches(struct simgpu_device *sdev, u32 space,
			       u64 addr, u64 len)
{
	u64 idx, last;

	if (space == SIMGPU_SPACE_GART) {
		last = (addr + len - 1) >> SIMGPU_GART_PAGE_SHIFT;
		if (last >= sdev->gart.entries || !sdev->gart.pages)
			return false;
		for (idx = addr >> SIMGPU_GART_PAGE_SHIFT; idx <= last; idx++)
			if (!READ_ONCE(sdev->gart.pages[idx]))
				return false;
		return true;
	}
	return space - SIMGPU_SPACE_VRAM0 < sdev->num_regions &&
	       addr + len <= sdev->vram_mgr[space - SIMGPU_SPACE_VRAM0].visible_size;
}

/* Copy @n bytes, either side in I/O memory (through a small buffer). */
static void simgpu_cpu_copy(void *dst, bool dst_io, const void *src,
			    bool src_io, u64 n)
{
	u8 buf[64];
	u64 k;

	if (!src_io && !dst_io) {
		memcpy(dst, src, n);
	} else if (!src_io) {
		memcpy_toio((void __iomem __force *)dst, src, n);
	} else if (!dst_io) {
		memcpy_fromio(dst, (const void __iomem __force *)src, n);
	} else {
		for (; n; n -= k, src += k, dst += k) {
			k = min_t(u64, n, sizeof(buf));
			memcpy_fromio(buf, (const void __iomem __force *)src, k);
			memcpy_toio((void __iomem __force *)dst, buf, k);
		}
	}
}

/* FILL @n bytes with the 32-bit @value, @phase bytes into the pattern. */
static void simgpu_cpu_fill(void *dst, bool dst_io, u32 value, u64 phase,
			    u64 n)
{
	u32 v = ror32(value, 8 * (phase % 4));
	u64 i;

	if (!value) {
		if (dst_io)
			memset_io((void __iomem __force *)dst, 0, n);
		else
			memset(dst, 0, n);
		return;
	}
	for (i = 0; i + 4 <= n; i += 4) {
		if (dst_io)
			writel(v, (void __iomem __force *)dst + i);
		else
			*(u32 *)(dst + i) = v;
	}
}

/*
 * Run @cmds with the CPU, as the engine would have (COPYs between
 * different resources, so never overlapping).  -EIO if the CPU cannot
 * reach some address; nothing is written then.
 */
static int simgpu_cpu_run_cmds(struct simgpu_device *sdev,
			       const struct simgpu_hw_cmd *cmds,
			       unsigned int num_cmds)
{
	const struct simgpu_hw_cmd *c;
	void *src = NULL, *dst;
	bool src_io = false, dst_io;
	u64 done, n, m;
	unsigned int i;

	for (i = 0; i < num_cmds; i++) {
		c = &cmds[i];
		if (!c->len)
			continue;
		if (!simgpu_cpu_reaches(sdev, c->dst_space, c->dst, c->len) ||
		    (c->op == SIMGPU_OP_COPY &&
		     !simgpu_cpu_reaches(sdev, c->src_space, c->src, c->len)))
			return -EIO;
	}
	for (i = 0; i < num_cmds; i++) {
		c = &cmds[i];
		for (done = 0; done < c->len; done += n) {
			dst = simgpu_cpu_map(sdev, c->dst_space, c->dst + done,
					     c->len - done, &dst_io, &n);
			if (c->op == SIMGPU_OP_COPY) {
				src = simgpu_cpu_map(sdev, c->src_space,
						     c->src + done, n, &src_io,
						     &m);
				n = m;
				simgpu_cpu_copy(dst, dst_io, src, src_io, n);
				simgpu_cpu_unmap(src, src_io);
			} else {
				simgpu_cpu_fill(dst, dst_io, c->value, done, n);
			}
			simgpu_cpu_unmap(dst, dst_io);
			cond_resched();
		}
	}
	return 0;
}

/* Zero what the CPU reaches of the destinations of @cmds. */
static void simgpu_cpu_zero_dst(struct simgpu_device *sdev,
				const struct simgpu_hw_cmd *cmds,
				unsigned int num_cmds)
{
	struct simgpu_hw_cmd fill;
	unsigned int i;

	for (i = 0; i < num_cmds; i++) {
		fill = (struct simgpu_hw_cmd){
			.op = SIMGPU_OP_FILL, .dst_space = cmds[i].dst_space,
			.dst = cmds[i].dst, .len = cmds[i].len,
		};
		simgpu_cpu_run_cmds(sdev, &fill, 1);
	}
}

/*
 * Redo a failed move: with the CPU if it reaches everything, else with
 * another engine job.  Returns true if a job is running for it again.
 */
static bool simgpu_move_redo(struct simgpu_move_fence *mf)
{
	struct simgpu_device *sdev = mf->sdev;
	struct dma_fence *fence;
	struct simgpu_job *job;
	unsigned int noreclaim;
	bool running = false;
	int idx;

	/* Unplugged: VRAM's content is gone with the device. */
	if (!drm_dev_enter(&sdev->drm, &idx))
		return false;
	/* The engine is lost (registers read all-ones): nothing to redo. */
	if (mf->error == -ENODEV || mf->error == -ECANCELED)
		goto lost;
	if (!simgpu_test_bug(SIMGPU_BUG_NO_MOVE_REDO) &&
	    READ_ONCE(sdev->migrate.redo_by_cpu) &&
	    !simgpu_cpu_run_cmds(sdev, mf->cmds, mf->num_cmds)) {
		atomic64_inc(&sdev->stats.move_redos_cpu);
		mf->error = 0;
		drm_dev_exit(idx);
		return false;
	}
	if (mf->tries < SIMGPU_MOVE_MAX_TRIES &&
	    !simgpu_test_bug(SIMGPU_BUG_NO_MOVE_REDO)) {
		/*
		 * Reclaim may be waiting for this fence: allocate without
		 * entering it (and from the reserves if need be).
		 */
		noreclaim = memalloc_noreclaim_save();
		/*
		 * Not on the kernel entity: jobs queued there may wait for
		 * this very move (its eviction fence).
		 */
		job = simgpu_job_create_cmds(sdev, &sdev->redo_entity,
					     mf->cmds, mf->num_cmds, 0);
		if (!IS_ERR(job))
			job->cmds_shared = true;
		memalloc_noreclaim_restore(noreclaim);
		if (!IS_ERR(job)) {
			atomic64_inc(&sdev->stats.move_redos_engine);
			mutex_lock(&sdev->migrate.redo_push_lock);
			fence = simgpu_job_push(job);
			mutex_unlock(&sdev->migrate.redo_push_lock);
			running = simgpu_move_fence_watch(mf, fence);
			if (!running)
				mf->error = mf->job_fence->error;
			if (!mf->error || running) {
				drm_dev_exit(idx);
				return running;
			}
		}
	}
lost:
	/* What the BO now reads must not be another's data. */
	simgpu_cpu_zero_dst(sdev, mf->cmds, mf->num_cmds);
	drm_dev_exit(idx);
	atomic64_inc(&sdev->stats.moves_lost);
	drm_err_ratelimited(&sdev->drm,
			    "engine move failed (%d) and could not be redone: content of a buffer object lost\n",
			    mf->error);
	return false;
}

static void simgpu_migrate_redo_work(struct work_struct *work)
{
	struct simgpu_migrate *mig =
		container_of(work, struct simgpu_migrate, redo_work);
	struct simgpu_move_fence *mf;
	bool found;

	do {
		found = false;
		spin_lock_irq(&mig->lock);
		list_for_each_entry(mf, &mig->pending, link) {
			if (mf->state == SIMGPU_MOVE_FAILED) {
				mf->state = SIMGPU_MOVE_REDOING;
				dma_fence_get(&mf->base);
				found = true;
				break;
			}
		}
		spin_unlock_irq(&mig->lock);
		if (!found)
			break;

		if (!simgpu_move_redo(mf)) {
			spin_lock_irq(&mig->lock);
			mf->state = SIMGPU_MOVE_DONE;
			simgpu_migrate_signal_locked(mig);
			spin_unlock_irq(&mig->lock);
		} else {
			/* The job's callback takes it from here. */
			spin_lock_irq(&mig->lock);
			if (mf->state == SIMGPU_MOVE_REDOING)
				mf->state = SIMGPU_MOVE_RUNNING;
			spin_unlock_irq(&mig->lock);
		}
		dma_fence_put(&mf->base);
	} while (true);
}

/**
 * simgpu_migrate_push - push a move's job and return the move's fence
 * @job: from simgpu_job_create() on &simgpu_device.kernel_entity, with
 *	its dependencies added; pushed (or dropped) in any case
 * @tbo: the BO it moves (reserved)
 *
 * The move fence takes over the job's commands for a redo.
 *
 * Return: a reference to the move's fence, or an ERR_PTR() (-ENOMEM):
 * the job was not pushed then.
 */
struct dma_fence *simgpu_migrate_push(struct simgpu_job *job,
				      struct ttm_buffer_object *tbo)
{
	struct simgpu_device *sdev = job->sdev;
	struct simgpu_migrate *mig = &sdev->migrate;
	struct simgpu_move_fence *mf;
	struct dma_fence *job_fence;
	unsigned long flags;
	bool running;

	mf = kzalloc_obj(*mf);
	if (!mf) {
		simgpu_job_put(job);
		return ERR_PTR(-ENOMEM);
	}
	mf->sdev = sdev;
	mf->owner = tbo;
	mf->cmds = job->cmds;
	mf->num_cmds = job->num_cmds;
	job->cmds_shared = true;

	/*
	 * Fences of the context in push order, so that seqno order is the
	 * order in &simgpu_migrate.pending: the one kernel_push_lock.
	 */
	mutex_lock(&sdev->kernel_push_lock);
	spin_lock_irqsave(&mig->lock, flags);
	dma_fence_init64(&mf->base, &simgpu_move_fence_ops, NULL,
			 mig->fence_context, ++mig->next_seqno);
	dma_fence_get(&mf->base); /* the list's */
	list_add_tail(&mf->link, &mig->pending);
	spin_unlock_irqrestore(&mig->lock, flags);
	job_fence = simgpu_job_push(job);
	mutex_unlock(&sdev->kernel_push_lock);

	running = simgpu_move_fence_watch(mf, job_fence);
	if (!running)
		simgpu_move_fence_job_done(job_fence, &mf->cb);
	atomic64_inc(&sdev->stats.pipelined_moves);
	return &mf->base;
}

/**
 * simgpu_migrate_pending - count the move fences not signalled yet
 * @sdev: simgpu device
 *
 * Return: the number of pending move fences (a gauge: zero when idle).
 */
unsigned int simgpu_migrate_pending(struct simgpu_device *sdev)
{
	struct simgpu_migrate *mig = &sdev->migrate;
	unsigned int n;

	spin_lock_irq(&mig->lock);
	n = list_count_nodes(&mig->pending);
	spin_unlock_irq(&mig->lock);
	return n;
}

/**
 * simgpu_migrate_init - set up the pipelined moves' state
 * @sdev: simgpu device
 *
 * Return: 0 or -ENOMEM.
 */
int simgpu_migrate_init(struct simgpu_device *sdev)
{
	struct simgpu_migrate *mig = &sdev->migrate;

	spin_lock_init(&mig->lock);
	mutex_init(&mig->redo_push_lock);
	INIT_LIST_HEAD(&mig->pending);
	init_waitqueue_head(&mig->idle);
	INIT_WORK(&mig->redo_work, simgpu_migrate_redo_work);
	mig->fence_context = dma_fence_context_alloc(1);
	mig->redo_by_cpu = true;
	/* Reclaim may wait for move fences: a rescuer for the redo. */
	mig->wq = alloc_workqueue("simgpu-move", WQ_MEM_RECLAIM | WQ_UNBOUND,
				  1);
	return mig->wq ? 0 : -ENOMEM;
}

/**
 * simgpu_migrate_fini - wait for every move fence, then free the state
 * @sdev: simgpu device, whose scheduler has finished or failed every job
 */
void simgpu_migrate_fini(struct simgpu_device *sdev)
{
	struct simgpu_migrate *mig = &sdev->migrate;

	if (!mig->wq)
		return;
	wait_event(mig->idle, !simgpu_migrate_pending(sdev));
	destroy_workqueue(mig->wq);
	mutex_destroy(&mig->redo_push_lock);
	mig->wq = NULL;
}
