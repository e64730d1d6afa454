// The Prometheus exposition: the exact text for a small fixed director, escaping, and the loopback
// HTTP endpoint (a real socket on 127.0.0.1, ephemeral port).

import { afterEach, describe, expect, test } from "bun:test";
import type { RulesSnapshot, TrafficStats } from "../../src/control/control.ts";
import type { DirectorStats } from "../../src/control/director.ts";
import { escapeLabelValue, METRICS_CONTENT_TYPE, renderMetrics, serveMetrics, type MetricsServer } from "../../src/control/metrics.ts";
import { COUNTER_NAMES, type Counters } from "../../src/dataplane/layout.ts";
import { POLICY_COUNTER_NAMES, type PolicyCounters } from "../../src/dataplane/policy_counters.ts";

/** Each counter a distinct value (its position + 1, times 10 for the policy) so a swapped mapping shows. */
const shim = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i + 1])) as Counters;
const policy = Object.fromEntries(POLICY_COUNTER_NAMES.map((n, i) => [n, (i + 1) * 10])) as PolicyCounters;

function traffic(conns: number, inPkts: number, inBytes: number, cps: number, inPps: number, inBps: number): TrafficStats {
  return { conns, inPkts, outPkts: 0, inBytes, outBytes: 0, cps, inPps, outPps: 0, inBps, outBps: 0 };
}

const STATS: DirectorStats = {
  interface: "eth0,eth1",
  perInterface: [
    { interface: "eth0", rxFrames: 7, rxBytes: 700, txFrames: 5, txBytes: 500, txErrors: 0, kernelDrops: 1 },
    { interface: "eth1", rxFrames: 11, rxBytes: 1100, txFrames: 9, txBytes: 900, txErrors: 2, kernelDrops: 0 },
  ],
  workers: 2,
  perWorker: [
    { interface: "eth0", rxFrames: 7, txFrames: 5, newFlows: 3, flowsActive: 2 },
    { interface: "eth1", rxFrames: 11, txFrames: 9, newFlows: 4, flowsActive: 1 },
  ],
  shim,
  policy,
  services: [
    {
      service: "TCP 198.18.0.100:80", protocol: "tcp", address: "198.18.0.100", port: 80, fwmark: null, scheduler: "wrr",
      dests: [
        { address: "198.18.0.11", port: 80, weight: 3, mac: "02:00:00:00:00:0b", packets: 1000, bytes: 64000, activeConns: 5, inactiveConns: 2, persistConns: 0, conns: 40 },
        { address: "203.0.113.7", port: 80, weight: 1, mac: null, packets: 0, bytes: 0, activeConns: 0, inactiveConns: 0, persistConns: 0, conns: 0 },
      ],
    },
    {
      service: "FWM 7", protocol: "tcp", address: "", port: 0, fwmark: 7, scheduler: "rr",
      dests: [
        { address: "198.18.0.12", port: 0, weight: 0, mac: "02:00:00:00:00:0c", packets: 30, bytes: 4500, activeConns: 1, inactiveConns: 0, persistConns: 1, conns: 3 },
      ],
    },
  ],
};

const SNAPSHOT: RulesSnapshot = {
  timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
  connTableSize: 1048576,
  services: [
    {
      key: { protocol: "tcp", address: "198.18.0.100", port: 80 },
      options: { scheduler: "wrr", schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 }, persistence: null },
      members: [],
      dests: [
        {
          address: "198.18.0.11", port: 80, forward: "dr", weight: 3, upperThreshold: 0, lowerThreshold: 0,
          activeConns: 5, inactiveConns: 2, persistConns: 0, stats: traffic(40, 1000, 64000, 2, 50, 3200),
        },
        {
          address: "203.0.113.7", port: 80, forward: "tun", weight: 1, upperThreshold: 0, lowerThreshold: 0,
          activeConns: 0, inactiveConns: 0, persistConns: 0, stats: traffic(0, 0, 0, 0, 0, 0),
        },
      ],
      stats: traffic(40, 1000, 64000, 2, 50, 3200),
    },
    {
      key: { fwmark: 7 },
      options: { scheduler: "rr", schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 }, persistence: { timeout: 360, netmask: "255.255.255.255" } },
      members: [
        { protocol: "tcp", address: "198.18.0.100", port: 443 },
        { protocol: "udp", address: "198.18.0.101", port: 0 },
      ],
      dests: [
        {
          address: "198.18.0.12", port: 0, forward: "dr", weight: 0, upperThreshold: 0, lowerThreshold: 0,
          activeConns: 1, inactiveConns: 0, persistConns: 1, stats: traffic(3, 30, 4500, 1, 4, 600),
        },
      ],
      stats: traffic(3, 30, 4500, 1, 4, 600),
    },
  ],
};

