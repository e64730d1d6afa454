// Prometheus metrics: the director's counters in text exposition format 0.0.4, on a loopback HTTP
// endpoint. Rendering is a pure function of two reads the control library already offers, so it is
// tested without a data plane; serving is a thin Bun.serve shell over it.
//
// Where each figure comes from:
//   - DirectorStats (what the data plane reports): the shim's and the policy's counters, and per
//     real server its packets, bytes, connections scheduled, active/inactive/persistent connections
//     and whether its MAC is known. These only grow (until the director restarts or a real server
//     is removed), which is what a Prometheus counter needs. ipvsadm -Z does not touch them.
//   - RulesSnapshot (the rules as the control library holds them): the services and real servers,
//     forwarding method, weight, the rate estimates (ipvsadm --rate) and the flow table capacity.
// A service or real server is listed as the snapshot has it; if the data plane has not caught up
// with a change yet (an apply in flight), its data-plane series are left out for that scrape
// rather than guessed.

import { parseLoopbackListen } from "../config/schema.ts";
import type { CounterName } from "../dataplane/layout.ts";
import { COUNTER_NAMES } from "../dataplane/layout.ts";
import type { PolicyCounterName } from "../dataplane/policy_counters.ts";
import { POLICY_COUNTER_NAMES } from "../dataplane/policy_counters.ts";
import type { DestSnapshot, RulesSnapshot, ServiceSnapshot } from "./control.ts";
import { findService, keyName, type ServiceKey } from "../config/service.ts";
import type { DestStats, DirectorStats, ServiceStats, WorkerShare, InterfaceShare } from "./director.ts";

/** What Prometheus asks for and expects back for the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type MetricType = "counter" | "gauge";

interface MetricDef {
  /** Full sample name: counters end in _total (the 0.0.4 text format keeps it in # TYPE too). */
  name: string;
  type: MetricType;
  help: string;
}

const counter = (name: string, help: string): MetricDef => ({ name: `ringvs_${name}_total`, type: "counter", help });
const gauge = (name: string, help: string): MetricDef => ({ name: `ringvs_${name}`, type: "gauge", help });

// Every shim counter (native/ring.h struct rv_counters). A Record over the names, so a counter
// added to layout.ts without a metric here is a type error rather than a silently missing series.
const SHIM_METRICS: Record<CounterName, MetricDef> = {
  rxFrames: counter("rx_frames", "Frames read from the RX ring."),
  rxBytes: counter("rx_bytes", "Bytes of the frames read from the RX ring."),
  rxBlocks: counter("rx_blocks", "RX ring blocks processed (TPACKET_V3 rings; a V2 ring hands over frames, not blocks)."),
  rxPolls: counter("rx_polls", "poll() calls waiting for an RX block."),
  parsedIpv4: counter("parsed_ipv4", "Frames parsed as IPv4."),
  parsedArp: counter("parsed_arp", "Frames parsed as ARP."),
  parsedOther: counter("parsed_other", "Frames neither IPv4 nor ARP (left to the kernel)."),
  parsedMalformed: counter("parsed_malformed", "Frames too short or with broken IPv4/TCP/UDP headers."),
  verdictPass: counter("verdict_pass", "Frames given the pass verdict (not for a VIP: the kernel handles them)."),
  verdictDrop: counter("verdict_drop", "Frames given the drop verdict by the policy."),
  verdictBad: counter("verdict_bad", "Verdicts the shim refused (slot out of range or without a method, ARP reply for a non-ARP frame)."),
  txFrames: counter("tx_frames", "Frames sent to real servers and ARP replies sent."),
  txBytes: counter("tx_bytes", "Bytes of the frames sent."),
  txErrors: counter("tx_errors", "Frames the kernel refused to send."),
  txArpReplies: counter("tx_arp_replies", "ARP replies sent for VIPs ringvs answers for."),
  txCalls: counter("tx_calls", "sendmmsg() calls."),
  kernelPackets: counter("ring_packets", "Frames the kernel offered to the RX ring (PACKET_STATISTICS tp_packets)."),
  kernelDrops: counter("ring_drops", "Frames the kernel dropped because the RX ring was full (PACKET_STATISTICS tp_drops)."),
  kernelFreezeQ: counter("ring_freezes", "Times the kernel froze the RX ring queue with every block in use (PACKET_STATISTICS tp_freeze_q_cnt)."),
  tunPackets: counter("tun_packets", "Packets encapsulated in IPIP for TUN real servers."),
  tunFragmented: counter("tun_fragmented", "TUN packets without DF sent as two or more outer fragments."),
  tunFragNeeded: counter("tun_frag_needed", "TUN packets with DF too big for the tunnel: dropped, ICMP fragmentation needed sent."),
  tunIcmpLimited: counter("tun_icmp_limited", "ICMP fragmentation-needed messages suppressed by the rate limit."),
  rxLargeFrames: counter("rx_large_frames", "Frames too large for an RX ring block (GSO super-frames, jumbo frames), read whole from the large-frame socket."),
  rxGsoFrames: counter("rx_gso_frames", "GSO super-frames received (each stands for several packets)."),
  rxTruncated: counter("rx_truncated", "Frames received cut short (longer than any receive buffer): dropped, never forwarded."),
  gsoSegments: counter("gso_segments", "Packets the director cut GSO super-frames into for TUN real servers."),
  gsoDropped: counter("gso_dropped", "GSO super-frames that could not be cut (unknown GSO type, bad headers, too many segments, too big for the tunnel without DF): dropped."),
};

// Every policy counter (src/dataplane/policy_counters.ts); two of them are gauges.
const POLICY_METRICS: Record<PolicyCounterName, MetricDef> = {
  vipPackets: counter("vip_packets", "Frames to a configured VIP:port."),
  newFlows: counter("new_flows", "New connections scheduled to a real server."),
  tcpNoFlowDropped: counter("tcp_no_flow_drops", "TCP segments other than SYN for an unknown connection, dropped (IPVS schedules only on SYN)."),
  noDestDropped: counter("no_dest_drops", "New connections dropped because no real server was available."),
  fragmentsDropped: counter("fragment_drops", "Non-first IPv4 fragments to a VIP, dropped (no ports to classify them by)."),
  replyFramesSeen: counter("reply_frames", "Frames from a VIP seen by the director (replies; none with DR or TUN)."),
  arpAnswered: counter("arp_answered", "ARP requests for a VIP answered by ringvs."),
  flowTableFull: counter("flow_table_full", "New connections forwarded but not remembered because the flow table was full."),
  flowsExpired: counter("flows_expired", "Flows removed from the flow table on timeout."),
  flowsActive: gauge("flows_active", "Entries in the flow table."),
  persistHits: counter("persistence_hits", "New connections sent to a real server by a persistence template."),
  flowsEvicted: counter("flows_evicted", "Flows (never established TCP) evicted from a full flow table to make room."),
  templatesActive: gauge("templates_active", "Persistence templates in the template table."),
  templatesFull: counter("template_table_full", "Clients not remembered because the persistence template table was full."),
  icmpErrorsForwarded: counter("icmp_errors_forwarded", "ICMP errors (destination unreachable, time exceeded) about a live connection, forwarded to its real server."),
  icmpErrorsNoConn: counter("icmp_errors_no_conn_drops", "ICMP errors quoting a service's packet that belongs to no live connection, not forwarded."),
  icmpErrorsMalformed: counter("icmp_errors_malformed", "ICMP errors to a VIP with a truncated or corrupted header or quote, not forwarded."),
  batches: counter("batches", "Descriptor batches the policy processed."),
};

