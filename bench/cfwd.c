/*
 * cfwd — the ceiling of ringvs's design: a DR or TUN forwarder in plain C with nothing but the ring.
 *
 *   cfwd -i IF -m DSTMAC -v VIP -t SECONDS [-T SADDR,DADDR [-M MTU]] [-b BLOCK_SIZE] [-n BLOCK_COUNT]
 *        [-o TIMEOUT_MS]
 *
 * Same mechanism as native/ring.c with ringvs's default geometry (8 KiB blocks x 4096, 1 ms block
 * retire timeout): one AF_PACKET socket, TPACKET_V3 RX ring, PACKET_QDISC_BYPASS and
 * PACKET_IGNORE_OUTGOING, every ready block taken at once, frames sent with sendmmsg whose iovecs
 * point into the ring, MACs rewritten in place. What it leaves out is everything ringvs adds on
 * top: no descriptor parse, no flow table, no scheduler, no FFI, no checksum completion. Every
 * untagged IPv4 frame to VIP goes to DSTMAC; anything else is left to the kernel.
 *
 * -T SADDR,DADDR: IP Tunneling instead of DR, the same encapsulation as native/ring.c's
 * rv_queue_tun. Each frame leaves as one message of two iovecs: a 34-byte Ethernet (DSTMAC, the
 * next hop; our MAC) + outer IPv4 header (SADDR -> DADDR, protocol 4, ID from one counter, TOS,
 * TTL and DF copied from the inner header, header checksum) from per-message scratch, then the
 * inner IP packet (its total length, Ethernet padding left out) straight from the ring. When
 * inner + 20 exceeds MTU (-M, default the interface's): an inner packet with DF is dropped and
 * counted (the shim would answer ICMP "fragmentation needed", rate-limited; cfwd does not), one
 * without DF is sent as outer fragments of (MTU - 20) & ~7 inner bytes each, one ID per packet,
 * at most 4 pieces (the shim's limit). "forwarded" counts frames sent (fragments each),
 * "tunPackets" inner packets encapsulated.
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
#include <net/if.h>
#include <sys/ioctl.h>
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
/* TUN: a packet may become this many outer fragments (native/ring.c RV_MSGS_PER_DESC). */
#define MSGS_PER_FRAME 4
#define MSG_MAX (BATCH_MAX * MSGS_PER_FRAME)
#define HDR_BYTES 64 /* scratch per message: Ethernet + outer IPv4 (34), cache-line spaced */

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
	uint64_t tun_packets, tun_fragmented, tun_too_big, malformed;
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
	       "\"tunPackets\":%llu,\"tunFragmented\":%llu,\"tunTooBig\":%llu,\"malformed\":%llu,\"wall\":%.3f}\n",
	       event, (unsigned long long)t->fwd, (unsigned long long)t->rx, (unsigned long long)t->tx_err,
	       (unsigned long long)t->blocks, (unsigned long long)t->batches, (unsigned long long)t->k_packets,
	       (unsigned long long)t->k_drops, user, sys, (unsigned long long)t->tun_packets,
	       (unsigned long long)t->tun_fragmented, (unsigned long long)t->tun_too_big,
	       (unsigned long long)t->malformed, wall);
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
	fprintf(stderr, "usage: cfwd -i IF -m DSTMAC -v VIP -t SECONDS [-T SADDR,DADDR [-M MTU]] [-b BLOCK_SIZE]\n"
			"            [-n BLOCK_COUNT] [-o TIMEOUT_MS]\n");
	exit(2);
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The IPv4 header checksum of the 20 bytes at ip (checksum field zero), as the shim sums it. */
static uint16_t ip_header_csum(const uint8_t *ip)
{
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += rd16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

struct tunnel {
	uint8_t dmac[6], smac[6];
	uint32_t saddr_be, daddr_be;
	uint32_t mtu;
	uint16_t id; /* outer identification, one counter (native/ring.c: one per handle) */
};

/* Ethernet + outer IPv4 into hdr (34 bytes), as native/ring.c rv_outer_header. */
static void outer_header(const struct tunnel *t, uint8_t *hdr, const uint8_t *inner, uint16_t outer_len,
			 uint16_t frag_field)
{
	memcpy(hdr, t->dmac, 6);
	memcpy(hdr + 6, t->smac, 6);
	wr16(hdr + 12, ETH_P_IP);
	uint8_t *ip = hdr + 14;
	ip[0] = 0x45;
	ip[1] = inner[1];           /* TOS copied */
	wr16(ip + 2, outer_len);
	wr16(ip + 4, t->id);
	wr16(ip + 6, frag_field);
	ip[8] = inner[8];           /* TTL copied */
	ip[9] = 4;                  /* IPPROTO_IPIP */
	ip[10] = 0;
	ip[11] = 0;
	memcpy(ip + 12, &t->saddr_be, 4);
	memcpy(ip + 16, &t->daddr_be, 4);
	wr16(ip + 10, ip_header_csum(ip));
}

static inline void set_msg(struct mmsghdr *msgs, struct iovec *iovs, uint32_t m, void *a, size_t alen, void *b,
			   size_t blen)
{
	iovs[2 * m].iov_base = a;
	iovs[2 * m].iov_len = alen;
	iovs[2 * m + 1].iov_base = b;
	iovs[2 * m + 1].iov_len = blen;
	msgs[m].msg_hdr.msg_iovlen = blen ? 2 : 1;
}

/* Queue frame f (Ethernet + IPv4 at 14, snaplen len) IPIP-encapsulated from message n on; returns
 * the new message count. Mirrors native/ring.c rv_queue_tun (the ICMP reply aside). */
static uint32_t queue_tun(struct tunnel *t, struct totals *tot, struct mmsghdr *msgs, struct iovec *iovs,
			  uint8_t *hdrs, uint32_t n, uint8_t *f, uint32_t len)
{
	uint8_t *inner = f + 14;
	uint32_t ilen = rd16(inner + 2);
	if ((inner[0] >> 4) != 4 || (inner[0] & 0x0f) < 5 || ilen < (uint32_t)(inner[0] & 0x0f) * 4 || ilen > len - 14) {
		tot->malformed++;
		return n;
	}
	uint16_t frag = rd16(inner + 6);
	if (ilen + 20 <= t->mtu) {
		uint8_t *hdr = hdrs + (size_t)n * HDR_BYTES;
		outer_header(t, hdr, inner, (uint16_t)(ilen + 20), frag & 0x4000);
		t->id++;
		set_msg(msgs, iovs, n, hdr, 34, inner, ilen);
		tot->tun_packets++;
		return n + 1;
	}
	if (frag & 0x4000) {
		tot->tun_too_big++;
		return n;
	}
	uint32_t chunk = (t->mtu - 20) & ~7u;
	if ((ilen + chunk - 1) / chunk > MSGS_PER_FRAME) {
		tot->tun_too_big++;
		return n;
	}
	for (uint32_t off = 0; off < ilen; off += chunk) {
		uint32_t piece = ilen - off < chunk ? ilen - off : chunk;
		uint16_t field = (uint16_t)((off / 8) | (off + piece < ilen ? 0x2000 : 0));
		uint8_t *hdr = hdrs + (size_t)n * HDR_BYTES;
		outer_header(t, hdr, inner, (uint16_t)(piece + 20), field);
		set_msg(msgs, iovs, n, hdr, 34, inner + off, piece);
		n++;
	}
	t->id++;
	tot->tun_packets++;
	tot->tun_fragmented++;
	return n;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	uint8_t dmac[6], smac[6];
	int have_dmac = 0;
	struct in_addr vip = { 0 };
	double seconds = 0;
	unsigned block_size = 8192, block_count = 4096, timeout_ms = 1, mtu = 0;
	int tun = 0;
	struct tunnel tn;
	memset(&tn, 0, sizeof(tn));
	int opt;
	while ((opt = getopt(argc, argv, "i:m:v:t:T:M:b:n:o:")) != -1) {
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
		case 'T': {
			char a[INET_ADDRSTRLEN + 1], b[INET_ADDRSTRLEN + 1];
			struct in_addr sa4, da4;
			const char *comma = strchr(optarg, ',');
			if (!comma || (size_t)(comma - optarg) >= sizeof(a) || strlen(comma + 1) >= sizeof(b))
				usage();
			memcpy(a, optarg, (size_t)(comma - optarg));
			a[comma - optarg] = 0;
			strcpy(b, comma + 1);
			if (inet_pton(AF_INET, a, &sa4) != 1 || inet_pton(AF_INET, b, &da4) != 1)
				usage();
			tn.saddr_be = sa4.s_addr;
			tn.daddr_be = da4.s_addr;
			tun = 1;
			break;
		}
		case 'M': mtu = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': block_size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': block_count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!ifname || !have_dmac || !vip.s_addr || seconds <= 0 || seconds > 3600 || block_size < 4096 ||
	    (block_size & (block_size - 1)) || block_count < 2 || !timeout_ms || (mtu && (mtu < 68 || mtu > 65535)) ||
	    (mtu && !tun))
		usage();

	int ifindex;
	int fd = bench_packet_socket("cfwd", ifname, &ifindex, smac);
	if (fd < 0)
		return 1;
	if (tun) {
		memcpy(tn.dmac, dmac, 6);
		memcpy(tn.smac, smac, 6);
		if (!mtu) {
			struct ifreq ifr;
			memset(&ifr, 0, sizeof(ifr));
			strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
			if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
				perror("cfwd: SIOCGIFMTU");
				return 1;
			}
			mtu = (unsigned)ifr.ifr_mtu;
		}
		tn.mtu = mtu;
	}

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

	/* Up to MSGS_PER_FRAME messages per frame (TUN fragments), two iovecs each (outer header in
	 * hdrs, inner packet in the ring); DR uses the first iovec only. */
	static struct mmsghdr msgs[MSG_MAX];
	static struct iovec iovs[2 * MSG_MAX];
	static uint8_t hdrs[(size_t)MSG_MAX * HDR_BYTES] __attribute__((aligned(64)));
	for (int i = 0; i < MSG_MAX; i++) {
		msgs[i].msg_hdr.msg_iov = &iovs[2 * i];
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
		/* n counts messages, queued the frames behind them (equal in DR; in TUN a frame may be
		 * up to MSGS_PER_FRAME messages, which MSG_MAX leaves room for). A block adds at most
		 * per_block frames. */
		uint32_t first = next, held = 0, n = 0, queued = 0;
		while (held < block_count && queued + per_block <= BATCH_MAX) {
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
						queued++;
						if (tun) {
							n = queue_tun(&tn, &tot, msgs, iovs, hdrs, n, f, len);
						} else {
							memcpy(f, dmac, 6);
							memcpy(f + 6, smac, 6);
							set_msg(msgs, iovs, n, f, len, NULL, 0);
							n++;
						}
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
