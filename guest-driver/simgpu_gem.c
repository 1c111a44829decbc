// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu buffer objects: GEM objects on TTM buffer objects, their
 * placements, and CPU mappings.
 *
 * A CPU fault on a BO in CPU-invisible VRAM (small-BAR) moves the BO into
 * the visible window of its region, or to TT, before it is mapped.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-buf.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_ttm_helper.h>
#include <drm/drm_prime.h>

#include "simgpu_drv.h"
#include "simgpu_trace.h"
#include "uapi/simgpu_drm.h"

static const u32 simgpu_mem_to_ttm[DRM_SIMGPU_NUM_MEM] = {
	[DRM_SIMGPU_MEM_VRAM0] = SIMGPU_PL_VRAM0,
	[DRM_SIMGPU_MEM_VRAM1] = SIMGPU_PL_VRAM1,
	[DRM_SIMGPU_MEM_TT] = TTM_PL_TT,
	[DRM_SIMGPU_MEM_SYSTEM] = TTM_PL_SYSTEM,
};

/* Add @mem to @bo's placement list, unless @bo can never fit there. */
static void simgpu_add_place(struct simgpu_bo *bo, u32 mem, bool cpu_visible)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_place *place;
	u64 room;

	if (mem <= DRM_SIMGPU_MEM_VRAM1)
		room = cpu_visible ? sdev->region[mem].visible_size :
				     sdev->region[mem].size;
	else if (mem == DRM_SIMGPU_MEM_TT)
		room = simgpu_gart_tt_size(sdev);
	else
		room = (u64)totalram_pages() << PAGE_SHIFT;
	/*
	 * The managers would fail it (VRAM with -E2BIG, which ends the
	 * search, TT with -ENOSPC after evicting everything), and a SYSTEM
	 * BO larger than RAM could never get its pages (its page array
	 * alone may exceed what kvmalloc allows): leave it out.
	 */
	if (bo->tbo.base.size > room)
		return;

	place = &bo->places[bo->placement.num_placement++];
	memset(place, 0, sizeof(*place));
	place->mem_type = simgpu_mem_to_ttm[mem];
	if (mem <= DRM_SIMGPU_MEM_VRAM1 && cpu_visible)
		place->lpfn = sdev->region[mem].visible_size >> PAGE_SHIFT;
}

/**
 * simgpu_bo_placement - build a BO's placement list
 * @bo: the BO, reserved (or not yet visible to anyone)
 * @mask: DRM_SIMGPU_PLACEMENT() bits to include, at least one
 * @first: DRM_SIMGPU_MEM_* placement to put first (must be in @mask)
 * @cpu_visible: restrict VRAM to the CPU-visible window
 *
 * Placements too small for the BO (a VRAM region or its visible window,
 * the GART) are left out.  The result is in @bo->placement, valid until
 * the next call.
 *
 * Return: 0, or -ENOSPC if no placement of @mask can ever hold the BO.
 */
int simgpu_bo_placement(struct simgpu_bo *bo, u32 mask, u32 first,
			bool cpu_visible)
{
	u32 mem;

	bo->placement.num_placement = 0;
	bo->placement.placement = bo->places;
	simgpu_add_place(bo, first, cpu_visible);
	for (mem = 0; mem < DRM_SIMGPU_NUM_MEM; mem++)
		if (mem != first && (mask & DRM_SIMGPU_PLACEMENT(mem)))
			simgpu_add_place(bo, mem, cpu_visible);
	return bo->placement.num_placement ? 0 : -ENOSPC;
}

static void simgpu_bo_destroy(struct ttm_buffer_object *tbo)
{
	struct simgpu_bo *bo = to_simgpu_bo(tbo);

	/* An import: detach, and let go of the dma-buf. */
	if (tbo->base.import_attach)
		drm_prime_gem_destroy(&tbo->base, NULL);
	else if (bo->import_buf)
		dma_buf_put(bo->import_buf);
	drm_gem_object_release(&tbo->base);
	kfree(bo);
}

/**
 * simgpu_bo_is_simgpu - whether a TTM BO is a simgpu BO
 * @tbo: a TTM BO of a simgpu device
 *
 * TTM's ghost objects (what is left of a BO during a move) share the TTM
 * device but are not embedded in a &struct simgpu_bo.
 *
 * Return: true if @tbo is embedded in a &struct simgpu_bo.
 */
