// The control plane against a running lab director: ipvsadm command lines from the seed documents
// through `ringvs` and its control socket, save/clear/restore, reload under traffic, and the
// socket's protection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { canRunLab, Lab } from "./harness.ts";
import { CLI, DirectorProcess } from "./director.ts";
import { payloadSha256 } from "../../scripts/lab/payload.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING control-plane lab tests: they need root (CI runs them as root)");

(LAB ? describe : describe.skip)("control plane in the lab", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await Lab.up({ realServers: 3, farServers: 1, rsScript: true, http: true, tunDecap: "auto" });
    for (let i = 0; i < 3; i++) {
      lab.spawn(lab.rsNs[i]!, ["bun", "scripts/lab/http-server.ts", "--name", `rs${i + 1}`, "--port", "8080"], { stdout: "ignore" });
    }
  }, 90_000);
  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  async function who(port = 80): Promise<string> {
    const r = await lab.curl(`http://${lab.vips[0]}:${port}/`, { timeoutMs: 5000 });
    return r.status === 200 ? r.body.trim() : `error:${r.exitCode}`;
  }

  test("the seed documents' ipvsadm command lines work against a running director (NAT refused)", async () => {
    const vip = lab.vips[0]!;
    const [rs1, rs2] = lab.rsIps;
    const d = await DirectorProcess.start(lab, { rules: `-A -t ${vip}:80 -s rr\n-a -t ${vip}:80 -r ${rs1}:80 -g -w 1\n` });
    const run = (...argv: string[]) => d.cli(lab, argv);
    try {
      // seed 000: the director script
      expect((await run("-C")).code).toBe(0);
      expect((await run("-A", "-t", `${vip}:80`, "-s", "wrr")).code).toBe(0);
      expect((await run("-a", "-t", `${vip}:80`, "-r", rs1!, "-g", "-w", "1")).code).toBe(0);
      expect((await run("-a", "-t", `${vip}:80`, "-r", rs2!, "-g", "-w", "1")).code).toBe(0);
      // seed 002: edit, list, zero
      expect((await run("-E", "-t", `${vip}:80`, "-s", "rr")).code).toBe(0);
      expect(await who()).toBe("rs2");
      expect(await who()).toBe("rs1");
      const list = await run("-L", "-n");
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(`TCP  ${vip}:80 rr`);
      expect(list.stdout).toMatch(new RegExp(`-> ${rs1!.replaceAll(".", "\\.")}:80\\s+Route\\s+1`));
      expect((await run("-Ln")).stdout).toBe(list.stdout);
      expect((await run("-L", "-n", "--stats")).code).toBe(0);
      expect((await run("-Z")).code).toBe(0);
      // seed 002: NAT real server, refused by name
      const nat = await run("-a", "-t", `${vip}:80`, "-r", `${lab.rsIps[2]}:8080`, "-m", "-w", "3");
      expect(nat.code).not.toBe(0);
      expect(nat.stderr).toContain("-m");
      // seed 004: port-0 persistent service and a firewall-mark service
      expect((await run("-D", "-t", `${vip}:80`)).code).toBe(0);
      expect((await run("-A", "-t", `${vip}:0`, "-s", "rr", "-p")).code).toBe(0);
      expect((await run("-a", "-t", `${vip}:0`, "-r", lab.rsIps[2]!, "-g")).code).toBe(0);
      expect(await who(8080)).toBe("rs3");
      expect((await run("-L", "-n")).stdout).toContain(`TCP  ${vip}:0 rr persistent 360`);
      expect((await run("-C")).code).toBe(0);
      expect((await run("-A", "-f", "10", "-s", "rr", "-p", "--members", `tcp ${vip}:80,tcp ${vip}:8080`)).code).toBe(0);
      expect((await run("-a", "-f", "10", "-r", rs1!, "-g")).code).toBe(0);
      expect(await who(80)).toBe("rs1");
      expect(await who(8080)).toBe("rs1");
      expect((await run("-L", "-n")).stdout).toContain("FWM  10 rr persistent 360");
      // TUN (-i) to the far network
      expect((await run("-C")).code).toBe(0);
      expect((await run("-A", "-t", `${vip}:80`, "-s", "rr")).code).toBe(0);
      expect((await run("-a", "-t", `${vip}:80`, "-r", lab.farIps[0]!, "-i")).code).toBe(0);
      expect((await run("-L", "-n")).stdout).toMatch(/Tunnel/);
      expect(await who()).toBe("far1");
      // --timeout and --set
      expect((await run("--set", "900", "60", "300")).code).toBe(0);
      expect((await run("-L", "--timeout")).stdout).toBe("Timeout (tcp tcpfin udp): 900 60 300\n");
      // an error leaves the daemon running
      const bad = await run("-a", "-t", `${vip}:81`, "-r", rs1!);
      expect(bad.code).not.toBe(0);
      expect((await run("-L", "-n")).code).toBe(0);
    } finally {
      expect((await d.stop()).exitCode).toBe(0);
    }
  }, 120_000);

  test("-S -n, -C, -R restores identical rules", async () => {
    const vip = lab.vips[0]!;
    const rules = [
      `-A -t ${vip}:80 -s wrr -p 600 -M 255.255.255.0`,
      `-a -t ${vip}:80 -r ${lab.rsIps[0]}:80 -g -w 3`,
      `-a -t ${vip}:80 -r ${lab.rsIps[1]}:80 -g -w 2 -x 100 -y 50`,
      `-A -u ${vip}:53 -s sh -b sh-port`,
      `-a -u ${vip}:53 -r ${lab.rsIps[2]}:53 -g -w 1`,
      `-A -t ${vip}:443 -s mh -b mh-fallback`,
      `-a -t ${vip}:443 -r ${lab.farIps[0]}:443 -i -w 1`,
      "",
    ].join("\n");
    const d = await DirectorProcess.start(lab, { rules });
    try {
      const saved = await d.cli(lab, ["-S", "-n"]);
      expect(saved.code).toBe(0);
      const listed = (await d.cli(lab, ["-L", "-n"])).stdout;
      expect((await d.cli(lab, ["-C"])).code).toBe(0);
      expect((await d.cli(lab, ["-S", "-n"])).stdout).toBe("");
      const restored = await d.cli(lab, ["-R"], saved.stdout);
      expect(restored.code).toBe(0);
      expect((await d.cli(lab, ["-S", "-n"])).stdout).toBe(saved.stdout);
      expect((await d.cli(lab, ["-L", "-n"])).stdout).toBe(listed);
    } finally {
      await d.stop();
    }
  }, 60_000);

  test("reload under traffic: a long download and 100 short connections survive 10 reloads without a reset", async () => {
    const vip = lab.vips[0]!;
    const config = (n: number) => ({
      interface: lab.directorIf,
      services: [
        { protocol: "tcp", address: vip, port: 80, scheduler: "rr", realServers: [{ address: lab.rsIps[0] }] },
        // The other service's real servers come and go with every reload.
        { protocol: "tcp", address: vip, port: 8080, scheduler: "wlc", realServers: [{ address: lab.rsIps[1 + (n % 2)] }] },
      ],
    });
    const d = await DirectorProcess.start(lab, { config: config(0) });
    const rsts = lab.spawn(lab.clientNs, ["tcpdump", "-i", "eth0", "-nn", "-l", "--immediate-mode", "tcp[tcpflags] & tcp-rst != 0"], { stdout: "pipe", stderr: "ignore" });
    await Bun.sleep(500);
    try {
      const size = 8_000_000;
      const download = lab.exec(lab.clientNs, ["bash", "-c",
        `curl -sS --limit-rate 2M --max-time 30 http://${vip}/bytes/${size} | sha256sum`], { timeoutMs: 35_000 });
      const shorts = (async () => {
        const codes: number[] = [];
        for (let i = 0; i < 100; i++) codes.push((await lab.curl(`http://${vip}/`, { timeoutMs: 5000 })).status);
        return codes;
      })();
      for (let n = 1; n <= 10; n++) {
        await Bun.sleep(250);
        writeFileSync(d.configPath, JSON.stringify(config(n)));
        const r = await d.cli(lab, ["reload"]);
        expect({ n, code: r.code, stderr: r.stderr }).toEqual({ n, code: 0, stderr: "" });
      }
      expect((await shorts).every((c) => c === 200)).toBe(true);
      expect((await download).stdout.split(" ")[0]).toBe(payloadSha256(size));
      const listing = (await d.cli(lab, ["-L", "-n"])).stdout;
      expect(listing).toContain(`${lab.rsIps[1]}:8080`); // after 10 reloads: n = 10 -> rs2
    } finally {
      rsts.kill("SIGINT");
      const out = await new Response(rsts.stdout as ReadableStream).text();
      await d.stop();
      expect(out.split("\n").filter((l) => l.includes("Flags [R"))).toEqual([]);
    }
  }, 90_000);

  test("Prometheus metrics on the director's loopback: per service and per real server figures after real traffic", async () => {
    const vip = lab.vips[0]!;
    const d = await DirectorProcess.start(lab, {
      config: {
        interface: lab.directorIf, metrics: { listen: "127.0.0.1:9187" },
        services: [{ protocol: "tcp", address: vip, port: 80, scheduler: "rr", realServers: [{ address: lab.rsIps[0] }] }],
      },
    });
    try {
      for (let i = 0; i < 3; i++) expect(await who()).toBe("rs1");
      const r = await lab.exec(lab.directorNs, ["curl", "-s", "http://127.0.0.1:9187/metrics"]);
      expect(r.code).toBe(0);
      const labels = `service="TCP ${vip}:80",protocol="tcp",vip="${vip}",port="80",real_server="${lab.rsIps[0]}:80",forward="dr"`;
      expect(r.stdout).toContain(`ringvs_real_server_connections_total{${labels}} 3`);
      expect(r.stdout).toMatch(new RegExp(`ringvs_real_server_packets_total\\{${labels.replace(/[.]/g, "\\.")}\\} [1-9]`));
      expect(r.stdout).toContain("# TYPE ringvs_ring_drops_total counter");
      expect(r.stdout).toContain("ringvs_parsed_malformed_total");
      expect((await lab.exec(lab.directorNs, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9187/other"])).stdout).toBe("404");
    } finally {
      await d.stop();
    }
  }, 60_000);

  test("the control socket refuses other users, and a malformed request gets an error while the daemon keeps running", async () => {
    const d = await DirectorProcess.start(lab, { rules: `-A -t ${lab.vips[0]}:80 -s rr\n-a -t ${lab.vips[0]}:80 -r ${lab.rsIps[0]}:80 -g\n` });
    try {
      const mode = (await lab.exec(lab.directorNs, ["stat", "-c", "%a %U", d.socket])).stdout.trim();
      expect(mode).toBe("600 root");
      const nobody = await lab.exec(lab.directorNs, [
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bun", CLI, "-L", "-n",
      ], { env: { RINGVS_SOCKET: d.socket, HOME: "/tmp" } });
      expect(nobody.code).toBe(1);
      expect(nobody.stderr).toContain("permission denied");
      // Raw garbage on the socket.
      const raw = await lab.exec(lab.directorNs, ["bash", "-c", `printf 'this is not json\\n' | timeout 5 bun -e '
        const s = await Bun.connect({ unix: process.argv[1], socket: { data(_s, d) { process.stdout.write(d.toString()); }, open(s) { s.write("this is not json\\n"); } } });
        await Bun.sleep(1000);' ${d.socket}`]);
      expect(raw.stdout).toContain("malformed request");
      expect((await d.cli(lab, ["-L", "-n"])).code).toBe(0);
    } finally {
      await d.stop();
    }
  }, 60_000);
});
