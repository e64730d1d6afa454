/* ipip-decap — user-space IPIP (IPv4-in-IPv4, RFC 2003) decapsulator for a lab real server whose
 * kernel has no ipip module. It stands in for the kernel's tunl0 so that ringvs's TUN mode can be
 * tested end to end:
 *
 *   eth0 ──► AF_PACKET (ETH_P_ALL) ──► outer IPv4, protocol 4, to one of our addresses?
 *                                          │ fragments: reassemble the outer packet
 *                                          ▼
 *                      strip the outer header ──► write the inner packet into TUN "tunl0"
 *                                                   (IFF_TUN | IFF_NO_PI) ──► kernel IP input
 *
 * The TUN device is named tunl0 so that `scripts/realserver.sh start --mode tun VIP` configures it
 * exactly like the kernel's tunl0 (VIP/32 on it, brought up, sysctls). It is created down with
 * MTU 1480 (what the kernel gives its tunl0) and vanishes when this process exits, taking the VIP
 * with it, as unloading ipip would.
 *
 * The kernel sees every IPIP frame too. Without ipip it would answer each one with ICMP
 * "protocol unreachable", so at start we install (with nft) a netdev ingress rule on the
 * interface that drops IPv4 protocol 4 to our addresses, and delete it again on exit:
 *
 *   table netdev ringvs_ipip_<if> { chain in { type filter hook ingress device "<if>" priority -500;
 *                                              ip daddr { <addrs> } ip protocol 4 drop } }
 *
 * This works because a packet socket bound with ETH_P_ALL is a ptype_all tap: the receive path
 * (__netif_receive_skb_core) hands frames to taps before tc and netfilter ingress run. (A socket
 * bound to ETH_P_IP would be served after ingress and see nothing.)
 *
 * Outer fragments. The director fragments the outer packet when the inner packet has no DF and
 * does not fit the path MTU with the extra 20 bytes; each fragment carries a slice of the inner
 * packet. We reassemble in a small table keyed by (outer src, outer dst, IP id) with REASM_SLOTS
 * entries of at most 64 KiB each, received bytes tracked in a bitmap of 8-byte blocks:
 *   - complete when the last fragment (MF=0) has fixed the total length and every byte up to it
 *     has arrived; order does not matter;
 *   - an exact repeat of bytes already held is ignored (duplicate); a fragment that partially
 *     overlaps what is held, disagrees about the total length or extends past it poisons the
 *     datagram, which is dropped (Linux does the same for IPv4 since 4.19, "overlapping
 *     fragments" being a classic evasion trick);
 *   - an entry older than the timeout (-T, default 30 s like net.ipv4.ipfrag_time) is dropped;
 *     when the table is full the oldest entry is evicted to make room.
 * The inner packet may itself be a fragment; it goes into tunl0 unchanged and the kernel
 * reassembles it there, as with the kernel's tunnel.
 *
 * ECN on decapsulation follows RFC 6040: outer CE is copied into an ECN-capable inner packet; an
 * inner Not-ECT packet with outer CE is dropped.
 *
 * Output: one JSON line on stdout at start ({"event":"ready",...}), on SIGUSR1 ("stats") and at
 * exit ("stopped"), with all counters; errors on stderr. Nothing is printed per packet; -v adds
 * setup details and at most VERBOSE_LINES lines about dropped datagrams. SIGTERM/SIGINT stop it
 * cleanly (nft rule removed, exit 0).
 *
 * Build: gcc -O2 -Wall -o scripts/lab/build/ipip-decap scripts/lab/ipip-decap.c
 *        (test/lab/harness.ts does this on demand).
 * Usage: ipip-decap [-i IFACE] [-t TUN] [-a ADDR]... [-T MS] [-n] [-v]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRS 16
#define REASM_SLOTS 32          /* 32 x ~66 KiB: a lab needs a handful at a time */
#define REASM_MAX 65535         /* an IPv4 datagram, header included, cannot be longer */
#define REASM_BLOCKS (REASM_MAX / 8 + 1)
#define RX_BATCH 64             /* frames read per wakeup before timers are looked at again */
#define VERBOSE_LINES 100       /* -v stays bounded even under a flood of bad fragments */
#define TUN_MTU 1480            /* the kernel's tunl0: 1500 - the 20-byte outer header */

