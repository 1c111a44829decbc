/* SPDX-License-Identifier: MIT */
/*
 * simgpu userspace interface.  Shared by the driver and every test
 * program.  Conventions: fixed-width __u32/__u64 fields, 64-bit aligned
 * structs, explicit padding that must be zero, and a flags word whose
 * unknown bits are rejected with -EINVAL.
 */
#ifndef _UAPI_SIMGPU_DRM_H_
#define _UAPI_SIMGPU_DRM_H_

#include "drm.h"

/*
 * Sharing (driver minor 5): objects are exported and imported with the
 * DRM core's PRIME ioctls (DRM_IOCTL_PRIME_HANDLE_TO_FD/FD_TO_HANDLE).
 * An imported dma-buf is an object whose size is the buffer's (a whole
 * number of pages, else -EINVAL); submissions use it like any other, its
 * fences order work across devices (implicit sync), and its mapping goes
 * through the dma-buf.  Importing fails with -EOPNOTSUPP if the exporter
 * cannot map the buffer for this device (a simgpu object that may only
 * be in VRAM, without peer-to-peer DMA between the two devices).
 */

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_SIMGPU_DEVICE_QUERY		0x00
#define DRM_SIMGPU_GEM_CREATE		0x01
#define DRM_SIMGPU_GEM_MMAP_OFFSET	0x02
#define DRM_SIMGPU_GEM_QUERY		0x03
#define DRM_SIMGPU_GEM_MIGRATE		0x04
#define DRM_SIMGPU_SUBMIT		0x05
#define DRM_SIMGPU_WAIT			0x06
#define DRM_SIMGPU_GEM_MADVISE		0x07

#define DRM_IOCTL_SIMGPU_DEVICE_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_DEVICE_QUERY, \
		 struct drm_simgpu_device_query)
#define DRM_IOCTL_SIMGPU_GEM_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_GEM_CREATE, \
		 struct drm_simgpu_gem_create)
#define DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_GEM_MMAP_OFFSET, \
		 struct drm_simgpu_gem_mmap_offset)
#define DRM_IOCTL_SIMGPU_GEM_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_GEM_QUERY, \
		 struct drm_simgpu_gem_query)
#define DRM_IOCTL_SIMGPU_GEM_MIGRATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_GEM_MIGRATE, \
		 struct drm_simgpu_gem_migrate)
#define DRM_IOCTL_SIMGPU_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_SUBMIT, \
		 struct drm_simgpu_submit)
#define DRM_IOCTL_SIMGPU_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_WAIT, struct drm_simgpu_wait)
#define DRM_IOCTL_SIMGPU_GEM_MADVISE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_GEM_MADVISE, \
		 struct drm_simgpu_gem_madvise)

/** DRM_SIMGPU_MAX_REGIONS - room for VRAM regions in the query */
#define DRM_SIMGPU_MAX_REGIONS		4

/**
 * struct drm_simgpu_region_info - one VRAM region
 * @size: bytes of VRAM in the region
 * @visible_size: bytes of the region the CPU can reach through its BAR,
 *	counted from the start of the region (less than @size on small-BAR)
 */
struct drm_simgpu_region_info {
	__u64 size;
	__u64 visible_size;
};

/*
 * Memory placements of a buffer object.  DRM_SIMGPU_MEM_* name one
 * placement; DRM_SIMGPU_PLACEMENT(mem) is its bit in a placement mask.
 */
#define DRM_SIMGPU_MEM_VRAM0		0
#define DRM_SIMGPU_MEM_VRAM1		1
#define DRM_SIMGPU_MEM_TT		2	/* system pages, GART mapped */
#define DRM_SIMGPU_MEM_SYSTEM		3	/* system pages, CPU only */
#define DRM_SIMGPU_NUM_MEM		4
#define DRM_SIMGPU_PLACEMENT(mem)	(1U << (mem))
#define DRM_SIMGPU_PLACEMENT_ALL	((1U << DRM_SIMGPU_NUM_MEM) - 1)

/**
 * struct drm_simgpu_stats - what the driver did, as in debugfs simgpu_stats
 * @evictions: evictions by [source][destination] DRM_SIMGPU_MEM_* placement
 * @engine_bytes: bytes moved or cleared by the engine for TTM
 * @cpu_bytes: bytes moved or cleared by the CPU for TTM
 * @engine_fallbacks: moves that fell back to the CPU after an engine failure
 * @engine_errors: engine errors and timeouts seen
 * @engine_resets: engine resets done
 * @invisible_faults: CPU faults on objects in CPU-invisible VRAM
 * @submits: user submissions
 * @pages_purged: pages the shrinker freed without backup (DONTNEED)
 * @pages_backed_up: pages the shrinker backed up to shmem
 * @pages_restored: pages restored from a backup
 */
