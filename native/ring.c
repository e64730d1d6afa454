/*
 * ringvs data-plane shim. See ring.h for the contract.
 *
 * Receive: one AF_PACKET socket (ETH_P_ALL) bound to one interface, TPACKET_V3 RX ring. The kernel
 * fills whole blocks; we take every ready block, parse all frames of those blocks into descriptors,
 * and keep the blocks until the verdicts are applied, so forwarded frames are sent straight from
 * ring memory (sendmmsg iovecs into the ring, MACs rewritten in place: measured fastest on veth).
 * Transmit: PACKET_QDISC_BYPASS on the same socket; PACKET_IGNORE_OUTGOING keeps our own sends
 * out of our ring.
 * Frames too large for a block (GSO super-frames, jumbo frames) come from a second socket with
 * their virtio_net_hdr (large_frames.c) into descriptors of the same batch; DR sends them whole
 * through a vnet socket, TUN cuts super-frames into segments first (gso.c).
 */
#define _GNU_SOURCE
#include "ring.h"
#include "bytes.h"
#include "csum.h"
#include "fanout.h"
#include "gso.h"
#include "icmp.h"
#include "large_frames.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define RV_ETH_HLEN 14
#define RV_VLAN_HLEN 4
#define RV_SENDMMSG_MAX 1024 /* UIO_MAXIOV: the kernel caps vlen there */
#define RV_SIM_RX_BYTES (8u << 20)
#define RV_TX_IF_MAX 8        /* tx_if 0 is the ring's socket, 1..7 from rv_add_tx_interface */
#define RV_MSGS_PER_DESC 4    /* a TUN forward can become several outer fragments */
#define RV_HDR_BYTES 160      /* per-message scratch: Ethernet + outer IPv4 (+ a segment's inner
                               * IPv4 and TCP headers, RV_GSO_MAX_HDR), or a whole ICMP */
#define RV_MSG_VNET 0x80      /* msg_if flag: the message starts with a virtio_net_hdr, send it on
                               * the interface's vnet socket */
#define RV_SIM_VNET 0x80000000u /* sim rx status / sim tx length flag: a virtio_net_hdr leads */
#define RV_SIM_TX_BYTES (16u << 20)

struct rv_handle {
	int fd;               /* -1 for a simulation handle */
	int ifindex;
	uint8_t mac[6];

	uint8_t *ring;        /* mmap'ed RX ring */
	size_t ring_bytes;
	uint32_t version;     /* TPACKET_V2 or TPACKET_V3 */
	/* What the kernel hands over one at a time, each with its own status word: a block (V3, its
	 * block_status) or a frame (V2, its tp_status). Units lie back to back in the ring. */
	uint32_t unit_size;
	uint32_t unit_count;
	uint32_t next_unit;   /* first unit the kernel may hand us next */
	uint32_t held_units;  /* units taken by the current batch, starting at held_first */
	uint32_t held_first;  /* (simulation: bytes of the queue the batch took) */

	/* Shared with the policy layer: one anonymous mapping, carved below. */
	void *shared;
	size_t shared_bytes;
	struct rv_desc *desc;
	uint32_t *verdict;    /* one per descriptor (RV_VERDICT_* or a slot number) */
	struct rv_slot *slots;
	struct rv_counters *ctr;
	uint32_t desc_cap;
	uint32_t slot_cap;
	uint32_t desc_count;

	uint32_t ring_desc_cap; /* descriptors the ring's blocks may fill; the rest is for large frames */
	uint8_t **frame;       /* frame start per descriptor (private) */
	const uint8_t **vnet;  /* per descriptor: the virtio_net_hdr in front of a large frame, or NULL */
	struct mmsghdr *msgs;  /* msg_cap messages of up to 2 iovecs each */
	struct iovec *iovs;    /* 2 per message */
	uint8_t *msg_if;       /* tx_if per message */
	uint8_t *hdrs;         /* RV_HDR_BYTES of header scratch per message */
	uint32_t msg_cap;
	uint32_t msg_count;

	int tx_fds[RV_TX_IF_MAX]; /* [0] is fd; closed on rv_close except [0] */
	int vnet_fds[RV_TX_IF_MAX]; /* per tx_if: a socket taking a virtio_net_hdr (super-frames) */

	/* Frames larger than a ring block (large_frames.c): their own socket, read with recvmmsg. */
	int large_fd;
	uint32_t large_threshold; /* frames longer than this bytes come from large_fd */
	uint8_t *large_buf;       /* RV_LARGE_PER_BATCH buffers of RV_LARGE_BUF */
	struct mmsghdr *large_msgs;
	struct iovec *large_iovs;
	uint8_t *large_cmsg;      /* PACKET_AUXDATA control buffer per message */
	uint32_t tx_if_count;
	uint16_t ip_id;        /* outer IPv4 identification, one counter per handle */

	uint32_t icmp_saddr;   /* ICMP frag-needed: source address and token bucket */
	uint32_t icmp_rate;
	uint32_t icmp_burst;
	double icmp_tokens;
	uint64_t icmp_last_ns;

	/* simulation */
	uint8_t *sim_rx;
	uint32_t sim_rx_len;   /* bytes of [u32 len][frame] records pending */
	uint8_t *sim_tx;
	uint32_t sim_tx_len;
};

/* ---------------------------------------------------------------- hashing */

/* Bob Jenkins' lookup3 final mix (the kernel's jhash_3words): cheap, and good enough that the
 * flow table's linear probing stays short for adversary-free traffic. */
#define rv_rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static inline uint32_t rv_hash3(uint32_t a, uint32_t b, uint32_t c)
{
	a += 0xdeadbeef + 12;
	b += 0xdeadbeef + 12;
	c += 0xdeadbeef + 12;
	c ^= b; c -= rv_rol32(b, 14);
	a ^= c; a -= rv_rol32(c, 11);
	b ^= a; b -= rv_rol32(a, 25);
	c ^= b; c -= rv_rol32(b, 16);
	a ^= c; a -= rv_rol32(c, 4);
	b ^= a; b -= rv_rol32(a, 14);
	c ^= b; c -= rv_rol32(b, 24);
	return c;
}

/* ---------------------------------------------------------------- parsing */


