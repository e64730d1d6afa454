// The JSON front end and the schema both front ends share: defaults, every refusal, and the
// place (line) and shape (field: value: message) of each error.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  formatConfigError,
  loadConfigFile,
  parseConfigText,
  parseJsonWithPositions,
} from "../../src/config/load.ts";
import {
  FLOW_TABLE_DEFAULT_SIZE,
  REAL_SERVER_ENTRIES_MAX,
  RING_DEFAULTS,
  TIMEOUT_DEFAULTS,
  type ServiceConfig,
} from "../../src/config/model.ts";
import {
  formatPath,
  interfaceNameProblem,
  IPVS_SCHEDULERS,
  loneServiceIssues,
  matchesOverlap,
  netmaskProblem,
  parseIPv4,
  parseLoopbackListen,
  schedulerFlagProblem,
  schedulerProblem,
  validateDirectorConfig,
} from "../../src/config/schema.ts";
import { configOf, DIRECTOR_DEFAULTS, errorsOf, fwService, NO_FLAGS, rs } from "./helpers.ts";

/** A minimal valid document with one service; `svc` and `top` override its parts. */
function doc(svc: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  return JSON.stringify({
    interface: "eth0",
    services: [{ address: "198.18.0.100", port: 80, scheduler: "wrr", ...svc }],
    ...top,
  });
}

