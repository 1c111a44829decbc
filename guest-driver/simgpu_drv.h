/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The simgpu authors */

#ifndef SIMGPU_DRV_H
#define SIMGPU_DRV_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/dma-fence.h>
#include <linux/gpu_buddy.h>
#include <linux/io.h>
#include <linux/io-mapping.h>
#include <linux/xarray.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <drm/drm_device.h>
#include <drm/gpu_scheduler.h>
#include <drm/ttm/ttm_bo.h>
#include <drm/ttm/ttm_device.h>
#include <drm/ttm/ttm_placement.h>
#include <drm/ttm/ttm_resource.h>
#include <drm/ttm/ttm_tt.h>

#include "simgpu_hw.h"

#define DRIVER_NAME	"simgpu"
#define DRIVER_DESC	"simgpu simulated discrete GPU"
#define DRIVER_MAJOR	0
/*
 * 3: seqnos per DRM file; query tt_size.  4: syncobjs (in/out, timeline),
 * sync_file out-fences, fdinfo memory statistics.  5: PRIME import,
 * dma-buf export with invalidation and pinning.
 */
#define DRIVER_MINOR	5

struct dentry;
struct drm_file;
struct drm_simgpu_stats;
struct pci_dev;
struct seq_file;
struct shrinker;

/* TTM memory types: VRAM region 0 is TTM_PL_VRAM, region 1 a private one. */
#define SIMGPU_PL_VRAM0		TTM_PL_VRAM
#define SIMGPU_PL_VRAM1		TTM_PL_PRIV

/**
 * enum simgpu_pool_mode - where the TTM pool takes BO system pages from
 * @SIMGPU_POOL_NORMAL: ordinary pages
 * @SIMGPU_POOL_DMA32: pages below 4 GiB (GFP_DMA32)
 * @SIMGPU_POOL_COHERENT: dma_alloc_coherent() memory, which TTM cannot
 *	back up: only its watermark swapout reclaims it
 */
enum simgpu_pool_mode {
	SIMGPU_POOL_NORMAL,
	SIMGPU_POOL_DMA32,
	SIMGPU_POOL_COHERENT,
};

/* Module parameters, see simgpu_drv.c. */
extern bool simgpu_force_cpu_copy;
extern unsigned int simgpu_timeout_ms;
extern int simgpu_pool_mode;
extern bool simgpu_watermark_swapout;
extern bool simgpu_vram_contiguous;
extern bool simgpu_sync_moves;
extern bool simgpu_evict_to_system;
extern bool simgpu_p2p;
extern bool simgpu_dynamic_import;
extern unsigned long simgpu_test_bugs;

/**
 * enum simgpu_test_bug - defects the driver can be told to have
 *
 * Bits of the module parameter test_bugs.  Each brings back a defect the
 * driver once had (or a check it must make), so that the test that
 * guards against it can be shown to fail (README, "Broken variants").
 * Never set outside that.
 *
 * @SIMGPU_BUG_NO_CLEAR: new BOs get no zero fill (VRAM) and pool pages
 *	are not zeroed (TT, SYSTEM): one client's data leaks to the next
 * @SIMGPU_BUG_KEEP_FAILED_GART: a failed engine move into TT leaves its
 *	GART entries pointing at pages TTM then frees
 * @SIMGPU_BUG_RESTORE_SIGNAL: a restore is refused (-ERESTARTSYS, no
 *	progress) while a signal is pending, so a kernel-mode access to a
 *	backed-up mapping loops in its fault
 * @SIMGPU_BUG_SHRINK_DELETED: the shrinker backs up BOs that are only
 *	waiting to be destroyed instead of dropping their pages
 * @SIMGPU_BUG_EVICT_DONTNEED: DONTNEED BOs are copied out of VRAM at
 *	eviction instead of purged
 * @SIMGPU_BUG_ALL_ONES: a register read of all-ones (surprise removal)
 *	is taken as a valid fence seqno
 * @SIMGPU_BUG_LRU_SEARCH: the eviction policy and the move callback walk
 *	the whole LRU of the BO they are given, so eviction and shrink
 *	passes cost time quadratic in the number of BOs (a search per BO,
 *	a defect drivers have had)
 * @SIMGPU_BUG_STALE_BACKUP: a restore brings back the content of the BO's
 *	first backup, not of its last (a backup kept and reused after the
 *	BO was written again)
 * @SIMGPU_BUG_UNSPLIT: engine work is queued as one command per copy or
 *	fill, from the first piece of each side on, as if every resource
 *	were contiguous (and however large)
 * @SIMGPU_BUG_SEQNO_PROGRESS: the engine's progress check counts only
 *	retired fences, not finished commands: a long healthy submission is
 *	taken for a hang
 * @SIMGPU_BUG_NO_KICK: a submission larger than the free ring waits for
 *	space without telling the device about what it queued so far
 * @SIMGPU_BUG_NO_WINDOW: VRAM <-> SYSTEM always hops through TT, never
 *	through the GART window: a BO larger than the GART cannot leave VRAM
 * @SIMGPU_BUG_FIRST_FILE_LOW: a DRM file opened while no other is open
 *	gets the lowest scheduling priority, so a busy client that opens
 *	later starves it
 * @SIMGPU_BUG_NO_MOVE_REDO: a pipelined move the engine failed is not
 *	redone: its fence signals with the error (content lost)
 * @SIMGPU_BUG_NO_IN_SYNCS: a submission does not wait for its in-syncs
 * @SIMGPU_BUG_NO_INVALIDATE: an exported BO moves and is backed up without
 *	invalidating its importers' mappings first
 * @SIMGPU_BUG_NO_PIN: a static importer's pin does not pin the BO
 * @SIMGPU_BUG_HOP_COPY: a BO leaving the temporary TT of a failed hop is
 *	copied by the engine onto its own pages, and a synchronous engine
 *	move unbinds the old TT before TTM's ghost object exists: when the
 *	ghost cannot be allocated, the BO stays in a TT range the GART no
 *	longer maps
 */
