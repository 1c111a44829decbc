// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu debugfs files, under /sys/kernel/debug/dri/<minor>/:
 *
 *   simgpu_info        hardware version, capabilities, VRAM and GART layout
 *   simgpu_stats       driver statistics, one "name value" per line:
 *                      counters, and gauges of what is in use now
 *                      (vramN_used_bytes, vramN_used_blocks,
 *                      vramN_scattered_resources, tt_used_bytes,
 *                      move_fences_pending, bo_system_pages,
 *                      shrinkable_pages, ...)
 *   evict_vram         write anything: evict every BO from VRAM
 *   redo_by_cpu        Y (default): the CPU may redo a pipelined move the
 *                      engine failed; N: only the engine redoes it
 *   fault_fail_count   the device's FAULT_FAIL_COUNT register (read/write)
 *   fault_hang         the device's FAULT_HANG register (read/write)
 *   fault_stall_us     the device's FAULT_STALL_US register (read/write)
 *   fault_removed_ms   the device's FAULT_REMOVED_MS register (write N: the
 *                      device acts as surprise-removed for N ms)
 *   shrink             write N: run a shrink pass of up to N pages
 *   vram0_mm, ...      TTM manager state; for VRAM the buddy allocator's
 *                      free and used blocks of each order (fragmentation)
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include <drm/drm_debugfs.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>

#include "simgpu_drv.h"
#include "uapi/simgpu_drm.h"

static const char *const simgpu_mem_names[SIMGPU_NUM_MEM] = {
	[DRM_SIMGPU_MEM_VRAM0] = "vram0",
	[DRM_SIMGPU_MEM_VRAM1] = "vram1",
	[DRM_SIMGPU_MEM_TT] = "tt",
	[DRM_SIMGPU_MEM_SYSTEM] = "system",
};

static int simgpu_info_show(struct seq_file *m, void *unused)
{
	struct drm_debugfs_entry *entry = m->private;
	struct simgpu_device *sdev = to_simgpu(entry->dev);
	unsigned int n;

	seq_printf(m, "hw_version %u.%u\n",
		   SIMGPU_VERSION_MAJOR(sdev->hw_version),
		   SIMGPU_VERSION_MINOR(sdev->hw_version));
	seq_printf(m, "hw_caps 0x%08x\n", sdev->hw_caps);
	for (n = 0; n < sdev->num_regions; n++)
		seq_printf(m, "vram%u size %llu visible %llu\n", n,
			   (u64)sdev->region[n].size,
			   (u64)sdev->region[n].visible_size);
	seq_printf(m, "gart size %llu tt %llu window %llu\n",
		   (u64)sdev->gart.entries << SIMGPU_GART_PAGE_SHIFT,
		   simgpu_gart_tt_size(sdev),
		   (u64)sdev->gart.window_pages << SIMGPU_GART_PAGE_SHIFT);
	return 0;
}

