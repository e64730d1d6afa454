// The control library: the one place that changes the running tables. ipvsadm's commands map onto
// its operations one to one (-A addService, -E editService, -D deleteService, -C clear, -a/-e/-d
// on destinations, -Z zero, --set setTimeouts, reload replace), and it answers with snapshots for
// the listings. It works on a DirectorConfig and hands every accepted change to a runtime (the
// running director) as a whole new config, which the director applies as a diff; without a
// runtime (tests, `ringvs check`) it just keeps the tables. Errors are values named after the
// errno ipvsadm would have got from the kernel, so the CLI can print ipvsadm's messages.
import type {
  DirectorConfig, ForwardMethod, PersistenceConfig, Protocol, RealServerConfig, SchedulerName, ServiceConfig,
  ServiceMatch, TimeoutConfig,
} from "../config/model.ts";
import { isService, keyIdentity, keyLabel, serviceIdentity, serviceKey, serviceMatches, type ServiceKey } from "../config/service.ts";
import type { DirectorStats } from "./director.ts";

export type { ServiceKey } from "../config/service.ts";

/** What -A / -E set. */
export interface ServiceOptions {
  scheduler: SchedulerName;
  schedulerFlags: ServiceConfig["schedulerFlags"];
  persistence: PersistenceConfig | null;
}

/** What -a / -e set. */
export interface DestOptions {
  address: string;
  port: number;
  forward: ForwardMethod;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
}

/** The errno the kernel would have answered with (ipvsadm prints its own text for each). */
export type ControlErrno = "EEXIST" | "ESRCH" | "ENOENT" | "EINVAL" | "EBUSY";
export interface ControlError {
  errno: ControlErrno;
  message: string;
}
export type ControlResult = { ok: true } | { ok: false; error: ControlError };

/** ipvsadm --stats / --rate figures. DR and TUN never see replies, so out* stay 0 as in IPVS. */
export interface TrafficStats {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

export interface DestSnapshot extends DestOptions {
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  stats: TrafficStats;
}

export interface ServiceSnapshot {
  key: ServiceKey;
  options: ServiceOptions;
  /** A fwmark service's VIP:port pairs (ringvs's stand-in for the iptables mark rules). */
  members: ServiceMatch[];
  /** In the order they were added. */
  dests: DestSnapshot[];
  stats: TrafficStats;
}

export interface RulesSnapshot {
  services: ServiceSnapshot[];
  timeouts: TimeoutConfig;
  /** Flow table capacity: what ipvsadm shows as the connection table size. */
  connTableSize: number;
}

/** One tracked connection (ipvsadm -c). */
export interface ConnectionEntry {
  protocol: Protocol;
  client: string;
  clientPort: number;
  vip: string;
  vport: number;
  dest: string;
  dport: number;
  state: string;
  /** Seconds until it expires. */
  expiresIn: number;
}

/** The running data plane, as the control library needs it. */
export interface ControlRuntime {
  apply(next: DirectorConfig): Promise<void>;
  stats(): DirectorStats;
  /** Tracked connections, a page at a time (a listing holds one page, never all of them). */
  connectionPages(): AsyncIterable<ConnectionEntry[]>;
  /** What the rate estimator reads: per real-server entry [from, to) of the running table, in
   *  order, [connections scheduled, packets, bytes], without building stats() (a runtime without
   *  it is read through stats()). */
  traffic?(from: number, to: number): Float64Array;
}

const ZERO_STATS: TrafficStats = {
  conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0,
};


/** Counters at the last -Z, per (service identity > real server), subtracted from what the data
 *  plane reports (its counters only ever grow). */
type Baseline = { conns: number; inPkts: number; inBytes: number };

/** The kernel's rate estimator (ip_vs_est.c): every 2 s, rate += (sample - rate) / 4. */
const EST_INTERVAL_MS = 2000;
/** The estimator's sweep is cut in this many ticks (see estimate()): a tick of 2,500 of 100,000
 *  entries holds the event loop ~0.3 ms (1-3 ms on a core shared with the packet worker), so a
 *  change that arrives during one waits no longer than that. */
const EST_SLICES = 40;

interface Estimate {
  last: { conns: number; inPkts: number; inBytes: number; at: number } | null;
  cps: number;
  inPps: number;
  inBps: number;
}

export class Control {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly baselines = new Map<string, Baseline>();
  /** Rate estimates by real-server entry (the object: kept by every change that does not edit it). */
  private estimates = new WeakMap<RealServerConfig, Estimate>();
  private estTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private config: DirectorConfig, private readonly runtime: ControlRuntime | null = null) {
    if (runtime) this.estTimer = setInterval(() => this.estimate(), EST_INTERVAL_MS / EST_SLICES);
  }

