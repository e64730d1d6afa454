// ipvsadm 1.31's command line and output over the control library. One entry point, pure with
// respect to the process (no printing, no exit): the daemon runs it for a control-socket client,
// tests run it on a bare Control.
//
//   runIpvsadm(["-A", "-t", "198.18.0.100:80", "-s", "wrr"], control, {})
//     -> { code: 0, stdout: "", stderr: "" }
//
// Exit codes are ipvsadm's: 0; 2 for what ipvsadm's fail() rejects (and for ringvs's refusals of
// what it cannot do: -m, -o, --pe, -6, SCTP, gue/gre, the sync daemon); 255 for a usage error
// (`Try ipvsadm -h`), a popt error and a refused table change (ipvsadm returns libipvs's -1); 1
// when a listed service does not exist.
import type { Control, ControlErrno, ControlResult, ServiceKey, ServiceOptions } from "../../control/control.ts";
import type { DirectorConfig, ServiceConfig, ServiceMatch } from "../../config/model.ts";
import { MH_TABLE_SIZE_DEFAULT } from "../../config/model.ts";
import {
  netmaskProblem, schedulerProblem, serviceToInput, unicastAddressProblem, validateDirectorConfig,
} from "../../config/schema.ts";
import { fwmarkWithoutMembersMessage, parseMemberList, parseMark } from "../../config/ipvsadm_syntax.ts";
import { findService, keyIdentity, serviceLabel } from "../../config/service.ts";
import { listAll, listConnections, listService, listTimeout } from "./format.ts";
import { PROGRAM, fail, parseCommand, refuse, type CommandEntry, type Exit } from "./parse.ts";

export type { Exit } from "./parse.ts";

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

/** A refused table change: `fprintf(stderr, "%s\n", ipvs_strerror(errno))`, return -1 (status 255).
 *  When ringvs knows more than the errno says (a data-plane failure), that follows on its own line. */
function kernelError(op: Operation, errno: Errno, detail?: string): Exit {
  return { code: 255, stdout: "", stderr: `${ipvsStrerror(op, errno)}\n${detail ? `ringvs: ${detail}\n` : ""}` };
}

function fromResult(op: Operation, r: ControlResult): Exit {
  if (r.ok) return { code: 0, stdout: "", stderr: "" };
  // The control library's own messages only restate its errno, except for a runtime failure.
  return kernelError(op, r.error.errno, r.error.errno === "EINVAL" ? r.error.message : undefined);
}

const OK: Exit = { code: 0, stdout: "", stderr: "" };

function keyOf(ce: CommandEntry): ServiceKey {
  return ce.svc.fwmark
    ? { fwmark: ce.svc.fwmark }
    : { protocol: ce.svc.protocol as "tcp" | "udp", address: ce.svc.address!, port: ce.svc.port };
}

function findServiceIn(config: DirectorConfig, key: ServiceKey): ServiceConfig | undefined {
  return findService(config.services, key);
}


/** What the schema finds wrong with the table once `next` joins it (member overlaps), or null. */
function tableProblem(config: DirectorConfig, next: ServiceConfig): string | null {
  const services = [...config.services, next];
  const r = validateDirectorConfig({ interface: config.interface, services: services.map(serviceToInput) });
  if (r.ok) return null;
  const issue = r.issues[0]!;
  const name = (i: string) => services[Number(i)] ? serviceLabel(services[Number(i)]!) : `services[${i}]`;
  return issue.message.replace(/services\[(\d+)\](?:\.members\[(\d+)\])?/g, (_, i: string, j?: string) =>
    j === undefined ? `service ${name(i)}` : `a member of ${name(i)}`);
}

interface Context {
  control: Control;
  readingStdin: boolean;
  /** -R: members of firewall marks from `# ringvs: fwmark` lines of the input. */
  directives: Map<number, ServiceMatch[]>;
}