const DIRECTOR_INFO = gauge("director_info", "Always 1; the interfaces the director receives on (comma-separated).");
const INTERFACE_RX_FRAMES = counter("interface_rx_frames", "Frames read on this receiving interface (all its rings).");
const INTERFACE_RX_BYTES = counter("interface_rx_bytes", "Bytes of the frames read on this receiving interface.");
const INTERFACE_TX_FRAMES = counter("interface_tx_frames", "Frames sent by the rings of this receiving interface.");
const INTERFACE_TX_BYTES = counter("interface_tx_bytes", "Bytes sent by the rings of this receiving interface.");
const INTERFACE_TX_ERRORS = counter("interface_tx_errors", "Frames the kernel refused to send, rings of this receiving interface.");
const INTERFACE_RING_DROPS = counter("interface_ring_drops", "Frames the kernel dropped on this receiving interface because a ring or queue was full.");
const FLOW_TABLE_SIZE = gauge("flow_table_size", "Capacity of the flow table (ipvsadm's connection table size).");
const WORKERS = gauge("workers", "Packet workers (one ring each, in one PACKET_FANOUT group when more than one).");
const WORKER_RX_FRAMES = counter("worker_rx_frames", "Frames read from this worker's RX ring.");
const WORKER_TX_FRAMES = counter("worker_tx_frames", "Frames this worker sent.");
const WORKER_NEW_FLOWS = counter("worker_new_flows", "New connections this worker scheduled.");
const WORKER_FLOWS_ACTIVE = gauge("worker_flows_active", "Entries in this worker's flow table.");
const FWMARK_MEMBER = gauge("fwmark_member_info", "Always 1; a VIP:port a firewall-mark service answers for.");

/** One service as the two reads have it; `stats` is absent while the data plane lags a change. */
interface ServiceRow {
  labels: Labels;
  snap: ServiceSnapshot;
  dests: DestRow[];
  stats: ServiceStats | undefined;
}

interface DestRow {
  labels: Labels;
  snap: DestSnapshot;
  stats: DestStats | undefined;
}

/** `null`: no sample for this row. */
interface RowMetric<R> {
  def: MetricDef;
  value: (row: R) => number | null;
}

/** Sum of one data-plane figure over a service's real servers; null unless the data plane has
 *  every one of them (a partial sum would look like a counter reset). */
function sumDests(row: ServiceRow, pick: (d: DestStats) => number): number | null {
  if (!row.stats) return null;
  let total = 0;
  for (const d of row.dests) {
    if (!d.stats) return null;
    total += pick(d.stats);
  }
  return total;
}

const SERVICE_METRICS: RowMetric<ServiceRow>[] = [
  { def: counter("service_connections", "Connections scheduled to the service's real servers."), value: (r) => sumDests(r, (d) => d.conns) },
  { def: counter("service_packets", "Packets forwarded to the service's real servers."), value: (r) => sumDests(r, (d) => d.packets) },
  { def: counter("service_bytes", "Bytes forwarded to the service's real servers."), value: (r) => sumDests(r, (d) => d.bytes) },
  { def: gauge("service_active_connections", "Active connections (TCP established) of the service."), value: (r) => sumDests(r, (d) => d.activeConns) },
  { def: gauge("service_inactive_connections", "Inactive connections (TCP not established, UDP) of the service."), value: (r) => sumDests(r, (d) => d.inactiveConns) },
  { def: gauge("service_persistent_connections", "Persistence templates of the service."), value: (r) => sumDests(r, (d) => d.persistConns) },
  { def: gauge("service_connections_per_second", "Estimated new connections per second (ipvsadm --rate CPS)."), value: (r) => r.snap.stats.cps },
  { def: gauge("service_packets_per_second", "Estimated packets per second forwarded (ipvsadm --rate InPPS)."), value: (r) => r.snap.stats.inPps },
  { def: gauge("service_bytes_per_second", "Estimated bytes per second forwarded (ipvsadm --rate InBPS)."), value: (r) => r.snap.stats.inBps },
];

