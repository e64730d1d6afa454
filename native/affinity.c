/*
 * CPU pinning for packet workers. Each worker is a thread of the one ringvs process; pinning it
 * from inside (sched_setaffinity with pid 0 applies to the calling thread only) keeps a worker and
 * its ring's cache lines on one core, which is the point of one worker per core.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <sched.h>

int rv_pin_thread(int32_t cpu)
{
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}
