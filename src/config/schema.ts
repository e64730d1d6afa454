// The one validator for a director configuration. The JSON config file (load.ts) and the
// `ipvsadm-save -n` rules file (ipvsadm_rules.ts) both end here, so the two front ends cannot
// disagree about what is legal, what the defaults are, or what is refused.
//
// Defaults follow ipvsadm wherever ipvsadm has one (scheduler wlc, persistence 360 s, weight 1,
// forwarding -g, thresholds 0). ringvs has every IPVS scheduler (src/sched/), so a scheduler name
// is either one of them or unknown.
//
// Services come in two kinds:
//   - VIP:port (ipvsadm -t/-u). Port 0 means every port of the VIP and, as in ipvsadm, needs
//     persistence. A VIP:port service and a VIP:0 service may coexist: as in the kernel
//     (ip_vs_service_find), the exact port wins and VIP:0 catches the rest.
//   - firewall mark (ipvsadm -f MARK): several VIP:port pairs scheduled as one service. The kernel
//     learns the mark from iptables, which ringvs cannot see, so the pairs are given as `members`.
//     A member may not overlap any other service or member (same protocol and address, and equal
//     ports or either port 0): with real marks the mark decides, here nothing could.

import { z } from "zod";
import {
  FLOW_TABLE_DEFAULT_SIZE,
  MH_TABLE_SIZE_DEFAULT,
  REAL_SERVER_ENTRIES_MAX,
  RING_DEFAULTS,
  RING_VERSIONS,
  TIMEOUT_DEFAULTS,
  WORKERS_DEFAULT,
  WORKERS_MAX,
  type DirectorConfig,
  type ForwardMethod,
  type RealServerConfig,
  type RingVersion,
  type SchedulerName,
  type ServiceConfig,
  type ServiceMatch,
} from "./model.ts";
import { DEFAULT_SCHEDULER, SCHEDULER_NAMES, isSchedulerName, readsHashFlags } from "../sched/index.ts";
import { MH_PRIMES } from "../sched/mh.ts";
import {
  DEFAULT_PERSISTENCE_NETMASK, DEFAULT_PERSISTENCE_TIMEOUT, DEFAULT_WEIGHT, keyLabel, serviceKey, serviceMatches,
  showMatch,
} from "./service.ts";

/** Every scheduler kernel IPVS ships, in the order unknown-scheduler messages list them: the
 *  scheduler registry's names (src/sched/index.ts); any other name is unknown. */
export const IPVS_SCHEDULERS: readonly SchedulerName[] = SCHEDULER_NAMES;
export { DEFAULT_SCHEDULER };
export { DEFAULT_PERSISTENCE_TIMEOUT, DEFAULT_PERSISTENCE_NETMASK, DEFAULT_WEIGHT };
/** ipvsadm.c MAX_TIMEOUT (31 days): the largest -p and --set value ipvsadm takes. */
export const MAX_PERSISTENCE_TIMEOUT = 86400 * 31;
export const MAX_WEIGHT = 65535;
/** ipvsadm -x/-y take 0..INT_MAX (string_to_number(optarg, 0, INT_MAX)). */
export const MAX_THRESHOLD = 2 ** 31 - 1;
/** ipvsadm parse_fwmark: 1..UINT_MAX. */
export const MAX_FWMARK = 2 ** 32 - 1;
/** Connection timeouts are kept in seconds as a signed 32-bit number by the kernel. */
export const MAX_CONNECTION_TIMEOUT = 2 ** 31 - 1;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME_LEN = 15;
/** ip_vs_mh.c `primes[]`: the Maglev lookup table sizes CONFIG_IP_VS_MH_TAB_INDEX (8..17) picks from. */
export const MH_TABLE_SIZES: readonly number[] = MH_PRIMES;
/** The scheduler flags ipvsadm -b knows by name (parse_sched_flags); each belongs to one scheduler. */
export const SCHEDULER_FLAG_NAMES = ["sh-fallback", "sh-port", "mh-fallback", "mh-port"] as const;
export type SchedulerFlagName = (typeof SCHEDULER_FLAG_NAMES)[number];

export const RING_BLOCK_SIZE_MIN = 4096;
export const RING_BLOCK_SIZE_MAX = 4 * 1024 * 1024;
export const RING_BLOCK_COUNT_MIN = 2;
export const RING_BLOCK_COUNT_MAX = 65536;
export const FLOW_TABLE_MIN = 1024;
export const FLOW_TABLE_MAX = 1 << 24;

