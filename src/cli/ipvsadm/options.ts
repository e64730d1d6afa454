// What each option of ipvsadm's popt table means (ipvsadm.c 1.31 parse_options), as data beside the
// legality table (table.ts, which says which command takes which option class): the command an
// option starts, or the option class it fills and how its value is read, with ipvsadm's fail()
// text and ringvs's own explanation; the -b scheduler flags; the tunnel types; and what ringvs
// refuses of what ipvsadm would do. parse.ts reads a line through these tables.

import { IPVSADM_OPTIONS, optionId, type IpvsadmOptionDef } from "../../config/ipvsadm_syntax.ts";
import type { Protocol } from "../../config/model.ts";
import { MAX_PERSISTENCE_TIMEOUT, MAX_THRESHOLD, MAX_WEIGHT, SCHEDULER_FLAG_NAMES } from "../../config/schema.ts";
import { DEFAULT_PERSISTENCE_TIMEOUT } from "../../config/service.ts";
import type { ListFormat } from "./format.ts";
import type { Command, OptionName, TunnelType } from "./table.ts";

/** The commands of the table, and the two ipvsadm answers at once (-h, -v). */
export type CommandName = Command | "help" | "version";

/** ringvs's one option of its own: a firewall-mark service's VIP:port pairs, which the kernel
 *  would learn from iptables rules that ringvs cannot see. */
const MEMBERS_OPTION: IpvsadmOptionDef = { long: "members", arg: "required" };

/** ipvsadm's popt table, then ringvs's option. */
export const POPT_TABLE: readonly IpvsadmOptionDef[] = [...IPVSADM_OPTIONS, MEMBERS_OPTION];

// ---------------------------------------------------------------------------------------------
// Numbers.

/** A number read as ipvsadm's string_to_number reads it (strtol: sign and leading blanks allowed,
 *  nothing after the digits) within [min, max]. */
export interface CountRule {
  min: number;
  max: number;
  /** ipvsadm's fail() text; `%s` stands for the value. */
  ipvsadm: string;
  /** ringvs's words for a value that is no count. */
  invalid: string;
  /** ringvs's words for a count out of range, where they say more than `invalid`; the value is
   *  then shown as the number it was read as. */
  outOfRange?: string;
}

const plainCount = (min: number, max: number, ipvsadm: string): CountRule => ({ min, max, ipvsadm, invalid: `must be an integer ${min}..${max}` });

const WEIGHT: CountRule = {
  min: 0, max: MAX_WEIGHT, ipvsadm: "illegal weight specified",
  invalid: `must be an integer 0..${MAX_WEIGHT}`, outOfRange: `must be 0..${MAX_WEIGHT}`,
};

/** -p [timeout]: 1..MAX_TIMEOUT (parse_timeout). */
const PERSISTENCE_TIMEOUT: CountRule = {
  min: 1, max: MAX_PERSISTENCE_TIMEOUT, ipvsadm: "invalid timeout value `%s' specified",
  invalid: "invalid timeout: must be a number of seconds", outOfRange: `must be 1..${MAX_PERSISTENCE_TIMEOUT} seconds`,
};

/** --set tcp tcpfin udp: 0..MAX_TIMEOUT each, 0 = leave as it is. */
export const CONNECTION_TIMEOUT: CountRule = {
  min: 0, max: MAX_PERSISTENCE_TIMEOUT, ipvsadm: "invalid timeout value `%s' specified",
  invalid: `invalid timeout value: must be 0..${MAX_PERSISTENCE_TIMEOUT} seconds (0 keeps the value)`,
};

export type CountReading =
  | { ok: true; n: number }
  | { ok: false; value: string | number; message: string; ipvsadm: string };

export function readCount(text: string, rule: CountRule): CountReading {
  const n = /^\s*[+-]?[0-9]+$/.test(text) ? Number(text.trim()) : NaN;
  if (Number.isSafeInteger(n) && n >= rule.min && n <= rule.max) return { ok: true, n };
  const ipvsadm = rule.ipvsadm.replace("%s", text);
  // A plain count out of range is shown as the number, the rest (signs, words) as written.
  if (rule.outOfRange !== undefined && /^\+?[0-9]+$/.test(text)) return { ok: false, value: Number(text), message: rule.outOfRange, ipvsadm };
  return { ok: false, value: text, message: rule.invalid, ipvsadm };
}

// ---------------------------------------------------------------------------------------------
// What each option means.

