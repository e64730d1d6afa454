// The third front end: the `virtual_server` blocks of a keepalived.conf -> DirectorConfig.
//
// Operators who run LVS with keepalived keep their tables in keepalived.conf, so this reads that
// file the way keepalived's check process does (keepalived/check/check_parser.c, check_data.c)
// and keeps keepalived's own defaults where they differ from ipvsadm's:
//   - no lb_kind (nor lvs_method on the real server) means NAT in keepalived, which ringvs does
//     not do, so it is refused rather than quietly turned into DR;
//   - no protocol means UDP ("no protocol set - defaulting to UDP");
//   - port 0 without persistence_timeout gets persistence 360 s, and persistence_granularity
//     without a timeout gets 360 s too;
//   - the virtual_server's `weight` is the weight of real servers that give none (default 1);
//   - a virtual_server without real servers is ignored ("has no real servers - ignoring").
// What ringvs understands but does not apply (health checks, sorry servers, quorum, ...) and what
// it does not know comes back in `unsupported`, each with its line: nothing is dropped silently.
// Whatever would make ringvs send packets somewhere keepalived would not (NAT, SCTP, IPv6,
// one-packet scheduling, persistence engines) is an error, on its line.
//
// Choices this front end makes:
//   - `include` is refused on its line: the parser takes one text and reads no files, and a
//     silently skipped include could hide services. Put the included blocks into the one file.
//   - `virtual_server group NAME` is expanded as keepalived does it (ipvs_group_cmd): one service
//     per group entry (each address of a range `198.18.0.1-3 80`, each `fwmark N`), all with the
//     block's settings and real servers. It is not turned into one firewall-mark service, which
//     would share scheduling and persistence across the entries where keepalived does not.
//   - A health-check block (TCP_CHECK, HTTP_GET, ...) is listed on its opening line and so is
//     every setting inside it (connect_timeout, retry, ...), each on its own line.
//   - Blocks outside the director's tables (global_defs, vrrp_instance, ...) and unknown
//     keywords are listed once each, on the line that opens them.
//
// Firewall marks: as in the rules file, the iptables rules that set a mark are invisible to
// ringvs, so `virtual_server fwmark N` needs the comment directive
//     # ringvs: fwmark N = tcp 198.18.0.100:80, tcp 198.18.0.100:443
// on its own line anywhere in the file (keepalived reads it as a comment).
//
// Syntax: keepalived's tokens: words, "quoted strings" (no escapes), `{` and `}` as tokens of
// their own, and comments from a word starting with `!` or `#` to the end of the line. A statement
// is the words of one line up to a brace; `{` opens the block of the statement before it (on the
// same line or, keepalived-style, on the next). Input enters here, so problems are values.

import { readDirectives, type MemberOrigin } from "./fwmark_directive.ts";
import { BAD_MARK, fwmarkWithoutMembersMessage, parseMark } from "./ipvsadm_syntax.ts";
import { sortConfigErrors, type ConfigError } from "./load.ts";
import type { DirectorConfig, Protocol, VipMode, WorkersConfig } from "./model.ts";
import {
  DEFAULT_PERSISTENCE_NETMASK,
  DEFAULT_PERSISTENCE_TIMEOUT,
  DEFAULT_SCHEDULER,
  DEFAULT_WEIGHT,
  parseIPv4,
  serviceToInput,
  validateDirectorConfig,
  type ConfigPath,
} from "./schema.ts";
import { readsHashFlags } from "../sched/index.ts";
import {
  attachFwmarkMembers,
  memberIssueToError,
  placesInFile,
  type RawService,
} from "./raw_service.ts";

/** A directive ringvs read but does not apply, or does not know. */
export interface Unsupported {
  line: number;
  /** The keyword as written (`TCP_CHECK`, `vrrp_instance`, `sorry_server`). */
  directive: string;
  reason: string;
}

/** What keepalived.conf cannot say about the director itself. */
export interface KeepalivedOptions {
  interface: string;
  vipMode?: VipMode;
  /** Outer source address of TUN packets; absent or null = the route's preferred source. */
  tunnelSource?: string | null;
  workers?: Partial<WorkersConfig>;
}

export type KeepalivedResult =
  | { ok: true; config: DirectorConfig; unsupported: Unsupported[] }
  | { ok: false; errors: ConfigError[] };

/** The reasons `unsupported` gives, so callers and tests can group by them. */
export const UNSUPPORTED_REASONS = {
  health: "health checks are not implemented yet",
  outside: "not part of the director's tables (keepalived VRRP/global settings)",
  sorry: "sorry servers are not implemented yet",
  unknown: "unknown keepalived keyword",
} as const;

