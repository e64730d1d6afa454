// IP Tunneling end to end: ringvs encapsulates client packets in IPIP towards real servers on a
// routed far network (198.19.0.0/24 behind a router); each far server decapsulates (the kernel's
// tunl0 where it has ipip, else the lab's user-space decapsulator writing into a TUN device named
// tunl0), its real TCP stack answers from the VIP straight back to the client through the router.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";
import { payloadBytes, payloadSha256 } from "../../scripts/lab/payload.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING TUN lab tests: they need root (CI runs them as root)");

(LAB ? describe : describe.skip)("TUN end to end", () => {
  let lab: Lab;
  let tmp: string;
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, farServers: 2, rsScript: true, http: true, tunDecap: "auto" });
    tmp = mkdtempSync(join(tmpdir(), "ringvs-tun-"));
  }, 90_000);
  afterAll(async () => {
    await lab?.down();
    rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  function config(realServers: object[], scheduler = "rr"): object {
    return {
      interface: lab.directorIf,
      services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler, realServers }],
    };
  }

  async function names(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await lab.curl(`http://${lab.vips[0]}/`, { timeoutMs: 5000 });
      out.push(r.status === 200 ? r.body.trim() : `error:${r.exitCode}:${r.stderr.trim()}`);
    }
    return out;
  }

  test("requests to the VIP are answered by TUN real servers on the far network; replies bypass the director", async () => {
    const d = await DirectorProcess.start(lab, {
      config: config(lab.farIps.map((address) => ({ address, forward: "tun" }))),
    });
    let s;
    try {
      // List order is newest first: far2, far1.
      expect(await names(6)).toEqual(["far2", "far1", "far2", "far1", "far2", "far1"]);
    } finally {
      s = await d.stop();
    }
    expect(s.shim.tunPackets).toBeGreaterThan(0);
    expect(s.shim.tunPackets).toBe(s.policy.vipPackets - s.policy.tcpNoFlowDropped);
    expect(s.policy.replyFramesSeen).toBe(0);
    expect(s.shim.parsedIpv4).toBe(s.policy.vipPackets);
    expect(s.shim.txErrors).toBe(0);
  }, 60_000);

  test("a mixed service (one DR, one TUN real server) answers from both", async () => {
    const d = await DirectorProcess.start(lab, {
      config: config([{ address: lab.rsIps[0], forward: "dr" }, { address: lab.farIps[0], forward: "tun" }]),
    });
    try {
      expect(await names(4)).toEqual(["far1", "rs1", "far1", "rs1"]);
    } finally {
      await d.stop();
    }
  }, 60_000);

  test("a 20 MB upload completes: full-size segments get ICMP fragmentation-needed and the client's PMTU drops to 1480", async () => {
    const size = 20_000_000;
    const file = join(tmp, "upload.bin");
    writeFileSync(file, payloadBytes(size));
    // A fresh path MTU for the VIP on the client, so the ICMP path is exercised every run.
    await lab.exec(lab.clientNs, ["ip", "route", "flush", "cache"]);
    const d = await DirectorProcess.start(lab, { config: config([{ address: lab.farIps[0], forward: "tun" }]) });
    let s;
    try {
      const r = await lab.exec(lab.clientNs, [
        "curl", "-sS", "--max-time", "60", "-H", "Content-Type: application/octet-stream",
        "--data-binary", `@${file}`, `http://${lab.vips[0]}/upload`,
      ], { timeoutMs: 65_000 });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ bytes: size, sha256: payloadSha256(size) });
      const pmtu = (await lab.exec(lab.clientNs, ["ip", "route", "get", lab.vips[0]!])).stdout;
      expect(pmtu).toContain("mtu 1480");
    } finally {
      s = await d.stop();
    }
    expect(s.shim.tunFragNeeded).toBeGreaterThan(0);
    expect(s.shim.tunPackets).toBeGreaterThan(size / 1480);
    expect(s.shim.txErrors).toBe(0);
  }, 90_000);
});
