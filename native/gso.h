/*
 * Software segmentation of GSO super-frames: internal to the shim (ring.c calls it for TUN real
 * servers, whose IPIP packets no device segments for us; see gso.c).
 */
#ifndef RINGVS_GSO_H
#define RINGVS_GSO_H

#include <stdint.h>

/* virtio_net_hdr gso_type values (linux/virtio_net.h; UDP_L4 is missing from older headers). */
#define RV_GSO_NONE 0
#define RV_GSO_TCPV4 1
#define RV_GSO_UDP_L4 5
#define RV_GSO_ECN 0x80

/* Most segments one super-frame may become: 64 KiB at an MSS of 512 and more. A super-frame
 * with a smaller gso_size is refused (counted in gso_dropped), never half sent. */
#define RV_GSO_MAX_SEGS 128
/* Largest inner IPv4 + TCP header a segment carries (60 + 60). */
#define RV_GSO_MAX_HDR 120

/* How one IPv4 super-frame splits: every segment repeats the hdr_len bytes of IPv4 + L4 header
 * and carries up to mss bytes of the payload that starts at hdr_len. */
struct rv_gso {
	uint32_t hdr_len;     /* inner IPv4 header + TCP/UDP header */
	uint32_t ihl;         /* IPv4 header alone */
	uint32_t payload_len;
	uint32_t mss;
	uint32_t segments;
	uint8_t proto;        /* IPPROTO_TCP or IPPROTO_UDP */
};

/* Check that the IPv4 packet ip[0..ip_len) can be cut as gso_type/gso_size say (ECN bit ignored)
 * and fill g. Returns 0, -EPROTONOSUPPORT for a gso_type other than TCPV4 and UDP_L4 (or one that
 * does not match the packet's protocol), -EINVAL for inconsistent headers or a zero gso_size,
 * -E2BIG for more than RV_GSO_MAX_SEGS segments. */
int rv_gso_plan(const uint8_t *ip, uint32_t ip_len, uint8_t gso_type, uint16_t gso_size, struct rv_gso *g);

/* Write segment i's IPv4 + L4 header (g->hdr_len bytes) into out, as the kernel's own GSO would
 * (tcp_gso_segment, __udp_gso_segment): total length, IP ID + i, header checksum; TCP sequence
 * advanced by i * mss, FIN and PSH on the last segment only, CWR on the first only; UDP length;
 * the L4 checksum complete over the segment's own payload (ip + g->hdr_len + i * g->mss).
 * Returns the segment's payload length. */
uint32_t rv_gso_segment(const uint8_t *ip, const struct rv_gso *g, uint32_t i, uint8_t *out);

#endif
