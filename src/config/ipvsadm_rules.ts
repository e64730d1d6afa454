// The second front end: a rules file in `ipvsadm-save -n` form (what operators keep in
// /etc/ipvsadm.rules or /etc/sysconfig/ipvsadm) -> DirectorConfig.
//
// It reads the file the way `ipvsadm-restore` feeds it to ipvsadm: one command per line, popt-style
// options (short clusters, attached values, `--long=value`, `-p` with an optional value), the
// same defaults (-s wlc, -p 360, -w 1, -g, -x 0, -y 0) and the same structural errors ("Service not
// defined"). The file is the complete desired state, so only -A, -a and --set belong in it. What
// ringvs cannot do yet is refused by name on its line. The assembled result then goes through the
// same schema as the JSON file, and the schema's findings are mapped back to the line and option.
//
// One thing a rules file cannot say in ipvsadm's own words: which packets carry a firewall mark.
// The kernel learns that from iptables rules (`-j MARK --set-mark 1`) that ringvs, in user space,
// never sees. So a `-A -f MARK` service needs a ringvs directive, a comment to ipvsadm-restore:
//
//     # ringvs: fwmark 1 = tcp 198.18.0.100:80, tcp 198.18.0.100:443
//
// listing the PROTOCOL VIP:PORT pairs (port 0 = every port of the VIP) the mark stands for. It may
// stand anywhere in the file; several lines for one mark add up.
//
// -i (TUN, IPIP) is accepted with the --tun-type ipip that ipvsadm-save writes after it.
//
// --set tcp tcpfin udp is accepted (ipvsadm-save never writes it, but restore scripts carry it):
// each non-zero value sets that connection timeout; 0 keeps the value before it (the default, or
// an earlier --set line), as ipvsadm's 0 means "leave as is".

import {
  DEFAULT_PERSISTENCE_NETMASK,
  DEFAULT_PERSISTENCE_TIMEOUT,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  MAX_PERSISTENCE_TIMEOUT,
  MAX_THRESHOLD,
  SCHEDULER_FLAG_NAMES,
  formatPath,
  validateDirectorConfig,
  type ConfigPath,
} from "./schema.ts";
import { readsHashFlags } from "../sched/index.ts";
import { sortConfigErrors, type ConfigError, type ConfigResult } from "./load.ts";
import {
  BAD_MARK,
  IPVSADM_OPTIONS,
  fwmarkWithoutMembersMessage,
  optionId,
  parseAddrPort,
  parseCount,
  parseMark,
  parseMemberList,
  type ArgKind,
} from "./ipvsadm_syntax.ts";
import { readFwmarkDirective } from "./fwmark_directive.ts";
import type { Protocol, RingConfig, TimeoutConfig, VipMode, WorkersConfig } from "./model.ts";
import {
  attachFwmarkMembers,
  memberIssueToError,
  placesInFile,
  type MemberOrigin,
  type RawRealServer,
  type RawService,
} from "./raw_service.ts";

export type { MemberOrigin } from "./raw_service.ts";

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
// The option table (rules as data, after ipvsadm's popt table and commands_v_options).

type Command = "add-service" | "add-server" | "set";
const BOTH: Command[] = ["add-service", "add-server"];
const SERVICE: Command[] = ["add-service"];
const SERVER: Command[] = ["add-server"];

/** The ipvsadm option class an option fills; each may be given once per line. */
type Slot =
  | "service"
  | "scheduler"
  | "persistent"
  | "netmask"
  | "sched-flags"
  | "real-server"
  | "forward"
  | "weight"
  | "u-threshold"
  | "l-threshold"
  | "tun-type";

type Role =
  | { kind: "command"; command: Command }
  | { kind: "slot"; slot: Slot }
  /** Known to ipvsadm but not accepted here; `message` says why. `on` lists the commands the
   *  option belongs to (elsewhere it is merely illegal). */
  | { kind: "refused"; message: string; isCommand: boolean; on?: Command[] }
  /** Listing/daemon options: legal ipvsadm, but never with -A, -a or --set. */
  | { kind: "illegal" };

