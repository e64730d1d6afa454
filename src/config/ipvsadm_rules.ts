// The second front end: a rules file in `ipvsadm-save -n` form (what operators keep in
// /etc/ipvsadm.rules or /etc/sysconfig/ipvsadm) -> DirectorConfig.
//
// A rules file is what `ipvsadm -R` reads, so it is read by -R's own code: every line through the
// one ipvsadm parser (src/cli/ipvsadm/parse.ts) and run against a control library without a data
// plane, which only keeps the tables (src/cli/ipvsadm/restore.ts). -R and the file therefore take
// and refuse the same lines. Unlike -R, the file is read on past a refused line, so that every bad
// line is reported, in line order, each naming its option and value as written with ringvs's
// explanation. The table the good lines built then goes through the same schema as the JSON config,
// with the caller's settings, and what the schema finds is sent back to the line it came from.
//
// The file is the complete desired state, so only -A, -a and --set belong in it (what
// ipvsadm-save writes, and the timeouts restore scripts carry; 0 keeps a value as it was). A
// `-A -f MARK` service takes its members from `# ringvs: fwmark MARK = ...` lines anywhere in the
// file (fwmark_directive.ts).

import { keyIdentity, serviceIdentity, serviceKey } from "./service.ts";
import {
  FLOW_TABLE_DEFAULT_SIZE, RING_DEFAULTS, TIMEOUT_DEFAULTS, WORKERS_DEFAULT,
  type DirectorConfig, type RingConfig, type VipMode, type WorkersConfig,
} from "./model.ts";
import { ENTRIES_OVER_CAPACITY, entryOverCapacity, formatPath, serviceToInput, validateDirectorConfig, type ConfigIssue } from "./schema.ts";
import { sortConfigErrors, type ConfigError, type ConfigResult } from "./load.ts";
import { readDirectives, type Directives } from "./fwmark_directive.ts";
import { Control } from "../control/control.ts";
import { entryServiceKey, parseCommand, type CommandEntry, type ParsedCommand } from "../cli/ipvsadm/parse.ts";
import { lineWords } from "../cli/ipvsadm/scan.ts";
import { spellingOf, type CommandName } from "../cli/ipvsadm/options.ts";
import { ringvsRefuses, tryHelp, type LineProblem } from "../cli/ipvsadm/problem.ts";
import { restoreLines, type InputPlaces, type RestoredLine } from "../cli/ipvsadm/restore.ts";
import type { OptionName } from "../cli/ipvsadm/table.ts";

/** What a rules file cannot say: the director's own settings. */
export interface IpvsadmRulesOptions {
  interface: string;
  vipMode?: VipMode;
  ring?: Partial<RingConfig>;
  flowTableSize?: number;
  /** Outer source address of TUN packets; absent or null = the route's preferred source. */
  tunnelSource?: string | null;
  workers?: Partial<WorkersConfig>;
}

// ---------------------------------------------------------------------------------------------
// What belongs in a rules file.

const RULE_COMMANDS: ReadonlySet<CommandName> = new Set(["add-service", "add-server", "set"]);

const notARule = (what: string) =>
  `${what} does not belong in a rules file: ringvs reads the file as the complete desired state, ` +
  "as ipvsadm-save -n writes it (only -A and -a lines, and --set)";

/** Refuses a line that is no -A, -a or --set before it runs. */
function admitRule(words: readonly string[], program: string | null, parsed: ParsedCommand | null): LineProblem[] | null {
  const ce = parsed?.entry;
  if (!ce) return [{ option: words[0] ?? program ?? "", message: "no command on this line (expected -A, -a or --set)", cli: tryHelp() }];
  if (RULE_COMMANDS.has(ce.command)) return null;
  const message = ce.command === "start-daemon" || ce.command === "stop-daemon"
    ? `the connection sync daemon (--${ce.command}) is not supported`
    : notARule(`-${ce.commandOption.short} (${ce.commandOption.long})`);
  return [{ option: ce.commandOption.written, message, cli: ringvsRefuses(message) }];
}

/** The table a rules file is restored into: empty, with the defaults. The caller's settings join
 *  when the result is validated. */