// ---------------------------------------------------------------------------------------------
// Tokens and blocks.

interface Token {
  kind: "word" | "open" | "close";
  text: string;
  line: number;
  column: number;
}

interface Statement {
  keyword: string;
  /** Every word after the keyword, as written (quotes removed). */
  args: string[];
  line: number;
  /** null: no `{ }` block. */
  block: Statement[] | null;
}

interface SyntaxError {
  line: number;
  column: number;
  message: string;
}

function tokenize(text: string): { ok: true; tokens: Token[] } | { ok: false; error: SyntaxError } {
  const tokens: Token[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const s = lines[index];
    const line = index + 1;
    let c = 0;
    while (c < s.length) {
      const ch = s[c];
      if (/\s/.test(ch)) {
        c++;
      } else if (ch === "!" || ch === "#") {
        break; // a comment to the end of the line
      } else if (ch === "{" || ch === "}") {
        tokens.push({ kind: ch === "{" ? "open" : "close", text: ch, line, column: c + 1 });
        c++;
      } else if (ch === '"') {
        const end = s.indexOf('"', c + 1);
        if (end < 0) return { ok: false, error: { line, column: c + 1, message: "unterminated quoted string" } };
        tokens.push({ kind: "word", text: s.slice(c + 1, end), line, column: c + 1 });
        c = end + 1;
      } else {
        const start = c;
        while (c < s.length && !/[\s{}"]/.test(s[c])) c++;
        tokens.push({ kind: "word", text: s.slice(start, c), line, column: start + 1 });
      }
    }
  }
  return { ok: true, tokens };
}

/** Groups tokens into statements and blocks; unbalanced braces are errors with their line. */
function buildTree(tokens: Token[]): { ok: true; statements: Statement[] } | { ok: false; error: SyntaxError } {
  const root: Statement[] = [];
  const stack: { list: Statement[]; owner: Statement | null; open: Token | null }[] = [{ list: root, owner: null, open: null }];
  let current: Statement | null = null; // the statement still taking words on its line
  for (const tok of tokens) {
    const top = stack[stack.length - 1];
    if (tok.kind === "word") {
      if (current && current.line === tok.line && current.block === null) {
        current.args.push(tok.text);
      } else {
        current = { keyword: tok.text, args: [], line: tok.line, block: null };
        top.list.push(current);
      }
    } else if (tok.kind === "open") {
      const owner = top.list[top.list.length - 1];
      if (!owner || owner.block !== null) {
        return { ok: false, error: { line: tok.line, column: tok.column, message: "'{' without a keyword before it" } };
      }
      owner.block = [];
      stack.push({ list: owner.block, owner, open: tok });
      current = null;
    } else {
      if (stack.length === 1) {
        return { ok: false, error: { line: tok.line, column: tok.column, message: "unbalanced '}': no block is open here" } };
      }
      stack.pop();
      current = null;
    }
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1].open as Token;
    const owner = stack[stack.length - 1].owner as Statement;
    return {
      ok: false,
      error: {
        line: open.line,
        column: open.column,
        message: `unbalanced '{': the block of '${owner.keyword}' is not closed by the end of the file`,
      },
    };
  }
  return { ok: true, statements: root };
}

// ---------------------------------------------------------------------------------------------
// Keyword tables (rules as data).

/** Top-level blocks of keepalived's other parts (VRRP, global settings, BFD). */
const OUTSIDE_KEYWORDS = new Set([
  "global_defs", "vrrp_instance", "vrrp_sync_group", "vrrp_script", "vrrp_track_process", "vrrp_track_file",
  "track_file", "garp_group", "static_ipaddress", "static_routes", "static_rules", "linkbeat_interfaces",
  "bfd_instance", "net_namespace", "net_namespace_ipvs", "instance", "use_pid_dir", "namespace_with_ipsets",
]);

/** Health-check blocks of a real server (check_api.c install_checkers_keyword and friends). */
const CHECKERS = new Set([
  "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK",
  "FILE_CHECK", "BFD_CHECK",
]);

/** virtual_server settings that only matter to health checking and its state machine. */
const VS_HEALTH = new Set([
  "delay_loop", "retry", "delay_before_retry", "warmup", "inhibit_on_failure", "alpha", "omega", "quorum",
  "quorum_up", "quorum_down", "hysteresis", "ha_suspend", "smtp_alert", "virtualhost",
]);

/** real_server settings that only matter to health checking. */
const RS_HEALTH = new Set([
  "delay_loop", "retry", "delay_before_retry", "warmup", "inhibit_on_failure", "alpha", "notify_up",
  "notify_down", "smtp_alert", "virtualhost",
]);

const SORRY = new Set(["sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method"]);

/** Named scheduler flags (keepalived lbflags_handler; mh-* in keepalived 2.x). */
const NAMED_FLAGS = new Set(["sh-port", "sh-fallback", "mh-port", "mh-fallback"]);
const NUMBERED_FLAGS = new Set(["flag-1", "flag-2", "flag-3"]);

// ---------------------------------------------------------------------------------------------
// Assembling the services.

/** Where a value came from: its line, its keyword, and the value as written. */
interface Place {
  line: number;
  field: string;
  value?: string;
}

interface Setting<T> {
  value: T;
  place: Place;
}

interface ServerDraft {
  place: Place;
  address: string;
  /** Absent when the line gave none, or for a fwmark service (DR/TUN keep the packet's port). */
  port?: number;
  weight?: Setting<number>;
  forward?: Setting<"dr" | "tun">;
  upperThreshold?: Setting<number>;
  lowerThreshold?: Setting<number>;
}

/** The settings of one virtual_server block, before they are spread over its services. */
interface VsDraft {
  place: Place;
  scheduler?: Setting<string>;
  forward?: Setting<"dr" | "tun">;
  protocol?: Setting<Protocol>;
  timeout?: Setting<number>;
  netmask?: Setting<string>;
  weight?: Setting<number>;
  flags: Setting<string>[];
  servers: ServerDraft[];
  /** An lb_kind/lvs_method was given but refused: "no lb_kind" would only echo that error. */
  forwardBroken: boolean;
}

interface ServiceEntry {
  raw: RawService;
  /** The virtual_server line, or the group entry the service came from. */
  head: Place;
  vs: VsDraft;
  flagPlaces: Place[];
  mark?: number;
  memberOrigins: MemberOrigin[];
}

type GroupEntry =
  | { kind: "vip"; place: Place; addresses: string[]; port: number }
  | { kind: "fwmark"; place: Place; mark: number };

interface Group {
  line: number;
  entries: GroupEntry[];
  used: boolean;
}

/** Why `text` is not an IPv4 address ringvs can use as written, or null. */
function addressProblem(text: string): string | null {
  if (parseIPv4(text) !== null) return null;
  if (text.includes(":")) return "IPv6 is not supported yet";
  if (text.startsWith("$")) return "keepalived parameter substitution ($NAME) is not supported: write the value";
  return /^[0-9.]*$/.test(text)
    ? `'${text}' is not an IPv4 address in dotted-quad form`
    : `'${text}' is not a numeric IPv4 address; host names are not resolved`;
}

function parsePort(text: string): number | null {
  return /^[0-9]+$/.test(text) && Number(text) <= 65535 ? Number(text) : null;
}

/** A decimal integer as written (the schema checks the range), or null. */
function parseInteger(text: string): number | null {
  return /^-?[0-9]+$/.test(text) ? Number(text) : null;
}

/** Parses the `virtual_server` blocks of a keepalived.conf. `opts` supplies what the file cannot
 *  say (the interface, VIP mode, tunnel source). Never throws: problems name their line, keyword
 *  and value; directives read but not applied come back in `unsupported`. */
export function parseKeepalived(text: string, sourceName: string, opts: KeepalivedOptions): KeepalivedResult {
  const errors: ConfigError[] = [];
  const unsupported: Unsupported[] = [];
  const fail = (line: number, field: string, message: string, value?: string) => {
    const e: ConfigError = { source: sourceName, line, field, message };
    if (value !== undefined) e.value = value;
    errors.push(e);
  };
  const note = (line: number, directive: string, reason: string) => unsupported.push({ line, directive, reason });
  /** Lists a statement once, block and all (`deep`: and every statement inside its block too). */
  const noteBlock = (st: Statement, reason: string, deep = false) => {
    note(st.line, st.keyword, reason);
    if (deep) for (const inner of st.block ?? []) noteBlock(inner, reason, true);
  };

  const tokens = tokenize(text);
  const tree = tokens.ok ? buildTree(tokens.tokens) : tokens;
  if (!tree.ok) {
    return { ok: false, errors: [{ source: sourceName, line: tree.error.line, column: tree.error.column, field: "", message: tree.error.message }] };
  }

  // The ringvs directives, wherever they stand.
  const { members: directives, brokenMarks, problems: directiveProblems } = readDirectives(text.split(/\r?\n/));
  for (const { line, problem: p } of directiveProblems) fail(line, p.field, p.message, p.value);

  /** The statement's one value, or null after reporting the problem. */
  const oneArg = (st: Statement): string | null => {
    if (st.args.length === 1) return st.args[0];
    fail(st.line, st.keyword, st.args.length === 0 ? "needs a value" : "takes one value", st.args.length ? st.args.join(" ") : undefined);
    return null;
  };
  const noBlock = (st: Statement) => {
    if (st.block !== null) fail(st.line, st.keyword, "takes no { } block");
  };
  /** keepalived refuses nothing it cannot parse; ringvs refuses these forms by name. */
  const refusedForm = (st: Statement): boolean => {
    if (st.keyword === "include") {
      fail(
        st.line,
        "include",
        "include is not supported: the import reads one file; put the included blocks into it",
        st.args.join(" ") || undefined,
      );
      return true;
    }
    if (st.keyword.startsWith("@")) {
      fail(st.line, st.keyword, "conditional configuration (@instance prefixes) is not supported: keep only the lines this director uses");
      return true;
    }
    if (st.keyword.startsWith("$")) {
      fail(st.line, st.keyword, "keepalived parameter definitions ($NAME=...) are not supported: write the values");
      return true;
    }
    return false;
  };

  // Pass 1: the groups, which a virtual_server may use before or after their definition.
  const groups = new Map<string, Group>();
  for (const st of tree.statements) {
    if (st.keyword !== "virtual_server_group") continue;
    const name = oneArg(st);
    if (name === null) continue;
    if (groups.has(name)) {
      fail(st.line, st.keyword, `group already defined on line ${(groups.get(name) as Group).line}`, name);
      continue;
    }
    const group: Group = { line: st.line, entries: [], used: false };
    groups.set(name, group);
    if (st.block === null) {
      fail(st.line, st.keyword, "needs a { } block of entries (VIP PORT, VIP-LAST PORT or fwmark N)", name);
      continue;
    }
    for (const e of st.block) {
      if (refusedForm(e)) continue;
      noBlock(e);
      const written = [e.keyword, ...e.args].join(" ");
      const place: Place = { line: e.line, field: `virtual_server_group ${name}`, value: written };
      if (e.args.length !== 1) {
        fail(e.line, place.field, "an entry is VIP PORT, VIP-LAST PORT (a range of the last octet) or fwmark N", written);
        continue;
      }
      if (e.keyword === "fwmark") {
        const mark = parseMark(e.args[0]);
        if (mark === null) fail(e.line, place.field, BAD_MARK, written);
        else group.entries.push({ kind: "fwmark", place, mark });
        continue;
      }
      const port = parsePort(e.args[0]);
      if (port === null) {
        fail(e.line, place.field, `'${e.args[0]}' is not a port (0..65535)`, written);
        continue;
      }
      const range = /^((?:[0-9]+\.){3})([0-9]+)-([0-9]+)$/.exec(e.keyword);
      if (range) {
        const first = `${range[1]}${range[2]}`;
        const last = Number(range[3]);
        const problem = addressProblem(first);
        if (problem) fail(e.line, place.field, problem, written);
        else if (!(last > Number(range[2]) && last <= 255)) {
          fail(e.line, place.field, `the range must end above its start ${range[2]} and at most at 255`, written);
        } else {
          const addresses: string[] = [];
          for (let o = Number(range[2]); o <= last; o++) addresses.push(`${range[1]}${o}`);
          group.entries.push({ kind: "vip", place, addresses, port });
        }
        continue;
      }
      const problem = addressProblem(e.keyword);
      if (problem) fail(e.line, place.field, problem, written);
      else group.entries.push({ kind: "vip", place, addresses: [e.keyword], port });
    }
  }

  // Pass 2: everything else, in file order.
  const entries: ServiceEntry[] = [];
  for (const st of tree.statements) {
    if (refusedForm(st)) continue;
    if (st.keyword === "virtual_server_group") continue;
    if (st.keyword === "virtual_server") {
      readVirtualServer(st);
      continue;
    }
    if (OUTSIDE_KEYWORDS.has(st.keyword)) noteBlock(st, UNSUPPORTED_REASONS.outside);
    else if (st.keyword === "SSL") noteBlock(st, UNSUPPORTED_REASONS.health, true); // SSL_GET's context
    else noteBlock(st, UNSUPPORTED_REASONS.unknown);
  }
  for (const [name, group] of groups) {
    if (!group.used) note(group.line, "virtual_server_group", `group ${name} is not used by any virtual_server (keepalived ignores it too)`);
  }

  function readVirtualServer(st: Statement): void {
    const head: Place = { line: st.line, field: "virtual_server", value: st.args.join(" ") };
    type Target = { kind: "vip"; address: string; port: number; head: Place } | { kind: "fwmark"; mark: number; head: Place };
    let targets: Target[] | null = null;
    if (st.args.length !== 2) {
      fail(st.line, st.keyword, "expected 'virtual_server VIP PORT', 'virtual_server fwmark N' or 'virtual_server group NAME'", head.value || undefined);
    } else if (st.args[0] === "fwmark") {
      const mark = parseMark(st.args[1]);
      if (mark === null) fail(st.line, st.keyword, BAD_MARK, head.value);
      else targets = [{ kind: "fwmark", mark, head }];
    } else if (st.args[0] === "group") {
      const group = groups.get(st.args[1]);
      if (!group) fail(st.line, st.keyword, `no virtual_server_group named '${st.args[1]}'`, head.value);
      else {
        group.used = true;
        targets = group.entries.flatMap((g): Target[] =>
          g.kind === "fwmark"
            ? [{ kind: "fwmark", mark: g.mark, head: g.place }]
            : g.addresses.map((address): Target => ({ kind: "vip", address, port: g.port, head: g.place })),
        );
      }
    } else {
      const problem = addressProblem(st.args[0]);
      const port = parsePort(st.args[1]);
      if (problem) fail(st.line, st.keyword, problem, head.value);
      else if (port === null) fail(st.line, st.keyword, `'${st.args[1]}' is not a port (0..65535)`, head.value);
      else targets = [{ kind: "vip", address: st.args[0], port, head }];
    }
    if (st.block === null) {
      fail(st.line, st.keyword, "needs a { } block (lb_kind, real_server, ...)", head.value || undefined);
      return;
    }

    const vs: VsDraft = { place: head, flags: [], servers: [], forwardBroken: false };
    const firstLine = new Map<string, number>();
    /** Records a setting that may be given once per block (keepalived would keep the last). */
    const once = (block: string, s: Statement): boolean => {
      const key = `${block}:${s.keyword === "lvs_sched" ? "lb_algo" : s.keyword === "lvs_method" && block === "vs" ? "lb_kind" : s.keyword}`;
      const before = firstLine.get(key);
      if (before !== undefined) {
        fail(s.line, s.keyword, `given twice in this block (first on line ${before})`, s.args.join(" ") || undefined);
        return false;
      }
      firstLine.set(key, s.line);
      return true;
    };
    const forwardOf = (s: Statement): Setting<"dr" | "tun"> | undefined => {
      const v = oneArg(s);
      if (v === null) return undefined;
      const place = { line: s.line, field: s.keyword, value: v };
      if (v === "DR") return { value: "dr", place };
      if (v === "TUN") return { value: "tun", place };
      if (v === "NAT") fail(s.line, s.keyword, "NAT (masquerading) is not supported: ringvs does DR and TUN", v);
      else fail(s.line, s.keyword, "unknown forwarding method (keepalived knows DR, TUN and NAT, in capitals)", v);
      vs.forwardBroken = true;
      return undefined;
    };
    const intSetting = (s: Statement): Setting<number> | undefined => {
      const v = oneArg(s);
      if (v === null) return undefined;
      const n = parseInteger(v);
      if (n === null) {
        fail(s.line, s.keyword, "must be an integer", v);
        return undefined;
      }
      return { value: n, place: { line: s.line, field: s.keyword, value: v } };
    };
    for (const s of st.block) {
      if (refusedForm(s)) continue;
      const k = s.keyword;
      if (k === "real_server") {
        readRealServer(s, vs);
        continue;
      }
      if (CHECKERS.has(k) || VS_HEALTH.has(k)) {
        noteBlock(s, UNSUPPORTED_REASONS.health, true);
        continue;
      }
      if (SORRY.has(k)) {
        noteBlock(s, UNSUPPORTED_REASONS.sorry);
        continue;
      }
      if (k === "lb_algo" || k === "lvs_sched") {
        noBlock(s);
        const v = oneArg(s);
        if (v !== null && once("vs", s)) vs.scheduler = { value: v, place: { line: s.line, field: k, value: v } };
      } else if (k === "lb_kind" || k === "lvs_method") {
        noBlock(s);
        const f = forwardOf(s);
        if (f && once("vs", s)) vs.forward = f;
      } else if (k === "protocol") {
        noBlock(s);
        const v = oneArg(s);
        if (v === null || !once("vs", s)) continue;
        const upper = v.toUpperCase(); // keepalived compares with strcasecmp
        if (upper === "TCP" || upper === "UDP") {
          vs.protocol = { value: upper === "TCP" ? "tcp" : "udp", place: { line: s.line, field: k, value: v } };
        } else if (upper === "SCTP") fail(s.line, k, "SCTP is not supported: ringvs balances TCP and UDP", v);
        else fail(s.line, k, "unknown protocol (keepalived knows TCP, UDP and SCTP)", v);
      } else if (k === "persistence_timeout") {
        noBlock(s);
        if (!once("vs", s)) continue;
        // keepalived: without a value, IPVS_SVC_PERSISTENT_TIMEOUT.
        if (s.args.length === 0) vs.timeout = { value: DEFAULT_PERSISTENCE_TIMEOUT, place: { line: s.line, field: k } };
        else vs.timeout = intSetting(s);
      } else if (k === "persistence_granularity") {
        noBlock(s);
        const v = oneArg(s);
        if (v !== null && once("vs", s)) vs.netmask = { value: v, place: { line: s.line, field: k, value: v } };
      } else if (k === "weight") {
        noBlock(s);
        if (once("vs", s)) vs.weight = intSetting(s);
      } else if (k === "ip_family") {
        noBlock(s);
        const v = oneArg(s);
        if (v === "inet6") fail(s.line, k, "IPv6 is not supported yet", v);
        else if (v !== null && v !== "inet") fail(s.line, k, "unknown address family (keepalived knows inet and inet6)", v);
      } else if (NAMED_FLAGS.has(k) || NUMBERED_FLAGS.has(k)) {
        noBlock(s);
        if (s.args.length > 0) fail(s.line, k, "takes no value", s.args.join(" "));
        else if (once("vs", s)) vs.flags.push({ value: k, place: { line: s.line, field: k } });
      } else if (k === "hashed") {
        note(s.line, k, "no effect: IP_VS_SVC_F_HASHED is the kernel's own bookkeeping flag");
      } else if (k === "ops") {
        fail(s.line, k, "one-packet scheduling (ops) is not supported yet");
      } else if (k === "persistence_engine") {
        fail(s.line, k, "persistence engines are not supported yet", s.args.join(" ") || undefined);
      } else {
        noteBlock(s, UNSUPPORTED_REASONS.unknown);
      }
    }

    if (vs.servers.length === 0) {
      note(st.line, "virtual_server", "no real servers: keepalived ignores such a virtual_server, and so does the import");
      return;
    }
    if (vs.servers.some((rs) => rs.forward === undefined) && vs.forward === undefined && !vs.forwardBroken) {
      fail(
        st.line,
        "lb_kind",
        "no lb_kind: keepalived then forwards with NAT, which ringvs does not do; add 'lb_kind DR' or 'lb_kind TUN'",
      );
      return;
    }
    if (targets === null) return;
    const hasVip = targets.some((t) => t.kind === "vip");
    if (vs.protocol && !hasVip) {
      note(
        vs.protocol.place.line,
        "protocol",
        "no effect on a firewall-mark service: each member in the ringvs directive names its protocol (keepalived ignores it too)",
      );
    }
    const flags = resolveFlags(vs);
    if (targets.some((t) => t.kind === "fwmark")) {
      for (const rs of vs.servers) {
        // Not an error: keepalived configs name a port here for their health checks.
        if (rs.port === undefined || rs.port === 0) continue;
        note(
          rs.place.line,
          "real_server",
          `port ${rs.port} is not applied to a firewall-mark service: its real servers take the port each packet came to (keepalived uses it only for health checks)`,
        );
      }
    }
    for (const t of targets) entries.push(buildService(t, vs, flags));
  }

  /** The block's scheduler flags as the schema names them. Numbered flags are IPVS's
   *  IP_VS_SVC_F_SCHED1/2, which sh and mh read as fallback/port; nothing reads SCHED3. */
  function resolveFlags(vs: VsDraft): Setting<string>[] {
    const scheduler = vs.scheduler?.value ?? DEFAULT_SCHEDULER;
    const out: Setting<string>[] = [];
    for (const f of vs.flags) {
      let name = f.value;
      if (NUMBERED_FLAGS.has(name)) {
        if (!readsHashFlags(scheduler) || name === "flag-3") {
          note(
            f.place.line,
            name,
            name === "flag-3"
              ? "no effect: no IPVS scheduler reads flag-3"
              : `no effect with the ${scheduler} scheduler: only sh and mh read the numbered flags`,
          );
          continue;
        }
        name = `${scheduler}-${name === "flag-1" ? "fallback" : "port"}`;
      }
      if (out.some((o) => o.value === name)) continue; // flag-1 beside sh-fallback: one flag
      out.push({ value: name, place: f.place });
    }
    return out;
  }

  function readRealServer(s: Statement, vs: VsDraft): void {
    const value = s.args.join(" ");
    const place: Place = { line: s.line, field: "real_server", value };
    if (s.args.length < 1 || s.args.length > 2) {
      fail(s.line, s.keyword, "expected 'real_server IP [PORT]'", value || undefined);
      return;
    }
    const problem = addressProblem(s.args[0]);
    if (problem) {
      fail(s.line, s.keyword, problem, value);
      return;
    }
    const draft: ServerDraft = { place, address: s.args[0] };
    if (s.args.length === 2) {
      const port = parsePort(s.args[1]);
      if (port === null) {
        fail(s.line, s.keyword, `'${s.args[1]}' is not a port (0..65535)`, value);
        return;
      }
      draft.port = port;
    }
    const seen = new Map<string, number>();
    const once = (r: Statement): boolean => {
      const key = r.keyword;
      const before = seen.get(key);
      if (before !== undefined) {
        fail(r.line, r.keyword, `given twice in this real_server (first on line ${before})`, r.args.join(" ") || undefined);
        return false;
      }
      seen.set(key, r.line);
      return true;
    };
    for (const r of s.block ?? []) {
      if (refusedForm(r)) continue;
      const k = r.keyword;
      if (CHECKERS.has(k) || RS_HEALTH.has(k)) {
        noteBlock(r, UNSUPPORTED_REASONS.health, true);
        continue;
      }
      if (k === "weight" || k === "uthreshold" || k === "lthreshold") {
        noBlock(r);
        if (!once(r)) continue;
        const v = oneArg(r);
        if (v === null) continue;
        const n = parseInteger(v);
        if (n === null) {
          fail(r.line, k, "must be an integer", v);
          continue;
        }
        const setting = { value: n, place: { line: r.line, field: k, value: v } };
        if (k === "weight") draft.weight = setting;
        else if (k === "uthreshold") draft.upperThreshold = setting;
        else draft.lowerThreshold = setting;
      } else if (k === "lvs_method") {
        noBlock(r);
        if (!once(r)) continue;
        const v = oneArg(r);
        if (v === "DR" || v === "TUN") draft.forward = { value: v === "DR" ? "dr" : "tun", place: { line: r.line, field: k, value: v } };
        else {
          vs.forwardBroken = true;
          if (v === "NAT") fail(r.line, k, "NAT (masquerading) is not supported: ringvs does DR and TUN", v);
          else if (v !== null) fail(r.line, k, "unknown forwarding method (keepalived knows DR, TUN and NAT, in capitals)", v);
        }
      } else {
        noteBlock(r, UNSUPPORTED_REASONS.unknown);
      }
    }
    vs.servers.push(draft);
  }

  function buildService(
    t: { kind: "vip"; address: string; port: number; head: Place } | { kind: "fwmark"; mark: number; head: Place },
    vs: VsDraft,
    flags: Setting<string>[],
  ): ServiceEntry {
    const scheduler = vs.scheduler?.value ?? DEFAULT_SCHEDULER;
    const flagPlaces = flags.map((f) => f.place);
    let persistence: RawService["persistence"] = null;
    if (vs.timeout || vs.netmask) {
      persistence = { timeout: vs.timeout?.value ?? DEFAULT_PERSISTENCE_TIMEOUT, netmask: vs.netmask?.value ?? DEFAULT_PERSISTENCE_NETMASK };
    } else if (t.kind === "vip" && t.port === 0) {
      // keepalived: "zero port only valid for persistent services - setting" (360 s).
      persistence = { timeout: DEFAULT_PERSISTENCE_TIMEOUT, netmask: DEFAULT_PERSISTENCE_NETMASK };
    }
    const realServers = vs.servers.map((rs) => {
      // A fwmark service's real servers keep the packet's port (noted in readVirtualServer).
      const port = t.kind === "fwmark" ? undefined : rs.port;
      const out: RawService["realServers"][number] = {
        address: rs.address,
        weight: rs.weight?.value ?? vs.weight?.value ?? DEFAULT_WEIGHT,
        forward: (rs.forward ?? vs.forward)?.value ?? "dr",
        upperThreshold: rs.upperThreshold?.value ?? 0,
        lowerThreshold: rs.lowerThreshold?.value ?? 0,
      };
      if (port !== undefined) out.port = port;
      return out;
    });
    const common = { scheduler, schedulerFlags: flags.map((f) => f.value), persistence, realServers };
    if (t.kind === "fwmark") {
      return { raw: { fwmark: t.mark, members: [], ...common }, head: t.head, vs, flagPlaces, mark: t.mark, memberOrigins: [] };
    }
    const raw: RawService = { protocol: vs.protocol?.value ?? "udp", address: t.address, port: t.port, ...common };
    return { raw, head: t.head, vs, flagPlaces, memberOrigins: [] };
  }

  // Firewall-mark services take their members from the directives.
  const marks = new Set(entries.flatMap((e) => (e.mark === undefined ? [] : [e.mark])));
  const kept = attachFwmarkMembers(
    entries,
    directives,
    brokenMarks,
    (mark) => marks.has(mark),
    (entry) => fail(entry.head.line, entry.head.field, fwmarkWithoutMembersMessage(entry.mark), entry.head.value),
    (mark, line) =>
      fail(line, `fwmark ${mark}`, `no "virtual_server fwmark ${mark}" (nor a group entry "fwmark ${mark}") defines this firewall-mark service`),
  );

  const checked = validateDirectorConfig({
    interface: opts.interface,
    tunnelSource: opts.tunnelSource,
    vipMode: opts.vipMode,
    workers: opts.workers,
    services: kept.map((e) => e.raw),
  });
  if (checked.ok && errors.length === 0) {
    return { ok: true, config: checked.config, unsupported: unsupported.sort((a, b) => a.line - b.line) };
  }
  if (!checked.ok) {
    for (const issue of checked.issues) {
      errors.push(issueToError(issue.path, issue.field, issue.value, issue.message, kept, sourceName));
    }
  }
  return { ok: false, errors: sortConfigErrors(errors) };
}

/** Sends one schema finding back to the keepalived line and keyword it came from. */
function issueToError(path: ConfigPath, field: string, value: unknown, message: string, services: ServiceEntry[], source: string): ConfigError {
  const entry = path[0] === "services" && typeof path[1] === "number" ? services[path[1]] : undefined;
  if (!entry) {
    // The caller's settings (interface, tunnelSource, vipMode) have no line in the file.
    const e: ConfigError = { source, field, message };
    if (value !== undefined) e.value = value;
    return e;
  }
  message = placesInFile(message, services, (s) =>
    s.head.field === "virtual_server" ? `the virtual_server on line ${s.head.line}` : `the ${s.head.field} entry on line ${s.head.line}`,
  );
  const vs = entry.vs;
  const rest = path.slice(2);
  let place: Place | undefined;
  if (rest[0] === "members" && typeof rest[1] === "number") return memberIssueToError(entry, rest[1], entry.head.line, source, message);
  if (rest[0] === "realServers" && typeof rest[1] === "number") {
    const rs = vs.servers[rest[1]];
    const leaf = rest[2];
    place =
      leaf === "weight"
        ? (rs.weight?.place ?? vs.weight?.place)
        : leaf === "forward"
          ? (rs.forward?.place ?? vs.forward?.place)
          : leaf === "upperThreshold"
            ? rs.upperThreshold?.place
            : leaf === "lowerThreshold"
              ? rs.lowerThreshold?.place
              : undefined;
    place ??= rs.place;
  } else if (rest[0] === "scheduler") place = vs.scheduler?.place;
  else if (rest[0] === "schedulerFlags" && typeof rest[1] === "number") place = entry.flagPlaces[rest[1]];
  else if (rest[0] === "protocol") place = vs.protocol?.place;
  else if (rest[0] === "persistence") place = rest[1] === "netmask" ? vs.netmask?.place : (vs.timeout?.place ?? vs.netmask?.place);
  place ??= entry.head;
  const e: ConfigError = { source, line: place.line, field: place.field, message };
  // Shown as written: a flag or a bare persistence_timeout has no value of its own.
  if (place.value !== undefined) e.value = place.value;
  return e;
}

// ---------------------------------------------------------------------------------------------
// The CLI hook: the imported config as the text of a JSON config file.

/** Renders an imported config as JSON config file text (what `ringvs import-keepalived FILE >
 *  ringvs.json` writes): every value explicit, so the file reads back through parseConfigText to
 *  exactly `result.config`. The unsupported list is not part of it (JSON has no comments); show
 *  it to the operator separately. */
export function keepalivedToJson(result: { config: DirectorConfig }): string {
  // The director's own settings have the same shape in the config and in the file, so they are
  // written as they are; services differ (schedulerFlags is a list in the file, an object here).
  // One receiving interface is written as "interface", several as "interfaces" (the file
  // takes one of the two).
  const { services, interface: first, interfaces, ...settings } = result.config;
  const doc = {
    ...(interfaces.length > 1 ? { interfaces } : { interface: first }),
    ...settings,
    services: services.map(serviceToInput),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
