// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu dma-buf export and import, after xe_dma_buf.c.
 *
 * Exporter.  A BO is exported with simgpu's own &dma_buf_ops, which are
 * dynamic (they have pin/unpin): an importer that handles invalidation
 * (dma_buf_dynamic_attach() with an invalidate_mappings callback) maps
 * the BO where it is, and the driver calls dma_buf_invalidate_mappings()
 * under the BO's reservation before every move, eviction, shrinker
 * backup or purge of it (simgpu_bo_invalidate_importers()); the importer
 * unmaps and maps again when it next needs the buffer.  A static importer
 * pins the BO (dma-buf pins on map for it): a pinned BO is off TTM's LRUs,
 * so neither eviction nor the shrinker sees it, and the migrate ioctl
 * refuses to move it (-EBUSY).
 *
 * What an attachment gets: with peer-to-peer DMA allowed between the two
 * devices (pci_p2pdma_distance()), a BO in CPU-visible VRAM is mapped
 * as its BAR range, piece by piece (dma_map_resource()); otherwise, and
 * for a BO in invisible VRAM or in SYSTEM, the BO moves to TT first and
 * the importer gets its pages.  A BO that may not go to TT (its
 * placement mask) can only be attached peer-to-peer.
 *
 * A BO marked DRM_SIMGPU_MADV_DONTNEED is not exported (-EBUSY), and an
 * exported BO cannot be marked DONTNEED (madvise fails with -EBUSY): its
 * content could otherwise vanish under another driver.
 *
 * Importer.  A foreign dma-buf becomes a BO of type ttm_bo_type_sg that
 * shares the buffer's reservation, attached dynamically.  It lives in
 * SYSTEM (no mapping) until the engine needs it: its move to TT maps the
 * attachment and binds the addresses in the GART; the exporter's
 * invalidation moves it back to SYSTEM (after the engine work that uses
 * it, whose fences are in the shared reservation), which unbinds and
 * unmaps it.  Exporters without pin (udmabuf, vgem) never invalidate:
 * their buffers stay put while attached.  simgpu's own buffers come back
 * as the same GEM object when imported into the device that exported
 * them.  With the module parameter dynamic_import=N the driver attaches
 * statically instead, as a driver without invalidation support does:
 * a dynamic exporter then pins the buffer while the import is mapped
 * (in TT).
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem_ttm_helper.h>
#include <drm/drm_prime.h>
#include <drm/drm_print.h>
#include <drm/ttm/ttm_tt.h>

#include "simgpu_drv.h"
#include "simgpu_res_cursor.h"
#include "uapi/simgpu_drm.h"

#define SIMGPU_VRAM_PLACEMENTS \
	(DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) | \
	 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1))

/* The longest piece of a BAR range in one scatterlist entry. */
#define SIMGPU_MAX_SG_SEGMENT	SZ_2G

static struct simgpu_bo *simgpu_dma_buf_bo(struct dma_buf *dmabuf)
{
	return to_simgpu_bo(drm_gem_ttm_of_gem(dmabuf->priv));
}

static bool simgpu_bo_may_use_tt(struct simgpu_bo *bo)
{
	return bo->placements & DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT);
}

static int simgpu_dma_buf_attach(struct dma_buf *dmabuf,
				 struct dma_buf_attachment *attach)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(dmabuf);
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);

	if (attach->peer2peer &&
	    (!simgpu_p2p || pci_p2pdma_distance(sdev->pdev, attach->dev,
						false) < 0))
		attach->peer2peer = false;
	if (!attach->peer2peer && !simgpu_bo_may_use_tt(bo))
		return -EOPNOTSUPP;
	atomic64_inc(attach->peer2peer ? &sdev->stats.dmabuf_attach_p2p :
			 &sdev->stats.dmabuf_attach);
	return 0;
}

/* Whether every attachment of @dmabuf reaches VRAM through the BAR. */
static bool simgpu_dma_buf_all_p2p(struct dma_buf *dmabuf)
{
	struct dma_buf_attachment *attach;

	list_for_each_entry(attach, &dmabuf->attachments, node)
		if (!attach->peer2peer)
			return false;
	return true;
}

/* Whether @attach may map @res where it is. */
static bool simgpu_dma_buf_reaches(struct simgpu_device *sdev, bool p2p,
				   struct ttm_resource *res)
{
	if (res->mem_type == TTM_PL_TT)
		return true;
	return p2p && simgpu_mem_is_vram(res->mem_type) &&
	       simgpu_vram_res_visible(sdev, res);
}

/*
 * Move a reserved exported BO where an importer reaches it: it stays in
 * CPU-visible VRAM for a peer-to-peer importer (moving into the visible
 * window of its region if needed), else goes to TT.
 */