// ---------------------------------------------------------------------------------------------
// Small value checks, exported because the rules-file parser and others reuse them.

/** Host-order u32 of a strict dotted quad ("10.0.0.1"; no leading zeros, no inet_aton shorthand), else null.
 *  A character loop: every line of a 110,000-line rules file reads addresses two or three times,
 *  and a regular expression plus split/map per address was a tenth of reading it. */
export function parseIPv4(text: string): number | null {
  let value = 0;
  let octet = -1; // -1: no digit of the current octet yet
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (octet < 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = -1;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (octet === 0) return null; // a leading zero ("01")
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
      if (++digits > 3 || octet > 255) return null;
    } else {
      return null;
    }
  }
  if (octet < 0 || dots !== 3) return null;
  return value * 256 + octet;
}

/** Why `text` cannot be a VIP or real-server address, or null when it can. */
export function unicastAddressProblem(text: string): string | null {
  const a = parseIPv4(text);
  if (a === null) return "must be an IPv4 address in dotted-quad form (e.g. 198.18.0.100)";
  if (a === 0) return "must not be 0.0.0.0";
  if (a === 0xffffffff) return "must not be the broadcast address";
  if (a >>> 28 === 0xe) return "must not be a multicast address";
  return null;
}

/** Why `text` cannot be a persistence netmask, or null when it can (contiguous, like a prefix). */
export function netmaskProblem(text: string): string | null {
  const m = parseIPv4(text);
  if (m === null) return "must be a netmask in dotted-quad form (e.g. 255.255.255.0)";
  const host = ~m >>> 0; // contiguous iff the host part is 2^k - 1
  if ((host & (host + 1)) !== 0) return "must be a contiguous netmask (ones then zeros, like 255.255.255.0)";
  return null;
}

/** Why `name` cannot be a Linux interface name (kernel dev_valid_name), or null when it can. */
export function interfaceNameProblem(name: string): string | null {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_IFNAME_LEN) return `must be at most ${MAX_IFNAME_LEN} characters (IFNAMSIZ)`;
  if (name === "." || name === "..") return "is not a valid interface name";
  if (name.includes(":")) {
    return `'${name}' is an address label (alias), not an interface: use '${name.slice(0, name.indexOf(":"))}'`;
  }
  if (/[\/\s]/.test(name)) return "must not contain '/' or whitespace";
  return null;
}

/** Why `name` cannot be a service's scheduler, or null when it can. */
export function schedulerProblem(name: string): string | null {
  if (isSchedulerName(name)) return null;
  return `unknown scheduler '${name}' (IPVS knows ${IPVS_SCHEDULERS.join(", ")})`;
}

/** Why scheduler flag `flag` cannot go with `scheduler`, or null when it can. Mirrors ipvsadm's
 *  parse_sched_flags: sh-* only with sh, mh-* only with mh ("incompatible scheduler flag"). */
export function schedulerFlagProblem(flag: string, scheduler: string): string | null {
  if (!(SCHEDULER_FLAG_NAMES as readonly string[]).includes(flag)) {
    if (flag === "flag-1" || flag === "flag-2") {
      const what = flag === "flag-1" ? "fallback" : "port";
      return `'${flag}' is ipvsadm's numbered alias: write "sh-${what}" or "mh-${what}"`;
    }
    return `unknown scheduler flag '${flag}' (ipvsadm knows ${SCHEDULER_FLAG_NAMES.join(", ")})`;
  }
  const owner = flag.slice(0, 2);
  if (owner !== scheduler) {
    return `scheduler flag '${flag}' belongs to the ${owner} scheduler, not ${scheduler} (ipvsadm: "incompatible scheduler flag \`${flag}'")`;
  }
  return null;
}

/** Why a VIP:port service on port 0 is refused without persistence (ipvsadm refuses it too). */
export const ZERO_PORT_NEEDS_PERSISTENCE =
  'port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")';

/** Why a DR or TUN real server cannot have a port of its own: `servicePort` is the VIP:port
 *  service's port, null for a firewall-mark service (whose packets keep the port they came to). */
export function realServerPortProblem(forward: ForwardMethod, servicePort: number | null): string {
  const method = forward === "tun" ? "TUN" : "DR";
  return servicePort !== null
    ? `${method} cannot change the port: a real server's port must equal the service port ${servicePort} (or be omitted)`
    : `${method} cannot change the port: a firewall-mark service's real servers take the port each packet came to, so give port 0 or none`;
}