struct drm_simgpu_stats {
	__u64 evictions[DRM_SIMGPU_NUM_MEM][DRM_SIMGPU_NUM_MEM];
	__u64 engine_bytes;
	__u64 cpu_bytes;
	__u64 engine_fallbacks;
	__u64 engine_errors;
	__u64 engine_resets;
	__u64 invisible_faults;
	__u64 submits;
	__u64 pages_purged;
	__u64 pages_backed_up;
	__u64 pages_restored;
};

/**
 * struct drm_simgpu_device_query - what the hardware is
 * @flags: in, must be zero
 * @hw_version: out, the device's version register (major << 16 | minor)
 * @hw_caps: out, the device's capability bits (SIMGPU_CAP_*)
 * @num_regions: out, number of valid entries in @regions
 * @regions: out, the VRAM regions
 * @gart_size: out, bytes of the GART aperture
 * @stats: out, the driver's statistics since it was loaded
 * @tt_size: out, bytes of the GART the TT placement can use (the TT
 *	placement's limit): @gart_size less the driver's own window, through
 *	which it moves BOs that TT has no room for (driver minor 3)
 *
 * Fields after @regions were added later: an older, shorter struct still
 * works (the DRM core copies only what the caller's size covers).
 */
struct drm_simgpu_device_query {
	__u32 flags;
	__u32 hw_version;
	__u32 hw_caps;
	__u32 num_regions;
	struct drm_simgpu_region_info regions[DRM_SIMGPU_MAX_REGIONS];
	__u64 gart_size;
	struct drm_simgpu_stats stats;
	__u64 tt_size;
};

/* The buffer object will be mapped by the CPU: keep VRAM CPU-visible. */
#define DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS	0x1
#define DRM_SIMGPU_GEM_CREATE_FLAGS \
	DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS

/**
 * struct drm_simgpu_gem_create - create a buffer object
 * @size: in, bytes (rounded up to the page size; not zero)
 * @placements: in, mask of DRM_SIMGPU_PLACEMENT() bits the object may live
 *	in (at least one; VRAM1 only if the device has two regions).  The
 *	kernel may still evict the object to TT or SYSTEM under pressure.
 * @preferred: in, the DRM_SIMGPU_MEM_* placement to try first; must be in
 *	@placements
 * @flags: in, DRM_SIMGPU_GEM_CREATE_* flags
 * @handle: out, the GEM handle, valid in the caller's DRM file only
 * @pad: must be zero
 *
 * New objects read as zero.  Fails with -ENOSPC if the object fits in
 * none of @placements (a VRAM region, or its CPU-visible window with
 * DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, or the TT part of the GART
 * (&drm_simgpu_device_query.tt_size) is too small; system
 * memory holds no object larger than RAM).
 */
struct drm_simgpu_gem_create {
	__u64 size;
	__u32 placements;
	__u32 preferred;
	__u32 flags;
	__u32 handle;
	__u64 pad;
};

/**
 * struct drm_simgpu_gem_mmap_offset - fake offset for mmap() of an object
 * @handle: in, GEM handle
 * @flags: in, must be zero
 * @offset: out, pass to mmap() on the DRM file
 */
struct drm_simgpu_gem_mmap_offset {
	__u32 handle;
	__u32 flags;
	__u64 offset;
};

/**
 * struct drm_simgpu_gem_query - where an object is and what it is doing
 * @handle: in, GEM handle
 * @flags: in, must be zero
 * @size: out, bytes
 * @placements: out, the placement mask given at creation
 * @preferred: out, the preferred placement given at creation
 * @create_flags: out, the flags given at creation
 * @mem: out, the current DRM_SIMGPU_MEM_* placement
 * @busy: out, 1 if engine work on the object is still pending
 * @cpu_visible: out, 1 if the object is in VRAM wholly inside the
 *	CPU-visible window, or in TT/SYSTEM
 */
struct drm_simgpu_gem_query {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u32 placements;
	__u32 preferred;
	__u32 create_flags;
	__u32 mem;
	__u32 busy;
	__u32 cpu_visible;
};

/* Place VRAM inside the CPU-visible window of its region. */
#define DRM_SIMGPU_MIGRATE_CPU_VISIBLE	0x1
#define DRM_SIMGPU_MIGRATE_FLAGS	DRM_SIMGPU_MIGRATE_CPU_VISIBLE