static int simgpu_dma_buf_place(struct simgpu_bo *bo, bool p2p)
{
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_operation_ctx ctx = {
		.interruptible = true,
		.gfp_retry_mayfail = true,
	};
	struct ttm_resource *res = bo->tbo.resource;
	u32 mem = simgpu_mem_index(res->mem_type), mask;
	int ret;

	dma_resv_assert_held(bo->tbo.base.resv);
	if (simgpu_dma_buf_reaches(sdev, p2p, res))
		return 0;
	if (bo->tbo.pin_count)
		return -EINVAL;
	mask = simgpu_bo_may_use_tt(bo) ?
	       DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) : 0;
	/*
	 * Peer-to-peer: the visible window of the VRAM region it is in, or
	 * of any it may use (eviction took a VRAM-only BO out of VRAM).
	 */
	if (p2p)
		mask |= bo->placements & SIMGPU_VRAM_PLACEMENTS;
	if (!p2p || !(mask & DRM_SIMGPU_PLACEMENT(mem)))
		mem = mask & DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) ?
		      DRM_SIMGPU_MEM_TT : __ffs(mask);
	if (!mask)
		return -EOPNOTSUPP;
	ret = simgpu_bo_placement(bo, mask, mem, true);
	if (!ret)
		ret = ttm_bo_validate(&bo->tbo, &bo->placement, &ctx);
	return ret;
}

static int simgpu_dma_buf_pin(struct dma_buf_attachment *attach)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(attach->dmabuf);
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	int ret;

	ret = simgpu_dma_buf_place(bo, simgpu_dma_buf_all_p2p(attach->dmabuf));
	if (ret)
		return ret;
	if (!simgpu_test_bug(SIMGPU_BUG_NO_PIN))
		ttm_bo_pin(&bo->tbo);
	atomic64_inc(&sdev->stats.dmabuf_pins);
	return 0;
}

static void simgpu_dma_buf_unpin(struct dma_buf_attachment *attach)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(attach->dmabuf);

	if (!simgpu_test_bug(SIMGPU_BUG_NO_PIN))
		ttm_bo_unpin(&bo->tbo);
}

/* The BAR ranges of a VRAM resource, DMA-mapped for @dev. */
static struct sg_table *simgpu_dma_buf_map_vram(struct simgpu_device *sdev,
						struct ttm_resource *res,
						u64 size, struct device *dev,
						enum dma_data_direction dir)
{
	phys_addr_t base = sdev->region[res->mem_type == SIMGPU_PL_VRAM1].io_start;
	struct simgpu_res_cursor cur;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int n = 0, i;
	int ret;

	for (simgpu_res_first(res, 0, size, false, &cur); cur.remaining;
	     simgpu_res_next(&cur, min_t(u64, cur.size, SIMGPU_MAX_SG_SEGMENT)))
		n++;
	sgt = kmalloc_obj(*sgt);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(sgt, n, GFP_KERNEL);
	if (ret)
		goto err_free;
	for_each_sgtable_sg(sgt, sg, i)
		sg->length = 0;

