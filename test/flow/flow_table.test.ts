// FlowTable on its own: open addressing with linear probing and backward-shift deletion. Hashes
// are passed in, so the tests force collisions and clusters that wrap around the end of the table
// exactly where they want them. After every mutation that matters, `expectConsistent` checks the
// two properties linear probing lives on: every key is found where its probe sequence leads, and
// no empty bucket lies between a key's home bucket and the bucket that holds it.

import { describe, expect, test } from "bun:test";
import { FlowTable } from "../../src/flow/flow_table.ts";

// The table stores a state byte for its caller (the connection tracker's TCP state); these tests
// only need two distinct values: what insert/reassign default to, and another one.
const FRESH = 0;
const OTHER = 2;

interface Key {
  hash: number;
  saddr: number;
  daddr: number;
  ports: number;
  proto: number;
}

const VIP = 0xc6120064;

function key(n: number, hash: number, over: Partial<Key> = {}): Key {
  return { hash: hash >>> 0, saddr: (0xc6120000 + n) >>> 0, daddr: VIP, ports: ((40000 + n) << 16 | 80) >>> 0, proto: 6, ...over };
}

function find(t: FlowTable, k: Key): number {
  return t.find(k.hash, k.saddr, k.daddr, k.ports, k.proto);
}

function insert(t: FlowTable, k: Key, slot: number, expires: number): number {
  return t.insert(k.hash, k.saddr, k.daddr, k.ports, k.proto, slot, expires);
}

function occupied(t: FlowTable): number {
  let n = 0;
  for (let i = 0; i < t.capacity; i++) if (t.occupied(i)) n++;
  return n;
}

/** Every live key is found, holds its slot, and sits at the end of an unbroken run from its home
 *  bucket; the table holds exactly these keys. */
function expectConsistent(t: FlowTable, live: Map<Key, { slot: number; expires: number }>): void {
  const mask = t.capacity - 1;
  const buckets = new Set<number>();
  for (const [k, v] of live) {
    const b = find(t, k);
    expect({ key: k, found: b >= 0 }).toEqual({ key: k, found: true });
    expect({ key: k, slot: t.slot(b), expires: t.expires(b) }).toEqual({ key: k, slot: v.slot, expires: v.expires });
    for (let i = k.hash & mask; i !== b; i = (i + 1) & mask) {
      expect({ key: k, gapAt: i, empty: !t.occupied(i) }).toEqual({ key: k, gapAt: i, empty: false });
    }
    buckets.add(b);
  }
  expect(buckets.size).toBe(live.size);
  expect(t.size).toBe(live.size);
  expect(occupied(t)).toBe(live.size);
}

