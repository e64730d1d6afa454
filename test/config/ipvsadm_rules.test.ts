// The `ipvsadm-save -n` front end: real saved files and the command forms operators copy from
// LVS how-tos parse to exactly the config ipvsadm would build; everything ringvs cannot do yet is
// refused on its line, naming the option and the value.

import { describe, expect, test } from "bun:test";
import { parseIpvsadmRules } from "../../src/config/ipvsadm_rules.ts";
import { formatConfigError, parseConfigText, type ConfigError, type ConfigResult } from "../../src/config/load.ts";
import type { DirectorConfig, ServiceConfig } from "../../src/config/model.ts";

function configOf(r: ConfigResult): DirectorConfig {
  if (!r.ok) throw new Error(`expected a config, got:\n${r.errors.map(formatConfigError).join("\n")}`);
  return r.config;
}

function errorsOf(r: ConfigResult): ConfigError[] {
  if (r.ok) throw new Error(`expected errors, got a config: ${JSON.stringify(r.config)}`);
  return r.errors;
}

const OPTS = { interface: "eth0" };

function parse(text: string): ConfigResult {
  return parseIpvsadmRules(text, "ipvsadm.rules", OPTS);
}

function services(text: string): ServiceConfig[] {
  return configOf(parse(text)).services;
}

/** Formatted errors of a file. */
function problems(text: string): string[] {
  return errorsOf(parse(text)).map(formatConfigError);
}

/** Errors of a one-service file whose service is fine, plus `line` as line 2. */
function problemsWith(line: string): string[] {
  return problems(`-A -t 198.18.0.100:80 -s rr\n${line}\n`);
}

describe("ipvsadm-save -n output", () => {
  const saved = [
    "-A -t 198.18.0.100:80 -s wrr",
    "-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 3",
    "-a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 2",
    "-A -u 198.18.0.100:53 -s rr -p 600",
    "-a -u 198.18.0.100:53 -r 198.18.0.11:53 -g -w 1",
    "",
  ].join("\n");

  test("parses to the whole config", () => {
    expect(configOf(parse(saved))).toEqual({
      interface: "eth0",
      vipMode: "auto",
      ring: { blockSize: 65536, blockCount: 512, blockTimeoutMs: 1 },
      flowTableSize: 1048576,
      services: [
        {
          protocol: "tcp",
          address: "198.18.0.100",
          port: 80,
          scheduler: "wrr",
          persistence: null,
          realServers: [
            { address: "198.18.0.11", port: 80, weight: 3, forward: "dr" },
            { address: "198.18.0.12", port: 80, weight: 2, forward: "dr" },
          ],
        },
        {
          protocol: "udp",
          address: "198.18.0.100",
          port: 53,
          scheduler: "rr",
          persistence: { timeout: 600, netmask: "255.255.255.255" },
          realServers: [{ address: "198.18.0.11", port: 53, weight: 1, forward: "dr" }],
        },
      ],
    });
  });

  test("equals the same config written as JSON (one schema behind both)", () => {
    const json = JSON.stringify({
      interface: "eth0",
      services: [
        {
          address: "198.18.0.100",
          port: 80,
          scheduler: "wrr",
          realServers: [
            { address: "198.18.0.11", weight: 3 },
            { address: "198.18.0.12", weight: 2 },
          ],
        },
        {
          protocol: "udp",
          address: "198.18.0.100",
          port: 53,
          scheduler: "rr",
          persistence: { timeout: 600 },
          realServers: [{ address: "198.18.0.11" }],
        },
      ],
    });
    expect(configOf(parse(saved))).toEqual(configOf(parseConfigText(json, "ringvs.json")));
  });

  test("-p with -M, as ipvsadm-save prints a non-/32 persistence mask", () => {
    expect(services("-A -t 198.18.0.100:443 -s rr -p 3600 -M 255.255.255.0\n")[0].persistence).toEqual({
      timeout: 3600,
      netmask: "255.255.255.0",
    });
  });

  test("the caller's settings fill what the file cannot say", () => {
    const r = parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "x", {
      interface: "veth-dir",
      vipMode: "arp",
      ring: { blockCount: 8 },
      flowTableSize: 4096,
    });
    const config = configOf(r);
    expect(config.interface).toBe("veth-dir");
    expect(config.vipMode).toBe("arp");
    expect(config.ring).toEqual({ blockSize: 65536, blockCount: 8, blockTimeoutMs: 1 });
    expect(config.flowTableSize).toBe(4096);
  });

  test("and are validated by the same schema, without a line", () => {
    const r = parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "ipvsadm.rules", { interface: "eth0:1", flowTableSize: 1000 });
    expect(errorsOf(r).map(formatConfigError)).toEqual([
      "ipvsadm.rules: interface: \"eth0:1\": 'eth0:1' is an address label (alias), not an interface: use 'eth0'",
      "ipvsadm.rules: flowTableSize: 1000: must be a power of two from 1024 to 16777216 (2^24)",
    ]);
  });
});

