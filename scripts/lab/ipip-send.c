/* ipip-send — send hand-built IPIP frames (a TCP SYN inside IPv4-in-IPv4) from an AF_PACKET socket,
 * the way ringvs's director emits TUN-mode traffic, so lab tests can prove that a real server
 * decapsulates without needing the director:
 *
 *   Ethernet (src-mac -> dst-mac) | outer IPv4 (outer-src -> outer-dst, protocol 4) |
 *                                   inner IPv4 (src -> dst, TCP) | TCP SYN (MSS 1460) | payload
 *
 * With --frag N the outer packet is cut into outer fragments whose payloads are N bytes (N a
 * multiple of 8; the last one shorter), each carrying a slice of the inner packet, as the director
 * does for an inner packet without DF that does not fit. --reverse sends the fragments last first;
 * --omit-last leaves the final fragment out (a datagram that can never complete).
 * All checksums are computed here (the receiver's stack validates them: a TUN write is
 * CHECKSUM_NONE). The outer TOS copies the inner one, TTL 64, as ip_vs_tunnel_xmit does.
 *
 * Bounded: --count at most 1000 packets, --interval at most 1000 ms.
 *
 * Build: gcc -O2 -Wall -o scripts/lab/build/ipip-send scripts/lab/ipip-send.c
 * Usage: ipip-send -i IF --src-mac MAC --dst-mac MAC --outer-src A --outer-dst A --src A --dst A
 *                  [--sport P] [--dport P] [--payload N] [--df] [--tos T] [--id N] [--frag N]
 *                  [--reverse] [--omit-last] [--count N] [--interval MS]
 * Prints "sent FRAMES frames in PACKETS packets" on success.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INNER 65515 /* 65535 - the outer header */
#define MAX_COUNT 1000

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int parse_mac(const char *s, uint8_t *m)
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		m[i] = (uint8_t)v[i];
	}
	return 0;
}

