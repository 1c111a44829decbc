// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu TTM device and callbacks: placements, eviction, moves.
 *
 * Placements: SYSTEM (pages only the CPU uses), TT (the same pages,
 * mapped in the GART so the engine reaches them), VRAM0 (TTM_PL_VRAM) and
 * VRAM1 (TTM_PL_PRIV).  Evictions go VRAM -> TT -> SYSTEM.
 *
 * Moves between VRAM and TT or within VRAM run on the engine, as jobs of
 * the scheduler's kernel entity (simgpu_sched.c), one command per piece
 * of the resources (simgpu_res_cursor.h); VRAM <-> SYSTEM hops through
 * TT, or, when TT has no room for the BO (larger than the GART, or the
 * GART full), goes through the driver's GART window (simgpu_gart.c).
 *
 * Engine moves are pipelined, as in xe and amdgpu: the move's job waits
 * for the fences in the BO's reservation (user work, earlier moves, the
 * manager's eviction fence) on the scheduler, and the move is committed
 * at once with its fence (ttm_bo_move_accel_cleanup()): pipelined
 * eviction from VRAM, ghost objects for the old resource of other moves.
 * What follows an engine failure after the commit is in simgpu_migrate.c.
 * Moves that are not the engine's (SYSTEM <-> TT, TT -> TT out of a
 * hop's temporary range: a rebind, purges, CPU copies) and the GART
 * window's wait for the BO to be idle first.
 *
 * With the module parameter sync_moves=1 (writable at run time: each move
 * reads it), the driver waits for its move fence before it commits the
 * move, as it once did, so an engine error or hang never leaves a BO with
 * undefined content: the move then falls back to the CPU when both sides
 * are CPU-reachable, or is retried on the (reset) engine, or fails with
 * -EIO and the BO stays where it was.  The module parameter
 * force_cpu_copy (writable at run time) makes every move from then on a
 * CPU copy.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <drm/ttm/ttm_allocation.h>
#include <drm/ttm/ttm_pool.h>
#include <drm/ttm/ttm_tt.h>

#include "simgpu_drv.h"
#include "simgpu_res_cursor.h"
#include "simgpu_trace.h"
#include "uapi/simgpu_drm.h"

/**
 * simgpu_mem_index - statistics index of a TTM memory type
 * @mem_type: TTM memory type
 *
 * Return: the DRM_SIMGPU_MEM_* value of @mem_type.
 */
unsigned int simgpu_mem_index(u32 mem_type)
{
	switch (mem_type) {
	case SIMGPU_PL_VRAM0:
		return DRM_SIMGPU_MEM_VRAM0;
	case SIMGPU_PL_VRAM1:
		return DRM_SIMGPU_MEM_VRAM1;
	case TTM_PL_TT:
		return DRM_SIMGPU_MEM_TT;
	default:
		return DRM_SIMGPU_MEM_SYSTEM;
	}
}

/* Whether the engine reaches @res (VRAM, or TT through the GART). */
static bool simgpu_res_engine_reachable(struct ttm_resource *res)
{
	return simgpu_mem_is_vram(res->mem_type) || res->mem_type == TTM_PL_TT;
}

static struct ttm_tt *simgpu_ttm_tt_create(struct ttm_buffer_object *tbo,
					   u32 page_flags)
{
	struct simgpu_bo *bo = to_simgpu_bo(tbo);
	struct simgpu_tt *stt;

	stt = kzalloc_obj(*stt);
	if (!stt)
		return NULL;
	if (simgpu_test_bug(SIMGPU_BUG_NO_CLEAR))
		page_flags &= ~TTM_TT_FLAG_ZERO_ALLOC;
	/* The engine snoops: system pages stay cached. */
	if (ttm_sg_tt_init(&stt->ttm, tbo, page_flags, ttm_cached))
		goto err_free;
	stt->purgeable = bo->madv == DRM_SIMGPU_MADV_DONTNEED;
	/* An import's pages are the exporter's: nothing to reclaim here. */
	stt->import = tbo->type == ttm_bo_type_sg;
	stt->shrinkable = !stt->import && simgpu_tt_shrinkable();
	stt->bo = tbo;
	INIT_LIST_HEAD(&stt->partial_link);
	if (!stt->shrinkable)
		return &stt->ttm;
	/*
	 * The driver's shrinker, not TTM's global swapout, reclaims these
	 * pages (see simgpu_shrinker.c).  The flags are set after the init
	 * so that it still allocates the page and DMA address arrays.
	 */
	stt->ttm.page_flags |= TTM_TT_FLAG_EXTERNAL |
			       TTM_TT_FLAG_EXTERNAL_MAPPABLE;
	if (ttm_tt_setup_backup(&stt->ttm))
		goto err_fini;
	return &stt->ttm;

err_fini:
	ttm_tt_fini(&stt->ttm);
err_free:
	kfree(stt);
	return NULL;
}