bool simgpu_bo_is_simgpu(struct ttm_buffer_object *tbo)
{
	return tbo->destroy == simgpu_bo_destroy;
}

static void simgpu_gem_free(struct drm_gem_object *gem)
{
	ttm_bo_fini(drm_gem_ttm_of_gem(gem));
}

static vm_fault_t simgpu_gem_fault_visible(struct simgpu_bo *bo)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_operation_ctx ctx = { };
	struct ttm_resource *res = bo->tbo.resource;
	unsigned int i;
	u32 mem;
	int ret;

	if (simgpu_vram_res_visible(sdev, res))
		return 0;
	if (bo->tbo.pin_count)
		return VM_FAULT_SIGBUS;

	atomic64_inc(&sdev->stats.invisible_faults);
	mem = simgpu_mem_index(res->mem_type);
	ret = simgpu_bo_placement(bo, DRM_SIMGPU_PLACEMENT(mem) |
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT), mem,
				  true);
	if (ret)
		return VM_FAULT_SIGBUS;
	/*
	 * Evict from the visible window before falling back to TT: without
	 * the flag TTM would take free TT over evicting visible VRAM.
	 */
	for (i = 1; i < bo->placement.num_placement; i++)
		bo->places[i].flags |= TTM_PL_FLAG_FALLBACK;
	ret = ttm_bo_validate(&bo->tbo, &bo->placement, &ctx);
	/* -ENODEV: unplugged meanwhile; the fault again gets the dummy page. */
	if (ret == -EBUSY || ret == -ERESTARTSYS || ret == -EINTR ||
	    ret == -ENODEV)
		return VM_FAULT_NOPAGE;
	if (ret || !simgpu_vram_res_visible(sdev, bo->tbo.resource))
		return VM_FAULT_SIGBUS;
	return 0;
}

/*
 * A BO the shrinker backed up (or TTM swapped out) must be read back
 * before it can be mapped.  That may take long (swap-in), so when the
 * fault may be retried it is done with the mmap lock dropped, and the
 * fault is retried: with a signal pending, the retry is where the core
 * ends a user fault (the signal is delivered) or a kernel-mode access
 * (copy_from_user() fails, the syscall returns a short count), instead
 * of re-faulting forever.  The BO is reserved; returns 0 if it needs no
 * restore (or the fault must do it in place), VM_FAULT_RETRY with the
 * reservation and the mmap lock dropped otherwise.
 */
static vm_fault_t simgpu_gem_fault_restore(struct vm_fault *vmf,
					   struct ttm_buffer_object *tbo)
{
	struct ttm_operation_ctx ctx = { .interruptible = true };
	struct ttm_tt *tt = tbo->ttm;

	if (!tt || !(ttm_tt_is_backed_up(tt) ||
		     (tt->page_flags & TTM_TT_FLAG_SWAPPED)) ||
	    !fault_flag_allow_retry_first(vmf->flags) ||
	    simgpu_test_bug(SIMGPU_BUG_RESTORE_SIGNAL))
		return 0;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) {
		dma_resv_unlock(tbo->base.resv);
		return VM_FAULT_RETRY;
	}
	drm_gem_object_get(&tbo->base);
	mmap_read_unlock(vmf->vma->vm_mm);
	/* Progress is kept even if interrupted: the next try resumes. */
	ttm_bo_populate(tbo, &ctx);
	dma_resv_unlock(tbo->base.resv);
	drm_gem_object_put(&tbo->base);
	return VM_FAULT_RETRY;
}

