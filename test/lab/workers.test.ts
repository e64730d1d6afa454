// Several packet workers on one interface, end to end: the director's ring becomes a PACKET_FANOUT
// group of two, each worker pinned to its own core with its own flow table and templates. Clients
// from 16 source addresses connect through it; the fanout must spread them over both workers,
// keep every connection (and every persistence group) in one worker, and the control plane must
// still report one director: summed counters, one connection list.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess, drConfig } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING lab tests: they need root and iproute2 (CI runs them as root)");
const labDescribe = LAB ? describe : describe.skip;

/** Extra client addresses on the client's segment (198.18.0.30 ..): one client each. */
const CLIENTS = Array.from({ length: 16 }, (_, k) => `198.18.0.${30 + k}`);

function workersConfig(lab: Lab, scheduler: string, persistence?: object): object {
  return { ...drConfig(lab, { scheduler, persistence }), workers: { count: 2, cpus: [0, 1] } };
}

/** `requests` sequential GETs from each client address; the answering server's name per client. */
async function fromEveryClient(lab: Lab, requests: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const source of CLIENTS) {
    const got: string[] = [];
    for (let i = 0; i < requests; i++) {
      const r = await lab.curl(`http://${lab.vips[0]}/`, { source, timeoutMs: 5000 });
      got.push(r.status === 200 ? r.body.trim() : `error:${r.exitCode}:${r.stderr.trim()}`);
    }
    out.set(source, got);
  }
  return out;
}

function tally(xs: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of xs) t[x] = (t[x] ?? 0) + 1;
  return t;
}

/** CPU affinity of the process's Worker threads (Bun names them "Worker"), as /proc lists it
 *  ("0", "1", "0-1"). Threads the runtime starts from a pinned worker inherit its CPU, so only
 *  the workers themselves are counted. */
function workerThreadCpus(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    if (/^Name:\s*(\S+)/m.exec(status)![1] !== "Worker") return [];
    return [/Cpus_allowed_list:\s*(\S+)/.exec(status)![1]!];
  });
}

labDescribe("two packet workers (PACKET_FANOUT)", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 3, rsScript: true, http: true });
    for (const a of CLIENTS) await lab.exec(lab.clientNs, ["ip", "addr", "add", `${a}/24`, "dev", "eth0"]);
  }, 60_000);
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  test("rr: both workers take clients, each rotates its own list, totals add up in one report", async () => {
    const d = await DirectorProcess.start(lab, { config: workersConfig(lab, "rr") });
    try {
      // One thread pinned to each CPU: the two packet workers.
      expect(workerThreadCpus(d.proc.pid).sort()).toEqual(["0", "1"]);

      const answers = await fromEveryClient(lab, 3);
      const all = [...answers.values()].flat();
      expect(all.filter((x) => x.startsWith("error"))).toEqual([]);
      // Every worker schedules a multiple of 3 connections (3 per client) in rr over 3 servers,
      // so however the clients split, each server gets exactly a third.
      expect(tally(all)).toEqual({ rs1: 16, rs2: 16, rs3: 16 });

      const s = await d.stats();
      expect(s.workers).toBe(2);
      expect(s.perWorker.length).toBe(2);
      for (const w of s.perWorker) expect(w.newFlows).toBeGreaterThan(0);
      expect(s.perWorker[0]!.newFlows + s.perWorker[1]!.newFlows).toBe(48);
      expect(s.policy.newFlows).toBe(48);
      expect(s.policy.tcpNoFlowDropped).toBe(0);
      expect(s.services[0]!.dests.map((x) => x.conns)).toEqual([16, 16, 16]);

      // One connection list for the whole director (ipvsadm -L -c), from both workers.
      const list = await d.cli(lab, ["-L", "-n", "-c"]);
      expect(list.code).toBe(0);
      const entries = list.stdout.split("\n").filter((l) => /^TCP\s/.test(l));
      expect(entries.length).toBe(48);
      // pro expire state source virtual destination
      expect(new Set(entries.map((l) => l.split(/\s+/)[3]!.split(":")[0])).size).toBe(16);
    } finally {
      const s = await d.stop();
      expect(s.exitCode).toBe(0);
    }
  }, 90_000);

  test("persistence -p: every client keeps its server though its group lives in one worker", async () => {
    const d = await DirectorProcess.start(lab, { config: workersConfig(lab, "rr", { timeout: 300 }) });
    try {
      const answers = await fromEveryClient(lab, 4);
      for (const [client, got] of answers) {
        expect({ client, servers: new Set(got).size, first: got[0]!.startsWith("rs") }).toEqual({ client, servers: 1, first: true });
      }
      const s = await d.stats();
      for (const w of s.perWorker) expect(w.newFlows).toBeGreaterThan(0);
      expect(s.policy.newFlows).toBe(64);
      expect(s.policy.persistHits).toBe(48); // 3 of every client's 4 connections
      expect(s.services[0]!.dests.reduce((n, x) => n + x.persistConns, 0)).toBe(16);
    } finally {
      await d.stop();
    }
  }, 90_000);

  test("persistence -M 255.255.255.0: the whole client network meets in one worker and one server", async () => {
    const d = await DirectorProcess.start(lab, {
      config: workersConfig(lab, "rr", { timeout: 300, netmask: "255.255.255.0" }),
    });
    try {
      const answers = await fromEveryClient(lab, 2);
      const all = [...answers.values()].flat();
      expect(all.filter((x) => x.startsWith("error"))).toEqual([]);
      expect(new Set(all).size).toBe(1);
      const s = await d.stats();
      expect(s.perWorker.map((w) => w.newFlows).sort((a, b) => a - b)).toEqual([0, 32]);
    } finally {
      await d.stop();
    }
  }, 90_000);
});
