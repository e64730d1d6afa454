// The packet loop never starves the control plane. While the director forwards at its ceiling
// (bench/build/pktgen in the client namespace, unpaced 64-byte UDP at the VIP, pinned to CPU 0;
// the director pinned to CPU 1, as bench/pps.sh runs them), the daemon's main thread must still
// answer its control socket (a ping and an ipvsadm -L -n) and SIGUSR1 within 100 ms. The packet
// loop runs in a Worker (src/dataplane/worker.ts) so that this holds: here the control thread
// answers in a few ms while the worker keeps ~90% of the shared core. What fails this test is a
// loop that holds the daemon's main thread for longer than the budget (tried: the worker's loop
// run on the main thread with 200 ms slices answered a ping after up to 380 ms; with its 5 ms
// slices it stayed under 10 ms, which this budget allows). The counters sampled during the window
// prove the load was real: a generator that did not run fails the test too.
// The second case runs two packet workers, one pinned to each core (so one shares CPU 0 with the
// generator) and the control thread with no core of its own: the load comes from 64 client
// addresses so that both workers forward, and the same budget holds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab, REPO_ROOT } from "./harness.ts";
import { DirectorProcess } from "./director.ts";
import type { ControlReply } from "../../src/control/socket.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING responsiveness lab test: it needs root (CI runs it as root)");

const PKTGEN = join(REPO_ROOT, "bench/build/pktgen");
const PORT = 5000;
/** The budget a control command or a stats report has under load. */
const BUDGET_MS = 100;
/** Seconds of unpaced traffic; the measurements start after LOAD_RAMP_MS and must end before it. */
const LOAD_S = 4;
const LOAD_RAMP_MS = 500;
const SAMPLES = 20;
/** Gap between two samples: spreads SAMPLES over ~2 s of the load, leaving margin to its end. */
const GAP_MS = 50;
/** Frames the director must have forwarded between the first and the last stats sample taken
 *  under load (~2 s), whatever the machine: an idle director forwards nothing, so this fails if
 *  the generator did not run. */
const MIN_FORWARDED = 100_000;
/** And the share of what the generator sent in that window (its average rate times the window)
 *  the director must have forwarded: the load was real and the director kept up with it. The
 *  generator's speed is the machine's (1.2 Mpps on one 2-core host, 0.3 Mpps on another), so an
 *  absolute rate would test the machine, not ringvs; measured shares are 0.75-1.0. */
const MIN_FORWARDED_SHARE = 0.5;

// The measuring client, run inside the director's namespace. Its own start-up (bun, JIT) is
// outside the measurement: it connects once per request kind to warm up, prints "ready", and
// measures only after SIGUSR2. Each sample is one request on a fresh connection (the socket takes
// one request per connection): connect, send, until the reply's line has arrived.
const PROBE = `
const [socket, samples, gapMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
setTimeout(() => { process.stderr.write("probe: gave up after 30 s\\n"); process.exit(3); }, 30_000);
const PING = '{"op":"ping"}\\n';
const LIST = '{"op":"ipvsadm","argv":["-L","-n"]}\\n';
function once(req) {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t0 = performance.now();
    Bun.connect({ unix: socket, socket: {
      open(s) { s.write(req); },
      data(s, d) {
        buf += d.toString();
        if (buf.includes("\\n")) { const ms = performance.now() - t0; s.end(); resolve({ ms, reply: JSON.parse(buf) }); }
      },
      close() { if (!buf.includes("\\n")) reject(new Error("closed without a reply: " + JSON.stringify(buf))); },
      error(_s, e) { reject(e); },
    } }).catch(reject);
  });
}
await once(PING);
await once(LIST);
let go;
const started = new Promise((r) => (go = r));
process.on("SIGUSR2", () => go());
process.stdout.write("ready\\n");
await started;
const out = { ping: [], list: [], replies: { ping: null, list: null } };
for (let i = 0; i < samples; i++) {
  const p = await once(PING);
  out.ping.push(p.ms);
  out.replies.ping ??= p.reply;
  await Bun.sleep(gapMs / 2);
  const l = await once(LIST);
  out.list.push(l.ms);
  out.replies.list ??= l.reply;
  await Bun.sleep(gapMs / 2);
}
process.stdout.write(JSON.stringify(out) + "\\n");
process.exit(0);
`;

interface ProbeResult {
  ping: number[];
  list: number[];
  replies: { ping: ControlReply; list: ControlReply };
}

interface StatsEvent {
  shim: { rxFrames: number; txFrames: number; kernelDrops: number };
}

