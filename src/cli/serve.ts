// `ringvs serve` and `ringvs check`: the daemon shell. It loads and validates the rules, starts
// the director, wraps it in the control library, answers the control socket (ipvsadm commands,
// reload), reloads on SIGHUP, reports on SIGUSR1, and stops cleanly on SIGINT/SIGTERM.
//
// stdout carries one JSON object per line ({"event":"ready"}, {"event":"stats"} on SIGUSR1,
// {"event":"reloaded"}, {"event":"stopped"} with the final counters); stderr carries the log.
import { formatConfigError, loadConfigFile, type ConfigResult } from "../config/load.ts";
import { parseIpvsadmRules } from "../config/ipvsadm_rules.ts";
import { keepalivedToJson, parseKeepalived } from "../config/keepalived.ts";
import type { DirectorConfig, VipMode } from "../config/model.ts";
import { serviceLabel } from "../config/service.ts";
import { Control } from "../control/control.ts";
import { Director } from "../control/director.ts";
import { ControlServer, DEFAULT_SOCKET, type ControlReply, type ControlRequest } from "../control/socket.ts";
import { serveMetrics } from "../control/metrics.ts";
import { ShimError } from "../dataplane/ffi.ts";
import { runIpvsadmInParts } from "./ipvsadm/index.ts";
import { UsageError } from "./usage.ts";

interface ServeArgs {
  config?: string;
  interface?: string;
  rules?: string;
  keepalived?: string;
  vipMode?: VipMode;
  tunnelSource?: string;
  socket?: string;
  workers?: string;
  cpus?: string;
}

const FLAGS: Record<string, keyof ServeArgs> = {
  "--config": "config", "-c": "config",
  "--interface": "interface", "-i": "interface",
  "--rules": "rules", "-r": "rules",
  "--keepalived": "keepalived",
  "--vip-mode": "vipMode",
  "--tunnel-source": "tunnelSource",
  "--socket": "socket",
  "--workers": "workers",
  "--cpus": "cpus",
};

function parseServeArgs(argv: string[]): ServeArgs {
  const a: ServeArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const key = FLAGS[flag];
    if (!key) throw new UsageError(`unknown option ${arg}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`option ${flag} needs a value`);
    if (key === "vipMode" && !["auto", "local", "arp"].includes(value)) {
      throw new UsageError(`--vip-mode: ${value}: must be auto, local or arp`);
    }
    if (key === "workers" && !/^[1-9][0-9]{0,2}$/.test(value)) {
      throw new UsageError(`--workers: ${value}: must be a number of packet workers (1 = no fanout)`);
    }
    if (key === "cpus" && !/^[0-9]{1,4}(,[0-9]{1,4})*$/.test(value)) {
      throw new UsageError(`--cpus: ${value}: must be a comma-separated list of CPU numbers, one per worker`);
    }
    (a as Record<string, string>)[key] = value;
  }
  if (a.config && (a.rules || a.keepalived || a.interface || a.vipMode || a.tunnelSource || a.workers || a.cpus)) {
    throw new UsageError("--config cannot be combined with --interface/--rules/--keepalived/--vip-mode/--tunnel-source/--workers/--cpus (put them in the file)");
  }
  if (a.rules && a.keepalived) throw new UsageError("give --rules or --keepalived, not both");
  if (!a.config && !a.interface) {
    throw new UsageError("give --config FILE, or --interface IF (with --rules FILE or --keepalived FILE, or none to start with an empty table)");
  }
  return a;
}

/** Read and validate the rules the daemon was started with (again, on reload). What a
 *  keepalived.conf says that ringvs does not apply is logged, never dropped silently. */
async function loadRules(a: ServeArgs): Promise<ConfigResult> {
  if (a.config) return loadConfigFile(a.config);
  const path = a.rules ?? a.keepalived;
  let text = "";
  // No rules file: an empty table, as ipvsadm starts with; a reload then empties it again.
  if (path !== undefined) try {
    text = await Bun.file(path).text();
  } catch (e) {
    return { ok: false, errors: [{ source: path, field: "", message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  const cpus = a.cpus?.split(",").map(Number) ?? null;
  const workers = { count: a.workers ? Number(a.workers) : (cpus?.length ?? 1), cpus };
  const opts = { interface: a.interface!, vipMode: a.vipMode, tunnelSource: a.tunnelSource, workers };
  if (!a.keepalived) return parseIpvsadmRules(text, a.rules ?? "(no rules file)", opts);
  const k = parseKeepalived(text, a.keepalived, opts);
  if (!k.ok) return k;
  for (const u of k.unsupported) log(`${a.keepalived}:${u.line}: ${u.directive}: ${u.reason}`);
  return { ok: true, config: k.config };
}

/** `ringvs import-keepalived FILE --interface IF`: the JSON config on stdout, what is not carried
 *  over on stderr (one line each), exit 1 when the file has errors. */
export async function importKeepalived(argv: string[]): Promise<number> {
  const [file, ...rest] = argv;
  if (!file || file.startsWith("-")) throw new UsageError("import-keepalived needs a keepalived.conf path");
  const a = parseServeArgs(["--keepalived", file, ...rest]);
  const text = await Bun.file(file).text().catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`${file}: cannot read the file: ${e.code ?? e.message}`);
  });
  const k = parseKeepalived(text, file, { interface: a.interface!, vipMode: a.vipMode, tunnelSource: a.tunnelSource });
  if (!k.ok) {
    for (const e of k.errors) process.stderr.write(`ringvs: ${formatConfigError(e)}\n`);
    return 1;
  }
  for (const u of k.unsupported) process.stderr.write(`${file}:${u.line}: ${u.directive}: ${u.reason}\n`);
  await Bun.write(Bun.stdout, keepalivedToJson(k)); // whole before the process exits
  return 0;
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ringvs: ${msg}\n`);
}

