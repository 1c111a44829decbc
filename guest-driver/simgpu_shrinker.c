// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu system-memory shrinker and DRM_IOCTL_SIMGPU_GEM_MADVISE.
 *
 * The pages of a BO in SYSTEM or TT are a &struct simgpu_tt.  Its
 * ttm_tt carries TTM_TT_FLAG_EXTERNAL(_MAPPABLE), so TTM's global swapout
 * leaves it alone, and a shmem backup file (ttm_tt_setup_backup()).  The
 * per-device shrinker reclaims the pages instead:
 *
 * - count reports the pages of populated tts from the driver's own
 *   accounting: purgeable (DRM_SIMGPU_MADV_DONTNEED) pages always,
 *   shrinkable (WILLNEED) pages only as far as swap space is left and the
 *   allocation may enter the filesystem (backup goes through shmem).
 * - scan walks the SYSTEM and TT LRUs with trylocks only (it may run in
 *   direct reclaim under any BO's reservation), first purging DONTNEED
 *   BOs, then backing up the others to shmem.  Idle BOs go before busy
 *   ones; outside kswapd (ttm_bo_shrink_avoid_wait()) it never waits for
 *   the GPU and never asks for writeback; kswapd writes out the backups
 *   of busy BOs, which it waited for, at once.
 * - simgpu_bo_shrink() moves a TT BO to SYSTEM first (unbinding it from
 *   the GART, after its work finished: the move waits per the ctx), then
 *   ttm_bo_shrink() backs up or purges its pages.
 *
 * A backed-up BO stays in SYSTEM with its tt unpopulated; whatever
 * populates it again - a CPU fault, a submission (which moves it to TT),
 * a migration - restores it in simgpu_ttm_tt_populate().  A restore
 * interrupted by a signal keeps what it restored and resumes on the next
 * populate; one that fails for lack of memory leaves the BO backed up.
 * A purged BO reads as zero and reports the loss through madvise.
 *
 * Pool modes (module parameters "pool", "watermark_swapout"): the pages of
 * a coherent (dma_alloc) pool cannot be backed up (ttm_pool_backup()
 * refuses them), and with watermark_swapout the driver opts out on
 * purpose.  Those tts have no backup file and no TTM_TT_FLAG_EXTERNAL:
 * TTM counts them against ttm.pages_limit and its global swapout copies
 * them to shmem when a populate crosses it.  The shrinker counts them as
 * unshrinkable and skips them; madvise records the advice but such BOs
 * are never purged.
 *
 * VRAM BOs are never shrunk: VRAM is device memory, and evicting a VRAM
 * BO under system-memory pressure would first allocate the very system
 * pages the shrinker is asked to free.  The walk only visits the SYSTEM
 * and TT LRUs, so a VRAM BO is reclaimed only after VRAM pressure evicted
 * it to TT.  Pinned BOs fail ttm_bo_shrink_suitable() and are skipped.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/shrinker.h>
#include <linux/swap.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/ttm/ttm_backup.h>
#include <drm/ttm/ttm_bo.h>
#include <drm/ttm/ttm_tt.h>

#include "simgpu_compat.h"
#include "simgpu_drv.h"
#include "simgpu_trace.h"
#include "uapi/simgpu_drm.h"

/**
 * struct simgpu_shrink_flags - what a shrink pass may do
 * @purge: only purge DONTNEED BOs (no backups)
 * @writeback: write the backups of the last walk out to swap at once
 * @writeback_idle: write out the backups of idle BOs too
 * @drop: purge every BO, DONTNEED or not (the device is gone)
 */
struct simgpu_shrink_flags {
	bool purge;
	bool writeback;
	bool writeback_idle;
	bool drop;
};

static void simgpu_shrinker_mod(struct simgpu_shrinker *s, long shrinkable,
				long purgeable, long backed_up)
{
	spin_lock(&s->lock);
	s->shrinkable += shrinkable;
	s->purgeable += purgeable;
	s->backed_up += backed_up;
	spin_unlock(&s->lock);
}

/* Pages the shrinker cannot reclaim come and go (watermark mode). */
static void simgpu_shrinker_mod_unshrinkable(struct simgpu_shrinker *s,
					     long pages)
{
	spin_lock(&s->lock);
	s->unshrinkable += pages;
	spin_unlock(&s->lock);
}

/**
 * simgpu_shrinker_tt_populated - account a tt that got its pages
 * @sdev: simgpu device
 * @tt: the tt, populated, its BO reserved
 * @restored: the pages were restored from a backup
 */
void simgpu_shrinker_tt_populated(struct simgpu_device *sdev,
				  struct ttm_tt *tt, bool restored)
{
	struct simgpu_shrinker *s = &sdev->shrinker;
	long n = tt->num_pages;

	if (!to_simgpu_tt(tt)->shrinkable)
		simgpu_shrinker_mod_unshrinkable(s, n);
	else if (to_simgpu_tt(tt)->purgeable)
		simgpu_shrinker_mod(s, 0, n, restored ? -n : 0);
	else
		simgpu_shrinker_mod(s, n, 0, restored ? -n : 0);
	if (restored) {
		atomic64_add(n, &s->restored);
		spin_lock(&s->lock);
		list_del_init(&to_simgpu_tt(tt)->partial_link);
		spin_unlock(&s->lock);
	}
}

/**
 * simgpu_shrinker_tt_restore_stopped - a restore of a tt stopped part-way
 * @sdev: simgpu device
 * @tt: the tt, still backed up, its BO reserved
 *
 * TTM keeps what it restored so far, DMA-mapped, until the restore is
 * resumed or the tt destroyed: simgpu_shrinker_unplug() finds such tts
 * here.
 */
void simgpu_shrinker_tt_restore_stopped(struct simgpu_device *sdev,
					struct ttm_tt *tt)
{
	struct simgpu_shrinker *s = &sdev->shrinker;

	spin_lock(&s->lock);
	if (list_empty(&to_simgpu_tt(tt)->partial_link))
		list_add_tail(&to_simgpu_tt(tt)->partial_link, &s->partial);
	spin_unlock(&s->lock);
}

/**
 * simgpu_shrinker_tt_unpopulated - account a tt whose pages were freed
 * @sdev: simgpu device
 * @tt: the tt, just unpopulated
 */
void simgpu_shrinker_tt_unpopulated(struct simgpu_device *sdev,
				    struct ttm_tt *tt)
{
	long n = tt->num_pages;

	if (!to_simgpu_tt(tt)->shrinkable)
		simgpu_shrinker_mod_unshrinkable(&sdev->shrinker, -n);
	else if (to_simgpu_tt(tt)->purgeable)
		simgpu_shrinker_mod(&sdev->shrinker, 0, -n, 0);
	else
		simgpu_shrinker_mod(&sdev->shrinker, -n, 0, 0);
}

/**
 * simgpu_shrinker_tt_destroyed - account a tt about to be freed
 * @sdev: simgpu device
 * @tt: the tt, unpopulated; its backup, if any, goes with it
 */
void simgpu_shrinker_tt_destroyed(struct simgpu_device *sdev,
				  struct ttm_tt *tt)
{
	spin_lock(&sdev->shrinker.lock);
	list_del_init(&to_simgpu_tt(tt)->partial_link);
	spin_unlock(&sdev->shrinker.lock);
	if (ttm_tt_is_backed_up(tt) && !to_simgpu_tt(tt)->purged)
		simgpu_shrinker_mod(&sdev->shrinker, 0, 0, -(long)tt->num_pages);
}

/*
 * SIMGPU_BUG_STALE_BACKUP: keep the content of the first backup, which
 * simgpu_ttm_tt_populate() then brings back at every restore.  Without
 * memory for it the defect is simply not shown.
 */
static void simgpu_tt_keep_stale_copy(struct simgpu_tt *stt)
{
	struct ttm_tt *tt = &stt->ttm;
	pgoff_t i;

	if (stt->stale_copy || !ttm_tt_is_populated(tt) ||
	    ttm_tt_is_backed_up(tt))
		return;
	stt->stale_copy = kvmalloc(tt->num_pages << PAGE_SHIFT, GFP_KERNEL);
	for (i = 0; stt->stale_copy && i < tt->num_pages; i++)
		memcpy_from_page(stt->stale_copy + (i << PAGE_SHIFT),
				 tt->pages[i], 0, PAGE_SIZE);
}

/*
 * Back up or purge one BO of the SYSTEM or TT LRU, reserved by the walk:
 * DONTNEED BOs and BOs waiting to be destroyed are purged, others backed
 * up to shmem.
 * Returns the pages freed, or a negative error code: -EBUSY if the BO
 * cannot be shrunk now (the walk goes on), another one to stop the walk.
 */
static long simgpu_bo_shrink(struct ttm_operation_ctx *ctx,
			     struct ttm_buffer_object *tbo,
			     const struct simgpu_shrink_flags flags,
			     unsigned long *scanned)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct simgpu_shrinker *s = &sdev->shrinker;
	struct ttm_place place = { .mem_type = tbo->resource->mem_type };
	struct ttm_tt *tt = tbo->ttm;
	struct simgpu_tt *stt = to_simgpu_tt(tt);
	long n = tt->num_pages;
	bool purge, writeback, deleted;
	long lret;

	/*
	 * A ghost: its pages go as soon as the move it belongs to ends.
	 * Unshrinkable tts have no backup; TTM's watermark swapout has them.
	 */
	if (!simgpu_bo_is_simgpu(tbo) || !stt->shrinkable)
		return -EBUSY;
	/* The same policy as eviction (simgpu_ttm.c). */
	if (!simgpu_bo_eviction_valuable(tbo, &place))
		return -EBUSY;
	/*
	 * Nobody holds a reference any more: the BO only waits (delayed
	 * delete) for its last fence before it is destroyed.  Its content
	 * is dead; drop its pages rather than write them to swap.
	 */
	deleted = !kref_read(&tbo->base.refcount) &&
		  !simgpu_test_bug(SIMGPU_BUG_SHRINK_DELETED);
	purge = stt->purgeable || deleted || flags.drop;
	if (flags.purge && !purge)
		return -EBUSY;
	writeback = !purge && flags.writeback;

	*scanned += n;
	/*
	 * Importers of an exported BO let go of its pages first (a TT BO's
	 * move to SYSTEM does it in simgpu_bo_move()).
	 */
	if (tbo->resource->mem_type == TTM_PL_SYSTEM)
		simgpu_bo_invalidate_importers(tbo);
	if (!purge && simgpu_test_bug(SIMGPU_BUG_STALE_BACKUP))
		simgpu_tt_keep_stale_copy(stt);
	lret = ttm_bo_shrink(ctx, tbo, (struct ttm_bo_shrink_flags)
			     { .purge = purge, .writeback = writeback,
			       .allow_move = true });
	if (lret <= 0)
		return lret;
	if (deleted)
		atomic64_add(lret, &s->deleted_purged);

	trace_simgpu_bo_shrink(to_simgpu_bo(tbo), tt, lret, purge, writeback);
	if (purge) {
		stt->purged = true;
		to_simgpu_bo(tbo)->purged = true;
		if (stt->purgeable)
			simgpu_shrinker_mod(s, 0, -n, 0);
		else
			simgpu_shrinker_mod(s, -n, 0, 0);
		atomic64_add(lret, &s->purged);
	} else {
		simgpu_shrinker_mod(s, -n, 0, n);
		atomic64_add(lret, &s->backups);
		if (writeback)
			atomic64_add(lret, &s->written_back);
	}
	return lret;
}

