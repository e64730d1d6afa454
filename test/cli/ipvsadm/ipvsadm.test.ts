// ipvsadm's rules and formats over the control library: the legality table, exit codes and
// messages, listings byte for byte, save/clear/restore round trips, timeouts, stats, connections.
import { describe, expect, test } from "bun:test";
import { parseIpvsadmRules } from "../../../src/config/ipvsadm_rules.ts";
import { genericOptCheck, OPTION_NAMES } from "../../../src/cli/ipvsadm/table.ts";
import { largenum } from "../../../src/cli/ipvsadm/format.ts";
import { bareControl, fakeControl, fixture, script, sh } from "./helpers.ts";

/** The table behind fixtures/formats.txt, added out of order so that sorting shows. */
const FORMATS = [
  "ipvsadm -A -f 7 -s lc --members \"udp 198.18.0.102:0\"",
  "ipvsadm -A -u 198.18.0.100:53",
  "ipvsadm -a -u 198.18.0.100:53 -r 10.0.0.5",
  "ipvsadm -a -u 198.18.0.100:53 -r 198.18.0.11:53",
  "ipvsadm --add-service --tcp-service 198.18.0.100:80 --scheduler sh --sched-flags sh-port,sh-fallback --persistent 600 --netmask 255.255.255.0",
  "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.12 -w 65535",
  "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11 -i -w 5",
  "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.9 -w 0 -x 100 -y 50",
  "ipvsadm -A -t 198.18.0.101:443 -s mh -b mh-port",
  "ipvsadm -A -f 1 -s rr -p --members=\"tcp 198.18.0.101:80,tcp 198.18.0.101:8080\"",
  "ipvsadm -a -f 1 -r 198.18.0.21 -i",
];

