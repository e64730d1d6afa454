// Counters kept by the TypeScript policy (the C shim keeps its own, see layout.ts COUNTER_NAMES).
// They live in a SharedArrayBuffer so the control thread reads what the packet worker writes.

export const POLICY_COUNTER_NAMES = [
  "vipPackets",        // frames to a configured VIP:port
  "newFlows",          // connections scheduled
  "tcpNoFlowDropped",  // TCP non-SYN for an unknown connection (IPVS schedules only on SYN)
  "noDestDropped",     // no real server available for a new connection
  "fragmentsDropped",  // later IPv4 fragments to a VIP (no ports: cannot be classified)
  "replyFramesSeen",   // frames *from* a VIP: replies that came through the director (DR: none)
  "arpAnswered",       // ARP requests for a VIP answered by ringvs
  "flowTableFull",     // new flows not remembered because the table was full
  "flowsExpired",      // flows removed by the sweep
  "flowsActive",       // gauge: entries in the flow table
  "persistHits",       // new connections sent to a server by a persistence template
  "flowsEvicted",      // flows evicted from a full table to make room (never established TCP)
  "templatesActive",   // gauge: persistence templates
  "templatesFull",     // clients not remembered because the template table was full
  "icmpErrorsForwarded", // ICMP errors about a live connection, sent to its real server
  "icmpErrorsNoConn",  // ICMP errors quoting a service's packet of no live connection: dropped
  "icmpErrorsMalformed", // ICMP errors to a VIP cut short or corrupted: dropped
  "batches",
] as const;
export type PolicyCounterName = (typeof POLICY_COUNTER_NAMES)[number];
export type PolicyCounters = Record<PolicyCounterName, number>;

export const PC: { readonly [K in PolicyCounterName]: number } = Object.fromEntries(
  POLICY_COUNTER_NAMES.map((n, i) => [n, i]),
) as { [K in PolicyCounterName]: number };

export function newPolicyCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(POLICY_COUNTER_NAMES.length * 8);
}

/** Per real-server slot, written by the packet worker as connections come and go:
 *  [activeConns, inactiveConns, persistent templates, connections scheduled in all, flow-table
 *  entries bound to the slot]. The last is kept whatever the entries' states and whether or not
 *  the slot is still configured, so the control plane knows when a removed server's slot is held
 *  by nothing and may be reused (src/control/slot_allocator.ts). */
export const DEST_COUNTER_STRIDE = 5;
export const DEST_BOUND = 4;
export const DEST_SCHEDULED = 3;
export const DEST_TEMPLATES = 2;

export function newDestCounterBuffer(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(slots * DEST_COUNTER_STRIDE * 4);
}

export function readPolicyCounters(buf: SharedArrayBuffer): PolicyCounters {
  const a = new Float64Array(buf);
  const out = {} as PolicyCounters;
  POLICY_COUNTER_NAMES.forEach((n, i) => (out[n] = a[i]!));
  return out;
}