async function addOrEditService(ce: CommandEntry, ctx: Context): Promise<Exit> {
  const key = keyOf(ce);
  const add = ce.command === "add-service";
  const op: Operation = add ? "add-service" : "edit-service";
  const config = ctx.control.current();
  const existing = findServiceIn(config, key);
  if (!add && ce.options.has("members")) return fail("Illegal 'members' option with the 'edit-service' command");
  if (add && existing) return kernelError(op, "EEXIST");
  if (!add && !existing) return kernelError(op, "ESRCH");
  if (schedulerProblem(ce.scheduler)) return kernelError(op, "ENOENT");
  if ("address" in key) {
    const p = unicastAddressProblem(key.address);
    if (p) return refuse(`service address ${key.address}: ${p}`);
  }
  if (ce.persistent) {
    const p = netmaskProblem(ce.netmask);
    if (p) return refuse(`-M ${ce.netmask}: ${p}`);
  }
  const options: ServiceOptions = {
    scheduler: ce.scheduler as ServiceOptions["scheduler"],
    schedulerFlags: {
      port: ce.schedFlags.some((f) => f.endsWith("-port")),
      fallback: ce.schedFlags.some((f) => f.endsWith("-fallback")),
      // ipvsadm cannot set the Maglev table size; an edit keeps the one the service has.
      mhTableSize: existing?.schedulerFlags.mhTableSize ?? MH_TABLE_SIZE_DEFAULT,
    },
    persistence: ce.persistent ? { timeout: ce.timeout, netmask: ce.netmask } : null,
  };
  if (!add) return fromResult(op, await ctx.control.editService(key, options));

  let members: ServiceMatch[] = [];
  if ("fwmark" in key) {
    members = ce.members ?? ctx.directives.get(key.fwmark) ?? [];
    if (members.length === 0) {
      return refuse(`${fwmarkWithoutMembersMessage(key.fwmark)}${ctx.readingStdin ? "" : `, or give them with --members "tcp 198.18.0.100:80,tcp 198.18.0.100:443"`}`);
    }
  } else if (ce.options.has("members")) {
    return refuse("--members belongs to a firewall-mark service (-f MARK): a -t/-u service is its own VIP:port");
  }
  const next: ServiceConfig = "fwmark" in key
    ? { protocol: "tcp", address: "", port: 0, fwmark: key.fwmark, members, ...options, realServers: [] }
    : { ...key, fwmark: null, members: [], ...options, realServers: [] };
  const problem = tableProblem(config, next);
  if (problem) return refuse(problem);
  return fromResult(op, await ctx.control.addService(key, options, members));
}

async function addOrEditDest(ce: CommandEntry, ctx: Context): Promise<Exit> {
  const key = keyOf(ce);
  const add = ce.command === "add-server";
  const op: Operation = add ? "add-dest" : "edit-dest";
  const svc = findServiceIn(ctx.control.current(), key);
  if (!svc) return kernelError(op, "ESRCH");
  const address = ce.dest.address!;
  // The kernel's order: thresholds (ERANGE), then the lookup, then the address type.
  if (ce.dest.lower > ce.dest.upper) return kernelError(op, "ERANGE");
  const exists = svc.realServers.some((r) => r.address === address && r.port === ce.dest.port);
  if (add && exists) return kernelError(op, "EEXIST");
  if (!add && !exists) return kernelError(op, "ENOENT");
  const p = unicastAddressProblem(address);
  if (p) return kernelError(op, "EINVAL", `real server ${address}: ${p}`);
  if (svc.fwmark !== null && ce.dest.port !== 0) {
    return refuse(
      `real server ${address}:${ce.dest.port}: DR and TUN cannot change the port; a firewall-mark service's real servers take ` +
      `the port each packet came to, so give ${address} or ${address}:0`,
    );
  }
  if (add && svc.realServers.some((r) => r.address === address)) {
    return kernelError(op, "EEXIST", `real server ${address} is already in ${serviceLabel(svc)}`);
  }
  const dest = {
    address, port: ce.dest.port, forward: ce.dest.forward as "dr" | "tun", weight: ce.dest.weight,
    upperThreshold: ce.dest.upper, lowerThreshold: ce.dest.lower,
  };
  return fromResult(op, add ? await ctx.control.addDest(key, dest) : await ctx.control.editDest(key, dest));
}

async function list(ce: CommandEntry, ctx: Context): Promise<Exit> {
  const o = ce.options;
  if (o.has("connection")) {
    return { code: 0, stdout: listConnections(await ctx.control.connections(), ce.format.persistentConn), stderr: "" };
  }
  const snapshot = ctx.control.snapshot();
  if (o.has("service-address")) {
    const key = keyOf(ce);
    const id = keyIdentity(key);
    const svc = snapshot.services.find((s) => keyIdentity(s.key) === id);
    if (!svc) return { code: 1, stdout: "", stderr: `${ipvsStrerror("get-service", "ESRCH")}\n` };
    return { code: 0, stdout: listService(svc, ce.format), stderr: "" };
  }
  if (o.has("timeout")) return { code: 0, stdout: listTimeout(snapshot), stderr: "" };
  if (o.has("daemon")) return OK; // no sync daemon runs, so list_daemon prints nothing
  return { code: 0, stdout: listAll(snapshot, ce.format), stderr: "" };
}

