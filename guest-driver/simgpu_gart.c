// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu GART: the page table through which the engine reaches the
 * system pages of buffer objects in the TT placement.
 *
 * The TT placement is a TTM range manager over the GART aperture, so a
 * TT resource's &ttm_resource.start is its page offset in the aperture.
 * A BO's pages are bound (their DMA addresses, from the TTM pool, written
 * to the table) when the BO enters TT and unbound when it leaves.
 *
 * The last entries are the driver's own window, as xe's migrate code has
 * its page-table window: a VRAM BO that does not fit in what TT has free
 * (larger than the GART, or the GART full of BOs that cannot leave) moves
 * to and from SYSTEM through it, a window-full at a time
 * (simgpu_gart_window_copy()).
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/dma-mapping.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_print.h>
#include <drm/ttm/ttm_range_manager.h>
#include <drm/ttm/ttm_tt.h>

#include "simgpu_drv.h"

/* Upper bound of the GART the driver uses: 1 GiB, a 2 MiB table. */
#define SIMGPU_GART_MAX_PAGES	(SZ_1G >> SIMGPU_GART_PAGE_SHIFT)

/*
 * The window: one engine command's worth (8 MiB), but at most an eighth
 * of the GART, so that TT keeps most of a small one.
 */
#define SIMGPU_GART_WINDOW_PAGES \
	(SIMGPU_ENGINE_MAX_CMD_BYTES >> SIMGPU_GART_PAGE_SHIFT)

static size_t simgpu_gart_table_size(struct simgpu_gart *gart)
{
	return PAGE_ALIGN((size_t)gart->entries * SIMGPU_GART_ENTRY_SIZE);
}

/**
 * simgpu_gart_hw_init - program the GART table into the device
 * @sdev: simgpu device with its GART allocated
 */
void simgpu_gart_hw_init(struct simgpu_device *sdev)
{
	struct simgpu_gart *gart = &sdev->gart;

	simgpu_write(sdev, SIMGPU_REG_GART_BASE_LO, lower_32_bits(gart->table_dma));
	simgpu_write(sdev, SIMGPU_REG_GART_BASE_HI, upper_32_bits(gart->table_dma));
	simgpu_write(sdev, SIMGPU_REG_GART_ENTRIES, gart->entries);
}

/**
 * simgpu_gart_init - allocate the GART table and create the TT manager
 * @sdev: simgpu device with its TTM device initialised
 *
 * Return: 0 or a negative error code.
 */
int simgpu_gart_init(struct simgpu_device *sdev)
{
	struct simgpu_gart *gart = &sdev->gart;
	int ret;

	BUILD_BUG_ON(PAGE_SIZE != SIMGPU_GART_PAGE_SIZE);

	gart->entries = min_t(u32, sdev->gart_max_entries,
			      SIMGPU_GART_MAX_PAGES);
	if (!gart->entries) {
		drm_err(&sdev->drm, "device has no GART\n");
		return -ENODEV;
	}
	gart->table = dma_alloc_coherent(&sdev->pdev->dev,
					 simgpu_gart_table_size(gart),
					 &gart->table_dma, GFP_KERNEL);
	if (!gart->table)
		return -ENOMEM;
	gart->pages = kvcalloc(gart->entries, sizeof(*gart->pages), GFP_KERNEL);
	if (!gart->pages) {
		ret = -ENOMEM;
		goto err_free;
	}

	gart->window_pages = clamp_t(u32, gart->entries / 8, 1,
				     SIMGPU_GART_WINDOW_PAGES);
	gart->window_start = gart->entries - gart->window_pages;
	mutex_init(&gart->window_lock);
	ret = ttm_range_man_init(&sdev->bdev, TTM_PL_TT, true,
				 gart->window_start);
	if (ret)
		goto err_free;

	simgpu_gart_hw_init(sdev);
	drm_info(&sdev->drm, "GART: %u MiB, %u KiB of it the driver's window\n",
		 gart->entries >> (20 - SIMGPU_GART_PAGE_SHIFT),
		 gart->window_pages << (SIMGPU_GART_PAGE_SHIFT - 10));
	return 0;

err_free:
	kvfree(gart->pages);
	gart->pages = NULL;
	dma_free_coherent(&sdev->pdev->dev, simgpu_gart_table_size(gart),
			  gart->table, gart->table_dma);
	gart->table = NULL;
	return ret;
}

