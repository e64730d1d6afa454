// The plan state across changes: which service objects a change replaced, what the workers are
// sent for it, and the counted VIPs/matches that tell the Director what it must redo.
import { describe, expect, test } from "bun:test";
import { validateDirectorConfig } from "../../src/config/schema.ts";
import type { ServiceConfig } from "../../src/config/model.ts";
import { PlanBuilder, replacedServices } from "../../src/control/plan_builder.ts";
import { RefCounts } from "../../src/control/ref_counts.ts";
import type { Reach } from "../../src/control/reachability.ts";

function services(n: number, port0 = 80): ServiceConfig[] {
  const r = validateDirectorConfig({
    interface: "eth0",
    services: Array.from({ length: n }, (_, k) => ({ address: "198.18.0.100", port: port0 + k, scheduler: "rr", realServers: [{ address: `198.18.1.${k + 1}` }] })),
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.services;
}

const reach = (): Reach => ({ mac: [2, 0, 0, 0, 0, 1], tunnel: null, egress: null, problem: null });
const TIMEOUTS = { tcp: 900, tcpFin: 120, udp: 300 };

describe("replacedServices", () => {
  const [a, b, c, d] = services(4);
  test("one replaced in the middle, one appended, one deleted, none", () => {
    const b2 = { ...b! };
    expect(replacedServices([a!, b!, c!], [a!, b2, c!])).toEqual({ added: [b2], removed: [b!] });
    expect(replacedServices([a!, b!], [a!, b!, c!])).toEqual({ added: [c!], removed: [] });
    expect(replacedServices([a!, b!, c!], [a!, c!])).toEqual({ added: [], removed: [b!] });
    expect(replacedServices([a!, b!], [a!, b!])).toEqual({ added: [], removed: [] });
  });
  test("a service that only moved is neither", () => {
    expect(replacedServices([a!, b!, c!, d!], [a!, c!, b!, d!])).toEqual({ added: [], removed: [] });
  });
});

describe("PlanBuilder", () => {
  test("sends what is new or different, and the ids of what left; a removed pair's slot leaves", () => {
    const p = new PlanBuilder(64);
    const [a, b] = services(2);
    const first = p.change({ added: [a!, b!], removed: [], arpVips: [], timeouts: TIMEOUTS, reach, changedAddresses: new Set(), seq: 1 });
    expect(first.upserts.map((s) => s.id)).toEqual([0, 1]);
    const b2: ServiceConfig = { ...b!, realServers: [...b!.realServers, { ...b!.realServers[0]!, address: "198.18.2.9" }] };
    const second = p.change({ added: [b2], removed: [b!], arpVips: [], timeouts: TIMEOUTS, reach, changedAddresses: new Set(), seq: 2 });
    // b kept its id and its first real server's slot; the new one got a slot of its own.
    expect(second.upserts.map((s) => [s.id, s.dests.map((d) => d.slot)])).toEqual([[1, [1, 2]]]);
    expect(second.removed).toEqual([]);
    const third = p.change({ added: [], removed: [a!], arpVips: [], timeouts: TIMEOUTS, reach, changedAddresses: new Set(), seq: 3 });
    expect(third).toMatchObject({ upserts: [], removed: [0] });
    expect(p.slots.leavingCount).toBe(1);
    expect(p.serviceIds.leavingCount).toBe(1);
  });

  test("changed addresses recompile the services there, and only what came out different is sent", () => {
    const p = new PlanBuilder(64);
    const all = services(3);
    p.change({ added: all, removed: [], arpVips: [], timeouts: TIMEOUTS, reach, changedAddresses: new Set(), seq: 1 });
    const down = (t: { address: string }): Reach => (t.address === "198.18.1.2" ? { mac: null, tunnel: null, egress: null, problem: "x" } : reach());
    const change = p.change({ added: [], removed: [], arpVips: [], timeouts: TIMEOUTS, reach: down, changedAddresses: new Set(["198.18.1.2", "198.18.1.3"]), seq: 2 });
    expect(change.upserts.map((s) => [s.id, s.dests[0]!.available])).toEqual([[1, false]]);
    // Nothing changed anywhere: nothing compiled, nothing sent.
    expect(p.change({ added: [], removed: [], arpVips: [], timeouts: TIMEOUTS, reach: down, changedAddresses: new Set(), seq: 3 }).upserts).toEqual([]);
    // Every service is kept as last compiled.
    expect(all.map((s) => p.compiledOf(s)!.dests[0]!.available)).toEqual([true, false, true]);
  });
});

describe("RefCounts", () => {
  test("answers whether a key would appear or disappear, and changes nothing until applied", () => {
    const r = new RefCounts();
    r.apply([], ["a", "a", "b"]);
    expect(r.wouldChange(["a"], [])).toBe(false); // one a is left
    expect(r.wouldChange(["b"], [])).toBe(true);
    expect(r.wouldChange(["b"], ["b"])).toBe(false);
    expect(r.wouldChange([], ["c"])).toBe(true);
    r.apply(["a"], []);
    expect(r.wouldChange(["a"], [])).toBe(true);
  });
});
