// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu copy/fill engine: command ring, seqno fences, interrupts, and
 * recovery from engine errors and hangs.  The GPU scheduler
 * (simgpu_sched.c) is its only user: run_job() queues a job's work here.
 *
 * Work is split into commands of at most SIMGPU_ENGINE_MAX_CMD_BYTES,
 * each within a piece that is contiguous on both sides (VRAM resources
 * are scattered over buddy blocks), and ends with a FENCE command that
 * writes its seqno; the fence interrupt reads FENCE_SEQNO and signals
 * the engine fences up to it.  Work larger than the free ring waits for
 * space, telling the device about the commands queued so far first.
 *
 * The scheduler's timeout asks simgpu_engine_timeout() whether the engine
 * is stuck: an engine that reports an error or a hang, or that neither
 * retired a fence nor finished a command (the ring head) since the last
 * check, is reset; the reset drops the queued work and signals its
 * fences with -EIO.  A device that reads all-ones (surprise removal) is
 * declared lost: its work fails with -ENODEV and nothing more is queued.
 *
 * Fences carry their own lock and no pointer into the device, so a fence
 * exported as a sync_file or kept in another driver's reservation object
 * outlives the device safely; once signalled it no longer needs the
 * module either (its ops are dropped at signalling).
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <drm/gpu_scheduler.h>

#include "simgpu_drv.h"
#include "simgpu_res_cursor.h"

#define SIMGPU_RING_BYTES	SZ_64K

static const char *simgpu_fence_get_driver_name(struct dma_fence *fence)
{
	return DRIVER_NAME;
}

static const char *simgpu_fence_get_timeline_name(struct dma_fence *fence)
{
	return "engine";
}

static const struct dma_fence_ops simgpu_fence_ops = {
	.get_driver_name = simgpu_fence_get_driver_name,
	.get_timeline_name = simgpu_fence_get_timeline_name,
};

/*
 * The engine's last written fence seqno.  False if the value cannot be
 * one the driver emitted: a device that fell off the bus (surprise
 * removal) reads all-ones, and that must never count as progress.
 */
static u64 simgpu_hw_fence_seqno_raw(struct simgpu_device *sdev)
{
	u32 hi, lo;

	do {
		hi = simgpu_read(sdev, SIMGPU_REG_FENCE_SEQNO_HI);
		lo = simgpu_read(sdev, SIMGPU_REG_FENCE_SEQNO_LO);
	} while (hi != simgpu_read(sdev, SIMGPU_REG_FENCE_SEQNO_HI));
	return (u64)hi << 32 | lo;
}

static bool simgpu_hw_fence_seqno(struct simgpu_device *sdev, u64 *seqno)
{
	*seqno = simgpu_hw_fence_seqno_raw(sdev);
	return simgpu_test_bug(SIMGPU_BUG_ALL_ONES) ||
	       (*seqno != U64_MAX &&
		*seqno <= READ_ONCE(sdev->engine.next_seqno));
}

/*
 * Signal the pending fences up to @seqno, and all others with @error if
 * it is not zero (they will never complete).  The fences are signalled
 * under fence_lock, so in seqno order whoever signals.
 */
static void simgpu_engine_signal(struct simgpu_device *sdev, u64 seqno,
				 int error)
{
	struct simgpu_engine *engine = &sdev->engine;
	struct simgpu_fence *f, *next;
	unsigned long flags;
	u64 last = 0;

	spin_lock_irqsave(&engine->fence_lock, flags);
	list_for_each_entry_safe(f, next, &engine->pending, link) {
		if (f->base.seqno > seqno) {
			if (!error)
				break;
			dma_fence_set_error(&f->base, error);
		}
		last = f->base.seqno;
		list_del(&f->link);
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
	}
	if (list_empty(&engine->pending))
		seqno = max(seqno, last);
	else
		seqno = list_first_entry(&engine->pending, struct simgpu_fence,
					 link)->base.seqno - 1;
	WRITE_ONCE(engine->retired_seqno, max(engine->retired_seqno, seqno));
	spin_unlock_irqrestore(&engine->fence_lock, flags);
	wake_up_all(&engine->wq);
}