/**
 * simgpu_gart_hw_fini - free the GART table
 * @sdev: simgpu device, unplugged, its engine stopped
 *
 * Called when the device goes away: DMA memory must not outlive the
 * driver's binding to the device, while BOs (and their TT resources) may
 * outlive it in open files.  Binds and unbinds after the unplug find no
 * table (see simgpu_gart_bind()).
 */
void simgpu_gart_hw_fini(struct simgpu_device *sdev)
{
	struct simgpu_gart *gart = &sdev->gart;

	if (!gart->table)
		return;
	dma_free_coherent(&sdev->pdev->dev, simgpu_gart_table_size(gart),
			  gart->table, gart->table_dma);
	gart->table = NULL;
}

/**
 * simgpu_gart_fini - remove the TT manager (and the table, if still there)
 * @sdev: simgpu device
 *
 * Called when the DRM device is released, before ttm_device_fini(); the
 * engine is stopped by then.
 */
void simgpu_gart_fini(struct simgpu_device *sdev)
{
	ttm_range_man_fini(&sdev->bdev, TTM_PL_TT);
	simgpu_gart_hw_fini(sdev);
	kvfree(sdev->gart.pages);
	sdev->gart.pages = NULL;
	mutex_destroy(&sdev->gart.window_lock);
}

/**
 * simgpu_gart_bind - map a BO's pages at its TT resource
 * @sdev: simgpu device
 * @tt: the BO's populated ttm_tt (with DMA addresses)
 * @res: the BO's TT resource; the BO is reserved
 */
void simgpu_gart_bind(struct simgpu_device *sdev, struct ttm_tt *tt,
		      struct ttm_resource *res)
{
	unsigned long i, n = PFN_UP(res->size);
	int idx;

	if (WARN_ON(res->start + n > sdev->gart.entries))
		return;
	/* Unplugged, the table is gone (simgpu_gart_hw_fini()). */
	if (!drm_dev_enter(&sdev->drm, &idx))
		return;
	for (i = 0; i < n; i++) {
		sdev->gart.table[res->start + i] =
			cpu_to_le64((tt->dma_address[i] &
				     SIMGPU_GART_ENTRY_ADDR_MASK) |
				    SIMGPU_GART_ENTRY_VALID);
		/* An import's tt has DMA addresses only. */
		WRITE_ONCE(sdev->gart.pages[res->start + i],
			   tt->pages ? tt->pages[i] : NULL);
	}
	/* The engine reads entries when it uses them; order before doorbell. */
	wmb();
	drm_dev_exit(idx);
}

/**
 * simgpu_gart_unbind - clear the entries of a TT resource
 * @sdev: simgpu device
 * @res: a TT resource no engine work uses any more; its BO is reserved
 */
void simgpu_gart_unbind(struct simgpu_device *sdev, struct ttm_resource *res)
{
	unsigned long n = PFN_UP(res->size);
	int idx;

	if (WARN_ON(res->start + n > sdev->gart.entries))
		return;
	if (!drm_dev_enter(&sdev->drm, &idx))
		return;
	memset(&sdev->gart.table[res->start], 0, n * SIMGPU_GART_ENTRY_SIZE);
	memset(&sdev->gart.pages[res->start], 0, n * sizeof(*sdev->gart.pages));
	drm_dev_exit(idx);
}

/**
 * simgpu_gart_bound_pages - count the valid entries of the GART table
 * @sdev: simgpu device
 *
 * For debugfs: when nothing is in TT, every entry must be clear (an entry
 * left valid points at a page TTM may have freed).  Racy against binds
 * and unbinds under way, which is fine for a gauge.
 *
 * Return: the number of valid entries.
 */