static int simgpu_stats_show(struct seq_file *m, void *unused)
{
	struct drm_debugfs_entry *entry = m->private;
	struct simgpu_device *sdev = to_simgpu(entry->dev);
	struct simgpu_stats *st = &sdev->stats;
	unsigned long blocks, scattered;
	unsigned int s, d;

	for (s = 0; s < SIMGPU_NUM_MEM; s++)
		for (d = 0; d < SIMGPU_NUM_MEM; d++)
			seq_printf(m, "evict_%s_%s %lld\n", simgpu_mem_names[s],
				   simgpu_mem_names[d],
				   atomic64_read(&st->evictions[s][d]));
	for (s = 0; s < SIMGPU_NUM_MEM; s++)
		for (d = 0; d < SIMGPU_NUM_MEM; d++)
			seq_printf(m, "move_%s_%s %lld\n", simgpu_mem_names[s],
				   simgpu_mem_names[d],
				   atomic64_read(&st->moves[s][d]));
	seq_printf(m, "engine_bytes %lld\n", atomic64_read(&st->engine_bytes));
	seq_printf(m, "cpu_bytes %lld\n", atomic64_read(&st->cpu_bytes));
	seq_printf(m, "engine_fallbacks %lld\n",
		   atomic64_read(&st->engine_fallbacks));
	seq_printf(m, "engine_errors %lld\n", atomic64_read(&st->engine_errors));
	seq_printf(m, "engine_bad_cmds %lld\n",
		   atomic64_read(&st->engine_bad_cmds));
	seq_printf(m, "engine_resets %lld\n", atomic64_read(&st->engine_resets));
	seq_printf(m, "invisible_faults %lld\n",
		   atomic64_read(&st->invisible_faults));
	seq_printf(m, "submits %lld\n", atomic64_read(&st->submits));
	seq_printf(m, "evict_purges %lld\n", atomic64_read(&st->evict_purges));
	seq_printf(m, "engine_cmds %lld\n", atomic64_read(&st->engine_cmds));
	seq_printf(m, "window_moves %lld\n", atomic64_read(&st->window_moves));
	seq_printf(m, "window_chunks %lld\n",
		   atomic64_read(&st->window_chunks));
	seq_printf(m, "vram_scattered %lld\n", atomic64_read(&st->vram_scattered));
	seq_printf(m, "cpu_copies_scattered %lld\n",
		   atomic64_read(&st->cpu_copies_scattered));
	seq_printf(m, "pipelined_moves %lld\n",
		   atomic64_read(&st->pipelined_moves));
	seq_printf(m, "pipelined_evictions %lld\n",
		   atomic64_read(&st->pipelined_evictions));
	seq_printf(m, "ghost_moves %lld\n", atomic64_read(&st->ghost_moves));
	seq_printf(m, "ghosts_released %lld\n",
		   atomic64_read(&st->ghosts_released));
	seq_printf(m, "eviction_fence_waits %lld\n",
		   atomic64_read(&st->eviction_fence_waits));
	seq_printf(m, "move_redos_cpu %lld\n",
		   atomic64_read(&st->move_redos_cpu));
	seq_printf(m, "move_redos_engine %lld\n",
		   atomic64_read(&st->move_redos_engine));
	seq_printf(m, "moves_lost %lld\n", atomic64_read(&st->moves_lost));
	seq_printf(m, "dmabuf_attach %lld\n", atomic64_read(&st->dmabuf_attach));
	seq_printf(m, "dmabuf_attach_p2p %lld\n",
		   atomic64_read(&st->dmabuf_attach_p2p));
	seq_printf(m, "dmabuf_pins %lld\n", atomic64_read(&st->dmabuf_pins));
	seq_printf(m, "dmabuf_maps %lld\n", atomic64_read(&st->dmabuf_maps));
	seq_printf(m, "dmabuf_maps_vram %lld\n",
		   atomic64_read(&st->dmabuf_maps_vram));
	seq_printf(m, "dmabuf_invalidations %lld\n",
		   atomic64_read(&st->dmabuf_invalidations));
	seq_printf(m, "dmabuf_invalidations_reclaim %lld\n",
		   atomic64_read(&st->dmabuf_invalidations_reclaim));
	seq_printf(m, "imports %lld\n", atomic64_read(&st->imports));
	seq_printf(m, "import_maps %lld\n", atomic64_read(&st->import_maps));
	seq_printf(m, "import_invalidations %lld\n",
		   atomic64_read(&st->import_invalidations));
	for (s = 0; s < sdev->num_regions; s++) {
		simgpu_vram_mgr_blocks(sdev, s, &blocks, &scattered);
		seq_printf(m, "vram%u_used_bytes %llu\n", s,
			   ttm_resource_manager_usage(&sdev->vram_mgr[s].manager));
		seq_printf(m, "vram%u_used_blocks %lu\n", s, blocks);
		seq_printf(m, "vram%u_scattered_resources %lu\n", s, scattered);
	}
	seq_printf(m, "tt_used_bytes %llu\n",
		   ttm_resource_manager_usage(ttm_manager_type(&sdev->bdev,
							       TTM_PL_TT)));
	seq_printf(m, "gart_bound_pages %llu\n", simgpu_gart_bound_pages(sdev));
	seq_printf(m, "fences_pending %u\n", simgpu_engine_pending(sdev));
	seq_printf(m, "move_fences_pending %u\n", simgpu_migrate_pending(sdev));
	simgpu_shrinker_stats_show(sdev, m);
	return 0;
}

