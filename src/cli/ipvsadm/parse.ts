// One ipvsadm command line -> one command entry, the way ipvsadm 1.31's parse_options and the first
// half of process_options read it (popt: short clusters `-Ln`, attached values `-r10.0.0.1`,
// `--long=value`, `-p` with an optional value, words that are no option's value collected as
// arguments). Errors are values carrying ipvsadm's exit code and text; ipvsadm exits on the first.
import {
  IPVSADM_OPTIONS, optionId, parseAddrPort, parseMark, parseMemberList, type IpvsadmOptionDef,
} from "../../config/ipvsadm_syntax.ts";
import { IPVS_SCHEDULERS, MAX_PERSISTENCE_TIMEOUT, SCHEDULER_FLAG_NAMES, parseIPv4 } from "../../config/schema.ts";
import { DEFAULT_PERSISTENCE_NETMASK, DEFAULT_PERSISTENCE_TIMEOUT } from "../../config/service.ts";
import { DEFAULT_SCHEDULER, readsHashFlags } from "../../sched/index.ts";
import type { Protocol, ServiceMatch } from "../../config/model.ts";
import { NO_FORMAT, type ListFormat } from "./format.ts";
import { genericOptCheck, tunnelOptCheck, TUNNEL_TYPES, type Command, type OptionName, type TunnelType } from "./table.ts";

export const PROGRAM = "ipvsadm";

/** What ipvsadm would have printed and exited with. */
export interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

/** fail(2, ...) in ipvsadm: the message, a newline, exit 2. */
export const fail = (message: string): Exit => ({ code: 2, stdout: "", stderr: `${message}\n` });
/** tryhelp_exit(argv[0], -1): exit(-1) is status 255. */
export const tryHelp = (): Exit => ({
  code: 255, stdout: "", stderr: `Try \`${PROGRAM} -h' or '${PROGRAM} --help' for more information.\n`,
});
/** A ringvs refusal of something ipvsadm would do: ipvsadm's own words first when it has them. */
export const refuse = (message: string, ipvsadmSays?: string): Exit =>
  fail(ipvsadmSays ? `${ipvsadmSays}\nringvs: ${message}` : message);

/** The ringvs-only option (not in ipvsadm's popt table). */
const MEMBERS_OPTION: IpvsadmOptionDef = { long: "members", arg: "required" };

type Role =
  | { kind: "command"; command: Command | "help" | "version" }
  | { kind: "option"; tag: string };

const COMMAND_OF: Record<string, Command | "help" | "version"> = {
  A: "add-service", E: "edit-service", D: "delete-service", C: "flush", L: "list", l: "list", Z: "zero",
  a: "add-server", e: "edit-server", d: "delete-server", set: "set", h: "help", v: "version",
  R: "restore", S: "save", "start-daemon": "start-daemon", "stop-daemon": "stop-daemon",
};

const TABLE: readonly IpvsadmOptionDef[] = [...IPVSADM_OPTIONS, MEMBERS_OPTION];
const BY_SHORT = new Map(TABLE.filter((o) => o.short).map((o) => [o.short!, o]));
const BY_LONG = new Map<string, IpvsadmOptionDef>();
for (const o of TABLE) if (!BY_LONG.has(o.long)) BY_LONG.set(o.long, o);

function roleOf(o: IpvsadmOptionDef): Role {
  const id = optionId(o);
  const command = COMMAND_OF[id];
  return command ? { kind: "command", command } : { kind: "option", tag: id };
}

/** The service a command is about, as ipvsadm's ce.svc holds it. */
export interface ServiceSpec {
  protocol: Protocol | "sctp";
  address: string | null;
  port: number;
  fwmark: number;
}

export interface CommandEntry {
  command: Command;
  options: Set<OptionName>;
  format: ListFormat;
  svc: ServiceSpec;
  scheduler: string;
  persistent: boolean;
  timeout: number;
  netmask: string;
  schedFlags: string[];
  dest: { address: string | null; port: number; forward: "dr" | "tun" | "nat"; weight: number; upper: number; lower: number };
  tunType: TunnelType;
  timeouts: { tcp: number; tcpFin: number; udp: number };
  members: ServiceMatch[] | null;
  /** -6 after -f: an IPv6 firewall-mark service. */
  ipv6: boolean;
}

// ---------------------------------------------------------------------------------------------
// popt, as far as ipvsadm uses it.