function emptyTable(iface: string): DirectorConfig {
  return {
    interface: iface, interfaces: [iface], timeouts: { ...TIMEOUT_DEFAULTS }, tunnelSource: null, vipMode: "auto",
    ring: { ...RING_DEFAULTS }, flowTableSize: FLOW_TABLE_DEFAULT_SIZE, workers: { ...WORKERS_DEFAULT }, services: [], metrics: null,
  };
}

// ---------------------------------------------------------------------------------------------

/** Parses an `ipvsadm-save -n` rules file. `opts` supplies what the file cannot say (the
 *  interface, ring, flow table). Never throws: every problem names its line, option and value. */
export async function parseIpvsadmRules(text: string, sourceName: string, opts: IpvsadmRulesOptions): Promise<ConfigResult> {
  const errors: ConfigError[] = [];
  const lines = text.split(/\r?\n/);
  const directives = readDirectives(lines);
  for (const { line, problem } of directives.problems) {
    errors.push({ source: sourceName, line, field: problem.field, ...(problem.value !== undefined ? { value: problem.value } : {}), message: problem.message });
  }

  const control = new Control(emptyTable(opts.interface));
  const { restored, places } = await restoreLines(lines, control, directives.members, { readOn: true, admit: admitRule });
  errors.push(...lineErrors(restored, places, directives, sourceName));

  // The caller's settings and the services go through the schema once more, the real servers
  // not: every one came in through -a's own checks (address, port, weight, thresholds, duplicate),
  // the same the daemon's -a makes, and validating 100,000 of them again was a second of a big
  // table's start-up. They join as the control library holds them (test/config/ipvsadm_rules.test.ts
  // checks that this is what validating them gives); the table's size is checked here instead.
  const table = control.current();
  const checked = validateDirectorConfig({
    interface: opts.interface,
    timeouts: table.timeouts,
    tunnelSource: opts.tunnelSource,
    vipMode: opts.vipMode,
    ring: opts.ring,
    flowTableSize: opts.flowTableSize,
    workers: opts.workers,
    services: table.services.map((s) => ({ ...serviceToInput(s), realServers: [] })),
  });
  const over = entryOverCapacity(table.services);
  if (checked.ok && !over && errors.length === 0) {
    return { ok: true, config: { ...checked.config, services: checked.config.services.map((s, i) => ({ ...s, realServers: table.services[i]!.realServers })) } };
  }
  const origins = new Origins(lines, table, places, directives);
  if (over) {
    const path = ["services", over.service, "realServers", over.realServer];
    const issue: ConfigIssue = { path, field: formatPath(path), message: ENTRIES_OVER_CAPACITY };
    errors.push(origins.locate(issue, table, sourceName));
  }
  if (!checked.ok) for (const issue of checked.issues) errors.push(origins.locate(issue, table, sourceName));
  return { ok: false, errors: sortConfigErrors(errors) };
}

/** The errors of the lines: every problem of every refused line, but not the echoes of one
 *  already reported (the -a lines of a service whose -A failed are not also "not defined", the
 *  -A of a mark whose directive line is broken is not also "without members"), and the directives
 *  of a mark no -A -f line names. */
function lineErrors(restored: readonly RestoredLine[], places: InputPlaces, directives: Directives, source: string): ConfigError[] {
  const errors: ConfigError[] = [];
  const failedServices = new Set<string>();
  const namedMarks = new Set<number>(places.marksDefined);
  for (const r of restored) {
    const ce = r.parsed?.entry;
    const key = ce ? entryServiceKey(ce) : null;
    if (ce?.command === "add-service" && key && "fwmark" in key) namedMarks.add(key.fwmark);
    for (const p of r.problems) {
      if (p.shadowed) continue;
      if (p.about === "undefined-service" && key && failedServices.has(keyIdentity(key))) continue;
      if (p.about === "memberless-mark" && key && "fwmark" in key && directives.brokenMarks.has(key.fwmark)) continue;
      errors.push({ source, line: p.writtenOn ?? r.line, field: p.option, ...(p.value !== undefined ? { value: p.value } : {}), message: p.message });
    }
    if (r.problems.length > 0 && ce?.command === "add-service" && key) failedServices.add(keyIdentity(key));
  }
  for (const [mark, members] of directives.members) {
    if (namedMarks.has(mark)) continue;
    for (const line of new Set(members.map((m) => m.line))) {
      errors.push({ source, line, field: `fwmark ${mark}`, message: `no "-A -f ${mark}" line defines this firewall-mark service` });
    }
  }
  return errors;
}