u64 simgpu_gart_bound_pages(struct simgpu_device *sdev)
{
	struct simgpu_gart *gart = &sdev->gart;
	u64 n = 0;
	int idx;
	u32 i;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return 0;
	for (i = 0; i < gart->entries; i++)
		if (le64_to_cpu(READ_ONCE(gart->table[i])) &
		    SIMGPU_GART_ENTRY_VALID)
			n++;
	drm_dev_exit(idx);
	return n;
}

/**
 * simgpu_gart_tt_size - bytes of the GART the TT placement has
 * @sdev: simgpu device
 *
 * Return: the GART aperture less the driver's window.
 */
u64 simgpu_gart_tt_size(struct simgpu_device *sdev)
{
	return (u64)sdev->gart.window_start << SIMGPU_GART_PAGE_SHIFT;
}

/* Bind @n pages of @tt from @first at the window; window_lock held. */
static void simgpu_gart_window_bind(struct simgpu_device *sdev,
				    struct ttm_tt *tt, pgoff_t first,
				    unsigned long n)
{
	struct simgpu_gart *gart = &sdev->gart;
	unsigned long i;

	lockdep_assert_held(&gart->window_lock);
	for (i = 0; i < n; i++)
		gart->table[gart->window_start + i] =
			cpu_to_le64((tt->dma_address[first + i] &
				     SIMGPU_GART_ENTRY_ADDR_MASK) |
				    SIMGPU_GART_ENTRY_VALID);
	/* The engine reads entries when it uses them; order before doorbell. */
	wmb();
}

/**
 * simgpu_gart_window_copy - copy between VRAM and a tt through the window
 * @sdev: simgpu device
 * @vram: a VRAM resource of the BO
 * @tt: the BO's populated ttm_tt (with DMA addresses), as large
 * @to_vram: copy from @tt to @vram (else from @vram to @tt)
 *
 * A window-full at a time: bind the pages, copy on the engine (a job of
 * the kernel entity), wait, and on to the next.  The BO is reserved.
 *
 * Return: 0, -EIO if an engine job failed (nothing is committed; the
 * caller may fall back), -ENODEV, -ENOMEM.
 */
int simgpu_gart_window_copy(struct simgpu_device *sdev,
			    struct ttm_resource *vram, struct ttm_tt *tt,
			    bool to_vram)
{
	struct simgpu_gart *gart = &sdev->gart;
	struct ttm_resource window = {
		.mem_type = TTM_PL_TT,
		.start = gart->window_start,
	};
	struct simgpu_engine_op op = { .op = SIMGPU_OP_COPY };
	struct simgpu_job *job;
	struct dma_fence *fence;
	unsigned long n;
	pgoff_t page;
	int ret = 0, idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	mutex_lock(&gart->window_lock);
	for (page = 0; !ret && page < tt->num_pages; page += n) {
		n = min_t(unsigned long, gart->window_pages,
			  tt->num_pages - page);
		window.size = (u64)n << PAGE_SHIFT;
		op.len = window.size;
		op.src = to_vram ? &window : vram;
		op.dst = to_vram ? vram : &window;
		op.src_offset = to_vram ? 0 : (u64)page << PAGE_SHIFT;
		op.dst_offset = to_vram ? (u64)page << PAGE_SHIFT : 0;
		job = simgpu_job_create(sdev, &sdev->kernel_entity, &op, 1, 0);
		if (IS_ERR(job)) {
			ret = PTR_ERR(job);
			break;
		}
		simgpu_gart_window_bind(sdev, tt, page, n);
		fence = simgpu_kernel_job_push(job);
		/* The window is rebound next: this chunk must be done. */
		dma_fence_wait(fence, false);
		ret = fence->error;
		dma_fence_put(fence);
		atomic64_inc(&sdev->stats.window_chunks);
	}
	memset(&gart->table[gart->window_start], 0,
	       gart->window_pages * SIMGPU_GART_ENTRY_SIZE);
	mutex_unlock(&gart->window_lock);
	drm_dev_exit(idx);
	return ret;
}