/* One walk over the SYSTEM and TT LRUs. */
static int __simgpu_shrinker_walk(struct simgpu_device *sdev,
				  struct ttm_operation_ctx *ctx,
				  const struct simgpu_shrink_flags flags,
				  unsigned long to_scan, unsigned long *scanned,
				  unsigned long *freed)
{
	static const u32 mem_types[] = { TTM_PL_SYSTEM, TTM_PL_TT };
	struct ttm_buffer_object *tbo;
	unsigned int i;
	long lret;

	for (i = 0; i < ARRAY_SIZE(mem_types); i++) {
		struct ttm_resource_manager *man =
			ttm_manager_type(&sdev->bdev, mem_types[i]);
		struct ttm_lru_walk_arg arg = {
			.ctx = ctx,
			.trylock_only = true,
		};
		struct ttm_bo_lru_cursor curs;

		if (!man || !man->use_tt)
			continue;
		ttm_bo_lru_for_each_reserved_guarded(&curs, man, &arg, tbo) {
			if (!ttm_bo_shrink_suitable(tbo, ctx))
				continue;
			lret = simgpu_bo_shrink(ctx, tbo, flags, scanned);
			if (lret < 0 && lret != -EBUSY)
				return lret;
			if (lret > 0)
				*freed += lret;
			if (*scanned >= to_scan)
				return 0;
		}
	}
	return 0;
}