/*
 * The device reads all-ones: it fell off the bus or is broken.  Fail all
 * its work and accept no more; simgpu_engine_usable() is then false, so
 * TTM moves fall back to the CPU.
 */
static void simgpu_engine_lost_locked(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;

	lockdep_assert_held(&engine->ring_lock);
	if (engine->dead)
		return;
	drm_err(&sdev->drm,
		"engine: the device is not responding (registers read all-ones): failing its work\n");
	WRITE_ONCE(engine->dead, true);
	atomic64_inc(&sdev->stats.engine_errors);
	simgpu_engine_signal(sdev, 0, -ENODEV);
}

/*
 * No drm_dev_enter() here nor in simgpu_engine_timeout():
 * simgpu_pci_remove() unplugs the DRM device first and waits for everyone
 * inside drm_dev_enter(), TTM moves waiting for fences among them, and
 * only these two signal the fences.  Both stay safe without it:
 * simgpu_engine_fini() frees the interrupts and marks the engine dead
 * (which simgpu_engine_timeout() checks under ring_lock) before the
 * registers go away.
 */
static irqreturn_t simgpu_irq(int irq, void *arg)
{
	struct simgpu_device *sdev = arg;
	u32 status;
	u64 seqno;

	status = simgpu_read(sdev, SIMGPU_REG_INT_STATUS);
	if (!status || status == U32_MAX) /* not ours, or surprise removal */
		return IRQ_NONE;

	simgpu_write(sdev, SIMGPU_REG_INT_STATUS, status);
	if (status & SIMGPU_INT_FENCE) {
		if (simgpu_hw_fence_seqno(sdev, &seqno))
			simgpu_engine_signal(sdev, seqno, 0);
		else	/* let the timeout work find out what happened */
			status |= SIMGPU_INT_ERROR;
	}
	if (status & SIMGPU_INT_ERROR)	/* the scheduler's timeout, now */
		drm_sched_fault(&sdev->sched);
	return IRQ_HANDLED;
}

static void simgpu_engine_hw_start(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;

	simgpu_write(sdev, SIMGPU_REG_ENGINE_CTRL, SIMGPU_ENGINE_CTRL_RESET);
	simgpu_write(sdev, SIMGPU_REG_RING_BASE_LO, lower_32_bits(engine->ring_dma));
	simgpu_write(sdev, SIMGPU_REG_RING_BASE_HI, upper_32_bits(engine->ring_dma));
	simgpu_write(sdev, SIMGPU_REG_RING_SIZE, engine->ring_size);
	engine->tail = 0;
	engine->kicked_tail = 0;
	simgpu_write(sdev, SIMGPU_REG_INT_MASK,
		     SIMGPU_INT_FENCE | SIMGPU_INT_ERROR);
	simgpu_write(sdev, SIMGPU_REG_ENGINE_CTRL, SIMGPU_ENGINE_CTRL_ENABLE);
}

/* Reset the engine and fail the fences of the work it dropped. */
static void simgpu_engine_reset_locked(struct simgpu_device *sdev,
				       const char *why)
{
	struct simgpu_engine *engine = &sdev->engine;
	u64 seqno;

	lockdep_assert_held(&engine->ring_lock);

	/* A warning, so that it reaches the console of every test run. */
	drm_warn(&sdev->drm,
		 "engine %s (status 0x%x, error %u at 0x%x): resetting\n", why,
		 simgpu_read(sdev, SIMGPU_REG_ENGINE_STATUS),
		 simgpu_read(sdev, SIMGPU_REG_ERROR_CODE),
		 simgpu_read(sdev, SIMGPU_REG_ERROR_HEAD));
	simgpu_engine_hw_start(sdev);
	atomic64_inc(&sdev->stats.engine_resets);
	/* Fences the engine wrote before the reset are good. */
	if (!simgpu_hw_fence_seqno(sdev, &seqno)) {
		simgpu_engine_lost_locked(sdev);
		return;
	}
	simgpu_engine_signal(sdev, seqno, -EIO);
}