enum simgpu_test_bug {
	SIMGPU_BUG_NO_CLEAR,
	SIMGPU_BUG_KEEP_FAILED_GART,
	SIMGPU_BUG_RESTORE_SIGNAL,
	SIMGPU_BUG_SHRINK_DELETED,
	SIMGPU_BUG_EVICT_DONTNEED,
	SIMGPU_BUG_ALL_ONES,
	SIMGPU_BUG_LRU_SEARCH,
	SIMGPU_BUG_STALE_BACKUP,
	SIMGPU_BUG_UNSPLIT,
	SIMGPU_BUG_SEQNO_PROGRESS,
	SIMGPU_BUG_NO_KICK,
	SIMGPU_BUG_NO_WINDOW,
	SIMGPU_BUG_FIRST_FILE_LOW,
	SIMGPU_BUG_NO_MOVE_REDO,
	SIMGPU_BUG_NO_IN_SYNCS,
	SIMGPU_BUG_NO_INVALIDATE,
	SIMGPU_BUG_NO_PIN,
	SIMGPU_BUG_HOP_COPY,
};

static inline bool simgpu_test_bug(enum simgpu_test_bug bug)
{
	return test_bit(bug, &simgpu_test_bugs);
}

/**
 * struct simgpu_vram_region - one VRAM region and the BAR that exposes it
 * @size: bytes of VRAM in the region
 * @visible_size: bytes at the start of the region reachable through the BAR
 * @io_start: bus address of the BAR (CPU view of VRAM offset 0)
 */
struct simgpu_vram_region {
	resource_size_t size;
	resource_size_t visible_size;
	resource_size_t io_start;
};

/**
 * struct simgpu_vram_mgr - TTM resource manager of one VRAM region
 * @manager: the TTM manager, embedded
 * @mm: buddy allocator of the region, protected by @lock
 * @lock: protects @mm
 * @mem_type: TTM memory type of the region
 * @region: the region's index (SIMGPU_SPACE_VRAM0 + @region is its
 *	engine address space)
 * @visible_size: bytes of the CPU-visible window
 * @iomap: the CPU-visible window, for CPU copies and accesses page by
 *	page (a resource may be scattered over it)
 * @used_blocks: buddy blocks of the live resources, under @lock
 * @scattered: live resources of more than one range, under @lock
 *
 * A resource is a list of buddy blocks (&struct simgpu_vram_res), one
 * contiguous range only when its placement asks for it (see
 * simgpu_vram_mgr.c); walk it with a &struct simgpu_res_cursor.
 */
struct simgpu_vram_mgr {
	struct ttm_resource_manager manager;
	struct gpu_buddy mm;
	struct mutex lock; /* protects mm */
	u32 mem_type;
	unsigned int region;
	u64 visible_size;
	struct io_mapping iomap;
	unsigned long used_blocks;
	unsigned long scattered;
};

/**
 * struct simgpu_vram_res - a VRAM resource
 * @base: the TTM resource, embedded; &ttm_resource.start is the page
 *	offset of the first block, meaningful only for a contiguous
 *	resource (TTM_PL_FLAG_CONTIGUOUS in &ttm_resource.placement)
 * @blocks: its buddy blocks, in the order of the BO's bytes
 * @mgr: the manager it was allocated from
 * @visible_bytes: bytes of it inside the CPU-visible window
 * @num_blocks: entries in @blocks
 */
struct simgpu_vram_res {
	struct ttm_resource base;
	struct list_head blocks;
	struct simgpu_vram_mgr *mgr;
	u64 visible_bytes;
	unsigned int num_blocks;
};

static inline struct simgpu_vram_res *
to_simgpu_vram_res(struct ttm_resource *res)
{
	return container_of(res, struct simgpu_vram_res, base);
}

/**
 * struct simgpu_fence - a seqno fence of the engine
 * @base: the dma_fence, embedded, with its own (inline) lock: a fence
 *	may outlive the device (exported as a sync_file or through a
 *	dma-buf's reservation), so nothing of it may point into the device
 * @link: entry in &simgpu_engine.pending, under &simgpu_engine.fence_lock
 */
struct simgpu_fence {
	struct dma_fence base;
	struct list_head link;
};

