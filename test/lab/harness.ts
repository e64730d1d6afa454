// Namespace lab for end-to-end tests (bun test). Builds the topology of
// scripts/lab/lab.sh with a per-run prefix, optionally prepares the real servers
// with scripts/realserver.sh and starts scripts/lab/http-server.ts in each, and
// guarantees teardown: lab.down(), plus synchronous cleanup on process exit and
// SIGINT/SIGTERM so an aborted run never leaves namespaces behind.
//
//   const lab = await Lab.up({ realServers: 3, vip: VIP, rsScript: true, http: true });
//   const r = await lab.curl(`http://${lab.rsIps[0]}/`);   // from the client ns
//   await lab.down();
//
// With `farServers: N` the lab also gets a router (lab.routerNs, 198.18.0.1 /
// 198.19.0.1) and N TUN-mode real servers on the routed far network 198.19.0.0/24
// (lab.farNs, lab.farIps). Their IPIP decapsulation is the kernel's tunl0 when the
// kernel has ipip, else scripts/lab/ipip-decap.c (built here on demand into
// scripts/lab/build/), a user-space decapsulator that provides a TUN device named
// tunl0; `tunDecap` forces one or the other and lab.tunDecap says which runs.
// rsScript then runs `realserver.sh start --mode tun VIP` on them (after the
// decapsulator is up), http starts servers named far<i>.
//
// Needs root (namespaces); callers should skip loudly with `canRunLab()`.

import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const LAB_SCRIPT = join(REPO_ROOT, "scripts/lab/lab.sh");
export const RS_SCRIPT = join(REPO_ROOT, "scripts/realserver.sh");
export const HTTP_SERVER = join(REPO_ROOT, "scripts/lab/http-server.ts");
/** Where lab tools written in C are compiled (git-ignored). */
export const LAB_BUILD_DIR = join(REPO_ROOT, "scripts/lab/build");

/** Addresses of the lab segment (198.18.0.0/15 is the benchmarking range, RFC 2544). */
export const LAB_NET = "198.18.0.0/24";
export const CLIENT_IP = "198.18.0.2";
export const DIRECTOR_IP = "198.18.0.3";
export const DEFAULT_VIP = "198.18.0.100";
export const DIRECTOR_IF = "eth0";
/** Real server i (1-based) has 198.18.0.(10+i). */
export const rsIp = (i: number): string => `198.18.0.${10 + i}`;
/** The routed far network (lab.sh up PREFIX NRS NFAR) and its router. */
export const FAR_NET = "198.19.0.0/24";
export const ROUTER_IP = "198.18.0.1";
export const ROUTER_FAR_IP = "198.19.0.1";
/** Far real server i (1-based) has 198.19.0.(10+i). */
export const farIp = (i: number): string => `198.19.0.${10 + i}`;
/** lab.sh gives every host eth0 the MAC 02:72:76:<second octet - 18>:<third>:<fourth>, in hex
 *  (02:72:76:00:00:XX on 198.18.0.0/24, 02:72:76:01:00:XX on the far network). */
export const labMac = (ip: string): string => {
  const o = ip.split(".").map(Number);
  return `02:72:76:${[o[1] - 18, o[2], o[3]].map((n) => n.toString(16).padStart(2, "0")).join(":")}`;
};

export type TunDecap = "kernel" | "userspace";

export interface LabOptions {
  /** Number of real servers (1..50). Default 3. */
  realServers?: number;
  /** VIP(s) given to realserver.sh. Default DEFAULT_VIP. */
  vip?: string | string[];
  /** Run `realserver.sh start VIP...` in every real-server namespace. Default false. */
  rsScript?: boolean;
  /** Start http-server.ts (--name rs<i>) in every real server and wait for it. Default false. */
  http?: boolean;
  /** Port of the HTTP servers. Default 80. */
  httpPort?: number;
  /** Far (routed, TUN-mode) real servers on 198.19.0.0/24 behind a router (0..50). Default 0. */
  farServers?: number;
  /** Who strips the IPIP header on far servers: the kernel's ipip (false), the user-space
   *  decapsulator scripts/lab/ipip-decap.c (true), or the kernel's when it has ipip ("auto"). */
  tunDecap?: boolean | "auto";
  /** Overall budget for Lab.up. Default 30 s. */
  timeoutMs?: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
}

