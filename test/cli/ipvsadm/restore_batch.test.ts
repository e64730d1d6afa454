// ipvsadm -R as one batch for the data plane: the lines change the tables one by one (each sees
// the previous; a line the parser refuses stops it, a refused table change fails only its line),
// and the data plane gets one apply with everything that took effect; when that apply fails,
// nothing changes.
import { describe, expect, test } from "bun:test";
import { Control, type ControlRuntime } from "../../../src/control/control.ts";
import type { DirectorConfig } from "../../../src/config/model.ts";
import type { DirectorStats } from "../../../src/control/director.ts";
import { emptyConfig, sh } from "./helpers.ts";

function countingControl(fail = false): { control: Control; applies: DirectorConfig[] } {
  const applies: DirectorConfig[] = [];
  const runtime: ControlRuntime = {
    apply: async (next) => {
      if (fail) throw new Error("nft: no such table");
      applies.push(next);
    },
    async *connectionPages() {},
    stats: () => ({ services: [] }) as unknown as DirectorStats,
  };
  return { control: new Control(emptyConfig(), runtime), applies };
}

const VIP = "198.18.0.100";
const rules = (n: number) =>
  [`-A -t ${VIP}:80 -s rr`, ...Array.from({ length: n }, (_, i) => `-a -t ${VIP}:80 -r 198.18.1.${i + 1} -g`)].join("\n") + "\n";

describe("-R is one batch", () => {
  test("200 lines: one apply, with all of them", async () => {
    const { control, applies } = countingControl();
    const r = await sh(control, "-R", rules(199));
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(applies).toHaveLength(1);
    expect(applies[0]!.services[0]!.realServers).toHaveLength(199);
    expect(control.current()).toBe(applies[0]!);
    control.stop();
  });

  test("a line the parser refuses stops it; the lines before it are applied, in one apply", async () => {
    const { control, applies } = countingControl();
    const r = await sh(control, "-R", rules(3) + `-a -t ${VIP}:80 -r 198.18.1.9 -g -w 70000\n-a -t ${VIP}:80 -r 198.18.1.10 -g\n`);
    expect(r).toEqual({ code: 2, stdout: "", stderr: "line 5: illegal weight specified\n" });
    expect(applies).toHaveLength(1);
    expect(applies[0]!.services[0]!.realServers.map((x) => x.address)).toEqual(["198.18.1.1", "198.18.1.2", "198.18.1.3"]);
    control.stop();
  });

  test("a refused table change fails its line only; the lines after it are applied too, in one apply", async () => {
    const { control, applies } = countingControl();
    const r = await sh(control, "-R", rules(3) + `-a -t ${VIP}:80 -r 198.18.1.1 -g\n-a -t ${VIP}:80 -r 198.18.1.9 -g\n`);
    // The exit status is the last line's, as restore_table returns it.
    expect(r).toEqual({ code: 0, stdout: "", stderr: "line 5: Destination already exists\n" });
    expect(applies).toHaveLength(1);
    expect(applies[0]!.services[0]!.realServers.map((x) => x.address)).toEqual(["198.18.1.1", "198.18.1.2", "198.18.1.3", "198.18.1.9"]);
    control.stop();
  });

  test("when the data plane refuses the batch, the tables stay as they were", async () => {
    const { control } = countingControl(true);
    const before = control.current();
    const r = await sh(control, "-R", rules(2));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ringvs: the restored rules could not be applied, nothing changed: nft: no such table\n");
    expect(control.current()).toBe(before);
    expect((await sh(control, "-L -n")).stdout).not.toContain(VIP);
    control.stop();
  });

  test("single commands outside -R still apply one by one", async () => {
    const { control, applies } = countingControl();
    await sh(control, `-A -t ${VIP}:80 -s rr`);
    await sh(control, `-a -t ${VIP}:80 -r 198.18.1.1 -g`);
    expect(applies).toHaveLength(2);
    control.stop();
  });
});