type Token =
  | { kind: "opt"; def: IpvsadmOptionDef; arg?: string; word: string }
  | { kind: "error"; word: string; message: string };

class Scanner {
  private k = 0;
  /** The rest of a short cluster (`-Ln` after `L`). */
  private cluster: { word: string; rest: string } | null = null;
  private rawArgs = false;
  readonly args: string[] = [];

  constructor(private readonly argv: readonly string[]) {}

  private value(def: IpvsadmOptionDef, word: string, attached: string | undefined): Token {
    if (attached !== undefined) return { kind: "opt", def, arg: attached, word };
    const next = this.argv[this.k];
    if (def.arg === "optional") {
      // POPT_ARGFLAG_OPTIONAL: the next word, unless there is none or it starts with '-'.
      if (next === undefined || next.startsWith("-")) return { kind: "opt", def, word };
      this.k++;
      return { kind: "opt", def, arg: next, word };
    }
    if (next === undefined) return { kind: "error", word, message: "missing argument" };
    this.k++;
    return { kind: "opt", def, arg: next, word };
  }

  next(): Token | null {
    if (this.cluster) {
      const { word, rest } = this.cluster;
      this.cluster = null;
      return this.short(word, rest);
    }
    while (this.k < this.argv.length) {
      const w = this.argv[this.k++]!;
      if (this.rawArgs || w === "-" || !w.startsWith("-")) {
        this.args.push(w);
        continue;
      }
      if (w === "--") {
        this.rawArgs = true;
        continue;
      }
      if (w.startsWith("--")) {
        const eq = w.indexOf("=");
        const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
        const attached = eq < 0 ? undefined : w.slice(eq + 1);
        const def = BY_LONG.get(name);
        if (!def) return { kind: "error", word: w, message: "unknown option" };
        if (def.arg === "none") {
          if (attached !== undefined) return { kind: "error", word: w, message: "option does not take an argument" };
          return { kind: "opt", def, word: w };
        }
        return this.value(def, w, attached);
      }
      return this.short(w, w.slice(1));
    }
    return null;
  }

  private short(word: string, chars: string): Token {
    const c = chars[0]!;
    const def = BY_SHORT.get(c);
    if (!def) return { kind: "error", word, message: "unknown option" };
    const rest = chars.slice(1);
    if (def.arg === "none") {
      if (rest !== "") this.cluster = { word, rest };
      return { kind: "opt", def, word };
    }
    return this.value(def, word, rest === "" ? undefined : rest);
  }
}

// ---------------------------------------------------------------------------------------------

/** string_to_number: a whole decimal (strtol: optional sign, leading spaces) within [min, max], or -1. */
function stringToNumber(s: string, min: number, max: number): number {
  if (!/^\s*[+-]?[0-9]+$/.test(s)) return -1;
  const n = Number(s.trim());
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : -1;
}

const INT_MAX = 2 ** 31 - 1;

/** ringvs's reason for refusing an address ipvsadm would have looked up or taken. */
function addressOf(text: string): { address: string; port?: number } | string {
  if (/^[0-9]+$/.test(text)) return "not an address";
  return parseAddrPort(text);
}

