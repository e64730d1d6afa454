// Every ipvsadm command line of the seed documents (/work/shared/seeds), with their addresses moved
// into 198.18.0.0/15, and their real `ipvsadm -Ln` outputs as fixtures (fixtures/*.txt, written
// with ipvsadm.c's printf formats). NAT lines get ringvs's refusal.
import { describe, expect, test } from "bun:test";
import { bareControl, fakeControl, fixture, script, sh } from "./helpers.ts";

const NAT_REFUSAL = "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)\n";

describe("seed 004: a DR director, step by step", () => {
  test("rr with two real servers (lines 524-542), then -E to wlc (551)", async () => {
    const c = bareControl();
    await script(c, [
      "ipvsadm -A -t 198.18.0.100:80 -s rr",
      "ipvsadm -a -t 198.18.0.100:80 -r198.18.0.83 -g -w 2",
      "ipvsadm -a -t 198.18.0.100:80 -r198.18.0.84 -g -w 2",
    ]);
    const r = await sh(c, "ipvsadm -l -n");
    expect(r).toEqual({ code: 0, stdout: fixture("seed004_dr_rr.txt"), stderr: "" });
    expect(await sh(c, "ipvsadm -E -t 198.18.0.100:80 -s wlc")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await sh(c, "ipvsadm -Ln")).stdout).toContain("TCP  198.18.0.100:80 wlc\n");
  });

  test("-C, then wrr with an attached -t and a real server on another network (641-659)", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -C"]);
    await script(c, ["ipvsadm -A -t198.18.0.100:80  -s wrr", "ipvsadm -a -t 198.18.0.100:80 -r198.18.1.83 -g -w 2"]);
    expect((await sh(c, "ipvsadm -ln")).stdout).toBe(fixture("seed004_dr_wrr.txt"));
  });

  test("persistence: -p without a number is 360, -E adds it (740-770); ActiveConn from the data plane", async () => {
    const c = fakeControl({ "198.18.0.83:22": { activeConns: 1 } });
    try {
      await script(c, [
        "ipvsadm -A -t 198.18.0.100:80 -s rr",
        "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.83",
        "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.84",
        // The seed types 10.0.0.100:22 here and then adds to 10.0.10.100:22; its listing shows the latter.
        "ipvsadm -A -t 198.18.0.100:22 -s rr -p",
        "ipvsadm -a -t 198.18.0.100:22 -r 198.18.0.84",
        "ipvsadm -a -t 198.18.0.100:22 -r 198.18.0.83",
        "ipvsadm -E -t 198.18.0.100:80 -s rr -p",
      ]);
      expect((await sh(c, "ipvsadm -ln")).stdout).toBe(fixture("seed004_persistent.txt"));
      const lc = await sh(c, "ipvsadm -lc");
      expect(lc.code).toBe(0);
      expect(lc.stdout).toStartWith("IPVS connection entries\n");
    } finally {
      c.stop();
    }
  });

  test("the seed's typo: -a on a service that was never added is 'Service not defined'", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.1.100:22 -s rr -p"]);
    expect(await sh(c, "ipvsadm -a -t 198.18.0.100:22 -r 198.18.0.84")).toEqual({ code: 255, stdout: "", stderr: "Service not defined\n" });
  });

  test("port 0: every port of the VIP, persistent (788-802)", async () => {
    const c = bareControl();
    await script(c, [
      "ipvsadm -C",
      "ipvsadm -A -t 198.18.0.100:0 -s rr -p",
      "ipvsadm -a -t 198.18.0.100:0 -r 198.18.0.83 -g",
      "ipvsadm -a -t 198.18.0.100:0 -r 198.18.0.84 -g",
    ]);
    expect((await sh(c, "ipvsadm -ln")).stdout).toBe(fixture("seed004_port0.txt"));
  });

  test("firewall mark 10 (822-859): refused without members, accepted with --members", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -C"]);
    const bare = await sh(c, "ipvsadm -A -f 10 -s rr -p");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe(
      'firewall mark 10 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs ' +
      'it stands for on a line "# ringvs: fwmark 10 = tcp 198.18.0.100:80, tcp 198.18.0.100:443", or give them with ' +
      '--members "tcp 198.18.0.100:80,tcp 198.18.0.100:443"\n',
    );
    await script(c, [
      'ipvsadm -A -f 10 -s rr -p --members "tcp 198.18.0.100:80,tcp 198.18.0.100:8080"',
      "ipvsadm -a -f 10 -r 198.18.0.83 -g",
      "ipvsadm -a -f 10 -r 198.18.0.84 -g",
    ]);
    expect((await sh(c, "ipvsadm -L -n")).stdout).toBe(fixture("seed004_fwmark.txt"));
    expect(c.current().services[0]!.members).toEqual([
      { protocol: "tcp", address: "198.18.0.100", port: 80 },
      { protocol: "tcp", address: "198.18.0.100", port: 8080 },
    ]);
  });

  test("the man-page lines: -L -n--stats is a popt error, -S, -R, -d", async () => {
    const c = bareControl();
    expect(await sh(c, "ipvsadm -L -n--stats")).toEqual({ code: 255, stdout: "", stderr: "-n--stats: unknown option\n" });
    // `ipvsadm -ptimeout_number`: an option before any command.
    expect((await sh(c, "ipvsadm -ptimeout_number")).code).toBe(255);
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.83"]);
    const saved = (await sh(c, "ipvsadm -S")).stdout;
    expect(saved).toBe("-A -t 198.18.0.100:80 -s rr\n-a -t 198.18.0.100:80 -r 198.18.0.83:80 -g -w 1\n");
    await script(c, ["ipvsadm -d -t 198.18.0.100:80 -r 198.18.0.83"]);
    expect(await sh(c, "ipvsadm -d -t 198.18.0.100:80 -r 198.18.0.83")).toEqual({ code: 255, stdout: "", stderr: "No such destination\n" });
    await script(c, ["ipvsadm -C"]);
    expect(await sh(c, "ipvsadm -R", saved)).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await sh(c, "ipvsadm -S")).stdout).toBe(saved);
  });
});

