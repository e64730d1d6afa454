// The single executable: `bun build --compile` with the C shim embedded. Copied alone into an
// empty directory (no repo, no node_modules, no native/build next to it), it must forward.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunLab, Lab, REPO_ROOT } from "./harness.ts";
import { DirectorProcess, drConfig } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING single-binary lab test: needs root (CI runs it as root)");

(LAB ? describe : describe.skip)("single executable", () => {
  let lab: Lab;
  let buildDir: string;
  let emptyDir: string;
  beforeAll(async () => {
    buildDir = mkdtempSync(join(tmpdir(), "ringvs-build-"));
    emptyDir = mkdtempSync(join(tmpdir(), "ringvs-empty-"));
    const b = Bun.spawnSync(["bash", join(REPO_ROOT, "scripts/build.sh"), join(buildDir, "ringvs")], { stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`build failed: ${b.stderr.toString()}`);
    copyFileSync(join(buildDir, "ringvs"), join(emptyDir, "ringvs"));
    Bun.spawnSync(["chmod", "755", join(emptyDir, "ringvs")]);
    lab = await Lab.up({ realServers: 3, rsScript: true, http: true });
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  }, 30_000);

  test("copied alone into an empty directory, it does a DR forward", async () => {
    expect(readdirSync(emptyDir)).toEqual(["ringvs"]);
    const d = await DirectorProcess.start(lab, {
      binary: join(emptyDir, "ringvs"), cwd: emptyDir, config: drConfig(lab, { scheduler: "rr" }),
    });
    const got: string[] = [];
    try {
      for (let i = 0; i < 6; i++) got.push((await lab.curl(`http://${lab.vips[0]}/`)).body.trim());
    } finally {
      const s = await d.stop();
      expect(s.exitCode).toBe(0);
      expect(s.services[0]!.dests.reduce((n, x) => n + x.packets, 0)).toBeGreaterThan(0);
    }
    expect(got).toEqual(["rs3", "rs2", "rs1", "rs3", "rs2", "rs1"]);
  }, 60_000);
});