struct counters {
	uint64_t rx_ipip;         /* IPIP frames addressed to us (fragments counted one by one) */
	uint64_t not_for_us;      /* IPIP to another address (e.g. a VIP of someone else) */
	uint64_t bad_outer;       /* truncated, bad header checksum or length */
	uint64_t fragments;       /* outer fragments taken into the reassembly table */
	uint64_t reassembled;     /* outer packets completed from fragments */
	uint64_t frag_dup;        /* fragments whose bytes were all held already (ignored) */
	uint64_t frag_overlap;    /* datagrams dropped: partial overlap or inconsistent length */
	uint64_t frag_bad;        /* fragments dropped: not a multiple of 8, beyond 64 KiB */
	uint64_t reasm_timeout;   /* datagrams dropped: not complete within the timeout */
	uint64_t reasm_evicted;   /* datagrams dropped: table full, oldest made room */
	uint64_t bad_inner;       /* inner packet not IPv4, or its length does not fit */
	uint64_t ecn_drop;        /* outer CE on a Not-ECT inner packet (RFC 6040) */
	uint64_t delivered;       /* inner packets written into the TUN device */
	uint64_t tun_errors;      /* write to TUN failed (EIO: the device is down) */
	uint64_t tun_out_discarded; /* packets the kernel routed out through the TUN: dropped */
};

struct reasm {
	int used;
	uint32_t src, dst;        /* network order */
	uint16_t id;
	uint64_t born_ms;
	uint32_t total;           /* payload length once the last fragment is in, else 0 */
	uint32_t have;            /* payload bytes held */
	uint32_t maxend;          /* highest payload byte held + 1 */
	int tos;                  /* outer TOS of the first fragment seen, for the ECN rule */
	uint8_t seen[(REASM_BLOCKS + 7) / 8];
	uint8_t data[REASM_MAX];
};

