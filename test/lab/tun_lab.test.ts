// The routed far network of the lab and TUN-mode real servers on it, without a director: IPIP
// packets are hand-built by scripts/lab/ipip-send.c in the director namespace (as ringvs's TUN
// path emits them: director MAC -> router MAC, outer DIP -> RIP, inner CIP -> VIP) and the proof
// that a far server's TCP stack got the inner SYN is its SYN-ACK, from the VIP straight to the
// client through the router, captured in the client namespace. When the kernel has no ipip the
// far servers run the user-space decapsulator scripts/lab/ipip-decap.c; its counters then show
// what happened to every frame (fragments, reassembly), and its nft guard is checked too.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import {
  CLIENT_IP,
  DEFAULT_VIP,
  DIRECTOR_IP,
  type DecapEvent,
  DecapProcess,
  FAR_NET,
  Lab,
  RS_SCRIPT,
  ROUTER_FAR_IP,
  ROUTER_IP,
  buildLabTool,
  canRunLab,
  farIp,
  labMac,
} from "./harness.ts";

const runnable = canRunLab("tcpdump", "gcc", "nft");
if (!runnable) console.warn("SKIP test/lab/tun_lab.test.ts: needs root, ip, curl, tcpdump, gcc and nft (network namespaces)");

const esc = (s: string) => s.replaceAll(".", "\\.");
let nextPort = 41000;

/** tcpdump in NS (eth0), started and listening when this resolves; done() waits for it (bounded
 *  by `seconds` and `count`) and returns the packet lines. */
async function capture(lab: Lab, ns: string, filter: string, count: number, seconds: number): Promise<{ done: () => Promise<string[]>; proc: Subprocess }> {
  const proc = lab.spawn(ns, ["timeout", String(seconds), "tcpdump", "-i", "eth0", "-n", "-l", "-U", "-c", String(count), filter], {
    stdout: "pipe",
    stderr: "pipe",
  });
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
  return { proc, done: async () => (await out).split("\n").filter((l) => l.trim() !== "") };
}

