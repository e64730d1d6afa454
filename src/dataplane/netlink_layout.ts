// Mirror of the answer structs of native/netlink.h (the shim's rtnetlink verbs) and of the kernel
// constants they are read with. test/dataplane/layout.test.ts compares every number here with
// sizeof/offsetof and the constants exported by the C side (rv_nl_layout), in the same order.

/** struct rv_route: one route lookup (dst in, the rest out). */
export const ROUTE_SIZE = 24;
export const ROUTE = { dst: 0, error: 4, oif: 8, gateway: 12, prefsrc: 16, type: 20, flags: 21 } as const;
/** rv_route.flags */
export const ROUTE_GATEWAY = 0x01;
export const ROUTE_PREFSRC = 0x02;
/** An IPv6 next hop of an IPv4 route (RTA_VIA): no IPv4 neighbour entry resolves it. */
export const ROUTE_VIA6 = 0x04;
/** linux/rtnetlink.h rtm_type of a route to one of our own addresses. */
export const RTN_LOCAL = 2;

/** struct rv_link: an interface's index, MTU, type and link address (MAC), and its name. */
export const LINK_SIZE = 36;
export const LINK = { ifindex: 0, mtu: 4, type: 8, addrLen: 10, addr: 12, name: 20 } as const;
export const IFNAMSIZ = 16;
/** Link address bytes the shim copies (an Ethernet MAC). */
export const LINK_ADDR_MAX = 6;
/** linux/if_arp.h */
export const ARPHRD_ETHER = 1;

/** struct rv_neigh: one IPv4 neighbour entry. */
export const NEIGH_SIZE = 20;
export const NEIGH = { dst: 0, flagsExt: 4, state: 8, flags: 10, lladdrLen: 11, lladdr: 12 } as const;
/** linux/neighbour.h NUD_* states and the NDA_FLAGS_EXT flag of a managed entry. */
export const NUD = {
  INCOMPLETE: 0x01, REACHABLE: 0x02, STALE: 0x04, DELAY: 0x08, PROBE: 0x10, FAILED: 0x20,
  NOARP: 0x40, PERMANENT: 0x80,
} as const;
export const NTF_EXT_MANAGED = 0x01;

/** rv_nl_events_take() bits: a route, address or link changed; an IPv4 neighbour entry changed. */
export const NL_EV_ROUTE = 0x01;
export const NL_EV_NEIGH = 0x02;

/** The order rv_nl_layout() writes its values in. */
export const NL_LAYOUT_ORDER: readonly number[] = [
  ROUTE_SIZE, ROUTE.dst, ROUTE.error, ROUTE.oif, ROUTE.gateway, ROUTE.prefsrc, ROUTE.type, ROUTE.flags,
  ROUTE_GATEWAY, ROUTE_PREFSRC, ROUTE_VIA6, RTN_LOCAL,
  LINK_SIZE, LINK.ifindex, LINK.mtu, LINK.type, LINK.addrLen, LINK.addr, LINK.name,
  IFNAMSIZ, LINK_ADDR_MAX, ARPHRD_ETHER,
  NEIGH_SIZE, NEIGH.dst, NEIGH.flagsExt, NEIGH.state, NEIGH.flags, NEIGH.lladdrLen, NEIGH.lladdr,
  NUD.INCOMPLETE, NUD.REACHABLE, NUD.STALE, NUD.DELAY, NUD.PROBE, NUD.FAILED, NUD.NOARP, NUD.PERMANENT,
  NTF_EXT_MANAGED,
  NL_EV_ROUTE, NL_EV_NEIGH,
];
