// The Linux kernel's IPVS selftest (tools/testing/selftests/net/netfilter/ipvs.sh) replayed with
// ringvs as the director instead of kernel IPVS: the same three namespaces and links, the same
// ipvsadm lines, the same pass criterion (a file sent by the client to VIP:8080 arrives intact at
// the real server's socat), plus the same cases with 20 MB.
//
//   ns0 (client)                    ns1 (director, ringvs)              ns2 (real server)
//   br0 CIP/24 ─┬─ veth01 ───────── veth10 GIP/24   veth12 DIP/24 ───── veth21 RIP/24
//               └─ veth02 ──────────────────────────────────────────── veth20 SIP/24
//                                   lo: VIP/32                          lo (DR) / tunl0 (TUN): VIP/32
//
// ringvs listens on veth10 (the client side) and reaches the real server through the kernel's
// route to RIP, out of veth12; the real server answers from the VIP straight to the client over
// veth20, its own leg on the client network (ipvs.sh's "route back to the client net": the
// connected route of SIP/24), so the director sees only client -> VIP frames.
//
// Differences from ipvs.sh, each forced by ringvs or this machine, never by convenience:
//   - The VIP goes on ns1's lo before ringvs starts: ringvs decides at start who answers for each
//     VIP (ipvs.sh adds it after the ipvsadm lines, which kernel IPVS does not mind).
//   - The ipvsadm lines are a rules file for `ringvs serve --interface veth10 --rules FILE`;
//     ipvs.sh's live `ipvsadm -a -m ...` is also replayed with the ringvs CLI in the NAT case.
//   - TUN: this kernel has no ipip module, so ns2's tunl0 is scripts/lab/ipip-decap (a user-space
//     decapsulator with a TUN device named tunl0) and the VIP sits on tunl0 as
//     scripts/realserver.sh --mode tun puts it; ns1 needs no tunl0 (ringvs builds the outer
//     header itself), so ipvs.sh's `modprobe ipip; ip link set tunl0 up` there is left out.
//   - NAT (-m): ringvs does DR and TUN only; the case asserts its refusal by name.
//   - The received bytes are hashed (sha256) as they stream out of the server's socat instead of
//     going through a temp file and cmp; the payloads are random, as ipvs.sh's dd from urandom.
//   - ipvs.sh's `sleep 1` after setup is a wait until every link is up.
// veth offloads stay at their defaults (TSO/GSO on), as ipvs.sh leaves them: with 20 MB the
// client hands veth01 64 KiB GSO super-frames, which reach ringvs on veth10 as they are.
//
// Namespaces carry a per-run prefix, are built anew for every case (ipvs.sh runs cleanup; setup
// before each) and removed after it, also when it fails, and on exit. Every process is started as
// `ip netns exec NS cmd` (the pid is cmd's) and stopped by that pid; every transfer is bounded by
// `timeout`.

import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DecapProcess,
  buildLabTool,
  canRunLab,
  nsExec,
  nsSpawn,
  type ExecOptions,
  type ExecResult,
  type SpawnOptions,
} from "./harness.ts";
import { CLI, DirectorProcess, type DirectorHost } from "./director.ts";

/**
 * ipvs.sh's addresses, mapped into 198.18.0.0/15 (RFC 2544's benchmarking range, the only one
 * the lab may use). The third octet keeps a trace of the original network:
 *
 *   ipvs.sh           here            what
 *   10.0.0.2          198.18.10.2     cip: the client, on ns0's br0
 *   10.0.0.1          198.18.10.1     gip: the director's client-side address (veth10)
 *   10.0.0.3          198.18.10.3     sip: the real server's leg on the client net (veth20)
 *   172.16.0.1        198.19.16.1     dip: the director's server-side address (veth12)
 *   172.16.0.2        198.19.16.2     rip: the real server (veth21)
 *   207.175.44.110    198.19.44.110   vip
 */
