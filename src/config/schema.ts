// The one validator for a director configuration. The JSON config file (load.ts) and the
// `ipvsadm-save -n` rules file (ipvsadm_rules.ts) both end here, so the two front ends cannot
// disagree about what is legal, what the defaults are, or what is refused.
//
// Defaults follow ipvsadm wherever ipvsadm has one (scheduler wlc, persistence 360 s, weight 1,
// forwarding -g). A default that ringvs cannot honour yet (wlc) is refused, not silently swapped
// for something else: an operator who wrote nothing expects what IPVS would have done.

import { z } from "zod";
import {
  FLOW_TABLE_DEFAULT_SIZE,
  RING_DEFAULTS,
  type DirectorConfig,
  type ForwardMethod,
  type RealServerConfig,
  type SchedulerName,
  type ServiceConfig,
} from "./model.ts";

/** Schedulers ringvs implements (src/sched/). */
export const IMPLEMENTED_SCHEDULERS: readonly SchedulerName[] = ["rr", "wrr"];
/** Every scheduler kernel IPVS ships; a name from this list is "not supported yet", any other is unknown. */
export const IPVS_SCHEDULERS: readonly string[] = [
  "rr", "wrr", "lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh", "fo", "ovf", "twos",
];
/** ipvsadm.c DEF_SCHED. */
export const DEFAULT_SCHEDULER = "wlc";
/** IPVS_SVC_PERSISTENT_TIMEOUT: what `-p` without a number means. */
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;
/** ipvsadm.c MAX_TIMEOUT (31 days). */
export const MAX_PERSISTENCE_TIMEOUT = 86400 * 31;
/** ipvsadm's default persistence granularity: one client address. */
export const DEFAULT_PERSISTENCE_NETMASK = "255.255.255.255";
export const DEFAULT_WEIGHT = 1;
export const MAX_WEIGHT = 65535;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME_LEN = 15;

export const RING_BLOCK_SIZE_MIN = 4096;
export const RING_BLOCK_SIZE_MAX = 4 * 1024 * 1024;
export const RING_BLOCK_COUNT_MIN = 2;
export const RING_BLOCK_COUNT_MAX = 65536;
export const FLOW_TABLE_MIN = 1024;
export const FLOW_TABLE_MAX = 1 << 24;

// ---------------------------------------------------------------------------------------------
// Small value checks, exported because the rules-file parser and others reuse them.

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** Host-order u32 of a strict dotted quad ("10.0.0.1"; no leading zeros, no inet_aton shorthand), else null. */
export function parseIPv4(text: string): number | null {
  if (!DOTTED_QUAD.test(text)) return null;
  const o = text.split(".").map(Number);
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
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

const port = intRange(1, 65535);

const scheduler = z
  .string()
  .optional()
  .transform((given, ctx): SchedulerName => {
    const name = given ?? DEFAULT_SCHEDULER;
    if ((IMPLEMENTED_SCHEDULERS as readonly string[]).includes(name)) return name as SchedulerName;
    const have = `ringvs has ${IMPLEMENTED_SCHEDULERS.join(" and ")}`;
    const why = given === undefined ? ` ('${DEFAULT_SCHEDULER}' is the ipvsadm default when none is given)` : "";
    ctx.addIssue({
      code: "custom",
      message: IPVS_SCHEDULERS.includes(name)
        ? `scheduler '${name}' is not supported yet; ${have}${why}`
        : `unknown scheduler '${name}' (IPVS knows ${IPVS_SCHEDULERS.join(", ")}; ${have})`,
    });
    return z.NEVER;
  });

const forward = z
  .string()
  .optional()
  .transform((given, ctx): ForwardMethod => {
    const method = given ?? "dr";
    if (method === "dr") return "dr";
    const message =
      method === "tun"
        ? "forward 'tun' (IPIP, ipvsadm -i) is not supported yet"
        : method === "nat"
          ? "forward 'nat' (masquerading, ipvsadm -m) is not supported: ringvs does DR (\"dr\") and, later, TUN (\"tun\")"
          : `unknown forward method '${method}' (ringvs has "dr")`;
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

const realServerObject = z
  .object({
    address: unicastAddress,
    port: port.optional(),
    weight: intRange(0, MAX_WEIGHT).default(DEFAULT_WEIGHT),
    forward,
  })
  .strict();

const serviceObject = z
  .object({
    protocol: z.enum(["tcp", "udp"], { errorMap: () => ({ message: "must be \"tcp\" or \"udp\"" }) }).default("tcp"),
    address: unicastAddress,
    port,
    scheduler,
    persistence: persistenceObject.nullable().default(null),
    realServers: z.array(realServerObject).default([]),
  })
  .strict();

/** One virtual service. Real-server ports default to the service port; DR cannot change the port,
 *  so any other port is an error (ipvsadm would silently replace it). */
export const serviceSchema: z.ZodType<ServiceConfig, z.ZodTypeDef, unknown> = serviceObject.transform(
  (s, ctx): ServiceConfig => {
    const firstIndex = new Map<string, number>();
    const realServers = s.realServers.map((rs, j): RealServerConfig => {
      if (rs.port !== undefined && rs.port !== s.port) {
        ctx.addIssue({
          code: "custom",
          path: ["realServers", j, "port"],
          message: `DR cannot change the port: a real server's port must equal the service port ${s.port} (or be omitted)`,
        });
      }
      const first = firstIndex.get(rs.address);
      if (first === undefined) firstIndex.set(rs.address, j);
      else {
        ctx.addIssue({
          code: "custom",
          path: ["realServers", j, "address"],
          message: `duplicate real server ${rs.address} (already realServers[${first}])`,
        });
      }
      return { address: rs.address, port: s.port, weight: rs.weight, forward: rs.forward };
    });
    return {
      protocol: s.protocol,
      address: s.address,
      port: s.port,
      scheduler: s.scheduler,
      persistence: s.persistence,
      realServers,
    };
  },
);

const ringObject = z
  .object({
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

const rootObject = z
  .object({
    interface: z.string().superRefine((s, ctx) => {
      const problem = interfaceNameProblem(s);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    vipMode: z
      .enum(["local", "arp", "auto"], { errorMap: () => ({ message: "must be \"local\", \"arp\" or \"auto\"" }) })
      .default("auto"),
    ring: ringObject.default({}),
    flowTableSize: powerOfTwo(
      FLOW_TABLE_MIN,
      FLOW_TABLE_MAX,
      `must be a power of two from ${FLOW_TABLE_MIN} to ${FLOW_TABLE_MAX} (2^24)`,
    ).default(FLOW_TABLE_DEFAULT_SIZE),
    services: z
      .array(serviceSchema)
      .min(1, "at least one service is required")
      .superRefine((services, ctx) => {
        const firstIndex = new Map<string, number>();
        services.forEach((s, i) => {
          const key = `${s.protocol} ${s.address}:${s.port}`;
          const first = firstIndex.get(key);
          if (first === undefined) firstIndex.set(key, i);
          else ctx.addIssue({ code: "custom", path: [i], message: `duplicate service ${key} (already services[${first}])` });
        });
      }),
  })
  .strict();

export const directorConfigSchema: z.ZodType<DirectorConfig, z.ZodTypeDef, unknown> = rootObject;

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
  if (path.length === 2 && path[0] === "services") return shape(serviceObject);
  if (path.length === 3 && path[2] === "persistence") return shape(persistenceObject);
  if (path.length === 4 && path[2] === "realServers") return shape(realServerObject);
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