static int simgpu_ttm_tt_populate(struct ttm_device *bdev, struct ttm_tt *tt,
				  struct ttm_operation_ctx *ctx)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bdev);
	struct simgpu_tt *stt = to_simgpu_tt(tt);
	bool restore = ttm_tt_is_backed_up(tt) && !stt->purged;
	int ret;

	/* An import gets its DMA addresses from the attachment. */
	if (stt->import)
		return 0;
	if (restore) {
		/*
		 * TTM's restore may stop early (-EINTR, with ctx->interruptible);
		 * what was restored so far stays in &ttm_tt.restore and the next
		 * populate resumes there.  It is never refused up front because
		 * a signal is pending: a kernel-mode access to a mapping (a
		 * write() whose buffer is a BO) retries its fault without ever
		 * delivering the signal, so a refusal without progress would
		 * repeat forever.  simgpu_gem_fault() restores with the mmap
		 * lock dropped, where a signal can end the fault.
		 */
		if (simgpu_test_bug(SIMGPU_BUG_RESTORE_SIGNAL) &&
		    ctx->interruptible && signal_pending(current))
			ret = -ERESTARTSYS;
		else
			ret = ttm_tt_restore(bdev, tt, ctx);
	} else {
		/*
		 * A new BO, or one whose content was purged: zeroed pages.
		 * A tt created for a move from VRAM lacks ZERO_ALLOC (the
		 * copy fills it), but once purged it must not hand out the
		 * pool's stale pages of other BOs.
		 */
		if (stt->purged)
			tt->page_flags |= TTM_TT_FLAG_ZERO_ALLOC;
		ttm_tt_clear_backed_up(tt);
		ret = ttm_pool_alloc(&bdev->pool, tt, ctx);
	}
	if (restore)
		trace_simgpu_bo_restore(tt, tt->num_pages, ret);
	if (ret) {
		if (restore && (ret == -EINTR || ret == -ERESTARTSYS))
			atomic64_inc(&sdev->shrinker.interrupted);
		else if (restore)
			atomic64_inc(&sdev->shrinker.restore_failed);
		if (restore)
			simgpu_shrinker_tt_restore_stopped(sdev, tt);
		return ret;
	}
	if (restore && stt->dropped) {
		pgoff_t i;

		for (i = 0; i < tt->num_pages; i++)
			clear_highpage(tt->pages[i]);
		stt->dropped = false;
	} else if (restore && stt->stale_copy) {
		pgoff_t i;

		for (i = 0; i < tt->num_pages; i++)
			memcpy_to_page(tt->pages[i], 0, stt->stale_copy +
				       (i << PAGE_SHIFT), PAGE_SIZE);
	}
	stt->purged = false;
	simgpu_shrinker_tt_populated(sdev, tt, restore);
	/* TTM copies a watermark-swapped tt back once this returns. */
	if (tt->page_flags & TTM_TT_FLAG_SWAPPED)
		atomic64_add(tt->num_pages, &sdev->shrinker.ttm_swapins);
	return 0;
}

static void simgpu_ttm_tt_unpopulate(struct ttm_device *bdev,
				     struct ttm_tt *tt)
{
	if (to_simgpu_tt(tt)->import)
		return;
	ttm_pool_free(&bdev->pool, tt);
	simgpu_shrinker_tt_unpopulated(ttm_to_simgpu(bdev), tt);
}

static void simgpu_ttm_tt_destroy(struct ttm_device *bdev, struct ttm_tt *tt)
{
	simgpu_shrinker_tt_destroyed(ttm_to_simgpu(bdev), tt);
	kvfree(to_simgpu_tt(tt)->stale_copy);
	ttm_tt_fini(tt);
	kfree(to_simgpu_tt(tt));
}

static const struct ttm_place simgpu_sys_place = {
	.mem_type = TTM_PL_SYSTEM,
};

static const struct ttm_place simgpu_evict_places[] = {
	{ .mem_type = TTM_PL_TT },
	{ .mem_type = TTM_PL_SYSTEM, .flags = TTM_PL_FLAG_FALLBACK },
};

/*
 * A DONTNEED BO's content may be dropped at any time: evicting it from
 * VRAM purges it (no copy, no system pages) instead of saving it.
 */
static bool simgpu_bo_purge_on_evict(struct ttm_buffer_object *tbo)
{
	dma_resv_assert_held(tbo->base.resv);
	return simgpu_bo_is_simgpu(tbo) &&
	       to_simgpu_bo(tbo)->madv == DRM_SIMGPU_MADV_DONTNEED &&
	       !simgpu_test_bug(SIMGPU_BUG_EVICT_DONTNEED);
}

/*
 * Where an evicted BO goes: from VRAM to TT (it stays bound in the GART,
 * where the engine reaches it to move it back), falling back to SYSTEM.
 * With evict_to_system=1, on to SYSTEM: the engine's copy hops through
 * TT (or the GART window) and the BO leaves the GART, which holds only
 * what is in use, at the price of a rebind on the way back.  A DONTNEED
 * BO, and any BO outside VRAM, goes to SYSTEM (the former purged).
 */
static void simgpu_evict_flags(struct ttm_buffer_object *tbo,
			       struct ttm_placement *placement)
{
	if (simgpu_mem_is_vram(tbo->resource->mem_type) &&
	    !simgpu_bo_purge_on_evict(tbo) &&
	    !READ_ONCE(simgpu_evict_to_system)) {
		placement->placement = simgpu_evict_places;
		placement->num_placement = ARRAY_SIZE(simgpu_evict_places);
	} else {
		placement->placement = &simgpu_sys_place;
		placement->num_placement = 1;
	}
}

/* SIMGPU_BUG_LRU_SEARCH: a linear search of @man's LRU, for nothing. */
static void simgpu_bug_lru_search(struct ttm_resource_manager *man)
{
	struct ttm_lru_item *lru;
	unsigned int prio;

	spin_lock(&man->bdev->lru_lock);
	for (prio = 0; prio < TTM_MAX_BO_PRIORITY; prio++)
		list_for_each_entry(lru, &man->lru[prio], link)
			cpu_relax();
	spin_unlock(&man->bdev->lru_lock);
}