/**
 * struct drm_simgpu_gem_migrate - move an object (for tests)
 * @handle: in, GEM handle
 * @mem: in, the DRM_SIMGPU_MEM_* placement to move to; must be in the
 *	object's placement mask (-EINVAL otherwise)
 * @flags: in, DRM_SIMGPU_MIGRATE_* flags
 * @pad: must be zero
 *
 * Evicts other objects if needed.  Returns -ENOSPC if the object cannot be
 * placed there, -EBUSY if a static dma-buf importer pinned it,
 * -EINTR/-ERESTARTSYS on a signal (nothing lost).  An imported object
 * (PRIME) may go to TT (mapped, where the engine reaches it) or SYSTEM
 * (unmapped).
 */
struct drm_simgpu_gem_migrate {
	__u32 handle;
	__u32 mem;
	__u32 flags;
	__u32 pad;
};

#define DRM_SIMGPU_CMD_COPY		1
#define DRM_SIMGPU_CMD_FILL		2

/**
 * struct drm_simgpu_cmd - one engine command of a submission
 * @op: DRM_SIMGPU_CMD_COPY or DRM_SIMGPU_CMD_FILL
 * @flags: must be zero
 * @src_handle: COPY: source object; FILL: must be zero
 * @dst_handle: destination object
 * @src_offset: COPY: byte offset in the source; FILL: must be zero
 * @dst_offset: byte offset in the destination
 * @length: bytes, not zero; for FILL a multiple of 4 and @dst_offset too
 * @value: FILL: the 32-bit pattern (upper bits must be zero); COPY: zero
 *
 * A COPY within one object may overlap (it behaves like memmove).
 */
struct drm_simgpu_cmd {
	__u32 op;
	__u32 flags;
	__u32 src_handle;
	__u32 dst_handle;
	__u64 src_offset;
	__u64 dst_offset;
	__u64 length;
	__u64 value;
};

/** DRM_SIMGPU_MAX_CMDS - most commands in one submission */
#define DRM_SIMGPU_MAX_CMDS		64

/**
 * struct drm_simgpu_sync - a syncobj a submission waits for or signals
 * @handle: in, syncobj handle (DRM_IOCTL_SYNCOBJ_CREATE)
 * @flags: in, must be zero
 * @point: in, the timeline point; 0 for a binary syncobj
 *
 * Waited for (in-syncs): the fence at @point must exist when the
 * submission is made (-EINVAL otherwise).  Signalled (out-syncs): a
 * binary syncobj's fence is replaced by the submission's, a timeline
 * gets the point @point.
 */
struct drm_simgpu_sync {
	__u32 handle;
	__u32 flags;
	__u64 point;
};

/** DRM_SIMGPU_MAX_SYNCS - most in-syncs, and most out-syncs, per submission */
#define DRM_SIMGPU_MAX_SYNCS		64

/* Return a sync_file of the submission's fence in out_fence_fd. */
#define DRM_SIMGPU_SUBMIT_FENCE_OUT	0x1
#define DRM_SIMGPU_SUBMIT_FLAGS		DRM_SIMGPU_SUBMIT_FENCE_OUT

/**
 * struct drm_simgpu_submit - run engine commands on objects
 * @cmds: in, user pointer to an array of struct drm_simgpu_cmd
 * @num_cmds: in, entries in @cmds, 1 to DRM_SIMGPU_MAX_CMDS
 * @flags: in, DRM_SIMGPU_SUBMIT_* flags
 * @seqno: out, the submission's number in the caller's DRM file (1 for
 *	its first), for DRM_IOCTL_SIMGPU_WAIT with DRM_SIMGPU_WAIT_SEQNO in
 *	the same file
 * @in_syncs: in, user pointer to @num_in_syncs struct drm_simgpu_sync the
 *	work waits for (besides the objects' own fences)
 * @out_syncs: in, user pointer to @num_out_syncs struct drm_simgpu_sync
 *	signalled when the work is done
 * @num_in_syncs: in, 0 to DRM_SIMGPU_MAX_SYNCS
 * @num_out_syncs: in, 0 to DRM_SIMGPU_MAX_SYNCS
 * @out_fence_fd: out, with DRM_SIMGPU_SUBMIT_FENCE_OUT: a sync_file file
 *	descriptor (close-on-exec) of the work's fence
 * @pad: must be zero
 * @extensions: must be zero (room for a chain of extension structs, as
 *	xe has)
 *
 * Every object is first moved where the engine reaches it (VRAM or TT) if
 * needed; the objects are then busy until the submission completes.  The
 * whole submission is validated before anything runs.  Errors: -EINVAL
 * for a bad field (unknown flags, non-zero @pad or @extensions or sync
 * flags, too many commands or syncs, an in-sync point with no fence
 * yet), a range outside its object, or an object whose placement mask
 * has neither VRAM nor TT (the engine cannot reach it); -ENOENT for an
 * unknown object or syncobj handle; -EFAULT for a bad pointer;
 * -ENOSPC/-ENOMEM if the objects cannot be placed, -EIO if moving one
 * there failed (engine and CPU); -EMFILE if no file
 * descriptor is left for @out_fence_fd; -ENODEV if the device is gone;
 * -EINTR/-ERESTARTSYS on a signal.  The work runs later:
 * DRM_IOCTL_SIMGPU_WAIT on @seqno (or on an object), the out-syncs and
 * the sync_file tell whether it succeeded.
 *
 * The fields from @in_syncs on came with driver version 0.4 (minor 4;
 * an older driver ignores them: check the version); older userspace
 * passes the first 24 bytes only, which the kernel extends with zeros.
 * If no sync_file could be made (out of memory), the work is still
 * queued and @out_fence_fd is -1.
 */
