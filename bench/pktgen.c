/*
 * pktgen — a bounded frame generator for the forwarding benchmarks.
 *
 *   pktgen -i IF -m DSTMAC -s SRCIP -d VIP -p PORT -c COUNT -t SECONDS
 *          [-l 64..1514] [-f FLOWS] [-o FIRST_FLOW] [-n | -e] [-P udp|tcp] [-r PPS] [-B BATCH] [-D]
 *          [-A ADDRS]
 *
 * Prebuilds one frame per flow (source ports 10000.., complete IPv4 and L4 checksums, so the
 * receiving ring sees no TP_STATUS_CSUMNOTREADY and neither forwarder completes a checksum) and
 * sends them round-robin over the flows with sendmmsg from an AF_PACKET socket bound with
 * protocol 0 (it never receives) and PACKET_QDISC_BYPASS. DSTMAC is the director's MAC: no ARP.
 *
 * -P udp (default): every frame is the same UDP datagram per flow, so after the first round each
 *   packet is an established-flow lookup in ringvs. UDP keeps the measurement about forwarding:
 *   no TCP state, no ordering constraint between a flow's first and later packets.
 * -P tcp: the first round sends one SYN per flow, every later frame is an ACK of that flow, so
 *   ringvs schedules on the SYN and looks the flow up for every ACK, as IPVS would.
 *
 * Flows: flow f (FIRST_FLOW <= f < FIRST_FLOW + FLOWS) has source port 10000 + f % 50000 and
 *   source address SRCIP + f / 50000, so FLOWS may exceed the 50000 ports of one address (up to
 *   FLOWS_MAX tuples; pick an SRCIP with room above it, nothing answers these sources). -o moves
 *   the window, so consecutive runs can each send never-seen tuples. -A ADDRS (1..256) rotates
 *   consecutive flows over ADDRS source addresses SRCIP, SRCIP + 1, ... instead (flow f from
 *   address f % ADDRS), so a director that fans out by client address sees many clients. Up to PREBUILT_MAX bytes of
 *   frames are prebuilt; beyond that each frame is built as it is sent (slower generator: fine
 *   for filling a flow table or a paused forwarder's ring, not for a steady-rate figure).
 * -n: every frame is its flow's first packet (TCP: a SYN). With FLOWS >= COUNT every frame is a
 *   new flow to the forwarder: lookup miss, scheduling, insert.
 * -e: never send the first packets (TCP: ACKs only), for flows a previous run already opened.
 *
 * Stops at COUNT frames or SECONDS, whichever comes first (both required), or on SIGINT/SIGTERM.
 * -r paces to PPS (0 = as fast as the core allows). -l is the frame length without FCS (default 64;
 * 1514 is a full 1500-byte IP packet). Frames carry DF unless -D clears it (an IPIP director then
 * fragments an inner packet above MTU - 20 instead of refusing it). Prints one JSON line: frames
 * sent, frames the kernel refused, elapsed seconds, own CPU seconds (getrusage).
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/pktgen bench/pktgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "afpacket.h"

#define BATCH_MAX 1024 /* UIO_MAXIOV: the kernel caps sendmmsg's vlen there */
#define PORTS_PER_ADDR 50000 /* source ports 10000..59999 per source address */
#define FLOWS_MAX (PORTS_PER_ADDR * 256u) /* FIRST_FLOW + FLOWS: at most 256 source addresses */
#define SPORT_BASE 10000
#define PREBUILT_MAX (64u << 20) /* bytes of prebuilt frames; more flows are built per send */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	for (; len >= 2; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 (20) + UDP (8) or TCP (20) + zero payload, padded to len bytes of frame. */
static void build_frame(uint8_t *f, uint32_t len, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr,
			uint32_t daddr, uint16_t sport, uint16_t dport, int tcp, uint8_t tcp_flags, uint16_t id, int df)
{
	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, ETH_P_IP);
	uint8_t *ip = f + 14;
	uint16_t tot = (uint16_t)(len - 14);
	ip[0] = 0x45;
	put16(ip + 2, tot);
	put16(ip + 4, id);
	put16(ip + 6, df ? 0x4000 : 0);
	ip[8] = 64;
	ip[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	uint8_t *l4 = ip + 20;
	uint16_t l4len = (uint16_t)(tot - 20);
	put16(l4, sport);
	put16(l4 + 2, dport);
	if (tcp) {
		put16(l4 + 4, 0x1000); /* seq 4096 */
		if (tcp_flags & 0x10)
			put16(l4 + 10, 0x2000); /* ack 8192 */
		l4[12] = 5 << 4;
		l4[13] = tcp_flags;
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, l4len);
	}
	uint32_t sum = csum_add(0, ip + 12, 8);
	sum += ip[9];
	sum += l4len;
	sum = csum_add(sum, l4, l4len);
	uint16_t c = csum_fold(sum);
	if (!tcp && c == 0)
		c = 0xffff;
	put16(l4 + (tcp ? 16 : 6), c);
}