interface OptionDef {
  short?: string;
  long: string;
  arg: ArgKind;
  role: Role;
}

const refuse = (on: Command[], message: string): Role => ({ kind: "refused", isCommand: false, on, message });
const refuseCommand = (message: string): Role => ({ kind: "refused", isCommand: true, message });

const notARule = (what: string) =>
  `${what} does not belong in a rules file: ringvs reads the file as the complete desired state, ` +
  "as ipvsadm-save -n writes it (only -A and -a lines, and --set)";

/** What each option of ipvsadm's popt table (ipvsadm_syntax.ts) means in a rules file, by its
 *  short letter or, without one, its long name. */
const ROLES: Record<string, Role> = {
  A: { kind: "command", command: "add-service" },
  a: { kind: "command", command: "add-server" },
  set: { kind: "command", command: "set" },
  t: { kind: "slot", slot: "service" },
  u: { kind: "slot", slot: "service" },
  f: { kind: "slot", slot: "service" },
  s: { kind: "slot", slot: "scheduler" },
  p: { kind: "slot", slot: "persistent" },
  M: { kind: "slot", slot: "netmask" },
  b: { kind: "slot", slot: "sched-flags" },
  r: { kind: "slot", slot: "real-server" },
  g: { kind: "slot", slot: "forward" },
  i: { kind: "slot", slot: "forward" },
  "tun-type": { kind: "slot", slot: "tun-type" },
  w: { kind: "slot", slot: "weight" },
  x: { kind: "slot", slot: "u-threshold" },
  y: { kind: "slot", slot: "l-threshold" },

  m: refuse(SERVER, "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)"),
  o: refuse(SERVICE, "one-packet scheduling (-o) is not supported yet"),
  "6": refuse(BOTH, "IPv6 is not supported yet"),
  "sctp-service": refuse(BOTH, "SCTP services (--sctp-service) are not supported: ringvs balances TCP and UDP"),
  pe: refuse(SERVICE, "persistence engines (--pe) are not supported yet"),
  "tun-port": refuse(SERVER, "tunnel options (--tun-port) are not supported yet: ringvs tunnels with IPIP, which has no port"),
  ...Object.fromEntries(["tun-nocsum", "tun-csum", "tun-remcsum"].map((long) => [long, refuse(SERVER, `tunnel options (--${long}) are not supported yet`)])),

  E: refuseCommand(notARule("-E (edit-service)")),
  e: refuseCommand(notARule("-e (edit-server)")),
  D: refuseCommand(notARule("-D (delete-service)")),
  d: refuseCommand(notARule("-d (delete-server)")),
  C: refuseCommand(notARule("-C (clear)")),
  L: refuseCommand(notARule("-L (list)")),
  l: refuseCommand(notARule("-l (list)")),
  Z: refuseCommand(notARule("-Z (zero)")),
  R: refuseCommand(notARule("-R (restore)")),
  S: refuseCommand(notARule("-S (save)")),
  h: refuseCommand(notARule("-h (help)")),
  v: refuseCommand(notARule("-v (version)")),
  "start-daemon": refuseCommand("the connection sync daemon (--start-daemon) is not supported"),
  "stop-daemon": refuseCommand("the connection sync daemon (--stop-daemon) is not supported"),
  // Everything else (-n, -c, --exact, --stats, --timeout, the daemon options...) is legal ipvsadm
  // but belongs to listings or the sync daemon, never to -A, -a or --set.
};

const OPTIONS: readonly OptionDef[] = IPVSADM_OPTIONS.map((o) => ({ ...o, role: ROLES[optionId(o)] ?? { kind: "illegal" } }));

const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short as string, o]));
const BY_LONG = new Map<string, OptionDef>();
for (const o of OPTIONS) if (!BY_LONG.has(o.long)) BY_LONG.set(o.long, o);

/** Per command: '+' compulsory, ' ' optional; a slot not listed is illegal (commands_v_options). */
const LEGAL: Record<Command, Partial<Record<Slot, "+" | " ">>> = {
  "add-service": { service: "+", scheduler: " ", persistent: " ", netmask: " ", "sched-flags": " " },
  "add-server": { service: "+", "real-server": "+", forward: " ", weight: " ", "u-threshold": " ", "l-threshold": " ", "tun-type": " " },
  set: {},
};