describe("listings", () => {
  test("-L -n: sorted services and real servers, flags, persistence, mask, Tunnel", async () => {
    const c = bareControl();
    await script(c, FORMATS);
    expect(await sh(c, "ipvsadm -L -n")).toEqual({ code: 0, stdout: fixture("formats.txt"), stderr: "" });
    // No DNS: without -n, and with no arguments at all, the same numeric listing.
    expect((await sh(c, "ipvsadm -L")).stdout).toBe(fixture("formats.txt"));
    expect((await sh(c, "ipvsadm")).stdout).toBe(fixture("formats.txt"));
    expect((await sh(c, "")).stdout).toBe(fixture("formats.txt"));
  });

  test("--nosort: the order of the table, real servers newest first as IPVS lists them", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.2", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.1",
      "ipvsadm -A -t 198.18.0.1:80 -s rr"]);
    const out = (await sh(c, "ipvsadm -Ln --nosort")).stdout.split("\n").slice(3, 7);
    expect(out).toEqual([
      "TCP  198.18.0.100:80 rr",
      "  -> 198.18.0.1:80                Route   1      0          0         ",
      "  -> 198.18.0.2:80                Route   1      0          0         ",
      "TCP  198.18.0.1:80 rr",
    ]);
    expect((await sh(c, "ipvsadm -Ln --sort")).stdout.split("\n")[3]).toBe("TCP  198.18.0.1:80 rr");
  });

  test("-L -t one service: no version header; unknown service exits 1", async () => {
    const c = bareControl();
    await script(c, FORMATS);
    expect(await sh(c, "ipvsadm -L -n -u 198.18.0.100:53")).toEqual({
      code: 0,
      stdout: "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
        "UDP  198.18.0.100:53 wlc\n  -> 198.18.0.11:53               Route   1      0          0         \n" +
        "  -> 10.0.0.5:53                  Route   1      0          0         \n",
      stderr: "",
    });
    expect(await sh(c, "ipvsadm -L -n -t 198.18.0.100:53")).toEqual({ code: 1, stdout: "", stderr: "No such service\n" });
  });

  test("--thresholds, --persistent-conn, --tun-info", async () => {
    const c = bareControl();
    await script(c, FORMATS.slice(4, 8));
    const lines = (flag: string) => sh(c, `ipvsadm -Ln ${flag}`).then((r) => r.stdout.split("\n").slice(1, 5));
    expect(await lines("--thresholds")).toEqual([
      "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
      "  -> RemoteAddress:Port",
      "TCP  198.18.0.100:80 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
      "  -> 198.18.0.9:80                100        50         0          0         ",
    ]);
    expect((await lines("--persistent-conn"))[0]).toBe("Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ");
    expect(await lines("--tun-info")).toEqual([
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn",
      "TCP  198.18.0.100:80 sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0",
      "  -> 198.18.0.9:80                Route   n/a           0      0          0         ",
    ]);
    expect((await sh(c, "ipvsadm -Ln --tun-info")).stdout).toContain("  -> 198.18.0.11:80               Tunnel  ipip          5      0          0         \n");
  });

  test("print_largenum: K/M/G/T unless --exact", () => {
    expect(largenum(99_999_999, false)).toBe(" 99999999");
    expect(largenum(123_456_789, false)).toBe("  123456K");
    expect(largenum(12_345_678_901, false)).toBe("   12345M");
    expect(largenum(1_234_567_890_123, false)).toBe("    1234G");
    expect(largenum(123_456_789_012_345, false)).toBe("     123T");
    expect(largenum(12_345_678, true)).toBe(" 12345678");
    expect(largenum(123_456_789, true)).toBe(" 123456789");
    expect(largenum(12_345_678_901, true)).toBe(" 12345678901");
  });

  test("--stats and --stats --exact from data-plane counters; -Z zeroes them", async () => {
    const c = fakeControl({ "198.18.0.11:80": { conns: 123_456_789, packets: 2_000_000_000, bytes: 5_000_000_000_000 }, "198.18.0.12:80": { conns: 7, packets: 70, bytes: 7000 } });
    try {
      await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.12"]);
      const body = (r: { stdout: string }) => r.stdout.split("\n").slice(3).join("\n");
      expect(body(await sh(c, "ipvsadm -L -n --stats"))).toBe(
        "TCP  198.18.0.100:80               123456K    2000M        0    5000G        0\n" +
        "  -> 198.18.0.11:80                123456K    2000M        0    5000G        0\n" +
        "  -> 198.18.0.12:80                      7       70        0     7000        0\n",
      );
      expect(body(await sh(c, "ipvsadm -L -n --stats --exact"))).toBe(
        "TCP  198.18.0.100:80              123456796 2000000070        0 5000000007000        0\n" +
        "  -> 198.18.0.11:80               123456789 2000000000        0 5000000000000        0\n" +
        "  -> 198.18.0.12:80                      7       70        0     7000        0\n",
      );
      expect(body(await sh(c, "ipvsadm -L -n --rate"))).toBe(
        "TCP  198.18.0.100:80                     0        0        0        0        0\n" +
        "  -> 198.18.0.11:80                      0        0        0        0        0\n" +
        "  -> 198.18.0.12:80                      0        0        0        0        0\n",
      );
      await script(c, ["ipvsadm -Z -t 198.18.0.100:80"]);
      expect(body(await sh(c, "ipvsadm -L -n --stats --exact"))).toContain("  -> 198.18.0.11:80                      0        0        0        0        0\n");
    } finally {
      c.stop();
    }
  });

  test("-c: connection entries, expire as mm:ss", async () => {
    const c = fakeControl({}, [
      { protocol: "tcp", client: "198.18.5.1", clientPort: 51234, vip: "198.18.0.100", vport: 80, dest: "198.18.0.11", dport: 80, state: "ESTABLISHED", expiresIn: 899 },
      { protocol: "udp", client: "198.18.5.2", clientPort: 5353, vip: "198.18.0.100", vport: 53, dest: "198.18.0.12", dport: 53, state: "UDP", expiresIn: 283.6 },
      { protocol: "tcp", client: "198.18.5.3", clientPort: 1, vip: "198.18.0.100", vport: 0, dest: "198.18.0.12", dport: 0, state: "NONE", expiresIn: 6000 },
    ]);
    try {
      const expected =
        "IPVS connection entries\n" +
        "pro expire state       source             virtual            destination\n" +
        "TCP 14:59  ESTABLISHED 198.18.5.1:51234   198.18.0.100:80    198.18.0.11:80\n" +
        "UDP 04:43  UDP         198.18.5.2:5353    198.18.0.100:53    198.18.0.12:53\n" +
        "TCP 100:00 NONE        198.18.5.3:1       198.18.0.100:0     198.18.0.12:0\n";
      expect(await sh(c, "ipvsadm -L -n -c")).toEqual({ code: 0, stdout: expected, stderr: "" });
      expect((await sh(c, "ipvsadm -lcn")).stdout).toBe(expected);
      expect((await sh(c, "ipvsadm -Lc --persistent-conn")).stdout.split("\n")[1]).toBe(
        "pro expire state       source             virtual            destination        pe name          pe_data",
      );
    } finally {
      c.stop();
    }
  });

  test("--timeout and --set (0 keeps a value)", async () => {
    const c = bareControl();
    expect(await sh(c, "ipvsadm -L --timeout")).toEqual({ code: 0, stdout: "Timeout (tcp tcpfin udp): 900 120 300\n", stderr: "" });
    await script(c, ["ipvsadm --set 1800 0 60"]);
    expect((await sh(c, "ipvsadm -L --timeout")).stdout).toBe("Timeout (tcp tcpfin udp): 1800 120 60\n");
    expect(await sh(c, "ipvsadm --set 1 2 x")).toEqual({ code: 2, stdout: "", stderr: "invalid timeout value `x' specified\n" });
    expect(await sh(c, "ipvsadm --set 1 2 3 4")).toEqual({ code: 2, stdout: "", stderr: "unexpected argument 4\n" });
    expect(await sh(c, "ipvsadm --set 1 2 2678401")).toEqual({ code: 2, stdout: "", stderr: "invalid timeout value `2678401' specified\n" });
  });
});

