// Scheduling decisions per second for rr, wrr and the hashing, locality and random schedulers at
// 10, 100 and 1000 real servers.
// Run: bun bench/sched.bench.ts
//
// Each task makes BATCH decisions per call so tinybench's own per-call timing cost does not
// swamp a decision that takes nanoseconds. Weights cycle 1..10 (gcd 1, mw 10, so wrr makes ten
// passes per cycle and often walks past servers below cw) and every 17th server is unavailable,
// so both algorithms also pay for skipping.

import { Bench } from "tinybench";
import { createScheduler } from "../src/sched/index.ts";
import type { SchedDest } from "../src/sched/scheduler.ts";
import type { SchedulerName } from "../src/config/model.ts";

const BATCH = 1000;
const SIZES = [10, 100, 1000] as const;
const NAMES: readonly SchedulerName[] = ["rr", "wrr", "dh", "sh", "mh", "lblc", "lblcr", "twos"];

function makeDests(n: number): SchedDest[] {
  const dests: SchedDest[] = [];
  for (let i = 0; i < n; i++) {
    dests.push({ slot: i, weight: 1 + ((i * 7) % 10), available: i % 17 !== 16, activeConns: 0, inactiveConns: 0 });
  }
  return dests;
}

const bench = new Bench({ time: 500, warmupTime: 100 });
let sink = 0; // keeps the decisions observable so the loop cannot be optimised away

for (const n of SIZES) {
  for (const name of NAMES) {
    const s = createScheduler(name);
    s.setDestinations(makeDests(n));
    let k = 0;
    bench.add(`${name} ${n}`, () => {
      for (let j = 0; j < BATCH; j++, k++) sink += s.schedule(0x0a000000 + (k & 0xffff), 0xc0a80001, 1024 + (k & 0x7fff), 80, 0);
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
  for (const name of NAMES) {
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
if (sink === 0.5) console.log(sink); // never true; reads the sink
