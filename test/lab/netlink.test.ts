// Routes and neighbours over the shim's rtnetlink socket (src/control/routes.ts, neighbours.ts)
// give what `ip` says, in a director namespace with two veth links: eth0 to a peer holding
// several on-link hosts and a gateway, eth1 (MTU 1400) to a second peer that is also a gateway.
// netlink_probe.ts runs ringvs's code inside the director namespace; every answer is compared
// with `ip -j route get` / `ip -j link` / `ip -j neigh show` in that same namespace, and the
// neighbour entries ringvs asks for are compared with one `ip neigh replace ... managed` makes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { canRunLab } from "./harness.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING rtnetlink lab tests: they need root and iproute2 (CI runs them as root)");

const PREFIX = `rvnl${process.pid}`;
const [DIR, PEER, PEER2] = [`${PREFIX}d`, `${PREFIX}p`, `${PREFIX}q`];
const NAMESPACES = [DIR, PEER, PEER2];
const PEER_MAC = "02:72:76:00:00:0b";
const DIR_MAC = "02:72:76:00:00:03";
const DIR_MAC2 = "02:72:76:00:01:03";

function sh(...argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
/** `ip -n DIR ARGS`, exit code and output (a failing lookup is an answer here). */
function ipDir(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(["ip", "-n", DIR, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
function removeNamespaces(): void {
  for (const ns of NAMESPACES) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
}

interface NeighJson { dst: string; lladdr?: string; state?: string[]; managed?: null }
/** Every IPv4 entry on DIR's dev, `nud all` so NOARP and unresolved ones show too. */
function ipNeighbours(dev: string): Map<string, NeighJson> {
  const out = ipDir("-4", "-j", "neigh", "show", "dev", dev, "nud", "all").stdout.trim();
  return new Map(((out ? JSON.parse(out) : []) as NeighJson[]).map((e) => [e.dst, e]));
}

/** The probe: one JSON line each way. */
class Probe {
  private readonly reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> };
  private buffered = "";
  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    this.reader = proc.stdout.getReader();
  }
  static start(): Probe {
    return new Probe(Bun.spawn(["ip", "netns", "exec", DIR, "bun", join(import.meta.dir, "netlink_probe.ts")], {
      stdin: "pipe", stdout: "pipe", stderr: "pipe",
    }));
  }
  async ask<T>(req: object): Promise<T> {
    this.proc.stdin.write(JSON.stringify(req) + "\n");
    this.proc.stdin.flush();
    const deadline = Date.now() + 10_000;
    while (!this.buffered.includes("\n")) {
      if (Date.now() > deadline) throw new Error(`probe did not answer ${JSON.stringify(req)}`);
      const { value, done } = await this.reader.read();
      if (done) throw new Error(`probe exited: ${await new Response(this.proc.stderr).text()}`);
      this.buffered += new TextDecoder().decode(value);
    }
    const nl = this.buffered.indexOf("\n");
    const a = JSON.parse(this.buffered.slice(0, nl)) as { ok: boolean; value: T; error?: string };
    this.buffered = this.buffered.slice(nl + 1);
    if (!a.ok) throw new Error(a.error);
    return a.value;
  }
  stop(): void {
    this.proc.kill("SIGKILL");
  }
}

interface Route { dev: string; via: string; prefsrc: string; mtu: number; mac: number[]; local: boolean; gatewayed: boolean }
const macText = (mac: number[]) => mac.map((b) => b.toString(16).padStart(2, "0")).join(":");

(LAB ? describe : describe.skip)("routes and neighbours over rtnetlink", () => {
  let probe: Probe;
  beforeAll(() => {
    process.on("exit", removeNamespaces);
    removeNamespaces();
    for (const ns of NAMESPACES) {
      sh("ip", "netns", "add", ns);
      sh("ip", "-n", ns, "link", "set", "lo", "up");
    }
    sh("ip", "-n", DIR, "link", "add", "eth0", "address", DIR_MAC, "type", "veth", "peer", "name", "eth0", "address", PEER_MAC, "netns", PEER);
    sh("ip", "-n", DIR, "link", "add", "eth1", "address", DIR_MAC2, "mtu", "1400", "type", "veth", "peer", "name", "eth0", "mtu", "1400", "netns", PEER2);
    sh("ip", "-n", DIR, "addr", "add", "198.18.0.3/24", "dev", "eth0");
    sh("ip", "-n", DIR, "addr", "add", "198.18.1.3/24", "dev", "eth1");
    for (const a of ["198.18.0.11", "198.18.0.1", "198.18.0.12", "198.18.0.15", "198.18.0.16", "198.18.0.17"]) sh("ip", "-n", PEER, "addr", "add", `${a}/24`, "dev", "eth0");
    sh("ip", "-n", PEER2, "addr", "add", "198.18.1.11/24", "dev", "eth0");
    for (const [ns, dev] of [[DIR, "eth0"], [DIR, "eth1"], [PEER, "eth0"], [PEER2, "eth0"]] as const) sh("ip", "-n", ns, "link", "set", dev, "up");
    sh("ip", "-n", DIR, "route", "add", "198.19.0.0/24", "via", "198.18.0.1", "dev", "eth0");
    sh("ip", "-n", DIR, "route", "add", "198.19.1.0/24", "via", "198.18.1.11", "dev", "eth1");
    sh("ip", "-n", DIR, "route", "add", "prohibit", "198.19.2.0/24");
    sh("ip", "-n", DIR, "route", "add", "blackhole", "198.19.3.0/24");
    sh("ip", "-n", DIR, "route", "add", "unreachable", "198.19.4.0/24");
    probe = Probe.start();
  }, 30_000);
  afterAll(() => {
    probe?.stop();
    removeNamespaces();
    const left = sh("ip", "netns", "list");
    expect(left).not.toContain(PREFIX);
  });

  // on-link, on-link on the second link, behind a gateway (on either link), our own addresses,
  // no route at all (no default route), and the three route types that refuse a lookup.
  const ADDRS = [
    "198.18.0.11", "198.18.1.11", "198.19.0.5", "198.19.1.5", "198.18.0.3", "198.18.1.3", "127.0.0.1",
    "198.19.9.9", "198.19.2.1", "198.19.3.1", "198.19.4.1",
  ];

  test("resolveRoutes answers what `ip route get` and `ip link` say, for every kind of destination", async () => {
    const ours = await probe.ask<Record<string, Route | string>>({ op: "routes", addrs: ADDRS });
    expect(Object.keys(ours).sort()).toEqual([...ADDRS].sort());
    for (const ip of ADDRS) {
      const r = ipDir("-j", "route", "get", ip);
      if (r.code !== 0) {
        // today's wording: "no route to X (RTNETLINK answers: <the kernel's reason>)"
        expect(ours[ip]).toBe(`no route to ${ip} (${r.stderr.trim().split("\n")[0]})`);
        continue;
      }
      const route = (JSON.parse(r.stdout) as { type?: string; dev: string; gateway?: string; prefsrc?: string }[])[0]!;
      const link = (JSON.parse(ipDir("-j", "link", "show", "dev", route.dev).stdout) as { mtu: number; address: string }[])[0]!;
      expect(ours[ip]).toEqual({
        dev: route.dev, via: route.gateway ?? ip, prefsrc: route.prefsrc ?? "", mtu: link.mtu,
        mac: link.address.split(":").map((h) => parseInt(h, 16)), local: route.type === "local", gatewayed: route.gateway !== undefined,
      });
    }
  });

  test("the answers are the expected ones, not only the same as ip's", async () => {
    const ours = await probe.ask<Record<string, Route | string>>({ op: "routes", addrs: ADDRS });
    const route = (ip: string) => ours[ip] as Route;
    expect(route("198.18.0.11")).toMatchObject({ dev: "eth0", via: "198.18.0.11", gatewayed: false, local: false, prefsrc: "198.18.0.3", mtu: 1500 });
    expect(macText(route("198.18.0.11").mac)).toBe(DIR_MAC);
    expect(route("198.18.1.11")).toMatchObject({ dev: "eth1", via: "198.18.1.11", gatewayed: false, prefsrc: "198.18.1.3", mtu: 1400 });
    expect(macText(route("198.18.1.11").mac)).toBe(DIR_MAC2);
    expect(route("198.19.0.5")).toMatchObject({ dev: "eth0", via: "198.18.0.1", gatewayed: true, local: false });
    expect(route("198.19.1.5")).toMatchObject({ dev: "eth1", via: "198.18.1.11", gatewayed: true, mtu: 1400 });
    for (const own of ["198.18.0.3", "198.18.1.3", "127.0.0.1"]) expect(route(own)).toMatchObject({ dev: "lo", local: true });
    expect(ours["198.19.9.9"]).toBe("no route to 198.19.9.9 (RTNETLINK answers: Network is unreachable)");
    expect(ours["198.19.2.1"]).toBe("no route to 198.19.2.1 (RTNETLINK answers: Permission denied)");
    expect(ours["198.19.3.1"]).toBe("no route to 198.19.3.1 (RTNETLINK answers: Invalid argument)");
    expect(ours["198.19.4.1"]).toBe("no route to 198.19.4.1 (RTNETLINK answers: No route to host)");
  });

  test("a route change is seen at the next lookup", async () => {
    sh("ip", "-n", DIR, "route", "replace", "198.19.0.0/24", "via", "198.18.1.11", "dev", "eth1");
    try {
      const ours = await probe.ask<Record<string, Route | string>>({ op: "routes", addrs: ["198.19.0.5"] });
      expect(ours["198.19.0.5"]).toMatchObject({ dev: "eth1", via: "198.18.1.11", mtu: 1400 });
    } finally {
      sh("ip", "-n", DIR, "route", "replace", "198.19.0.0/24", "via", "198.18.0.1", "dev", "eth0");
    }
  });

  test("NeighbourTable: managed entries as `ip neigh replace ... managed` makes them; the operator's entries left alone", async () => {
    // The operator's: a PERMANENT and a NOARP entry with made-up MACs (the peer would answer for
    // .12 with its own, proving nothing replaced it), and a STALE one ringvs never asks for.
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.12", "lladdr", "02:00:00:00:00:12", "nud", "permanent", "dev", "eth0");
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.14", "lladdr", "02:00:00:00:00:14", "nud", "noarp", "dev", "eth0");
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.1", "lladdr", "02:00:00:00:00:01", "nud", "stale", "dev", "eth0");
    // What `ip` itself makes, to compare with.
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.15", "dev", "eth0", "managed");

    // .11, .16 and .17 answer ARP (the peer holds them); .13 is nobody.
    const asked = ["198.18.0.11", "198.18.0.12", "198.18.0.13", "198.18.0.14", "198.18.0.16", "198.18.0.17"];
    expect(await probe.ask({ op: "ensure", dev: "eth0", addrs: asked })).toEqual({});
    let macs: Record<string, string> = {};
    for (let i = 0; i < 100; i++) {
      macs = await probe.ask<Record<string, string>>({ op: "read", dev: "eth0" });
      if (["198.18.0.11", "198.18.0.15", "198.18.0.16", "198.18.0.17"].every((a) => a in macs)) break;
      await Bun.sleep(50);
    }
    expect(macs).toMatchObject({
      "198.18.0.11": PEER_MAC, "198.18.0.16": PEER_MAC, "198.18.0.17": PEER_MAC, "198.18.0.15": PEER_MAC,
      "198.18.0.12": "02:00:00:00:00:12", "198.18.0.14": "02:00:00:00:00:14",
    });
    expect(macs["198.18.0.13"]).toBeUndefined();

    let table = ipNeighbours("eth0");
    // read() is what `ip neigh` holds: every entry with a link address in a usable state.
    const usable = new Set(["REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"]);
    const ipMacs = Object.fromEntries([...table.values()].filter((e) => e.lladdr && e.state?.some((s) => usable.has(s))).map((e) => [e.dst, e.lladdr!]));
    expect(macs).toEqual(ipMacs);
    // Ours look like the one `ip` made: managed, and resolved by the kernel alone.
    const shape = (e: NeighJson | undefined) => ({ managed: e && "managed" in e, state: e?.state, lladdr: e?.lladdr });
    expect(shape(table.get("198.18.0.11"))).toEqual(shape(table.get("198.18.0.15")));
    expect(shape(table.get("198.18.0.11"))).toMatchObject({ managed: true, lladdr: PEER_MAC });
    expect(table.get("198.18.0.13")).toMatchObject({ managed: null });
    expect(table.get("198.18.0.12")).toMatchObject({ state: ["PERMANENT"], lladdr: "02:00:00:00:00:12" });
    expect("managed" in table.get("198.18.0.12")!).toBe(false);
    expect(table.get("198.18.0.14")).toMatchObject({ state: ["NOARP"], lladdr: "02:00:00:00:00:14" });
    expect("managed" in table.get("198.18.0.14")!).toBe(false);

    // A real server that goes: its entry goes, the others stay.
    await probe.ask({ op: "forget", dev: "eth0", keep: asked.filter((a) => a !== "198.18.0.13") });
    table = ipNeighbours("eth0");
    expect(table.has("198.18.0.13")).toBe(false);
    expect(table.has("198.18.0.11")).toBe(true);

    // An operator flush of one of ours: the next ensure asks for it again.
    sh("ip", "-n", DIR, "neigh", "del", "198.18.0.17", "dev", "eth0");
    expect(await probe.ask({ op: "ensure", dev: "eth0", addrs: asked.filter((a) => a !== "198.18.0.13") })).toEqual({});
    expect(ipNeighbours("eth0").get("198.18.0.17")).toMatchObject({ managed: null });

    // The operator takes one of ours over (made permanent): it is theirs now.
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.16", "lladdr", "02:00:00:00:00:16", "nud", "permanent", "dev", "eth0");

    await probe.ask({ op: "release", dev: "eth0" });
    table = ipNeighbours("eth0");
    // Only the entries ringvs made and still owns are gone.
    expect(table.has("198.18.0.11")).toBe(false);
    expect(table.has("198.18.0.17")).toBe(false);
    expect(table.get("198.18.0.12")).toMatchObject({ state: ["PERMANENT"], lladdr: "02:00:00:00:00:12" });
    expect(table.get("198.18.0.14")).toMatchObject({ state: ["NOARP"], lladdr: "02:00:00:00:00:14" });
    expect(table.get("198.18.0.16")).toMatchObject({ state: ["PERMANENT"], lladdr: "02:00:00:00:00:16" });
    expect(table.get("198.18.0.15")).toMatchObject({ managed: null }); // ip's, not ours
    expect(table.get("198.18.0.1")?.lladdr).toBe("02:00:00:00:00:01");
  }, 20_000);

  test("a missing interface is an error naming it, as `ip neigh show dev` gives", async () => {
    await expect(probe.ask({ op: "read", dev: "nope0" })).rejects.toThrow('Cannot find device "nope0"');
    await expect(probe.ask({ op: "ensure", dev: "nope0", addrs: ["198.18.0.11"] })).rejects.toThrow('Cannot find device "nope0"');
    // Nothing to remove on an interface that is gone: not an error.
    expect(await probe.ask({ op: "release", dev: "nope0" })).toBeNull();
  });
});