void rv_parse_frame(const uint8_t *f, uint32_t len, struct rv_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->frame_len = len;
	d->kind = RV_KIND_MALFORMED;
	if (len < RV_ETH_HLEN)
		return;
	uint32_t off = 12;
	uint16_t type = rd16(f + off);
	if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		if (len < RV_ETH_HLEN + RV_VLAN_HLEN)
			return;
		d->flags |= RV_DF_VLAN;
		d->vlan_tci = rd16(f + off + 2);
		off += RV_VLAN_HLEN;
		type = rd16(f + off);
	}
	off += 2;
	d->l3_off = (uint16_t)off;

	if (type == ETH_P_ARP) {
		/* htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4: 28 bytes */
		if (len < off + 28)
			return;
		const uint8_t *a = f + off;
		if (rd16(a) != 1 || rd16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) {
			d->kind = RV_KIND_ARP_OTHER;
			return;
		}
		d->saddr = rd32(a + 14);
		d->daddr = rd32(a + 24);
		d->kind = rd16(a + 6) == 1 ? RV_KIND_ARP_REQUEST : RV_KIND_ARP_OTHER;
		return;
	}
	if (type != ETH_P_IP) {
		d->kind = RV_KIND_OTHER;
		return;
	}

	if (len < off + 20)
		return;
	const uint8_t *ip = f + off;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint16_t tot = rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || off + tot > len)
		return;
	uint16_t frag = rd16(ip + 6);
	d->ip_len = tot;
	d->proto = ip[9];
	d->saddr = rd32(ip + 12);
	d->daddr = rd32(ip + 16);
	if (frag & 0x4000)
		d->flags |= RV_DF_DONT_FRAG;
	if (frag & 0x2000)
		d->flags |= RV_DF_MORE_FRAGS;
	if (frag & 0x1fff) {
		/* Later fragments carry no ports; the policy layer decides what to do with them. */
		d->flags |= RV_DF_FRAGMENT;
		d->kind = RV_KIND_IPV4;
		d->hash = rv_hash3(d->saddr, d->daddr, d->proto);
		return;
	}
	const uint8_t *l4 = ip + ihl;
	uint32_t l4len = tot - ihl;
	uint8_t kind = RV_KIND_IPV4;
	if (d->proto == IPPROTO_TCP) {
		if (l4len < 20)
			return;
		d->sport = rd16(l4);
		d->dport = rd16(l4 + 2);
		d->tcp_flags = l4[13];
	} else if (d->proto == IPPROTO_UDP) {
		if (l4len < 8)
			return;
		d->sport = rd16(l4);
		d->dport = rd16(l4 + 2);
	} else if (d->proto == IPPROTO_ICMP && !(frag & 0x2000)) {
		/* An error about a VIP connection is reported under that connection's tuple (icmp.c).
		 * A first fragment (MF) is left alone: errors are small and never fragmented. */
		kind = (uint8_t)rv_parse_icmp(l4, l4len, d);
		if (kind == RV_KIND_ICMP_MALFORMED) {
			d->kind = kind;
			return;
		}
	}
	d->kind = kind;
	d->hash = rv_hash3(d->saddr, d->daddr, ((uint32_t)d->sport << 16 | d->dport) ^ ((uint32_t)d->proto << 8));
}

/* ---------------------------------------------------------------- checksums */

/* A sender with checksum offload (a veth peer, a local socket) leaves only the pseudo-header sum
 * in the TCP/UDP checksum field and expects the device to finish it. A frame we re-send from
 * AF_PACKET leaves as-is, so we finish it here, from scratch, for exactly those frames. */
void rv_complete_l4_checksum(uint8_t *f, const struct rv_desc *d)
{
	uint8_t *ip = f + d->l3_off;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint32_t l4len = (uint32_t)d->ip_len - ihl;
	uint8_t *l4 = ip + ihl;
	uint32_t off = d->proto == IPPROTO_TCP ? 16 : 6;
	l4[off] = 0;
	l4[off + 1] = 0;
	uint64_t sum = rv_csum_add(0, ip + 12, 8); /* source and destination address */
	sum += d->proto;
	sum += l4len;
	sum = rv_csum_add(sum, l4, l4len);
	uint16_t c = rv_csum_fold(sum);
	if (c == 0 && d->proto == IPPROTO_UDP)
		c = 0xffff; /* UDP: 0 means "no checksum" */
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
}

/* ---------------------------------------------------------------- setup */

static int rv_alloc_shared(struct rv_handle *h, const struct rv_ring_params *p)
{
	/* A block holds at most block_size / 64 frames (each frame costs a 48-byte tpacket3_hdr plus
	 * at least a 14-byte Ethernet header, TPACKET_ALIGNed to 16), so a batch always has room for
	 * one whole block. */
	uint32_t per_block = p->block_size / 64;
	h->ring_desc_cap = p->desc_capacity > per_block ? p->desc_capacity : per_block;
	h->desc_cap = h->ring_desc_cap + RV_LARGE_PER_BATCH;
	h->slot_cap = p->slot_capacity ? p->slot_capacity : 1024;
	if (h->slot_cap >= RV_VERDICT_MIN_SPECIAL)
		return -EINVAL;

	size_t desc_bytes = (size_t)h->desc_cap * sizeof(struct rv_desc);
	/* rounded up to 64 bytes: the slots after it stay aligned for their u64 counters */
	size_t verdict_bytes = ((size_t)h->desc_cap * sizeof(*h->verdict) + 63) & ~(size_t)63;
	size_t slot_bytes = (size_t)h->slot_cap * sizeof(struct rv_slot);
	h->shared_bytes = desc_bytes + verdict_bytes + slot_bytes + sizeof(struct rv_counters);
	h->shared = mmap(NULL, h->shared_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->shared == MAP_FAILED) {
		h->shared = NULL;
		return -ENOMEM;
	}
	uint8_t *base = h->shared;
	h->desc = (struct rv_desc *)base;
	h->verdict = (uint32_t *)(base + desc_bytes);
	h->slots = (struct rv_slot *)(base + desc_bytes + verdict_bytes);
	h->ctr = (struct rv_counters *)(base + desc_bytes + verdict_bytes + slot_bytes);

	/* A ring frame becomes at most RV_MSGS_PER_DESC messages, a large one RV_GSO_MAX_SEGS. */
	h->msg_cap = h->ring_desc_cap * RV_MSGS_PER_DESC + RV_LARGE_PER_BATCH * RV_GSO_MAX_SEGS;
	h->frame = calloc(h->desc_cap, sizeof(*h->frame));
	h->vnet = calloc(h->desc_cap, sizeof(*h->vnet));
	h->msgs = calloc(h->msg_cap, sizeof(*h->msgs));
	h->iovs = calloc((size_t)h->msg_cap * 2, sizeof(*h->iovs));
	h->msg_if = calloc(h->msg_cap, 1);
	h->hdrs = calloc(h->msg_cap, RV_HDR_BYTES);
	if (!h->frame || !h->vnet || !h->msgs || !h->iovs || !h->msg_if || !h->hdrs)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->msg_cap; i++)
		h->msgs[i].msg_hdr.msg_iov = &h->iovs[2 * i];
	h->tx_if_count = 1;
	return 0;
}

static int rv_check_params(const struct rv_ring_params *p)
{
	long page = sysconf(_SC_PAGESIZE);
	if (!p || p->block_size < (uint32_t)page || (p->block_size & (p->block_size - 1)) ||
	    p->block_count < 2 || p->block_timeout_ms == 0 ||
	    (p->version != 0 && p->version != RV_RING_V2 && p->version != RV_RING_V3))
		return -EINVAL;
	return 0;
}

/* Validate the parameters and allocate an empty handle (no socket yet: fd = -1). */
static int rv_new_handle(const struct rv_ring_params *p, struct rv_handle **out)
{
	int err = rv_check_params(p);
	if (err)
		return err;
	struct rv_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->large_fd = -1;
	for (int i = 0; i < RV_TX_IF_MAX; i++)
		h->vnet_fds[i] = -1;
	h->version = p->version == RV_RING_V2 ? TPACKET_V2 : TPACKET_V3;
	h->large_threshold = (h->version == TPACKET_V2 ? RV_V2_FRAME_SIZE : p->block_size) - RV_LARGE_MARGIN;
	*out = h;
	return 0;
}

#define RV_CMSG_BYTES CMSG_SPACE(sizeof(struct tpacket_auxdata))

static int rv_tx_socket(int ifindex, int vnet_hdr);

/* The large-frame socket (large_frames.c) on h's interface, joined to fanout group `group` when
 * fanout is set (*group_out = its id), keeping frames above h->large_threshold. */