const ADDR = {
  cip: "198.18.10.2",
  gip: "198.18.10.1",
  sip: "198.18.10.3",
  dip: "198.19.16.1",
  rip: "198.19.16.2",
  vip: "198.19.44.110",
} as const;
const PREFIX_LEN = 24;
const PORT = 8080;
/** ipvs.sh's datalen: one 32-byte block of random data. */
const DATALEN = 32;
const BIG = 20_000_000;
/** ipvs.sh's bounds for the small transfer: `timeout 5` for the server, `timeout 2` for the client. */
const SMALL_BOUND = { server: 5, client: 2 };
/** 20 MB through a working director takes about a second here; 12 s leaves room for a slow CI
 *  machine and keeps the file within its minute when both big cases fail by stalling. The client's
 *  bound is the shorter one, as in ipvs.sh, so a stall shows as the client's timeout (124). */
const BIG_BOUND = { server: 15, client: 12 };

const runnable = canRunLab("socat", "ss", "gcc", "nft", "sysctl", "timeout");
if (!runnable) console.warn("SKIP test/lab/ipvs_selftest.test.ts: needs root, ip, curl, socat, ss, gcc, nft, sysctl and timeout (network namespaces)");

// --- the topology ------------------------------------------------------------------------------

const live = new Set<SelftestNet>();
let counter = 0;
let exitHooked = false;
/** Namespaces of this run start with this (pid: parallel runs; a counter: one topology a case). */
const RUN_PREFIX = `rv${process.pid % 100000}ipvs`;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // Synchronous: "exit" handlers cannot await. An aborted run leaves no namespace behind.
  process.on("exit", () => {
    for (const net of [...live]) net.downSync();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const net of [...live]) net.downSync();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/** ipvs.sh's setup(): three namespaces, three veth pairs, the bridge, the addresses. */
class SelftestNet implements DirectorHost {
  readonly ns0: string;
  readonly ns1: string;
  readonly ns2: string;
  readonly directorIf = "veth10";
  readonly procs = new Set<Subprocess>();
  private readonly directors = new Set<DirectorProcess>();
  private isDown = false;

  get directorNs(): string {
    return this.ns1;
  }

  private constructor(prefix: string) {
    this.ns0 = `${prefix}ns0`;
    this.ns1 = `${prefix}ns1`;
    this.ns2 = `${prefix}ns2`;
  }

  static async setup(): Promise<SelftestNet> {
    hookExit();
    const net = new SelftestNet(`${RUN_PREFIX}${counter++}`);
    live.add(net);
    try {
      await net.build();
    } catch (e) {
      await net.down();
      throw e;
    }
    return net;
  }

  private async build(): Promise<void> {
    const { ns0, ns1, ns2 } = this;
    const { cip, gip, sip, dip, rip } = ADDR;
    // lib.sh's setup_ns: a fresh namespace with lo up.
    for (const ns of [ns0, ns1, ns2]) {
      await run(["ip", "netns", "add", ns]);
      await this.must(ns, ["ip", "link", "set", "lo", "up"]);
    }
    // Each pair is made from inside its first namespace, so nothing ever exists in the root one.
    await this.must(ns0, ["ip", "link", "add", "veth01", "type", "veth", "peer", "name", "veth10", "netns", ns1]);
    await this.must(ns0, ["ip", "link", "add", "veth02", "type", "veth", "peer", "name", "veth20", "netns", ns2]);
    await this.must(ns1, ["ip", "link", "add", "veth12", "type", "veth", "peer", "name", "veth21", "netns", ns2]);

    await this.must(ns0, ["ip", "link", "set", "veth01", "up"]);
    await this.must(ns0, ["ip", "link", "set", "veth02", "up"]);
    await this.must(ns0, ["ip", "link", "add", "br0", "type", "bridge"]);
    await this.must(ns0, ["ip", "link", "set", "veth01", "master", "br0"]);
    await this.must(ns0, ["ip", "link", "set", "veth02", "master", "br0"]);
    await this.must(ns0, ["ip", "link", "set", "br0", "up"]);
    await this.must(ns0, ["ip", "addr", "add", `${cip}/${PREFIX_LEN}`, "dev", "br0"]);

    await this.must(ns1, ["ip", "link", "set", "veth10", "up"]);
    await this.must(ns1, ["ip", "addr", "add", `${gip}/${PREFIX_LEN}`, "dev", "veth10"]);
    await this.must(ns1, ["ip", "link", "set", "veth12", "up"]);
    await this.must(ns1, ["ip", "addr", "add", `${dip}/${PREFIX_LEN}`, "dev", "veth12"]);

    await this.must(ns2, ["ip", "link", "set", "veth21", "up"]);
    await this.must(ns2, ["ip", "addr", "add", `${rip}/${PREFIX_LEN}`, "dev", "veth21"]);
    await this.must(ns2, ["ip", "link", "set", "veth20", "up"]);
    await this.must(ns2, ["ip", "addr", "add", `${sip}/${PREFIX_LEN}`, "dev", "veth20"]);

    // ipvs.sh sleeps 1 s here; waiting for the links says what it waits for and is bounded.
    await this.linksUp(5_000);
  }

  /** Every link but lo reports operstate UP (the bridge does once a port forwards). */
  private async linksUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const down: string[] = [];
      for (const ns of [this.ns0, this.ns1, this.ns2]) {
        const links = JSON.parse((await this.must(ns, ["ip", "-j", "link", "show"])).stdout) as { ifname: string; operstate: string }[];
        for (const l of links) if (l.ifname !== "lo" && l.operstate !== "UP") down.push(`${ns}/${l.ifname}: ${l.operstate}`);
      }
      if (down.length === 0) return;
      if (Date.now() > deadline) throw new Error(`links not up after ${timeoutMs} ms: ${down.join(", ")}`);
      await Bun.sleep(50);
    }
  }

  exec(ns: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return nsExec(ns, argv, { timeoutMs: 15_000, ...opts }, this.procs);
  }

  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): Subprocess {
    return nsSpawn(ns, argv, opts, this.procs);
  }

  /** exec that throws, naming the command and its stderr, unless it exits 0. */
  async must(ns: string, argv: string[]): Promise<ExecResult> {
    const r = await this.exec(ns, argv);
    if (r.code !== 0) throw new Error(`${ns}: ${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  }

  async sysctl(ns: string, ...settings: string[]): Promise<void> {
    for (const s of settings) await this.must(ns, ["sysctl", "-qw", s]);
  }

  /** ringvs in ns1 (`serve --interface veth10 --rules FILE`), stopped by down() if still running. */
  async startDirector(rules: string): Promise<DirectorProcess> {
    const d = await DirectorProcess.start(this, { rules });
    this.directors.add(d);
    return d;
  }

  /** ipvs.sh's cleanup: stops what runs here (each by its pid: directors first, so they remove
   *  what they installed), deletes the namespaces. */
  async down(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    const errors: string[] = [];
    for (const d of this.directors) {
      if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop().catch((e) => errors.push((e as Error).message));
    }
    const procs = [...this.procs];
    for (const p of procs) p.kill("SIGTERM");
    const done = Promise.all(procs.map((p) => p.exited));
    const exited = await Promise.race([done.then(() => true), Bun.sleep(2_000).then(() => false)]);
    if (!exited) {
      for (const p of procs) p.kill("SIGKILL");
      await done;
    }
    for (const ns of [this.ns0, this.ns1, this.ns2]) {
      if (!netnsList().includes(ns)) continue;
      const r = await run(["ip", "netns", "del", ns], false);
      if (r.code !== 0) errors.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
    live.delete(this);
    if (errors.length) throw new Error(errors.join("; "));
  }

  /** @internal for the exit handler */
  downSync(): void {
    // SIGTERM first: `timeout` hands it on to its socat (a SIGKILLed timeout would orphan it) and
    // ringvs stops cleanly; what is still there after a moment is killed.
    const all = [...[...this.directors].map((d) => d.proc), ...this.procs];
    for (const p of all) p.kill("SIGTERM");
    Bun.sleepSync(300);
    for (const p of all) p.kill("SIGKILL");
    for (const ns of [this.ns0, this.ns1, this.ns2]) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
    live.delete(this);
  }
}

/** A command of the root namespace that only manages namespaces (`ip netns add/del`). */
async function run(argv: string[], check = true): Promise<{ code: number; stderr: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (check && code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.trim()}`);
  return { code, stderr };
}

