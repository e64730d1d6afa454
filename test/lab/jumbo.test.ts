// Jumbo frames: every link of the lab at MTU 9000 (hosts, switch ports, bridges, router), offloads
// at their defaults. A 9000-byte frame does not fit the director's 8 KiB ring blocks, so it takes
// the large-frame socket (native/large_frames.c), like a super-frame. Uploads and downloads
// through DR and TUN must arrive intact; through TUN, a full 9000-byte client packet with DF
// needs 9020 bytes inside IPIP, so the director answers frag-needed with 8980 (9000 less the
// outer header) and the client's path MTU for the VIP drops to that.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";
import { payloadBytes, payloadSha256 } from "../../scripts/lab/payload.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING jumbo-frame lab tests: they need root (CI runs them as root)");

const MTU = 9000;
const SIZE = 20_000_000;

(LAB ? describe : describe.skip)("jumbo frames (MTU 9000 on every link)", () => {
  let lab: Lab;
  let tmp = "";
  let file = "";
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, farServers: 1, rsScript: true, http: true, tunDecap: "auto" });
    // Bridges first take the ports' MTU as they rise; veth pairs need both ends raised.
    for (const ns of Lab.existingNamespaces(lab.prefix)) {
      const links = JSON.parse((await lab.exec(ns, ["ip", "-j", "link", "show"])).stdout) as { ifname: string }[];
      for (const { ifname } of links) {
        if (ifname === "lo" || ifname === "tunl0") continue;
        const r = await lab.exec(ns, ["ip", "link", "set", "dev", ifname, "mtu", String(MTU)]);
        if (r.code !== 0) throw new Error(`mtu ${MTU} on ${ifname} in ${ns}: ${r.stderr}`);
      }
    }
    for (const ns of [lab.clientNs, lab.directorNs, lab.rsNs[0]!, lab.farNs[0]!]) {
      expect((await lab.exec(ns, ["ip", "link", "show", "eth0"])).stdout).toContain(`mtu ${MTU} `);
    }
    tmp = mkdtempSync(join(tmpdir(), "ringvs-jumbo-"));
    file = join(tmp, "upload.bin");
    writeFileSync(file, payloadBytes(SIZE));
  }, 90_000);
  afterAll(async () => {
    await lab?.down();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  for (const method of ["dr", "tun"] as const) {
    test(`${method.toUpperCase()}: a 20 MB upload and a 20 MB download arrive intact`, async () => {
      const rip = method === "dr" ? lab.rsIps[0]! : lab.farIps[0]!;
      await lab.exec(lab.clientNs, ["ip", "route", "flush", "cache"]);
      const d = await DirectorProcess.start(lab, {
        config: {
          interface: lab.directorIf,
          services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler: "rr", realServers: [{ address: rip, forward: method }] }],
        },
      });
      let s;
      let pmtu = "";
      try {
        expect(d.ready.unresolved).toEqual([]);
        const up = await lab.exec(lab.clientNs, [
          "curl", "-sS", "--max-time", "30", "-H", "Content-Type: application/octet-stream",
          "--data-binary", `@${file}`, `http://${lab.vips[0]}/upload`,
        ], { timeoutMs: 35_000 });
        expect(up.stderr).toBe("");
        expect(JSON.parse(up.stdout)).toEqual({ bytes: SIZE, sha256: payloadSha256(SIZE) });
        pmtu = (await lab.exec(lab.clientNs, ["ip", "route", "get", lab.vips[0]!])).stdout;
        const down = await lab.exec(lab.clientNs, ["bash", "-c",
          `curl -sS --max-time 30 http://${lab.vips[0]}/bytes/${SIZE} | sha256sum`], { timeoutMs: 35_000 });
        expect(down.stdout.split(" ")[0]).toBe(payloadSha256(SIZE));
      } finally {
        s = await d.stop();
      }
      const sh = s.shim;
      expect({ txErrors: sh.txErrors, rxTruncated: sh.rxTruncated, gsoDropped: sh.gsoDropped, verdictBad: sh.verdictBad })
        .toEqual({ txErrors: 0, rxTruncated: 0, gsoDropped: 0, verdictBad: 0 });
      // Frames above the ring's blocks came whole through the large-frame socket.
      expect(sh.rxLargeFrames).toBeGreaterThan(0);
      if (method === "tun") {
        expect(sh.tunFragNeeded).toBeGreaterThan(0);
        expect(pmtu).toContain(`mtu ${MTU - 20}`);
      } else {
        expect(sh.tunFragNeeded).toBe(0);
        expect(pmtu).not.toContain("mtu ");
      }
    }, 90_000);
  }
});
