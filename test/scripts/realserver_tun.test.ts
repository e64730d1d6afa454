// scripts/realserver.sh --mode tun, each test in its own throwaway network namespace with its own
// RINGVS_RS_STATE_DIR. tunl0 is faked with a persistent TUN device of that name (what the lab's
// user-space decapsulator provides) unless the kernel's ipip already put one in every namespace.

import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns as ScriptNetns, nsPrefix, runnable, SCRIPT, VIP, VIP2, type Run } from "./realserver_helpers.ts";

const SYSCTLS = [
  "net.ipv4.conf.all.arp_ignore",
  "net.ipv4.conf.tunl0.arp_ignore",
  "net.ipv4.conf.all.arp_announce",
  "net.ipv4.conf.tunl0.arp_announce",
  "net.ipv4.conf.tunl0.rp_filter",
  // Not set by the script (loose mode on tunl0 wins over any "all"), watched so it stays untouched.
  "net.ipv4.conf.all.rp_filter",
] as const;
const CONFIGURED = {
  "net.ipv4.conf.all.arp_ignore": "1",
  "net.ipv4.conf.tunl0.arp_ignore": "1",
  "net.ipv4.conf.all.arp_announce": "2",
  "net.ipv4.conf.tunl0.arp_announce": "2",
  "net.ipv4.conf.tunl0.rp_filter": "2",
};

if (!runnable) console.warn("SKIP test/scripts/realserver_tun.test.ts: needs root and iproute2 (network namespaces)");

class Netns extends ScriptNetns {
  constructor() {
    super("rvtt", "ringvs-rs-tun-test-", SYSCTLS);
  }

  rs(args: string[], env: Record<string, string> = {}): Run {
    return this.sh(["bash", SCRIPT, ...args], false, { RINGVS_RS_STATE_DIR: this.stateDir, ...env });
  }

  tun(...args: string[]): Run {
    return this.rs([args[0], "--mode", "tun", ...args.slice(1)]);
  }

  hasTunl0(): boolean {
    return this.sh(["ip", "link", "show", "dev", "tunl0"]).code === 0;
  }

  /** The lab decapsulator's tunl0: a TUN device, down, as ipip-decap leaves it. */
  fakeTunl0(): void {
    if (!this.hasTunl0()) this.sh(["ip", "tuntap", "add", "dev", "tunl0", "mode", "tun"], true);
  }

  isUp(dev: string): boolean {
    const j = JSON.parse(this.sh(["ip", "-j", "link", "show", "dev", dev], true).stdout);
    return (j[0].flags as string[]).includes("UP");
  }

  loAlias(): string {
    return this.sh(["cat", "/sys/class/net/lo/ifalias"], true).stdout;
  }
}

/** Whether a fresh namespace already has tunl0 (the kernel's ipip is loaded). */
function kernelTunl0(): boolean {
  const r = Bun.spawnSync(["unshare", "--net", "ip", "link", "show", "dev", "tunl0"], { stdout: "ignore", stderr: "ignore" });
  return r.exitCode === 0;
}