function netnsList(): string[] {
  return Bun.spawnSync(["ip", "netns", "list"]).stdout.toString().split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
}

// --- ipvs.sh's test_service: server_listen, client_connect, verify_data ------------------------

interface Received {
  bytes: number;
  sha256: string;
  /** The server's exit code (124: its `timeout` ran out). */
  exit: number | null;
}

/** server_listen: socat in ns2 writes what it receives on VIP:8080 to stdout, hashed here as it
 *  streams. Resolves once the socket listens (ipvs.sh sleeps 0.2 s instead). */
async function serverListen(net: SelftestNet, boundS: number): Promise<{ proc: Subprocess; received: Promise<Received> }> {
  const proc = net.spawn(net.ns2, ["timeout", String(boundS), "socat", "-u", "-4", `TCP-LISTEN:${PORT},reuseaddr`, "STDOUT"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const received = (async (): Promise<Received> => {
    const h = new Bun.CryptoHasher("sha256");
    let bytes = 0;
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      h.update(chunk);
      bytes += chunk.length;
    }
    return { bytes, sha256: h.digest("hex"), exit: await proc.exited };
  })();
  const deadline = Date.now() + 5_000;
  for (;;) {
    const ss = await net.exec(net.ns2, ["ss", "-Htln", `sport = :${PORT}`]);
    if (ss.stdout.trim() !== "") return { proc, received };
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`socat in ${net.ns2} is not listening on ${PORT} (exit ${proc.exitCode}): ${await new Response(proc.stderr as ReadableStream<Uint8Array>).text()}`);
    }
    await Bun.sleep(20);
  }
}

