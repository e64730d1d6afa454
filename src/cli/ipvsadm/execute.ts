// The second half of ipvsadm's process_options: one parsed command against the control library.
// A refused table change comes back as a problem carrying ipvs_strerror's text (what the command
// line prints, exit 255) and ringvs's explanation (what a rules file reports); the checks the
// kernel would make come first, in the kernel's order, then what ringvs cannot do.
import type { Control, ControlErrno, ControlResult, DestOptions, ServiceKey, ServiceOptions } from "../../control/control.ts";
import type { DirectorConfig, ServiceConfig, ServiceMatch } from "../../config/model.ts";
import { MH_TABLE_SIZE_DEFAULT } from "../../config/model.ts";
import type { MemberOrigin } from "../../config/fwmark_directive.ts";
import {
  lowerThresholdProblem, matchesOverlap, netmaskProblem, schedulerProblem, serviceToInput, unicastAddressProblem,
  loneServiceIssues, validateDirectorConfig, type ConfigIssue,
} from "../../config/schema.ts";
import { fwmarkWithoutMembersMessage } from "../../config/ipvsadm_syntax.ts";
import { keyIdentity, keyLabel, serviceKey, serviceLabel, serviceMatches } from "../../config/service.ts";
import { connectionLines, connectionsHeader, listAll, listService, listTimeout } from "./format.ts";
import { usage, versionLine } from "./help.ts";
import { entryServiceKey, type CommandEntry, type GivenOption } from "./parse.ts";
import { kernelRefuses, listingFails, problemAt, ringvsRefuses, type CliFailure, type LineProblem } from "./problem.ts";
import { spellingOf } from "./options.ts";
import type { OptionName } from "./table.ts";

/** Which libipvs call failed: ipvs_strerror words some errnos per call. */
type Operation = "add-service" | "edit-service" | "delete-service" | "zero" | "add-dest" | "edit-dest" | "delete-dest" | "get-service" | "other";

/** Errnos the CLI raises itself where the kernel would (the control library has no need for them). */
type Errno = ControlErrno | "ERANGE" | "ENOMEM";

/** ipvs_strerror: per-call texts first, then the generic ones, then strerror(3). */
const STRERROR_BY_CALL: [Operation, Errno, string][] = [
  ["add-service", "EEXIST", "Service already exists"],
  ["add-service", "ENOENT", "Scheduler or persistence engine not found"],
  ["edit-service", "ESRCH", "No such service"],
  ["edit-service", "ENOENT", "Scheduler or persistence engine not found"],
  ["delete-service", "ESRCH", "No such service"],
  ["zero", "ESRCH", "No such service"],
  ["add-dest", "ESRCH", "Service not defined"],
  ["add-dest", "EEXIST", "Destination already exists"],
  ["edit-dest", "ESRCH", "Service not defined"],
  ["edit-dest", "ENOENT", "No such destination"],
  ["delete-dest", "ESRCH", "Service not defined"],
  ["delete-dest", "ENOENT", "No such destination"],
  ["get-service", "ESRCH", "No such service"],
];
const STRERROR_GENERIC: Partial<Record<Errno, string>> = {
  EINVAL: "Invalid operation.  Possibly wrong module version, address not unicast, ...",
  ENOMEM: "Memory allocation problem",
};
const STRERROR: Record<Errno, string> = {
  EEXIST: "File exists", ESRCH: "No such process", ENOENT: "No such file or directory", EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy", ERANGE: "Numerical result out of range", ENOMEM: "Cannot allocate memory",
};

export function ipvsStrerror(op: Operation, errno: Errno): string {
  const hit = STRERROR_BY_CALL.find(([o, e]) => o === op && e === errno);
  return hit?.[2] ?? STRERROR_GENERIC[errno] ?? STRERROR[errno];
}

const kernel = (op: Operation, errno: Errno, detail?: string): CliFailure => kernelRefuses(ipvsStrerror(op, errno), detail);

/** Where the input being restored said things, for messages that point there. A single command has
 *  no input to point at (NO_PLACES), and its messages name services by their ipvsadm label. */
export interface Places {
  /** The line that added the service. */
  serviceLine(key: ServiceKey): number | null;
  /** The line that added the real server to the service. */
  destLine(key: ServiceKey, address: string): number | null;
  /** Where a firewall-mark service's members were written, in member order. */
  memberOrigins(key: ServiceKey): readonly MemberOrigin[] | null;
}

export const NO_PLACES: Places = { serviceLine: () => null, destLine: () => null, memberOrigins: () => null };

