// Request/response clients through the director get close to what they get straight from the
// real server (issue 16: below saturation every frame through a TPACKET_V3 ring waited for the
// block retire timer, ~0.5 ms, so keep-alive HTTP ran at 0.45x of direct, a new connection per
// request at 0.16x and a UDP round trip took +0.41 ms). One lab, one DR real server (VIP on lo,
// scripts/realserver.sh) running nginx (scripts/lab/nginx.conf) and the UDP echo of
// bench/udprr.c; ringvs in front of it. The same clients hit the VIP and the real server's own
// address (RIP) in the same run, alternating (VIP, RIP, then RIP, VIP), so both see the same
// machine: wrk keep-alive, ab with a new connection per request, and udprr, which interleaves the
// two targets request by request itself. Pinned as bench/reqresp.sh does it by default (its
// header says why): the director alone on CPU 1, as it is a machine of its own on an operator's
// network; the clients, nginx and the UDP echo on CPU 0. On the V3 ring this layout measured
// keep-alive 0.71x, new connections 0.44x, UDP +362 us; on the V2 ring 1.09x, 1.26x, +59 us.
// Every figure is printed before it is checked, so a failure says by how much.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab, REPO_ROOT } from "./harness.ts";
import { DirectorProcess, stopDirectorAndLab } from "./director.ts";

// The CI acceptance of issue 16, loose on purpose: this runs on a noisy 2-core machine next to
// other work. bench/reqresp.sh holds the stricter targets.
/** Keep-alive HTTP (wrk -c 32) through the VIP, as a share of straight to the real server. */
const MIN_KEEPALIVE_RATIO = 0.7;
/** A new connection per request (ab -c 8) through the VIP, as a share of straight. */
const MIN_NEW_CONN_RATIO = 0.5;
/** What the director may add to the median UDP round trip with one request outstanding, in µs. */
const MAX_UDP_ADDED_P50_US = 200;

/** Seconds per wrk or ab run; each runs 4 times (2 per target), udprr once for UDP_S. */
const RUN_S = 3;
const UDP_S = 4;
const UDP_PORT = 5001;
const UDPRR = join(REPO_ROOT, "bench/build/udprr");
const NGINX_CONF = join(REPO_ROOT, "scripts/lab/nginx.conf");
const NGINX = Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);

const LAB = canRunLab("wrk", "ab", "make", "gcc", "taskset") && nginxPresent();
if (!LAB) console.warn("SKIPPING request/response lab test: it needs root, nginx, wrk, ab (apache2-utils), make and gcc (CI runs it as root)");

/** nginx lives in /usr/sbin, which canRunLab's PATH look-up may miss; in CI it must be there. */
function nginxPresent(): boolean {
  if (NGINX === null && process.env.CI) throw new Error("lab tests must run in CI, but nginx is missing (bash scripts/bootstrap.sh installs it)");
  return NGINX !== null;
}

interface Rate { rps: number; errors: number; out: string }
interface UdpTarget { target: string; count: number; lost: number; p50Us: number; p99Us: number }

