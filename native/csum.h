/*
 * Internet checksum arithmetic (RFC 1071), shared by the shim's files: ring.c completes offloaded
 * checksums and builds IPv4/ICMP headers, gso.c gives every segment of a super-frame its own.
 */
#ifndef RINGVS_CSUM_H
#define RINGVS_CSUM_H

#include <stdint.h>

/* One's complement sum of 16-bit big-endian words, not folded. */
static inline uint64_t rv_csum_add(uint64_t sum, const uint8_t *p, uint32_t len)
{
	while (len >= 2) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static inline uint16_t rv_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif
