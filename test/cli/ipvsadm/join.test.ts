// A -A is checked against only the services it could overlap (execute.ts), for speed; it must
// still say what the checks across the whole table say. So the CLI's refusal is compared, on many
// random tables, with validating the whole would-be table and naming services by their labels.
import { describe, expect, test } from "bun:test";
import { Control } from "../../../src/control/control.ts";
import type { ServiceConfig } from "../../../src/config/model.ts";
import { serviceToInput, validateDirectorConfig } from "../../../src/config/schema.ts";
import { serviceLabel, showMatch } from "../../../src/config/service.ts";
import { runIpvsadm } from "../../../src/cli/ipvsadm/index.ts";
import { emptyConfig } from "./helpers.ts";

/** The services, or null when they are not a valid table. */
function table(inputs: unknown[]): ServiceConfig[] | null {
  const r = validateDirectorConfig({ interface: "eth0", services: inputs });
  return r.ok ? r.config.services : null;
}

/** The whole-table answer: validate everything with `next` last, name the services by label. */
function wholeTable(services: ServiceConfig[], next: ServiceConfig): string | null {
  const all = [...services, next];
  const r = validateDirectorConfig({ interface: "eth0", services: all.map(serviceToInput) });
  if (r.ok) return null;
  const name = (i: string) => serviceLabel(all[Number(i)]!);
  return r.issues[0]!.message.replace(/services\[(\d+)\](?:\.members\[(\d+)\])?/g, (_, i: string, j?: string) =>
    j === undefined ? `service ${name(i)}` : `a member of ${name(i)}`);
}

/** A small deterministic generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

const VIPS = ["198.18.0.100", "198.18.0.101"];
const PORTS = [0, 80, 443];

function randomService(r: () => number, mark: number): Record<string, unknown> {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  if (r() < 0.4) {
    const members = Array.from({ length: 1 + Math.floor(r() * 2) }, () => ({ protocol: pick(["tcp", "udp"]), address: pick(VIPS), port: pick(PORTS) }));
    return { fwmark: mark, members, scheduler: "rr", persistence: { timeout: 60 }, realServers: [] };
  }
  return { protocol: pick(["tcp", "udp"]), address: pick(VIPS), port: pick(PORTS), scheduler: "rr", persistence: { timeout: 60 }, realServers: [] };
}

/** `s` as the ipvsadm command that adds it. */
function addCommand(s: ServiceConfig): string[] {
  const common = ["-s", "rr", "-p", "60"];
  if (s.fwmark === null) return ["-A", s.protocol === "tcp" ? "-t" : "-u", `${s.address}:${s.port}`, ...common];
  return ["-A", "-f", String(s.fwmark), ...common, "--members", s.members.map(showMatch).join(",")];
}

describe("-A refuses what the checks across the whole table find", () => {
  test("the CLI's words are the whole-table validation's, on 2,000 random tables", async () => {
    let compared = 0;
    let clashes = 0;
    for (let seed = 1; compared < 2000; seed++) {
      const r = rng(seed);
      const services: ServiceConfig[] = [];
      for (let k = 0; k < 4; k++) {
        const grown = table([...services, randomService(r, k + 1)]);
        if (grown) services.splice(0, services.length, ...grown);
      }
      const next = table([randomService(r, 9)])?.[0];
      if (!next || services.some((s) => serviceLabel(s) === serviceLabel(next))) continue; // invalid alone, or EEXIST
      const expected = wholeTable(services, next);
      const control = new Control({ ...emptyConfig(), services });
      const exit = await runIpvsadm(addCommand(next), control, {});
      expect({ seed, exit }).toEqual({ seed, exit: expected === null ? { code: 0, stdout: "", stderr: "" } : { code: 2, stdout: "", stderr: `${expected}\n` } });
      compared++;
      if (expected !== null) clashes++;
    }
    // Both outcomes were exercised, many times.
    expect(clashes).toBeGreaterThan(200);
    expect(compared - clashes).toBeGreaterThan(200);
  });
});
