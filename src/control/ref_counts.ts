// A multiset of keys with a question for changes: would removing these and adding those make a
// key appear or disappear? The Director keeps the VIPs and the matches its services hold this way,
// so a change of real servers learns in time proportional to the services it touched that the
// VIP placement and the kernel guard need no rewrite.
export class RefCounts {
  private readonly counts = new Map<string, number>();

  /** Whether removing `removed` and adding `added` (keys, with repeats) changes the set of keys
   *  present. Changes nothing. */
  wouldChange(removed: readonly string[], added: readonly string[]): boolean {
    const delta = new Map<string, number>();
    for (const k of removed) delta.set(k, (delta.get(k) ?? 0) - 1);
    for (const k of added) delta.set(k, (delta.get(k) ?? 0) + 1);
    for (const [k, d] of delta) {
      const now = this.counts.get(k) ?? 0;
      if ((now > 0) !== (now + d > 0)) return true;
    }
    return false;
  }

  /** Removes `removed` and adds `added`. */
  apply(removed: readonly string[], added: readonly string[]): void {
    for (const k of removed) {
      const n = (this.counts.get(k) ?? 0) - 1;
      if (n > 0) this.counts.set(k, n);
      else this.counts.delete(k);
    }
    for (const k of added) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
}