async function execute(ce: CommandEntry, ctx: Context): Promise<Exit> {
  switch (ce.command) {
    case "list":
      return list(ce, ctx);
    case "save":
      return { code: 0, stdout: listAll(ctx.control.snapshot(), ce.format), stderr: "" };
    case "restore":
      return OK; // handled by runIpvsadm, which has stdin
    case "flush":
      return fromResult("other", await ctx.control.clear());
    case "add-service":
    case "edit-service":
      return addOrEditService(ce, ctx);
    case "delete-service": {
      const key = keyOf(ce);
      if (!findServiceIn(ctx.control.current(), key)) return kernelError("delete-service", "ESRCH");
      return fromResult("delete-service", await ctx.control.deleteService(key));
    }
    case "zero":
      return fromResult("zero", await ctx.control.zero(ce.options.has("service-address") ? keyOf(ce) : undefined));
    case "add-server":
    case "edit-server":
      return addOrEditDest(ce, ctx);
    case "delete-server":
      return fromResult("delete-dest", await ctx.control.deleteDest(keyOf(ce), ce.dest.address!, ce.dest.port));
    case "set":
      return fromResult("other", await ctx.control.setTimeouts(ce.timeouts));
    default:
      return refuse(`the connection sync daemon (--${ce.command}) is not supported`);
  }
}

/** Drops a leading `ipvsadm` (or a path to it), as a shell line or an ipvsadm-save line may carry. */
function withoutProgram(argv: readonly string[]): string[] {
  const a = argv.slice();
  if (a[0] !== undefined && (a[0] === PROGRAM || a[0].endsWith(`/${PROGRAM}`))) a.shift();
  return a;
}

const DIRECTIVE = /^\s*#\s*ringvs:\s*fwmark\s+(\S+?)\s*=\s*(.*)$/;

/** -R: ipvsadm-restore's input, one command per line through the same parser. Blank lines and
 *  comments are skipped; `# ringvs: fwmark N = ...` lines give -f services their members wherever
 *  they stand (a broken one is reported before any line is applied). ipvsadm itself exits at the first line its parser rejects but carries on past a
 *  refused table change; ringvs stops at the first error of either kind and names the line. */
async function restore(text: string, control: Control): Promise<Exit> {
  const lines = text.split(/\r?\n/);
  const directives = new Map<number, ServiceMatch[]>();
  const badDirective = new Map<number, string>();
  lines.forEach((line, i) => {
    if (!/^\s*#\s*ringvs:/.test(line)) return;
    const m = DIRECTIVE.exec(line);
    const mark = m ? parseMark(m[1]!) : null;
    if (!m || mark === null) {
      badDirective.set(i, `expected "# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]..."`);
      return;
    }
    const parsed = parseMemberList(m[2]!);
    const p = parsed.problems[0];
    if (p) badDirective.set(i, `fwmark ${mark}: ${p.value !== undefined ? `"${p.value}": ` : ""}${p.message}`);
    else directives.set(mark, [...(directives.get(mark) ?? []), ...parsed.members.map((x) => x.match)]);
  });
  // A broken member line makes the input unreadable as a whole (it may belong to any -f line, before
  // or after it), so it is reported before anything is applied.
  const [bad] = badDirective;
  if (bad) return { code: 2, stdout: "", stderr: `line ${bad[0] + 1}: ${bad[1]}\n` };
  const ctx: Context = { control, readingStdin: true, directives };
  // One batch: the lines change the tables one by one, the data plane gets them in one apply.
  const { value: r, applied } = await control.batch(async (): Promise<Exit> => {
    let stdout = "";
    for (const [i, line] of lines.entries()) {
      if (/^\s*#/.test(line)) continue;
      const words = withoutProgram(line.trim().split(/\s+/).filter((w) => w !== ""));
      if (words.length === 0) continue;
      const ce = parseCommand(words, true);
      const r = "command" in ce ? await execute(ce, ctx) : ce;
      stdout += r.stdout;
      if (r.code !== 0) return { code: r.code, stdout, stderr: `line ${i + 1}: ${r.stderr}` };
    }
    return { code: 0, stdout, stderr: "" };
  });
  if (!applied.ok) {
    return { code: 1, stdout: r.stdout, stderr: `${r.stderr}ringvs: the restored rules could not be applied, nothing changed: ${applied.error.message}\n` };
  }
  return r;
}

/** Runs one ipvsadm command line (a leading `ipvsadm` word is accepted) against `control`.
 *  `io.stdin` is what -R reads. Never throws for bad input; never prints. */
export async function runIpvsadm(argv: string[], control: Control, io: { stdin?: string }): Promise<Exit> {
  const args = withoutProgram(argv);
  // "list the table if there is no other argument"
  if (args.length === 0) return execute({ ...(parseCommand(["-L"], false) as CommandEntry) }, { control, readingStdin: false, directives: new Map() });
  const ce = parseCommand(args, false);
  if (!("command" in ce)) return ce;
  if (ce.command === "restore") {
    return restore(io.stdin ?? "", control);
  }
  return execute(ce, { control, readingStdin: false, directives: new Map() });
}
