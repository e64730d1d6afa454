// The conformance suite every scheduler passes (hono's `runTest({ newRouter })` idea): one call
// from a scheduler's own test file, which then adds only what is particular to its algorithm.
//
// Model: each successful decision opens a connection that stays open, so the chosen server's
// `activeConns` grows by one. Connection-count schedulers (lc, wlc, sed, nq, ...) therefore see
// the load they produced, and round-robin ones ignore it.

import { describe, expect, test } from "bun:test";
import type { SchedulerName } from "../../src/config/model.ts";
import { createScheduler } from "../../src/sched/index.ts";
import { LoadIndexScheduler } from "../../src/sched/load_index.ts";
import type { SchedDest, Scheduler } from "../../src/sched/scheduler.ts";

export interface SchedulerSuiteOptions {
  /** The scheduler's ipvsadm name, used in test titles and checked against `Scheduler.name`. */
  name: string;
  newScheduler: () => Scheduler;
  /** How decisions spread over many new connections to eligible servers (weight > 0, available):
   *  "weighted" in proportion to weight (wrr, wlc), "equal" the same for each (rr, lc),
   *  "none" not checked (hashing schedulers, whose spread depends on the addresses). */
  distribution?: "weighted" | "equal" | "none";
  /** True when the scheduler always finds a server if an eligible one exists. False for those
   *  that may legitimately answer -1 then, e.g. sh or dh without fallback when the hashed server
   *  is unavailable. Default true. */
  alwaysFinds?: boolean;
  /** True for a scheduler keyed on the destination address alone (dh). Every connection the
   *  suite makes goes to one destination, so such a scheduler may keep answering -1 when that
   *  address hashes onto a server that cannot take it; it must still never choose another one.
   *  Default false. */
  destinationKeyed?: boolean;
}

export function dest(slot: number, weight: number, available = true): SchedDest {
  return { slot, weight, available, activeConns: 0, inactiveConns: 0 };
}

/** Weights to a list with slots 0, 1, 2, ... */
export function destsOf(weights: readonly number[]): SchedDest[] {
  return weights.map((w, i) => dest(i, w));
}

/** One decision for connection number `k` (addresses vary with k, as real clients do), counted
 *  as a new active connection on the chosen server. */
export function pick(s: Scheduler, dests: readonly SchedDest[], k: number): number {
  const saddr = (0x0a000000 + Math.imul(k, 2654435761)) >>> 0;
  const sport = 1024 + (k % 60000);
  const i = s.schedule(saddr, 0xc0a80001, sport, 80, 0);
  if (i >= 0 && i < dests.length) {
    dests[i].activeConns++;
    s.destChanged?.(i);
  }
  return i;
}

export function picks(s: Scheduler, dests: readonly SchedDest[], count: number, from = 0): number[] {
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(pick(s, dests, from + k));
  return out;
}

function eligible(d: SchedDest): boolean {
  return d.weight > 0 && d.available;
}

/** Fails unless `i` is -1 or the index of an eligible server; with `mustFind`, -1 is allowed only
 *  when no server is eligible. */
function expectValid(dests: readonly SchedDest[], i: number, mustFind: boolean): void {
  expect(Number.isInteger(i)).toBe(true);
  if (i === -1) {
    if (mustFind) expect(dests.some(eligible)).toBe(false);
    return;
  }
  expect(i).toBeGreaterThanOrEqual(0);
  expect(i).toBeLessThan(dests.length);
  expect(dests[i].weight).toBeGreaterThan(0);
  expect(dests[i].available).toBe(true);
}

/** xorshift32: a fixed stream of pseudo-random numbers, so a failure replays identically. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A scripted life of a service: start, grow at the head (as the kernel adds), shrink, change
 *  weights in place, quiesce, lose availability, empty, refill. Each step replaces the list
 *  given to the scheduler (or edits it in place and re-announces it). Returns every decision. */
