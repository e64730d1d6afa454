/*
 * ringvs data-plane shim: AF_PACKET TPACKET_V3 receive ring, batch parse, batch verdicts, transmit.
 *
 * Mechanism only. This code never decides where a packet goes: TypeScript reads the descriptors
 * of a batch, writes one verdict per descriptor, and rv_tx_batch() applies them. Every layout in
 * this header is mirrored in src/dataplane/layout.ts and checked by test/dataplane/layout.test.ts
 * through rv_layout(), so the two sides cannot drift apart silently.
 *
 * Conventions: functions return >= 0 on success and -errno on failure; nothing prints or exits.
 */
#ifndef RINGVS_RING_H
#define RINGVS_RING_H

#include <stdint.h>

/* What the parser made of a frame (rv_desc.kind). */
enum rv_kind {
	RV_KIND_OTHER = 0,       /* not IPv4, not ARP: never ours */
	RV_KIND_IPV4 = 1,        /* IPv4 with ports parsed for TCP/UDP (see RV_DF_*) */
	RV_KIND_ARP_REQUEST = 2, /* ARP request for IPv4 over Ethernet: saddr = sender, daddr = target */
	RV_KIND_ARP_OTHER = 3,   /* any other ARP */
	RV_KIND_MALFORMED = 4,   /* truncated or inconsistent headers; counted, never forwarded */
	RV_KIND_ICMP_ERROR = 5,  /* ICMP destination unreachable / time exceeded quoting a TCP or UDP
	                          * packet: saddr, daddr, sport, dport, proto and hash are the
	                          * connection's as the client's packets carry them (quoted destination,
	                          * quoted source, ...), so the flow table finds it; ip_len, l3_off and
	                          * flags stay the outer ICMP packet's, which is what a forward sends */
	RV_KIND_ICMP_MALFORMED = 6, /* such an ICMP error cut short or corrupted (see native/icmp.c):
	                             * outer saddr/daddr, proto 1; counted as malformed, never forwarded */
};

/* rv_desc.flags */
#define RV_DF_FRAGMENT 0x01   /* IPv4 fragment that is not the first: no L4 header, ports are 0 */
#define RV_DF_MORE_FRAGS 0x02 /* MF set (first or middle fragment) */
#define RV_DF_VLAN 0x04       /* an 802.1Q tag was in the frame (vlan_tci valid, l3_off after it) */
#define RV_DF_VLAN_STRIPPED 0x08 /* the kernel stripped a tag into ring metadata; a forward would lose it */
#define RV_DF_DONT_FRAG 0x10  /* IPv4 DF bit */
#define RV_DF_CSUM_PARTIAL 0x20 /* TCP/UDP checksum not computed yet (TP_STATUS_CSUMNOTREADY: the
                                 * frame came from a local or veth sender with checksum offload);
                                 * the shim completes it before forwarding */
#define RV_DF_GSO 0x40        /* a GSO super-frame (from the large-frame socket): one descriptor for
                               * the several packets its virtio_net_hdr says it stands for; ip_len
                               * and frame_len are the whole super-frame's */

/* One received frame, as the policy layer sees it. 32 bytes, host byte order throughout. */
struct rv_desc {
	uint32_t saddr;     /* IPv4 source (ARP: sender protocol address) */
	uint32_t daddr;     /* IPv4 destination (ARP: target protocol address) */
	uint16_t sport;     /* TCP/UDP source port, 0 otherwise */
	uint16_t dport;     /* TCP/UDP destination port, 0 otherwise */
	uint8_t proto;      /* IPv4 protocol number, 0 when not IPv4 */
	uint8_t tcp_flags;  /* TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10), 0 otherwise */
	uint8_t kind;       /* enum rv_kind */
	uint8_t flags;      /* RV_DF_* */
	uint16_t l3_off;    /* offset of the IPv4/ARP header in the frame */
	uint16_t vlan_tci;  /* 802.1Q TCI when RV_DF_VLAN or RV_DF_VLAN_STRIPPED */
	uint32_t frame_len; /* bytes captured */
	uint16_t ip_len;    /* IPv4 total length */
	uint16_t _pad;
	uint32_t hash;      /* hash of (saddr, daddr, sport, dport, proto): the flow table's index */
};

