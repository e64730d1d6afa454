// Maglev hashing, as net/netfilter/ipvs/ip_vs_mh.c does it (Linux 4.18+), after section 3.4 of
// Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016.
//
// Each server gets a permutation of the M table positions, from an `offset` and a `skip`:
// position j of its preference list is (offset + j * skip) mod M. The table is filled in rounds:
// in list order each server claims its next preferred position not yet taken, until all M are
// taken. M is prime and 1 <= skip < M, so every permutation reaches every position.
//
// What the kernel adds to the paper:
//   - offset = hsiphash(addr + port, key1) % M and skip = hsiphash(addr + port, key2) % (M - 1)
//     + 1, over the real server's host-order address and port added as u32. The keys are fixed
//     constants (2654435761 twice, and 2654446892 twice), not random, so a kernel's table is the
//     same on every boot and every 64-bit machine, and ringvs builds exactly that table: the
//     exact key bytes and hash matter, and `hsiphashU32` reproduces them (see hash.ts; a 32-bit
//     kernel uses HalfSipHash and builds another table). For that the servers must carry their
//     address and port (`MaglevDest`); a server without them is hashed as address = slot,
//     port = 0, which still gives a valid Maglev table but not the kernel's.
//   - weights, as `turns`: in each round a server claims `turns` positions in a row, with
//     turns = (last_weight / gcd) >> rshift, at least 1 for a non-zero weight; rshift trims the
//     largest weight / gcd to IP_VS_MH_TAB_BITS (= CONFIG_IP_VS_MH_TAB_INDEX / 2) bits, so that a
//     heavy server cannot hog whole rounds.
//   - `last_weight`, not the weight: the kernel keeps it at the last non-zero weight a server
//     was edited to (or the weight it was added with), so quiescing a server (weight 0) keeps
//     its positions; decisions hashed there then fail or fall back, and every other client
//     keeps its server. A server added with weight 0 gets no positions.
//   - the table is rebuilt on add, delete and edit; availability is looked at when deciding.
//   - a decision hashes the client address (plus the client port with mh-port) with key1 to
//     position h = hsiphash(addr + port) % M. With mh-fallback and an unusable server there, it
//     tries positions hsiphash(((h + i) % M) + port + addr) % M for i = 0 .. M - 1, a re-hash
//     per step rather than a walk along the table.
//   - the table size is primes[CONFIG_IP_VS_MH_TAB_INDEX - 8] from MH_PRIMES; the default index
//     12 gives 4093. (The kernel also refuses more servers than M; here the extra ones simply
//     get no position.)

import { hsiphashKey, hsiphashU32 } from "./hash.ts";
import type { SchedDest, Scheduler, SchedulerFlags } from "./scheduler.ts";
import { gcd, gcdAndMaxWeight } from "./weights.ts";

/** The kernel's `primes[]`: the table sizes CONFIG_IP_VS_MH_TAB_INDEX 8..17 select. */
export const MH_PRIMES: readonly number[] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
/** CONFIG_IP_VS_MH_TAB_INDEX's default. */
export const MH_TAB_INDEX_DEFAULT = 12;
/** The kernel's default Maglev lookup table size: primes[12 - 8] = 4093. */
export const MH_TABLE_SIZE_DEFAULT = MH_PRIMES[MH_TAB_INDEX_DEFAULT - 8]!;

/** primes[index - 8] for a CONFIG_IP_VS_MH_TAB_INDEX in 8..17; throws a RangeError otherwise. */
export function mhTableSizeForIndex(index: number): number {
  const size = MH_PRIMES[index - 8];
  if (!Number.isInteger(index) || size === undefined) throw new RangeError(`MH table index ${index} is not in 8..17`);
  return size;
}

/** IP_VS_MH_TAB_BITS for a table size from MH_PRIMES: the index it comes from, halved. Throws a
 *  RangeError for a size the kernel cannot be configured with. */
