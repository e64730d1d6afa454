// The shared engine of the connection-count schedulers (lc, wlc, sed, nq, fo, ovf).
//
// Every one of them is, in the kernel, a linear walk over the service's list that keeps the
// server with the smallest load per unit of rate, replacing it only when a later server is
// STRICTLY better, so that ties go to the earlier server in list order:
//
//     replace least by dest  iff  load(least) * rate(dest) > load(dest) * rate(least)
//
// (ip_vs_wlc.c writes it `(__s64)loh * dest->weight > (__s64)doh * least->weight`). Each
// algorithm is only a choice of (load, rate) per server, declared as data (a LoadRule) in its
// own file:
//
//     lc   active * 256 + inactive   / 1        (ip_vs_dest_conn_overhead)
//     wlc  active * 256 + inactive   / weight
//     sed  active + 1                / weight
//     nq   0 if idle else active + 1 / weight   (idle servers tie at 0: the first idle one wins)
//     fo   1                         / weight   (the highest weight, the first one on ties)
//     ovf  1                         / weight   while active <= weight, else skipped
//
// and rate 0 marks a server the walk skips (weight 0, IP_VS_DEST_F_OVERLOAD, ovf's overflow).
// Cross-multiplication compares the two fractions exactly, so "the first server in list order
// with the smallest load/rate" is well defined; a walk finds it in O(n) per decision.
//
// The rules are data, not subclasses, on purpose: all six are instances of the one class
// LoadIndexScheduler, so the hot path (destChanged) sees one object shape and stays monomorphic
// however many kinds of service a director runs. With a subclass per algorithm the same code ran
// up to twice as slow once several of them were in use (bench/sched.bench.ts runs all six).
//
// Instead of walking, ringvs keeps a tournament tree (a segment tree over list positions): each
// leaf holds one server, each inner node the winner of its two children, the LEFT child winning
// ties, so every node holds the leftmost minimum of its range and the root holds exactly the
// server the kernel's walk would return. A decision reads the root (O(1)); `destChanged(i)`
// recomputes leaf i and replays the matches on its path to the root (O(log n)), stopping early
// once a node's winner is unchanged and is not server i (nothing above it can change then), and
// not starting at all when the change does not touch this algorithm's (load, rate);
// `setDestinations` rebuilds the tree in O(n).
//
// Exactness. The comparison is done in doubles, exact while both products stay below 2^53.
// Weights are 0..65535 (< 2^16, ipvsadm's range; setDestinations throws on more, a programmer
// error since config validation rejects it), so loads must stay below 2^37. Each count is
// therefore saturated at MAX_COUNT = 2^28 - 1 before use, which bounds the lc/wlc overhead at
// (2^28 - 1) * 256 + (2^28 - 1) < 2^37. Below the bound the decision is the kernel's exactly.
// No real director gets near it (268 million connections on one real server); the kernel
// itself computes the overhead in an `int`, which wraps once active * 256 + inactive reaches
// 2^31 (about 8.4 million active connections), after which its choice is arithmetic garbage;
// ringvs keeps comparing the true loads up to the saturation point and, beyond it, treats
// saturated servers as equally loaded (the earlier one wins).

import type { SchedDest, Scheduler } from "./scheduler.ts";

/** Largest count used in a comparison; larger counts are treated as this (see the header). */
export const MAX_COUNT = 2 ** 28 - 1;
/** ipvsadm's largest weight; the 2^53 exactness argument relies on it. */
export const MAX_WEIGHT = 65535;

/** No winner: an empty range, or every server in it ineligible. */
const NONE = -1;

/** A count as the comparisons use it: saturated at MAX_COUNT, negative (a tracker bug) as 0. */
export function clampCount(n: number): number {
  return n > MAX_COUNT ? MAX_COUNT : n > 0 ? n : 0;
}

/** How one algorithm turns a server into (load, rate). A server with weight 0 or not available
 *  is always skipped; so is one that `overflowsAtWeight` and has more active connections than
 *  its weight. Otherwise
 *    load = idle && idleFirst ? 0 : activeCost * active + inactiveCost * inactive + extra
 *    rate = byWeight ? weight : 1
 *  with counts saturated at MAX_COUNT. Costs must keep load below 2^37 (see the header). */
export interface LoadRule {
  readonly activeCost: number;
  readonly inactiveCost: number;
  readonly extra: number;
  /** nq: a server with no active connection gets load 0, before any weighing. */
  readonly idleFirst: boolean;
  /** false for lc, which ignores the weight except to skip weight 0. */
  readonly byWeight: boolean;
  /** ovf: skipped once active > weight. */
  readonly overflowsAtWeight: boolean;
}