describe("ipvsadm's defaults", () => {
  test("-a defaults: DR (-g), weight 1, the service port", () => {
    expect(services("-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.8\n")[0].realServers).toEqual([
      { address: "10.0.0.8", port: 80, weight: 1, forward: "dr" },
    ]);
  });

  test("-p without a number is 360 seconds, per client", () => {
    expect(services("-A -t 10.0.0.100:22 -s rr -p\n")[0].persistence).toEqual({ timeout: 360, netmask: "255.255.255.255" });
    // popt: the optional value is not taken when the next word is an option.
    expect(services("-A -t 10.0.0.100:22 -p -s rr\n")[0]).toMatchObject({
      scheduler: "rr",
      persistence: { timeout: 360, netmask: "255.255.255.255" },
    });
    expect(services("-A -t 10.0.0.100:22 -p -M 255.255.0.0 -s rr\n")[0].persistence).toEqual({
      timeout: 360,
      netmask: "255.255.0.0",
    });
  });

  test("-s defaults to wlc, which is refused until it exists", () => {
    expect(problems("-A -t 10.0.0.100:80\n")).toEqual([
      "ipvsadm.rules:1: -s: \"wlc\": scheduler 'wlc' is not supported yet; ringvs has rr and wrr (this line has no -s, and ipvsadm's default is wlc)",
    ]);
  });

  test("real servers keep file order; weight 0 is allowed", () => {
    const rs = services(
      "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.0.0.3 -w 0\n-a -t 10.0.0.100:80 -r 10.0.0.1:80 -w 65535\n-a -t 10.0.0.100:80 -r 10.0.0.2 -g\n",
    )[0].realServers;
    expect(rs.map((r) => [r.address, r.weight])).toEqual([
      ["10.0.0.3", 0],
      ["10.0.0.1", 65535],
      ["10.0.0.2", 1],
    ]);
  });
});

