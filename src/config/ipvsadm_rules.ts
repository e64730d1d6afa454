// The second front end: a rules file in `ipvsadm-save -n` form (what operators keep in
// /etc/ipvsadm.rules or /etc/sysconfig/ipvsadm) -> DirectorConfig.
//
// It reads the file the way `ipvsadm-restore` feeds it to ipvsadm: one command per line, popt-style
// options (short clusters, attached values, `--long=value`, `-p` with an optional value), the
// same defaults (-s wlc, -p 360, -w 1, -g) and the same structural errors ("Service not
// defined"). The file is the complete desired state, so only -A and -a belong in it. What ringvs
// cannot do yet is refused by name on its line. The assembled result then goes through the same
// schema as the JSON file, and the schema's findings are mapped back to the line and option.

import {
  DEFAULT_PERSISTENCE_NETMASK,
  DEFAULT_PERSISTENCE_TIMEOUT,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  formatPath,
  parseIPv4,
  validateDirectorConfig,
  type ConfigPath,
} from "./schema.ts";
import { sortConfigErrors, type ConfigError, type ConfigResult } from "./load.ts";
import type { RingConfig, VipMode } from "./model.ts";

/** What a rules file cannot say: the director's own settings. */
export interface IpvsadmRulesOptions {
  interface: string;
  vipMode?: VipMode;
  ring?: Partial<RingConfig>;
  flowTableSize?: number;
}

// ---------------------------------------------------------------------------------------------
// The option table (rules as data, after ipvsadm's popt table and commands_v_options).

type ArgKind = "none" | "required" | "optional";

type Command = "add-service" | "add-server";
const BOTH: Command[] = ["add-service", "add-server"];
const SERVICE: Command[] = ["add-service"];
const SERVER: Command[] = ["add-server"];

/** The ipvsadm option class an option fills; each may be given once per line. */
type Slot = "service" | "scheduler" | "persistent" | "netmask" | "real-server" | "forward" | "weight";

type Role =
  | { kind: "command"; command: Command }
  | { kind: "slot"; slot: Slot }
  /** Known to ipvsadm but not accepted here; `message` says why. `on` lists the commands the
   *  option belongs to (elsewhere it is merely illegal); `fills` the slot it would have filled. */
  | { kind: "refused"; message: string; isCommand: boolean; on?: Command[]; fills?: Slot }
  /** Listing/daemon options: legal ipvsadm, but never with -A or -a. */
  | { kind: "illegal" };

interface OptionDef {
  short?: string;
  long: string;
  arg: ArgKind;
  role: Role;
}

const refuse = (on: Command[], message: string, fills?: Slot): Role =>
  fills ? { kind: "refused", isCommand: false, on, message, fills } : { kind: "refused", isCommand: false, on, message };
const refuseCommand = (message: string): Role => ({ kind: "refused", isCommand: true, message });

const notARule = (what: string) =>
  `${what} does not belong in a rules file: ringvs reads the file as the complete desired state, ` +
  "as ipvsadm-save -n writes it (only -A and -a lines)";

const OPTIONS: readonly OptionDef[] = [
  { short: "A", long: "add-service", arg: "none", role: { kind: "command", command: "add-service" } },
  { short: "a", long: "add-server", arg: "none", role: { kind: "command", command: "add-server" } },
  { short: "t", long: "tcp-service", arg: "required", role: { kind: "slot", slot: "service" } },
  { short: "u", long: "udp-service", arg: "required", role: { kind: "slot", slot: "service" } },
  { short: "s", long: "scheduler", arg: "required", role: { kind: "slot", slot: "scheduler" } },
  { short: "p", long: "persistent", arg: "optional", role: { kind: "slot", slot: "persistent" } },
  { short: "M", long: "netmask", arg: "required", role: { kind: "slot", slot: "netmask" } },
  { short: "r", long: "real-server", arg: "required", role: { kind: "slot", slot: "real-server" } },
  { short: "g", long: "gatewaying", arg: "none", role: { kind: "slot", slot: "forward" } },
  { short: "w", long: "weight", arg: "required", role: { kind: "slot", slot: "weight" } },

  { short: "m", long: "masquerading", arg: "none", role: refuse(SERVER, "NAT forwarding (-m) is not supported: ringvs does DR (-g) and, later, TUN (-i)") },
  { short: "i", long: "ipip", arg: "none", role: refuse(SERVER, "TUN forwarding (-i) is not supported yet") },
  { short: "f", long: "fwmark-service", arg: "required", role: refuse(BOTH, "firewall-mark services (-f) are not supported yet", "service") },
  { short: "x", long: "u-threshold", arg: "required", role: refuse(SERVER, "connection thresholds (-x) are not supported yet") },
  { short: "y", long: "l-threshold", arg: "required", role: refuse(SERVER, "connection thresholds (-y) are not supported yet") },
  { short: "b", long: "sched-flags", arg: "required", role: refuse(SERVICE, "scheduler flags (-b) are not supported yet") },
  { short: "o", long: "ops", arg: "none", role: refuse(SERVICE, "one-packet scheduling (-o) is not supported yet") },
  { short: "6", long: "ipv6", arg: "none", role: refuse(BOTH, "IPv6 is not supported yet") },
  { long: "pe", arg: "required", role: refuse(SERVICE, "persistence engines (--pe) are not supported yet") },
  ...["tun-type", "tun-port"].map((long): OptionDef => ({ long, arg: "required", role: refuse(SERVER, `tunnel options (--${long}) are not supported yet`) })),
  ...["tun-nocsum", "tun-csum", "tun-remcsum"].map((long): OptionDef => ({ long, arg: "none", role: refuse(SERVER, `tunnel options (--${long}) are not supported yet`) })),

  { short: "E", long: "edit-service", arg: "none", role: refuseCommand(notARule("-E (edit-service)")) },
  { short: "e", long: "edit-server", arg: "none", role: refuseCommand(notARule("-e (edit-server)")) },
  { short: "D", long: "delete-service", arg: "none", role: refuseCommand(notARule("-D (delete-service)")) },
  { short: "d", long: "delete-server", arg: "none", role: refuseCommand(notARule("-d (delete-server)")) },
  { short: "C", long: "clear", arg: "none", role: refuseCommand(notARule("-C (clear)")) },
  { short: "L", long: "list", arg: "none", role: refuseCommand(notARule("-L (list)")) },
  { short: "l", long: "list", arg: "none", role: refuseCommand(notARule("-l (list)")) },
  { short: "Z", long: "zero", arg: "none", role: refuseCommand(notARule("-Z (zero)")) },
  { short: "R", long: "restore", arg: "none", role: refuseCommand(notARule("-R (restore)")) },
  { short: "S", long: "save", arg: "none", role: refuseCommand(notARule("-S (save)")) },
  { short: "h", long: "help", arg: "none", role: refuseCommand(notARule("-h (help)")) },
  { short: "v", long: "version", arg: "none", role: refuseCommand(notARule("-v (version)")) },
  { long: "set", arg: "none", role: refuseCommand("connection timeouts (--set) are not supported yet, and do not belong in a rules file") },
  { long: "start-daemon", arg: "required", role: refuseCommand("the connection sync daemon (--start-daemon) is not supported") },
  { long: "stop-daemon", arg: "required", role: refuseCommand("the connection sync daemon (--stop-daemon) is not supported") },

  { short: "n", long: "numeric", arg: "none", role: { kind: "illegal" } },
  { short: "c", long: "connection", arg: "none", role: { kind: "illegal" } },
  { short: "X", long: "exact", arg: "none", role: { kind: "illegal" } },
  ...["stats", "rate", "thresholds", "persistent-conn", "nosort", "sort", "timeout", "daemon"].map(
    (long): OptionDef => ({ long, arg: "none", role: { kind: "illegal" } }),
  ),
  ...["mcast-interface", "syncid"].map((long): OptionDef => ({ long, arg: "required", role: { kind: "illegal" } })),
];