/**
 * simgpu_engine_pending - count the fences not signalled yet
 * @sdev: simgpu device
 *
 * A gauge for debugfs: zero whenever the engine is idle.
 *
 * Return: the number of pending fences.
 */
unsigned int simgpu_engine_pending(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;
	unsigned int n;

	spin_lock_irq(&engine->fence_lock);
	n = list_count_nodes(&engine->pending);
	spin_unlock_irq(&engine->fence_lock);
	return n;
}

static const char *const simgpu_err_names[] = SIMGPU_ERR_NAMES;

/*
 * The engine stopped on an error.  Apart from an injected fault, every
 * error is a command the driver should never have sent (entries it had
 * unbound, a range it did not own): count and report it as a driver bug,
 * whatever the scenario injects.
 */
static void simgpu_engine_check_error(struct simgpu_device *sdev)
{
	u32 code = simgpu_read(sdev, SIMGPU_REG_ERROR_CODE);

	if (code == SIMGPU_ERR_INJECTED)
		return;
	atomic64_inc(&sdev->stats.engine_bad_cmds);
	drm_err(&sdev->drm, "engine refused a command at 0x%x: %s (error %u)\n",
		simgpu_read(sdev, SIMGPU_REG_ERROR_HEAD),
		code < ARRAY_SIZE(simgpu_err_names) && simgpu_err_names[code] ?
		simgpu_err_names[code] : "unknown error", code);
}

/**
 * simgpu_engine_timeout - check a busy engine for a hang
 * @sdev: simgpu device
 * @why: returns what is wrong, for simgpu_engine_reset()
 *
 * For the scheduler's timeout (which the error interrupt triggers at
 * once): an engine that reports an error or a hang, or that has neither
 * retired a fence nor finished a command for timeout_ms (read now: it may
 * be changed at run time), needs a reset.  Work waiting for ring space
 * then gives up (-EIO), so that the scheduler can stop before the reset.
 *
 * Return: 0 if the engine is making progress, -EIO if it must be reset
 * (simgpu_engine_reset()), -ENODEV if the device is gone (its work has
 * failed).
 */
int simgpu_engine_timeout(struct simgpu_device *sdev, const char **why)
{
	struct simgpu_engine *engine = &sdev->engine;
	u32 status, head;
	u64 seqno;
	int ret = 0;

	*why = NULL;
	mutex_lock(&engine->ring_lock);
	if (engine->dead) {
		ret = -ENODEV;
		goto out;
	}
	status = simgpu_read(sdev, SIMGPU_REG_ENGINE_STATUS);
	if ((status == U32_MAX && !simgpu_test_bug(SIMGPU_BUG_ALL_ONES)) ||
	    !simgpu_hw_fence_seqno(sdev, &seqno)) {
		simgpu_engine_lost_locked(sdev);
		ret = -ENODEV;
		goto out;
	}
	/* Catch up with fences whose interrupt we have not seen yet. */
	simgpu_engine_signal(sdev, seqno, 0);
	head = simgpu_read(sdev, SIMGPU_REG_RING_HEAD);
	if (READ_ONCE(engine->retired_seqno) != engine->last_progress ||
	    (head != engine->last_head &&
	     !simgpu_test_bug(SIMGPU_BUG_SEQNO_PROGRESS)))
		engine->progress_time = jiffies;
	engine->last_progress = READ_ONCE(engine->retired_seqno);
	engine->last_head = head;
	if (status & SIMGPU_ENGINE_STATUS_ERROR) {
		*why = "error";
		simgpu_engine_check_error(sdev);
	} else if (status & SIMGPU_ENGINE_STATUS_HUNG) {
		*why = "hang";
	} else if (time_after_eq(jiffies, engine->progress_time +
			       msecs_to_jiffies(READ_ONCE(simgpu_timeout_ms)))) {
		*why = "timeout";
	}
	if (*why) {
		atomic64_inc(&sdev->stats.engine_errors);
		engine->hangs++;
		wake_up_all(&engine->wq);
		ret = -EIO;
	}
out:
	mutex_unlock(&engine->ring_lock);
	return ret;
}

