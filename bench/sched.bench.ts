// Scheduling decisions per second for every implemented scheduler at 10, 100 and 1000 real
// servers, and the indexed wlc against a straight transcription of the kernel's linear walk.
// Run: bun bench/sched.bench.ts
//
// Each task makes BATCH decisions per call so tinybench's own per-call timing cost does not
// swamp a decision that takes nanoseconds. Weights cycle 1..10 (gcd 1, mw 10, so wrr makes ten
// passes per cycle and often walks past servers below cw) and every 17th server is unavailable,
// so every algorithm also pays for skipping.
//
// Every task, rr and wrr included, runs behind the same connection tracker, so the rows compare
// like with like: each new connection stays active for the next 4n decisions, then inactive
// (TIME_WAIT) for 4n more, then expires. Steady state is 4 active and 4 inactive connections per
// server on average, and each decision costs up to three count changes (the new connection, one
// going inactive, one expiring), each reported through destChanged as the real tracker does.
// 4n active connections also stay below what ovf can hold (sum of weight + 1 over the available
// servers, about 6n), so ovf keeps finding servers.

import { Bench } from "tinybench";
import type { SchedulerName } from "../src/config/model.ts";
import { createScheduler } from "../src/sched/index.ts";
import type { SchedDest, Scheduler } from "../src/sched/scheduler.ts";

const BATCH = 1000;
const SIZES = [10, 100, 1000] as const;
const NAMES: readonly SchedulerName[] = ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "dh", "sh", "mh", "lblc", "lblcr", "twos"];
/** The alternative to the indexed wlc: the kernel's O(n) walk, run on every decision. */
const SCAN = "wlc-scan";

function makeDests(n: number): SchedDest[] {
  const dests: SchedDest[] = [];
  for (let i = 0; i < n; i++) {
    dests.push({ slot: i, weight: 1 + ((i * 7) % 10), available: i % 17 !== 16, activeConns: 0, inactiveConns: 0 });
  }
  return dests;
}

/** ip_vs_wlc_schedule as the kernel runs it: a walk over every server for every decision. */
class KernelScanWlc implements Scheduler {
  readonly name = SCAN;
  private dests: readonly SchedDest[] = [];
  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
  }
  schedule(): number {
    const dests = this.dests;
    let least = -1;
    let loh = 0;
    let lw = 0;
    for (let i = 0; i < dests.length; i++) {
      const d = dests[i];
      if (!d.available || d.weight === 0) continue;
      const doh = d.activeConns * 256 + d.inactiveConns;
      if (least < 0 || loh * d.weight > doh * lw) {
        least = i;
        loh = doh;
        lw = d.weight;
      }
    }
    return least;
  }
}

/** Opens a connection per decision and ages old ones: active for `life` decisions, then inactive
 *  for `life` more. Rings of server indices; -1 marks an empty place. */
class Tracker {
  private active: Int32Array;
  private inactive: Int32Array;
  private at = 0;
  constructor(
    private readonly s: Scheduler,
    private readonly dests: SchedDest[],
    life: number,
  ) {
    this.active = new Int32Array(life).fill(-1);
    this.inactive = new Int32Array(life).fill(-1);
  }
  opened(i: number): void {
    const { s, dests } = this;
    const at = this.at;
    if (i >= 0) {
      dests[i].activeConns++;
      s.destChanged?.(i);
    }
    const closing = this.active[at];
    this.active[at] = i;
    if (closing >= 0) {
      dests[closing].activeConns--;
      dests[closing].inactiveConns++;
      s.destChanged?.(closing);
    }
    const expiring = this.inactive[at];
    this.inactive[at] = closing;
    if (expiring >= 0) {
      dests[expiring].inactiveConns--;
      s.destChanged?.(expiring);
    }
    this.at = at + 1 === this.active.length ? 0 : at + 1;
  }
}

const bench = new Bench({ time: 500, warmupTime: 100 });
let sink = 0; // keeps the decisions observable so the loop cannot be optimised away

for (const n of SIZES) {
  for (const name of [...NAMES, SCAN]) {
    const s = name === SCAN ? new KernelScanWlc() : createScheduler(name as SchedulerName);
    const dests = makeDests(n);
    s.setDestinations(dests);
    const tracker = new Tracker(s, dests, 4 * n);
    let k = 0;
    bench.add(`${name} ${n}`, () => {
      for (let j = 0; j < BATCH; j++, k++) {
        const i = s.schedule(0x0a000000 + (k & 0xffff), 0xc0a80001, 1024 + (k & 0x7fff), 80, 0);
        tracker.opened(i);
        sink += i;
      }
    });
  }
}

await bench.warmup();
await bench.run();

const perSecond = new Map<string, number>();
for (const t of bench.tasks) perSecond.set(t.name, (t.result?.hz ?? 0) * BATCH);

const rows = [];
for (const n of SIZES) {
  const rr = perSecond.get(`rr ${n}`) ?? 0;
  for (const name of [...NAMES, SCAN]) {
    const dps = perSecond.get(`${name} ${n}`) ?? 0;
    rows.push({
      scheduler: name,
      servers: n,
      "decisions/s": Math.round(dps).toLocaleString("en-US"),
      "ns/decision": dps > 0 ? (1e9 / dps).toFixed(1) : "-",
      "vs rr": dps > 0 && rr > 0 ? `${(dps / rr).toFixed(2)}x` : "-",
      "±%": (bench.getTask(`${name} ${n}`)?.result?.rme ?? 0).toFixed(2),
    });
  }
}
console.table(rows);
const ratios = SIZES.map((n) => {
  const scan = perSecond.get(`${SCAN} ${n}`) ?? 0;
  return `${n}: ${scan > 0 ? ((perSecond.get(`wlc ${n}`) ?? 0) / scan).toFixed(2) : "-"}x`;
});
console.log(`wlc (tournament tree) vs the kernel's linear walk, same tracker: ${ratios.join(", ")}`);
if (sink === 0.5) console.log(sink); // never true; reads the sink
