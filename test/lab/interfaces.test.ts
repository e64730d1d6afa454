// Several receiving interfaces (`--interface eth0,eth1`): a director with two client-side links,
// the lab's switch on eth0 (client, real server) and a second client network on eth1, serves VIP
// traffic arriving on either. The real server sits on eth0's link, so a client on eth1 is served
// two-armed: received on eth1, sent to the real server out of eth0; its replies go back through
// the director's kernel, as through any router (replies never cross ringvs). Counters are kept
// per interface, every interface's kernel copy of VIP traffic is dropped by the guard, and with
// two workers per interface each interface has its own fanout group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunLab, Lab } from "./harness.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, DirectorProcess } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING multi-interface lab tests: they need root (CI runs them as root)");

/** The second client network, on the director's eth1 (inside 198.18.0.0/15). */
const NET2 = "198.18.50";
const DIR2_IP = `${NET2}.1`;
const CLIENT2_IP = `${NET2}.2`;

(LAB ? describe : describe.skip)("several receiving interfaces", () => {
  let lab: Lab;
  let client2 = "";
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, rsScript: true, http: true });
    client2 = `${lab.prefix}c2`;
    const sh = async (ns: string | null, cmd: string[]) => {
      const r = ns ? await lab.exec(ns, cmd) : { code: Bun.spawnSync(cmd).exitCode, stderr: "", stdout: "" };
      if (r.code !== 0) throw new Error(`${cmd.join(" ")}${ns ? ` in ${ns}` : ""}: ${r.stderr}`);
    };
    await sh(null, ["ip", "netns", "add", client2]);
    await sh(client2, ["ip", "link", "set", "lo", "up"]);
    await sh(lab.directorNs, ["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", client2]);
    await sh(lab.directorNs, ["ip", "addr", "add", `${DIR2_IP}/24`, "dev", "eth1"]);
    await sh(lab.directorNs, ["ip", "link", "set", "eth1", "up"]);
    await sh(lab.directorNs, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await sh(client2, ["ip", "addr", "add", `${CLIENT2_IP}/24`, "dev", "eth0"]);
    await sh(client2, ["ip", "link", "set", "eth0", "up"]);
    await sh(client2, ["ip", "route", "add", "default", "via", DIR2_IP]);
    // The real server's replies to the second network go through the director's kernel.
    await sh(lab.rsNs[0]!, ["ip", "route", "add", `${NET2}.0/24`, "via", lab.directorIp]);
  }, 60_000);
  afterAll(async () => {
    if (client2) Bun.spawnSync(["ip", "netns", "del", client2]);
    await lab?.down();
    expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).not.toContain(client2 || "-");
  }, 30_000);

  async function fetchFrom(ns: string): Promise<string> {
    const r = await lab.curl(`http://${lab.vips[0]}/`, { ns, timeoutMs: 5000 });
    return r.status === 200 ? r.body.trim() : `error:${r.exitCode}:${r.stderr.trim()}`;
  }

  for (const workers of [1, 2]) {
    test(`clients on eth0 and on eth1 are both served, counted per interface (${workers} worker${workers > 1 ? "s" : ""} each)`, async () => {
      const d = await DirectorProcess.start(lab, {
        config: {
          interfaces: [lab.directorIf, "eth1"],
          vipMode: "arp",
          workers: { count: workers },
          services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler: "rr", realServers: [{ address: lab.rsIps[0], forward: "dr" }] }],
        },
      });
      let s;
      try {
        expect(d.ready.unresolved).toEqual([]);
        expect((d.ready as unknown as { interface: string }).interface).toBe(`${lab.directorIf},eth1`);
        const got: string[] = [];
        for (let i = 0; i < 3; i++) got.push(await fetchFrom(lab.clientNs), await fetchFrom(client2));
        expect(got).toEqual(Array(6).fill("rs1"));
        // The kernel's own copy of VIP traffic is dropped on both interfaces.
        const nft = (await lab.exec(lab.directorNs, ["nft", "list", "ruleset"])).stdout;
        expect(nft).toContain(`device "${lab.directorIf}"`);
        expect(nft).toContain(`device "eth1"`);
      } finally {
        s = await d.stop();
      }
      expect(s.interface).toBe(`${lab.directorIf},eth1`);
      expect(s.perInterface.map((i) => i.interface)).toEqual([lab.directorIf, "eth1"]);
      for (const i of s.perInterface) {
        expect(i.rxFrames).toBeGreaterThan(0);
        expect(i.txFrames).toBeGreaterThan(0);
        expect(i.txErrors).toBe(0);
      }
      expect(s.workers).toBe(2 * workers);
      expect(s.perWorker.map((w) => w.interface)).toEqual([
        ...Array(workers).fill(lab.directorIf), ...Array(workers).fill("eth1"),
      ]);
      // Three connections from each client, all to rs1, none refused for want of a flow.
      expect(s.policy.newFlows).toBe(6);
      expect(s.services[0]!.dests[0]!.conns).toBe(6);
      expect(s.shim.verdictBad).toBe(0);
    }, 60_000);
  }

  test("the interfaces cannot change on reload; an interface that does not exist is named and nothing starts", async () => {
    const d = await DirectorProcess.start(lab, {
      config: {
        interfaces: [lab.directorIf, "eth1"],
        services: [{ protocol: "tcp", address: lab.vips[0], port: 80, scheduler: "rr", realServers: [{ address: lab.rsIps[0], forward: "dr" }] }],
      },
    });
    try {
      await Bun.write(d.configPath, JSON.stringify({ interface: lab.directorIf, services: [] }));
      const r = await d.cli(lab, ["reload"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`the interfaces cannot change while running (${lab.directorIf},eth1 -> ${lab.directorIf})`);
      expect(await fetchFrom(client2)).toBe("rs1");
    } finally {
      await d.stop();
    }
    // An interface of the list that does not exist stops the start, by name, leaving nothing.
    const tmp = mkdtempSync(join(tmpdir(), "ringvs-ifs-"));
    try {
      const bad = await lab.exec(lab.directorNs, [
        "timeout", "20", "bun", CLI, "serve", "--interface", `${lab.directorIf},nope0`, "--socket", join(tmp, "s.sock"),
      ], { timeoutMs: 25_000 });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("interface nope0 does not exist");
      expect((await lab.exec(lab.directorNs, ["nft", "list", "tables"])).stdout).not.toContain("ringvs_");
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
