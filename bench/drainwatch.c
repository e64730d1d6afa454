/*
 * drainwatch — how fast a paused forwarder empties its ring: resumes it and watches the real
 * server's receive counter until the backlog has arrived.
 *
 *   drainwatch -p PID -n EXPECT -t SECONDS [-q QUIET_MS] [-f COUNTER_FILE] [-s SLEEP_US]
 *
 * Run inside the real server's namespace (`ip netns exec`, which mounts that namespace's sysfs),
 * pinned to a core the forwarder does not use. Reads COUNTER_FILE (default
 * /sys/class/net/eth0/statistics/rx_packets: a veth counts a frame when its peer hands it over,
 * in the forwarder's context, so the counter moves the moment the forwarder's sendmmsg delivers),
 * sends SIGCONT to PID (the forwarder, stopped with SIGSTOP: every thread resumes), then re-reads
 * the counter in a tight loop (one pread per poll, a few microseconds each, so that is the
 * resolution) until it has grown by EXPECT, or has not grown for QUIET_MS (default 200), or
 * SECONDS have passed. Prints one JSON line:
 *   frames   counter growth; complete = frames >= EXPECT
 *   firstUs  SIGCONT -> first growth (wake-up latency plus the first batch)
 *   lastUs   SIGCONT -> last growth: the drain time; pps = frames / lastUs
 *   ppsSteady (frames - first batch) / (lastUs - firstUs): without the wake-up
 *   polls    reads done, pollUs their mean spacing
 * -s SLEEP_US sleeps between polls instead of spinning (resolution ~SLEEP_US plus the timer's
 * slack): for runs where every core forwards (several packet workers) and a spinning watcher would
 * take a core from one of them.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/drainwatch bench/drainwatch.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int read_counter(int fd, unsigned long long *v)
{
	char buf[64];
	ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);
	if (r <= 0)
		return -1;
	buf[r] = 0;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: drainwatch -p PID -n EXPECT -t SECONDS [-q QUIET_MS] [-f COUNTER_FILE] [-s SLEEP_US]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *file = "/sys/class/net/eth0/statistics/rx_packets";
	long pid = 0;
	unsigned long long expect = 0;
	double seconds = 0, quiet_ms = 200, sleep_us = 0;
	int opt;
	while ((opt = getopt(argc, argv, "p:n:t:q:f:s:")) != -1) {
		switch (opt) {
		case 'p': pid = strtol(optarg, NULL, 0); break;
		case 'n': expect = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'q': quiet_ms = atof(optarg); break;
		case 'f': file = optarg; break;
		case 's': sleep_us = atof(optarg); break;
		default: usage();
		}
	}
	if (pid <= 1 || !expect || seconds <= 0 || seconds > 60 || quiet_ms <= 0 || sleep_us < 0 || sleep_us > 100000)
		usage();
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "drainwatch: %s: %s\n", file, strerror(errno));
		return 1;
	}
	unsigned long long base, cur, last;
	if (read_counter(fd, &base) < 0) {
		fprintf(stderr, "drainwatch: cannot read %s\n", file);
		return 1;
	}
	last = base;
	double t0 = now_us();
	if (kill((pid_t)pid, SIGCONT) < 0) {
		fprintf(stderr, "drainwatch: SIGCONT %ld: %s\n", pid, strerror(errno));
		return 1;
	}
	double t_first = -1, t_last = t0, t = t0, end = t0 + seconds * 1e6;
	unsigned long long first_batch = 0, polls = 0;
	for (;;) {
		if (read_counter(fd, &cur) < 0)
			break;
		t = now_us();
		polls++;
		if (cur != last) {
			if (t_first < 0) {
				t_first = t;
				first_batch = cur - base;
			}
			last = cur;
			t_last = t;
			if (cur - base >= expect)
				break;
		}
		if (t >= end || (t - (t_first < 0 ? t0 : t_last)) >= quiet_ms * 1e3)
			break;
		if (sleep_us > 0) {
			struct timespec ts = { 0, (long)(sleep_us * 1e3) };
			nanosleep(&ts, NULL);
		}
	}
	unsigned long long frames = last - base;
	double last_us = t_last - t0, first_us = t_first < 0 ? -1 : t_first - t0;
	double steady = t_first >= 0 && t_last > t_first ? (double)(frames - first_batch) / ((t_last - t_first) / 1e6) : 0;
	printf("{\"event\":\"drain\",\"expect\":%llu,\"frames\":%llu,\"complete\":%s,\"firstUs\":%.1f,\"lastUs\":%.1f,"
	       "\"pps\":%.0f,\"ppsSteady\":%.0f,\"firstBatch\":%llu,\"polls\":%llu,\"pollUs\":%.2f}\n",
	       expect, frames, frames >= expect ? "true" : "false", first_us, last_us,
	       last_us > 0 ? (double)frames / (last_us / 1e6) : 0, steady, first_batch, polls,
	       polls ? (t - t0) / (double)polls : 0);
	close(fd);
	return 0;
}
