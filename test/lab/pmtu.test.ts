// Path MTU discovery through the director, end to end. The client sits behind a router whose
// client-side link has MTU 1400; the director (one-armed, DR) and the real server stay at 1500 with
// their default offloads. The real server answers from VIP:80 straight to the client through the
// router, which cannot pass its 1500-byte segments and sends ICMP "fragmentation needed" to their
// source: the VIP, i.e. the director. Only if the director hands that error to the real server
// does the real server lower its path MTU and the download complete; otherwise it stalls (the
// PMTU black hole of "work wherever IPVS works").
//
//   client (far1 ns, 198.19.0.0/24) ─ MTU 1400 ─ router ─ 1500 ─ switch ─┬─ director 198.18.0.3
//                                                                      └─ rs1 198.18.0.11 (VIP on lo)
//
// The harness's far network gives this topology: its far server namespace plays the client (no
// real-server setup there), the router's eth1 is the client-side link. Each case uses its own
// client address, because a real server remembers a learnt path MTU per destination for 10 min.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { HTTP_SERVER, Lab, canRunLab } from "./harness.ts";
import { DirectorProcess, drConfig } from "./director.ts";
import { payloadSha256 } from "../../scripts/lab/payload.ts";

const runnable = canRunLab("tcpdump", "nft", "gcc");
if (!runnable) console.warn("SKIP test/lab/pmtu.test.ts: needs root, ip, curl, tcpdump, nft and gcc (network namespaces)");

const VIP = "198.18.0.100";
const CLIENT_MTU = 1400;
/** Client addresses on far1, one per case (all in the far network, so routed the same way). */
const CLIENT_VIA_VIP = "198.19.0.11"; // far1's own address
const CLIENT_CONTROL = "198.19.0.21";
const CLIENT_DIRECT = "198.19.0.31";
/** Clients of the two-worker case; the fanout spreads them over both workers (asserted), so some
 *  sit on another worker than the one the router's own address would hash to. */
const CLIENTS_WORKERS = ["198.19.0.41", "198.19.0.42", "198.19.0.43", "198.19.0.44"];
const SIZE = 8_000_000;

