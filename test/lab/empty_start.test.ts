// An empty start, end to end: `ringvs serve --interface eth0` with no rules at all, or with an
// empty rules file, starts with an empty table; an operator adds the service with -A/-a through
// the control socket, client traffic through the VIP is served (replies straight from the real
// server), and a reload of the empty rules empties the table again, after which ringvs neither
// answers ARP for the VIP nor forwards what still arrives for it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING empty-start lab tests: they need root and iproute2 (CI runs them as root)");

/** ipvsadm -L -n of an empty table: the version line, the two title lines, nothing else. */
const EMPTY_LISTING = new RegExp(
  "^IP Virtual Server version \\d+\\.\\d+\\.\\d+ \\(size=\\d+\\)\\n" +
    "Prot LocalAddress:Port Scheduler Flags\\n" +
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\\n$",
);

(LAB ? describe : describe.skip)("empty start, runtime -A/-a, reload to empty", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, rsScript: true, http: true });
  }, 60_000);
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  const vip = () => lab.vips[0]!;

  async function get(timeoutMs = 5000) {
    return lab.curl(`http://${vip()}/`, { timeoutMs });
  }

  /** The client's neighbour entry for the VIP ("" when it has none). */
  async function clientNeigh(): Promise<string> {
    return (await lab.exec(lab.clientNs, ["ip", "neigh", "show", vip(), "dev", "eth0"])).stdout.trim();
  }

  /** Everything after the start: the table is empty, -A/-a fill it, traffic flows, `reload`
   *  (the CLI command or SIGHUP) empties it and ringvs stops serving the VIP. */
  async function emptyStartScenario(d: DirectorProcess, reload: () => Promise<void>): Promise<void> {
    const run = (...argv: string[]) => d.cli(lab, argv);
    const rs = lab.rsIps[0]!;
    // Nothing placed, nothing resolved: there is no VIP yet.
    expect(d.ready.vips).toEqual({ local: [], arp: [] });
    expect(d.ready.unresolved).toEqual([]);
    const empty = await run("-L", "-n");
    expect(empty).toMatchObject({ code: 0, stderr: "" });
    expect(empty.stdout).toMatch(EMPTY_LISTING);
    expect((await run("-S", "-n")).stdout).toBe("");
    // Before -A the VIP is nobody's: the client's ARP goes unanswered.
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    expect((await get(1000)).status).toBe(0);

    expect(await run("-A", "-t", `${vip()}:80`, "-s", "rr")).toMatchObject({ code: 0, stderr: "" });
    expect(await run("-a", "-t", `${vip()}:80`, "-r", rs, "-g")).toMatchObject({ code: 0, stderr: "" });
    const listing = (await run("-L", "-n")).stdout;
    expect(listing).toContain(`TCP  ${vip()}:80 rr\n`);
    expect(listing).toMatch(new RegExp(`  -> ${rs.replaceAll(".", "\\.")}:80\\s+Route\\s+1\\s+0\\s+0 *\\n`));
    expect((await run("-S", "-n")).stdout).toBe(`-A -t ${vip()}:80 -s rr\n-a -t ${vip()}:80 -r ${rs}:80 -g -w 1\n`);

    // The VIP is on no interface of the director, so the runtime -A made ringvs answer its ARP.
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    for (let i = 0; i < 3; i++) {
      const r = await get();
      expect({ status: r.status, body: r.body, client: r.headers["x-client-addr"] }).toEqual({
        status: 200, body: "rs1\n", client: lab.clientIp,
      });
    }
    expect(await clientNeigh()).toContain(lab.directorMac);
    const served = await d.stats();
    expect(served.policy.arpAnswered).toBeGreaterThanOrEqual(1);
    expect(served.policy.newFlows).toBe(3);
    expect(served.policy.replyFramesSeen).toBe(0); // replies went from rs1 straight to the client
    expect(served.services[0]!.dests[0]!.conns).toBe(3);

    await reload();
    const after = await run("-L", "-n");
    expect(after).toMatchObject({ code: 0, stderr: "" });
    expect(after.stdout).toMatch(EMPTY_LISTING);

    // Frames for the VIP still reach the director (the client is told its MAC here), but ringvs
    // no longer forwards them: no reply, nothing scheduled, nothing counted as VIP traffic.
    await lab.exec(lab.clientNs, ["ip", "neigh", "replace", vip(), "lladdr", lab.directorMac, "dev", "eth0", "nud", "permanent"]);
    try {
      const r = await get(2000);
      expect(r.status).toBe(0);
      expect(r.exitCode).not.toBe(0);
    } finally {
      await lab.exec(lab.clientNs, ["ip", "neigh", "del", vip(), "dev", "eth0"]);
    }
    // And it no longer answers ARP for the VIP.
    expect((await get(1000)).status).toBe(0);
    expect(await clientNeigh()).not.toContain(lab.directorMac);
    const idle = await d.stats();
    expect(idle.services).toEqual([]);
    expect(idle.policy.newFlows).toBe(served.policy.newFlows);
    expect(idle.policy.vipPackets).toBe(served.policy.vipPackets);
    expect(idle.policy.arpAnswered).toBe(served.policy.arpAnswered);
    // The daemon still takes rules after emptying.
    expect((await run("-A", "-t", `${vip()}:80`, "-s", "wrr")).code).toBe(0);
    expect((await run("-L", "-n")).stdout).toContain(`TCP  ${vip()}:80 wrr\n`);
  }

  test("serve --interface alone: empty table, -A/-a at runtime serve traffic, `ringvs reload` empties it", async () => {
    const d = await DirectorProcess.start(lab, { noRules: true });
    try {
      await emptyStartScenario(d, async () => {
        // Without a rules file there is nothing to re-read: a reload goes back to the empty start.
        expect(await d.cli(lab, ["reload"])).toMatchObject({ code: 0, stderr: "" });
      });
      expect(d.stderr).toContain("forwarding on eth0: no services (an empty table; add them with -A/-a)");
      expect(d.stderr).toContain("reloaded: no services");
    } finally {
      expect((await d.stop()).exitCode).toBe(0);
    }
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
  }, 40_000);

  test("--rules with an empty file: the same, and SIGHUP re-reads the (still empty) file", async () => {
    const d = await DirectorProcess.start(lab, { rules: "" });
    try {
      await emptyStartScenario(d, async () => {
        // -A/-a changed the running table, never the file: the reload reads it as it was.
        expect(readFileSync(d.rulesPath, "utf8")).toBe("");
        d.proc.kill("SIGHUP");
        expect(await d.next("reloaded")).toEqual({ event: "reloaded", services: 0 });
      });
    } finally {
      expect((await d.stop()).exitCode).toBe(0);
    }
    await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
  }, 40_000);

  test("runtime -a of DR servers behind a gateway or at the director's own address: reported, never chosen", async () => {
    // A network only reachable through a gateway (the route is enough: DR is refused before any
    // MAC is looked up, so no router has to exist).
    const far = "198.19.5.11";
    const route = ["ip", "route", "add", "198.19.5.0/24", "via", "198.18.0.1", "dev", "eth0"];
    expect((await lab.exec(lab.directorNs, route)).code).toBe(0);
    const d = await DirectorProcess.start(lab, { noRules: true });
    try {
      const run = (...argv: string[]) => d.cli(lab, argv);
      expect((await run("-A", "-t", `${vip()}:80`, "-s", "rr")).code).toBe(0);
      // rs1 first: rr starts with the newest server, so either of the others would be picked first.
      for (const rip of [lab.rsIps[0]!, far, lab.directorIp]) {
        expect(await run("-a", "-t", `${vip()}:80`, "-r", rip, "-g")).toMatchObject({ code: 0, stderr: "" });
      }
      await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
      for (let i = 0; i < 4; i++) expect((await get()).body).toBe("rs1\n");
      const deadline = Date.now() + 4000; // the reasons are logged by the once-a-second refresh
      const reported = () => d.stderr.includes(`real server ${far} (dr) cannot be reached`) &&
        d.stderr.includes(`real server ${lab.directorIp} (dr) cannot be reached`);
      while (!reported() && Date.now() < deadline) await Bun.sleep(100);
      expect(d.stderr).toContain(`DR real server ${far} is not on a network the director is connected to (route via 198.18.0.1 dev eth0)`);
      expect(d.stderr).toContain(`${lab.directorIp} is an address of the director itself`);
      const s = await d.stats();
      const dests = Object.fromEntries(s.services[0]!.dests.map((x) => [x.address, { conns: x.conns, packets: x.packets, mac: x.mac }]));
      expect(dests[far]).toEqual({ conns: 0, packets: 0, mac: null });
      expect(dests[lab.directorIp]).toEqual({ conns: 0, packets: 0, mac: null });
      expect(dests[lab.rsIps[0]!]!.conns).toBe(4);
    } finally {
      expect((await d.stop()).exitCode).toBe(0);
      await lab.exec(lab.directorNs, ["ip", "route", "del", "198.19.5.0/24"]);
      await lab.exec(lab.clientNs, ["ip", "neigh", "flush", "dev", "eth0"]);
    }
  }, 30_000);
});
