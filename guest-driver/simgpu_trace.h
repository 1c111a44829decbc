/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * simgpu trace events (tracefs: events/simgpu/), documented with an
 * example in README.md, "Tracing".
 *
 * A BO is named by the address of its &struct simgpu_bo ("bo", hashed
 * like every %p) and its system pages by their &struct ttm_tt ("tt"):
 * a restore knows only the tt, bo_shrink names both.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#if !defined(SIMGPU_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define SIMGPU_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

#include "uapi/simgpu_drm.h"

#undef TRACE_SYSTEM
#define TRACE_SYSTEM simgpu
#define TRACE_INCLUDE_FILE simgpu_trace

#define simgpu_trace_mem_name(mem)				\
	__print_symbolic(mem,					\
			 { DRM_SIMGPU_MEM_VRAM0, "vram0" },	\
			 { DRM_SIMGPU_MEM_VRAM1, "vram1" },	\
			 { DRM_SIMGPU_MEM_TT, "tt" },		\
			 { DRM_SIMGPU_MEM_SYSTEM, "system" })

/* How simgpu_bo_move() moved the data. */
#define SIMGPU_TRACE_MOVE_NONE		0	/* nothing to copy */
#define SIMGPU_TRACE_MOVE_ENGINE	1
#define SIMGPU_TRACE_MOVE_CPU		2

TRACE_EVENT(simgpu_bo_create,
	    TP_PROTO(const void *bo, u64 size, u32 placements, u32 preferred,
		     u32 flags),
	    TP_ARGS(bo, size, placements, preferred, flags),
	    TP_STRUCT__entry(__field(const void *, bo)
			     __field(u64, size)
			     __field(u32, placements)
			     __field(u32, preferred)
			     __field(u32, flags)
			     ),
	    TP_fast_assign(__entry->bo = bo;
			   __entry->size = size;
			   __entry->placements = placements;
			   __entry->preferred = preferred;
			   __entry->flags = flags;
			   ),
	    TP_printk("bo=%p size=%llu placements=%s preferred=%s flags=0x%x",
		      __entry->bo, __entry->size,
		      __print_flags(__entry->placements, "|",
				    { DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0),
				      "vram0" },
				    { DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1),
				      "vram1" },
				    { DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
				      "tt" },
				    { DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
				      "system" }),
		      simgpu_trace_mem_name(__entry->preferred), __entry->flags)
);

TRACE_EVENT(simgpu_bo_move,
	    TP_PROTO(const void *bo, u32 from, u32 to, u64 bytes, u32 how,
		     bool clear, bool evict),
	    TP_ARGS(bo, from, to, bytes, how, clear, evict),
	    TP_STRUCT__entry(__field(const void *, bo)
			     __field(u64, bytes)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, how)
			     __field(bool, clear)
			     __field(bool, evict)
			     ),
	    TP_fast_assign(__entry->bo = bo;
			   __entry->bytes = bytes;
			   __entry->from = from;
			   __entry->to = to;
			   __entry->how = how;
			   __entry->clear = clear;
			   __entry->evict = evict;
			   ),
	    TP_printk("bo=%p %s->%s bytes=%llu by=%s%s%s", __entry->bo,
		      simgpu_trace_mem_name(__entry->from),
		      simgpu_trace_mem_name(__entry->to), __entry->bytes,
		      __print_symbolic(__entry->how,
				       { SIMGPU_TRACE_MOVE_NONE, "none" },
				       { SIMGPU_TRACE_MOVE_ENGINE, "engine" },
				       { SIMGPU_TRACE_MOVE_CPU, "cpu" }),
		      __entry->clear ? " clear" : "",
		      __entry->evict ? " evict" : "")
);

TRACE_EVENT(simgpu_bo_shrink,
	    TP_PROTO(const void *bo, const void *tt, long pages, bool purge,
		     bool writeback),
	    TP_ARGS(bo, tt, pages, purge, writeback),
	    TP_STRUCT__entry(__field(const void *, bo)
			     __field(const void *, tt)
			     __field(long, pages)
			     __field(bool, purge)
			     __field(bool, writeback)
			     ),
	    TP_fast_assign(__entry->bo = bo;
			   __entry->tt = tt;
			   __entry->pages = pages;
			   __entry->purge = purge;
			   __entry->writeback = writeback;
			   ),
	    TP_printk("bo=%p tt=%p pages=%ld %s%s", __entry->bo, __entry->tt,
		      __entry->pages, __entry->purge ? "purge" : "backup",
		      __entry->writeback ? " writeback" : "")
);

TRACE_EVENT(simgpu_bo_restore,
	    TP_PROTO(const void *tt, unsigned long pages, int result),
	    TP_ARGS(tt, pages, result),
	    TP_STRUCT__entry(__field(const void *, tt)
			     __field(unsigned long, pages)
			     __field(int, result)
			     ),
	    TP_fast_assign(__entry->tt = tt;
			   __entry->pages = pages;
			   __entry->result = result;
			   ),
	    TP_printk("tt=%p pages=%lu result=%d", __entry->tt, __entry->pages,
		      __entry->result)
);

#endif /* SIMGPU_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#include <trace/define_trace.h>
