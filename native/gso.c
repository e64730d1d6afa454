/*
 * Cutting a GSO super-frame into the packets it stands for. A veth, tap or virtio peer with
 * TSO/GSO on hands the director one frame of up to 64 KiB plus a virtio_net_hdr saying how it is
 * to be cut (gso_type, gso_size). For DR the frame leaves whole with that header and the egress
 * device or the real server's stack deals with it, as IPVS lets the egress device segment. An
 * IPIP packet cannot be described to the kernel through a virtio_net_hdr (it has no tunnel GSO
 * types), so for TUN the shim makes the segments itself and encapsulates each one.
 */
#include "gso.h"
#include "bytes.h"
#include "csum.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int rv_gso_plan(const uint8_t *ip, uint32_t ip_len, uint8_t gso_type, uint16_t gso_size, struct rv_gso *g)
{
	memset(g, 0, sizeof(*g));
	uint8_t type = gso_type & (uint8_t)~RV_GSO_ECN;
	if (ip_len < 20 || (ip[0] >> 4) != 4)
		return -EINVAL;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > ip_len || (rd16(ip + 6) & 0x3fff))
		return -EINVAL; /* a fragment is never a super-frame */
	uint32_t l4 = 0;
	if (type == RV_GSO_TCPV4 && ip[9] == IPPROTO_TCP) {
		if (ip_len < ihl + 20)
			return -EINVAL;
		l4 = (uint32_t)(ip[ihl + 12] >> 4) * 4;
		if (l4 < 20)
			return -EINVAL;
	} else if (type == RV_GSO_UDP_L4 && ip[9] == IPPROTO_UDP) {
		l4 = 8;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (ihl + l4 > ip_len || gso_size == 0)
		return -EINVAL;
	g->ihl = ihl;
	g->hdr_len = ihl + l4;
	g->payload_len = ip_len - g->hdr_len;
	g->mss = gso_size;
	g->proto = ip[9];
	g->segments = g->payload_len ? (g->payload_len + gso_size - 1) / gso_size : 1;
	if (g->segments > RV_GSO_MAX_SEGS)
		return -E2BIG;
	return 0;
}

uint32_t rv_gso_segment(const uint8_t *ip, const struct rv_gso *g, uint32_t i, uint8_t *out)
{
	uint32_t off = i * g->mss;
	uint32_t len = g->payload_len - off < g->mss ? g->payload_len - off : g->mss;
	int last = i + 1 == g->segments;
	const uint8_t *payload = ip + g->hdr_len + off;
	memcpy(out, ip, g->hdr_len);

	/* IPv4: this segment's length, the next ID (as the kernel does unless told the ID is fixed),
	 * a fresh header checksum. */
	wr16(out + 2, (uint16_t)(g->hdr_len + len));
	wr16(out + 4, (uint16_t)(rd16(ip + 4) + i));
	out[10] = out[11] = 0;
	wr16(out + 10, rv_csum_fold(rv_csum_add(0, out, g->ihl)));

	uint8_t *l4 = out + g->ihl;
	uint32_t l4_len = g->hdr_len - g->ihl + len;
	uint32_t check_at;
	if (g->proto == IPPROTO_TCP) {
		wr32(l4 + 4, rd32(ip + g->ihl + 4) + off);
		if (!last)
			l4[13] &= (uint8_t)~0x09; /* FIN, PSH: they belong to the end of the data */
		if (i > 0)
			l4[13] &= (uint8_t)~0x80; /* CWR: once, on the first segment */
		check_at = 16;
	} else {
		wr16(l4 + 4, (uint16_t)l4_len);
		check_at = 6;
	}
	l4[check_at] = l4[check_at + 1] = 0;
	uint64_t sum = rv_csum_add(0, out + 12, 8); /* pseudo-header: addresses, protocol, length */
	sum += g->proto;
	sum += l4_len;
	sum = rv_csum_add(sum, l4, g->hdr_len - g->ihl);
	/* The payload slice starts at an even offset from the L4 header only when the header length
	 * is even, which TCP (multiple of 4) and UDP (8) headers always are, so the words line up. */
	sum = rv_csum_add(sum, payload, len);
	uint16_t c = rv_csum_fold(sum);
	if (c == 0 && g->proto == IPPROTO_UDP)
		c = 0xffff; /* UDP: 0 means "no checksum" */
	wr16(l4 + check_at, c);
	return len;
}