/*
 * Idle BOs first, without writeback, then busy ones if the ctx may wait:
 * light pressure causes no GPU stalls.  As in xe, only the last walk
 * writes backups out to swap at once.  The backups of the first walk
 * are ordinary shmem pages that reclaim swaps out at its own pace:
 * pushing them all out from here, from kswapd, drains the reserves that
 * swap allocation itself needs (zram swap failed its swap-table
 * allocations that way).
 */
static int simgpu_shrinker_walk(struct simgpu_device *sdev,
				struct ttm_operation_ctx *ctx,
				const struct simgpu_shrink_flags flags,
				unsigned long to_scan, unsigned long *scanned,
				unsigned long *freed)
{
	struct simgpu_shrink_flags first = flags;
	bool no_wait_gpu = true;
	int ret;

	first.writeback = flags.writeback_idle;
	swap(no_wait_gpu, ctx->no_wait_gpu);
	ret = __simgpu_shrinker_walk(sdev, ctx, first, to_scan, scanned, freed);
	swap(no_wait_gpu, ctx->no_wait_gpu);
	if (ret || *scanned >= to_scan || ctx->no_wait_gpu)
		return ret;
	return __simgpu_shrinker_walk(sdev, ctx, flags, to_scan, scanned,
				      freed);
}

/* Purge, then back up, until @to_scan pages were looked at. */
static unsigned long simgpu_shrink(struct simgpu_device *sdev,
				   struct ttm_operation_ctx *ctx,
				   bool can_backup,
				   struct simgpu_shrink_flags flags,
				   unsigned long to_scan, unsigned long *scanned)
{
	struct simgpu_shrinker *s = &sdev->shrinker;
	unsigned long freed = 0;
	bool purgeable;

	atomic64_inc(&s->passes);
	spin_lock(&s->lock);
	purgeable = s->purgeable > 0;
	spin_unlock(&s->lock);

	flags.purge = true;
	if (purgeable &&
	    simgpu_shrinker_walk(sdev, ctx, flags, to_scan, scanned, &freed))
		return freed;
	if (*scanned >= to_scan || !can_backup)
		return freed;

	flags.purge = false;
	simgpu_shrinker_walk(sdev, ctx, flags, to_scan, scanned, &freed);
	return freed;
}

