// The one reader of ipvsadm syntax: one command line (argv, or one line of -R input or of a rules
// file) -> one command entry and every problem of the line, the way ipvsadm 1.31's parse_options
// and the first half of process_options read it. Tokens come from scan.ts (popt); what each option
// means is data in options.ts; which command takes which option is table.ts. Problems are kept in
// ipvsadm's order, so the command line shows the first as ipvsadm would have stopped there, and a
// rules file reports them all.
import { BAD_MARK, optionId, parseAddrPort, parseMark, parseMemberList } from "../../config/ipvsadm_syntax.ts";
import type { Protocol, ServiceMatch, TimeoutConfig } from "../../config/model.ts";
import {
  netmaskProblem, parseIPv4, realServerPortProblem, schedulerFlagProblem, ZERO_PORT_NEEDS_PERSISTENCE,
} from "../../config/schema.ts";
import { DEFAULT_PERSISTENCE_NETMASK, DEFAULT_WEIGHT, type ServiceKey } from "../../config/service.ts";
import { DEFAULT_SCHEDULER, readsHashFlags } from "../../sched/index.ts";
import { NO_FORMAT, type ListFormat } from "./format.ts";
import {
  CONNECTION_TIMEOUT, HASH_FLAG_BITS, OPTION_MEANINGS, REFUSED, SCHED_FLAGS, TUNNEL_OPTION_REFUSALS, TUNNEL_TYPE_MEANINGS,
  UNEXPECTED_WORDS, readCount, spellingOf, syncDaemonRefused, type CommandName, type ValueMeaning,
} from "./options.ts";
import { ipvsadmFails, poptFails, problemAt, ringvsRefuses, tryHelp, type LineProblem } from "./problem.ts";
import { scan, type Token } from "./scan.ts";
import {
  TUNNEL_OPTIONS, TUNNEL_TYPES, genericOptProblems, legality, tunnelOptProblems, type Command, type OptionName,
  type TunnelType,
} from "./table.ts";

/** An option as written on the line, and its value as written. */
export interface GivenOption {
  written: string;
  arg?: string;
}

/** The service a command is about, as ipvsadm's ce.svc holds it. */
export interface ServiceSpec {
  protocol: Protocol | "sctp";
  /** null until an address was read (and for -f). */
  address: string | null;
  port: number;
  /** The address came with a ":port" (without one ipvsadm takes port 0). */
  portWritten: boolean;
  fwmark: number;
}

export interface DestSpec {
  address: string | null;
  /** The port the command works on: the service's for -a/-e (DR and TUN cannot change it). */
  port: number;
  /** The port written after the address, if one was. */
  writtenPort?: number;
  forward: "dr" | "tun" | "nat";
  weight: number;
  upper: number;
  lower: number;
}

export interface CommandEntry {
  command: CommandName;
  /** The command's option as written ("-A", "--add-service"), and its popt letter and name. */
  commandOption: { written: string; short?: string; long: string };
  options: Set<OptionName>;
  /** The options given, as written. */
  given: Map<OptionName, GivenOption>;
  format: ListFormat;
  svc: ServiceSpec;
  scheduler: string;
  persistent: boolean;
  timeout: number;
  netmask: string;
  schedulerFlags: { port: boolean; fallback: boolean };
  dest: DestSpec;
  tunType: TunnelType;
  timeouts: TimeoutConfig;
  /** --members: the VIP:port pairs of a -f service, each with its text. */
  members: { text: string; match: ServiceMatch }[] | null;
  /** -6 after -f: an IPv6 firewall-mark service. */
  ipv6: boolean;
}

export interface ParsedCommand {
  /** null when the line names no command (ipvsadm: "Try `ipvsadm -h'"); otherwise as far as the
   *  line could be read, also when it has problems (a rules file still learns which service it is
   *  about). */
  entry: CommandEntry | null;
  problems: LineProblem[];
}