  /** The tables as they are now. */
  current(): DirectorConfig {
    return this.config;
  }

  stop(): void {
    if (this.estTimer) clearInterval(this.estTimer);
  }

  /** Run changes one at a time: each sees the tables the previous one left. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Inside batch(): changes update the tables at once but reach the data plane together. */
  private deferred = false;

  /** Run `fn`'s changes as one for the data plane: each change is checked and takes effect in the
   *  tables at once (the next sees it), and the data plane gets all of them in one apply at the
   *  end, instead of a guard rewrite, a route lookup and a plan per change (ipvsadm -R of 1,000
   *  lines took 26 s one change at a time). When that apply fails the tables go back to what they
   *  were before the batch, and `applied` says why. */
  async batch<T>(fn: () => Promise<T>): Promise<{ value: T; applied: ControlResult }> {
    const before = this.config;
    this.deferred = true;
    this.owned = null;
    let value: T;
    try {
      value = await fn();
    } finally {
      this.deferred = false;
      // The batch's array goes to the data plane now: from here on it is shared, never written.
      this.owned = null;
    }
    const applied = await this.serial(async (): Promise<ControlResult> => {
      if (this.config === before || !this.runtime) return { ok: true };
      const next = this.config;
      this.config = before;
      return this.commit(next);
    });
    return { value, applied };
  }

  private async commit(next: DirectorConfig): Promise<ControlResult> {
    if (this.runtime && !this.deferred) {
      try {
        await this.runtime.apply(next);
      } catch (e) {
        return { ok: false, error: { errno: "EINVAL", message: (e as Error).message } };
      }
    }
    this.config = next;
    return { ok: true };
  }

  private fail(errno: ControlErrno, message: string): ControlResult {
    return { ok: false, error: { errno, message } };
  }

  private withServices(services: ServiceConfig[]): DirectorConfig {
    return { ...this.config, services };
  }

  /** Inside batch(): the services array this Control made for the batch and may change in place,
   *  so a 60,000-line restore does not copy a 6,000-service array for every line. Null outside a
   *  batch: every change then makes a new array, since the one before may be the running one. */
  private owned: ServiceConfig[] | null = null;

  /** config.services to change: the batch's own array, or a copy. */
  private writableServices(): ServiceConfig[] {
    if (!this.deferred) return this.config.services.slice();
    if (this.owned !== this.config.services) {
      this.owned = this.config.services.slice();
      // The index stays valid for the copy: same services, same positions.
      const wasIndexed = this.indexed === this.config.services;
      this.config = { ...this.config, services: this.owned };
      if (wasIndexed) this.indexed = this.owned;
    }
    return this.owned;
  }

  /** Each service's position in `config.services` by identity, valid for the array `indexed`:
   *  finding a service was a walk over all of them, for every -a of a 10,000-service table. */
  private positions = new Map<string, number>();
  private indexed: readonly ServiceConfig[] | null = null;

  /** The service `key` names, or undefined (through the index: no walk over the table). */
  find(key: ServiceKey): ServiceConfig | undefined {
    const i = this.indexOf(key);
    return i < 0 ? undefined : this.config.services[i];
  }

  /** Positions of the services with a match on each VIP (a fwmark service under each of its
   *  members' VIPs), valid with `positions`. */
  private byVip = new Map<string, number[]>();