static int rv_open_large(struct rv_handle *h, int fanout, int32_t group, uint32_t *group_out)
{
	int err;
	h->large_fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (h->large_fd < 0)
		return -errno;
	/* Until it has joined its group a fanout member must take nothing (rv_filter_drop_all); a
	 * plain socket gets its size filter before it is bound. */
	if ((err = fanout ? rv_filter_drop_all(h->large_fd) : rv_large_filter(h->large_fd, h->large_threshold)) ||
	    (err = rv_large_setup(h->large_fd)))
		return err;
	h->large_buf = malloc((size_t)RV_LARGE_PER_BATCH * RV_LARGE_BUF);
	h->large_msgs = calloc(RV_LARGE_PER_BATCH, sizeof(*h->large_msgs));
	h->large_iovs = calloc(RV_LARGE_PER_BATCH, sizeof(*h->large_iovs));
	h->large_cmsg = calloc(RV_LARGE_PER_BATCH, RV_CMSG_BYTES);
	if (!h->large_buf || !h->large_msgs || !h->large_iovs || !h->large_cmsg)
		return -ENOMEM;
	for (uint32_t i = 0; i < RV_LARGE_PER_BATCH; i++) {
		h->large_iovs[i].iov_base = h->large_buf + (size_t)i * RV_LARGE_BUF;
		h->large_iovs[i].iov_len = RV_LARGE_BUF;
		h->large_msgs[i].msg_hdr.msg_iov = &h->large_iovs[i];
		h->large_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = h->ifindex;
	if (bind(h->large_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	if (fanout) {
		int id = rv_fanout_join(h->large_fd, group);
		if (id < 0)
			return id;
		if ((err = rv_large_filter(h->large_fd, h->large_threshold)))
			return err;
		*group_out = (uint32_t)id;
	}
	return 0;
}

/* fanout: 0 = plain sockets; else groups[0] (the rings') and groups[1] (the large-frame
 * sockets') are joined, or created where RV_FANOUT_NEW, and set to the ids. */
static int rv_open_socket(const char *ifname, const struct rv_ring_params *p, int fanout, int32_t *groups,
			  struct rv_handle **out)
{
	struct rv_handle *h;
	int err = rv_new_handle(p, &h);
	if (err)
		return err;

	/* Protocol 0 first: nothing is queued until the ring exists and we bind with ETH_P_ALL. */
	h->fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (h->fd < 0) {
		err = -errno;
		goto fail;
	}
	h->ifindex = (int)if_nametoindex(ifname);
	if (!h->ifindex) {
		err = -ENODEV;
		goto fail;
	}
	/* A fanout member takes nothing until it has joined. The ring has no size filter: its copy of
	 * a large frame (cut to a block) is skipped in rv_rx_batch by its length, which costs a block
	 * per large frame but no filter run per frame (measured: the filter slowed the receiving
	 * softirq of every frame, -7% at 64 bytes in bench/pps.sh). */
	if (fanout && (err = rv_filter_drop_all(h->fd)))
		goto fail;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(h->fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		goto fail;
	}
	memcpy(h->mac, ifr.ifr_hwaddr.sa_data, 6);
	/* A frame longer than the MTU allows (+ Ethernet header and a VLAN tag) is a super-frame, and
	 * only the large-frame socket tells how to cut it: those are its frames, and so are frames the
	 * ring's blocks cannot hold. */
	if (ioctl(h->fd, SIOCGIFMTU, &ifr) < 0) {
		err = -errno;
		goto fail;
	}
	if ((uint32_t)ifr.ifr_mtu + RV_ETH_HLEN + RV_VLAN_HLEN < h->large_threshold)
		h->large_threshold = (uint32_t)ifr.ifr_mtu + RV_ETH_HLEN + RV_VLAN_HLEN;

	int one = 1, version = (int)h->version;
	if (setsockopt(h->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(h->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    setsockopt(h->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		err = -errno;
		goto fail;
	}
	/* The same geometry for both versions; V2 reads tpacket_req3 as a tpacket_req (its first four
	 * fields) and ignores the rest. V3's frame size is nominal (frames are packed) but must divide
	 * the block; V2's frames are RV_V2_FRAME_SIZE each, back to back since the size divides the
	 * block. */
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = p->block_size;
	req.tp_block_nr = p->block_count;
	req.tp_frame_size = RV_V2_FRAME_SIZE;
	req.tp_frame_nr = (p->block_size / req.tp_frame_size) * p->block_count;
	if (h->version == TPACKET_V3)
		req.tp_retire_blk_tov = p->block_timeout_ms;
	if (setsockopt(h->fd, SOL_PACKET, PACKET_RX_RING, &req,
		       h->version == TPACKET_V3 ? sizeof(req) : sizeof(struct tpacket_req)) < 0) {
		err = -errno;
		goto fail;
	}
	h->ring_bytes = (size_t)p->block_size * p->block_count;
	h->unit_size = h->version == TPACKET_V3 ? p->block_size : RV_V2_FRAME_SIZE;
	h->unit_count = (uint32_t)(h->ring_bytes / h->unit_size);
	h->ring = mmap(NULL, h->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, 0);
	if (h->ring == MAP_FAILED) {
		h->ring = NULL;
		err = -errno;
		goto fail;
	}
	err = rv_alloc_shared(h, p);
	if (err)
		goto fail;

	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = h->ifindex;
	if (bind(h->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		goto fail;
	}
	uint32_t ids[2] = { 0, 0 };
	if (fanout) {
		int id = rv_fanout_join(h->fd, groups[0]);
		if (id < 0) {
			err = id;
			goto fail;
		}
		if ((err = rv_filter_detach(h->fd)))
			goto fail;
		ids[0] = (uint32_t)id;
	}
	if ((err = rv_open_large(h, fanout, fanout ? groups[1] : 0, &ids[1])))
		goto fail;
	if (fanout) {
		groups[0] = (int32_t)ids[0];
		groups[1] = (int32_t)ids[1];
	}
	h->tx_fds[0] = h->fd;
	if ((h->vnet_fds[0] = rv_tx_socket(h->ifindex, 1)) < 0) {
		err = h->vnet_fds[0];
		goto fail;
	}
	*out = h;
	return 0;
fail:
	rv_close(h);
	return err;
}

int rv_open(const char *ifname, const struct rv_ring_params *p, struct rv_handle **out)
{
	return rv_open_socket(ifname, p, 0, NULL, out);
}

int rv_open_fanout(const char *ifname, const struct rv_ring_params *p, int32_t *groups, struct rv_handle **out)
{
	for (int i = 0; i < 2; i++)
		if (groups[i] != RV_FANOUT_NEW && (groups[i] < 0 || groups[i] > 0xffff))
			return -EINVAL;
	return rv_open_socket(ifname, p, 1, groups, out);
}

int rv_set_fanout_mask(struct rv_handle *h, uint32_t saddr_mask)
{
	if (h->fd < 0)
		return -EBADF;
	/* Both groups spread alike, so a connection's large frames meet its small ones. */
	int err = rv_fanout_set_mask(h->fd, saddr_mask);
	return err ? err : rv_fanout_set_mask(h->large_fd, saddr_mask);
}

int rv_open_sim(const uint8_t mac[6], const struct rv_ring_params *p, struct rv_handle **out)
{
	struct rv_handle *h;
	int err = rv_new_handle(p, &h);
	if (err)
		return err;
	memcpy(h->mac, mac, 6);
	h->unit_size = h->version == TPACKET_V3 ? p->block_size : RV_V2_FRAME_SIZE;
	err = rv_alloc_shared(h, p);
	if (err)
		goto fail;
	h->sim_rx = malloc(RV_SIM_RX_BYTES);
	h->sim_tx = malloc(RV_SIM_TX_BYTES);
	if (!h->sim_rx || !h->sim_tx) {
		err = -ENOMEM;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	rv_close(h);
	return err;
}

void rv_close(struct rv_handle *h)
{
	if (!h)
		return;
	free(h->sim_tx);
	free(h->sim_rx);
	for (uint32_t i = 1; i < h->tx_if_count; i++)
		close(h->tx_fds[i]);
	for (int i = 0; i < RV_TX_IF_MAX; i++)
		if (h->vnet_fds[i] >= 0)
			close(h->vnet_fds[i]);
	if (h->large_fd >= 0)
		close(h->large_fd);
	free(h->large_cmsg);
	free(h->large_iovs);
	free(h->large_msgs);
	free(h->large_buf);
	free(h->vnet);
	free(h->hdrs);
	free(h->msg_if);
	free(h->iovs);
	free(h->msgs);
	free(h->frame);
	if (h->shared)
		munmap(h->shared, h->shared_bytes);
	if (h->ring)
		munmap(h->ring, h->ring_bytes);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

struct rv_desc *rv_descs(struct rv_handle *h) { return h->desc; }
uint32_t *rv_verdicts(struct rv_handle *h) { return h->verdict; }
struct rv_slot *rv_slots(struct rv_handle *h) { return h->slots; }
struct rv_counters *rv_counters(struct rv_handle *h) { return h->ctr; }
uint32_t rv_desc_capacity(struct rv_handle *h) { return h->desc_cap; }
uint32_t rv_slot_capacity(struct rv_handle *h) { return h->slot_cap; }

int rv_if_info(struct rv_handle *h, uint8_t *mac_out, int32_t *ifindex_out)
{
	memcpy(mac_out, h->mac, 6);
	*ifindex_out = h->ifindex;
	return 0;
}

/* ---------------------------------------------------------------- receive */

/* One received frame into the next descriptor: len bytes captured of an orig_len-byte frame,
 * status the TP_STATUS_* bits, vlan the tag the kernel stripped (with TP_STATUS_VLAN_VALID), vnet
 * the virtio_net_hdr in front of a frame from the large-frame socket (NULL for the ring's): its
 * NEEDS_CSUM flag stands for TP_STATUS_CSUMNOTREADY, its gso_type marks a super-frame. A frame
 * captured shorter than it was (the ring skips what a block cannot hold, which the large-frame
 * socket takes, and its buffer holds the largest GSO skb, so only a frame past both) is counted and
 * never forwarded: a cut frame is a corrupt one. */
static inline void rv_take_frame(struct rv_handle *h, uint8_t *frame, uint32_t len, uint32_t orig_len,
				 uint32_t status, uint16_t vlan, const uint8_t *vnet)
{
	if (orig_len > len) {
		h->ctr->rx_truncated++;
		return;
	}
	struct rv_desc *d = &h->desc[h->desc_count];
	rv_parse_frame(frame, len, d);
	if (vnet && (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		status |= TP_STATUS_CSUMNOTREADY;
	if ((status & TP_STATUS_CSUMNOTREADY) && d->kind == RV_KIND_IPV4 &&
	    (d->proto == IPPROTO_TCP || d->proto == IPPROTO_UDP) && !(d->flags & RV_DF_FRAGMENT))
		d->flags |= RV_DF_CSUM_PARTIAL;
	if (status & TP_STATUS_VLAN_VALID) {
		d->flags |= RV_DF_VLAN_STRIPPED;
		d->vlan_tci = vlan;
	}
	if (vnet) {
		h->ctr->rx_large_frames++;
		if (vnet[1] != VIRTIO_NET_HDR_GSO_NONE) {
			d->flags |= RV_DF_GSO;
			h->ctr->rx_gso_frames++;
		}
	}
	h->vnet[h->desc_count] = vnet;
	h->frame[h->desc_count] = frame;
	h->verdict[h->desc_count] = RV_VERDICT_PASS;
	h->desc_count++;
	h->ctr->rx_frames++;
	h->ctr->rx_bytes += len;
	switch (d->kind) {
	case RV_KIND_IPV4:
	case RV_KIND_ICMP_ERROR: h->ctr->parsed_ipv4++; break;
	case RV_KIND_ARP_REQUEST:
	case RV_KIND_ARP_OTHER: h->ctr->parsed_arp++; break;
	case RV_KIND_OTHER: h->ctr->parsed_other++; break;
	default: h->ctr->parsed_malformed++; break;
	}
}

/* The status word of ring unit i: a V3 block's block_status, a V2 frame's tp_status. */
static inline uint32_t *rv_unit_status(struct rv_handle *h, uint32_t i)
{
	uint8_t *u = h->ring + (size_t)i * h->unit_size;
	return h->version == TPACKET_V3 ? &((struct tpacket_block_desc *)u)->hdr.bh1.block_status
					: &((struct tpacket2_hdr *)u)->tp_status;
}

static void rv_release_units(struct rv_handle *h)
{
	for (uint32_t i = 0; i < h->held_units; i++)
		/* Release: every read of the unit's frames, and the sendmmsg that copied them out, must
		 * be done before the kernel sees the unit as its own again and overwrites it. */
		__atomic_store_n(rv_unit_status(h, (h->held_first + i) % h->unit_count), TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
	h->held_units = 0;
}

static int rv_sim_rx(struct rv_handle *h)
{
	uint32_t off = 0, ring_frames = 0, large_frames = 0;
	while (off < h->sim_rx_len) {
		uint32_t len, status;
		memcpy(&len, h->sim_rx + off, 4);
		memcpy(&status, h->sim_rx + off + 4, 4);
		uint8_t *rec = h->sim_rx + off + 8;
		/* RV_SIM_CUT: the frame as if the kernel had captured only its first half. */
		uint32_t orig = len, cut = status & RV_SIM_CUT ? len / 2 : len;
		status &= ~RV_SIM_CUT;
		/* As on a real handle: a batch takes at most ring_desc_cap ring frames and
		 * RV_LARGE_PER_BATCH large ones; the first that does not fit waits for the next. */
		if (status & RV_SIM_VNET) {
			if (large_frames == RV_LARGE_PER_BATCH)
				break;
			large_frames++;
			rv_take_frame(h, rec + RV_VNET_HDR_LEN, cut, orig, status & ~RV_SIM_VNET, 0, rec);
			len += RV_VNET_HDR_LEN;
		} else {
			if (ring_frames == h->ring_desc_cap)
				break;
			ring_frames++;
			rv_take_frame(h, rec, cut, orig, status, 0, NULL);
		}
		off += 8 + ((len + 3) & ~3u);
	}
	/* Frames not taken stay queued for the next batch; move them after tx (see rv_tx_batch). */
	h->held_first = off;
	return (int)h->desc_count;
}

/* Take what the large-frame socket has queued (never waits). Each buffer holds the
 * virtio_net_hdr and then the frame; the auxdata gives the frame's original length (a longer
 * one was cut to the buffer) and a VLAN tag the kernel stripped. */
static void rv_rx_large(struct rv_handle *h)
{
	for (uint32_t i = 0; i < RV_LARGE_PER_BATCH; i++) {
		struct msghdr *mh = &h->large_msgs[i].msg_hdr;
		mh->msg_control = h->large_cmsg + (size_t)i * RV_CMSG_BYTES;
		mh->msg_controllen = RV_CMSG_BYTES;
		mh->msg_flags = 0;
	}
	int r = recvmmsg(h->large_fd, h->large_msgs, RV_LARGE_PER_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < r; i++) {
		struct msghdr *mh = &h->large_msgs[i].msg_hdr;
		uint8_t *buf = h->large_buf + (size_t)i * RV_LARGE_BUF;
		uint32_t got = h->large_msgs[i].msg_len;
		uint32_t status = 0, vlan = 0, orig = got > RV_VNET_HDR_LEN ? got - RV_VNET_HDR_LEN : 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
				continue;
			struct tpacket_auxdata aux;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			status = aux.tp_status;
			vlan = aux.tp_vlan_tci;
			orig = aux.tp_len;
		}
		if (got < RV_VNET_HDR_LEN) {
			h->ctr->rx_truncated++; /* not even the virtio_net_hdr */
			continue;
		}
		if (mh->msg_flags & MSG_TRUNC)
			orig = orig > got - RV_VNET_HDR_LEN ? orig : got; /* longer than the buffer */
		rv_take_frame(h, buf + RV_VNET_HDR_LEN, got - RV_VNET_HDR_LEN, orig, status, (uint16_t)vlan, buf);
	}
}

/* V3: every ready block that fits in the descriptor area, all of its frames. */
static void rv_rx_blocks(struct rv_handle *h)
{
	uint32_t per_block = h->unit_size / 64;
	while (h->held_units < h->unit_count && h->desc_count + per_block <= h->ring_desc_cap) {
		struct tpacket_block_desc *bd = (void *)(h->ring + (size_t)h->next_unit * h->unit_size);
		/* Acquire: the block's frames are valid only after we have seen TP_STATUS_USER. */
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		uint32_t n = bd->hdr.bh1.num_pkts;
		struct tpacket3_hdr *ph = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
		for (uint32_t i = 0; i < n; i++) {
			uint8_t *frame = (uint8_t *)ph + ph->tp_mac;
			/* A large frame's copy here is cut to the block; the large-frame socket has it whole. */
			if (ph->tp_len <= h->large_threshold)
				rv_take_frame(h, frame, ph->tp_snaplen, ph->tp_len, ph->tp_status,
					      (uint16_t)ph->hv1.tp_vlan_tci, NULL);
			ph = (void *)((uint8_t *)ph + ph->tp_next_offset);
		}
		h->ctr->rx_blocks++;
		h->held_units++;
		h->next_unit = (h->next_unit + 1) % h->unit_count;
	}
}

/* Frames ahead of the one being parsed that rv_rx_frames prefetches. */
#define RV_V2_PREFETCH 4

/* V2: every ready frame, in ring order, up to the descriptor area's size. A batch forms by itself:
 * what arrived while the last one was being forwarded is all ready now. */
static void rv_rx_frames(struct rv_handle *h)
{
	while (h->held_units < h->unit_count && h->desc_count < h->ring_desc_cap) {
		struct tpacket2_hdr *ph = (void *)(h->ring + (size_t)h->next_unit * h->unit_size);
		/* A backlog of 2 KiB frames is a stride the hardware prefetcher does not follow (two
		 * frames per page), so a frame's header and first bytes would each be a cache miss:
		 * ask for those of a frame a few ahead (status word, tpacket2_hdr; headers at tp_mac). */
		uint8_t *ahead = h->ring + (size_t)((h->next_unit + RV_V2_PREFETCH) % h->unit_count) * h->unit_size;
		__builtin_prefetch(ahead);
		__builtin_prefetch(ahead + 64);
		/* Acquire: the frame is valid only after we have seen TP_STATUS_USER. */
		uint32_t status = __atomic_load_n(&ph->tp_status, __ATOMIC_ACQUIRE);
		if (!(status & TP_STATUS_USER))
			break;
		/* A large frame's copy here is cut to the frame; the large-frame socket has it whole. */
		if (ph->tp_len <= h->large_threshold)
			rv_take_frame(h, (uint8_t *)ph + ph->tp_mac, ph->tp_snaplen, ph->tp_len, status,
				      ph->tp_vlan_tci, NULL);
		h->held_units++;
		h->next_unit = (h->next_unit + 1) % h->unit_count;
	}
}

int rv_rx_batch(struct rv_handle *h, int32_t timeout_ms)
{
	if (h->desc_count || h->held_units)
		rv_tx_batch(h); /* a batch whose verdicts were never applied: apply what is set (every
		                 * verdict starts as PASS) and hand the ring back to the kernel */
	if (h->fd < 0)
		return rv_sim_rx(h);

	int large_ready = 1; /* not polled: unknown, so look */
	if (!(__atomic_load_n(rv_unit_status(h, h->next_unit), __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
		if (timeout_ms <= 0) {
			rv_rx_large(h);
			return (int)h->desc_count;
		}
		struct pollfd pfd[2] = {
			{ .fd = h->fd, .events = POLLIN | POLLERR },
			{ .fd = h->large_fd, .events = POLLIN },
		};
		h->ctr->rx_polls++;
		int r = poll(pfd, 2, timeout_ms);
		if (r < 0)
			return errno == EINTR ? 0 : -errno;
		large_ready = (pfd[1].revents & POLLIN) != 0;
	}
	h->held_first = h->next_unit;
	if (h->version == TPACKET_V3)
		rv_rx_blocks(h);
	else
		rv_rx_frames(h);
	if (large_ready)
		rv_rx_large(h);
	return (int)h->desc_count;
}

/* ---------------------------------------------------------------- transmit */


static void rv_make_arp_reply(struct rv_handle *h, uint8_t *f, const struct rv_desc *d)
{
	uint8_t *a = f + d->l3_off;
	memcpy(f, f + 6, 6);        /* to the asker */
	memcpy(f + 6, h->mac, 6);
	a[6] = 0;                   /* op = 2 (reply) */
	a[7] = 2;
	memcpy(a + 18, a + 8, 10);  /* target hw + proto = the asker's sender hw + proto */
	memcpy(a + 8, h->mac, 6);   /* sender hw = us */
	wr32(a + 14, d->daddr);     /* sender proto = the address that was asked for */
}

/* Queue one message of one or two pieces for interface tx_if. Returns 0 when the message area
 * is full (cannot happen with RV_MSGS_PER_DESC messages per descriptor; counted if it does). */
static int rv_queue(struct rv_handle *h, uint8_t tx_if, const void *a, size_t alen, const void *b, size_t blen)
{
	if (h->msg_count == h->msg_cap) {
		h->ctr->tx_errors++;
		return 0;
	}
	uint32_t m = h->msg_count++;
	struct iovec *iov = &h->iovs[2 * m];
	iov[0].iov_base = (void *)a;
	iov[0].iov_len = alen;
	iov[1].iov_base = (void *)b;
	iov[1].iov_len = blen;
	h->msgs[m].msg_hdr.msg_iovlen = blen ? 2 : 1;
	h->msg_if[m] = tx_if;
	return 1;
}

static inline uint8_t *rv_scratch(struct rv_handle *h)
{
	return h->hdrs + (size_t)h->msg_count * RV_HDR_BYTES;
}

/* Ethernet + outer IPv4 header of an IPIP packet into hdr (34 bytes). */
static void rv_outer_header(struct rv_handle *h, uint8_t *hdr, const struct rv_slot *s, const uint8_t *inner,
			    uint16_t outer_len, uint16_t frag_field)
{
	memcpy(hdr, s->dmac, 6);
	memcpy(hdr + 6, s->smac, 6);
	wr16(hdr + 12, ETH_P_IP);
	uint8_t *ip = hdr + 14;
	ip[0] = 0x45;
	ip[1] = inner[1];           /* TOS/DSCP copied from the inner header, as IPVS does */
	wr16(ip + 2, outer_len);
	wr16(ip + 4, h->ip_id);
	wr16(ip + 6, frag_field);
	ip[8] = inner[8];           /* TTL copied from the inner header (see ring.h) */
	ip[9] = 4;                  /* IPPROTO_IPIP */
	ip[10] = 0;
	ip[11] = 0;
	wr32(ip + 12, s->saddr);
	wr32(ip + 16, s->rip);
	wr16(ip + 10, rv_csum_fold(rv_csum_add(0, ip, 20)));
}

static int rv_icmp_allowed(struct rv_handle *h)
{
	if (!h->icmp_rate)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h->icmp_tokens += (double)(now - h->icmp_last_ns) * h->icmp_rate / 1e9;
	if (h->icmp_tokens > h->icmp_burst)
		h->icmp_tokens = h->icmp_burst;
	h->icmp_last_ns = now;
	if (h->icmp_tokens < 1.0)
		return 0;
	h->icmp_tokens -= 1.0;
	return 1;
}

/* ICMP destination unreachable / fragmentation needed back to the sender of frame f, quoting the
 * inner IP header and 8 bytes of its payload (RFC 792), out of the port the frame came in on. */
static void rv_queue_frag_needed(struct rv_handle *h, const uint8_t *f, const struct rv_desc *d, uint16_t mtu)
{
	const uint8_t *inner = f + d->l3_off;
	uint32_t ihl = (uint32_t)(inner[0] & 0x0f) * 4;
	uint32_t quote = ihl + 8 <= d->ip_len ? ihl + 8 : d->ip_len;
	uint8_t *m = rv_scratch(h);
	if (14 + 20 + 8 + quote > RV_HDR_BYTES)
		quote = RV_HDR_BYTES - 14 - 20 - 8;
	memcpy(m, f + 6, 6);        /* back to whoever handed us the frame (client or its router) */
	memcpy(m + 6, h->mac, 6);
	wr16(m + 12, ETH_P_IP);
	uint8_t *ip = m + 14;
	uint16_t total = (uint16_t)(20 + 8 + quote);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, total);
	wr16(ip + 4, h->ip_id++);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	wr32(ip + 12, h->icmp_saddr);
	wr32(ip + 16, d->saddr);
	uint64_t sum = rv_csum_add(0, ip, 20);
	wr16(ip + 10, rv_csum_fold(sum));
	uint8_t *ic = ip + 20;
	ic[0] = 3;                  /* destination unreachable */
	ic[1] = 4;                  /* fragmentation needed and DF set */
	ic[2] = ic[3] = 0;
	ic[4] = ic[5] = 0;
	wr16(ic + 6, mtu);          /* next-hop MTU (RFC 1191) */
	memcpy(ic + 8, inner, quote);
	wr16(ic + 2, rv_csum_fold(rv_csum_add(0, ic, 8 + quote)));
	rv_queue(h, 0, m, 14 + total, NULL, 0);
}

/* IPIP, as ip_vs_tunnel_xmit: one outer packet when it fits the egress MTU; otherwise, for an
 * inner packet with DF, drop it and tell the sender the tunnel's MTU (mtu - 20); without DF,
 * fragment the outer packet (each fragment carries a slice of the inner packet). */
/* A packet with DF too big for the tunnel is dropped, and its sender told the tunnel's MTU
 * (egress MTU - 20), within the rate limit. */
static void rv_tun_too_big(struct rv_handle *h, const uint8_t *f, const struct rv_desc *d, uint32_t mtu)
{
	h->ctr->tun_frag_needed++;
	if (rv_icmp_allowed(h))
		rv_queue_frag_needed(h, f, d, (uint16_t)(mtu - 20));
	else
		h->ctr->tun_icmp_limited++;
}

/* max_pieces: RV_MSGS_PER_DESC for a ring frame; a large one (a jumbo frame, which without DF
 * behind a 1500-byte link needs 7) may take the RV_GSO_MAX_SEGS messages reserved for it. */
static void rv_queue_tun(struct rv_handle *h, uint8_t *f, const struct rv_desc *d, struct rv_slot *s,
			 uint32_t max_pieces)
{
	const uint8_t *inner = f + d->l3_off;
	uint32_t len = d->ip_len;
	uint32_t mtu = s->mtu ? s->mtu : 1500;
	if (len + 20 <= mtu) {
		uint8_t *hdr = rv_scratch(h);
		rv_outer_header(h, hdr, s, inner, (uint16_t)(len + 20), d->flags & RV_DF_DONT_FRAG ? 0x4000 : 0);
		h->ip_id++;
		rv_queue(h, s->tx_if, hdr, 34, inner, len);
		h->ctr->tun_packets++;
		return;
	}
	/* Never an ICMP error about an ICMP error (RFC 1122 3.2.2): one too big for the tunnel (an
	 * egress MTU under ~600 bytes) is fragmented like a packet without DF. */
	if ((d->flags & RV_DF_DONT_FRAG) && d->kind != RV_KIND_ICMP_ERROR) {
		rv_tun_too_big(h, f, d, mtu);
		return;
	}
	uint32_t chunk = (mtu - 20) & ~7u;  /* fragment payloads are multiples of 8 bytes */
	if ((len + chunk - 1) / chunk > max_pieces) {
		h->ctr->verdict_bad++;      /* an MTU so small that one packet would need too many pieces */
		return;
	}
	for (uint32_t off = 0; off < len; off += chunk) {
		uint32_t piece = len - off < chunk ? len - off : chunk;
		uint16_t frag = (uint16_t)((off / 8) | (off + piece < len ? 0x2000 : 0));
		uint8_t *hdr = rv_scratch(h);
		rv_outer_header(h, hdr, s, inner, (uint16_t)(piece + 20), frag);
		rv_queue(h, s->tx_if, hdr, 34, inner + off, piece);
	}
	h->ip_id++;
	h->ctr->tun_packets++;
	h->ctr->tun_fragmented++;
}

/* A super-frame for a TUN real server: cut into the packets it stands for (gso.c), each in its
 * own IPIP packet. The tunnel's MTU is judged on the segments, as the packets the sender meant
 * are those: with DF (TCP always) and segments too big for it, the sender is told the tunnel's
 * MTU once, as for one packet, and lowers its MSS. */
static void rv_queue_tun_gso(struct rv_handle *h, uint8_t *f, const struct rv_desc *d, struct rv_slot *s,
			     const uint8_t *vnet)
{
	const uint8_t *inner = f + d->l3_off;
	uint16_t gso_size = (uint16_t)(vnet[4] | vnet[5] << 8); /* little-endian on this host (vio_le) */
	struct rv_gso g;
	if (rv_gso_plan(inner, d->ip_len, vnet[1], gso_size, &g) < 0) {
		h->ctr->gso_dropped++;
		return;
	}
	uint32_t mtu = s->mtu ? s->mtu : 1500;
	if (g.hdr_len + g.mss + 20 > mtu) {
		if (!(d->flags & RV_DF_DONT_FRAG)) {
			h->ctr->gso_dropped++; /* no DF: would be segments cut again into fragments; not done */
			return;
		}
		rv_tun_too_big(h, f, d, mtu);
		return;
	}
	if (h->msg_count + g.segments > h->msg_cap) {
		h->ctr->gso_dropped++;
		return;
	}
	for (uint32_t i = 0; i < g.segments; i++) {
		uint8_t *hdr = rv_scratch(h);
		uint32_t len = rv_gso_segment(inner, &g, i, hdr + 34);
		rv_outer_header(h, hdr, s, hdr + 34, (uint16_t)(20 + g.hdr_len + len),
				d->flags & RV_DF_DONT_FRAG ? 0x4000 : 0);
		h->ip_id++;
		rv_queue(h, s->tx_if, hdr, 34 + g.hdr_len, inner + g.hdr_len + i * g.mss, len);
	}
	h->ctr->tun_packets += g.segments;
	h->ctr->gso_segments += g.segments;
}

/* Simulation: append a message's pieces as one captured frame; 0 when the buffer is full. A
 * message for a vnet socket (it starts with a virtio_net_hdr) is flagged in the length word. */
static int rv_sim_capture_msg(struct rv_handle *h, const struct msghdr *mh, int vnet)
{
	uint32_t len = 0;
	for (size_t i = 0; i < mh->msg_iovlen; i++)
		len += (uint32_t)mh->msg_iov[i].iov_len;
	uint32_t need = 4 + ((len + 3) & ~3u);
	if (h->sim_tx_len + need > RV_SIM_TX_BYTES) {
		h->ctr->tx_errors++;
		return 0;
	}
	uint32_t word = len | (vnet ? RV_SIM_VNET : 0);
	memcpy(h->sim_tx + h->sim_tx_len, &word, 4);
	uint32_t at = h->sim_tx_len + 4;
	for (size_t i = 0; i < mh->msg_iovlen; i++) {
		memcpy(h->sim_tx + at, mh->msg_iov[i].iov_base, mh->msg_iov[i].iov_len);
		at += (uint32_t)mh->msg_iov[i].iov_len;
	}
	h->sim_tx_len += need;
	h->ctr->tx_frames++;
	h->ctr->tx_bytes += vnet ? len - RV_VNET_HDR_LEN : len;
	return 1;
}

/* Send messages [from, to), all for interface tx_if. */
static uint32_t rv_send_run(struct rv_handle *h, uint32_t from, uint32_t to, uint8_t tx_if)
{
	uint32_t ok = 0;
	if (h->fd < 0) {
		for (uint32_t m = from; m < to; m++)
			ok += (uint32_t)rv_sim_capture_msg(h, &h->msgs[m].msg_hdr, tx_if & RV_MSG_VNET);
		return ok;
	}
	int vnet = tx_if & RV_MSG_VNET;
	int fd = vnet ? h->vnet_fds[tx_if & ~RV_MSG_VNET] : h->tx_fds[tx_if];
	uint32_t sent = from;
	while (sent < to) {
		uint32_t chunk = to - sent > RV_SENDMMSG_MAX ? RV_SENDMMSG_MAX : to - sent;
		h->ctr->tx_calls++;
		int r = sendmmsg(fd, h->msgs + sent, chunk, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* The first message of the chunk failed (ENOBUFS when the device is busy, ENETDOWN
			 * when it went away, EMSGSIZE above its MTU): count it lost and carry on. */
			h->ctr->tx_errors++;
			sent++;
			continue;
		}
		for (int i = 0; i < r; i++)
			h->ctr->tx_bytes += h->msgs[sent + i].msg_len - (vnet ? RV_VNET_HDR_LEN : 0);
		sent += (uint32_t)r;
		ok += (uint32_t)r;
	}
	h->ctr->tx_frames += ok;
	return ok;
}

/* Send every queued message, one sendmmsg run per stretch of the same interface. */
static uint32_t rv_flush(struct rv_handle *h)
{
	uint32_t ok = 0, from = 0;
	for (uint32_t m = 1; m <= h->msg_count; m++) {
		if (m == h->msg_count || h->msg_if[m] != h->msg_if[from]) {
			ok += rv_send_run(h, from, m, h->msg_if[from]);
			from = m;
		}
	}
	h->msg_count = 0;
	return ok;
}

int rv_tx_batch(struct rv_handle *h)
{
	h->msg_count = 0;
	for (uint32_t i = 0; i < h->desc_count; i++) {
		uint32_t v = h->verdict[i];
		const struct rv_desc *d = &h->desc[i];
		uint8_t *f = h->frame[i];
		if (v == RV_VERDICT_PASS) {
			h->ctr->verdict_pass++;
			continue;
		}
		if (v == RV_VERDICT_DROP) {
			h->ctr->verdict_drop++;
			continue;
		}
		if (v == RV_VERDICT_ARP_REPLY) {
			if (d->kind != RV_KIND_ARP_REQUEST) {
				h->ctr->verdict_bad++;
				continue;
			}
			rv_make_arp_reply(h, f, d);
			h->ctr->tx_arp_replies++;
			rv_queue(h, 0, f, d->frame_len, NULL, 0);
			continue;
		}
		struct rv_slot *s = v < h->slot_cap ? &h->slots[v] : NULL;
		/* An ICMP error goes to its connection's slot like any packet of it, as it came: its
		 * ICMP checksum is the sender's, and RV_DF_CSUM_PARTIAL is only ever set on TCP/UDP. */
		int fwd_kind = d->kind == RV_KIND_IPV4 || d->kind == RV_KIND_ICMP_ERROR;
		if (!s || !fwd_kind || s->method == RV_FWD_NONE || s->tx_if >= h->tx_if_count) {
			h->ctr->verdict_bad++;
			continue;
		}
		const uint8_t *vnet = h->vnet[i];
		s->packets++;
		s->bytes += d->frame_len;
		if (s->method == RV_FWD_DR) {
			/* Out of the interface the route to the real server names (a two-armed director
			 * receives on one NIC and reaches its servers on another), with that NIC's MAC. */
			memcpy(f, s->dmac, 6);
			memcpy(f + 6, s->smac, 6);
			if (vnet) {
				/* A large frame leaves whole with the virtio_net_hdr it came with (it sits
				 * right before the frame): the kernel or the egress device segments it and
				 * finishes its checksum, as IPVS leaves a GSO skb to the egress device. */
				rv_queue(h, s->tx_if | RV_MSG_VNET, vnet, RV_VNET_HDR_LEN + d->frame_len, NULL, 0);
				continue;
			}
			if ((d->flags & RV_DF_CSUM_PARTIAL) && d->kind == RV_KIND_IPV4)
				rv_complete_l4_checksum(f, d);
			rv_queue(h, s->tx_if, f, d->frame_len, NULL, 0);
		} else if (vnet && (d->flags & RV_DF_GSO)) {
			rv_queue_tun_gso(h, f, d, s, vnet);
		} else {
			if ((d->flags & RV_DF_CSUM_PARTIAL) && d->kind == RV_KIND_IPV4)
				rv_complete_l4_checksum(f, d);
			rv_queue_tun(h, f, d, s, vnet ? RV_GSO_MAX_SEGS : RV_MSGS_PER_DESC);
		}
	}
	int sent = (int)rv_flush(h);

	if (h->fd < 0) {
		/* Drop the consumed records, keep any that did not fit in this batch. */
		uint32_t used = h->held_first;
		memmove(h->sim_rx, h->sim_rx + used, h->sim_rx_len - used);
		h->sim_rx_len -= used;
		h->held_first = 0;
	} else {
		rv_release_units(h);
	}
	h->desc_count = 0;
	return sent;
}

/* A send-only socket on ifindex (protocol 0: it never receives), bypassing the qdisc as the
 * ring's own does. vnet_hdr: its messages start with a virtio_net_hdr, so a super-frame leaves
 * whole and the kernel or the device segments it. Returns the fd or -errno. */
static int rv_tx_socket(int ifindex, int vnet_hdr)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	if ((vnet_hdr && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int rv_add_tx_interface(struct rv_handle *h, const char *ifname)
{
	if (h->tx_if_count >= RV_TX_IF_MAX)
		return -ENOSPC;
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	if (h->fd < 0)
		return (int)h->tx_if_count++; /* simulation: nothing to open, frames are captured */
	int vfd = rv_tx_socket(ifindex, 1);
	if (vfd < 0)
		return vfd;
	int fd = rv_tx_socket(ifindex, 0);
	if (fd < 0) {
		close(vfd);
		return fd;
	}
	h->vnet_fds[h->tx_if_count] = vfd;
	h->tx_fds[h->tx_if_count] = fd;
	return (int)h->tx_if_count++;
}

void rv_set_icmp(struct rv_handle *h, uint32_t saddr, uint32_t rate, uint32_t burst)
{
	h->icmp_saddr = saddr;
	h->icmp_rate = rate;
	h->icmp_burst = burst ? burst : 1;
	h->icmp_tokens = h->icmp_burst;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h->icmp_last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rv_send_frame(struct rv_handle *h, const uint8_t *frame, uint32_t len)
{
	if (h->fd < 0) {
		struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		return rv_sim_capture_msg(h, &mh, 0) ? (int)len : -ENOSPC;
	}
	ssize_t r = send(h->fd, frame, len, 0);
	if (r < 0) {
		h->ctr->tx_errors++;
		return -errno;
	}
	h->ctr->tx_frames++;
	h->ctr->tx_bytes += (uint64_t)r;
	return (int)r;
}

int rv_refresh_kernel_stats(struct rv_handle *h)
{
	if (h->fd < 0)
		return 0;
	/* A V2 ring's statistics are the short struct tpacket_stats (no freeze count). */
	struct tpacket_stats_v3 st;
	memset(&st, 0, sizeof(st));
	socklen_t len = sizeof(st);
	if (getsockopt(h->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return -errno;
	h->ctr->kernel_packets += st.tp_packets;
	h->ctr->kernel_drops += st.tp_drops;
	h->ctr->kernel_freeze_q += st.tp_freeze_q_cnt;
	/* The large-frame socket has no ring: its statistics are the short struct tpacket_stats, and
	 * tp_drops counts frames its full queue could not take. */
	struct tpacket_stats lst;
	len = sizeof(lst);
	if (getsockopt(h->large_fd, SOL_PACKET, PACKET_STATISTICS, &lst, &len) < 0)
		return -errno;
	h->ctr->kernel_packets += lst.tp_packets;
	h->ctr->kernel_drops += lst.tp_drops;
	return 0;
}

/* ---------------------------------------------------------------- simulation */

int rv_sim_push(struct rv_handle *h, const uint8_t *frame, uint32_t len, uint32_t status)
{
	if (h->fd >= 0)
		return -EINVAL;
	uint32_t need = 8 + ((len + 3) & ~3u);
	if (h->sim_rx_len + need > RV_SIM_RX_BYTES || len > 65535)
		return -ENOSPC;
	memcpy(h->sim_rx + h->sim_rx_len, &len, 4);
	memcpy(h->sim_rx + h->sim_rx_len + 4, &status, 4);
	memcpy(h->sim_rx + h->sim_rx_len + 8, frame, len);
	h->sim_rx_len += need;
	return 0;
}

int rv_sim_push_vnet(struct rv_handle *h, const uint8_t *vnet, const uint8_t *frame, uint32_t len, uint32_t status)
{
	if (h->fd >= 0)
		return -EINVAL;
	uint32_t stored = RV_VNET_HDR_LEN + len;
	uint32_t need = 8 + ((stored + 3) & ~3u);
	if (h->sim_rx_len + need > RV_SIM_RX_BYTES || len > RV_LARGE_BUF - RV_VNET_HDR_LEN)
		return -ENOSPC;
	status = RV_SIM_VNET | (status & RV_SIM_CUT);
	memcpy(h->sim_rx + h->sim_rx_len, &len, 4);
	memcpy(h->sim_rx + h->sim_rx_len + 4, &status, 4);
	memcpy(h->sim_rx + h->sim_rx_len + 8, vnet, RV_VNET_HDR_LEN);
	memcpy(h->sim_rx + h->sim_rx_len + 8 + RV_VNET_HDR_LEN, frame, len);
	h->sim_rx_len += need;
	return 0;
}

const uint8_t *rv_sim_tx_buffer(struct rv_handle *h) { return h->sim_tx; }
uint32_t rv_sim_tx_length(struct rv_handle *h) { return h->sim_tx_len; }
void rv_sim_tx_clear(struct rv_handle *h) { h->sim_tx_len = 0; }

/* ---------------------------------------------------------------- layout */

/* Every counter by name with its offset, in struct order: rv_layout() gives the offsets and
 * rv_counter_name() the names, so the layout test catches a counter added, removed or moved on
 * one side only (a size check alone misses a swap). */
#define RV_COUNTER(f) { #f, offsetof(struct rv_counters, f) }
static const struct {
	const char *name;
	uint32_t offset;
} rv_counter_fields[] = {
	RV_COUNTER(rx_frames),
	RV_COUNTER(rx_bytes),
	RV_COUNTER(rx_blocks),
	RV_COUNTER(rx_polls),
	RV_COUNTER(parsed_ipv4),
	RV_COUNTER(parsed_arp),
	RV_COUNTER(parsed_other),
	RV_COUNTER(parsed_malformed),
	RV_COUNTER(verdict_pass),
	RV_COUNTER(verdict_drop),
	RV_COUNTER(verdict_bad),
	RV_COUNTER(tx_frames),
	RV_COUNTER(tx_bytes),
	RV_COUNTER(tx_errors),
	RV_COUNTER(tx_arp_replies),
	RV_COUNTER(tx_calls),
	RV_COUNTER(kernel_packets),
	RV_COUNTER(kernel_drops),
	RV_COUNTER(kernel_freeze_q),
	RV_COUNTER(tun_packets),
	RV_COUNTER(tun_fragmented),
	RV_COUNTER(tun_frag_needed),
	RV_COUNTER(tun_icmp_limited),
	RV_COUNTER(rx_large_frames),
	RV_COUNTER(rx_gso_frames),
	RV_COUNTER(rx_truncated),
	RV_COUNTER(gso_segments),
	RV_COUNTER(gso_dropped),
};
#define RV_COUNTER_COUNT (sizeof(rv_counter_fields) / sizeof(rv_counter_fields[0]))

const char *rv_counter_name(uint32_t i)
{
	return i < RV_COUNTER_COUNT ? rv_counter_fields[i].name : NULL;
}

int rv_layout(uint32_t *out, uint32_t cap)
{
	const uint32_t v[] = {
		sizeof(struct rv_desc),
		offsetof(struct rv_desc, saddr), offsetof(struct rv_desc, daddr),
		offsetof(struct rv_desc, sport), offsetof(struct rv_desc, dport),
		offsetof(struct rv_desc, proto), offsetof(struct rv_desc, tcp_flags),
		offsetof(struct rv_desc, kind), offsetof(struct rv_desc, flags),
		offsetof(struct rv_desc, l3_off), offsetof(struct rv_desc, vlan_tci),
		offsetof(struct rv_desc, frame_len), offsetof(struct rv_desc, ip_len),
		offsetof(struct rv_desc, hash),
		sizeof(struct rv_slot),
		offsetof(struct rv_slot, dmac), offsetof(struct rv_slot, method),
		offsetof(struct rv_slot, tx_if), offsetof(struct rv_slot, rip),
		offsetof(struct rv_slot, smac), offsetof(struct rv_slot, mtu),
		offsetof(struct rv_slot, saddr), offsetof(struct rv_slot, packets),
		offsetof(struct rv_slot, bytes),
		sizeof(struct rv_counters),
		sizeof(struct rv_ring_params), offsetof(struct rv_ring_params, version),
		RV_LARGE_PER_BATCH, RV_VNET_HDR_LEN, RV_V2_FRAME_SIZE,
		sizeof(((struct rv_handle *)0)->verdict[0]),
		RV_VERDICT_PASS, RV_VERDICT_DROP, RV_VERDICT_ARP_REPLY, RV_VERDICT_MIN_SPECIAL,
	};
	uint32_t n = 0;
	for (uint32_t i = 0; i < sizeof(v) / sizeof(v[0]) && n < cap; i++)
		out[n++] = v[i];
	/* then every counter's offset, in rv_counter_fields order */
	for (uint32_t i = 0; i < RV_COUNTER_COUNT && n < cap; i++)
		out[n++] = rv_counter_fields[i].offset;
	return (int)n;
}
