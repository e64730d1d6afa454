// The `ipvsadm-save -n` front end: real saved files and the command forms operators copy from
// LVS how-tos parse to exactly the config ipvsadm would build; everything ringvs cannot do yet is
// refused on its line, naming the option and the value.

import { describe, expect, test } from "bun:test";
import { parseIpvsadmRules } from "../../src/config/ipvsadm_rules.ts";
import { formatConfigError, parseConfigText, type ConfigResult } from "../../src/config/load.ts";
import type { ServiceConfig } from "../../src/config/model.ts";
import { IPVS_SCHEDULERS, serviceToInput, validateDirectorConfig } from "../../src/config/schema.ts";
import { configOf, DIRECTOR_DEFAULTS, errorsOf, fwService, NO_FLAGS, rs, vipWith, WEB_MEMBERS } from "./helpers.ts";

/** What ipvsadm -s takes, as unknown-scheduler messages list it. */
const KNOWN = "rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos";

const vip = vipWith("rr");

const OPTS = { interface: "eth0" };

async function parse(text: string): Promise<ConfigResult> {
  return parseIpvsadmRules(text, "ipvsadm.rules", OPTS);
}

async function services(text: string): Promise<ServiceConfig[]> {
  return configOf(await parse(text)).services;
}

/** Formatted errors of a file. */
async function problems(text: string): Promise<string[]> {
  return errorsOf(await parse(text)).map(formatConfigError);
}

/** Errors of a one-service file whose service is fine, plus `line` as line 2. */
function problemsWith(line: string): Promise<string[]> {
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

  test("parses to the whole config", async () => {
    expect(configOf(await parse(saved))).toEqual({
      ...DIRECTOR_DEFAULTS,
      services: [
        vip("tcp", "198.18.0.100", 80, { scheduler: "wrr", realServers: [rs("198.18.0.11", 80, 3), rs("198.18.0.12", 80, 2)] }),
        vip("udp", "198.18.0.100", 53, {
          persistence: { timeout: 600, netmask: "255.255.255.255" },
          realServers: [rs("198.18.0.11", 53)],
        }),
      ],
    });
  });

  test("equals the same config written as JSON (one schema behind both)", async () => {
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
    expect(configOf(await parse(saved))).toEqual(configOf(parseConfigText(json, "ringvs.json")));
  });

  test("-p with -M, as ipvsadm-save prints a non-/32 persistence mask", async () => {
    expect((await services("-A -t 198.18.0.100:443 -s rr -p 3600 -M 255.255.255.0\n"))[0].persistence).toEqual({
      timeout: 3600,
      netmask: "255.255.255.0",
    });
  });

  test("the caller's settings fill what the file cannot say", async () => {
    const r = await parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "x", {
      interface: "veth-dir",
      vipMode: "arp",
      ring: { blockCount: 8 },
      flowTableSize: 4096,
    });
    const config = configOf(r);
    expect(config.interface).toBe("veth-dir");
    expect(config.vipMode).toBe("arp");
    expect(config.ring).toEqual({ version: 2, blockSize: 8192, blockCount: 8, blockTimeoutMs: 1 });
    expect(config.flowTableSize).toBe(4096);
  });

  test("and are validated by the same schema, without a line", async () => {
    const r = await parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "ipvsadm.rules", { interface: "eth0:1", flowTableSize: 1000 });
    expect(errorsOf(r).map(formatConfigError)).toEqual([
      "ipvsadm.rules: interface: \"eth0:1\": 'eth0:1' is an address label (alias), not an interface: use 'eth0'",
      "ipvsadm.rules: flowTableSize: 1000: must be a power of two from 1024 to 16777216 (2^24)",
    ]);
  });
});

