// scripts/realserver.sh, each test in its own throwaway network namespace with
// its own RINGVS_RS_STATE_DIR, so nothing touches the root namespace.

import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Netns as ScriptNetns, nsPrefix, runnable, SCRIPT, VIP, VIP2, type Run } from "./realserver_helpers.ts";

const SYSCTLS = [
  "net.ipv4.conf.all.arp_ignore",
  "net.ipv4.conf.lo.arp_ignore",
  "net.ipv4.conf.all.arp_announce",
  "net.ipv4.conf.lo.arp_announce",
] as const;

if (!runnable) console.warn("SKIP test/scripts/realserver.test.ts: needs root and iproute2 (network namespaces)");

// Drop to nobody: setpriv (util-linux) if present, else su.
function asNobody(argv: string[]): string[] {
  if (Bun.which("setpriv")) return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv];
  return ["su", "nobody", "-s", "/bin/bash", "-c", argv.map((a) => `'${a}'`).join(" ")];
}

class Netns extends ScriptNetns {
  constructor() {
    super("rvt", "ringvs-rs-test-", SYSCTLS);
  }

  rs(...args: string[]): Run {
    return this.sh(["bash", SCRIPT, ...args], false, { RINGVS_RS_STATE_DIR: this.stateDir });
  }

  rsAsNobody(...args: string[]): Run {
    return this.sh(asNobody(["bash", SCRIPT, ...args]), false, { RINGVS_RS_STATE_DIR: this.stateDir });
  }

  /** "addr/prefix label" of every IPv4 address on lo. */
  loAddrs(): string[] {
    return this.addrs("lo");
  }
}

const DEFAULTS = {
  "net.ipv4.conf.all.arp_ignore": "0",
  "net.ipv4.conf.lo.arp_ignore": "0",
  "net.ipv4.conf.all.arp_announce": "0",
  "net.ipv4.conf.lo.arp_announce": "0",
};
const CONFIGURED = {
  "net.ipv4.conf.all.arp_ignore": "1",
  "net.ipv4.conf.lo.arp_ignore": "1",
  "net.ipv4.conf.all.arp_announce": "2",
  "net.ipv4.conf.lo.arp_announce": "2",
};