function lifecycle(s: Scheduler, check: (dests: readonly SchedDest[], i: number) => void): number[] {
  const out: number[] = [];
  let k = 0;
  let dests = destsOf([3, 1, 2]);
  const run = (count: number): void => {
    for (let j = 0; j < count; j++) {
      const i = pick(s, dests, k++);
      check(dests, i);
      out.push(i);
    }
  };
  s.setDestinations(dests);
  run(20);
  dests = [dest(10, 5), dest(11, 1), ...dests]; // two new servers, newest first
  s.setDestinations(dests);
  run(20);
  dests = dests.filter((d) => d.slot !== 1 && d.slot !== 10); // delete from middle and head
  s.setDestinations(dests);
  run(20);
  dests[0].weight = 0; // quiesce in place, same array
  dests[dests.length - 1].weight = 7;
  s.setDestinations(dests);
  run(20);
  dests[1].available = false;
  s.setDestinations(dests);
  run(20);
  dests = dests.slice(0, 1); // only the quiesced one is left
  s.setDestinations(dests);
  run(5);
  dests = [];
  s.setDestinations(dests);
  run(5);
  dests = destsOf([1, 4, 2, 2, 0, 6]);
  s.setDestinations(dests);
  run(40);
  return out;
}

export function runSchedulerSuite(opts: SchedulerSuiteOptions): void {
  const { name, newScheduler } = opts;
  const distribution = opts.distribution ?? "none";
  const mustFind = opts.alwaysFinds ?? true;

  describe(`scheduler ${name}: conformance`, () => {
    test("reports its ipvsadm name", () => {
      expect(newScheduler().name).toBe(name);
    });

    test("returns -1 before any destinations are set", () => {
      expect(newScheduler().schedule(0x0a000001, 0xc0a80001, 40000, 80, 0)).toBe(-1);
    });

    test("returns -1 for an empty list", () => {
      const s = newScheduler();
      s.setDestinations([]);
      expect(picks(s, [], 5)).toEqual([-1, -1, -1, -1, -1]);
    });

    test("returns -1 when every weight is 0", () => {
      const s = newScheduler();
      const dests = destsOf([0, 0, 0]);
      s.setDestinations(dests);
      expect(picks(s, dests, 5)).toEqual([-1, -1, -1, -1, -1]);
    });

    test("returns -1 when every server is unavailable", () => {
      const s = newScheduler();
      const dests = destsOf([1, 5, 2]);
      for (const d of dests) d.available = false;
      s.setDestinations(dests);
      expect(picks(s, dests, 5)).toEqual([-1, -1, -1, -1, -1]);
    });

    test("returns -1 when each server is quiesced or unavailable", () => {
      const s = newScheduler();
      const dests = [dest(0, 0), dest(1, 3, false), dest(2, 0), dest(3, 1, false)];
      s.setDestinations(dests);
      expect(picks(s, dests, 5)).toEqual([-1, -1, -1, -1, -1]);
    });

    test("never chooses a quiesced or unavailable server", () => {
      const s = newScheduler();
      const dests = [dest(0, 0), dest(1, 2), dest(2, 9, false), dest(3, 1), dest(4, 0), dest(5, 3)];
      s.setDestinations(dests);
      for (let k = 0; k < 500; k++) expectValid(dests, pick(s, dests, k), mustFind);
    });

    if (mustFind) {
      test("always chooses the only eligible server", () => {
        const s = newScheduler();
        const dests = [dest(0, 0), dest(1, 4, false), dest(2, 1), dest(3, 0)];
        s.setDestinations(dests);
        expect(new Set(picks(s, dests, 50))).toEqual(new Set([2]));
      });
    }

    test("recovers when a server becomes available again", () => {
      const s = newScheduler();
      const dests = destsOf([2, 3]);
      for (const d of dests) d.available = false;
      s.setDestinations(dests);
      expect(pick(s, dests, 0)).toBe(-1);
      dests[1].available = true;
      s.setDestinations(dests);
      const after = new Set(picks(s, dests, 10, 1));
      // A scheduler that may answer -1 with an eligible server (ovf once it overflows, sh/dh
      // without fallback) must still choose only the recovered server when it chooses.
      if (!mustFind) after.delete(-1);
      if (opts.destinationKeyed) for (const i of after) expect(i).toBe(1);
      else expect(after).toEqual(new Set([1]));
    });

    test("survives grow, shrink, weight and availability changes between decisions", () => {
      lifecycle(newScheduler(), (dests, i) => expectValid(dests, i, mustFind));
    });

    test("survives random changes (1000 steps, fixed seed)", () => {
      const s = newScheduler();
      const rnd = prng(0x5eed);
      let dests: SchedDest[] = [];
      let nextSlot = 0;
      let k = 0;
      s.setDestinations(dests);
      for (let step = 0; step < 1000; step++) {
        const op = rnd() % 6;
        if (op === 0 || dests.length === 0) {
          dests = [dest(nextSlot++, rnd() % 6), ...dests];
        } else if (op === 1) {
          const at = rnd() % dests.length;
          dests = dests.filter((_, j) => j !== at);
        } else if (op === 2) {
          dests[rnd() % dests.length].weight = rnd() % 6;
        } else if (op === 3) {
          const d = dests[rnd() % dests.length];
          d.available = !d.available;
        } else if (op === 4 && dests.length > 1) {
          const a = rnd() % dests.length;
          const b = rnd() % dests.length;
          dests = dests.filter((_, j) => j !== a && j !== b);
        }
        s.setDestinations(dests);
        const n = 1 + (rnd() % 4);
        for (let j = 0; j < n; j++) expectValid(dests, pick(s, dests, k++), mustFind);
      }
    });

    test("handles 1000 servers and the largest ipvsadm weight", () => {
      const s = newScheduler();
      const dests: SchedDest[] = [];
      for (let i = 0; i < 1000; i++) dests.push(dest(i, i % 7 === 0 ? 65535 : (i % 5) + 1, i % 11 !== 0));
      s.setDestinations(dests);
      for (let k = 0; k < 2000; k++) expectValid(dests, pick(s, dests, k), mustFind);
    });

    test("is deterministic: equal inputs give equal decisions", () => {
      const a = lifecycle(newScheduler(), () => {});
      const b = lifecycle(newScheduler(), () => {});
      expect(a.length).toBe(150);
      expect(b).toEqual(a);
    });

    if (distribution !== "none") {
      test(`spreads new connections ${distribution === "weighted" ? "in proportion to weight" : "equally"}`, () => {
        const s = newScheduler();
        // Slot 4 is unavailable and slot 5 quiesced: both must get nothing.
        const dests = [dest(0, 5), dest(1, 3), dest(2, 2), dest(3, 1), dest(4, 4, false), dest(5, 0)];
        s.setDestinations(dests);
        const total = 11_000;
        const counts = new Array<number>(dests.length).fill(0);
        for (let k = 0; k < total; k++) {
          const i = pick(s, dests, k);
          expect(i).toBeGreaterThanOrEqual(0);
          counts[i]++;
        }
        const eligibleDests = dests.filter(eligible);
        const weightSum = eligibleDests.reduce((sum, d) => sum + d.weight, 0);
        for (let i = 0; i < dests.length; i++) {
          const d = dests[i];
          const share = !eligible(d) ? 0 : distribution === "weighted" ? d.weight / weightSum : 1 / eligibleDests.length;
          const expected = share * total;
          // 5 % of the expected count: wide enough for schedulers that only approach the ratio
          // (sed, nq), narrow enough that an unweighted spread (2750 each) fails the weighted test.
          expect(Math.abs(counts[i] - expected)).toBeLessThanOrEqual(expected * 0.05);
        }
      });
    }
  });
}

