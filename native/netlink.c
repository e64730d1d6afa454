/*
 * rtnetlink verbs of the shim. See netlink.h for the contract.
 *
 * One NETLINK_ROUTE socket per handle. Requests are built back to back in the handle's transmit
 * buffer, up to RV_NL_BATCH of them, sent with one sendmsg, and every reply is matched to its
 * request by sequence number: the kernel answers a plain request before sendmsg returns and a
 * dump as we read it, so a batch costs one sendmsg and a few recvmsg instead of `ip`'s fork, exec
 * and link-table dump. A reply whose sequence number is not one of the batch's (the rest of a
 * batch an earlier call gave up on) is skipped, so a failed call never confuses the next one.
 */
#define _GNU_SOURCE
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Receive buffer. The kernel fills a dump's messages up to the reader's buffer size, capped at
 * 32 KiB; one RTM_NEWLINK of an interface with many VFs can be longer than a page. 64 KiB holds
 * either; a longer message is reported (-EMSGSIZE), never read cut short. */
#define RV_NL_RX_BYTES (64u << 10)
/* Requests per sendmsg. Their replies wait in the socket's receive queue until we read them, and
 * a route reply is built in an NLMSG_GOODSIZE skb (4-8 KiB of queue each): 16 fit the default
 * 208 KiB queue even when the 1 MiB asked for below is refused. */
#define RV_NL_BATCH 16
/* Room for one request: the largest is RTM_GETLINK by name, 16 + 16 + 20 + 8 = 60 bytes. */
#define RV_NL_REQ_BYTES 64
/* The receive queue iproute2 asks for. */
#define RV_NL_RCVBUF (1 << 20)
/* The kernel has answered a request by the time sendmsg returns and produces a dump as it is
 * read, so a reply that does not come is a bug, not something to wait for: recvmsg gives up
 * after this long (-EAGAIN) rather than hang the control thread. */
#define RV_NL_TIMEOUT_S 2
/* A dump the kernel flags NLM_F_DUMP_INTR (the table changed under it) is asked again, this many
 * times at most; the last one is kept whatever it says. */
#define RV_NL_DUMP_TRIES 3

struct rv_nl {
	int fd;
	uint32_t seq;
	uint8_t *rx;
	uint8_t tx[RV_NL_BATCH * RV_NL_REQ_BYTES] __attribute__((aligned(NLMSG_ALIGNTO)));
};