/* -A: consecutive flows rotate over this many source addresses (1 = fill one address's ports first). */
static unsigned spread = 1;

/* Flow f, with a = f % spread and k = f / spread: source port SPORT_BASE + k % PORTS_PER_ADDR,
 * source address saddr + a + spread * (k / PORTS_PER_ADDR). With spread 1: port f % 50000,
 * address + f / 50000. */
static void build_flow(uint8_t *f, uint32_t len, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr_be,
		       uint32_t daddr_be, unsigned flow, uint16_t dport, int tcp, uint8_t tcp_flags, int df)
{
	unsigned k = flow / spread;
	uint32_t saddr = htonl(ntohl(saddr_be) + flow % spread + spread * (k / PORTS_PER_ADDR));
	build_frame(f, len, dmac, smac, saddr, daddr_be, (uint16_t)(SPORT_BASE + k % PORTS_PER_ADDR), dport, tcp,
		    tcp_flags, (uint16_t)flow, df);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pktgen -i IF -m DSTMAC -s SRCIP -d VIP -p PORT -c COUNT -t SECONDS [-l 64..1514] [-f FLOWS]\n"
		"              [-o FIRST_FLOW] [-n | -e] [-P udp|tcp] [-r PPS] [-B BATCH] [-D] [-A ADDRS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	uint8_t dmac[6], smac[6];
	int have_dmac = 0, tcp = 0, df = 1;
	struct in_addr src = { 0 }, dst = { 0 };
	unsigned port = 0, frame_len = 64, flows = 1024, batch = 256, first_flow = 0;
	int all_first = 0, no_first = 0;
	unsigned long long count = 0;
	double seconds = 0, rate = 0;
	int opt;
	while ((opt = getopt(argc, argv, "A:i:m:s:d:p:c:t:l:f:o:neP:r:B:D")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'm':
			if (bench_parse_mac(optarg, dmac))
				usage();
			have_dmac = 1;
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &src) != 1)
				usage();
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &dst) != 1)
				usage();
			break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'c': count = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'l': frame_len = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'f': flows = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': first_flow = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': all_first = 1; break;
		case 'e': no_first = 1; break;
		case 'P':
			if (strcmp(optarg, "tcp") == 0)
				tcp = 1;
			else if (strcmp(optarg, "udp") != 0)
				usage();
			break;
		case 'r': rate = atof(optarg); break;
		case 'B': batch = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'D': df = 0; break;
		case 'A': spread = (unsigned)strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	/* Both bounds are mandatory: a generator left running would flood the lab. */
	if (!ifname || !have_dmac || !src.s_addr || !dst.s_addr || !port || port > 65535 || !count ||
	    seconds <= 0 || seconds > 600 || frame_len < 64 || frame_len > 1514 || !flows ||
	    flows > FLOWS_MAX || first_flow > FLOWS_MAX - flows || (all_first && no_first) || !batch || batch > BATCH_MAX || rate < 0 ||
	    !spread || spread > 256)
		usage();

	int ifindex;
	int fd = bench_packet_socket("pktgen", ifname, &ifindex, smac);
	if (fd < 0)
		return 1;
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		perror("pktgen: PACKET_QDISC_BYPASS");
		return 1;
	}
	/* Protocol 0: the socket is only for sending; nothing is ever queued to it. */
	if (bench_packet_bind(fd, ifindex, 0) < 0) {
		perror("pktgen: bind");
		return 1;
	}

	/* steady[i]: UDP datagram or TCP ACK of flow i; first[i]: the TCP SYN sent once per flow.
	 * Prebuilt while they fit in PREBUILT_MAX; otherwise built per send into scratch[]. */
	int prebuilt = (uint64_t)flows * frame_len * (tcp ? 2 : 1) <= PREBUILT_MAX;
	uint8_t *steady = NULL, *first = NULL, *scratch = NULL;
	if (prebuilt) {
		steady = malloc((size_t)flows * frame_len);
		first = tcp ? malloc((size_t)flows * frame_len) : NULL;
		if (!steady || (tcp && !first)) {
			fprintf(stderr, "pktgen: out of memory\n");
			return 1;
		}
		for (unsigned i = 0; i < flows; i++) {
			build_flow(steady + (size_t)i * frame_len, frame_len, dmac, smac, src.s_addr, dst.s_addr,
				   first_flow + i, (uint16_t)port, tcp, 0x10, df);
			if (tcp)
				build_flow(first + (size_t)i * frame_len, frame_len, dmac, smac, src.s_addr,
					   dst.s_addr, first_flow + i, (uint16_t)port, 1, 0x02, df);
		}
	} else if (!(scratch = malloc((size_t)BATCH_MAX * frame_len))) {
		fprintf(stderr, "pktgen: out of memory\n");
		return 1;
	}
	static struct mmsghdr msgs[BATCH_MAX];
	static struct iovec iovs[BATCH_MAX];
	for (unsigned i = 0; i < BATCH_MAX; i++) {
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		iovs[i].iov_len = frame_len;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	unsigned long long sent = 0, errors = 0, calls = 0;
	double t0 = now_s(), deadline = t0 + seconds;
	while (!stop && sent < count) {
		double t = now_s();
		if (t >= deadline)
			break;
		if (rate > 0) {
			double due = t0 + (double)sent / rate;
			if (due > t) {
				double wait = due - t;
				struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);
				continue;
			}
		}
		unsigned n = batch;
		if ((unsigned long long)n > count - sent)
			n = (unsigned)(count - sent);
		for (unsigned k = 0; k < n; k++) {
			unsigned long long seq = sent + k;
			unsigned flow = (unsigned)(seq % flows);
			int is_first = tcp && !no_first && (all_first || seq < flows);
			if (prebuilt) {
				uint8_t *base = is_first ? first : steady;
				iovs[k].iov_base = base + (size_t)flow * frame_len;
			} else {
				iovs[k].iov_base = scratch + (size_t)k * frame_len;
				build_flow(iovs[k].iov_base, frame_len, dmac, smac, src.s_addr, dst.s_addr,
					   first_flow + flow, (uint16_t)port, tcp, is_first ? 0x02 : 0x10, df);
			}
		}
		calls++;
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS) {
				perror("pktgen: sendmmsg");
				break;
			}
			/* ENOBUFS: the first frame of the batch was refused; count it and move on, so the
			 * flow sequence (and TCP's SYN-first order) stays intact. */
			errors++;
			sent++;
			continue;
		}
		sent += (unsigned long long)r;
	}
	double elapsed = now_s() - t0;
	/* Our own CPU time; without IRQ_TIME_ACCOUNTING it includes the softirq work our sends run
	 * inline (a veth delivers in the sender's context: bridge, director ingress, its ring tap). */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	/* "sent" counts frames handed to sendmmsg including refused ones; "frames" excludes them. */
	printf("{\"event\":\"done\",\"frames\":%llu,\"refused\":%llu,\"calls\":%llu,\"seconds\":%.3f,\"cpu\":%.3f,\"frameLen\":%u,"
	       "\"flows\":%u,\"firstFlow\":%u,\"prebuilt\":%s,\"proto\":\"%s\",\"df\":%s}\n",
	       sent - errors, errors, calls, elapsed, cpu, frame_len, flows, first_flow, prebuilt ? "true" : "false", tcp ? "tcp" : "udp", df ? "true" : "false");
	free(scratch);
	free(first);
	free(steady);
	close(fd);
	return 0;
}