const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short as string, o]));
const BY_LONG = new Map<string, OptionDef>();
for (const o of OPTIONS) if (!BY_LONG.has(o.long)) BY_LONG.set(o.long, o);

/** Per command: '+' compulsory, ' ' optional; a slot not listed is illegal (commands_v_options). */
const LEGAL: Record<Command, Partial<Record<Slot, "+" | " ">>> = {
  "add-service": { service: "+", scheduler: " ", persistent: " ", netmask: " " },
  "add-server": { service: "+", "real-server": "+", forward: " ", weight: " " },
};

/** The short spelling of each slot, used to name an option that is missing. */
const SLOT_OPTION: Record<Slot, string> = {
  service: "-t",
  scheduler: "-s",
  persistent: "-p",
  netmask: "-M",
  "real-server": "-r",
  forward: "-g",
  weight: "-w",
};

// ---------------------------------------------------------------------------------------------
// One line -> one command with its options.

interface GivenOption {
  def: OptionDef;
  /** As written: "-w", "--weight". */
  written: string;
  arg?: string;
}

interface LineProblem {
  field: string;
  value?: string;
  message: string;
}

/** Splits a line into words; a word starting with '#' starts a comment. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const w of line.trim().split(/\s+/)) {
    if (w === "") continue;
    if (w.startsWith("#")) break;
    out.push(w);
  }
  return out;
}

/** popt-style scan of one line's words. */
function scanOptions(ws: string[], problems: LineProblem[]): GivenOption[] {
  const given: GivenOption[] = [];
  let k = 0;
  const takeArg = (def: OptionDef, written: string, attached: string | undefined): GivenOption => {
    if (attached !== undefined) return { def, written, arg: attached };
    const next = ws[k];
    if (def.arg === "required") {
      if (next === undefined) {
        problems.push({ field: written, message: "option requires a value" });
        return { def, written };
      }
      k++;
      return { def, written, arg: next };
    }
    // Optional value (-p): popt takes the next word unless it looks like an option.
    if (next !== undefined && !next.startsWith("-")) {
      k++;
      return { def, written, arg: next };
    }
    return { def, written };
  };
  while (k < ws.length) {
    const w = ws[k++];
    if (w.startsWith("--") && w.length > 2) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      const attached = eq < 0 ? undefined : w.slice(eq + 1);
      const def = BY_LONG.get(name);
      const written = `--${name}`;
      if (!def) {
        problems.push({ field: written, message: "unknown option" });
        continue;
      }
      if (def.arg === "none") {
        if (attached !== undefined) problems.push({ field: written, value: attached, message: "option takes no value" });
        given.push({ def, written });
      } else {
        given.push(takeArg(def, written, attached));
      }
      continue;
    }
    if (w.startsWith("-") && w.length > 1) {
      // A cluster such as -At or -r10.0.0.1: flags until one that takes a value, which gets the rest.
      for (let c = 1; c < w.length; c++) {
        const written = `-${w[c]}`;
        const def = BY_SHORT.get(w[c]);
        if (!def) {
          problems.push({ field: written, message: "unknown option" });
          break;
        }
        if (def.arg === "none") {
          given.push({ def, written });
          continue;
        }
        const rest = w.slice(c + 1);
        given.push(takeArg(def, written, rest === "" ? undefined : rest));
        break;
      }
      continue;
    }
    problems.push(
      w === "ops"
        ? { field: "ops", message: "one-packet scheduling (ops) is not supported yet" }
        : { field: w, message: "unexpected argument" },
    );
  }
  return given;
}

interface AddrPort {
  address: string;
  /** Absent when the text had no ":port". */
  port?: number;
}

