// The nft guard over sets, in a namespace of its own: the table holds one element per service
// match (VIP . port per protocol, whole VIPs for port-0 services), a later install changes only
// the elements that came and went, a refused change leaves the sets as they were, and remove()
// leaves nothing. The drop itself (the kernel never answers VIP traffic) is proven end to end by
// local_vip.test.ts and dr.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunLab } from "./harness.ts";

const LAB = canRunLab("nft");
if (!LAB) console.warn("SKIPPING kernel-guard lab tests: they need root, iproute2 and nft (CI runs them as root)");

const NS = `kg${process.pid}`;
const REPO = join(import.meta.dir, "../..");

function sh(argv: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), timeout: 30_000 });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** Runs guard steps in the namespace: each step installs the services it lists ("tcp VIP PORT"),
 *  and after each the script prints the table's sets as JSON (or the error of a refused step). */
function guardSteps(steps: string[][], remove = true): { sets: Record<string, string[]> | { error: string } }[] {
  const script = `
    import { KernelGuard } from ${JSON.stringify(join(REPO, "src/control/kernel_guard.ts"))};
    const steps = ${JSON.stringify(steps)};
    const g = new KernelGuard(["ga"]);
    const svc = (m) => { const [protocol, address, port] = m.split(" "); return { protocol, address, port: +port, fwmark: null, members: [], realServers: [] }; };
    for (const step of steps) {
      try {
        await g.install(step.map(svc));
      } catch (e) {
        console.log(JSON.stringify({ sets: { error: e.message } }));
        continue;
      }
      const j = JSON.parse(Bun.spawnSync(["nft", "-j", "list", "table", "netdev", g.table]).stdout.toString());
      const sets = {};
      for (const o of j.nftables) {
        if (!o.set) continue;
        sets[o.set.name] = (o.set.elem ?? []).map((e) => typeof e === "string" ? e : e.concat.join(" ")).sort();
      }
      console.log(JSON.stringify({ sets }));
    }
    if (${remove}) await g.remove();
    console.log(JSON.stringify({ left: Bun.spawnSync(["nft", "list", "tables"]).stdout.toString() }));
  `;
  const r = sh(["ip", "netns", "exec", NS, "bun", "-e", script]);
  if (r.code !== 0) throw new Error(`guard script failed: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  left = lines.pop().left;
  return lines;
}
let left = "";

(LAB ? describe : describe.skip)("kernel guard: nft sets, changed element by element", () => {
  beforeAll(() => {
    sh(["ip", "netns", "del", NS]);
    for (const argv of [["ip", "netns", "add", NS], ["ip", "-n", NS, "link", "add", "ga", "type", "veth", "peer", "name", "gb"]]) {
      const r = sh(argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
    }
  });
  afterAll(() => {
    sh(["ip", "netns", "del", NS]);
  });

  test("the sets follow the services; remove() leaves no table", () => {
    const out = guardSteps([
      ["tcp 198.18.0.100 80", "tcp 198.18.0.100 443", "udp 198.18.0.100 53", "tcp 198.18.0.101 0"],
      // one gone, one new, the rest kept
      ["tcp 198.18.0.100 80", "udp 198.18.0.100 53", "tcp 198.18.0.101 0", "udp 198.18.0.102 0"],
      [],
    ]);
    expect(out).toEqual([
      { sets: { vip_port_tcp: ["198.18.0.100 443", "198.18.0.100 80"], vip_port_udp: ["198.18.0.100 53"], vip_tcp: ["198.18.0.101"], vip_udp: [] } },
      { sets: { vip_port_tcp: ["198.18.0.100 80"], vip_port_udp: ["198.18.0.100 53"], vip_tcp: ["198.18.0.101"], vip_udp: ["198.18.0.102"] } },
      { sets: { vip_port_tcp: [], vip_port_udp: [], vip_tcp: [], vip_udp: [] } },
    ]);
    expect(left).not.toContain("ringvs_");
  });

  test("a change nft refuses leaves the sets as they were", () => {
    const out = guardSteps([
      ["tcp 198.18.0.100 80", "tcp 198.18.0.100 443"],
      // 198.18.0.300 is no address: nft refuses the transaction, the 443 deletion included
      ["tcp 198.18.0.100 80", "tcp 198.18.0.300 80"],
      ["tcp 198.18.0.100 80", "tcp 198.18.0.100 443"],
    ]);
    expect(out[1]!.sets).toHaveProperty("error");
    expect(out[2]).toEqual(out[0]!);
    expect(out[0]).toEqual({ sets: { vip_port_tcp: ["198.18.0.100 443", "198.18.0.100 80"], vip_port_udp: [], vip_tcp: [], vip_udp: [] } });
  });
});
