// The packet workers: one thread per ring (src/dataplane/worker.ts), each with its own flow table,
// persistence templates and counters, so nothing on the packet path is shared or locked. The
// control plane talks to them only here: it starts them (pinned to CPUs when asked), publishes
// every new plan to all of them (each switches between two batches, so a worker never runs half
// of one plan), sums their counters and gathers their connection lists.
import type { Plan, PlanChange, PlanService } from "../dataplane/plan.ts";
import {
  DEST_COUNTER_STRIDE, newDestCounterBuffer, newPolicyCounterBuffer, POLICY_COUNTER_NAMES, readPolicyCounters,
  type PolicyCounters,
} from "../dataplane/policy_counters.ts";
import type { RingSet } from "../dataplane/ring_set.ts";
import type { WorkerMessage } from "../dataplane/worker.ts";
import { CONNECTION_PAGE_BUCKETS } from "../dataplane/forwarder.ts";

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 2000;
const CONNECTIONS_TIMEOUT_MS = 2000;

/** Where the packet worker's module is. From source it sits beside this folder; in the single
 *  executable, `bun build --compile` lays every entry point out under /$bunfs/root/ relative to
 *  their common ancestor (src/, see scripts/build.sh), and import.meta.url is the executable's. */
function workerUrl(): string {
  const compiled = import.meta.url.includes("/$bunfs/");
  return new URL(compiled ? "./dataplane/worker.ts" : "../dataplane/worker.ts", import.meta.url).href;
}

/** The plan one of `n` workers runs. A client's connections all meet in one worker, which counts
 *  only its own: an ipvsadm -x/-y threshold is shared out so that the workers together never admit
 *  more than about the configured number (at most n - 1 over, from rounding up). */
export function workerPlan(plan: Plan, n: number): Plan {
  if (n === 1) return plan;
  const share = (t: number) => (t === 0 ? 0 : Math.ceil(t / n));
  return {
    ...plan,
    services: plan.services.map((s) => ({
      ...s,
      dests: s.dests.map((d) => ({ ...d, upperThreshold: share(d.upperThreshold), lowerThreshold: share(d.lowerThreshold) })),
    })),
  };
}

/** What the Director needs of its packet workers: PacketWorkers (one thread per ring) in
 *  production, InThreadWorkers (src/control/simulated_system.ts) when it runs simulated. */
export interface WorkerPool {
  /** Start with the plan `first` and then the services `rest` yields, in parts: a pool whose
   *  workers run on other cores takes part k while the caller compiles part k + 1. */
  start(first: Plan, rest: Iterable<PlanService[]>, cpus: readonly number[] | null): Promise<void>;
  /** New rules for every worker, as the change from the plan before; returns the new plan's
   *  sequence number. */
  publish(change: PlanChange): number;
  /** The sequence number the next publish() will give its plan. */
  readonly nextSeq: number;
  /** The newest plan every worker has in force (0: the start plan). */
  appliedSeq(): number;
  /** [active, inactive, templates, scheduled, bound] of one slot, summed over the workers. */
  destCounters(slot: number): [number, number, number, number, number];
  /** One of those (its index in destCounters' list), without making the list: the rate estimator
   *  reads one per real server, 100,000 of them every 2 s. */
  destCounter(slot: number, field: number): number;
  /** Tracked connections of all workers, a page at a time. */
  connectionPages(): AsyncIterable<number[][]>;
  policyCounters(): PolicyCounters;
  policyCountersOf(index: number): PolicyCounters;
  stop(): Promise<void>;
  terminate(): void;
}

/** The change one of `n` workers applies (thresholds shared out as in workerPlan). */
export function workerChange(change: PlanChange, n: number): PlanChange {
  if (n === 1) return change;
  return { ...change, upserts: workerPlan({ services: change.upserts, arpVips: [], timeouts: change.timeouts }, n).services };
}

