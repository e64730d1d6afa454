// What the control side hands the packet worker: the running rules compiled to numbers. Plain
// data so it can cross a postMessage; the worker turns it into schedulers and lookup maps.
import type { SchedulerName } from "../config/model.ts";

export interface PlanDest {
  /** Data-plane slot: stable for a (service, real server) pair for the life of the process. */
  slot: number;
  /** Real server address, host-order u32. */
  rip: number;
  weight: number;
  /** Destination MAC (6 bytes) or null while unresolved: such a server is not chosen. */
  mac: number[] | null;
}

export interface PlanService {
  vip: number;
  proto: number;
  port: number;
  scheduler: SchedulerName;
  /** Seconds and mask (host-order u32) of ipvsadm -p / -M, or null. */
  persistence: { timeout: number; mask: number } | null;
  /** In the order the operator added them; the worker hands schedulers kernel list order. */
  dests: PlanDest[];
}

/** Idle timeouts in seconds, IPVS defaults (ipvsadm --set tcp tcpfin udp; SYN_RECV and CLOSE are
 *  the kernel's fixed values for the states a director that sees only client packets uses). */
export interface FlowTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
  tcpSyn: number;
  tcpClose: number;
}
export const DEFAULT_TIMEOUTS: FlowTimeouts = { tcp: 900, tcpFin: 120, udp: 300, tcpSyn: 60, tcpClose: 10 };

export interface Plan {
  services: PlanService[];
  /** VIPs whose ARP requests ringvs answers ("arp" VIP mode). */
  arpVips: number[];
  timeouts: FlowTimeouts;
}

/** Host-order u32 from a dotted quad (validated upstream). */
export function ipToU32(ip: string): number {
  const p = ip.split(".");
  return ((+p[0]! << 24) | (+p[1]! << 16) | (+p[2]! << 8) | +p[3]!) >>> 0;
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