/**
 * simgpu_engine_reset - reset a hung engine
 * @sdev: simgpu device
 * @why: what simgpu_engine_timeout() found
 *
 * With the scheduler stopped: the work on the ring fails with -EIO.
 */
void simgpu_engine_reset(struct simgpu_device *sdev, const char *why)
{
	struct simgpu_engine *engine = &sdev->engine;

	mutex_lock(&engine->ring_lock);
	if (!engine->dead) {
		simgpu_engine_reset_locked(sdev, why);
		engine->last_head = 0;
		engine->progress_time = jiffies;
	}
	mutex_unlock(&engine->ring_lock);
}

/**
 * simgpu_engine_cancel - fail every engine fence still pending
 * @sdev: simgpu device, whose engine is stopped for good
 *
 * For the scheduler's teardown: a job's fence must signal before it is
 * freed.  Does nothing after simgpu_engine_fini(), which failed them all.
 */
void simgpu_engine_cancel(struct simgpu_device *sdev)
{
	simgpu_engine_signal(sdev, 0, -ECANCELED);
}

static u32 simgpu_engine_free_slots(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;
	u32 head = simgpu_read(sdev, SIMGPU_REG_RING_HEAD);
	u32 used = (READ_ONCE(engine->tail) - head) & (engine->ring_size - 1);

	return (engine->ring_size - used) / SIMGPU_CMD_SIZE - 1;
}

/* Tell the device about the commands queued so far. */
static void simgpu_engine_kick(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;

	lockdep_assert_held(&engine->ring_lock);
	/* Commands in memory before the doorbell. */
	wmb();
	simgpu_write(sdev, SIMGPU_REG_RING_TAIL, engine->tail);
	engine->kicked_tail = engine->tail;
}

/*
 * Wait until @slots ring slots are free; return how many are.  Called
 * with ring_lock held; drops it while sleeping.  -EIO if the engine was
 * found hung meanwhile: the reset that follows drops what the caller
 * queued, and the scheduler waits for run_job() before it resets.
 */
static int simgpu_engine_wait_space(struct simgpu_device *sdev,
				    unsigned int slots)
{
	struct simgpu_engine *engine = &sdev->engine;
	unsigned int hangs = engine->hangs;
	u32 free;

	lockdep_assert_held(&engine->ring_lock);
	while ((free = simgpu_engine_free_slots(sdev)) < slots) {
		if (engine->dead)
			return -ENODEV;
		/* The device frees slots only for commands it knows of. */
		if (engine->kicked_tail != engine->tail &&
		    !simgpu_test_bug(SIMGPU_BUG_NO_KICK))
			simgpu_engine_kick(sdev);
		mutex_unlock(&engine->ring_lock);
		/* The head moves without interrupts: poll as well. */
		wait_event_timeout(engine->wq,
				   simgpu_engine_free_slots(sdev) >= slots ||
				   READ_ONCE(engine->dead), HZ / 100);
		mutex_lock(&engine->ring_lock);
		if (engine->hangs != hangs)
			return -EIO;
	}
	return engine->dead ? -ENODEV : free;
}

/* Write @cmd at the tail; the caller made sure a slot is free. */
static void simgpu_engine_emit(struct simgpu_engine *engine,
			       const struct simgpu_hw_cmd *hw)
{
	u8 *cmd = engine->ring + engine->tail;

	memset(cmd, 0, SIMGPU_CMD_SIZE);
	*(__le32 *)(cmd + SIMGPU_CMD_OFF_OP) = cpu_to_le32(hw->op);
	*(__le64 *)(cmd + SIMGPU_CMD_OFF_SRC_ADDR) = cpu_to_le64(hw->src);
	*(__le64 *)(cmd + SIMGPU_CMD_OFF_DST_ADDR) = cpu_to_le64(hw->dst);
	*(__le64 *)(cmd + SIMGPU_CMD_OFF_LENGTH) = cpu_to_le64(hw->len);
	*(__le32 *)(cmd + SIMGPU_CMD_OFF_SRC_SPACE) = cpu_to_le32(hw->src_space);
	*(__le32 *)(cmd + SIMGPU_CMD_OFF_DST_SPACE) = cpu_to_le32(hw->dst_space);
	*(__le64 *)(cmd + SIMGPU_CMD_OFF_VALUE) = cpu_to_le64(hw->value);
	engine->tail = (engine->tail + SIMGPU_CMD_SIZE) & (engine->ring_size - 1);
}

