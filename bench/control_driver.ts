// control_driver.ts — the client side of bench/control.sh: writes the rules files, and times
// changes against a running `ringvs serve`, either through the ringvs CLI (a process per change,
// as an operator's script pays) or straight over the control socket (src/control/socket.ts's own
// request(): one JSON line each way, no process start-up). Every figure goes to stdout as one
// JSON line; control.sh prints the table. Not meant to be run by hand, but it can be:
//
//   bun bench/control_driver.ts rules SERVICES SERVERS RIPS [TRAFFIC_VIP:PORT TRAFFIC_RIP] > x.rules
//   bun bench/control_driver.ts restore-file SERVICES SERVERS RIPS LINES add+del|add|del > r.rules
//   bun bench/control_driver.ts restore SOCKET cli|socket FILE TIMEOUT_S
//   bun bench/control_driver.ts singles SOCKET cli|socket SERVICES SERVERS RIPS COUNT SECONDS [new|known]
//   bun bench/control_driver.ts churn SOCKET SERVICES SERVERS RIPS PCT SECONDS LOG
//
// The address plan lives here alone, so every file and every change agrees on it:
//   service s      TCP 198.18.(128 + s/250).(s%250 + 1):80, wlc (a ClusterIP per service, as
//                  kube-proxy's IPVS mode has; 128.. keeps clear of the lab's 198.18.0.0/24)
//   real servers   RIP index i -> 198.19.(i/250).(i%250 + 1), i < 64,000; the real-server
//                  namespace answers ARP for all of 198.19.0.0/16 (control.sh)
//   slot p of s    generation g (how often it was replaced) is RIP index
//                  (s*2N + p + (g%2)*N) mod RIPS, N = SERVERS: a service's two generations never
//                  collide (2N <= RIPS), so replacing a slot swaps it between two addresses, and
//                  the distinct addresses stay the RIPS ones the director has already resolved.
import { join, resolve } from "node:path";
import { request } from "../src/control/socket.ts";

const CLI = join(resolve(import.meta.dir, ".."), "src/cli/main.ts");
const RIP_MAX = 64_000;

