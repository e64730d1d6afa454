// Runs a real ringvs director process inside a lab's director namespace, the way an operator
// would (`ringvs serve ...`), and reads its JSON event lines: ready, stats (SIGUSR1), stopped.
import type { Subprocess } from "bun";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "./harness.ts";
import { REPO_ROOT } from "./harness.ts";
import type { DirectorStats } from "../../src/control/director.ts";

/** Where a director runs: the Lab, or any other topology with a director namespace, the
 *  interface ringvs listens on there, and a way to run commands in a namespace (the ipvs.sh
 *  selftest's two-armed director listens on its client-side veth). */
export interface DirectorHost {
  readonly directorNs: string;
  readonly directorIf: string;
  exec: Lab["exec"];
}

export const CLI = join(REPO_ROOT, "src/cli/main.ts");

export interface DirectorProcessOptions {
  /** JSON config object (written to a temp file and passed as --config). */
  config?: object;
  /** Or: an ipvsadm-save rules text with --interface (the host's directorIf). */
  rules?: string;
  /** Or neither: `serve --interface eth0` alone, which starts with an empty table. */
  noRules?: boolean;
  vipMode?: "auto" | "local" | "arp";
  /** Run this executable instead of `bun src/cli/main.ts` (the single-binary test). */
  binary?: string;
  /** Working directory for the process. */
  cwd?: string;
  timeoutMs?: number;
  /** Pin the process (every thread it will start: taskset sets the affinity the threads inherit)
   *  to this CPU, as bench/pps.sh does, so a load test knows which core the director has. */
  cpu?: number;
}

export interface ReadyEvent {
  event: "ready";
  vips: { local: string[]; arp: string[] };
  unresolved: string[];
}

export class DirectorProcess {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  stderr = "";
  /** The ready event the director printed when it started. */
  ready!: ReadyEvent;
  /** Its control socket (one per process, in a private temp directory). */
  socket = "";
  /** The config file it was started with (rewrite it, then reload). */
  configPath = "";
  /** The rules file it was started with (rewrite it, then reload); "" without one. */
  rulesPath = "";

  private constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    private readonly tmp: string,
    private readonly binary: string | undefined,
  ) {
    void this.pump();
    void (async () => {
      for await (const chunk of proc.stderr) this.stderr += new TextDecoder().decode(chunk);
    })();
  }

  static async start(lab: DirectorHost, opts: DirectorProcessOptions): Promise<DirectorProcess> {
    const tmp = mkdtempSync(join(tmpdir(), "ringvs-dir-"));
    chmodSync(tmp, 0o755); // the socket's own mode (0600), not its directory, must keep others out
    const socket = join(tmp, "ringvs.sock");
    let configPath = "";
    let rulesPath = "";
    const args: string[] = ["serve", "--socket", socket];
    if (opts.config) {
      const path = join(tmp, "ringvs.json");
      writeFileSync(path, JSON.stringify(opts.config, null, 2));
      args.push("--config", path);
      configPath = path;
    } else if (opts.rules !== undefined) {
      const path = join(tmp, "ipvsadm.rules");
      writeFileSync(path, opts.rules);
      args.push("--interface", lab.directorIf, "--rules", path);
      if (opts.vipMode) args.push("--vip-mode", opts.vipMode);
      rulesPath = path;
    } else if (opts.noRules) {
      args.push("--interface", lab.directorIf);
      if (opts.vipMode) args.push("--vip-mode", opts.vipMode);
    }
    const argv = opts.binary ? [opts.binary, ...args] : ["bun", CLI, ...args];
    // taskset execs the director, so proc.pid stays the director's own (SIGUSR1, SIGTERM reach it).
    const pin = opts.cpu === undefined ? [] : ["taskset", "-c", String(opts.cpu)];
    const proc = Bun.spawn(["ip", "netns", "exec", lab.directorNs, ...pin, ...argv], {
      stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: opts.cwd,
    });
    const d = new DirectorProcess(proc, tmp, opts.binary);
    const ready = await d.next<ReadyEvent>("ready", opts.timeoutMs ?? 15_000);
    if (!ready) {
      proc.kill("SIGKILL");
      await proc.exited;
      await Bun.sleep(50); // let the stderr reader drain
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`director did not become ready (exit ${proc.exitCode}): ${d.stderr}`);
    }
    d.ready = ready;
    d.socket = socket;
    d.configPath = configPath;
    d.rulesPath = rulesPath;
    return d;
  }

  private async pump(): Promise<void> {
    let buf = "";
    for await (const chunk of this.proc.stdout) {
      buf += new TextDecoder().decode(chunk);
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        this.waiters.splice(0).forEach((w) => w());
      }
    }
    this.waiters.splice(0).forEach((w) => w());
  }

  /** The next event line of this type (consumed), or null on timeout / exit. */
  async next<T = Record<string, unknown>>(event: string, timeoutMs = 5000): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l.includes(`"event":"${event}"`));
      if (i >= 0) return JSON.parse(this.lines.splice(i, 1)[0]!) as T;
      if (this.proc.exitCode !== null || Date.now() > deadline) return null;
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), Bun.sleep(50)]);
    }
  }

  /** Run the ringvs CLI (ipvsadm syntax, reload) against this director's socket, from the
   *  director's namespace as an operator would. */
  async cli(lab: DirectorHost, argv: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const cmd = this.binary ? [this.binary, ...argv] : ["bun", CLI, ...argv];
    const r = await lab.exec(lab.directorNs, cmd, { env: { RINGVS_SOCKET: this.socket }, stdin, timeoutMs: 30_000 });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async stats(): Promise<DirectorStats> {
    this.proc.kill("SIGUSR1");
    const s = await this.next<DirectorStats>("stats");
    if (!s) throw new Error(`no stats from director: ${this.stderr}`);
    return s;
  }

  /** SIGTERM, wait for the clean exit, return the final counters. */
  async stop(): Promise<DirectorStats & { exitCode: number | null }> {
    this.proc.kill("SIGTERM");
    const s = await this.next<DirectorStats>("stopped", 10_000);
    const exitCode = await Promise.race([this.proc.exited, Bun.sleep(5000).then(() => null)]);
    if (exitCode === null) this.proc.kill("SIGKILL");
    rmSync(this.tmp, { recursive: true, force: true });
    if (!s) throw new Error(`director did not report stopped (exit ${exitCode}): ${this.stderr}`);
    return { ...s, exitCode };
  }
}

/** The JSON config of a DR service over the lab's real servers. */
export function drConfig(lab: Lab, opts: { scheduler: string; weights?: number[]; vipMode?: string; port?: number; persistence?: object }): object {
  return {
    interface: lab.directorIf,
    vipMode: opts.vipMode ?? "auto",
    services: [{
      protocol: "tcp",
      address: lab.vips[0],
      port: opts.port ?? 80,
      scheduler: opts.scheduler,
      ...(opts.persistence ? { persistence: opts.persistence } : {}),
      realServers: lab.rsIps.map((ip, i) => ({ address: ip, weight: opts.weights?.[i] ?? 1 })),
    }],
  };
}

/** The afterAll of a file with one director and one lab: stop the director, which must exit 0,
 *  then take the lab down whatever happened. */
export async function stopDirectorAndLab(d: DirectorProcess | undefined, lab: Lab | undefined): Promise<void> {
  try {
    if (d) {
      const { exitCode } = await d.stop();
      if (exitCode !== 0) throw new Error(`the director exited ${exitCode}`);
    }
  } finally {
    await lab?.down();
  }
}