describe.skipIf(!runnable)("path MTU: ICMP fragmentation-needed for VIP connections", () => {
  let lab: Lab;
  let client: string;

  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, farServers: 1, vip: VIP, tunDecap: "auto" });
    client = lab.farNs[0]!;
    const ok = async (ns: string, argv: string[]) => {
      const r = await lab.exec(ns, argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")} in ${ns}: ${r.stderr.trim()}`);
    };
    await ok(lab.routerNs, ["ip", "link", "set", "dev", "eth1", "mtu", String(CLIENT_MTU)]);
    for (const a of [CLIENT_CONTROL, CLIENT_DIRECT, ...CLIENTS_WORKERS]) await ok(client, ["ip", "addr", "add", `${a}/24`, "dev", "eth0"]);
    await lab.rsScript(lab.rsNs[0]!, "start", [VIP]);
    await startHttp(lab, lab.rsNs[0]!);
  }, 60_000);

  afterAll(async () => {
    const prefix = lab?.prefix;
    await lab?.down();
    if (prefix) expect(Lab.existingNamespaces(prefix)).toEqual([]);
  }, 30_000);

  /** curl from the client namespace with source address `src`: bytes received, SHA-256, exit code, seconds. */
  async function download(url: string, src: string, maxSeconds: number) {
    const t0 = performance.now();
    const r = await lab.exec(client, ["curl", "-sS", "--interface", src, "--max-time", String(maxSeconds), url], {
      timeoutMs: (maxSeconds + 5) * 1000,
    });
    const seconds = (performance.now() - t0) / 1000;
    const sha = new Bun.CryptoHasher("sha256").update(r.stdoutBytes).digest("hex");
    return { code: r.code, sha, bytes: r.stdoutBytes.length, seconds, stderr: r.stderr };
  }

  /** The real server's cached path MTU toward `dst` (null: none learnt). */
  async function rsPathMtu(dst: string): Promise<number | null> {
    const out = (await lab.exec(lab.rsNs[0]!, ["ip", "route", "get", dst])).stdout;
    const m = /\bmtu (\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  }

  test("baseline: straight from the real server's own address the router's frag-needed reaches it, no director involved", async () => {
    expect(await rsPathMtu(CLIENT_DIRECT)).toBeNull();
    const r = await download(`http://${lab.rsIps[0]}/bytes/${SIZE}`, CLIENT_DIRECT, 20);
    expect(r.sha).toBe(payloadSha256(SIZE));
    expect(await rsPathMtu(CLIENT_DIRECT)).toBe(CLIENT_MTU);
    console.log(`pmtu: direct download of ${SIZE} bytes in ${r.seconds.toFixed(2)} s`);
  }, 30_000);

  test("control: when the error does not reach the real server, a download through the VIP stalls", async () => {
    // Dropping ICMP destination-unreachable at the real server's input hook is what a director
    // that does not forward it amounts to: the real server's ICMP handler (icmp_unreach, which
    // updates the path MTU) never sees the message either way, and nothing else lowers the MTU
    // (TCP MTU probing is off by default). Here the director does forward it, which the counters
    // show, and the nft counter proves the errors arrived and were dropped.
    const rs = lab.rsNs[0]!;
    const table = ["table ip rvpmtu {", "  chain input {", "    type filter hook input priority -10; policy accept;",
      "    icmp type destination-unreachable counter drop", "  }", "}", ""].join("\n");
    expect((await lab.exec(rs, ["nft", "-f", "-"], { stdin: table })).code).toBe(0);
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr" }) });
    let r;
    try {
      expect(await rsPathMtu(CLIENT_CONTROL)).toBeNull();
      r = await download(`http://${VIP}/bytes/${SIZE}`, CLIENT_CONTROL, 4);
    } finally {
      const s = await d.stop();
      const nft = (await lab.exec(rs, ["nft", "list", "table", "ip", "rvpmtu"])).stdout;
      await lab.exec(rs, ["nft", "delete", "table", "ip", "rvpmtu"]);
      expect(s.policy.icmpErrorsForwarded).toBeGreaterThan(0);
      const dropped = Number(/counter packets (\d+)/.exec(nft)?.[1] ?? 0);
      expect(dropped).toBeGreaterThan(0);
    }
    expect(r.code).not.toBe(0); // curl timed out (28) and the pipe says so
    expect(r.bytes).toBeLessThan(SIZE / 10);
    expect(r.sha).not.toBe(payloadSha256(SIZE));
    expect(await rsPathMtu(CLIENT_CONTROL)).toBeNull();
    console.log(`pmtu: control received ${r.bytes} of ${SIZE} bytes in ${r.seconds.toFixed(2)} s`);
  }, 30_000);

  test("a download through the VIP completes: the director forwards the router's frag-needed to the real server", async () => {
    expect(await rsPathMtu(CLIENT_VIA_VIP)).toBeNull();
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr" }) });
    const rst = await tcpdump(lab, client, `src host ${VIP} and tcp[tcpflags] & tcp-rst != 0`);
    let r, s;
    try {
      r = await download(`http://${VIP}/bytes/${SIZE}`, CLIENT_VIA_VIP, 20);
    } finally {
      s = await d.stop();
    }
    expect(r.code).toBe(0);
    expect(r.bytes).toBe(SIZE);
    expect(r.sha).toBe(payloadSha256(SIZE));
    expect(await rsPathMtu(CLIENT_VIA_VIP)).toBe(CLIENT_MTU);
    expect(s.policy.icmpErrorsForwarded).toBeGreaterThan(0);
    expect(s.policy.icmpErrorsMalformed).toBe(0);
    expect(s.shim.verdictBad).toBe(0);
    // Every forwarded error went to the connection's one real server, counted on its slot.
    expect(s.services[0]!.dests[0]!.packets).toBeGreaterThanOrEqual(s.policy.icmpErrorsForwarded);
    expect(await rst.stop()).toEqual([]);
    console.log(`pmtu: download through the VIP of ${SIZE} bytes in ${r.seconds.toFixed(2)} s, ` +
      `${s.policy.icmpErrorsForwarded} ICMP errors forwarded, ${s.policy.icmpErrorsNoConn} without connection`);
  }, 40_000);

  test("with two packet workers each client's errors reach the worker that holds its connection", async () => {
    const config = { ...drConfig(lab, { scheduler: "rr" }), workers: { count: 2 } };
    const d = await DirectorProcess.start(lab, { config });
    const size = SIZE / 2;
    let s;
    const results = [];
    try {
      for (const c of CLIENTS_WORKERS) {
        expect(await rsPathMtu(c)).toBeNull();
        results.push(await download(`http://${VIP}/bytes/${size}`, c, 20));
      }
    } finally {
      s = await d.stop();
    }
    expect(results.map((r) => r.sha)).toEqual(CLIENTS_WORKERS.map(() => payloadSha256(size)));
    for (const c of CLIENTS_WORKERS) expect(await rsPathMtu(c)).toBe(CLIENT_MTU);
    expect(s.workers).toBe(2);
    expect(s.perWorker.map((w) => w.newFlows > 0)).toEqual([true, true]);
    expect(s.policy.icmpErrorsForwarded).toBeGreaterThanOrEqual(CLIENTS_WORKERS.length);
    expect(s.policy.icmpErrorsNoConn).toBe(0);
    console.log(`pmtu: 2 workers, ${CLIENTS_WORKERS.length} downloads of ${size} bytes in ` +
      `${results.map((r) => r.seconds.toFixed(2)).join(", ")} s, new flows per worker ${s.perWorker.map((w) => w.newFlows).join("/")}`);
  }, 60_000);
});