/** Validates `doc(...)` and returns the formatted errors (one line each). */
function problems(svc: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string[] {
  return errorsOf(parseConfigText(doc(svc, top), "t.json")).map(formatConfigError);
}

describe("defaults", () => {
  test("a minimal file gets ipvsadm's and ringvs's defaults", () => {
    const config = configOf(
      parseConfigText(
        JSON.stringify({
          interface: "eth0",
          services: [{ address: "198.18.0.100", port: 80, scheduler: "rr", realServers: [{ address: "198.18.0.11" }] }],
        }),
        "t.json",
      ),
    );
    expect(config).toEqual({
      ...DIRECTOR_DEFAULTS,
      services: [
        {
          protocol: "tcp",
          address: "198.18.0.100",
          port: 80,
          fwmark: null,
          members: [],
          scheduler: "rr",
          schedulerFlags: { port: false, fallback: false, mhTableSize: 4093 },
          persistence: null,
          realServers: [{ address: "198.18.0.11", port: 80, weight: 1, forward: "dr", upperThreshold: 0, lowerThreshold: 0 }],
        },
      ],
    });
    expect(config.ring).toEqual(RING_DEFAULTS);
    expect(config.timeouts).toEqual(TIMEOUT_DEFAULTS);
    expect(config.flowTableSize).toBe(FLOW_TABLE_DEFAULT_SIZE);
  });

  test("ring is partial: given fields win, the rest come from RING_DEFAULTS", () => {
    const config = configOf(parseConfigText(doc({}, { ring: { blockCount: 64 } }), "t.json"));
    expect(config.ring).toEqual({ version: 2, blockSize: 8192, blockCount: 64, blockTimeoutMs: 1 });
  });

  test("workers: one by default, unpinned; count and cpus as given", () => {
    expect(configOf(parseConfigText(doc(), "t.json")).workers).toEqual({ count: 1, cpus: null });
    expect(configOf(parseConfigText(doc({}, { workers: { count: 2 } }), "t.json")).workers).toEqual({ count: 2, cpus: null });
    expect(configOf(parseConfigText(doc({}, { workers: { count: 2, cpus: [1, 0] } }), "t.json")).workers).toEqual({ count: 2, cpus: [1, 0] });
  });

  test("workers: a count out of range, a CPU list of the wrong length or with a CPU twice are refused", () => {
    expect(problems({}, { workers: { count: 0 } })).toEqual(["t.json:1: workers.count: 0: must be 1..256"]);
    expect(problems({}, { workers: { count: 2, cpus: [0] } })).toEqual(["t.json:1: workers.cpus: [0]: must list one CPU per worker (2), got 1"]);
    expect(problems({}, { workers: { count: 2, cpus: [1, 1] } })).toEqual(["t.json:1: workers.cpus: [1,1]: must not list a CPU twice (one worker per core)"]);
  });

  test("realServers may be empty or absent", () => {
    expect(configOf(parseConfigText(doc({ realServers: [] }), "t.json")).services[0].realServers).toEqual([]);
    expect(configOf(parseConfigText(doc(), "t.json")).services[0].realServers).toEqual([]);
  });

  test("persistence: absent and null mean none; {} means ipvsadm -p (360 s, per client)", () => {
    expect(configOf(parseConfigText(doc(), "t.json")).services[0].persistence).toBeNull();
    expect(configOf(parseConfigText(doc({ persistence: null }), "t.json")).services[0].persistence).toBeNull();
    expect(configOf(parseConfigText(doc({ persistence: {} }), "t.json")).services[0].persistence).toEqual({
      timeout: 360,
      netmask: "255.255.255.255",
    });
    expect(
      configOf(parseConfigText(doc({ persistence: { timeout: 600, netmask: "255.255.255.0" } }), "t.json")).services[0]
        .persistence,
    ).toEqual({ timeout: 600, netmask: "255.255.255.0" });
  });

  test("a real server's port defaults to the service port, and may repeat it", () => {
    const config = configOf(
      parseConfigText(
        doc({ protocol: "udp", port: 53, realServers: [{ address: "10.0.0.1" }, { address: "10.0.0.2", port: 53, weight: 0 }] }),
        "t.json",
      ),
    );
    expect(config.services[0].realServers).toEqual([rs("10.0.0.1", 53), rs("10.0.0.2", 53, 0)]);
  });

  const noScheduler = JSON.stringify({ interface: "eth0", services: [{ address: "198.18.0.100", port: 80 }] });

  test("the default scheduler is ipvsadm's wlc", () => {
    expect(configOf(parseConfigText(noScheduler, "t.json")).services[0].scheduler).toBe("wlc");
  });

  test("forward tun (IPIP) is kept per real server; tunnelSource defaults to null", () => {
    const config = configOf(
      parseConfigText(doc({ realServers: [{ address: "203.0.113.7", forward: "tun" }, { address: "10.0.0.2" }] }, { tunnelSource: "198.18.0.2" }), "t.json"),
    );
    expect(config.services[0].realServers.map((r) => r.forward)).toEqual(["tun", "dr"]);
    expect(config.tunnelSource).toBe("198.18.0.2");
    expect(configOf(parseConfigText(doc(), "t.json")).tunnelSource).toBeNull();
    expect(problems({}, { tunnelSource: "224.0.0.1" })).toEqual(['t.json:1: tunnelSource: "224.0.0.1": must not be a multicast address']);
  });

  test("timeouts default to TIMEOUT_DEFAULTS; given ones win", () => {
    expect(configOf(parseConfigText(doc({}, { timeouts: { tcpFin: 60 } }), "t.json")).timeouts).toEqual({
      tcp: 900,
      tcpFin: 60,
      udp: 300,
    });
  });

  test("thresholds default to 0 (no limit) and are kept as given", () => {
    const config = configOf(
      parseConfigText(doc({ realServers: [{ address: "10.0.0.1", upperThreshold: 100, lowerThreshold: 75 }, { address: "10.0.0.2", upperThreshold: 5 }] }), "t.json"),
    );
    expect(config.services[0].realServers).toEqual([
      rs("10.0.0.1", 80, 1, { upperThreshold: 100, lowerThreshold: 75 }),
      rs("10.0.0.2", 80, 1, { upperThreshold: 5 }),
    ]);
  });
});

describe("refusals", () => {
  test("every IPVS scheduler is accepted", () => {
    expect(IPVS_SCHEDULERS).toHaveLength(14);
    for (const name of IPVS_SCHEDULERS) {
      expect(configOf(parseConfigText(doc({ scheduler: name }), "t.json")).services[0].scheduler).toBe(name);
    }
  });

  test("an unknown scheduler is unknown", () => {
    expect(problems({ scheduler: "fastest" })).toEqual([
      "t.json:1: services[0].scheduler: \"fastest\": unknown scheduler 'fastest' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos)",
    ]);
  });

  test("schedulerProblem: the 14 IPVS names, nothing else (names are case-sensitive)", () => {
    for (const name of IPVS_SCHEDULERS) expect(schedulerProblem(name)).toBeNull();
    expect(schedulerProblem("RR")).toBe("unknown scheduler 'RR' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos)");
  });

  test("forward nat is refused by name, anything but dr and tun is unknown", () => {
    expect(problems({ realServers: [{ address: "10.0.0.1", forward: "nat" }] })).toEqual([
      't.json:1: services[0].realServers[0].forward: "nat": forward \'nat\' (masquerading, ipvsadm -m) is not supported: ringvs does DR ("dr") and TUN ("tun")',
    ]);
    expect(problems({ realServers: [{ address: "10.0.0.1", forward: "route" }] })).toEqual([
      't.json:1: services[0].realServers[0].forward: "route": unknown forward method \'route\' (ringvs has "dr" and "tun")',
    ]);
  });

  test("DR cannot remap ports", () => {
    expect(problems({ realServers: [{ address: "10.0.0.1", port: 8080 }] })).toEqual([
      "t.json:1: services[0].realServers[0].port: 8080: DR cannot change the port: a real server's port must equal the service port 80 (or be omitted)",
    ]);
  });

  test("duplicate services and duplicate real servers", () => {
    const text = JSON.stringify({
      interface: "eth0",
      services: [
        { address: "198.18.0.100", port: 80, scheduler: "rr" },
        { protocol: "udp", address: "198.18.0.100", port: 80, scheduler: "rr" },
        { protocol: "tcp", address: "198.18.0.100", port: 80, scheduler: "wrr" },
      ],
    });
    expect(errorsOf(parseConfigText(text, "t.json")).map(formatConfigError)).toEqual([
      't.json:1: services[2]: {"protocol":"tcp","address":"198.18.0.100","port":80,"sch...: duplicate service tcp 198.18.0.100:80 (already services[0])',
    ]);
    expect(problems({ realServers: [{ address: "10.0.0.1" }, { address: "10.0.0.2" }, { address: "10.0.0.1", weight: 5 }] })).toEqual([
      't.json:1: services[0].realServers[2].address: "10.0.0.1": duplicate real server 10.0.0.1 (already realServers[0])',
    ]);
  });

  test("unknown keys are errors, with a suggestion when one is close", () => {
    expect(problems({ realServers: [{ address: "10.0.0.1", wieght: 2 }] })).toEqual([
      "t.json:1: services[0].realServers[0].wieght: 2: unknown key; did you mean 'weight'?",
    ]);
    expect(problems({}, { colour: "blue" })).toEqual([
      't.json:1: colour: "blue": unknown key (allowed: interface, interfaces, timeouts, tunnelSource, vipMode, ring, flowTableSize, workers, services, metrics)',
    ]);
    expect(problems({ persistence: { timout: 10 } })).toEqual([
      "t.json:1: services[0].persistence.timout: 10: unknown key; did you mean 'timeout'?",
    ]);
    expect(problems({}, { ring: { size: 4096 } })).toEqual([
      "t.json:1: ring.size: 4096: unknown key (allowed: version, blockSize, blockCount, blockTimeoutMs)",
    ]);
  });

  test("a key named __proto__ is just an unknown key", () => {
    const errors = errorsOf(parseConfigText(`{"interface":"eth0","__proto__":{"x":1},"services":[]}`, "t.json"));
    expect(errors.map((e) => e.field)).toEqual(["__proto__"]);
  });
});

describe("ranges", () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    ["weight above 65535", { realServers: [{ address: "10.0.0.1", weight: 70000 }] }, {}, "services[0].realServers[0].weight: 70000: must be 0..65535"],
    ["negative weight", { realServers: [{ address: "10.0.0.1", weight: -1 }] }, {}, "services[0].realServers[0].weight: -1: must be 0..65535"],
    ["fractional weight", { realServers: [{ address: "10.0.0.1", weight: 1.5 }] }, {}, "services[0].realServers[0].weight: 1.5: must be an integer"],
    ["port 0 without persistence", { port: 0 }, {}, 'services[0].port: 0: port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")'],
    ["port 65536", { port: 65536 }, {}, "services[0].port: 65536: must be 0..65535"],
    ["negative port", { port: -1 }, {}, "services[0].port: -1: must be 0..65535"],
    ["upperThreshold above 2^31-1", { realServers: [{ address: "10.0.0.1", upperThreshold: 2147483648 }] }, {}, "services[0].realServers[0].upperThreshold: 2147483648: must be 0..2147483647"],
    ["negative lowerThreshold", { realServers: [{ address: "10.0.0.1", lowerThreshold: -1 }] }, {}, "services[0].realServers[0].lowerThreshold: -1: must be 0..2147483647"],
    ["lower above upper", { realServers: [{ address: "10.0.0.1", upperThreshold: 10, lowerThreshold: 11 }] }, {}, 'services[0].realServers[0].lowerThreshold: 11: is higher than the upper threshold 10 (the kernel refuses it: "lower threshold is higher than upper threshold")'],
    ["lower without upper", { realServers: [{ address: "10.0.0.1", lowerThreshold: 5 }] }, {}, 'services[0].realServers[0].lowerThreshold: 5: is higher than the upper threshold 0 (the kernel refuses it: "lower threshold is higher than upper threshold"; with no upper threshold the lower one must be 0 too)'],
    ["timeouts.tcp 0", {}, { timeouts: { tcp: 0 } }, "timeouts.tcp: 0: must be 1..2147483647 seconds"],
    ["timeouts.udp above 2^31-1", {}, { timeouts: { udp: 2147483648 } }, "timeouts.udp: 2147483648: must be 1..2147483647 seconds"],
    ["timeouts.tcpFin fractional", {}, { timeouts: { tcpFin: 1.5 } }, "timeouts.tcpFin: 1.5: must be an integer"],
    ["timeouts unknown key", {}, { timeouts: { tcpfin: 60 } }, "timeouts.tcpfin: 60: unknown key; did you mean 'tcpFin'?"],
    ["fwmark 0", { address: undefined, port: undefined, fwmark: 0, members: [{ address: "198.18.0.100", port: 80 }] }, {}, "services[0].fwmark: 0: must be 1..4294967295"],
    ["fwmark 2^32", { address: undefined, port: undefined, fwmark: 4294967296, members: [{ address: "198.18.0.100", port: 80 }] }, {}, "services[0].fwmark: 4294967296: must be 1..4294967295"],
    ["mhTableSize not a kernel prime", { mhTableSize: 4096 }, {}, "services[0].mhTableSize: 4096: must be one of the kernel's Maglev table sizes: 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071"],
    ["port as a string", { port: "80" }, {}, 'services[0].port: "80": must be a number'],
    ["protocol", { protocol: "sctp" }, {}, 'services[0].protocol: "sctp": must be "tcp" or "udp"'],
    ["address", { address: "198.18.0" }, {}, 'services[0].address: "198.18.0": must be an IPv4 address in dotted-quad form (e.g. 198.18.0.100)'],
    ["address with a leading zero", { address: "198.18.0.010" }, {}, 'services[0].address: "198.18.0.010": must be an IPv4 address in dotted-quad form (e.g. 198.18.0.100)'],
    ["address 0.0.0.0", { address: "0.0.0.0" }, {}, 'services[0].address: "0.0.0.0": must not be 0.0.0.0'],
    ["multicast address", { address: "239.1.1.1" }, {}, 'services[0].address: "239.1.1.1": must not be a multicast address'],
    ["timeout 0", { persistence: { timeout: 0 } }, {}, "services[0].persistence.timeout: 0: must be 1..2678400 seconds"],
    ["timeout above 31 days", { persistence: { timeout: 2678401 } }, {}, "services[0].persistence.timeout: 2678401: must be 1..2678400 seconds"],
    ["non-contiguous netmask", { persistence: { netmask: "255.0.255.0" } }, {}, 'services[0].persistence.netmask: "255.0.255.0": must be a contiguous netmask (ones then zeros, like 255.255.255.0)'],
    ["persistence true", { persistence: true }, {}, "services[0].persistence: true: must be null or an object {timeout, netmask}"],
    ["vipMode", {}, { vipMode: "proxy" }, 'vipMode: "proxy": must be "local", "arp" or "auto"'],
    ["blockSize not a power of two", {}, { ring: { blockSize: 5000 } }, "ring.blockSize: 5000: must be a power of two from 4096 to 4194304 (4 MiB)"],
    ["blockSize too small", {}, { ring: { blockSize: 2048 } }, "ring.blockSize: 2048: must be a power of two from 4096 to 4194304 (4 MiB)"],
    ["blockSize too large", {}, { ring: { blockSize: 8388608 } }, "ring.blockSize: 8388608: must be a power of two from 4096 to 4194304 (4 MiB)"],
    ["blockCount 1", {}, { ring: { blockCount: 1 } }, "ring.blockCount: 1: must be 2..65536"],
    ["blockCount 65537", {}, { ring: { blockCount: 65537 } }, "ring.blockCount: 65537: must be 2..65536"],
    ["blockTimeoutMs 0", {}, { ring: { blockTimeoutMs: 0 } }, "ring.blockTimeoutMs: 0: must be 1..1000"],
    ["blockTimeoutMs 1001", {}, { ring: { blockTimeoutMs: 1001 } }, "ring.blockTimeoutMs: 1001: must be 1..1000"],
    ["ring version 1", {}, { ring: { version: 1 } }, "ring.version: 1: must be 2 or 3"],
    ["ring version \"3\"", {}, { ring: { version: "3" } }, 'ring.version: "3": must be 2 or 3'],
    ["flowTableSize not a power of two", {}, { flowTableSize: 1000000 }, "flowTableSize: 1000000: must be a power of two from 1024 to 16777216 (2^24)"],
    ["flowTableSize too small", {}, { flowTableSize: 512 }, "flowTableSize: 512: must be a power of two from 1024 to 16777216 (2^24)"],
    ["flowTableSize too large", {}, { flowTableSize: 33554432 }, "flowTableSize: 33554432: must be a power of two from 1024 to 16777216 (2^24)"],
    ["interface too long", {}, { interface: "abcdefghijklmnop" }, 'interface: "abcdefghijklmnop": must be at most 15 characters (IFNAMSIZ)'],
    ["interface alias", {}, { interface: "eth0:1" }, "interface: \"eth0:1\": 'eth0:1' is an address label (alias), not an interface: use 'eth0'"],
    ["interface empty", {}, { interface: "" }, 'interface: "": must not be empty'],
    ["interface with a slash", {}, { interface: "a/b" }, "interface: \"a/b\": must not contain '/' or whitespace"],
  ];
  for (const [name, svc, top, expected] of cases) {
    test(name, () => {
      expect(problems(svc, top)).toEqual([`t.json:1: ${expected}`]);
    });
  }

  test("the edges of each range are accepted", () => {
    const config = configOf(
      parseConfigText(
        doc(
          { port: 65535, persistence: { timeout: 2678400, netmask: "0.0.0.0" }, realServers: [{ address: "10.0.0.1", weight: 65535 }] },
          { interface: "abcdefghijklmno", ring: { version: 3, blockSize: 4194304, blockCount: 65536, blockTimeoutMs: 1000 }, flowTableSize: 16777216 },
        ),
        "t.json",
      ),
    );
    expect(config.ring).toEqual({ version: 3, blockSize: 4194304, blockCount: 65536, blockTimeoutMs: 1000 });
    expect(config.flowTableSize).toBe(16777216);
    expect(config.services[0].persistence).toEqual({ timeout: 2678400, netmask: "0.0.0.0" });
    const thresholds = configOf(
      parseConfigText(
        doc({ realServers: [{ address: "10.0.0.1", upperThreshold: 2147483647, lowerThreshold: 2147483647 }] }, { timeouts: { tcp: 1, tcpFin: 2147483647, udp: 1 } }),
        "t.json",
      ),
    );
    expect(thresholds.services[0].realServers[0]).toMatchObject({ upperThreshold: 2147483647, lowerThreshold: 2147483647 });
    expect(thresholds.timeouts).toEqual({ tcp: 1, tcpFin: 2147483647, udp: 1 });
    const low = configOf(parseConfigText(doc({ port: 1 }, { ring: { blockSize: 4096, blockCount: 2 }, flowTableSize: 1024 }), "t.json"));
    expect(low.ring).toEqual({ version: 2, blockSize: 4096, blockCount: 2, blockTimeoutMs: 1 });
    expect(low.flowTableSize).toBe(1024);
  });

  test("missing required fields say 'required' without a value", () => {
    const errors = errorsOf(parseConfigText(`{"services":[{"scheduler":"rr"}]}`, "t.json"));
    expect(errors.map(formatConfigError)).toEqual([
      "t.json: interface: required",
      "t.json:1: services[0].address: required",
      "t.json:1: services[0].port: required",
    ]);
  });

  test("no services is an empty table (services are added at runtime), and the key may be left out", () => {
    for (const text of [`{"interface":"eth0","services":[]}`, `{"interface":"eth0"}`]) {
      const r = parseConfigText(text, "t.json");
      expect(r.ok && r.config.services).toEqual([]);
    }
  });
});

