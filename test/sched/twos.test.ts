import { describe, expect, test } from "bun:test";
import { createScheduler } from "../../src/sched/index.ts";
import { TWOS_DEFAULT_SEED, TwosScheduler, randomBelow, xoshiro128ss, xoshiro128ssFromState } from "../../src/sched/twos.ts";
import { destsOf, runSchedulerSuite } from "./suite.ts";

// With the suite's model (every choice stays an open connection) the load comparison pulls the
// spread to the weights, within the suite's 5 %.
runSchedulerSuite({ name: "twos", newScheduler: () => new TwosScheduler(), distribution: "weighted" });

/** A generator that yields words making get_random_u32_below(ceil) return exactly `values`. */
function scripted(ceil: number, values: number[]): () => number {
  let k = 0;
  // floor(ceil * r / 2^32) = v for r in the middle of v's interval (far from the rejection zone).
  // Running out is a failure, not a stream of zeros that the rejection loop would spin on.
  return () => {
    if (k >= values.length) throw new Error("scripted random words exhausted");
    return Math.floor(((values[k++] + 0.5) * 2 ** 32) / ceil) >>> 0;
  };
}

describe("twos: kernel ip_vs_twos.c", () => {
  test("xoshiro128** matches the reference output for state 1, 2, 3, 4", () => {
    const r = xoshiro128ssFromState(1, 2, 3, 4);
    expect([r(), r(), r(), r(), r(), r()]).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  test("get_random_u32_below is the high half of ceil * r, redrawing in the biased sliver", () => {
    expect(randomBelow(() => 0xffffffff, 11)).toBe(10);
    expect(randomBelow(() => 0x80000000, 11)).toBe(5);
    // ceil = 3: 2^32 mod 3 = 1, so only a low half of 0 is rejected: r = 0 is drawn again.
    const words = [0, 0x55555556];
    let k = 0;
    expect(randomBelow(() => words[k++], 3)).toBe(1);
    expect(k).toBe(2);
  });

  test("each draw in [0, total] picks the server where it first drops to <= 0", () => {
    // Weights A=3, B=2, C=5: total 10, draws from [0, 10]. r = 0..3 -> A, 4..5 -> B, 6..10 -> C.
    const expectOf = (r: number): number => (r <= 3 ? 0 : r <= 5 ? 1 : 2);
    for (let r = 0; r <= 10; r++) {
      const s = new TwosScheduler({ random: scripted(11, [r, r]) });
      s.setDestinations(destsOf([3, 2, 5]));
      expect(s.schedule(0, 0, 0, 0, 0)).toBe(expectOf(r));
    }
  });

  test("of the two choices, the one with less load per weight wins; ties keep choice 1", () => {
    const dests = destsOf([3, 2, 5]);
    dests[1].activeConns = 1; // overhead 256, per weight 128
    dests[2].activeConns = 1; // overhead 256, per weight 51.2
    const run = (r1: number, r2: number): number => {
      const s = new TwosScheduler({ random: scripted(11, [r1, r2]) });
      s.setDestinations(dests);
      return s.schedule(0, 0, 0, 0, 0);
    };
    expect(run(4, 10)).toBe(2); // B vs C: 5 * 256 > 2 * 256, C
    expect(run(10, 4)).toBe(2); // C vs B: 2 * 256 > 5 * 256 is false, C stays
    expect(run(0, 4)).toBe(0); // A (no load) vs B: 2 * 0 > 3 * 256 false, A
    dests[0].inactiveConns = 1000; // A: overhead 1000 vs B 256 (per weight 333 vs 128)
    expect(run(0, 4)).toBe(1);
  });

  test("unavailable and weight-0 servers take no part in the draw", () => {
    const dests = destsOf([3, 0, 5]);
    dests[0].available = false;
    const s = new TwosScheduler({ random: scripted(6, [0, 0]) });
    s.setDestinations(dests);
    expect(s.schedule(0, 0, 0, 0, 0)).toBe(2);
  });

  test("default seed: a fixed sequence", () => {
    // seed "twos" -> words 2921007231, 3756884885, 92619695, 177107520, ...
    // 1st: total 11, r1 = floor(11 * 2921007231 / 2^32) = 7, r2 = 9: both land on C -> 2.
    // 2nd: r1 = floor(11 * 92619695 / 2^32) = 0, r2 = 0: A -> 0. The rest follows the same way
    // with each choice counted as an open connection.
    const r = xoshiro128ss(TWOS_DEFAULT_SEED);
    expect([r(), r(), r(), r()]).toEqual([2921007231, 3756884885, 92619695, 177107520]);
    for (const s of [new TwosScheduler(), createScheduler("twos"), new TwosScheduler({ seed: TWOS_DEFAULT_SEED })]) {
      const dests = destsOf([3, 2, 5]);
      s.setDestinations(dests);
      const out: number[] = [];
      for (let k = 0; k < 20; k++) {
        const i = s.schedule(0, 0, 0, 0, 0);
        out.push(i);
        dests[i].activeConns++;
      }
      expect(out).toEqual([2, 0, 1, 0, 2, 2, 0, 1, 2, 0, 0, 2, 2, 2, 1, 2, 2, 1, 0, 2]);
    }
    // Another seed, another sequence.
    const other = new TwosScheduler({ seed: 1 });
    const dests = destsOf([3, 2, 5]);
    other.setDestinations(dests);
    const seq = Array.from({ length: 20 }, () => other.schedule(0, 0, 0, 0, 0));
    expect(seq).not.toEqual([2, 0, 1, 0, 2, 2, 0, 1, 2, 0, 0, 2, 2, 2, 1, 2, 2, 1, 0, 2]);
  });

  test("without load the first server's share is (w + 1) / (total + 1): the inclusive draw", () => {
    // No connections are counted, so both choices tie and choice 1 wins: its distribution is
    // A 4/11, B 2/11, C 5/11, not 3:2:5.
    const s = new TwosScheduler({ seed: 42 });
    s.setDestinations(destsOf([3, 2, 5]));
    const total = 110_000;
    const c = [0, 0, 0];
    for (let k = 0; k < total; k++) c[s.schedule(0, 0, 0, 0, 0)]++;
    [4 / 11, 2 / 11, 5 / 11].forEach((share, i) => expect(Math.abs(c[i] / total - share)).toBeLessThan(0.006));
  });
});
