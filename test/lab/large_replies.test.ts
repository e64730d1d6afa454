// Control-socket replies far larger than a socket buffer, end to end: a director serving 10,000
// services (one VIP, ports 1..10000, port 80 defined last, with the lab's real server) answers `ringvs -L
// -n` and `ringvs -S -n` completely (~260 KB each), and the saved text is what `serve --rules` was
// given. Before the socket wrote with backpressure, replies over ~220-256 KB were cut off and the
// client waited for its 30 s timeout. The start plan of that many services reaches the packet
// worker in parts (Director.startOn): the last service, in the last part, forwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess, stopDirectorAndLab } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING large-reply lab tests: they need root (CI runs them as root)");

const SERVICES = 10_000;

(LAB ? describe : describe.skip)("replies of any size on the control socket", () => {
  let lab: Lab;
  let d: DirectorProcess;
  let vip = "";
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 1, rsScript: true, http: true });
    vip = lab.vips[0]!;
    const ports = [...Array.from({ length: SERVICES }, (_, i) => i + 1).filter((p) => p !== 80), 80];
    const rules = ports.map((p) => `-A -t ${vip}:${p} -s rr\n`).join("") + `-a -t ${vip}:80 -r ${lab.rsIps[0]} -g\n`;
    d = await DirectorProcess.start(lab, { rules });
  }, 90_000);
  afterAll(() => stopDirectorAndLab(d, lab), 30_000);

  test(`-L -n lists all ${SERVICES} services`, async () => {
    const t0 = performance.now();
    const r = await d.cli(lab, ["-L", "-n"]);
    const ms = performance.now() - t0;
    console.log(`large replies: -L -n of ${SERVICES} services, ${r.stdout.length} bytes in ${ms.toFixed(0)} ms`);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(220 * 1024);
    const services = r.stdout.split("\n").filter((l) => l.startsWith("TCP  "));
    expect(services.length).toBe(SERVICES);
    expect(services.at(-1)).toContain(`${vip}:${SERVICES} rr`);
  }, 60_000);

  test("the service in the last part of the start plan forwards", async () => {
    const r = await lab.curl(`http://${vip}/`);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
  }, 30_000);

  test("-S -n saves every service (sorted, as ipvsadm lists them)", async () => {
    const saved = await d.cli(lab, ["-S", "-n"]);
    expect(saved.code).toBe(0);
    const adds = saved.stdout.split("\n").filter((l) => l.startsWith("-A "));
    expect(adds.length).toBe(SERVICES);
    expect(adds[0]).toBe(`-A -t ${vip}:1 -s rr`);
    expect(adds.at(-1)).toBe(`-A -t ${vip}:${SERVICES} -s rr`);
    expect(saved.stdout).toContain(`-a -t ${vip}:80 -r ${lab.rsIps[0]}:80 -g -w 1`);
  }, 60_000);
});
