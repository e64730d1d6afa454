/*
 * soak — how much of one core something else takes: a SCHED_IDLE busy loop that counts.
 *
 *   soak -t SECONDS        (pin it: taskset -c CPU bench/build/soak -t 3)
 *
 * Runs at SCHED_IDLE, so any other task, and every interrupt and softirq on the core (which this
 * kernel, without IRQ_TIME_ACCOUNTING, would charge to whichever task it interrupted), takes its
 * time from the loop. Prints {"rate": iterations per second}. Busy fraction of the core during a
 * run = 1 - rate / rate of an idle-core calibration run. Used for the kernel forwarding path,
 * which runs in softirq and so has no process whose CPU time could be read.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/soak bench/soak.c
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = 0;
	int opt;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt == 't')
			seconds = atof(optarg);
		else
			return 2;
	}
	if (seconds <= 0 || seconds > 60) {
		fprintf(stderr, "usage: soak -t SECONDS (0 < SECONDS <= 60)\n");
		return 2;
	}
	struct sched_param sp = { 0 };
	if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		perror("soak: SCHED_IDLE");
		return 1;
	}
	volatile uint64_t sink = 0;
	uint64_t iters = 0;
	double t0 = now_s(), t = t0;
	while (t - t0 < seconds) {
		for (int i = 0; i < 4096; i++)
			sink += (uint64_t)i;
		iters += 4096;
		t = now_s();
	}
	printf("{\"rate\":%.0f,\"seconds\":%.3f}\n", (double)iters / (t - t0), t - t0);
	return 0;
}
