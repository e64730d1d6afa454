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
  type ConfigError,
  type ConfigResult,
} from "../../src/config/load.ts";
import { FLOW_TABLE_DEFAULT_SIZE, RING_DEFAULTS, type DirectorConfig } from "../../src/config/model.ts";
import {
  formatPath,
  interfaceNameProblem,
  netmaskProblem,
  parseIPv4,
  validateDirectorConfig,
} from "../../src/config/schema.ts";

function errorsOf(r: ConfigResult): ConfigError[] {
  if (r.ok) throw new Error(`expected errors, got a config: ${JSON.stringify(r.config)}`);
  return r.errors;
}

function configOf(r: ConfigResult): DirectorConfig {
  if (!r.ok) throw new Error(`expected a config, got:\n${r.errors.map(formatConfigError).join("\n")}`);
  return r.config;
}

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
      interface: "eth0",
      vipMode: "auto",
      ring: { blockSize: 65536, blockCount: 512, blockTimeoutMs: 1 },
      flowTableSize: 1048576,
      services: [
        {
          protocol: "tcp",
          address: "198.18.0.100",
          port: 80,
          scheduler: "rr",
          persistence: null,
          realServers: [{ address: "198.18.0.11", port: 80, weight: 1, forward: "dr" }],
        },
      ],
    });
    expect(config.ring).toEqual(RING_DEFAULTS);
    expect(config.flowTableSize).toBe(FLOW_TABLE_DEFAULT_SIZE);
  });

  test("ring is partial: given fields win, the rest come from RING_DEFAULTS", () => {
    const config = configOf(parseConfigText(doc({}, { ring: { blockCount: 64 } }), "t.json"));
    expect(config.ring).toEqual({ blockSize: 65536, blockCount: 64, blockTimeoutMs: 1 });
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
    expect(config.services[0].realServers).toEqual([
      { address: "10.0.0.1", port: 53, weight: 1, forward: "dr" },
      { address: "10.0.0.2", port: 53, weight: 0, forward: "dr" },
    ]);
  });

  test("the default scheduler is ipvsadm's wlc, which is refused until it exists", () => {
    const errors = errorsOf(
      parseConfigText(JSON.stringify({ interface: "eth0", services: [{ address: "198.18.0.100", port: 80 }] }), "t.json"),
    );
    expect(errors).toEqual([
      {
        source: "t.json",
        line: 1,
        field: "services[0].scheduler",
        message: "scheduler 'wlc' is not supported yet; ringvs has rr and wrr ('wlc' is the ipvsadm default when none is given)",
      },
    ]);
  });
});

describe("refusals", () => {
  test("every IPVS scheduler ringvs lacks is 'not supported yet'", () => {
    for (const name of ["lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh", "fo", "ovf", "twos"]) {
      expect(problems({ scheduler: name })).toEqual([
        `t.json:1: services[0].scheduler: "${name}": scheduler '${name}' is not supported yet; ringvs has rr and wrr`,
      ]);
    }
  });

  test("an unknown scheduler is unknown", () => {
    expect(problems({ scheduler: "fastest" })).toEqual([
      't.json:1: services[0].scheduler: "fastest": unknown scheduler \'fastest\' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos; ringvs has rr and wrr)',
    ]);
  });

  test("forward tun and nat are refused by name, anything else is unknown", () => {
    expect(problems({ realServers: [{ address: "10.0.0.1", forward: "tun" }] })).toEqual([
      "t.json:1: services[0].realServers[0].forward: \"tun\": forward 'tun' (IPIP, ipvsadm -i) is not supported yet",
    ]);
    expect(problems({ realServers: [{ address: "10.0.0.1", forward: "nat" }] })).toEqual([
      't.json:1: services[0].realServers[0].forward: "nat": forward \'nat\' (masquerading, ipvsadm -m) is not supported: ringvs does DR ("dr") and, later, TUN ("tun")',
    ]);
    expect(problems({ realServers: [{ address: "10.0.0.1", forward: "route" }] })).toEqual([
      't.json:1: services[0].realServers[0].forward: "route": unknown forward method \'route\' (ringvs has "dr")',
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
      't.json:1: colour: "blue": unknown key (allowed: interface, vipMode, ring, flowTableSize, services)',
    ]);
    expect(problems({ persistence: { timout: 10 } })).toEqual([
      "t.json:1: services[0].persistence.timout: 10: unknown key; did you mean 'timeout'?",
    ]);
    expect(problems({}, { ring: { size: 4096 } })).toEqual([
      "t.json:1: ring.size: 4096: unknown key (allowed: blockSize, blockCount, blockTimeoutMs)",
    ]);
  });

  test("a key named __proto__ is just an unknown key", () => {
    const errors = errorsOf(parseConfigText(`{"interface":"eth0","__proto__":{"x":1},"services":[]}`, "t.json"));
    expect(errors.map((e) => e.field)).toEqual(["services", "__proto__"]);
  });
});

describe("ranges", () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    ["weight above 65535", { realServers: [{ address: "10.0.0.1", weight: 70000 }] }, {}, "services[0].realServers[0].weight: 70000: must be 0..65535"],
    ["negative weight", { realServers: [{ address: "10.0.0.1", weight: -1 }] }, {}, "services[0].realServers[0].weight: -1: must be 0..65535"],
    ["fractional weight", { realServers: [{ address: "10.0.0.1", weight: 1.5 }] }, {}, "services[0].realServers[0].weight: 1.5: must be an integer"],
    ["port 0", { port: 0 }, {}, "services[0].port: 0: must be 1..65535"],
    ["port 65536", { port: 65536 }, {}, "services[0].port: 65536: must be 1..65535"],
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
          { interface: "abcdefghijklmno", ring: { blockSize: 4194304, blockCount: 65536, blockTimeoutMs: 1000 }, flowTableSize: 16777216 },
        ),
        "t.json",
      ),
    );
    expect(config.ring).toEqual({ blockSize: 4194304, blockCount: 65536, blockTimeoutMs: 1000 });
    expect(config.flowTableSize).toBe(16777216);
    expect(config.services[0].persistence).toEqual({ timeout: 2678400, netmask: "0.0.0.0" });
    const low = configOf(parseConfigText(doc({ port: 1 }, { ring: { blockSize: 4096, blockCount: 2 }, flowTableSize: 1024 }), "t.json"));
    expect(low.ring).toEqual({ blockSize: 4096, blockCount: 2, blockTimeoutMs: 1 });
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

  test("at least one service", () => {
    expect(problems({}, { services: [] })).toEqual(["t.json:1: services: []: at least one service is required"]);
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
    '      "scheduler": "lc",', //                                 7
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
      "ringvs.json:7: services[0].scheduler: \"lc\": scheduler 'lc' is not supported yet; ringvs has rr and wrr",
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
      expect(configOf(r).services[0].realServers).toEqual([{ address: "10.0.0.1", port: 80, weight: 2, forward: "dr" }]);

      const bad = join(dir, "bad.json");
      writeFileSync(bad, '{\n  "interface": "eth0",\n  "services": [{"address": "1.2.3.4", "port": 80, "scheduler": "sh"}]\n}\n');
      expect(errorsOf(await loadConfigFile(bad)).map(formatConfigError)).toEqual([
        `${bad}:3: services[0].scheduler: "sh": scheduler 'sh' is not supported yet; ringvs has rr and wrr`,
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