export class LoadIndexScheduler implements Scheduler {
  /** `name` is the ipvsadm name; `rule` the algorithm, as its file declares it. */
  constructor(
    readonly name: string,
    private readonly rule: LoadRule,
  ) {}

  private dests: readonly SchedDest[] = [];
  /** Leaves start here; a power of two >= dests.length (at least 1). */
  private size = 1;
  /** Per list position, the load and rate last read from dests (rate 0: not eligible). */
  private loads: Float64Array = new Float64Array(1);
  private rates: Float64Array = new Float64Array(1);
  /** Node k (1 = root) holds the winning list position of its range, or NONE. Leaves are at
   *  size + i; the children of k are 2k (left, earlier positions) and 2k + 1. */
  private tree: Int32Array = new Int32Array(2).fill(NONE);

  /** Throws a RangeError for a weight outside 0..65535 (config validation prevents it; the
   *  exactness of the comparisons depends on it). */
  setDestinations(dests: readonly SchedDest[]): void {
    const n = dests.length;
    for (let i = 0; i < n; i++) {
      const w = dests[i].weight;
      if (!(w >= 0 && w <= MAX_WEIGHT)) {
        throw new RangeError(`${this.name}: weight ${w} of slot ${dests[i].slot} is outside 0..${MAX_WEIGHT}`);
      }
    }
    let size = 1;
    while (size < n) size *= 2;
    this.dests = dests;
    this.size = size;
    this.loads = new Float64Array(size);
    this.rates = new Float64Array(size);
    const tree = new Int32Array(2 * size).fill(NONE);
    this.tree = tree;
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      const r = this.rate(d);
      this.rates[i] = r;
      this.loads[i] = r > 0 ? this.load(d) : 0;
      if (r > 0) tree[size + i] = i;
    }
    for (let k = size - 1; k >= 1; k--) tree[k] = this.match(tree[2 * k], tree[2 * k + 1]);
  }

  /** The winner at the root; O(1). -1 when no server is eligible. */
  schedule(_saddr: number, _daddr: number, _sport: number, _dport: number, _now: number): number {
    const i = this.tree[1];
    // Only a caller that shrank its array in place without setDestinations can make the root
    // point past the end; answer "none" rather than an index that does not exist.
    return i < this.dests.length ? i : NONE;
  }

  /** dests[index] changed its counts or availability: replay its matches up to the root. */
  destChanged(index: number): void {
    if (!(index >= 0 && index < this.dests.length)) return;
    const d = this.dests[index];
    const r = this.rate(d);
    const l = r > 0 ? this.load(d) : 0;
    // A change this algorithm does not look at (fo: any count; sed, nq, ovf: inactive counts)
    // leaves the key, and so the whole tree, as it was.
    if (r === this.rates[index] && l === this.loads[index]) return;
    this.rates[index] = r;
    this.loads[index] = l;
    const tree = this.tree;
    let k = this.size + index;
    tree[k] = this.rates[index] > 0 ? index : NONE;
    k >>= 1;
    while (k >= 1) {
      const won = this.match(tree[2 * k], tree[2 * k + 1]);
      // Same winner as before and it is not the changed server: its key is unchanged, so every
      // match above this node has the same inputs as before.
      if (won === tree[k] && won !== index) return;
      tree[k] = won;
      k >>= 1;
    }
  }

  /** The server's rate (the divisor), or 0 when the kernel's walk skips it. */
  private rate(d: SchedDest): number {
    const w = d.weight;
    if (!d.available || !(w > 0)) return 0;
    const rule = this.rule;
    if (rule.overflowsAtWeight && clampCount(d.activeConns) > w) return 0;
    return rule.byWeight ? w : 1;
  }

  /** The server's load (the dividend), for a server whose rate is > 0. */
  private load(d: SchedDest): number {
    const rule = this.rule;
    const active = clampCount(d.activeConns);
    if (rule.idleFirst && active === 0) return 0;
    return rule.activeCost * active + rule.inactiveCost * clampCount(d.inactiveConns) + rule.extra;
  }

  /** The kernel's rule between an earlier server a and a later server b: b only if strictly
   *  better, i.e. load(a) * rate(b) > load(b) * rate(a). */
  private match(a: number, b: number): number {
    if (a === NONE) return b;
    if (b === NONE) return a;
    return this.loads[a] * this.rates[b] > this.loads[b] * this.rates[a] ? b : a;
  }
}
