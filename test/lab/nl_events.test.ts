// rtnetlink notifications (rv_nl_events_take, RtnetlinkEvents) in a director namespace with two
// veth links, eth0 to a peer holding a gateway and eth1 (MTU 1400) to a second one: quiet means
// nothing to take, `ip route` and `ip neigh` changes set their bits, and a Reachability that
// re-reads only on notifications still follows a route change within a refresh tick.
// nl_events_probe.ts runs ringvs's code inside the director namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { canRunLab } from "./harness.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING rtnetlink notification lab tests: they need root and iproute2 (CI runs them as root)");

const PREFIX = `rvev${process.pid}`;
const [DIR, PEER, PEER2] = [`${PREFIX}d`, `${PREFIX}p`, `${PREFIX}q`];
const NAMESPACES = [DIR, PEER, PEER2];

function sh(...argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
function removeNamespaces(): void {
  for (const ns of NAMESPACES) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
}

class Probe {
  private readonly reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> };
  private buffered = "";
  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "pipe">) {
    this.reader = proc.stdout.getReader();
  }
  static start(): Probe {
    return new Probe(Bun.spawn(["ip", "netns", "exec", DIR, "bun", join(import.meta.dir, "nl_events_probe.ts")], {
      stdin: "pipe", stdout: "pipe", stderr: "pipe",
    }));
  }
  async ask<T>(req: object): Promise<T> {
    this.proc.stdin.write(JSON.stringify(req) + "\n");
    this.proc.stdin.flush();
    while (!this.buffered.includes("\n")) {
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

interface Events { routes: boolean; neighbours: boolean; overflow: boolean }
const NONE: Events = { routes: false, neighbours: false, overflow: false };

(LAB ? describe : describe.skip)("rtnetlink notifications", () => {
  let probe: Probe;
  beforeAll(async () => {
    process.on("exit", removeNamespaces);
    removeNamespaces();
    for (const ns of NAMESPACES) {
      sh("ip", "netns", "add", ns);
      // No IPv6: its autoconfiguration would keep changing links and neighbours while we watch.
      sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
      sh("ip", "-n", ns, "link", "set", "lo", "up");
    }
    sh("ip", "-n", DIR, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", PEER);
    sh("ip", "-n", DIR, "link", "add", "eth1", "mtu", "1400", "type", "veth", "peer", "name", "eth0", "mtu", "1400", "netns", PEER2);
    sh("ip", "-n", DIR, "addr", "add", "198.18.0.3/24", "dev", "eth0");
    sh("ip", "-n", DIR, "addr", "add", "198.18.1.3/24", "dev", "eth1");
    sh("ip", "-n", PEER, "addr", "add", "198.18.0.1/24", "dev", "eth0");
    sh("ip", "-n", PEER2, "addr", "add", "198.18.1.11/24", "dev", "eth0");
    for (const [ns, dev] of [[DIR, "eth0"], [DIR, "eth1"], [PEER, "eth0"], [PEER2, "eth0"]] as const) sh("ip", "-n", ns, "link", "set", dev, "up");
    sh("ip", "-n", DIR, "route", "add", "198.19.0.0/24", "via", "198.18.0.1", "dev", "eth0");
    probe = Probe.start();
    // Drain what setting up (links coming up, carrier) still sends, until it is quiet.
    const deadline = Date.now() + 5000;
    for (let quiet = 0; quiet < 3 && Date.now() < deadline;) {
      await Bun.sleep(200);
      const ev = await probe.ask<Events>({ op: "take" });
      quiet = ev.routes || ev.neighbours || ev.overflow ? 0 : quiet + 1;
    }
  }, 30_000);
  afterAll(() => {
    probe?.stop();
    removeNamespaces();
    expect(sh("ip", "netns", "list")).not.toContain(PREFIX);
  });

  test("nothing changed: nothing to take", async () => {
    expect(await probe.ask<Events>({ op: "take" })).toEqual(NONE);
    await Bun.sleep(300);
    expect(await probe.ask<Events>({ op: "take" })).toEqual(NONE);
  });

  test("`ip route add` and `ip rule add` set the route bit, and a take clears it", async () => {
    sh("ip", "-n", DIR, "route", "add", "198.19.7.0/24", "via", "198.18.0.1", "dev", "eth0");
    expect(await probe.ask<Events>({ op: "take" })).toMatchObject({ routes: true, overflow: false });
    expect(await probe.ask<Events>({ op: "take" })).toEqual(NONE);
    sh("ip", "-n", DIR, "route", "del", "198.19.7.0/24");
    expect(await probe.ask<Events>({ op: "take" })).toMatchObject({ routes: true });

    // A policy rule moves routes without a route notification of its own.
    sh("ip", "-n", DIR, "rule", "add", "to", "198.19.8.0/24", "table", "100", "priority", "100");
    expect(await probe.ask<Events>({ op: "take" })).toMatchObject({ routes: true });
    sh("ip", "-n", DIR, "rule", "del", "priority", "100");
    expect(await probe.ask<Events>({ op: "take" })).toMatchObject({ routes: true });
  });

  test("`ip neigh add` and `ip neigh replace` set the neighbour bit", async () => {
    sh("ip", "-n", DIR, "neigh", "add", "198.18.0.20", "lladdr", "02:00:00:00:00:20", "nud", "permanent", "dev", "eth0");
    expect(await probe.ask<Events>({ op: "take" })).toEqual({ routes: false, neighbours: true, overflow: false });
    sh("ip", "-n", DIR, "neigh", "replace", "198.18.0.20", "lladdr", "02:00:00:00:00:21", "nud", "permanent", "dev", "eth0");
    expect(await probe.ask<Events>({ op: "take" })).toEqual({ routes: false, neighbours: true, overflow: false });
    sh("ip", "-n", DIR, "neigh", "del", "198.18.0.20", "dev", "eth0");
    expect(await probe.ask<Events>({ op: "take" })).toMatchObject({ neighbours: true });
  });

  test("refreshIfChanged follows a route change within a one-second tick", async () => {
    const targets = [{ address: "198.19.0.5", forward: "tun" }];
    type R = Record<string, { tunnel: { mtu: number; txIf: number } | null }>;
    expect((await probe.ask<R>({ op: "reach", targets }))["198.19.0.5"]!.tunnel).toMatchObject({ mtu: 1500, txIf: 0 });
    // Quiet: answers stay (and nothing but the neighbour tables is read while a MAC is awaited).
    expect((await probe.ask<R>({ op: "reach", targets }))["198.19.0.5"]!.tunnel).toMatchObject({ mtu: 1500, txIf: 0 });
    sh("ip", "-n", DIR, "route", "replace", "198.19.0.0/24", "via", "198.18.1.11", "dev", "eth1");
    const changed = Date.now();
    let tunnel = null;
    while (Date.now() - changed < 1000) {
      tunnel = (await probe.ask<R>({ op: "reach", targets }))["198.19.0.5"]!.tunnel;
      if (tunnel?.mtu === 1400) break;
      await Bun.sleep(100);
    }
    expect(tunnel).toMatchObject({ mtu: 1400, txIf: 1 });
  });
});
