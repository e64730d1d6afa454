// Flow table at 1M tracked connections: insert, lookup (hit and miss, in batches as the forwarder
// does them), update, expiry sweep; bytes per entry and the process's resident size.
//   taskset -c 1 bun bench/flow_table.bench.ts
import { Bench } from "tinybench";
import { FlowTable } from "../src/flow/flow_table.ts";

const CAPACITY = 1 << 21; // 2M buckets: 1M entries sit at 50% load, well under the 7/8 limit
const ENTRIES = 1 << 20;
const BATCH = 256;

/** Tuples whose hashes are spread like the C parser's: a multiplicative mix of a counter. */
function mix(k: number): number {
  let h = Math.imul(k ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const saddr = new Uint32Array(ENTRIES);
const ports = new Uint32Array(ENTRIES);
const hash = new Uint32Array(ENTRIES);
for (let k = 0; k < ENTRIES; k++) {
  saddr[k] = (0xc6120000 + (k >>> 16)) >>> 0;
  ports[k] = ((1024 + (k & 0xffff)) << 16 | 80) >>> 0;
  hash[k] = mix(k);
}
const DADDR = 0xc6120064;
const TCP = 6;

const rssBefore = process.memoryUsage().rss;
const t = new FlowTable(CAPACITY);
const insertStart = performance.now();
for (let k = 0; k < ENTRIES; k++) t.insert(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP, k & 1023, 1000, 1);
const insertMs = performance.now() - insertStart;
const rssAfter = process.memoryUsage().rss;

// Lookups walk the entries in a random order, a batch at a time, as packets of many flows would.
const order = new Uint32Array(ENTRIES);
for (let k = 0; k < ENTRIES; k++) order[k] = k;
for (let k = ENTRIES - 1; k > 0; k--) {
  const j = mix(k) % (k + 1);
  const x = order[k]!;
  order[k] = order[j]!;
  order[j] = x;
}

let cursor = 0;
let sink = 0;
const bench = new Bench({ time: 1500, warmupTime: 300 });
bench
  .add("lookup hit (batch of 256, random flows)", () => {
    for (let n = 0; n < BATCH; n++) {
      const k = order[cursor++ & (ENTRIES - 1)]!;
      sink += t.find(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP);
    }
  })
  .add("lookup miss (batch of 256)", () => {
    for (let n = 0; n < BATCH; n++) {
      const k = order[cursor++ & (ENTRIES - 1)]!;
      sink += t.find(hash[k]! ^ 0x5bd1e995, saddr[k]! ^ 1, DADDR, ports[k]!, TCP);
    }
  })
  .add("lookup + update (batch of 256, the established-packet path)", () => {
    for (let n = 0; n < BATCH; n++) {
      const k = order[cursor++ & (ENTRIES - 1)]!;
      const b = t.find(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP);
      t.update(b, 1, 1000 + (n & 7));
    }
  });
await bench.run();

// Insert/remove churn at 1M: remove 256 live flows and insert 256 new ones per step.
const churn = new FlowTable(CAPACITY);
for (let k = 0; k < ENTRIES; k++) churn.insert(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP, 1, 1000, 1);
let next = 0;
const churnSteps = 4096;
const churnStart = performance.now();
for (let s = 0; s < churnSteps; s++) {
  for (let n = 0; n < BATCH; n++) {
    const k = next++ & (ENTRIES - 1);
    churn.remove(churn.find(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP));
    churn.insert(hash[k]! ^ 0x2545f491, saddr[k]!, DADDR ^ 1, ports[k]!, TCP, 1, 1000, 1);
  }
}
const churnNs = ((performance.now() - churnStart) * 1e6) / (churnSteps * BATCH);

// Expiry: every entry expired, swept in SWEEP-sized budgets until the table is empty.
const expiry = new FlowTable(CAPACITY);
for (let k = 0; k < ENTRIES; k++) expiry.insert(hash[k]!, saddr[k]!, DADDR, ports[k]!, TCP, 1, 10, 1);
const sweepStart = performance.now();
let sweeps = 0;
while (expiry.size > 0) {
  expiry.sweep(20, 16384);
  sweeps++;
}
const sweepMs = performance.now() - sweepStart;

const rows = bench.tasks.map((task) => {
  const perBatch = task.result!.mean * 1e6; // ns per batch (tinybench 2: mean in ms)
  return {
    task: task.name,
    "ns/op": (perBatch / BATCH).toFixed(1),
    "M ops/s": ((BATCH / perBatch) * 1e3).toFixed(1),
    "±%": task.result!.rme.toFixed(2),
  };
});
rows.unshift({ task: "insert 1M (into an empty 2M-bucket table)", "ns/op": ((insertMs * 1e6) / ENTRIES).toFixed(1), "M ops/s": (ENTRIES / insertMs / 1e3).toFixed(1), "±%": "-" });
rows.push({ task: "remove + insert churn at 1M", "ns/op": churnNs.toFixed(1), "M ops/s": (1e3 / churnNs).toFixed(1), "±%": "-" });
rows.push({ task: `expire 1M (sweep, ${sweeps} budgets of 16384)`, "ns/op": ((sweepMs * 1e6) / ENTRIES).toFixed(1), "M ops/s": (ENTRIES / sweepMs / 1e3).toFixed(1), "±%": "-" });
console.table(rows);
console.log(
  `bytes per entry: ${FlowTable.BYTES_PER_ENTRY} per bucket, ${(FlowTable.BYTES_PER_ENTRY * CAPACITY / ENTRIES).toFixed(0)} per live entry at 50% load` +
  ` (IPVS: ~128 per connection); RSS grew ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MiB for ${ENTRIES} entries; sink ${sink & 1}`,
);
