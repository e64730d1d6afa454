// A Control with no data plane (or a fake one), and a shell-like way to run ipvsadm lines on it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Control, type ConnectionEntry, type ControlRuntime } from "../../../src/control/control.ts";
import type { DirectorStats } from "../../../src/control/director.ts";
import { RING_DEFAULTS, TIMEOUT_DEFAULTS, type DirectorConfig } from "../../../src/config/model.ts";
import { runIpvsadm } from "../../../src/cli/ipvsadm/index.ts";

/** An empty table; size 4096 is what the seeds' kernels print as the connection table size. */
export function emptyConfig(): DirectorConfig {
  return {
    interface: "eth0", timeouts: { ...TIMEOUT_DEFAULTS }, tunnelSource: null, vipMode: "auto", ring: { ...RING_DEFAULTS },
    flowTableSize: 4096, services: [], metrics: null,
  } as unknown as DirectorConfig;
}

/** Per real server ("198.18.0.83:22") counters a fake data plane reports. */
export interface FakeDest {
  activeConns?: number;
  inactiveConns?: number;
  persistConns?: number;
  conns?: number;
  packets?: number;
  bytes?: number;
}

/** A Control over a fake runtime whose counters come from `dests` (by service label and address)
 *  and whose connection list is `conns`. Call control.stop() when done (the rate estimator). */
export function fakeControl(dests: Record<string, FakeDest>, conns: ConnectionEntry[] = []): Control {
  let control: Control;
  const runtime: ControlRuntime = {
    apply: async () => {},
    async *connectionPages() {
      yield conns;
    },
    stats: () => ({
      services: control.current().services.map((s) => ({
        dests: s.realServers.map((r) => {
          const d = dests[`${r.address}:${r.port}`] ?? {};
          return {
            activeConns: d.activeConns ?? 0, inactiveConns: d.inactiveConns ?? 0, persistConns: d.persistConns ?? 0,
            conns: d.conns ?? 0, packets: d.packets ?? 0, bytes: d.bytes ?? 0,
          };
        }),
      })),
    }) as unknown as DirectorStats,
  };
  control = new Control(emptyConfig(), runtime);
  return control;
}

export function bareControl(): Control {
  return new Control(emptyConfig());
}

/** Splits a shell line into words, honouring double quotes (`--members "..."`, `--members="..."`). */
export function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) out.push(m[0].replace(/"/g, ""));
  return out;
}

export async function sh(control: Control, line: string, stdin?: string) {
  return runIpvsadm(words(line), control, stdin === undefined ? {} : { stdin });
}

/** Runs lines that must all succeed. */
export async function script(control: Control, lines: string[]): Promise<void> {
  for (const line of lines) {
    const r = await sh(control, line);
    if (r.code !== 0) throw new Error(`${line}: exit ${r.code}: ${r.stderr}`);
  }
}

export function fixture(name: string): string {
  return readFileSync(join(import.meta.dir, "fixtures", name), "utf8");
}
