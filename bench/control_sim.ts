// The control plane's cost per change without a kernel: a Director on the simulated system
// (src/control/simulated_system.ts) holding SERVICES x SERVERS entries, driven through the control
// library the way the control socket drives it. Prints start-up time and memory, one -a/-d's
// latency with the in-thread forwarder applying every change (what a one-core director pays) and
// with the control thread's share alone (the packet worker applies changes in its own thread in
// production), and stats()/snapshot() times (the rate estimator's 2 s tick). Figures, no targets
// enforced; compare with bench/control.sh, which measures the same through real namespaces.
//
//   bun bench/control_sim.ts
//   SERVICES=1000 SERVERS=10 CHANGES=500 bun bench/control_sim.ts
import { validateDirectorConfig } from "../src/config/schema.ts";
import { Control } from "../src/control/control.ts";
import { startSimulated } from "../src/control/simulated_system.ts";
import { REAL_SERVER_ENTRIES_MAX } from "../src/config/model.ts";

const SERVICES = Number(process.env.SERVICES ?? 10_000);
const SERVERS = Number(process.env.SERVERS ?? 10);
const CHANGES = Number(process.env.CHANGES ?? 200);
if (SERVICES * SERVERS > REAL_SERVER_ENTRIES_MAX) throw new Error(`SERVICES x SERVERS is over ${REAL_SERVER_ENTRIES_MAX}`);

const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const VIP0 = 0xc6120000; // 198.18.0.0
const RIP0 = 0xc6130000; // 198.19.0.0

const services = Array.from({ length: SERVICES }, (_, i) => ({
  protocol: "udp", address: ip(VIP0 + 256 + i), port: 53, scheduler: "wlc",
  realServers: Array.from({ length: SERVERS }, (_, j) => ({ address: ip(RIP0 + 256 + ((i * SERVERS + j) % 60000)) })),
}));

const t0 = performance.now();
const checked = validateDirectorConfig({ interface: "sim0", vipMode: "arp", services });
if (!checked.ok) throw new Error(JSON.stringify(checked.issues.slice(0, 2)));
const tValid = performance.now();
const { director, system } = await startSimulated(checked.config, { slotCapacity: REAL_SERVER_ENTRIES_MAX, flowTableSize: 1 << 16 });
const tStart = performance.now();
Bun.gc(true);
const mem = process.memoryUsage();
const control = new Control(director.running, {
  apply: (next) => director.apply(next), stats: () => director.stats(), connectionPages: () => director.connectionPages(),
  traffic: (from, to) => director.traffic(from, to),
});

function percentile(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** CHANGES pairs of -a and -d of a real server new to a service; milliseconds per change. */
async function changes(): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const key = { protocol: "udp" as const, address: ip(VIP0 + 256 + (k % SERVICES)), port: 53 };
    const rip = ip(RIP0 + 61000 + k);
    let t = performance.now();
    const a = await control.addDest(key, { address: rip, port: 53, forward: "dr", weight: 1, upperThreshold: 0, lowerThreshold: 0 });
    out.push(performance.now() - t);
    t = performance.now();
    const d = await control.deleteDest(key, rip, 53);
    out.push(performance.now() - t);
    if (!a.ok || !d.ok) throw new Error("a change was refused");
  }
  return out;
}

const withForwarder = await changes();
const publish = system.workers.publish.bind(system.workers);
system.workers.publish = () => system.workers.nextSeq; // the control thread's share alone
const controlOnly = await changes();
system.workers.publish = publish;

const time = (fn: () => unknown, n = 5) => {
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - t) / n;
};
const stats = time(() => director.stats());
const traffic = time(() => director.traffic(0, Math.ceil((SERVICES * SERVERS) / 40)), 50);
const snapshot = time(() => control.snapshot());

const ms = (x: number) => `${x.toFixed(2)} ms`;
console.log(`control_sim: ${SERVICES} services x ${SERVERS} real servers = ${SERVICES * SERVERS} entries, ${CHANGES} -a/-d pairs`);
console.log(`  validate                         ${ms(tValid - t0)}`);
console.log(`  start (simulated)                ${ms(tStart - tValid)}`);
console.log(`  heap / rss after start           ${(mem.heapUsed / 2 ** 20).toFixed(0)} / ${(mem.rss / 2 ** 20).toFixed(0)} MiB (this process: table, plan, forwarder)`);
console.log(`  -a/-d, forwarder in this thread  p50 ${ms(percentile(withForwarder, 50))}  p99 ${ms(percentile(withForwarder, 99))}`);
console.log(`  -a/-d, control thread alone      p50 ${ms(percentile(controlOnly, 50))}  p99 ${ms(percentile(controlOnly, 99))}  (target p99 <= 5 ms)`);
console.log(`  director.stats()                 ${ms(stats)}`);
console.log(`  director.traffic() of a fortieth  ${ms(traffic)}  (one estimator tick, every 50 ms)`);
console.log(`  control.snapshot() (-L, --rate)  ${ms(snapshot)}`);
control.stop();
await director.stop();
director.close();