describe("line numbers", () => {
  const text = [
    "{", //                                                        1
    '  "interface": "eth0",', //                                   2
    '  "services": [', //                                          3
    "    {", //                                                    4
    '      "address": "198.18.0.100",', //                         5
    '      "port": 80,', //                                        6
    '      "protocol": "sctp",', //                               7
    '      "realServers": [', //                                   8
    '        { "address": "198.18.0.11" },', //                    9
    "        {", //                                               10
    '          "address": "198.18.0.12",', //                     11
    '          "weight": 70000', //                               12
    "        }", //                                               13
    "      ]", //                                                 14
    "    },", //                                                  15
    '    { "address": "198.18.0.101", "port": 443, "scheduler": "rr", "realServers": [{ "address": "198.18.0.13", "wieght": 3 }] }', // 16
    "  ]", //                                                     17
    "}", //                                                       18
  ].join("\n");

  test("each schema error points at the line of its key", () => {
    expect(errorsOf(parseConfigText(text, "ringvs.json")).map(formatConfigError)).toEqual([
      'ringvs.json:7: services[0].protocol: "sctp": must be "tcp" or "udp"',
      "ringvs.json:12: services[0].realServers[1].weight: 70000: must be 0..65535",
      "ringvs.json:16: services[1].realServers[0].wieght: 3: unknown key; did you mean 'weight'?",
    ]);
  });

  test("the error record itself", () => {
    const errors = errorsOf(parseConfigText(text, "ringvs.json"));
    expect(errors[1]).toEqual({
      source: "ringvs.json",
      line: 12,
      field: "services[0].realServers[1].weight",
      value: 70000,
      message: "must be 0..65535",
    });
  });

  test("a missing key points at its enclosing object", () => {
    const t = '{\n  "interface": "eth0",\n  "services": [\n    {\n      "port": 80, "scheduler": "rr"\n    }\n  ]\n}';
    expect(errorsOf(parseConfigText(t, "x.json")).map(formatConfigError)).toEqual(["x.json:4: services[0].address: required"]);
  });

  test("a key given twice is an error on the second one's line", () => {
    const t = '{\n  "interface": "eth0",\n  "interface": "eth1",\n  "services": [{"address": "1.2.3.4", "port": 80, "scheduler": "rr"}]\n}';
    expect(errorsOf(parseConfigText(t, "x.json")).map(formatConfigError)).toEqual([
      "x.json:3: interface: key given twice in the same object",
    ]);
  });
});