/** Parses `ADDR[:PORT]` the numeric way ipvsadm-save -n writes it. */
function parseAddrPort(text: string): AddrPort | string {
  if (text.startsWith("[") || (text.match(/:/g) ?? []).length > 1) return "IPv6 is not supported yet";
  const colon = text.lastIndexOf(":");
  const host = colon < 0 ? text : text.slice(0, colon);
  const portText = colon < 0 ? undefined : text.slice(colon + 1);
  if (parseIPv4(host) === null) {
    return /^[0-9.]*$/.test(host)
      ? `'${host}' is not an IPv4 address in dotted-quad form`
      : `'${host}' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)`;
  }
  if (portText === undefined) return { address: host };
  if (/^[0-9]+$/.test(portText) && Number(portText) <= 65535) return { address: host, port: Number(portText) };
  return /^[A-Za-z]/.test(portText)
    ? `port '${portText}' is a service name; only numeric ports are accepted (write the rules with ipvsadm-save -n)`
    : `'${portText}' is not a port (0..65535)`;
}

// ---------------------------------------------------------------------------------------------
// Assembling the services.

interface RawRealServer {
  address: string;
  port: number;
  weight: number;
  forward: "dr";
}

interface RawService {
  protocol: "tcp" | "udp";
  address: string;
  port: number;
  scheduler: string;
  persistence: { timeout: number; netmask: string } | null;
  realServers: RawRealServer[];
}

/** Where each assembled piece came from, to send schema findings back to a line and option. */
interface Origin {
  line: number;
  /** Slot -> the option as written and its value as written. */
  options: Map<Slot, GivenOption>;
}

interface ServiceEntry {
  raw: RawService;
  origin: Origin;
  serverOrigins: Origin[];
  /** Address -> line of its -a, for "Destination already exists". */
  serverLines: Map<string, number>;
}

function serviceKey(protocol: string, address: string, port: number): string {
  return `${protocol} ${address}:${port}`;
}

/** Parses an `ipvsadm-save -n` rules file. `opts` supplies what the file cannot say (the
 *  interface, ring, flow table). Never throws: every problem names its line, option and value. */