export interface Context {
  control: Control;
  /** A line of -R input (or of a rules file): no "--members" hint, no -R inside. */
  readingStdin: boolean;
  /** Members of firewall marks from the input's `# ringvs: fwmark` lines. */
  directives: ReadonlyMap<number, readonly MemberOrigin[]>;
  places: Places;
}

/** What a command did: its output, or why it was refused (the command line shows the first). */
export interface Outcome {
  stdout: string;
  problems: LineProblem[];
  /** More output after `stdout`, a part at a time (see Exit.stream). */
  stream?: AsyncIterable<string>;
}

const done = (stdout = ""): Outcome => ({ stdout, problems: [] });
const refused = (...problems: LineProblem[]): Outcome => ({ stdout: "", problems });

/** The service of a command that parsed without problems (SCTP is refused while parsing). */
function keyOf(ce: CommandEntry): ServiceKey {
  return entryServiceKey(ce)!;
}

/** The option `opt` as written, or how it is spelled when the line left it out (and its default). */
function givenOr(ce: CommandEntry, opt: OptionName): GivenOption {
  return ce.given.get(opt) ?? { written: spellingOf(opt) };
}

/** A change the control library refused for a reason of its own (the running director's). */
function fromResult(op: Operation, r: ControlResult, at: GivenOption): Outcome {
  if (r.ok) return done();
  // Its messages restate the errno, except for a runtime failure.
  return refused(problemAt(at, r.error.message, kernel(op, r.error.errno, r.error.errno === "EINVAL" ? r.error.message : undefined), undefined));
}

/** How a message names another service: by the line that added it, when the input did. */
function nameService(s: ServiceConfig, places: Places): string {
  const line = places.serviceLine(serviceKey(s));
  return line !== null ? `the service on line ${line}` : `service ${serviceLabel(s)}`;
}

/** How a message names member `j` of a firewall-mark service: by its directive line, when known. */
function nameMember(s: ServiceConfig, j: number, origins: readonly MemberOrigin[] | null): string {
  const origin = origins?.[j];
  return origin ? `fwmark ${s.fwmark} member on line ${origin.line}` : `a member of ${serviceLabel(s)}`;
}

/** What the schema finds wrong with the table once `next` joins it: its own faults (a member's
 *  address) and its overlaps, found by validating `next` with only the services it could overlap:
 *  those with a match overlapping one of its matches where either side is a firewall-mark member
 *  (two VIP:port services never clash; the same one twice is EEXIST). That is the schema's own
 *  finding, in its order, and keeps a -A on a table of 10,000 services from validating all of them.
 *  Each finding says which member of `next` it is about, if one, and comes in two wordings: naming
 *  the other services where the input put them (`places`), and by ipvsadm's labels, as the command
 *  line prints it. */
function tableProblems(
  config: DirectorConfig,
  /** The services on next's VIPs (Control.servicesOn): the only ones it could overlap. */
  sameVips: readonly ServiceConfig[],
  next: ServiceConfig,
  nextOrigins: readonly MemberOrigin[] | null,
  places: Places,
): { member: number | null; message: string; label: string }[] {
  const nextMatches = serviceMatches(next);
  const mayClash = (s: ServiceConfig) =>
    (s.fwmark !== null || next.fwmark !== null) && serviceMatches(s).some((m) => nextMatches.some((n) => matchesOverlap(m, n)));
  const services = [...sameVips.filter(mayClash), next];
  const last = services.length - 1;
  const input = services.map((s) => ({ ...serviceToInput(s), realServers: [] }));
  let issues: ConfigIssue[];
  if (services.length === 1) issues = loneServiceIssues(input[0]);
  else {
    const r = validateDirectorConfig({ interface: config.interface, services: input });
    issues = r.ok ? [] : r.issues;
  }
  if (issues.length === 0) return [];
  // The schema names services by their index in what it checked: services[i], services[i].members[j].
  const render = (message: string, at: Places, originsOfNext: readonly MemberOrigin[] | null) =>
    message.replace(/services\[(\d+)\](?:\.members\[(\d+)\])?/g, (whole, i: string, j?: string) => {
      const s = services[Number(i)];
      if (!s) return whole;
      if (j === undefined) return nameService(s, at);
      return nameMember(s, Number(j), Number(i) === last ? originsOfNext : at.memberOrigins(serviceKey(s)));
    });
  return issues
    .filter((issue) => issue.path[0] === "services" && issue.path[1] === last)
    .map((issue) => ({
      member: issue.path[2] === "members" && typeof issue.path[3] === "number" ? issue.path[3] : null,
      message: render(issue.message, places, nextOrigins),
      label: render(issue.message, NO_PLACES, null),
    }));
}