describe("JSON syntax errors carry line and column", () => {
  const cases: [string, string, string][] = [
    ["trailing comma", '{\n  "interface": "eth0",\n}', "x.json:3:1: invalid JSON: trailing comma before '}'"],
    ["missing comma", '{\n  "interface": "eth0"\n  "services": []\n}', "x.json:3:3: invalid JSON: expected ',' or '}' after an object member, found '\"'"],
    ["comment", '{\n  // the VIP\n}', "x.json:2:3: invalid JSON: comments are not allowed in JSON"],
    ["single quotes", "{'a': 1}", "x.json:1:2: invalid JSON: expected a key in double quotes, found '''"],
    ["unterminated string", '{\n "a": "b\n}', "x.json:2:7: invalid JSON: unterminated string (strings cannot span lines)"],
    ["bare word", '{"a": eth0}', "x.json:1:7: invalid JSON: expected a value, found 'e'"],
    ["leading zero", '{"a": 01}', "x.json:1:7: invalid JSON: invalid number"],
    ["trailing garbage", "{} x", "x.json:1:4: invalid JSON: unexpected 'x' after the end of the document"],
    ["empty file", "  \n", "x.json:2:1: invalid JSON: the document is empty"],
    ["array trailing comma", '{"a": [1,]}', "x.json:1:10: invalid JSON: trailing comma before ']'"],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => {
      const errors = errorsOf(parseConfigText(text, "x.json"));
      expect(errors.map(formatConfigError)).toEqual([expected]);
    });
  }

  test("the record has line, column and an empty field", () => {
    expect(errorsOf(parseConfigText('{\n  "interface": "eth0",\n}', "x.json"))).toEqual([
      { source: "x.json", line: 3, column: 1, field: "", message: "invalid JSON: trailing comma before '}'" },
    ]);
  });

  test("deep nesting is a syntax error, not a crash", () => {
    const errors = errorsOf(parseConfigText("[".repeat(100000), "x.json"));
    expect(errors.map(formatConfigError)).toEqual(["x.json:1:66: invalid JSON: nesting deeper than 64 levels"]);
  });
});

describe("the JSON scanner agrees with JSON.parse on valid input", () => {
  const samples = [
    '{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9\\"\\\\/"], "b": {"c": {}}, "d": []}',
    "\ufeff[0, 1e-2, 123456789012, \"\"]",
    '"just a string"',
  ];
  for (const s of samples) {
    test(s.slice(0, 30), () => {
      const r = parseJsonWithPositions(s);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.value).toEqual(JSON.parse(s.replace(/^\ufeff/, "")));
    });
  }

  test("positions of keys and elements", () => {
    const r = parseJsonWithPositions('{\n  "a": [\n    1,\n      {"b": 2}\n  ]\n}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.fromEntries(r.positions)).toEqual({
      a: { line: 2, column: 3 },
      "a[0]": { line: 3, column: 5 },
      "a[1]": { line: 4, column: 7 },
      "a[1].b": { line: 4, column: 8 },
    });
  });
});

