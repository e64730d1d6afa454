// The Director's plan state across changes: the stable ids it has given out (a slot per (service,
// real server) pair, an id per service), the compiled form of every service, and what the workers
// were sent last. A change is compiled as a difference: the control library replaces only the
// ServiceConfig objects a change touches (control.ts), so a service whose object is the one of
// the previous build keeps its ids and its compiled PlanService, and only new objects are looked
// at. What goes to the workers is then a PlanChange of the services that differ, not the plan.
// With 10,000 services x 10 real servers a -a compiled and cloned all 100,000 each time.
import type { DirectorConfig, ServiceConfig } from "../config/model.ts";
import { serviceIdentity } from "../config/service.ts";
import { ipToU32, type PlanChange, type PlanService } from "../dataplane/plan.ts";
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
}

/** Which ServiceConfig objects a new config replaced: the control library builds a change's
 *  config from the one before, reusing every service object it did not touch, so comparing the
 *  two lists by reference finds them. The common head and tail are skipped by pointer comparison,
 *  and what is left between them is the change: one object each way for a -a, everything for a
 *  reload from a file. */
export function replacedServices(
  before: readonly ServiceConfig[],
  next: readonly ServiceConfig[],
): { added: ServiceConfig[]; removed: ServiceConfig[] } {
  let head = 0;
  while (head < before.length && head < next.length && before[head] === next[head]) head++;
  let tail = 0;
  while (tail < before.length - head && tail < next.length - head && before[before.length - 1 - tail] === next[next.length - 1 - tail]) tail++;
  const added = next.slice(head, next.length - tail);
  const removed = before.slice(head, before.length - tail);
  // A service merely moved (a reload that reorders) is in both: it stays.
  const moved = new Set(added.filter((s) => removed.includes(s)));
  return { added: added.filter((s) => !moved.has(s)), removed: removed.filter((s) => !moved.has(s)) };
}

export interface ChangeInputs {
  /** Service objects new in the config, and those it no longer holds (replacedServices). */
  added: readonly ServiceConfig[];
  removed: readonly ServiceConfig[];
  /** The same array from one build to the next while the VIPs ringvs answers ARP for stay. */
  arpVips: readonly string[];
  timeouts: DirectorConfig["timeouts"];
  reach: (target: RealServerTarget) => Reach;
  /** Addresses whose `reach` answer changed since the last change (ReachSource.takeChanged):
   *  the services with a real server there are compiled again (and kept, not sent, if they came
   *  out the same). */
  changedAddresses: ReadonlySet<string>;
  /** The publish sequence the change will go out with (ids it drops leave with it). */
  seq: number;
}

export class PlanBuilder {
  readonly slots: SlotAllocator;
  readonly serviceIds = new SlotAllocator(SERVICE_ID_CAPACITY, "services");
  private readonly entries = new Map<ServiceConfig, Entry>();
  /** The services with a real server at each address. */
  private readonly byAddress = new Map<string, Set<ServiceConfig>>();
  /** The VIPs ringvs answers ARP for, as given and as numbers. */
  private arpSource: readonly string[] | null = null;
  private arpVips: number[] = [];

  constructor(slotCapacity: number) {
    this.slots = new SlotAllocator(slotCapacity);
  }

  /** The slot a configured (service, real server) pair holds, or undefined. */
  slotOf(svc: ServiceConfig, rip: string): number | undefined {
    return this.slots.get(slotKey(svc, rip));
  }

  /** The service as last compiled (its dests in config order), or undefined before change() saw it. */
  compiledOf(svc: ServiceConfig): PlanService | undefined {
    return this.entries.get(svc)?.compiled ?? undefined;
  }

  /** Why the `added` services could not all have their ids at once, or null (checked before a
   *  change starts). */
  problemFor(added: readonly ServiceConfig[]): string | null {
    const keys = new Set<string>();
    const identities = new Set<string>();
    for (const s of added) {
      identities.add(serviceIdentity(s));
      for (const r of s.realServers) keys.add(slotKey(s, r.address));
    }
    return this.slots.problemFor(keys) ?? this.serviceIds.problemFor(identities);
  }

  /** Apply a change to the plan state and say what the workers must be sent: the services that
   *  are new or came out different, and the ids of those that are gone. Ids of what the config no
   *  longer holds start leaving with `seq`. */
  change(inputs: ChangeInputs): PlanChange {
    const { seq } = inputs;
    const upserts: PlanService[] = [];
    const removedIds: number[] = [];
    /** Entries made for new objects, by identity: a departed object's ids stay with them. */
    const fresh = new Map<string, Entry>();
    const toCompile = new Map<ServiceConfig, Entry>();
    for (const s of inputs.added) {
      const e: Entry = { identity: serviceIdentity(s), keys: s.realServers.map((r) => slotKey(s, r.address)), compiled: null };
      this.serviceIds.acquire(e.identity);
      for (const k of e.keys) this.slots.acquire(k);
      this.entries.set(s, e);
      fresh.set(e.identity, e);
      toCompile.set(s, e);
      for (const r of s.realServers) {
        let set = this.byAddress.get(r.address);
        if (!set) this.byAddress.set(r.address, (set = new Set()));
        set.add(s);
      }
    }
    for (const s of inputs.removed) {
      const e = this.entries.get(s);
      if (!e) continue;
      this.entries.delete(s);
      for (const r of s.realServers) {
        const set = this.byAddress.get(r.address);
        set?.delete(s);
        if (set?.size === 0) this.byAddress.delete(r.address);
      }
      const successor = fresh.get(e.identity);
      if (!successor) {
        if (e.compiled) removedIds.push(e.compiled.id);
        this.serviceIds.leave(e.identity, seq);
        for (const k of e.keys) this.slots.leave(k, seq);
        continue;
      }
      const kept = new Set(successor.keys);
      for (const k of e.keys) if (!kept.has(k)) this.slots.leave(k, seq);
    }
    const ids = { serviceIds: this.serviceIds, slots: this.slots, reach: inputs.reach };
    for (const address of inputs.changedAddresses) {
      for (const s of this.byAddress.get(address) ?? []) toCompile.set(s, this.entries.get(s)!);
    }
    for (const [s, e] of toCompile) {
      const compiled = compileService(s, ids, e);
      // Recompiled only because reachability may have moved: keep the object the workers have
      // when nothing in it did, so it is not sent again.
      if (e.compiled && JSON.stringify(e.compiled) === JSON.stringify(compiled)) continue;
      e.compiled = compiled;
      upserts.push(compiled);
    }
    if (inputs.arpVips === this.arpSource) return { upserts, removed: removedIds, timeouts: inputs.timeouts };
    this.arpSource = inputs.arpVips;
    this.arpVips = inputs.arpVips.map(ipToU32);
    return { upserts, removed: removedIds, arpVips: this.arpVips, timeouts: inputs.timeouts };
  }
}