const TCP = 'service="TCP 198.18.0.100:80",protocol="tcp",vip="198.18.0.100",port="80"';
const FWM = 'service="FWM 7",protocol="",vip="",port=""';
const RS11 = `${TCP},real_server="198.18.0.11:80",forward="dr"`;
const RS7 = `${TCP},real_server="203.0.113.7:80",forward="tun"`;
const RS12 = `${FWM},real_server="198.18.0.12:0",forward="dr"`;

/** The director-wide families. */
const DIRECTOR_FAMILIES = `# HELP ringvs_director_info Always 1; the interfaces the director receives on (comma-separated).
# TYPE ringvs_director_info gauge
ringvs_director_info{interface="eth0,eth1"} 1
# HELP ringvs_rx_frames_total Frames read from the RX ring.
# TYPE ringvs_rx_frames_total counter
ringvs_rx_frames_total 1
# HELP ringvs_rx_bytes_total Bytes of the frames read from the RX ring.
# TYPE ringvs_rx_bytes_total counter
ringvs_rx_bytes_total 2
# HELP ringvs_rx_blocks_total RX ring blocks processed (TPACKET_V3 rings; a V2 ring hands over frames, not blocks).
# TYPE ringvs_rx_blocks_total counter
ringvs_rx_blocks_total 3
# HELP ringvs_rx_polls_total poll() calls waiting for an RX block.
# TYPE ringvs_rx_polls_total counter
ringvs_rx_polls_total 4
# HELP ringvs_parsed_ipv4_total Frames parsed as IPv4.
# TYPE ringvs_parsed_ipv4_total counter
ringvs_parsed_ipv4_total 5
# HELP ringvs_parsed_arp_total Frames parsed as ARP.
# TYPE ringvs_parsed_arp_total counter
ringvs_parsed_arp_total 6
# HELP ringvs_parsed_other_total Frames neither IPv4 nor ARP (left to the kernel).
# TYPE ringvs_parsed_other_total counter
ringvs_parsed_other_total 7
# HELP ringvs_parsed_malformed_total Frames too short or with broken IPv4/TCP/UDP headers.
# TYPE ringvs_parsed_malformed_total counter
ringvs_parsed_malformed_total 8
# HELP ringvs_verdict_pass_total Frames given the pass verdict (not for a VIP: the kernel handles them).
# TYPE ringvs_verdict_pass_total counter
ringvs_verdict_pass_total 9
# HELP ringvs_verdict_drop_total Frames given the drop verdict by the policy.
# TYPE ringvs_verdict_drop_total counter
ringvs_verdict_drop_total 10
# HELP ringvs_verdict_bad_total Verdicts the shim refused (slot out of range or without a method, ARP reply for a non-ARP frame).
# TYPE ringvs_verdict_bad_total counter
ringvs_verdict_bad_total 11
# HELP ringvs_tx_frames_total Frames sent to real servers and ARP replies sent.
# TYPE ringvs_tx_frames_total counter
ringvs_tx_frames_total 12
# HELP ringvs_tx_bytes_total Bytes of the frames sent.
# TYPE ringvs_tx_bytes_total counter
ringvs_tx_bytes_total 13
# HELP ringvs_tx_errors_total Frames the kernel refused to send.
# TYPE ringvs_tx_errors_total counter
ringvs_tx_errors_total 14
# HELP ringvs_tx_arp_replies_total ARP replies sent for VIPs ringvs answers for.
# TYPE ringvs_tx_arp_replies_total counter
ringvs_tx_arp_replies_total 15
# HELP ringvs_tx_calls_total sendmmsg() calls.
# TYPE ringvs_tx_calls_total counter
ringvs_tx_calls_total 16
# HELP ringvs_ring_packets_total Frames the kernel offered to the RX ring (PACKET_STATISTICS tp_packets).
# TYPE ringvs_ring_packets_total counter
ringvs_ring_packets_total 17
# HELP ringvs_ring_drops_total Frames the kernel dropped because the RX ring was full (PACKET_STATISTICS tp_drops).
# TYPE ringvs_ring_drops_total counter
ringvs_ring_drops_total 18
# HELP ringvs_ring_freezes_total Times the kernel froze the RX ring queue with every block in use (PACKET_STATISTICS tp_freeze_q_cnt).
# TYPE ringvs_ring_freezes_total counter
ringvs_ring_freezes_total 19
# HELP ringvs_tun_packets_total Packets encapsulated in IPIP for TUN real servers.
# TYPE ringvs_tun_packets_total counter
ringvs_tun_packets_total 20
# HELP ringvs_tun_fragmented_total TUN packets without DF sent as two or more outer fragments.
# TYPE ringvs_tun_fragmented_total counter
ringvs_tun_fragmented_total 21
# HELP ringvs_tun_frag_needed_total TUN packets with DF too big for the tunnel: dropped, ICMP fragmentation needed sent.
# TYPE ringvs_tun_frag_needed_total counter
ringvs_tun_frag_needed_total 22
# HELP ringvs_tun_icmp_limited_total ICMP fragmentation-needed messages suppressed by the rate limit.
# TYPE ringvs_tun_icmp_limited_total counter
ringvs_tun_icmp_limited_total 23
# HELP ringvs_rx_large_frames_total Frames too large for an RX ring block (GSO super-frames, jumbo frames), read whole from the large-frame socket.
# TYPE ringvs_rx_large_frames_total counter
ringvs_rx_large_frames_total 24
# HELP ringvs_rx_gso_frames_total GSO super-frames received (each stands for several packets).
# TYPE ringvs_rx_gso_frames_total counter
ringvs_rx_gso_frames_total 25
# HELP ringvs_rx_truncated_total Frames received cut short (longer than any receive buffer): dropped, never forwarded.
# TYPE ringvs_rx_truncated_total counter
ringvs_rx_truncated_total 26
# HELP ringvs_gso_segments_total Packets the director cut GSO super-frames into for TUN real servers.
# TYPE ringvs_gso_segments_total counter
ringvs_gso_segments_total 27
# HELP ringvs_gso_dropped_total GSO super-frames that could not be cut (unknown GSO type, bad headers, too many segments, too big for the tunnel without DF): dropped.
# TYPE ringvs_gso_dropped_total counter
ringvs_gso_dropped_total 28
# HELP ringvs_vip_packets_total Frames to a configured VIP:port.
# TYPE ringvs_vip_packets_total counter
ringvs_vip_packets_total 10
# HELP ringvs_new_flows_total New connections scheduled to a real server.
# TYPE ringvs_new_flows_total counter
ringvs_new_flows_total 20
# HELP ringvs_tcp_no_flow_drops_total TCP segments other than SYN for an unknown connection, dropped (IPVS schedules only on SYN).
# TYPE ringvs_tcp_no_flow_drops_total counter
ringvs_tcp_no_flow_drops_total 30
# HELP ringvs_no_dest_drops_total New connections dropped because no real server was available.
# TYPE ringvs_no_dest_drops_total counter
ringvs_no_dest_drops_total 40
# HELP ringvs_fragment_drops_total Non-first IPv4 fragments to a VIP, dropped (no ports to classify them by).
# TYPE ringvs_fragment_drops_total counter
ringvs_fragment_drops_total 50
# HELP ringvs_reply_frames_total Frames from a VIP seen by the director (replies; none with DR or TUN).
# TYPE ringvs_reply_frames_total counter
ringvs_reply_frames_total 60
# HELP ringvs_arp_answered_total ARP requests for a VIP answered by ringvs.
# TYPE ringvs_arp_answered_total counter
ringvs_arp_answered_total 70
# HELP ringvs_flow_table_full_total New connections forwarded but not remembered because the flow table was full.
# TYPE ringvs_flow_table_full_total counter
ringvs_flow_table_full_total 80
# HELP ringvs_flows_expired_total Flows removed from the flow table on timeout.
# TYPE ringvs_flows_expired_total counter
ringvs_flows_expired_total 90
# HELP ringvs_flows_active Entries in the flow table.
# TYPE ringvs_flows_active gauge
ringvs_flows_active 100
# HELP ringvs_persistence_hits_total New connections sent to a real server by a persistence template.
# TYPE ringvs_persistence_hits_total counter
ringvs_persistence_hits_total 110
# HELP ringvs_flows_evicted_total Flows (never established TCP) evicted from a full flow table to make room.
# TYPE ringvs_flows_evicted_total counter
ringvs_flows_evicted_total 120
# HELP ringvs_templates_active Persistence templates in the template table.
# TYPE ringvs_templates_active gauge
ringvs_templates_active 130
# HELP ringvs_template_table_full_total Clients not remembered because the persistence template table was full.
# TYPE ringvs_template_table_full_total counter
ringvs_template_table_full_total 140
# HELP ringvs_icmp_errors_forwarded_total ICMP errors (destination unreachable, time exceeded) about a live connection, forwarded to its real server.
# TYPE ringvs_icmp_errors_forwarded_total counter
ringvs_icmp_errors_forwarded_total 150
# HELP ringvs_icmp_errors_no_conn_drops_total ICMP errors quoting a service's packet that belongs to no live connection, not forwarded.
# TYPE ringvs_icmp_errors_no_conn_drops_total counter
ringvs_icmp_errors_no_conn_drops_total 160
# HELP ringvs_icmp_errors_malformed_total ICMP errors to a VIP with a truncated or corrupted header or quote, not forwarded.
# TYPE ringvs_icmp_errors_malformed_total counter
ringvs_icmp_errors_malformed_total 170
# HELP ringvs_batches_total Descriptor batches the policy processed.
# TYPE ringvs_batches_total counter
ringvs_batches_total 180
# HELP ringvs_flow_table_size Capacity of the flow table (ipvsadm's connection table size).
# TYPE ringvs_flow_table_size gauge
ringvs_flow_table_size 1048576
# HELP ringvs_interface_rx_frames_total Frames read on this receiving interface (all its rings).
# TYPE ringvs_interface_rx_frames_total counter
ringvs_interface_rx_frames_total{interface="eth0"} 7
ringvs_interface_rx_frames_total{interface="eth1"} 11
# HELP ringvs_interface_rx_bytes_total Bytes of the frames read on this receiving interface.
# TYPE ringvs_interface_rx_bytes_total counter
ringvs_interface_rx_bytes_total{interface="eth0"} 700
ringvs_interface_rx_bytes_total{interface="eth1"} 1100
# HELP ringvs_interface_tx_frames_total Frames sent by the rings of this receiving interface.
# TYPE ringvs_interface_tx_frames_total counter
ringvs_interface_tx_frames_total{interface="eth0"} 5
ringvs_interface_tx_frames_total{interface="eth1"} 9
# HELP ringvs_interface_tx_bytes_total Bytes sent by the rings of this receiving interface.
# TYPE ringvs_interface_tx_bytes_total counter
ringvs_interface_tx_bytes_total{interface="eth0"} 500
ringvs_interface_tx_bytes_total{interface="eth1"} 900
# HELP ringvs_interface_tx_errors_total Frames the kernel refused to send, rings of this receiving interface.
# TYPE ringvs_interface_tx_errors_total counter
ringvs_interface_tx_errors_total{interface="eth0"} 0
ringvs_interface_tx_errors_total{interface="eth1"} 2
# HELP ringvs_interface_ring_drops_total Frames the kernel dropped on this receiving interface because a ring or queue was full.
# TYPE ringvs_interface_ring_drops_total counter
ringvs_interface_ring_drops_total{interface="eth0"} 1
ringvs_interface_ring_drops_total{interface="eth1"} 0
# HELP ringvs_workers Packet workers (one ring each, in one PACKET_FANOUT group when more than one).
# TYPE ringvs_workers gauge
ringvs_workers 2
# HELP ringvs_worker_rx_frames_total Frames read from this worker's RX ring.
# TYPE ringvs_worker_rx_frames_total counter
ringvs_worker_rx_frames_total{worker="0"} 7
ringvs_worker_rx_frames_total{worker="1"} 11
# HELP ringvs_worker_tx_frames_total Frames this worker sent.
# TYPE ringvs_worker_tx_frames_total counter
ringvs_worker_tx_frames_total{worker="0"} 5
ringvs_worker_tx_frames_total{worker="1"} 9
# HELP ringvs_worker_new_flows_total New connections this worker scheduled.
# TYPE ringvs_worker_new_flows_total counter
ringvs_worker_new_flows_total{worker="0"} 3
ringvs_worker_new_flows_total{worker="1"} 4
# HELP ringvs_worker_flows_active Entries in this worker's flow table.
# TYPE ringvs_worker_flows_active gauge
ringvs_worker_flows_active{worker="0"} 2
ringvs_worker_flows_active{worker="1"} 1
# HELP ringvs_fwmark_member_info Always 1; a VIP:port a firewall-mark service answers for.
# TYPE ringvs_fwmark_member_info gauge
ringvs_fwmark_member_info{service="FWM 7",protocol="tcp",vip="198.18.0.100",port="443"} 1
ringvs_fwmark_member_info{service="FWM 7",protocol="udp",vip="198.18.0.101",port="0"} 1
`;

