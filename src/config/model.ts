// The director's configuration as the rest of ringvs consumes it: plain data, already validated.
// Both front ends (the JSON config file and an `ipvsadm-save -n` rules file) produce exactly this,
// so everything downstream has one shape to trust.

export type Protocol = "tcp" | "udp";

/** How a packet reaches the real server: "dr" rewrites the destination MAC (ipvsadm -g).
 *  "tun" (IPIP, ipvsadm -i) arrives with the TUN issue; the config refuses it by name until then. */
export type ForwardMethod = "dr";

export type SchedulerName = "rr" | "wrr";

export interface RealServerConfig {
  /** IPv4 dotted quad. */
  address: string;
  /** DR cannot change the port: it must equal the service port (ipvsadm ignores it for -g too). */
  port: number;
  /** 0..65535 as in ipvsadm; 0 = quiesced, never chosen for new connections. */
  weight: number;
  forward: ForwardMethod;
}

export interface PersistenceConfig {
  /** Seconds a client stays bound to its real server after its last connection (ipvsadm -p). */
  timeout: number;
  /** Client addresses are grouped by this mask (ipvsadm -M), dotted quad; 255.255.255.255 = per client. */
  netmask: string;
}

export interface ServiceConfig {
  protocol: Protocol;
  /** The VIP, IPv4 dotted quad. */
  address: string;
  /** 1..65535. */
  port: number;
  scheduler: SchedulerName;
  persistence: PersistenceConfig | null;
  /** In the order the operator added them (file order). Kernel IPVS inserts each new real server at
   *  the head of its list, so schedulers walk this list reversed; see src/sched/. */
  realServers: RealServerConfig[];
}

export interface RingConfig {
  /** Bytes per TPACKET_V3 block; a power of two and a multiple of the page size. */
  blockSize: number;
  blockCount: number;
  /** Retire timeout of a partly filled block: bounds the latency the ring adds at low load. */
  blockTimeoutMs: number;
}

/** "local": the VIP is configured on the director's interface (eth0:1 style); the kernel answers
 *  ARP and ringvs keeps the kernel's TCP stack away from VIP traffic with an nftables ingress drop.
 *  "arp": the VIP is not configured anywhere on the director; ringvs answers ARP for it itself and
 *  sends a gratuitous ARP at start.  "auto": "local" if the interface has the VIP, else "arp". */
export type VipMode = "local" | "arp" | "auto";

export interface DirectorConfig {
  interface: string;
  vipMode: VipMode;
  ring: RingConfig;
  /** Maximum tracked flows; new flows beyond it are still scheduled but not remembered. */
  flowTableSize: number;
  services: ServiceConfig[];
}

export const RING_DEFAULTS: RingConfig = { blockSize: 65536, blockCount: 512, blockTimeoutMs: 1 };
export const FLOW_TABLE_DEFAULT_SIZE = 1 << 20;