/**
 * simgpu_bo_eviction_valuable - whether evicting a BO helps @place
 * @tbo: the BO, reserved
 * @place: where space is wanted (the BO's own placement when the
 *	shrinker asks)
 *
 * The one eviction policy of the driver: TTM's eviction asks it, and so
 * does the shrinker before it backs a BO up.
 *
 * Return: true if @tbo may be evicted (or shrunk) for @place.
 */
bool simgpu_bo_eviction_valuable(struct ttm_buffer_object *tbo,
				 const struct ttm_place *place)
{
	if (simgpu_test_bug(SIMGPU_BUG_LRU_SEARCH))
		simgpu_bug_lru_search(ttm_manager_type(tbo->bdev,
						       tbo->resource->mem_type));
	/*
	 * Evicting a SYSTEM BO frees nothing any placement wants; only
	 * TTM's watermark swapout asks, with a SYSTEM place, and may swap
	 * it out to shmem.
	 */
	if (tbo->resource->mem_type == TTM_PL_SYSTEM)
		return place->mem_type == TTM_PL_SYSTEM;
	return ttm_bo_eviction_valuable(tbo, place);
}

/* TTM's watermark swapout is about to copy @tbo's pages to shmem. */
static void simgpu_swap_notify(struct ttm_buffer_object *tbo)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);

	if (tbo->ttm && ttm_tt_is_populated(tbo->ttm))
		atomic64_add(tbo->ttm->num_pages,
			     &sdev->shrinker.ttm_swapouts);
}

static bool simgpu_engine_usable(struct simgpu_device *sdev)
{
	return !READ_ONCE(simgpu_force_cpu_copy) &&
	       !READ_ONCE(sdev->engine.dead);
}

/* Count a finished move; @how is SIMGPU_TRACE_MOVE_*. */
static void simgpu_count_move(struct ttm_buffer_object *tbo, u32 from, u32 to,
			      u32 how, bool clear, bool evict)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	unsigned int s = simgpu_mem_index(from), d = simgpu_mem_index(to);

	atomic64_inc(&sdev->stats.moves[s][d]);
	if (evict)
		atomic64_inc(&sdev->stats.evictions[s][d]);
	trace_simgpu_bo_move(to_simgpu_bo(tbo), s, d, tbo->base.size, how,
			     clear, evict);
}

/*
 * Copy (or clear) @tbo into @new_mem on the engine and wait for it.
 * On success the move is committed; on failure nothing changed.
 */
/*
 * VRAM <-> SYSTEM through the GART window, a window-full at a time, for
 * a BO that TT has no room for (simgpu_bo_move() hops through TT
 * otherwise).  Synchronous: the window is rebound after each chunk.
 */
static int simgpu_move_window(struct ttm_buffer_object *tbo,
			      struct ttm_operation_ctx *ctx,
			      struct ttm_resource *new_mem)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	bool to_vram = simgpu_mem_is_vram(new_mem->mem_type);
	int ret;

	ret = ttm_bo_wait_ctx(tbo, ctx);
	if (ret)
		return ret;
	/* The SYSTEM side's pages, DMA-mapped. */
	ret = ttm_bo_populate(tbo, ctx);
	if (ret)
		return ret;
	ret = simgpu_gart_window_copy(sdev, to_vram ? new_mem : tbo->resource,
				      tbo->ttm, to_vram);
	if (ret)
		return ret;
	ttm_bo_move_sync_cleanup(tbo, new_mem);
	atomic64_inc(&sdev->stats.window_moves);
	atomic64_add(tbo->base.size, &sdev->stats.engine_bytes);
	return 0;
}

/* Whether TT has room for @tbo now: a hop there needs no eviction. */
static bool simgpu_tt_has_room(struct ttm_buffer_object *tbo)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource_manager *tt = ttm_manager_type(tbo->bdev,
							  TTM_PL_TT);

	return simgpu_test_bug(SIMGPU_BUG_NO_WINDOW) ||
	       ttm_resource_manager_usage(tt) + tbo->base.size <=
	       simgpu_gart_tt_size(sdev);
}

/* Whether a move of @tbo waits for an eviction fence TTM gave it. */
static bool simgpu_bo_waits_eviction(struct ttm_buffer_object *tbo)
{
	struct dma_resv_iter cursor;
	struct dma_fence *fence;

	dma_resv_for_each_fence(&cursor, tbo->base.resv, DMA_RESV_USAGE_KERNEL,
				fence)
		if (simgpu_is_other_move_fence(fence, tbo))
			return true;
	return false;
}

/*
 * Commit a pipelined move: the BO's reservation gets @fence, the old
 * resource goes to a ghost object or, evicted from VRAM, is freed with
 * @fence as the manager's eviction fence.
 */
static int simgpu_move_commit(struct ttm_buffer_object *tbo,
			      struct dma_fence *fence, bool evict,
			      struct ttm_resource *new_mem)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *old_mem = tbo->resource;
	bool from_vram;
	int ret;

	if (!old_mem) {
		dma_resv_add_fence(tbo->base.resv, fence, DMA_RESV_USAGE_KERNEL);
		ttm_bo_move_null(tbo, new_mem);
		return 0;
	}
	from_vram = simgpu_mem_is_vram(old_mem->mem_type);

	ret = ttm_bo_move_accel_cleanup(tbo, fence, evict, true, new_mem);
	if (ret) {
		/* No ghost (no memory): the old resource goes when idle. */
		dma_fence_wait(fence, false);
		if (old_mem->mem_type == TTM_PL_TT)
			simgpu_gart_unbind(sdev, old_mem);
		ttm_bo_move_sync_cleanup(tbo, new_mem);
		return 0;
	}
	if (evict && from_vram)
		atomic64_inc(&sdev->stats.pipelined_evictions);
	else if (!evict)
		atomic64_inc(&sdev->stats.ghost_moves);
	return 0;
}

