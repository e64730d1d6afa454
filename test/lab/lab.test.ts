// End-to-end check of the lab itself: topology, HTTP servers, deterministic
// payload, the DR real-server behaviour (no ARP for the VIP, direct answers from
// the VIP when a frame is delivered to the real server's MAC), and teardown.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { payloadSha256 } from "../../scripts/lab/payload.ts";
import { CLIENT_IP, DEFAULT_VIP, LAB_SCRIPT, Lab, RS_SCRIPT, canRunLab, labMac, rsIp } from "./harness.ts";

const runnable = canRunLab();
if (!runnable) console.warn("SKIP test/lab/lab.test.ts: needs root, ip and curl (network namespaces)");

describe.skipIf(!runnable)("lab", () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.up({ realServers: 3, vip: DEFAULT_VIP, rsScript: true, http: true });
  }, 60_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  test("topology: names, addresses, fixed MACs, MTU, no IPv6", async () => {
    expect(lab.rsNs).toEqual([`${lab.prefix}rs1`, `${lab.prefix}rs2`, `${lab.prefix}rs3`]);
    expect(lab.rsIps).toEqual(["198.18.0.11", "198.18.0.12", "198.18.0.13"]);
    expect(lab.rsMacs).toEqual(["02:72:76:00:00:0b", "02:72:76:00:00:0c", "02:72:76:00:00:0d"]);
    expect(lab.env.LAB_DIRECTOR_IF).toBe("eth0");
    expect(Lab.existingNamespaces(lab.prefix).sort()).toEqual(
      [lab.clientNs, lab.directorNs, ...lab.rsNs, lab.switchNs].sort(),
    );
    const hosts: [string, string][] = [
      [lab.clientNs, CLIENT_IP],
      [lab.directorNs, "198.18.0.3"],
      ...lab.rsNs.map((ns, i): [string, string] => [ns, rsIp(i + 1)]),
    ];
    for (const [ns, ip] of hosts) {
      const link = JSON.parse((await lab.exec(ns, ["ip", "-j", "addr", "show", "dev", "eth0"])).stdout)[0];
      expect(link.mtu).toBe(1500);
      expect(link.address).toBe(labMac(ip));
      expect(link.operstate).toBe("UP");
      expect(link.addr_info.map((a: { family: string; local: string; prefixlen: number }) => `${a.family} ${a.local}/${a.prefixlen}`)).toEqual([
        `inet ${ip}/24`,
      ]);
      const v6 = await lab.exec(ns, ["cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"]);
      expect(v6.stdout).toBe("1\n");
    }
    const br = JSON.parse((await lab.exec(lab.switchNs, ["ip", "-j", "-d", "link", "show", "dev", "br0"])).stdout)[0];
    expect(br.linkinfo.info_data.stp_state).toBe(0);
    expect(br.linkinfo.info_data.ageing_time).toBe(30000);
    const ports = (await lab.exec(lab.switchNs, ["ip", "-o", "link", "show", "master", "br0"])).stdout;
    expect(ports.match(/^\d+: (\S+)@/gm)!.map((l) => l.split(" ")[1].split("@")[0]).sort()).toEqual(
      ["cl", "dir", "rs1", "rs2", "rs3"],
    );
  }, 30_000);

  test("client reaches every real server directly and gets its name", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await lab.curl(`http://${lab.rsIps[i]}/`, { headers: { Connection: "close" } });
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`rs${i + 1}\n`);
      expect(r.headers["x-served-by"]).toBe(`rs${i + 1}`);
      expect(r.headers["x-client-addr"]).toBe(CLIENT_IP);
      expect(r.headers["connection"]).toBe("close");
    }
  }, 30_000);

  test("GET /bytes/20000000 streams exactly the payload.ts bytes", async () => {
    const n = 20_000_000;
    const r = await lab.curl(`http://${lab.rsIps[1]}/bytes/${n}`, { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(r.headers["x-served-by"]).toBe("rs2");
    expect(r.bytes.length).toBe(n);
    const got = new Bun.CryptoHasher("sha256").update(r.bytes).digest("hex");
    expect(got).toBe(payloadSha256(n));
  }, 60_000);

  test("GET /bytes above 1e9 is refused", async () => {
    const r = await lab.curl(`http://${lab.rsIps[0]}/bytes/1000000001`);
    expect(r.status).toBe(400);
  }, 30_000);

  test("POST /upload returns byte count and SHA-256 of the body", async () => {
    const body = new Uint8Array(3_000_001).map((_, i) => (i * 31 + 7) & 0xff);
    const r = await lab.curl(`http://${lab.rsIps[2]}/upload`, { data: body, timeoutMs: 20_000 });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      bytes: body.length,
      sha256: new Bun.CryptoHasher("sha256").update(body).digest("hex"),
    });
  }, 30_000);

  test("real servers hold the VIP on lo and do not answer ARP for it", async () => {
    for (const ns of lab.rsNs) {
      const st = await lab.exec(ns, ["bash", RS_SCRIPT, "status", DEFAULT_VIP], {
        env: { RINGVS_RS_STATE_DIR: lab.stateDir },
      });
      expect(st.code).toBe(0);
    }
    // Nobody may resolve the VIP: the director has none yet and every real
    // server ignores ARP for an address that is only on lo (arp_ignore=1).
    const r = await lab.curl(`http://${DEFAULT_VIP}/`, { timeoutMs: 3_500 });
    expect(r.status).toBe(0);
    const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show", DEFAULT_VIP])).stdout;
    expect(neigh).not.toContain("lladdr");
    expect(neigh).toMatch(/INCOMPLETE|FAILED/);
  }, 30_000);

  test("control: with arp_ignore=0 on rs1 the ARP problem appears", async () => {
    // Proves the previous test can fail: the same probe resolves the VIP to rs1.
    const set = (v: string) => lab.exec(lab.rsNs[0], ["sysctl", "-qw", `net.ipv4.conf.all.arp_ignore=${v}`, `net.ipv4.conf.lo.arp_ignore=${v}`]);
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    await set("0");
    try {
      const r = await lab.curl(`http://${DEFAULT_VIP}/`, { timeoutMs: 5_000 });
      expect(r.body).toBe("rs1\n");
      const neigh = (await lab.exec(lab.clientNs, ["ip", "neigh", "show", DEFAULT_VIP])).stdout;
      expect(neigh).toContain(`lladdr ${lab.rsMacs[0]}`);
    } finally {
      await set("1");
      await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    }
  }, 30_000);

  test("a frame for the VIP delivered to a real server's MAC is answered directly from the VIP", async () => {
    // What the director does in DR mode, done by hand: pin VIP -> rs2's MAC.
    await lab.exec(lab.clientNs, ["ip", "neigh", "replace", DEFAULT_VIP, "lladdr", lab.rsMacs[1], "dev", "eth0", "nud", "permanent"]);
    try {
      const r = await lab.curl(`http://${DEFAULT_VIP}/`, { headers: { Connection: "close" } });
      expect(r.exitCode).toBe(0);
      expect(r.body).toBe("rs2\n");
      expect(r.headers["x-client-addr"]).toBe(CLIENT_IP);
      // While a slow download runs, rs2's socket table shows the connection
      // with the VIP as local address: rs2 answers from the VIP, not its RIP.
      const slow = lab.curl(`http://${DEFAULT_VIP}/bytes/4000000`, { timeoutMs: 20_000, rate: "1M" });
      const tuple = new RegExp(`${DEFAULT_VIP.replaceAll(".", "\\.")}:80\\s+${CLIENT_IP.replaceAll(".", "\\.")}:\\d+`);
      let ss = "";
      for (let i = 0; i < 100 && !tuple.test(ss); i++) {
        if (i) await Bun.sleep(20);
        ss = (await lab.exec(lab.rsNs[1], ["ss", "-Htn", "state", "established"])).stdout;
      }
      expect(ss).toMatch(tuple);
      const big = await slow;
      expect(big.exitCode).toBe(0);
      expect(big.bytes.length).toBe(4_000_000);
    } finally {
      await lab.exec(lab.clientNs, ["ip", "neigh", "del", DEFAULT_VIP, "dev", "eth0"]);
    }
  }, 30_000);
});

describe.skipIf(!runnable)("lab teardown", () => {
  test("down removes every namespace, kills the servers, and is idempotent", async () => {
    const lab = await Lab.up({ realServers: 2, rsScript: true, http: true });
    const names = Lab.existingNamespaces(lab.prefix);
    expect(names.length).toBe(5);
    const pids = Bun.spawnSync(["ip", "netns", "pids", lab.rsNs[0]]).stdout.toString().split("\n").filter(Boolean);
    expect(pids.length).toBeGreaterThanOrEqual(1); // the HTTP server
    await lab.down();
    expect(Lab.existingNamespaces(lab.prefix)).toEqual([]);
    for (const pid of pids) expect(() => process.kill(Number(pid), 0)).toThrow();
    await lab.down();
    const again = Bun.spawnSync(["bash", LAB_SCRIPT, "down", lab.prefix]);
    expect(again.exitCode).toBe(0);
  }, 60_000);
});
