// ipvsadm's words: its popt table, the address and mark syntax, and ringvs's firewall-mark member
// syntax. The one reader of ipvsadm lines (src/cli/ipvsadm/parse.ts: the command line, -R and the
// rules file) reads with them; the fwmark directive and the keepalived importer share the mark and
// member syntax.
//
// The table is ipvsadm 1.31's `options_table` in parse_options (ipvsadm.c), in its order; what each
// option means is src/cli/ipvsadm/options.ts.

import { MAX_FWMARK, parseIPv4 } from "./schema.ts";
import type { Protocol, ServiceMatch } from "./model.ts";

export type ArgKind = "none" | "required" | "optional";

export interface IpvsadmOptionDef {
  short?: string;
  long: string;
  arg: ArgKind;
}

/** ipvsadm.c parse_options' popt table. `-p` alone takes an optional value (POPT_ARGFLAG_OPTIONAL). */
export const IPVSADM_OPTIONS: readonly IpvsadmOptionDef[] = [
  { short: "A", long: "add-service", arg: "none" },
  { short: "E", long: "edit-service", arg: "none" },
  { short: "D", long: "delete-service", arg: "none" },
  { short: "C", long: "clear", arg: "none" },
  { short: "L", long: "list", arg: "none" },
  { short: "l", long: "list", arg: "none" },
  { short: "Z", long: "zero", arg: "none" },
  { short: "a", long: "add-server", arg: "none" },
  { short: "e", long: "edit-server", arg: "none" },
  { short: "d", long: "delete-server", arg: "none" },
  { long: "set", arg: "none" },
  { short: "h", long: "help", arg: "none" },
  { short: "v", long: "version", arg: "none" },
  { short: "R", long: "restore", arg: "none" },
  { short: "S", long: "save", arg: "none" },
  { long: "start-daemon", arg: "required" },
  { long: "stop-daemon", arg: "required" },
  { short: "t", long: "tcp-service", arg: "required" },
  { short: "u", long: "udp-service", arg: "required" },
  { long: "sctp-service", arg: "required" },
  { short: "f", long: "fwmark-service", arg: "required" },
  { short: "s", long: "scheduler", arg: "required" },
  { short: "p", long: "persistent", arg: "optional" },
  { short: "M", long: "netmask", arg: "required" },
  { short: "r", long: "real-server", arg: "required" },
  { short: "m", long: "masquerading", arg: "none" },
  { short: "i", long: "ipip", arg: "none" },
  { short: "g", long: "gatewaying", arg: "none" },
  { short: "w", long: "weight", arg: "required" },
  { short: "x", long: "u-threshold", arg: "required" },
  { short: "y", long: "l-threshold", arg: "required" },
  { short: "n", long: "numeric", arg: "none" },
  { short: "c", long: "connection", arg: "none" },
  { long: "mcast-interface", arg: "required" },
  { long: "syncid", arg: "required" },
  { long: "timeout", arg: "none" },
  { long: "daemon", arg: "none" },
  { long: "stats", arg: "none" },
  { long: "rate", arg: "none" },
  { long: "thresholds", arg: "none" },
  { long: "persistent-conn", arg: "none" },
  { long: "nosort", arg: "none" },
  { long: "sort", arg: "none" },
  { short: "X", long: "exact", arg: "none" },
  { short: "6", long: "ipv6", arg: "none" },
  { short: "o", long: "ops", arg: "none" },
  { long: "pe", arg: "required" },
  { short: "b", long: "sched-flags", arg: "required" },
  { long: "mcast-group", arg: "required" },
  { long: "mcast-port", arg: "required" },
  { long: "mcast-ttl", arg: "required" },
  { long: "sync-maxlen", arg: "required" },
  { long: "tun-info", arg: "none" },
  { long: "tun-type", arg: "required" },
  { long: "tun-port", arg: "required" },
  { long: "tun-nocsum", arg: "none" },
  { long: "tun-csum", arg: "none" },
  { long: "tun-remcsum", arg: "none" },
];

/** How a front end names an option of the table: its short letter, else its long name (so the two
 *  `list` entries, -L and -l, stay apart). */
export function optionId(o: IpvsadmOptionDef): string {
  return o.short ?? o.long;
}

// ---------------------------------------------------------------------------------------------
// Values.

export interface AddrPort {
  address: string;
  /** Absent when the text had no ":port". */
  port?: number;
}

/** Parses `ADDR[:PORT]` the numeric way `ipvsadm-save -n` writes it; a string says why not.
 *  ringvs resolves no names (no DNS, no /etc/services), so a host or service name is refused. */
export function parseAddrPort(text: string): AddrPort | string {
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

/** A firewall mark as ipvsadm's parse_fwmark takes it (1..UINT_MAX), or null. */
export function parseMark(text: string): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_FWMARK ? n : null;
}

export const BAD_MARK = `invalid fwmark value: must be an integer 1..${MAX_FWMARK}`;

// ---------------------------------------------------------------------------------------------
// Firewall-mark members: the VIP:port pairs a mark stands for. The kernel learns them from
// iptables rules ringvs cannot see, so they are written out: in a rules file on a
// `# ringvs: fwmark N = ...` line, on the command line with `--members`.

export const MEMBER_EXAMPLE = "tcp 198.18.0.100:80, tcp 198.18.0.100:443";

export interface MemberProblem {
  /** The member as written, when the problem is about one. */
  value?: string;
  message: string;
}

/** Parses `PROTO ADDR:PORT[, PROTO ADDR:PORT]...`; each member's text comes back with it. */
export function parseMemberList(text: string): { members: { text: string; match: ServiceMatch }[]; problems: MemberProblem[] } {
  const members: { text: string; match: ServiceMatch }[] = [];
  const problems: MemberProblem[] = [];
  const texts = text.split(",").map((t) => t.trim());
  if (texts.length === 1 && texts[0] === "") return { members, problems: [{ message: "no members" }] };
  for (const t of texts) {
    const parts = t.split(/\s+/);
    if (parts.length !== 2 || parts[0] === "") {
      problems.push({ value: t, message: "a member is PROTOCOL ADDRESS:PORT, e.g. tcp 198.18.0.100:80" });
      continue;
    }
    const [proto, addrPort] = parts as [string, string];
    if (proto !== "tcp" && proto !== "udp") {
      problems.push({ value: t, message: `protocol '${proto}' must be tcp or udp` });
      continue;
    }
    const ap = parseAddrPort(addrPort);
    if (typeof ap === "string") {
      problems.push({ value: t, message: ap });
      continue;
    }
    if (ap.port === undefined) {
      problems.push({ value: t, message: "no port given: write ADDRESS:PORT, or ADDRESS:0 for every port" });
      continue;
    }
    members.push({ text: t, match: { protocol: proto as Protocol, address: ap.address, port: ap.port } });
  }
  return { members, problems };
}

/** Why a `-A -f MARK` service cannot be created without members (the rules file and the CLI say the same). */
export function fwmarkWithoutMembersMessage(mark: number): string {
  return (
    `firewall mark ${mark} has no members: the iptables rules that set it are invisible to ringvs, so name ` +
    `the VIP:port pairs it stands for on a line "# ringvs: fwmark ${mark} = ${MEMBER_EXAMPLE}"`
  );
}