/** Why a lower connection threshold cannot go with an upper one (the kernel's ERANGE), or null. */
export function lowerThresholdProblem(lower: number, upper: number): string | null {
  if (lower <= upper) return null;
  return (
    `is higher than the upper threshold ${upper} (the kernel refuses it: "lower threshold is higher than upper threshold"` +
    (upper === 0 ? "; with no upper threshold the lower one must be 0 too)" : ")")
  );
}

/** A loopback address and port as Bun.serve takes them ("::1", not "[::1]"). */
export interface LoopbackListen {
  host: string;
  port: number;
}

const LISTEN_EXAMPLE = "e.g. 127.0.0.1:9100 or [::1]:9100";

/** Splits "127.0.0.1:9100" or "[::1]:9100" into host and port, or says why `text` cannot be where
 *  the metrics endpoint listens. Only loopback is accepted (127.0.0.0/8, and ::1 in any spelling):
 *  the endpoint has no authentication, and a director's other addresses face the clients it serves.
 *  Ports are 1..65535; `minPort` 0 lets a caller ask the kernel for an ephemeral port (tests). */
export function parseLoopbackListen(
  text: string,
  minPort = 1,
): { ok: true; listen: LoopbackListen } | { ok: false; problem: string } {
  const fail = (problem: string) => ({ ok: false as const, problem });
  let host: string;
  let portText: string;
  let v6: boolean;
  if (text.startsWith("[")) {
    const m = /^\[([^\]]*)\]:(.*)$/.exec(text);
    if (!m) return fail(`must be [IPV6]:PORT or IPV4:PORT (${LISTEN_EXAMPLE})`);
    [host, portText, v6] = [m[1]!, m[2]!, true];
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return fail(`must be HOST:PORT with a port (${LISTEN_EXAMPLE})`);
    [host, portText, v6] = [text.slice(0, colon), text.slice(colon + 1), false];
    if (host.includes(":")) return fail(`an IPv6 address goes in brackets: [${host}]:${portText}`);
  }
  const notLoopback = (shown: string) =>
    fail(`${shown} is not a loopback address: the metrics endpoint has no authentication, so it listens on 127.0.0.0/8 or [::1] only`);
  if (v6) {
    let canonical: string;
    try {
      canonical = new URL(`http://[${host}]/`).hostname; // the WHATWG parser writes IPv6 in its shortest form
    } catch {
      return fail(`'[${host}]' is not an IPv6 address (${LISTEN_EXAMPLE})`);
    }
    if (canonical !== "[::1]") return notLoopback(`[${host}]`);
    host = "::1";
  } else {
    const a = parseIPv4(host);
    if (a === null) {
      return fail(`'${host}' is not an IP address: give a loopback address, not a host name (${LISTEN_EXAMPLE})`);
    }
    if (a >>> 24 !== 127) return notLoopback(host);
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= minPort && port <= 65535)) return fail(`port '${portText}' must be ${minPort}..65535`);
  return { ok: true, listen: { host, port } };
}

/** Whether two VIP:port pairs can claim the same packet: same protocol and address, and the same
 *  port or either one every port (0). */
export function matchesOverlap(a: ServiceMatch, b: ServiceMatch): boolean {
  return a.protocol === b.protocol && a.address === b.address && (a.port === b.port || a.port === 0 || b.port === 0);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && Math.log2(n) % 1 === 0;
}

// ---------------------------------------------------------------------------------------------
// Schema pieces.

function intRange(min: number, max: number, message = `must be ${min}..${max}`) {
  return z.number().int("must be an integer").min(min, message).max(max, message);
}

function powerOfTwo(min: number, max: number, message: string) {
  return z.number().superRefine((n, ctx) => {
    if (!(n >= min && n <= max && isPowerOfTwo(n))) ctx.addIssue({ code: "custom", message });
  });
}