/** http-server.ts in NS on port 80, waited for until it prints "listening"; stopped by lab.down(). */
async function startHttp(lab: Lab, ns: string): Promise<void> {
  const proc = lab.spawn(ns, [process.execPath, HTTP_SERVER, "--name", "rs1", "--port", "80"], { stdout: "pipe", stderr: "ignore" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let seen = "";
  const deadline = Date.now() + 10_000;
  while (!seen.includes("listening\n")) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (r === null || r.done) throw new Error(`http-server in ${ns} did not start`);
    seen += new TextDecoder().decode(r.value);
  }
  void (async () => {
    try {
      while (!(await reader.read()).done) {}
    } catch {}
  })();
}

/** tcpdump on NS's eth0, bounded to 60 s and 10 packets; stop() ends it (by its own pid) and
 *  returns the packet lines. */
async function tcpdump(lab: Lab, ns: string, filter: string): Promise<{ stop: () => Promise<string[]>; proc: Subprocess }> {
  const proc = lab.spawn(ns, ["timeout", "60", "tcpdump", "-i", "eth0", "-n", "-l", "-U", "-c", "10", filter], { stdout: "pipe", stderr: "pipe" });
  const out = new Response(proc.stdout as ReadableStream<Uint8Array>).text();
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  let err = "";
  const deadline = Date.now() + 5_000;
  while (!err.includes("listening on")) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (r === null || r.done) throw new Error(`tcpdump in ${ns} did not start: ${err}`);
    err += new TextDecoder().decode(r.value);
  }
  void (async () => {
    try {
      while (!(await reader.read()).done) {}
    } catch {}
  })();
  return {
    proc,
    stop: async () => {
      await Bun.sleep(300);
      proc.kill("SIGTERM");
      await proc.exited;
      return (await out).split("\n").filter((l) => l.trim() !== "");
    },
  };
}