(LAB ? describe : describe.skip)("request/response through the director against straight to the real server", () => {
  let lab: Lab;
  let director: DirectorProcess | undefined;
  let tmp = "";
  let vip = "";
  let rip = "";
  /** taskset prefixes for the clients and the servers (both CPU 0; the director has CPU 1); []
   *  on a single core. */
  let pinClient: string[] = [];
  let pinServer: string[] = [];

  beforeAll(async () => {
    const make = Bun.spawnSync(["make", "-C", join(REPO_ROOT, "bench"), "build/udprr"], { stdout: "pipe", stderr: "pipe" });
    if (make.exitCode !== 0) throw new Error(`make -C bench build/udprr failed: ${make.stderr.toString()}`);
    const twoCores = availableParallelism() >= 2;
    if (!twoCores) console.warn("request/response: fewer than 2 CPUs, the director not pinned apart");
    pinClient = twoCores ? ["taskset", "-c", "0"] : [];
    pinServer = twoCores ? ["taskset", "-c", "0"] : [];
    tmp = mkdtempSync(join(tmpdir(), "ringvs-reqresp-"));
    lab = await Lab.up({ realServers: 1, rsScript: true });
    vip = lab.vips[0]!;
    rip = lab.rsIps[0]!;
    const rs = lab.rsNs[0]!;
    // Both exec (taskset too), so each pid is the server's own; lab.down() stops them.
    lab.spawn(rs, [...pinServer, NGINX!, "-p", tmp, "-e", join(tmp, "error.log"), "-c", NGINX_CONF, "-g", "daemon off;"]);
    lab.spawn(rs, [...pinServer, UDPRR, "-s", String(UDP_PORT), "-t", "120"]);
    for (let i = 0; ; i++) {
      const r = await lab.curl(`http://${rip}/`, { timeoutMs: 1_000 });
      if (r.status === 200) break;
      if (i === 50) throw new Error(`nginx in ${rs} does not answer: curl ${r.exitCode} ${r.stderr.trim()}`);
      await Bun.sleep(100);
    }
    director = await DirectorProcess.start(lab, {
      cpu: twoCores ? 1 : undefined,
      config: {
        interface: lab.directorIf,
        vipMode: "arp",
        ...(twoCores ? { workers: { count: 1, cpus: [1] } } : {}),
        services: [
          { protocol: "tcp", address: vip, port: 80, scheduler: "rr", realServers: [{ address: rip, forward: "dr" }] },
          { protocol: "udp", address: vip, port: UDP_PORT, scheduler: "rr", realServers: [{ address: rip, forward: "dr" }] },
        ],
      },
    });
    expect(director.ready.unresolved).toEqual([]);
    // Warm-up through the VIP: the client's ARP for it, the JIT, the flow table.
    const first = await lab.curl(`http://${vip}/`, { timeoutMs: 3_000 });
    if (first.status !== 200) throw new Error(`no HTTP answer through the VIP: curl ${first.exitCode} ${first.stderr.trim()}`);
    await lab.exec(lab.clientNs, [...pinClient, "wrk", "-t", "1", "-c", "8", "-d", "1s", `http://${vip}/`], { timeoutMs: 15_000 });
  }, 60_000);

  afterAll(async () => {
    try {
      await stopDirectorAndLab(director, lab);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);

  /** One run of argv (a client) from the client namespace, pinned; its stdout, or a throw. */
  async function client(argv: string[], seconds: number): Promise<string> {
    const r = await lab.exec(lab.clientNs, [...pinClient, "timeout", "-k", "2", String(seconds + 15), ...argv], { timeoutMs: (seconds + 20) * 1000 });
    if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}\n${r.stdout}`);
    return r.stdout;
  }

  async function wrk(ip: string): Promise<Rate> {
    const out = await client(["wrk", "-t", "1", "-c", "32", "-d", `${RUN_S}s`, "--timeout", "2s", `http://${ip}/`], RUN_S);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    const errors = (socket ? socket.slice(1).reduce((a, x) => a + Number(x), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), errors, out };
  }

  async function ab(ip: string): Promise<Rate> {
    const out = await client(["ab", "-q", "-r", "-s", "5", "-c", "8", "-t", String(RUN_S), "-n", "10000000", `http://${ip}/`], RUN_S);
    const errors = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0) + Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    return { rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), errors, out };
  }

  /** VIP, RIP, RIP, VIP: a drift over the four runs weighs on both targets alike. */
  async function alternate(run: (ip: string) => Promise<Rate>): Promise<{ vip: Rate[]; direct: Rate[] }> {
    const r = { vip: [] as Rate[], direct: [] as Rate[] };
    for (const through of [true, false, false, true]) (through ? r.vip : r.direct).push(await run(through ? vip : rip));
    return r;
  }

  function report(what: string, r: { vip: Rate[]; direct: Rate[] }): number {
    const mean = (xs: Rate[]) => xs.reduce((a, x) => a + x.rps, 0) / xs.length;
    const ratio = mean(r.vip) / mean(r.direct);
    const fig = {
      vipRps: r.vip.map((x) => Math.round(x.rps)),
      directRps: r.direct.map((x) => Math.round(x.rps)),
      ratio: Math.round(ratio * 1000) / 1000,
      errors: [...r.vip, ...r.direct].reduce((a, x) => a + x.errors, 0),
    };
    console.log(`request/response ${what}: ${JSON.stringify(fig)}`);
    for (const x of [...r.vip, ...r.direct]) if (!(x.rps > 0)) throw new Error(`${what}: no request rate in\n${x.out}`);
    expect(fig.errors).toBe(0);
    return ratio;
  }

  test(`wrk keep-alive (-c 32) through the VIP gets at least ${MIN_KEEPALIVE_RATIO}x of straight`, async () => {
    const before = await director!.stats();
    const ratio = report("wrk keep-alive -c 32", await alternate(wrk));
    // The VIP's runs went through ringvs (the lab cannot reach the VIP otherwise, but say so).
    expect((await director!.stats()).policy.vipPackets - before.policy.vipPackets).toBeGreaterThan(1000);
    expect(ratio).toBeGreaterThanOrEqual(MIN_KEEPALIVE_RATIO);
  }, 40_000);

  test(`ab, a new connection per request (-c 8), through the VIP gets at least ${MIN_NEW_CONN_RATIO}x of straight`, async () => {
    expect(report("ab new connections -c 8", await alternate(ab))).toBeGreaterThanOrEqual(MIN_NEW_CONN_RATIO);
  }, 40_000);

  test(`UDP with one request outstanding: the director adds at most ${MAX_UDP_ADDED_P50_US} us to the median round trip`, async () => {
    const out = await client([UDPRR, "-c", `${vip}:${UDP_PORT}`, "-c", `${rip}:${UDP_PORT}`, "-n", "1000000", "-t", String(UDP_S), "-w", "200", "-T", "200"], UDP_S);
    const [v, d] = out.trim().split("\n").map((l) => JSON.parse(l) as UdpTarget);
    const fig = {
      vip: { count: v!.count, lost: v!.lost, p50Us: v!.p50Us, p99Us: v!.p99Us },
      direct: { count: d!.count, lost: d!.lost, p50Us: d!.p50Us, p99Us: d!.p99Us },
      addedP50Us: Math.round((v!.p50Us - d!.p50Us) * 10) / 10,
      addedP99Us: Math.round((v!.p99Us - d!.p99Us) * 10) / 10,
    };
    console.log(`request/response udp one outstanding: ${JSON.stringify(fig)}`);
    // A real measurement: most requests answered on both paths (a lost one counts, not hangs).
    expect(v!.count).toBeGreaterThan(1000);
    expect(v!.lost).toBeLessThan(v!.count / 100);
    expect(d!.lost).toBeLessThan(d!.count / 100);
    expect(fig.addedP50Us).toBeLessThanOrEqual(MAX_UDP_ADDED_P50_US);
  }, 30_000);
});