  private ensureIndex(): void {
    if (this.indexed === this.config.services) return;
    this.positions = new Map();
    this.byVip = new Map();
    this.config.services.forEach((s, i) => this.indexService(s, i));
    this.indexed = this.config.services;
  }

  private indexService(s: ServiceConfig, i: number): void {
    this.positions.set(serviceIdentity(s), i);
    for (const vip of new Set(serviceMatches(s).map((m) => m.address))) {
      const list = this.byVip.get(vip);
      if (list) list.push(i);
      else this.byVip.set(vip, [i]);
    }
  }

  /** Where the service `key` names is in config.services, or -1. */
  private indexOf(key: ServiceKey): number {
    this.ensureIndex();
    return this.positions.get(keyIdentity(key)) ?? -1;
  }

  /** The services with a match on any of `vips`, in table order: the only ones a service on those
   *  VIPs could overlap (the CLI's -A check asks, where it walked every service for each -A). */
  servicesOn(vips: Iterable<string>): ServiceConfig[] {
    this.ensureIndex();
    const at = new Set<number>();
    for (const vip of vips) for (const i of this.byVip.get(vip) ?? []) at.add(i);
    return [...at].sort((a, b) => a - b).map((i) => this.config.services[i]!);
  }

  /** commit() of a services array in which every service kept its position (one replaced, or
   *  `appended` at the end): the index carries over instead of being rebuilt. */
  private async commitKeepingPositions(services: ServiceConfig[], appended?: ServiceConfig): Promise<ControlResult> {
    const before = this.config.services;
    const r = await this.commit(this.withServices(services));
    // In a batch `before` is `services` itself, changed in place; either way every position held.
    if (r.ok && this.indexed === before && this.config.services === services) {
      if (appended) this.indexService(appended, services.length - 1);
      this.indexed = services;
    }
    return r;
  }

  addService(key: ServiceKey, options: ServiceOptions, members: ServiceMatch[] = []): Promise<ControlResult> {
    return this.serial(async () => {
      if (this.indexOf(key) >= 0) return this.fail("EEXIST", `service ${keyLabel(key)} already exists`);
      const svc: ServiceConfig = "fwmark" in key
        ? { protocol: "tcp", address: "", port: 0, fwmark: key.fwmark, members, ...options, realServers: [] }
        : { ...key, fwmark: null, members: [], ...options, realServers: [] };
      const services = this.writableServices();
      services.push(svc);
      return this.commitKeepingPositions(services, svc);
    });
  }