export interface ExecResult {
  /** Exit code; null when the process was killed by a signal (e.g. timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  timedOut: boolean;
}

export interface CurlOptions {
  timeoutMs?: number;
  method?: string;
  headers?: Record<string, string>;
  /** Request body, sent with --data-binary. */
  data?: string | Uint8Array;
  /** Namespace to run curl in. Default: the client. */
  ns?: string;
  /** curl --limit-rate value (e.g. "1M") to keep a transfer in flight. */
  rate?: string;
  /** Source address to connect from (curl --interface): one of the namespace's addresses. */
  source?: string;
}

export interface CurlResult {
  /** HTTP status of the final response; 0 when none arrived (see exitCode/stderr). */
  status: number;
  headers: Record<string, string>; // lower-case names
  body: string;
  bytes: Uint8Array;
  /** curl's exit code (0 ok, 7 refused, 28 timeout, 18 short transfer...). */
  exitCode: number | null;
  stderr: string;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  stdout?: "pipe" | "inherit" | "ignore";
  stderr?: "pipe" | "inherit" | "ignore";
}

/**
 * Compiles scripts/lab/NAME.c into scripts/lab/build/NAME (gcc -O2) unless the binary is newer
 * than the source; returns the binary's path. Throws with gcc's messages when it fails.
 */
export function buildLabTool(name: string): string {
  const src = join(REPO_ROOT, "scripts/lab", `${name}.c`);
  const out = join(LAB_BUILD_DIR, name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(LAB_BUILD_DIR, { recursive: true });
  // Build under a private name and rename: a concurrent run never executes half a binary.
  const tmp = `${out}.tmp${process.pid}`;
  const cc = Bun.spawnSync(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, src], { stdout: "pipe", stderr: "pipe" });
  if (cc.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`gcc ${src} failed: ${cc.stderr.toString().trim()}`);
  }
  renameSync(tmp, out);
  return out;
}

let kernelIpip: boolean | undefined;
/** Whether the kernel can make an ipip tunnel: tried in a throwaway namespace (`unshare --net`),
 *  which vanishes with the process, so the probe cannot leave anything behind. */
export function kernelHasIpip(): boolean {
  if (kernelIpip === undefined) {
    const r = Bun.spawnSync(["unshare", "--net", "ip", "link", "add", "rvprobe0", "type", "ipip"], { stdout: "ignore", stderr: "ignore" });
    kernelIpip = r.exitCode === 0;
  }
  return kernelIpip;
}

/** Resolves LabOptions.tunDecap against what this kernel has. */
export function resolveTunDecap(want: boolean | "auto"): TunDecap {
  if (want === true) return "userspace";
  const kernel = kernelHasIpip();
  if (want === false && !kernel) {
    throw new Error("tunDecap: false asks for the kernel's ipip, but `ip link add ... type ipip` fails here (no ipip module)");
  }
  return kernel ? "kernel" : "userspace";
}

/** One JSON event line of ipip-decap (ready / stats / stopped), counters included. */
export interface DecapEvent {
  event: "ready" | "stats" | "stopped";
  interface?: string;
  tun?: string;
  nft?: boolean;
  addrs?: string[];
  rx_ipip: number;
  not_for_us: number;
  bad_outer: number;
  fragments: number;
  reassembled: number;
  frag_dup: number;
  frag_overlap: number;
  frag_bad: number;
  reasm_timeout: number;
  reasm_evicted: number;
  bad_inner: number;
  ecn_drop: number;
  delivered: number;
  tun_errors: number;
  tun_out_discarded: number;
}

/** A running ipip-decap: its JSON lines on stdout, stderr collected. */
export class DecapProcess {
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  stderr = "";