const NO_COMMAND = "no command on this line";

/** The service the entry is about, once its -t/-u/-f was read; null before that (and for SCTP). */
export function entryServiceKey(ce: CommandEntry): ServiceKey | null {
  if (ce.svc.fwmark) return { fwmark: ce.svc.fwmark };
  if (ce.svc.address === null || ce.svc.protocol === "sctp") return null;
  return { protocol: ce.svc.protocol, address: ce.svc.address, port: ce.svc.port };
}

function newEntry(command: CommandName, first: Extract<Token, { kind: "option" }>): CommandEntry {
  return {
    command,
    commandOption: { written: first.written, ...(first.def.short ? { short: first.def.short } : {}), long: first.def.long },
    options: new Set(),
    given: new Map(),
    format: { ...NO_FORMAT },
    svc: { protocol: "tcp", address: null, port: 0, portWritten: false, fwmark: 0 },
    scheduler: "",
    persistent: false,
    timeout: 0,
    netmask: DEFAULT_PERSISTENCE_NETMASK,
    schedulerFlags: { port: false, fallback: false },
    dest: { address: null, port: 0, forward: "dr", weight: DEFAULT_WEIGHT, upper: 0, lower: 0 },
    tunType: "ipip",
    timeouts: { tcp: 0, tcpFin: 0, udp: 0 },
    members: null,
    ipv6: false,
  };
}

/** ipvsadm refuses an address too when it is all digits (parse_service: str_is_digit) or its port
 *  is no port; a name or IPv6 it would have taken, so ringvs says why it does not. */
function addressFailure(text: string, problem: string, ipvsadmSays: string): LineProblem["cli"] {
  return /^[0-9]+$/.test(text) || problem.includes("is not a port") ? ipvsadmFails(ipvsadmSays) : ringvsRefuses(problem, { ipvsadmSays });
}

