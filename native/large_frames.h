/*
 * Frames too large for a ring block: internal to the shim (ring.c opens and reads the socket;
 * see large_frames.c for why they take their own path).
 */
#ifndef RINGVS_LARGE_FRAMES_H
#define RINGVS_LARGE_FRAMES_H

#include <stdint.h>

/* struct virtio_net_hdr, which PACKET_VNET_HDR puts in front of every frame (10 bytes). */
#define RV_VNET_HDR_LEN 10
/* Frames larger than a ring block less this much take the large-frame socket: the block's own
 * header, the tpacket3_hdr, sockaddr_ll and alignment in front of a frame stay well under it. */
#define RV_LARGE_MARGIN 256
/* Receive buffer of one large frame: virtio_net_hdr + the largest GSO skb (64 KiB, the legacy
 * gso_max_size) + an Ethernet header with a VLAN tag. Anything longer is truncated and counted. */
#define RV_LARGE_BUF (RV_VNET_HDR_LEN + 65536 + 18 + 6)
/* Large frames taken per batch. */
#define RV_LARGE_PER_BATCH 32
/* Queue of the large-frame socket in bytes (SO_RCVBUFFORCE): a 64 KiB super-frame costs ~66 KiB
 * of it, so the default ~208 KiB would drop a burst of four. */
#define RV_LARGE_RCVBUF (32u << 20)

/* Keep only frames longer than `threshold` bytes (the large-frame socket). Replaces any filter on
 * fd. 0 or -errno. */
int rv_large_filter(int fd, uint32_t threshold);

/* Set up fd (an AF_PACKET SOCK_RAW socket, not yet bound) to receive whole frames with their
 * virtio_net_hdr and auxdata (VLAN tag, original length): PACKET_VNET_HDR, PACKET_AUXDATA,
 * PACKET_IGNORE_OUTGOING and a large receive queue. 0 or -errno. */
int rv_large_setup(int fd);

#endif