/* Verdicts: one uint32_t per descriptor, preset to RV_VERDICT_PASS by rv_rx_batch(). Values below
 * RV_VERDICT_MIN_SPECIAL are slot numbers. 32 bits because 16 capped a director at 65,279
 * (service, real server) slots, and it must hold 10,000 services x 10 servers plus the slots of
 * removed servers that connections still hold; the cost is 2 bytes per descriptor of a batch,
 * nothing per slot. The specials sit at the top of the range with 256 values set aside (3 used),
 * so slot numbers and specials never meet whatever the slot capacity; rv_open refuses a
 * slot_capacity of RV_VERDICT_MIN_SPECIAL or more (-EINVAL). */
#define RV_VERDICT_PASS 0xFFFFFFFFu      /* not ours: leave it to the kernel's own copy */
#define RV_VERDICT_DROP 0xFFFFFFFEu      /* ours but not sendable: counted as dropped */
#define RV_VERDICT_ARP_REPLY 0xFFFFFFFDu /* answer this ARP request with our MAC, out of the same port */
#define RV_VERDICT_MIN_SPECIAL 0xFFFFFF00u

/* Forwarding methods of a real-server slot (rv_slot.method). */
#define RV_FWD_NONE 0 /* slot unused, or no MAC yet: frames sent here are dropped and counted */
#define RV_FWD_DR 1   /* rewrite destination MAC to dmac, source MAC to smac, send on tx_if */
#define RV_FWD_TUN 2  /* IPIP: new Ethernet header (dmac = next hop, smac) + outer IPv4 header
                       * (saddr -> rip, protocol 4) in front of the untouched inner packet */

/* Outer IPv4 TTL for TUN: the inner packet's TTL, as IPVS's ip_vs_tunnel_xmit does, so a loop
 * cannot live longer through the tunnel than without it. */

/* A real-server slot: written by the policy layer, counted by the shim. 48 bytes. */
struct rv_slot {
	uint8_t dmac[6];  /* DR: the real server's MAC; TUN: the next hop's MAC */
	uint8_t method;   /* RV_FWD_* */
	uint8_t tx_if;    /* transmit interface (0 = the ring's own, else rv_add_tx_interface) */
	uint32_t rip;     /* real server address, host order */
	uint8_t smac[6];  /* MAC of the transmit interface (the frame's new source MAC) */
	uint16_t mtu;     /* TUN: MTU of the transmit interface */
	uint32_t saddr;   /* TUN: outer source address, host order */
	uint32_t _pad[2];
	uint64_t packets;
	uint64_t bytes;
};

/* Counters, monotonically increasing, written only by the shim. */
struct rv_counters {
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t rx_blocks;         /* V3 blocks taken (a V2 ring hands over frames, not blocks: 0) */
	uint64_t rx_polls;
	uint64_t parsed_ipv4;
	uint64_t parsed_arp;
	uint64_t parsed_other;
	uint64_t parsed_malformed;
	uint64_t verdict_pass;
	uint64_t verdict_drop;
	uint64_t verdict_bad;       /* slot out of range, slot without a method, ARP reply for a non-ARP */
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_errors;         /* frames the kernel refused to send */
	uint64_t tx_arp_replies;
	uint64_t tx_calls;          /* sendmmsg calls */
	uint64_t kernel_packets;    /* PACKET_STATISTICS tp_packets, accumulated */
	uint64_t kernel_drops;      /* PACKET_STATISTICS tp_drops: ring full, frames lost */
	uint64_t kernel_freeze_q;   /* PACKET_STATISTICS tp_freeze_q_cnt */
	uint64_t tun_packets;       /* inner packets encapsulated (IPIP) */
	uint64_t tun_fragmented;    /* inner packets without DF sent as two or more outer fragments */
	uint64_t tun_frag_needed;   /* inner packets with DF too big for the tunnel: dropped, ICMP sent */
	uint64_t tun_icmp_limited;  /* of those, ICMP "fragmentation needed" suppressed by the rate limit */
	uint64_t rx_large_frames;   /* frames too large for a ring block, from the large-frame socket */
	uint64_t rx_gso_frames;     /* of those, GSO super-frames */
	uint64_t rx_truncated;      /* frames received cut short (longer than any buffer): dropped */
	uint64_t gso_segments;      /* packets the shim cut super-frames into (TUN) */
	uint64_t gso_dropped;       /* super-frames it could not cut: unknown GSO type, bad headers,
	                             * more than RV_GSO_MAX_SEGS segments, too big for the tunnel
	                             * without DF */
};