	simgpu_res_first(res, 0, size, false, &cur);
	for_each_sgtable_sg(sgt, sg, i) {
		u64 len = min_t(u64, cur.size, SIMGPU_MAX_SG_SEGMENT);
		dma_addr_t addr;

		addr = dma_map_resource(dev, base + cur.start, len, dir,
					DMA_ATTR_SKIP_CPU_SYNC);
		ret = dma_mapping_error(dev, addr);
		if (ret)
			goto err_unmap;
		sg_set_page(sg, NULL, len, 0);
		sg_dma_address(sg) = addr;
		sg_dma_len(sg) = len;
		simgpu_res_next(&cur, len);
	}
	return sgt;

err_unmap:
	for_each_sgtable_sg(sgt, sg, i)
		if (sg->length)
			dma_unmap_resource(dev, sg_dma_address(sg), sg->length,
					   dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

/* The pages of a TT BO, DMA-mapped for @dev. */
static struct sg_table *simgpu_dma_buf_map_tt(struct simgpu_bo *bo,
					      struct device *dev,
					      enum dma_data_direction dir)
{
	struct ttm_tt *tt = bo->tbo.ttm;
	struct sg_table *sgt;
	int ret;

	sgt = drm_prime_pages_to_sg(bo->tbo.base.dev, tt->pages,
				    tt->num_pages);
	if (IS_ERR(sgt))
		return sgt;
	ret = dma_map_sgtable(dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (ret) {
		sg_free_table(sgt);
		kfree(sgt);
		return ERR_PTR(ret);
	}
	return sgt;
}

static struct sg_table *simgpu_dma_buf_map(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(attach->dmabuf);
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_resource *res;
	struct sg_table *sgt;
	int ret, idx;

	dma_resv_assert_held(bo->tbo.base.resv);
	if (!drm_dev_enter(&sdev->drm, &idx))
		return ERR_PTR(-ENODEV);
	ret = simgpu_dma_buf_place(bo, attach->peer2peer);
	if (ret) {
		sgt = ERR_PTR(ret);
		goto out;
	}
	res = bo->tbo.resource;
	if (res->mem_type == TTM_PL_TT) {
		sgt = simgpu_dma_buf_map_tt(bo, attach->dev, dir);
	} else {
		sgt = simgpu_dma_buf_map_vram(sdev, res, bo->tbo.base.size,
					      attach->dev, dir);
		if (!IS_ERR(sgt))
			atomic64_inc(&sdev->stats.dmabuf_maps_vram);
	}
	if (!IS_ERR(sgt))
		atomic64_inc(&sdev->stats.dmabuf_maps);
out:
	drm_dev_exit(idx);
	return sgt;
}

static void simgpu_dma_buf_unmap(struct dma_buf_attachment *attach,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	struct scatterlist *sg;
	unsigned int i;

	if (sg_page(sgt->sgl)) {
		dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	} else {
		for_each_sgtable_dma_sg(sgt, sg, i)
			dma_unmap_resource(attach->dev, sg_dma_address(sg),
					   sg_dma_len(sg), dir,
					   DMA_ATTR_SKIP_CPU_SYNC);
	}
	sg_free_table(sgt);
	kfree(sgt);
}

/*
 * DMA_BUF_IOCTL_SYNC start: the engine work on the BO ends first (the
 * writers for a read, everyone for a write).  The CPU mapping itself
 * works in any placement.
 */
static int simgpu_dma_buf_begin_cpu_access(struct dma_buf *dmabuf,
					   enum dma_data_direction dir)
{
	long ret;

	ret = dma_resv_wait_timeout(dmabuf->resv,
				    dma_resv_usage_rw(dir != DMA_FROM_DEVICE),
				    true, MAX_SCHEDULE_TIMEOUT);
	return ret < 0 ? ret : 0;
}

static void simgpu_dma_buf_release(struct dma_buf *dmabuf)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(dmabuf);

	dma_resv_lock(dmabuf->resv, NULL);
	bo->dmabuf = NULL;
	dma_resv_unlock(dmabuf->resv);
	drm_gem_dmabuf_release(dmabuf);
}

/*
 * A kernel mapping for an importer: the BO is placed for it (see
 * simgpu_gem_vmap()) and pinned while mapped, as amdgpu does.
 */
static int simgpu_dma_buf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(dmabuf);
	int ret;

	dma_resv_assert_held(dmabuf->resv);
	ret = drm_gem_dmabuf_vmap(dmabuf, map);
	if (!ret)
		ttm_bo_pin(&bo->tbo);
	return ret;
}

static void simgpu_dma_buf_vunmap(struct dma_buf *dmabuf,
				  struct iosys_map *map)
{
	struct simgpu_bo *bo = simgpu_dma_buf_bo(dmabuf);

	dma_resv_assert_held(dmabuf->resv);
	ttm_bo_unpin(&bo->tbo);
	drm_gem_dmabuf_vunmap(dmabuf, map);
}

static const struct dma_buf_ops simgpu_dma_buf_ops = {
	.attach = simgpu_dma_buf_attach,
	.pin = simgpu_dma_buf_pin,
	.unpin = simgpu_dma_buf_unpin,
	.map_dma_buf = simgpu_dma_buf_map,
	.unmap_dma_buf = simgpu_dma_buf_unmap,
	.release = simgpu_dma_buf_release,
	.begin_cpu_access = simgpu_dma_buf_begin_cpu_access,
	.mmap = drm_gem_dmabuf_mmap,
	.vmap = simgpu_dma_buf_vmap,
	.vunmap = simgpu_dma_buf_vunmap,
};

/**
 * simgpu_gem_prime_export - &drm_gem_object_funcs.export
 * @gem: a simgpu BO
 * @flags: file flags of the dma-buf
 *
 * Return: the dma-buf, or an ERR_PTR(): -EBUSY for a DONTNEED BO,
 * -EINVAL for an imported one (export the original instead).
 */
struct dma_buf *simgpu_gem_prime_export(struct drm_gem_object *gem, int flags)
{
	struct simgpu_bo *bo = to_simgpu_bo(drm_gem_ttm_of_gem(gem));
	struct dma_buf *dmabuf;
	bool was_shared;
	int ret;