export function parseIpvsadmRules(text: string, sourceName: string, opts: IpvsadmRulesOptions): ConfigResult {
  const errors: ConfigError[] = [];
  const services: ServiceEntry[] = [];
  const byKey = new Map<string, ServiceEntry>();
  // Services whose -A line was wrong: their -a lines are still checked, but not reported as
  // "not defined" on top of the -A error.
  const failedKeys = new Set<string>();

  const lines = text.split(/\r?\n/);
  lines.forEach((lineText, index) => {
    const line = index + 1;
    const problems: LineProblem[] = [];
    const report = () => {
      for (const p of problems) {
        const e: ConfigError = { source: sourceName, line, field: p.field, message: p.message };
        if (p.value !== undefined) e.value = p.value;
        errors.push(e);
      }
    };

    let ws = words(lineText);
    if (ws.length === 0) return;
    if (ws[0] === "ipvsadm" || ws[0].endsWith("/ipvsadm")) {
      if (ws.length === 1) {
        problems.push({ field: ws[0], message: "no command on this line (expected -A or -a)" });
        return report();
      }
      ws = ws.slice(1);
    }

    const given = scanOptions(ws, problems);

    // Exactly one command, and a refused command ends the line: its options mean nothing here.
    const commands = given.filter((g) => g.def.role.kind === "command" || (g.def.role.kind === "refused" && g.def.role.isCommand));
    if (commands.length === 0) {
      if (problems.length === 0) problems.push({ field: ws[0], message: "no command on this line (expected -A or -a)" });
      return report();
    }
    if (commands.length > 1) {
      problems.push({ field: commands[1].written, message: `multiple commands specified (${commands.map((c) => c.written).join(", ")})` });
      return report();
    }
    const cmd = commands[0];
    if (cmd.def.role.kind === "refused") {
      problems.push({ field: cmd.written, message: cmd.def.role.message });
      return report();
    }
    if (cmd.def.role.kind !== "command") return report();
    const command = cmd.def.role.command;

    const options = new Map<Slot, GivenOption>();
    // Slots given by a refused option (-f for the service): already reported, not "missing".
    const refusedSlots = new Set<Slot>();
    for (const g of given) {
      const role = g.def.role;
      if (role.kind === "command") continue;
      if (role.kind === "refused") {
        if (role.on && !role.on.includes(command)) {
          problems.push({ field: g.written, message: `illegal option with the '${command}' command` });
          continue;
        }
        problems.push({ field: g.written, ...(g.arg !== undefined ? { value: g.arg } : {}), message: role.message });
        if (role.fills) refusedSlots.add(role.fills);
        continue;
      }
      if (role.kind === "illegal") {
        problems.push({ field: g.written, message: `illegal option with the '${command}' command` });
        continue;
      }
      if (LEGAL[command][role.slot] === undefined) {
        problems.push({ field: g.written, message: `illegal option with the '${command}' command` });
        continue;
      }
      const before = options.get(role.slot);
      if (before) {
        problems.push({ field: g.written, message: `given twice on this line (with ${before.written})` });
        continue;
      }
      options.set(role.slot, g);
    }
    for (const [slot, need] of Object.entries(LEGAL[command]) as [Slot, string][]) {
      if (need === "+" && !options.has(slot) && !refusedSlots.has(slot)) {
        problems.push({ field: SLOT_OPTION[slot], message: `required with the '${command}' command` });
      }
    }

    // The service the line is about (-t/-u ADDR:PORT).
    const svcOpt = options.get("service");
    let key: string | undefined;
    let svc: { protocol: "tcp" | "udp"; address: string; port: number } | undefined;
    if (svcOpt && svcOpt.arg !== undefined) {
      const protocol = svcOpt.def.short === "u" ? "udp" : "tcp";
      const ap = parseAddrPort(svcOpt.arg);
      if (typeof ap === "string") {
        problems.push({ field: svcOpt.written, value: svcOpt.arg, message: ap });
      } else if (!ap.port) {
        problems.push({
          field: svcOpt.written,
          value: svcOpt.arg,
          message:
            (ap.port === undefined ? "no port given (ipvsadm takes port 0); " : "") +
            "port-0 services (persistent, all ports) are not supported: give the service its port",
        });
      } else {
        svc = { protocol, address: ap.address, port: ap.port };
        key = serviceKey(protocol, ap.address, ap.port);
      }
    }

    if (command === "add-service") {
      let persistence: RawService["persistence"] = null;
      const p = options.get("persistent");
      if (p) {
        let timeout = DEFAULT_PERSISTENCE_TIMEOUT;
        if (p.arg !== undefined) {
          if (/^[0-9]+$/.test(p.arg)) timeout = Number(p.arg);
          else problems.push({ field: p.written, value: p.arg, message: "invalid timeout: must be a number of seconds" });
        }
        persistence = { timeout, netmask: options.get("netmask")?.arg ?? DEFAULT_PERSISTENCE_NETMASK };
      } else if (options.has("netmask")) {
        const m = options.get("netmask") as GivenOption;
        problems.push({ field: m.written, value: m.arg, message: "has no effect without -p (persistence)" });
      }
      if (key !== undefined) {
        const first = byKey.get(key);
        if (first) {
          problems.push({
            field: (svcOpt as GivenOption).written,
            value: (svcOpt as GivenOption).arg,
            message: `service already exists (defined on line ${first.origin.line})`,
          });
        }
      }
      if (problems.length > 0 || !svc || key === undefined) {
        if (key !== undefined && !byKey.has(key)) failedKeys.add(key);
        return report();
      }
      const entry: ServiceEntry = {
        raw: {
          ...svc,
          scheduler: options.get("scheduler")?.arg ?? DEFAULT_SCHEDULER,
          persistence,
          realServers: [],
        },
        origin: { line, options },
        serverOrigins: [],
        serverLines: new Map(),
      };
      services.push(entry);
      byKey.set(key, entry);
      return report();
    }

    // add-server
    let server: RawRealServer | undefined;
    const r = options.get("real-server");
    if (r && r.arg !== undefined) {
      const ap = parseAddrPort(r.arg);
      if (typeof ap === "string") problems.push({ field: r.written, value: r.arg, message: ap });
      else if (svc) server = { address: ap.address, port: ap.port ?? svc.port, weight: DEFAULT_WEIGHT, forward: "dr" };
    }
    const w = options.get("weight");
    if (w && w.arg !== undefined && server) {
      if (/^[0-9]+$/.test(w.arg)) server.weight = Number(w.arg);
      else problems.push({ field: w.written, value: w.arg, message: "must be an integer 0..65535" });
    }
    const entry = key !== undefined ? byKey.get(key) : undefined;
    if (key !== undefined && !entry && !failedKeys.has(key)) {
      problems.push({
        field: (svcOpt as GivenOption).written,
        value: (svcOpt as GivenOption).arg,
        message: `service ${key} is not defined by an earlier -A line (ipvsadm: "Service not defined")`,
      });
    }
    if (entry && server) {
      const firstLine = entry.serverLines.get(server.address);
      if (firstLine !== undefined) {
        problems.push({
          field: (r as GivenOption).written,
          value: (r as GivenOption).arg,
          message: `real server ${server.address} already exists in this service (added on line ${firstLine})`,
        });
      }
    }
    if (problems.length === 0 && entry && server) {
      entry.raw.realServers.push(server);
      entry.serverOrigins.push({ line, options });
      entry.serverLines.set(server.address, line);
    }
    report();
  });

  const input = {
    interface: opts.interface,
    vipMode: opts.vipMode,
    ring: opts.ring,
    flowTableSize: opts.flowTableSize,
    services: services.map((s) => s.raw),
  };
  const checked = validateDirectorConfig(input);
  if (checked.ok && errors.length === 0) return { ok: true, config: checked.config };
  if (!checked.ok) {
    for (const issue of checked.issues) {
      // With broken lines already reported, "no services" is their echo, not news.
      if (issue.field === "services" && errors.length > 0) continue;
      errors.push(schemaIssueToError(issue.path, issue.field, issue.value, issue.message, services, sourceName));
    }
  }
  return { ok: false, errors: sortConfigErrors(errors) };
}