static vm_fault_t simgpu_gem_fault(struct vm_fault *vmf)
{
	struct ttm_buffer_object *tbo = vmf->vma->vm_private_data;
	vm_fault_t ret;
	int idx;

	ret = ttm_bo_vm_reserve(tbo, vmf);
	if (ret)
		return ret;

	if (drm_dev_enter(tbo->base.dev, &idx)) {
		ret = simgpu_gem_fault_restore(vmf, tbo);
		if (ret == VM_FAULT_RETRY) {
			drm_dev_exit(idx);
			return ret; /* the reservation is dropped */
		}
		ret = simgpu_gem_fault_visible(to_simgpu_bo(tbo));
		if (!ret)
			ret = ttm_bo_vm_fault_reserved(vmf, vmf->vma->vm_page_prot,
						       TTM_BO_VM_NUM_PREFAULT);
		drm_dev_exit(idx);
	} else {
		ret = ttm_bo_vm_dummy_page(vmf, vmf->vma->vm_page_prot);
	}
	if (ret == VM_FAULT_RETRY && !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		return ret; /* ttm_bo_vm_fault_reserved() dropped the lock */

	dma_resv_unlock(tbo->base.resv);
	return ret;
}

static int simgpu_gem_vm_access(struct vm_area_struct *vma,
				unsigned long addr, void *buf, int len,
				int write)
{
	struct ttm_buffer_object *tbo = vma->vm_private_data;
	unsigned long offset = addr - vma->vm_start +
		((vma->vm_pgoff - drm_vma_node_start(&tbo->base.vma_node))
		 << PAGE_SHIFT);

	return simgpu_bo_access(tbo, offset, buf, len, write);
}

static const struct vm_operations_struct simgpu_gem_vm_ops = {
	.fault = simgpu_gem_fault,
	.open = ttm_bo_vm_open,
	.close = ttm_bo_vm_close,
	.access = simgpu_gem_vm_access,
};

/*
 * ttm_bo_vmap() maps VRAM as one range of the BAR: a scattered or
 * CPU-invisible VRAM BO is made contiguous in the visible window first,
 * or goes to system memory (xe and amdgpu place kernel-mapped BOs so).
 */
static int simgpu_gem_vmap(struct drm_gem_object *gem, struct iosys_map *map)
{
	struct ttm_buffer_object *tbo = drm_gem_ttm_of_gem(gem);
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct ttm_operation_ctx ctx = { .interruptible = true };
	struct simgpu_bo *bo = to_simgpu_bo(tbo);
	struct ttm_resource *res = tbo->resource;
	long lret;
	u32 mem;
	int ret;

	dma_resv_assert_held(gem->resv);
	if (drm_gem_is_imported(gem))
		return -EOPNOTSUPP;
	if (simgpu_mem_is_vram(res->mem_type) &&
	    (!(res->placement & TTM_PL_FLAG_CONTIGUOUS) ||
	     !simgpu_vram_res_visible(sdev, res))) {
		mem = simgpu_mem_index(res->mem_type);
		ret = simgpu_bo_placement(bo, DRM_SIMGPU_PLACEMENT(mem) |
					  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
					  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
					  mem, true);
		if (ret)
			return ret;
		bo->places[0].flags |= TTM_PL_FLAG_CONTIGUOUS;
		ret = ttm_bo_validate(tbo, &bo->placement, &ctx);
		if (ret)
			return ret;
	}
	/* A pipelined move may still be filling it. */
	lret = dma_resv_wait_timeout(gem->resv, DMA_RESV_USAGE_KERNEL, true,
				     MAX_SCHEDULE_TIMEOUT);
	if (lret < 0)
		return lret;
	return drm_gem_ttm_vmap(gem, map);
}

/*
 * For fdinfo (drm_show_memory_stats(), under the file's table spinlock):
 * a BO whose reservation is busy is taken as resident and not purgeable.
 */
static enum drm_gem_object_status simgpu_gem_status(struct drm_gem_object *gem)
{
	struct ttm_buffer_object *tbo = drm_gem_ttm_of_gem(gem);
	struct simgpu_bo *bo = to_simgpu_bo(tbo);
	enum drm_gem_object_status s = DRM_GEM_OBJECT_RESIDENT;

	if (!dma_resv_trylock(gem->resv))
		return s;
	if (tbo->resource && !simgpu_mem_is_vram(tbo->resource->mem_type) &&
	    (!tbo->ttm || !ttm_tt_is_populated(tbo->ttm)))
		s = 0;
	if (bo->madv == DRM_SIMGPU_MADV_DONTNEED)
		s |= DRM_GEM_OBJECT_PURGEABLE;
	if (!dma_resv_test_signaled(gem->resv, DMA_RESV_USAGE_BOOKKEEP))
		s |= DRM_GEM_OBJECT_ACTIVE;
	dma_resv_unlock(gem->resv);
	return s;
}

/* An imported BO is mapped through its dma-buf, as drm_gem_shmem does. */
static int simgpu_gem_mmap(struct drm_gem_object *gem,
			   struct vm_area_struct *vma)
{
	unsigned long pgoff;
	int ret;

	if (!drm_gem_is_imported(gem))
		return drm_gem_ttm_mmap(gem, vma);
	pgoff = vma->vm_pgoff - drm_vma_node_start(&gem->vma_node);
	vma->vm_private_data = NULL;
	vma->vm_ops = NULL;
	ret = dma_buf_mmap(gem->dma_buf, vma, pgoff);
	/* The mapping holds the dma-buf, not the GEM object. */
	if (!ret)
		drm_gem_object_put(gem);
	return ret;
}

static const struct drm_gem_object_funcs simgpu_gem_funcs = {
	.free = simgpu_gem_free,
	.status = simgpu_gem_status,
	.export = simgpu_gem_prime_export,
	.mmap = simgpu_gem_mmap,
	.vmap = simgpu_gem_vmap,
	.vunmap = drm_gem_ttm_vunmap,
	.print_info = drm_gem_ttm_print_info,
	.vm_ops = &simgpu_gem_vm_ops,
};

/*
 * A placement that failed for lack of space while BOs freed busy were
 * still waiting in TTM's delayed delete: eviction skips the BOs that the
 * delete is handling at that moment, so their memory may come back just
 * after it gave up.  Wait for those deletes once; true to try again.
 */
static bool simgpu_bo_retry_after_deletes(struct simgpu_device *sdev,
					  int ret, bool *retried)
{
	if (ret != -ENOMEM || *retried)
		return false;
	flush_workqueue(sdev->bdev.wq);
	*retried = true;
	return true;
}

/*
 * A BO of @size bytes, placed per @placements/@preferred; with @import,
 * a BO of type ttm_bo_type_sg for that dma-buf, sharing its reservation
 * and created in SYSTEM (simgpu_dma_buf.c maps it when it moves to TT).
 */
static struct simgpu_bo *__simgpu_bo_create(struct simgpu_device *sdev,
					    u64 size, u32 placements,
					    u32 preferred, u32 flags,
					    struct dma_buf *import)
{
	struct ttm_operation_ctx ctx = { .interruptible = true };
	struct ww_acquire_ctx ticket;
	struct dma_resv *resv;
	struct simgpu_bo *bo;
	int ret;

	bo = kzalloc_obj(*bo);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	drm_gem_private_object_init(&sdev->drm, &bo->tbo.base, size);
	bo->tbo.base.funcs = &simgpu_gem_funcs;
	bo->tbo.bdev = &sdev->bdev;
	bo->placements = placements;
	bo->preferred = preferred;
	bo->flags = flags;
	/* Dropped by simgpu_bo_destroy() (via drm_prime_gem_destroy()). */
	if (import) {
		get_dma_buf(import);
		bo->import_buf = import;
	}
	ret = simgpu_bo_placement(bo, import ?
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM) :
				  placements,
				  import ? DRM_SIMGPU_MEM_SYSTEM : preferred,
				  flags & DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS);
	if (ret) {
		if (import)
			dma_buf_put(import);
		drm_gem_object_release(&bo->tbo.base);
		kfree(bo);
		return ERR_PTR(ret);
	}

	/* Before the first placement, so that its bo_move events follow. */
	trace_simgpu_bo_create(bo, size, placements, preferred, flags);
	/*
	 * The BO's own reservation is locked under a ticket, as xe does, so
	 * that the first placement may evict BOs that someone else holds
	 * for a moment (a migration, a submission) by waiting for them.
	 * Without a ticket TTM's eviction only trylocks.
	 */
	resv = import ? import->resv : &bo->tbo.base._resv;
	ww_acquire_init(&ticket, &reservation_ww_class);
	ret = import ? dma_resv_lock_interruptible(resv, &ticket) :
		       dma_resv_lock(resv, &ticket);
	/* A new BO's own lock: nobody else can hold it. */
	if (ret && (import || WARN_ON(ret))) {
		ww_acquire_fini(&ticket);
		if (import)
			dma_buf_put(import);
		drm_gem_object_release(&bo->tbo.base);
		kfree(bo);
		return ERR_PTR(ret);
	}
	/*
	 * On failure TTM drops the BO; simgpu_bo_destroy() runs from its
	 * delayed delete once the reservation is unlocked here.
	 */
	ret = ttm_bo_init_reserved(&sdev->bdev, &bo->tbo,
				   import ? ttm_bo_type_sg : ttm_bo_type_device,
				   &bo->placement, 0, &ctx, NULL, resv,
				   simgpu_bo_destroy);
	dma_resv_unlock(resv);
	ww_acquire_fini(&ticket);
	return ret ? ERR_PTR(ret) : bo;
}