async function addOrEditService(ce: CommandEntry, ctx: Context): Promise<Outcome> {
  const key = keyOf(ce);
  const add = ce.command === "add-service";
  const op: Operation = add ? "add-service" : "edit-service";
  const svcOpt = givenOr(ce, "service-address");
  const config = ctx.control.current();
  const existing = ctx.control.find(key);
  if (add && existing) {
    const line = ctx.places.serviceLine(key);
    return refused(problemAt(svcOpt, `service already exists${line !== null ? ` (defined on line ${line})` : ""}`, kernel(op, "EEXIST")));
  }
  if (!add && !existing) return refused(problemAt(svcOpt, `service ${keyLabel(key)} does not exist`, kernel(op, "ESRCH")));
  const schedulerWrong = schedulerProblem(ce.scheduler);
  if (schedulerWrong) return refused(problemAt(givenOr(ce, "scheduler"), schedulerWrong, kernel(op, "ENOENT")));
  if ("address" in key) {
    const p = unicastAddressProblem(key.address);
    if (p) return refused(problemAt(svcOpt, p, ringvsRefuses(`service address ${key.address}: ${p}`, { ends: false })));
  }
  if (ce.persistent) {
    const p = netmaskProblem(ce.netmask);
    if (p) return refused(problemAt(givenOr(ce, "netmask"), p, ringvsRefuses(`-M ${ce.netmask}: ${p}`, { ends: false })));
  }
  const options: ServiceOptions = {
    scheduler: ce.scheduler as ServiceOptions["scheduler"],
    schedulerFlags: {
      ...ce.schedulerFlags,
      // ipvsadm cannot set the Maglev table size; an edit keeps the one the service has.
      mhTableSize: existing?.schedulerFlags.mhTableSize ?? MH_TABLE_SIZE_DEFAULT,
    },
    persistence: ce.persistent ? { timeout: ce.timeout, netmask: ce.netmask } : null,
  };
  if (!add) return fromResult(op, await ctx.control.editService(key, options), svcOpt);

  // A firewall-mark service's members: --members, else the input's directives; each with its text.
  let members: { text: string; match: ServiceMatch; line?: number }[] = [];
  let origins: readonly MemberOrigin[] | null = null;
  const membersOpt = ce.given.get("members");
  if ("fwmark" in key) {
    if (ce.members) members = ce.members;
    else {
      origins = ctx.directives.get(key.fwmark) ?? [];
      members = [...origins];
    }
    if (members.length === 0) {
      const message = fwmarkWithoutMembersMessage(key.fwmark);
      const hint = ctx.readingStdin ? "" : ', or give them with --members "tcp 198.18.0.100:80,tcp 198.18.0.100:443"';
      return refused(problemAt(svcOpt, message, ringvsRefuses(`${message}${hint}`, { ends: false }), svcOpt.arg, { about: "memberless-mark" }));
    }
  } else if (membersOpt) {
    const message = "--members belongs to a firewall-mark service (-f MARK): a -t/-u service is its own VIP:port";
    return refused(problemAt(membersOpt, message, ringvsRefuses(message, { ends: false }), undefined));
  }
  const next: ServiceConfig = "fwmark" in key
    ? { protocol: "tcp", address: "", port: 0, fwmark: key.fwmark, members: members.map((m) => m.match), ...options, realServers: [] }
    : { ...key, fwmark: null, members: [], ...options, realServers: [] };
  const clashes = tableProblems(config, ctx.control.servicesOn(serviceMatches(next).map((m) => m.address)), next, origins, ctx.places);
  if (clashes.length > 0) {
    return refused(...clashes.map((c) => {
      const cli = ringvsRefuses(c.label, { ends: false });
      if (c.member === null) return problemAt(svcOpt, c.message, cli);
      // About one member: shown as it was written, on the line it was written on.
      const m = members[c.member]!;
      const at = origins ? { written: `fwmark ${next.fwmark}` } : givenOr(ce, "members");
      return problemAt(at, c.message, cli, m.text, m.line !== undefined ? { writtenOn: m.line } : {});
    }));
  }
  return fromResult(op, await ctx.control.addService(key, options, next.members), svcOpt);
}