/** One family as the exposition writes it: HELP, TYPE, then a sample per label set. */
function family(name: string, type: "counter" | "gauge", help: string, samples: [labels: string, value: number][]): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, value]) => `${name}{${labels}} ${value}`), ""].join("\n");
}

type Row = [name: string, type: "counter" | "gauge", help: string, values: number[]];

/** The per-service families, in exposition order: values for TCP, then FWM. */
const SERVICE_FAMILIES: Row[] = [
  ["connections_total", "counter", "Connections scheduled to the service's real servers.", [40, 3]],
  ["packets_total", "counter", "Packets forwarded to the service's real servers.", [1000, 30]],
  ["bytes_total", "counter", "Bytes forwarded to the service's real servers.", [64000, 4500]],
  ["active_connections", "gauge", "Active connections (TCP established) of the service.", [5, 1]],
  ["inactive_connections", "gauge", "Inactive connections (TCP not established, UDP) of the service.", [2, 0]],
  ["persistent_connections", "gauge", "Persistence templates of the service.", [0, 1]],
  ["connections_per_second", "gauge", "Estimated new connections per second (ipvsadm --rate CPS).", [2, 1]],
  ["packets_per_second", "gauge", "Estimated packets per second forwarded (ipvsadm --rate InPPS).", [50, 4]],
  ["bytes_per_second", "gauge", "Estimated bytes per second forwarded (ipvsadm --rate InBPS).", [3200, 600]],
];