/** client_connect: socat in ns0 sends the payload to VIP:8080 and closes. */
async function clientConnect(net: SelftestNet, payload: Uint8Array, boundS: number): Promise<ExecResult> {
  return net.exec(net.ns0, ["timeout", String(boundS), "socat", "-u", "-4", "STDIN", `TCP:${ADDR.vip}:${PORT}`], {
    stdin: payload,
    timeoutMs: (boundS + 5) * 1000,
  });
}

const sha256 = (b: Uint8Array): string => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/** test_service, judged as verify_data does: the server got exactly the bytes the client sent. */
async function testService(net: SelftestNet, payload: Uint8Array, bound: { server: number; client: number }): Promise<{ client: ExecResult; received: Received }> {
  const server = await serverListen(net, bound.server);
  const client = await clientConnect(net, payload, bound.client);
  const received = await server.received;
  return { client, received };
}

// --- the director ------------------------------------------------------------------------------

/** ringvs in ns1 with these ipvsadm lines; returns once it is ready and the real server resolved. */
async function startRingvs(net: SelftestNet, rules: string[], forward: "dr" | "tun"): Promise<DirectorProcess> {
  const d = await net.startDirector(rules.join("\n") + "\n");
  try {
    expect(d.ready.vips).toEqual({ local: [ADDR.vip], arp: [] });
    // ringvs asks the kernel to resolve RIP at start and reads the neighbour table once a second;
    // until it has the MAC, the real server is not chosen (and a SYN would wait for a resend).
    if (d.ready.unresolved.length) {
      expect(d.ready.unresolved).toEqual([ADDR.rip]);
      const line = `real server ${ADDR.rip} (${forward}) reachable via`;
      const deadline = Date.now() + 5_000;
      while (!d.stderr.includes(line)) {
        if (Date.now() > deadline) throw new Error(`ringvs did not resolve ${ADDR.rip} in 5 s: ${d.stderr}`);
        await Bun.sleep(20);
      }
    }
  } catch (e) {
    await d.stop().catch(() => {});
    throw e;
  }
  return d;
}

/** The MAC of IF in NS. */
async function macOf(net: SelftestNet, ns: string, ifname: string): Promise<string> {
  return (JSON.parse((await net.must(ns, ["ip", "-j", "link", "show", "dev", ifname])).stdout) as { address: string }[])[0]!.address;
}

// --- ipvs.sh's test_dr, test_nat, test_tun -----------------------------------------------------

const SERVICE = `-t ${ADDR.vip}:${PORT}`;