/** Parses one command line (without the program name). */
export function parseCommand(argv: readonly string[], readingStdin: boolean): CommandEntry | Exit {
  const sc = new Scanner(argv);
  const ce: CommandEntry = {
    command: "list",
    options: new Set(),
    format: { ...NO_FORMAT },
    svc: { protocol: "tcp", address: null, port: 0, fwmark: 0 },
    scheduler: "",
    persistent: false,
    timeout: 0,
    netmask: DEFAULT_PERSISTENCE_NETMASK,
    schedFlags: [],
    dest: { address: null, port: 0, forward: "dr", weight: 1, upper: 0, lower: 0 },
    tunType: "ipip",
    timeouts: { tcp: 0, tcpFin: 0, udp: 0 },
    members: null,
    ipv6: false,
  };

  const first = sc.next();
  if (!first || first.kind === "error") return tryHelp();
  const role = roleOf(first.def);
  if (role.kind !== "command") return tryHelp();
  if (role.command === "help") return { code: 0, stdout: usage(), stderr: "" };
  if (role.command === "version") return { code: 0, stdout: `${versionLine()}\n`, stderr: "" };
  if (role.command === "start-daemon" || role.command === "stop-daemon") {
    if (first.arg !== "master" && first.arg !== "backup") {
      return fail(role.command === "start-daemon" ? "illegal start-daemon parameter specified" : "illegal start_daemon specified");
    }
    return refuse(`the connection sync daemon (--${role.command}) is not supported: ringvs keeps its connections to itself`);
  }
  ce.command = role.command;

  const set = (opt: OptionName): Exit | null => {
    if (ce.options.has(opt)) return fail(`multiple '${opt}' options specified`);
    ce.options.add(opt);
    return null;
  };
  let schedFlagsArg: string | null = null;

  for (let t = sc.next(); t !== null; t = sc.next()) {
    if (t.kind === "error") return { code: 255, stdout: "", stderr: `${t.word}: ${t.message}\n` };
    const r = roleOf(t.def);
    if (r.kind === "command") return fail(`invalid option \`${t.word}'`);
    const arg = t.arg ?? "";
    let e: Exit | null = null;
    switch (r.tag) {
      case "t":
      case "u":
      case "sctp-service": {
        if ((e = set("service-address"))) return e;
        ce.svc.protocol = r.tag === "t" ? "tcp" : r.tag === "u" ? "udp" : "sctp";
        const ap = addressOf(arg);
        if (typeof ap === "string") {
          return ap === "not an address" || ap.includes("is not a port")
            ? fail("illegal virtual server address[:port] specified")
            : refuse(ap, "illegal virtual server address[:port] specified");
        }
        ce.svc.address = ap.address;
        if (ap.port !== undefined) ce.svc.port = ap.port;
        break;
      }
      case "f": {
        if ((e = set("service-address"))) return e;
        ce.svc.protocol = "tcp";
        const mark = parseMark(arg);
        if (mark === null) return fail(`invalid fwmark value \`${arg}' specified`);
        ce.svc.fwmark = mark;
        break;
      }
      case "s":
        if ((e = set("scheduler"))) return e;
        ce.scheduler = arg.slice(0, 15); // IP_VS_SCHEDNAME_MAXLEN - 1
        break;
      case "p": {
        if ((e = set("persistent"))) return e;
        ce.persistent = true;
        if (t.arg === undefined) ce.timeout = DEFAULT_PERSISTENCE_TIMEOUT;
        else {
          const v = stringToNumber(t.arg, 1, MAX_PERSISTENCE_TIMEOUT);
          if (v < 0) return fail(`invalid timeout value \`${t.arg}' specified`);
          ce.timeout = v;
        }
        break;
      }
      case "M":
        if ((e = set("netmask"))) return e;
        if (parseIPv4(arg) === null) return fail("illegal virtual server persistent mask specified");
        ce.netmask = arg;
        break;
      case "r": {
        if ((e = set("real-server"))) return e;
        const ap = addressOf(arg);
        if (typeof ap === "string") {
          return ap === "not an address" || ap.includes("is not a port")
            ? fail("illegal real server address[:port] specified")
            : refuse(ap, "illegal real server address[:port] specified");
        }
        ce.dest.address = ap.address;
        // "copy vport to dport if not specified" (the service port as known at this point).
        ce.dest.port = ap.port ?? ce.svc.port;
        break;
      }
      case "i":
      case "g":
      case "m":
        if ((e = set("forwarding-method"))) return e;
        ce.dest.forward = r.tag === "i" ? "tun" : r.tag === "g" ? "dr" : "nat";
        break;
      case "w":
        if ((e = set("weight"))) return e;
        if ((ce.dest.weight = stringToNumber(arg, 0, 65535)) === -1) return fail("illegal weight specified");
        break;
      case "x":
        if ((e = set("u-threshold"))) return e;
        if ((ce.dest.upper = stringToNumber(arg, 0, INT_MAX)) === -1) return fail("illegal u_threshold specified");
        break;
      case "y":
        if ((e = set("l-threshold"))) return e;
        if ((ce.dest.lower = stringToNumber(arg, 0, INT_MAX)) === -1) return fail("illegal l_threshold specified");
        break;
      case "c":
        if ((e = set("connection"))) return e;
        break;
      case "n":
        if ((e = set("numeric"))) return e;
        break;
      case "mcast-interface":
        if ((e = set("mcast-interface"))) return e;
        break;
      case "syncid":
        if ((e = set("syncid"))) return e;
        if (stringToNumber(arg, 0, 255) === -1) return fail("illegal syncid specified");
        break;
      case "timeout":
      case "daemon":
        if ((e = set(r.tag))) return e;
        break;
      case "stats":
      case "rate":
      case "thresholds":
      case "persistent-conn":
      case "nosort":
      case "tun-info": {
        if ((e = set(r.tag))) return e;
        const key = ({ stats: "stats", rate: "rate", thresholds: "thresholds", "persistent-conn": "persistentConn", nosort: "nosort", "tun-info": "tunInfo" } as const)[r.tag];
        ce.format[key] = true;
        break;
      }
      case "sort":
        break; // "Sort is the default, this is a no-op for compatibility"
      case "X":
        if ((e = set("exact"))) return e;
        ce.format.exact = true;
        break;
      case "6":
        if (!ce.svc.fwmark) return fail("-6 used before -f\n");
        ce.ipv6 = true;
        break;
      case "o":
        if ((e = set("ops"))) return e;
        break;
      case "pe":
        if ((e = set("pe"))) return e;
        break;
      case "b":
        if ((e = set("sched-flags"))) return e;
        schedFlagsArg = arg;
        break;
      case "mcast-group": {
        if ((e = set("mcast-group"))) return e;
        const a = parseIPv4(arg);
        if (arg.includes(":")) return fail(`invalid IPv6 mcast-group \`${arg}'`);
        if (a === null || a >>> 28 !== 0xe) return fail(`invalid IPv4 mcast-group \`${arg}'`);
        break;
      }
      case "mcast-port":
        if ((e = set("mcast-port"))) return e;
        if (stringToNumber(arg, 1, 65535) === -1) return fail("illegal mcast-port specified");
        break;
      case "mcast-ttl":
        if ((e = set("mcast-ttl"))) return e;
        if (stringToNumber(arg, 1, 255) === -1) return fail("illegal mcast-ttl specified");
        break;
      case "sync-maxlen":
        if ((e = set("sync-maxlen"))) return e;
        if (stringToNumber(arg, 1, 65535 - 20 - 8) === -1) return fail("illegal sync-maxlen specified");
        break;
      case "tun-type": {
        if ((e = set("tun-type"))) return e;
        if (!(TUNNEL_TYPES as readonly string[]).includes(arg)) return fail("illegal tunnel type specified");
        ce.tunType = arg as TunnelType;
        break;
      }
      case "tun-port":
        if ((e = set("tun-port"))) return e;
        if (stringToNumber(arg, 1, 65535) === -1) return fail("illegal tunnel port specified");
        break;
      case "tun-nocsum":
      case "tun-csum":
      case "tun-remcsum":
        if ((e = set(r.tag))) return e;
        break;
      case "members": {
        if ((e = set("members"))) return e;
        const parsed = parseMemberList(arg);
        const p = parsed.problems[0];
        if (p) return refuse(`--members: ${p.value !== undefined ? `"${p.value}": ` : ""}${p.message} (expected "tcp VIP:PORT[,udp VIP:PORT]...")`);
        ce.members = parsed.members.map((m) => m.match);
        break;
      }
      default:
        return fail(`invalid option \`${t.word}'`);
    }
  }

  const args = sc.args;
  if (ce.command === "set") {
    if (args.length < 3) return fail("--set option requires 3 timeout values");
    const values = args.splice(0, 3).map((a) => ({ a, v: stringToNumber(a, 0, MAX_PERSISTENCE_TIMEOUT) }));
    const bad = values.find((x) => x.v === -1);
    if (bad) return fail(`invalid timeout value \`${bad.a}' specified`);
    ce.timeouts = { tcp: values[0]!.v, tcpFin: values[1]!.v, udp: values[2]!.v };
  }
  if (args.length > 0) return fail(`unexpected argument ${args[0]}`);

  if (schedFlagsArg !== null) {
    const sched = ce.scheduler || DEFAULT_SCHEDULER;
    // strtok(optarg, ","): empty items vanish; an empty list reads as one empty flag.
    const items = schedFlagsArg.split(",").filter((f) => f !== "");
    for (const flag of items.length ? items : [""]) {
      if (flag === "flag-1" || flag === "flag-2" || flag === "flag-3") {
        // IP_VS_SVC_F_SCHED1..3: sh and mh read SCHED1 as fallback and SCHED2 as port.
        if (readsHashFlags(sched) && flag !== "flag-3") ce.schedFlags.push(`${sched}-${flag === "flag-1" ? "fallback" : "port"}`);
      } else if ((SCHEDULER_FLAG_NAMES as readonly string[]).includes(flag)) {
        if (sched !== flag.slice(0, 2)) return fail(`incompatible scheduler flag \`${flag}'`);
        ce.schedFlags.push(flag);
      } else {
        return fail(`invalid scheduler flag \`${flag}'`);
      }
    }
  }

  // process_options, up to the command itself.
  if (ce.command === "restore" && readingStdin) return tryHelp(); // "avoid infinite loop"
  const problem = genericOptCheck(ce.command, ce.options);
  if (problem) return fail(problem);

  if (ce.command === "add-service" || ce.command === "edit-service") {
    if (!ce.svc.fwmark && !ce.svc.port && !ce.persistent) return fail("Zero port specified for non-persistent service");
    if (ce.options.has("ops")) {
      if (!ce.svc.fwmark && ce.svc.protocol !== "udp") return fail("One-Packet Scheduling is only for UDP virtual services");
      return refuse("one-packet scheduling (-o) is not supported yet");
    }
    if (ce.options.has("pe")) return refuse("persistence engines (--pe) are not supported yet");
    if (!ce.scheduler) ce.scheduler = DEFAULT_SCHEDULER;
  }
  if (ce.command === "add-server" || ce.command === "edit-server") {
    if (ce.dest.forward === "nat") return refuse("NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)");
    // "The destination port must be equal to the service port" for DR and TUN (not with -f).
    if (!ce.svc.fwmark) ce.dest.port = ce.svc.port;
    const tunnelOptions: OptionName[] = ["tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"];
    if (tunnelOptions.some((o) => ce.options.has(o)) && ce.dest.forward !== "tun") {
      return fail("Tunnel options conflict with forward method");
    }
    const tunnelProblem = tunnelOptCheck(ce.tunType, ce.options);
    if (tunnelProblem) return fail(tunnelProblem);
    if (ce.tunType !== "ipip") return refuse(`tunnel type '${ce.tunType}' is not supported yet: ringvs tunnels with IPIP (ipip)`);
  }
  if (ce.svc.protocol === "sctp" && ce.options.has("service-address")) {
    return refuse("SCTP services (--sctp-service) are not supported: ringvs balances TCP and UDP");
  }
  if (ce.ipv6) return refuse("IPv6 is not supported yet");
  if (ce.command === "list") {
    const o = ce.options;
    if (((o.has("connection") || o.has("timeout") || o.has("daemon")) && (o.has("stats") || o.has("rate") || o.has("thresholds"))) ||
      ((o.has("timeout") || o.has("daemon")) && o.has("persistent-conn"))) {
      return fail("options conflicts in the list command");
    }
  }
  if (ce.command === "save") ce.format.rule = true;
  return ce;
}