/* Ring versions (rv_ring_params.version). */
#define RV_RING_V2 2 /* TPACKET_V2: fixed RV_V2_FRAME_SIZE frames, each handed over (and the
                      * reader woken) as soon as it is written */
#define RV_RING_V3 3 /* TPACKET_V3: frames packed into blocks, a block handed over when full or
                      * when its retire timer fires */
/* V2 frame size: holds a 1500-MTU frame with two VLAN tags behind the tpacket2_hdr; frames longer
 * than that (jumbo, super-frames) come from the large-frame socket, as frames longer than a V3
 * block do. */
#define RV_V2_FRAME_SIZE 2048

struct rv_ring_params {
	uint32_t block_size;   /* bytes, power of two, multiple of the page size */
	uint32_t block_count;  /* the ring is block_size * block_count bytes in either version */
	uint32_t block_timeout_ms; /* V3: retire timeout of a partly filled block */
	uint32_t desc_capacity;    /* descriptors per batch; raised to fit at least one full block */
	uint32_t slot_capacity;    /* real-server slots (0: 1024), below RV_VERDICT_MIN_SPECIAL */
	uint32_t version;          /* RV_RING_V2 or RV_RING_V3 (0: V3) */
};

struct rv_handle;

/* Open an AF_PACKET socket bound to ifname with a TPACKET_V3 (or V2, params->version) RX ring. */
int rv_open(const char *ifname, const struct rv_ring_params *params, struct rv_handle **out);
/* Open like rv_open and make its sockets members of PACKET_FANOUT groups on that interface: one
 * ring per packet worker, the kernel choosing the ring per frame (see fanout.c for how).
 * groups[0] is the rings' group, groups[1] the large-frame sockets' (large_frames.c): each
 * RV_FANOUT_NEW creates a new group with an id the kernel picks, 0..65535 joins that group; on
 * success both hold the ids. Returns 0 or -errno. Frames arriving while a socket is bound but not
 * yet a member are not received, so a member never sees copies of frames the group also delivers. */
#define RV_FANOUT_NEW (-1)
int rv_open_fanout(const char *ifname, const struct rv_ring_params *params, int32_t *groups,
		   struct rv_handle **out);
/* Spread the group's IPv4 frames by hash(source address & saddr_mask) over its members (any member
 * may set it; it applies to the whole group). Non-IPv4 frames (ARP) go to the first member. */
int rv_set_fanout_mask(struct rv_handle *h, uint32_t saddr_mask);
/* Pin the calling thread to one CPU (a packet worker calls it from its own thread). */
int rv_pin_thread(int32_t cpu);
/* Restrict the calling thread to n CPUs; and list the CPUs it may run on now (at most cap,
 * returns how many). */
int rv_set_thread_cpus(const int32_t *cpus, uint32_t n);
int rv_thread_cpus(int32_t *out, uint32_t cap);
/* A handle with no socket: frames come from rv_sim_push() and transmitted frames are appended to
 * a capture buffer. Lets packet tests and benchmarks run the same parse/verdict code without a
 * ring or privileges. */
int rv_open_sim(const uint8_t mac[6], const struct rv_ring_params *params, struct rv_handle **out);
void rv_close(struct rv_handle *h);