describe.skipIf(!runnable)("realserver.sh (DR)", () => {
  let ns: Netns;
  beforeEach(() => {
    ns = new Netns();
  });
  afterEach(() => {
    ns.destroy();
  });
  afterAll(() => {
    const left = Bun.spawnSync(["ip", "netns", "list"]).stdout.toString();
    expect(left).not.toContain(nsPrefix("rvt"));
  });

  test("start puts the VIP on lo and sets arp_ignore/arp_announce", () => {
    expect(ns.values()).toEqual(DEFAULTS);
    const r = ns.rs("start", VIP);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo", `${VIP}/32 lo:ringvs`]);
    expect(ns.values()).toEqual(CONFIGURED);
    // The kernel's own local route is all DR needs: no extra host route.
    expect(ns.localRoute(VIP)).toBe(`local ${VIP} dev lo proto kernel scope host src ${VIP}`);
    expect(ns.sh(["ip", "-4", "route", "show", "table", "main"], true).stdout).toBe("");
    expect(ns.sh(["ip", "route", "get", VIP], true).stdout).toStartWith(`local ${VIP} dev lo`);
    expect(ns.stateFiles()).toHaveLength(1);
  });

  test("start twice leaves exactly the same state and no errors", () => {
    expect(ns.rs("start", VIP).code).toBe(0);
    const snap = () => ({
      addrs: ns.loAddrs(),
      sysctls: ns.values(),
      routes: ns.sh(["ip", "-4", "route", "show", "table", "all"], true).stdout,
      state: ns.stateFiles().map((f) => readFileSync(join(ns.stateDir, f), "utf8")),
    });
    const first = snap();
    const again = ns.rs("start", VIP);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
    expect(snap()).toEqual(first);
  });

  test("stop restores the exact pre-start values, even after repeated starts", () => {
    const before = {
      "net.ipv4.conf.all.arp_ignore": "2",
      "net.ipv4.conf.lo.arp_ignore": "3",
      "net.ipv4.conf.all.arp_announce": "1",
      "net.ipv4.conf.lo.arp_announce": "0",
    };
    for (const [k, v] of Object.entries(before)) ns.setSysctl(k, v);
    ns.sh(["ip", "link", "set", "dev", "lo", "alias", "operator note"], true);
    expect(ns.rs("start", VIP).code).toBe(0);
    expect(ns.rs("start", VIP).code).toBe(0);
    expect(ns.values()).toEqual(CONFIGURED);
    const stop = ns.rs("stop", VIP);
    expect(stop.code).toBe(0);
    expect(stop.stderr).toBe("");
    expect(ns.values()).toEqual(before);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo"]);
    expect(ns.localRoute(VIP)).toBe("");
    expect(ns.stateFiles()).toEqual([]);
    expect(ns.sh(["cat", "/sys/class/net/lo/ifalias"], true).stdout).toBe("operator note\n");
    // A second stop has nothing to do and says so.
    const again = ns.rs("stop", VIP);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("not started");
    expect(ns.values()).toEqual(before);
  });

  test("stop leaves a VIP that was on lo before start", () => {
    ns.sh(["ip", "link", "set", "lo", "up"], true);
    ns.sh(["ip", "addr", "add", `${VIP}/32`, "dev", "lo"], true);
    const start = ns.rs("start", VIP);
    expect(start.code).toBe(0);
    expect(start.stdout).toContain(`${VIP} already on lo (not added by realserver.sh`);
    expect(ns.rs("stop").code).toBe(0);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo", `${VIP}/32 lo`]);
    expect(ns.values()).toEqual(DEFAULTS);
  });

  test("status: 3 before start, 0 when configured, 3 when a sysctl drifts, 3 after stop", () => {
    const pre = ns.rs("status", VIP);
    expect(pre.code).toBe(3);
    expect(pre.stdout).toContain(`vip ${VIP}: NOT on lo`);
    expect(pre.stdout).toContain("net.ipv4.conf.all.arp_ignore = 0 (want 1)");
    expect(ns.rs("start", VIP).code).toBe(0);
    const ok = ns.rs("status", VIP);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      [
        `vip ${VIP}: on lo`,
        "net.ipv4.conf.all.arp_ignore = 1",
        "net.ipv4.conf.lo.arp_ignore = 1",
        "net.ipv4.conf.all.arp_announce = 2",
        "net.ipv4.conf.lo.arp_announce = 2",
        `state: ${join(ns.stateDir, ns.stateFiles()[0])}`,
        "status: configured (dr)",
        "",
      ].join("\n"),
    );
    // Without VIP arguments status checks the recorded ones; unprivileged works too.
    expect(ns.rs("status").code).toBe(0);
    expect(ns.rsAsNobody("status", VIP).code).toBe(0);
    ns.setSysctl("net.ipv4.conf.all.arp_announce", "0");
    const drift = ns.rs("status", VIP);
    expect(drift.code).toBe(3);
    expect(drift.stdout).toContain("net.ipv4.conf.all.arp_announce = 0 (want 2)");
    expect(ns.rs("status", VIP2).code).toBe(3);
    expect(ns.rs("stop").code).toBe(0);
    expect(ns.rs("status", VIP).code).toBe(3);
    expect(ns.rs("status").code).toBe(3);
  });

  test("two VIPs: both added; stopping one keeps the sysctls until the last goes", () => {
    expect(ns.rs("start", VIP, VIP2).code).toBe(0);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo", `${VIP}/32 lo:ringvs`, `${VIP2}/32 lo:ringvs`]);
    expect(ns.rs("status", VIP, VIP2).code).toBe(0);
    expect(ns.rs("stop", VIP).code).toBe(0);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo", `${VIP2}/32 lo:ringvs`]);
    expect(ns.values()).toEqual(CONFIGURED);
    expect(ns.rs("status", VIP).code).toBe(3);
    expect(ns.rs("status", VIP2).code).toBe(0);
    expect(ns.rs("stop", VIP2).code).toBe(0);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo"]);
    expect(ns.values()).toEqual(DEFAULTS);
    expect(ns.stateFiles()).toEqual([]);
  });

  test("a VIP with many addresses after it on lo is still found: status 0, start again a no-op, stop removes it", () => {
    // `ip addr show` writes one address at a time; a reader that stops at the VIP's line (grep -q)
    // makes ip die of SIGPIPE on a later write, which pipefail turned into "VIP not there" (with
    // two VIPs, now and then). 1200 addresses after the VIP are more than a pipe holds (64 KiB),
    // so ip is still writing when the reader has its line: every time, not now and then.
    expect(ns.rs("start", VIP).code).toBe(0);
    const more = Array.from({ length: 1200 }, (_, i) => `addr add 198.19.${200 + (i >> 8)}.${i & 255}/32 dev lo\n`).join("");
    const batch = join(ns.stateDir, "more.batch");
    writeFileSync(batch, more);
    ns.sh(["ip", "-batch", batch], true);
    rmSync(batch);
    expect(ns.loAddrs().length).toBe(1202);
    const status = ns.rs("status", VIP);
    expect({ code: status.code, out: status.stdout }).toMatchObject({ code: 0, out: expect.stringContaining(`vip ${VIP}: on lo`) });
    const again = ns.rs("start", VIP);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: "" });
    expect(ns.rs("stop", VIP).code).toBe(0);
    expect(ns.loAddrs()).not.toContain(`${VIP}/32 lo:ringvs`);
    expect(ns.loAddrs().length).toBe(1201);
    expect(ns.values()).toEqual(DEFAULTS);
    expect(ns.stateFiles()).toEqual([]);
  });

  test("bad addresses are named and rejected with exit 2 before anything changes", () => {
    for (const bad of ["198.18.0.300", "198.18.0", "198.18.0.1.2", "198.018.0.1", "abc", "127.0.0.5", "224.0.0.1", "0.1.2.3", "198.18.0.100/32"]) {
      const r = ns.rs("start", VIP, bad);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`bad IPv4 address '${bad}'`);
    }
    expect(ns.values()).toEqual(DEFAULTS);
    expect(ns.loAddrs()).toEqual([]);
    expect(ns.stateFiles()).toEqual([]);
  });

  test("refuses to run as non-root (exit 4) and changes nothing", () => {
    const r = ns.rsAsNobody("start", VIP);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("must be run as root");
    expect(ns.rsAsNobody("stop", VIP).code).toBe(4);
    expect(ns.values()).toEqual(DEFAULTS);
    expect(ns.loAddrs()).toEqual([]);
  });

  test("usage errors exit 2 with a clear message", () => {
    const cases: [string[], string][] = [
      [[], "missing action"],
      [["frob", VIP], "unknown action 'frob'"],
      [["start"], "start needs at least one VIP"],
      [["start", VIP, "--mode"], "--mode needs a value"],
      [["start", "--mode", "nat", VIP], "unknown mode 'nat'"],
      [["start", "--bogus", VIP], "unknown option '--bogus'"],
    ];
    for (const [args, msg] of cases) {
      const r = ns.rs(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(msg);
    }
    expect(ns.rs("start", "--mode", "dr", VIP).code).toBe(0);
  });

  test("refuses a VIP that is configured on a network interface", () => {
    ns.sh(["ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1"], true);
    ns.sh(["ip", "addr", "add", `${VIP}/24`, "dev", "vx0"], true);
    const r = ns.rs("start", VIP);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`VIP ${VIP} is configured on vx0`);
    expect(ns.values()).toEqual(DEFAULTS);
  });

  test("re-adds a missing local route and removes only that route on stop", () => {
    expect(ns.rs("start", VIP).code).toBe(0);
    ns.sh(["ip", "route", "del", "table", "local", "local", VIP, "dev", "lo"], true);
    expect(ns.localRoute(VIP)).toBe("");
    expect(ns.rs("status", VIP).code).toBe(0);
    expect(ns.rs("start", VIP).code).toBe(0);
    expect(ns.localRoute(VIP)).toBe(`local ${VIP} dev lo proto static scope host`);
    expect(ns.rs("stop").code).toBe(0);
    expect(ns.localRoute(VIP)).toBe("");
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo"]);
  });

  test("a state file left by a dead namespace with the same inode is discarded", () => {
    // Namespace inodes are recycled; a leftover file must not make stop
    // "restore" values this namespace never had.
    const inode = ns.sh(["readlink", "/proc/self/ns/net"], true).stdout.trim().replace(/^net:\[(\d+)\]$/, "$1");
    writeFileSync(
      join(ns.stateDir, `netns-${inode}.state`),
      ["version=1", "token=00000000-dead", "mode=dr", "alias=", "sysctl:net/ipv4/conf/all/arp_ignore=3", `vip=${VIP2}`, ""].join("\n"),
    );
    const start = ns.rs("start", VIP);
    expect(start.code).toBe(0);
    expect(start.stderr).toContain("discarding stale state");
    expect(ns.rs("stop").code).toBe(0);
    expect(ns.values()).toEqual(DEFAULTS);
    expect(ns.loAddrs()).toEqual(["127.0.0.1/8 lo"]);
  });

  test("namespaces keep separate state in a shared state directory", () => {
    const other = new Netns();
    try {
      const shared = { RINGVS_RS_STATE_DIR: ns.stateDir };
      other.setSysctl("net.ipv4.conf.all.arp_ignore", "2");
      expect(ns.rs("start", VIP).code).toBe(0);
      expect(other.sh(["bash", SCRIPT, "start", VIP], false, shared).code).toBe(0);
      expect(ns.stateFiles()).toHaveLength(2);
      expect(ns.rs("stop").code).toBe(0);
      expect(ns.values()).toEqual(DEFAULTS);
      expect(other.values()).toEqual(CONFIGURED);
      expect(other.sh(["bash", SCRIPT, "stop"], false, shared).code).toBe(0);
      expect(other.sysctl("net.ipv4.conf.all.arp_ignore")).toBe("2");
      expect(ns.stateFiles()).toEqual([]);
    } finally {
      other.destroy();
    }
  });
});
