// ipvsadm's rules as data (ipvsadm.c 1.31): the command names, the option classes, and the
// command × option legality table `commands_v_options` with its one checker `generic_opt_check`.
// The rows below are ipvsadm's own, column for column; ringvs adds one column (`members`, the
// VIP:port pairs of a -f service, legal with -A only).

/** ipvsadm's CMD_* in order; the names are its `cmdnames[]` (they appear in messages). */
export const COMMANDS = [
  "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
  "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
] as const;
export type Command = (typeof COMMANDS)[number];

/** ipvsadm's OPTC_* in order; the names are its `optnames[]`, then ringvs's own. */
export const OPTION_NAMES = [
  "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
  "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
  "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
  "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
  "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum",
  // ringvs: a firewall-mark service's members (`--members "tcp VIP:PORT,..."`).
  "members",
] as const;
export type OptionName = (typeof OPTION_NAMES)[number];

/**
 * Key: '+' compulsory, 'x' illegal, '1' exclusive (only one '1' option can be supplied), ' ' optional.
 *
 *                 -n -c svc -s -p -M -r fwd -w -x -y mc tot dmn st rt thr pc srt sid ex ops pe -b grp port ttl size tinf type tprt nocs csum remc | members
 */
const ROWS: Record<Command, string> = {
  "add-service":    "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + " ",
  "edit-service":   "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx" + "x",
  "delete-service": "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  flush:            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  list:             " 11xxxxxxxxx11       xxxxxxx xxxxx" + "x",
  "add-server":     "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x",
  "delete-server":  "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  "edit-server":    "xx+xxx+    xxxxxxxxxxxxxxxxxx     " + "x",
  set:              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  "start-daemon":   "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx" + "x",
  "stop-daemon":    "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx" + "x",
  restore:          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  save:             " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
  zero:             "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + "x",
};

for (const [cmd, row] of Object.entries(ROWS)) {
  if (row.length !== OPTION_NAMES.length || !/^[x+1 ]+$/.test(row)) {
    throw new Error(`commands_v_options row ${cmd} is malformed`);
  }
}

export function legality(cmd: Command, opt: OptionName): "+" | "x" | "1" | " " {
  return ROWS[cmd][OPTION_NAMES.indexOf(opt)] as "+" | "x" | "1" | " ";
}

/** One finding of a legality check: the option (class), what is wrong with it, and ipvsadm's words. */
export interface OptionRuleProblem {
  option: OptionName;
  kind: "missing" | "illegal" | "conflict";
  /** For a conflict: the option it conflicts with (the first exclusive one given). */
  with?: OptionName;
  text: string;
}

/** Every finding of one row (its rules in `columns` order), in table order; ipvsadm's checkers
 *  stop at the first. */
function rowProblems(
  row: string,
  columns: readonly OptionName[],
  given: ReadonlySet<OptionName>,
  name: string,
  kindOfName: "command" | "tunnel type",
): OptionRuleProblem[] {
  const out: OptionRuleProblem[] = [];
  let first: OptionName | null = null;
  columns.forEach((opt, j) => {
    const rule = row[j];
    if (!given.has(opt)) {
      if (rule === "+") out.push({ option: opt, kind: "missing", text: `You need to supply the '${opt}' option for the '${name}' ${kindOfName}` });
      return;
    }
    if (rule === "x") out.push({ option: opt, kind: "illegal", text: `Illegal '${opt}' option with the '${name}' ${kindOfName}` });
    if (rule === "1") {
      if (first === null) first = opt;
      else out.push({ option: opt, kind: "conflict", with: first, text: `The option '${opt}' conflicts with the '${first}' option in the '${name}' ${kindOfName}` });
    }
  });
  return out;
}

/** generic_opt_check, every finding in table order (ipvsadm fails at the first). */
export function genericOptProblems(cmd: Command, given: ReadonlySet<OptionName>): OptionRuleProblem[] {
  return rowProblems(ROWS[cmd], OPTION_NAMES, given, cmd, "command");
}

/** generic_opt_check: the first problem in table order, in ipvsadm's words, or null. */
export function genericOptCheck(cmd: Command, given: ReadonlySet<OptionName>): string | null {
  return genericOptProblems(cmd, given)[0]?.text ?? null;
}

/** tunnel_types_v_options: which tunnel options each tunnel type takes (tun-port, nocsum, csum, remcsum). */
export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];
export const TUNNEL_OPTIONS: readonly OptionName[] = ["tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"];
const TUNNEL_ROWS: Record<TunnelType, string> = { ipip: "xxxx", gue: "+111", gre: "x11x" };

/** tunnel_opt_check, every finding (ipvsadm fails at the first). */
export function tunnelOptProblems(type: TunnelType, given: ReadonlySet<OptionName>): OptionRuleProblem[] {
  return rowProblems(TUNNEL_ROWS[type], TUNNEL_OPTIONS, given, type, "tunnel type");
}

/** tunnel_opt_check, in ipvsadm's words, or null. */
export function tunnelOptCheck(type: TunnelType, given: ReadonlySet<OptionName>): string | null {
  return tunnelOptProblems(type, given)[0]?.text ?? null;
}
