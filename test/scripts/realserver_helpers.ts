// What the scripts/realserver.sh tests (DR and TUN) share: a throwaway network namespace with its
// own RINGVS_RS_STATE_DIR, and ways to read the sysctls, addresses and routes inside it.

import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const SCRIPT = resolve(import.meta.dir, "../../scripts/realserver.sh");
export const VIP = "198.18.0.100";
export const VIP2 = "198.18.1.200";

export const runnable = process.getuid?.() === 0 && Bun.which("ip") !== null;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let seq = 0;
const created = new Set<string>();
process.on("exit", () => {
  for (const ns of created) Bun.spawnSync(["ip", "netns", "del", ns]);
});

/** The prefix of every namespace name a test file creates with `namePrefix`, for its leak check. */
export function nsPrefix(namePrefix: string): string {
  return `${namePrefix}${process.pid % 100000}x`;
}

export class Netns {
  readonly name: string;
  readonly stateDir: string;

  /** `sysctls`: the keys `values()` reads. */
  constructor(
    namePrefix: string,
    stateDirPrefix: string,
    private readonly sysctls: readonly string[],
  ) {
    this.name = `${nsPrefix(namePrefix)}${seq++}`;
    this.stateDir = mkdtempSync(join(tmpdir(), stateDirPrefix));
    this.sh(["ip", "netns", "add", this.name], true);
    created.add(this.name);
  }

  /** Runs argv in the namespace; throws when `check` and the exit code is not 0. */
  sh(argv: string[], check = false, env: Record<string, string> = {}): Run {
    const full = argv[0] === "ip" && argv[1] === "netns" ? argv : ["ip", "netns", "exec", this.name, ...argv];
    const p = Bun.spawnSync(full, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", timeout: 15_000 });
    const r = { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
    if (check && r.code !== 0) throw new Error(`${full.join(" ")} -> ${r.code}: ${r.stderr}`);
    return r;
  }

  sysctl(key: string): string {
    return this.sh(["cat", `/proc/sys/${key.replaceAll(".", "/")}`], true).stdout.trim();
  }

  setSysctl(key: string, value: string): void {
    this.sh(["sh", "-c", `echo ${value} > /proc/sys/${key.replaceAll(".", "/")}`], true);
  }

  values(): Record<string, string> {
    return Object.fromEntries(this.sysctls.map((k) => [k, this.sysctl(k)]));
  }

  /** "addr/prefix label" of every IPv4 address on `dev`. */
  addrs(dev: string): string[] {
    const j = JSON.parse(this.sh(["ip", "-j", "-4", "addr", "show", "dev", dev], true).stdout);
    return (j[0]?.addr_info ?? []).map((a: { local: string; prefixlen: number; label: string }) => `${a.local}/${a.prefixlen} ${a.label}`);
  }

  localRoute(vip: string): string {
    return this.sh(["ip", "-4", "route", "show", "table", "local", "type", "local", "exact", `${vip}/32`], true).stdout.trim();
  }

  stateFiles(): string[] {
    return readdirSync(this.stateDir);
  }

  destroy(): void {
    this.sh(["ip", "netns", "del", this.name]);
    created.delete(this.name);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