describe("formatConfigError", () => {
  test("the documented shape", () => {
    expect(
      formatConfigError({ source: "ringvs.json", field: "services[0].realServers[1].weight", value: 70000, message: "must be 0..65535" }),
    ).toBe("ringvs.json: services[0].realServers[1].weight: 70000: must be 0..65535");
  });
  test("with a line, and with neither field nor value", () => {
    expect(formatConfigError({ source: "a.json", line: 4, field: "interface", value: "", message: "must not be empty" })).toBe(
      'a.json:4: interface: "": must not be empty',
    );
    expect(formatConfigError({ source: "a.json", field: "", message: "cannot read the file: ENOENT" })).toBe(
      "a.json: cannot read the file: ENOENT",
    );
  });
  test("long values are cut", () => {
    expect(formatConfigError({ source: "a", field: "f", value: "x".repeat(100), message: "m" })).toBe(
      `a: f: "${"x".repeat(56)}...: m`,
    );
  });
});

describe("loadConfigFile", () => {
  test("reads a file and names errors after its path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ringvs-config-"));
    try {
      const good = join(dir, "good.json");
      writeFileSync(good, doc({ realServers: [{ address: "10.0.0.1", weight: 2 }] }));
      const r = await loadConfigFile(good);
      expect(configOf(r).services[0].realServers).toEqual([rs("10.0.0.1", 80, 2)]);

      const bad = join(dir, "bad.json");
      writeFileSync(bad, '{\n  "interface": "eth0",\n  "services": [{"address": "1.2.3.4", "port": 80, "scheduler": "rr-fast"}]\n}\n');
      expect(errorsOf(await loadConfigFile(bad)).map(formatConfigError)).toEqual([
        `${bad}:3: services[0].scheduler: "rr-fast": unknown scheduler 'rr-fast' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing file is an error value, not an exception", async () => {
    const path = join(tmpdir(), "ringvs-no-such-dir", "none.json");
    expect(errorsOf(await loadConfigFile(path))).toEqual([
      { source: path, field: "", message: "cannot read the file: ENOENT" },
    ]);
  });
});

describe("scheduler flags (ipvsadm -b) and the Maglev table size", () => {
  test("a flag of another scheduler is refused as ipvsadm refuses it", () => {
    expect(problems({ scheduler: "rr", schedulerFlags: ["sh-port"] })).toEqual([
      't.json:1: services[0].schedulerFlags[0]: "sh-port": scheduler flag \'sh-port\' belongs to the sh scheduler, not rr (ipvsadm: "incompatible scheduler flag `sh-port\'")',
    ]);
    expect(problems({ scheduler: "wrr", schedulerFlags: ["mh-fallback"] })).toEqual([
      't.json:1: services[0].schedulerFlags[0]: "mh-fallback": scheduler flag \'mh-fallback\' belongs to the mh scheduler, not wrr (ipvsadm: "incompatible scheduler flag `mh-fallback\'")',
    ]);
  });

  test("unknown flags, the numbered aliases and repeats", () => {
    expect(problems({ scheduler: "rr", schedulerFlags: ["sh-ports", "flag-1", "flag-2", "flag-3"] })).toEqual([
      "t.json:1: services[0].schedulerFlags[0]: \"sh-ports\": unknown scheduler flag 'sh-ports' (ipvsadm knows sh-fallback, sh-port, mh-fallback, mh-port)",
      't.json:1: services[0].schedulerFlags[1]: "flag-1": \'flag-1\' is ipvsadm\'s numbered alias: write "sh-fallback" or "mh-fallback"',
      't.json:1: services[0].schedulerFlags[2]: "flag-2": \'flag-2\' is ipvsadm\'s numbered alias: write "sh-port" or "mh-port"',
      "t.json:1: services[0].schedulerFlags[3]: \"flag-3\": unknown scheduler flag 'flag-3' (ipvsadm knows sh-fallback, sh-port, mh-fallback, mh-port)",
    ]);
    expect(problems({ scheduler: "rr", schedulerFlags: "sh-port" })).toEqual([
      't.json:1: services[0].schedulerFlags: "sh-port": must be an array',
    ]);
  });

  test("a repeated flag and a misplaced mh flag on sh", () => {
    expect(problems({ scheduler: "sh", schedulerFlags: ["sh-port", "sh-port", "mh-port"] })).toEqual([
      't.json:1: services[0].schedulerFlags[1]: "sh-port": listed twice (already schedulerFlags[0])',
      't.json:1: services[0].schedulerFlags[2]: "mh-port": scheduler flag \'mh-port\' belongs to the mh scheduler, not sh (ipvsadm: "incompatible scheduler flag `mh-port\'")',
    ]);
  });

  test("mhTableSize belongs to mh only", () => {
    expect(problems({ scheduler: "rr", mhTableSize: 65521 })).toEqual([
      "t.json:1: services[0].mhTableSize: 65521: only the mh scheduler has a lookup table (this service uses rr)",
    ]);
  });

  test("schedulerFlagProblem", () => {
    expect(schedulerFlagProblem("sh-fallback", "sh")).toBeNull();
    expect(schedulerFlagProblem("mh-port", "mh")).toBeNull();
    expect(schedulerFlagProblem("sh-port", "wlc")).toBe(
      "scheduler flag 'sh-port' belongs to the sh scheduler, not wlc (ipvsadm: \"incompatible scheduler flag `sh-port'\")",
    );
  });

  test("sh flags map to the model", () => {
    const svc = configOf(parseConfigText(doc({ scheduler: "sh", schedulerFlags: ["sh-port", "sh-fallback"] }), "t.json")).services[0];
    expect(svc.schedulerFlags).toEqual({ port: true, fallback: true, mhTableSize: 4093 });
  });

  test("mh flags and the table size map to the model", () => {
    const svc = configOf(
      parseConfigText(doc({ scheduler: "mh", schedulerFlags: ["mh-fallback"], mhTableSize: 251 }), "t.json"),
    ).services[0];
    expect(svc.schedulerFlags).toEqual({ port: false, fallback: true, mhTableSize: 251 });
  });

  test("no flags: all off, the kernel's default table size", () => {
    expect(configOf(parseConfigText(doc(), "t.json")).services[0].schedulerFlags).toEqual(NO_FLAGS);
  });
});

describe("port-0 services (every port of the VIP)", () => {
  test("need persistence; real servers take port 0", () => {
    const svc = configOf(
      parseConfigText(doc({ port: 0, scheduler: "rr", persistence: { timeout: 600 }, realServers: [{ address: "10.0.0.1" }, { address: "10.0.0.2", port: 0 }] }), "t.json"),
    ).services[0];
    expect(svc).toMatchObject({ address: "198.18.0.100", port: 0, fwmark: null, members: [], persistence: { timeout: 600 } });
    expect(svc.realServers).toEqual([rs("10.0.0.1", 0), rs("10.0.0.2", 0)]);
  });

  test("a real server port other than 0 is a DR remap", () => {
    expect(problems({ port: 0, persistence: {}, realServers: [{ address: "10.0.0.1", port: 80 }] })).toEqual([
      "t.json:1: services[0].realServers[0].port: 80: DR cannot change the port: a real server's port must equal the service port 0 (or be omitted)",
    ]);
  });

  test("VIP:0 beside VIP:80 is legal: the kernel tries the exact port first", () => {
    const text = JSON.stringify({
      interface: "eth0",
      services: [
        { address: "198.18.0.100", port: 0, scheduler: "rr", persistence: {} },
        { address: "198.18.0.100", port: 80, scheduler: "rr" },
      ],
    });
    expect(configOf(parseConfigText(text, "t.json")).services.map((s) => s.port)).toEqual([0, 80]);
  });
});