const DEST_METRICS: RowMetric<DestRow>[] = [
  { def: counter("real_server_connections", "Connections scheduled to the real server."), value: (r) => r.stats?.conns ?? null },
  { def: counter("real_server_packets", "Packets forwarded to the real server."), value: (r) => r.stats?.packets ?? null },
  { def: counter("real_server_bytes", "Bytes forwarded to the real server."), value: (r) => r.stats?.bytes ?? null },
  { def: gauge("real_server_active_connections", "Active connections (TCP established) to the real server."), value: (r) => r.stats?.activeConns ?? null },
  { def: gauge("real_server_inactive_connections", "Inactive connections (TCP not established, UDP) to the real server."), value: (r) => r.stats?.inactiveConns ?? null },
  { def: gauge("real_server_persistent_connections", "Persistence templates pointing at the real server."), value: (r) => r.stats?.persistConns ?? null },
  { def: gauge("real_server_weight", "Scheduling weight of the real server (0 = quiesced)."), value: (r) => r.snap.weight },
  { def: gauge("real_server_connections_per_second", "Estimated new connections per second (ipvsadm --rate CPS)."), value: (r) => r.snap.stats.cps },
  { def: gauge("real_server_packets_per_second", "Estimated packets per second forwarded (ipvsadm --rate InPPS)."), value: (r) => r.snap.stats.inPps },
  { def: gauge("real_server_bytes_per_second", "Estimated bytes per second forwarded (ipvsadm --rate InBPS)."), value: (r) => r.snap.stats.inBps },
  {
    def: gauge("real_server_reachable", "1 if the next hop's MAC is known (the real server can be forwarded to), else 0."),
    value: (r) => (r.stats ? (r.stats.mac !== null ? 1 : 0) : null),
  },
];

type Labels = [name: string, value: string][];

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and newline only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: Go's ParseFloat spellings for the non-finite ones. */
function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}


/** A firewall-mark service has no protocol, VIP or port of its own: those labels are empty (which
 *  Prometheus treats as absent) and ringvs_fwmark_member_info lists its VIP:port pairs. */
function serviceLabels(key: ServiceKey): Labels {
  const name = keyName(key);
  if ("fwmark" in key) return [["service", name], ["protocol", ""], ["vip", ""], ["port", ""]];
  return [["service", name], ["protocol", key.protocol], ["vip", key.address], ["port", String(key.port)]];
}

function rowsOf(stats: DirectorStats, snapshot: RulesSnapshot): ServiceRow[] {
  return snapshot.services.map((snap) => {
    const labels = serviceLabels(snap.key);
    const svcStats = findService(stats.services, snap.key);
    const dests = snap.dests.map((d): DestRow => ({
      labels: [...labels, ["real_server", `${d.address}:${d.port}`], ["forward", d.forward]],
      snap: d,
      stats: svcStats?.dests.find((x) => x.address === d.address && x.port === d.port),
    }));
    return { labels, snap, dests, stats: svcStats };
  });
}

/** Appends one metric family; a family without samples is left out altogether. */
function family(out: string[], def: MetricDef, samples: [Labels, number][]): void {
  if (samples.length === 0) return;
  out.push(`# HELP ${def.name} ${escapeHelp(def.help)}`, `# TYPE ${def.name} ${def.type}`);
  for (const [labels, value] of samples) out.push(`${def.name}${formatLabels(labels)} ${formatValue(value)}`);
}

function rowFamilies<R extends { labels: Labels }>(out: string[], metrics: RowMetric<R>[], rows: R[]): void {
  for (const m of metrics) {
    const samples: [Labels, number][] = [];
    for (const row of rows) {
      const v = m.value(row);
      if (v !== null) samples.push([row.labels, v]);
    }
    family(out, m.def, samples);
  }
}

/** The whole exposition: director-wide series, then per service, then per real server. Services
 *  and real servers come in the snapshot's order (the order they were added). */