/** test_dr up to test_service: the client's route to the VIP, the director, the real server. */
async function prepareDr(net: SelftestNet): Promise<DirectorProcess> {
  const { ns0, ns1, ns2 } = net;
  await net.must(ns0, ["ip", "route", "add", ADDR.vip, "via", ADDR.gip, "dev", "br0"]);

  await net.sysctl(ns1, "net.ipv4.ip_forward=1");
  await net.must(ns1, ["ip", "addr", "add", `${ADDR.vip}/32`, "dev", "lo", "label", "lo:1"]);

  // avoid incorrect arp response
  await net.sysctl(ns2, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2");
  // avoid reverse route lookup
  await net.sysctl(ns2, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.veth21.rp_filter=0");
  await net.must(ns2, ["ip", "addr", "add", `${ADDR.vip}/32`, "dev", "lo", "label", "lo:1"]);

  // ipvs.sh: ipvsadm -A -t VIP:PORT -s rr; ipvsadm -a -t VIP:PORT -r RIP:PORT (-g is the default).
  return startRingvs(net, [`-A ${SERVICE} -s rr`, `-a ${SERVICE} -r ${ADDR.rip}:${PORT} -g`], "dr");
}

/** test_tun up to test_service. The real server's tunl0 is ipip-decap's (no ipip module here). */
async function prepareTun(net: SelftestNet, decapBin: string): Promise<{ d: DirectorProcess; decap: DecapProcess }> {
  const { ns0, ns1, ns2 } = net;
  await net.must(ns0, ["ip", "route", "add", ADDR.vip, "via", ADDR.gip, "dev", "br0"]);

  await net.sysctl(ns1, "net.ipv4.ip_forward=0", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0");
  await net.must(ns1, ["ip", "addr", "add", `${ADDR.vip}/32`, "dev", "lo", "label", "lo:1"]);

  // ipvs.sh: modprobe -q ipip; ip link set tunl0 up. ipip-decap takes IPIP off veth21 and writes
  // the inner packets into its TUN device tunl0; it is ready once tunl0 and its nft guard exist.
  const proc = net.spawn(ns2, [decapBin, "--interface", "veth21", "--tun", "tunl0"], { stdout: "pipe", stderr: "pipe" });
  const decap = new DecapProcess(ns2, proc);
  const ready = await decap.next("ready", 5_000);
  if (!ready) throw new Error(`ipip-decap in ${ns2} did not become ready (exit ${proc.exitCode}): ${decap.stderr.trim()}`);
  expect(ready.addrs).toEqual([ADDR.rip]);
  await net.must(ns2, ["ip", "link", "set", "tunl0", "up"]);
  await net.sysctl(
    ns2,
    "net.ipv4.conf.all.arp_ignore=1",
    "net.ipv4.conf.all.arp_announce=2",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.tunl0.rp_filter=0",
    "net.ipv4.conf.veth21.rp_filter=0",
  );
  // Where scripts/realserver.sh --mode tun puts it (ipvs.sh: lo; either is local to the kernel).
  await net.must(ns2, ["ip", "addr", "add", `${ADDR.vip}/32`, "dev", "tunl0", "label", "tunl0:1"]);

  // ipvs.sh: ipvsadm -A -t VIP:PORT -s rr; ipvsadm -a -i -t VIP:PORT -r RIP:PORT.
  const d = await startRingvs(net, [`-A ${SERVICE} -s rr`, `-a -i ${SERVICE} -r ${ADDR.rip}:${PORT}`], "tun");
  return { d, decap };
}

/** The transfer succeeded exactly when this equals expected(payload). */
function outcome(r: { client: ExecResult; received: Received }): object {
  return {
    clientExit: r.client.code,
    clientStderr: r.client.stderr.trim(),
    serverExit: r.received.exit,
    bytes: r.received.bytes,
    sha256: r.received.sha256,
  };
}
const expected = (payload: Uint8Array): object => ({ clientExit: 0, clientStderr: "", serverExit: 0, bytes: payload.length, sha256: sha256(payload) });

/** Director counters worth seeing when a transfer fails. */
function counters(s: FinalStats): string {
  const { rxFrames, txFrames, txErrors, tunPackets, tunFragmented, tunFragNeeded, verdictDrop, kernelDrops } = s.shim;
  const { vipPackets, newFlows, tcpNoFlowDropped, noDestDropped } = s.policy;
  return JSON.stringify({ rxFrames, txFrames, txErrors, tunPackets, tunFragmented, tunFragNeeded, verdictDrop, kernelDrops, vipPackets, newFlows, tcpNoFlowDropped, noDestDropped });
}

type FinalStats = Awaited<ReturnType<DirectorProcess["stop"]>>;

/** test_service with SIZE random bytes, then the director stopped: what arrived, what should
 *  have, and the final counters (printed when the bytes did not arrive, to say where they went). */
async function transfer(net: SelftestNet, d: DirectorProcess, size: number, bound: { server: number; client: number }, label: string): Promise<{ got: object; want: object; s: FinalStats }> {
  const payload = new Uint8Array(randomBytes(size));
  const r = await testService(net, payload, bound);
  const s = await d.stop();
  const got = outcome(r);
  const want = expected(payload);
  if (JSON.stringify(got) !== JSON.stringify(want)) console.error(`${label}: director counters ${counters(s)}`);
  return { got, want, s };
}

/** One case on a fresh topology, torn down whatever happens. */
async function withNet(body: (net: SelftestNet) => Promise<void>): Promise<void> {
  const net = await SelftestNet.setup();
  try {
    await body(net);
  } finally {
    await net.down();
  }
}

describe.skipIf(!runnable)("ipvs.sh selftest with ringvs as the director", () => {
  let decapBin = "";
  const decap = (): string => (decapBin ||= buildLabTool("ipip-decap"));

  afterAll(async () => {
    for (const net of [...live]) await net.down();
    expect(netnsList().filter((n) => n.startsWith(RUN_PREFIX))).toEqual([]);
  }, 20_000);

  test("DR: 32 random bytes to VIP:8080 arrive intact; the director reaches the server on its second NIC", async () => {
    await withNet(async (net) => {
      const { got, want, s } = await transfer(net, await prepareDr(net), DATALEN, SMALL_BOUND, "DR");
      expect(got).toEqual(want);
      // ringvs chose the server once, with the MAC of veth21 learnt on veth12, and sent without
      // errors; the answers went from the server to the client directly (veth20), never via ns1.
      expect(s.services[0]!.dests.map((x) => ({ address: x.address, mac: x.mac, conns: x.conns }))).toEqual([
        { address: ADDR.rip, mac: await macOf(net, net.ns2, "veth21"), conns: 1 },
      ]);
      expect(s.policy.newFlows).toBe(1);
      expect(s.shim.txErrors).toBe(0);
      expect(s.shim.txFrames).toBeGreaterThanOrEqual(4); // SYN, ACK, data, FIN at least
      expect(s.policy.replyFramesSeen).toBe(0);
      expect(s.exitCode).toBe(0);
    });
  }, 30_000);

  test("NAT (-m): ringvs refuses masquerading by name, at start and on the live CLI, and forwards nothing", async () => {
    await withNet(async (net) => {
      const { ns0, ns1, ns2 } = net;
      await net.must(ns0, ["ip", "route", "add", ADDR.vip, "via", ADDR.gip, "dev", "br0"]);
      await net.sysctl(ns1, "net.ipv4.ip_forward=1");
      await net.must(ns1, ["ip", "addr", "add", `${ADDR.vip}/32`, "dev", "lo", "label", "lo:1"]);
      await net.must(ns2, ["ip", "link", "del", "veth20"]);
      await net.must(ns2, ["ip", "route", "add", "default", "via", ADDR.dip, "dev", "veth21"]);

      // The rules file with ipvs.sh's lines: nothing starts, the error names the line and -m.
      const tmp = mkdtempSync(join(tmpdir(), "ringvs-ipvs-nat-"));
      try {
        const rules = join(tmp, "ipvsadm.rules");
        writeFileSync(rules, `-A ${SERVICE} -s rr\n-a -m ${SERVICE} -r ${ADDR.rip}:${PORT}\n`);
        const r = await net.exec(ns1, ["bun", CLI, "serve", "--interface", net.directorIf, "--rules", rules, "--socket", join(tmp, "s.sock")]);
        expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
          code: 1,
          stdout: "",
          stderr: `ringvs: ${rules}:2: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)\n` +
            "ringvs: 1 error(s); nothing started\n",
        });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }

      // ipvs.sh's live commands against a running ringvs: -A is taken, -a -m is refused (exit 2,
      // ringvs's refusal of what it cannot do), and the table keeps the service without a server.
      const d = await net.startDirector("");
      let s;
      try {
        expect(await d.cli(net, ["ipvsadm", "-A", ...SERVICE.split(" "), "-s", "rr"])).toEqual({ code: 0, stdout: "", stderr: "" });
        const nat = await d.cli(net, ["ipvsadm", "-a", "-m", ...SERVICE.split(" "), "-r", `${ADDR.rip}:${PORT}`]);
        expect(nat.code).toBe(2);
        expect(nat.stderr).toContain("NAT forwarding (-m) is not supported");
        expect(await d.cli(net, ["ipvsadm", "-S", "-n"])).toEqual({ code: 0, stdout: `-A ${SERVICE} -s rr\n`, stderr: "" });
        // test_service as ipvs.sh runs it: with no real server nothing reaches ns2.
        const r = await testService(net, new Uint8Array(randomBytes(DATALEN)), SMALL_BOUND);
        expect({ client: r.client.code, bytes: r.received.bytes, server: r.received.exit }).toEqual({ client: 124, bytes: 0, server: 124 });
      } finally {
        s = await d.stop();
      }
      expect(s.policy.newFlows).toBe(0);
      expect(s.policy.noDestDropped).toBeGreaterThan(0);
      expect(s.shim.txFrames).toBe(0);
    });
  }, 30_000);

  test("TUN (-i): 32 random bytes to VIP:8080 arrive intact through IPIP to the real server", async () => {
    await withNet(async (net) => {
      const { d, decap: dc } = await prepareTun(net, decap());
      const { got, want, s } = await transfer(net, d, DATALEN, SMALL_BOUND, "TUN");
      expect(got).toEqual(want);
      expect(s.policy.newFlows).toBe(1);
      expect(s.shim.txErrors).toBe(0);
      expect(s.shim.tunPackets).toBeGreaterThanOrEqual(4);
      expect(s.policy.replyFramesSeen).toBe(0);
      // Every packet ringvs tunnelled reached the decapsulator as IPIP for RIP and went into tunl0.
      const t = await dc.stats();
      expect({ delivered: t.delivered, not_for_us: t.not_for_us, bad_outer: t.bad_outer, bad_inner: t.bad_inner, tun_errors: t.tun_errors })
        .toEqual({ delivered: s.shim.tunPackets, not_for_us: 0, bad_outer: 0, bad_inner: 0, tun_errors: 0 });
    });
  }, 30_000);

  test("DR: 20 MB of random data arrive intact (the client's veth keeps TSO/GSO on)", async () => {
    await withNet(async (net) => {
      const { got, want, s } = await transfer(net, await prepareDr(net), BIG, BIG_BOUND, "DR 20 MB");
      expect(got).toEqual(want);
      expect(s.shim.txErrors).toBe(0);
      expect(s.policy.newFlows).toBe(1);
    });
  }, 40_000);

  test("TUN: 20 MB of random data arrive intact (the client's veth keeps TSO/GSO on)", async () => {
    await withNet(async (net) => {
      const { got, want, s } = await transfer(net, (await prepareTun(net, decap())).d, BIG, BIG_BOUND, "TUN 20 MB");
      expect(got).toEqual(want);
      expect(s.shim.txErrors).toBe(0);
      expect(s.policy.newFlows).toBe(1);
      // Full-size segments do not fit the tunnel with its 20 bytes: ringvs answered them with
      // "fragmentation needed" (as ip_vs_tunnel_xmit does) and the client learnt 1480.
      expect(s.shim.tunFragNeeded).toBeGreaterThan(0);
      expect((await net.must(net.ns0, ["ip", "route", "get", ADDR.vip])).stdout).toContain("mtu 1480");
    });
  }, 40_000);
});
