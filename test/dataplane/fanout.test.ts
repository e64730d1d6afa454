// PACKET_FANOUT through the shim, on a real veth in a namespace of its own: two rings in one
// group split the frames between them with no copies, a client address always lands in the same
// ring, ARP goes to the first ring, and a /24 mask puts a whole client network in one ring (what
// persistence netmasks need). fanout_probe.ts runs inside the namespace and reports. Both ring
// versions: the V2 ring (the default) and the V3 ring.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunLab } from "../lab/harness.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING fanout tests: they need root and iproute2 (CI runs them as root)");
const labDescribe = LAB ? describe : describe.skip;

function sh(...argv: string[]): void {
  const r = Bun.spawnSync(argv, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
}

interface RingSeen { ipv4: number; arp: number; sources: number[]; icmpClients: number[] }
interface ProbeResult { fanoutGroup: number; byClient: RingSeen[]; masked: RingSeen[] }

for (const version of [2, 3] as const) labDescribe(`PACKET_FANOUT rings (ring.version ${version})`, () => {
  const NS = `rvfo${process.pid}v${version}`;
  let result: ProbeResult;
  beforeAll(() => {
    sh("ip", "netns", "add", NS);
    sh("ip", "-n", NS, "link", "add", "name", "fa", "type", "veth", "peer", "name", "fb");
    sh("ip", "-n", NS, "link", "set", "fa", "up");
    sh("ip", "-n", NS, "link", "set", "fb", "up");
    const r = Bun.spawnSync(["ip", "netns", "exec", NS, "bun", join(import.meta.dir, "fanout_probe.ts"), "fa", "fb", String(version)], {
      stderr: "pipe", timeout: 20_000,
    });
    if (r.exitCode !== 0) throw new Error(`fanout_probe: ${r.stderr.toString()}`);
    result = JSON.parse(r.stdout.toString());
  }, 30_000);
  afterAll(() => {
    Bun.spawnSync(["ip", "netns", "del", NS]);
  });

  test("each frame reaches exactly one ring, and a client address always the same one", () => {
    const [a, b] = result.byClient as [RingSeen, RingSeen];
    expect(a.ipv4 + b.ipv4).toBe(128); // 64 clients x 2 frames, no copies, none lost
    const inA = new Set(a.sources);
    const inB = new Set(b.sources);
    expect([...inA].filter((s) => inB.has(s))).toEqual([]);
    expect(inA.size + inB.size).toBe(64);
    // both frames of a client in one ring: each ring holds every source it has twice
    for (const seen of [a, b]) expect(seen.sources.length).toBe(new Set(seen.sources).size * 2);
  });

  test("the hash spreads 64 consecutive client addresses over both rings", () => {
    const [a, b] = result.byClient as [RingSeen, RingSeen];
    // 64 addresses, fair coin: each side gets 20..44 with probability > 0.998; the hash is fixed,
    // so this is a property of the function, checked once.
    expect(a.ipv4 / 2).toBeGreaterThanOrEqual(20);
    expect(b.ipv4 / 2).toBeGreaterThanOrEqual(20);
  });

  test("an ICMP error from a router lands in the ring of the client it quotes, with or without a mask", () => {
    for (const seen of [result.byClient, result.masked]) {
      expect(seen.reduce((n, s) => n + s.icmpClients.length, 0)).toBe(64);
      for (const s of seen) expect(s.icmpClients.filter((c) => !s.sources.includes(c))).toEqual([]);
    }
    // and they do spread: not all in one ring as hashing the router's address would put them
    expect(result.byClient.every((s) => s.icmpClients.length > 0)).toBe(true);
  });

  test("ARP goes to the first ring", () => {
    expect(result.byClient.map((s) => s.arp)).toEqual([1, 0]);
    expect(result.masked.map((s) => s.arp)).toEqual([1, 0]);
  });

  test("under a /24 mask the whole client network lands in one ring", () => {
    const counts = result.masked.map((s) => s.ipv4).sort((x, y) => x - y);
    expect(counts).toEqual([0, 128]);
  });
});
