// Weighted power of two choices, as net/netfilter/ipvs/ip_vs_twos.c does it (Linux 6.5+).
//
//   total = the sum of the weights of the servers that are available with weight > 0;
//   r1, r2 = two independent uniform draws from [0, total] (get_random_u32_below(total + 1));
//   walk those servers in list order subtracting each weight from r1 and r2: choice 1 is the
//     server at which r1 first drops to <= 0, choice 2 likewise for r2;
//   answer choice 2 if weight2 * overhead1 > weight1 * overhead2 (overhead = active * 256 +
//     inactive), i.e. if it carries less load per weight; otherwise choice 1.
// The draw is inclusive of both ends, so the first eligible server is chosen by r = 0 as well
// as by r in 1..w: it is drawn with probability (w + 1) / (total + 1) instead of w / total, a
// kernel bias kept here. The products are 32-bit int in the kernel and wrap the same way here.
//
// The kernel draws from its CSPRNG; ringvs draws from a seedable xoshiro128** (deterministic by
// default, so tests and replays give the same choices), or from a function the caller injects.
// get_random_u32_below is reproduced exactly on top of the 32-bit stream (Lemire's multiply and
// reject), so an injected stream of kernel random words would give the kernel's choices.

import { connOverhead } from "./locality.ts";
import type { SchedDest, Scheduler } from "./scheduler.ts";

/** A source of uniformly distributed u32 values. */
export type RandomU32 = () => number;

/** The default seed: any fixed value would do; this one spells "twos". */
export const TWOS_DEFAULT_SEED = 0x74776f73;

/** xoshiro128** (Blackman and Vigna), its 128-bit state filled from `seed` by SplitMix32 steps
 *  (golden-ratio increment, then the murmur3 finaliser), so that close seeds give unrelated
 *  streams and no seed gives the all-zero state. */
export function xoshiro128ss(seed: number): RandomU32 {
  let x = seed | 0;
  const next = (): number => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
  let s0 = next(), s1 = next(), s2 = next(), s3 = next();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  return xoshiro128ssFromState(s0, s1, s2, s3);
}

/** xoshiro128** from an explicit state (not all zero), as in the reference C code. */
export function xoshiro128ssFromState(a: number, b: number, c: number, d: number): RandomU32 {
  let s0 = a | 0, s1 = b | 0, s2 = c | 0, s3 = d | 0;
  return () => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/** get_random_u32_below(ceil) over `random`: uniform in [0, ceil) for 1 <= ceil < 2^32, the
 *  high half of ceil * r, redrawing while the low half falls in the biased sliver. */
export function randomBelow(random: RandomU32, ceil: number): number {
  let r = random() >>> 0;
  let low = Math.imul(ceil, r) >>> 0;
  if (low < ceil) {
    const bound = (2 ** 32 - ceil) % ceil; // -ceil % ceil in u32
    while (low < bound) {
      r = random() >>> 0;
      low = Math.imul(ceil, r) >>> 0;
    }
  }
  // The high half of the 64-bit product, exactly: ceil * r itself can exceed 2^53.
  const a = ceil * (r >>> 16); // < 2^48
  const b = ceil * (r & 0xffff); // < 2^48
  const ah = Math.floor(a / 65536);
  return ah + Math.floor(((a - ah * 65536) * 65536 + b) / 2 ** 32);
}

export interface TwosOptions {
  /** Seed of the default generator (TWOS_DEFAULT_SEED when absent). */
  seed?: number;
  /** A generator to use instead, returning u32 values. */
  random?: RandomU32;
}

export class TwosScheduler implements Scheduler {
  readonly name = "twos";

  private dests: readonly SchedDest[] = [];
  private readonly random: RandomU32;

  constructor(opts: TwosOptions = {}) {
    this.random = opts.random ?? xoshiro128ss(opts.seed ?? TWOS_DEFAULT_SEED);
  }

  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
  }

  schedule(_saddr: number, _daddr: number, _sport: number, _dport: number, _now = 0): number {
    const dests = this.dests;
    const n = dests.length;
    let total = 0;
    let choice1 = -1;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      if (d.available && d.weight > 0) {
        total += d.weight;
        choice1 = i;
      }
    }
    if (choice1 < 0) return -1;
    total += 1;
    let r1 = randomBelow(this.random, total);
    let r2 = randomBelow(this.random, total);
    let choice2 = -1;
    let w1 = -1, w2 = -1, oh1 = 0, oh2 = 0;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      if (!d.available || d.weight <= 0) continue;
      r1 -= d.weight;
      r2 -= d.weight;
      if (r1 <= 0 && w1 === -1) {
        choice1 = i;
        w1 = d.weight;
        oh1 = connOverhead(d);
      }
      if (r2 <= 0 && w2 === -1) {
        choice2 = i;
        w2 = d.weight;
        oh2 = connOverhead(d);
      }
      if (w1 !== -1 && w2 !== -1) break;
    }
    if (choice2 >= 0 && Math.imul(w2, oh1) > Math.imul(w1, oh2)) return choice2;
    return choice1;
  }
}
