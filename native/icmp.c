/*
 * ICMP errors about VIP connections (see icmp.h for the contract).
 *
 * A real server answers the client from VIP:port, so a router on the way back that cannot pass
 * a reply (path MTU smaller than the packet with DF set, TTL run out) sends its ICMP error to the
 * VIP, which is the director. Only the real server can act on it (lower its path MTU, give up the
 * connection), so the director must hand it on, as IPVS's ip_vs_in_icmp does. The error quotes the
 * offending packet, VIP:vport -> client:cport; turned around, that is the tuple of the client's
 * own packets, which is what the flow table is keyed by. So the parser reports the error under the
 * connection's tuple and the policy layer treats it like one more packet of that connection.
 *
 * Only destination unreachable (3, every code) and time exceeded (11): the errors IPVS relays
 * (it also takes source quench, deprecated by RFC 6633). Echo and the other informational types
 * are the director's own kernel's.
 */
#include "icmp.h"
#include "bytes.h"

#include <netinet/in.h>

#define RV_ICMP_DEST_UNREACH 3
#define RV_ICMP_TIME_EXCEEDED 11
#define RV_ICMP_HLEN 8
/* The quote must hold the quoted IPv4 header and the first 8 bytes after it (RFC 792; RFC 1812
 * 4.3.2.3 asks routers for more): the TCP/UDP ports are in the first 4. */
#define RV_QUOTE_L4 8


/* The ICMP checksum covers the whole message (RFC 792). Checked here, as ip_vs_in_icmp checks it
 * before relaying: a corrupted error must not count as forwarded (the real server would discard
 * it anyway). Errors are small (at most 576 bytes from a conforming router), and no sender
 * offloads ICMP checksums, so there is no partial checksum to expect. */
static int rv_icmp_checksum_ok(const uint8_t *p, uint32_t len)
{
	uint64_t sum = 0;
	for (; len >= 2; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

int rv_parse_icmp(const uint8_t *ic, uint32_t len, struct rv_desc *d)
{
	if (len < 1 || (ic[0] != RV_ICMP_DEST_UNREACH && ic[0] != RV_ICMP_TIME_EXCEEDED))
		return RV_KIND_IPV4;
	if (len < RV_ICMP_HLEN + 20 || !rv_icmp_checksum_ok(ic, len))
		return RV_KIND_ICMP_MALFORMED;
	const uint8_t *q = ic + RV_ICMP_HLEN;
	uint32_t qlen = len - RV_ICMP_HLEN;
	uint32_t qihl = (uint32_t)(q[0] & 0x0f) * 4;
	if ((q[0] >> 4) != 4 || qihl < 20)
		return RV_KIND_ICMP_MALFORMED;
	uint8_t proto = q[9];
	/* About ICMP, or about a later fragment (no ports in it): nothing to match a connection by. */
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || (rd16(q + 6) & 0x1fff))
		return RV_KIND_IPV4;
	if (qlen < qihl + RV_QUOTE_L4)
		return RV_KIND_ICMP_MALFORMED;
	const uint8_t *l4 = q + qihl;
	d->proto = proto;
	d->saddr = rd32(q + 16);  /* quoted destination: the client */
	d->daddr = rd32(q + 12);  /* quoted source: the VIP */
	d->sport = rd16(l4 + 2);  /* the client's port */
	d->dport = rd16(l4);      /* the virtual port */
	d->tcp_flags = 0;         /* the quoted flags are beyond the 8 bytes a quote must hold */
	return RV_KIND_ICMP_ERROR;
}
