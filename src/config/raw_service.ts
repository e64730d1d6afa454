// What an importer of a foreign file assembles once its lines are read (keepalived.conf,
// keepalived.ts): services in the JSON shape the schema takes, firewall-mark services given their
// members from `# ringvs: fwmark` directives, and the schema's findings about members sent back to
// the directive line they came from. (The ipvsadm rules file needs none of this: it is restored
// into a control library like `ipvsadm -R`, see ipvsadm_rules.ts.)

import type { MemberOrigin } from "./fwmark_directive.ts";
import type { ConfigError } from "./load.ts";
import type { Protocol, ServiceMatch } from "./model.ts";

export interface RawRealServer {
  address: string;
  /** Absent: the real server keeps the packet's port (a keepalived fwmark service). */
  port?: number;
  weight: number;
  forward: "dr" | "tun";
  upperThreshold: number;
  lowerThreshold: number;
}

/** A service in the JSON shape the schema takes: VIP:port fields or fwmark and members. */
export interface RawService {
  protocol?: Protocol;
  address?: string;
  port?: number;
  fwmark?: number;
  members?: ServiceMatch[];
  scheduler: string;
  schedulerFlags: string[];
  persistence: { timeout: number; netmask: string } | null;
  realServers: RawRealServer[];
}

/** What the shared steps need of an importer's service entry. */
export interface MarkedEntry {
  raw: RawService;
  /** For a firewall-mark service: its mark, and where each member came from. */
  mark?: number;
  memberOrigins: MemberOrigin[];
}

/** Gives each firewall-mark service the members its directives named, wherever in the file they
 *  stood. Returns the services to validate: a mark without members is dropped and reported through
 *  `noMembers` (unless its directive was itself broken, which is reported already); a directive
 *  whose mark `isDefined` denies is reported once per line through `orphan`. */
export function attachFwmarkMembers<E extends MarkedEntry>(
  entries: E[],
  directives: Map<number, MemberOrigin[]>,
  brokenMarks: Set<number>,
  isDefined: (mark: number) => boolean,
  noMembers: (entry: E & { mark: number }) => void,
  orphan: (mark: number, line: number) => void,
): E[] {
  const kept: E[] = [];
  for (const entry of entries) {
    if (entry.mark === undefined) {
      kept.push(entry);
      continue;
    }
    const members = directives.get(entry.mark) ?? [];
    if (members.length > 0) {
      entry.memberOrigins = members;
      entry.raw.members = members.map((m) => m.match);
      kept.push(entry);
    } else if (!brokenMarks.has(entry.mark)) {
      noMembers(entry as E & { mark: number });
    }
  }
  for (const [mark, members] of directives) {
    if (isDefined(mark)) continue;
    for (const line of new Set(members.map((m) => m.line))) orphan(mark, line);
  }
  return kept;
}

/** Rewrites the schema's `services[2]` and `services[2].members[0]` into places in the file;
 *  `serviceAt` names where a service was defined ("the service on line 4"). */
export function placesInFile<E extends MarkedEntry>(message: string, services: E[], serviceAt: (entry: E) => string): string {
  return message.replace(/services\[(\d+)\](?:\.members\[(\d+)\])?/g, (whole, i: string, j: string | undefined) => {
    const entry = services[Number(i)];
    if (!entry) return whole;
    if (j === undefined) return serviceAt(entry);
    const m = entry.memberOrigins[Number(j)];
    return m ? `fwmark ${entry.mark} member on line ${m.line}` : whole;
  });
}

/** A schema finding about member `index` of a firewall-mark service, on the directive line that
 *  named it (or on `headLine`, the service's own line, when there is no such member). */
export function memberIssueToError(entry: MarkedEntry, index: number, headLine: number, source: string, message: string): ConfigError {
  const m = entry.memberOrigins[index];
  const e: ConfigError = { source, line: m?.line ?? headLine, field: `fwmark ${entry.mark}`, message };
  if (m) e.value = m.text;
  return e;
}
