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

/** generic_opt_check: the first problem in table order, in ipvsadm's words, or null. */
export function genericOptCheck(cmd: Command, given: ReadonlySet<OptionName>): string | null {
  let last: OptionName | null = null;
  for (const opt of OPTION_NAMES) {
    const rule = legality(cmd, opt);
    if (!given.has(opt)) {
      if (rule === "+") return `You need to supply the '${opt}' option for the '${cmd}' command`;
      continue;
    }
    if (rule === "x") return `Illegal '${opt}' option with the '${cmd}' command`;
    if (rule === "1") {
      if (last === null) {
        last = opt;
        continue;
      }
      return `The option '${opt}' conflicts with the '${last}' option in the '${cmd}' command`;
    }
  }
  return null;
}

/** tunnel_types_v_options: which tunnel options each tunnel type takes (tun-port, nocsum, csum, remcsum). */
export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];
const TUNNEL_OPTIONS: readonly OptionName[] = ["tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"];
const TUNNEL_ROWS: Record<TunnelType, string> = { ipip: "xxxx", gue: "+111", gre: "x11x" };

/** tunnel_opt_check, in ipvsadm's words, or null. */
export function tunnelOptCheck(type: TunnelType, given: ReadonlySet<OptionName>): string | null {
  let last: OptionName | null = null;
  for (const [j, opt] of TUNNEL_OPTIONS.entries()) {
    const rule = TUNNEL_ROWS[type][j];
    if (!given.has(opt)) {
      if (rule === "+") return `You need to supply the '${opt}' option for the '${type}' tunnel type`;
      continue;
    }
    if (rule === "x") return `Illegal '${opt}' option with the '${type}' tunnel type`;
    if (rule === "1") {
      if (last === null) {
        last = opt;
        continue;
      }
      return `The option '${opt}' conflicts with the '${last}' option in the '${type}' tunnel type`;
    }
  }
  return null;
}