/** Events leave in order, each written whole before the next; the returned promise settles when
 *  this one is out. The process exits right after "stopped", and a process.stdout.write into a
 *  pipe that has not taken it all yet (its counters for thousands of services) is cut off there. */
let events: Promise<unknown> = Promise.resolve();
function emit(event: string, data: object): Promise<unknown> {
  const line = JSON.stringify({ event, ...data }) + "\n";
  events = events.then(() => Bun.write(Bun.stdout, line));
  return events;
}

/** Services a log line names one by one; a table of 10,000 made a line of a megabyte. */
const SUMMARY_SERVICES = 20;

function summary(config: DirectorConfig): string {
  if (config.services.length === 0) return "no services (an empty table; add them with -A/-a)";
  const shown = config.services.slice(0, SUMMARY_SERVICES).map((s) => `${serviceLabel(s)} ${s.scheduler} -> ${s.realServers.length} real server(s)`);
  const rest = config.services.length - shown.length;
  if (rest === 0) return shown.join("; ");
  const entries = config.services.reduce((n, s) => n + s.realServers.length, 0);
  return `${shown.join("; ")}; and ${rest} more (${config.services.length} services, ${entries} real-server entries in all)`;
}

export async function serve(argv: string[], checkOnly: boolean): Promise<number> {
  const args = parseServeArgs(argv);
  const t0 = performance.now();
  const loaded = await loadRules(args);
  const rulesMs = Math.round(performance.now() - t0);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`ringvs: ${formatConfigError(e)}\n`);
    process.stderr.write(`ringvs: ${loaded.errors.length} error(s); nothing started\n`);
    return 1;
  }
  const config = loaded.config;
  if (checkOnly) {
    process.stdout.write(`ok: ${config.services.length} service(s), ${config.services.reduce((n, s) => n + s.realServers.length, 0)} real server(s)\n`);
    return 0;
  }
  let director: Director;
  try {
    director = await Director.start(config, log);
  } catch (e) {
    const msg = e instanceof ShimError && e.errno === 1
      ? `${e.message}: ringvs needs root (CAP_NET_RAW, CAP_NET_ADMIN)`
      : (e as Error).message;
    log(`cannot start: ${msg}`);
    return 1;
  }
  const control = new Control(config, {
    apply: (next) => director.apply(next),
    stats: () => director.stats(),
    connectionPages: () => director.connectionPages(),
    traffic: (from, to) => director.traffic(from, to),
  });

  /** Reload: the new rules are validated first; a bad file changes nothing and says where. */
  const reload = async (): Promise<ControlReply> => {
    const next = await loadRules(args);
    if (!next.ok) {
      const text = next.errors.map((e) => `ringvs: ${formatConfigError(e)}\n`).join("");
      log(`reload refused, nothing changed:\n${text.trimEnd()}`);
      return { code: 1, stdout: "", stderr: `${text}ringvs: ${next.errors.length} error(s); nothing changed\n` };
    }
    const r = await control.replace(next.config);
    if (!r.ok) {
      log(`reload failed, nothing changed: ${r.error.message}`);
      return { code: 1, stdout: "", stderr: `ringvs: reload failed, nothing changed: ${r.error.message}\n` };
    }
    log(`reloaded: ${summary(next.config)}`);
    void emit("reloaded", { services: next.config.services.length });
    return { code: 0, stdout: "", stderr: "" };
  };

  const handle = async (req: ControlRequest): Promise<ControlReply> => {
    if (req.op === "ping") return { code: 0, stdout: "pong\n", stderr: "" };
    if (req.op === "reload") return reload();
    return runIpvsadmInParts(req.argv, control, { stdin: req.stdin });
  };

  const socketPath = args.socket ?? process.env.RINGVS_SOCKET ?? DEFAULT_SOCKET;
  let server: ControlServer;
  try {
    server = await ControlServer.listen(socketPath, handle);
  } catch (e) {
    log(`cannot listen on ${socketPath}: ${(e as Error).message}`);
    control.stop();
    await director.stop();
    director.close();
    return 1;
  }

  let metrics: { stop(): void; port: number } | null = null;
  if (config.metrics) {
    try {
      metrics = serveMetrics(config.metrics.listen, () => ({ stats: director.stats(), snapshot: control.snapshot() }));
      log(`metrics on http://${config.metrics.listen}/metrics`);
    } catch (e) {
      log(`cannot serve metrics: ${(e as Error).message}`);
      server.stop();
      control.stop();
      await director.stop();
      director.close();
      return 1;
    }
  }

  const unresolved = director.unresolved();
  if (unresolved.length) log(`real servers without a MAC (not chosen until they resolve): ${unresolved.join(", ")}`);
  log(`forwarding on ${config.interfaces.join(",")}: ${summary(config)}; control socket ${socketPath}`);

  // Handlers first, "ready" last: whoever waits for ready may signal at once.
  process.on("SIGUSR1", () => void emit("stats", director.stats()));
  process.on("SIGHUP", () => void reload());
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping`);
      server.stop();
      metrics?.stop();
      control.stop();
      await director.stop();
      await emit("stopped", director.stats());
      director.close();
      resolve(0);
    };
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
    void emit("ready", { interface: config.interfaces.join(","), pid: process.pid, socket: socketPath, vips: director.vipPlacement, unresolved, startupMs: { rules: rulesMs, ...director.startupMs } });
  });
}