	if (gem->import_attach)
		return ERR_PTR(-EINVAL);
	/*
	 * Marked shared under the lock (madvise then refuses DONTNEED), but
	 * exported outside it: dma_buf_export() takes the dma-buf list lock,
	 * which the dma-buf debugfs holds while it takes reservations.
	 */
	ret = dma_resv_lock_interruptible(gem->resv, NULL);
	if (ret)
		return ERR_PTR(ret);
	ret = bo->madv == DRM_SIMGPU_MADV_DONTNEED ? -EBUSY : 0;
	was_shared = bo->shared;
	if (!ret)
		bo->shared = true;
	dma_resv_unlock(gem->resv);
	if (ret)
		return ERR_PTR(ret);

	dmabuf = drm_gem_prime_export(gem, flags);
	dma_resv_lock(gem->resv, NULL);
	if (IS_ERR(dmabuf)) {
		bo->shared = was_shared;
	} else {
		/* No importer yet: the fd is not returned to anyone. */
		dmabuf->ops = &simgpu_dma_buf_ops;
		bo->dmabuf = dmabuf;
	}
	dma_resv_unlock(gem->resv);
	return dmabuf;
}

/**
 * simgpu_bo_invalidate_importers - before a BO moves or loses its pages
 * @tbo: the BO, reserved
 *
 * Dynamic importers of an exported BO drop their mappings (and their
 * engine work on them is in the BO's reservation, which the move waits
 * for); pinned BOs never get here.
 */
void simgpu_bo_invalidate_importers(struct ttm_buffer_object *tbo)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct dma_buf *dmabuf;

	dma_resv_assert_held(tbo->base.resv);
	if (!simgpu_bo_is_simgpu(tbo))
		return;
	dmabuf = to_simgpu_bo(tbo)->dmabuf;
	if (!dmabuf || WARN_ON_ONCE(tbo->pin_count) ||
	    simgpu_test_bug(SIMGPU_BUG_NO_INVALIDATE))
		return;
	dma_buf_invalidate_mappings(dmabuf);
	atomic64_inc(&sdev->stats.dmabuf_invalidations);
	/* From the shrinker in reclaim (kswapd or a direct reclaimer). */
	if (current->flags & PF_MEMALLOC)
		atomic64_inc(&sdev->stats.dmabuf_invalidations_reclaim);
}

/**
 * simgpu_bo_move_to_system - move a reserved BO to SYSTEM
 * @tbo: the BO, reserved
 * @ctx: TTM operation context
 *
 * For an import: it waits for the engine work on it, is unbound from the
 * GART and its attachment unmapped (simgpu_bo_move_import()).
 *
 * Return: 0 or a negative error code.
 */
int simgpu_bo_move_to_system(struct ttm_buffer_object *tbo,
			     struct ttm_operation_ctx *ctx)
{
	static const struct ttm_place sys = { .mem_type = TTM_PL_SYSTEM };
	struct ttm_placement placement = {
		.num_placement = 1,
		.placement = &sys,
	};

	dma_resv_assert_held(tbo->base.resv);
	return ttm_bo_validate(tbo, &placement, ctx);
}

/* The exporter moves the buffer: the import lets go of its mapping. */
static void simgpu_import_invalidate(struct dma_buf_attachment *attach)
{
	struct drm_gem_object *gem = attach->importer_priv;
	struct simgpu_bo *bo = to_simgpu_bo(drm_gem_ttm_of_gem(gem));
	struct simgpu_device *sdev = ttm_to_simgpu(bo->tbo.bdev);
	struct ttm_operation_ctx ctx = { };
	int ret;

	dma_resv_assert_held(gem->resv);
	if (!bo->tbo.sg)
		return;
	ret = simgpu_bo_move_to_system(&bo->tbo, &ctx);
	if (ret)
		drm_warn_once(&sdev->drm, "an import kept its mapping: %d\n", ret);
	else
		atomic64_inc(&sdev->stats.import_invalidations);
}

static const struct dma_buf_attach_ops simgpu_import_attach_ops = {
	.allow_peer2peer = true,
	.invalidate_mappings = simgpu_import_invalidate,
};

/**
 * simgpu_bo_move_import - move an imported BO (ttm_bo_type_sg)
 * @tbo: the BO, reserved
 * @ctx: TTM operation context
 * @new_mem: SYSTEM or TT
 *
 * To TT: map the attachment (once) and bind its addresses in the GART.
 * To SYSTEM: wait for the engine work on it, unbind and unmap.
 *
 * Return: 0 or a negative error code (the BO stays where it was).
 */
