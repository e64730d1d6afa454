// The director's configuration as the rest of ringvs consumes it: plain data, already validated.
// Both front ends (the JSON config file and an `ipvsadm-save -n` rules file) produce exactly this,
// so everything downstream has one shape to trust.

export type Protocol = "tcp" | "udp";

/** How a packet reaches the real server: "dr" rewrites the destination MAC (ipvsadm -g, same
 *  L2 segment); "tun" puts an outer IPv4 header in front (IPIP, ipvsadm -i, routed anywhere). */
export type ForwardMethod = "dr" | "tun";

/** Every IPVS scheduler (ipvsadm -s); the names come from the scheduler registry. */
export type { SchedulerName } from "../sched/index.ts";
import type { SchedulerName } from "../sched/index.ts";

export interface RealServerConfig {
  /** IPv4 dotted quad. */
  address: string;
  /** DR cannot change the port: it must equal the service port (ipvsadm ignores it for -g too). */
  port: number;
  /** 0..65535 as in ipvsadm; 0 = quiesced, never chosen for new connections. */
  weight: number;
  forward: ForwardMethod;
  /** ipvsadm -x: stop sending new connections once active+inactive reaches this; 0 = no limit. */
  upperThreshold: number;
  /** ipvsadm -y: take new connections again below this; 0 = below 3/4 of the upper threshold. */
  lowerThreshold: number;
}

export interface PersistenceConfig {
  /** Seconds a client stays bound to its real server after its last connection (ipvsadm -p). */
  timeout: number;
  /** Client addresses are grouped by this mask (ipvsadm -M), dotted quad; 255.255.255.255 = per client. */
  netmask: string;
}

/** One VIP:port (or VIP:0, every port) a firewall-mark-style service answers for. */
export interface ServiceMatch {
  protocol: Protocol;
  address: string;
  /** 0 = every port of the address. */
  port: number;
}

export interface ServiceConfig {
  protocol: Protocol;
  /** The VIP, IPv4 dotted quad ("" for a fwmark service, whose addresses are in `members`). */
  address: string;
  /** 1..65535, or 0 for every port of the VIP (only with persistence, as ipvsadm requires). */
  port: number;
  /** Non-null for a firewall-mark service (ipvsadm -f MARK): several VIP:port pairs scheduled as
   *  one service with one persistence template per client. The kernel learns the mark from
   *  iptables, which a user-space director cannot see, so ringvs takes the pairs from `members`. */
  fwmark: number | null;
  members: ServiceMatch[];
  scheduler: SchedulerName;
  /** ipvsadm -b (sh-port/mh-port -> port, sh-fallback/mh-fallback -> fallback) and the Maglev
   *  lookup table size (a prime). */
  schedulerFlags: { port: boolean; fallback: boolean; mhTableSize: number };
  persistence: PersistenceConfig | null;
  /** In the order the operator added them (file order). Kernel IPVS inserts each new real server at
   *  the head of its list, so schedulers walk this list reversed; see src/sched/. */
  realServers: RealServerConfig[];
}

/** AF_PACKET ring versions (native/ring.h RV_RING_V2/V3). */
export const RING_VERSIONS = [2, 3] as const;
export type RingVersion = (typeof RING_VERSIONS)[number];

export interface RingConfig {
  /** 2: TPACKET_V2, a frame is handed over (and the worker woken) as soon as it arrives.
   *  3: TPACKET_V3, frames packed in blocks, a block handed over when full or when its retire
   *  timer fires. */
  version: RingVersion;
  /** Bytes per block; a power of two and a multiple of the page size. The ring is blockSize *
   *  blockCount bytes in both versions (V2 cuts it into 2 KiB frames). */
  blockSize: number;
  blockCount: number;
  /** V3: retire timeout of a partly filled block: bounds the latency the ring adds at low load. */
  blockTimeoutMs: number;
}

/** "local": the VIP is configured on the director's interface (eth0:1 style); the kernel answers
 *  ARP and ringvs keeps the kernel's TCP stack away from VIP traffic with an nftables ingress drop.
 *  "arp": the VIP is not configured anywhere on the director; ringvs answers ARP for it itself and
 *  sends a gratuitous ARP at start.  "auto": "local" if the interface has the VIP, else "arp". */
