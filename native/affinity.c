/*
 * CPU placement for the threads of the one ringvs process. A packet worker pins itself to its CPU
 * from inside its own thread (sched_setaffinity with pid 0 applies to the calling thread only),
 * which keeps a worker and its ring's cache lines on one core; the control thread then moves off
 * the workers' CPUs, so its periodic work (and the `ip` processes it spawns, which inherit its
 * affinity) does not preempt a worker.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <sched.h>

int rv_set_thread_cpus(const int32_t *cpus, uint32_t n)
{
	if (n == 0)
		return -EINVAL;
	cpu_set_t set;
	CPU_ZERO(&set);
	for (uint32_t i = 0; i < n; i++) {
		if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE)
			return -EINVAL;
		CPU_SET(cpus[i], &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

int rv_pin_thread(int32_t cpu)
{
	return rv_set_thread_cpus(&cpu, 1);
}

int rv_thread_cpus(int32_t *out, uint32_t cap)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	uint32_t n = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && n < cap; cpu++)
		if (CPU_ISSET(cpu, &set))
			out[n++] = cpu;
	return (int)n;
}