static unsigned long simgpu_shrinker_count(struct shrinker *shrink,
					   struct shrink_control *sc)
{
	struct simgpu_device *sdev = shrink->private_data;
	struct simgpu_shrinker *s = &sdev->shrinker;
	unsigned long num_pages = 0;

	spin_lock(&s->lock);
	if (sc->gfp_mask & __GFP_FS)
		num_pages = min_t(unsigned long, max(s->shrinkable, 0L),
				  ttm_backup_bytes_avail() >> PAGE_SHIFT);
	num_pages += max(s->purgeable, 0L);
	spin_unlock(&s->lock);

	return num_pages ? num_pages : SHRINK_EMPTY;
}

static unsigned long simgpu_shrinker_scan(struct shrinker *shrink,
					  struct shrink_control *sc)
{
	struct simgpu_device *sdev = shrink->private_data;
	struct ttm_operation_ctx ctx = {
		.interruptible = false,
		.no_wait_gpu = ttm_bo_shrink_avoid_wait(),
	};
	/* Writeback only from kswapd, and only if it may do I/O. */
	struct simgpu_shrink_flags flags = {
		.writeback = !ctx.no_wait_gpu && (sc->gfp_mask & __GFP_IO),
	};
	unsigned long scanned = 0, freed;

	freed = simgpu_shrink(sdev, &ctx, sc->gfp_mask & __GFP_FS, flags,
			      sc->nr_to_scan, &scanned);
	sc->nr_scanned = scanned;
	return scanned ? freed : SHRINK_STOP;
}

/**
 * simgpu_shrinker_init - create and register the device's shrinker
 * @sdev: simgpu device, with TTM set up
 *
 * Return: 0 or -ENOMEM.
 */
