/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * simgpu: differences between the kernels the driver builds on.
 *
 * The driver is written against the newest tested kernel (7.3).  Each
 * entry here names an API, the version that brought it, and what the
 * driver does without it.  Whether the kernel has it is tested by the
 * Makefile on the kernel's own headers (SIMGPU_HAVE_*), not by version
 * number, so that a tree with a backport or a drm-tip tree gets it
 * right; an in-tree build always has them.  Tested kernels: README,
 * "Your own kernel and QEMU".
 */
#ifndef SIMGPU_COMPAT_H
#define SIMGPU_COMPAT_H

#include <linux/dma-resv.h>

#include <drm/ttm/ttm_bo.h>

/*
 * ttm_lru_walk_arg.sleeping_lock (7.3): an LRU walk without a ww ticket
 * that sleeps on a contended reservation instead of skipping the BO.
 * Before it, a walk without a ticket only trylocks, and one with a
 * ticket sleeps on the first contended BO of the walk only: a caller
 * that must visit every BO walks with a ticket, again while a walk
 * finds work (SIMGPU_LRU_WALK_SLEEPS false).
 */
#ifdef SIMGPU_HAVE_LRU_SLEEPING_LOCK
#define SIMGPU_LRU_WALK_SLEEPS true
#else
#define SIMGPU_LRU_WALK_SLEEPS false
#endif

/* A walk that visits (sleeps on) every BO, as far as the kernel can. */
static inline void simgpu_lru_walk_begin(struct ttm_lru_walk_arg *arg,
					 struct ttm_operation_ctx *ctx,
					 struct ww_acquire_ctx *ticket)
{
	*arg = (struct ttm_lru_walk_arg){ .ctx = ctx };
#ifdef SIMGPU_HAVE_LRU_SLEEPING_LOCK
	arg->sleeping_lock = true;
#else
	ww_acquire_init(ticket, &reservation_ww_class);
	arg->ticket = ticket;
#endif
}

static inline void simgpu_lru_walk_end(struct ww_acquire_ctx *ticket)
{
#ifndef SIMGPU_HAVE_LRU_SLEEPING_LOCK
	ww_acquire_fini(ticket);
#endif
}

#endif /* SIMGPU_COMPAT_H */
