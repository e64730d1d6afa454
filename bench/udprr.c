/*
 * udprr — UDP request/response round-trip time, for the latency the director adds to datagrams.
 *
 *   udprr -s PORT -t SECONDS                                       server: echo every datagram
 *   udprr -c ADDR:PORT [-c ADDR:PORT...] -n COUNT -t SECONDS [-w GAP_US] [-T TIMEOUT_MS] [-l BYTES]
 *
 * Server: recvmsg/sendmsg loop on 0.0.0.0:PORT, every datagram sent back as it came to whoever
 * sent it, from the address it was sent to (IP_PKTINFO: the VIP on a DR real server), until
 * SECONDS have passed (alarm: SIGALRM's default action ends the process).
 *
 * Client: COUNT rounds; each round sends one request to every target in turn (interleaved, so the
 * targets, e.g. the VIP and the real server itself, see the same background conditions) and waits
 * for its reply before the next: one request outstanding. The time from send() to the reply's
 * arrival (CLOCK_MONOTONIC) is the RTT; then it sleeps GAP_US (default 200). A reply that has not
 * come within TIMEOUT_MS (default 200) counts as lost and the next request goes out, so a lost
 * datagram never hangs the run. Every request carries a sequence number in its first 8 bytes, and
 * a reply with another one (a late answer to a request already counted lost) is discarded. One
 * connected socket per target: the kernel delivers only datagrams from that address and port,
 * which is where a DR real server answers from (the VIP) and an ICMP port unreachable comes back
 * as ECONNREFUSED (counted lost). Bounded by COUNT and SECONDS; everything the loop needs is
 * allocated before it starts.
 *
 * Prints one JSON line per target: count (requests sent), lost, min, p50, p90, p99, max and mean
 * RTT in microseconds of the replies that came back (-1 when none did).
 *
 * Build: make -C bench (bench/build/udprr), or gcc -O2 -Wall -Wextra -o udprr bench/udprr.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define TARGETS_MAX 4
#define LEN_MAX 1472 /* one Ethernet frame of UDP payload at MTU 1500 */
#define SEQ_LEN 8    /* the sequence number at the start of each request */

static int server(unsigned port, double seconds)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udprr: socket/bind");
		return 1;
	}
	alarm((unsigned)seconds + 1); /* the bound */
	static char buf[65536];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl;
	for (;;) {
		struct sockaddr_in from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &m, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udprr: recvmsg");
			return 1;
		}
		/* Answer from the address the request was sent to: on a DR real server that is the VIP
		 * (on lo), while the route back to the client would pick the RIP, whose reply a client
		 * that sent to the VIP drops. IP_PKTINFO's ipi_addr is that destination; sent back as
		 * ipi_spec_dst it is the reply's source (ipi_ifindex 0: routed as usual). */
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (c && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
			m.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
		} else {
			m.msg_control = NULL;
			m.msg_controllen = 0;
		}
		iov.iov_len = (size_t)n;
		/* A failed send (the client's neighbour not resolved yet, a full buffer) is a lost reply,
		 * which the client counts; the server carries on. */
		sendmsg(fd, &m, 0);
	}
}

/* wait_reply FD SEQ BUF LEN DEADLINE_US: 1 when the reply carrying SEQ arrived before DEADLINE_US,
 * 0 when it did not (timeout, or an error such as ECONNREFUSED from an ICMP port unreachable).
 * Replies with another sequence number are read and dropped. */