/* groups: RTNLGRP_* to join (0: none, a request socket); with groups the socket is nonblocking. */
static int nl_open(struct rv_nl **out, const unsigned *groups, unsigned n_groups)
{
	int err;
	struct rv_nl *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->rx = malloc(RV_NL_RX_BYTES);
	if (!h->rx) {
		err = -ENOMEM;
		goto fail_handle;
	}
	h->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (n_groups ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
	if (h->fd < 0) {
		err = -errno;
		goto fail_rx;
	}
	int one = 1, rcvbuf = RV_NL_RCVBUF;
	/* Best effort, as iproute2 does: a smaller queue still holds one batch's replies. */
	(void)setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* Errors carry only the request's header, not the whole request back. */
	(void)setsockopt(h->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* As iproute2: the kernel checks the requests strictly and filters dumps by the attributes
	 * given (the neighbour dump's NDA_IFINDEX). Older kernels lack it and filter anyway. */
	(void)setsockopt(h->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	struct timeval tv = { .tv_sec = RV_NL_TIMEOUT_S };
	if (setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		goto fail_fd;
	}
	struct sockaddr_nl local = { .nl_family = AF_NETLINK }; /* the kernel picks our port id */
	if (bind(h->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		err = -errno;
		goto fail_fd;
	}
	/* After bind, as iproute2's rtnl_open_byproto joins groups past the 32 of nl_groups. */
	for (unsigned i = 0; i < n_groups; i++) {
		if (setsockopt(h->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof(groups[i])) < 0) {
			if (groups[i] == RTNLGRP_NEXTHOP && errno == EINVAL)
				continue; /* no nexthop objects before 5.3, so none to change either */
			err = -errno;
			goto fail_fd;
		}
	}
	h->seq = (uint32_t)time(NULL);
	*out = h;
	return 0;

fail_fd:
	close(h->fd);
fail_rx:
	free(h->rx);
fail_handle:
	free(h);
	return err;
}

int rv_nl_open(struct rv_nl **out)
{
	return nl_open(out, NULL, 0);
}

int rv_nl_events_open(struct rv_nl **out)
{
	/* Rules and nexthop objects too: `ip rule` and `ip nexthop replace` move a route's answer
	 * without any RTM_NEWROUTE. RTNLGRP_NEXTHOP is last: a kernel before 5.3 lacks it. */
	static const unsigned groups[] = { RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_IFADDR, RTNLGRP_LINK, RTNLGRP_NEIGH,
					   RTNLGRP_IPV4_RULE, RTNLGRP_NEXTHOP };
	return nl_open(out, groups, sizeof(groups) / sizeof(groups[0]));
}

void rv_nl_close(struct rv_nl *h)
{
	if (!h)
		return;
	close(h->fd);
	free(h->rx);
	free(h);
}

/* Start request `slot` of the batch: a zeroed header of `type`, and a zeroed family header of
 * hdr_len bytes after it (returned). Padding stays zero: strict checking refuses stray bytes. */
static struct nlmsghdr *req_start(struct rv_nl *h, uint32_t slot, uint16_t type, uint16_t flags,
				  uint32_t seq, size_t hdr_len)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)(h->tx + slot * RV_NL_REQ_BYTES);
	memset(nh, 0, RV_NL_REQ_BYTES);
	nh->nlmsg_len = NLMSG_LENGTH(hdr_len);
	nh->nlmsg_type = type;
	nh->nlmsg_flags = flags;
	nh->nlmsg_seq = seq;
	return nh;
}

/* Append an attribute; the callers' requests are fixed and well under RV_NL_REQ_BYTES. */
static void req_attr(struct nlmsghdr *nh, uint16_t type, const void *data, uint16_t len)
{
	struct rtattr *rta = (struct rtattr *)((uint8_t *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* The requests of a batch lie RV_NL_REQ_BYTES apart in h->tx; a datagram of netlink messages
 * must have them back to back, so close the gaps (each message's length is aligned already). */
static size_t req_pack(struct rv_nl *h, uint32_t k)
{
	size_t len = 0;
	for (uint32_t i = 0; i < k; i++) {
		struct nlmsghdr *nh = (struct nlmsghdr *)(h->tx + i * RV_NL_REQ_BYTES);
		size_t n = NLMSG_ALIGN(nh->nlmsg_len);
		if (len != i * RV_NL_REQ_BYTES)
			memmove(h->tx + len, nh, n);
		len += n;
	}
	return len;
}

/* The error an NLMSG_ERROR or NLMSG_DONE carries (0 for an ACK or a clean end). */
static int msg_error(const struct nlmsghdr *nh)
{
	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
		return nh->nlmsg_type == NLMSG_DONE ? 0 : -EPROTO;
	int err;
	memcpy(&err, NLMSG_DATA(nh), sizeof(err)); /* struct nlmsgerr starts with it, DONE is it */
	return err > 0 ? -err : err;
}

/* Called for every reply message of request i of the batch; returns 0 or -errno. */
typedef int (*reply_fn)(const struct nlmsghdr *nh, uint32_t i, void *arg);

/* Send the k requests built in h->tx (sequence numbers seq0 .. seq0 + k - 1) and read until each
 * has had its last message: an NLMSG_ERROR (an ACK too), a dump's NLMSG_DONE, or a single reply
 * (one without NLM_F_MULTI). Every reply goes to fn; after an error from fn the rest is still
 * read (and dropped) so the socket is left clean. Returns 0, fn's first error, or -errno. */
static int transact(struct rv_nl *h, uint32_t seq0, uint32_t k, reply_fn fn, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct iovec iov = { .iov_base = h->tx, .iov_len = req_pack(h, k) };
	struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t sent;
	do
		sent = sendmsg(h->fd, &msg, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;

	uint8_t finished[RV_NL_BATCH] = { 0 };
	uint32_t open = k;
	int rc = 0;
	/* The replies of a batch of plain requests are all queued by the time sendmsg returns: one
	 * recvmmsg takes them together (MSG_WAITFORONE: wait for the first only), each into its
	 * own slice of the buffer; a batch of one (a dump) gets the whole buffer per message. */
	size_t slice = k > 1 ? RV_NL_RX_BYTES / RV_NL_BATCH : RV_NL_RX_BYTES;
	struct sockaddr_nl from[RV_NL_BATCH];
	struct iovec riov[RV_NL_BATCH];
	struct mmsghdr mm[RV_NL_BATCH];
	while (open > 0) {
		for (uint32_t j = 0; j < open; j++) {
			riov[j] = (struct iovec){ .iov_base = h->rx + j * slice, .iov_len = slice };
			mm[j] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[j], .msg_namelen = sizeof(from[j]),
							       .msg_iov = &riov[j], .msg_iovlen = 1 } };
		}
		int got = recvmmsg(h->fd, mm, open, MSG_WAITFORONE, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* EAGAIN: RV_NL_TIMEOUT_S without an answer; ENOBUFS: queue overrun */
		}
		for (int j = 0; j < got; j++) {
			if (mm[j].msg_hdr.msg_flags & MSG_TRUNC)
				return -EMSGSIZE;
			if (from[j].nl_pid != 0)
				continue; /* only the kernel answers us */
			const uint8_t *buf = riov[j].iov_base;
			size_t len = mm[j].msg_len, off = 0;
			while (off + sizeof(struct nlmsghdr) <= len) {
				const struct nlmsghdr *nh = (const struct nlmsghdr *)(buf + off);
				if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len - off)
					return -EPROTO;
				off += NLMSG_ALIGN(nh->nlmsg_len);
				uint32_t i = nh->nlmsg_seq - seq0; /* wraps past 2^32 like the sequence numbers */
				if (i >= k || finished[i])
					continue;
				int last = nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_DONE ||
					   !(nh->nlmsg_flags & NLM_F_MULTI);
				if (rc == 0)
					rc = fn(nh, i, arg);
				if (last) {
					finished[i] = 1;
					open--;
				}
			}
		}
	}
	return rc;
}

/* Walk the attributes after a family header of hdr_len bytes. */
#define for_each_attr(rta, nh, hdr_len)                                                            \
	for (const struct rtattr *rta = (const struct rtattr *)((const uint8_t *)NLMSG_DATA(nh) +  \
								  NLMSG_ALIGN(hdr_len));           \
	     (const uint8_t *)rta + sizeof(struct rtattr) <= (const uint8_t *)(nh) + (nh)->nlmsg_len && \
	     rta->rta_len >= sizeof(struct rtattr) &&                                                 \
	     (const uint8_t *)rta + rta->rta_len <= (const uint8_t *)(nh) + (nh)->nlmsg_len;           \
	     rta = (const struct rtattr *)((const uint8_t *)rta + RTA_ALIGN(rta->rta_len)))

static uint32_t attr_be32(const struct rtattr *rta)
{
	uint32_t v;
	memcpy(&v, RTA_DATA(rta), sizeof(v));
	return ntohl(v);
}

static uint32_t attr_u32(const struct rtattr *rta)
{
	uint32_t v;
	memcpy(&v, RTA_DATA(rta), sizeof(v));
	return v;
}

#define ATTR_IS(rta, t, len) ((rta)->rta_type == (t) && RTA_PAYLOAD(rta) >= (len))

static int route_reply(const struct nlmsghdr *nh, uint32_t i, void *arg)
{
	struct rv_route *r = (struct rv_route *)arg + i;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		int err = msg_error(nh);
		r->error = err ? err : -EPROTO; /* an ACK instead of a route: not an answer */
		return 0;
	}
	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) {
		r->error = -EPROTO;
		return 0;
	}
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	r->error = 0;
	r->type = rtm->rtm_type;
	for_each_attr(rta, nh, sizeof(*rtm)) {
		if (ATTR_IS(rta, RTA_OIF, 4)) {
			r->oif = (int32_t)attr_u32(rta);
		} else if (ATTR_IS(rta, RTA_GATEWAY, 4)) {
			r->gateway = attr_be32(rta);
			r->flags |= RV_ROUTE_GATEWAY;
		} else if (ATTR_IS(rta, RTA_PREFSRC, 4)) {
			r->prefsrc = attr_be32(rta);
			r->flags |= RV_ROUTE_PREFSRC;
		} else if (ATTR_IS(rta, RTA_VIA, sizeof(struct rtvia))) {
			/* An IPv4 route's gateway of another family (RFC 5549: IPv6 next hop). */
			const struct rtvia *via = RTA_DATA(rta);
			if (via->rtvia_family == AF_INET && RTA_PAYLOAD(rta) >= sizeof(*via) + 4) {
				uint32_t gw;
				memcpy(&gw, via->rtvia_addr, 4);
				r->gateway = ntohl(gw);
				r->flags |= RV_ROUTE_GATEWAY;
			} else {
				r->flags |= RV_ROUTE_VIA6;
			}
		}
	}
	return 0;
}

int rv_nl_route_get(struct rv_nl *h, struct rv_route *routes, uint32_t n)
{
	for (uint32_t base = 0; base < n; base += RV_NL_BATCH) {
		uint32_t k = n - base < RV_NL_BATCH ? n - base : RV_NL_BATCH;
		uint32_t seq0 = h->seq;
		for (uint32_t i = 0; i < k; i++) {
			struct rv_route *r = &routes[base + i];
			uint32_t dst = htonl(r->dst);
			memset(r, 0, sizeof(*r));
			r->dst = ntohl(dst);
			r->error = -EPROTO; /* until the kernel answers */
			/* `ip route get DST`: an output lookup, RTM_F_LOOKUP_TABLE as iproute2 sets it
			 * for IPv4 (the reply names the table the route came from). */
			struct nlmsghdr *nh = req_start(h, i, RTM_GETROUTE, NLM_F_REQUEST, h->seq++, sizeof(struct rtmsg));
			struct rtmsg *rtm = NLMSG_DATA(nh);
			rtm->rtm_family = AF_INET;
			rtm->rtm_dst_len = 32;
			rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
			req_attr(nh, RTA_DST, &dst, 4);
		}
		int rc = transact(h, seq0, k, route_reply, routes + base);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int link_reply(const struct nlmsghdr *nh, uint32_t i, void *arg)
{
	(void)i;
	struct rv_link *l = arg;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		int err = msg_error(nh);
		return err ? err : -EPROTO;
	}
	if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return -EPROTO;
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	l->ifindex = ifi->ifi_index;
	l->type = ifi->ifi_type;
	for_each_attr(rta, nh, sizeof(*ifi)) {
		if (ATTR_IS(rta, IFLA_MTU, 4)) {
			l->mtu = attr_u32(rta);
		} else if (rta->rta_type == IFLA_ADDRESS) {
			size_t len = RTA_PAYLOAD(rta);
			l->addr_len = len > 255 ? 255 : (uint8_t)len;
			memcpy(l->addr, RTA_DATA(rta), len < RV_LINK_ADDR_MAX ? len : RV_LINK_ADDR_MAX);
		} else if (rta->rta_type == IFLA_IFNAME) {
			size_t len = strnlen(RTA_DATA(rta), RTA_PAYLOAD(rta));
			if (len >= RV_IFNAMSIZ)
				len = RV_IFNAMSIZ - 1;
			memcpy(l->name, RTA_DATA(rta), len);
			l->name[len] = '\0';
		}
	}
	return 0;
}

int rv_nl_link(struct rv_nl *h, struct rv_link *link)
{
	int32_t ifindex = link->ifindex;
	char name[RV_IFNAMSIZ];
	size_t name_len = strnlen(link->name, RV_IFNAMSIZ);
	if (ifindex <= 0 && (name_len == 0 || name_len == RV_IFNAMSIZ))
		return -ENODEV; /* no index and no valid name: there is nothing to look up */
	memcpy(name, link->name, name_len);
	name[name_len < RV_IFNAMSIZ ? name_len : RV_IFNAMSIZ - 1] = '\0';
	memset(link, 0, sizeof(*link));

	uint32_t seq0 = h->seq;
	struct nlmsghdr *nh = req_start(h, 0, RTM_GETLINK, NLM_F_REQUEST, h->seq++, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	ifi->ifi_family = AF_UNSPEC;
	if (ifindex > 0) {
		ifi->ifi_index = ifindex;
	} else {
		req_attr(nh, IFLA_IFNAME, name, (uint16_t)(name_len + 1));
	}
	/* Leave the counters and VF details out of the reply: we read three fields of it. */
	uint32_t mask = RTEXT_FILTER_SKIP_STATS;
	req_attr(nh, IFLA_EXT_MASK, &mask, sizeof(mask));
	return transact(h, seq0, 1, link_reply, link);
}

struct neigh_dump {
	int32_t ifindex;
	struct rv_neigh *out;
	uint32_t cap;
	uint32_t written;
	uint32_t total;
	int interrupted;
};

static int neigh_reply(const struct nlmsghdr *nh, uint32_t i, void *arg)
{
	(void)i;
	struct neigh_dump *d = arg;
	if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_DONE)
		return msg_error(nh);
	if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->interrupted = 1;
	if (nh->nlmsg_type != RTM_NEWNEIGH || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ndmsg)))
		return 0;
	const struct ndmsg *ndm = NLMSG_DATA(nh);
	/* The kernel filters by NDA_IFINDEX already; checked again so that a kernel which ignores
	 * the filter cannot hand us another interface's entries. Proxy entries are not neighbours. */
	if (ndm->ndm_family != AF_INET || ndm->ndm_ifindex != d->ifindex || (ndm->ndm_flags & NTF_PROXY))
		return 0;
	struct rv_neigh e = { .state = ndm->ndm_state, .flags = ndm->ndm_flags };
	int has_dst = 0;
	for_each_attr(rta, nh, sizeof(*ndm)) {
		if (ATTR_IS(rta, NDA_DST, 4)) {
			e.dst = attr_be32(rta);
			has_dst = 1;
		} else if (rta->rta_type == NDA_LLADDR) {
			size_t len = RTA_PAYLOAD(rta);
			e.lladdr_len = len > 255 ? 255 : (uint8_t)len;
			memcpy(e.lladdr, RTA_DATA(rta), len < RV_LINK_ADDR_MAX ? len : RV_LINK_ADDR_MAX);
		} else if (ATTR_IS(rta, NDA_FLAGS_EXT, 4)) {
			e.flags_ext = attr_u32(rta);
		}
	}
	if (!has_dst)
		return 0;
	if (d->written < d->cap)
		d->out[d->written++] = e;
	d->total++;
	return 0;
}

int rv_nl_neigh_dump(struct rv_nl *h, int32_t ifindex, struct rv_neigh *out, uint32_t cap,
		     uint32_t *total)
{
	struct neigh_dump d;
	for (int attempt = 0; attempt < RV_NL_DUMP_TRIES; attempt++) {
		d = (struct neigh_dump){ .ifindex = ifindex, .out = out, .cap = cap };
		uint32_t seq0 = h->seq;
		/* `ip neigh show dev D`: a dump filtered by NDA_IFINDEX (the header's own ifindex must
		 * stay 0 under strict checking); AF_INET where ip asks AF_UNSPEC, as only IPv4
		 * entries are wanted. */
		struct nlmsghdr *nh = req_start(h, 0, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, h->seq++, sizeof(struct ndmsg));
		struct ndmsg *ndm = NLMSG_DATA(nh);
		ndm->ndm_family = AF_INET;
		uint32_t idx = (uint32_t)ifindex;
		req_attr(nh, NDA_IFINDEX, &idx, sizeof(idx));
		int rc = transact(h, seq0, 1, neigh_reply, &d);
		if (rc < 0)
			return rc;
		if (!d.interrupted)
			break;
	}
	*total = d.total;
	return (int)d.written;
}

static int ack_reply(const struct nlmsghdr *nh, uint32_t i, void *arg)
{
	int32_t *errors = arg;
	errors[i] = nh->nlmsg_type == NLMSG_ERROR ? msg_error(nh) : -EPROTO;
	return 0;
}

/* RTM_NEWNEIGH (manage) or RTM_DELNEIGH of each address, in batches, each acknowledged. */
static int neigh_modify(struct rv_nl *h, int manage, int32_t ifindex, const uint32_t *dsts,
			int32_t *errors, uint32_t n)
{
	for (uint32_t base = 0; base < n; base += RV_NL_BATCH) {
		uint32_t k = n - base < RV_NL_BATCH ? n - base : RV_NL_BATCH;
		uint32_t seq0 = h->seq;
		for (uint32_t i = 0; i < k; i++) {
			errors[base + i] = -EPROTO; /* until the kernel answers */
			/* What iproute2 sends. replace: NLM_F_CREATE | NLM_F_REPLACE, and `managed`
			 * sets NDA_FLAGS_EXT = NTF_EXT_MANAGED with ndm_state NUD_NONE (the kernel's
			 * neigh_add refuses NTF_MANAGED with NUD_PERMANENT, and then starts resolving
			 * the entry itself). del: ndm_state keeps ip's default NUD_PERMANENT, which
			 * neigh_delete does not read. */
			struct nlmsghdr *nh = req_start(h, i, manage ? RTM_NEWNEIGH : RTM_DELNEIGH,
							NLM_F_REQUEST | NLM_F_ACK | (manage ? NLM_F_CREATE | NLM_F_REPLACE : 0),
							h->seq++, sizeof(struct ndmsg));
			struct ndmsg *ndm = NLMSG_DATA(nh);
			ndm->ndm_family = AF_INET;
			ndm->ndm_ifindex = ifindex;
			ndm->ndm_state = manage ? NUD_NONE : NUD_PERMANENT;
			uint32_t dst = htonl(dsts[base + i]);
			req_attr(nh, NDA_DST, &dst, 4);
			if (manage) {
				uint32_t ext = NTF_EXT_MANAGED;
				req_attr(nh, NDA_FLAGS_EXT, &ext, sizeof(ext));
			}
		}
		int rc = transact(h, seq0, k, ack_reply, errors + base);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rv_nl_neigh_manage(struct rv_nl *h, int32_t ifindex, const uint32_t *dsts, int32_t *errors,
		       uint32_t n)
{
	return neigh_modify(h, 1, ifindex, dsts, errors, n);
}

int rv_nl_neigh_delete(struct rv_nl *h, int32_t ifindex, const uint32_t *dsts, int32_t *errors,
		       uint32_t n)
{
	return neigh_modify(h, 0, ifindex, dsts, errors, n);
}

/* The RV_NL_EV_* bit of one notification (0: one that does not matter). */
static int event_bit(const struct nlmsghdr *nh)
{
	switch (nh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
	case RTM_NEWADDR:
	case RTM_DELADDR:
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_NEWRULE:
	case RTM_DELRULE:
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		return RV_NL_EV_ROUTE;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		/* RTNLGRP_NEIGH carries IPv6 neighbours too, which nothing here reads. A message too
		 * short to tell counts: an unneeded re-read costs less than a missed one. */
		if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ndmsg)) &&
		    ((const struct ndmsg *)NLMSG_DATA(nh))->ndm_family != AF_INET)
			return 0;
		return RV_NL_EV_NEIGH;
	default:
		return 0;
	}
}

int rv_nl_events_take(struct rv_nl *h)
{
	int mask = 0, overflow = 0;
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = h->rx, .iov_len = RV_NL_RX_BYTES };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t len = recvmsg(h->fd, &msg, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break; /* drained */
			if (errno == ENOBUFS) {
				/* The kernel dropped notifications; it reports it once, and what is
				 * queued after it is still read so the next call starts clean. */
				overflow = 1;
				continue;
			}
			return -errno;
		}
		if (from.nl_pid != 0)
			continue; /* only the kernel notifies */
		if (msg.msg_flags & MSG_TRUNC) {
			mask |= RV_NL_EV_ROUTE | RV_NL_EV_NEIGH; /* unreadable: take it as anything */
			continue;
		}
		size_t off = 0;
		while (off + sizeof(struct nlmsghdr) <= (size_t)len) {
			const struct nlmsghdr *nh = (const struct nlmsghdr *)(h->rx + off);
			if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > (size_t)len - off) {
				mask |= RV_NL_EV_ROUTE | RV_NL_EV_NEIGH;
				break;
			}
			mask |= event_bit(nh);
			off += NLMSG_ALIGN(nh->nlmsg_len);
		}
	}
	return overflow ? -ENOBUFS : mask;
}