async function addOrEditDest(ce: CommandEntry, ctx: Context): Promise<Outcome> {
  const key = keyOf(ce);
  const add = ce.command === "add-server";
  const op: Operation = add ? "add-dest" : "edit-dest";
  const svcOpt = givenOr(ce, "service-address");
  const rOpt = givenOr(ce, "real-server");
  const svc = ctx.control.find(key);
  if (!svc) {
    const message = `service ${keyLabel(key)} is not defined by an earlier -A line (ipvsadm: "Service not defined")`;
    return refused(problemAt(svcOpt, message, kernel(op, "ESRCH"), svcOpt.arg, { about: "undefined-service" }));
  }
  const { address, port } = ce.dest as { address: string; port: number };
  // The kernel's order: thresholds (ERANGE), then the lookup, then the address type.
  const thresholds = lowerThresholdProblem(ce.dest.lower, ce.dest.upper);
  if (thresholds) return refused(problemAt(givenOr(ce, "l-threshold"), thresholds, kernel(op, "ERANGE"), ce.dest.lower));
  const exists = svc.realServers.some((r) => r.address === address && r.port === port);
  if (add && exists) {
    const line = ctx.places.destLine(key, address);
    const message = `real server ${address} already exists in this service${line !== null ? ` (added on line ${line})` : ""}`;
    return refused(problemAt(rOpt, message, kernel(op, "EEXIST")));
  }
  if (!add && !exists) return refused(problemAt(rOpt, `real server ${address} is not in ${keyLabel(key)}`, kernel(op, "ENOENT")));
  const p = unicastAddressProblem(address);
  if (p) return refused(problemAt(rOpt, p, kernel(op, "EINVAL", `real server ${address}: ${p}`)));
  const dest: DestOptions = {
    address, port, forward: ce.dest.forward as "dr" | "tun", weight: ce.dest.weight,
    upperThreshold: ce.dest.upper, lowerThreshold: ce.dest.lower,
  };
  return fromResult(op, add ? await ctx.control.addDest(key, dest) : await ctx.control.editDest(key, dest), rOpt);
}

async function list(ce: CommandEntry, ctx: Context): Promise<Outcome> {
  const o = ce.options;
  if (o.has("connection")) {
    const pages = ctx.control.connectionPages();
    async function* lines() {
      for await (const page of pages) yield connectionLines(page);
    }
    return { stdout: connectionsHeader(ce.format.persistentConn), problems: [], stream: lines() };
  }
  const snapshot = ctx.control.snapshot();
  if (o.has("service-address")) {
    const key = keyOf(ce);
    const id = keyIdentity(key);
    const svc = snapshot.services.find((s) => keyIdentity(s.key) === id);
    if (!svc) return refused(problemAt(givenOr(ce, "service-address"), `no service ${keyLabel(key)}`, listingFails(ipvsStrerror("get-service", "ESRCH"))));
    return done(listService(svc, ce.format));
  }
  if (o.has("timeout")) return done(listTimeout(snapshot));
  if (o.has("daemon")) return done(); // no sync daemon runs, so list_daemon prints nothing
  return done(listAll(snapshot, ce.format));
}

/** Runs a command that parsed without problems. */
export async function execute(ce: CommandEntry, ctx: Context): Promise<Outcome> {
  const commandAt: GivenOption = { written: ce.commandOption.written };
  switch (ce.command) {
    case "help":
      return done(usage());
    case "version":
      return done(`${versionLine()}\n`);
    case "list":
      return list(ce, ctx);
    case "save":
      return done(listAll(ctx.control.snapshot(), ce.format));
    case "restore":
      return done(); // runIpvsadm reads stdin
    case "flush":
      return fromResult("other", await ctx.control.clear(), commandAt);
    case "add-service":
    case "edit-service":
      return addOrEditService(ce, ctx);
    case "delete-service": {
      const key = keyOf(ce);
      const at = givenOr(ce, "service-address");
      if (!ctx.control.find(key)) return refused(problemAt(at, `no service ${keyLabel(key)}`, kernel("delete-service", "ESRCH")));
      return fromResult("delete-service", await ctx.control.deleteService(key), at);
    }
    case "zero":
      return fromResult("zero", await ctx.control.zero(ce.options.has("service-address") ? keyOf(ce) : undefined), givenOr(ce, "service-address"));
    case "add-server":
    case "edit-server":
      return addOrEditDest(ce, ctx);
    case "delete-server":
      return fromResult("delete-dest", await ctx.control.deleteDest(keyOf(ce), ce.dest.address!, ce.dest.port), givenOr(ce, "real-server"));
    case "set":
      return fromResult("other", await ctx.control.setTimeouts(ce.timeouts), commandAt);
    case "start-daemon":
    case "stop-daemon":
      return done(); // refused while parsing: ringvs has no sync daemon
  }
}