describe("seed 003: LVS-NAT is refused, the service stays", () => {
  test("lines 61-70", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.100.100:80 -s rr"]);
    for (const rs of ["198.18.25.1", "198.18.25.2"]) {
      expect(await sh(c, `ipvsadm -a -t 198.18.100.100:80 -r ${rs} -m`)).toEqual({ code: 2, stdout: "", stderr: NAT_REFUSAL });
    }
    expect((await sh(c, "ipvsadm -Ln")).stdout).toBe(fixture("seed003_nat_refused.txt"));
  });

  test("lines 133-136: wrr with weights, NAT refused", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.25.10:80 -s wrr"]);
    expect((await sh(c, "ipvsadm -a -t 198.18.25.10:80 -r 198.18.25.88 -m -w 2")).stderr).toBe(NAT_REFUSAL);
    expect((await sh(c, "ipvsadm -a -t 198.18.25.10:80 -r 198.18.25.99 -m")).stderr).toBe(NAT_REFUSAL);
    // The same lines in DR mode are what ringvs does.
    await script(c, ["ipvsadm -a -t 198.18.25.10:80 -r 198.18.25.88 -g -w 2", "ipvsadm -a -t 198.18.25.10:80 -r 198.18.25.99 -g"]);
    expect((await sh(c, "ipvsadm -Ln")).stdout).toContain(
      "TCP  198.18.25.10:80 wrr\n  -> 198.18.25.88:80              Route   2      0          0         \n" +
      "  -> 198.18.25.99:80              Route   1      0          0         \n",
    );
  });
});

describe("seed 002: the command summary", () => {
  test("-A, -D with -s (illegal), -E, -a -m, -Ln, -Z, -C", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s wrr"]);
    expect(await sh(c, "ipvsadm -D -t 198.18.0.100:80 -s wrr")).toEqual({
      code: 2, stdout: "", stderr: "Illegal 'scheduler' option with the 'delete-service' command\n",
    });
    await script(c, ["ipvsadm -E -t 198.18.0.100:80 -s rr"]);
    expect((await sh(c, "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.8:8080 -m -w 3")).stderr).toBe(NAT_REFUSAL);
    // ipvsadm would replace 8080 by the service port without a word; DR cannot change the port, so
    // ringvs refuses it and the line without a port is what a DR director takes.
    expect(await sh(c, "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.8:8080 -g -w 3")).toEqual({
      code: 2, stdout: "",
      stderr: "real server 198.18.0.8:8080: DR cannot change the port: a real server's port must equal the service port 80 (or be omitted)\n",
    });
    await script(c, [
      "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.8 -g -w 3",
      "ipvsadm -Ln", "ipvsadm -Z", "ipvsadm -Z -t 198.18.0.100:80",
    ]);
    expect(c.current().services[0]!.realServers[0]).toMatchObject({ address: "198.18.0.8", port: 80, weight: 3 });
    expect(await sh(c, "ipvsadm -Z -t 198.18.0.100:81")).toEqual({ code: 255, stdout: "", stderr: "No such service\n" });
    await script(c, ["ipvsadm -D -t 198.18.0.100:80", "ipvsadm -C"]);
    expect(c.current().services).toEqual([]);
  });
});

describe("seeds 000 and 001: scripted setup and a stats watch", () => {
  test("the lvs_dr script's lines with type -g, then -C", async () => {
    const c = bareControl();
    const [vip, port, scheduler, rs1, rs2, type] = ["198.18.0.100", 80, "wrr", "198.18.0.11", "198.18.0.12", "-g"];
    await script(c, [
      `ipvsadm -A -t ${vip}:${port} -s ${scheduler}`,
      `ipvsadm -a -t ${vip}:${port} -r ${rs1} ${type} -w 1`,
      `ipvsadm -a -t ${vip}:${port} -r ${rs2} ${type} -w 1`,
    ]);
    expect(c.current().services[0]!.realServers.map((r) => r.address)).toEqual([rs1, rs2]);
    await script(c, ["ipvsadm -C"]);
    expect(c.current().services).toEqual([]);
  });

  test("ipvsadm -L -n --stats", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11"]);
    const r = await sh(c, "ipvsadm -L -n --stats");
    expect(r.stdout).toBe(
      "IP Virtual Server version 1.2.1 (size=4096)\n" +
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
      "  -> RemoteAddress:Port\n" +
      "TCP  198.18.0.100:80                     0        0        0        0        0\n" +
      "  -> 198.18.0.11:80                      0        0        0        0        0\n",
    );
  });
});