describe.skipIf(!runnable)("realserver.sh --mode tun", () => {
  let ns: Netns;
  let defaults: Record<string, string>;
  beforeEach(() => {
    ns = new Netns();
    ns.fakeTunl0();
    defaults = ns.values();
  });
  afterEach(() => {
    ns.destroy();
  });
  afterAll(() => {
    const left = Bun.spawnSync(["ip", "netns", "list"]).stdout.toString();
    expect(left).not.toContain(nsPrefix("rvtt"));
  });

  test("start brings tunl0 up with the VIP and sets arp_ignore/arp_announce/rp_filter", () => {
    expect(ns.isUp("tunl0")).toBe(false);
    const r = ns.tun("start", VIP);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    if (!kernelTunl0()) expect(r.stdout).toContain("modprobe ipip failed (");
    if (!kernelTunl0()) expect(r.stdout).toContain("using the existing tunl0 (tun type tun, a user-space decapsulator)");
    expect(ns.isUp("tunl0")).toBe(true);
    expect(ns.addrs("tunl0")).toEqual([`${VIP}/32 tunl0:ringvs`]);
    expect(ns.sh(["ip", "-4", "addr", "show", "dev", "lo"], true).stdout).not.toContain(VIP);
    expect(ns.values()).toEqual({ ...CONFIGURED, "net.ipv4.conf.all.rp_filter": defaults["net.ipv4.conf.all.rp_filter"] });
    expect(ns.localRoute(VIP)).toBe(`local ${VIP} dev tunl0 proto kernel scope host src ${VIP}`);
    expect(ns.sh(["ip", "route", "get", VIP], true).stdout).toStartWith(`local ${VIP} dev lo`);
    expect(ns.stateFiles()).toHaveLength(1);
    const state = readFileSync(join(ns.stateDir, ns.stateFiles()[0]), "utf8");
    expect(state).toContain("mode=tun\n");
    expect(state).toContain("devup=tunl0\n");
    expect(state).toContain("sysctl:net/ipv4/conf/tunl0/rp_filter=");
  });

  test("start twice leaves exactly the same state", () => {
    expect(ns.tun("start", VIP).code).toBe(0);
    const snap = () => ({
      addrs: ns.addrs("tunl0"),
      up: ns.isUp("tunl0"),
      sysctls: ns.values(),
      routes: ns.sh(["ip", "-4", "route", "show", "table", "all"], true).stdout,
      state: ns.stateFiles().map((f) => readFileSync(join(ns.stateDir, f), "utf8")),
    });
    const first = snap();
    const again = ns.tun("start", VIP);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
    expect(snap()).toEqual(first);
  });

  test("stop restores the exact pre-start values and sets tunl0 down again", () => {
    const before = {
      "net.ipv4.conf.all.arp_ignore": "2",
      "net.ipv4.conf.tunl0.arp_ignore": "3",
      "net.ipv4.conf.all.arp_announce": "1",
      "net.ipv4.conf.tunl0.arp_announce": "0",
      "net.ipv4.conf.tunl0.rp_filter": "1",
      "net.ipv4.conf.all.rp_filter": "1",
    };
    for (const [k, v] of Object.entries(before)) ns.setSysctl(k, v);
    ns.sh(["ip", "link", "set", "dev", "lo", "alias", "operator note"], true);
    expect(ns.tun("start", VIP).code).toBe(0);
    expect(ns.tun("start", VIP).code).toBe(0);
    // all.rp_filter=1 stays: max(all, tunl0) = max(1, 2) = 2, loose on tunl0, strict elsewhere.
    expect(ns.values()).toEqual({ ...CONFIGURED, "net.ipv4.conf.all.rp_filter": "1" });
    const stop = ns.tun("stop", VIP);
    expect(stop.code).toBe(0);
    expect(stop.stderr).toBe("");
    expect(ns.values()).toEqual(before);
    expect(ns.addrs("tunl0")).toEqual([]);
    expect(ns.isUp("tunl0")).toBe(false);
    expect(ns.localRoute(VIP)).toBe("");
    expect(ns.stateFiles()).toEqual([]);
    expect(ns.loAlias()).toBe("operator note\n");
    const again = ns.tun("stop", VIP);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("not started");
    expect(ns.values()).toEqual(before);
  });

  test("a tunl0 that was up before start stays up after stop", () => {
    ns.sh(["ip", "link", "set", "dev", "tunl0", "up"], true);
    expect(ns.tun("start", VIP).code).toBe(0);
    expect(readFileSync(join(ns.stateDir, ns.stateFiles()[0]), "utf8")).not.toContain("devup=");
    expect(ns.tun("stop").code).toBe(0);
    expect(ns.isUp("tunl0")).toBe(true);
    expect(ns.values()).toEqual(defaults);
  });

  test("two VIPs: the sysctls and tunl0 stay until the last VIP goes", () => {
    expect(ns.tun("start", VIP, VIP2).code).toBe(0);
    expect(ns.addrs("tunl0")).toEqual([`${VIP}/32 tunl0:ringvs`, `${VIP2}/32 tunl0:ringvs`]);
    expect(ns.tun("stop", VIP).code).toBe(0);
    expect(ns.addrs("tunl0")).toEqual([`${VIP2}/32 tunl0:ringvs`]);
    expect(ns.isUp("tunl0")).toBe(true);
    expect(ns.sysctl("net.ipv4.conf.tunl0.rp_filter")).toBe("2");
    expect(ns.tun("stop", VIP2).code).toBe(0);
    expect(ns.addrs("tunl0")).toEqual([]);
    expect(ns.values()).toEqual(defaults);
    expect(ns.stateFiles()).toEqual([]);
  });

  test("status: 3 before start, 0 when configured, 3 when tunl0 is down or a sysctl drifts", () => {
    const pre = ns.tun("status", VIP);
    expect(pre.code).toBe(3);
    expect(pre.stdout).toContain("dev tunl0: DOWN");
    expect(pre.stdout).toContain(`vip ${VIP}: NOT on tunl0`);
    expect(pre.stdout).toContain("net.ipv4.conf.tunl0.rp_filter = 0 (want 2)");
    expect(pre.stdout).toContain("status: not configured (tun)");
    expect(ns.tun("start", VIP).code).toBe(0);
    const ok = ns.tun("status", VIP);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      [
        "dev tunl0: up",
        `vip ${VIP}: on tunl0`,
        "net.ipv4.conf.all.arp_ignore = 1",
        "net.ipv4.conf.tunl0.arp_ignore = 1",
        "net.ipv4.conf.all.arp_announce = 2",
        "net.ipv4.conf.tunl0.arp_announce = 2",
        "net.ipv4.conf.tunl0.rp_filter = 2",
        `state: ${join(ns.stateDir, ns.stateFiles()[0])}`,
        "status: configured (tun)",
        "",
      ].join("\n"),
    );
    expect(ns.tun("status").code).toBe(0);
    ns.setSysctl("net.ipv4.conf.tunl0.rp_filter", "1");
    const drift = ns.tun("status", VIP);
    expect(drift.code).toBe(3);
    expect(drift.stdout).toContain("net.ipv4.conf.tunl0.rp_filter = 1 (want 2)");
    ns.setSysctl("net.ipv4.conf.tunl0.rp_filter", "2");
    expect(ns.tun("status", VIP).code).toBe(0);
    ns.sh(["ip", "link", "set", "dev", "tunl0", "down"], true);
    const down = ns.tun("status", VIP);
    expect(down.code).toBe(3);
    expect(down.stdout).toContain("dev tunl0: DOWN");
    // The DR view of the same namespace is not configured: the VIP is not on lo.
    expect(ns.rs(["status", VIP]).code).toBe(3);
    expect(ns.tun("stop").code).toBe(0);
    expect(ns.tun("status", VIP).code).toBe(3);
  });

  test("tunl0 gone before stop (the decapsulator exited): stop still cleans up", () => {
    if (kernelTunl0()) {
      console.warn("SKIP tunl0-gone case: the kernel's tunl0 cannot be deleted");
      return;
    }
    ns.setSysctl("net.ipv4.conf.all.arp_ignore", "2");
    const alias = ns.loAlias();
    expect(ns.tun("start", VIP).code).toBe(0);
    ns.sh(["ip", "link", "del", "dev", "tunl0"], true);
    const st = ns.tun("status");
    expect(st.code).toBe(3);
    expect(st.stdout).toContain("dev tunl0: MISSING");
    expect(st.stdout).toContain("net.ipv4.conf.tunl0.rp_filter = missing (want 2)");
    const stop = ns.tun("stop");
    expect(stop.code).toBe(0);
    expect(stop.stderr).toBe("");
    expect(stop.stdout).toContain("net/ipv4/conf/tunl0/rp_filter is gone");
    expect(ns.sysctl("net.ipv4.conf.all.arp_ignore")).toBe("2");
    expect(ns.sysctl("net.ipv4.conf.all.arp_announce")).toBe(defaults["net.ipv4.conf.all.arp_announce"]);
    expect(ns.stateFiles()).toEqual([]);
    expect(ns.loAlias()).toBe(alias);
  });

  test("modes do not mix: dr started means tun start/stop refuse, and the other way round", () => {
    expect(ns.rs(["start", VIP]).code).toBe(0);
    const t = ns.tun("start", VIP2);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("already started in mode dr; stop it first");
    const ts = ns.tun("stop");
    expect(ts.code).toBe(1);
    expect(ts.stderr).toContain("started in mode dr, not tun");
    expect(ns.addrs("tunl0")).toEqual([]);
    expect(ns.rs(["stop"]).code).toBe(0);
    expect(ns.tun("start", VIP).code).toBe(0);
    const d = ns.rs(["start", VIP2]);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain("already started in mode tun");
    expect(ns.tun("stop").code).toBe(0);
    expect(ns.values()).toEqual(defaults);
  });

  test("refuses a VIP that is configured on another interface", () => {
    ns.sh(["ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1"], true);
    ns.sh(["ip", "addr", "add", `${VIP}/24`, "dev", "vx0"], true);
    const r = ns.tun("start", VIP);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`VIP ${VIP} is configured on vx0; a tun real server must have it only on tunl0`);
    expect(ns.values()).toEqual(defaults);
    expect(ns.stateFiles()).toEqual([]);
  });
});

