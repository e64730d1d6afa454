// A VIP on the director's lo, not on the NIC ringvs listens on: the "local" setup. The director's
// kernel answers the client's ARP for it (arp_ignore=0 answers for any local address on any
// interface), ringvs forwards the traffic and its nftables guard keeps the kernel from answering
// the SYNs itself. With arp_ignore=1 on the receiving NIC the kernel stays silent, and ringvs says
// so when it starts, and when a service on such a VIP is added at runtime.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";

const LAB = canRunLab("nft");
if (!LAB) console.warn("SKIPPING local-VIP lab tests: they need root, iproute2 and nft (CI runs them as root)");

const SYSCTLS = ["arp_ignore", "arp_filter", "rp_filter"] as const;

(LAB ? describe : describe.skip)("VIP on the director's lo", () => {
  let lab: Lab;
  const vip = () => lab.vips[0]!;

  /** Sets net.ipv4.conf.{all,eth0}.NAME in the director's namespace. */
  async function directorSysctl(name: string, all: number, eth0: number): Promise<void> {
    const r = await lab.exec(lab.directorNs, ["sysctl", "-qw", `net.ipv4.conf.all.${name}=${all}`, `net.ipv4.conf.eth0.${name}=${eth0}`]);
    if (r.code !== 0) throw new Error(`sysctl ${name} in ${lab.directorNs}: ${r.stderr.trim()}`);
  }

  beforeAll(async () => {
    lab = await Lab.up({ realServers: 2, rsScript: true, http: true });
    // A namespace inherits the root's IPv4 conf/all values; start from the kernel defaults.
    for (const name of SYSCTLS) await directorSysctl(name, 0, 0);
    const r = await lab.exec(lab.directorNs, ["ip", "addr", "add", `${vip()}/32`, "dev", "lo"]);
    if (r.code !== 0) throw new Error(`ip addr add ${vip()}/32 dev lo: ${r.stderr.trim()}`);
  }, 60_000);
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  const rules = () => [
    `-A -t ${vip()}:80 -s rr`,
    ...lab.rsIps.map((ip) => `-a -t ${vip()}:80 -r ${ip}:80 -g -w 1`),
    "",
  ].join("\n");

  async function flushClient(): Promise<void> {
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
  }

  async function who(timeoutMs = 5000): Promise<string> {
    const r = await lab.curl(`http://${vip()}/`, { timeoutMs });
    return r.status === 200 ? r.body.trim() : `error:${r.exitCode}`;
  }

  /** Waits (up to 2 s) until the director's log contains `text`; returns the log. */
  async function logContaining(d: DirectorProcess, text: string): Promise<string> {
    const deadline = Date.now() + 2000;
    while (!d.stderr.includes(text) && Date.now() < deadline) await Bun.sleep(50);
    return d.stderr;
  }

  test("--vip-mode local: the kernel answers ARP for the VIP on lo and TCP through it is served", async () => {
    await flushClient();
    const d = await DirectorProcess.start(lab, { rules: rules(), vipMode: "local" });
    try {
      expect(d.ready.vips).toEqual({ local: [vip()], arp: [] });
      const nft = (await lab.exec(lab.directorNs, ["nft", "list", "tables"])).stdout;
      expect(nft).toContain("table netdev ringvs_eth0_");
      // rr starts with the newest real server, as IPVS does.
      expect([await who(), await who(), await who(), await who()]).toEqual(["rs2", "rs1", "rs2", "rs1"]);
      const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show", vip(), "dev", "eth0"])).stdout;
      expect(neigh).toContain(lab.directorMac);
    } finally {
      const s = await d.stop();
      expect(s.exitCode).toBe(0);
      expect(s.policy.arpAnswered).toBe(0); // the kernel answered, not ringvs
      expect(s.policy.newFlows).toBe(4);
      expect(s.policy.replyFramesSeen).toBe(0);
    }
    // Every sysctl is at its default, so there is nothing to warn about.
    for (const name of SYSCTLS) expect(d.stderr).not.toContain(name);
  }, 30_000);

  test("--vip-mode arp refuses a VIP that is on lo", async () => {
    await expect(DirectorProcess.start(lab, { rules: rules(), vipMode: "arp", timeoutMs: 5000 })).rejects.toThrow(
      `vipMode "arp": VIP ${vip()} is configured on lo`,
    );
  }, 15_000);

  test("arp_ignore=1 on the NIC: ringvs warns at start, and indeed the client cannot resolve the VIP", async () => {
    await directorSysctl("arp_ignore", 0, 1);
    await flushClient();
    try {
      const d = await DirectorProcess.start(lab, { rules: rules() }); // vipMode auto
      let arpAnswered = -1;
      try {
        expect(d.ready.vips).toEqual({ local: [vip()], arp: [] });
        const log = await logContaining(d, "arp_ignore=1 on eth0");
        expect(log).toContain(`arp_ignore=1 on eth0: the kernel answers ARP only for addresses configured on eth0 itself, so it will not answer for ${vip()} (on lo)`);
        expect(log).toContain("net.ipv4.conf.eth0.arp_ignore=0");
        expect(await who(1500)).toMatch(/^error:/);
        const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show", vip(), "dev", "eth0"])).stdout;
        expect(neigh).not.toContain(lab.directorMac);
      } finally {
        arpAnswered = (await d.stop()).policy.arpAnswered;
      }
      expect(arpAnswered).toBe(0); // ringvs leaves ARP for a local VIP to the kernel
    } finally {
      await directorSysctl("arp_ignore", 0, 0);
      await flushClient();
    }
  }, 30_000);

  test("arp_ignore=1 on the NIC: the warning also comes when the service is added at runtime", async () => {
    await directorSysctl("arp_ignore", 0, 1);
    try {
      const d = await DirectorProcess.start(lab, { noRules: true });
      try {
        await Bun.sleep(200);
        expect(d.stderr).not.toContain("arp_ignore"); // no VIP yet, nothing to warn about
        expect((await d.cli(lab, ["-A", "-t", `${vip()}:80`, "-s", "rr"])).code).toBe(0);
        const log = await logContaining(d, "arp_ignore=1 on eth0");
        expect(log).toContain(`so it will not answer for ${vip()} (on lo)`);
        // Said once per VIP, not again on every later change.
        expect((await d.cli(lab, ["-a", "-t", `${vip()}:80`, "-r", lab.rsIps[0]!, "-g"])).code).toBe(0);
        await Bun.sleep(200);
        expect(d.stderr.split("arp_ignore=1 on eth0").length - 1).toBe(1);
      } finally {
        await d.stop();
      }
    } finally {
      await directorSysctl("arp_ignore", 0, 0);
    }
  }, 30_000);
});