describe("FlowTable", () => {
  test("capacity must be a power of two of at least 16", () => {
    for (const bad of [0, 8, 15, 17, 100, 1000]) expect(() => new FlowTable(bad)).toThrow(RangeError);
    expect(new FlowTable(16).capacity).toBe(16);
    expect(new FlowTable(1 << 20).capacity).toBe(1 << 20);
  });

  test("insert then find; absent keys, and keys differing in one field only, are not found", () => {
    const t = new FlowTable(64);
    const a = key(1, 0x12345678);
    expect(insert(t, a, 3, 100)).toBe(0x12345678 & 63);
    expect(find(t, a)).toBe(0x38);
    expect([t.slot(0x38), t.expires(0x38), t.state(0x38), t.size]).toEqual([3, 100, FRESH, 1]);
    // same hash, one field different each time: must not match
    for (const other of [
      { saddr: a.saddr + 1 }, { daddr: a.daddr + 1 }, { ports: a.ports ^ 0x10000 }, { ports: a.ports ^ 1 }, { proto: 17 },
    ]) {
      expect(find(t, { ...a, ...other })).toBe(-1);
    }
    expect(find(t, key(2, 0x12345678 + 1))).toBe(-1);
  });

  test("colliding hashes take consecutive buckets and are each found", () => {
    const t = new FlowTable(16);
    const keys = [0, 1, 2, 3, 4].map((n) => key(n, 0x7000_0005)); // all home at bucket 5
    keys.forEach((k, n) => expect(insert(t, k, n, 10)).toBe(5 + n));
    keys.forEach((k, n) => expect([find(t, k), t.slot(find(t, k))]).toEqual([5 + n, n]));
    // A key whose home is bucket 6 lands after the cluster.
    const late = key(9, 6);
    expect(insert(t, late, 9, 10)).toBe(10);
    expect(find(t, late)).toBe(10);
    expectConsistent(t, new Map([...keys.map((k, n) => [k, { slot: n, expires: 10 }] as const), [late, { slot: 9, expires: 10 }]]));
  });

  test("remove shifts a cluster back across the end of the table, and never past a key's home", () => {
    const t = new FlowTable(16);
    const A = key(1, 14), B = key(2, 14), C = key(3, 15), D = key(4, 30 /* home 14 */), E = key(5, 0), F = key(6, 1), G = key(7, 3);
    const live = new Map<Key, { slot: number; expires: number }>();
    const add = (k: Key, slot: number, at: number) => {
      expect(insert(t, k, slot, 50)).toBe(at);
      live.set(k, { slot, expires: 50 });
    };
    add(A, 1, 14);
    add(B, 2, 15);
    add(C, 3, 0);
    add(D, 4, 1);
    add(E, 5, 2);
    add(F, 6, 3);
    add(G, 7, 4);
    expectConsistent(t, live);
    const where = () => [A, B, C, D, E, F, G].map((k) => find(t, k));

    // Remove A at 14: every later entry is displaced, so all move back one, across the wrap.
    t.remove(find(t, A));
    live.delete(A);
    expect(where()).toEqual([-1, 14, 15, 0, 1, 2, 3]);
    expectConsistent(t, live);

    // Remove C at 15: D (home 14) wraps back to 15, E and F follow; G is at its home 3 and stays.
    t.remove(find(t, C));
    live.delete(C);
    expect(where()).toEqual([-1, 14, -1, 15, 0, 1, 3]);
    expect(t.occupied(2)).toBe(false);
    expectConsistent(t, live);

    // Remove D at 15: E at its home 0 must not move back before it (cyclically it is "after" 15).
    t.remove(find(t, D));
    live.delete(D);
    expect(where()).toEqual([-1, 14, -1, -1, 0, 1, 3]);
    expect(t.occupied(15)).toBe(false);
    expectConsistent(t, live);

    // Remove B at 14 (the cluster's head) with nothing displaced behind it.
    t.remove(find(t, B));
    live.delete(B);
    expect(where()).toEqual([-1, -1, -1, -1, 0, 1, 3]);
    expectConsistent(t, live);
  });

  test("update, reassign and state", () => {
    const t = new FlowTable(16);
    const k = key(1, 7);
    const b = insert(t, k, 4, 60);
    t.update(b, OTHER, 120);
    expect([t.state(b), t.slot(b), t.expires(b), find(t, k)]).toEqual([OTHER, 4, 120, b]);
    t.reassign(b, 9, 61);
    expect([t.state(b), t.slot(b), t.expires(b), find(t, k)]).toEqual([FRESH, 9, 61, b]);
    expect(t.size).toBe(1);
  });

  test("sweep removes exactly the expired entries (expires <= now) and counts them", () => {
    const t = new FlowTable(32);
    const live = new Map<Key, { slot: number; expires: number }>();
    // Twenty keys in three clusters, one of them wrapping (homes 30, 31, 0).
    const homes = [30, 30, 31, 0, 30, 5, 5, 5, 6, 5, 20, 20, 21, 20, 22, 31, 30, 0, 1, 5];
    homes.forEach((h, n) => {
      const k = key(n, h + 32 * n); // high bits differ, home is the same
      const expires = 100 + (n % 5); // 100..104
      expect(insert(t, k, n, expires)).toBeGreaterThanOrEqual(0);
      live.set(k, { slot: n, expires });
    });
    expectConsistent(t, live);

    t.sweep(101, 2 * t.capacity);
    for (const [k, v] of live) if (v.expires <= 101) live.delete(k);
    expect(live.size).toBe(12);
    expect(t.expired).toBe(8);
    expectConsistent(t, live);

    t.sweep(99, 2 * t.capacity); // nothing due
    expect(t.expired).toBe(8);
    expectConsistent(t, live);

    // Small budgets from wherever the cursor stands: never a live entry, eventually every
    // expired one (a budget unit is spent per bucket visited or entry removed).
    for (let round = 0; round < 64; round++) t.sweep(103, 3);
    for (const [k, v] of live) if (v.expires <= 103) live.delete(k);
    expect(t.expired).toBe(16);
    expectConsistent(t, live);
    expect(live.size).toBe(4);
  });

  test("sweep looks again at a bucket a removal shifted into: a run of expired entries goes at once", () => {
    const t = new FlowTable(16);
    const A = key(1, 0), B = key(2, 0), C = key(3, 1);
    insert(t, A, 1, 5); // bucket 0
    insert(t, B, 2, 5); // bucket 1, home 0
    insert(t, C, 3, 50); // bucket 2, home 1: live
    // Budget 3 from the fresh cursor (bucket 0): remove A (B shifts into 0, C into its home 1),
    // look at 0 again and remove B, look at 0 again (empty), then visit 1 (C, live).
    t.sweep(10, 3);
    expect([t.expired, t.size, find(t, A), find(t, B), find(t, C)]).toEqual([2, 1, -1, -1, 1]);
  });

  test("a full table evicts the soonest-expiring unprotected entry near the new flow's home", () => {
    const removed: number[][] = [];
    // Protected: state byte 1 (what the tracker uses for ESTABLISHED TCP).
    const t = new FlowTable(16, (slot, state, tpl) => removed.push([slot, state, tpl]), (w) => w >>> 8 === 1);
    for (let n = 0; n < 14; n++) {
      // Buckets 0..13; n = 3 and n = 5 unprotected (state 3) expiring at 40 and 30, the rest protected.
      const state = n === 3 || n === 5 ? 3 : 1;
      const exp = n === 3 ? 40 : n === 5 ? 30 : 10;
      expect(t.insert(n, n + 1, 2, 80, 6, n, exp, state, n + 100)).toBe(n);
    }
    // New flow homed at bucket 0: buckets 0..7 are scanned, n=5 expires soonest among the unprotected.
    expect(t.hasRoomFor(0)).toBe(true);
    expect(t.insert(0, 999, 2, 80, 6, 42, 60, 3)).toBeGreaterThanOrEqual(0);
    expect(removed).toEqual([[5, 3, 105]]);
    expect([t.evicted, t.full, t.size]).toEqual([1, 0, 14]);
    expect(t.find(5, 6, 2, 80, 6)).toBe(-1);
    expect(t.find(0, 999, 2, 80, 6)).toBeGreaterThanOrEqual(0);
    // Homed at bucket 8: buckets 8..15 hold only protected entries (and empties): refused.
    expect(t.hasRoomFor(8)).toBe(false);
    expect(t.insert(8, 1000, 2, 80, 6, 43, 60, 3)).toBe(-1);
    expect([t.evicted, t.full, t.size]).toEqual([1, 1, 14]);
  });

  test("remove, reassign and the sweep report each departing entry once", () => {
    const removed: number[][] = [];
    const t = new FlowTable(16, (slot, state, tpl) => removed.push([slot, state, tpl]));
    const a = t.insert(1, 1, 2, 80, 6, 7, 10, 3, 11);
    const b = t.insert(2, 2, 2, 80, 6, 8, 100, 1, 0);
    t.reassign(b, 9, 200, 3, 12);
    t.sweep(50, 16);
    expect(removed).toEqual([[8, 1, 0], [7, 3, 11]]);
    expect([t.find(1, 1, 2, 80, 6), t.slot(t.find(2, 2, 2, 80, 6)), t.tpl(t.find(2, 2, 2, 80, 6))]).toEqual([-1, 9, 12]);
    void a;
  });

  test("a full table whose candidates are all protected refuses inserts, counts them, and stays consistent", () => {
    const t = new FlowTable(16, null, () => true); // limit: floor(16 * 7/8) = 14
    const live = new Map<Key, { slot: number; expires: number }>();
    for (let n = 0; n < 14; n++) {
      const k = key(n, 15); // one cluster from the last bucket, wrapping
      expect(insert(t, k, n, 10)).toBe((15 + n) & 15);
      live.set(k, { slot: n, expires: 10 });
    }
    expect(insert(t, key(100, 15), 0, 10)).toBe(-1);
    expect(insert(t, key(101, 3), 0, 10)).toBe(-1);
    expect([t.size, t.full]).toEqual([14, 2]);
    // Lookups of absent keys still end (two buckets stay empty) and miss.
    expect(find(t, key(100, 15))).toBe(-1);
    expect(find(t, key(101, 3))).toBe(-1);
    expectConsistent(t, live);

    // Room again after one removal; the refused key goes in and everything is still found.
    const first = [...live.keys()][0]!;
    t.remove(find(t, first));
    live.delete(first);
    const k = key(100, 15);
    expect(insert(t, k, 42, 10)).toBeGreaterThanOrEqual(0);
    live.set(k, { slot: 42, expires: 10 });
    expect(t.full).toBe(2);
    expectConsistent(t, live);
  });

  test("an insert right after a missed find lands where a fresh probe would, even if a removal came between", () => {
    // `probed` looks every key up before inserting it (as the forwarder does for a new flow), and
    // sometimes removes an entry of the same cluster between the lookup and the insert; `plain`
    // never looks up. Both must put every key in the same bucket.
    const probed = new FlowTable(32);
    const plain = new FlowTable(32);
    const inCluster: Key[] = [];
    for (let n = 0; n < 20; n++) {
      const k = key(n, 30 + (n % 3)); // homes 30, 31, 0 (wrapping): one long cluster
      expect(find(probed, k)).toBe(-1);
      if (n % 5 === 4) {
        const gone = inCluster.shift()!;
        probed.remove(find(probed, gone));
        plain.remove(find(plain, gone));
      }
      const b = insert(probed, k, n, 10);
      expect({ n, b }).toEqual({ n, b: insert(plain, k, n, 10) });
      inCluster.push(k);
    }
    // A miss for one home followed by an insert with another home must not reuse the first probe.
    expect(find(probed, key(99, 30))).toBe(-1);
    expect(insert(probed, key(100, 20), 1, 10)).toBe(insert(plain, key(100, 20), 1, 10));
    const live = new Map(inCluster.map((k, i) => [k, { slot: 20 - inCluster.length + i, expires: 10 }] as const));
    live.set(key(100, 20), { slot: 1, expires: 10 });
    for (const [k, v] of live) expect(probed.slot(find(probed, k))).toBe(v.slot);
    expect(probed.size).toBe(live.size);
  });

  test("countBySlot counts live flows per slot", () => {
    const t = new FlowTable(16);
    insert(t, key(1, 1), 2, 10);
    insert(t, key(2, 1), 2, 10);
    insert(t, key(3, 2), 5, 10);
    insert(t, key(4, 3), 5, 4); // expired at now = 5
    const out = new Uint32Array(8).fill(99);
    t.countBySlot(out, 5);
    expect(Array.from(out)).toEqual([0, 0, 2, 0, 0, 1, 0, 0]);
  });
});

