// The packet loop, in its own thread. It blocks in C (poll on the ring) for at most POLL_MS at a
// time, so neither this thread's message handling nor the control thread's event loop starves:
// the control thread keeps timers, signals and sockets; this one only moves packets.
//
// Messages in:  {type:"start", handle, simulated, cpu, flowTableSize, counters, destCounters, planJson}
//                 cpu: pin this thread there first (null: leave it to the kernel)
//               {type:"start-part", servicesJson}  more services of the start plan
//               {type:"start-done"}     the start plan is whole: answers {type:"started"} and
//                                        starts forwarding
//               {type:"change", change, seq}  new rules as the change from the plan before,
//                                        applied between two batches (changes that queue up are
//                                        applied together); answered {type:"applied", seq} once
//                                        they are in force
//               {type:"stop"}           leave the loop; answers {type:"stopped"}
//               {type:"connections", id, from, buckets}  one page of the tracked connections
//                                        (ipvsadm -c): flow-table buckets [from, from + buckets)
// Messages out: {type:"started"} | {type:"stopped"} | {type:"error", message} | {type:"applied", seq}
//               {type:"connections", id, list, next}  list: [proto, saddr, sport, daddr, dport, state,
//                                        expiresIn, slot][]; next: the next page's from, -1 at the end
import { pinThread, Ring } from "./ffi.ts";
import { Forwarder } from "./forwarder.ts";
import type { Plan, PlanChange, PlanService } from "./plan.ts";

declare var self: Worker;

/** Longest wait inside C when the ring is empty. Bounds how late a message (new rules, stop) is
 *  seen at idle; under load rx returns at once and messages are seen every SLICE_MS. */
const POLL_MS = 10;
/** Longest run of back-to-back batches before giving the event loop a turn. */
const SLICE_MS = 5;

export type WorkerMessage =
  | {
    type: "start"; handle: number; simulated: boolean; cpu: number | null; flowTableSize: number;
    counters: SharedArrayBuffer; destCounters: SharedArrayBuffer;
    /** The start plan as JSON text: a plan of 100,000 real servers crossed to the thread in half
     *  the time of a structured clone of its objects (one string, parsed here). */
    planJson: string;
  }
  /** More services of the start plan (JSON text of PlanService[]), then the end of it. */
  | { type: "start-part"; servicesJson: string }
  | { type: "start-done" }
  | { type: "change"; change: PlanChange; seq: number }
  | { type: "connections"; id: number; from: number; buckets: number }
  | { type: "stop" };

let ring: Ring | null = null;
let fwd: Forwarder | null = null;
let stopping = false;
let lastTemplateSweep = 0;
/** The start plan's timeouts, for the parts that follow it (start-part). */
let startTimeouts: Plan["timeouts"] | null = null;
/** Changes received since the last batch, merged (the newest spec of each service, the ids
 *  removed): the forwarder applies them once before the next batch, so a burst of changes costs
 *  one apply, not one each. */
let pending: { upserts: Map<number, PlanService>; removed: Set<number>; arpVips?: number[]; last: PlanChange; seq: number } | null = null;

function receive(change: PlanChange, seq: number): void {
  pending ??= { upserts: new Map(), removed: new Set(), last: change, seq };
  for (const id of change.removed) {
    pending.upserts.delete(id);
    pending.removed.add(id);
  }
  for (const s of change.upserts) pending.upserts.set(s.id, s);
  if (change.arpVips) pending.arpVips = change.arpVips;
  pending.last = change;
  pending.seq = seq;
}

function applyPending(): void {
  if (!pending || !fwd) return;
  fwd.applyChange({
    upserts: [...pending.upserts.values()], removed: [...pending.removed],
    arpVips: pending.arpVips, timeouts: pending.last.timeouts,
  });
  postMessage({ type: "applied", seq: pending.seq });
  pending = null;
}

function nowSeconds(): number {
  return Math.floor(performance.now() / 1000);
}

function loop(): void {
  if (stopping || !ring || !fwd) {
    postMessage({ type: "stopped" });
    return;
  }
  try {
    applyPending();
    const sliceEnd = performance.now() + SLICE_MS;
    let now = nowSeconds();
    for (;;) {
      const n = ring.rx(POLL_MS);
      if (n > 0) {
        fwd.process(n, now);
        ring.tx();
      }
      fwd.housekeeping(now, n === 0);
      if (n === 0 || performance.now() >= sliceEnd) break;
      now = nowSeconds();
    }
    if (now !== lastTemplateSweep) {
      lastTemplateSweep = now;
      fwd.expireTemplates(now);
    }
  } catch (e) {
    postMessage({ type: "error", message: (e as Error).message });
    return;
  }
  setImmediate(loop);
}

self.onmessage = (ev: MessageEvent<WorkerMessage>) => {
  const m = ev.data;
  if (m.type === "start") {
    try {
      if (m.cpu !== null) pinThread(m.cpu);
    } catch (e) {
      postMessage({ type: "error", message: `cannot pin the packet worker: ${(e as Error).message}` });
      return;
    }
    ring = Ring.attach(m.handle, m.simulated);
    const plan = JSON.parse(m.planJson) as Plan;
    fwd = new Forwarder(ring, m.flowTableSize, m.counters, plan, m.destCounters);
    startTimeouts = plan.timeouts;
  } else if (m.type === "start-part") {
    fwd?.applyChange({ upserts: JSON.parse(m.servicesJson) as PlanService[], removed: [], timeouts: startTimeouts! });
  } else if (m.type === "start-done") {
    if (!fwd) return;
    postMessage({ type: "started" });
    setImmediate(loop);
  } else if (m.type === "change") {
    receive(m.change, m.seq);
  } else if (m.type === "connections") {
    const page = fwd ? fwd.connectionPage(nowSeconds(), m.from, m.buckets) : { rows: [], next: -1 };
    postMessage({ type: "connections", id: m.id, list: page.rows, next: page.next });
  } else if (m.type === "stop") {
    stopping = true;
  }
};