const unicastAddress = z.string().superRefine((s, ctx) => {
  const problem = unicastAddressProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const protocol = z.enum(["tcp", "udp"], { errorMap: () => ({ message: "must be \"tcp\" or \"udp\"" }) });

const port = intRange(0, 65535);

const forward = z
  .string()
  .optional()
  .transform((given, ctx): ForwardMethod => {
    const method = given ?? "dr";
    if (method === "dr" || method === "tun") return method;
    const message =
      method === "nat"
        ? "forward 'nat' (masquerading, ipvsadm -m) is not supported: ringvs does DR (\"dr\") and TUN (\"tun\")"
        : `unknown forward method '${method}' (ringvs has "dr" and "tun")`;
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  });

const persistenceObject = z
  .object(
    {
      timeout: intRange(1, MAX_PERSISTENCE_TIMEOUT, `must be 1..${MAX_PERSISTENCE_TIMEOUT} seconds`).default(
        DEFAULT_PERSISTENCE_TIMEOUT,
      ),
      netmask: z
        .string()
        .superRefine((s, ctx) => {
          const problem = netmaskProblem(s);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .default(DEFAULT_PERSISTENCE_NETMASK),
    },
    { invalid_type_error: "must be null or an object {timeout, netmask}" },
  )
  .strict();

const threshold = intRange(0, MAX_THRESHOLD).default(0);

const realServerObject = z
  .object({
    address: unicastAddress,
    port: port.optional(),
    weight: intRange(0, MAX_WEIGHT).default(DEFAULT_WEIGHT),
    forward,
    upperThreshold: threshold,
    lowerThreshold: threshold,
  })
  .strict();

const memberObject = z
  .object({
    protocol: protocol.default("tcp"),
    address: unicastAddress,
    port,
  })
  .strict();

const serviceObject = z
  .object({
    protocol: protocol.optional(),
    address: unicastAddress.optional(),
    port: port.optional(),
    fwmark: intRange(1, MAX_FWMARK).optional(),
    members: z.array(memberObject).optional(),
    scheduler: z.string().optional(),
    schedulerFlags: z.array(z.string()).optional(),
    mhTableSize: z
      .number()
      .refine((n) => MH_TABLE_SIZES.includes(n), `must be one of the kernel's Maglev table sizes: ${MH_TABLE_SIZES.join(", ")}`)
      .optional(),
    persistence: persistenceObject.nullable().default(null),
    realServers: z.array(realServerObject).default([]),
  })
  .strict();

type ServiceInput = z.output<typeof serviceObject>;
type Issue = { path: (string | number)[]; message: string };

/** Services that passed their own checks; only these take part in the checks across services,
 *  which would otherwise trip over half-parsed input. */
const completeServices = new WeakSet<object>();


/** The checks of one service that need more than one field; pushes to `issues`. */
function checkService(s: ServiceInput, issues: Issue[]): ServiceConfig {
  const fwmark = s.fwmark ?? null;
  if (fwmark !== null) {
    const place = "a firewall-mark service has no";
    if (s.protocol !== undefined) issues.push({ path: ["protocol"], message: `${place} protocol of its own: each member names its protocol` });
    if (s.address !== undefined) issues.push({ path: ["address"], message: `${place} address: its VIP:port pairs are its members` });
    if (s.port !== undefined) issues.push({ path: ["port"], message: `${place} port: its VIP:port pairs are its members` });
    if (s.members === undefined) {
      issues.push({ path: ["members"], message: "required for a firewall-mark service: the VIP:port pairs the mark stands for" });
    } else if (s.members.length === 0) {
      issues.push({ path: ["members"], message: "a firewall-mark service needs at least one member" });
    }
  } else {
    if (s.members !== undefined) issues.push({ path: ["members"], message: "members belong to a firewall-mark service: give fwmark too" });
    if (s.address === undefined) issues.push({ path: ["address"], message: "required" });
    if (s.port === undefined) issues.push({ path: ["port"], message: "required" });
    else if (s.port === 0 && s.persistence === null) {
      issues.push({
        path: ["port"],
        message: ZERO_PORT_NEEDS_PERSISTENCE,
      });
    }
  }

  const scheduler = s.scheduler ?? DEFAULT_SCHEDULER;
  const problem = schedulerProblem(scheduler);
  if (problem) issues.push({ path: ["scheduler"], message: problem });

  const flags = { port: false, fallback: false, mhTableSize: s.mhTableSize ?? MH_TABLE_SIZE_DEFAULT };
  const seen = new Map<string, number>();
  (s.schedulerFlags ?? []).forEach((flag, k) => {
    const first = seen.get(flag);
    if (first !== undefined) {
      issues.push({ path: ["schedulerFlags", k], message: `listed twice (already schedulerFlags[${first}])` });
      return;
    }
    seen.set(flag, k);
    const flagProblem = schedulerFlagProblem(flag, scheduler);
    if (flagProblem) issues.push({ path: ["schedulerFlags", k], message: flagProblem });
    else if (flag.endsWith("-port")) flags.port = true;
    else flags.fallback = true;
  });
  if (s.mhTableSize !== undefined && scheduler !== "mh") {
    issues.push({ path: ["mhTableSize"], message: `only the mh scheduler has a lookup table (this service uses ${scheduler})` });
  }

  // DR and TUN cannot change the port, so a real server's port is the service's (0 for a fwmark
  // service, whose packets keep whatever port they came to). ipvsadm would silently replace another.
  const servicePort = fwmark === null ? (s.port ?? 0) : 0;
  const firstIndex = new Map<string, number>();
  const realServers = s.realServers.map((rs, j): RealServerConfig => {
    if (rs.port !== undefined && rs.port !== servicePort) {
      issues.push({
        path: ["realServers", j, "port"],
        message: realServerPortProblem(rs.forward, fwmark === null ? servicePort : null),
      });
    }
    const thresholds = lowerThresholdProblem(rs.lowerThreshold, rs.upperThreshold);
    if (thresholds) issues.push({ path: ["realServers", j, "lowerThreshold"], message: thresholds });
    const first = firstIndex.get(rs.address);
    if (first === undefined) firstIndex.set(rs.address, j);
    else {
      issues.push({ path: ["realServers", j, "address"], message: `duplicate real server ${rs.address} (already realServers[${first}])` });
    }
    return {
      address: rs.address,
      port: servicePort,
      weight: rs.weight,
      forward: rs.forward,
      upperThreshold: rs.upperThreshold,
      lowerThreshold: rs.lowerThreshold,
    };
  });

  return {
    // ipvsadm gives a -f service protocol TCP "to a sane value, even though it is not used".
    protocol: fwmark === null ? (s.protocol ?? "tcp") : "tcp",
    address: fwmark === null ? (s.address ?? "") : "",
    port: fwmark === null ? (s.port ?? 0) : 0,
    fwmark,
    members: fwmark === null ? [] : (s.members ?? []).map((m) => ({ protocol: m.protocol, address: m.address, port: m.port })),
    scheduler: scheduler as SchedulerName,
    schedulerFlags: flags,
    persistence: s.persistence,
    realServers,
  };
}

/** One virtual service: a VIP:port (protocol, address, port) or a firewall mark (fwmark, members).
 *  Real-server ports default to the service port; DR and TUN cannot change it, so any other port is
 *  an error (ipvsadm would silently replace it). */
export const serviceSchema: z.ZodType<ServiceConfig, z.ZodTypeDef, unknown> = serviceObject.transform(
  (s, ctx): ServiceConfig => {
    const issues: Issue[] = [];
    const service = checkService(s, issues);
    for (const issue of issues) ctx.addIssue({ code: "custom", ...issue });
    completeServices.add(service);
    return service;
  },
);

interface Claim {
  match: ServiceMatch;
  where: string;
  /** A firewall-mark member (which may not share a packet with anything), not a VIP:port service. */
  member: boolean;
}

/** The claims made so far (overlap as matchesOverlap states it), indexed by VIP and port so that checking a table of 10,000 services is
 *  not 10,000 x 10,000 comparisons (a walk over every earlier claim made start-up and every -A of a
 *  large table quadratic). firstClash answers what that walk answered: the earliest claim that
 *  overlaps `match` where either side is a member. */
class ClaimIndex {
  private readonly byVip = new Map<string, { all: { claim: Claim; order: number }[]; byPort: Map<number, { claim: Claim; order: number }[]> }>();
  private count = 0;

  add(claim: Claim): void {
    const key = `${claim.match.protocol} ${claim.match.address}`;
    let vip = this.byVip.get(key);
    if (!vip) this.byVip.set(key, (vip = { all: [], byPort: new Map() }));
    const entry = { claim, order: this.count++ };
    vip.all.push(entry);
    const list = vip.byPort.get(claim.match.port);
    if (list) list.push(entry);
    else vip.byPort.set(claim.match.port, [entry]);
  }

  firstClash(match: ServiceMatch, member: boolean): Claim | undefined {
    const vip = this.byVip.get(`${match.protocol} ${match.address}`);
    if (!vip) return undefined;
    const ok = (e: { claim: Claim }) => member || e.claim.member;
    // Port 0 overlaps every claim on the VIP; any other port the same port and the VIP's port 0.
    if (match.port === 0) return vip.all.find(ok)?.claim;
    const a = vip.byPort.get(match.port)?.find(ok);
    const b = vip.byPort.get(0)?.find(ok);
    if (!a || !b) return (a ?? b)?.claim;
    return a.order < b.order ? a.claim : b.claim;
  }
}

/** Issues across services: one service per VIP:port and per mark, and no member sharing a packet
 *  with another service or member. Paths are relative to the services array. */
function checkServices(services: readonly ServiceConfig[]): Issue[] {
  const issues: Issue[] = [];
  const keyIndex = new Map<string, number>();
  const claims = new ClaimIndex();
  services.forEach((s, i) => {
    if (!completeServices.has(s)) return;
    const key = keyLabel(serviceKey(s));
    const first = keyIndex.get(key);
    if (first !== undefined) {
      issues.push({ path: [i], message: `duplicate service ${key} (already services[${first}])` });
      return;
    }
    keyIndex.set(key, i);
    serviceMatches(s).forEach((match, j) => {
      const member = s.fwmark !== null;
      const where = member ? `services[${i}].members[${j}]` : `services[${i}]`;
      // Two VIP:port services never clash here: exact ports were caught as duplicates above, and
      // VIP:port beside VIP:0 is the kernel's own precedence (exact port first).
      const clash = claims.firstClash(match, member);
      if (clash) {
        const same = member && clash.where.startsWith(`services[${i}].`);
        issues.push({
          path: member ? [i, "members", j] : [i],
          message:
            `${showMatch(match)} overlaps ${clash.where} (${showMatch(clash.match)})` +
            (same ? ", a member of the same service" : ": a packet must belong to one service"),
        });
      }
      claims.add({ match, where, member });
    });
  });
  const over = entryOverCapacity(services);
  if (over) issues.push({ path: [over.service, "realServers", over.realServer], message: ENTRIES_OVER_CAPACITY });
  return issues;
}

export const ENTRIES_OVER_CAPACITY = `more than ${REAL_SERVER_ENTRIES_MAX} real-server entries in all services`;

/** The first (service, real server) pair past REAL_SERVER_ENTRIES_MAX, or null: the director has
 *  a slot per pair, so this refuses here what serve would. */
export function entryOverCapacity(services: readonly ServiceConfig[]): { service: number; realServer: number } | null {
  let entries = 0;
  for (let i = 0; i < services.length; i++) {
    const n = services[i]!.realServers.length;
    if (entries + n > REAL_SERVER_ENTRIES_MAX) return { service: i, realServer: REAL_SERVER_ENTRIES_MAX - entries };
    entries += n;
  }
  return null;
}

const ringObject = z
  .object({
    version: z
      .union(RING_VERSIONS.map((v) => z.literal(v)) as [z.ZodLiteral<RingVersion>, z.ZodLiteral<RingVersion>], {
        errorMap: () => ({ message: `must be ${RING_VERSIONS.join(" or ")}` }),
      })
      .default(RING_DEFAULTS.version),
    blockSize: powerOfTwo(
      RING_BLOCK_SIZE_MIN,
      RING_BLOCK_SIZE_MAX,
      `must be a power of two from ${RING_BLOCK_SIZE_MIN} to ${RING_BLOCK_SIZE_MAX} (4 MiB)`,
    ).default(RING_DEFAULTS.blockSize),
    blockCount: intRange(RING_BLOCK_COUNT_MIN, RING_BLOCK_COUNT_MAX).default(RING_DEFAULTS.blockCount),
    // 1 ms keeps the latency a half-empty block adds negligible; beyond a second it is a stall.
    blockTimeoutMs: intRange(1, 1000).default(RING_DEFAULTS.blockTimeoutMs),
  })
  .strict();

const workersObject = z
  .object({
    count: intRange(1, WORKERS_MAX).default(WORKERS_DEFAULT.count),
    cpus: z.array(intRange(0, 4095)).nullable().default(WORKERS_DEFAULT.cpus),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.cpus === null) return;
    if (w.cpus.length !== w.count) {
      ctx.addIssue({ code: "custom", path: ["cpus"], message: `must list one CPU per worker (${w.count}), got ${w.cpus.length}` });
    } else if (new Set(w.cpus).size !== w.cpus.length) {
      ctx.addIssue({ code: "custom", path: ["cpus"], message: "must not list a CPU twice (one worker per core)" });
    }
  });

const timeoutSeconds = intRange(1, MAX_CONNECTION_TIMEOUT, `must be 1..${MAX_CONNECTION_TIMEOUT} seconds`);

/** ipvsadm --set tcp tcpfin udp; every value explicit (ipvsadm's 0 = "unchanged" has no meaning in a file). */
const timeoutsObject = z
  .object({
    tcp: timeoutSeconds.default(TIMEOUT_DEFAULTS.tcp),
    tcpFin: timeoutSeconds.default(TIMEOUT_DEFAULTS.tcpFin),
    udp: timeoutSeconds.default(TIMEOUT_DEFAULTS.udp),
  })
  .strict();

/** null (the default) = no metrics endpoint. */
const metricsObject = z
  .object(
    {
      listen: z.string().superRefine((s, ctx) => {
        const parsed = parseLoopbackListen(s);
        if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.problem });
      }),
    },
    { invalid_type_error: 'must be null or an object {"listen": "127.0.0.1:9100"}' },
  )
  .strict();

/** One receiving interface, or several: "eth0,eth1" (serve --interface) or a JSON array. */
const interfaceName = z.string().superRefine((s, ctx) => {
  const problem = interfaceNameProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

function checkInterfaceList(names: readonly string[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) ctx.addIssue({ code: "custom", message: `${name} is listed twice` });
    seen.add(name);
  }
  if (names.length > RECEIVING_INTERFACES_MAX) {
    ctx.addIssue({ code: "custom", message: `at most ${RECEIVING_INTERFACES_MAX} receiving interfaces (each costs a transmit socket in every ring)` });
  }
}

/** A ring has 8 transmit interfaces (native/ring.c RV_TX_IF_MAX) and tx_if 0 is its own; with
 *  several receiving interfaces every one of them is also a transmit interface in every ring. */
const RECEIVING_INTERFACES_MAX = 4;

const rootObject = z
  .object({
    interface: z.string().superRefine((s, ctx) => {
      const names = s.split(",");
      for (const name of names) {
        const problem = interfaceNameProblem(name);
        if (problem) ctx.addIssue({ code: "custom", message: names.length > 1 ? `${JSON.stringify(name)}: ${problem}` : problem });
      }
      checkInterfaceList(names, ctx);
    }).optional(),
    interfaces: z.array(interfaceName).min(1, "must name at least one interface").superRefine(checkInterfaceList).optional(),
    timeouts: timeoutsObject.default({}),
    tunnelSource: unicastAddress.nullable().default(null),
    vipMode: z
      .enum(["local", "arp", "auto"], { errorMap: () => ({ message: "must be \"local\", \"arp\" or \"auto\"" }) })
      .default("auto"),
    ring: ringObject.default({}),
    flowTableSize: powerOfTwo(
      FLOW_TABLE_MIN,
      FLOW_TABLE_MAX,
      `must be a power of two from ${FLOW_TABLE_MIN} to ${FLOW_TABLE_MAX} (2^24)`,
    ).default(FLOW_TABLE_DEFAULT_SIZE),
    workers: workersObject.default({}),
    services: z
      .array(serviceSchema)
      .superRefine((services, ctx) => {
        for (const issue of checkServices(services)) ctx.addIssue({ code: "custom", ...issue });
      })
      // An empty table is a valid start: ipvsadm operators add services at runtime (-A/-a),
      // and `-C` then `-S` writes exactly such a file.
      .default([]),
    metrics: metricsObject.nullable().default(null),
  })
  .strict();

export const directorConfigSchema: z.ZodType<DirectorConfig, z.ZodTypeDef, unknown> = rootObject
  .superRefine((c, ctx) => {
    if (c.interface === undefined && c.interfaces === undefined) {
      ctx.addIssue({ code: "custom", path: ["interface"], message: "required" });
    } else if (c.interface !== undefined && c.interfaces !== undefined) {
      ctx.addIssue({ code: "custom", path: ["interfaces"], message: 'give either "interface" or "interfaces", not both' });
    }
  })
  .transform(({ interface: one, interfaces, ...rest }): DirectorConfig => {
    const all = interfaces ?? one!.split(",");
    return { interface: all[0]!, interfaces: all, ...rest };
  });

// ---------------------------------------------------------------------------------------------
// Turning zod issues into plain, front-end-neutral problems.

export type ConfigPath = (string | number)[];

/** One problem found in an otherwise parseable document; front ends add where it came from. */
export interface ConfigIssue {
  path: ConfigPath;
  /** `path` written out, e.g. `services[0].realServers[1].weight`; "" for the document itself. */
  field: string;
  /** The offending value as given, when there is one (absent for a missing key). */
  value?: unknown;
  message: string;
}

export type ValidationResult = { ok: true; config: DirectorConfig } | { ok: false; issues: ConfigIssue[] };

/** `["services", 0, "port"]` -> `services[0].port`; odd keys are quoted: `["a b"]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Keys each strict object accepts, found by the shape of its path. */
function allowedKeys(path: ConfigPath): string[] {
  const shape = (o: z.AnyZodObject) => Object.keys(o.shape);
  if (path.length === 0) return shape(rootObject);
  if (path.length === 1 && path[0] === "ring") return shape(ringObject);
  if (path.length === 1 && path[0] === "timeouts") return shape(timeoutsObject);
  if (path.length === 1 && path[0] === "metrics") return shape(metricsObject);
  if (path.length === 2 && path[0] === "services") return shape(serviceObject);
  if (path.length === 3 && path[2] === "persistence") return shape(persistenceObject);
  if (path.length === 4 && path[2] === "realServers") return shape(realServerObject);
  if (path.length === 4 && path[2] === "members") return shape(memberObject);
  return [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function valueAt(input: unknown, path: ConfigPath): unknown {
  let v: unknown = input;
  for (const seg of path) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  object: "an object",
  array: "an array",
  boolean: "true or false",
};

// Words the type errors no schema above words itself. A message set on a check never reaches a
// map; a schema's own map (invalid_type_error, enum errorMap) runs first and is kept when it
// changed zod's default wording.
const errorMap: z.ZodErrorMap = (issue, ctx) => {
  const zodDefault = z.defaultErrorMap(issue, { defaultError: "", data: ctx.data }).message;
  if (ctx.defaultError !== zodDefault) return { message: ctx.defaultError };
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (issue.received === "undefined") return { message: "required" };
    return { message: `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}` };
  }
  return { message: ctx.defaultError };
};

function toIssues(error: z.ZodError, input: unknown): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const allowed = allowedKeys(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const near = allowed.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
        const hint = near ? `; did you mean '${near}'?` : allowed.length ? ` (allowed: ${allowed.join(", ")})` : "";
        out.push({ path, field: formatPath(path), value: valueAt(input, path), message: `unknown key${hint}` });
      }
      continue;
    }
    const value = valueAt(input, issue.path);
    const item: ConfigIssue = { path: issue.path, field: formatPath(issue.path), message: issue.message };
    if (value !== undefined) item.value = value;
    out.push(item);
  }
  return out;
}