describe("the real servers the table joins as the control library holds them", () => {
  // parseIpvsadmRules validates the services once more but not their real servers (each came in
  // through -a's checks): what it returns must be what validating them too would give.
  const files = [
    "-A -t 198.18.0.100:80 -s wrr\n-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 3\n-a -t 198.18.0.100:80 -r 198.18.0.12 -i -w 0 -x 100 -y 10\n",
    "-A -u 198.18.0.100:53 -s sh -b sh-port -p 600 -M 255.255.255.0\n-a -u 198.18.0.100:53 -r 198.18.0.11:53 -g\n-a -u 198.18.0.100:53 -r 198.18.0.13 -i -w 65535\n",
    "-A -t 198.18.0.100:0 -s rr -p 60\n-a -t 198.18.0.100:0 -r 198.18.0.11 -g\n",
    "# ringvs: fwmark 7 = tcp 198.18.0.100:80, tcp 198.18.0.100:443\n-A -f 7 -s wlc\n-a -f 7 -r 198.18.0.11 -g -w 2\n-a -f 7 -r 198.18.0.12 -i\n",
    "--set 10 20 30\n-A -t 198.18.0.100:80 -s lc\n-a -t 198.18.0.100:80 -r 198.18.0.11 -i -w 9 -x 5\n-A -t 198.18.0.101:80 -s mh\n-a -t 198.18.0.101:80 -r 198.18.0.11 -g\n",
  ];
  for (const [i, text] of files.entries()) {
    test(`file ${i + 1}`, async () => {
      const config = configOf(await parse(text));
      expect(config.services.some((s) => s.realServers.length > 0)).toBe(true);
      const again = validateDirectorConfig({ ...config, interfaces: undefined, services: config.services.map(serviceToInput) });
      expect(again).toEqual({ ok: true, config });
    });
  }
});

describe("ipvsadm's defaults", () => {
  test("-a defaults: DR (-g), weight 1, the service port", async () => {
    expect((await services("-A -t 10.0.0.100:80 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.8\n"))[0].realServers).toEqual([rs("10.0.0.8", 80)]);
  });

  test("-p without a number is 360 seconds, per client", async () => {
    expect((await services("-A -t 10.0.0.100:22 -s rr -p\n"))[0].persistence).toEqual({ timeout: 360, netmask: "255.255.255.255" });
    // popt: the optional value is not taken when the next word is an option.
    expect((await services("-A -t 10.0.0.100:22 -p -s rr\n"))[0]).toMatchObject({
      scheduler: "rr",
      persistence: { timeout: 360, netmask: "255.255.255.255" },
    });
    expect((await services("-A -t 10.0.0.100:22 -p -M 255.255.0.0 -s rr\n"))[0].persistence).toEqual({
      timeout: 360,
      netmask: "255.255.0.0",
    });
  });

  test("-s defaults to wlc", async () => {
    expect((await services("-A -t 10.0.0.100:80\n"))[0].scheduler).toBe("wlc");
  });

  test("real servers keep file order; weight 0 is allowed", async () => {
    const rs = (await services(
      "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.0.0.3 -w 0\n-a -t 10.0.0.100:80 -r 10.0.0.1:80 -w 65535\n-a -t 10.0.0.100:80 -r 10.0.0.2 -g\n",
    ))[0].realServers;
    expect(rs.map((r) => [r.address, r.weight])).toEqual([
      ["10.0.0.3", 0],
      ["10.0.0.1", 65535],
      ["10.0.0.2", 1],
    ]);
  });
});

