// The Director's plan state across changes: the stable ids it has given out (a slot per (service,
// real server) pair, an id per service), the compiled form of every service, and what the workers
// were sent last. A change is compiled as a difference: the control library replaces only the
// ServiceConfig objects a change touches (control.ts), so a service whose object is the one of
// the previous build keeps its ids and its compiled PlanService, and only new objects are looked
// at. What goes to the workers is then a PlanChange of the services that differ, not the plan.
// With 10,000 services x 10 real servers a -a compiled and cloned all 100,000 each time.
import type { DirectorConfig, ServiceConfig } from "../config/model.ts";
import { serviceIdentity } from "../config/service.ts";
import { ipToU32, type Plan, type PlanChange, type PlanService } from "../dataplane/plan.ts";
import { compileService, slotKey } from "./plan_compiler.ts";
import type { Reach, RealServerTarget } from "./reachability.ts";
import { SlotAllocator } from "./slot_allocator.ts";

/** Service ids key persistence templates in 20 bits (src/flow/templates.ts). */
export const SERVICE_ID_CAPACITY = 1 << 20;

interface Entry {
  identity: string;
  /** Slot keys of its real servers, in order. */
  keys: string[];
  compiled: PlanService | null;
  /** The reachability generation `compiled` was made under. */
  generation: number;
}

export interface BuildInputs {
  config: DirectorConfig;
  arpVips: readonly string[];
  reach: (target: RealServerTarget) => Reach;
  /** Bumped by whoever answers `reach` whenever an answer may have changed: every compiled
   *  service of an older generation is compiled again (and kept if it came out the same). */
  generation: number;
  /** The publish sequence the plan will go out with (ids it drops leave with it). */
  seq: number;
}

export class PlanBuilder {
  readonly slots: SlotAllocator;
  readonly serviceIds = new SlotAllocator(SERVICE_ID_CAPACITY, "services");
  private entries = new Map<ServiceConfig, Entry>();
  /** Per service id, the PlanService the workers hold. */
  private sent = new Map<number, PlanService>();

  constructor(slotCapacity: number) {
    this.slots = new SlotAllocator(slotCapacity);
  }

  /** The slot a configured (service, real server) pair holds, or undefined. */
  slotOf(svc: ServiceConfig, rip: string): number | undefined {
    return this.slots.get(slotKey(svc, rip));
  }

  /** Why `config` could not have all its ids at once, or null (checked before a change starts). */
  problemFor(config: DirectorConfig): string | null {
    const keys = new Set<string>();
    const identities = new Set<string>();
    for (const s of config.services) {
      const e = this.entries.get(s);
      if (e) continue; // holds its ids already
      identities.add(serviceIdentity(s));
      for (const r of s.realServers) keys.add(slotKey(s, r.address));
    }
    return this.slots.problemFor(keys) ?? this.serviceIds.problemFor(identities);
  }

  /** The plan for `inputs`, and how it differs from the plan built before (all of it the first
   *  time). Ids of what the config no longer holds start leaving with `inputs.seq`. */
  build(inputs: BuildInputs): { plan: Plan; change: PlanChange } {
    const { config, seq, generation } = inputs;
    const next = new Map<ServiceConfig, Entry>();
    /** Entries made for new objects, by identity: a departed object's ids stay with them. */
    const fresh = new Map<string, Entry>();
    for (const s of config.services) {
      let e = this.entries.get(s);
      if (!e) {
        e = { identity: serviceIdentity(s), keys: s.realServers.map((r) => slotKey(s, r.address)), compiled: null, generation: -1 };
        this.serviceIds.acquire(e.identity);
        for (const k of e.keys) this.slots.acquire(k);
        fresh.set(e.identity, e);
      }
      next.set(s, e);
    }
    for (const [s, e] of this.entries) {
      if (next.has(s)) continue;
      const successor = fresh.get(e.identity);
      if (!successor) {
        this.serviceIds.leave(e.identity, seq);
        for (const k of e.keys) this.slots.leave(k, seq);
        continue;
      }
      const kept = new Set(successor.keys);
      for (const k of e.keys) if (!kept.has(k)) this.slots.leave(k, seq);
    }
    this.entries = next;

    const ids = { serviceIds: this.serviceIds, slots: this.slots, reach: inputs.reach };
    const services: PlanService[] = [];
    const upserts: PlanService[] = [];
    const sent = new Map<number, PlanService>();
    for (const s of config.services) {
      const e = next.get(s)!;
      if (!e.compiled || e.generation !== generation) {
        const compiled = compileService(s, ids);
        // Recompiled only because reachability may have moved: keep the object the workers have
        // when nothing in it did, so it is not sent again.
        e.compiled = e.compiled && JSON.stringify(e.compiled) === JSON.stringify(compiled) ? e.compiled : compiled;
        e.generation = generation;
      }
      const svc = e.compiled;
      services.push(svc);
      sent.set(svc.id, svc);
      if (this.sent.get(svc.id) !== svc) upserts.push(svc);
    }
    const removed: number[] = [];
    for (const id of this.sent.keys()) if (!sent.has(id)) removed.push(id);
    this.sent = sent;
    const arpVips = inputs.arpVips.map(ipToU32);
    return { plan: { services, arpVips, timeouts: config.timeouts }, change: { upserts, removed, arpVips, timeouts: config.timeouts } };
  }
}
