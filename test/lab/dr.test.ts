// Direct Routing end to end, on real packets through real kernels: curl in the client namespace,
// ringvs in the director namespace, Bun HTTP servers in real-server namespaces prepared by
// scripts/realserver.sh; replies go straight from the real server to the client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess, drConfig } from "./director.ts";
import { payloadSha256 } from "../../scripts/lab/payload.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING lab tests: they need root and iproute2 (CI runs them as root)");
const labDescribe = LAB ? describe : describe.skip;

async function names(lab: Lab, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await lab.curl(`http://${lab.vips[0]}/`, { timeoutMs: 5000 });
    out.push(r.status === 200 ? r.body.trim() : `error:${r.exitCode}:${r.stderr.trim()}`);
  }
  return out;
}

function tally(xs: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of xs) t[x] = (t[x] ?? 0) + 1;
  return t;
}

async function nftTables(lab: Lab): Promise<string> {
  return (await lab.exec(lab.directorNs, ["nft", "list", "tables"])).stdout;
}

/** Capture RSTs sent by the director's MAC, as the client sees them. */
function captureDirectorRsts(lab: Lab) {
  const proc = lab.spawn(lab.clientNs, [
    "tcpdump", "-i", "eth0", "-nn", "-e", "-l", "--immediate-mode",
    `ether src ${lab.directorMac} and tcp[tcpflags] & tcp-rst != 0`,
  ], { stdout: "pipe", stderr: "pipe" });
  return {
    /** Resolves once tcpdump reports it is listening. */
    async ready(): Promise<void> {
      const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
      let text = "";
      const deadline = Date.now() + 5000;
      while (!text.includes("listening on") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      if (!text.includes("listening on")) throw new Error(`tcpdump did not start: ${text}`);
    },
    async stop(): Promise<string[]> {
      await Bun.sleep(300);
      proc.kill("SIGINT");
      const out = await new Response(proc.stdout as ReadableStream).text();
      return out.split("\n").filter((l) => l.includes("Flags [R"));
    },
  };
}

labDescribe("DR end to end", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 3, rsScript: true, http: true });
  }, 60_000);
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  test("rr over 3 real servers answers 10/10/10 in kernel rotation order", async () => {
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr" }) });
    try {
      const got = await names(lab, 30);
      // IPVS lists real servers newest first, so rr starts with the last one added.
      expect(got).toEqual(Array.from({ length: 30 }, (_, i) => ["rs3", "rs2", "rs1"][i % 3]!));
    } finally {
      const s = await d.stop();
      expect(s.exitCode).toBe(0);
    }
  }, 60_000);

  test("wrr 3:2:1 over 60 new connections gives exactly 30/20/10", async () => {
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "wrr", weights: [3, 2, 1] }) });
    try {
      expect(tally(await names(lab, 60))).toEqual({ rs1: 30, rs2: 20, rs3: 10 });
    } finally {
      await d.stop();
    }
  }, 90_000);

  test("a 20 MB download arrives intact and the reply never crosses the director", async () => {
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr" }) });
    let stats;
    try {
      const size = 20_000_000;
      const r = await lab.exec(lab.clientNs, ["bash", "-c",
        `curl -sS --max-time 30 http://${lab.vips[0]}/bytes/${size} | sha256sum`], { timeoutMs: 35_000 });
      expect(r.stdout.split(" ")[0]).toBe(payloadSha256(size));
    } finally {
      stats = await d.stop();
    }
    const served = stats.services[0]!.dests.filter((x) => x.packets > 0);
    // Every packet of the connection went to one real server.
    expect(served.length).toBe(1);
    // The director saw only client->VIP frames: every IPv4 frame was service traffic, none came
    // from the VIP, and what it forwarded is a small fraction of the 20 MB (ACKs, not data).
    expect(stats.policy.replyFramesSeen).toBe(0);
    expect(stats.shim.parsedIpv4).toBe(stats.policy.vipPackets);
    // Every VIP packet was forwarded to that one server, except stragglers of the previous test's
    // connections (their last ACKs can reach this new director, which has no flow for them and
    // drops them as IPVS would).
    expect(served[0]!.packets + stats.policy.tcpNoFlowDropped).toBe(stats.policy.vipPackets);
    expect(stats.policy.tcpNoFlowDropped).toBeLessThan(10);
    expect(served[0]!.bytes).toBeLessThan(2_000_000);
    expect(stats.shim.kernelDrops).toBe(0);
  }, 90_000);

  test("VIP not on the director: ringvs answers ARP, announces it, and no RST comes back", async () => {
    // A stale, wrong entry on the client: only the gratuitous ARP can correct it before traffic.
    await lab.exec(lab.clientNs, ["ip", "neigh", "replace", lab.vips[0]!, "lladdr", "02:00:00:00:00:99", "nud", "stale", "dev", "eth0"]);
    const cap = captureDirectorRsts(lab);
    await cap.ready();
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr", vipMode: "arp" }) });
    let arpAnswered = 0;
    try {
      expect(d.ready.vips).toEqual({ local: [], arp: [lab.vips[0]!] });
      await Bun.sleep(2500); // GARPs go out at 0, 1 and 2 s; the kernel ignores updates within 1 s
      const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show", lab.vips[0]!, "dev", "eth0"])).stdout;
      expect(neigh).toContain(lab.directorMac);
      // Now make the client ask: the answer can only come from ringvs.
      await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
      expect(await names(lab, 6)).toEqual(["rs3", "rs2", "rs1", "rs3", "rs2", "rs1"]);
    } finally {
      arpAnswered = (await d.stop()).policy.arpAnswered;
    }
    expect(arpAnswered).toBeGreaterThanOrEqual(1);
    expect(await cap.stop()).toEqual([]);
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
  }, 60_000);

  test("VIP configured on the director: its kernel sends no RST while ringvs runs (and does without it)", async () => {
    const vip = lab.vips[0]!;
    await lab.exec(lab.directorNs, ["ip", "addr", "add", `${vip}/32`, "dev", "eth0", "label", "eth0:1"]);
    try {
      // Control: with the VIP local and no director, the kernel refuses the connection with RST.
      const control = captureDirectorRsts(lab);
      await control.ready();
      const refused = await lab.curl(`http://${vip}/`, { timeoutMs: 3000 });
      expect(refused.exitCode).toBe(7); // curl: connection refused
      expect((await control.stop()).length).toBeGreaterThan(0);

      const cap = captureDirectorRsts(lab);
      await cap.ready();
      const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr", vipMode: "local" }) });
      try {
        expect(await nftTables(lab)).toContain("table netdev ringvs_eth0_");
        expect(await names(lab, 9)).toEqual(["rs3", "rs2", "rs1", "rs3", "rs2", "rs1", "rs3", "rs2", "rs1"]);
      } finally {
        const s = await d.stop();
        expect(s.exitCode).toBe(0);
        expect(s.policy.arpAnswered).toBe(0); // the kernel owns ARP for a local VIP
      }
      expect(await cap.stop()).toEqual([]);
      // Clean stop: the kernel rule is gone.
      expect(await nftTables(lab)).not.toContain("ringvs_");
    } finally {
      await lab.exec(lab.directorNs, ["ip", "addr", "del", `${vip}/32`, "dev", "eth0"]);
      await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    }
  }, 60_000);

  test("an ipvsadm-save -n rules file is served as it is", async () => {
    const vip = lab.vips[0]!;
    const rules = [
      `-A -t ${vip}:80 -s wrr`,
      ...lab.rsIps.map((ip, i) => `-a -t ${vip}:80 -r ${ip}:80 -g -w ${[1, 1, 2][i]}`),
      "",
    ].join("\n");
    const d = await DirectorProcess.start(lab, { rules });
    try {
      expect(tally(await names(lab, 8))).toEqual({ rs1: 2, rs2: 2, rs3: 4 });
    } finally {
      await d.stop();
    }
  }, 60_000);

  test("a real server without a MAC is reported and never chosen", async () => {
    const config = drConfig(lab, { scheduler: "rr" }) as { services: { realServers: object[] }[] };
    config.services[0]!.realServers.push({ address: "198.18.0.60", weight: 5 });
    const d = await DirectorProcess.start(lab, { config });
    expect(d.ready.unresolved).toEqual(["198.18.0.60"]);
    try {
      // The ghost is the newest entry, so rr would pick it first if it were eligible.
      expect(await names(lab, 6)).toEqual(["rs3", "rs2", "rs1", "rs3", "rs2", "rs1"]);
    } finally {
      const s = await d.stop();
      const ghost = s.services[0]!.dests.find((x) => x.address === "198.18.0.60")!;
      expect(ghost.mac).toBeNull();
      expect(ghost.packets).toBe(0);
    }
    expect(d.stderr).toContain("198.18.0.60");
  }, 60_000);

  test("a bad config names the field and value, and nothing starts", async () => {
    const config = drConfig(lab, { scheduler: "rr", weights: [1, 70000, 1] });
    await expect(DirectorProcess.start(lab, { config, timeoutMs: 5000 })).rejects.toThrow(
      /services\[0\]\.realServers\[1\]\.weight: 70000/,
    );
    expect(await nftTables(lab)).not.toContain("ringvs_");
  }, 30_000);

  test("stop removes the neighbour entries ringvs asked the kernel to manage", async () => {
    const d = await DirectorProcess.start(lab, { config: drConfig(lab, { scheduler: "rr" }) });
    const during = (await lab.exec(lab.directorNs, ["ip", "neigh", "show", "dev", "eth0"])).stdout;
    expect(during.split("\n").filter((l) => l.includes("managed")).length).toBe(3);
    await d.stop();
    const after = (await lab.exec(lab.directorNs, ["ip", "neigh", "show", "dev", "eth0"])).stdout;
    expect(after).not.toContain("managed");
  }, 30_000);
});