static int simgpu_move_engine(struct ttm_buffer_object *tbo, bool evict,
			      struct ttm_operation_ctx *ctx,
			      struct ttm_resource *new_mem, bool clear,
			      bool pipelined)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *old_mem = tbo->resource;
	struct simgpu_engine_op op = {
		.op = clear ? SIMGPU_OP_FILL : SIMGPU_OP_COPY,
		.src = clear ? NULL : old_mem,
		.dst = new_mem,
		.len = tbo->base.size,
	};
	struct simgpu_job *job;
	struct dma_fence *fence;
	int ret;

	if (!clear && (old_mem->mem_type == TTM_PL_SYSTEM ||
		       new_mem->mem_type == TTM_PL_SYSTEM))
		return simgpu_move_window(tbo, ctx, new_mem);
	if (!simgpu_res_engine_reachable(new_mem) ||
	    (!clear && !simgpu_res_engine_reachable(old_mem)))
		return -EINVAL;
	job = simgpu_job_create(sdev, &sdev->kernel_entity, &op, 1, 0);
	if (IS_ERR(job))
		return PTR_ERR(job);

	if (pipelined) {
		/* Whatever uses the BO now goes first, on the engine. */
		if (simgpu_bo_waits_eviction(tbo))
			atomic64_inc(&sdev->stats.eviction_fence_waits);
		ret = drm_sched_job_add_resv_dependencies(&job->base,
							  tbo->base.resv,
							  DMA_RESV_USAGE_BOOKKEEP);
		if (ret) {
			simgpu_job_put(job);
			return ret;
		}
		if (new_mem->mem_type == TTM_PL_TT)
			simgpu_gart_bind(sdev, tbo->ttm, new_mem);
		fence = simgpu_migrate_push(job, tbo);
		if (IS_ERR(fence)) {
			if (new_mem->mem_type == TTM_PL_TT)
				simgpu_gart_unbind(sdev, new_mem);
			return PTR_ERR(fence);
		}
		atomic64_add(op.len, &sdev->stats.engine_bytes);
		/* The old TT resource is unbound when TTM deletes it. */
		ret = simgpu_move_commit(tbo, fence, evict, new_mem);
		dma_fence_put(fence);
		return ret;
	}

	if (new_mem->mem_type == TTM_PL_TT)
		simgpu_gart_bind(sdev, tbo->ttm, new_mem);
	fence = simgpu_kernel_job_push(job);
	/*
	 * Not interruptible: the copy runs anyway; the scheduler's timeout
	 * bounds the wait.  The fence error tells whether the data arrived.
	 */
	dma_fence_wait(fence, false);
	ret = fence->error;
	if (ret)
		goto err_put;
	atomic64_add(op.len, &sdev->stats.engine_bytes);

	/*
	 * Done, and the BO was idle before: the old resource goes now.  Not
	 * ttm_bo_move_accel_cleanup(), whose ghost object may fail to be
	 * allocated after the old entries are gone.
	 */
	if (old_mem && old_mem->mem_type == TTM_PL_TT)
		simgpu_gart_unbind(sdev, old_mem);
	if (old_mem && simgpu_test_bug(SIMGPU_BUG_HOP_COPY)) {
		ret = ttm_bo_move_accel_cleanup(tbo, fence, evict, false,
						new_mem);
		dma_fence_put(fence);
		return ret;
	}
	ttm_bo_move_sync_cleanup(tbo, new_mem);
	dma_fence_put(fence);
	return 0;

err_put:
	dma_fence_put(fence);
	/*
	 * The engine was reset (or never got the work): nothing uses the
	 * new entries, and TTM may free the pages they point at.
	 */
	if (new_mem->mem_type == TTM_PL_TT &&
	    !simgpu_test_bug(SIMGPU_BUG_KEEP_FAILED_GART))
		simgpu_gart_unbind(sdev, new_mem);
	return ret;
}

/*
 * A CPU iterator over a VRAM resource, page by page through the BAR, for
 * ttm_move_memcpy(): TTM's own (ttm_bo_move_memcpy()) maps a resource as
 * one range and would read or write the wrong pages of a scattered one.
 * i915 has an iterator of its own for the same reason.
 */
struct simgpu_kmap_iter_vram {
	struct ttm_kmap_iter base;
	struct ttm_resource *res;
	struct simgpu_res_cursor cur;
	pgoff_t page;
};

static void simgpu_kmap_iter_vram_map_local(struct ttm_kmap_iter *iter,
					    struct iosys_map *dmap, pgoff_t i)
{
	struct simgpu_kmap_iter_vram *it =
		container_of(iter, struct simgpu_kmap_iter_vram, base);
	struct io_mapping *iomap;
	u64 n;