/** Reads one option's value into `ce` (parse_options' switch, by kind of value). */
function readValue(ce: CommandEntry, value: ValueMeaning, t: Extract<Token, { kind: "option" }>, problems: LineProblem[]): void {
  const g: GivenOption = { written: t.written, ...(t.arg !== undefined ? { arg: t.arg } : {}) };
  const arg = t.arg ?? "";
  switch (value.kind) {
    case "flag":
      if (value.format) ce.format[value.format] = true;
      return;
    case "count": {
      const r = readCount(arg, value.rule);
      if (!r.ok) problems.push(problemAt(g, r.message, ipvsadmFails(r.ipvsadm), r.value));
      else if (value.sets === "weight") ce.dest.weight = r.n;
      else if (value.sets === "upper") ce.dest.upper = r.n;
      else if (value.sets === "lower") ce.dest.lower = r.n;
      return;
    }
    case "persistence": {
      ce.persistent = true;
      if (t.arg === undefined) {
        ce.timeout = value.absent;
        return;
      }
      const r = readCount(t.arg, value.rule);
      if (r.ok) ce.timeout = r.n;
      else problems.push(problemAt(g, r.message, ipvsadmFails(r.ipvsadm), r.value));
      return;
    }
    case "service": {
      ce.svc.protocol = value.protocol;
      const ap = parseAddrPort(arg);
      if (typeof ap === "string") {
        problems.push(problemAt(g, ap, addressFailure(arg, ap, "illegal virtual server address[:port] specified")));
        return;
      }
      ce.svc.address = ap.address;
      if (ap.port !== undefined) {
        ce.svc.port = ap.port;
        ce.svc.portWritten = true;
      }
      return;
    }
    case "fwmark": {
      ce.svc.protocol = "tcp"; // "set to a sane value, even though it is not used"
      const mark = parseMark(arg);
      if (mark === null) problems.push(problemAt(g, BAD_MARK, ipvsadmFails(`invalid fwmark value \`${arg}' specified`)));
      else ce.svc.fwmark = mark;
      return;
    }
    case "scheduler":
      ce.scheduler = arg.slice(0, 15); // IP_VS_SCHEDNAME_MAXLEN - 1
      return;
    case "netmask":
      if (parseIPv4(arg) === null) problems.push(problemAt(g, netmaskProblem(arg)!, ipvsadmFails("illegal virtual server persistent mask specified")));
      else ce.netmask = arg;
      return;
    case "real-server": {
      const ap = parseAddrPort(arg);
      if (typeof ap === "string") {
        problems.push(problemAt(g, ap, addressFailure(arg, ap, "illegal real server address[:port] specified")));
        return;
      }
      ce.dest.address = ap.address;
      if (ap.port !== undefined) ce.dest.writtenPort = ap.port;
      // "copy vport to dport if not specified" (the service port as known at this point).
      ce.dest.port = ap.port ?? ce.svc.port;
      return;
    }
    case "forward":
      ce.dest.forward = value.method;
      return;
    case "sched-flags":
      return; // read against the line's scheduler once the line is read
    case "tun-type":
      if ((TUNNEL_TYPES as readonly string[]).includes(arg)) ce.tunType = arg as TunnelType;
      else problems.push(problemAt(g, `illegal tunnel type: ipvsadm knows ${TUNNEL_TYPES.slice(0, -1).join(", ")} and ${TUNNEL_TYPES.at(-1)}`, ipvsadmFails("illegal tunnel type specified")));
      return;
    case "members": {
      const parsed = parseMemberList(arg);
      for (const p of parsed.problems) {
        const shown = p.value !== undefined ? `"${p.value}": ` : "";
        problems.push(problemAt(g, p.message, ringvsRefuses(`${t.written}: ${shown}${p.message} (expected "tcp VIP:PORT[,udp VIP:PORT]...")`), p.value));
      }
      if (parsed.problems.length === 0) ce.members = parsed.members;
      return;
    }
    case "mcast-group": {
      const a = parseIPv4(arg);
      if (arg.includes(":") || a === null || a >>> 28 !== 0xe) {
        const text = arg.includes(":") ? `invalid IPv6 mcast-group \`${arg}'` : `invalid IPv4 mcast-group \`${arg}'`;
        problems.push(problemAt(g, "must be an IPv4 multicast group (224.0.0.0/4)", ipvsadmFails(text)));
      }
      return;
    }
    case "text":
      return;
  }
}

/** -b: parse_sched_flags against the line's scheduler (or the default). strtok(optarg, ","): empty
 *  items vanish, and an empty list reads as one empty flag. */
function readSchedulerFlags(ce: CommandEntry, g: GivenOption, problems: LineProblem[]): void {
  const arg = g.arg ?? "";
  const scheduler = ce.scheduler || DEFAULT_SCHEDULER;
  const items = arg.split(",").filter((f) => f !== "");
  if (items.length === 0) {
    problems.push(problemAt(g, "no scheduler flag given (e.g. sh-fallback,sh-port)", ipvsadmFails("invalid scheduler flag `'")));
    return;
  }
  for (const flag of items) {
    const f = SCHED_FLAGS[flag];
    if (!f) {
      const known = Object.keys(SCHED_FLAGS).join(", ");
      problems.push(problemAt(g, `invalid scheduler flag '${flag}' (ipvsadm knows ${known})`, ipvsadmFails(`invalid scheduler flag \`${flag}'`)));
    } else if (f.scheduler !== undefined && f.scheduler !== scheduler) {
      problems.push(problemAt(g, schedulerFlagProblem(flag, scheduler)!, ipvsadmFails(`incompatible scheduler flag \`${flag}'`)));
    } else if (readsHashFlags(scheduler)) {
      const meaning = HASH_FLAG_BITS[f.bit];
      if (meaning) ce.schedulerFlags[meaning] = true;
    }
  }
}