int simgpu_bo_move_import(struct ttm_buffer_object *tbo,
			  struct ttm_operation_ctx *ctx,
			  struct ttm_resource *new_mem)
{
	struct simgpu_device *sdev = ttm_to_simgpu(tbo->bdev);
	struct dma_buf_attachment *attach = tbo->base.import_attach;
	struct ttm_resource *old_mem = tbo->resource;
	struct ttm_tt *tt = tbo->ttm;
	struct sg_table *sgt;
	long lret;
	int ret;

	dma_resv_assert_held(tbo->base.resv);
	if (new_mem->mem_type != TTM_PL_TT &&
	    new_mem->mem_type != TTM_PL_SYSTEM)
		return -EINVAL;
	if (old_mem && old_mem->mem_type == TTM_PL_TT) {
		/* The engine may still read or write the old addresses. */
		lret = dma_resv_wait_timeout(tbo->base.resv,
					     DMA_RESV_USAGE_BOOKKEEP,
					     ctx->interruptible,
					     MAX_SCHEDULE_TIMEOUT);
		if (lret < 0)
			return lret;
		simgpu_gart_unbind(sdev, old_mem);
	}
	if (new_mem->mem_type == TTM_PL_SYSTEM) {
		if (tbo->sg) {
			dma_buf_unmap_attachment(attach, tbo->sg,
						 DMA_BIDIRECTIONAL);
			tbo->sg = NULL;
			tt->sg = NULL;
		}
		ttm_bo_move_null(tbo, new_mem);
		return 0;
	}
	if (!tbo->sg) {
		sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		ret = drm_prime_sg_to_dma_addr_array(sgt, tt->dma_address,
						     tt->num_pages) ? -EINVAL : 0;
		if (ret) {
			dma_buf_unmap_attachment(attach, sgt,
						 DMA_BIDIRECTIONAL);
			return ret;
		}
		tbo->sg = sgt;
		tt->sg = sgt;
		atomic64_inc(&sdev->stats.import_maps);
	}
	simgpu_gart_bind(sdev, tt, new_mem);
	ttm_bo_move_null(tbo, new_mem);
	return 0;
}

/**
 * simgpu_bo_release_import - drop an imported BO's mapping at its end
 * @tbo: the BO, idle, about to be destroyed
 */
void simgpu_bo_release_import(struct ttm_buffer_object *tbo)
{
	if (tbo->type != ttm_bo_type_sg || !tbo->sg)
		return;
	dma_buf_unmap_attachment(tbo->base.import_attach, tbo->sg,
				 DMA_BIDIRECTIONAL);
	tbo->sg = NULL;
	if (tbo->ttm)
		tbo->ttm->sg = NULL;
}

/**
 * simgpu_gem_prime_import - &drm_driver.gem_prime_import
 * @drm: the importing device
 * @dmabuf: the buffer
 *
 * Return: a GEM object (the original one for a buffer this device
 * exported), or an ERR_PTR(): -EINVAL for a buffer whose size is not a
 * whole number of pages.
 */
struct drm_gem_object *simgpu_gem_prime_import(struct drm_device *drm,
					       struct dma_buf *dmabuf)
{
	struct simgpu_device *sdev = to_simgpu(drm);
	struct dma_buf_attachment *attach;
	struct simgpu_bo *bo;

	if (dmabuf->ops == &simgpu_dma_buf_ops) {
		struct drm_gem_object *gem = dmabuf->priv;

		if (gem->dev == drm) {
			drm_gem_object_get(gem);
			return gem;
		}
	}
	if (!dmabuf->size || !PAGE_ALIGNED(dmabuf->size))
		return ERR_PTR(-EINVAL);

	/*
	 * The BO exists before the attachment: from the attach on, the
	 * exporter may call the invalidate callback, which needs it.
	 */
	bo = simgpu_bo_create_import(sdev, dmabuf);
	if (IS_ERR(bo))
		return ERR_CAST(bo);
	if (READ_ONCE(simgpu_dynamic_import))
		attach = dma_buf_dynamic_attach(dmabuf, drm->dev,
						&simgpu_import_attach_ops,
						&bo->tbo.base);
	else
		attach = dma_buf_attach(dmabuf, drm->dev);
	if (IS_ERR(attach)) {
		drm_gem_object_put(&bo->tbo.base);
		return ERR_CAST(attach);
	}
	/* drm_prime_gem_destroy() drops the BO's reference (import_buf). */
	bo->tbo.base.import_attach = attach;
	atomic64_inc(&sdev->stats.imports);
	return &bo->tbo.base;
}