interface PacketWorker {
  thread: Worker;
  counters: SharedArrayBuffer;
  destCounters: SharedArrayBuffer;
  /** destCounters as the worker writes it: DEST_COUNTER_STRIDE numbers per slot. */
  dest: Uint32Array;
  stopped: Promise<void>;
  onStopped: () => void;
  /** Sequence number of the newest plan it reported in force. */
  applied: number;
}

type ConnectionRow = number[];

export class PacketWorkers implements WorkerPool {
  private readonly workers: PacketWorker[] = [];
  /** Page requests waiting for their worker's answer, by request id. */
  private readonly pending = new Map<number, (page: { rows: ConnectionRow[]; next: number }) => void>();
  private nextRequest = 0;
  /** Sequence number of the last plan published (the start plan is 0). */
  private seq = 0;

  /** The worker threads, spawned with the pool: each loads its modules (a few hundred ms on one
   *  core) while the control thread waits for nft and ip during start-up, instead of after. A
   *  thread that fails to load reports it asynchronously: the error is kept for start(). */
  private readonly threads: { thread: Worker; loadError: string | null }[];

  constructor(
    private readonly rings: RingSet,
    private readonly flowTableSize: number,
    private readonly slotCapacity: number,
    private readonly log: (msg: string) => void,
  ) {
    this.threads = rings.rings.map(() => {
      const t = { thread: new Worker(workerUrl()), loadError: null as string | null };
      t.thread.onerror = (e) => (t.loadError = e.message);
      return t;
    });
  }

  get count(): number {
    return this.rings.count;
  }

  /** Start one worker per ring with `plan`; resolves once all run. On failure the caller
   *  terminates them (terminate()). A thread that failed to load before this (its error kept by
   *  the constructor's handler) fails start() at once; a later failure reaches the handlers set
   *  here. */
  async start(first: Plan, rest: Iterable<PlanService[]>, cpus: readonly number[] | null): Promise<void> {
    const started = this.rings.rings.map((ring, index) => {
      let onStopped!: () => void;
      const stopped = new Promise<void>((r) => (onStopped = r));
      const destCounters = newDestCounterBuffer(this.slotCapacity);
      const { thread, loadError } = this.threads[index]!;
      const w: PacketWorker = {
        thread,
        counters: newPolicyCounterBuffer(),
        destCounters,
        dest: new Uint32Array(destCounters),
        stopped,
        onStopped,
        applied: 0,
      };
      this.workers.push(w);
      return new Promise<void>((resolve, reject) => {
        if (loadError !== null) {
          reject(new Error(`packet worker ${index}: ${loadError}`));
          return;
        }
        const timer = setTimeout(() => reject(new Error(`packet worker ${index} did not start within 10 s`)), START_TIMEOUT_MS);
        w.thread.onmessage = (ev: MessageEvent) => {
          const m = ev.data as { type: string; message?: string; id?: number; list?: ConnectionRow[]; next?: number; seq?: number };
          if (m.type === "started") {
            clearTimeout(timer);
            resolve();
          } else if (m.type === "error") {
            this.log(`packet worker ${index} failed: ${m.message}`);
            clearTimeout(timer);
            reject(new Error(m.message));
          } else if (m.type === "stopped") {
            w.onStopped();
          } else if (m.type === "connections") {
            this.answer(m.id!, m.list!, m.next!);
          } else if (m.type === "applied") {
            w.applied = m.seq!;
          }
        };
        w.thread.onerror = (e) => {
          clearTimeout(timer);
          reject(new Error(`packet worker ${index}: ${e.message}`));
        };
        this.post(w, {
          type: "start", handle: ring.handle as unknown as number, simulated: false, cpu: cpus?.[index] ?? null,
          flowTableSize: this.flowTableSize, counters: w.counters, destCounters: w.destCounters,
          planJson: JSON.stringify(workerPlan(first, this.count)),
        });
      });
    });
    // Each worker reads a part (JSON text: half the time of a structured clone) while the next is
    // compiled here; it starts forwarding once it has them all.
    for (const services of rest) {
      const servicesJson = JSON.stringify(workerPlan({ services, arpVips: [], timeouts: first.timeouts }, this.count).services);
      for (const w of this.workers) this.post(w, { type: "start-part", servicesJson });
    }
    for (const w of this.workers) this.post(w, { type: "start-done" });
    await Promise.all(started);
  }