/*
 * The commands of one COPY or FILL: pieces contiguous on both sides, at
 * most SIMGPU_ENGINE_MAX_CMD_BYTES.  A copy to a higher offset of the
 * same resource goes from the end backward, so that the pieces together
 * behave like one memmove().
 */
struct simgpu_op_iter {
	const struct simgpu_engine_op *op;
	struct simgpu_res_cursor src;
	struct simgpu_res_cursor dst;
	bool done;
};

static void simgpu_op_iter_init(struct simgpu_op_iter *it,
				const struct simgpu_engine_op *op)
{
	bool backward = op->src == op->dst && op->dst_offset > op->src_offset;

	it->op = op;
	it->done = false;
	simgpu_res_first(op->dst, op->dst_offset, op->len, backward, &it->dst);
	if (op->src)
		simgpu_res_first(op->src, op->src_offset, op->len, backward,
				 &it->src);
}

/* The next command of the walk into @hw; false when there is none. */
static bool simgpu_op_iter_next(struct simgpu_op_iter *it,
				struct simgpu_hw_cmd *hw)
{
	const struct simgpu_engine_op *op = it->op;
	u64 n;

	if (it->done)
		return false;
	n = min_t(u64, it->dst.size, SIMGPU_ENGINE_MAX_CMD_BYTES);
	if (op->src)
		n = min(n, it->src.size);
	if (simgpu_test_bug(SIMGPU_BUG_UNSPLIT))
		n = it->dst.remaining;

	memset(hw, 0, sizeof(*hw));
	hw->op = op->op;
	hw->value = op->value;
	hw->len = n;
	hw->dst_space = it->dst.space;
	hw->dst = simgpu_res_piece(&it->dst, n);
	if (op->src) {
		hw->src_space = it->src.space;
		hw->src = simgpu_res_piece(&it->src, n);
	}

	if (n == it->dst.remaining) {
		it->done = true;
		return true;
	}
	simgpu_res_next(&it->dst, n);
	if (op->src)
		simgpu_res_next(&it->src, n);
	return true;
}

/**
 * simgpu_engine_build_cmds - the engine commands of some work
 * @ops: the COPYs and FILLs
 * @num_ops: entries in @ops
 * @num_cmds: returns the number of commands
 *
 * The commands carry device addresses only, so the work no longer
 * depends on its resources: TTM may free or reuse them once the move
 * that uses them is committed (the reuse waits for the move's fence).
 *
 * Return: an array for kvfree(), or NULL if out of memory.
 */
struct simgpu_hw_cmd *simgpu_engine_build_cmds(const struct simgpu_engine_op *ops,
					       unsigned int num_ops,
					       unsigned int *num_cmds)
{
	struct simgpu_hw_cmd hw, *cmds;
	struct simgpu_op_iter it;
	unsigned int i, n = 0;

	for (i = 0; i < num_ops; i++)
		for (simgpu_op_iter_init(&it, &ops[i]);
		     simgpu_op_iter_next(&it, &hw);)
			n++;
	cmds = kvmalloc_array(n, sizeof(*cmds), GFP_KERNEL);
	if (!cmds)
		return NULL;
	n = 0;
	for (i = 0; i < num_ops; i++)
		for (simgpu_op_iter_init(&it, &ops[i]);
		     simgpu_op_iter_next(&it, &cmds[n]);)
			n++;
	*num_cmds = n;
	return cmds;
}

/**
 * simgpu_engine_submit - queue engine work followed by a fence
 * @sdev: simgpu device
 * @cmds: the commands, from simgpu_engine_build_cmds()
 * @num_cmds: number of entries in @cmds
 * @f: the fence to use, zeroed, allocated by the caller (the scheduler's
 *	run_job() must not allocate memory); the caller keeps it on error
 *
 * Waits for ring space if needed (not interruptible: the engine always
 * makes progress or is reset).
 *
 * Return: @f's dma_fence with a reference for the caller (if the engine
 * was found hung while the work was being queued, the fence fails at the
 * reset), or ERR_PTR(-ENODEV) if the device is gone.
 */
