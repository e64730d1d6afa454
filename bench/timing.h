/*
 * What the latency probes (connlat.c, udprr.c) share: a monotonic clock in microseconds, and
 * percentiles of a sorted array of samples. Header-only, like afpacket.h, so each tool still
 * builds from its one .c file.
 */
#ifndef RINGVS_BENCH_TIMING_H
#define RINGVS_BENCH_TIMING_H

#include <time.h>

static inline double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* qsort comparator for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of n sorted samples, nearest rank; -1 when there are none. */
static inline double pct(const double *v, unsigned n, double p)
{
	if (!n)
		return -1;
	unsigned i = (unsigned)(p * (n - 1) + 0.5);
	return v[i];
}

#endif
