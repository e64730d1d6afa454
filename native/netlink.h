/*
 * rtnetlink for the control plane: where a real server's frames leave (the route and its
 * interface) and what the kernel's neighbour table holds, asked over one NETLINK_ROUTE socket.
 * The control thread used to spawn `ip` for each of these (5 processes for one new real server,
 * 3 every second for the refresh); each verb here is a few system calls on a socket kept open.
 *
 * Mechanism only, as for the rings: these verbs ask and report. Which entries to manage, which an
 * operator owns and which to remove is decided in TypeScript (src/control/routes.ts,
 * src/control/neighbours.ts). The requests are the ones iproute2 sends for `ip route get`,
 * `ip neigh replace ... managed`, `ip neigh del` and `ip neigh show dev`, field for field (see
 * netlink.c), so the kernel treats them alike.
 *
 * Every struct here is mirrored in src/dataplane/netlink_layout.ts and checked by
 * test/dataplane/layout.test.ts through rv_nl_layout(). Addresses are IPv4 in host order, as
 * everywhere in the shim. Functions return >= 0 on success and -errno on failure; nothing prints
 * or exits. A handle is used by one thread at a time (the control thread).
 */
#ifndef RINGVS_NETLINK_H
#define RINGVS_NETLINK_H

#include <stdint.h>

struct rv_nl;

/* Open a NETLINK_ROUTE socket in the calling thread's network namespace. 0 or -errno. */
int rv_nl_open(struct rv_nl **out);
void rv_nl_close(struct rv_nl *h);

/* rv_route.flags */
#define RV_ROUTE_GATEWAY 0x01 /* the next hop is a gateway (RTA_GATEWAY), in .gateway */
#define RV_ROUTE_PREFSRC 0x02 /* the route has a preferred source (RTA_PREFSRC), in .prefsrc */
#define RV_ROUTE_VIA6 0x04    /* the next hop is an IPv6 gateway (RTA_VIA, RFC 5549): not in
                               * .gateway, and no IPv4 neighbour entry can resolve it */

/* One route lookup. 24 bytes. */
struct rv_route {
	uint32_t dst;     /* in: the destination */
	int32_t error;    /* out: 0, or the kernel's -errno (-ENETUNREACH: no route; -EHOSTUNREACH,
	                   * -EACCES, -EINVAL: an unreachable, prohibit or blackhole route) */
	int32_t oif;      /* out: egress interface index (loopback for a local address) */
	uint32_t gateway; /* out: with RV_ROUTE_GATEWAY */
	uint32_t prefsrc; /* out: with RV_ROUTE_PREFSRC */
	uint8_t type;     /* out: rtm_type (RTN_UNICAST 1, RTN_LOCAL 2, RTN_BROADCAST 3, ...) */
	uint8_t flags;    /* out: RV_ROUTE_* */
	uint16_t _pad;
};

/* Look up the route of each routes[i].dst as `ip route get DST` does (an output lookup with no
 * source, mark or interface given). An answer the kernel refuses is that entry's .error, not the
 * call's. Returns 0, or -errno when the socket itself failed (then the entries are unreliable). */
int rv_nl_route_get(struct rv_nl *h, struct rv_route *routes, uint32_t n);

#define RV_IFNAMSIZ 16
#define RV_LINK_ADDR_MAX 6 /* an Ethernet MAC; longer link addresses are not copied */

/* What the egress needs of an interface. 36 bytes. */
struct rv_link {
	int32_t ifindex;  /* in: the interface, or 0 to look it up by .name; out: its index */
	uint32_t mtu;     /* out */
	uint16_t type;    /* out: ARPHRD_* (1 Ethernet, 772 loopback) */
	uint8_t addr_len; /* out: length of its link address (6 for Ethernet, 0 when it has none);
	                   * only up to RV_LINK_ADDR_MAX bytes are in .addr */
	uint8_t _pad;
	uint8_t addr[RV_LINK_ADDR_MAX];
	uint8_t _pad2[2];
	char name[RV_IFNAMSIZ]; /* in with ifindex 0 (NUL-terminated); out: its name */
};

