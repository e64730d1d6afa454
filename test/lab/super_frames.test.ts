// GSO super-frames end to end. Every lab host keeps its veth offloads at their defaults (TSO/GSO
// on), as containers, pods and VM-host bridges do, so the client's TCP stack hands its veth
// frames of up to 64 KiB and the director's AF_PACKET sockets see them whole. A 20 MB upload and
// a 20 MB download go through DR (a real server on the director's link) and TUN (a far server
// behind the router, user-space decapsulator where the kernel has no ipip), each twice: offloads
// at their defaults, and with the client's TSO/GSO switched off (wire-sized frames only). The
// bytes must arrive intact (SHA-256) every time. With offloads on, the upload must really have
// carried super-frames (rxGsoFrames > 0): DR sends them on whole (no segments cut by ringvs),
// TUN cuts each into segments (gsoSegments) before encapsulating; nothing is refused or cut short.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";
import { payloadBytes, payloadSha256 } from "../../scripts/lab/payload.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING super-frame lab tests: they need root (CI runs them as root)");

const SIZE = 20_000_000;

(LAB ? describe : describe.skip)("GSO super-frames through the director", () => {
  let lab: Lab;
  let tmp = "";
  let file = "";
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, farServers: 1, rsScript: true, http: true, tunDecap: "auto" });
    tmp = mkdtempSync(join(tmpdir(), "ringvs-gso-"));
    file = join(tmp, "upload.bin");
    writeFileSync(file, payloadBytes(SIZE));
  }, 90_000);
  afterAll(async () => {
    await lab?.down();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  async function clientOffloads(on: boolean): Promise<void> {
    const v = on ? "on" : "off";
    const r = await lab.exec(lab.clientNs, ["ethtool", "-K", "eth0", "tso", v, "gso", v]);
    if (r.code !== 0) throw new Error(`ethtool -K eth0 tso ${v} gso ${v}: ${r.stderr}`);
    const k = (await lab.exec(lab.clientNs, ["ethtool", "-k", "eth0"])).stdout;
    expect(k).toContain(`tcp-segmentation-offload: ${v}`);
    expect(k).toContain(`generic-segmentation-offload: ${v}`);
  }

  // Two workers: each ring's large-frame socket is in a second fanout group with the same hash,
  // so a connection's super-frames reach the worker that holds it (else: no flow, dropped).
  // ring 3: the TPACKET_V3 ring (ring.version 3) with its 8 KiB blocks instead of the default V2
  // ring's 2 KiB frames: the same frames must take the large-frame socket either way.
  const cases = [
    { method: "dr", offloads: true, workers: 1 },
    { method: "dr", offloads: false, workers: 1 },
    { method: "tun", offloads: true, workers: 1 },
    { method: "tun", offloads: false, workers: 1 },
    { method: "dr", offloads: true, workers: 2 },
    { method: "tun", offloads: true, workers: 2 },
    { method: "dr", offloads: true, workers: 1, ring: 3 },
    { method: "tun", offloads: true, workers: 2, ring: 3 },
  ] as const;

  for (const c of cases) {
    const { method, offloads, workers } = c;
    const ring = "ring" in c ? c.ring : undefined;
    const label = `${method.toUpperCase()}, client TSO/GSO ${offloads ? "on (the default)" : "off"}${workers > 1 ? `, ${workers} packet workers` : ""}${ring ? `, ring.version ${ring}` : ""}`;
    test(`${label}: a 20 MB upload and a 20 MB download arrive intact`, async () => {
      const rip = method === "dr" ? lab.rsIps[0]! : lab.farIps[0]!;
      // A fresh path MTU for the VIP, so TUN's frag-needed path runs in every case.
      await lab.exec(lab.clientNs, ["ip", "route", "flush", "cache"]);
      if (!offloads) await clientOffloads(false);
      const d = await DirectorProcess.start(lab, {
        config: {
          interface: lab.directorIf,
          workers: { count: workers },
          ...(ring ? { ring: { version: ring } } : {}),
          services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler: "rr", realServers: [{ address: rip, forward: method }] }],
        },
      });
      let s;
      const seconds: Record<string, number> = {};
      try {
        expect(d.ready.unresolved).toEqual([]);
        let t0 = performance.now();
        const up = await lab.exec(lab.clientNs, [
          "curl", "-sS", "--max-time", "30", "-H", "Content-Type: application/octet-stream",
          "--data-binary", `@${file}`, `http://${lab.vips[0]}/upload`,
        ], { timeoutMs: 35_000 });
        seconds.upload = (performance.now() - t0) / 1000;
        expect(up.stderr).toBe("");
        expect(JSON.parse(up.stdout)).toEqual({ bytes: SIZE, sha256: payloadSha256(SIZE) });
        t0 = performance.now();
        const down = await lab.exec(lab.clientNs, ["bash", "-c",
          `curl -sS --max-time 30 http://${lab.vips[0]}/bytes/${SIZE} | sha256sum`], { timeoutMs: 35_000 });
        seconds.download = (performance.now() - t0) / 1000;
        expect(down.stdout.split(" ")[0]).toBe(payloadSha256(SIZE));
      } finally {
        s = await d.stop();
        if (!offloads) await clientOffloads(true);
      }
      const sh = s.shim;
      console.log(`super-frames ${label}: ${JSON.stringify({ seconds, rxFrames: sh.rxFrames, rxGsoFrames: sh.rxGsoFrames, gsoSegments: sh.gsoSegments, tunPackets: sh.tunPackets, tunFragNeeded: sh.tunFragNeeded })}`);
      expect({ txErrors: sh.txErrors, rxTruncated: sh.rxTruncated, gsoDropped: sh.gsoDropped, kernelDrops: sh.kernelDrops, verdictBad: sh.verdictBad })
        .toEqual({ txErrors: 0, rxTruncated: 0, gsoDropped: 0, kernelDrops: 0, verdictBad: 0 });
      // Every frame of the two transfers belonged to a connection the receiving worker knew.
      expect(s.policy.tcpNoFlowDropped).toBeLessThan(10);
      expect(s.workers).toBe(workers);
      if (offloads) {
        // The client really sent super-frames, and they crossed the director as such.
        expect(sh.rxGsoFrames).toBeGreaterThan(0);
        if (method === "dr") expect(sh.gsoSegments).toBe(0);
        else expect(sh.gsoSegments).toBeGreaterThan(sh.rxGsoFrames);
      } else {
        expect(sh.rxGsoFrames).toBe(0);
        expect(sh.rxLargeFrames).toBe(0);
      }
      if (method === "tun") expect(sh.tunPackets).toBeGreaterThan(SIZE / 1480);
    }, 90_000);
  }
});