static ssize_t simgpu_evict_vram_write(struct file *f, const char __user *buf,
				       size_t len, loff_t *pos)
{
	struct simgpu_device *sdev = f->private_data;
	unsigned int n;
	int ret = 0, idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	for (n = 0; n < sdev->num_regions && !ret; n++)
		ret = ttm_resource_manager_evict_all(&sdev->bdev,
						     &sdev->vram_mgr[n].manager);
	drm_dev_exit(idx);
	return ret ? ret : len;
}

static const struct file_operations simgpu_evict_vram_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = simgpu_evict_vram_write,
};

static int simgpu_reg_get(struct simgpu_device *sdev, u32 reg, u64 *val)
{
	int idx;

	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	*val = simgpu_read(sdev, reg);
	drm_dev_exit(idx);
	return 0;
}

static int simgpu_reg_set(struct simgpu_device *sdev, u32 reg, u64 val)
{
	int idx;

	if (val > U32_MAX)
		return -EINVAL;
	if (!drm_dev_enter(&sdev->drm, &idx))
		return -ENODEV;
	simgpu_write(sdev, reg, val);
	drm_dev_exit(idx);
	return 0;
}

#define SIMGPU_DEBUGFS_REG(name, reg)					\
static const u32 simgpu_##name##_reg = reg;				\
static int simgpu_##name##_get(void *data, u64 *val)			\
{									\
	return simgpu_reg_get(data, simgpu_##name##_reg, val);		\
}									\
static int simgpu_##name##_set(void *data, u64 val)			\
{									\
	return simgpu_reg_set(data, simgpu_##name##_reg, val);		\
}									\
DEFINE_DEBUGFS_ATTRIBUTE(simgpu_##name##_fops, simgpu_##name##_get,	\
			 simgpu_##name##_set, "%llu\n")

SIMGPU_DEBUGFS_REG(fault_fail_count, SIMGPU_REG_FAULT_FAIL_COUNT);
SIMGPU_DEBUGFS_REG(fault_hang, SIMGPU_REG_FAULT_HANG);
SIMGPU_DEBUGFS_REG(fault_stall_us, SIMGPU_REG_FAULT_STALL_US);
SIMGPU_DEBUGFS_REG(fault_removed_ms, SIMGPU_REG_FAULT_REMOVED_MS);

/**
 * simgpu_debugfs_init - register the driver's debugfs files
 * @sdev: simgpu device, with TTM set up, before drm_dev_register()
 *
 * The files appear when the DRM device is registered and go with it.
 */
void simgpu_debugfs_init(struct simgpu_device *sdev)
{
	struct dentry *root = sdev->drm.debugfs_root;
	unsigned int n;
	char name[24];

	drm_debugfs_add_file(&sdev->drm, "simgpu_info", simgpu_info_show, NULL);
	drm_debugfs_add_file(&sdev->drm, "simgpu_stats", simgpu_stats_show,
			     NULL);
	if (!root)
		return;
	debugfs_create_bool("redo_by_cpu", 0600, root,
			    &sdev->migrate.redo_by_cpu);
	debugfs_create_file("evict_vram", 0200, root, sdev,
			    &simgpu_evict_vram_fops);
	debugfs_create_file_unsafe("fault_fail_count", 0600, root, sdev,
				   &simgpu_fault_fail_count_fops);
	debugfs_create_file_unsafe("fault_hang", 0600, root, sdev,
				   &simgpu_fault_hang_fops);
	debugfs_create_file_unsafe("fault_stall_us", 0600, root, sdev,
				   &simgpu_fault_stall_us_fops);
	debugfs_create_file_unsafe("fault_removed_ms", 0600, root, sdev,
				   &simgpu_fault_removed_ms_fops);
	for (n = 0; n < sdev->num_regions; n++) {
		snprintf(name, sizeof(name), "vram%u_mm", n);
		ttm_resource_manager_create_debugfs(&sdev->vram_mgr[n].manager,
						    root, name);
	}
	ttm_resource_manager_create_debugfs(ttm_manager_type(&sdev->bdev,
							     TTM_PL_TT),
					    root, "gtt_mm");
	simgpu_shrinker_debugfs_init(sdev, root);
}
