// What the control side hands the packet worker: the running rules compiled to numbers. Plain
// data so it can cross a postMessage; the worker turns it into schedulers and lookup maps.
import type { SchedulerName, TimeoutConfig } from "../config/model.ts";
import type { SchedulerFlags } from "../sched/scheduler.ts";

export interface PlanDest {
  /** Data-plane slot: stable for a (service, real server) pair for the life of the process. */
  slot: number;
  /** Real server address, host-order u32, and port (the service's: DR and TUN keep ports). */
  rip: number;
  port: number;
  /** The weight the operator configured (ipvsadm -w), never edited by what the system learns. */
  weight: number;
  /** False while the system has learned the real server must not take new connections (not
   *  reachable, failed health check): kept apart from `weight` so -S and -L show what the
   *  operator wrote. Absent (plans written by hand in packet tests): available. A server without
   *  a MAC is never chosen either way. */
  available?: boolean;
  /** "dr": rewrite the MAC; "tun": IPIP to `rip` via `tunnel`. */
  forward: "dr" | "tun";
  /** Destination MAC (6 bytes) or null while unresolved: such a server is not chosen. DR: the real
   *  server's; TUN: the next hop's on the way to it. */
  mac: number[] | null;
  /** TUN only: how the outer packet leaves (from the routing table). */
  tunnel: PlanTunnel | null;
  /** DR: the interface the route to the real server leaves through, when it is not the ring's
   *  own (a two-armed director): its MAC and transmit index. Absent: the ring's interface. */
  egress?: PlanEgress | null;
  /** ipvsadm -x / -y (0 = none; see forwarder.ts for the kernel's hysteresis). */
  upperThreshold: number;
  lowerThreshold: number;
}

export interface PlanTunnel {
  /** Outer source address, host order. */
  saddr: number;
  /** MAC and MTU of the egress interface, and its transmit index in the shim (0 = the ring's). */
  smac: number[];
  mtu: number;
  txIf: number;
}

export interface PlanEgress {
  smac: number[];
  txIf: number;
}

/** One (protocol, VIP, port) a service answers for; port 0 = every port of the VIP. */
export interface PlanMatch {
  proto: number;
  vip: number;
  port: number;
}

export interface PlanService {
  /** Stable number < 2^20 for the life of the process (keys persistence templates). */
  id: number;
  /** One match for an ordinary or port-0 service; the members of a firewall-mark service. */
  matches: PlanMatch[];
  scheduler: SchedulerName;
  schedulerFlags: SchedulerFlags;
  /** Seconds and mask (host-order u32) of ipvsadm -p / -M, or null. */
  persistence: { timeout: number; mask: number } | null;
  /** In the order the operator added them; the worker hands schedulers kernel list order. */
  dests: PlanDest[];
}

export { TIMEOUT_DEFAULTS as DEFAULT_TIMEOUTS } from "../config/model.ts";

export interface Plan {
  services: PlanService[];
  /** VIPs whose ARP requests ringvs answers ("arp" VIP mode). */
  arpVips: number[];
  /** ipvsadm --set tcp tcpfin udp; the other TCP states use the kernel's fixed timeouts. */
  timeouts: TimeoutConfig;
}

/** What changed from one plan to the next: the control thread sends this instead of the whole
 *  plan, so a change of one real server among 100,000 costs the clone of one service, not of all.
 *  A valid configuration gives no two services the same match, so the services' order carries no
 *  meaning and a map by id holds the plan (Forwarder.applyChange). */
export interface PlanChange {
  /** Services new or changed since the previous plan (replacing the one with the same id). */
  upserts: PlanService[];
  /** Ids of services no longer in the plan. */
  removed: number[];
  /** The VIPs ringvs answers ARP for, when they changed; absent, they stay as they were (with
   *  10,000 VIPs, sending and re-reading the list cost each one-server change ~1.3 ms). */
  arpVips?: number[];
  timeouts: TimeoutConfig;
}

/** Host-order u32 from a dotted quad (validated upstream). A character loop: compiling a plan
 *  of 100,000 real servers spent 170 ms in split() and Number(). */
export function ipToU32(ip: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = (n << 8) | octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return ((n << 8) | octet) >>> 0;
}

export function u32ToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function macToString(mac: ArrayLike<number>): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

export function parseMac(s: string): number[] {
  return s.split(":").map((h) => parseInt(h, 16));
}