int simgpu_shrinker_init(struct simgpu_device *sdev)
{
	struct simgpu_shrinker *s = &sdev->shrinker;

	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->partial);
	s->shrink = shrinker_alloc(0, "drm-simgpu:%s",
				   dev_name(sdev->drm.dev));
	if (!s->shrink)
		return -ENOMEM;
	s->shrink->count_objects = simgpu_shrinker_count;
	s->shrink->scan_objects = simgpu_shrinker_scan;
	s->shrink->private_data = sdev;
	shrinker_register(s->shrink);
	return 0;
}

/*
 * Backed-up BOs are on TTM's unevictable list, out of reach of LRU walks:
 * those whose restore stopped part-way hold DMA-mapped pages, which TTM
 * frees only with the tt or once the restore is done.  Finish each
 * restore and drop the result.
 */
static void simgpu_shrinker_drop_partial(struct simgpu_device *sdev)
{
	const struct simgpu_shrink_flags flags = { .drop = true };
	struct simgpu_shrinker *s = &sdev->shrinker;
	struct ttm_operation_ctx ctx = { };
	struct ttm_buffer_object *tbo;
	unsigned long scanned = 0;
	struct simgpu_tt *stt;

	spin_lock(&s->lock);
	while ((stt = list_first_entry_or_null(&s->partial, struct simgpu_tt,
					       partial_link))) {
		list_del_init(&stt->partial_link);
		tbo = stt->bo;
		/* A BO whose last reference went takes its tt along. */
		if (!kref_get_unless_zero(&tbo->base.refcount))
			continue;
		spin_unlock(&s->lock);
		dma_resv_lock(tbo->base.resv, NULL);
		if (tbo->ttm == &stt->ttm && tbo->ttm->restore &&
		    !ttm_bo_populate(tbo, &ctx) &&
		    ttm_bo_shrink_suitable(tbo, &ctx))
			simgpu_bo_shrink(&ctx, tbo, flags, &scanned);
		dma_resv_unlock(tbo->base.resv);
		drm_gem_object_put(&tbo->base);
		spin_lock(&s->lock);
	}
	spin_unlock(&s->lock);
}

/**
 * simgpu_shrinker_unplug - drop the system pages of every BO
 * @sdev: simgpu device, unplugged, its engine stopped (no fence pending)
 *
 * The pages' DMA mappings must not outlive the driver's binding to the
 * device, and the content went with the device.  Each BO is reserved
 * while its pages go (ttm_device_clear_dma_mappings() does not reserve,
 * and so races the delayed delete of a BO closed while busy: both freed
 * its pages).  The tts left to TTM's watermark swapout have no backup
 * to purge into: they keep their pages until their BO goes.
 */
void simgpu_shrinker_unplug(struct simgpu_device *sdev)
{
	static const u32 mem_types[] = { TTM_PL_SYSTEM, TTM_PL_TT };
	const struct simgpu_shrink_flags flags = { .drop = true };
	struct ttm_operation_ctx ctx = { };
	struct ttm_lru_walk_arg arg;
	struct ww_acquire_ctx ticket;
	struct ttm_buffer_object *tbo;
	struct ttm_bo_lru_cursor curs;
	unsigned long scanned = 0, found;
	unsigned int i;

	/*
	 * TTM's ghost objects (what a move left behind) and BOs closed while
	 * busy are destroyed from its workqueue once their fences signal,
	 * which they all have now: let that happen first.
	 */
	flush_workqueue(sdev->bdev.wq);
	/* Before 7.3, walk again while a walk finds work (simgpu_compat.h). */
	do {
		found = 0;
		simgpu_lru_walk_begin(&arg, &ctx, &ticket);
		for (i = 0; i < ARRAY_SIZE(mem_types); i++) {
			struct ttm_resource_manager *man =
				ttm_manager_type(&sdev->bdev, mem_types[i]);

			if (!man)
				continue;
			ttm_bo_lru_for_each_reserved_guarded(&curs, man, &arg, tbo) {
				/*
				 * An import goes to SYSTEM: unbound, its
				 * mapping (made for this device) given back
				 * to the exporter.
				 */
				if (tbo->type == ttm_bo_type_sg) {
					found += tbo->resource->mem_type !=
						 TTM_PL_SYSTEM;
					simgpu_bo_move_to_system(tbo, &ctx);
				} else if (ttm_bo_shrink_suitable(tbo, &ctx)) {
					found++;
					simgpu_bo_shrink(&ctx, tbo, flags,
							 &scanned);
				}
			}
		}
		simgpu_lru_walk_end(&ticket);
	} while (!SIMGPU_LRU_WALK_SLEEPS && found);
	simgpu_shrinker_drop_partial(sdev);

	/*
	 * VRAM is gone: importers of exported VRAM BOs (peer-to-peer, BAR
	 * addresses) let go of their mappings; mapping again fails.  (Before
	 * 7.3, a BO whose reservation is held here past the walk's one
	 * sleeping lock is skipped.)
	 */
	for (i = 0; i < sdev->num_regions; i++) {
		struct ttm_resource_manager *man =
			ttm_manager_type(&sdev->bdev, i ? SIMGPU_PL_VRAM1 :
						       SIMGPU_PL_VRAM0);

		simgpu_lru_walk_begin(&arg, &ctx, &ticket);
		ttm_bo_lru_for_each_reserved_guarded(&curs, man, &arg, tbo)
			simgpu_bo_invalidate_importers(tbo);
		simgpu_lru_walk_end(&ticket);
	}
}