describe("firewall-mark services", () => {
  const fw = (more: Record<string, unknown> = {}) => ({
    fwmark: 1,
    members: [
      { protocol: "tcp", address: "198.18.0.100", port: 80 },
      { protocol: "tcp", address: "198.18.0.100", port: 443 },
    ],
    scheduler: "rr",
    persistence: { timeout: 360 },
    realServers: [{ address: "198.18.0.11" }],
    ...more,
  });
  const fwDoc = (...services: Record<string, unknown>[]) => JSON.stringify({ interface: "eth0", services });
  const fwProblems = (...services: Record<string, unknown>[]) =>
    errorsOf(parseConfigText(fwDoc(...services), "t.json")).map(formatConfigError);

  test("the model: protocol tcp, no address, port 0, members as given, real servers on port 0", () => {
    const svc: ServiceConfig = configOf(parseConfigText(fwDoc(fw({ members: [{ address: "198.18.0.100", port: 80 }, { protocol: "udp", address: "198.18.0.101", port: 0 }] })), "t.json")).services[0];
    expect(svc).toEqual(
      fwService(
        1,
        [
          { protocol: "tcp", address: "198.18.0.100", port: 80 },
          { protocol: "udp", address: "198.18.0.101", port: 0 },
        ],
        { persistence: { timeout: 360, netmask: "255.255.255.255" }, realServers: [rs("198.18.0.11", 0)] },
      ),
    );
  });

  test("persistence is not required, and the largest mark is accepted", () => {
    expect(configOf(parseConfigText(fwDoc(fw({ fwmark: 4294967295, persistence: null })), "t.json")).services[0].fwmark).toBe(4294967295);
  });

  test("no protocol, address or port of its own", () => {
    expect(fwProblems(fw({ protocol: "udp", address: "198.18.0.100", port: 80 }))).toEqual([
      't.json:1: services[0].protocol: "udp": a firewall-mark service has no protocol of its own: each member names its protocol',
      't.json:1: services[0].address: "198.18.0.100": a firewall-mark service has no address: its VIP:port pairs are its members',
      "t.json:1: services[0].port: 80: a firewall-mark service has no port: its VIP:port pairs are its members",
    ]);
  });

  test("members: required, non-empty, only with fwmark", () => {
    expect(fwProblems(fw({ members: undefined }))).toEqual([
      "t.json:1: services[0].members: required for a firewall-mark service: the VIP:port pairs the mark stands for",
    ]);
    expect(fwProblems(fw({ members: [] }))).toEqual(["t.json:1: services[0].members: []: a firewall-mark service needs at least one member"]);
    expect(problems({ members: [{ address: "198.18.0.100", port: 80 }] })).toEqual([
      't.json:1: services[0].members: [{"address":"198.18.0.100","port":80}]: members belong to a firewall-mark service: give fwmark too',
    ]);
  });

  test("member fields are checked like a service's", () => {
    expect(fwProblems(fw({ members: [{ protocol: "sctp", address: "224.0.0.1", port: 65536, weight: 1 }] }))).toEqual([
      't.json:1: services[0].members[0].protocol: "sctp": must be "tcp" or "udp"',
      't.json:1: services[0].members[0].address: "224.0.0.1": must not be a multicast address',
      "t.json:1: services[0].members[0].port: 65536: must be 0..65535",
      "t.json:1: services[0].members[0].weight: 1: unknown key (allowed: protocol, address, port)",
    ]);
    expect(fwProblems(fw({ members: [{ address: "198.18.0.100" }] }))).toEqual(["t.json:1: services[0].members[0].port: required"]);
  });

  test("real servers: port 0 or none (DR keeps each packet's port)", () => {
    expect(fwProblems(fw({ realServers: [{ address: "198.18.0.11", port: 80 }] }))).toEqual([
      "t.json:1: services[0].realServers[0].port: 80: DR cannot change the port: a firewall-mark service's real servers take the port each packet came to, so give port 0 or none",
    ]);
    expect(configOf(parseConfigText(fwDoc(fw({ realServers: [{ address: "198.18.0.11", port: 0 }] })), "t.json")).services[0].realServers).toEqual([
      rs("198.18.0.11", 0),
    ]);
  });

  test("one service per mark", () => {
    expect(fwProblems(fw(), fw({ members: [{ address: "198.18.0.101", port: 80 }] }))).toEqual([
      expect.stringMatching(/^t\.json:1: services\[1\]: \{.*: duplicate service fwmark 1 \(already services\[0\]\)$/),
    ]);
  });

  test("a member may not share a packet with another service or member", () => {
    const web = { address: "198.18.0.100", port: 443, scheduler: "rr" };
    expect(fwProblems(web, fw())).toEqual([
      't.json:1: services[1].members[1]: {"protocol":"tcp","address":"198.18.0.100","port":443}: tcp 198.18.0.100:443 overlaps services[0] (tcp 198.18.0.100:443): a packet must belong to one service',
    ]);
    // A VIP:0 member claims every port, so it clashes with a later VIP:port service too.
    expect(fwProblems(fw({ members: [{ address: "198.18.0.100", port: 0 }] }), web)).toEqual([
      expect.stringMatching(/^t\.json:1: services\[1\]: .*: tcp 198\.18\.0\.100:443 overlaps services\[0\]\.members\[0\] \(tcp 198\.18\.0\.100:0\): a packet must belong to one service$/),
    ]);
    expect(fwProblems(fw(), fw({ fwmark: 2, members: [{ protocol: "udp", address: "198.18.0.100", port: 80 }, { address: "198.18.0.100", port: 0 }] }))).toEqual([
      't.json:1: services[1].members[1]: {"address":"198.18.0.100","port":0}: tcp 198.18.0.100:0 overlaps services[0].members[0] (tcp 198.18.0.100:80): a packet must belong to one service',
    ]);
    expect(fwProblems(fw({ members: [{ address: "198.18.0.100", port: 80 }, { address: "198.18.0.100", port: 80 }] }))).toEqual([
      't.json:1: services[0].members[1]: {"address":"198.18.0.100","port":80}: tcp 198.18.0.100:80 overlaps services[0].members[0] (tcp 198.18.0.100:80), a member of the same service',
    ]);
  });

  test("other protocols and addresses do not overlap", () => {
    expect(matchesOverlap({ protocol: "tcp", address: "1.2.3.4", port: 0 }, { protocol: "udp", address: "1.2.3.4", port: 80 })).toBe(false);
    expect(matchesOverlap({ protocol: "tcp", address: "1.2.3.4", port: 0 }, { protocol: "tcp", address: "1.2.3.5", port: 80 })).toBe(false);
    expect(matchesOverlap({ protocol: "tcp", address: "1.2.3.4", port: 81 }, { protocol: "tcp", address: "1.2.3.4", port: 80 })).toBe(false);
    expect(matchesOverlap({ protocol: "tcp", address: "1.2.3.4", port: 80 }, { protocol: "tcp", address: "1.2.3.4", port: 0 })).toBe(true);
  });

  test("errors point at the member's line", () => {
    const text = [
      "{", //                                                           1
      '  "interface": "eth0",', //                                      2
      '  "services": [', //                                             3
      '    { "address": "198.18.0.100", "port": 80, "scheduler": "rr" },', // 4
      "    {", //                                                       5
      '      "fwmark": 7,', //                                          6
      '      "members": [', //                                          7
      '        { "address": "198.18.0.100", "port": 443 },', //         8
      '        { "address": "198.18.0.100", "port": 80 }', //           9
      "      ],", //                                                   10
      '      "scheduler": "rr"', //                                    11
      "    }", //                                                      12
      "  ]", //                                                        13
      "}", //                                                          14
    ].join("\n");
    expect(errorsOf(parseConfigText(text, "x.json")).map(formatConfigError)).toEqual([
      'x.json:9: services[1].members[1]: {"address":"198.18.0.100","port":80}: tcp 198.18.0.100:80 overlaps services[0] (tcp 198.18.0.100:80): a packet must belong to one service',
    ]);
  });
});

describe("helpers", () => {
  test("parseIPv4", () => {
    expect(parseIPv4("198.18.0.100")).toBe(0xc6120064);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
    for (const bad of ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "0x1.2.3.4", ""]) {
      expect(parseIPv4(bad)).toBeNull();
    }
  });
  test("netmaskProblem", () => {
    for (const ok of ["255.255.255.255", "255.255.255.0", "255.255.128.0", "128.0.0.0", "0.0.0.0"]) {
      expect(netmaskProblem(ok)).toBeNull();
    }
    expect(netmaskProblem("255.255.0.255")).toBe("must be a contiguous netmask (ones then zeros, like 255.255.255.0)");
    expect(netmaskProblem("0.0.0.255")).toBe("must be a contiguous netmask (ones then zeros, like 255.255.255.0)");
  });
  test("interfaceNameProblem", () => {
    expect(interfaceNameProblem("eth0")).toBeNull();
    expect(interfaceNameProblem("veth-ringvs.1")).toBeNull();
    expect(interfaceNameProblem("..")).toBe("is not a valid interface name");
    expect(interfaceNameProblem("a b")).toBe("must not contain '/' or whitespace");
  });
  test("formatPath", () => {
    expect(formatPath(["services", 0, "realServers", 12, "weight"])).toBe("services[0].realServers[12].weight");
    expect(formatPath(["a b", 0])).toBe('["a b"][0]');
    expect(formatPath([])).toBe("");
  });
  test("validateDirectorConfig takes plain objects too", () => {
    const r = validateDirectorConfig({ interface: "eth0", services: [{ address: "1.2.3.4", port: 80, scheduler: "wrr" }] });
    expect(r.ok).toBe(true);
  });
});