// ---------------------------------------------------------------------------------------------

const VERSION = "v1.31";
const VERSION_DATE = "2019/12/24";

export function versionLine(): string {
  return `${PROGRAM} ${VERSION} ${VERSION_DATE} (compiled with popt and IPVS v1.2.1)`;
}

/** usage_exit(argv[0], 0), with ringvs's schedulers and its --members option. */
export function usage(): string {
  const p = PROGRAM;
  return `${versionLine()}
Usage:
  ${p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  ${p} -D virtual-service
  ${p} -C
  ${p} -R
  ${p} -S [-n]
  ${p} -a|e virtual-service -r server-address [options]
  ${p} -d virtual-service -r server-address
  ${p} -L|l [virtual-service] [options]
  ${p} -Z [virtual-service]
  ${p} --set tcp tcpfin udp
  ${p} --start-daemon {master|backup} [daemon-options]
  ${p} --stop-daemon {master|backup}
  ${p} -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of ${IPVS_SCHEDULERS.join("|")},
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)

ringvs:
  --members "tcp VIP:PORT,..."         with -A -f: the VIP:port pairs the mark stands for
                                      (ringvs cannot see the iptables rules that set marks)
  -m, --pe, -o, -6, --sctp-service, gue/gre tunnels and the sync daemon are refused;
  addresses are printed numerically with or without -n (no DNS lookups).
`;
}
