// The plan compiler: a validated DirectorConfig, the stable ids it has been given and what is known
// about reaching each real server, turned into the plan the packet workers run. A pure function:
// no system calls, no allocation of ids, no clock, so what a configuration compiles to is a unit
// test (test/control/plan_compiler.test.ts), and the Director is only the shell that gathers the
// inputs and publishes the result.
import type { DirectorConfig, ServiceConfig } from "../config/model.ts";
import { serviceIdentity, serviceMatches } from "../config/service.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "../dataplane/layout.ts";
import { ipToU32, type Plan, type PlanDest, type PlanService } from "../dataplane/plan.ts";
import type { Reach, RealServerTarget } from "./reachability.ts";

/** What a real server's slot belongs to: a (service, real server address) pair. A server keeps its
 *  slot (and so its counters and connections) while its weight, thresholds or method change. */
export function slotKey(svc: ServiceConfig, rip: string): string {
  return `${serviceIdentity(svc)}>${rip}`;
}

/** Every slot key `config` needs. */
export function slotKeys(config: DirectorConfig): Set<string> {
  const keys = new Set<string>();
  for (const s of config.services) for (const r of s.realServers) keys.add(slotKey(s, r.address));
  return keys;
}

/** Every service identity `config` needs an id for. */
export function serviceIdentities(config: DirectorConfig): Set<string> {
  return new Set(config.services.map(serviceIdentity));
}

/** The source-address mask the fanout hashes under (host order): every client of one persistence
 *  group must reach the worker that holds the group's template, so the mask is the AND of all
 *  persistence netmasks (255.255.255.255 without persistence: spread by client). */
export function fanoutMask(services: readonly ServiceConfig[]): number {
  let mask = 0xffffffff;
  for (const s of services) if (s.persistence) mask &= ipToU32(s.persistence.netmask);
  return mask >>> 0;
}

/** What the system learned about a real server, apart from what the operator configured: whether
 *  it can be reached (a MAC, a route) and whether a health check passes. The plan carries it next
 *  to the configured weight, so nothing the system learns ever edits that weight. */
export interface Availability {
  reachable: boolean;
  healthy: boolean;
}

/** Ids by key: a Map, or the allocator that gave them out. */
export type IdLookup = Pick<ReadonlyMap<string, number>, "get">;

export interface PlanInputs {
  config: DirectorConfig;
  /** VIPs ringvs answers ARP for. */
  arpVips: readonly string[];
  /** Stable ids, one per service identity and per slot key (see serviceIdentities, slotKeys);
   *  the compiler only reads them. */
  serviceIds: IdLookup;
  slots: IdLookup;
  /** How each (address, method) is reached now. */
  reach: (target: RealServerTarget) => Reach;
  /** Health verdicts by slot key; a real server without one is healthy (no check configured). */
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

/** The plan for `inputs`. Throws only when an id is missing (a caller's bug). */
export function compilePlan(inputs: PlanInputs): Plan {
  return {
    services: inputs.config.services.map((s) => compileService(s, inputs)),
    arpVips: inputs.arpVips.map(ipToU32),
    timeouts: inputs.config.timeouts,
  };
}

/** One service of the plan (what compilePlan does per service; the Director recompiles only the
 *  services a change touches). */
export function compileService(s: ServiceConfig, inputs: Omit<PlanInputs, "config" | "arpVips">): PlanService {
  const { serviceIds, slots, reach, health } = inputs;
  return {
    id: idOf(serviceIds, serviceIdentity(s), "service id"),
    matches: serviceMatches(s).map((m) => ({ proto: protoNumber(m.protocol), vip: ipToU32(m.address), port: m.port })),
    scheduler: s.scheduler,
    schedulerFlags: s.schedulerFlags,
    persistence: s.persistence ? { timeout: s.persistence.timeout, mask: ipToU32(s.persistence.netmask) } : null,
    dests: s.realServers.map((r): PlanDest => {
      const key = slotKey(s, r.address);
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
