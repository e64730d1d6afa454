// `ringvs -L -n -c` with 100,000 tracked connections answers completely (about 8 MB through the
// control socket and the client's stdout). bench/pktgen.c sends one UDP datagram for each of
// 100,000 never-seen tuples to a UDP service (real server rs1, which drops them at ingress), paced
// so the ring keeps up; each becomes a connection in the flow table.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunLab, Lab, REPO_ROOT } from "./harness.ts";
import { DirectorProcess, stopDirectorAndLab } from "./director.ts";

const LAB = canRunLab("make", "gcc");
if (!LAB) console.warn("SKIPPING large listing lab test: it needs root, make and gcc (CI runs it as root)");

const FLOWS = 100_000;
const RATE = 50_000;
const PKTGEN = join(REPO_ROOT, "bench/build/pktgen");

(LAB ? describe : describe.skip)("-L -n -c with 100,000 connections", () => {
  let lab: Lab;
  let d: DirectorProcess;
  let vip = "";
  beforeAll(async () => {
    const make = Bun.spawnSync(["make", "-C", join(REPO_ROOT, "bench"), "build/pktgen"], { stdout: "pipe", stderr: "pipe" });
    if (make.exitCode !== 0) throw new Error(`make -C bench build/pktgen failed: ${make.stderr.toString()}`);
    lab = await Lab.up({ realServers: 1 });
    vip = lab.vips[0]!;
    // rs1 takes nothing of it: the datagrams are for the director's table only.
    const drop = await lab.exec(lab.rsNs[0]!, ["nft", "-f", "-"], {
      stdin: `table netdev rv_sink {\n chain in {\n  type filter hook ingress device "eth0" priority -500; policy accept;\n  udp dport 5000 drop\n }\n}\n`,
    });
    if (drop.code !== 0) throw new Error(`nft in rs1: ${drop.stderr}`);
    d = await DirectorProcess.start(lab, {
      config: {
        interface: lab.directorIf, vipMode: "arp", flowTableSize: 262_144,
        services: [{ protocol: "udp", address: vip, port: 5000, scheduler: "rr", realServers: [{ address: lab.rsIps[0]!, forward: "dr" }] }],
      },
    });
  }, 90_000);
  afterAll(() => stopDirectorAndLab(d, lab), 30_000);

  test("every connection is listed", async () => {
    const mac = (await lab.exec(lab.directorNs, ["cat", `/sys/class/net/${lab.directorIf}/address`])).stdout.trim();
    const gen = await lab.exec(lab.clientNs, [
      "timeout", "-k", "2", "30", PKTGEN, "-i", "eth0", "-m", mac, "-t", "20", "-s", "198.18.64.0", "-d", vip, "-p", "5000",
      "-P", "udp", "-f", String(FLOWS), "-c", String(FLOWS), "-l", "64", "-r", String(RATE),
    ], { timeoutMs: 40_000 });
    expect(gen.code).toBe(0);
    await Bun.sleep(500);
    const t0 = performance.now();
    const r = await d.cli(lab, ["-L", "-n", "-c"]);
    const ms = performance.now() - t0;
    const rows = r.stdout.split("\n").filter((l) => l.startsWith("UDP "));
    console.log(`large listing: ${rows.length} connections, ${r.stdout.length} bytes in ${ms.toFixed(0)} ms`);
    expect(r.code).toBe(0);
    expect(rows.length).toBe(FLOWS);
  }, 90_000);
});