/** Validates and fills in defaults. Never throws for bad input: problems come back as issues. */
export function validateDirectorConfig(input: unknown): ValidationResult {
  const parsed = directorConfigSchema.safeParse(input, { errorMap });
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, issues: toIssues(parsed.error, input) };
}

/** The issues validateDirectorConfig finds in a table of this one service, with the same paths
 *  (under services[0]) and words, without validating the rest of a document: the checks across
 *  services find nothing in a table of one, and a 10,000-service rules file asks once per -A. */
export function loneServiceIssues(input: unknown): ConfigIssue[] {
  const parsed = serviceSchema.safeParse(input, { errorMap, path: ["services", 0] });
  return parsed.success ? [] : toIssues(parsed.error, { services: [input] });
}

/** A validated service back in the JSON shape this schema reads (schedulerFlags as the named
 *  list, every value explicit): validating it again gives the same service. `ringvs
 *  import-keepalived` writes it; the CLI checks a would-be table through it. */
export function serviceToInput(s: ServiceConfig): Record<string, unknown> {
  const flags: SchedulerFlagName[] = [];
  if (readsHashFlags(s.scheduler)) {
    if (s.schedulerFlags.fallback) flags.push(`${s.scheduler}-fallback`);
    if (s.schedulerFlags.port) flags.push(`${s.scheduler}-port`);
  }
  return {
    ...(s.fwmark === null
      ? { protocol: s.protocol, address: s.address, port: s.port }
      : { fwmark: s.fwmark, members: s.members.map((m) => ({ protocol: m.protocol, address: m.address, port: m.port })) }),
    scheduler: s.scheduler,
    ...(flags.length > 0 ? { schedulerFlags: flags } : {}),
    // Only mh has a lookup table; the schema refuses the key on any other scheduler.
    ...(s.scheduler === "mh" ? { mhTableSize: s.schedulerFlags.mhTableSize } : {}),
    persistence: s.persistence === null ? null : { timeout: s.persistence.timeout, netmask: s.persistence.netmask },
    realServers: s.realServers.map((rs) => ({
      address: rs.address,
      port: rs.port,
      weight: rs.weight,
      forward: rs.forward,
      upperThreshold: rs.upperThreshold,
      lowerThreshold: rs.lowerThreshold,
    })),
  };
}