	if (i < it->page) {
		simgpu_res_first(it->res, 0, it->res->size, false, &it->cur);
		it->page = 0;
	}
	while (it->page < i) {
		n = min_t(u64, it->cur.size, (u64)(i - it->page) << PAGE_SHIFT);
		simgpu_res_next(&it->cur, n);
		it->page += n >> PAGE_SHIFT;
	}
	iomap = &to_simgpu_vram_res(it->res)->mgr->iomap;
	iosys_map_set_vaddr_iomem(dmap, io_mapping_map_local_wc(iomap,
								it->cur.start));
}

static void simgpu_kmap_iter_vram_unmap_local(struct ttm_kmap_iter *iter,
					      struct iosys_map *map)
{
	io_mapping_unmap_local(map->vaddr_iomem);
}

static const struct ttm_kmap_iter_ops simgpu_kmap_iter_vram_ops = {
	.map_local = simgpu_kmap_iter_vram_map_local,
	.unmap_local = simgpu_kmap_iter_vram_unmap_local,
	.maps_tt = false,
};

/* Pages of @res for the CPU: the tt's pages, or VRAM through the BAR. */
static struct ttm_kmap_iter *
simgpu_kmap_iter_init(struct ttm_buffer_object *tbo, struct ttm_resource *res,
		      struct ttm_kmap_iter_tt *tt_iter,
		      struct simgpu_kmap_iter_vram *vram_iter)
{
	if (!simgpu_mem_is_vram(res->mem_type))
		return ttm_kmap_iter_tt_init(tt_iter, tbo->ttm);
	vram_iter->base.ops = &simgpu_kmap_iter_vram_ops;
	vram_iter->res = res;
	vram_iter->page = 0;
	simgpu_res_first(res, 0, res->size, false, &vram_iter->cur);
	return &vram_iter->base;
}

/*
 * Copy @tbo into @new_mem (or clear @new_mem) with the CPU, page by page;
 * both sides CPU-visible.  For any VRAM resource, contiguous or not.
 */
static int simgpu_move_memcpy(struct ttm_buffer_object *tbo,
			      struct ttm_operation_ctx *ctx,
			      struct ttm_resource *new_mem, bool clear)
{
	struct ttm_kmap_iter_tt src_tt, dst_tt;
	struct simgpu_kmap_iter_vram src_vram, dst_vram;
	struct ttm_kmap_iter *src, *dst;
	int ret;

	if (!simgpu_mem_is_vram(new_mem->mem_type)) {
		ret = ttm_bo_populate(tbo, ctx);
		if (ret)
			return ret;
	}
	dst = simgpu_kmap_iter_init(tbo, new_mem, &dst_tt, &dst_vram);
	src = clear ? dst :
	      simgpu_kmap_iter_init(tbo, tbo->resource, &src_tt, &src_vram);
	ttm_move_memcpy(clear, PFN_UP(new_mem->size), dst, src);
	ttm_bo_move_sync_cleanup(tbo, new_mem);
	return 0;
}

static bool simgpu_res_linear(struct ttm_resource *res)
{
	return !simgpu_mem_is_vram(res->mem_type) ||
	       (res->placement & TTM_PL_FLAG_CONTIGUOUS);
}

/* Copy or clear @tbo into @new_mem with the CPU. */
static int simgpu_move_cpu(struct ttm_buffer_object *tbo,
			   struct ttm_operation_ctx *ctx,
			   struct ttm_resource *new_mem, bool clear)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *old_mem = tbo->resource;
	bool linear;
	int ret;

	if (!simgpu_vram_res_visible(sdev, new_mem) ||
	    (!clear && !simgpu_vram_res_visible(sdev, old_mem)))
		return -EIO; /* the CPU cannot reach one side */
	ret = ttm_bo_wait_ctx(tbo, ctx);
	if (ret)
		return ret;

	/*
	 * TTM's own CPU move maps each side as one range: for contiguous
	 * resources only.
	 */
	linear = simgpu_res_linear(new_mem) &&
		 (clear || simgpu_res_linear(old_mem));
	if (simgpu_test_bug(SIMGPU_BUG_UNSPLIT))
		linear = !clear;
	if (!clear && old_mem->mem_type == TTM_PL_TT)
		simgpu_gart_unbind(sdev, old_mem);
	ret = linear && !clear ? ttm_bo_move_memcpy(tbo, ctx, new_mem) :
				 simgpu_move_memcpy(tbo, ctx, new_mem, clear);
	if (ret) {
		if (!clear && old_mem->mem_type == TTM_PL_TT)
			simgpu_gart_bind(sdev, tbo->ttm, old_mem);
		return ret;
	}
	if (new_mem->mem_type == TTM_PL_TT)
		simgpu_gart_bind(sdev, tbo->ttm, new_mem);
	if (!linear)
		atomic64_inc(&sdev->stats.cpu_copies_scattered);
	atomic64_add(new_mem->size, &sdev->stats.cpu_bytes);
	return 0;
}

/*
 * A data move: engine first, with the fallbacks described at the top.
 * Returns SIMGPU_TRACE_MOVE_ENGINE or _CPU, or a negative error code.
 */