/**
 * simgpu_shrinker_fini - unregister and free the device's shrinker
 * @sdev: simgpu device
 *
 * Called when the device goes away.  BOs may outlive it (open files); the
 * page accounting stays valid for them until the DRM device is released.
 */
void simgpu_shrinker_fini(struct simgpu_device *sdev)
{
	shrinker_free(sdev->shrinker.shrink);
	sdev->shrinker.shrink = NULL;
}

/*
 * Drop the content of a backed-up tt.  TTM exports no way to free a
 * backup short of destroying the tt, so the shmem file is truncated: the
 * tt stays backed up (a partial restore included), and the next populate
 * "restores" zero pages from the holes and clears the pages that were
 * never backed up or already restored (simgpu_tt.dropped).
 */
static void simgpu_tt_drop_backup(struct simgpu_device *sdev,
				  struct ttm_tt *tt)
{
	shmem_truncate_range(file_inode(tt->backup), 0, (loff_t)-1);
	to_simgpu_tt(tt)->dropped = true;
	atomic64_add(tt->num_pages, &sdev->shrinker.purged);
}

/* Apply @madv to a reserved BO; returns whether its content is retained. */
static bool simgpu_bo_madvise(struct simgpu_bo *bo, u32 madv)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_tt *tt = bo->tbo.ttm;
	bool purgeable = madv == DRM_SIMGPU_MADV_DONTNEED;
	struct simgpu_tt *stt;
	bool retained;
	long n;

	bo->madv = madv;
	if (tt) {
		stt = to_simgpu_tt(tt);
		n = tt->num_pages;
		if (stt->shrinkable && ttm_tt_is_populated(tt) &&
		    stt->purgeable != purgeable)
			simgpu_shrinker_mod(&sdev->shrinker,
					    purgeable ? -n : n,
					    purgeable ? n : -n, 0);
		stt->purgeable = purgeable;
		if (purgeable && ttm_tt_is_backed_up(tt) && !stt->purged) {
			simgpu_tt_drop_backup(sdev, tt);
			bo->purged = true;
		}
	}
	retained = !bo->purged;
	if (!purgeable)
		bo->purged = false;
	return retained;
}

/**
 * simgpu_gem_madvise_ioctl - DRM_IOCTL_SIMGPU_GEM_MADVISE
 * @drm: DRM device
 * @data: struct drm_simgpu_gem_madvise
 * @file: DRM file of the caller
 *
 * A BO shared through dma-buf (exported or imported) keeps its content
 * for the other users: DONTNEED is refused with -EBUSY.
 *
 * Return: 0, -EINVAL for bad arguments, -ENOENT for an unknown handle,
 * -EBUSY for DONTNEED on a shared BO, -ERESTARTSYS on a signal.
 */
int simgpu_gem_madvise_ioctl(struct drm_device *drm, void *data,
			     struct drm_file *file)
{
	struct drm_simgpu_gem_madvise *args = data;
	struct simgpu_bo *bo;
	int ret;