/**
 * struct simgpu_engine - the copy/fill engine and its ring
 *
 * Locking: @ring_lock serialises writers of the ring (submission and
 * reset) and protects @tail, @kicked_tail, @next_seqno, @hangs,
 * @last_progress, @last_head and @progress_time.  @fence_lock (taken from the
 * interrupt handler) protects @pending and @retired_seqno; fences are
 * signalled under it (each fence's own lock nested inside), so in seqno
 * order.  Nothing waits for ring
 * space or for a fence while holding @ring_lock except as documented in
 * simgpu_engine_wait_space(), and nothing that holds it allocates memory
 * that reclaim could satisfy by waiting for an engine fence.
 *
 * @ring: CPU address of the ring (DMA-coherent)
 * @ring_dma: its DMA address
 * @ring_size: bytes, a power of two
 * @fence_cpu: CPU address of the fence writeback slot (DMA-coherent)
 * @fence_dma: its DMA address
 * @ring_lock: see above
 * @tail: byte offset of the next free ring slot
 * @next_seqno: seqno of the latest fence emitted
 * @fence_lock: see above
 * @fence_context: dma_fence context of the engine timeline
 * @pending: emitted, unsignalled fences, in seqno order
 * @retired_seqno: every seqno up to this one is signalled
 * @wq: woken when fences retire or the engine is reset
 * @last_progress: @retired_seqno at the last simgpu_engine_timeout()
 * @last_head: the ring head at the last simgpu_engine_timeout(): work of
 *	many commands makes progress before its fence
 * @kicked_tail: the tail the device was last told about
 * @progress_time: jiffies when the engine last made progress
 * @hangs: hangs found so far: work waiting for ring space (with
 *	@ring_lock dropped) gives up when it changes, the reset that follows
 *	dropping what it queued
 * @irqs: number of interrupt vectors in use
 * @dead: the device is gone; nothing more may be submitted
 */
struct simgpu_engine {
	void *ring;
	dma_addr_t ring_dma;
	u32 ring_size;
	__le64 *fence_cpu;
	dma_addr_t fence_dma;

	struct mutex ring_lock; /* ring writers; see above */
	u32 tail;
	u64 next_seqno;

	spinlock_t fence_lock; /* pending, retired_seqno */
	u64 fence_context;
	struct list_head pending;
	u64 retired_seqno;

	wait_queue_head_t wq;
	u64 last_progress;
	u32 last_head;
	u32 kicked_tail;
	unsigned long progress_time;
	unsigned int hangs;
	int irqs;
	bool dead;
};

/**
 * struct simgpu_engine_op - one COPY or FILL of a submission
 * @op: SIMGPU_OP_COPY or SIMGPU_OP_FILL
 * @value: FILL: the 32-bit pattern
 * @src: COPY: the source resource (VRAM or TT)
 * @dst: the destination resource (VRAM or TT)
 * @src_offset: COPY: byte offset in @src
 * @dst_offset: byte offset in @dst
 * @len: bytes
 *
 * The engine splits it into commands of at most
 * SIMGPU_ENGINE_MAX_CMD_BYTES, each within one piece that is contiguous
 * on both sides (see simgpu_res_cursor.h).  A COPY within one resource
 * behaves like memmove().
 */
struct simgpu_engine_op {
	u32 op;
	u32 value;
	struct ttm_resource *src;
	struct ttm_resource *dst;
	u64 src_offset;
	u64 dst_offset;
	u64 len;
};

/*
 * The most bytes one engine command moves: the engine's progress check
 * (simgpu_engine_timeout()) sees the ring head move at least this
 * often, so a long healthy copy is never taken for a hang.
 */
#define SIMGPU_ENGINE_MAX_CMD_BYTES	SZ_8M

/**
 * struct simgpu_gart - the GART page table and aperture
 * @table: CPU address of the table (DMA-coherent), one entry per page
 * @table_dma: its DMA address
 * @entries: number of entries programmed in GART_ENTRIES
 * @window_start: first entry of the driver's window (the TT placement
 *	has the entries below it)
 * @window_pages: entries of the window
 * @window_lock: one windowed copy at a time
 * @pages: the page each entry of the TT placement maps, NULL if none: how
 *	the CPU redoes a failed engine move (simgpu_migrate.c)
 *
 * An entry of the TT placement belongs to the TT resource whose range
 * covers it; it (and its @pages entry) is written with that resource's
 * BO reserved, so it needs no lock.  The window's entries are written
 * under @window_lock.
 */
struct simgpu_gart {
	__le64 *table;
	dma_addr_t table_dma;
	u32 entries;
	u32 window_start;
	u32 window_pages;
	struct mutex window_lock; /* the window's entries and its use */
	struct page **pages;
};

/**
 * struct simgpu_hw_cmd - one engine command, as written to the ring
 * @op: SIMGPU_OP_*
 * @src_space: COPY: SIMGPU_SPACE_* of @src
 * @dst_space: SIMGPU_SPACE_* of @dst
 * @src: COPY: source address
 * @dst: destination address
 * @len: bytes
 * @value: FILL: the 32-bit pattern; FENCE: the seqno
 */