  private post(w: PacketWorker, m: WorkerMessage): void {
    w.thread.postMessage(m);
  }

  /** New rules for every worker, as the change from the plan before; returns the new plan's
   *  sequence number (see appliedSeq). */
  publish(change: PlanChange): number {
    const c = workerChange(change, this.count);
    const seq = ++this.seq;
    for (const w of this.workers) this.post(w, { type: "change", change: c, seq });
    return seq;
  }

  /** The sequence number the next publish() will give its plan. */
  get nextSeq(): number {
    return this.seq + 1;
  }

  /** The newest plan every worker has in force (0: the start plan). */
  appliedSeq(): number {
    let min = this.seq;
    for (const w of this.workers) min = Math.min(min, w.applied);
    return min;
  }

  private answer(id: number, list: ConnectionRow[], next: number): void {
    const req = this.pending.get(id);
    if (!req) return;
    this.pending.delete(id);
    req({ rows: list, next });
  }

  /** One page of worker `index`'s connections, or null when it does not answer within 2 s. */
  private page(index: number, from: number): Promise<{ rows: ConnectionRow[]; next: number } | null> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, CONNECTIONS_TIMEOUT_MS);
      this.pending.set(id, (page) => {
        clearTimeout(timer);
        resolve(page);
      });
      this.post(this.workers[index]!, { type: "connections", id, from, buckets: CONNECTION_PAGE_BUCKETS });
    });
  }

  /** Tracked connections of all workers, a page at a time (rows [proto, saddr, sport, daddr,
   *  dport, state, expiresIn, slot]), so a listing of a million holds one page. A worker that does
   *  not answer within 2 s is left out from there on. */
  async *connectionPages(): AsyncGenerator<ConnectionRow[]> {
    for (let i = 0; i < this.workers.length; i++) {
      for (let from = 0; from >= 0;) {
        const page = await this.page(i, from);
        if (!page) break;
        if (page.rows.length > 0) yield page.rows;
        from = page.next;
      }
    }
  }

  /** The policy counters of worker `index` alone. */
  policyCountersOf(index: number): PolicyCounters {
    return readPolicyCounters(this.workers[index]!.counters);
  }

  /** The policy counters of all workers, summed (gauges included: each counts its own share). */
  policyCounters(): PolicyCounters {
    const sum = readPolicyCounters(this.workers[0]!.counters);
    for (const w of this.workers.slice(1)) {
      const c = readPolicyCounters(w.counters);
      for (const n of POLICY_COUNTER_NAMES) sum[n] += c[n];
    }
    return sum;
  }

  /** [active, inactive, persistent templates, connections scheduled, flow entries bound] of one
   *  slot, summed over the workers. */
  destCounter(slot: number, field: number): number {
    const at = slot * DEST_COUNTER_STRIDE + field;
    let n = 0;
    for (const w of this.workers) n += w.dest[at]!;
    return n;
  }

  destCounters(slot: number): [number, number, number, number, number] {
    const out: [number, number, number, number, number] = [0, 0, 0, 0, 0];
    const base = slot * DEST_COUNTER_STRIDE;
    for (const w of this.workers) for (let i = 0; i < DEST_COUNTER_STRIDE; i++) out[i] += w.dest[base + i]!;
    return out;
  }

  /** Ask every worker to leave its loop (each finishes its batch), wait up to 2 s, end the threads. */
  async stop(): Promise<void> {
    for (const w of this.workers) this.post(w, { type: "stop" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.workers.map((w) => w.stopped)),
      new Promise((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.terminate();
  }

  terminate(): void {
    for (const t of this.threads) t.thread.terminate();
  }
}