/** The per-real-server families, in exposition order: values for RS11, RS7, then RS12. */
const REAL_SERVER_FAMILIES: Row[] = [
  ["connections_total", "counter", "Connections scheduled to the real server.", [40, 0, 3]],
  ["packets_total", "counter", "Packets forwarded to the real server.", [1000, 0, 30]],
  ["bytes_total", "counter", "Bytes forwarded to the real server.", [64000, 0, 4500]],
  ["active_connections", "gauge", "Active connections (TCP established) to the real server.", [5, 0, 1]],
  ["inactive_connections", "gauge", "Inactive connections (TCP not established, UDP) to the real server.", [2, 0, 0]],
  ["persistent_connections", "gauge", "Persistence templates pointing at the real server.", [0, 0, 1]],
  ["weight", "gauge", "Scheduling weight of the real server (0 = quiesced).", [3, 1, 0]],
  ["connections_per_second", "gauge", "Estimated new connections per second (ipvsadm --rate CPS).", [2, 0, 1]],
  ["packets_per_second", "gauge", "Estimated packets per second forwarded (ipvsadm --rate InPPS).", [50, 0, 4]],
  ["bytes_per_second", "gauge", "Estimated bytes per second forwarded (ipvsadm --rate InBPS).", [3200, 0, 600]],
  ["reachable", "gauge", "1 if the next hop's MAC is known (the real server can be forwarded to), else 0.", [1, 0, 1]],
];