struct simgpu_hw_cmd {
	u32 op;
	u32 src_space;
	u32 dst_space;
	u64 src;
	u64 dst;
	u64 len;
	u64 value;
};

/**
 * struct simgpu_migrate - pipelined moves of one device (simgpu_migrate.c)
 * @lock: protects @pending and @next_seqno, and the move fences' state
 * @pending: move fences not signalled yet, in seqno order
 * @fence_context: the move fences' context
 * @next_seqno: seqno of the latest move fence
 * @idle: woken when @pending becomes empty
 * @redo_work: redoes the moves whose engine job failed
 * @wq: where @redo_work runs (WQ_MEM_RECLAIM)
 * @redo_by_cpu: the CPU may redo a failed move (debugfs redo_by_cpu;
 *	else only the engine does)
 * @redo_push_lock: serialises arming and pushing jobs to
 *	&simgpu_device.redo_entity
 */
struct simgpu_migrate {
	spinlock_t lock; /* pending, next_seqno; the move fences' state */
	struct list_head pending;
	u64 fence_context;
	u64 next_seqno;
	wait_queue_head_t idle;
	struct work_struct redo_work;
	struct workqueue_struct *wq;
	bool redo_by_cpu;
	struct mutex redo_push_lock; /* arm + push to redo_entity */
};

/* Placement indices of the statistics (DRM_SIMGPU_MEM_* order). */
#define SIMGPU_NUM_MEM		4

/**
 * struct simgpu_stats - driver statistics, shown in debugfs
 * @evictions: evictions by [source][destination] DRM_SIMGPU_MEM_* placement
 * @moves: all moves (evictions, validation, migration) likewise
 * @engine_bytes: bytes moved or cleared by the engine for TTM
 * @cpu_bytes: bytes moved or cleared by the CPU for TTM
 * @engine_fallbacks: moves that fell back to the CPU after an engine failure
 * @engine_errors: engine errors and timeouts seen
 * @engine_bad_cmds: of @engine_errors, commands the engine refused (a GART
 *	fault, a range outside VRAM, ...): the driver sent them, a driver
 *	bug; an injected fault or a hang is not counted
 * @engine_resets: engine resets done
 * @invisible_faults: CPU faults on objects in CPU-invisible VRAM
 * @submits: user submissions
 * @evict_purges: DONTNEED BOs whose VRAM content eviction dropped
 * @engine_cmds: COPY and FILL commands queued on the engine (TTM and
 *	user work; a piece of a resource each)
 * @vram_scattered: VRAM resources allocated as more than one range
 * @cpu_copies_scattered: CPU copies or clears of such resources (page by
 *	page through the BAR, not ttm_bo_move_memcpy())
 * @window_moves: moves between VRAM and SYSTEM through the GART window
 *	(the BO did not fit in what TT had free)
 * @window_chunks: engine jobs of those moves, one per window-full
 * @pipelined_moves: engine moves and clears committed before they ran
 * @pipelined_evictions: of those, evictions from VRAM whose old VRAM TTM
 *	freed at once, the move's fence kept as the manager's eviction fence
 * @ghost_moves: of those, moves whose old resource TTM handed to a ghost
 *	object (non-evicting moves)
 * @ghosts_released: ghost objects TTM destroyed (delayed delete after
 *	the move's fence signalled)
 * @eviction_fence_waits: pipelined moves whose job waited for another
 *	BO's unsignalled move fence, which TTM put in the BO's reservation
 *	(the manager's eviction fence)
 * @move_redos_cpu: pipelined moves the engine failed, redone by the CPU
 * @move_redos_engine: pipelined moves the engine failed, run again on it
 * @moves_lost: pipelined moves that failed and could not be redone
 * @dmabuf_attach: attachments to exported BOs that get TT pages
 * @dmabuf_attach_p2p: attachments to exported BOs that may reach VRAM
 *	through the BAR (peer-to-peer)
 * @dmabuf_pins: pins of exported BOs (static importers)
 * @dmabuf_maps: mappings of exported BOs handed to importers
 * @dmabuf_maps_vram: of @dmabuf_maps, BAR ranges of VRAM (peer-to-peer)
 * @dmabuf_invalidations: exported BOs whose importers were told to drop
 *	their mappings (before a move, backup or purge)
 * @dmabuf_invalidations_reclaim: of @dmabuf_invalidations, those from
 *	memory reclaim (the shrinker, in kswapd or a direct reclaimer)
 * @imports: foreign dma-bufs imported
 * @import_maps: mappings of imports (each move of an import to TT)
 * @import_invalidations: imports moved out of TT at their exporter's
 *	request
 */