static int simgpu_move_data(struct ttm_buffer_object *tbo, bool evict,
			    struct ttm_operation_ctx *ctx,
			    struct ttm_resource *new_mem, bool clear,
			    bool pipelined)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	int ret;

	if (!simgpu_engine_usable(sdev)) {
		ret = simgpu_move_cpu(tbo, ctx, new_mem, clear);
		return ret ? ret : SIMGPU_TRACE_MOVE_CPU;
	}

	ret = simgpu_move_engine(tbo, evict, ctx, new_mem, clear, pipelined);
	/* A pipelined push never fails with -EIO: the window's copy may. */
	if (ret != -EIO)
		return ret ? ret : SIMGPU_TRACE_MOVE_ENGINE;
	atomic64_inc(&sdev->stats.engine_fallbacks);
	ret = simgpu_move_cpu(tbo, ctx, new_mem, clear);
	if (ret != -EIO)
		return ret ? ret : SIMGPU_TRACE_MOVE_CPU;
	/* The CPU cannot reach one side: try the reset engine again. */
	ret = simgpu_move_engine(tbo, evict, ctx, new_mem, clear, false);
	return ret ? ret : SIMGPU_TRACE_MOVE_ENGINE;
}

static int simgpu_bo_move(struct ttm_buffer_object *tbo, bool evict,
			  struct ttm_operation_ctx *ctx,
			  struct ttm_resource *new_mem,
			  struct ttm_place *hop)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *old_mem = tbo->resource;
	u32 old_type = old_mem ? old_mem->mem_type : TTM_PL_SYSTEM;
	u32 new_type = new_mem->mem_type;
	u32 how = SIMGPU_TRACE_MOVE_NONE;
	/* The second leg of a move that hopped through TT (counted there). */
	bool hop_leg = old_mem && (old_mem->placement & TTM_PL_FLAG_TEMPORARY);
	bool populated, purge, pipelined;
	bool clear = false;
	int ret, idx;

	if (old_mem && simgpu_test_bug(SIMGPU_BUG_LRU_SEARCH))
		simgpu_bug_lru_search(ttm_manager_type(tbo->bdev, old_type));

	if (!drm_dev_enter(&sdev->drm, &idx)) {
		/*
		 * The device is gone, and the content of its VRAM with it.
		 * Only moves to SYSTEM are left (simgpu_shrinker_unplug()
		 * drops the pages of TT BOs that way).  A move into VRAM or
		 * TT would keep DMA-mapped pages where the unplug no longer
		 * looks: a move that began inside the caller's
		 * drm_dev_enter() gets here once the device is marked gone.
		 */
		if (new_type != TTM_PL_SYSTEM)
			return -ENODEV;
		if (old_mem)
			simgpu_bo_invalidate_importers(tbo);
		if (old_mem && old_type == TTM_PL_TT)
			simgpu_gart_unbind(sdev, old_mem);
		simgpu_bo_release_import(tbo);
		ttm_bo_move_null(tbo, new_mem);
		return 0;
	}

	if (tbo->type == ttm_bo_type_sg) {
		ret = simgpu_bo_move_import(tbo, ctx, new_mem);
		if (!ret)
			simgpu_count_move(tbo, old_type, new_type, how, false,
					  evict);
		goto out;
	}
	/* Importers of an exported BO let go of it before it moves. */
	if (old_mem)
		simgpu_bo_invalidate_importers(tbo);

	/*
	 * A BO the shrinker backed up is in SYSTEM with its content in
	 * shmem: read it back before anything reads the pages.
	 */
	if (old_mem && tbo->ttm && ttm_tt_is_backed_up(tbo->ttm)) {
		ret = ttm_bo_populate(tbo, ctx);
		if (ret)
			goto out;
	}
	populated = old_mem && tbo->ttm && ttm_tt_is_populated(tbo->ttm);
	purge = evict && simgpu_mem_is_vram(old_type) &&
		new_type == TTM_PL_SYSTEM && simgpu_bo_purge_on_evict(tbo);
	pipelined = !READ_ONCE(simgpu_sync_moves) && !purge &&
		    (simgpu_mem_is_vram(old_type) || simgpu_mem_is_vram(new_type));

	/*
	 * User work on the BO first: the move must see its result.  A
	 * pipelined move waits for it on the engine (its job's dependencies);
	 * when it turns out to need the CPU or the window, that waits.
	 */
	if (!pipelined) {
		ret = ttm_bo_wait_ctx(tbo, ctx);
		if (ret)
			goto out;
	}

	if (old_type == TTM_PL_SYSTEM && !populated) {
		/* A new BO (or one never touched): nothing to copy. */
		if (!simgpu_mem_is_vram(new_type)) {
			if (new_type == TTM_PL_TT)
				simgpu_gart_bind(sdev, tbo->ttm, new_mem);
			ttm_bo_move_null(tbo, new_mem);
			goto done;
		}
		if (simgpu_test_bug(SIMGPU_BUG_NO_CLEAR)) {
			ttm_bo_move_null(tbo, new_mem);
			goto done;
		}
		clear = true;
	} else if (purge) {
		/*
		 * The new tt is unpopulated; purged, its first populate
		 * hands out zeroed pages (see simgpu_ttm_tt_populate()).
		 */
		to_simgpu_tt(tbo->ttm)->purged = true;
		to_simgpu_bo(tbo)->purged = true;
		ttm_bo_move_null(tbo, new_mem);
		atomic64_inc(&sdev->stats.evict_purges);
		goto done;
	} else if (old_type == TTM_PL_SYSTEM && new_type == TTM_PL_TT) {
		simgpu_gart_bind(sdev, tbo->ttm, new_mem);
		ttm_bo_move_null(tbo, new_mem);
		goto done;
	} else if (old_type == TTM_PL_TT && new_type == TTM_PL_SYSTEM) {
		simgpu_gart_unbind(sdev, old_mem);
		ttm_bo_move_null(tbo, new_mem);
		goto done;
	} else if (old_type == TTM_PL_TT && new_type == TTM_PL_TT &&
		   !simgpu_test_bug(SIMGPU_BUG_HOP_COPY)) {
		/*
		 * Out of the temporary TT of a hop whose second leg failed
		 * (TTM finds it fits no placement): the same pages, bound at
		 * the new range.  The BO is idle (waited for above).
		 */
		simgpu_gart_unbind(sdev, old_mem);
		simgpu_gart_bind(sdev, tbo->ttm, new_mem);
		ttm_bo_move_null(tbo, new_mem);
		goto done;
	} else if (old_type == new_type && old_type == TTM_PL_SYSTEM) {
		ttm_bo_move_null(tbo, new_mem);
		goto done;
	} else if ((old_type == TTM_PL_SYSTEM || new_type == TTM_PL_SYSTEM) &&
		   simgpu_engine_usable(sdev) && simgpu_tt_has_room(tbo)) {
		/*
		 * VRAM <-> SYSTEM: the engine needs the pages in the GART.
		 * With room in TT, hop there (as amdgpu does); without,
		 * simgpu_move_data() goes through the driver's window.
		 */
		hop->fpfn = 0;
		hop->lpfn = 0;
		hop->mem_type = TTM_PL_TT;
		hop->flags = TTM_PL_FLAG_TEMPORARY;
		/*
		 * TTM moves to the hop as no eviction, and then from it as
		 * one: an eviction from VRAM to SYSTEM is counted here, as
		 * what it is, and its second leg is not (hop_leg below).
		 */
		if (evict)
			atomic64_inc(&sdev->stats.evictions[simgpu_mem_index(old_type)]
							    [simgpu_mem_index(new_type)]);
		ret = -EMULTIHOP;
		goto out;
	}

	ret = simgpu_move_data(tbo, evict, ctx, new_mem, clear, pipelined);
	if (ret < 0)
		goto out;
	how = ret;
	ret = 0;