export function mhTableBits(size: number): number {
  const at = MH_PRIMES.indexOf(size);
  if (at < 0) throw new RangeError(`MH table size ${size} is not one of ${MH_PRIMES.join(", ")}`);
  return (at + 8) >> 1;
}

/** The fixed hsiphash keys of generate_hash_secret(). */
export const MH_HASH1 = hsiphashKey(2654435761, 2654435761);
export const MH_HASH2 = hsiphashKey(2654446892, 2654446892);

/** A real server as mh sees it: the address and port (host order) its permutation is hashed
 *  from. The connection tracker's SchedDest objects can carry them. */
export interface MaglevDest extends SchedDest {
  readonly addr?: number;
  readonly port?: number;
}

/** One backend of the pure table builder. `turns` (default 1) is how many positions it claims
 *  per round; below 1 it claims none. */
export interface MaglevBackend {
  readonly offset: number;
  readonly skip: number;
  readonly turns?: number;
}

/** The kernel's offset and skip for a server address and port in a table of size m. */
export function maglevPermutation(addr: number, port: number, m: number): { offset: number; skip: number } {
  const v = (addr + port) >>> 0;
  return { offset: hsiphashU32(v, MH_HASH1) % m, skip: (hsiphashU32(v, MH_HASH2) % (m - 1)) + 1 };
}

/** The Maglev lookup table of size `m` (ip_vs_mh_populate): each entry the index of a backend,
 *  or all -1 when no backend has turns >= 1. Throws a RangeError for an offset outside [0, m) or
 *  a skip outside [1, m) or sharing a factor with m (its permutation would miss positions and
 *  the fill would never end). */
export function maglevTable(backends: readonly MaglevBackend[], m: number, out: Int32Array = new Int32Array(m)): Int32Array {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`table size ${m} must be a positive integer`);
  const n = backends.length;
  const perm = new Int32Array(n);
  const skips = new Int32Array(n);
  const turns = new Int32Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    const b = backends[i];
    if (!Number.isInteger(b.offset) || b.offset < 0 || b.offset >= m) throw new RangeError(`backend ${i}: offset ${b.offset} not in [0, ${m})`);
    if (m > 1 && (!Number.isInteger(b.skip) || b.skip < 1 || b.skip >= m || gcd(b.skip, m) !== 1)) {
      throw new RangeError(`backend ${i}: skip ${b.skip} must be in [1, ${m}) and coprime with it`);
    }
    perm[i] = b.offset;
    skips[i] = b.skip;
    turns[i] = b.turns ?? 1;
    if (turns[i] >= 1) any = true;
  }
  out.fill(-1, 0, m);
  if (!any) return out; // the kernel's gcd < 1 case: the table is reset
  const taken = new Uint8Array(m);
  let filled = 0;
  let used = 0; // dt_count: positions the current server has claimed this round
  for (;;) {
    for (let i = 0; i < n; ) {
      if (turns[i] < 1) {
        i++;
        continue;
      }
      let c = perm[i];
      while (taken[c] !== 0) {
        c += skips[i];
        if (c >= m) c -= m;
      }
      perm[i] = c;
      taken[c] = 1;
      out[c] = i;
      if (++filled === m) return out;
      if (++used >= turns[i]) {
        used = 0;
        i++;
      }
    }
  }
}

/** fls(): 1-based position of the highest set bit, 0 for 0. */
function fls(x: number): number {
  return 32 - Math.clz32(x);
}

export class MaglevScheduler implements Scheduler {
  readonly name = "mh";

  readonly tableSize: number;
  private readonly tabBits: number;
  private readonly port: boolean;
  private readonly fallback: boolean;
  private dests: readonly MaglevDest[] = [];
  private readonly lookup: Int32Array;
  /** What the table was built from, per list position: slot, address, port, last_weight. */
  private built = { slots: new Int32Array(0), addrs: new Float64Array(0), ports: new Int32Array(0), lastWeights: new Int32Array(0) };
  /** last_weight per slot, carried from one list to the next. */
  private lastWeight = new Map<number, number>();