struct drm_simgpu_submit {
	__u64 cmds;
	__u32 num_cmds;
	__u32 flags;
	__u64 seqno;
	__u64 in_syncs;
	__u64 out_syncs;
	__u32 num_in_syncs;
	__u32 num_out_syncs;
	__s32 out_fence_fd;
	__u32 pad;
	__u64 extensions;
};

/* Wait for a seqno from DRM_IOCTL_SIMGPU_SUBMIT instead of an object. */
#define DRM_SIMGPU_WAIT_SEQNO		0x1
#define DRM_SIMGPU_WAIT_FLAGS		DRM_SIMGPU_WAIT_SEQNO

/**
 * struct drm_simgpu_wait - wait for an object to be idle, or for a seqno
 * @handle: in, GEM handle (zero with DRM_SIMGPU_WAIT_SEQNO)
 * @flags: in, DRM_SIMGPU_WAIT_* flags
 * @seqno: in, with DRM_SIMGPU_WAIT_SEQNO: the seqno to wait for, from a
 *	DRM_IOCTL_SIMGPU_SUBMIT in the same DRM file (-EINVAL for one the
 *	file never got: a file cannot wait for another's work)
 * @timeout_ns: in, relative timeout in nanoseconds; 0 only polls
 *
 * Interruptible.  Returns 0 when done, -ETIME on timeout, -EIO if the
 * engine work failed: an engine error or hang reset the engine while the
 * work was on its ring (some of its commands may have run), or the
 * device is gone.  For an object, the work is what its reservation
 * object held when the call began.  That keeps a fence only until a
 * newer one takes its slot (a later one of the same engine context, or
 * any once it has signalled): a failure followed by more work on the
 * object before the call is told by the seqno wait, not by the object's.
 */
struct drm_simgpu_wait {
	__u32 handle;
	__u32 flags;
	__u64 seqno;
	__s64 timeout_ns;
};

/* The content is needed (the default). */
#define DRM_SIMGPU_MADV_WILLNEED	0
/* The content may be dropped under memory pressure. */
#define DRM_SIMGPU_MADV_DONTNEED	1

/**
 * struct drm_simgpu_gem_madvise - whether an object's content is needed
 * @handle: in, GEM handle
 * @madv: in, DRM_SIMGPU_MADV_*
 * @retained: out, 1 if the content still exists: for WILLNEED, whether it
 *	survived since the object was last marked DONTNEED (0: it reads as
 *	zero now); for DONTNEED, whether it is still in memory (a copy
 *	swapped out is dropped at once, and 0 is returned)
 * @pad: must be zero
 *
 * Under system-memory pressure the kernel frees the pages of DONTNEED
 * objects in system memory (SYSTEM or TT) first, without saving them;
 * WILLNEED objects are saved to swap and read back on the next use.
 * An object shared through dma-buf (exported while it has a handle, or
 * imported) keeps its content for the other users: DONTNEED fails with
 * -EBUSY, and a DONTNEED object cannot be exported (-EBUSY).
 * Returns -EINTR/-ERESTARTSYS on a signal (nothing changed).
 */
struct drm_simgpu_gem_madvise {
	__u32 handle;
	__u32 madv;
	__u32 retained;
	__u32 pad;
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_SIMGPU_DRM_H_ */