const EXPECTED =
  DIRECTOR_FAMILIES +
  SERVICE_FAMILIES.map(([name, type, help, values]) => family(`ringvs_service_${name}`, type, help, [[TCP, values[0]!], [FWM, values[1]!]])).join("") +
  REAL_SERVER_FAMILIES.map(([name, type, help, values]) =>
    family(`ringvs_real_server_${name}`, type, help, [[RS11, values[0]!], [RS7, values[1]!], [RS12, values[2]!]]),
  ).join("");

describe("renderMetrics", () => {
  test("the whole exposition for a small director", () => {
    expect(renderMetrics(STATS, SNAPSHOT)).toBe(EXPECTED);
  });

  test("every family has one HELP and one TYPE, before its samples, and counters end in _total", () => {
    const seen = new Set<string>();
    let current = "";
    for (const line of renderMetrics(STATS, SNAPSHOT).trimEnd().split("\n")) {
      const help = /^# HELP (\S+) /.exec(line);
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (help) {
        expect(seen.has(help[1]!)).toBe(false);
        seen.add((current = help[1]!));
      } else if (type) {
        expect(type[1]).toBe(current);
        expect(type[1]!.endsWith("_total")).toBe(type[2] === "counter");
      } else {
        expect(line.startsWith(`${current}{`) || line.startsWith(`${current} `)).toBe(true);
        expect(line).toMatch(/^ringvs_[a-z0-9_]+(\{.*\})? -?[0-9.e+]+$/);
      }
    }
  });

  test("a real server the data plane does not have yet gets only the rule-side series", () => {
    const lagging: DirectorStats = { ...STATS, services: [STATS.services[0]!] };
    const text = renderMetrics(lagging, SNAPSHOT);
    expect(text).toContain(`ringvs_real_server_weight{${RS12}} 0\n`);
    expect(text).toContain(`ringvs_real_server_bytes_per_second{${RS12}} 600\n`);
    expect(text).not.toContain(`ringvs_real_server_packets_total{${RS12}}`);
    expect(text).not.toContain(`ringvs_real_server_reachable{${RS12}}`);
    // A partial sum would read as a counter reset, so the service's counters wait too.
    expect(text).not.toContain(`ringvs_service_packets_total{${FWM}}`);
    expect(text).toContain(`ringvs_service_packets_total{${TCP}} 1000\n`);
  });

  test("no services: director-wide families only", () => {
    const text = renderMetrics({ ...STATS, services: [] }, { ...SNAPSHOT, services: [] });
    expect(text).not.toContain("ringvs_service_");
    expect(text).not.toContain("ringvs_real_server_");
    expect(text).not.toContain("ringvs_fwmark_member_info");
    expect(text).toContain("ringvs_ring_drops_total 18\n");
  });
});