export function renderMetrics(stats: DirectorStats, snapshot: RulesSnapshot): string {
  const out: string[] = [];
  family(out, DIRECTOR_INFO, [[[["interface", stats.interface]], 1]]);
  for (const name of COUNTER_NAMES) family(out, SHIM_METRICS[name], [[[], stats.shim[name]]]);
  for (const name of POLICY_COUNTER_NAMES) family(out, POLICY_METRICS[name], [[[], stats.policy[name]]]);
  family(out, FLOW_TABLE_SIZE, [[[], snapshot.connTableSize]]);
  const perInterface = (pick: (i: InterfaceShare) => number) =>
    stats.perInterface.map((i): [Labels, number] => [[["interface", i.interface]], pick(i)]);
  family(out, INTERFACE_RX_FRAMES, perInterface((i) => i.rxFrames));
  family(out, INTERFACE_RX_BYTES, perInterface((i) => i.rxBytes));
  family(out, INTERFACE_TX_FRAMES, perInterface((i) => i.txFrames));
  family(out, INTERFACE_TX_BYTES, perInterface((i) => i.txBytes));
  family(out, INTERFACE_TX_ERRORS, perInterface((i) => i.txErrors));
  family(out, INTERFACE_RING_DROPS, perInterface((i) => i.kernelDrops));
  // Per worker: how evenly the fanout spreads clients (the director-wide series are the sums).
  family(out, WORKERS, [[[], stats.workers]]);
  const perWorker = (pick: (w: WorkerShare) => number) =>
    stats.perWorker.map((w, i): [Labels, number] => [[["worker", String(i)]], pick(w)]);
  family(out, WORKER_RX_FRAMES, perWorker((w) => w.rxFrames));
  family(out, WORKER_TX_FRAMES, perWorker((w) => w.txFrames));
  family(out, WORKER_NEW_FLOWS, perWorker((w) => w.newFlows));
  family(out, WORKER_FLOWS_ACTIVE, perWorker((w) => w.flowsActive));

  const rows = rowsOf(stats, snapshot);
  family(
    out,
    FWMARK_MEMBER,
    rows.flatMap((r) =>
      r.snap.members.map((m): [Labels, number] => [
        [r.labels[0]!, ["protocol", m.protocol], ["vip", m.address], ["port", String(m.port)]],
        1,
      ]),
    ),
  );
  rowFamilies(out, SERVICE_METRICS, rows);
  rowFamilies(out, DEST_METRICS, rows.flatMap((r) => r.dests));
  return out.join("\n") + "\n";
}

export interface MetricsServer {
  /** Closes the listening socket and any open connections. */
  stop(): void;
  /** The port it listens on (the kernel's choice when asked for port 0). */
  port: number;
}

export type MetricsSource = () => { stats: DirectorStats; snapshot: RulesSnapshot };

/** Serves GET /metrics on `listen` ("127.0.0.1:9100", "[::1]:9100"; port 0 = any free port);
 *  every other path or method is a 404. Each scrape calls `source` once. Throws if `listen` is not
 *  a loopback address (the endpoint has no authentication) or the address cannot be bound; a
 *  `source` that throws makes that scrape a 503 with its message, and the server keeps serving. */
export function serveMetrics(listen: string, source: MetricsSource): MetricsServer {
  const parsed = parseLoopbackListen(listen, 0);
  if (!parsed.ok) throw new Error(`metrics listen address '${listen}': ${parsed.problem}`);
  const text = (body: string, status: number) =>
    new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: parsed.listen.host,
      port: parsed.listen.port,
      development: false,
      // Explicit: with development off Bun sets SO_REUSEPORT, and a second director (or anything
      // else) on the same port would then share it silently, each answering some scrapes.
      reusePort: false,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) return text("not found\n", 404);
        let body: string;
        try {
          const { stats, snapshot } = source();
          body = renderMetrics(stats, snapshot);
        } catch (e) {
          return text(`metrics unavailable: ${(e as Error).message}\n`, 503);
        }
        return new Response(body, { headers: { "content-type": METRICS_CONTENT_TYPE } });
      },
    });
  } catch (e) {
    throw new Error(`metrics endpoint on ${listen}: ${(e as Error).message}`);
  }
  return {
    port: server.port as number,
    stop: () => void server.stop(true),
  };
}