struct dma_fence *simgpu_engine_submit(struct simgpu_device *sdev,
				       const struct simgpu_hw_cmd *cmds,
				       unsigned int num_cmds,
				       struct simgpu_fence *f)
{
	struct simgpu_engine *engine = &sdev->engine;
	struct simgpu_hw_cmd hw;
	unsigned int i;
	u32 room = 0;
	int ret = 0, idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return ERR_PTR(-ENODEV);

	mutex_lock(&engine->ring_lock);
	if (engine->dead)
		ret = -ENODEV;
	for (i = 0; !ret && i < num_cmds; i++) {
		/* Always a slot left for the fence. */
		if (room < 2) {
			ret = simgpu_engine_wait_space(sdev, 2);
			if (ret < 0)
				break;
			room = ret;
			ret = 0;
		}
		simgpu_engine_emit(engine, &cmds[i]);
		atomic64_inc(&sdev->stats.engine_cmds);
		room--;
	}
	if (!ret && !room) {
		ret = simgpu_engine_wait_space(sdev, 1);
		ret = min(ret, 0);
	}
	if (ret && ret != -EIO)
		goto out_unlock;

	/* No lock of the device's: the fence may outlive it. */
	dma_fence_init64(&f->base, &simgpu_fence_ops, NULL,
			 engine->fence_context, engine->next_seqno + 1);
	WRITE_ONCE(engine->next_seqno, engine->next_seqno + 1);
	if (!ret) {
		memset(&hw, 0, sizeof(hw));
		hw.op = SIMGPU_OP_FENCE;
		hw.dst = engine->fence_dma;
		hw.value = f->base.seqno;
		simgpu_engine_emit(engine, &hw);
	}
	/*
	 * -EIO: a hang was found while the work waited for ring space.  Its
	 * fence, with no FENCE command, fails only at the reset that
	 * follows, not while the engine might still run what was queued.
	 */
	ret = 0;

	dma_fence_get(&f->base); /* the pending list's reference */
	spin_lock_irq(&engine->fence_lock);
	list_add_tail(&f->link, &engine->pending);
	spin_unlock_irq(&engine->fence_lock);

	simgpu_engine_kick(sdev);
out_unlock:
	mutex_unlock(&engine->ring_lock);
	drm_dev_exit(idx);
	return ret ? ERR_PTR(ret) : &f->base;
}

static int simgpu_engine_irq_init(struct simgpu_device *sdev)
{
	struct pci_dev *pdev = sdev->pdev;
	unsigned long flags = 0;
	int i, n, ret;

	n = pci_alloc_irq_vectors(pdev, SIMGPU_MSIX_VECTORS,
				  SIMGPU_MSIX_VECTORS, PCI_IRQ_MSIX);
	if (n < 0) {
		n = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_INTX);
		flags = IRQF_SHARED;
	}
	if (n < 0)
		return n;

	for (i = 0; i < n; i++) {
		ret = request_irq(pci_irq_vector(pdev, i), simgpu_irq, flags,
				  DRIVER_NAME, sdev);
		if (ret)
			goto err_free;
	}
	sdev->engine.irqs = n;
	drm_info(&sdev->drm, "engine: %s interrupts\n",
		 pdev->msix_enabled ? "MSI-X" : "INTx");
	return 0;

err_free:
	while (--i >= 0)
		free_irq(pci_irq_vector(pdev, i), sdev);
	pci_free_irq_vectors(pdev);
	return ret;
}

static void simgpu_engine_irq_fini(struct simgpu_device *sdev)
{
	int i;

	for (i = 0; i < sdev->engine.irqs; i++)
		free_irq(pci_irq_vector(sdev->pdev, i), sdev);
	pci_free_irq_vectors(sdev->pdev);
	sdev->engine.irqs = 0;
}

/**
 * simgpu_engine_init - set up the ring, the fences and the interrupts
 * @sdev: simgpu device
 *
 * Return: 0 or a negative error code.
 */
