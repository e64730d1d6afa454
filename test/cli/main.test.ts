// The CLI as an operator meets it: exit codes and messages for usage errors, bad files, no root.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REAL_SERVER_ENTRIES_MAX } from "../../src/config/model.ts";

const CLI = join(import.meta.dir, "../../src/cli/main.ts");

/** Run the CLI; `nobodyInNs` runs it as uid 65534 inside that (throwaway) network namespace. */
function ringvs(args: string[], nobodyInNs?: string) {
  const argv = ["bun", CLI, ...args];
  const r = Bun.spawnSync(nobodyInNs
    ? ["ip", "netns", "exec", nobodyInNs, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv]
    : argv, {
    stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: "/tmp" },
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** ringvs(), without waiting for it. */
async function ringvsAsync(args: string[]) {
  const p = Bun.spawn(["bun", CLI, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: "/tmp" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const GOOD = {
  interface: "eth0",
  services: [{ address: "198.18.0.100", port: 80, scheduler: "rr", realServers: [{ address: "198.18.0.11" }] }],
};

describe("ringvs CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "ringvs-cli-"));
  chmodSync(dir, 0o755);
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, 0o644);
    return p;
  };

  test("version", () => {
    const r = ringvs(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ringvs \d+\.\d+\.\d+\n$/);
  });

  test("usage errors exit 2 and print the usage", () => {
    for (const args of [[], ["frobnicate"], ["serve"], ["serve", "--bogus", "x"], ["serve", "--config"],
      ["serve", "--interface", "eth0", "--rules", "x", "--vip-mode", "maybe"],
      ["serve", "--interface", "eth0", "--rules", "x", "--workers", "0"],
      ["serve", "--interface", "eth0", "--rules", "x", "--cpus", "0,one"],
      ["serve", "--config", "x", "--workers", "2"]]) {
      const r = ringvs(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("usage:");
    }
  });

  test("check accepts a good config and counts it", () => {
    const r = ringvs(["check", "--config", file("good.json", JSON.stringify(GOOD))]);
    expect(r.stdout).toBe("ok: 1 service(s), 1 real server(s)\n");
    expect(r.code).toBe(0);
  });

  test("check: --interface alone, an empty rules file and a config without services are an empty table", () => {
    for (const args of [
      ["--interface", "eth0"],
      ["--interface", "eth0", "--rules", file("empty.rules", "")],
      ["--config", file("empty.json", JSON.stringify({ interface: "eth0" }))],
    ]) {
      expect({ args, ...ringvs(["check", ...args]) }).toEqual({ args, code: 0, stdout: "ok: 0 service(s), 0 real server(s)\n", stderr: "" });
    }
  });

  test("check --workers/--cpus: a rules file with a CPU list that does not fit the workers names the field", () => {
    const rules = file("w.rules", "-A -t 198.18.0.100:80 -s rr\n-a -t 198.18.0.100:80 -r 198.18.0.11 -g\n");
    expect(ringvs(["check", "--interface", "eth0", "--rules", rules, "--workers", "2", "--cpus", "0,1"]).code).toBe(0);
    const r = ringvs(["check", "--interface", "eth0", "--rules", rules, "--workers", "3", "--cpus", "0,1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("workers.cpus: [0,1]: must list one CPU per worker (3), got 2");
  });

  test("a bad config names line, field and value; exit 1", () => {
    const text = JSON.stringify({ ...GOOD, services: [{ ...GOOD.services[0], port: 99999 }] }, null, 2);
    const r = ringvs(["check", "--config", file("bad.json", text)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.json:\d+: services\[0\]\.port: 99999: /);
    expect(r.stderr).toContain("nothing started");
  });

  test("an ipvsadm rules file with NAT is refused by name with its line", () => {
    const rules = "-A -t 198.18.0.100:80 -s rr\n-a -t 198.18.0.100:80 -r 198.18.0.11:8080 -m\n";
    const r = ringvs(["check", "--interface", "eth0", "--rules", file("nat.rules", rules)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nat\.rules:2: -m: .*NAT/);
  });

  test(`a rules file over ${REAL_SERVER_ENTRIES_MAX} real-server entries: check refuses it where serve does, with the same words`, async () => {
    // Services of 255 real servers each, REAL_SERVER_ENTRIES_MAX + 1 real servers in all: the last
    // -a line is the one too many. (test/config/schema.test.ts holds that the limit itself is taken.)
    const lines: string[] = [];
    let last = "";
    for (let s = 0, n = 0; n <= REAL_SERVER_ENTRIES_MAX; s++) {
      const vip = `198.18.${s >> 8}.${s & 255}:80`;
      lines.push(`-A -t ${vip} -s rr`);
      for (let r = 1; r <= 255 && n <= REAL_SERVER_ENTRIES_MAX; r++, n++) {
        last = `10.${s >> 8}.${s & 255}.${r}`;
        lines.push(`-a -t ${vip} -r ${last} -g -w 1`);
      }
    }
    const over = file("over.rules", lines.join("\n") + "\n");
    // Side by side: each reads 131,000 lines.
    const [check, serve] = await Promise.all([
      ringvsAsync(["check", "--interface", "eth0", "--rules", over]),
      // serve reads the file the same way before it touches anything, so it needs no root to refuse it.
      ringvsAsync(["serve", "--interface", "eth0", "--rules", over, "--socket", join(dir, "never.sock")]),
    ]);
    expect(check).toEqual({
      code: 1, stdout: "",
      stderr: `ringvs: ${over}:${lines.length}: -r: "${last}": more than ${REAL_SERVER_ENTRIES_MAX} real-server entries in all services\n` +
        "ringvs: 1 error(s); nothing started\n",
    });
    expect(serve).toEqual(check);
  }, 60_000);

  test("serve without root says it needs root and starts nothing", () => {
    if (process.getuid?.() !== 0 || !Bun.which("setpriv")) {
      console.warn("SKIPPING non-root check: needs root and setpriv to drop privileges");
      return;
    }
    const ns = `rvcli${process.pid}`;
    Bun.spawnSync(["ip", "netns", "add", ns]);
    try {
      const r = ringvs(["serve", "--config", file("nobody.json", JSON.stringify({ ...GOOD, interface: "lo" }))], ns);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("needs root");
    } finally {
      Bun.spawnSync(["ip", "netns", "del", ns]);
    }
  });

  test("import-keepalived prints a JSON config that check accepts, and lists what it does not carry over", () => {
    const conf = [
      "global_defs {",
      "  router_id LVS_DEVEL",
      "}",
      "virtual_server 198.18.0.100 80 {",
      "  delay_loop 6",
      "  lb_algo wrr",
      "  lb_kind DR",
      "  persistence_timeout 50",
      "  protocol TCP",
      "  real_server 198.18.0.11 80 {",
      "    weight 3",
      "    TCP_CHECK {",
      "      connect_timeout 3",
      "    }",
      "  }",
      "}",
      "",
    ].join("\n");
    const r = ringvs(["import-keepalived", file("keepalived.conf", conf), "--interface", "eth0"]);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout);
    expect(cfg.services[0]).toMatchObject({ address: "198.18.0.100", port: 80, scheduler: "wrr", persistence: { timeout: 50 } });
    expect(cfg.services[0].realServers[0]).toMatchObject({ address: "198.18.0.11", weight: 3, forward: "dr" });
    expect(r.stderr).toContain("keepalived.conf:1: global_defs");
    expect(r.stderr).toContain("keepalived.conf:5: delay_loop");
    expect(r.stderr).toContain("keepalived.conf:12: TCP_CHECK");
    const check = ringvs(["check", "--config", file("imported.json", r.stdout)]);
    expect(check.stdout).toBe("ok: 1 service(s), 1 real server(s)\n");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