/** utime + stime of every thread of PID, in seconds (/proc/PID/stat; comm may hold spaces). */
function cpuSeconds(pid: number, clkTck: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

function summary(xs: number[]): { max: number; p50: number } {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { max: r(s[s.length - 1]!), p50: r(s[Math.floor((s.length - 1) / 2)]!) };
}

/** Reads lines from a process's stdout; `line()` resolves to the next one (null at its end). */
function lineReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  return {
    async line(timeoutMs: number): Promise<string | null> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const l = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          return l;
        }
        const left = deadline - Date.now();
        if (left <= 0) return null;
        const r = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)]);
        if (r === null) continue;
        if (r.done) return null;
        buf += decoder.decode(r.value, { stream: true });
      }
    },
  };
}

(LAB ? describe : describe.skip)("control plane under forwarding load", () => {
  let lab: Lab;
  let tmp = "";
  beforeAll(async () => {
    const make = Bun.spawnSync(["make", "-C", join(REPO_ROOT, "bench"), "build/pktgen"], { stdout: "pipe", stderr: "pipe" });
    if (make.exitCode !== 0) throw new Error(`make -C bench build/pktgen failed: ${make.stderr.toString()}`);
    tmp = mkdtempSync(join(tmpdir(), "ringvs-resp-"));
    writeFileSync(join(tmp, "probe.ts"), PROBE);
    lab = await Lab.up({ realServers: 1 });
    // As in bench/pps.sh: the real server drops every IPv4 frame at ingress, so the forwarded
    // frames cost its (inline, on the director's core) receive path as little as possible.
    const nft = await lab.exec(lab.rsNs[0]!, ["nft", "-f", "-"], {
      stdin: `table netdev resp_rs {
        chain drop_ip {
          type filter hook ingress device "eth0" priority -500; policy accept;
          meta protocol ip counter drop
        }
      }\n`,
    });
    if (nft.code !== 0) throw new Error(`nft in ${lab.rsNs[0]}: ${nft.stderr}`);
  }, 60_000);
  afterAll(async () => {
    await lab?.down();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  /** The bridge must know every MAC, or it floods the generated frames to the real server too
   *  (bench/pps.sh teach_bridge): one datagram each way makes both ends ARP. */
  async function teachBridge(): Promise<void> {
    const rsMac = lab.rsMacs[0]!;
    let fdb = "";
    for (let i = 0; i < 20; i++) {
      await lab.exec(lab.directorNs, ["bash", "-c", `echo > /dev/udp/${lab.rsIps[0]}/9`]);
      await lab.exec(lab.clientNs, ["bash", "-c", `echo > /dev/udp/${lab.directorIp}/9`]);
      await Bun.sleep(50);
      fdb = (await lab.exec(lab.switchNs, ["bridge", "fdb", "show", "br", "br0"])).stdout;
      if ([`${rsMac} dev rs1 `, `${lab.directorMac} dev dir `, `${lab.clientMac} dev cl `].every((e) => fdb.includes(e))) return;
    }
    throw new Error(`the bridge did not learn the lab's MACs:\n${fdb}`);
  }

  /** One case: the director with `workers` ("one": pinned with all its threads to CPU 1, as
   *  bench/pps.sh runs it; "two": a worker pinned to each core), the generator on CPU 0. */
  async function underLoad(workers: "one" | "two"): Promise<void> {
    const twoCores = availableParallelism() >= 2;
    if (!twoCores) console.warn("responsiveness: fewer than 2 CPUs, generator and director not pinned apart");
    const vip = lab.vips[0]!;
    const two = workers === "two" && twoCores;
    const d = await DirectorProcess.start(lab, {
      cpu: twoCores && !two ? 1 : undefined,
      config: {
        interface: lab.directorIf,
        vipMode: "arp",
        ...(two ? { workers: { count: 2, cpus: [1, 0] } } : {}),
        services: [{
          protocol: "udp", address: vip, port: PORT, scheduler: "rr",
          realServers: [{ address: lab.rsIps[0], forward: "dr" }],
        }],
      },
    });
    try {
      expect(d.ready.unresolved).toEqual([]);
      await teachBridge();

      // No timeout(1) in front: SIGUSR2 must reach the probe itself. It bounds itself instead.
      const probe = lab.spawn(lab.directorNs, [
        process.execPath, join(tmp, "probe.ts"), d.socket, String(SAMPLES), String(GAP_MS),
      ], { stdout: "pipe", stderr: "pipe" });
      const probeOut = lineReader(probe.stdout as ReadableStream<Uint8Array>);
      const probeErr = new Response(probe.stderr as ReadableStream).text();
      const ready = await probeOut.line(15_000);
      if (ready !== "ready") throw new Error(`probe did not start (${ready}): ${await probeErr}`);

      // Unpaced, bounded in count (far above what a veth lab does in LOAD_S) and in time.
      let loadDone = false;
      const gen = lab.exec(lab.clientNs, [
        ...(twoCores ? ["taskset", "-c", "0"] : []), "timeout", "-k", "2", String(LOAD_S + 10), PKTGEN,
        "-i", "eth0", "-m", lab.directorMac, "-d", vip, "-p", String(PORT),
        // Two workers fan out by client address: 64 of them (nothing answers these sources).
        ...(two ? ["-s", "198.18.64.0", "-A", "64"] : ["-s", lab.clientIp]),
        "-c", String(LOAD_S * 5_000_000), "-t", String(LOAD_S), "-l", "64", "-f", "1024", "-P", "udp", "-r", "0",
      ], { timeoutMs: (LOAD_S + 15) * 1000 }).finally(() => (loadDone = true));
      await Bun.sleep(LOAD_RAMP_MS);
      expect(loadDone).toBe(false);

      const clkTck = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
      probe.kill("SIGUSR2");
      const signals = (async () => {
        const ms: number[] = [];
        const stats: { at: number; cpu: number; s: StatsEvent }[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const t0 = performance.now();
          d.proc.kill("SIGUSR1");
          const s = await d.next<StatsEvent>("stats", 5_000);
          const t1 = performance.now();
          if (!s) throw new Error(`no stats event within 5 s of SIGUSR1: ${d.stderr}`);
          ms.push(t1 - t0);
          stats.push({ at: t1, cpu: cpuSeconds(d.proc.pid, clkTck), s });
          await Bun.sleep(GAP_MS * 2);
        }
        return { ms, stats };
      })();
      const [probeLine, sig] = await Promise.all([probeOut.line(20_000), signals]);
      // Every sample was taken while the generator still ran.
      const measuredUnderLoad = !loadDone;
      const g = await gen;
      if (!probeLine) throw new Error(`probe printed no result (exit ${await probe.exited}): ${await probeErr}`);
      const p = JSON.parse(probeLine) as ProbeResult;

      const first = sig.stats[0]!;
      const last = sig.stats[sig.stats.length - 1]!;
      const forwarded = last.s.shim.txFrames - first.s.shim.txFrames;
      const received = last.s.shim.rxFrames - first.s.shim.rxFrames;
      const ringDrops = last.s.shim.kernelDrops - first.s.shim.kernelDrops;
      const windowS = (last.at - first.at) / 1000;
      const generated = JSON.parse(g.stdout || "{}") as { frames?: number; seconds?: number };
      const report = {
        workers,
        ping: summary(p.ping),
        ipvsadmList: summary(p.list),
        sigusr1Stats: summary(sig.ms),
        window: {
          seconds: Math.round(windowS * 100) / 100,
          forwarded, received, ringDrops,
          forwardedPps: Math.round(forwarded / windowS),
          // Of one core: every thread of the director (one core's worth with one worker).
          directorCpuPercent: Math.round((100 * (last.cpu - first.cpu)) / windowS),
        },
        generator: generated,
      };
      console.log(`responsiveness under load: ${JSON.stringify(report)}`);

      expect({ code: g.code, stderr: g.stderr }).toEqual({ code: 0, stderr: "" });
      expect(p.replies.ping).toEqual({ code: 0, stdout: "pong\n", stderr: "" });
      expect(p.replies.list.code).toBe(0);
      expect(p.replies.list.stdout).toContain(`UDP  ${vip}:${PORT} rr`);
      expect(p.ping.length).toBe(SAMPLES);
      expect(p.list.length).toBe(SAMPLES);
      // The budgets first: a sample late enough to outlast the load is a failure in itself.
      expect(report.ping.max).toBeLessThan(BUDGET_MS);
      expect(report.ipvsadmList.max).toBeLessThan(BUDGET_MS);
      expect(report.sigusr1Stats.max).toBeLessThan(BUDGET_MS);
      // Then that they were kept under load: every sample taken while the generator ran, and the
      // director forwarding at full speed between the first and the last.
      expect(measuredUnderLoad).toBe(true);
      expect(forwarded).toBeGreaterThan(MIN_FORWARDED);
      const generatedInWindow = ((generated.frames ?? 0) / (generated.seconds || LOAD_S)) * windowS;
      expect(forwarded).toBeGreaterThan(MIN_FORWARDED_SHARE * generatedInWindow);
      if (two) {
        // Both workers forwarded (the load really was spread over them).
        const s = await d.stats();
        for (const w of s.perWorker) expect(w.txFrames).toBeGreaterThan(MIN_FORWARDED / 10);
      }
    } finally {
      expect((await d.stop()).exitCode).toBe(0);
    }
  }

  test(`ping, ipvsadm -L -n and SIGUSR1 are answered within ${BUDGET_MS} ms while the director forwards at its ceiling`, async () => {
    await underLoad("one");
  }, 60_000);

  test(`the same with two packet workers busy on both cores and the control thread on neither`, async () => {
    await underLoad("two");
  }, 60_000);
});