describe.skipIf(!runnable)("TUN lab: routed far network", () => {
  let lab: Lab;
  let send: string;
  const VIP = DEFAULT_VIP;

  beforeAll(async () => {
    send = buildLabTool("ipip-send");
    lab = await Lab.up({ realServers: 1, farServers: 2, vip: VIP, rsScript: true, http: true, tunDecap: "auto" });
    if (lab.tunDecap === "kernel") console.warn("tun_lab: the kernel has ipip; user-space decapsulator checks are skipped");
  }, 60_000);

  afterAll(async () => {
    const prefix = lab?.prefix;
    await lab?.down();
    if (prefix) {
      expect(Lab.existingNamespaces(prefix)).toEqual([]);
      expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).not.toContain(prefix);
    }
  }, 30_000);

  /** ipip-send in the director namespace: outer DIP -> far server i (0-based), inner CIP -> VIP:80. */
  async function sendSyn(i: number, sport: number, extra: string[] = []): Promise<string> {
    const r = await lab.exec(lab.directorNs, [
      send, "-i", "eth0", "--src-mac", lab.directorMac, "--dst-mac", lab.routerMac,
      "--outer-src", DIRECTOR_IP, "--outer-dst", lab.farIps[i], "--src", CLIENT_IP, "--dst", VIP,
      "--sport", String(sport), "--dport", "80", ...extra,
    ], { timeoutMs: 10_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.stdout.trim();
  }

  const synAckFilter = (sport: number) =>
    `src host ${VIP} and dst host ${CLIENT_IP} and tcp src port 80 and tcp dst port ${sport} and tcp[13] & 0x12 == 0x12`;
  const synAckLine = (sport: number) => new RegExp(`IP ${esc(VIP)}\\.80 > ${esc(CLIENT_IP)}\\.${sport}: Flags \\[S\\.\\]`);

  /** Sends the SYN (optionally as fragments) and returns the SYN-ACK lines seen by the client
   *  within `seconds` (capture stops at the first one). */
  async function synAck(i: number, sport: number, extra: string[] = [], seconds = 5): Promise<string[]> {
    const cap = await capture(lab, lab.clientNs, synAckFilter(sport), 1, seconds);
    await sendSyn(i, sport, extra);
    return cap.done();
  }

  async function stats(i: number): Promise<DecapEvent | null> {
    return lab.tunDecap === "userspace" ? lab.decapStats(i) : null;
  }

  function delta(a: DecapEvent | null, b: DecapEvent | null): Partial<Record<keyof DecapEvent, number>> {
    if (!a || !b) return {};
    const out: Partial<Record<keyof DecapEvent, number>> = {};
    for (const k of Object.keys(b) as (keyof DecapEvent)[]) {
      if (typeof b[k] === "number" && b[k] !== a[k]) out[k] = (b[k] as number) - (a[k] as number);
    }
    return out;
  }

  test("topology: router, far switch, far servers, routes, forwarding only in the router", async () => {
    expect(lab.env.LAB_ROUTER_NS).toBe(`${lab.prefix}rt`);
    expect(lab.env.LAB_ROUTER_IP).toBe(ROUTER_IP);
    expect(lab.env.LAB_ROUTER_FAR_IP).toBe(ROUTER_FAR_IP);
    expect(lab.env.LAB_ROUTER_MAC).toBe("02:72:76:00:00:01");
    expect(lab.env.LAB_ROUTER_FAR_MAC).toBe("02:72:76:01:00:01");
    expect(lab.env.LAB_FAR_SWITCH_NS).toBe(`${lab.prefix}sw2`);
    expect(lab.env.LAB_FAR_NET).toBe(FAR_NET);
    expect(lab.routerNs).toBe(`${lab.prefix}rt`);
    expect(lab.routerIp).toBe("198.18.0.1");
    expect(lab.farNs).toEqual([`${lab.prefix}far1`, `${lab.prefix}far2`]);
    expect(lab.farIps).toEqual([farIp(1), farIp(2)]);
    expect(lab.farIps).toEqual(["198.19.0.11", "198.19.0.12"]);
    expect(lab.farMacs).toEqual(["02:72:76:01:00:0b", "02:72:76:01:00:0c"]);
    expect(["kernel", "userspace"]).toContain(lab.tunDecap!);
    expect(Lab.existingNamespaces(lab.prefix).sort()).toEqual(
      [lab.switchNs, `${lab.prefix}sw2`, lab.clientNs, lab.directorNs, lab.routerNs, ...lab.rsNs, ...lab.farNs].sort(),
    );

    const j = async (ns: string, argv: string[]) => JSON.parse((await lab.exec(ns, argv)).stdout);
    const rt = await j(lab.routerNs, ["ip", "-j", "addr", "show"]);
    const legs = rt.filter((l: { ifname: string }) => l.ifname !== "lo");
    expect(legs.map((l: { ifname: string; mtu: number; address: string; addr_info: { local: string; prefixlen: number }[] }) =>
      `${l.ifname} ${l.mtu} ${l.address} ${l.addr_info.map((a) => `${a.local}/${a.prefixlen}`).join(",")}`).sort()).toEqual([
      `eth0 1500 ${labMac(ROUTER_IP)} 198.18.0.1/24`,
      `eth1 1500 ${labMac(ROUTER_FAR_IP)} 198.19.0.1/24`,
    ]);
    for (const [i, ns] of lab.farNs.entries()) {
      const link = (await j(ns, ["ip", "-j", "addr", "show", "dev", "eth0"]))[0];
      expect(link.mtu).toBe(1500);
      expect(link.address).toBe(lab.farMacs[i]);
      expect(link.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toEqual([`${lab.farIps[i]}/24`]);
      const routes = await j(ns, ["ip", "-j", "-4", "route", "show", "table", "main"]);
      expect(routes.find((r: { dst: string }) => r.dst === "default")?.gateway).toBe(ROUTER_FAR_IP);
    }
    for (const ns of [lab.clientNs, lab.directorNs, ...lab.rsNs]) {
      const r = (await lab.exec(ns, ["ip", "-4", "route", "show", FAR_NET])).stdout.trim();
      expect(r).toBe(`${FAR_NET} via ${ROUTER_IP} dev eth0`);
      expect((await lab.exec(ns, ["ip", "-4", "route", "show", "default"])).stdout).toBe("");
    }
    const fwd = async (ns: string) => (await lab.exec(ns, ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout.trim();
    expect(await fwd(lab.routerNs)).toBe("1");
    for (const ns of [lab.clientNs, lab.directorNs, ...lab.rsNs, ...lab.farNs]) expect(await fwd(ns)).toBe("0");
    const ports = (await lab.exec(`${lab.prefix}sw2`, ["ip", "-o", "link", "show", "master", "br0"])).stdout;
    expect(ports.match(/^\d+: (\S+)@/gm)!.map((l) => l.split(" ")[1].split("@")[0]).sort()).toEqual(["far1", "far2", "rt"]);
  }, 30_000);

  test("(a) the client reaches each far server's HTTP through the router, unNATed", async () => {
    for (const [i, ip] of lab.farIps.entries()) {
      const r = await lab.curl(`http://${ip}/`, { headers: { Connection: "close" } });
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`far${i + 1}\n`);
      expect(r.headers["x-client-addr"]).toBe(CLIENT_IP);
    }
    // Routed, not bridged: the client resolves only the router, never a far server.
    const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show"])).stdout;
    expect(neigh).toContain(`${ROUTER_IP} dev eth0 lladdr ${lab.routerMac}`);
    expect(neigh).not.toContain("198.19.");
  }, 30_000);

  test("far servers are TUN real servers: VIP on tunl0, realserver.sh status 0, decapsulator and its nft guard", async () => {
    for (const ns of lab.farNs) {
      const st = await lab.exec(ns, ["bash", RS_SCRIPT, "status", "--mode", "tun", VIP], { env: { RINGVS_RS_STATE_DIR: lab.stateDir } });
      expect(st.code).toBe(0);
      expect(st.stdout).toContain(`vip ${VIP}: on tunl0`);
      expect(st.stdout).toContain("net.ipv4.conf.tunl0.rp_filter = 2");
      const kind = (await lab.exec(ns, ["ip", "-d", "-o", "link", "show", "dev", "tunl0"])).stdout;
      if (lab.tunDecap === "userspace") {
        expect(kind).toContain("tun type tun");
        expect(kind).toContain("mtu 1480");
        const nft = (await lab.exec(ns, ["nft", "list", "table", "netdev", "ringvs_ipip_eth0"])).stdout;
        expect(nft).toContain('type filter hook ingress device "eth0" priority -500; policy accept;');
        expect(nft).toMatch(new RegExp(`ip daddr ${esc(lab.farIps[lab.farNs.indexOf(ns)])} ip protocol ipencap drop`));
      } else {
        expect(kind).toContain(" ipip ");
      }
    }
  }, 30_000);

  test("(b) an IPIP SYN from the director reaches far1's TCP stack; its SYN-ACK goes from the VIP straight to the client", async () => {
    const sport = nextPort++;
    const before = await stats(0);
    const icmp = await capture(lab, lab.directorNs, `icmp and src host ${lab.farIps[0]}`, 1, 3);
    const lines = await synAck(0, sport);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(synAckLine(sport));
    // The connection sits in SYN-RECV on far1, with the VIP as its local address.
    const ss = (await lab.exec(lab.farNs[0], ["ss", "-Htn", "state", "syn-recv"])).stdout;
    expect(ss).toMatch(new RegExp(`${esc(VIP)}:80\\s+${esc(CLIENT_IP)}:${sport}`));
    // The kernel's own copy of the IPIP frame made no ICMP (protocol unreachable) to the director.
    expect(await icmp.done()).toEqual([]);
    const after = await stats(0);
    if (after) expect(delta(before, after)).toEqual({ rx_ipip: 1, delivered: 1 });
  }, 30_000);

  test("(b) the far server that is not addressed does not answer", async () => {
    const sport = nextPort++;
    const before = await stats(1);
    expect(await synAck(0, sport)).toHaveLength(1);
    const after = await stats(1);
    if (after) expect(delta(before, after)).toEqual({});
  }, 30_000);

  test("(c) outer fragments as the director makes them (inner 1500 bytes, no DF, MTU 1500) are reassembled", async () => {
    const sport = nextPort++;
    const before = await stats(1);
    const out = await sendAndCapture(1, sport, ["--payload", "1456", "--frag", "1480"]);
    expect(out.sent).toBe("sent 2 frames in 1 packets");
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(synAckLine(sport));
    const after = await stats(1);
    if (after) expect(delta(before, after)).toEqual({ rx_ipip: 2, fragments: 2, reassembled: 1, delivered: 1 });
  }, 30_000);

  test("(c) eight outer fragments in reverse order are reassembled", async () => {
    const sport = nextPort++;
    const before = await stats(0);
    const out = await sendAndCapture(0, sport, ["--payload", "1456", "--frag", "192", "--reverse"]);
    expect(out.sent).toBe("sent 8 frames in 1 packets");
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(synAckLine(sport));
    const after = await stats(0);
    if (after) expect(delta(before, after)).toEqual({ rx_ipip: 8, fragments: 8, reassembled: 1, delivered: 1 });
  }, 30_000);

  test("(c) control: without its last fragment the datagram never reaches TCP", async () => {
    const sport = nextPort++;
    const before = await stats(0);
    const out = await sendAndCapture(0, sport, ["--payload", "1456", "--frag", "192", "--omit-last", "--id", "0x7001"], 2);
    expect(out.sent).toBe("sent 7 frames in 1 packets");
    expect(out.lines).toEqual([]);
    const after = await stats(0);
    if (after) expect(delta(before, after)).toEqual({ rx_ipip: 7, fragments: 7 });
  }, 30_000);

  async function sendAndCapture(i: number, sport: number, extra: string[], seconds = 5): Promise<{ sent: string; lines: string[] }> {
    const cap = await capture(lab, lab.clientNs, synAckFilter(sport), 1, seconds);
    const sent = await sendSyn(i, sport, extra);
    return { sent, lines: await cap.done() };
  }

  test("control: strict rp_filter on tunl0 drops the decapsulated SYN (why realserver.sh sets 2)", async () => {
    const ns = lab.farNs[1];
    const set = (v: string) => lab.exec(ns, ["sysctl", "-qw", `net.ipv4.conf.tunl0.rp_filter=${v}`]);
    await set("1");
    try {
      const sport = nextPort++;
      const before = await stats(1);
      expect(await synAck(1, sport, [], 2)).toEqual([]);
      const after = await stats(1);
      // Decapsulated and handed to the kernel, which then dropped it on the reverse-path check.
      if (after) expect(delta(before, after)).toEqual({ rx_ipip: 1, delivered: 1 });
    } finally {
      await set("2");
    }
    const sport = nextPort++;
    expect(await synAck(1, sport)).toHaveLength(1);
  }, 30_000);

  test("control: without the nft guard the kernel answers its copy with ICMP protocol unreachable", async () => {
    if (lab.tunDecap !== "userspace") {
      console.warn("SKIP nft guard control: the kernel decapsulates here");
      return;
    }
    const ns = lab.farNs[0];
    const saved = (await lab.exec(ns, ["nft", "list", "table", "netdev", "ringvs_ipip_eth0"])).stdout;
    expect(saved).toContain("ipencap drop");
    expect((await lab.exec(ns, ["nft", "delete", "table", "netdev", "ringvs_ipip_eth0"])).code).toBe(0);
    try {
      const icmp = await capture(lab, lab.directorNs, `icmp and src host ${lab.farIps[0]}`, 1, 4);
      const sport = nextPort++;
      // The decapsulator still delivers (AF_PACKET got its copy), so the SYN-ACK comes too.
      expect(await synAck(0, sport)).toHaveLength(1);
      const lines = await icmp.done();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`IP ${lab.farIps[0]} > ${DIRECTOR_IP}: ICMP ${lab.farIps[0]} protocol 4 unreachable`);
    } finally {
      const r = await lab.exec(ns, ["nft", "-f", "-"], { stdin: saved });
      expect(r.code).toBe(0);
    }
    expect((await lab.exec(ns, ["nft", "list", "table", "netdev", "ringvs_ipip_eth0"])).stdout).toBe(saved);
  }, 30_000);

  test("ipip-decap: an incomplete datagram times out (-T), counters on SIGUSR1, clean exit on SIGTERM", async () => {
    if (lab.tunDecap !== "userspace") {
      console.warn("SKIP decapsulator timeout check: the kernel decapsulates here");
      return;
    }
    // A second instance beside far2's own: its own TUN (left down), no nft, a 300 ms timeout.
    const bin = buildLabTool("ipip-decap");
    const proc = lab.spawn(lab.farNs[1], [bin, "-i", "eth0", "-t", "tunx0", "--no-nft", "-T", "300"], { stdout: "pipe", stderr: "pipe" });
    const d = new DecapProcess(lab.farNs[1], proc);
    const ready = await d.next("ready");
    expect(ready).toMatchObject({ event: "ready", interface: "eth0", tun: "tunx0", nft: false, addrs: [lab.farIps[1]] });
    const sport = nextPort++;
    expect(await sendSyn(1, sport, ["--payload", "1456", "--frag", "736", "--omit-last", "--id", "0x7002"])).toBe("sent 2 frames in 1 packets");
    await Bun.sleep(800);
    expect(await d.stats()).toMatchObject({ rx_ipip: 2, fragments: 2, reassembled: 0, reasm_timeout: 1, delivered: 0 });
    // A complete packet goes to tunx0, which is down: the write fails and is counted.
    await sendSyn(1, nextPort++);
    await Bun.sleep(300);
    expect(await d.stats()).toMatchObject({ rx_ipip: 3, delivered: 0, tun_errors: 1 });
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await d.next("stopped")).toMatchObject({ event: "stopped", rx_ipip: 3, reasm_timeout: 1 });
    expect((await lab.exec(lab.farNs[1], ["ip", "link", "show", "dev", "tunx0"])).code).not.toBe(0);
    expect(d.stderr).toBe("");
  }, 30_000);
});

describe.skipIf(!runnable)("TUN lab teardown", () => {
  test("down stops the decapsulators cleanly and removes every namespace", async () => {
    const lab = await Lab.up({ realServers: 1, farServers: 1, rsScript: true, tunDecap: "auto" });
    expect(Lab.existingNamespaces(lab.prefix)).toHaveLength(7); // sw cl dir rs1 rt sw2 far1
    const decap = lab.decaps.get(lab.farNs[0]);
    await lab.down();
    expect(Lab.existingNamespaces(lab.prefix)).toEqual([]);
    if (decap) {
      expect(decap.proc.exitCode).toBe(0);
      expect(await decap.next("stopped", 1_000)).toMatchObject({ event: "stopped" });
    }
    await lab.down();
  }, 60_000);

  test("tunDecap: false where the kernel has no ipip fails before building anything", async () => {
    const probe = Bun.spawnSync(["unshare", "--net", "ip", "link", "add", "rvprobe0", "type", "ipip"], { stdout: "ignore", stderr: "ignore" });
    if (probe.exitCode === 0) {
      console.warn("SKIP: the kernel has ipip here, so tunDecap: false is satisfiable");
      return;
    }
    const listed = () => Bun.spawnSync(["ip", "netns", "list"]).stdout.toString();
    const before = listed();
    await expect(Lab.up({ realServers: 1, farServers: 1, tunDecap: false })).rejects.toThrow("no ipip module");
    expect(listed()).toBe(before);
  }, 30_000);
});