export type VipMode = "local" | "arp" | "auto";

/** ipvsadm --set tcp tcpfin udp, in seconds (0 in ipvsadm means "leave as is"; here every value
 *  is explicit). The other TCP states use the kernel's fixed defaults. */
export interface TimeoutConfig {
  tcp: number;
  tcpFin: number;
  udp: number;
}

/** The Prometheus text endpoint (src/control/metrics.ts). It has no authentication, so it listens
 *  on loopback only; a local agent or proxy publishes it further if wanted. */
export interface MetricsConfig {
  /** "127.0.0.1:9100" or "[::1]:9100": any 127.0.0.0/8 address or ::1, port 1..65535. */
  listen: string;
}

/** Packet workers: one thread each, with its own ring (one PACKET_FANOUT group on the interface),
 *  flow table, persistence templates and counters. The kernel spreads frames by client source
 *  address (masked by the persistence netmasks), so a client's connections and its persistence
 *  template always meet in one worker; least-connection schedulers count per worker. */
export interface WorkersConfig {
  /** 1 (the default) = a plain ring, no fanout group. */
  count: number;
  /** CPU per worker, in worker order (same length as count); null = leave placement to the kernel. */
  cpus: number[] | null;
}

export interface DirectorConfig {
  /** The first receiving interface (the director's own address on it sources TUN's ICMP). */
  interface: string;
  /** Every interface ringvs receives VIP traffic on, `interface` first: each gets its own rings
   *  (and workers.count packet workers), kernel guard and counters. */
  interfaces: string[];
  timeouts: TimeoutConfig;
  /** Outer source address of TUN packets; null = the kernel's preferred source for the route to
   *  each real server (the director's address on the egress interface). */
  tunnelSource: string | null;
  vipMode: VipMode;
  ring: RingConfig;
  /** Maximum tracked flows; new flows beyond it are still scheduled but not remembered. With
   *  several workers each has a table of this size (a client's flows all land in one). */
  flowTableSize: number;
  workers: WorkersConfig;
  services: ServiceConfig[];
  /** null = no metrics endpoint (the default). */
  metrics: MetricsConfig | null;
}

/** 32 MiB in 8 KiB blocks. Under load a packet waits for its block to fill: at half load (500 kpps
 *  of 64-byte frames) ~0.1 ms for 8 KiB, ~0.2 for 16 KiB, ~0.8 for 64 KiB, which is what the p99
 *  of the added latency is made of; drain capacity was the same for all three, and a batch still
 *  takes every ready block at once (bench/RESULTS.md, "Added latency"). */
export const RING_DEFAULTS: RingConfig = { version: 2, blockSize: 8192, blockCount: 4096, blockTimeoutMs: 1 };
export const FLOW_TABLE_DEFAULT_SIZE = 1 << 20;
export const WORKERS_DEFAULT: WorkersConfig = { count: 1, cpus: null };
/** (service, real server) pairs the director can hold at once: a slot each in the shim, named by
 *  a uint32 verdict below the special verdicts (native/ring.h RV_VERDICT_MIN_SPECIAL). Slots of
 *  removed pairs that connections still hold count too until they are free. 2^17 = 131,072:
 *  10,000 services x 10 real servers, and 31,072 slots to spare for leaving ones.
 *  Every packet worker holds the whole capacity: its ring's rv_slot (48 B), the forwarder's
 *  per-slot arrays (30 B) and its dest counters (20 B); the director's slot allocator 8 B once.
 *  Measured (one worker, allocator included), a slot costs ~90 B of RSS once written (~11 MiB
 *  at 2^17) and ~20 B while never used (the shim's and the typed arrays' pages stay unbacked until
 *  written), so an empty serve is ~99 MB either way (bench/rss.sh before and after raising it
 *  from 65,279). */
export const REAL_SERVER_ENTRIES_MAX = 131072;
/** PACKET_FANOUT groups hold at most 256 members (PACKET_FANOUT_MAX). */
export const WORKERS_MAX = 256;
export const TIMEOUT_DEFAULTS: TimeoutConfig = { tcp: 900, tcpFin: 120, udp: 300 };
/** The kernel's default Maglev lookup table size (4093; src/sched/mh.ts derives it). */
export { MH_TABLE_SIZE_DEFAULT } from "../sched/mh.ts";