/* Shared memory areas, valid until rv_close(). */
struct rv_desc *rv_descs(struct rv_handle *h);
uint32_t *rv_verdicts(struct rv_handle *h);
struct rv_slot *rv_slots(struct rv_handle *h);
struct rv_counters *rv_counters(struct rv_handle *h);
uint32_t rv_desc_capacity(struct rv_handle *h);
uint32_t rv_slot_capacity(struct rv_handle *h);
/* Our interface's MAC (6 bytes to out) and index. */
int rv_if_info(struct rv_handle *h, uint8_t *mac_out, int32_t *ifindex_out);

/* Receive a batch: wait up to timeout_ms (0 = don't wait) for a ready block (V2: frame), then take
 * every ready block (frame) that fits in the descriptor area and parse its frames. Returns the
 * number of descriptors. The frames stay in the ring (owned by us) until rv_tx_batch() hands them
 * back. */
int rv_rx_batch(struct rv_handle *h, int32_t timeout_ms);
/* Apply the verdicts of the current batch, transmit with sendmmsg (iovecs point into the ring,
 * rewritten in place), and return the blocks to the kernel. Returns frames sent. */
int rv_tx_batch(struct rv_handle *h);
/* Open send-only sockets (one plain, one for super-frames with a virtio_net_hdr) on another
 * interface (real servers routed out of a different port). Returns its tx_if index (1..7) for
 * rv_slot.tx_if. */
int rv_add_tx_interface(struct rv_handle *h, const char *ifname);
/* ICMP "fragmentation needed" for TUN: source address (host order) and a token bucket of `rate`
 * messages per second with `burst` in hand (IPVS relies on the kernel's icmp_ratelimit, 1/s
 * per destination by default; here one bucket for all). rate 0 disables the messages. */
void rv_set_icmp(struct rv_handle *h, uint32_t saddr, uint32_t rate, uint32_t burst);
/* Send one frame built by the caller (gratuitous ARP, probes). */
int rv_send_frame(struct rv_handle *h, const uint8_t *frame, uint32_t len);
/* Fold the kernel's PACKET_STATISTICS into the counters (the kernel resets them on read). */
int rv_refresh_kernel_stats(struct rv_handle *h);

/* Simulation handle only. */
/* status: TP_STATUS_* bits the frame would have carried in the ring (TP_STATUS_CSUMNOTREADY = 8),
 * or RV_SIM_CUT: the kernel captured only part of the frame (tp_snaplen < tp_len; the shim sees
 * the first half), which the shim must count and drop. */
#define RV_SIM_CUT 0x40000000u
int rv_sim_push(struct rv_handle *h, const uint8_t *frame, uint32_t len, uint32_t status);
/* A frame as the large-frame socket would deliver it: its 10-byte virtio_net_hdr (flags,
 * gso_type, hdr_len, gso_size, csum_start, csum_offset; little-endian) and the frame; status 0
 * or RV_SIM_CUT. */
int rv_sim_push_vnet(struct rv_handle *h, const uint8_t *vnet, const uint8_t *frame, uint32_t len, uint32_t status);
/* Transmitted frames as [u32 length][bytes, padded to 4] records; length bit 31 set: the bytes
 * start with the virtio_net_hdr the frame was sent with (a super-frame sent whole). */
const uint8_t *rv_sim_tx_buffer(struct rv_handle *h);
uint32_t rv_sim_tx_length(struct rv_handle *h);
void rv_sim_tx_clear(struct rv_handle *h);

/* Compute and store the TCP/UDP checksum of an IPv4 frame described by d (from scratch). */
void rv_complete_l4_checksum(uint8_t *frame, const struct rv_desc *d);

/* Parse one frame into a descriptor (what rv_rx_batch does per frame). */
void rv_parse_frame(const uint8_t *frame, uint32_t len, struct rv_desc *d);

/* sizeof/offsetof values and constants for the layout test (verdict element size and the special
 * verdicts among them), then the offset of every counter; returns how many were written (at most
 * cap). */
int rv_layout(uint32_t *out, uint32_t cap);
/* The name of counter i (struct rv_counters field, in declaration order), NULL past the last. */
const char *rv_counter_name(uint32_t i);

#endif