/** Parses one command line (without the program name). `readingStdin`: a line of -R input. */
export function parseCommand(argv: readonly string[], readingStdin: boolean): ParsedCommand {
  const tokens = scan(argv);
  // popt hands out options and keeps the other words for later: the first option is the command.
  const at = tokens.findIndex((t) => t.kind !== "argument");
  const first = tokens[at];
  const firstMeaning = first?.kind === "option" ? OPTION_MEANINGS[optionId(first.def)] : undefined;
  if (first?.kind !== "option" || firstMeaning?.role !== "command") {
    return { entry: null, problems: [{ option: argv[0] ?? "", message: NO_COMMAND, cli: tryHelp() }] };
  }
  const ce = newEntry(firstMeaning.command, first);
  const problems: LineProblem[] = [];
  if (ce.command === "help" || ce.command === "version") return { entry: ce, problems };
  if (ce.command === "start-daemon" || ce.command === "stop-daemon") {
    const good = first.arg === "master" || first.arg === "backup";
    const text = ce.command === "start-daemon" ? "illegal start-daemon parameter specified" : "illegal start_daemon specified";
    const g = { written: first.written, ...(first.arg !== undefined ? { arg: first.arg } : {}) };
    problems.push(good
      ? problemAt(g, syncDaemonRefused(ce.command), ringvsRefuses(syncDaemonRefused(ce.command)))
      : problemAt(g, "must be master or backup", ipvsadmFails(text)));
    return { entry: ce, problems };
  }

  // Which option class each problem is about, so that a class the command does not take can shadow
  // its value's problems.
  const classOf = new Map<LineProblem, OptionName>();
  const push = (p: LineProblem, opt: OptionName) => {
    problems.push(p);
    classOf.set(p, opt);
  };
  const args: string[] = tokens.slice(0, at).map((t) => (t as { word: string }).word);
  let ipv6Written: string | null = null;

  for (const t of tokens.slice(at + 1)) {
    if (t.kind === "argument") {
      args.push(t.word);
      continue;
    }
    if (t.kind === "error") {
      problems.push({ option: t.written, ...(t.value !== undefined ? { value: t.value } : {}), message: t.message, cli: poptFails(t.word, t.popt) });
      continue;
    }
    const meaning = OPTION_MEANINGS[optionId(t.def)]!;
    if (meaning.role === "command") {
      // The line means nothing past a second command.
      problems.push({
        option: t.written,
        message: `multiple commands specified (${ce.commandOption.written}, ${t.written})`,
        cli: ipvsadmFails(`invalid option \`${t.word}'`),
      });
      return { entry: ce, problems };
    }
    if (meaning.role === "no-op") continue;
    if (meaning.role === "ipv6") {
      if (ce.svc.fwmark) {
        ce.ipv6 = true;
        ipv6Written = t.written;
      } else {
        problems.push({ option: t.written, message: REFUSED.ipv6, cli: ipvsadmFails("-6 used before -f\n") });
      }
      continue;
    }
    const before = ce.given.get(meaning.fills);
    if (before) {
      push({ option: t.written, message: `given twice on this line (with ${before.written})`, cli: ipvsadmFails(`multiple '${meaning.fills}' options specified`) }, meaning.fills);
      continue;
    }
    ce.options.add(meaning.fills);
    ce.given.set(meaning.fills, { written: t.written, ...(t.arg !== undefined ? { arg: t.arg } : {}) });
    const valueProblems: LineProblem[] = [];
    readValue(ce, meaning.value, t, valueProblems);
    for (const p of valueProblems) push(p, meaning.fills);
  }

  if (ce.command === "set") {
    const set = { written: ce.commandOption.written };
    if (args.length < 3) {
      problems.push(problemAt(set, "needs 3 timeout values: tcp tcpfin udp (seconds; 0 keeps the value)", ipvsadmFails("--set option requires 3 timeout values")));
    }
    const keys: (keyof TimeoutConfig)[] = ["tcp", "tcpFin", "udp"];
    args.splice(0, 3).forEach((a, i) => {
      const r = readCount(a, CONNECTION_TIMEOUT);
      if (r.ok) ce.timeouts[keys[i]!] = r.n;
      else problems.push(problemAt(set, r.message, ipvsadmFails(r.ipvsadm), r.value));
    });
  }
  for (const a of args) {
    problems.push({ option: a, message: UNEXPECTED_WORDS[a] ?? "unexpected argument", cli: ipvsadmFails(`unexpected argument ${a}`) });
  }
  const flags = ce.given.get("sched-flags");
  if (flags?.arg !== undefined) {
    const flagProblems: LineProblem[] = [];
    readSchedulerFlags(ce, flags, flagProblems);
    for (const p of flagProblems) push(p, "sched-flags");
  }

  // process_options, up to the command itself.
  if (ce.command === "restore" && readingStdin) {
    problems.push({ option: ce.commandOption.written, message: "-R inside -R input would read that input again", cli: tryHelp() }); // "avoid infinite loop"
  }
  checkOptionTable(ce, ce.command, problems, classOf);
  if (ce.command === "add-service" || ce.command === "edit-service") checkServiceCommand(ce, problems);
  if (ce.command === "add-server" || ce.command === "edit-server") checkServerCommand(ce, problems);
  const svc = ce.given.get("service-address");
  if (ce.svc.protocol === "sctp" && svc) {
    problems.push(problemAt(svc, REFUSED.sctp, ringvsRefuses(REFUSED.sctp)));
  }
  if (ce.ipv6) {
    problems.push({ option: ipv6Written!, message: REFUSED.ipv6, cli: ringvsRefuses(REFUSED.ipv6) });
  }
  if (ce.command === "list") {
    const o = ce.options;
    if (((o.has("connection") || o.has("timeout") || o.has("daemon")) && (o.has("stats") || o.has("rate") || o.has("thresholds"))) ||
      ((o.has("timeout") || o.has("daemon")) && o.has("persistent-conn"))) {
      problems.push({ option: ce.commandOption.written, message: "options conflicts in the list command", cli: ipvsadmFails("options conflicts in the list command") });
    }
  }
  if (ce.command === "save") ce.format.rule = true;
  return { entry: ce, problems };
}