struct simgpu_stats {
	atomic64_t evictions[SIMGPU_NUM_MEM][SIMGPU_NUM_MEM];
	atomic64_t moves[SIMGPU_NUM_MEM][SIMGPU_NUM_MEM];
	atomic64_t engine_bytes;
	atomic64_t cpu_bytes;
	atomic64_t engine_fallbacks;
	atomic64_t engine_errors;
	atomic64_t engine_bad_cmds;
	atomic64_t engine_resets;
	atomic64_t invisible_faults;
	atomic64_t submits;
	atomic64_t evict_purges;
	atomic64_t engine_cmds;
	atomic64_t vram_scattered;
	atomic64_t cpu_copies_scattered;
	atomic64_t window_moves;
	atomic64_t window_chunks;
	atomic64_t pipelined_moves;
	atomic64_t pipelined_evictions;
	atomic64_t ghost_moves;
	atomic64_t ghosts_released;
	atomic64_t eviction_fence_waits;
	atomic64_t move_redos_cpu;
	atomic64_t move_redos_engine;
	atomic64_t moves_lost;
	atomic64_t dmabuf_attach;
	atomic64_t dmabuf_attach_p2p;
	atomic64_t dmabuf_pins;
	atomic64_t dmabuf_maps;
	atomic64_t dmabuf_maps_vram;
	atomic64_t dmabuf_invalidations;
	atomic64_t dmabuf_invalidations_reclaim;
	atomic64_t imports;
	atomic64_t import_maps;
	atomic64_t import_invalidations;
};

/**
 * struct simgpu_shrinker - system-memory shrinker of one device
 *
 * Locking: @lock protects @partial and the page counts @shrinkable,
 * @purgeable and @backed_up, which follow the populate/unpopulate/backup/restore/destroy
 * of every &struct simgpu_tt (see simgpu_shrinker.c); each &struct
 * simgpu_tt changes state under its BO's reservation.  The event counters
 * are atomic.  @shrink is set at probe and freed (unregistered) on remove;
 * the rest lives as long as the DRM device.
 *
 * @shrink: the mm shrinker, NULL once unregistered
 * @lock: see above
 * @shrinkable: pages of populated, willneed tts (backup candidates)
 * @purgeable: pages of populated, dontneed tts (purge candidates)
 * @backed_up: pages of tts backed up to shmem, not yet restored
 * @unshrinkable: pages of populated tts left to TTM's watermark swapout
 *	(&simgpu_tt.shrinkable false), which the shrinker does not count
 * @partial: tts whose restore stopped part-way (&simgpu_tt.partial_link):
 *	TTM keeps the pages restored so far, DMA-mapped, in the tt
 * @passes: shrink passes run (scan callbacks and debugfs triggers)
 * @purged: pages freed without backup (dontneed, or destroyed BOs)
 * @deleted_purged: of @purged, pages of BOs waiting to be destroyed
 * @backups: pages backed up to shmem
 * @written_back: of @backups, pages whose writeback to swap was requested
 * @restored: pages restored from a backup
 * @interrupted: restores interrupted by a signal (resumed later)
 * @restore_failed: restores that failed otherwise (e.g. no memory)
 * @ttm_swapouts: pages swapped out by TTM's watermark swapout
 * @ttm_swapins: pages swapped back in after @ttm_swapouts
 */
struct simgpu_shrinker {
	struct shrinker *shrink;
	spinlock_t lock; /* the page counts up to unshrinkable */
	long shrinkable;
	long purgeable;
	long backed_up;
	long unshrinkable;
	struct list_head partial;
	atomic64_t passes;
	atomic64_t purged;
	atomic64_t deleted_purged;
	atomic64_t backups;
	atomic64_t written_back;
	atomic64_t restored;
	atomic64_t interrupted;
	atomic64_t restore_failed;
	atomic64_t ttm_swapouts;
	atomic64_t ttm_swapins;
};

/**
 * struct simgpu_device - driver state of one simgpu
 * @drm: the DRM device, embedded
 * @pdev: the PCI device
 * @regs: mapped register BAR
 * @hw_version: the device's version register
 * @hw_caps: the device's capability bits
 * @num_regions: number of VRAM regions in @region
 * @region: the VRAM regions
 * @gart_max_entries: GART entries the device supports
 * @ttm_ready: @bdev and its managers are set up (probe only)
 * @bdev: the TTM device
 * @vram_mgr: the VRAM managers, one per region
 * @gart: the GART
 * @engine: the copy/fill engine
 * @sched: the GPU scheduler of the engine's ring (simgpu_sched.c)
 * @kernel_entity: scheduler entity of TTM's moves and clears
 * @redo_entity: scheduler entity of the engine redos of failed pipelined
 *	moves (simgpu_migrate.c), which jobs of @kernel_entity may wait for
 * @timeout_wq: where @sched's timeout runs (WQ_MEM_RECLAIM)
 * @kernel_push_lock: serialises arming and pushing jobs to @kernel_entity
 * @sched_ready: @sched and @kernel_entity are set up (probe only)
 * @migrate: pipelined moves
 * @stats: statistics
 * @shrinker: the system-memory shrinker
 *
 * The fields up to @gart_max_entries are set during probe and read-only
 * afterwards; the others document their own locking.
 */