/**
 * simgpu_bo_create - create a BO and place it
 * @sdev: simgpu device
 * @size: bytes, page aligned, not zero
 * @placements: allowed DRM_SIMGPU_PLACEMENT() mask, validated
 * @preferred: DRM_SIMGPU_MEM_* placement tried first, in @placements
 * @flags: DRM_SIMGPU_GEM_CREATE_* flags, validated
 *
 * The BO's content is zero.
 *
 * Return: the BO with one GEM reference, or an ERR_PTR().
 */
struct simgpu_bo *simgpu_bo_create(struct simgpu_device *sdev, u64 size,
				   u32 placements, u32 preferred, u32 flags)
{
	bool retried = false;
	struct simgpu_bo *bo;

	do {
		bo = __simgpu_bo_create(sdev, size, placements, preferred,
					flags, NULL);
	} while (IS_ERR(bo) &&
		 simgpu_bo_retry_after_deletes(sdev, PTR_ERR(bo), &retried));
	return bo;
}

/**
 * simgpu_bo_create_import - create the BO of an imported dma-buf
 * @sdev: simgpu device
 * @dmabuf: the buffer, its size a whole number of pages
 *
 * The BO shares @dmabuf's reservation and may be in TT (where the engine
 * reaches it) or SYSTEM (unmapped); it starts in SYSTEM.
 *
 * Return: the BO with one GEM reference, or an ERR_PTR().
 */