/** generic_opt_check, every finding; the problems of an option the command does not take at all are
 *  shadowed by its "illegal option". */
function checkOptionTable(ce: CommandEntry, cmd: Command, problems: LineProblem[], classOf: Map<LineProblem, OptionName>): void {
  for (const p of problems) {
    const opt = classOf.get(p);
    if (opt !== undefined && legality(cmd, opt) === "x") p.shadowed = true;
  }
  for (const f of genericOptProblems(cmd, ce.options)) {
    const g = ce.given.get(f.option);
    if (f.kind === "missing") {
      problems.push({ option: spellingOf(f.option), message: `required with the '${cmd}' command`, cli: ipvsadmFails(f.text) });
    } else if (f.kind === "illegal") {
      problems.push({ option: g!.written, message: `illegal option with the '${cmd}' command`, cli: ipvsadmFails(f.text) });
    } else {
      problems.push({ option: g!.written, message: `conflicts with ${ce.given.get(f.with!)!.written} in the '${cmd}' command`, cli: ipvsadmFails(f.text) });
    }
  }
}

/** -A / -E: what process_options checks of a service, then what ringvs refuses. */
function checkServiceCommand(ce: CommandEntry, problems: LineProblem[]): void {
  const svc = ce.given.get("service-address");
  const known = svc !== undefined && (ce.svc.fwmark !== 0 || ce.svc.address !== null);
  if (known && !ce.svc.fwmark && !ce.svc.port && !ce.persistent) {
    // Without a ":port" ipvsadm takes port 0, which is easy to miss in a file.
    const message = `${ce.svc.portWritten ? "" : "no port given (ipvsadm takes port 0); "}${ZERO_PORT_NEEDS_PERSISTENCE}`;
    problems.push(problemAt(svc!, message, ipvsadmFails("Zero port specified for non-persistent service")));
  }
  const ops = ce.given.get("ops");
  if (ops) {
    problems.push(problemAt(ops, REFUSED.ops, !ce.svc.fwmark && ce.svc.protocol !== "udp"
      ? ipvsadmFails("One-Packet Scheduling is only for UDP virtual services")
      : ringvsRefuses(REFUSED.ops)));
  }
  const pe = ce.given.get("pe");
  if (pe) {
    problems.push(problemAt(pe, REFUSED.pe, ringvsRefuses(REFUSED.pe)));
  }
  // ipvsadm keeps a -M without -p and the kernel ignores it; ringvs says so instead of dropping it.
  const netmask = ce.given.get("netmask");
  if (netmask && !ce.persistent) {
    const message = REFUSED.netmaskWithoutPersistence;
    problems.push(problemAt(netmask, message, ringvsRefuses(`${netmask.written} ${netmask.arg}: ${message}`)));
  }
  if (!ce.scheduler) ce.scheduler = DEFAULT_SCHEDULER;
}