	if (args->pad || args->retained ||
	    (args->madv != DRM_SIMGPU_MADV_WILLNEED &&
	     args->madv != DRM_SIMGPU_MADV_DONTNEED))
		return -EINVAL;
	bo = simgpu_bo_lookup(file, args->handle);
	if (!bo)
		return -ENOENT;
	ret = ttm_bo_reserve(&bo->tbo, true, false, NULL);
	if (ret)
		goto out;
	if (args->madv == DRM_SIMGPU_MADV_DONTNEED &&
	    (bo->shared || drm_gem_is_imported(&bo->tbo.base)))
		ret = -EBUSY;
	else
		args->retained = simgpu_bo_madvise(bo, args->madv);
	ttm_bo_unreserve(&bo->tbo);
out:
	drm_gem_object_put(&bo->tbo.base);
	return ret;
}

/*
 * debugfs "shrink": "N" runs a shrink pass of up to N pages, waiting for
 * the GPU if needed; "N w" writes every backup out to swap at once.
 */
static ssize_t simgpu_shrink_write(struct file *f, const char __user *ubuf,
				   size_t len, loff_t *pos)
{
	struct simgpu_device *sdev = f->private_data;
	struct ttm_operation_ctx ctx = { };
	struct simgpu_shrink_flags flags = { };
	unsigned long pages, scanned = 0;
	char buf[32], *sep;
	int ret, idx;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	sep = strchr(buf, ' ');
	flags.writeback = sep && sep[1] == 'w';
	flags.writeback_idle = flags.writeback;
	if (sep)
		*sep = '\0';
	ret = kstrtoul(strim(buf), 0, &pages);
	if (ret)
		return ret;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	simgpu_shrink(sdev, &ctx, true, flags, pages, &scanned);
	drm_dev_exit(idx);
	return len;
}

static const struct file_operations simgpu_shrink_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = simgpu_shrink_write,
};

/**
 * simgpu_shrinker_debugfs_init - create the "shrink" debugfs trigger
 * @sdev: simgpu device
 * @root: the DRM device's debugfs directory
 */
void simgpu_shrinker_debugfs_init(struct simgpu_device *sdev,
				  struct dentry *root)
{
	debugfs_create_file("shrink", 0200, root, sdev, &simgpu_shrink_fops);
}

/**
 * simgpu_shrinker_stats_show - print the shrinker's counters
 * @sdev: simgpu device
 * @m: the simgpu_stats seq_file
 */
void simgpu_shrinker_stats_show(struct simgpu_device *sdev,
				struct seq_file *m)
{
	struct simgpu_shrinker *s = &sdev->shrinker;
	long shrinkable, purgeable, backed_up, unshrinkable;

	spin_lock(&s->lock);
	shrinkable = s->shrinkable;
	purgeable = s->purgeable;
	backed_up = s->backed_up;
	unshrinkable = s->unshrinkable;
	spin_unlock(&s->lock);

	seq_printf(m, "shrinkable_pages %ld\n", shrinkable);
	seq_printf(m, "purgeable_pages %ld\n", purgeable);
	seq_printf(m, "backed_up_pages %ld\n", backed_up);
	seq_printf(m, "unshrinkable_pages %ld\n", unshrinkable);
	/* Every populated tt is in exactly one of the three counts. */
	seq_printf(m, "bo_system_pages %ld\n",
		   shrinkable + purgeable + unshrinkable);
	seq_printf(m, "shrink_passes %lld\n", atomic64_read(&s->passes));
	seq_printf(m, "pages_purged %lld\n", atomic64_read(&s->purged));
	seq_printf(m, "pages_purged_deleted %lld\n",
		   atomic64_read(&s->deleted_purged));
	seq_printf(m, "pages_backed_up %lld\n", atomic64_read(&s->backups));
	seq_printf(m, "pages_written_back %lld\n",
		   atomic64_read(&s->written_back));
	seq_printf(m, "pages_restored %lld\n", atomic64_read(&s->restored));
	seq_printf(m, "restore_interrupted %lld\n",
		   atomic64_read(&s->interrupted));
	seq_printf(m, "restore_failed %lld\n",
		   atomic64_read(&s->restore_failed));
	seq_printf(m, "ttm_swapout_pages %lld\n",
		   atomic64_read(&s->ttm_swapouts));
	seq_printf(m, "ttm_swapin_pages %lld\n",
		   atomic64_read(&s->ttm_swapins));
}
