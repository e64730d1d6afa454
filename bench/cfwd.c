/*
 * cfwd — the ceiling of ringvs's design: a DR forwarder in plain C with nothing but the ring.
 *
 *   cfwd -i IF -m DSTMAC -v VIP -t SECONDS [-b BLOCK_SIZE] [-n BLOCK_COUNT] [-o TIMEOUT_MS]
 *
 * Same mechanism as native/ring.c with ringvs's default geometry (64 KiB blocks x 512, 1 ms block
 * retire timeout): one AF_PACKET socket, TPACKET_V3 RX ring, PACKET_QDISC_BYPASS and
 * PACKET_IGNORE_OUTGOING, every ready block taken at once, frames sent with sendmmsg whose iovecs
 * point into the ring, MACs rewritten in place. What it leaves out is everything ringvs adds on
 * top: no descriptor parse, no flow table, no scheduler, no FFI, no checksum completion. Every
 * untagged IPv4 frame to VIP goes to DSTMAC; anything else is left to the kernel.
 *
 * Bounded: exits after SECONDS (or on SIGINT/SIGTERM) and prints one JSON line with what it
 * forwarded, the kernel's ring drops and its own CPU time (getrusage), so a runner can compute
 * CPU seconds per million packets without trusting anything outside the process. SIGUSR1 prints
 * the same line ("event":"stats") without stopping, as `ringvs serve` does.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/cfwd bench/cfwd.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "afpacket.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* Same as ringvs: the kernel caps sendmmsg's vlen at UIO_MAXIOV, and a batch holds at most this
 * many frames (native/ring.c takes blocks while a whole block's worth of minimum frames fits). */
#define SENDMMSG_MAX 1024
#define BATCH_MAX 8192
#define POLL_MS 10

static volatile sig_atomic_t stop, report;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

struct totals {
	uint64_t rx, fwd, tx_err, blocks, batches, k_packets, k_drops;
};

/* One JSON line; PACKET_STATISTICS resets on read, so the kernel's numbers are accumulated. */
static void print_totals(int fd, const char *event, struct totals *t, double wall)
{
	struct tpacket_stats_v3 st;
	socklen_t sl = sizeof(st);
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) {
		t->k_packets += st.tp_packets;
		t->k_drops += st.tp_drops;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("{\"event\":\"%s\",\"forwarded\":%llu,\"rxFrames\":%llu,\"txErrors\":%llu,\"blocks\":%llu,"
	       "\"batches\":%llu,\"kernelPackets\":%llu,\"kernelDrops\":%llu,\"cpuUser\":%.3f,\"cpuSys\":%.3f,"
	       "\"wall\":%.3f}\n",
	       event, (unsigned long long)t->fwd, (unsigned long long)t->rx, (unsigned long long)t->tx_err,
	       (unsigned long long)t->blocks, (unsigned long long)t->batches, (unsigned long long)t->k_packets,
	       (unsigned long long)t->k_drops, user, sys, wall);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: cfwd -i IF -m DSTMAC -v VIP -t SECONDS [-b BLOCK_SIZE] [-n BLOCK_COUNT] [-o TIMEOUT_MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	uint8_t dmac[6], smac[6];
	int have_dmac = 0;
	struct in_addr vip = { 0 };
	double seconds = 0;
	unsigned block_size = 65536, block_count = 512, timeout_ms = 1;
	int opt;
	while ((opt = getopt(argc, argv, "i:m:v:t:b:n:o:")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'm':
			if (bench_parse_mac(optarg, dmac))
				usage();
			have_dmac = 1;
			break;
		case 'v':
			if (inet_pton(AF_INET, optarg, &vip) != 1)
				usage();
			break;
		case 't': seconds = atof(optarg); break;
		case 'b': block_size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': block_count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!ifname || !have_dmac || !vip.s_addr || seconds <= 0 || seconds > 3600 || block_size < 4096 ||
	    (block_size & (block_size - 1)) || block_count < 2 || !timeout_ms)
		usage();

	int ifindex;
	int fd = bench_packet_socket("cfwd", ifname, &ifindex, smac);
	if (fd < 0)
		return 1;

	int one = 1, v3 = TPACKET_V3;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof(v3)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		perror("cfwd: setsockopt");
		return 1;
	}
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = block_size;
	req.tp_block_nr = block_count;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = (block_size / 2048) * block_count;
	req.tp_retire_blk_tov = timeout_ms;
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0) {
		perror("cfwd: PACKET_RX_RING");
		return 1;
	}
	size_t ring_bytes = (size_t)block_size * block_count;
	uint8_t *ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (ring == MAP_FAILED) {
		perror("cfwd: mmap");
		return 1;
	}
	if (bench_packet_bind(fd, ifindex, ETH_P_ALL) < 0) {
		perror("cfwd: bind");
		return 1;
	}

	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iovs[BATCH_MAX];
	for (int i = 0; i < BATCH_MAX; i++) {
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	/* The first line tells the runner the ring is bound and frames are being taken. */
	printf("{\"event\":\"ready\",\"pid\":%d}\n", (int)getpid());
	fflush(stdout);

	struct totals tot = { 0 };
	uint32_t next = 0, per_block = block_size / 64;
	const uint32_t vip_be = vip.s_addr;
	double t0 = now_s(), deadline = t0 + seconds;
	while (!stop) {
		if (report) {
			report = 0;
			print_totals(fd, "stats", &tot, now_s() - t0);
		}
		struct tpacket_block_desc *bd = (void *)(ring + (size_t)next * block_size);
		/* Acquire: pairs with the kernel's release of the block; frames are valid after this. */
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
			if (now_s() >= deadline)
				break;
			struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLERR };
			poll(&pfd, 1, POLL_MS);
			continue;
		}
		uint32_t first = next, held = 0, n = 0;
		while (held < block_count && n + per_block <= BATCH_MAX) {
			bd = (void *)(ring + (size_t)next * block_size);
			if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break;
			uint32_t num = bd->hdr.bh1.num_pkts;
			struct tpacket3_hdr *ph = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
			for (uint32_t i = 0; i < num; i++) {
				uint8_t *f = (uint8_t *)ph + ph->tp_mac;
				uint32_t len = ph->tp_snaplen;
				uint32_t daddr;
				tot.rx++;
				if (len >= 34 && f[12] == 0x08 && f[13] == 0x00) {
					memcpy(&daddr, f + 30, 4);
					if (daddr == vip_be) {
						memcpy(f, dmac, 6);
						memcpy(f + 6, smac, 6);
						iovs[n].iov_base = f;
						iovs[n].iov_len = len;
						n++;
					}
				}
				ph = (void *)((uint8_t *)ph + ph->tp_next_offset);
			}
			held++;
			next = (next + 1) % block_count;
		}
		for (uint32_t sent = 0; sent < n;) {
			uint32_t chunk = n - sent > SENDMMSG_MAX ? SENDMMSG_MAX : n - sent;
			int r = sendmmsg(fd, msgs + sent, chunk, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				tot.tx_err++;
				sent++;
				continue;
			}
			sent += (uint32_t)r;
			tot.fwd += (uint64_t)r;
		}
		for (uint32_t i = 0; i < held; i++) {
			bd = (void *)(ring + (size_t)((first + i) % block_count) * block_size);
			/* Release: our reads of the frames and the sendmmsg copies are done before the kernel
			 * sees the block as its own again. */
			__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		}
		tot.blocks += held;
		tot.batches++;
		if (now_s() >= deadline)
			break;
	}
	print_totals(fd, "stopped", &tot, now_s() - t0);
	munmap(ring, ring_bytes);
	close(fd);
	return 0;
}