  /** Throws a RangeError when `flags.mhTableSize` is not one of MH_PRIMES (config validation
   *  should have refused it). */
  constructor(flags: SchedulerFlags = { port: false, fallback: false, mhTableSize: MH_TABLE_SIZE_DEFAULT }) {
    this.tabBits = mhTableBits(flags.mhTableSize);
    this.tableSize = flags.mhTableSize;
    this.port = flags.port;
    this.fallback = flags.fallback;
    this.lookup = new Int32Array(this.tableSize).fill(-1);
  }

  /** The lookup table (indices into the current list, -1 for none), for tests and dumps. */
  get table(): Int32Array {
    return this.lookup.slice();
  }

  setDestinations(dests: readonly MaglevDest[]): void {
    this.dests = dests;
    const n = dests.length;
    // __ip_vs_update_dest: "keep the last_weight with latest non-0 weight"; a server new to the
    // list starts from the weight it was added with, even 0.
    const lastWeights = new Int32Array(n);
    const next = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const d = dests[i];
      const before = this.lastWeight.get(d.slot);
      const lw = before === undefined || d.weight !== 0 ? d.weight : before;
      lastWeights[i] = lw;
      next.set(d.slot, lw);
    }
    this.lastWeight = next;
    const b = this.built;
    let same = n === b.slots.length;
    for (let i = 0; same && i < n; i++) {
      const d = dests[i];
      same = d.slot === b.slots[i] && (d.addr ?? d.slot) === b.addrs[i] && (d.port ?? 0) === b.ports[i] && lastWeights[i] === b.lastWeights[i];
    }
    if (same) return;
    const built = { slots: new Int32Array(n), addrs: new Float64Array(n), ports: new Int32Array(n), lastWeights };
    for (let i = 0; i < n; i++) {
      built.slots[i] = dests[i].slot;
      built.addrs[i] = dests[i].addr ?? dests[i].slot;
      built.ports[i] = dests[i].port ?? 0;
    }
    this.built = built;
    this.reassign();
  }

  /** ip_vs_mh_gcd_weight, ip_vs_mh_shift_weight, ip_vs_mh_permutate, ip_vs_mh_populate. */
  private reassign(): void {
    const { addrs, ports, lastWeights } = this.built;
    const n = lastWeights.length;
    const { gcd: g, max } = gcdAndMaxWeight(lastWeights);
    if (g < 1) {
      this.lookup.fill(-1);
      return;
    }
    const shift = Math.max(0, fls(Math.trunc(max / g)) - this.tabBits);
    const backends: MaglevBackend[] = [];
    for (let i = 0; i < n; i++) {
      const { offset, skip } = maglevPermutation(addrs[i], ports[i], this.tableSize);
      const lw = lastWeights[i];
      backends.push({ offset, skip, turns: Math.trunc(lw / g) >> shift || (lw !== 0 ? 1 : 0) });
    }
    maglevTable(backends, this.tableSize, this.lookup);
  }

  schedule(saddr: number, _daddr: number, sport: number, _dport: number, _now = 0): number {
    const dests = this.dests;
    const lookup = this.lookup;
    const m = this.tableSize;
    // ip_vs_mh_hashkey: hsiphash(offset + ntohs(port) + ntohl(addr)), port 0 without mh-port.
    const key = this.port ? (saddr + sport) >>> 0 : saddr >>> 0;
    const ihash = hsiphashU32(key, MH_HASH1) % m;
    const first = lookup[ihash];
    if (first < 0 || first >= dests.length) return -1;
    const d = dests[first];
    if (d.weight > 0 && d.available) return first;
    if (!this.fallback) return -1;
    for (let offset = 0; offset < m; offset++) {
      const roffset = (offset + ihash) % m;
      const i = lookup[hsiphashU32((roffset + key) >>> 0, MH_HASH1) % m];
      if (i < 0 || i >= dests.length) return -1;
      const e = dests[i];
      if (e.weight > 0 && e.available) return i;
    }
    return -1;
  }
}