static struct counters ctr;
static struct reasm table[REASM_SLOTS];
static uint32_t addrs[MAX_ADDRS];
static int naddrs;
static int verbose;
static int verbose_left = VERBOSE_LINES;
static volatile sig_atomic_t want_stop, want_stats;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void vlog(const char *fmt, ...)
{
	va_list ap;
	if (!verbose || verbose_left <= 0)
		return;
	if (--verbose_left == 0) {
		fprintf(stderr, "ipip-decap: (further verbose messages suppressed)\n");
		return;
	}
	fprintf(stderr, "ipip-decap: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t ip_checksum(const uint8_t *p, unsigned len)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int is_ours(uint32_t daddr)
{
	for (int i = 0; i < naddrs; i++)
		if (addrs[i] == daddr)
			return 1;
	return 0;
}

static void print_event(const char *event, const char *ifname, const char *tun, int nft)
{
	char a[INET_ADDRSTRLEN];
	printf("{\"event\":\"%s\"", event);
	if (ifname) {
		printf(",\"interface\":\"%s\",\"tun\":\"%s\",\"nft\":%s,\"addrs\":[", ifname, tun, nft ? "true" : "false");
		for (int i = 0; i < naddrs; i++) {
			inet_ntop(AF_INET, &addrs[i], a, sizeof(a));
			printf("%s\"%s\"", i ? "," : "", a);
		}
		printf("]");
	}
#define C(name) printf(",\"" #name "\":%llu", (unsigned long long)ctr.name)
	C(rx_ipip); C(not_for_us); C(bad_outer); C(fragments); C(reassembled); C(frag_dup);
	C(frag_overlap); C(frag_bad); C(reasm_timeout); C(reasm_evicted); C(bad_inner); C(ecn_drop);
	C(delivered); C(tun_errors); C(tun_out_discarded);
#undef C
	printf("}\n");
	fflush(stdout);
}

/* --- the nft guard ---------------------------------------------------------------------------- */

/* Runs `nft -f -` with SCRIPT on stdin; returns nft's exit status, or -errno if it could not run. */
static int run_nft(const char *script)
{
	int pfd[2], status;
	pid_t pid;
	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		dup2(pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
		execlp("nft", "nft", "-f", "-", (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	size_t len = strlen(script), off = 0;
	while (off < len) {
		ssize_t n = write(pfd[1], script + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(pfd[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int nft_install(const char *ifname)
{
	char script[1024], a[INET_ADDRSTRLEN];
	int n = snprintf(script, sizeof(script),
			 "table netdev ringvs_ipip_%s\n"
			 "delete table netdev ringvs_ipip_%s\n"
			 "table netdev ringvs_ipip_%s {\n"
			 "  chain in {\n"
			 "    type filter hook ingress device \"%s\" priority -500;\n"
			 "    ip daddr { ",
			 ifname, ifname, ifname, ifname);
	for (int i = 0; i < naddrs; i++) {
		inet_ntop(AF_INET, &addrs[i], a, sizeof(a));
		n += snprintf(script + n, sizeof(script) - (size_t)n, "%s%s", i ? ", " : "", a);
	}
	snprintf(script + n, sizeof(script) - (size_t)n,
		 " } ip protocol 4 drop comment \"ipip-decap pid %d: AF_PACKET took a copy\"\n  }\n}\n",
		 (int)getpid());
	vlog("nft -f - <<EOF\n%sEOF", script);
	return run_nft(script);
}

static void nft_remove(const char *ifname)
{
	char script[128];
	snprintf(script, sizeof(script), "delete table netdev ringvs_ipip_%s\n", ifname);
	if (run_nft(script) != 0)
		fprintf(stderr, "ipip-decap: could not delete nft table netdev ringvs_ipip_%s\n", ifname);
}

/* --- setup ------------------------------------------------------------------------------------ */

/* TUN device NAME, IFF_TUN|IFF_NO_PI, non-blocking, MTU TUN_MTU, left down (realserver.sh brings
 * it up). Returns the fd or -errno. */
static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, s, err;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto err_fd;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto err_fd;
	ifr.ifr_mtu = TUN_MTU; /* ifr_name is the name TUNSETIFF settled on */
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		goto err_sock;
	close(s);
	return fd;
err_sock:
	err = -errno;
	close(s);
	close(fd);
	return err;
err_fd:
	err = -errno;
	close(fd);
	return err;
}

/* Packet socket on IFNAME that sees every frame (see the header comment on why ETH_P_ALL), with a
 * classic BPF filter so only IPv4 protocol 4 frames ever reach us. Returns the fd or -errno. */
static int packet_open(const char *ifname)
{
	/* ldh [12]; jne 0x800 -> drop; ldb [23]; jne 4 -> drop; ret all; drop: ret 0 */
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_IPIP, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0x40000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	struct sockaddr_ll sll;
	int fd, err, bufsz = 4 << 20;
	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The filter goes on before bind: a socket bound with protocol 0 receives nothing, so no
	 * unfiltered frame can slip in between. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz)); /* best effort */
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

static int collect_addrs(const char *ifname)
{
	struct ifaddrs *ifa, *p;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (p = ifa; p && naddrs < MAX_ADDRS; p = p->ifa_next)
		if (p->ifa_addr && p->ifa_addr->sa_family == AF_INET && strcmp(p->ifa_name, ifname) == 0)
			addrs[naddrs++] = ((struct sockaddr_in *)p->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return naddrs ? 0 : -EADDRNOTAVAIL;
}

/* --- decapsulation ---------------------------------------------------------------------------- */

/* Writes the inner packet of an outer packet whose payload is P (LEN bytes) and whose TOS byte
 * was OUTER_TOS into the TUN device. P may be modified (ECN). */
static void deliver(int tun, uint8_t *p, uint32_t len, int outer_tos)
{
	uint32_t ihl, tot;
	if (len < 20 || (p[0] >> 4) != 4) {
		ctr.bad_inner++;
		return;
	}
	ihl = (uint32_t)(p[0] & 15) * 4;
	tot = rd16(p + 2);
	if (ihl < 20 || tot < ihl || tot > len) {
		ctr.bad_inner++;
		return;
	}
	if ((outer_tos & 3) == 3 && (p[1] & 3) != 3) {
		if ((p[1] & 3) == 0) {
			ctr.ecn_drop++;
			return;
		}
		p[1] |= 3;
		p[10] = p[11] = 0;
		uint16_t c = ip_checksum(p, ihl);
		p[10] = (uint8_t)(c >> 8);
		p[11] = (uint8_t)c;
	}
	/* Bytes past the inner total length (Ethernet padding of a tiny packet) are not sent. */
	if (write(tun, p, tot) == (ssize_t)tot)
		ctr.delivered++;
	else
		ctr.tun_errors++;
}

static void reasm_free(struct reasm *r)
{
	r->used = 0;
}

static void reasm_expire(uint64_t now, uint64_t timeout_ms)
{
	for (int i = 0; i < REASM_SLOTS; i++) {
		struct reasm *r = &table[i];
		if (r->used && now - r->born_ms >= timeout_ms) {
			ctr.reasm_timeout++;
			vlog("reassembly timeout: id %u, %u of %u bytes", r->id, r->have, r->total);
			reasm_free(r);
		}
	}
}

static struct reasm *reasm_find(uint32_t src, uint32_t dst, uint16_t id, uint64_t now)
{
	struct reasm *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < REASM_SLOTS; i++) {
		struct reasm *r = &table[i];
		if (!r->used) {
			if (!free_slot)
				free_slot = r;
			continue;
		}
		if (r->src == src && r->dst == dst && r->id == id)
			return r;
		if (!oldest || r->born_ms < oldest->born_ms)
			oldest = r;
	}
	if (!free_slot) {
		ctr.reasm_evicted++;
		vlog("reassembly table full: evicting id %u", oldest->id);
		free_slot = oldest;
	}
	memset(free_slot->seen, 0, sizeof(free_slot->seen));
	free_slot->used = 1;
	free_slot->src = src;
	free_slot->dst = dst;
	free_slot->id = id;
	free_slot->born_ms = now;
	free_slot->total = 0;
	free_slot->have = 0;
	free_slot->maxend = 0;
	free_slot->tos = -1;
	return free_slot;
}

/* One outer fragment: PAY/LEN is its payload, OFF its offset in bytes, MF its more-fragments bit. */
static void reasm_add(int tun, const uint8_t *ip, const uint8_t *pay, uint32_t len, uint32_t off, int mf,
		      uint64_t now)
{
	uint32_t src, dst, end = off + len, b0, b1, held = 0;
	struct reasm *r;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if ((mf && (len == 0 || len % 8)) || end > REASM_MAX - 20) {
		ctr.frag_bad++;
		return;
	}
	ctr.fragments++;
	r = reasm_find(src, dst, rd16(ip + 4), now);
	if (r->tos < 0 || off == 0)
		r->tos = ip[1] | (r->tos > 0 && (r->tos & 3) == 3 ? 3 : 0);
	if ((ip[1] & 3) == 3)
		r->tos |= 3; /* CE on any fragment marks the datagram (as ip_frag_ecn_table does) */
	if ((!mf && r->total && r->total != end) || (r->total && end > r->total) || (!mf && r->maxend > end)) {
		ctr.frag_overlap++;
		vlog("inconsistent fragment: id %u, %u+%u, total %u", r->id, off, len, r->total);
		reasm_free(r);
		return;
	}
	b0 = off / 8;
	b1 = (end + 7) / 8;
	for (uint32_t b = b0; b < b1; b++)
		held += (r->seen[b / 8] >> (b % 8)) & 1;
	if (held && held == b1 - b0 && (mf || r->total == end)) {
		ctr.frag_dup++;
		return;
	}
	if (held) {
		ctr.frag_overlap++;
		vlog("overlapping fragment: id %u, %u+%u", r->id, off, len);
		reasm_free(r);
		return;
	}
	for (uint32_t b = b0; b < b1; b++)
		r->seen[b / 8] |= (uint8_t)(1u << (b % 8));
	memcpy(r->data + off, pay, len);
	r->have += len;
	if (end > r->maxend)
		r->maxend = end;
	if (!mf)
		r->total = end;
	if (r->total && r->have == r->total) {
		ctr.reassembled++;
		deliver(tun, r->data, r->total, r->tos);
		reasm_free(r);
	}
}

/* One frame from the packet socket (the BPF filter let only IPv4 protocol 4 through). */
static void handle_frame(int tun, uint8_t *f, uint32_t flen, uint64_t now)
{
	uint8_t *ip = f + ETH_HLEN;
	uint32_t len, ihl, tot, daddr;
	uint16_t frag;
	if (flen < ETH_HLEN + 20) {
		ctr.bad_outer++;
		return;
	}
	len = flen - ETH_HLEN;
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || tot > len || ip_checksum(ip, ihl) != 0) {
		ctr.bad_outer++;
		return;
	}
	memcpy(&daddr, ip + 16, 4);
	if (!is_ours(daddr)) {
		ctr.not_for_us++;
		return;
	}
	ctr.rx_ipip++;
	frag = rd16(ip + 6);
	if (frag & 0x3fff) /* MF or an offset: a fragment */
		reasm_add(tun, ip, ip + ihl, tot - ihl, (uint32_t)(frag & 0x1fff) * 8, !!(frag & 0x2000), now);
	else
		deliver(tun, ip + ihl, tot - ihl, ip[1]);
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: ipip-decap [-i IFACE] [-t TUN] [-a ADDR]... [-T MS] [-n] [-v]\n"
		"  -i, --interface IFACE   receive IPIP on IFACE (default eth0)\n"
		"  -t, --tun NAME          TUN device for the inner packets (default tunl0)\n"
		"  -a, --addr ADDR         outer destination to accept (repeatable; default: IFACE's IPv4 addresses)\n"
		"  -T, --frag-timeout MS   drop an incomplete outer datagram after MS (default 30000)\n"
		"  -n, --no-nft            do not install the nft ingress drop for protocol 4\n"
		"  -v, --verbose           setup details and (bounded) reassembly drop messages on stderr\n"
		"  SIGUSR1: counters as a JSON line on stdout; SIGTERM/SIGINT: stop cleanly\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, 0, 'i' }, { "tun", required_argument, 0, 't' },
		{ "addr", required_argument, 0, 'a' },      { "frag-timeout", required_argument, 0, 'T' },
		{ "no-nft", no_argument, 0, 'n' },          { "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },            { 0, 0, 0, 0 },
	};
	const char *ifname = "eth0", *tunname = "tunl0";
	uint64_t timeout_ms = 30000;
	int use_nft = 1, c, pfd, tfd, err, rc = 1;
	static uint8_t buf[REASM_MAX + ETH_HLEN + 64];
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "i:t:a:T:nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 't': tunname = optarg; break;
		case 'a':
			if (naddrs == MAX_ADDRS || inet_pton(AF_INET, optarg, &addrs[naddrs]) != 1) {
				fprintf(stderr, "ipip-decap: bad or too many -a '%s' (at most %d)\n", optarg, MAX_ADDRS);
				return 2;
			}
			naddrs++;
			break;
		case 'T': {
			char *e;
			unsigned long v = strtoul(optarg, &e, 10);
			if (*e || v == 0 || v > 600000) {
				fprintf(stderr, "ipip-decap: bad -T '%s' (1..600000 ms)\n", optarg);
				return 2;
			}
			timeout_ms = v;
			break;
		}
		case 'n': use_nft = 0; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || strlen(ifname) >= IFNAMSIZ || strlen(tunname) >= IFNAMSIZ ||
	    strspn(ifname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(ifname)) {
		usage(stderr);
		return 2;
	}
	if (!naddrs && (err = collect_addrs(ifname)) < 0) {
		fprintf(stderr, "ipip-decap: no IPv4 address on %s: %s\n", ifname, strerror(-err));
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR and the loop sees the flag */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tfd = tun_open(tunname);
	if (tfd < 0) {
		fprintf(stderr, "ipip-decap: TUN device %s: %s\n", tunname, strerror(-tfd));
		return 1;
	}
	pfd = packet_open(ifname);
	if (pfd < 0) {
		fprintf(stderr, "ipip-decap: packet socket on %s: %s\n", ifname, strerror(-pfd));
		goto out_tun;
	}
	if (use_nft && (err = nft_install(ifname)) != 0) {
		fprintf(stderr, "ipip-decap: installing the nft ingress drop on %s failed (%d)\n", ifname, err);
		goto out_pkt;
	}
	vlog("decapsulating IPIP from %s into %s, fragment timeout %llu ms", ifname, tunname,
	     (unsigned long long)timeout_ms);
	print_event("ready", ifname, tunname, use_nft);

	while (!want_stop) {
		struct pollfd p[2] = { { .fd = pfd, .events = POLLIN }, { .fd = tfd, .events = POLLIN } };
		/* 200 ms: fragment timeouts are checked at least this often even when idle. */
		int n = poll(p, 2, 200);
		uint64_t now = now_ms();
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "ipip-decap: poll: %s\n", strerror(errno));
			goto out_nft;
		}
		if (n > 0 && (p[0].revents & (POLLERR | POLLNVAL))) {
			fprintf(stderr, "ipip-decap: packet socket error (interface %s gone?)\n", ifname);
			goto out_nft;
		}
		for (int i = 0; n > 0 && (p[0].revents & POLLIN) && i < RX_BATCH; i++) {
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			ssize_t got = recvfrom(pfd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
			if (got < 0)
				break; /* EAGAIN: drained */
			/* Only frames addressed to this host: not our own transmissions, not frames
			 * a promiscuous bridge port would show. */
			if (from.sll_pkttype != PACKET_HOST)
				continue;
			if ((size_t)got > sizeof(buf)) {
				ctr.bad_outer++;
				continue;
			}
			handle_frame(tfd, buf, (uint32_t)got, now);
		}
		for (int i = 0; n > 0 && (p[1].revents & POLLIN) && i < RX_BATCH; i++) {
			if (read(tfd, buf, sizeof(buf)) < 0)
				break;
			ctr.tun_out_discarded++;
		}
		reasm_expire(now, timeout_ms);
		if (want_stats) {
			want_stats = 0;
			print_event("stats", NULL, NULL, 0);
		}
	}
	rc = 0;
out_nft:
	if (use_nft)
		nft_remove(ifname);
out_pkt:
	close(pfd);
out_tun:
	close(tfd);
	print_event("stopped", NULL, NULL, 0);
	return rc;
}