/** The short spelling of each slot, used to name an option that is missing. */
const SLOT_OPTION: Record<Slot, string> = {
  service: "-t",
  scheduler: "-s",
  persistent: "-p",
  netmask: "-M",
  "sched-flags": "-b",
  "real-server": "-r",
  forward: "-g",
  weight: "-w",
  "u-threshold": "-x",
  "l-threshold": "-y",
  "tun-type": "--tun-type",
};

/** ipvsadm's numbered scheduler flags: IP_VS_SVC_F_SCHED1..3. sh and mh read SCHED1 as fallback
 *  and SCHED2 as port; no scheduler reads SCHED3, and no other scheduler reads any of them. */
const NUMBERED_FLAGS: Record<string, "fallback" | "port" | null> = { "flag-1": "fallback", "flag-2": "port", "flag-3": null };

// ---------------------------------------------------------------------------------------------
// One line -> one command with its options.

interface GivenOption {
  def: OptionDef;
  /** As written: "-w", "--weight". */
  written: string;
  arg?: string;
}

export interface LineProblem {
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

/** popt-style scan of one line's words: the options, and the words that are no option's value
 *  (--set's three timeouts; anything else is "unexpected"). */
function scanOptions(ws: string[], problems: LineProblem[]): { given: GivenOption[]; positional: string[] } {
  const given: GivenOption[] = [];
  const positional: string[] = [];
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
    positional.push(w);
  }
  return { given, positional };
}

function unexpected(word: string): LineProblem {
  return word === "ops"
    ? { field: "ops", message: "one-packet scheduling (ops) is not supported yet" }
    : { field: word, message: "unexpected argument" };
}

export { BAD_MARK, parseMark };

// ---------------------------------------------------------------------------------------------
// Assembling the services.

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
  /** For a -f service: its mark, and where each member came from. */
  mark?: number;
  memberOrigins: MemberOrigin[];
}

type ServiceRef =
  | { kind: "vip"; protocol: Protocol; address: string; port: number }
  | { kind: "fwmark"; mark: number };

function keyOf(ref: ServiceRef): string {
  return ref.kind === "fwmark" ? `fwmark ${ref.mark}` : `${ref.protocol} ${ref.address}:${ref.port}`;
}

/** Translates ipvsadm -b FLAGS into the named flags the schema checks; null on a bad list. Numbered
 *  flags become the scheduler's own name (flag-1 on sh is sh-fallback); on a scheduler that reads
 *  none of them they have no effect, in the kernel as here, and are dropped. */