describe("label escaping", () => {
  test("backslash, double quote and newline are escaped; nothing else is", () => {
    expect(escapeLabelValue('a"b')).toBe('a\\"b');
    expect(escapeLabelValue("a\\b")).toBe("a\\\\b");
    expect(escapeLabelValue("a\nb")).toBe("a\\nb");
    expect(escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
    expect(escapeLabelValue("TCP 198.18.0.100:80 {x}=,'é")).toBe("TCP 198.18.0.100:80 {x}=,'é");
  });

  test("in the exposition", () => {
    const text = renderMetrics({ ...STATS, interface: 'e"t\\h\n0' }, SNAPSHOT);
    expect(text).toContain('ringvs_director_info{interface="e\\"t\\\\h\\n0"} 1\n');
  });
});

describe("serveMetrics", () => {
  let server: MetricsServer | null = null;
  afterEach(() => {
    server?.stop();
    server = null;
  });

  test("GET /metrics on 127.0.0.1 (ephemeral port) answers the exposition; anything else is 404", async () => {
    let scrapes = 0;
    server = serveMetrics("127.0.0.1:0", () => {
      scrapes++;
      return { stats: STATS, snapshot: SNAPSHOT };
    });
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;

    const ok = await fetch(`${base}/metrics`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
    expect(METRICS_CONTENT_TYPE.startsWith("text/plain; version=0.0.4")).toBe(true);
    expect(await ok.text()).toBe(EXPECTED);
    expect(scrapes).toBe(1);

    for (const path of ["/", "/metrics/", "/metric", "/favicon.ico"]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status).toBe(404);
      await r.text();
    }
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(404);
    await post.text();
    expect(scrapes).toBe(2); // the GET and the HEAD
  });

  test("[::1] when the host has IPv6 loopback", async () => {
    try {
      server = serveMetrics("[::1]:0", () => ({ stats: STATS, snapshot: SNAPSHOT }));
    } catch (e) {
      console.warn(`SKIP [::1] metrics test: cannot bind ::1 here (${(e as Error).message})`);
      return;
    }
    const r = await fetch(`http://[::1]:${server.port}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(EXPECTED);
  });

  test("a source that throws makes that scrape a 503; the server keeps serving", async () => {
    let fail = true;
    server = serveMetrics("127.0.0.1:0", () => {
      if (fail) throw new Error("director stopped");
      return { stats: STATS, snapshot: SNAPSHOT };
    });
    const bad = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(bad.status).toBe(503);
    expect(await bad.text()).toBe("metrics unavailable: director stopped\n");
    fail = false;
    const good = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(good.status).toBe(200);
    await good.text();
  });

  test("stop() closes the socket", async () => {
    const s = serveMetrics("127.0.0.1:0", () => ({ stats: STATS, snapshot: SNAPSHOT }));
    const port = s.port;
    s.stop();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  test("non-loopback addresses are refused before anything is bound", () => {
    const source = () => ({ stats: STATS, snapshot: SNAPSHOT });
    const why = "is not a loopback address: the metrics endpoint has no authentication, so it listens on 127.0.0.0/8 or [::1] only";
    expect(() => serveMetrics("0.0.0.0:9100", source)).toThrow(`metrics listen address '0.0.0.0:9100': 0.0.0.0 ${why}`);
    expect(() => serveMetrics("192.0.2.1:9100", source)).toThrow(`metrics listen address '192.0.2.1:9100': 192.0.2.1 ${why}`);
    expect(() => serveMetrics("[::]:9100", source)).toThrow(`metrics listen address '[::]:9100': [::] ${why}`);
    expect(() => serveMetrics("localhost:9100", source)).toThrow("'localhost' is not an IP address");
    expect(() => serveMetrics("127.0.0.1", source)).toThrow("must be HOST:PORT with a port");
  });

  test("a port already in use is an error naming the address", () => {
    server = serveMetrics("127.0.0.1:0", () => ({ stats: STATS, snapshot: SNAPSHOT }));
    const taken = `127.0.0.1:${server.port}`;
    expect(() => serveMetrics(taken, () => ({ stats: STATS, snapshot: SNAPSHOT }))).toThrow(`metrics endpoint on ${taken}:`);
  });
});