// ------------------------------------------------------------------ model test

/** mulberry32: a tiny seeded PRNG so a failure replays exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("FlowTable against a Map model: 10k random operations, fixed seed", () => {
  const CAP = 64;
  const LIMIT = 56;
  const rand = rng(0x5eed_f10e);
  const int = (n: number) => Math.floor(rand() * n);

  // 160 keys in groups of four sharing a hash and differing in one field (proto, ports, daddr):
  // a lookup that compared too little would return a neighbour. Half the groups hash into the
  // last two and first two buckets, so clusters wrap around the end all the time.
  const keys: Key[] = [];
  for (let g = 0; g < 40; g++) {
    const hash = g % 2 === 0 ? ((62 + int(4)) & (CAP - 1)) + CAP * int(1 << 20) : int(2 ** 32);
    const base = key(g, hash);
    keys.push(base, { ...base, proto: 17 }, { ...base, ports: (base.ports + 1) >>> 0 }, { ...base, daddr: base.daddr + 1 });
  }

  const t = new FlowTable(CAP, null, () => true); // no eviction: the model refuses at the limit
  const model = new Map<Key, { slot: number; expires: number; state: number }>();
  let now = 0;
  let expiredSeen = 0;
  let fullSeen = 0;
  const counts = { insert: 0, refused: 0, remove: 0, find: 0, update: 0, sweep: 0, swept: 0 };

  const check = () => {
    expect(t.size).toBe(model.size);
    for (const k of keys) {
      const b = find(t, k);
      const m = model.get(k);
      if (!m) {
        expect({ absent: k, b }).toEqual({ absent: k, b: -1 });
        continue;
      }
      expect({ k, slot: t.slot(b), expires: t.expires(b), state: t.state(b) }).toEqual({ k, ...m });
    }
    expectConsistent(t, model);
  };

  for (let op = 0; op < 10_000; op++) {
    const r = rand();
    const k = keys[int(keys.length)]!;
    const m = model.get(k);
    if (r < 0.35) {
      if (m) {
        expect(t.slot(find(t, k))).toBe(m.slot);
      } else {
        const slot = int(1000);
        const expires = now + 1 + int(80);
        const b = insert(t, k, slot, expires);
        if (model.size >= LIMIT) {
          expect(b).toBe(-1);
          fullSeen++;
          counts.refused++;
        } else {
          expect(b).toBeGreaterThanOrEqual(0);
          model.set(k, { slot, expires, state: FRESH });
          counts.insert++;
        }
        expect(t.full).toBe(fullSeen);
      }
    } else if (r < 0.6) {
      if (m) {
        t.remove(find(t, k));
        model.delete(k);
        counts.remove++;
      }
    } else if (r < 0.8) {
      const b = find(t, k);
      expect(b >= 0).toBe(m !== undefined);
      if (m) expect([t.slot(b), t.expires(b)]).toEqual([m.slot, m.expires]);
      counts.find++;
    } else if (r < 0.9) {
      if (m) {
        const b = find(t, k);
        const expires = now + 1 + int(80);
        if (rand() < 0.5) {
          const state = rand() < 0.5 ? FRESH : OTHER;
          t.update(b, state, expires);
          model.set(k, { slot: m.slot, expires, state });
        } else {
          const slot = int(1000);
          t.reassign(b, slot, expires);
          model.set(k, { slot, expires, state: FRESH });
        }
        counts.update++;
      }
    } else {
      now += int(3);
      const full = rand() < 0.2;
      t.sweep(now, full ? 2 * CAP : 1 + int(40));
      let removed = 0;
      for (const [mk, mv] of model) {
        const present = find(t, mk) >= 0;
        if (mv.expires > now) expect({ live: mk, present }).toEqual({ live: mk, present: true });
        else if (!present || full) {
          expect({ expired: mk, present, full }).toEqual({ expired: mk, present: false, full });
          model.delete(mk);
          removed++;
        }
      }
      expiredSeen += removed;
      expect(t.expired).toBe(expiredSeen);
      counts.sweep++;
      counts.swept += removed;
    }
    if (op % 100 === 99) check();
  }
  check();
  // The run really exercised every path (numbers are those of this seed).
  for (const n of Object.values(counts)) expect(n).toBeGreaterThan(50);
});