  constructor(readonly ns: string, readonly proc: Subprocess) {
    void this.pump();
    void (async () => {
      try {
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) this.stderr += decoder.decode(chunk);
      } catch {}
    })();
  }

  private async pump(): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of this.proc.stdout as ReadableStream<Uint8Array>) {
        buf += decoder.decode(chunk);
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          this.waiters.splice(0).forEach((w) => w());
        }
      }
    } catch {}
    this.closed = true;
    this.waiters.splice(0).forEach((w) => w());
  }

  /** The next event line of this type (consumed), or null on timeout or exit. */
  async next(event: DecapEvent["event"], timeoutMs = 5_000): Promise<DecapEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(`{"event":"${event}"`));
      if (i >= 0) return JSON.parse(this.lines.splice(i, 1)[0]) as DecapEvent;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return null;
      await within(new Promise<void>((r) => this.waiters.push(r)), left);
    }
  }

  /** SIGUSR1 and the counters it prints. */
  async stats(): Promise<DecapEvent> {
    this.proc.kill("SIGUSR1");
    const s = await this.next("stats");
    if (!s) throw new Error(`ipip-decap in ${this.ns} printed no stats: ${this.stderr.trim()}`);
    return s;
  }
}

/** True when the lab can run here (root + iproute2); tests should skip loudly otherwise. */
/** In CI (CI=true) the lab must run: a missing privilege or tool is an error there, not a skip. */
export function canRunLab(...tools: string[]): boolean {
  const missing = ["ip", "curl", ...tools].filter((t) => Bun.which(t) === null);
  const ok = process.getuid?.() === 0 && missing.length === 0;
  if (!ok && process.env.CI) {
    throw new Error(`lab tests must run in CI, but ${process.getuid?.() !== 0 ? "this is not root" : `${missing.join(", ")} missing`}`);
  }
  return ok;
}

const live = new Set<Lab>();
let counter = 0;
let cleanupRegistered = false;

// Runs at most once per lab; synchronous because "exit" handlers cannot await.
function downSync(lab: Lab): void {
  lab.killAllSync();
  Bun.spawnSync(["bash", LAB_SCRIPT, "down", lab.prefix], { stdout: "ignore", stderr: "ignore" });
  rmSync(lab.stateDir, { recursive: true, force: true });
  live.delete(lab);
}

function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on("exit", () => {
    for (const lab of [...live]) downSync(lab);
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const lab of [...live]) downSync(lab);
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

async function readAll(s: ReadableStream<Uint8Array> | number | undefined | null): Promise<Uint8Array> {
  if (!s || typeof s === "number") return new Uint8Array(0);
  return new Uint8Array(await new Response(s).arrayBuffer());
}

const decoder = new TextDecoder();

/** Resolves to p's value, or to null after ms; clears its timer either way. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs argv inside NS (`ip netns exec NS argv...`, which execs argv, so the pid is argv's own) and
 * collects its output; killed (SIGKILL) after timeoutMs (default 30 s). While it runs it is in
 * `procs`, so whoever owns the namespaces can kill it on teardown.
 */
export async function nsExec(ns: string, argv: string[], opts: ExecOptions, procs: Set<Subprocess>): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], {
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  procs.add(proc);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [out, err, code] = await Promise.all([readAll(proc.stdout), readAll(proc.stderr), proc.exited]);
    return {
      code: proc.signalCode ? null : code,
      stdout: decoder.decode(out),
      stderr: decoder.decode(err),
      stdoutBytes: out,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    procs.delete(proc);
  }
}

/** Starts a long-running `ip netns exec NS argv...` (pid = argv's) and keeps it in `procs` until it exits. */
export function nsSpawn(ns: string, argv: string[], opts: SpawnOptions, procs: Set<Subprocess>): Subprocess {
  const proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], {
    stdin: "ignore",
    stdout: opts.stdout ?? "ignore",
    stderr: opts.stderr ?? "inherit",
    env: { ...process.env, ...opts.env },
  });
  procs.add(proc);
  proc.exited.then(() => procs.delete(proc));
  return proc;
}