static long num(const char *name, const char *s, long lo, long hi)
{
	char *e;
	long v = strtol(s, &e, 0);
	if (*s == 0 || *e || v < lo || v > hi) {
		fprintf(stderr, "ipip-send: bad --%s '%s' (%ld..%ld)\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

static void addr(const char *name, const char *s, uint8_t *out)
{
	if (inet_pton(AF_INET, s, out) != 1) {
		fprintf(stderr, "ipip-send: bad --%s '%s'\n", name, s);
		exit(2);
	}
}

/* Inner IPv4 + TCP SYN into P; returns its length. */
static size_t build_inner(uint8_t *p, const uint8_t *src, const uint8_t *dst, int sport, int dport,
			  size_t payload, int df, int tos, uint32_t seq)
{
	size_t tcp_len = 24 + payload, len = 20 + tcp_len;
	uint8_t *t = p + 20;
	uint32_t sum;
	memset(p, 0, len);
	p[0] = 0x45;
	p[1] = (uint8_t)tos;
	wr16(p + 2, (uint16_t)len);
	wr16(p + 4, (uint16_t)(seq & 0xffff));
	wr16(p + 6, df ? 0x4000 : 0);
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	wr16(p + 10, fold(sum16(p, 20, 0)));
	wr16(t, (uint16_t)sport);
	wr16(t + 2, (uint16_t)dport);
	t[4] = (uint8_t)(seq >> 24); t[5] = (uint8_t)(seq >> 16); t[6] = (uint8_t)(seq >> 8); t[7] = (uint8_t)seq;
	t[12] = 6 << 4;  /* data offset: 24 bytes */
	t[13] = 0x02;    /* SYN */
	wr16(t + 14, 64240);
	t[20] = 2; t[21] = 4; wr16(t + 22, 1460); /* MSS */
	for (size_t i = 0; i < payload; i++)
		t[24 + i] = (uint8_t)(i * 7 + 3);
	sum = sum16(p + 12, 8, 0) + IPPROTO_TCP + (uint32_t)tcp_len;
	wr16(t + 16, fold(sum16(t, tcp_len, sum)));
	return len;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, 0, 'i' }, { "src-mac", required_argument, 0, 'M' },
		{ "dst-mac", required_argument, 0, 'D' },   { "outer-src", required_argument, 0, 'o' },
		{ "outer-dst", required_argument, 0, 'O' }, { "src", required_argument, 0, 's' },
		{ "dst", required_argument, 0, 'd' },       { "sport", required_argument, 0, 'p' },
		{ "dport", required_argument, 0, 'P' },     { "payload", required_argument, 0, 'l' },
		{ "df", no_argument, 0, 'F' },              { "tos", required_argument, 0, 't' },
		{ "id", required_argument, 0, 'I' },        { "frag", required_argument, 0, 'f' },
		{ "reverse", no_argument, 0, 'r' },         { "omit-last", no_argument, 0, 'x' },
		{ "count", required_argument, 0, 'c' },     { "interval", required_argument, 0, 'w' },
		{ 0, 0, 0, 0 },
	};
	const char *ifname = "eth0";
	uint8_t smac[6], dmac[6], osrc[4], odst[4], isrc[4], idst[4];
	int have = 0, sport = 40000, dport = 80, df = 0, tos = 0, reverse = 0, omit_last = 0, c;
	long payload = 0, id = 0x5151, frag = 0, count = 1, interval = 10;
	static uint8_t inner[MAX_INNER], frame[ETH_HLEN + 20 + MAX_INNER];

	while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'M': if (parse_mac(optarg, smac)) { fprintf(stderr, "ipip-send: bad --src-mac\n"); return 2; } have |= 1; break;
		case 'D': if (parse_mac(optarg, dmac)) { fprintf(stderr, "ipip-send: bad --dst-mac\n"); return 2; } have |= 2; break;
		case 'o': addr("outer-src", optarg, osrc); have |= 4; break;
		case 'O': addr("outer-dst", optarg, odst); have |= 8; break;
		case 's': addr("src", optarg, isrc); have |= 16; break;
		case 'd': addr("dst", optarg, idst); have |= 32; break;
		case 'p': sport = (int)num("sport", optarg, 1, 65535); break;
		case 'P': dport = (int)num("dport", optarg, 1, 65535); break;
		case 'l': payload = num("payload", optarg, 0, MAX_INNER - 44); break;
		case 'F': df = 1; break;
		case 't': tos = (int)num("tos", optarg, 0, 255); break;
		case 'I': id = num("id", optarg, 0, 65535); break;
		case 'f': frag = num("frag", optarg, 8, 65512); break;
		case 'r': reverse = 1; break;
		case 'x': omit_last = 1; break;
		case 'c': count = num("count", optarg, 1, MAX_COUNT); break;
		case 'w': interval = num("interval", optarg, 0, 1000); break;
		default: return 2;
		}
	}
	if (have != 63 || optind != argc) {
		fprintf(stderr, "ipip-send: need --src-mac --dst-mac --outer-src --outer-dst --src --dst\n");
		return 2;
	}
	if (frag % 8) {
		fprintf(stderr, "ipip-send: --frag must be a multiple of 8\n");
		return 2;
	}
	if (omit_last && !frag) {
		fprintf(stderr, "ipip-send: --omit-last needs --frag\n");
		return 2;
	}

	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "ipip-send: interface %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, never receives */
	if (fd < 0) {
		fprintf(stderr, "ipip-send: socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex, .sll_halen = 6 };
	memcpy(to.sll_addr, dmac, 6);

	long frames = 0;
	for (long n = 0; n < count; n++) {
		size_t ilen = build_inner(inner, isrc, idst, sport, dport, (size_t)payload, df, tos, 0x10000000u + (uint32_t)n);
		size_t piece = frag ? (size_t)frag : ilen;
		size_t nfrags = (ilen + piece - 1) / piece, sendn = nfrags - (omit_last ? 1 : 0);
		for (size_t k = 0; k < sendn; k++) {
			size_t i = reverse ? sendn - 1 - k : k;
			size_t off = i * piece, len = off + piece < ilen ? piece : ilen - off;
			uint8_t *e = frame, *ip = frame + ETH_HLEN;
			memcpy(e, dmac, 6);
			memcpy(e + 6, smac, 6);
			wr16(e + 12, ETH_P_IP);
			memset(ip, 0, 20);
			ip[0] = 0x45;
			ip[1] = (uint8_t)tos;
			wr16(ip + 2, (uint16_t)(20 + len));
			wr16(ip + 4, (uint16_t)(id + n));
			/* DF of the inner packet is copied to the outer one; fragments never have it. */
			wr16(ip + 6, (uint16_t)((nfrags > 1 ? 0 : (df ? 0x4000 : 0)) | (off / 8) | (i + 1 < nfrags ? 0x2000 : 0)));
			ip[8] = 64;
			ip[9] = IPPROTO_IPIP;
			memcpy(ip + 12, osrc, 4);
			memcpy(ip + 16, odst, 4);
			wr16(ip + 10, fold(sum16(ip, 20, 0)));
			memcpy(ip + 20, inner + off, len);
			size_t flen = ETH_HLEN + 20 + len;
			if (sendto(fd, frame, flen, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)flen) {
				fprintf(stderr, "ipip-send: sendto (%zu bytes): %s\n", flen, strerror(errno));
				close(fd);
				return 1;
			}
			frames++;
		}
		if (interval && n + 1 < count) {
			struct timespec ts = { interval / 1000, (interval % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	close(fd);
	printf("sent %ld frames in %ld packets\n", frames, count);
	return 0;
}
