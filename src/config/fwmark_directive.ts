// The ringvs directive of the ipvsadm rules file (and of keepalived.conf):
//
//     # ringvs: fwmark 1 = tcp 198.18.0.100:80, tcp 198.18.0.100:443
//
// The kernel learns which packets carry a firewall mark from iptables rules (`-j MARK --set-mark
// 1`) that ringvs, in user space, never sees, so a `-A -f MARK` service names the PROTOCOL VIP:PORT
// pairs (port 0 = every port of the VIP) its mark stands for on a comment line, which ipvsadm
// itself ignores. It may stand anywhere in the file; several lines for one mark add up. The rules
// file, `ipvsadm -R` and the keepalived importer all read it here.

import { BAD_MARK, parseMark, parseMemberList } from "./ipvsadm_syntax.ts";
import type { ServiceMatch } from "./model.ts";

/** One member of a directive, and where it was written. */
export interface MemberOrigin {
  line: number;
  /** The member as written ("tcp 198.18.0.100:80"). */
  text: string;
  match: ServiceMatch;
}

const DIRECTIVE = /^\s*#\s*ringvs:(.*)$/;
const DIRECTIVE_FORM = "# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]...";

/** What is wrong with a directive line: `field` names the part ("ringvs", "fwmark 3"). */
export interface DirectiveProblem {
  field: string;
  value?: string;
  message: string;
}

/** Parses the text after `ringvs:`; problems go to `problems`. */
function parseDirective(text: string, line: number, problems: DirectiveProblem[]): { mark: number; members: MemberOrigin[] } | null {
  const m = /^\s*(\S*)\s*(.*)$/.exec(text) as RegExpExecArray;
  if (m[1] !== "fwmark") {
    problems.push({
      field: "ringvs",
      ...(m[1] !== "" ? { value: m[1] } : {}),
      message: `unknown ringvs directive (ringvs knows one: "${DIRECTIVE_FORM}")`,
    });
    return null;
  }
  const d = /^(\S+?)\s*=\s*(.*)$/.exec(m[2]!);
  if (!d) {
    problems.push({ field: "ringvs", value: m[2], message: `expected "${DIRECTIVE_FORM}"` });
    return null;
  }
  const mark = parseMark(d[1]!);
  if (mark === null) {
    problems.push({ field: "ringvs fwmark", value: d[1], message: BAD_MARK });
    return null;
  }
  const field = `fwmark ${mark}`;
  const parsed = parseMemberList(d[2]!);
  if (parsed.members.length === 0 && parsed.problems.length === 1 && parsed.problems[0]!.value === undefined) {
    problems.push({ field, message: `no members after '=' (expected "${DIRECTIVE_FORM}")` });
    return null;
  }
  for (const p of parsed.problems) problems.push({ field, ...(p.value !== undefined ? { value: p.value } : {}), message: p.message });
  return { mark, members: parsed.members.map((x) => ({ line, text: x.text, match: x.match })) };
}

/** The directive on one line, or null when the line is not one. `mark` is null when the mark itself
 *  could not be read; any `problems` mean the line is broken and its members must not be used. */
export function readFwmarkDirective(
  lineText: string,
  line: number,
): { mark: number | null; members: MemberOrigin[]; problems: DirectiveProblem[] } | null {
  const directive = DIRECTIVE.exec(lineText);
  if (!directive) return null;
  const problems: DirectiveProblem[] = [];
  const parsed = parseDirective(directive[1]!, line, problems);
  return { mark: parsed?.mark ?? null, members: parsed?.members ?? [], problems };
}

/** Every directive of a text, as the rules file and -R read them before any command. */
export interface Directives {
  /** Members by mark, from the lines without problems. */
  members: Map<number, MemberOrigin[]>;
  /** Marks with a broken directive line (their services are not also "without members"). */
  brokenMarks: Set<number>;
  /** The broken lines, in line order. */
  problems: { line: number; problem: DirectiveProblem }[];
}

export function readDirectives(lines: readonly string[]): Directives {
  const out: Directives = { members: new Map(), brokenMarks: new Set(), problems: [] };
  lines.forEach((text, index) => {
    const line = index + 1;
    const d = readFwmarkDirective(text, line);
    if (!d) return;
    for (const problem of d.problems) out.problems.push({ line, problem });
    if (d.mark === null) return;
    if (d.problems.length > 0) out.brokenMarks.add(d.mark);
    else out.members.set(d.mark, [...(out.members.get(d.mark) ?? []), ...d.members]);
  });
  return out;
}