export class Lab {
  readonly prefix: string;
  readonly switchNs: string;
  readonly clientNs: string;
  readonly directorNs: string;
  readonly rsNs: string[];
  readonly rsIps: string[];
  readonly rsMacs: string[];
  readonly rsNames: string[];
  /** Far (TUN) real servers; empty without farServers. */
  readonly farNs: string[];
  readonly farIps: string[];
  readonly farMacs: string[];
  readonly farNames: string[];
  /** The router between 198.18.0.0/24 and 198.19.0.0/24; "" without farServers. */
  readonly routerNs: string;
  readonly routerIp = ROUTER_IP;
  readonly routerFarIp = ROUTER_FAR_IP;
  readonly routerMac = labMac(ROUTER_IP);
  /** Who decapsulates IPIP on the far servers; null without farServers. */
  readonly tunDecap: TunDecap | null;
  /** The user-space decapsulator of each far server, by namespace (tunDecap "userspace"). */
  readonly decaps = new Map<string, DecapProcess>();
  readonly clientIp = CLIENT_IP;
  readonly directorIp = DIRECTOR_IP;
  readonly directorIf = DIRECTOR_IF;
  readonly clientMac = labMac(CLIENT_IP);
  readonly directorMac = labMac(DIRECTOR_IP);
  readonly vips: string[];
  readonly httpPort: number;
  /** RINGVS_RS_STATE_DIR for realserver.sh in this lab; removed by down(). */
  readonly stateDir: string;
  /** Variables printed by `lab.sh up`. */
  readonly env: Record<string, string>;
  private readonly procs = new Set<Subprocess>();
  private isDown = false;

  private constructor(
    prefix: string,
    env: Record<string, string>,
    opts: Required<LabOptions>,
    stateDir: string,
    tunDecap: TunDecap | null,
  ) {
    this.prefix = prefix;
    this.env = env;
    this.switchNs = env.LAB_SWITCH_NS;
    this.clientNs = env.LAB_CLIENT_NS;
    this.directorNs = env.LAB_DIRECTOR_NS;
    this.rsNs = env.LAB_RS_NS.split(" ");
    this.rsIps = env.LAB_RS_IPS.split(" ");
    this.rsMacs = env.LAB_RS_MACS.split(" ");
    this.rsNames = this.rsNs.map((_, i) => `rs${i + 1}`);
    const list = (v: string | undefined) => (v ? v.split(" ") : []);
    this.farNs = list(env.LAB_FAR_NS);
    this.farIps = list(env.LAB_FAR_IPS);
    this.farMacs = list(env.LAB_FAR_MACS);
    this.farNames = this.farNs.map((_, i) => `far${i + 1}`);
    this.routerNs = env.LAB_ROUTER_NS ?? "";
    this.tunDecap = tunDecap;
    this.vips = Array.isArray(opts.vip) ? opts.vip : [opts.vip];
    this.httpPort = opts.httpPort;
    this.stateDir = stateDir;
  }

  /**
   * Builds the lab. Throws (after tearing down whatever was built) when a step
   * fails or the budget runs out; the error says which real server or command.
   */
  static async up(options: LabOptions = {}): Promise<Lab> {
    const opts: Required<LabOptions> = {
      realServers: 3,
      vip: DEFAULT_VIP,
      rsScript: false,
      http: false,
      httpPort: 80,
      farServers: 0,
      tunDecap: "auto",
      timeoutMs: 30_000,
      ...options,
    };
    registerCleanup();
    // Decided (and the decapsulator built) before anything exists, so these failures leave nothing.
    const tunDecap = opts.farServers > 0 ? resolveTunDecap(opts.tunDecap) : null;
    const decapBin = tunDecap === "userspace" ? buildLabTool("ipip-decap") : "";
    const deadline = Date.now() + opts.timeoutMs;
    // pid keeps parallel test processes apart, the counter labs within one.
    const prefix = `rv${process.pid % 100000}x${counter++}`;
    const argv = ["bash", LAB_SCRIPT, "up", prefix, String(opts.realServers)];
    if (opts.farServers > 0) argv.push(String(opts.farServers));
    const up = Bun.spawnSync(argv, {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (up.exitCode !== 0) {
      throw new Error(`lab.sh up ${prefix} failed (${up.exitCode}): ${up.stderr.toString().trim()}`);
    }
    const env: Record<string, string> = {};
    for (const line of up.stdout.toString().split("\n")) {
      const m = /^(LAB_[A-Z_]+)='(.*)'$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
    const stateDir = mkdtempSync(join(tmpdir(), `ringvs-${prefix}-`));
    const lab = new Lab(prefix, env, opts, stateDir, tunDecap);
    live.add(lab);
    try {
      if (tunDecap === "userspace") {
        await Promise.all(lab.farNs.map((ns) => lab.startDecap(ns, decapBin, deadline)));
      }
      if (opts.rsScript) {
        await Promise.all([
          ...lab.rsNs.map((ns) => lab.rsScript(ns, "start", lab.vips)),
          ...lab.farNs.map((ns) => lab.rsScript(ns, "start", lab.vips, "tun")),
        ]);
      }
      if (opts.http) {
        await Promise.all([
          ...lab.rsNs.map((ns, i) => lab.startHttp(ns, lab.rsIps[i], lab.rsNames[i], deadline)),
          ...lab.farNs.map((ns, i) => lab.startHttp(ns, lab.farIps[i], lab.farNames[i], deadline)),
        ]);
      }
    } catch (e) {
      await lab.down();
      throw e;
    }
    return lab;
  }

  /** Runs `realserver.sh ACTION [--mode tun] VIP...` in NS with this lab's state dir; throws unless exit 0. */
  async rsScript(ns: string, action: "start" | "stop", vips: string[] = this.vips, mode: "dr" | "tun" = "dr"): Promise<ExecResult> {
    const r = await this.exec(ns, ["bash", RS_SCRIPT, action, ...(mode === "tun" ? ["--mode", "tun"] : []), ...vips], {
      timeoutMs: 15_000,
      env: { RINGVS_RS_STATE_DIR: this.stateDir },
    });
    if (r.code !== 0) throw new Error(`realserver.sh ${action} in ${ns} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  }

  /** Starts ipip-decap on NS's eth0 (it creates tunl0 and the nft guard) and waits for "ready". */
  private async startDecap(ns: string, bin: string, deadline: number): Promise<void> {
    const proc = this.spawn(ns, [bin, "--interface", "eth0", "--tun", "tunl0"], { stdout: "pipe", stderr: "pipe" });
    const d = new DecapProcess(ns, proc);
    this.decaps.set(ns, d);
    const ready = await d.next("ready", Math.max(0, deadline - Date.now()));
    if (!ready) {
      proc.kill("SIGKILL");
      await proc.exited;
      throw new Error(`ipip-decap in ${ns} did not become ready (exit ${proc.exitCode}): ${d.stderr.trim()}`);
    }
  }

  /** Counters of the user-space decapsulator on far server i (0-based); throws when the kernel decapsulates. */
  async decapStats(i: number): Promise<DecapEvent> {
    const d = this.decaps.get(this.farNs[i]);
    if (!d) throw new Error(`no user-space decapsulator on ${this.farNs[i]} (tunDecap: ${this.tunDecap})`);
    return d.stats();
  }

  private async startHttp(ns: string, ip: string, name: string, deadline: number): Promise<void> {
    const proc = this.spawn(
      ns,
      [process.execPath, HTTP_SERVER, "--name", name, "--port", String(this.httpPort)],
      { stdout: "pipe", stderr: "pipe" },
    );
    // Wait for the "listening" line, then for the client to get an answer over
    // the bridge (proves veth, bridge and ARP work, not just the bind).
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    while (!seen.includes("listening\n")) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`http-server ${name}: no "listening" line in time`);
      const r = await within(reader.read(), left);
      if (r === null) continue;
      if (r.done) {
        const err = decoder.decode(await readAll(proc.stderr as ReadableStream<Uint8Array>));
        throw new Error(`http-server ${name} exited (${await proc.exited}): ${err.trim()}`);
      }
      seen += decoder.decode(r.value);
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) {}
      } catch {}
    })();
    const url = `http://${ip}:${this.httpPort}/`;
    for (;;) {
      const r = await this.curl(url, { timeoutMs: 2_000 });
      if (r.status === 200 && r.body === `${name}\n`) return;
      if (Date.now() > deadline) {
        throw new Error(`client cannot reach ${name} at ${url}: status ${r.status}, curl ${r.exitCode} ${r.stderr.trim()}`);
      }
      await Bun.sleep(50);
    }
  }

  /** Runs argv inside NS and collects its output; killed (SIGKILL) after timeoutMs (default 30 s). */
  exec(ns: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return nsExec(ns, argv, opts, this.procs);
  }

  /** Starts a long-running process in NS; it is killed by down() (and by lab.sh down). */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): Subprocess {
    return nsSpawn(ns, argv, opts, this.procs);
  }

  /** HTTP request with curl from the client namespace (or opts.ns); never throws for HTTP or network errors. */
  async curl(url: string, opts: CurlOptions = {}): Promise<CurlResult> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const argv = ["curl", "-sS", "-i", "--max-time", String(timeoutMs / 1000), "--connect-timeout", String(Math.min(timeoutMs, 5_000) / 1000)];
    if (opts.method) argv.push("-X", opts.method);
    if (opts.rate) argv.push("--limit-rate", opts.rate);
    if (opts.source) argv.push("--interface", opts.source);
    for (const [k, v] of Object.entries(opts.headers ?? {})) argv.push("-H", `${k}: ${v}`);
    if (opts.data !== undefined) argv.push("--data-binary", "@-", "-H", "Content-Type: application/octet-stream");
    argv.push(url);
    const r = await this.exec(opts.ns ?? this.clientNs, argv, { timeoutMs: timeoutMs + 2_000, stdin: opts.data });
    return { ...parseCurlOutput(r.stdoutBytes), exitCode: r.code, stderr: r.stderr };
  }

  /** Kills tracked processes, deletes every namespace of the lab and the state dir. Idempotent. */
  async down(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    const procs = [...this.procs];
    for (const p of procs) p.kill("SIGTERM");
    await within(Promise.all(procs.map((p) => p.exited)), 2_000);
    const r = Bun.spawn(["bash", LAB_SCRIPT, "down", this.prefix], { stdout: "ignore", stderr: "pipe" });
    const code = await r.exited;
    rmSync(this.stateDir, { recursive: true, force: true });
    live.delete(this);
    if (code !== 0) throw new Error(`lab.sh down ${this.prefix} exited ${code}`);
  }

  /** @internal used by the exit handler */
  killAllSync(): void {
    for (const p of this.procs) p.kill("SIGKILL");
    this.procs.clear();
  }

  /** Namespaces of this lab that currently exist (for leak checks). */
  static existingNamespaces(prefix: string): string[] {
    const out = Bun.spawnSync(["ip", "netns", "list"]).stdout.toString();
    const re = new RegExp(`^${prefix}(sw|sw2|cl|dir|rt|rs\\d+|far\\d+)$`);
    return out
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((n) => re.test(n));
  }
}

/** Splits `curl -i` output: skips 1xx interim responses, returns the final status, headers, body. */
export function parseCurlOutput(out: Uint8Array): Omit<CurlResult, "exitCode" | "stderr"> {
  let off = 0;
  let status = 0;
  let headers: Record<string, string> = {};
  for (;;) {
    if (decoder.decode(out.subarray(off, off + 5)) !== "HTTP/") break;
    const end = indexOfCrlfCrlf(out, off);
    if (end < 0) break;
    const lines = decoder.decode(out.subarray(off, end)).split("\r\n");
    status = Number(lines[0].split(" ")[1]);
    headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    off = end + 4;
    if (status >= 200) break;
  }
  const bytes = out.subarray(off);
  return { status, headers, body: decoder.decode(bytes), bytes };
}

function indexOfCrlfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}
