// The plan compiler alone: a service, the ids it was given and what is known about reaching each
// real server go in, the exact PlanService comes out; nothing is looked up or allocated on the way.
import { describe, expect, test } from "bun:test";
import { validateDirectorConfig } from "../../src/config/schema.ts";
import type { DirectorConfig } from "../../src/config/model.ts";
import { compileService, fanoutMask, slotKey, type CompileInputs } from "../../src/control/plan_compiler.ts";
import type { Reach, RealServerTarget } from "../../src/control/reachability.ts";
import { ipToU32 } from "../../src/dataplane/plan.ts";

function config(services: unknown[]): DirectorConfig {
  const r = validateDirectorConfig({ interface: "eth0", services });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

const WEB = {
  address: "198.18.0.100", port: 80, scheduler: "wrr", persistence: { timeout: 600, netmask: "255.255.255.0" },
  realServers: [{ address: "198.18.1.11", weight: 3 }, { address: "198.18.2.12", weight: 2, forward: "tun" }],
};
const DNS = { protocol: "udp", address: "198.18.0.100", port: 53, scheduler: "rr", realServers: [{ address: "198.18.1.11" }] };

const MAC_11 = [2, 0, 0, 0, 0, 0x11];
const TUNNEL = { saddr: ipToU32("198.18.0.2"), smac: [2, 0, 0, 0, 0, 1], mtu: 1500, txIf: 0 };

/** 198.18.1.11 is on the link; 198.18.2.12 is reached through a tunnel; nothing else resolves. */
function reach(t: RealServerTarget): Reach {
  if (t.address === "198.18.1.11") return { mac: MAC_11, tunnel: null, egress: null, problem: null };
  if (t.address === "198.18.2.12" && t.forward === "tun") return { mac: [2, 0, 0, 0, 0, 0x22], tunnel: TUNNEL, egress: null, problem: null };
  return { mac: null, tunnel: null, egress: null, problem: "no MAC" };
}

/** Every slot key of `c`, in config order. */
function slotKeysOf(c: DirectorConfig): string[] {
  return c.services.flatMap((s) => s.realServers.map((r) => slotKey(s, r.address)));
}

/** Ids as a Director would have handed them out: services 7, 8; slots from 40 in config order. */
function ids(c: DirectorConfig) {
  const serviceIds = new Map(c.services.map((s, i) => [s.fwmark !== null ? `fwm:${s.fwmark}` : `${s.protocol}:${s.address}:${s.port}`, 7 + i]));
  const slots = new Map(slotKeysOf(c).map((k, i) => [k, 40 + i]));
  return { serviceIds, slots };
}

/** What the compiler makes of every service of `c`. */
function compile(c: DirectorConfig, inputs: CompileInputs) {
  return c.services.map((s) => compileService(s, inputs));
}

describe("compileService", () => {
  test("turns config, ids and reachability into the exact plan", () => {
    const c = config([WEB, DNS]);
    expect(compile(c, { ...ids(c), reach })).toEqual([
        {
          id: 7,
          matches: [{ proto: 6, vip: ipToU32("198.18.0.100"), port: 80 }],
          scheduler: "wrr",
          schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 },
          persistence: { timeout: 600, mask: 0xffffff00 },
          dests: [
            { slot: 40, rip: ipToU32("198.18.1.11"), port: 80, weight: 3, available: true, forward: "dr", mac: MAC_11, tunnel: null, egress: null, upperThreshold: 0, lowerThreshold: 0 },
            { slot: 41, rip: ipToU32("198.18.2.12"), port: 80, weight: 2, available: true, forward: "tun", mac: [2, 0, 0, 0, 0, 0x22], tunnel: TUNNEL, egress: null, upperThreshold: 0, lowerThreshold: 0 },
          ],
        },
        {
          id: 8,
          matches: [{ proto: 17, vip: ipToU32("198.18.0.100"), port: 53 }],
          scheduler: "rr",
          schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 },
          persistence: null,
          dests: [
            { slot: 42, rip: ipToU32("198.18.1.11"), port: 53, weight: 1, available: true, forward: "dr", mac: MAC_11, tunnel: null, egress: null, upperThreshold: 0, lowerThreshold: 0 },
          ],
        },
    ]);
  });

  test("what the system learned goes into availability; the configured weight stays as written", () => {
    const c = config([{ ...WEB, realServers: [{ address: "198.18.1.11", weight: 3 }, { address: "198.18.3.13", weight: 5 }] }]);
    const health = new Map([[slotKey(c.services[0]!, "198.18.1.11"), false]]);
    const dests = compile(c, { ...ids(c), reach, health })[0]!.dests;
    // .11 has a MAC but failed its health check; .13 cannot be reached.
    expect(dests.map((d) => [d.weight, d.available, d.mac !== null])).toEqual([[3, false, true], [5, false, false]]);
  });

  test("the same inputs give the same plan (nothing is allocated or looked up)", () => {
    const c = config([WEB, DNS]);
    const inputs = { ...ids(c), reach };
    expect(compile(c, inputs)).toEqual(compile(c, inputs));
  });

  test("an id the caller did not hand out is a programmer error, named", () => {
    const c = config([WEB]);
    const { serviceIds } = ids(c);
    expect(() => compile(c, { serviceIds, slots: new Map(), reach })).toThrow(
      "plan compiler: no slot for tcp:198.18.0.100:80>198.18.1.11",
    );
  });

  test("slot keys are (service, real-server address): a port or method change keeps the slot", () => {
    const a = config([WEB]);
    const b = config([{ ...WEB, realServers: [{ address: "198.18.1.11", weight: 9, forward: "tun" }] }]);
    expect(slotKeysOf(b).every((k) => slotKeysOf(a).includes(k))).toBe(true);
  });

  test("the fanout mask is the AND of every persistence netmask", () => {
    expect(fanoutMask(config([DNS]).services)).toBe(0xffffffff);
    const masks = config([WEB, { ...DNS, persistence: { timeout: 60, netmask: "255.255.0.0" } }]).services;
    expect(fanoutMask(masks)).toBe(0xffff0000);
  });
});