int rv_strerror(int32_t errnum, char *buf, uint32_t cap)
{
	if (cap == 0)
		return 0;
	char tmp[256];
	const char *s = strerror_r(errnum, tmp, sizeof(tmp)); /* GNU: may return a static string */
	size_t len = strlen(s);
	if (len > cap - 1)
		len = cap - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (int)len;
}

int rv_nl_layout(uint32_t *out, uint32_t cap)
{
	const uint32_t v[] = {
		sizeof(struct rv_route),
		offsetof(struct rv_route, dst), offsetof(struct rv_route, error),
		offsetof(struct rv_route, oif), offsetof(struct rv_route, gateway),
		offsetof(struct rv_route, prefsrc), offsetof(struct rv_route, type),
		offsetof(struct rv_route, flags),
		RV_ROUTE_GATEWAY, RV_ROUTE_PREFSRC, RV_ROUTE_VIA6, RTN_LOCAL,
		sizeof(struct rv_link),
		offsetof(struct rv_link, ifindex), offsetof(struct rv_link, mtu),
		offsetof(struct rv_link, type), offsetof(struct rv_link, addr_len),
		offsetof(struct rv_link, addr), offsetof(struct rv_link, name),
		RV_IFNAMSIZ, RV_LINK_ADDR_MAX, ARPHRD_ETHER,
		sizeof(struct rv_neigh),
		offsetof(struct rv_neigh, dst), offsetof(struct rv_neigh, flags_ext),
		offsetof(struct rv_neigh, state), offsetof(struct rv_neigh, flags),
		offsetof(struct rv_neigh, lladdr_len), offsetof(struct rv_neigh, lladdr),
		NUD_INCOMPLETE, NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_FAILED,
		NUD_NOARP, NUD_PERMANENT, NTF_EXT_MANAGED,
		RV_NL_EV_ROUTE, RV_NL_EV_NEIGH,
	};
	uint32_t n = 0;
	for (uint32_t i = 0; i < sizeof(v) / sizeof(v[0]) && n < cap; i++)
		out[n++] = v[i];
	return (int)n;
}