done:
	simgpu_count_move(tbo, old_type, new_type, how, clear,
			  evict && !hop_leg);
out:
	drm_dev_exit(idx);
	return ret;
}

static void simgpu_delete_mem_notify(struct ttm_buffer_object *tbo)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);

	/*
	 * A ghost holding the old resource of a move, its fence signalled
	 * (once: an eviction of a deleted ghost comes here too).
	 */
	if (!simgpu_bo_is_simgpu(tbo) && tbo->resource)
		atomic64_inc(&sdev->stats.ghosts_released);

	if (tbo->resource && tbo->resource->mem_type == TTM_PL_TT)
		simgpu_gart_unbind(sdev, tbo->resource);
	simgpu_bo_release_import(tbo);
}

static int simgpu_io_mem_reserve(struct ttm_device *bdev,
				 struct ttm_resource *mem)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bdev);
	struct simgpu_vram_region *r;

	switch (mem->mem_type) {
	case TTM_PL_SYSTEM:
	case TTM_PL_TT:
		return 0;
	case SIMGPU_PL_VRAM0:
	case SIMGPU_PL_VRAM1:
		if (!simgpu_vram_res_visible(sdev, mem))
			return -EINVAL;
		r = &sdev->region[mem->mem_type == SIMGPU_PL_VRAM1];
		/*
		 * The BAR maps a contiguous resource linearly from here (TTM's
		 * kmap and vmap).  A scattered one is reached page by page:
		 * simgpu_io_mem_pfn(), simgpu_access_memory(), simgpu_move_cpu().
		 */
		mem->bus.offset = r->io_start;
		if (mem->placement & TTM_PL_FLAG_CONTIGUOUS)
			mem->bus.offset += (u64)mem->start << PAGE_SHIFT;
		mem->bus.is_iomem = true;
		mem->bus.caching = ttm_write_combined;
		return 0;
	default:
		return -EINVAL;
	}
}

/* CPU faults: the BAR page of each page of the BO, block by block. */
static unsigned long simgpu_io_mem_pfn(struct ttm_buffer_object *tbo,
				       unsigned long page_offset)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *res = tbo->resource;
	struct simgpu_res_cursor cur;

	if (simgpu_test_bug(SIMGPU_BUG_UNSPLIT)) {
		simgpu_res_first(res, 0, PAGE_SIZE, false, &cur);
		cur.start += (u64)page_offset << PAGE_SHIFT;
	} else {
		simgpu_res_first(res, (u64)page_offset << PAGE_SHIFT, PAGE_SIZE,
				 false, &cur);
	}
	return (sdev->region[res->mem_type == SIMGPU_PL_VRAM1].io_start +
		cur.start) >> PAGE_SHIFT;
}

/*
 * ptrace() and /proc/PID/mem on a mapping of a VRAM BO (TTM handles TT
 * and SYSTEM itself): through the BAR, piece by piece.
 */
static int simgpu_access_memory(struct ttm_buffer_object *tbo,
				unsigned long offset, void *buf, int len,
				int write)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_resource *res = tbo->resource;
	struct simgpu_res_cursor cur;
	void __iomem *page;
	u64 n, in_page;
	int done = 0, idx;

	dma_resv_assert_held(tbo->base.resv);
	if (!simgpu_mem_is_vram(res->mem_type) ||
	    !simgpu_vram_res_visible(sdev, res))
		return -EIO;
	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	simgpu_res_first(res, offset, len, false, &cur);
	while (cur.remaining) {
		in_page = offset_in_page(cur.start);
		n = min_t(u64, cur.size, PAGE_SIZE - in_page);
		page = io_mapping_map_local_wc(&to_simgpu_vram_res(res)->mgr->iomap,
					       cur.start - in_page);
		if (write)
			memcpy_toio(page + in_page, buf + done, n);
		else
			memcpy_fromio(buf + done, page + in_page, n);
		io_mapping_unmap_local(page);
		done += n;
		simgpu_res_next(&cur, n);
	}
	drm_dev_exit(idx);
	return len;
}