/** -a / -e: what process_options checks of a real server, then what ringvs refuses. */
function checkServerCommand(ce: CommandEntry, problems: LineProblem[]): void {
  const forward = ce.given.get("forwarding-method");
  if (ce.dest.forward === "nat") {
    problems.push({ option: forward!.written, message: REFUSED.nat, cli: ringvsRefuses(REFUSED.nat) });
  } else {
    // "The destination port must be equal to the service port" for DR and TUN; ipvsadm replaces a
    // different one without a word, which hides a real server listening elsewhere. ringvs refuses it.
    const r = ce.given.get("real-server");
    const servicePort = ce.svc.fwmark ? null : ce.svc.port;
    const known = ce.svc.fwmark !== 0 || ce.svc.address !== null;
    const written = ce.dest.writtenPort;
    if (r && known && ce.dest.address !== null && written !== undefined && written !== (servicePort ?? 0)) {
      const address = ce.dest.address;
      const cli = servicePort === null
        ? `real server ${address}:${written}: DR and TUN cannot change the port; a firewall-mark service's real servers take ` +
          `the port each packet came to, so give ${address} or ${address}:0`
        : `real server ${address}:${written}: ${realServerPortProblem(ce.dest.forward, servicePort)}`;
      problems.push(problemAt(r, realServerPortProblem(ce.dest.forward, servicePort), ringvsRefuses(cli)));
    }
    if (!ce.svc.fwmark) ce.dest.port = ce.svc.port;
  }
  const tunnel = (["tun-type", ...TUNNEL_OPTIONS] as OptionName[]).filter((o) => ce.options.has(o));
  if (tunnel.length > 0 && ce.dest.forward !== "tun") {
    problems.push(problemAt(ce.given.get(tunnel[0]!)!, 'tunnel options need -i (ipvsadm: "Tunnel options conflict with forward method")',
      ipvsadmFails("Tunnel options conflict with forward method")));
  } else if (ce.dest.forward === "tun") {
    const rules = tunnelOptProblems(ce.tunType, ce.options);
    const refused = TUNNEL_TYPE_MEANINGS[ce.tunType].refused;
    if (refused !== undefined) {
      // ipvsadm first checks the type's options; either way ringvs has no such tunnel.
      problems.push(problemAt(ce.given.get("tun-type")!, refused, rules[0] ? ipvsadmFails(rules[0].text) : ringvsRefuses(refused)));
    } else {
      for (const rule of rules) problems.push(problemAt(ce.given.get(rule.option) ?? { written: spellingOf(rule.option) }, TUNNEL_OPTION_REFUSALS[rule.option]!, ipvsadmFails(rule.text)));
    }
  }
}
