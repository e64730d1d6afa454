// Weighted round-robin, as net/netfilter/ipvs/ip_vs_wrr.c does it (the form it has had since
// Linux 3.10, with the "last pass at cw = 1" and `stop` fixes by Julian Anastasov).
//
// State, with the kernel's names:
//   di  the gcd of all positive weights (1 if there are none): the step between passes;
//   mw  the highest weight minus (di - 1), so that the last pass runs at cw = 1 and still catches
//       a server whose weight was lowered below di without a dest_changed (cannot happen here,
//       but the numbers must match the kernel's);
//   cw  the weight a server needs in the current pass;
//   cl  the last chosen server, or the list head (here an index into `dests`, -1 for the head).
// A decision walks on from cl taking the first server with weight >= cw that is not overloaded;
// each time the walk passes the head cw drops by di, and below 1 it wraps back to mw. Over one
// full cycle a server of weight w is chosen w/di times. With weights A=4, B=3, C=2 (list order):
//   cw=4: A   cw=3: A B   cw=2: A B C   cw=1: A B C   → A A B A B C A B C, then again.
//
// The kernel runs `ip_vs_wrr_dest_changed` on every add, delete and edit of a real server; it
// recomputes di and mw, sends cl back to the head, and keeps cw unless it is now above mw (or 0),
// in which case the cycle restarts at mw; when di > 1 it rounds cw onto the new grid of pass
// weights (k*di + 1). Availability (IP_VS_DEST_F_OVERLOAD) is a flag the kernel flips without
// telling the scheduler, so a `setDestinations` that changes only `available` keeps cl and cw.
// One `setDestinations` counts as one dest_changed over the final list: the kernel, applying a
// batch one server at a time, can end on a different cw when intermediate lists have another
// gcd or maximum.

import type { SchedDest, Scheduler } from "./scheduler.ts";
import { gcdAndMaxWeight } from "./weights.ts";

/** Sentinel for cl: the list head, "before the first server". */
const HEAD = -1;
/** Sentinel for stop: no stop point armed (no index equals it). */
const NO_STOP = -2;

export class WeightedRoundRobinScheduler implements Scheduler {
  readonly name = "wrr";

  private dests: readonly SchedDest[] = [];
  private cl = HEAD;
  private cw = 0;
  private mw = 0;
  private di = 1;
  /** Slots and weights at the last `setDestinations`, to tell a list/weight change (which the
   *  kernel reports through dest_changed) from an availability change (which it does not). */
  private slots: Int32Array = new Int32Array(0);
  private weights: Int32Array = new Int32Array(0);

  /** Current weight, maximum weight and step, for tests and stats; read-only. */
  get state(): { readonly cw: number; readonly mw: number; readonly di: number; readonly cl: number } {
    return { cw: this.cw, mw: this.mw, di: this.di, cl: this.cl };
  }

  setDestinations(dests: readonly SchedDest[]): void {
    this.dests = dests;
    if (this.sameListAndWeights(dests)) return;
    const n = dests.length;
    const slots = new Int32Array(n);
    const weights = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      slots[i] = dests[i].slot;
      weights[i] = dests[i].weight;
    }
    this.slots = slots;
    this.weights = weights;
    this.updateService();
  }

  schedule(_saddr: number, _daddr: number, _sport: number, _dport: number): number {
    const dests = this.dests;
    const n = dests.length;
    // All weights 0 (or no servers): "no destination available", cl untouched.
    if (this.mw === 0) return -1;
    const di = this.di;
    const mw = this.mw;
    let cw = this.cw;
    // cl past the end can only mean the array shrank in place without setDestinations.
    const last = this.cl < n ? this.cl : HEAD;
    let stop = NO_STOP;
    let lastPass = false;
    let restarted = false;
    let i = last;
    for (;;) {
      for (i = i + 1; i < n; i++) {
        const d = dests[i];
        if (d.available && d.weight >= cw) {
          this.cw = cw;
          return (this.cl = i);
        }
        // Every server was checked at cw = 1: all overloaded (or quiesced).
        if (i === stop) {
          this.cw = cw;
          this.cl = i;
          return -1;
        }
      }
      // Passed the head.
      i = HEAD;
      cw -= di;
      if (cw <= 0) {
        cw = mw;
        // Either the walk began at the head, so the pass just finished checked every server at
        // cw = 1, or a last pass had already started: nothing can be chosen.
        if (lastPass || last === HEAD) {
          this.cw = cw;
          this.cl = HEAD;
          return -1;
        }
        restarted = true;
      }
      lastPass = cw <= di;
      // The servers after `last` were already checked at cw = 1; check the rest, up to `last`.
      if (lastPass && restarted && last !== HEAD) stop = last;
    }
  }

  /** ip_vs_wrr_dest_changed (which, from cw = 0, is also ip_vs_wrr_init_svc). */
  private updateService(): void {
    const { gcd: g, max } = gcdAndMaxWeight(this.weights);
    this.cl = HEAD;
    this.di = g > 0 ? g : 1;
    this.mw = max - (this.di - 1);
    if (this.cw > this.mw || this.cw === 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = Math.trunc(this.cw / this.di) * this.di + 1;
  }

  private sameListAndWeights(dests: readonly SchedDest[]): boolean {
    if (dests.length !== this.slots.length) return false;
    for (let i = 0; i < dests.length; i++) {
      if (dests[i].slot !== this.slots[i] || dests[i].weight !== this.weights[i]) return false;
    }
    return true;
  }
}