describe("command forms from LVS how-tos", () => {
  test("a shell script's ipvsadm lines (seed 000: -r without port, $type=-g)", () => {
    const text = [
      "ipvsadm -A -t 192.168.0.100:80 -s wrr",
      "ipvsadm -a -t 192.168.0.100:80 -r 192.168.0.101 -g -w 1",
      "ipvsadm -a -t 192.168.0.100:80 -r 192.168.0.102 -g -w 1",
    ].join("\n");
    expect(services(text)).toEqual([
      {
        protocol: "tcp",
        address: "192.168.0.100",
        port: 80,
        scheduler: "wrr",
        persistence: null,
        realServers: [
          { address: "192.168.0.101", port: 80, weight: 1, forward: "dr" },
          { address: "192.168.0.102", port: 80, weight: 1, forward: "dr" },
        ],
      },
    ]);
  });

  test("a saved /etc/ipvsadm.rules with the default wlc (seed 002) is refused on its -A line only", () => {
    const text = [
      "# ipvsadm.rules",
      "-A -t 192.168.10.100:80 -s wlc",
      "-a -t 192.168.10.100:80 -r 10.0.0.7:80 -g -w 1",
      "-a -t 192.168.10.100:80 -r 10.0.0.17:80 -g -w 1",
    ].join("\n");
    expect(errorsOf(parse(text))).toEqual([
      {
        source: "ipvsadm.rules",
        line: 2,
        field: "-s",
        value: "wlc",
        message: "scheduler 'wlc' is not supported yet; ringvs has rr and wrr",
      },
    ]);
    expect(services(text.replace("-s wlc", "-s wrr"))[0].realServers.map((r) => r.address)).toEqual(["10.0.0.7", "10.0.0.17"]);
  });

  test("values glued to their option (seed 004: -r10.0.10.83, -t10.0.10.100:80, -p600)", () => {
    const text = [
      "ipvsadm -A -t10.0.10.100:80  -s wrr -p600",
      "ipvsadm -a -t 10.0.10.100:80 -r10.0.10.83 -g -w 2",
      "ipvsadm -a -t 10.0.10.100:80 -r10.0.10.84 -g -w2",
    ].join("\n");
    const [svc] = services(text);
    expect(svc.persistence).toEqual({ timeout: 600, netmask: "255.255.255.255" });
    expect(svc.realServers).toEqual([
      { address: "10.0.10.83", port: 80, weight: 2, forward: "dr" },
      { address: "10.0.10.84", port: 80, weight: 2, forward: "dr" },
    ]);
  });

  test("a how-to's typo (-A 10.0.0.100, -a 10.0.10.100) is ipvsadm's 'Service not defined'", () => {
    const text = [
      "ipvsadm -A -t 10.0.0.100:22 -s rr -p",
      "ipvsadm -a -t 10.0.10.100:22 -r 10.0.10.84",
      "ipvsadm -a -t 10.0.10.100:22 -r 10.0.10.83",
    ].join("\n");
    expect(errorsOf(parse(text))).toEqual([
      {
        source: "ipvsadm.rules",
        line: 2,
        field: "-t",
        value: "10.0.10.100:22",
        message: 'service tcp 10.0.10.100:22 is not defined by an earlier -A line (ipvsadm: "Service not defined")',
      },
      {
        source: "ipvsadm.rules",
        line: 3,
        field: "-t",
        value: "10.0.10.100:22",
        message: 'service tcp 10.0.10.100:22 is not defined by an earlier -A line (ipvsadm: "Service not defined")',
      },
    ]);
  });

  test("NAT how-tos (seed 003: -m) are refused by name on each line", () => {
    const text = [
      "ipvsadm -A -t 172.18.100.100:80 -s rr",
      "ipvsadm -a -t 172.18.100.100:80 -r 192.168.25.1 -m",
      "ipvsadm -a -t 172.18.100.100:80 -r 192.168.25.2 -m -w 2",
    ].join("\n");
    expect(problems(text)).toEqual([
      "ipvsadm.rules:2: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and, later, TUN (-i)",
      "ipvsadm.rules:3: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and, later, TUN (-i)",
    ]);
  });

  test("long options, --opt=value, clusters, blank lines and comments", () => {
    const text = [
      "# director rules",
      "",
      "   ",
      "--add-service --tcp-service 198.18.0.100:80 --scheduler wrr --persistent=120 --netmask 255.255.255.0",
      "--add-server --tcp-service=198.18.0.100:80 --real-server 198.18.0.11:80 --gatewaying --weight 5  # primary",
      "-a -t 198.18.0.100:80 -r 198.18.0.12 -gw 4",
      "-At 198.18.0.100:81 -s rr",
      "--add-service --udp-service 198.18.0.100:53 --scheduler=rr --persistent",
      "\t-a -u 198.18.0.100:53 -r 198.18.0.13 --weight=7\r",
    ].join("\n");
    expect(services(text)).toEqual([
      {
        protocol: "tcp",
        address: "198.18.0.100",
        port: 80,
        scheduler: "wrr",
        persistence: { timeout: 120, netmask: "255.255.255.0" },
        realServers: [
          { address: "198.18.0.11", port: 80, weight: 5, forward: "dr" },
          { address: "198.18.0.12", port: 80, weight: 4, forward: "dr" },
        ],
      },
      { protocol: "tcp", address: "198.18.0.100", port: 81, scheduler: "rr", persistence: null, realServers: [] },
      {
        protocol: "udp",
        address: "198.18.0.100",
        port: 53,
        scheduler: "rr",
        persistence: { timeout: 360, netmask: "255.255.255.255" },
        realServers: [{ address: "198.18.0.13", port: 53, weight: 7, forward: "dr" }],
      },
    ]);
  });

  test("CRLF line endings", () => {
    expect(services("-A -t 1.2.3.4:80 -s rr\r\n-a -t 1.2.3.4:80 -r 10.0.0.1 -w 2\r\n")[0].realServers).toEqual([
      { address: "10.0.0.1", port: 80, weight: 2, forward: "dr" },
    ]);
  });
});

