/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP 13 output for simgpu's guest test programs (kselftest
 * style): each check is one test point; tap_finish() returns the exit
 * status (0 only if every point passed and the plan was met).
 */
#ifndef SIMGPU_TAP_H
#define SIMGPU_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct tap {
	int planned;
	int run;
	int failed;
};

static inline void tap_plan(struct tap *t, int n)
{
	t->planned = n;
	t->run = 0;
	t->failed = 0;
	printf("TAP version 13\n1..%d\n", n);
	fflush(stdout);
}

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline bool tap_check(struct tap *t, bool ok, const char *fmt, ...)
{
	va_list ap;

	t->run++;
	if (!ok)
		t->failed++;
	printf("%sok %d - ", ok ? "" : "not ", t->run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok;
}

static inline int tap_finish(struct tap *t)
{
	if (t->run != t->planned)
		tap_diag("planned %d tests but ran %d", t->planned, t->run);
	tap_diag("%d passed, %d failed", t->run - t->failed, t->failed);
	return t->failed || t->run != t->planned;
}

#endif /* SIMGPU_TAP_H */