/* Name, MTU and link address of one interface (RTM_GETLINK). 0, -ENODEV when there is no such
 * interface, or -errno. */
int rv_nl_link(struct rv_nl *h, struct rv_link *link);

/* One IPv4 neighbour entry. 20 bytes. */
struct rv_neigh {
	uint32_t dst;
	uint32_t flags_ext; /* NDA_FLAGS_EXT: NTF_EXT_MANAGED (1) for a managed entry */
	uint16_t state;     /* NUD_* */
	uint8_t flags;      /* ndm_flags: NTF_* */
	uint8_t lladdr_len; /* 0 when the kernel gave no link address (an unresolved state) */
	uint8_t lladdr[RV_LINK_ADDR_MAX];
	uint8_t _pad[2];
};

/* The IPv4 neighbour entries of one interface (the dump `ip neigh show dev D` asks for), at most
 * cap of them into out; *total gets how many there are, so total - return value did not fit.
 * Returns the number written or -errno. */
int rv_nl_neigh_dump(struct rv_nl *h, int32_t ifindex, struct rv_neigh *out, uint32_t cap,
		     uint32_t *total);

/* `ip neigh replace DST dev D managed` for each dsts[i]: create or turn the entry into a managed
 * one (NTF_EXT_MANAGED, Linux 5.16+), which the kernel resolves at once and keeps refreshing by
 * itself. It replaces whatever entry is there, a PERMANENT one too: the caller leaves those out.
 * errors[i] gets 0 or the kernel's -errno (-ENOBUFS: the table is at gc_thresh3). Returns 0, or
 * -errno when the socket itself failed. */
int rv_nl_neigh_manage(struct rv_nl *h, int32_t ifindex, const uint32_t *dsts, int32_t *errors,
		       uint32_t n);

/* `ip neigh del DST dev D` for each dsts[i]; errors[i] as above (-ENOENT: no such entry). */
int rv_nl_neigh_delete(struct rv_nl *h, int32_t ifindex, const uint32_t *dsts, int32_t *errors,
		       uint32_t n);

/* Change notifications. A second handle, opened with rv_nl_events_open, is a nonblocking socket
 * subscribed to the multicast groups of what a real server's reachability is made of:
 * RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_IFADDR, RTNLGRP_LINK, RTNLGRP_NEIGH, and RTNLGRP_IPV4_RULE
 * and RTNLGRP_NEXTHOP (policy rules and nexthop objects change routes' answers too). It is only ever
 * drained (rv_nl_events_take), never sent on; the caller reads what changed with the verbs above
 * on its own handle. Open it before the first full read, so nothing changes unseen in between. */
#define RV_NL_EV_ROUTE 0x01 /* an IPv4 route, rule or address, a nexthop or a link was added, changed
                             * or removed */
#define RV_NL_EV_NEIGH 0x02 /* an IPv4 neighbour entry was added, changed or removed */

/* 0 or -errno, as rv_nl_open. Close it with rv_nl_close. */
int rv_nl_events_open(struct rv_nl **out);

/* Read every notification queued on an events handle without waiting, and return the RV_NL_EV_*
 * bits of what they were about (0: nothing arrived since the last call). -ENOBUFS when the
 * socket's queue overflowed since the last call (notifications were lost: the caller must take
 * everything as changed; the queue has been drained and the next call is exact again), or
 * another -errno when the socket failed. */
int rv_nl_events_take(struct rv_nl *h);

/* The C library's text for a positive errno (what iproute2 prints after "RTNETLINK answers: "),
 * NUL-terminated into buf and cut at cap - 1 bytes; returns its length. */
int rv_strerror(int32_t errnum, char *buf, uint32_t cap);

/* sizeof/offsetof of the structs above and the kernel constants TypeScript reads them with, in
 * the order of NL_LAYOUT_ORDER (src/dataplane/netlink_layout.ts); returns how many were written
 * (at most cap). */
int rv_nl_layout(uint32_t *out, uint32_t cap);

#endif