struct simgpu_bo *simgpu_bo_create_import(struct simgpu_device *sdev,
					  struct dma_buf *dmabuf)
{
	return __simgpu_bo_create(sdev, dmabuf->size,
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
				  DRM_SIMGPU_MEM_TT, 0, dmabuf);
}

/**
 * simgpu_bo_migrate - move a BO to one placement
 * @bo: the BO, not reserved
 * @mem: DRM_SIMGPU_MEM_* placement
 * @cpu_visible: for VRAM, inside the CPU-visible window
 * @interruptible: whether waits may be interrupted by signals
 *
 * Return: 0, -ENOSPC if it does not fit, -EBUSY if it is pinned (for a
 * dma-buf importer), or another negative error code
 * (the BO then stays where it was).
 */
int simgpu_bo_migrate(struct simgpu_bo *bo, u32 mem, bool cpu_visible,
		      bool interruptible)
{
	/* Out of memory is an error code for the caller, not an OOM kill. */
	struct ttm_operation_ctx ctx = {
		.interruptible = interruptible,
		.gfp_retry_mayfail = true,
	};
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ww_acquire_ctx ticket;
	bool retried = false;
	int ret;

	do {
		/* Under a ticket: eviction may wait for BOs others hold. */
		ww_acquire_init(&ticket, &reservation_ww_class);
		ret = ttm_bo_reserve(&bo->tbo, interruptible, false, &ticket);
		/* Pinned for a dma-buf importer: it stays where it is. */
		if (!ret && bo->tbo.pin_count) {
			ttm_bo_unreserve(&bo->tbo);
			ret = -EBUSY;
		} else if (!ret) {
			ret = simgpu_bo_placement(bo, DRM_SIMGPU_PLACEMENT(mem),
						  mem, cpu_visible);
			if (!ret)
				ret = ttm_bo_validate(&bo->tbo, &bo->placement,
						      &ctx);
			ttm_bo_unreserve(&bo->tbo);
		}
		ww_acquire_fini(&ticket);
	} while (simgpu_bo_retry_after_deletes(sdev, ret, &retried));
	return ret == -ENOMEM && simgpu_mem_is_vram(simgpu_mem_to_ttm[mem]) ?
	       -ENOSPC : ret;
}

/**
 * simgpu_bo_lookup - find a BO by handle
 * @file: DRM file the handle belongs to
 * @handle: GEM handle
 *
 * Return: the BO with a GEM reference (drop it with drm_gem_object_put()),
 * or NULL if @file has no such handle.
 */
struct simgpu_bo *simgpu_bo_lookup(struct drm_file *file, u32 handle)
{
	struct drm_gem_object *gem = drm_gem_object_lookup(file, handle);

	return gem ? to_simgpu_bo(drm_gem_ttm_of_gem(gem)) : NULL;
}