/**
 * simgpu_bo_access - read or write a BO for ptrace and /proc/PID/mem
 * @tbo: the BO
 * @offset: byte offset in it
 * @buf: the caller's buffer
 * @len: bytes
 * @write: write @buf to the BO (else read)
 *
 * ttm_bo_access() with the BO idle first: a pipelined move may still be
 * filling the pages it would read.
 *
 * Return: @len, or a negative error code.
 */
int simgpu_bo_access(struct ttm_buffer_object *tbo, unsigned long offset,
		     void *buf, int len, int write)
{
	struct ttm_bo_kmap_obj map;
	unsigned long page_off;
	bool is_iomem;
	long ret;
	int done, n;
	void *p;

	if (len < 1 || offset + len > tbo->base.size)
		return -EIO;
	ret = ttm_bo_reserve(tbo, true, false, NULL);
	if (ret)
		return ret;
	ret = dma_resv_wait_timeout(tbo->base.resv, DMA_RESV_USAGE_KERNEL, true,
				    MAX_SCHEDULE_TIMEOUT);
	if (ret < 0)
		goto out;
	if (!tbo->resource) {
		ret = -ENODATA;
		goto out;
	}
	if (simgpu_mem_is_vram(tbo->resource->mem_type)) {
		ret = simgpu_access_memory(tbo, offset, buf, len, write);
		goto out;
	}
	for (done = 0; done < len; done += n) {
		page_off = offset_in_page(offset + done);
		n = min_t(unsigned long, len - done, PAGE_SIZE - page_off);
		ret = ttm_bo_kmap(tbo, (offset + done) >> PAGE_SHIFT, 1, &map);
		if (ret)
			goto out;
		p = ttm_kmap_obj_virtual(&map, &is_iomem) + page_off;
		if (write)
			memcpy(p, buf + done, n);
		else
			memcpy(buf + done, p, n);
		ttm_bo_kunmap(&map);
	}
	ret = len;
out:
	ttm_bo_unreserve(tbo);
	return ret;
}

static const struct ttm_device_funcs simgpu_ttm_funcs = {
	.ttm_tt_create = simgpu_ttm_tt_create,
	.ttm_tt_populate = simgpu_ttm_tt_populate,
	.ttm_tt_unpopulate = simgpu_ttm_tt_unpopulate,
	.ttm_tt_destroy = simgpu_ttm_tt_destroy,
	.eviction_valuable = simgpu_bo_eviction_valuable,
	.evict_flags = simgpu_evict_flags,
	.move = simgpu_bo_move,
	.delete_mem_notify = simgpu_delete_mem_notify,
	.swap_notify = simgpu_swap_notify,
	.io_mem_reserve = simgpu_io_mem_reserve,
	.io_mem_pfn = simgpu_io_mem_pfn,
	.access_memory = simgpu_access_memory,
};

/**
 * simgpu_ttm_init - create the TTM device and its memory managers
 * @sdev: simgpu device, with the hardware discovered
 *
 * Return: 0 or a negative error code; on error nothing is left to undo.
 */
int simgpu_ttm_init(struct simgpu_device *sdev)
{
	static const unsigned int pool_flags[] = {
		[SIMGPU_POOL_NORMAL] = 0,
		[SIMGPU_POOL_DMA32] = TTM_ALLOCATION_POOL_USE_DMA32,
		[SIMGPU_POOL_COHERENT] = TTM_ALLOCATION_POOL_USE_DMA_ALLOC,
	};
	struct drm_device *drm = &sdev->drm;
	unsigned int n;
	int ret;

	ret = ttm_device_init(&sdev->bdev, &simgpu_ttm_funcs, drm->dev,
			      drm->anon_inode->i_mapping,
			      drm->vma_offset_manager,
			      pool_flags[simgpu_pool_mode]);
	if (ret)
		return ret;

	for (n = 0; n < sdev->num_regions; n++) {
		ret = simgpu_vram_mgr_init(sdev, n);
		if (ret)
			goto err_vram;
	}
	ret = simgpu_gart_init(sdev);
	if (ret)
		goto err_vram;
	return 0;

err_vram:
	while (n--)
		simgpu_vram_mgr_fini(sdev, n);
	ttm_device_fini(&sdev->bdev);
	return ret;
}

/**
 * simgpu_ttm_fini - tear down what simgpu_ttm_init() created
 * @sdev: simgpu device, when the DRM device is released
 */
void simgpu_ttm_fini(struct simgpu_device *sdev)
{
	unsigned int n;

	/*
	 * BOs closed while busy wait on TTM's workqueue to be destroyed
	 * (delayed delete); after an unbind their fences are all signalled
	 * but the work may not have run yet.  Let it, before the managers
	 * go: they must be empty.
	 */
	drain_workqueue(sdev->bdev.wq);
	for (n = 0; n < sdev->num_regions; n++)
		simgpu_vram_mgr_fini(sdev, n);
	simgpu_gart_fini(sdev);
	ttm_device_fini(&sdev->bdev);
}
