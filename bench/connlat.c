/*
 * connlat — TCP connect time, for the latency the director adds.
 *
 *   connlat -s PORT -t SECONDS                          server: accept and close, until SECONDS
 *   connlat -n COUNT -t SECONDS [-g GAP_US] ADDR:PORT [ADDR:PORT...]
 *
 * Client: COUNT rounds; each round connects once to every target in turn (interleaved, so every
 * target sees the same background conditions), timing connect() alone (SYN out to SYN-ACK in,
 * CLOCK_MONOTONIC), then closes with SO_LINGER 0 (RST: no TIME_WAIT, no FIN exchange left to
 * overlap the next round), then sleeps GAP_US (default 200). Bounded by COUNT and SECONDS. Prints
 * one JSON line per target: n, failures, min, p50, p90, p99, p999, max and mean in microseconds.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/connlat bench/connlat.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define TARGETS_MAX 4

static int server(unsigned port, double seconds)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		perror("connlat: bind/listen");
		return 1;
	}
	alarm((unsigned)seconds + 1); /* the bound: SIGALRM's default action ends the process */
	unsigned long long n = 0;
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		close(c);
		n++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count = 0, gap_us = 200, srv_port = 0;
	double seconds = 0;
	int opt;
	while ((opt = getopt(argc, argv, "s:n:t:g:")) != -1) {
		switch (opt) {
		case 's': srv_port = strtoul(optarg, NULL, 0); break;
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'g': gap_us = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (seconds <= 0 || seconds > 600) {
		fprintf(stderr, "connlat: -t SECONDS (1..600) is required\n");
		return 2;
	}
	if (srv_port)
		return server(srv_port, seconds);
	int nt = argc - optind;
	if (!count || count > 1000000 || nt < 1 || nt > TARGETS_MAX) {
		fprintf(stderr, "usage: connlat -n COUNT -t SECONDS [-g GAP_US] ADDR:PORT [ADDR:PORT...] | -s PORT -t SECONDS\n");
		return 2;
	}
	struct sockaddr_in dst[TARGETS_MAX];
	double *lat[TARGETS_MAX];
	unsigned n[TARGETS_MAX] = { 0 }, fail[TARGETS_MAX] = { 0 };
	for (int i = 0; i < nt; i++) {
		char host[64];
		unsigned port;
		if (sscanf(argv[optind + i], "%63[^:]:%u", host, &port) != 2 || !port || port > 65535)
			return 2;
		memset(&dst[i], 0, sizeof(dst[i]));
		dst[i].sin_family = AF_INET;
		dst[i].sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &dst[i].sin_addr) != 1)
			return 2;
		lat[i] = malloc(count * sizeof(double));
		if (!lat[i])
			return 1;
	}
	struct linger lg = { 1, 0 };
	struct timeval tmo = { 1, 0 }; /* a lost SYN would otherwise wait for the 1 s retransmission and more */
	double end = now_us() + seconds * 1e6;
	for (unsigned long r = 0; r < count && now_us() < end; r++) {
		for (int i = 0; i < nt; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
			double t0 = now_us();
			int rc = connect(fd, (struct sockaddr *)&dst[i], sizeof(dst[i]));
			double t1 = now_us();
			if (rc == 0)
				lat[i][n[i]++] = t1 - t0;
			else
				fail[i]++;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			if (gap_us) {
				struct timespec ts = { 0, (long)gap_us * 1000 };
				nanosleep(&ts, NULL);
			}
		}
	}
	for (int i = 0; i < nt; i++) {
		double sum = 0;
		for (unsigned k = 0; k < n[i]; k++)
			sum += lat[i][k];
		qsort(lat[i], n[i], sizeof(double), cmp_double);
		printf("{\"target\":\"%s\",\"n\":%u,\"failures\":%u,\"minUs\":%.1f,\"p50Us\":%.1f,\"p90Us\":%.1f,"
		       "\"p99Us\":%.1f,\"p999Us\":%.1f,\"maxUs\":%.1f,\"meanUs\":%.1f}\n",
		       argv[optind + i], n[i], fail[i], n[i] ? lat[i][0] : -1, pct(lat[i], n[i], 0.5),
		       pct(lat[i], n[i], 0.9), pct(lat[i], n[i], 0.99), pct(lat[i], n[i], 0.999),
		       n[i] ? lat[i][n[i] - 1] : -1, n[i] ? sum / n[i] : -1);
		free(lat[i]);
	}
	return 0;
}