export interface ReferenceComparisonOptions {
  newScheduler: () => Scheduler;
  /** A straightforward transcription of the kernel's walk over `dests`: the index it returns,
   *  or -1. It must not keep state between calls. */
  reference: (dests: readonly SchedDest[]) => number;
  steps?: number;
  seed?: number;
  /** Largest weight drawn; small values make ties (the interesting cases) frequent. Default 4;
   *  one draw in 16 is instead anywhere in 1..65535. */
  maxWeight?: number;
}

/** Drives a scheduler through a long random life (fixed seed) and expects, after every step,
 *  exactly the decision of `reference` on the same list: new connections (active + 1),
 *  connections going inactive (active - 1, inactive + 1) and expiring (inactive - 1), counts set
 *  at random (occasionally just below 2^28), availability flips, all reported through `destChanged`
 *  as a connection tracker would; weight changes, additions at the head and deletions through
 *  `setDestinations`. Returns how many decisions found a server, so a caller can check that the
 *  run was not trivially all -1. */
export function compareWithReference(opts: ReferenceComparisonOptions): number {
  const { newScheduler, reference } = opts;
  const steps = opts.steps ?? 5000;
  const maxWeight = opts.maxWeight ?? 4;
  const rnd = prng(opts.seed ?? 0xc0ffee);
  const s = newScheduler();
  const weight = (): number => (rnd() % 16 === 0 ? 1 + (rnd() % 65535) : rnd() % (maxWeight + 1));
  const count = (): number => {
    const r = rnd() % 32;
    // Near the 2^28 bound, with room for the increments that follow: still exact there.
    if (r === 0) return 2 ** 28 - 1 - 10_000 - (rnd() % 1000);
    if (r === 1) return rnd() % 100_000;
    return rnd() % 6;
  };
  let nextSlot = 0;
  const fresh = (): SchedDest => {
    const d = dest(nextSlot++, weight(), rnd() % 8 !== 0);
    d.activeConns = count();
    d.inactiveConns = count();
    return d;
  };
  let dests: SchedDest[] = [];
  for (let j = 0; j < 8; j++) dests.push(fresh());
  s.setDestinations(dests);
  let found = 0;
  for (let step = 0; step < steps; step++) {
    const n = dests.length;
    const at = n > 0 ? rnd() % n : 0;
    const op = rnd() % 20;
    if (n === 0 || op === 0) {
      dests = [fresh(), ...dests]; // the kernel adds at the head
      s.setDestinations(dests);
    } else if (op === 1 && n > 1) {
      dests = dests.filter((_, j) => j !== at);
      s.setDestinations(dests);
    } else if (op === 2) {
      dests[at].weight = weight();
      s.setDestinations(dests);
    } else if (op === 3) {
      dests[at].available = !dests[at].available;
      s.destChanged?.(at);
    } else if (op === 4) {
      dests[at].activeConns = count();
      dests[at].inactiveConns = count();
      s.destChanged?.(at);
    } else if (op <= 7 && dests[at].activeConns > 0) {
      dests[at].activeConns--; // ESTABLISHED -> FIN_WAIT etc.: active becomes inactive
      dests[at].inactiveConns++;
      s.destChanged?.(at);
    } else if (op <= 9 && dests[at].inactiveConns > 0) {
      dests[at].inactiveConns--; // an inactive entry expires
      s.destChanged?.(at);
    }
    const want = reference(dests);
    const got = s.schedule(0x0a000001 + step, 0xc0a80001, 1024 + (step % 60000), 80, 0);
    if (got !== want) {
      // Name the step and the list, so a failure can be replayed by hand.
      const list = dests.map((d) => `${d.slot}:w${d.weight}${d.available ? "" : "!"}:a${d.activeConns}:i${d.inactiveConns}`);
      expect({ step, got, list }).toEqual({ step, got: want, list });
    }
    // Most decisions open a connection on the chosen server, as in a real service.
    if (got >= 0 && op >= 10) {
      found++;
      dests[got].activeConns++;
      s.destChanged?.(got);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// What the kernel-decision tests of the load-index schedulers (lc, wlc, sed, nq, fo, ovf) share.

/** Servers named by slot: A is slot 0, B slot 1, ... */
export const LABELS = ["A", "B", "C", "D"];
export const A = (w: number) => dest(0, w);
export const B = (w: number) => dest(1, w);
export const C = (w: number) => dest(2, w);
export const D = (w: number) => dest(3, w);

/** Decisions as server names ("-" for none). */
export function names(dests: readonly SchedDest[], is: number[]): string[] {
  return is.map((i) => (i < 0 ? "-" : LABELS[dests[i].slot]));
}

/** The current choice, without opening a connection. */
export function now(s: Pick<Scheduler, "schedule">, dests: readonly SchedDest[]): string {
  return names(dests, [s.schedule(0x0a000001, 0xc0a80001, 40000, 80, 0)])[0];
}

/** A scheduler over `dests` whose decisions are read by name, continuing one connection count. */
export function startScheduler<S extends Scheduler>(s: S, dests: SchedDest[]) {
  s.setDestinations(dests);
  let k = 0;
  return {
    s,
    /** The next `n` decisions, each opening an active connection on the chosen server. */
    next(n: number): string[] {
      const out = names(dests, picks(s, dests, n, k));
      k += n;
      return out;
    },
    /** The current choice, without opening a connection. */
    now: () => now(s, dests),
  };
}

/** ip_vs_wlc_schedule and ip_vs_sed_schedule transcribed, which differ only in `overhead`: the
 *  first server that is not overloaded and has weight > 0, then the rest of the list (skipping
 *  only overloaded ones) replacing it when `(s64)loh * dest->weight > (s64)doh * least->weight`.
 *  BigInt stands in for s64. */
export function weightedOverheadReference(overhead: (d: SchedDest) => bigint): (dests: readonly SchedDest[]) => number {
  return (dests) => {
    let i = 0;
    for (; i < dests.length; i++) if (dests[i].available && dests[i].weight > 0) break;
    if (i === dests.length) return -1; // "no destination available"
    let least = i;
    let loh = overhead(dests[i]);
    for (i++; i < dests.length; i++) {
      const d = dests[i];
      if (!d.available) continue;
      const doh = overhead(d);
      if (loh * BigInt(d.weight) > doh * BigInt(dests[least].weight)) {
        least = i;
        loh = doh;
      }
    }
    return least;
  };
}

/** The tests that close a load-index scheduler's kernel-decision block: its decisions match
 *  `reference` (ip_vs_NAME_schedule transcribed) over a long random life, again with weights up
 *  to 65535 when `wideSeed` is given, and createScheduler(NAME) builds it. */
export function kernelReferenceTests(opts: {
  name: SchedulerName;
  newScheduler: () => Scheduler;
  reference: (dests: readonly SchedDest[]) => number;
  wideSeed?: number;
}): void {
  const { name, newScheduler, reference, wideSeed } = opts;
  test(`matches a linear transcription of ip_vs_${name}_schedule over 5000 random steps`, () => {
    const found = compareWithReference({ newScheduler, reference });
    expect(found).toBeGreaterThan(1000);
  });

  if (wideSeed !== undefined) {
    test("and again with weights up to 65535 drawn often", () => {
      const found = compareWithReference({ newScheduler, reference, seed: wideSeed, maxWeight: 65535 });
      expect(found).toBeGreaterThan(1000);
    });
  }

  test(`createScheduler('${name}') builds it`, () => {
    const s = createScheduler(name);
    expect(s).toBeInstanceOf(LoadIndexScheduler);
    expect(s.name).toBe(name);
  });
}