function schedulerFlagsOf(arg: string, scheduler: string, problems: LineProblem[], written: string): string[] | null {
  // strtok(optarg, ","): empty items vanish.
  const items = arg.split(",").filter((f) => f !== "");
  if (items.length === 0) {
    problems.push({ field: written, value: arg, message: "no scheduler flag given (e.g. sh-fallback,sh-port)" });
    return null;
  }
  const out = new Set<string>();
  for (const flag of items) {
    if ((SCHEDULER_FLAG_NAMES as readonly string[]).includes(flag)) {
      out.add(flag);
    } else if (flag in NUMBERED_FLAGS) {
      const meaning = NUMBERED_FLAGS[flag];
      if (meaning !== null && readsHashFlags(scheduler)) out.add(`${scheduler}-${meaning}`);
    } else {
      problems.push({
        field: written,
        value: arg,
        message: `invalid scheduler flag '${flag}' (ipvsadm knows ${[...Object.keys(NUMBERED_FLAGS), ...SCHEDULER_FLAG_NAMES].join(", ")})`,
      });
      return null;
    }
  }
  return [...out];
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
  // Directive members by mark, and marks with a broken directive line (so that their service is
  // not also reported as having no members).
  const directives = new Map<number, MemberOrigin[]>();
  const brokenMarks = new Set<number>();
  const timeouts: Partial<TimeoutConfig> = {};
  const timeoutLines: Partial<Record<keyof TimeoutConfig, number>> = {};

  const push = (line: number, p: LineProblem) => {
    const e: ConfigError = { source: sourceName, line, field: p.field, message: p.message };
    if (p.value !== undefined) e.value = p.value;
    errors.push(e);
  };

  const lines = text.split(/\r?\n/);
  lines.forEach((lineText, index) => {
    const line = index + 1;
    const problems: LineProblem[] = [];
    const report = () => {
      for (const p of problems) push(line, p);
    };

    const directive = readFwmarkDirective(lineText, line);
    if (directive) {
      problems.push(...directive.problems);
      if (directive.mark !== null && problems.length === 0) directives.set(directive.mark, [...(directives.get(directive.mark) ?? []), ...directive.members]);
      else if (directive.mark !== null) brokenMarks.add(directive.mark);
      return report();
    }

    let ws = words(lineText);
    if (ws.length === 0) return;
    if (ws[0] === "ipvsadm" || ws[0].endsWith("/ipvsadm")) {
      if (ws.length === 1) {
        problems.push({ field: ws[0], message: "no command on this line (expected -A, -a or --set)" });
        return report();
      }
      ws = ws.slice(1);
    }

    const { given, positional } = scanOptions(ws, problems);

    // Exactly one command, and a refused command ends the line: its options mean nothing here.
    const commands = given.filter((g) => g.def.role.kind === "command" || (g.def.role.kind === "refused" && g.def.role.isCommand));
    if (commands.length === 0) {
      if (problems.length === 0) problems.push({ field: ws[0], message: "no command on this line (expected -A, -a or --set)" });
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
    for (const g of given) {
      const role = g.def.role;
      if (role.kind === "command") continue;
      if (role.kind === "refused") {
        if (role.on && !role.on.includes(command)) {
          problems.push({ field: g.written, message: `illegal option with the '${command}' command` });
          continue;
        }
        problems.push({ field: g.written, ...(g.arg !== undefined ? { value: g.arg } : {}), message: role.message });
        continue;
      }
      if (role.kind === "illegal" || LEGAL[command][role.slot] === undefined) {
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
      if (need === "+" && !options.has(slot)) {
        problems.push({ field: SLOT_OPTION[slot], message: `required with the '${command}' command` });
      }
    }

    if (command === "set") {
      // ipvsadm: "--set option requires 3 timeout values"; a fourth word is "unexpected".
      if (positional.length < 3) {
        problems.push({ field: cmd.written, message: "needs 3 timeout values: tcp tcpfin udp (seconds; 0 keeps the value)" });
      }
      for (const w of positional.slice(3)) problems.push(unexpected(w));
      const keys: (keyof TimeoutConfig)[] = ["tcp", "tcpFin", "udp"];
      const values = positional.slice(0, 3).map((w) => {
        const v = parseCount(w, MAX_PERSISTENCE_TIMEOUT);
        if (v === null) {
          problems.push({ field: cmd.written, value: w, message: `invalid timeout value: must be 0..${MAX_PERSISTENCE_TIMEOUT} seconds (0 keeps the value)` });
        }
        return v;
      });
      if (problems.length === 0) {
        values.forEach((v, k) => {
          if (v === null || v === 0) return;
          timeouts[keys[k]] = v;
          timeoutLines[keys[k]] = line;
        });
      }
      return report();
    }
    for (const w of positional) problems.push(unexpected(w));

    // The service the line is about (-t/-u ADDR[:PORT], -f MARK). Without a port ipvsadm takes 0.
    const svcOpt = options.get("service");
    let ref: ServiceRef | undefined;
    if (svcOpt && svcOpt.arg !== undefined) {
      if (svcOpt.def.short === "f") {
        const mark = parseMark(svcOpt.arg);
        if (mark === null) problems.push({ field: svcOpt.written, value: svcOpt.arg, message: BAD_MARK });
        else ref = { kind: "fwmark", mark };
      } else {
        const ap = parseAddrPort(svcOpt.arg);
        if (typeof ap === "string") problems.push({ field: svcOpt.written, value: svcOpt.arg, message: ap });
        else ref = { kind: "vip", protocol: svcOpt.def.short === "u" ? "udp" : "tcp", address: ap.address, port: ap.port ?? 0 };
      }
    }
    const key = ref ? keyOf(ref) : undefined;

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
      const scheduler = options.get("scheduler")?.arg ?? DEFAULT_SCHEDULER;
      // ipvsadm parses -b after every other option, against the line's -s (or the default).
      const b = options.get("sched-flags");
      const schedulerFlags = b?.arg !== undefined ? schedulerFlagsOf(b.arg, scheduler, problems, b.written) : [];
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
      if (problems.length > 0 || !ref || key === undefined || schedulerFlags === null) {
        if (key !== undefined && !byKey.has(key)) failedKeys.add(key);
        return report();
      }
      const common = { scheduler, schedulerFlags, persistence, realServers: [] };
      const entry: ServiceEntry = {
        raw:
          ref.kind === "fwmark"
            ? { fwmark: ref.mark, members: [], ...common }
            : { protocol: ref.protocol, address: ref.address, port: ref.port, ...common },
        origin: { line, options },
        serverOrigins: [],
        serverLines: new Map(),
        memberOrigins: [],
        ...(ref.kind === "fwmark" ? { mark: ref.mark } : {}),
      };
      services.push(entry);
      byKey.set(key, entry);
      return report();
    }

    // add-server. Without a port the real server takes the service's (0 for -f), as in ipvsadm.
    let server: RawRealServer | undefined;
    const r = options.get("real-server");
    if (r && r.arg !== undefined) {
      const ap = parseAddrPort(r.arg);
      if (typeof ap === "string") problems.push({ field: r.written, value: r.arg, message: ap });
      else if (ref) {
        const port = ap.port ?? (ref.kind === "vip" ? ref.port : 0);
        const forward = options.get("forward")?.def.short === "i" ? "tun" : "dr";
        server = { address: ap.address, port, weight: DEFAULT_WEIGHT, forward, upperThreshold: 0, lowerThreshold: 0 };
      }
    }
    // ipvsadm-save writes "--tun-type ipip" after every -i server; the other types need a port
    // and an encapsulation ringvs does not have.
    const tt = options.get("tun-type");
    if (tt && tt.arg !== undefined) {
      if (options.get("forward")?.def.short !== "i") {
        problems.push({ field: tt.written, value: tt.arg, message: 'tunnel options need -i (ipvsadm: "Tunnel options conflict with forward method")' });
      } else if (tt.arg === "gue" || tt.arg === "gre") {
        problems.push({ field: tt.written, value: tt.arg, message: `tunnel type '${tt.arg}' is not supported yet: ringvs tunnels with IPIP (ipip)` });
      } else if (tt.arg !== "ipip") {
        problems.push({ field: tt.written, value: tt.arg, message: "illegal tunnel type: ipvsadm knows ipip, gue and gre" });
      }
    }
    const w = options.get("weight");
    if (w && w.arg !== undefined && server) {
      if (/^[0-9]+$/.test(w.arg)) server.weight = Number(w.arg);
      else problems.push({ field: w.written, value: w.arg, message: "must be an integer 0..65535" });
    }
    for (const [slot, field] of [["u-threshold", "upperThreshold"], ["l-threshold", "lowerThreshold"]] as const) {
      const t = options.get(slot);
      if (!t || t.arg === undefined || !server) continue;
      const v = parseCount(t.arg, MAX_THRESHOLD);
      if (v === null) problems.push({ field: t.written, value: t.arg, message: `must be an integer 0..${MAX_THRESHOLD}` });
      else server[field] = v;
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

  // Firewall-mark services take their members from the directives, wherever in the file they stood.
  const kept = attachFwmarkMembers(
    services,
    directives,
    brokenMarks,
    (mark) => byKey.has(`fwmark ${mark}`) || failedKeys.has(`fwmark ${mark}`),
    (entry) => {
      const f = entry.origin.options.get("service") as GivenOption;
      push(entry.origin.line, {
        field: f.written,
        ...(f.arg !== undefined ? { value: f.arg } : {}),
        message: fwmarkWithoutMembersMessage(entry.mark),
      });
    },
    (mark, line) => push(line, { field: `fwmark ${mark}`, message: `no "-A -f ${mark}" line defines this firewall-mark service` }),
  );

  const input = {
    interface: opts.interface,
    timeouts,
    tunnelSource: opts.tunnelSource,
    vipMode: opts.vipMode,
    ring: opts.ring,
    flowTableSize: opts.flowTableSize,
    workers: opts.workers,
    services: kept.map((s) => s.raw),
  };
  const checked = validateDirectorConfig(input);
  if (checked.ok && errors.length === 0) return { ok: true, config: checked.config };
  if (!checked.ok) {
    for (const issue of checked.issues) {
      // With broken lines already reported, "no services" is their echo, not news.
      if (issue.field === "services" && errors.length > 0) continue;
      errors.push(schemaIssueToError(issue.path, issue.field, issue.value, issue.message, kept, timeoutLines, sourceName));
    }
  }
  return { ok: false, errors: sortConfigErrors(errors) };
}

/** Which option of a rules line produced the field named by a path segment. */
const FIELD_SLOT: Record<string, Slot> = {
  protocol: "service",
  address: "service",
  port: "service",
  fwmark: "service",
  scheduler: "scheduler",
  schedulerFlags: "sched-flags",
  persistence: "persistent",
  timeout: "persistent",
  netmask: "netmask",
  weight: "weight",
  forward: "forward",
  upperThreshold: "u-threshold",
  lowerThreshold: "l-threshold",
};

/** Options whose value is shown as written rather than as the schema saw it. */
const SHOWN_AS_WRITTEN = new Set<Slot>(["service", "real-server", "sched-flags"]);

function schemaIssueToError(
  path: ConfigPath,
  field: string,
  value: unknown,
  message: string,
  services: ServiceEntry[],
  timeoutLines: Partial<Record<keyof TimeoutConfig, number>>,
  source: string,
): ConfigError {
  const entry = path[0] === "services" && typeof path[1] === "number" ? services[path[1]] : undefined;
  if (!entry) {
    // The caller's settings (interface, ring, ...) have no line in the file; --set values do.
    const line = path[0] === "timeouts" ? timeoutLines[path[1] as keyof TimeoutConfig] : undefined;
    const e: ConfigError = { source, field: line !== undefined ? "--set" : field === "" ? formatPath(path) : field, message };
    if (line !== undefined) e.line = line;
    if (value !== undefined) e.value = value;
    return e;
  }
  message = placesInFile(message, services, (s) => `the service on line ${s.origin.line}`);
  if (path[2] === "members" && typeof path[3] === "number") return memberIssueToError(entry, path[3], entry.origin.line, source, message);
  const inServer = path[2] === "realServers" && typeof path[3] === "number";
  const origin = inServer ? (entry.serverOrigins[path[3] as number] ?? entry.origin) : entry.origin;
  const rest = path.slice(inServer ? 4 : 2).filter((seg): seg is string => typeof seg === "string");
  const leaf = rest[rest.length - 1] ?? "";
  // No field at all: the issue is about the service as a whole (a clash with another one).
  const slot: Slot | undefined =
    rest.length === 0 && !inServer
      ? "service"
      : inServer && (leaf === "address" || leaf === "port")
        ? "real-server"
        : (FIELD_SLOT[leaf] ?? FIELD_SLOT[rest[0]]);
  const given = slot ? origin.options.get(slot) : undefined;
  const e: ConfigError = { source, line: origin.line, field: given?.written ?? (slot ? SLOT_OPTION[slot] : field), message };
  if (slot === "service" && given && given.def.short !== "f" && !given.arg?.includes(":")) {
    e.message = `no port given (ipvsadm takes port 0); ${e.message}`;
  }
  // Addresses and flag lists are shown as written (with their port); numbers as the schema saw them.
  const shown = slot && SHOWN_AS_WRITTEN.has(slot) ? given?.arg : value;
  if (shown !== undefined) e.value = shown;
  return e;
}