describe("refusals, each on its line with option and value", () => {
  const cases: [string, string, string[]][] = [
    ["-m", "-a -t 198.18.0.100:80 -r 10.0.0.1 -m", ["2: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and, later, TUN (-i)"]],
    ["--masquerading", "-a -t 198.18.0.100:80 -r 10.0.0.1 --masquerading", ["2: --masquerading: NAT forwarding (-m) is not supported: ringvs does DR (-g) and, later, TUN (-i)"]],
    ["-i", "-a -t 198.18.0.100:80 -r 10.0.0.1 -i -w 1", ["2: -i: TUN forwarding (-i) is not supported yet"]],
    ["--ipip", "-a -t 198.18.0.100:80 -r 10.0.0.1 --ipip", ["2: --ipip: TUN forwarding (-i) is not supported yet"]],
    ["-x", "-a -t 198.18.0.100:80 -r 10.0.0.1 -x 100", ['2: -x: "100": connection thresholds (-x) are not supported yet']],
    ["-y", "-a -t 198.18.0.100:80 -r 10.0.0.1 --l-threshold 10", ['2: --l-threshold: "10": connection thresholds (-y) are not supported yet']],
    ["-f", "-A -f 1 -s rr", ['2: -f: "1": firewall-mark services (-f) are not supported yet']],
    ["--fwmark-service on -a", "-a --fwmark-service 1 -r 10.0.0.1", ['2: --fwmark-service: "1": firewall-mark services (-f) are not supported yet']],
    ["-b", "-A -t 198.18.0.101:80 -s rr -b flag-1", ['2: -b: "flag-1": scheduler flags (-b) are not supported yet']],
    ["--pe", "-A -t 198.18.0.101:5060 -s rr -p --pe sip", ['2: --pe: "sip": persistence engines (--pe) are not supported yet']],
    ["-o", "-A -u 198.18.0.101:53 -s rr -o", ["2: -o: one-packet scheduling (-o) is not supported yet"]],
    ["ops word", "-A -u 198.18.0.101:53 -s rr ops", ["2: ops: one-packet scheduling (ops) is not supported yet"]],
    ["--tun-type", "-a -t 198.18.0.100:80 -r 10.0.0.1 --tun-type gue", ['2: --tun-type: "gue": tunnel options (--tun-type) are not supported yet']],
    ["IPv6 service", "-A -t [2001:db8::1]:80 -s rr", ['2: -t: "[2001:db8::1]:80": IPv6 is not supported yet']],
    ["-6", "-A -f 1 -6", ['2: -f: "1": firewall-mark services (-f) are not supported yet', "2: -6: IPv6 is not supported yet"]],
    ["-x on -A is illegal, not 'not yet'", "-A -t 198.18.0.101:80 -s rr -x 5", ["2: -x: illegal option with the 'add-service' command"]],
    ["-m on -A is illegal", "-A -t 198.18.0.101:80 -s rr -m", ["2: -m: illegal option with the 'add-service' command"]],
    ["-b on -a is illegal", "-a -t 198.18.0.100:80 -r 10.0.0.1 -b sh-port", ["2: -b: illegal option with the 'add-server' command"]],
    ["port 0", "-A -t 198.18.0.101:0 -s rr -p", ['2: -t: "198.18.0.101:0": port-0 services (persistent, all ports) are not supported: give the service its port']],
    ["no port", "-A -t 198.18.0.101 -s rr -p", ['2: -t: "198.18.0.101": no port given (ipvsadm takes port 0); port-0 services (persistent, all ports) are not supported: give the service its port']],
    ["scheduler lc", "-A -t 198.18.0.101:80 -s lc", ["2: -s: \"lc\": scheduler 'lc' is not supported yet; ringvs has rr and wrr"]],
    ["scheduler sh", "-A -t 198.18.0.101:80 --scheduler sh", ["2: --scheduler: \"sh\": scheduler 'sh' is not supported yet; ringvs has rr and wrr"]],
    ["unknown scheduler", "-A -t 198.18.0.101:80 -s foo", ["2: -s: \"foo\": unknown scheduler 'foo' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos; ringvs has rr and wrr)"]],
    ["-E", "-E -t 198.18.0.100:80 -s wrr", ["2: -E: -E (edit-service) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["-e", "-e -t 198.18.0.100:80 -r 10.0.0.1 -w 3", ["2: -e: -e (edit-server) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["-D", "-D -t 198.18.0.100:80", ["2: -D: -D (delete-service) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["-d", "-d -t 198.18.0.100:80 -r 10.0.0.1", ["2: -d: -d (delete-server) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["-C", "ipvsadm -C", ["2: -C: -C (clear) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["--clear", "--clear", ["2: --clear: -C (clear) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["-Ln", "ipvsadm -Ln", ["2: -L: -L (list) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines)"]],
    ["--set", "--set 900 120 300", ["2: 900: unexpected argument", "2: 120: unexpected argument", "2: 300: unexpected argument", "2: --set: connection timeouts (--set) are not supported yet, and do not belong in a rules file"]],
    ["--start-daemon", "--start-daemon master", ["2: --start-daemon: the connection sync daemon (--start-daemon) is not supported"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, () => {
      expect(problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }
});

describe("malformed lines", () => {
  const cases: [string, string, string[]][] = [
    ["weight out of range", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w 70000", ["2: -w: 70000: must be 0..65535"]],
    ["weight not a number", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w heavy", ['2: -w: "heavy": must be an integer 0..65535']],
    ["negative weight", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w -1", ['2: -w: "-1": must be an integer 0..65535']],
    ["DR port remap", "-a -t 198.18.0.100:80 -r 10.0.0.1:8080 -g", ["2: -r: \"10.0.0.1:8080\": DR cannot change the port: a real server's port must equal the service port 80 (or be omitted)"]],
    ["timeout 0", "-A -t 198.18.0.101:80 -s rr -p 0", ["2: -p: 0: must be 1..2678400 seconds"]],
    ["timeout too long", "-A -t 198.18.0.101:80 -s rr --persistent=2678401", ["2: --persistent: 2678401: must be 1..2678400 seconds"]],
    ["timeout not a number", "-A -t 198.18.0.101:80 -s rr -ptimeout_number", ['2: -p: "timeout_number": invalid timeout: must be a number of seconds']],
    ["non-contiguous mask", "-A -t 198.18.0.101:80 -s rr -p -M 255.0.255.0", ['2: -M: "255.0.255.0": must be a contiguous netmask (ones then zeros, like 255.255.255.0)']],
    ["-M without -p", "-A -t 198.18.0.101:80 -s rr -M 255.255.255.0", ['2: -M: "255.255.255.0": has no effect without -p (persistence)']],
    ["host name", "-A -t www.example.com:80 -s rr", ["2: -t: \"www.example.com:80\": 'www.example.com' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)"]],
    ["service name", "-A -t 198.18.0.101:http -s rr", ["2: -t: \"198.18.0.101:http\": port 'http' is a service name; only numeric ports are accepted (write the rules with ipvsadm-save -n)"]],
    ["bad address", "-a -t 198.18.0.100:80 -r 10.0.0.256", ["2: -r: \"10.0.0.256\": '10.0.0.256' is not an IPv4 address in dotted-quad form"]],
    ["bad port", "-A -t 198.18.0.101:99999 -s rr", ["2: -t: \"198.18.0.101:99999\": '99999' is not a port (0..65535)"]],
    ["multicast real server", "-a -t 198.18.0.100:80 -r 224.0.0.5", ['2: -r: "224.0.0.5": must not be a multicast address']],
    ["duplicate service", "-A -t 198.18.0.100:80 -s wrr", ['2: -t: "198.18.0.100:80": service already exists (defined on line 1)']],
    ["duplicate real server", "-a -t 198.18.0.100:80 -r 10.0.0.1\n-a -t 198.18.0.100:80 -r 10.0.0.1:80 -w 2", ['3: -r: "10.0.0.1:80": real server 10.0.0.1 already exists in this service (added on line 2)']],
    ["udp -a for a tcp service", "-a -u 198.18.0.100:80 -r 10.0.0.1", ['2: -u: "198.18.0.100:80": service udp 198.18.0.100:80 is not defined by an earlier -A line (ipvsadm: "Service not defined")']],
    ["-a without -r", "-a -t 198.18.0.100:80 -w 1", ["2: -r: required with the 'add-server' command"]],
    ["-A without a service", "-A -s rr", ["2: -t: required with the 'add-service' command"]],
    ["-r on -A", "-A -t 198.18.0.101:80 -s rr -r 10.0.0.1", ["2: -r: illegal option with the 'add-service' command"]],
    ["-s on -a", "-a -t 198.18.0.100:80 -r 10.0.0.1 -s rr", ["2: -s: illegal option with the 'add-server' command"]],
    ["-n on -A", "-A -n -t 198.18.0.101:80 -s rr", ["2: -n: illegal option with the 'add-service' command"]],
    ["option twice", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w 1 --weight 2", ["2: --weight: given twice on this line (with -w)"]],
    ["two forwarding methods", "-a -t 198.18.0.100:80 -r 10.0.0.1 -g -g", ["2: -g: given twice on this line (with -g)"]],
    ["two commands", "-A -a -t 198.18.0.100:80", ["2: -a: multiple commands specified (-A, -a)"]],
    ["no command", "-t 198.18.0.100:80 -s rr", ["2: -t: no command on this line (expected -A or -a)"]],
    ["a bare ipvsadm", "/sbin/ipvsadm", ["2: /sbin/ipvsadm: no command on this line (expected -A or -a)"]],
    ["unknown short option", "-a -t 198.18.0.100:80 -r 10.0.0.1 -q", ["2: -q: unknown option"]],
    ["unknown long option", "-a -t 198.18.0.100:80 -r 10.0.0.1 --weigth 3", ["2: --weigth: unknown option", "2: 3: unexpected argument"]],
    ["missing value", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w", ["2: -w: option requires a value"]],
    ["value on a flag", "-a -t 198.18.0.100:80 -r 10.0.0.1 --gatewaying=yes", ['2: --gatewaying: "yes": option takes no value']],
    ["stray word", "-a -t 198.18.0.100:80 -r 10.0.0.1 extra", ["2: extra: unexpected argument"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, () => {
      expect(problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }
});

describe("errors across a file", () => {
  test("every bad line is reported, in line order, and good lines do not add noise", () => {
    const text = [
      "# saved by ipvsadm-save -n", //                                   1
      "-A -t 198.18.0.100:80 -s wrr", //                                   2
      "-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 3", //                3
      "-a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 70000", //            4
      "-A -t 198.18.0.100:443 -s lblc", //                                 5
      "-a -t 198.18.0.100:443 -r 198.18.0.11:443 -g -w 1", //              6
      "-A -f 7 -s rr", //                                                  7
      "-a -f 7 -r 198.18.0.11 -g", //                                      8
      "-a -t 198.18.0.100:80 -r 198.18.0.13:80 -i -w 1", //                9
    ].join("\n");
    expect(problems(text)).toEqual([
      "ipvsadm.rules:4: -w: 70000: must be 0..65535",
      "ipvsadm.rules:5: -s: \"lblc\": scheduler 'lblc' is not supported yet; ringvs has rr and wrr",
      'ipvsadm.rules:7: -f: "7": firewall-mark services (-f) are not supported yet',
      'ipvsadm.rules:8: -f: "7": firewall-mark services (-f) are not supported yet',
      "ipvsadm.rules:9: -i: TUN forwarding (-i) is not supported yet",
    ]);
  });

  test("-a lines of a refused -A are not also 'not defined'", () => {
    expect(problems("-A -t 198.18.0.100:80 -s rr -x 5\n-a -t 198.18.0.100:80 -r 10.0.0.1\n")).toEqual([
      "ipvsadm.rules:1: -x: illegal option with the 'add-service' command",
    ]);
  });

  test("an empty file has no services", () => {
    expect(problems("# nothing here\n\n")).toEqual(["ipvsadm.rules: services: []: at least one service is required"]);
  });
});