const vip = (s: number) => `198.18.${128 + Math.floor(s / 250)}.${(s % 250) + 1}:80`;
function rip(i: number): string {
  if (!(i >= 0 && i < RIP_MAX)) throw new Error(`RIP index ${i} outside 0..${RIP_MAX - 1}`);
  return `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}
const slotRip = (s: number, p: number, g: number, n: number, rips: number) => rip((s * 2 * n + p + (g % 2) * n) % rips);

function die(msg: string): never {
  process.stderr.write(`control_driver.ts: ${msg}\n`);
  process.exit(2);
}
function int(v: string | undefined, name: string, lo: number, hi: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) die(`${name} must be ${lo}..${hi}, got ${v}`);
  return n;
}
function checkPlan(services: number, n: number, rips: number): void {
  if (services > 25_000) die("at most 25,000 services (VIPs 198.18.128.1 .. 198.18.227.250)");
  if (2 * n > rips) die(`RIPS (${rips}) must be at least 2 x SERVERS (${2 * n}): a slot swaps between two addresses`);
}

/** Nearest-rank percentiles of a sample, in ms with 2 decimals. */
function summary(ms: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s.at(-1) ?? NaN), mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)) };
}

/** One ipvsadm command through the CLI (a process, as a shell script runs it) or the socket. */
async function change(sock: string, via: "cli" | "socket", argv: string[], stdin: string | undefined, timeoutMs: number): Promise<{ code: number; stderr: string }> {
  if (via === "socket") {
    const r = await request(sock, { op: "ipvsadm", argv, stdin }, timeoutMs);
    return { code: r.code, stderr: r.stderr };
  }
  const p = Bun.spawn(["bun", CLI, ...argv], {
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "ignore", stderr: "pipe",
    env: { ...process.env, RINGVS_SOCKET: sock },
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stderr };
}

const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");

const [cmd, ...a] = process.argv.slice(2);
switch (cmd) {
  case "rules": {
    // The table: SERVICES services of SERVERS real servers each (generation 0 of every slot), plus
    // an optional UDP traffic service first (so the director's nft guard matches its packets at
    // the first rule).
    const [services, n, rips] = [int(a[0], "SERVICES", 1, 25_000), int(a[1], "SERVERS", 1, 1000), int(a[2], "RIPS", 2, RIP_MAX)];
    checkPlan(services, n, rips);
    const lines: string[] = [];
    if (a[3]) lines.push(`-A -u ${a[3]} -s rr`, `-a -u ${a[3]} -r ${a[4]} -g -w 1`);
    for (let s = 0; s < services; s++) {
      lines.push(`-A -t ${vip(s)} -s wlc`);
      for (let p = 0; p < n; p++) lines.push(`-a -t ${vip(s)} -r ${slotRip(s, p, 0, n, rips)} -g -w 1`);
    }
    process.stdout.write(lines.join("\n") + "\n");
    break;
  }
  case "restore-file": {
    // LINES/2 -a of real servers new to their service (round-robin over the services; the r-th
    // one a service gets is slot r's generation-1 address while r < SERVERS, then addresses past
    // the RIPS pool, which only a one-service table reaches), then the same LINES/2 as -d.
    const [services, n, rips, lines] = [int(a[0], "SERVICES", 1, 25_000), int(a[1], "SERVERS", 1, 1000), int(a[2], "RIPS", 2, RIP_MAX), int(a[3], "LINES", 2, 200_000)];
    const which = a[4] ?? "add+del";
    if (!["add+del", "add", "del"].includes(which)) die("the last argument is add+del, add or del");
    checkPlan(services, n, rips);
    const half = Math.floor(lines / 2);
    const adds: string[] = [];
    const dels: string[] = [];
    for (let k = 0; k < half; k++) {
      const s = k % services;
      const r = Math.floor(k / services);
      const addr = r < n ? slotRip(s, r, 1, n, rips) : rip(rips + (r - n));
      adds.push(`-a -t ${vip(s)} -r ${addr} -g -w 1`);
      dels.push(`-d -t ${vip(s)} -r ${addr}`);
    }
    const text = which === "add" ? adds : which === "del" ? dels : [...adds, ...dels];
    process.stdout.write(text.join("\n") + "\n");
    break;
  }
  case "restore": {
    const [sock, via, file] = [a[0]!, a[1] as "cli" | "socket", a[2]!];
    const timeoutMs = int(a[3], "TIMEOUT_S", 1, 3600) * 1000;
    const text = await Bun.file(file).text();
    const t0 = performance.now();
    const r = await change(sock, via, ["-R"], text, timeoutMs).catch((e: Error) => ({ code: -1, stderr: e.message }));
    const ms = performance.now() - t0;
    out({ via, file, lines: text.split("\n").filter(Boolean).length, ms: Math.round(ms), code: r.code, stderr: r.stderr.slice(0, 400) });
    break;
  }
  case "singles": {
    // Pairs: -a of a real server new to the service, then -d of it, so the table is as before
    // after every pair. "new" (the default): an address past the RIPS pool, a different one for
    // every pair (the real-server namespace answers for all of 198.19.0.0/16), so the director
    // looks up its route and neighbour before the change takes effect, as for a pod new to a
    // cluster (the -d lets it go again at the next refresh, so the kernel's neighbour table
    // never holds more than a few of them). "known": the
    // first generation-0 address of the next service that this one does not have, resolved since
    // start-up, so the change needs no lookup. The services are visited in a stride (a prime)
    // so consecutive changes touch different ones. Bounded by COUNT changes and SECONDS,
    // whichever comes first (always ending after a -d).
    const [sock, via] = [a[0]!, a[1] as "cli" | "socket"];
    const [services, n, rips] = [int(a[2], "SERVICES", 1, 25_000), int(a[3], "SERVERS", 1, 1000), int(a[4], "RIPS", 2, RIP_MAX)];
    const [count, seconds] = [int(a[5], "COUNT", 2, 1_000_000), int(a[6], "SECONDS", 1, 3600)];
    const which = a[7] ?? "new";
    if (which !== "new" && which !== "known") die("the last argument is new or known");
    checkPlan(services, n, rips);
    const addressFor = (s: number, k: number): string | null => {
      if (which === "new") return rip(rips + (k % (RIP_MAX - rips)));
      const own = new Set(Array.from({ length: n }, (_, p) => slotRip(s, p, 0, n, rips)));
      const next = (s + 1) % services;
      for (let p = 0; p < n; p++) {
        const addr = slotRip(next, p, 0, n, rips);
        if (!own.has(addr)) return addr;
      }
      return null;
    };
    const deadline = performance.now() + seconds * 1000;
    const add: number[] = [];
    const del: number[] = [];
    let failures = 0;
    let firstError = "";
    for (let k = 0; 2 * k < count && performance.now() < deadline; k++) {
      const s = (k * 7919) % services;
      const addr = addressFor(s, k);
      if (addr === null) die(`service ${s} has every address of the next service: no known address is new to it`);
      for (const [argv, into] of [
        [["-a", "-t", vip(s), "-r", addr, "-g", "-w", "1"], add],
        [["-d", "-t", vip(s), "-r", addr], del],
      ] as [string[], number[]][]) {
        const t0 = performance.now();
        const r = await change(sock, via, argv, undefined, 120_000).catch((e: Error) => ({ code: -1, stderr: e.message }));
        into.push(performance.now() - t0);
        if (r.code !== 0) {
          failures++;
          firstError ||= `${argv.join(" ")}: ${r.stderr.trim().slice(0, 300)}`;
        }
      }
    }
    out({ via, which, add: summary(add), del: summary(del), all: summary([...add, ...del]), failures, firstError });
    break;
  }
  case "churn": {
    // kube-proxy's pattern: every second, PCT% of every service's real servers are replaced, and
    // the second's changes go as one -R batch over the socket (-d the old address, -a the new).
    // A batch is sent when its second comes, or at once when the previous one ran past it (then
    // it is counted late); SECONDS batches at most, and no batch starts after 3 x SECONDS.
    const [sock] = [a[0]!];
    const [services, n, rips, pct, seconds] = [
      int(a[1], "SERVICES", 1, 25_000), int(a[2], "SERVERS", 1, 1000), int(a[3], "RIPS", 2, RIP_MAX),
      int(a[4], "PCT", 1, 100), int(a[5], "SECONDS", 1, 3600),
    ];
    const log = a[6];
    checkPlan(services, n, rips);
    const per = Math.max(1, Math.round((n * pct) / 100)); // slots replaced per service per second
    const gen = new Array<number>(services * n).fill(0);
    const ms: number[] = [];
    const logLines: string[] = [];
    let applied = 0;
    let late = 0;
    let error = "";
    const t0 = performance.now();
    const hardStop = t0 + 3 * seconds * 1000;
    for (let t = 0; t < seconds && performance.now() < hardStop; t++) {
      const due = t0 + t * 1000;
      const now = performance.now();
      if (now < due) await Bun.sleep(due - now);
      else if (t > 0) late++;
      const lines: string[] = [];
      for (let s = 0; s < services; s++) {
        for (let k = 0; k < per; k++) {
          const p = (t * per + k) % n;
          const g = gen[s * n + p]!;
          lines.push(`-d -t ${vip(s)} -r ${slotRip(s, p, g, n, rips)}`, `-a -t ${vip(s)} -r ${slotRip(s, p, g + 1, n, rips)} -g -w 1`);
        }
      }
      const b0 = performance.now();
      const r = await change(sock, "socket", ["-R"], lines.join("\n") + "\n", 120_000).catch((e: Error) => ({ code: -1, stderr: e.message }));
      const b = performance.now() - b0;
      ms.push(b);
      logLines.push(`${((b0 - t0) / 1000).toFixed(3)}\t${lines.length}\t${b.toFixed(1)}\t${r.code}`);
      if (r.code !== 0) {
        error = `batch ${t}: exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`;
        break; // the generations no longer match the table
      }
      applied += lines.length;
      for (let s = 0; s < services; s++) for (let k = 0; k < per; k++) gen[s * n + (t * per + k) % n]!++;
    }
    // Over the run's length (one batch a second) or longer, when the batches fell behind.
    const wall = Math.max((performance.now() - t0) / 1000, ms.length);
    if (log) await Bun.write(log, "start_s\tlines\tms\tcode\n" + logLines.join("\n") + "\n");
    out({
      batches: ms.length, linesPerBatch: services * per * 2, applied, wallSeconds: Math.round(wall * 100) / 100,
      appliedPerSecond: Math.round(applied / wall), late, batch: summary(ms), error,
    });
    break;
  }
  default:
    die(`unknown command ${cmd ?? "(none)"}: rules, restore-file, restore, singles, churn`);
}