  editService(key: ServiceKey, options: ServiceOptions): Promise<ControlResult> {
    return this.serial(async () => {
      const i = this.indexOf(key);
      if (i < 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      const services = this.writableServices();
      services[i] = { ...services[i]!, ...options };
      return this.commitKeepingPositions(services);
    });
  }

  deleteService(key: ServiceKey): Promise<ControlResult> {
    return this.serial(async () => {
      if (this.indexOf(key) < 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      return this.commit(this.withServices(this.config.services.filter((s) => !isService(s, key))));
    });
  }

  clear(): Promise<ControlResult> {
    return this.serial(async () => this.commit(this.withServices([])));
  }

  addDest(key: ServiceKey, dest: DestOptions): Promise<ControlResult> {
    return this.serial(async () => {
      const i = this.indexOf(key);
      if (i < 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      const svc = this.config.services[i]!;
      if (svc.realServers.some((r) => r.address === dest.address && r.port === dest.port)) {
        return this.fail("EEXIST", `real server ${dest.address}:${dest.port} is already in ${keyLabel(key)}`);
      }
      const services = this.writableServices();
      services[i] = { ...svc, realServers: [...svc.realServers, dest as RealServerConfig] };
      return this.commitKeepingPositions(services);
    });
  }

  editDest(key: ServiceKey, dest: DestOptions): Promise<ControlResult> {
    return this.serial(async () => {
      const i = this.indexOf(key);
      if (i < 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      const svc = this.config.services[i]!;
      const j = svc.realServers.findIndex((r) => r.address === dest.address && r.port === dest.port);
      if (j < 0) return this.fail("ENOENT", `no real server ${dest.address}:${dest.port} in ${keyLabel(key)}`);
      const realServers = svc.realServers.slice();
      realServers[j] = dest as RealServerConfig;
      const services = this.writableServices();
      services[i] = { ...svc, realServers };
      return this.commitKeepingPositions(services);
    });
  }

  deleteDest(key: ServiceKey, address: string, port: number): Promise<ControlResult> {
    return this.serial(async () => {
      const i = this.indexOf(key);
      if (i < 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      const svc = this.config.services[i]!;
      if (!svc.realServers.some((r) => r.address === address && r.port === port)) {
        return this.fail("ENOENT", `no real server ${address}:${port} in ${keyLabel(key)}`);
      }
      const services = this.writableServices();
      services[i] = { ...svc, realServers: svc.realServers.filter((r) => !(r.address === address && r.port === port)) };
      return this.commitKeepingPositions(services);
    });
  }

  /** --set: a 0 keeps the value as it is, as in ipvsadm. */
  setTimeouts(t: TimeoutConfig): Promise<ControlResult> {
    return this.serial(async () => {
      const cur = this.config.timeouts;
      return this.commit({
        ...this.config,
        timeouts: { tcp: t.tcp || cur.tcp, tcpFin: t.tcpFin || cur.tcpFin, udp: t.udp || cur.udp },
      });
    });
  }

  /** Reload: a whole new, validated configuration (the director applies the difference). */
  replace(next: DirectorConfig): Promise<ControlResult> {
    return this.serial(async () => this.commit(next));
  }

  /** -Z: zero the counters of one service (or all). */
  zero(key?: ServiceKey): Promise<ControlResult> {
    return this.serial(async () => {
      const svcs = key ? this.config.services.filter((s) => isService(s, key)) : this.config.services;
      if (key && svcs.length === 0) return this.fail("ESRCH", `no service ${keyLabel(key)}`);
      const raw = this.rawDestStats();
      for (const s of svcs) {
        for (const r of s.realServers) {
          const id = destId(s, r);
          const now = raw.get(id) ?? { conns: 0, inPkts: 0, inBytes: 0 };
          this.baselines.set(id, { ...now });
          this.estimates.delete(r);
        }
      }
      return { ok: true };
    });
  }

  /** Tracked connections, a page at a time; none without a runtime. */
  async *connectionPages(): AsyncGenerator<ConnectionEntry[]> {
    if (this.runtime) yield* this.runtime.connectionPages();
  }

  /** Raw per-destination counters from the data plane, keyed by destId. */
  private rawDestStats(): Map<string, { conns: number; inPkts: number; inBytes: number; active: number; inactive: number; persist: number }> {
    const out = new Map<string, { conns: number; inPkts: number; inBytes: number; active: number; inactive: number; persist: number }>();
    if (!this.runtime) return out;
    const st = this.runtime.stats();
    st.services.forEach((s, i) => {
      const svc = this.config.services[i];
      if (!svc) return;
      s.dests.forEach((d, j) => {
        const r = svc.realServers[j];
        if (!r) return;
        out.set(destId(svc, r), {
          conns: d.conns, inPkts: d.packets, inBytes: d.bytes,
          active: d.activeConns, inactive: d.inactiveConns, persist: d.persistConns,
        });
      });
    });
    return out;
  }

  /** One estimator tick: every entry is sampled once per EST_INTERVAL_MS, 1/EST_SLICES of them
   *  per tick, so a table of 100,000 entries never holds the event loop (and every change waiting
   *  on it) for the whole sweep at once. Each estimate keeps its own sample time. */
  private estimate(): void {
    if (!this.runtime) return;
    let total = 0;
    for (const s of this.config.services) total += s.realServers.length;
    const slice = this.estSlice;
    this.estSlice = (slice + 1) % EST_SLICES;
    const from = Math.floor((total * slice) / EST_SLICES);
    const to = Math.floor((total * (slice + 1)) / EST_SLICES);
    if (to <= from) return;
    const t = this.trafficOf(from, to);
    const now = performance.now();
    let k = 0;
    for (const s of this.config.services) {
      if (k >= to) break;
      if (k + s.realServers.length <= from) {
        k += s.realServers.length;
        continue;
      }
      for (const r of s.realServers) {
        if (k >= from && k < to) {
          const o = (k - from) * 3;
          this.sample(r, t[o]!, t[o + 1]!, t[o + 2]!, now);
        }
        k++;
      }
    }
  }
  private estSlice = 0;

  private sample(r: RealServerConfig, conns: number, inPkts: number, inBytes: number, now: number): void {
    let e = this.estimates.get(r);
    if (!e) this.estimates.set(r, (e = { last: null, cps: 0, inPps: 0, inBps: 0 }));
    const last = e.last;
    if (!last) {
      e.last = { conns, inPkts, inBytes, at: now };
      return;
    }
    const dt = (now - last.at) / 1000;
    e.cps += ((conns - last.conns) / dt - e.cps) / 4;
    e.inPps += ((inPkts - last.inPkts) / dt - e.inPps) / 4;
    e.inBps += ((inBytes - last.inBytes) / dt - e.inBps) / 4;
    // In place: a new object per sample was 100,000 allocations every 2 s on a big table.
    last.conns = conns;
    last.inPkts = inPkts;
    last.inBytes = inBytes;
    last.at = now;
  }

  /** The data plane's [conns, packets, bytes] of real-server entries [from, to) in table order. */
  private trafficOf(from: number, to: number): Float64Array {
    const runtime = this.runtime!;
    if (runtime.traffic) return runtime.traffic(from, to);
    const out = new Float64Array((to - from) * 3);
    const st = runtime.stats();
    let k = 0;
    this.config.services.forEach((svc, i) => {
      svc.realServers.forEach((_, j) => {
        const d = st.services[i]?.dests[j];
        if (d && k >= from && k < to) out.set([d.conns, d.packets, d.bytes], (k - from) * 3);
        k++;
      });
    });
    return out;
  }

  /** Everything the listings need (ipvsadm -L, --stats, --rate, -S, --timeout). */
  snapshot(): RulesSnapshot {
    const raw = this.rawDestStats();
    const services = this.config.services.map((s): ServiceSnapshot => {
      const dests = s.realServers.map((r): DestSnapshot => {
        const id = destId(s, r);
        const c = raw.get(id);
        const b = this.baselines.get(id) ?? { conns: 0, inPkts: 0, inBytes: 0 };
        const e = this.estimates.get(r);
        return {
          address: r.address, port: r.port, forward: r.forward, weight: r.weight,
          upperThreshold: r.upperThreshold, lowerThreshold: r.lowerThreshold,
          activeConns: c?.active ?? 0, inactiveConns: c?.inactive ?? 0, persistConns: c?.persist ?? 0,
          stats: {
            ...ZERO_STATS,
            conns: (c?.conns ?? 0) - b.conns, inPkts: (c?.inPkts ?? 0) - b.inPkts, inBytes: (c?.inBytes ?? 0) - b.inBytes,
            cps: Math.round(e?.cps ?? 0), inPps: Math.round(e?.inPps ?? 0), inBps: Math.round(e?.inBps ?? 0),
          },
        };
      });
      const stats = dests.reduce((t, d) => {
        const r = { ...t };
        for (const k of Object.keys(r) as (keyof TrafficStats)[]) r[k] += d.stats[k];
        return r;
      }, { ...ZERO_STATS });
      return {
        key: serviceKey(s),
        options: { scheduler: s.scheduler, schedulerFlags: s.schedulerFlags, persistence: s.persistence },
        members: s.members,
        dests,
        stats,
      };
    });
    return { services, timeouts: this.config.timeouts, connTableSize: this.config.flowTableSize };
  }
}

function destId(s: ServiceConfig, r: { address: string; port: number }): string {
  return `${serviceIdentity(s)}>${r.address}:${r.port}`;
}
