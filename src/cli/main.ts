#!/usr/bin/env bun
// ringvs command line. A thin shell over the director: parse arguments, load and validate the
// rules, start, report, stop cleanly on SIGINT/SIGTERM.
//
//   ringvs serve --config FILE                      JSON config (see README)
//   ringvs serve --interface IF --rules FILE        an `ipvsadm-save -n` file as it is
//                [--vip-mode auto|local|arp] [--tunnel-source ADDR]
//   ringvs check  (same options as serve)           validate only, start nothing
//   ringvs version
//
// While serving: stdout carries one JSON object per line ({"event":"ready"}, {"event":"stats"} on
// SIGUSR1, {"event":"stopped"} with the final counters); stderr carries the log.
import { formatConfigError, loadConfigFile, type ConfigResult } from "../config/load.ts";
import { parseIpvsadmRules } from "../config/ipvsadm_rules.ts";
import type { VipMode } from "../config/model.ts";
import { Director } from "../control/director.ts";
import { serviceLabel } from "../config/service.ts";
import { ShimError } from "../dataplane/ffi.ts";
import pkg from "../../package.json" with { type: "json" };

const USAGE = `usage:
  ringvs serve --config FILE
  ringvs serve --interface IF --rules FILE [--vip-mode auto|local|arp] [--tunnel-source ADDR]
  ringvs check --config FILE | --interface IF --rules FILE [--vip-mode MODE] [--tunnel-source ADDR]
  ringvs version`;

class UsageError extends Error {}

interface ServeArgs {
  config?: string;
  interface?: string;
  rules?: string;
  vipMode?: VipMode;
  tunnelSource?: string;
}

const FLAGS: Record<string, keyof ServeArgs> = {
  "--config": "config", "-c": "config",
  "--interface": "interface", "-i": "interface",
  "--rules": "rules", "-r": "rules",
  "--vip-mode": "vipMode",
  "--tunnel-source": "tunnelSource",
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
    (a as Record<string, string>)[key] = value;
  }
  if (a.config && (a.rules || a.interface || a.vipMode || a.tunnelSource)) {
    throw new UsageError("--config cannot be combined with --interface/--rules/--vip-mode/--tunnel-source (put them in the file)");
  }
  if (!a.config && !(a.interface && a.rules)) throw new UsageError("give --config FILE, or --interface IF and --rules FILE");
  return a;
}

async function loadRules(a: ServeArgs): Promise<ConfigResult> {
  if (a.config) return loadConfigFile(a.config);
  let text: string;
  try {
    text = await Bun.file(a.rules!).text();
  } catch (e) {
    return { ok: false, errors: [{ source: a.rules!, field: "", message: `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  return parseIpvsadmRules(text, a.rules!, { interface: a.interface!, vipMode: a.vipMode, tunnelSource: a.tunnelSource });
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ringvs: ${msg}\n`);
}

function emit(event: string, data: object): void {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

async function serve(argv: string[], checkOnly: boolean): Promise<number> {
  const args = parseServeArgs(argv);
  const loaded = await loadRules(args);
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
  const unresolved = director.unresolved();
  if (unresolved.length) log(`real servers without a MAC (not chosen until they resolve): ${unresolved.join(", ")}`);
  log(`forwarding on ${config.interface}: ${config.services.map((s) => `${serviceLabel(s)} ${s.scheduler} -> ${s.realServers.length} real server(s)`).join("; ")}`);
  emit("ready", { interface: config.interface, pid: process.pid, vips: director.vipPlacement, unresolved });

  process.on("SIGUSR1", () => emit("stats", director.stats()));
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping`);
      await director.stop();
      emit("stopped", director.stats());
      director.close();
      resolve(0);
    };
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "serve":
        return await serve(rest, false);
      case "check":
        return await serve(rest, true);
      case "version":
      case "--version":
        process.stdout.write(`ringvs ${pkg.version}\n`);
        return 0;
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE + "\n");
        return 0;
      default:
        throw new UsageError(cmd ? `unknown command ${cmd}` : "no command given");
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ringvs: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}

process.exit(await main(process.argv.slice(2)));