describe("metrics", () => {
  const NOT_LOOPBACK = "is not a loopback address: the metrics endpoint has no authentication, so it listens on 127.0.0.0/8 or [::1] only";

  test("off unless given; null is off too", () => {
    expect(configOf(parseConfigText(doc(), "t.json")).metrics).toBeNull();
    expect(configOf(parseConfigText(doc({}, { metrics: null }), "t.json")).metrics).toBeNull();
  });

  test("a loopback listen address is kept as written", () => {
    for (const listen of ["127.0.0.1:9100", "127.1.2.3:1", "[::1]:65535", "[0:0:0:0:0:0:0:1]:9100"]) {
      expect(configOf(parseConfigText(doc({}, { metrics: { listen } }), "t.json")).metrics).toEqual({ listen });
    }
  });

  const cases: [string, unknown, string][] = [
    ["any address", { listen: "0.0.0.0:9100" }, `metrics.listen: "0.0.0.0:9100": 0.0.0.0 ${NOT_LOOPBACK}`],
    ["a public address", { listen: "198.18.0.1:9100" }, `metrics.listen: "198.18.0.1:9100": 198.18.0.1 ${NOT_LOOPBACK}`],
    ["IPv6 any", { listen: "[::]:9100" }, `metrics.listen: "[::]:9100": [::] ${NOT_LOOPBACK}`],
    ["IPv4-mapped loopback", { listen: "[::ffff:127.0.0.1]:9100" }, `metrics.listen: "[::ffff:127.0.0.1]:9100": [::ffff:127.0.0.1] ${NOT_LOOPBACK}`],
    ["a host name", { listen: "localhost:9100" }, "metrics.listen: \"localhost:9100\": 'localhost' is not an IP address: give a loopback address, not a host name (e.g. 127.0.0.1:9100 or [::1]:9100)"],
    ["no port", { listen: "127.0.0.1" }, 'metrics.listen: "127.0.0.1": must be HOST:PORT with a port (e.g. 127.0.0.1:9100 or [::1]:9100)'],
    ["IPv6 without brackets", { listen: "::1:9100" }, 'metrics.listen: "::1:9100": an IPv6 address goes in brackets: [::1]:9100'],
    ["unclosed bracket", { listen: "[::1:9100" }, 'metrics.listen: "[::1:9100": must be [IPV6]:PORT or IPV4:PORT (e.g. 127.0.0.1:9100 or [::1]:9100)'],
    ["not IPv6 in brackets", { listen: "[nope]:9100" }, "metrics.listen: \"[nope]:9100\": '[nope]' is not an IPv6 address (e.g. 127.0.0.1:9100 or [::1]:9100)"],
    ["port 0", { listen: "127.0.0.1:0" }, "metrics.listen: \"127.0.0.1:0\": port '0' must be 1..65535"],
    ["port 65536", { listen: "127.0.0.1:65536" }, "metrics.listen: \"127.0.0.1:65536\": port '65536' must be 1..65535"],
    ["port not a number", { listen: "[::1]:http" }, "metrics.listen: \"[::1]:http\": port 'http' must be 1..65535"],
    ["empty port", { listen: "127.0.0.1:" }, "metrics.listen: \"127.0.0.1:\": port '' must be 1..65535"],
    ["listen missing", {}, "metrics.listen: required"],
    ["listen a number", { listen: 9100 }, "metrics.listen: 9100: must be a string"],
    ["a bare string", "127.0.0.1:9100", 'metrics: "127.0.0.1:9100": must be null or an object {"listen": "127.0.0.1:9100"}'],
    ["an unknown key", { listen: "127.0.0.1:9100", lisen: "x" }, "metrics.lisen: \"x\": unknown key; did you mean 'listen'?"],
  ];
  for (const [name, metrics, expected] of cases) {
    test(name, () => {
      expect(problems({}, { metrics })).toEqual([`t.json:1: ${expected}`]);
    });
  }

  test("parseLoopbackListen gives the host as Bun.serve takes it, and port 0 only when asked", () => {
    expect(parseLoopbackListen("127.0.0.1:9100")).toEqual({ ok: true, listen: { host: "127.0.0.1", port: 9100 } });
    expect(parseLoopbackListen("[0::1]:9100")).toEqual({ ok: true, listen: { host: "::1", port: 9100 } });
    expect(parseLoopbackListen("127.0.0.1:0")).toEqual({ ok: false, problem: "port '0' must be 1..65535" });
    expect(parseLoopbackListen("127.0.0.1:0", 0)).toEqual({ ok: true, listen: { host: "127.0.0.1", port: 0 } });
  });
});