describe.skipIf(!runnable)("realserver.sh --mode tun without a tunl0", () => {
  let ns: Netns;
  let fake: string;
  beforeEach(() => {
    ns = new Netns();
    fake = mkdtempSync(join(tmpdir(), "ringvs-fake-modprobe-"));
  });
  afterEach(() => {
    ns.destroy();
    rmSync(fake, { recursive: true, force: true });
  });

  /** A modprobe earlier in PATH: logs its arguments, then runs BODY. */
  function fakeModprobe(body: string): Record<string, string> {
    const path = join(fake, "modprobe");
    writeFileSync(path, `#!/bin/sh\necho "$@" >> ${join(fake, "log")}\n${body}\n`);
    chmodSync(path, 0o755);
    return { PATH: `${fake}:${process.env.PATH}` };
  }

  test("no ipip and no tunl0: exit 1 with a clear error, nothing changed", () => {
    if (ns.hasTunl0()) {
      console.warn("SKIP no-tunl0 case: the kernel's ipip gives every namespace a tunl0");
      return;
    }
    const before = Object.fromEntries(
      ["net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce"].map((k) => [k, ns.sysctl(k)]),
    );
    const env = fakeModprobe(`echo "modprobe: FATAL: Module ipip not found in directory /lib/modules/x" >&2; exit 1`);
    const r = ns.rs(["start", "--mode", "tun", VIP], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "realserver.sh: no tunl0: modprobe ipip failed (modprobe: FATAL: Module ipip not found in directory /lib/modules/x) " +
        "and no device named tunl0 exists; load ipip, or run a user-space decapsulator that provides tunl0 (scripts/lab/ipip-decap)\n",
    );
    expect(readFileSync(join(fake, "log"), "utf8")).toBe("ipip\n");
    expect(ns.stateFiles()).toEqual([]);
    expect(ns.loAlias()).toBe("");
    expect(Object.fromEntries(Object.keys(before).map((k) => [k, ns.sysctl(k)]))).toEqual(before);
    expect(ns.hasTunl0()).toBe(false);
  });

  test("modprobe ipip is what provides tunl0 when it works", () => {
    if (ns.hasTunl0()) {
      console.warn("SKIP modprobe case: the kernel's ipip gives every namespace a tunl0");
      return;
    }
    // Stands in for the module: loading it creates tunl0 in every namespace.
    const env = fakeModprobe(`[ "$1" = ipip ] && ip tuntap add dev tunl0 mode tun`);
    const r = ns.rs(["start", "--mode", "tun", VIP], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(readFileSync(join(fake, "log"), "utf8")).toBe("ipip\n");
    expect(ns.addrs("tunl0")).toEqual([`${VIP}/32 tunl0:ringvs`]);
    expect(ns.rs(["stop", "--mode", "tun"], env).code).toBe(0);
    // The module's device is not ours to delete; it is only set down again.
    expect(ns.hasTunl0()).toBe(true);
    expect(ns.isUp("tunl0")).toBe(false);
  });
});
