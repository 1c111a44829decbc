// SPDX-License-Identifier: GPL-2.0-only
/*
 * simgpu trace events: the one file that instantiates them.
 *
 * Copyright (c) 2026 The simgpu authors
 */

#ifndef __CHECKER__
#define CREATE_TRACE_POINTS
#include "simgpu_trace.h"
#endif
