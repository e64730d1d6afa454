// parseIPv4 is a character loop for speed; it must accept exactly the strict dotted quads the
// grammar names (four octets 0..255, no leading zeros, nothing else), checked here against that
// grammar written as a regular expression, on every combination of awkward octets.
import { describe, expect, test } from "bun:test";
import { parseIPv4 } from "../../src/config/schema.ts";

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const STRICT = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** The grammar's answer: host-order u32 of a strict dotted quad, else null. */
function byGrammar(text: string): number | null {
  if (!STRICT.test(text)) return null;
  return text.split(".").reduce((v, o) => v * 256 + Number(o), 0);
}

const PARTS = ["0", "00", "01", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300", "999", "1000", "", "a", "-1", "+1", " 1", "1 ", "0x1"];

describe("parseIPv4", () => {
  test("accepts exactly the strict dotted quads, with their value", () => {
    let differ = 0;
    let accepted = 0;
    for (const a of PARTS) for (const b of PARTS) for (const c of ["0", "1", "255", "256", "01", ""]) for (const d of PARTS) {
      for (const t of [`${a}.${b}.${c}.${d}`, `${a}.${b}.${c}`, `${a}.${b}.${c}.${d}.1`, `${a}..${c}.${d}`]) {
        const want = byGrammar(t);
        if (parseIPv4(t) !== want) differ++;
        if (want !== null) accepted++;
      }
    }
    expect(differ).toBe(0);
    expect(accepted).toBeGreaterThan(1000);
  });

  test("examples", () => {
    expect(parseIPv4("198.18.0.100")).toBe(0xc6120064);
    expect(parseIPv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIPv4("0.0.0.0")).toBe(0);
    for (const bad of ["198.18.0", "198.18.0.100.1", "198.018.0.1", "198.18.0.256", "198.18.0.1 ", "", "...."]) expect(parseIPv4(bad)).toBeNull();
  });
});

describe("ipToU32 (the plan's reader of addresses the schema accepted)", () => {
  test("gives parseIPv4's value for every strict dotted quad", async () => {
    const { ipToU32 } = await import("../../src/dataplane/plan.ts");
    let differ = 0;
    let checked = 0;
    for (const a of PARTS) for (const b of PARTS) for (const c of ["0", "1", "255", "10"]) for (const d of PARTS) {
      const t = `${a}.${b}.${c}.${d}`;
      const want = parseIPv4(t);
      if (want === null) continue;
      checked++;
      if (ipToU32(t) !== want) differ++;
    }
    expect(checked).toBeGreaterThan(500);
    expect(differ).toBe(0);
  });
});