describe("command forms from LVS how-tos", () => {
  test("a shell script's ipvsadm lines (seed 000: -r without port, $type=-g)", async () => {
    const text = [
      "ipvsadm -A -t 192.168.0.100:80 -s wrr",
      "ipvsadm -a -t 192.168.0.100:80 -r 192.168.0.101 -g -w 1",
      "ipvsadm -a -t 192.168.0.100:80 -r 192.168.0.102 -g -w 1",
    ].join("\n");
    expect(await services(text)).toEqual([
      vip("tcp", "192.168.0.100", 80, { scheduler: "wrr", realServers: [rs("192.168.0.101", 80), rs("192.168.0.102", 80)] }),
    ]);
  });

  const seed002 = [
    "# ipvsadm.rules",
    "-A -t 192.168.10.100:80 -s wlc",
    "-a -t 192.168.10.100:80 -r 10.0.0.7:80 -g -w 1",
    "-a -t 192.168.10.100:80 -r 10.0.0.17:80 -g -w 1",
  ].join("\n");

  test("a saved /etc/ipvsadm.rules with wlc (seed 002)", async () => {
    const [svc] = await services(seed002);
    expect(svc.scheduler).toBe("wlc");
    expect(svc.realServers.map((r) => r.address)).toEqual(["10.0.0.7", "10.0.0.17"]);
  });

  test("values glued to their option (seed 004: -r10.0.10.83, -t10.0.10.100:80, -p600)", async () => {
    const text = [
      "ipvsadm -A -t10.0.10.100:80  -s wrr -p600",
      "ipvsadm -a -t 10.0.10.100:80 -r10.0.10.83 -g -w 2",
      "ipvsadm -a -t 10.0.10.100:80 -r10.0.10.84 -g -w2",
    ].join("\n");
    const [svc] = await services(text);
    expect(svc.persistence).toEqual({ timeout: 600, netmask: "255.255.255.255" });
    expect(svc.realServers).toEqual([rs("10.0.10.83", 80, 2), rs("10.0.10.84", 80, 2)]);
  });

  test("a how-to's typo (-A 10.0.0.100, -a 10.0.10.100) is ipvsadm's 'Service not defined'", async () => {
    const text = [
      "ipvsadm -A -t 10.0.0.100:22 -s rr -p",
      "ipvsadm -a -t 10.0.10.100:22 -r 10.0.10.84",
      "ipvsadm -a -t 10.0.10.100:22 -r 10.0.10.83",
    ].join("\n");
    expect(errorsOf(await parse(text))).toEqual([
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

  test("NAT how-tos (seed 003: -m) are refused by name on each line", async () => {
    const text = [
      "ipvsadm -A -t 172.18.100.100:80 -s rr",
      "ipvsadm -a -t 172.18.100.100:80 -r 192.168.25.1 -m",
      "ipvsadm -a -t 172.18.100.100:80 -r 192.168.25.2 -m -w 2",
    ].join("\n");
    expect(await problems(text)).toEqual([
      "ipvsadm.rules:2: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)",
      "ipvsadm.rules:3: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)",
    ]);
  });

  test("long options, --opt=value, clusters, blank lines and comments", async () => {
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
    expect(await services(text)).toEqual([
      vip("tcp", "198.18.0.100", 80, {
        scheduler: "wrr",
        persistence: { timeout: 120, netmask: "255.255.255.0" },
        realServers: [rs("198.18.0.11", 80, 5), rs("198.18.0.12", 80, 4)],
      }),
      vip("tcp", "198.18.0.100", 81, {}),
      vip("udp", "198.18.0.100", 53, {
        persistence: { timeout: 360, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.13", 53, 7)],
      }),
    ]);
  });

  test("CRLF line endings", async () => {
    expect((await services("-A -t 1.2.3.4:80 -s rr\r\n-a -t 1.2.3.4:80 -r 10.0.0.1 -w 2\r\n"))[0].realServers).toEqual([rs("10.0.0.1", 80, 2)]);
  });
});

describe("refusals, each on its line with option and value", () => {
  const cases: [string, string, string[]][] = [
    ["-m", "-a -t 198.18.0.100:80 -r 10.0.0.1 -m", ["2: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)"]],
    ["--masquerading", "-a -t 198.18.0.100:80 -r 10.0.0.1 --masquerading", ["2: --masquerading: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)"]],
    ["--pe", "-A -t 198.18.0.101:5060 -s rr -p --pe sip", ['2: --pe: "sip": persistence engines (--pe) are not supported yet']],
    ["-o", "-A -u 198.18.0.101:53 -s rr -o", ["2: -o: one-packet scheduling (-o) is not supported yet"]],
    ["ops word", "-A -u 198.18.0.101:53 -s rr ops", ["2: ops: one-packet scheduling (ops) is not supported yet"]],
    ["--tun-type gue", "-a -t 198.18.0.100:80 -r 10.0.0.1 -i --tun-type gue", ["2: --tun-type: \"gue\": tunnel type 'gue' is not supported yet: ringvs tunnels with IPIP (ipip)"]],
    ["--tun-type without -i", "-a -t 198.18.0.100:80 -r 10.0.0.1 --tun-type ipip", ['2: --tun-type: "ipip": tunnel options need -i (ipvsadm: "Tunnel options conflict with forward method")']],
    ["--tun-type unknown", "-a -t 198.18.0.100:80 -r 10.0.0.1 -i --tun-type vxlan", ['2: --tun-type: "vxlan": illegal tunnel type: ipvsadm knows ipip, gue and gre']],
    ["--tun-port", "-a -t 198.18.0.100:80 -r 10.0.0.1 -i --tun-port 6080", ['2: --tun-port: "6080": tunnel options (--tun-port) are not supported yet: ringvs tunnels with IPIP, which has no port']],
    ["-g and -i", "-a -t 198.18.0.100:80 -r 10.0.0.1 -g -i", ["2: -i: given twice on this line (with -g)"]],
    ["--tun-type on -A", "-A -t 198.18.0.101:80 -s rr --tun-type ipip", ["2: --tun-type: illegal option with the 'add-service' command"]],
    ["IPv6 service", "-A -t [2001:db8::1]:80 -s rr", ['2: -t: "[2001:db8::1]:80": IPv6 is not supported yet']],
    ["-6", "-A -f 1 -6", ["2: -6: IPv6 is not supported yet"]],
    ["-x on -A is illegal, not 'not yet'", "-A -t 198.18.0.101:80 -s rr -x 5", ["2: -x: illegal option with the 'add-service' command"]],
    ["-m on -A is illegal", "-A -t 198.18.0.101:80 -s rr -m", ["2: -m: illegal option with the 'add-service' command"]],
    ["-b on -a is illegal", "-a -t 198.18.0.100:80 -r 10.0.0.1 -b sh-port", ["2: -b: illegal option with the 'add-server' command"]],
    ["port 0 without -p", "-A -t 198.18.0.101:0 -s rr", ['2: -t: "198.18.0.101:0": port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")']],
    ["no port, no -p", "-A -t 198.18.0.101 -s rr", ['2: -t: "198.18.0.101": no port given (ipvsadm takes port 0); port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")']],
    ["unknown scheduler", "-A -t 198.18.0.101:80 -s foo", [`2: -s: "foo": unknown scheduler 'foo' (IPVS knows ${KNOWN})`]],
    ["unknown scheduler, long option", "-A -t 198.18.0.101:80 --scheduler=Rr", [`2: --scheduler: "Rr": unknown scheduler 'Rr' (IPVS knows ${KNOWN})`]],
    ["-E", "-E -t 198.18.0.100:80 -s wrr", ["2: -E: -E (edit-service) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["-e", "-e -t 198.18.0.100:80 -r 10.0.0.1 -w 3", ["2: -e: -e (edit-server) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["-D", "-D -t 198.18.0.100:80", ["2: -D: -D (delete-service) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["-d", "-d -t 198.18.0.100:80 -r 10.0.0.1", ["2: -d: -d (delete-server) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["-C", "ipvsadm -C", ["2: -C: -C (clear) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["--clear", "--clear", ["2: --clear: -C (clear) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["-Ln", "ipvsadm -Ln", ["2: -L: -L (list) does not belong in a rules file: ringvs reads the file as the complete desired state, as ipvsadm-save -n writes it (only -A and -a lines, and --set)"]],
    ["--start-daemon", "--start-daemon master", ["2: --start-daemon: the connection sync daemon (--start-daemon) is not supported"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
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
    ["no command", "-t 198.18.0.100:80 -s rr", ["2: -t: no command on this line (expected -A, -a or --set)"]],
    ["a bare word", "restart", ["2: restart: no command on this line (expected -A, -a or --set)"]],
    ["a bare ipvsadm", "/sbin/ipvsadm", ["2: /sbin/ipvsadm: no command on this line (expected -A, -a or --set)"]],
    ["unknown short option", "-a -t 198.18.0.100:80 -r 10.0.0.1 -q", ["2: -q: unknown option"]],
    ["unknown long option", "-a -t 198.18.0.100:80 -r 10.0.0.1 --weigth 3", ["2: --weigth: unknown option", "2: 3: unexpected argument"]],
    ["missing value", "-a -t 198.18.0.100:80 -r 10.0.0.1 -w", ["2: -w: option requires a value"]],
    ["value on a flag", "-a -t 198.18.0.100:80 -r 10.0.0.1 --gatewaying=yes", ['2: --gatewaying: "yes": option takes no value']],
    ["stray word", "-a -t 198.18.0.100:80 -r 10.0.0.1 extra", ["2: extra: unexpected argument"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }
});

describe("errors across a file", () => {
  test("every bad line is reported, in line order, and good lines do not add noise", async () => {
    const text = [
      "# saved by ipvsadm-save -n", //                                   1
      "-A -t 198.18.0.100:80 -s wrr", //                                   2
      "-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 3", //                3
      "-a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 70000", //            4
      "-A -t 198.18.0.100:443 -s lblcx", //                                5
      "-a -t 198.18.0.100:443 -r 198.18.0.11:443 -g -w 1", //              6
      "-A -f 7 -s rr", //                                                  7
      "-a -f 7 -r 198.18.0.11 -g", //                                      8
      "-a -t 198.18.0.100:80 -r 198.18.0.13:80 -m -w 1", //                9
    ].join("\n");
    expect(await problems(text)).toEqual([
      "ipvsadm.rules:4: -w: 70000: must be 0..65535",
      `ipvsadm.rules:5: -s: "lblcx": unknown scheduler 'lblcx' (IPVS knows ${KNOWN})`,
      'ipvsadm.rules:7: -f: "7": firewall mark 7 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 7 = tcp 198.18.0.100:80, tcp 198.18.0.100:443"',
      "ipvsadm.rules:9: -m: NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)",
    ]);
  });

  test("-a lines of a refused -A are not also 'not defined'", async () => {
    expect(await problems("-A -t 198.18.0.100:80 -s rr -x 5\n-a -t 198.18.0.100:80 -r 10.0.0.1\n")).toEqual([
      "ipvsadm.rules:1: -x: illegal option with the 'add-service' command",
    ]);
  });

  test("an empty file is an empty table (what -C then -S writes)", async () => {
    expect(configOf(await parse("# nothing here\n\n")).services).toEqual([]);
  });
});

describe("schedulers", () => {
  test("every IPVS scheduler is accepted", async () => {
    expect(IPVS_SCHEDULERS).toHaveLength(14);
    for (const name of IPVS_SCHEDULERS) expect((await services(`-A -t 198.18.0.100:80 -s ${name}\n`))[0].scheduler).toBe(name);
  });
});

describe("TUN (-i)", () => {
  test("ipvsadm-save's -i lines with --tun-type ipip; mixed with DR in one service", async () => {
    const text = [
      "-A -t 198.18.0.100:80 -s rr",
      "-a -t 198.18.0.100:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip",
      "-a -t 198.18.0.100:80 -r 198.18.0.12 --ipip",
      "-a -t 198.18.0.100:80 -r 198.18.0.13 -g",
    ].join("\n");
    expect((await services(text))[0].realServers).toEqual([
      { ...rs("203.0.113.11", 80), forward: "tun" },
      { ...rs("198.18.0.12", 80), forward: "tun" },
      rs("198.18.0.13", 80),
    ]);
  });

  test("TUN cannot change the port either", async () => {
    expect(await problemsWith("-a -t 198.18.0.100:80 -r 10.0.0.1:8080 -i")).toEqual([
      "ipvsadm.rules:2: -r: \"10.0.0.1:8080\": TUN cannot change the port: a real server's port must equal the service port 80 (or be omitted)",
    ]);
  });

  test("the caller gives the tunnel source; the schema checks it", async () => {
    const ok = await parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "x", { interface: "eth0", tunnelSource: "198.18.0.2" });
    expect(configOf(ok).tunnelSource).toBe("198.18.0.2");
    const bad = await parseIpvsadmRules("-A -t 198.18.0.100:80 -s rr\n", "x", { interface: "eth0", tunnelSource: "0.0.0.0" });
    expect(errorsOf(bad).map(formatConfigError)).toEqual(['x: tunnelSource: "0.0.0.0": must not be 0.0.0.0']);
  });
});

describe("connection thresholds (-x, -y)", () => {
  test("are kept per real server; absent means 0", async () => {
    const rsList = (await services(
      "-A -t 198.18.0.100:80 -s rr\n-a -t 198.18.0.100:80 -r 10.0.0.1 -x 100 -y 75\n-a -t 198.18.0.100:80 -r 10.0.0.2 --u-threshold=5\n-a -t 198.18.0.100:80 -r 10.0.0.3\n",
    ))[0].realServers;
    expect(rsList).toEqual([
      rs("10.0.0.1", 80, 1, { upperThreshold: 100, lowerThreshold: 75 }),
      rs("10.0.0.2", 80, 1, { upperThreshold: 5 }),
      rs("10.0.0.3", 80),
    ]);
  });

  const cases: [string, string, string[]][] = [
    ["-x not a number", "-a -t 198.18.0.100:80 -r 10.0.0.1 -x many", ['2: -x: "many": must be an integer 0..2147483647']],
    ["-y above INT_MAX", "-a -t 198.18.0.100:80 -r 10.0.0.1 -y 2147483648", ['2: -y: "2147483648": must be an integer 0..2147483647']],
    ["-y above -x", "-a -t 198.18.0.100:80 -r 10.0.0.1 -x 10 -y 20", ['2: -y: 20: is higher than the upper threshold 10 (the kernel refuses it: "lower threshold is higher than upper threshold")']],
    ["-y without -x", "-a -t 198.18.0.100:80 -r 10.0.0.1 --l-threshold 5", ['2: --l-threshold: 5: is higher than the upper threshold 0 (the kernel refuses it: "lower threshold is higher than upper threshold"; with no upper threshold the lower one must be 0 too)']],
    ["-x twice", "-a -t 198.18.0.100:80 -r 10.0.0.1 -x 1 --u-threshold 2", ["2: --u-threshold: given twice on this line (with -x)"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }
});

describe("scheduler flags (-b)", () => {
  const cases: [string, string, string[]][] = [
    ["sh flag on rr", "-A -t 198.18.0.101:80 -s rr -b sh-port", ['2: -b: "sh-port": scheduler flag \'sh-port\' belongs to the sh scheduler, not rr (ipvsadm: "incompatible scheduler flag `sh-port\'")']],
    ["mh flag on the default wlc", "-A -t 198.18.0.101:80 -b mh-fallback,mh-port", [
      '2: -b: "mh-fallback,mh-port": scheduler flag \'mh-fallback\' belongs to the mh scheduler, not wlc (ipvsadm: "incompatible scheduler flag `mh-fallback\'")',
      '2: -b: "mh-fallback,mh-port": scheduler flag \'mh-port\' belongs to the mh scheduler, not wlc (ipvsadm: "incompatible scheduler flag `mh-port\'")',
    ]],
    ["unknown flag", "-A -t 198.18.0.101:80 -s sh -b sh-port,fast", ['2: -b: "sh-port,fast": invalid scheduler flag \'fast\' (ipvsadm knows flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)']],
    ["empty list", "-A -t 198.18.0.101:80 -s sh --sched-flags=,", ['2: --sched-flags: ",": no scheduler flag given (e.g. sh-fallback,sh-port)']],
    ["-b twice", "-A -t 198.18.0.101:80 -s sh -b sh-port -b sh-fallback", ["2: -b: given twice on this line (with -b)"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }

  test("numbered flags on a scheduler that reads none have no effect, as in the kernel", async () => {
    expect((await services("-A -t 198.18.0.100:80 -s rr -b flag-1,flag-2,flag-3\n"))[0].schedulerFlags).toEqual(NO_FLAGS);
  });

  test("sh: named and numbered flags (flag-1 = fallback, flag-2 = port)", async () => {
    expect((await services("-A -t 198.18.0.100:80 -s sh -b sh-fallback,sh-port\n"))[0].schedulerFlags).toEqual({ port: true, fallback: true, mhTableSize: 4093 });
    expect((await services("-A -t 198.18.0.100:80 -b flag-2 -s sh\n"))[0].schedulerFlags).toEqual({ port: true, fallback: false, mhTableSize: 4093 });
    expect((await services("-A -t 198.18.0.100:80 -s sh -b flag-1,sh-fallback,flag-3\n"))[0].schedulerFlags).toEqual({ port: false, fallback: true, mhTableSize: 4093 });
  });

  test("mh: flags map the same way; the table size is the kernel's default", async () => {
    expect((await services("-A -t 198.18.0.100:80 -s mh -b mh-port,flag-1\n"))[0].schedulerFlags).toEqual({ port: true, fallback: true, mhTableSize: 4093 });
  });
});

describe("port-0 services", () => {
  test("ipvsadm-save's -A -t VIP:0 -p and -a -r RS:0", async () => {
    const text = "-A -t 198.18.0.100:0 -s rr -p 600\n-a -t 198.18.0.100:0 -r 198.18.0.11:0 -g -w 1\n-a -t 198.18.0.100:0 -r 198.18.0.12\n";
    expect(await services(text)).toEqual([
      vip("tcp", "198.18.0.100", 0, {
        persistence: { timeout: 600, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.11", 0), rs("198.18.0.12", 0)],
      }),
    ]);
  });

  test("no port is port 0, as in ipvsadm", async () => {
    expect((await services("-A -u 198.18.0.100 -s rr -p\n-a -u 198.18.0.100:0 -r 198.18.0.11\n"))[0]).toMatchObject({
      protocol: "udp",
      port: 0,
      realServers: [rs("198.18.0.11", 0)],
    });
  });

  test("a real server port other than 0 is a DR remap", async () => {
    expect(await problems("-A -t 198.18.0.100:0 -s rr -p\n-a -t 198.18.0.100:0 -r 198.18.0.11:80\n")).toEqual([
      "ipvsadm.rules:2: -r: \"198.18.0.11:80\": DR cannot change the port: a real server's port must equal the service port 0 (or be omitted)",
    ]);
  });
});

describe("firewall-mark services (-f) and the ringvs directive", () => {
  const saved = [
    "# ringvs: fwmark 1 = tcp 198.18.0.100:80, tcp 198.18.0.100:443",
    "-A -f 1 -s rr -p 360",
    "-a -f 1 -r 198.18.0.11:0 -g -w 1",
    "-a -f 1 -r 198.18.0.12 -g -w 2",
  ].join("\n");

  test("ipvsadm-save's -f lines plus the directive", async () => {
    expect(await services(saved)).toEqual([
      fwService(1, WEB_MEMBERS, {
        persistence: { timeout: 360, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.11", 0), rs("198.18.0.12", 0, 2)],
      }),
    ]);
  });

  test("equals the same service written as JSON", async () => {
    const json = JSON.stringify({
      interface: "eth0",
      services: [
        {
          fwmark: 1,
          members: [
            { address: "198.18.0.100", port: 80 },
            { address: "198.18.0.100", port: 443 },
          ],
          scheduler: "rr",
          persistence: {},
          realServers: [{ address: "198.18.0.11" }, { address: "198.18.0.12", weight: 2, port: 0 }],
        },
      ],
    });
    expect(configOf(await parse(saved))).toEqual(configOf(parseConfigText(json, "ringvs.json")));
  });

  test("the directive may come after the service, split over lines, with udp and port 0", async () => {
    const text = [
      "-A -f 4294967295 -s rr",
      "#ringvs: fwmark 4294967295 = udp 198.18.0.100:53",
      "  #  ringvs:   fwmark 4294967295=tcp 198.18.0.101:0 ,tcp 198.18.0.100:53",
    ].join("\n");
    expect((await services(text))[0].members).toEqual([
      { protocol: "udp", address: "198.18.0.100", port: 53 },
      { protocol: "tcp", address: "198.18.0.101", port: 0 },
      { protocol: "tcp", address: "198.18.0.100", port: 53 },
    ]);
  });

  test("a plain comment mentioning ringvs is just a comment", async () => {
    expect(await services("# ringvs rules, see README\n# ringvs fwmark 1 = nothing\n-A -t 198.18.0.100:80 -s rr\n")).toHaveLength(1);
  });

  const cases: [string, string, string[]][] = [
    ["-A -f without members", "-A -f 3 -s rr", ['2: -f: "3": firewall mark 3 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 3 = tcp 198.18.0.100:80, tcp 198.18.0.100:443"']],
    ["members without -A -f", "# ringvs: fwmark 3 = tcp 198.18.0.101:80", ['2: fwmark 3: no "-A -f 3" line defines this firewall-mark service']],
    ["-f 0", "-A -f 0 -s rr", ['2: -f: "0": invalid fwmark value: must be an integer 1..4294967295']],
    ["-f 2^32", "-A --fwmark-service=4294967296 -s rr", ['2: --fwmark-service: "4294967296": invalid fwmark value: must be an integer 1..4294967295']],
    ["-f and -t", "-A -f 3 -t 198.18.0.101:80 -s rr", ["2: -t: given twice on this line (with -f)"]],
    ["-a -f for an undefined mark", "-a -f 3 -r 10.0.0.1", ['2: -f: "3": service fwmark 3 is not defined by an earlier -A line (ipvsadm: "Service not defined")']],
    ["unknown directive", "# ringvs: fwmrk 3 = tcp 198.18.0.101:80", ['2: ringvs: "fwmrk": unknown ringvs directive (ringvs knows one: "# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]...")']],
    ["empty directive", "# ringvs:", ['2: ringvs: unknown ringvs directive (ringvs knows one: "# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]...")']],
    ["no '='", "# ringvs: fwmark 3 tcp 198.18.0.101:80", ['2: ringvs: "3 tcp 198.18.0.101:80": expected "# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]..."']],
    ["bad mark", "# ringvs: fwmark x = tcp 198.18.0.101:80", ['2: ringvs fwmark: "x": invalid fwmark value: must be an integer 1..4294967295']],
    ["no members", "# ringvs: fwmark 3 =", ["2: fwmark 3: no members after '=' (expected \"# ringvs: fwmark MARK = tcp VIP:PORT[, udp VIP:PORT]...\")"]],
    ["bad protocol", "# ringvs: fwmark 3 = sctp 198.18.0.101:80", ['2: fwmark 3: "sctp 198.18.0.101:80": protocol \'sctp\' must be tcp or udp']],
    ["member without protocol", "# ringvs: fwmark 3 = 198.18.0.101:80", ['2: fwmark 3: "198.18.0.101:80": a member is PROTOCOL ADDRESS:PORT, e.g. tcp 198.18.0.100:80']],
    ["member without port", "# ringvs: fwmark 3 = tcp 198.18.0.101", ['2: fwmark 3: "tcp 198.18.0.101": no port given: write ADDRESS:PORT, or ADDRESS:0 for every port']],
    ["member with a host name", "# ringvs: fwmark 3 = tcp vip.example:80", ["2: fwmark 3: \"tcp vip.example:80\": 'vip.example' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }

  test("a broken directive line does not also report its service as memberless", async () => {
    expect(await problems("# ringvs: fwmark 3 = tcp 198.18.0.101:80, tcp 198.18.0.101\n-A -f 3 -s rr\n")).toEqual([
      'ipvsadm.rules:1: fwmark 3: "tcp 198.18.0.101": no port given: write ADDRESS:PORT, or ADDRESS:0 for every port',
    ]);
  });

  test("schema findings about members point at the directive line", async () => {
    const text = [
      "-A -t 198.18.0.100:443 -s rr", //                                          1
      "-A -f 1 -s rr", //                                                         2
      "# ringvs: fwmark 1 = tcp 198.18.0.100:80", //                              3
      "# ringvs: fwmark 1 = tcp 198.18.0.100:443, udp 198.18.0.100:443", //      4
      "-a -f 1 -r 198.18.0.11:80", //                                             5
      "-A -f 2 -s rr", //                                                         6
      "# ringvs: fwmark 2 = tcp 198.18.0.100:0", //                               7
    ].join("\n");
    expect(await problems(text)).toEqual([
      'ipvsadm.rules:4: fwmark 1: "tcp 198.18.0.100:443": tcp 198.18.0.100:443 overlaps the service on line 1 (tcp 198.18.0.100:443): a packet must belong to one service',
      "ipvsadm.rules:5: -r: \"198.18.0.11:80\": DR cannot change the port: a firewall-mark service's real servers take the port each packet came to, so give port 0 or none",
      'ipvsadm.rules:7: fwmark 2: "tcp 198.18.0.100:0": tcp 198.18.0.100:0 overlaps the service on line 1 (tcp 198.18.0.100:443): a packet must belong to one service',
    ]);
  });

  test("a member's address is checked like a VIP", async () => {
    expect(await problems("-A -f 1 -s rr\n# ringvs: fwmark 1 = tcp 198.18.0.100:80, tcp 224.0.0.9:80\n")).toEqual([
      'ipvsadm.rules:2: fwmark 1: "tcp 224.0.0.9:80": must not be a multicast address',
    ]);
  });

  test("a -t service clashing with an earlier member is reported on its -A line", async () => {
    const text = "-A -f 1 -s rr\n# ringvs: fwmark 1 = tcp 198.18.0.100:0\n-A -t 198.18.0.100:443 -s rr\n";
    expect(await problems(text)).toEqual([
      'ipvsadm.rules:3: -t: "198.18.0.100:443": tcp 198.18.0.100:443 overlaps fwmark 1 member on line 2 (tcp 198.18.0.100:0): a packet must belong to one service',
    ]);
  });
});

describe("--set tcp tcpfin udp", () => {
  test("sets the connection timeouts; 0 keeps the value before it", async () => {
    expect(configOf(await parse("--set 600 60 30\n-A -t 198.18.0.100:80 -s rr\n")).timeouts).toEqual({ tcp: 600, tcpFin: 60, udp: 30 });
    expect(configOf(await parse("ipvsadm --set 0 60 0\n-A -t 198.18.0.100:80 -s rr\n")).timeouts).toEqual({ tcp: 900, tcpFin: 60, udp: 300 });
    expect(configOf(await parse("--set 600 60 30\n--set 0 0 45\n-A -t 198.18.0.100:80 -s rr\n")).timeouts).toEqual({ tcp: 600, tcpFin: 60, udp: 45 });
  });

  test("without --set the defaults hold", async () => {
    expect(configOf(await parse("-A -t 198.18.0.100:80 -s rr\n")).timeouts).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
  });

  const cases: [string, string, string[]][] = [
    ["two values", "--set 900 120", ["2: --set: needs 3 timeout values: tcp tcpfin udp (seconds; 0 keeps the value)"]],
    ["four values", "--set 900 120 300 60", ["2: 60: unexpected argument"]],
    ["not a number", "--set 900 2m 300", ['2: --set: "2m": invalid timeout value: must be 0..2678400 seconds (0 keeps the value)']],
    ["above ipvsadm's MAX_TIMEOUT", "--set 2678401 120 300", ['2: --set: "2678401": invalid timeout value: must be 0..2678400 seconds (0 keeps the value)']],
    ["with an option", "--set 900 120 300 -t 198.18.0.100:80", ["2: -t: illegal option with the 'set' command"]],
  ];
  for (const [name, line, expected] of cases) {
    test(name, async () => {
      expect(await problemsWith(line)).toEqual(expected.map((e) => `ipvsadm.rules:${e}`));
    });
  }

  test("a bad --set line changes nothing", async () => {
    expect(errorsOf(await parse("--set 10 x 10\n-A -t 198.18.0.100:80 -s rr\n"))).toHaveLength(1);
  });
});
