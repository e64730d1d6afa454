// The Director on a simulated system (src/control/simulated_system.ts): the production Director,
// plan compiler, slot allocator, Control and Forwarder, with shim simulation handles instead of
// rings and no kernel. What used to need a lab (plans, reload, slot reuse, connections surviving
// changes) is checked here on real frames.
import { afterEach, describe, expect, test } from "bun:test";
import { validateDirectorConfig } from "../../src/config/schema.ts";
import type { DirectorConfig } from "../../src/config/model.ts";
import { Control } from "../../src/control/control.ts";
import type { Director } from "../../src/control/director.ts";
import { SIMULATED_MAC, simulatedMac, startSimulated, type SimulatedSystem } from "../../src/control/simulated_system.ts";
import { runIpvsadm } from "../../src/cli/ipvsadm/index.ts";
import { ACK, ip, mac, SYN, tcp } from "../dataplane/packet_builder.ts";

const ROUTER = mac("02:00:00:00:00:10");
const CLIENT = "198.18.0.2";

function config(services: unknown[]): DirectorConfig {
  const r = validateDirectorConfig({ interface: "sim0", services });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

function service(port: number, servers: string[], more: Record<string, unknown> = {}) {
  return { address: "198.18.0.100", port, scheduler: "rr", realServers: servers.map((address) => ({ address })), ...more };
}

function segment(sport: number, dport: number, flags: number): Uint8Array {
  return tcp({ eth: { dst: SIMULATED_MAC, src: ROUTER }, sport, dport, flags, ip: { src: ip(CLIENT), dst: ip("198.18.0.100") } });
}

/** The real server a forwarded frame went to, by its destination MAC (simulatedMac). */
function sentTo(frames: Uint8Array[]): string[] {
  return frames.map((f) => `${f[2]}.${f[3]}.${f[4]}.${f[5]}`);
}

let running: { director: Director; system: SimulatedSystem } | null = null;
afterEach(async () => {
  if (!running) return;
  await running.director.stop();
  running.director.close();
  running = null;
});

async function start(c: DirectorConfig, slotCapacity = 1024) {
  running = await startSimulated(c, { slotCapacity, flowTableSize: 4096 });
  return running;
}

function runtimeOf(d: Director) {
  return {
    apply: (next: DirectorConfig) => d.apply(next), stats: () => d.stats(), connectionPages: () => d.connectionPages(),
    traffic: (from: number, to: number) => d.traffic(from, to),
  };
}

describe("the Director on a simulated system", () => {
  test("forwards a SYN to the scheduled real server's MAC, and its ACK to the same one", async () => {
    const { system } = await start(config([service(80, ["198.18.1.11", "198.18.1.12"])]));
    const first = system.workers.pump([segment(40000, 80, SYN)], 1);
    expect(first).toHaveLength(1);
    expect(Array.from(first[0]!.subarray(0, 6))).toEqual(simulatedMac(sentTo(first)[0]!));
    const ack = system.workers.pump([segment(40000, 80, ACK)], 1);
    expect(sentTo(ack)).toEqual(sentTo(first));
  });

  test("a change of the VIPs rewrites the kernel guard; a change of real servers does not", async () => {
    const { director, system } = await start(config([service(80, ["198.18.1.11"])]));
    await director.apply(config([service(80, ["198.18.1.11", "198.18.1.12"])]));
    expect(system.guard.installs).toBe(1);
    await director.apply(config([service(80, ["198.18.1.11"]), service(443, ["198.18.1.11"])]));
    expect(system.guard.installs).toBe(2);
    expect(system.guard.services.map((s) => s.port)).toEqual([80, 443]);
  });

  test("a change sends the workers only the services it touched; a refresh that finds nothing new sends nothing", async () => {
    const many = Array.from({ length: 50 }, (_, k) => service(1000 + k, [`198.18.1.${k + 1}`]));
    const { director, system } = await start(config(many));
    const control = new Control(director.running, runtimeOf(director));
    const sent: { upserts: number[]; removed: number[] }[] = [];
    const publish = system.workers.publish.bind(system.workers);
    system.workers.publish = (change) => {
      sent.push({ upserts: change.upserts.map((u) => u.dests.length), removed: change.removed });
      return publish(change);
    };
    try {
      const key = { protocol: "tcp" as const, address: "198.18.0.100", port: 1007 };
      await control.addDest(key, { address: "198.18.2.7", port: 1007, forward: "dr", weight: 1, upperThreshold: 0, lowerThreshold: 0 });
      expect(sent).toEqual([{ upserts: [2], removed: [] }]);
      await control.deleteService(key);
      expect(sent[1]!.upserts).toEqual([]);
      expect(sent[1]!.removed).toHaveLength(1);
      await director.refresh();
      expect(sent).toHaveLength(2);
      // What the workers run is the whole table all the same.
      expect(sentTo(system.workers.pump([segment(40000, 1008, SYN)], 1))).toEqual(["198.18.1.9"]);
      expect(director.stats().services).toHaveLength(49);
    } finally {
      control.stop();
    }
  });

  test("the rate estimator (--rate) samples every real server, a slice per tick, from the traffic it forwards", async () => {
    const { director, system } = await start(config([service(80, ["198.18.1.11"]), service(81, ["198.18.1.12"])]));
    const control = new Control(director.running, runtimeOf(director));
    try {
      let sport = 30000;
      const burst = (port: number) => system.workers.pump(Array.from({ length: 50 }, () => segment(sport++, port, SYN)), 1);
      // Two samples 2 s apart are the first rate; traffic goes to service 80 only.
      for (let round = 0; round < 3; round++) {
        burst(80);
        await Bun.sleep(1100);
      }
      const rates = control.snapshot().services.map((s) => s.dests[0]!.stats);
      expect(rates[0]!.cps).toBeGreaterThan(0);
      expect(rates[0]!.inPps).toBeGreaterThan(0);
      expect(rates[1]).toMatchObject({ cps: 0, inPps: 0, conns: 0 });
      expect(rates[0]!.conns).toBe(150);
    } finally {
      control.stop();
    }
  }, 15_000);

  test("a reload keeps the slot, counters and connections of a real server that stays", async () => {
    const c = config([service(80, ["198.18.1.11"])]);
    const { director, system } = await start(c);
    system.workers.pump([segment(40000, 80, SYN)], 1);
    system.workers.pump([segment(40000, 80, ACK)], 1);
    const before = director.stats().services[0]!.dests[0]!;
    await director.apply(config([service(80, ["198.18.1.11", "198.18.1.12"])]));
    const after = director.stats().services[0]!.dests;
    expect(after.map((d) => d.address)).toEqual(["198.18.1.11", "198.18.1.12"]);
    expect(after[0]).toMatchObject({ activeConns: 1, packets: before.packets, conns: 1 });
    expect(sentTo(system.workers.pump([segment(40000, 80, ACK)], 2))).toEqual(["198.18.1.11"]);
  });

  test("the weight the operator set stays in -S while a real server cannot be reached", async () => {
    const c = config([service(80, ["198.18.1.11", "198.18.1.12"], { scheduler: "wrr", realServers: [{ address: "198.18.1.11", weight: 3 }, { address: "198.18.1.12", weight: 2 }] })]);
    const { director, system } = await start(c);
    const control = new Control(c, runtimeOf(director));
    try {
      system.reach.down.add("198.18.1.11");
      await director.refresh();
      const to = sentTo(system.workers.pump([1, 2, 3, 4].map((k) => segment(41000 + k, 80, SYN)), 1));
      expect(to).toEqual(["198.18.1.12", "198.18.1.12", "198.18.1.12", "198.18.1.12"]);
      expect((await runIpvsadm(["-S", "-n"], control, {})).stdout).toContain("-a -t 198.18.0.100:80 -r 198.18.1.11:80 -g -w 3");
      system.reach.down.delete("198.18.1.11");
      await director.refresh();
      expect(sentTo(system.workers.pump([segment(42000, 80, SYN)], 1))).toContain("198.18.1.11");
    } finally {
      control.stop();
    }
  });

  test("1,000,000 add/delete cycles of distinct real servers leave id use and memory flat", async () => {
    // Service 80 keeps one real server; services 81..88 take turns: each step adds 100 real servers
    // never seen in that service and deletes the 100 the step before added. 10,000 steps of 100.
    const STEPS = 10_000;
    const PER_STEP = 100;
    const TURNS = 8;
    const fixed = service(80, ["198.18.1.1"]);
    let n = 0;
    // 198.18.0.0/15 has 2^17 addresses: (service, address) pairs repeat only after 8 * 2^17 > 10^6.
    const nextAddress = () => {
      const a = 0xc6120000 + 256 + (n++ % (131072 - 256));
      return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    };
    const step = (k: number, servers: string[]): DirectorConfig => {
      const turning = Array.from({ length: TURNS }, (_, t) => service(81 + t, t === k % TURNS ? servers : ["198.18.1.2"]));
      return config([fixed, ...turning]);
    };
    const { director } = await start(step(0, []), 1024);
    let maxSlots = 0;
    let heapAtStart = 0;
    const distinct = new Set<string>();
    for (let k = 1; k <= STEPS; k++) {
      const servers = Array.from({ length: PER_STEP }, nextAddress);
      if (k <= 20) for (const s of servers) distinct.add(`${81 + (k % TURNS)}>${s}`);
      await director.apply(step(k, servers));
      await director.refresh();
      const use = director.idUse();
      maxSlots = Math.max(maxSlots, use.slots);
      if (k === 1000) {
        Bun.gc(true);
        heapAtStart = process.memoryUsage().heapUsed;
      }
    }
    Bun.gc(true);
    const growth = process.memoryUsage().heapUsed - heapAtStart;
    expect(distinct.size).toBe(20 * PER_STEP);
    // Configured: 1 + 7 + 100; plus the 100 leaving until the refresh after the step reclaims them.
    expect(maxSlots).toBeLessThanOrEqual(1 + 7 + 2 * PER_STEP);
    expect(director.idUse()).toMatchObject({ leavingSlots: 0, services: 1 + TURNS });
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);

  test("connections of untouched services survive 10,000 changes to another", async () => {
    const web = service(80, ["198.18.1.11", "198.18.1.12"]);
    const { director, system } = await start(config([web, service(81, ["198.18.2.1"])]));
    const control = new Control(director.running, runtimeOf(director));
    try {
      const clients = [40001, 40002, 40003, 40004];
      const first = sentTo(system.workers.pump(clients.map((p) => segment(p, 80, SYN)), 1));
      system.workers.pump(clients.map((p) => segment(p, 80, ACK)), 1);
      for (let k = 0; k < 5_000; k++) {
        const rip = `198.18.${3 + (k >> 8)}.${k & 255}`;
        const key = { protocol: "tcp" as const, address: "198.18.0.100", port: 81 };
        expect((await control.addDest(key, { address: rip, port: 81, forward: "dr", weight: 1, upperThreshold: 0, lowerThreshold: 0 })).ok).toBe(true);
        expect((await control.deleteDest(key, rip, 81)).ok).toBe(true);
        if (k % 1000 === 999) {
          await director.refresh();
          expect(sentTo(system.workers.pump(clients.map((p) => segment(p, 80, ACK)), 2))).toEqual(first);
        }
      }
      const dests = director.stats().services[0]!.dests;
      expect(dests.map((d) => d.activeConns)).toEqual([2, 2]);
      // Real-server changes never touch what the kernel guard holds: it was installed once, at start.
      expect(system.guard.installs).toBe(1);
      expect(director.stats().services[1]!.dests.map((d) => d.address)).toEqual(["198.18.2.1"]);
    } finally {
      control.stop();
    }
  }, 120_000);
});