describe("receiving interfaces", () => {
  const parse = (top: Record<string, unknown>) => parseConfigText(JSON.stringify({ services: [], ...top }), "t.json");
  test("one interface, a comma list (serve --interface eth0,eth1) or an array: interface is the first, interfaces all", () => {
    expect([configOf(parse({ interface: "eth0" }))].map((c) => [c.interface, c.interfaces])).toEqual([["eth0", ["eth0"]]]);
    expect([configOf(parse({ interface: "eth0,eth1" }))].map((c) => [c.interface, c.interfaces])).toEqual([["eth0", ["eth0", "eth1"]]]);
    expect([configOf(parse({ interfaces: ["bond0", "eth2"] }))].map((c) => [c.interface, c.interfaces])).toEqual([["bond0", ["bond0", "eth2"]]]);
  });
  test("refusals name the field and the interface", () => {
    const errs = (top: Record<string, unknown>) => errorsOf(parse(top)).map(formatConfigError);
    expect(errs({})).toEqual(["t.json: interface: required"]);
    expect(errs({ interface: "eth0", interfaces: ["eth1"] })).toEqual([`t.json:1: interfaces: ["eth1"]: give either "interface" or "interfaces", not both`]);
    expect(errs({ interface: "eth0,eth0" })).toEqual([`t.json:1: interface: "eth0,eth0": eth0 is listed twice`]);
    expect(errs({ interface: "eth0,eth1:1" })).toEqual([`t.json:1: interface: "eth0,eth1:1": "eth1:1": 'eth1:1' is an address label (alias), not an interface: use 'eth1'`]);
    expect(errs({ interfaces: [] })).toEqual([`t.json:1: interfaces: []: must name at least one interface`]);
    expect(errs({ interfaces: ["a", "b", "c", "d", "e"] })).toEqual([
      `t.json:1: interfaces: ["a","b","c","d","e"]: at most 4 receiving interfaces (each costs a transmit socket in every ring)`,
    ]);
  });
});

describe("real-server entries in all services", () => {
  const many = (n: number) => JSON.stringify({
    interface: "eth0",
    services: Array.from({ length: Math.ceil(n / 100) }, (_, i) => ({
      address: "198.18.0.100", port: i + 1,
      realServers: Array.from({ length: Math.min(100, n - i * 100) }, (_, j) => ({ address: `198.18.1.${j + 1}` })),
    })),
  });
  test(`${REAL_SERVER_ENTRIES_MAX} are accepted, one more is refused where it is`, () => {
    const full = configOf(parseConfigText(many(REAL_SERVER_ENTRIES_MAX), "t.json"));
    expect(full.services.reduce((n, s) => n + s.realServers.length, 0)).toBe(REAL_SERVER_ENTRIES_MAX);
    const over = errorsOf(parseConfigText(many(REAL_SERVER_ENTRIES_MAX + 1), "t.json"));
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({
      field: `services[${Math.floor(REAL_SERVER_ENTRIES_MAX / 100)}].realServers[${REAL_SERVER_ENTRIES_MAX % 100}]`,
      message: `more than ${REAL_SERVER_ENTRIES_MAX} real-server entries in all services`,
    });
  }, 20_000); // two parses of 2^17 entries: ~2.5 s on a 2-core machine, near bun's 5 s default under load
});

describe("loneServiceIssues: one service's issues without the document around it", () => {
  // The CLI checks each -A through it (a 10,000-service rules file asks 10,000 times): it must
  // find what validating a table of that one service finds, with the same paths and words.
  const services: Record<string, unknown>[] = [
    { protocol: "tcp", address: "198.18.0.100", port: 80, scheduler: "wlc" },
    { protocol: "tcp", address: "198.18.0.100", port: 0, scheduler: "rr" },
    { protocol: "udp", address: "198.18.0.100", port: 53, scheduler: "rr", schedulerFlags: ["sh-port"] },
    { protocol: "tcp", address: "198.18.0.100", port: 80, scheduler: "sh", schedulerFlags: ["sh-port", "sh-port"] },
    { protocol: "tcp", address: "198.18.0.100", port: 80, scheduler: "rr", mhTableSize: 251 },
    { protocol: "tcp", address: "198.18.0.100", port: 80, scheduler: "mh", mhTableSize: 250 },
    { protocol: "tcp", address: "255.255.255.255", port: 80, scheduler: "rr" },
    { protocol: "tcp", address: "198.18.0.100", port: 70000, scheduler: "nope" },
    { protocol: "sctp", address: "198.18.0.100", port: 80, persistence: { timeout: 0, netmask: "255.0.255.0" } },
    { fwmark: 7, scheduler: "rr" },
    { fwmark: 7, members: [], protocol: "tcp" },
    { fwmark: 7, members: [{ protocol: "tcp", address: "224.0.0.1", port: 80 }, { address: "198.18.0.100", port: -1 }] },
    { address: "198.18.0.100", port: 80, shceduler: "rr" },
    { address: "198.18.0.100", port: 80, realServers: [{ address: "198.18.0.11", port: 81, wieght: 2 }] },
  ];
  for (const svc of services) {
    test(JSON.stringify(svc), () => {
      const whole = validateDirectorConfig({ interface: "eth0", services: [svc] });
      const alone = loneServiceIssues(svc);
      expect(alone).toEqual(whole.ok ? [] : whole.issues);
    });
  }
  test("the corpus has both valid and invalid services", () => {
    const found = services.map((svc) => loneServiceIssues(svc).length > 0);
    expect(found).toContain(true);
    expect(found).toContain(false);
  });
});