int simgpu_engine_init(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;
	struct device *dev = &sdev->pdev->dev;
	int ret;

	if (!(sdev->hw_caps & SIMGPU_CAP_ENGINE)) {
		drm_err(&sdev->drm, "device has no engine\n");
		return -ENODEV;
	}

	mutex_init(&engine->ring_lock);
	spin_lock_init(&engine->fence_lock);
	INIT_LIST_HEAD(&engine->pending);
	init_waitqueue_head(&engine->wq);
	engine->fence_context = dma_fence_context_alloc(1);

	engine->ring_size = SIMGPU_RING_BYTES;
	engine->ring = dma_alloc_coherent(dev, engine->ring_size,
					  &engine->ring_dma, GFP_KERNEL);
	if (!engine->ring)
		return -ENOMEM;
	engine->fence_cpu = dma_alloc_coherent(dev, PAGE_SIZE,
					       &engine->fence_dma, GFP_KERNEL);
	if (!engine->fence_cpu) {
		ret = -ENOMEM;
		goto err_ring;
	}

	/*
	 * FENCE_SEQNO survives engine resets and driver reloads: a new
	 * instance continues above what the last one left there, or that
	 * stale value would signal its first fences before they ran.
	 */
	engine->next_seqno = simgpu_hw_fence_seqno_raw(sdev);
	if (engine->next_seqno == U64_MAX) {
		drm_err(&sdev->drm, "device not responding (all-ones seqno)\n");
		ret = -ENODEV;
		goto err_fence;
	}
	engine->retired_seqno = engine->next_seqno;
	engine->last_progress = engine->next_seqno;
	engine->progress_time = jiffies;

	ret = simgpu_engine_irq_init(sdev);
	if (ret)
		goto err_fence;

	simgpu_engine_hw_start(sdev);
	return 0;

err_fence:
	dma_free_coherent(dev, PAGE_SIZE, engine->fence_cpu, engine->fence_dma);
err_ring:
	dma_free_coherent(dev, engine->ring_size, engine->ring,
			  engine->ring_dma);
	engine->ring = NULL;
	return ret;
}

/**
 * simgpu_engine_fini - stop the engine for good
 * @sdev: simgpu device, unplugged or failing probe
 *
 * Fails every pending fence with -ENODEV; later submissions fail with
 * -ENODEV.  The ring memory stays until simgpu_engine_release().
 */
void simgpu_engine_fini(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;

	if (!engine->ring)
		return;
	mutex_lock(&engine->ring_lock);
	WRITE_ONCE(engine->dead, true);
	simgpu_write(sdev, SIMGPU_REG_INT_MASK, 0);
	simgpu_write(sdev, SIMGPU_REG_ENGINE_CTRL, SIMGPU_ENGINE_CTRL_RESET);
	mutex_unlock(&engine->ring_lock);

	/* Interrupts first: the handler may signal fences. */
	simgpu_engine_irq_fini(sdev);
	simgpu_engine_signal(sdev, 0, -ENODEV);
}

/**
 * simgpu_engine_hw_release - free the ring and the fence slot
 * @sdev: simgpu device, after simgpu_engine_fini()
 *
 * DMA memory goes with the device (simgpu_pci_remove()), not with the
 * DRM device, which open files may keep for longer.
 */
void simgpu_engine_hw_release(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;
	struct device *dev = &sdev->pdev->dev;

	if (!engine->ring)
		return;
	dma_free_coherent(dev, PAGE_SIZE, engine->fence_cpu, engine->fence_dma);
	dma_free_coherent(dev, engine->ring_size, engine->ring,
			  engine->ring_dma);
	engine->ring = NULL;
}

/**
 * simgpu_engine_release - free what is left of the engine
 * @sdev: simgpu device, after simgpu_engine_fini(); the DRM device is
 *	being released
 */
void simgpu_engine_release(struct simgpu_device *sdev)
{
	struct simgpu_engine *engine = &sdev->engine;

	if (!engine->ring_size) /* simgpu_engine_init() never got there */
		return;
	simgpu_engine_hw_release(sdev);
	mutex_destroy(&engine->ring_lock);
}