describe("the legality table (commands_v_options, generic_opt_check)", () => {
  const cases: [string, string][] = [
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -M 255.255.255.0", "Illegal 'netmask' option with the 'add-server' command"],
    ["-A -t 198.18.0.100:80 -w 2", "Illegal 'weight' option with the 'add-service' command"],
    ["-A -s rr", "You need to supply the 'service-address' option for the 'add-service' command"],
    ["-a -t 198.18.0.100:80", "You need to supply the 'real-server' option for the 'add-server' command"],
    ["-d -t 198.18.0.100:80 -r 198.18.0.11 -w 1", "Illegal 'weight' option with the 'delete-server' command"],
    ["-d -t 198.18.0.100:80 -r 198.18.0.11 -m", "Illegal 'forwarding-method' option with the 'delete-server' command"],
    ["-C -n", "Illegal 'numeric' option with the 'flush' command"],
    ["-S -c", "Illegal 'connection' option with the 'save' command"],
    ["-Z -n", "Illegal 'numeric' option with the 'zero' command"],
    ["-L --timeout --daemon", "The option 'daemon' conflicts with the 'timeout' option in the 'list' command"],
    ["-L -c --timeout", "The option 'timeout' conflicts with the 'connection' option in the 'list' command"],
    ["-E -t 198.18.0.100:80 --members \"tcp 198.18.0.100:81\"", "Illegal 'members' option with the 'edit-service' command"],
    ["-L -c --stats", "options conflicts in the list command"],
    ["--set 1 2 3 -n", "Illegal 'numeric' option with the 'set' command"],
    ["-A -t 198.18.0.100:80 -s rr -s wrr", "multiple 'scheduler' options specified"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -g -i", "multiple 'forwarding-method' options specified"],
    ["-A -t 198.18.0.100:80 -E", "invalid option `-E'"],
    ["-Ln -h", "invalid option `-h'"],
    ["-A -t 198.18.0.100:0", "Zero port specified for non-persistent service"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 --tun-type ipip", "Tunnel options conflict with forward method"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -i --tun-port 6080", "Illegal 'tun-port' option with the 'ipip' tunnel type"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -i --tun-type vxlan", "illegal tunnel type specified"],
    ["-A -t 198.18.0.100:80 -s sh -b mh-port", "incompatible scheduler flag `mh-port'"],
    ["-A -t 198.18.0.100:80 -b sh-port", "incompatible scheduler flag `sh-port'"],
    ["-A -t 198.18.0.100:80 -s sh -b sh-everything", "invalid scheduler flag `sh-everything'"],
    ["-A -t 198.18.0.100 -p 0", "invalid timeout value `0' specified"],
    ["-A -f 0", "invalid fwmark value `0' specified"],
    ["-A -t 80", "illegal virtual server address[:port] specified"],
    ["-A -t 198.18.0.100:99999", "illegal virtual server address[:port] specified"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -w 65536", "illegal weight specified"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -x -1", "illegal u_threshold specified"],
    ["-a -t 198.18.0.100:80 -r 198.18.0.11 -y z", "illegal l_threshold specified"],
    ["-A -t 198.18.0.100:80 -p -M 255.255.0.256", "illegal virtual server persistent mask specified"],
    ["-A -t 198.18.0.100:80 -6", "-6 used before -f\n"],
    ["-A -u 198.18.0.100:80 -o", "one-packet scheduling (-o) is not supported yet"],
    ["-A -t 198.18.0.100:80 -o", "One-Packet Scheduling is only for UDP virtual services"],
    ["-A -t 198.18.0.100:80 --pe sip -p", "persistence engines (--pe) are not supported yet"],
    ["--start-daemon master", "the connection sync daemon (--start-daemon) is not supported: ringvs keeps its connections to itself"],
    ["--start-daemon primary", "illegal start-daemon parameter specified"],
    ["-A -f 1 -6 --members \"tcp 198.18.0.100:80\"", "IPv6 is not supported yet"],
  ];
  for (const [line, message] of cases) {
    test(line, async () => {
      expect(await sh(bareControl(), `ipvsadm ${line}`)).toEqual({ code: 2, stdout: "", stderr: `${message}\n` });
    });
  }

  test("the rows are ipvsadm's: every command refuses what the table marks 'x'", () => {
    for (const opt of OPTION_NAMES) {
      const p = genericOptCheck("flush", new Set([opt]));
      expect(p).toBe(`Illegal '${opt}' option with the 'flush' command`);
    }
    expect(genericOptCheck("list", new Set(["numeric", "stats", "rate", "exact", "nosort", "persistent-conn", "thresholds", "tun-info"]))).toBeNull();
    expect(genericOptCheck("add-server", new Set(["service-address", "real-server", "forwarding-method", "weight", "u-threshold", "l-threshold", "tun-type"]))).toBeNull();
    expect(genericOptCheck("add-service", new Set(["service-address", "scheduler", "persistent", "netmask", "sched-flags", "ops", "pe", "members"]))).toBeNull();
  });
});

describe("errors and exit codes", () => {
  test("usage errors: no command first, unknown options, missing values (255)", async () => {
    const c = bareControl();
    const tryHelp = { code: 255, stdout: "", stderr: "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n" };
    expect(await sh(c, "ipvsadm -t 198.18.0.100:80 -A")).toEqual(tryHelp);
    expect(await sh(c, "ipvsadm -nL")).toEqual(tryHelp);
    expect(await sh(c, "ipvsadm --bogus")).toEqual(tryHelp);
    expect(await sh(c, "ipvsadm list")).toEqual(tryHelp);
    expect(await sh(c, "ipvsadm -A -t 198.18.0.100:80 --bogus")).toEqual({ code: 255, stdout: "", stderr: "--bogus: unknown option\n" });
    expect(await sh(c, "ipvsadm -A -t")).toEqual({ code: 255, stdout: "", stderr: "-t: missing argument\n" });
    expect(await sh(c, "ipvsadm -L --stats=1")).toEqual({ code: 255, stdout: "", stderr: "--stats=1: option does not take an argument\n" });
  });

  test("refused table changes print ipvs_strerror's text and exit 255", async () => {
    const c = bareControl();
    await script(c, ["ipvsadm -A -t 198.18.0.100:80 -s rr", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11"]);
    const err = (stderr: string) => ({ code: 255, stdout: "", stderr });
    expect(await sh(c, "ipvsadm -A -t 198.18.0.100:80")).toEqual(err("Service already exists\n"));
    expect(await sh(c, "ipvsadm -A -t 198.18.0.101:80 -s fancy")).toEqual(err("Scheduler or persistence engine not found\n"));
    expect(await sh(c, "ipvsadm -E -t 198.18.0.100:80 -s fancy")).toEqual(err("Scheduler or persistence engine not found\n"));
    expect(await sh(c, "ipvsadm -E -t 198.18.0.101:80")).toEqual(err("No such service\n"));
    expect(await sh(c, "ipvsadm -D -t 198.18.0.101:80")).toEqual(err("No such service\n"));
    expect(await sh(c, "ipvsadm -a -t 198.18.0.101:80 -r 198.18.0.11")).toEqual(err("Service not defined\n"));
    expect(await sh(c, "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11")).toEqual(err("Destination already exists\n"));
    expect(await sh(c, "ipvsadm -e -t 198.18.0.100:80 -r 198.18.0.12")).toEqual(err("No such destination\n"));
    expect(await sh(c, "ipvsadm -d -t 198.18.0.101:80 -r 198.18.0.12")).toEqual(err("Service not defined\n"));
    expect(await sh(c, "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.12 -y 5")).toEqual(err("Numerical result out of range\n"));
    expect(await sh(c, "ipvsadm -a -t 198.18.0.100:80 -r 224.0.0.1")).toEqual(
      err("Invalid operation.  Possibly wrong module version, address not unicast, ...\nringvs: real server 224.0.0.1: must not be a multicast address\n"),
    );
  });

  test("-e and -E replace the whole entry, as ipvsadm does", async () => {
    const c = bareControl();
    await script(c, [
      "ipvsadm -A -t 198.18.0.100:80 -s wrr -p 100", "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11 -i -w 4 -x 10",
      "ipvsadm -e -t 198.18.0.100:80 -r 198.18.0.11 -w 2", "ipvsadm -E -t 198.18.0.100:80 -s rr",
    ]);
    const s = c.current().services[0]!;
    expect(s.persistence).toBeNull();
    expect(s.scheduler).toBe("rr");
    expect(s.realServers[0]).toEqual({ address: "198.18.0.11", port: 80, forward: "dr", weight: 2, upperThreshold: 0, lowerThreshold: 0 });
  });

  test("ringvs's refusals: names, IPv6, SCTP, members that overlap, ports on fwmark real servers", async () => {
    const c = bareControl();
    expect(await sh(c, "ipvsadm -A -t www.example.com:80")).toEqual({
      code: 2, stdout: "",
      stderr: "illegal virtual server address[:port] specified\nringvs: 'www.example.com' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)\n",
    });
    expect((await sh(c, "ipvsadm -A -t [2001:db8::1]:80")).stderr).toBe("illegal virtual server address[:port] specified\nringvs: IPv6 is not supported yet\n");
    expect((await sh(c, "ipvsadm -A --sctp-service 198.18.0.100:80")).stderr).toBe("SCTP services (--sctp-service) are not supported: ringvs balances TCP and UDP\n");
    await script(c, ["ipvsadm -A -t 198.18.0.100:80", "ipvsadm -A -f 2 -p --members \"tcp 198.18.0.101:0\""]);
    const overlap = await sh(c, "ipvsadm -A -f 3 -p --members \"tcp 198.18.0.100:80\"");
    expect(overlap).toEqual({
      code: 2, stdout: "",
      stderr: "tcp 198.18.0.100:80 overlaps service TCP 198.18.0.100:80 (tcp 198.18.0.100:80): a packet must belong to one service\n",
    });
    expect((await sh(c, "ipvsadm -A -t 198.18.0.101:443")).stderr).toBe(
      "tcp 198.18.0.101:443 overlaps a member of FWM 2 (tcp 198.18.0.101:0): a packet must belong to one service\n",
    );
    expect((await sh(c, "ipvsadm -A -t 198.18.0.102:80 --members \"tcp 198.18.0.102:80\"")).stderr).toBe(
      "--members belongs to a firewall-mark service (-f MARK): a -t/-u service is its own VIP:port\n",
    );
    expect((await sh(c, "ipvsadm -a -f 2 -r 198.18.0.11:80")).stderr).toBe(
      "real server 198.18.0.11:80: DR and TUN cannot change the port; a firewall-mark service's real servers take the port each packet came to, so give 198.18.0.11 or 198.18.0.11:0\n",
    );
    expect((await sh(c, "ipvsadm -A -t 198.18.0.103:80 -p -M 255.0.255.0")).stderr).toBe(
      "-M 255.0.255.0: must be a contiguous netmask (ones then zeros, like 255.255.255.0)\n",
    );
    expect(c.current().services.length).toBe(2);
  });

  test("-h and -v", async () => {
    const c = bareControl();
    const h = await sh(c, "ipvsadm --help");
    expect(h.code).toBe(0);
    expect(h.stdout).toStartWith("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  ipvsadm -A|E virtual-service");
    expect(h.stdout).toContain("--members");
    expect(await sh(c, "ipvsadm -v")).toEqual({ code: 0, stdout: "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n", stderr: "" });
  });
});

describe("save, clear, restore", () => {
  test("-S -n -> -C -> -R restores the same tables and the same -S text", async () => {
    const c = bareControl();
    await script(c, FORMATS);
    const saved = await sh(c, "ipvsadm -S -n");
    expect(saved.stdout).toBe(
      "-A -t 198.18.0.100:80 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port\n" +
      "-a -t 198.18.0.100:80 -r 198.18.0.9:80 -g -w 0 -x 100 -y 50\n" +
      "-a -t 198.18.0.100:80 -r 198.18.0.11:80 -i -w 5 --tun-type ipip\n" +
      "-a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 65535\n" +
      "-A -t 198.18.0.101:443 -s mh -b mh-port\n" +
      "-A -u 198.18.0.100:53 -s wlc\n" +
      "-a -u 198.18.0.100:53 -r 198.18.0.11:53 -g -w 1\n" +
      "-a -u 198.18.0.100:53 -r 10.0.0.5:53 -g -w 1\n" +
      "# ringvs: fwmark 1 = tcp 198.18.0.101:80, tcp 198.18.0.101:8080\n" +
      "-A -f 1 -s rr -p 360\n" +
      "-a -f 1 -r 198.18.0.21:0 -i -w 1 --tun-type ipip\n" +
      "# ringvs: fwmark 7 = udp 198.18.0.102:0\n" +
      "-A -f 7 -s lc\n",
    );
    const before = c.snapshot();
    await script(c, ["ipvsadm -C"]);
    expect(c.snapshot().services).toEqual([]);
    expect(await sh(c, "ipvsadm -R", saved.stdout)).toEqual({ code: 0, stdout: "", stderr: "" });
    const after = c.snapshot();
    const byKey = (s: typeof before) => Object.fromEntries(s.services.map((x) => [JSON.stringify(x.key), { ...x, dests: [...x.dests].sort((a, b) => a.address.localeCompare(b.address)) }]));
    expect(byKey(after)).toEqual(byKey(before));
    expect((await sh(c, "ipvsadm -S -n")).stdout).toBe(saved.stdout);
    expect((await sh(c, "ipvsadm -L -n")).stdout).toBe(fixture("formats.txt"));
  });

  test("the rules-file front end reads -S output as it is", async () => {
    const c = bareControl();
    await script(c, FORMATS);
    const parsed = await parseIpvsadmRules((await sh(c, "ipvsadm -S -n")).stdout, "saved", { interface: "eth0" });
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.config.services.length).toBe(5);
  });

  test("-R as ipvsadm.c's restore_table: a refused table change fails its line and -R reads on, a line the parser fails ends it; the exit status is the last line's", async () => {
    const c = bareControl();
    const input = [
      "# saved by hand",
      "-A -t 198.18.0.100:80 -s rr",
      "",
      "ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11 -g -w 1",
      "-a -t 198.18.0.100:80 -r 198.18.0.11 -g -w 1",
      "-A -t 198.18.0.101:80 -s rr",
    ].join("\n");
    expect(await sh(c, "ipvsadm -R", input)).toEqual({ code: 0, stdout: "", stderr: "line 5: Destination already exists\n" });
    expect(c.current().services.map((s) => s.address)).toEqual(["198.18.0.100", "198.18.0.101"]);
    const last = bareControl();
    expect(await sh(last, "ipvsadm -R", "-A -t 198.18.0.100:80\n-A -t 198.18.0.100:80\n")).toEqual({
      code: 255, stdout: "", stderr: "line 2: Service already exists\n",
    });
    const stopped = bareControl();
    expect(await sh(stopped, "ipvsadm -R", "-A -t 198.18.0.100:80\n-A -t 198.18.0.101:80 -p 0\n-A -t 198.18.0.102:80\n")).toEqual({
      code: 2, stdout: "", stderr: "line 2: invalid timeout value `0' specified\n",
    });
    expect(stopped.current().services.map((s) => s.address)).toEqual(["198.18.0.100"]);
    // A popt error is parse_options returning -1, not fail(): that line fails and -R reads on; a
    // word starting with '#' starts a comment (config_stream_read).
    const popt = bareControl();
    expect(await sh(popt, "ipvsadm -R", "-A -t 198.18.0.100:80 # web\n-A -t 198.18.0.101:80 --bogus\n-A -t 198.18.0.102:80\n")).toEqual({
      code: 0, stdout: "", stderr: "line 2: --bogus: unknown option\n",
    });
    expect(popt.current().services.map((s) => s.address)).toEqual(["198.18.0.100", "198.18.0.102"]);
    expect(await sh(bareControl(), "ipvsadm -R", "-A -t 198.18.0.100:80 -w 1\n")).toEqual({
      code: 2, stdout: "", stderr: "line 1: Illegal 'weight' option with the 'add-service' command\n",
    });
    expect(await sh(bareControl(), "ipvsadm -R", "-R\n")).toEqual({
      code: 255, stdout: "", stderr: "line 1: Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n",
    });
    expect(await sh(bareControl(), "ipvsadm -R", "-A -f 4 -s rr\n")).toMatchObject({ code: 2, stderr: expect.stringMatching(/^line 1: firewall mark 4 has no members/) });
    expect(await sh(bareControl(), "ipvsadm -R", "-A -f 4 -s rr\n# ringvs: fwmark 4 = tcp 198.18.0.100\n")).toEqual({
      code: 2, stdout: "", stderr: 'line 2: fwmark 4: "tcp 198.18.0.100": no port given: write ADDRESS:PORT, or ADDRESS:0 for every port\n',
    });
    // A directive may follow its service, as in a rules file.
    const late = bareControl();
    expect(await sh(late, "ipvsadm -R", "-A -f 4 -s rr\n-a -f 4 -r 198.18.0.11\n# ringvs: fwmark 4 = udp 198.18.0.100:53\n")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(late.current().services[0]!.members).toEqual([{ protocol: "udp", address: "198.18.0.100", port: 53 }]);
    // --set and listings inside -R work as commands of their own.
    const mixed = bareControl();
    expect(await sh(mixed, "ipvsadm -R", "--set 100 0 0\n-L --timeout\n")).toEqual({ code: 0, stdout: "Timeout (tcp tcpfin udp): 100 120 300\n", stderr: "" });
  });
});