static int wait_reply(int fd, uint64_t seq, char *buf, size_t len, double deadline_us)
{
	for (;;) {
		double left = deadline_us - now_us();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long ns = (long long)(left * 1e3);
		struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
		int rc = ppoll(&p, 1, &ts, NULL);
		if (rc < 0 && errno != EINTR)
			return 0;
		if (rc <= 0)
			continue;
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return 0;
		}
		uint64_t got;
		if ((size_t)n >= SEQ_LEN) {
			memcpy(&got, buf, SEQ_LEN);
			if (got == seq)
				return 1;
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long count = 0, gap_us = 200, srv_port = 0, timeout_ms = 200, len = 64;
	double seconds = 0;
	const char *targets[TARGETS_MAX];
	int nt = 0, opt;
	while ((opt = getopt(argc, argv, "s:c:n:t:w:T:l:")) != -1) {
		switch (opt) {
		case 's': srv_port = strtoul(optarg, NULL, 0); break;
		case 'c':
			if (nt == TARGETS_MAX) {
				fprintf(stderr, "udprr: at most %d targets\n", TARGETS_MAX);
				return 2;
			}
			targets[nt++] = optarg;
			break;
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'w': gap_us = strtoul(optarg, NULL, 0); break;
		case 'T': timeout_ms = strtoul(optarg, NULL, 0); break;
		case 'l': len = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "udprr: -t SECONDS (up to 3600) is required\n");
		return 2;
	}
	if (srv_port) {
		if (srv_port > 65535 || nt)
			return 2;
		return server((unsigned)srv_port, seconds);
	}
	if (!count || count > 10000000 || nt < 1 || !timeout_ms || timeout_ms > 10000 || len < SEQ_LEN ||
	    len > LEN_MAX || gap_us > 1000000) {
		fprintf(stderr, "usage: udprr -c ADDR:PORT [-c ADDR:PORT...] -n COUNT -t SECONDS [-w GAP_US] "
				"[-T TIMEOUT_MS] [-l %d..%d] | -s PORT -t SECONDS\n", SEQ_LEN, LEN_MAX);
		return 2;
	}
	int fd[TARGETS_MAX];
	double *rtt[TARGETS_MAX];
	unsigned long sent[TARGETS_MAX] = { 0 }, lost[TARGETS_MAX] = { 0 };
	unsigned n[TARGETS_MAX] = { 0 };
	for (int i = 0; i < nt; i++) {
		char host[64];
		unsigned port;
		struct sockaddr_in dst = { .sin_family = AF_INET };
		if (sscanf(targets[i], "%63[^:]:%u", host, &port) != 2 || !port || port > 65535 ||
		    inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
			fprintf(stderr, "udprr: bad target %s (want ADDR:PORT)\n", targets[i]);
			return 2;
		}
		dst.sin_port = htons((uint16_t)port);
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("udprr: socket/connect");
			return 1;
		}
		rtt[i] = malloc(count * sizeof(double));
		if (!rtt[i])
			return 1;
	}
	char req[LEN_MAX], rep[LEN_MAX]; /* a longer reply is cut, which keeps its sequence number */
	memset(req, 'r', sizeof(req));
	struct timespec gap = { (time_t)(gap_us / 1000000), (long)(gap_us % 1000000) * 1000 };
	uint64_t seq = 0;
	double end = now_us() + seconds * 1e6;
	for (unsigned long r = 0; r < count && now_us() < end; r++) {
		for (int i = 0; i < nt; i++) {
			seq++;
			memcpy(req, &seq, SEQ_LEN);
			sent[i]++;
			double t0 = now_us();
			if (send(fd[i], req, len, 0) == (ssize_t)len &&
			    wait_reply(fd[i], seq, rep, sizeof(rep), t0 + (double)timeout_ms * 1e3))
				rtt[i][n[i]++] = now_us() - t0;
			else
				lost[i]++;
			if (gap_us)
				nanosleep(&gap, NULL);
		}
	}
	for (int i = 0; i < nt; i++) {
		double sum = 0;
		for (unsigned k = 0; k < n[i]; k++)
			sum += rtt[i][k];
		qsort(rtt[i], n[i], sizeof(double), cmp_double);
		printf("{\"target\":\"%s\",\"count\":%lu,\"lost\":%lu,\"minUs\":%.1f,\"p50Us\":%.1f,\"p90Us\":%.1f,"
		       "\"p99Us\":%.1f,\"maxUs\":%.1f,\"meanUs\":%.1f}\n",
		       targets[i], sent[i], lost[i], n[i] ? rtt[i][0] : -1, pct(rtt[i], n[i], 0.5),
		       pct(rtt[i], n[i], 0.9), pct(rtt[i], n[i], 0.99), n[i] ? rtt[i][n[i] - 1] : -1,
		       n[i] ? sum / n[i] : -1);
		free(rtt[i]);
		close(fd[i]);
	}
	return 0;
}