/** Which option of a rules line produced the field at `path` inside a service or real server. */
const FIELD_SLOT: Record<string, Slot> = {
  protocol: "service",
  address: "service",
  port: "service",
  scheduler: "scheduler",
  persistence: "persistent",
  timeout: "persistent",
  netmask: "netmask",
  weight: "weight",
  forward: "forward",
};

function schemaIssueToError(
  path: ConfigPath,
  field: string,
  value: unknown,
  message: string,
  services: ServiceEntry[],
  source: string,
): ConfigError {
  const entry = path[0] === "services" && typeof path[1] === "number" ? services[path[1]] : undefined;
  if (!entry) {
    // The caller's settings (interface, ring, ...): no line in the file to point at.
    const e: ConfigError = { source, field: field === "" ? formatPath(path) : field, message };
    if (value !== undefined) e.value = value;
    return e;
  }
  const inServer = path[2] === "realServers" && typeof path[3] === "number";
  const origin = inServer ? (entry.serverOrigins[path[3] as number] ?? entry.origin) : entry.origin;
  const leaf = String(path[path.length - 1]);
  const slot: Slot | undefined = inServer && (leaf === "address" || leaf === "port") ? "real-server" : FIELD_SLOT[leaf];
  const given = slot ? origin.options.get(slot) : undefined;
  const e: ConfigError = { source, line: origin.line, field: given?.written ?? (slot ? SLOT_OPTION[slot] : field), message };
  if (slot === "scheduler" && !given) e.message += ` (this line has no -s, and ipvsadm's default is ${DEFAULT_SCHEDULER})`;
  // Addresses are shown as written (with their port); numbers as the schema saw them.
  const shown = slot === "service" || slot === "real-server" ? given?.arg : value;
  if (shown !== undefined) e.value = shown;
  return e;
}