struct simgpu_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;
	u32 hw_version;
	u32 hw_caps;
	unsigned int num_regions;
	struct simgpu_vram_region region[SIMGPU_MAX_REGIONS];
	u32 gart_max_entries;
	bool ttm_ready;

	struct ttm_device bdev;
	struct simgpu_vram_mgr vram_mgr[SIMGPU_MAX_REGIONS];
	struct simgpu_gart gart;
	struct simgpu_engine engine;
	struct drm_gpu_scheduler sched;
	struct drm_sched_entity kernel_entity;
	struct drm_sched_entity redo_entity;
	struct workqueue_struct *timeout_wq;
	struct mutex kernel_push_lock; /* arm + push to kernel_entity */
	bool sched_ready;
	struct simgpu_migrate migrate;
	struct simgpu_stats stats;
	struct simgpu_shrinker shrinker;
};

/**
 * struct simgpu_job - engine work, run by the GPU scheduler
 * @base: the scheduler job, embedded
 * @sdev: the device
 * @hw_fence: the engine fence it will signal, allocated with the job
 *	(run_job() must not allocate); NULL once the engine owns it
 * @cmds: its engine commands (device addresses: the memory stays
 *	reserved for the job until its fence signals, not the resources)
 * @num_cmds: entries in @cmds
 * @cmds_shared: @cmds belong to a move fence (simgpu_migrate.c)
 */
struct simgpu_job {
	struct drm_sched_job base;
	struct simgpu_device *sdev;
	struct simgpu_fence *hw_fence;
	struct simgpu_hw_cmd *cmds;
	unsigned int num_cmds;
	bool cmds_shared;
};

/**
 * struct simgpu_file - what the driver keeps for one DRM file
 * @entity: scheduler entity of the file's submissions: they run in
 *	order, and files share the engine fairly
 * @lock: protects @fences, @last_seqno and @oldest
 * @fences: the file's submissions by seqno: the scheduler's finished
 *	fence (a reference) until it is pruned after signalling, then
 *	nothing if the work succeeded or xa_mk_value(1) if it failed (a
 *	wait, however late, still reports the failure)
 * @last_seqno: seqno of the file's latest submission (the first is 1)
 * @oldest: every seqno below it is pruned
 */
struct simgpu_file {
	struct drm_sched_entity entity;
	struct mutex lock; /* fences, last_seqno, oldest */
	struct xarray fences;
	u64 last_seqno;
	u64 oldest;
};

/* Most placements a BO can have: two VRAM regions, TT, SYSTEM. */
#define SIMGPU_MAX_PLACES	4

/**
 * struct simgpu_bo - a simgpu buffer object
 * @tbo: the TTM buffer object, embedded (its GEM object is tbo.base)
 * @placements: allowed DRM_SIMGPU_PLACEMENT() mask, fixed at creation
 * @preferred: preferred DRM_SIMGPU_MEM_* placement, fixed at creation
 * @flags: DRM_SIMGPU_GEM_CREATE_* flags, fixed at creation
 * @places: scratch placement list, under the BO's reservation
 * @placement: scratch placement, under the BO's reservation
 * @madv: DRM_SIMGPU_MADV_*, under the BO's reservation
 * @purged: the shrinker (or madvise) dropped the content since the last
 *	DRM_SIMGPU_MADV_WILLNEED, under the BO's reservation
 * @shared: exported (or being exported) through dma-buf: DONTNEED is
 *	refused from then on; under the BO's reservation
 * @import_buf: for an import, the dma-buf it holds a reference to from
 *	its creation to its destruction (TTM's delayed delete of the BO
 *	locks the buffer's reservation); fixed
 * @dmabuf: the dma-buf exported from the BO while it exists (no
 *	reference: its release clears this), under the BO's reservation.
 *	Not the GEM object's &drm_gem_object.dma_buf, which DRM drops with
 *	the last handle while importers may still use the buffer.
 */
struct simgpu_bo {
	struct ttm_buffer_object tbo;
	u32 placements;
	u32 preferred;
	u32 flags;
	struct ttm_place places[SIMGPU_MAX_PLACES];
	struct ttm_placement placement;
	u32 madv;
	bool purged;
	bool shared;
	struct dma_buf *dmabuf;
	struct dma_buf *import_buf;
};

/**
 * struct simgpu_tt - the system pages of a BO
 * @ttm: the TTM page vector, embedded
 * @purgeable: the BO is DRM_SIMGPU_MADV_DONTNEED: its pages count as
 *	purgeable, not shrinkable; under the BO's reservation
 * @purged: the pages were dropped without backup; the next populate
 *	allocates new, zeroed pages; under the BO's reservation
 * @dropped: DONTNEED dropped the backup (truncated the shmem file); the
 *	next restore yields zeroes, including pages a partial backup had
 *	left in place; under the BO's reservation
 * @shrinkable: the driver's shrinker reclaims the pages (a shmem backup
 *	file, TTM_TT_FLAG_EXTERNAL); if false, TTM's watermark swapout
 *	does (simgpu_watermark_swapout, coherent pool).  Set at creation.
 * @bo: the BO the tt was created for, fixed (a ghost object may own the
 *	tt later, and outlive @bo)
 * @import: the tt of an imported dma-buf (ttm_bo_type_sg): DMA addresses
 *	from the attachment, no pages of its own; fixed
 * @partial_link: entry in &simgpu_shrinker.partial while a restore that
 *	stopped part-way holds pages, under &simgpu_shrinker.lock
 * @stale_copy: with test bug SIMGPU_BUG_STALE_BACKUP only, the content at
 *	the first backup, written back by every restore; under the BO's
 *	reservation
 */
