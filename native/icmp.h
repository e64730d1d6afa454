/*
 * ICMP errors about VIP connections: internal to the shim (ring.c's parser calls it; see icmp.c).
 */
#ifndef RINGVS_ICMP_H
#define RINGVS_ICMP_H

#include <stdint.h>

#include "ring.h"

/* Classify the ICMP message icmp[0..len) of an unfragmented IPv4 packet whose outer fields (and
 * ip_len, l3_off, flags) d already holds. Returns
 *   RV_KIND_ICMP_ERROR: destination unreachable or time exceeded quoting a TCP/UDP packet; d's
 *     saddr/daddr/sport/dport/proto now hold the connection's tuple as the client's own packets
 *     carry it (the caller computes the hash, exactly as for those packets);
 *   RV_KIND_ICMP_MALFORMED: such an error that cannot be trusted (ICMP header or quote cut short,
 *     bad quoted version or IHL, wrong ICMP checksum); d keeps the outer addresses;
 *   RV_KIND_IPV4: any other ICMP (echo, errors about other protocols or about later fragments),
 *     d untouched. */
int rv_parse_icmp(const uint8_t *icmp, uint32_t len, struct rv_desc *d);

#endif
