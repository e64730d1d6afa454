/*
 * txmethods — which AF_PACKET transmit path should ringvs keep?
 *
 * The issue asked for "PACKET_QDISC_BYPASS via a TX ring or sendmmsg — measure both and keep the
 * faster". This program answers it in one run, on one interface, with prebuilt IPv4/UDP frames:
 *
 *   (1) sendmmsg, PACKET_QDISC_BYPASS, frames in a malloc buffer   (what native/ring.c does)
 *   (2) sendmmsg without QDISC_BYPASS (dev_queue_xmit: qdisc layer, taps)
 *   (3) TPACKET_V2 TX ring, QDISC_BYPASS: memcpy each frame into a slot, one
 *       sendto(fd, NULL, 0, 0, NULL, 0) kick per batch
 *   (4) TPACKET_V3 TX ring, same as (3) (V3 TX uses fixed frames like V2; the kernel rejects a
 *       nonzero tp_retire_blk_tov, tp_sizeof_priv, tp_feature_req_word or tp_next_offset)
 *   (5) as (1), but the frames live in a MAP_SHARED anonymous mapping, like ring memory
 *
 * Each method runs for every frame size (64, 1400 bytes) and batch size (256, 1024 frames per
 * sendmmsg call or per ring kick), REPS times, interleaved so that drift hits every method alike.
 * Every run is bounded by a frame count and a time limit. Per run it measures: frames the sender
 * got accepted, frames the peer interface counted (rx_packets delta from `ip -s -j link` in the
 * peer namespace: a veth counts a frame there once it sits in the peer's backlog), wall time,
 * getrusage user+sys of this process (tick-based accounting charges softirq work done on our
 * behalf to us as well), and the busy time of the core we are pinned to (/proc/stat, which also
 * catches any ksoftirqd work). It prints medians and ratios against (1) at the same size and batch.
 *
 * The 64-byte frame is 64 bytes handed to the socket (Ethernet + IPv4 + UDP + 22 bytes of
 * payload; no FCS). Destination: the peer's MAC, 198.18.1.200 — not a local address of the peer
 * and forwarding is off there, so its stack drops the frame silently (no ICMP back).
 *
 * Run it through bench/txmethods.sh, which builds the namespaces and pins this process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sched.h>
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

/* One prebuilt frame per slot of the largest batch, so every iovec of a batch points at a
 * different frame (distinct source ports), as a forwarder's batch would. */
#define POOL 1024
/* Pool stride and TX-ring frame size: 1400 bytes + the 48-byte tpacket3 header fit in 2048. */
#define STRIDE 2048
/* TX ring: 32 frames per 64 KiB block, 128 blocks = 4096 slots, four times the largest batch,
 * so a batch never waits for the slots of the batch before it. */
#define RING_BLOCK (1u << 16)
#define RING_BLOCKS 128u
#define RING_FRAMES (RING_BLOCK / STRIDE * RING_BLOCKS)
#define WARMUP_FRAMES 100000u
#define MAX_REPS 9

enum method { M_MMSG_BYP, M_MMSG_QDISC, M_RING_V2, M_RING_V3, M_MMSG_MMAP, M_COUNT };

static const char *const method_name[M_COUNT] = {
	"(1) sendmmsg, bypass",
	"(2) sendmmsg, qdisc path",
	"(3) TX ring V2, bypass",
	"(4) TX ring V3, bypass",
	"(5) sendmmsg, bypass, mmap buf",
};

static const unsigned sizes[] = { 64, 1400 };
static const unsigned batches[] = { 256, 1024 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NBATCHES (sizeof(batches) / sizeof(batches[0]))

struct result {
	uint64_t sent;     /* frames the kernel accepted */
	int64_t peer_rx;   /* rx_packets delta on the peer, -1 if unreadable */
	uint64_t errors;   /* failed calls / rejected frames */
	double secs;       /* wall time of the send loop */
	double cpu;        /* getrusage user+sys, seconds */
	double core;       /* busy seconds of our core from /proc/stat */
	double softirqd;   /* utime+stime of ksoftirqd/<our core>, seconds */
};

struct opts {
	const char *ifname, *peer_ns, *peer_if;
	uint8_t dst_mac[6];
	uint64_t frames;
	double limit;
	unsigned reps;
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Busy seconds (everything but idle and iowait) of one core, or -1. */
static double core_busy(int cpu)
{
	char want[16], line[256];
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	double busy = -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		unsigned long long v[8] = { 0 };
		if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
			busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
			       (double)sysconf(_SC_CLK_TCK);
		break;
	}
	fclose(f);
	return busy;
}

/* pid of ksoftirqd/<cpu>, or 0: softirq work that bh_enable could not finish inline moves there,
 * off our rusage, and that is worth seeing separately. */
static int ksoftirqd_pid(int cpu)
{
	char want[32], path[64], comm[64];
	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	for (int pid = 2; pid < 4096; pid++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int hit = fgets(comm, sizeof(comm), f) && strcmp(comm, want) == 0;
		fclose(f);
		if (hit)
			return pid;
	}
	return 0;
}

/* utime+stime of a task in seconds, or 0. */
static double task_cpu(int pid)
{
	char path[64], buf[512];
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields 14 and 15 (utime, stime) follow the ")" that closes the command name. */
	const char *s = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* rx_packets of the peer interface, read the way an operator would (`ip -s -j link`), or -1. */
static int64_t peer_rx_packets(const struct opts *o)
{
	char cmd[256], buf[8192];
	snprintf(cmd, sizeof(cmd), "ip -n %s -s -j link show dev %s 2>/dev/null", o->peer_ns,
		 o->peer_if);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	pclose(p);
	buf[n] = 0;
	const char *s = strstr(buf, "\"stats64\"");
	s = s ? strstr(s, "\"rx\"") : NULL;
	s = s ? strstr(s, "\"packets\":") : NULL;
	if (!s)
		return -1;
	return strtoll(s + strlen("\"packets\":"), NULL, 10);
}

static uint16_t csum16(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Frame i of the pool: Ethernet, IPv4 198.18.1.1 -> 198.18.1.200, UDP 10000+i -> 9, zero payload
 * up to len bytes. UDP checksum 0 (allowed for IPv4); the IPv4 header checksum is right. */
static void build_frame(uint8_t *f, unsigned len, unsigned i, const uint8_t src[6],
			const uint8_t dst[6])
{
	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	uint16_t ip_len = htons((uint16_t)(len - 14));
	ip[0] = 0x45;
	memcpy(ip + 2, &ip_len, 2);
	ip[8] = 64;
	ip[9] = 17;
	const uint8_t saddr[4] = { 198, 18, 1, 1 }, daddr[4] = { 198, 18, 1, 200 };
	memcpy(ip + 12, saddr, 4);
	memcpy(ip + 16, daddr, 4);
	uint16_t c = csum16(ip, 20);
	memcpy(ip + 10, &c, 2);
	uint8_t *udp = ip + 20;
	uint16_t sport = htons((uint16_t)(10000 + i)), dport = htons(9);
	uint16_t ulen = htons((uint16_t)(len - 34));
	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	memcpy(udp + 4, &ulen, 2);
}

/* A raw socket bound to the interface with protocol 0: it registers no receive hook, so the
 * measurement holds transmit work only. Returns the fd or -errno. */
static int open_tx_socket(int ifindex, int bypass, int tpacket_version)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		return -errno;
	int one = 1, err;
	if (tpacket_version &&
	    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &tpacket_version, sizeof(tpacket_version)) < 0)
		goto fail;
	if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		goto fail;
	if (bench_packet_bind(fd, ifindex, 0) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static void run_mmsg(int fd, uint8_t *pool, unsigned len, unsigned batch, uint64_t n, double limit,
		     struct result *r)
{
	static struct mmsghdr msgs[POOL];
	static struct iovec iov[POOL];
	memset(msgs, 0, sizeof(msgs));
	for (unsigned i = 0; i < batch; i++) {
		iov[i].iov_base = pool + (size_t)i * STRIDE;
		iov[i].iov_len = len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double t0 = now_mono(), deadline = t0 + limit;
	uint64_t done = 0; /* frames handed over, sent or failed */
	while (done < n && now_mono() < deadline) {
		unsigned b = n - done < batch ? (unsigned)(n - done) : batch, off = 0;
		while (off < b) {
			int k = sendmmsg(fd, msgs + off, b - off, 0);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				/* The first message failed (ENOBUFS, ENETDOWN): count it lost and go on,
				 * exactly as native/ring.c does. */
				r->errors++;
				off++;
				continue;
			}
			off += (unsigned)k;
			r->sent += (uint64_t)k;
		}
		done += b;
	}
	r->secs = now_mono() - t0;
}

struct ring {
	uint8_t *mem;
	size_t size;
	unsigned head;  /* next slot we fill */
	unsigned data_off;
	int v3;
};

static volatile uint32_t *slot_status(struct ring *rg, unsigned slot)
{
	uint8_t *h = rg->mem + (size_t)slot * STRIDE;
	return rg->v3 ? &((struct tpacket3_hdr *)h)->tp_status : &((struct tpacket2_hdr *)h)->tp_status;
}

/* One blocking kick: the kernel sends every SEND_REQUEST slot from its own head on and, since we
 * do not pass MSG_DONTWAIT, waits until their skbs are released, so the slots are AVAILABLE again
 * when it returns. Returns frames sent (the byte count over the frame length). */
static uint64_t ring_kick(int fd, unsigned len, struct result *r)
{
	for (;;) {
		ssize_t k = sendto(fd, NULL, 0, 0, NULL, 0);
		if (k >= 0)
			return (uint64_t)k / len;
		if (errno == EINTR)
			continue;
		r->errors++;
		return 0;
	}
}

static void run_ring(int fd, struct ring *rg, uint8_t *pool, unsigned len, unsigned batch,
		     uint64_t n, double limit, struct result *r)
{
	double t0 = now_mono(), deadline = t0 + limit;
	uint64_t filled = 0;
	while (filled < n && now_mono() < deadline) {
		unsigned b = n - filled < batch ? (unsigned)(n - filled) : batch;
		for (unsigned i = 0; i < b; i++) {
			unsigned slot = rg->head;
			volatile uint32_t *st = slot_status(rg, slot);
			/* Acquire: the kernel's AVAILABLE store (skb destructor) comes after its last
			 * read of the slot, so we may overwrite the slot once we see it. */
			uint32_t s = __atomic_load_n(st, __ATOMIC_ACQUIRE);
			while (s != TP_STATUS_AVAILABLE) {
				if (s & TP_STATUS_WRONG_FORMAT) {
					r->errors++;
					break;
				}
				/* Still queued from an earlier failed kick: push it out. */
				r->sent += ring_kick(fd, len, r);
				s = __atomic_load_n(st, __ATOMIC_ACQUIRE);
				if (s != TP_STATUS_AVAILABLE && now_mono() > deadline + 1.0) {
					r->errors++;
					goto out;
				}
			}
			uint8_t *h = rg->mem + (size_t)slot * STRIDE;
			memcpy(h + rg->data_off, pool + (size_t)(i % POOL) * STRIDE, len);
			if (rg->v3) {
				struct tpacket3_hdr *h3 = (struct tpacket3_hdr *)h;
				h3->tp_next_offset = 0; /* V3 TX: variable-sized slots are rejected */
				h3->tp_len = len;
				h3->tp_snaplen = len;
			} else {
				struct tpacket2_hdr *h2 = (struct tpacket2_hdr *)h;
				h2->tp_len = len;
				h2->tp_snaplen = len;
			}
			/* Release: publishes the frame bytes and tp_len to tpacket_snd, which reads
			 * the status before it touches the slot. */
			__atomic_store_n(st, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
			rg->head = (rg->head + 1) % RING_FRAMES;
		}
		filled += b;
		r->sent += ring_kick(fd, len, r);
	}
out:
	r->secs = now_mono() - t0;
}

/* Opens the socket (and ring), runs one method once, closes everything. -errno on setup failure. */
static int run_once(enum method m, int ifindex, uint8_t *pool_malloc, uint8_t *pool_mmap,
		    unsigned len, unsigned batch, uint64_t n, double limit, const struct opts *o,
		    int cpu, int ksd, struct result *r)
{
	int v = m == M_RING_V2 ? TPACKET_V2 : m == M_RING_V3 ? TPACKET_V3 : 0;
	int fd = open_tx_socket(ifindex, m != M_MMSG_QDISC, v), err = 0;
	if (fd < 0)
		return fd;
	struct ring rg = { 0 };
	if (v) {
		/* V3 TX insists that the block-timer and private-area fields stay 0. */
		struct tpacket_req3 req = {
			.tp_block_size = RING_BLOCK,
			.tp_block_nr = RING_BLOCKS,
			.tp_frame_size = STRIDE,
			.tp_frame_nr = RING_FRAMES,
		};
		socklen_t rl = v == TPACKET_V3 ? sizeof(req) : sizeof(struct tpacket_req);
		if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, rl) < 0) {
			err = -errno;
			goto out_fd;
		}
		rg.size = (size_t)RING_BLOCK * RING_BLOCKS;
		rg.mem = mmap(NULL, rg.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
		if (rg.mem == MAP_FAILED) {
			err = -errno;
			goto out_fd;
		}
		rg.v3 = v == TPACKET_V3;
		/* Without PACKET_TX_HAS_OFF the kernel takes the frame at tp_hdrlen - sockaddr_ll. */
		rg.data_off = rg.v3 ? TPACKET3_HDRLEN - sizeof(struct sockaddr_ll)
				    : TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
	}
	memset(r, 0, sizeof(*r));
	int64_t rx0 = o ? peer_rx_packets(o) : -1;
	double c0 = cpu_self(), k0 = core_busy(cpu), s0 = task_cpu(ksd);
	if (v)
		run_ring(fd, &rg, pool_malloc, len, batch, n, limit, r);
	else
		run_mmsg(fd, m == M_MMSG_MMAP ? pool_mmap : pool_malloc, len, batch, n, limit, r);
	r->cpu = cpu_self() - c0;
	r->core = core_busy(cpu) - k0;
	r->softirqd = task_cpu(ksd) - s0;
	int64_t rx1 = o ? peer_rx_packets(o) : -1;
	r->peer_rx = rx0 >= 0 && rx1 >= 0 ? rx1 - rx0 : -1;
	if (v)
		munmap(rg.mem, rg.size);
out_fd:
	close(fd);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: txmethods -i IFACE -d PEER_MAC -p PEER_NS -I PEER_IFACE [-n FRAMES] [-t SECONDS] "
		"[-r REPS]\n"
		"  -n frames per run (count bound, default 2000000)\n"
		"  -t seconds per run (time bound, default 3, at most 30)\n"
		"  -r repetitions (default 3, at most %d)\n",
		MAX_REPS);
}

int main(int argc, char **argv)
{
	struct opts o = { .frames = 2000000, .limit = 3, .reps = 3 };
	int have_mac = 0, c;
	while ((c = getopt(argc, argv, "i:d:p:I:n:t:r:")) != -1) {
		switch (c) {
		case 'i': o.ifname = optarg; break;
		case 'd': have_mac = bench_parse_mac(optarg, o.dst_mac) == 0; break;
		case 'p': o.peer_ns = optarg; break;
		case 'I': o.peer_if = optarg; break;
		case 'n': o.frames = strtoull(optarg, NULL, 10); break;
		case 't': o.limit = strtod(optarg, NULL); break;
		case 'r': o.reps = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage(); return 2;
		}
	}
	if (!o.ifname || !have_mac || !o.peer_ns || !o.peer_if || o.frames == 0 ||
	    o.frames > 100000000 || !(o.limit > 0 && o.limit <= 30) || o.reps == 0 ||
	    o.reps > MAX_REPS) {
		usage();
		return 2;
	}
	int ifindex = bench_ifindex("txmethods", o.ifname);
	if (ifindex < 0)
		return 1;
	/* The MAC through a throwaway UDP socket: the AF_PACKET sockets are opened per run. */
	uint8_t src_mac[6];
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0) {
		perror("txmethods: SIOCGIFHWADDR");
		return 1;
	}
	if (bench_if_mac("txmethods", s, o.ifname, src_mac) < 0)
		return 1;
	close(s);
	int cpu = sched_getcpu(), ksd = ksoftirqd_pid(cpu);
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) != 1)
		fprintf(stderr, "txmethods: warning: not pinned to one core (use taskset -c N)\n");

	size_t pool_bytes = (size_t)POOL * STRIDE;
	uint8_t *pool_malloc = malloc(pool_bytes);
	uint8_t *pool_mmap = mmap(NULL, pool_bytes, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!pool_malloc || pool_mmap == MAP_FAILED) {
		fprintf(stderr, "txmethods: out of memory\n");
		return 1;
	}

	static struct result res[NSIZES][NBATCHES][M_COUNT][MAX_REPS];
	printf("txmethods: %s -> peer %s/%s, core %d, %llu frames or %.1f s per run, %u reps\n",
	       o.ifname, o.peer_ns, o.peer_if, cpu, (unsigned long long)o.frames, o.limit, o.reps);

	for (unsigned rep = 0; rep < o.reps; rep++) {
		for (unsigned si = 0; si < NSIZES; si++) {
			unsigned len = sizes[si];
			for (unsigned i = 0; i < POOL; i++) {
				build_frame(pool_malloc + (size_t)i * STRIDE, len, i, src_mac, o.dst_mac);
				build_frame(pool_mmap + (size_t)i * STRIDE, len, i, src_mac, o.dst_mac);
			}
			for (unsigned bi = 0; bi < NBATCHES; bi++) {
				if (rep == 0 && si == 0 && bi == 0) {
					/* Warm caches, page tables and the peer's route cache. */
					struct result w;
					for (int m = 0; m < M_COUNT; m++)
						run_once((enum method)m, ifindex, pool_malloc, pool_mmap, len,
							 batches[bi], WARMUP_FRAMES, o.limit, NULL, cpu, ksd, &w);
				}
				for (int k = 0; k < M_COUNT; k++) {
					/* Rotate the order per rep: no method always runs first. */
					enum method m = (enum method)((k + rep) % M_COUNT);
					struct result *r = &res[si][bi][m][rep];
					int err = run_once(m, ifindex, pool_malloc, pool_mmap, len, batches[bi],
							   o.frames, o.limit, &o, cpu, ksd, r);
					if (err < 0) {
						fprintf(stderr, "txmethods: %s: setup failed: %s\n",
							method_name[m], strerror(-err));
						return 1;
					}
					fprintf(stderr,
						"  rep %u %4uB batch %4u %-31s sent %9llu peer rx %9lld "
						"%6.3f Mpps cpu %.3f s ksoftirqd %.3f s core %.3f s err %llu\n",
						rep + 1, len, batches[bi], method_name[m],
						(unsigned long long)r->sent, (long long)r->peer_rx,
						r->secs > 0 ? (double)r->sent / r->secs / 1e6 : 0, r->cpu,
						r->softirqd, r->core, (unsigned long long)r->errors);
				}
			}
		}
	}

	printf("\nMedians of %u runs. Mpps = sent / wall s. CPU = getrusage user+sys of the sender per "
	       "million frames sent;\nksirq = ksoftirqd/%d per million frames (receive work deferred off the sender);\n"
	       "core = busy time of core %d per million frames (everything that ran there). Ratios "
	       "against (1), same size and batch.\n",
	       o.reps, cpu, cpu);
	for (unsigned si = 0; si < NSIZES; si++) {
		for (unsigned bi = 0; bi < NBATCHES; bi++) {
			printf("\n%u-byte frames, batch %u\n", sizes[si], batches[bi]);
			printf("%-31s %10s %10s %7s %8s %9s %9s %8s %7s %8s %6s\n", "method", "sent",
			       "peer rx", "Mpps", "CPU s/Mf", "ksirq s/Mf", "core s/Mf", "Mpps/(1)",
			       "CPU/(1)", "core/(1)", "errors");
			double base_pps = 0, base_cpu = 0, base_core = 0;
			for (int m = 0; m < M_COUNT; m++) {
				double sent[MAX_REPS], rx[MAX_REPS], pps[MAX_REPS], cpf[MAX_REPS],
					kpf[MAX_REPS], spf[MAX_REPS];
				uint64_t errs = 0;
				int rx_ok = 1;
				for (unsigned rep = 0; rep < o.reps; rep++) {
					struct result *r = &res[si][bi][m][rep];
					double mf = (double)r->sent / 1e6;
					sent[rep] = (double)r->sent;
					rx[rep] = (double)r->peer_rx;
					rx_ok &= r->peer_rx >= 0;
					pps[rep] = r->secs > 0 ? (double)r->sent / r->secs / 1e6 : 0;
					cpf[rep] = mf > 0 ? r->cpu / mf : 0;
					kpf[rep] = mf > 0 ? r->core / mf : 0;
					spf[rep] = mf > 0 ? r->softirqd / mf : 0;
					errs += r->errors;
				}
				double mp = median(pps, o.reps), mc = median(cpf, o.reps),
				       mk = median(kpf, o.reps);
				if (m == M_MMSG_BYP) {
					base_pps = mp;
					base_cpu = mc;
					base_core = mk;
				}
				char rxs[24];
				if (rx_ok)
					snprintf(rxs, sizeof(rxs), "%.0f", median(rx, o.reps));
				else
					snprintf(rxs, sizeof(rxs), "n/a");
				printf("%-31s %10.0f %10s %7.3f %8.3f %10.3f %9.3f %8.2f %7.2f %8.2f %6llu\n",
				       method_name[m], median(sent, o.reps), rxs, mp, mc,
				       median(spf, o.reps), mk,
				       base_pps > 0 ? mp / base_pps : 0, base_cpu > 0 ? mc / base_cpu : 0,
				       base_core > 0 ? mk / base_core : 0, (unsigned long long)errs);
			}
		}
	}
	munmap(pool_mmap, pool_bytes);
	free(pool_malloc);
	return 0;
}