/** How an option's value is read, and what it sets. */
export type ValueMeaning =
  | { kind: "flag"; format?: keyof ListFormat }
  | { kind: "count"; rule: CountRule; sets?: "weight" | "upper" | "lower" }
  /** -p: the value is optional (POPT_ARGFLAG_OPTIONAL); without one, `absent`. */
  | { kind: "persistence"; rule: CountRule; absent: number }
  | { kind: "service"; protocol: Protocol | "sctp" }
  | { kind: "fwmark" }
  | { kind: "scheduler" }
  | { kind: "netmask" }
  | { kind: "real-server" }
  | { kind: "forward"; method: "dr" | "tun" | "nat" }
  /** -b: read once the whole line is, against its -s (parse_sched_flags). */
  | { kind: "sched-flags" }
  | { kind: "tun-type" }
  | { kind: "members" }
  | { kind: "mcast-group" }
  /** Kept as given (--mcast-interface, --pe). */
  | { kind: "text" };

export type OptionMeaning =
  | { role: "command"; command: CommandName }
  /** Fills option class `fills`: its column in commands_v_options. */
  | { role: "option"; fills: OptionName; value: ValueMeaning }
  /** -6: no class of its own; it makes a -f service an IPv6 one. */
  | { role: "ipv6" }
  /** --sort: "Sort is the default, this is a no-op for compatibility". */
  | { role: "no-op" };

const command = (c: CommandName): OptionMeaning => ({ role: "command", command: c });
const fills = (opt: OptionName, value: ValueMeaning): OptionMeaning => ({ role: "option", fills: opt, value });
const flag = (opt: OptionName, format?: keyof ListFormat): OptionMeaning => fills(opt, { kind: "flag", ...(format ? { format } : {}) });
const count = (opt: OptionName, rule: CountRule, sets?: "weight" | "upper" | "lower"): OptionMeaning =>
  fills(opt, { kind: "count", rule, ...(sets ? { sets } : {}) });

/** What ringvs refuses of what ipvsadm would do, and why. */
export const REFUSED = {
  nat: "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)",
  ops: "one-packet scheduling (-o) is not supported yet",
  pe: "persistence engines (--pe) are not supported yet",
  ipv6: "IPv6 is not supported yet",
  sctp: "SCTP services (--sctp-service) are not supported: ringvs balances TCP and UDP",
  /** ipvsadm-save writes `ops` after a one-packet service, which ipvsadm cannot read back. */
  opsWord: "one-packet scheduling (ops) is not supported yet",
  netmaskWithoutPersistence: "has no effect without -p (persistence)",
} as const;

/** By the option's short letter or, without one, its long name (optionId). */
export const OPTION_MEANINGS: Readonly<Record<string, OptionMeaning>> = {
  A: command("add-service"),
  E: command("edit-service"),
  D: command("delete-service"),
  C: command("flush"),
  L: command("list"),
  l: command("list"),
  Z: command("zero"),
  a: command("add-server"),
  e: command("edit-server"),
  d: command("delete-server"),
  set: command("set"),
  h: command("help"),
  v: command("version"),
  R: command("restore"),
  S: command("save"),
  "start-daemon": command("start-daemon"),
  "stop-daemon": command("stop-daemon"),

  t: fills("service-address", { kind: "service", protocol: "tcp" }),
  u: fills("service-address", { kind: "service", protocol: "udp" }),
  "sctp-service": fills("service-address", { kind: "service", protocol: "sctp" }),
  f: fills("service-address", { kind: "fwmark" }),
  s: fills("scheduler", { kind: "scheduler" }),
  p: fills("persistent", { kind: "persistence", rule: PERSISTENCE_TIMEOUT, absent: DEFAULT_PERSISTENCE_TIMEOUT }),
  M: fills("netmask", { kind: "netmask" }),
  r: fills("real-server", { kind: "real-server" }),
  m: fills("forwarding-method", { kind: "forward", method: "nat" }),
  i: fills("forwarding-method", { kind: "forward", method: "tun" }),
  g: fills("forwarding-method", { kind: "forward", method: "dr" }),
  w: count("weight", WEIGHT, "weight"),
  x: count("u-threshold", plainCount(0, MAX_THRESHOLD, "illegal u_threshold specified"), "upper"),
  y: count("l-threshold", plainCount(0, MAX_THRESHOLD, "illegal l_threshold specified"), "lower"),
  n: flag("numeric"),
  c: flag("connection"),
  "mcast-interface": fills("mcast-interface", { kind: "text" }),
  syncid: count("syncid", plainCount(0, 255, "illegal syncid specified")),
  timeout: flag("timeout"),
  daemon: flag("daemon"),
  stats: flag("stats", "stats"),
  rate: flag("rate", "rate"),
  thresholds: flag("thresholds", "thresholds"),
  "persistent-conn": flag("persistent-conn", "persistentConn"),
  nosort: flag("nosort", "nosort"),
  sort: { role: "no-op" },
  X: flag("exact", "exact"),
  "6": { role: "ipv6" },
  o: flag("ops"),
  pe: fills("pe", { kind: "text" }),
  b: fills("sched-flags", { kind: "sched-flags" }),
  "mcast-group": fills("mcast-group", { kind: "mcast-group" }),
  "mcast-port": count("mcast-port", plainCount(1, 65535, "illegal mcast-port specified")),
  "mcast-ttl": count("mcast-ttl", plainCount(1, 255, "illegal mcast-ttl specified")),
  "sync-maxlen": count("sync-maxlen", plainCount(1, 65535 - 20 - 8, "illegal sync-maxlen specified")),
  "tun-info": flag("tun-info", "tunInfo"),
  "tun-type": fills("tun-type", { kind: "tun-type" }),
  "tun-port": count("tun-port", plainCount(1, 65535, "illegal tunnel port specified")),
  "tun-nocsum": flag("tun-nocsum"),
  "tun-csum": flag("tun-csum"),
  "tun-remcsum": flag("tun-remcsum"),
  members: fills("members", { kind: "members" }),
};

