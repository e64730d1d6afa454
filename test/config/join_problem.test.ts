// joinProblem answers, for one service joining a valid table, what validating the whole table
// would find first: checked here against the whole-table validation on many tables.
import { describe, expect, test } from "bun:test";
import { joinProblem, serviceToInput, validateDirectorConfig } from "../../src/config/schema.ts";
import type { ServiceConfig } from "../../src/config/model.ts";
import { serviceLabel } from "../../src/config/service.ts";

/** The service alone, or null when it is invalid by itself (e.g. its own members overlap). */
function alone(input: unknown): ServiceConfig | null {
  const r = validateDirectorConfig({ interface: "eth0", services: [input] });
  return r.ok ? r.config.services[0]! : null;
}

function services(inputs: unknown[]): ServiceConfig[] {
  const r = validateDirectorConfig({ interface: "eth0", services: inputs });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.services;
}

/** The whole-table answer, as the CLI computed it before joinProblem: validate everything, name the
 *  services by label. */
function wholeTable(table: ServiceConfig[], next: ServiceConfig): string | null {
  const all = [...table, next];
  const r = validateDirectorConfig({ interface: "eth0", services: all.map(serviceToInput) });
  if (r.ok) return null;
  const name = (i: string) => serviceLabel(all[Number(i)]!);
  return r.issues[0]!.message.replace(/services\[(\d+)\](?:\.members\[(\d+)\])?/g, (_, i: string, j?: string) =>
    j === undefined ? `service ${name(i)}` : `a member of ${name(i)}`);
}

const VIPS = ["198.18.0.100", "198.18.0.101"];
const PORTS = [0, 80, 443];

/** A small deterministic generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

function randomService(r: () => number, mark: number): Record<string, unknown> {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  if (r() < 0.4) {
    const members = Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ protocol: pick(["tcp", "udp"]), address: pick(VIPS), port: pick(PORTS) }));
    return { fwmark: mark, members, scheduler: "rr", persistence: { timeout: 60 }, realServers: [] };
  }
  return { protocol: pick(["tcp", "udp"]), address: pick(VIPS), port: pick(PORTS), scheduler: "rr", persistence: { timeout: 60 }, realServers: [] };
}

describe("joinProblem", () => {
  test("gives the whole-table validation's first finding, on 2,000 random tables", () => {
    let compared = 0;
    let clashes = 0;
    for (let seed = 1; compared < 2000; seed++) {
      const r = rng(seed);
      const table: ServiceConfig[] = [];
      for (let k = 0; k < 4; k++) {
        const candidate = alone(randomService(r, k + 1));
        if (candidate && wholeTable(table, candidate) === null && !table.some((s) => serviceLabel(s) === serviceLabel(candidate))) table.push(candidate);
      }
      const next = alone(randomService(r, 9));
      if (!next) continue;
      if (table.some((s) => serviceLabel(s) === serviceLabel(next))) continue; // a duplicate is EEXIST, not this check
      const expected = wholeTable(table, next);
      expect(joinProblem(table, next)).toBe(expected);
      compared++;
      if (expected !== null) clashes++;
    }
    // Both outcomes were exercised, many times.
    expect(clashes).toBeGreaterThan(200);
    expect(compared - clashes).toBeGreaterThan(200);
  });

  test("names the clash the way ipvsadm users read it", () => {
    const table = services([{ fwmark: 2, members: [{ protocol: "tcp", address: "198.18.0.101", port: 0 }], scheduler: "rr", realServers: [] }]);
    const next = services([{ address: "198.18.0.101", port: 443, scheduler: "rr", realServers: [] }])[0]!;
    expect(joinProblem(table, next)).toBe("tcp 198.18.0.101:443 overlaps a member of FWM 2 (tcp 198.18.0.101:0): a packet must belong to one service");
  });
});