/** The option class a schema field of a service or real server comes from. */
const OPTION_OF_FIELD: Readonly<Record<string, OptionName>> = {
  protocol: "service-address",
  address: "service-address",
  port: "service-address",
  fwmark: "service-address",
  scheduler: "scheduler",
  schedulerFlags: "sched-flags",
  persistence: "persistent",
  timeout: "persistent",
  netmask: "netmask",
  weight: "weight",
  forward: "forwarding-method",
  upperThreshold: "u-threshold",
  lowerThreshold: "l-threshold",
};

/** Options whose value is shown as written (with its port, its whole flag list), not as the
 *  schema saw it. */
const SHOWN_AS_WRITTEN: ReadonlySet<OptionName> = new Set(["service-address", "real-server", "sched-flags"]);

/** The lines that built each service and real server of the table, to send the schema's findings
 *  about them back there. Built only when there is a finding: the lines that took effect are not
 *  kept (restoreLines), so the few a finding is about are read again. */
class Origins {
  private readonly services = new Map<string, { line: number; entry: CommandEntry }>();
  private readonly dests = new Map<string, { line: number; entry: CommandEntry }>();

  constructor(lines: readonly string[], table: DirectorConfig, places: InputPlaces, private readonly directives: Directives) {
    const entryOn = (line: number): CommandEntry | null => parseCommand(lineWords(lines[line - 1] ?? "").words, true).entry;
    for (const s of table.services) {
      const key = serviceKey(s);
      const line = places.serviceLine(key);
      const entry = line === null ? null : entryOn(line);
      if (line === null || !entry) continue;
      this.services.set(serviceIdentity(s), { line, entry });
      for (const r of s.realServers) {
        const at = places.destLine(key, r.address);
        const e = at === null ? null : entryOn(at);
        if (at !== null && e) this.dests.set(`${serviceIdentity(s)}>${r.address}`, { line: at, entry: e });
      }
    }
  }

  locate(issue: ConfigIssue, table: DirectorConfig, source: string): ConfigError {
    const { path } = issue;
    const s = path[0] === "services" && typeof path[1] === "number" ? table.services[path[1]] : undefined;
    const service = s ? this.services.get(serviceIdentity(s)) : undefined;
    if (!s || !service) {
      // The caller's settings (interface, ring, ...) have no line in the file.
      return { source, field: issue.field || formatPath(path), ...(issue.value !== undefined ? { value: issue.value } : {}), message: issue.message };
    }
    const message = issue.message.replace(/services\[(\d+)\]/g, (whole, i: string) => {
      const other = table.services[Number(i)];
      const at = other ? this.services.get(serviceIdentity(other)) : undefined;
      return at ? `the service on line ${at.line}` : whole;
    });
    if (path[2] === "members" && typeof path[3] === "number" && s.fwmark !== null) {
      const m = this.directives.members.get(s.fwmark)?.[path[3]];
      return { source, line: m?.line ?? service.line, field: `fwmark ${s.fwmark}`, ...(m ? { value: m.text } : {}), message };
    }
    const inDest = path[2] === "realServers" && typeof path[3] === "number";
    const dest = inDest ? this.dests.get(`${serviceIdentity(s)}>${s.realServers[path[3] as number]?.address}`) : undefined;
    const origin = dest ?? service;
    const fields = path.slice(inDest ? 4 : 2).filter((seg): seg is string => typeof seg === "string");
    const leaf = fields.at(-1);
    // A finding about a whole real server (or its address) is about its -r; about a whole service, its -t/-u/-f.
    const opt: OptionName = inDest && (leaf === undefined || leaf === "address" || leaf === "port")
      ? "real-server"
      : (OPTION_OF_FIELD[leaf ?? ""] ?? OPTION_OF_FIELD[fields[0] ?? ""] ?? "service-address");
    const given = origin.entry.given.get(opt);
    const value = SHOWN_AS_WRITTEN.has(opt) ? given?.arg : issue.value;
    return { source, line: origin.line, field: given?.written ?? spellingOf(opt), ...(value !== undefined ? { value } : {}), message };
  }
}
