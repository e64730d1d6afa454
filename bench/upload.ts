// upload.ts — upload throughput through the director, and what it costs the director, with the
// client's TSO/GSO on (it sends 64 KiB super-frames, which ringvs forwards whole for DR and cuts
// into segments for TUN) against off (wire-sized frames only), and with GRO on the director's
// interface off (a veth's default; ringvs leaves GRO as it finds it) against on (the kernel may
// merge wire-sized frames into super-frames before AF_PACKET sees them: the "super-frames"
// column shows whether it did). All in one run, one lab, alternating, so the ratios compare like
// with like.
//
//   bun bench/upload.ts                     DR and TUN, 50 MB, 3 rounds
//   SIZE_MB=100 ROUNDS=5 METHODS=dr bun bench/upload.ts
//
// Lab: test/lab/harness.ts (client, director, rs1 on the director's link, far1 behind a router
// with the user-space IPIP decapsulator where the kernel has no ipip), every host's offloads at
// their defaults. Each upload is curl --data-binary to the real server's /upload, which returns
// the body's SHA-256; a wrong digest aborts the run. Figures per case: median seconds, MB/s, and
// MB per CPU-second of the director (utime + stime of all its threads over the upload), with the
// shim's counters (super-frames received, segments cut). Needs root; namespaces carry a per-run
// prefix and are removed at the end, also on failure.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../test/lab/harness.ts";
import { DirectorProcess } from "../test/lab/director.ts";
import { payloadBytes, payloadSha256 } from "../scripts/lab/payload.ts";

const SIZE = Number(process.env.SIZE_MB ?? 50) * 1_000_000;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const METHODS = (process.env.METHODS ?? "dr tun").split(/\s+/).filter(Boolean) as ("dr" | "tun")[];
if (!(SIZE >= 1_000_000 && SIZE <= 500_000_000) || !(ROUNDS >= 1 && ROUNDS <= 20) || METHODS.some((m) => m !== "dr" && m !== "tun")) {
  console.error("upload.ts: SIZE_MB 1..500, ROUNDS 1..20, METHODS of dr tun");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("upload.ts: needs root (network namespaces)");
  process.exit(1);
}

const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

interface Case { method: "dr" | "tun"; tso: boolean; gro: boolean }
interface Row extends Case { seconds: number[]; cpu: number[]; gsoFrames: number; segments: number; rxFrames: number }

const lab = await Lab.up({ realServers: 1, farServers: 1, rsScript: true, http: true, tunDecap: "auto" });
const tmp = mkdtempSync(join(tmpdir(), "ringvs-upload-"));
const rows: Row[] = [];
try {
  const file = join(tmp, "upload.bin");
  writeFileSync(file, payloadBytes(SIZE));
  const sha = payloadSha256(SIZE);
  const ethtool = async (ns: string, ...args: string[]) => {
    const r = await lab.exec(ns, ["ethtool", "-K", "eth0", ...args]);
    if (r.code !== 0) throw new Error(`ethtool -K eth0 ${args.join(" ")} in ${ns}: ${r.stderr}`);
  };
  const cases: Case[] = [];
  for (const method of METHODS) for (const tso of [true, false]) for (const gro of [false, true]) cases.push({ method, tso, gro });
  console.error(`upload.ts: lab ${lab.prefix}, ${SIZE / 1e6} MB x ${ROUNDS} rounds, ${new Date().toISOString()}, loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (const c of cases) rows.push({ ...c, seconds: [], cpu: [], gsoFrames: 0, segments: 0, rxFrames: 0 });
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) {
      const rip = row.method === "dr" ? lab.rsIps[0]! : lab.farIps[0]!;
      await ethtool(lab.clientNs, "tso", row.tso ? "on" : "off", "gso", row.tso ? "on" : "off");
      const d = await DirectorProcess.start(lab, {
        config: {
          interface: lab.directorIf,
          services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler: "rr", realServers: [{ address: rip, forward: row.method }] }],
        },
      });
      try {
        if (row.gro) await ethtool(lab.directorNs, "gro", "on");
        // One small upload first: ARP, PMTU (TUN), the JIT of the server.
        await lab.exec(lab.clientNs, ["curl", "-sS", "--max-time", "10", "--data-binary", "warm", `http://${lab.vips[0]}/upload`]);
        const before = (await d.stats()).shim;
        const c0 = cpuSeconds(d.proc.pid);
        const t0 = performance.now();
        const up = await lab.exec(lab.clientNs, [
          "curl", "-sS", "--max-time", "60", "-H", "Content-Type: application/octet-stream",
          "--data-binary", `@${file}`, `http://${lab.vips[0]}/upload`,
        ], { timeoutMs: 65_000 });
        const seconds = (performance.now() - t0) / 1000;
        const cpu = cpuSeconds(d.proc.pid) - c0;
        const after = (await d.stats()).shim;
        const got = up.code === 0 ? (JSON.parse(up.stdout) as { sha256: string }).sha256 : `curl exit ${up.code}: ${up.stderr}`;
        if (got !== sha) throw new Error(`${row.method} tso=${row.tso} gro=${row.gro}: upload arrived as ${got}`);
        row.seconds.push(seconds);
        row.cpu.push(cpu);
        row.gsoFrames = after.rxGsoFrames - before.rxGsoFrames;
        row.segments = after.gsoSegments - before.gsoSegments;
        row.rxFrames = after.rxFrames - before.rxFrames;
      } finally {
        if (row.gro) await ethtool(lab.directorNs, "gro", "off");
        await d.stop();
      }
    }
  }
  await ethtool(lab.clientNs, "tso", "on", "gso", "on");
} finally {
  await lab.down();
  rmSync(tmp, { recursive: true, force: true });
}

const mb = SIZE / 1e6;
console.log(`\nUpload of ${mb} MB through ringvs, median of ${ROUNDS} (director CPU = all its threads)`);
console.log("method  client TSO  director GRO |  seconds    MB/s  | dir CPU s  MB/CPU-s | frames rx  super-frames  segments cut");
const base = new Map<string, Row>();
for (const r of rows) {
  const s = median(r.seconds), cpu = median(r.cpu);
  if (!r.tso && !r.gro) base.set(r.method, r);
  console.log(`${r.method.padEnd(6)}  ${(r.tso ? "on" : "off").padStart(10)}  ${(r.gro ? "on" : "off").padStart(12)} | ${s.toFixed(3).padStart(8)} ${(mb / s).toFixed(0).padStart(7)}  | ${cpu.toFixed(3).padStart(9)} ${(mb / Math.max(cpu, 0.001)).toFixed(0).padStart(9)} | ${String(r.rxFrames).padStart(9)} ${String(r.gsoFrames).padStart(13)} ${String(r.segments).padStart(13)}`);
}
console.log("\nRatios against client TSO off, director GRO off (same method): throughput, MB per director CPU-second");
for (const r of rows) {
  const b = base.get(r.method)!;
  if (r === b) continue;
  const thr = median(b.seconds) / median(r.seconds);
  const eff = median(b.cpu) / Math.max(median(r.cpu), 0.001);
  console.log(`${r.method.padEnd(6)} TSO ${r.tso ? "on " : "off"} GRO ${r.gro ? "on " : "off"}: ${thr.toFixed(2)}x throughput, ${eff.toFixed(2)}x per CPU-second`);
}
