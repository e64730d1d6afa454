// The plan compiler: a validated service, the stable ids it has been given and what is known about
// reaching each real server, turned into the PlanService the packet workers run; the plan is every
// service's. A pure function: no system calls, no allocation of ids, no clock, so what a
// configuration compiles to is a unit test (test/control/plan_compiler.test.ts). The plan builder
// (plan_builder.ts) gives out the ids and compiles what a change touches; the Director is only the
// shell that gathers the inputs and publishes the result.
import type { ServiceConfig } from "../config/model.ts";
import { serviceIdentity, serviceMatches } from "../config/service.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "../dataplane/layout.ts";
import { ipToU32, type PlanDest, type PlanService } from "../dataplane/plan.ts";
import type { Reach, RealServerTarget } from "./reachability.ts";

/** What a real server's slot belongs to: a (service, real server address) pair. A server keeps its
 *  slot (and so its counters and connections) while its weight, thresholds or method change. */
export function slotKey(svc: ServiceConfig, rip: string): string {
  return `${serviceIdentity(svc)}>${rip}`;
}

/** The source-address mask the fanout hashes under (host order): every client of one persistence
 *  group must reach the worker that holds the group's template, so the mask is the AND of all
 *  persistence netmasks (255.255.255.255 without persistence: spread by client). */
export function fanoutMask(services: readonly ServiceConfig[]): number {
  let mask = 0xffffffff;
  for (const s of services) if (s.persistence) mask &= ipToU32(s.persistence.netmask);
  return mask >>> 0;
}

/** Ids by key: a Map, or the allocator that gave them out. */
export type IdLookup = Pick<ReadonlyMap<string, number>, "get">;

export interface CompileInputs {
  /** Stable ids, one per service identity (serviceIdentity) and per slot key (slotKey); the
   *  compiler only reads them. */
  serviceIds: IdLookup;
  slots: IdLookup;
  /** How each (address, method) is reached now. */
  reach: (target: RealServerTarget) => Reach;
  /** Health verdicts by slot key; a real server without one is healthy (no check configured).
   *  With reachability this is the availability the plan carries next to the configured weight,
   *  so nothing the system learns ever edits that weight. */
  health?: ReadonlyMap<string, boolean>;
}

function protoNumber(protocol: string): number {
  return protocol === "udp" ? IPPROTO_UDP : IPPROTO_TCP;
}

function idOf(ids: IdLookup, key: string, what: string): number {
  const id = ids.get(key);
  // The Director acquires every id before it compiles; a missing one is a programmer error.
  if (id === undefined) throw new Error(`plan compiler: no ${what} for ${key}`);
  return id;
}

/** One service of the plan. The plan is every service's, and a change recompiles only the services
 *  it touches (plan_builder.ts). Throws only when an id is missing (a caller's bug). */
export function compileService(
  s: ServiceConfig,
  inputs: CompileInputs,
  /** The service's identity and slot keys (slotKey of each real server, in order) when the caller
   *  has them: a plan of 100,000 real servers built each key twice. */
  known?: { identity: string; keys: readonly string[] },
): PlanService {
  const { serviceIds, slots, reach, health } = inputs;
  return {
    id: idOf(serviceIds, known?.identity ?? serviceIdentity(s), "service id"),
    matches: serviceMatches(s).map((m) => ({ proto: protoNumber(m.protocol), vip: ipToU32(m.address), port: m.port })),
    scheduler: s.scheduler,
    schedulerFlags: s.schedulerFlags,
    persistence: s.persistence ? { timeout: s.persistence.timeout, mask: ipToU32(s.persistence.netmask) } : null,
    dests: s.realServers.map((r, j): PlanDest => {
      const key = known?.keys[j] ?? slotKey(s, r.address);
      const how = reach(r);
      return {
        slot: idOf(slots, key, "slot"),
        rip: ipToU32(r.address),
        port: r.port,
        weight: r.weight,
        available: how.mac !== null && (health?.get(key) ?? true),
        forward: r.forward,
        mac: how.mac,
        tunnel: how.tunnel,
        egress: how.egress,
        upperThreshold: r.upperThreshold,
        lowerThreshold: r.lowerThreshold,
      };
    }),
  };
}