struct simgpu_tt {
	struct ttm_tt ttm;
	bool purgeable;
	bool purged;
	bool dropped;
	bool shrinkable;
	bool import;
	struct ttm_buffer_object *bo;
	struct list_head partial_link;
	void *stale_copy;
};

/* Whether new tts go to the driver's shrinker (see &simgpu_tt.shrinkable). */
static inline bool simgpu_tt_shrinkable(void)
{
	return !simgpu_watermark_swapout &&
	       simgpu_pool_mode != SIMGPU_POOL_COHERENT;
}

static inline struct simgpu_tt *to_simgpu_tt(struct ttm_tt *tt)
{
	return container_of(tt, struct simgpu_tt, ttm);
}

static inline struct simgpu_device *to_simgpu(struct drm_device *drm)
{
	return container_of(drm, struct simgpu_device, drm);
}

static inline struct simgpu_device *ttm_to_simgpu(struct ttm_device *bdev)
{
	return container_of(bdev, struct simgpu_device, bdev);
}

static inline struct simgpu_bo *to_simgpu_bo(struct ttm_buffer_object *tbo)
{
	return container_of(tbo, struct simgpu_bo, tbo);
}

static inline u32 simgpu_read(struct simgpu_device *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void simgpu_write(struct simgpu_device *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

static inline bool simgpu_mem_is_vram(u32 mem_type)
{
	return mem_type == SIMGPU_PL_VRAM0 || mem_type == SIMGPU_PL_VRAM1;
}

/* The engine's SIMGPU_SPACE_* of a VRAM or TT memory type. */
static inline u32 simgpu_mem_space(u32 mem_type)
{
	switch (mem_type) {
	case SIMGPU_PL_VRAM0:
		return SIMGPU_SPACE_VRAM0;
	case SIMGPU_PL_VRAM1:
		return SIMGPU_SPACE_VRAM1;
	default:
		return SIMGPU_SPACE_GART;
	}
}

/* simgpu_hw.c */
int simgpu_hw_init(struct simgpu_device *sdev, struct pci_dev *pdev);

/* simgpu_vram_mgr.c */
int simgpu_vram_mgr_init(struct simgpu_device *sdev, unsigned int region);
void simgpu_vram_mgr_fini(struct simgpu_device *sdev, unsigned int region);
void simgpu_vram_mgr_blocks(struct simgpu_device *sdev, unsigned int region,
			    unsigned long *blocks, unsigned long *scattered);
bool simgpu_vram_res_visible(struct simgpu_device *sdev,
			     struct ttm_resource *res);

/* simgpu_gart.c */
int simgpu_gart_init(struct simgpu_device *sdev);
void simgpu_gart_fini(struct simgpu_device *sdev);
void simgpu_gart_hw_fini(struct simgpu_device *sdev);
void simgpu_gart_hw_init(struct simgpu_device *sdev);
void simgpu_gart_bind(struct simgpu_device *sdev, struct ttm_tt *tt,
		      struct ttm_resource *res);
void simgpu_gart_unbind(struct simgpu_device *sdev, struct ttm_resource *res);
u64 simgpu_gart_bound_pages(struct simgpu_device *sdev);
u64 simgpu_gart_tt_size(struct simgpu_device *sdev);
int simgpu_gart_window_copy(struct simgpu_device *sdev,
			    struct ttm_resource *vram, struct ttm_tt *tt,
			    bool to_vram);

/* simgpu_engine.c */
int simgpu_engine_init(struct simgpu_device *sdev);
void simgpu_engine_fini(struct simgpu_device *sdev);
void simgpu_engine_hw_release(struct simgpu_device *sdev);
void simgpu_engine_release(struct simgpu_device *sdev);
struct dma_fence *simgpu_engine_submit(struct simgpu_device *sdev,
				       const struct simgpu_hw_cmd *cmds,
				       unsigned int num_cmds,
				       struct simgpu_fence *f);
struct simgpu_hw_cmd *simgpu_engine_build_cmds(const struct simgpu_engine_op *ops,
					       unsigned int num_ops,
					       unsigned int *num_cmds);
int simgpu_engine_timeout(struct simgpu_device *sdev, const char **why);
void simgpu_engine_reset(struct simgpu_device *sdev, const char *why);
void simgpu_engine_cancel(struct simgpu_device *sdev);
unsigned int simgpu_engine_pending(struct simgpu_device *sdev);

/* simgpu_ttm.c */
int simgpu_ttm_init(struct simgpu_device *sdev);
void simgpu_ttm_fini(struct simgpu_device *sdev);
unsigned int simgpu_mem_index(u32 mem_type);
bool simgpu_bo_eviction_valuable(struct ttm_buffer_object *tbo,
				 const struct ttm_place *place);
int simgpu_bo_access(struct ttm_buffer_object *tbo, unsigned long offset,
		     void *buf, int len, int write);

/* simgpu_gem.c */
struct simgpu_bo *simgpu_bo_create(struct simgpu_device *sdev, u64 size,
				   u32 placements, u32 preferred, u32 flags);
int simgpu_bo_placement(struct simgpu_bo *bo, u32 mask, u32 first,
			bool cpu_visible);
int simgpu_bo_migrate(struct simgpu_bo *bo, u32 mem, bool cpu_visible,
		      bool interruptible);
struct simgpu_bo *simgpu_bo_lookup(struct drm_file *file, u32 handle);
bool simgpu_bo_is_simgpu(struct ttm_buffer_object *tbo);
struct simgpu_bo *simgpu_bo_create_import(struct simgpu_device *sdev,
					  struct dma_buf *dmabuf);

/* simgpu_dma_buf.c */
struct dma_buf *simgpu_gem_prime_export(struct drm_gem_object *gem,
					int flags);
struct drm_gem_object *simgpu_gem_prime_import(struct drm_device *drm,
					       struct dma_buf *dmabuf);
void simgpu_bo_invalidate_importers(struct ttm_buffer_object *tbo);
int simgpu_bo_move_import(struct ttm_buffer_object *tbo,
			  struct ttm_operation_ctx *ctx,
			  struct ttm_resource *new_mem);
void simgpu_bo_release_import(struct ttm_buffer_object *tbo);
int simgpu_bo_move_to_system(struct ttm_buffer_object *tbo,
			     struct ttm_operation_ctx *ctx);

/* simgpu_ioctl.c */
int simgpu_device_query_ioctl(struct drm_device *drm, void *data,
			      struct drm_file *file);
void simgpu_stats_read(struct simgpu_device *sdev, struct drm_simgpu_stats *out);
int simgpu_gem_create_ioctl(struct drm_device *drm, void *data,
			    struct drm_file *file);
int simgpu_gem_mmap_offset_ioctl(struct drm_device *drm, void *data,
				 struct drm_file *file);
int simgpu_gem_query_ioctl(struct drm_device *drm, void *data,
			   struct drm_file *file);
int simgpu_gem_migrate_ioctl(struct drm_device *drm, void *data,
			     struct drm_file *file);
int simgpu_wait_ioctl(struct drm_device *drm, void *data,
		      struct drm_file *file);

/* simgpu_submit.c */
int simgpu_submit_ioctl(struct drm_device *drm, void *data,
			struct drm_file *file);
int simgpu_file_open(struct drm_device *drm, struct drm_file *file);
void simgpu_file_close(struct drm_device *drm, struct drm_file *file);
int simgpu_file_wait_seqno(struct drm_file *file, u64 seqno, long timeout);

/* simgpu_sched.c */
int simgpu_sched_init(struct simgpu_device *sdev);
void simgpu_sched_fini(struct simgpu_device *sdev);
struct simgpu_job *simgpu_job_create(struct simgpu_device *sdev,
				     struct drm_sched_entity *entity,
				     const struct simgpu_engine_op *ops,
				     unsigned int num_ops, u64 client_id);
struct simgpu_job *simgpu_job_create_cmds(struct simgpu_device *sdev,
					  struct drm_sched_entity *entity,
					  struct simgpu_hw_cmd *cmds,
					  unsigned int num_cmds, u64 client_id);
struct dma_fence *simgpu_job_push(struct simgpu_job *job);
struct dma_fence *simgpu_kernel_job_push(struct simgpu_job *job);
void simgpu_job_put(struct simgpu_job *job);

/* simgpu_migrate.c */
int simgpu_migrate_init(struct simgpu_device *sdev);
void simgpu_migrate_fini(struct simgpu_device *sdev);
struct dma_fence *simgpu_migrate_push(struct simgpu_job *job,
				      struct ttm_buffer_object *tbo);
bool simgpu_is_other_move_fence(struct dma_fence *fence,
				struct ttm_buffer_object *tbo);
unsigned int simgpu_migrate_pending(struct simgpu_device *sdev);

/* simgpu_shrinker.c */
int simgpu_shrinker_init(struct simgpu_device *sdev);
void simgpu_shrinker_fini(struct simgpu_device *sdev);
void simgpu_shrinker_unplug(struct simgpu_device *sdev);
void simgpu_shrinker_tt_populated(struct simgpu_device *sdev,
				  struct ttm_tt *tt, bool restored);
void simgpu_shrinker_tt_unpopulated(struct simgpu_device *sdev,
				    struct ttm_tt *tt);
void simgpu_shrinker_tt_destroyed(struct simgpu_device *sdev,
				  struct ttm_tt *tt);
void simgpu_shrinker_tt_restore_stopped(struct simgpu_device *sdev,
					struct ttm_tt *tt);
void simgpu_shrinker_debugfs_init(struct simgpu_device *sdev,
				  struct dentry *root);
void simgpu_shrinker_stats_show(struct simgpu_device *sdev,
				struct seq_file *m);
int simgpu_gem_madvise_ioctl(struct drm_device *drm, void *data,
			     struct drm_file *file);

/* simgpu_debugfs.c */
void simgpu_debugfs_init(struct simgpu_device *sdev);

#endif /* SIMGPU_DRV_H */
