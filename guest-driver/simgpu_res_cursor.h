/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * simgpu resource cursor: walk a range of a TTM resource in pieces that
 * are contiguous where the engine (or the CPU, through the BAR) reaches
 * them, as xe_res_cursor.h and amdgpu_res_cursor.h do.
 *
 * A VRAM resource is a list of buddy blocks in address order of the BO
 * (simgpu_vram_mgr.c), one block or many; a TT resource is one range of
 * GART pages.  The walk goes forward, or backward from the end of the
 * range: a copy within one BO to a higher offset must go backward to
 * behave like memmove() once it is split into pieces.
 *
 * The blocks belong to the resource and do not change while it lives:
 * no lock is needed to walk them.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#ifndef _SIMGPU_RES_CURSOR_H_
#define _SIMGPU_RES_CURSOR_H_

#include <linux/gpu_buddy.h>

#include "simgpu_drv.h"

/**
 * struct simgpu_res_cursor - position in a walk of a resource
 * @space: SIMGPU_SPACE_* of the resource
 * @start: address in @space of the current piece
 * @size: bytes of the current piece (a backward walk takes them from
 *	its end)
 * @remaining: bytes left in the walk, the current piece included
 * @block: the current buddy block; NULL for a TT resource
 * @res: the VRAM resource walked (NULL for TT)
 * @backward: the walk goes from the end of the range to its start
 */
struct simgpu_res_cursor {
	u32 space;
	u64 start;
	u64 size;
	u64 remaining;
	struct gpu_buddy_block *block;
	struct simgpu_vram_res *res;
	bool backward;
};

static inline u64 simgpu_res_block_size(struct simgpu_res_cursor *cur)
{
	return gpu_buddy_block_size(&cur->res->mgr->mm, cur->block);
}

/**
 * simgpu_res_first - start a walk
 * @res: a VRAM or TT resource
 * @offset: first byte of the range, from the start of the BO
 * @size: bytes of the range, not zero, inside the resource
 * @backward: walk from the end of the range
 * @cur: the cursor to set up
 */
static inline void simgpu_res_first(struct ttm_resource *res, u64 offset,
				    u64 size, bool backward,
				    struct simgpu_res_cursor *cur)
{
	u64 pos = backward ? offset + size - 1 : offset;
	u64 block_size, lo;

	cur->remaining = size;
	cur->backward = backward;
	cur->space = simgpu_mem_space(res->mem_type);
	if (!simgpu_mem_is_vram(res->mem_type)) {
		cur->block = NULL;
		cur->res = NULL;
		cur->start = ((u64)res->start << PAGE_SHIFT) + offset;
		cur->size = size;
		return;
	}

	cur->res = to_simgpu_vram_res(res);
	cur->block = list_first_entry(&cur->res->blocks,
				      struct gpu_buddy_block, link);
	/* Skip to the block holding @pos; make @offset relative to it. */
	for (;;) {
		block_size = simgpu_res_block_size(cur);
		if (pos < block_size)
			break;
		pos -= block_size;
		offset -= min(offset, block_size);
		cur->block = list_next_entry(cur->block, link);
	}
	if (!backward) {
		cur->start = gpu_buddy_block_offset(cur->block) + pos;
		cur->size = min(block_size - pos, size);
		return;
	}
	/* The piece is the block's part of the range, up to @pos. */
	lo = min(offset, pos);
	cur->start = gpu_buddy_block_offset(cur->block) + lo;
	cur->size = pos + 1 - lo;
}

/**
 * simgpu_res_next - advance a walk
 * @cur: the cursor
 * @size: bytes consumed, at most @cur->size: from the start of the
 *	current piece forward, from its end backward
 */
static inline void simgpu_res_next(struct simgpu_res_cursor *cur, u64 size)
{
	u64 block_size;

	cur->remaining -= size;
	cur->size -= size;
	if (!cur->backward)
		cur->start += size;
	if (!cur->remaining || cur->size)
		return;

	if (cur->backward)
		cur->block = list_prev_entry(cur->block, link);
	else
		cur->block = list_next_entry(cur->block, link);
	block_size = simgpu_res_block_size(cur);
	cur->size = min(block_size, cur->remaining);
	cur->start = gpu_buddy_block_offset(cur->block);
	if (cur->backward)
		cur->start += block_size - cur->size;
}

/**
 * simgpu_res_piece - address of the next @size bytes of a walk
 * @cur: the cursor
 * @size: bytes, at most @cur->size
 *
 * Return: the address in @cur->space of the @size bytes that
 * simgpu_res_next(@cur, @size) will consume.
 */
static inline u64 simgpu_res_piece(const struct simgpu_res_cursor *cur,
				   u64 size)
{
	return cur->backward ? cur->start + cur->size - size : cur->start;
}

#endif /* _SIMGPU_RES_CURSOR_H_ */