for (const o of POPT_TABLE) {
  if (!OPTION_MEANINGS[optionId(o)]) throw new Error(`ipvsadm option ${optionId(o)} has no meaning`);
}

/** How a message names each option class: the first option of the popt table that fills it ("-t"
 *  for service-address, "-r" for real-server). */
const SPELLING = new Map<OptionName, string>();
for (const o of POPT_TABLE) {
  const m = OPTION_MEANINGS[optionId(o)]!;
  if (m.role === "option" && !SPELLING.has(m.fills)) SPELLING.set(m.fills, o.short ? `-${o.short}` : `--${o.long}`);
}

export function spellingOf(opt: OptionName): string {
  return SPELLING.get(opt) ?? opt;
}

/** Stray words that mean something: ringvs's words for them instead of "unexpected argument". */
export const UNEXPECTED_WORDS: Readonly<Record<string, string>> = { ops: REFUSED.opsWord };

/** The sync daemon is ipvsadm's, and ringvs has none. */
export const syncDaemonRefused = (cmd: "start-daemon" | "stop-daemon") =>
  `the connection sync daemon (--${cmd}) is not supported: ringvs keeps its connections to itself`;

// ---------------------------------------------------------------------------------------------
// -b: ipvsadm's parse_sched_flags.

/** The -b names: which IP_VS_SVC_F_SCHEDn bit each sets, and the scheduler a named one belongs to
 *  ("incompatible scheduler flag" with any other). */
export const SCHED_FLAGS: Readonly<Record<string, { bit: 1 | 2 | 3; scheduler?: "sh" | "mh" }>> = {
  "flag-1": { bit: 1 },
  "flag-2": { bit: 2 },
  "flag-3": { bit: 3 },
  "sh-fallback": { bit: 1, scheduler: "sh" },
  "sh-port": { bit: 2, scheduler: "sh" },
  "mh-fallback": { bit: 1, scheduler: "mh" },
  "mh-port": { bit: 2, scheduler: "mh" },
};

/** What the schedulers that read the hash flags (sh, mh: readsHashFlags) make of each bit; no
 *  scheduler reads SCHED3, and no other scheduler reads any, in the kernel as here. */
export const HASH_FLAG_BITS: Readonly<Record<1 | 2 | 3, "fallback" | "port" | null>> = { 1: "fallback", 2: "port", 3: null };

for (const name of SCHEDULER_FLAG_NAMES) {
  const f = SCHED_FLAGS[name];
  if (!f || `${f.scheduler}-${HASH_FLAG_BITS[f.bit]}` !== name) throw new Error(`-b ${name} has no meaning`);
}

// ---------------------------------------------------------------------------------------------
// Tunnels: ringvs tunnels with IPIP only.

export const TUNNEL_TYPE_MEANINGS: Readonly<Record<TunnelType, { refused?: string }>> = {
  ipip: {},
  gue: { refused: "tunnel type 'gue' is not supported yet: ringvs tunnels with IPIP (ipip)" },
  gre: { refused: "tunnel type 'gre' is not supported yet: ringvs tunnels with IPIP (ipip)" },
};

/** Why each tunnel option is refused (on IPIP, where ipvsadm refuses them too, and on any other). */
export const TUNNEL_OPTION_REFUSALS: Readonly<Partial<Record<OptionName, string>>> = {
  "tun-port": "tunnel options (--tun-port) are not supported yet: ringvs tunnels with IPIP, which has no port",
  "tun-nocsum": "tunnel options (--tun-nocsum) are not supported yet",
  "tun-csum": "tunnel options (--tun-csum) are not supported yet",
  "tun-remcsum": "tunnel options (--tun-remcsum) are not supported yet",
};
