import { describe, expect, test } from "bun:test";
import { MH_TABLE_SIZE_DEFAULT } from "../../src/config/model.ts";
import { hsiphashU32 } from "../../src/sched/hash.ts";
import { createScheduler } from "../../src/sched/index.ts";
import {
  MH_HASH1,
  MH_PRIMES,
  MH_TAB_INDEX_DEFAULT,
  MaglevScheduler,
  maglevPermutation,
  maglevTable,
  mhTableBits,
  mhTableSizeForIndex,
  type MaglevDest,
} from "../../src/sched/mh.ts";
import { runSchedulerSuite } from "./suite.ts";

runSchedulerSuite({ name: "mh", newScheduler: () => new MaglevScheduler(), alwaysFinds: false });
runSchedulerSuite({
  name: "mh",
  newScheduler: () => new MaglevScheduler({ port: true, fallback: true, mhTableSize: 251 }),
  alwaysFinds: false,
});

/** n servers 10.0.0.1.. :80 (what the kernel hashes for their permutations). */
function servers(n: number, weight: (i: number) => number = () => 1): (MaglevDest & { weight: number })[] {
  return Array.from({ length: n }, (_, i) => ({
    slot: i,
    weight: weight(i),
    available: true,
    activeConns: 0,
    inactiveConns: 0,
    addr: 0x0a000001 + i,
    port: 80,
  }));
}

function mh(size: number, port = false, fallback = false): MaglevScheduler {
  return new MaglevScheduler({ port, fallback, mhTableSize: size });
}

function counts(table: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const i of table) c[i]++;
  return c;
}

describe("Maglev lookup table (NSDI 2016, section 3.4), as a pure function", () => {
  // Paper, table 1: M = 7; B0 offset 3 skip 4, B1 offset 0 skip 2, B2 offset 3 skip 1.
  // Permutations: B0 3 0 4 1 5 2 6; B1 0 2 4 6 1 3 5; B2 3 4 5 6 0 1 2. Filling in turns:
  //   B0 -> 3, B1 -> 0, B2 -> 3 taken, 4; B0 -> 0 taken, 4 taken, 1; B1 -> 2; B2 -> 5;
  //   B0 -> 5 taken, 2 taken, 6. Full.
  const B0 = { offset: 3, skip: 4 };
  const B1 = { offset: 0, skip: 2 };
  const B2 = { offset: 3, skip: 1 };

  test("the paper's example: B1 B0 B1 B0 B2 B2 B0", () => {
    expect(Array.from(maglevTable([B0, B1, B2], 7))).toEqual([1, 0, 1, 0, 2, 2, 0]);
  });

  test("after removing B1: B0 B0 B0 B0 B2 B2 B2, as in the paper", () => {
    // B0 -> 3, B2 -> 4, B0 -> 0, B2 -> 5, B0 -> 1, B2 -> 6, B0 -> 2. Indices are into [B0, B2].
    const after = Array.from(maglevTable([B0, B2], 7)).map((i) => ["B0", "B2"][i]);
    expect(after).toEqual(["B0", "B0", "B0", "B0", "B2", "B2", "B2"]);
  });

  test("turns: a server with turns 2 claims two positions per round", () => {
    // B0 (2 turns) -> 3, 0; B1 -> 2; B2 -> 4; B0 -> 1, 5; B1 -> 4 taken, 6. Full.
    expect(Array.from(maglevTable([{ ...B0, turns: 2 }, B1, B2], 7))).toEqual([0, 0, 1, 0, 2, 0, 1]);
    // turns 0 claims nothing; nobody with turns >= 1 leaves the table empty (the kernel's reset).
    expect(Array.from(maglevTable([{ ...B0, turns: 0 }, B1], 7))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(maglevTable([{ ...B0, turns: 0 }], 7))).toEqual([-1, -1, -1, -1, -1, -1, -1]);
  });

  test("refuses offsets and skips that would not give a permutation", () => {
    expect(() => maglevTable([{ offset: 7, skip: 1 }], 7)).toThrow(RangeError);
    expect(() => maglevTable([{ offset: 0, skip: 0 }], 7)).toThrow(RangeError);
    expect(() => maglevTable([{ offset: 0, skip: 3 }], 9)).toThrow(RangeError);
  });
});

describe("mh: kernel ip_vs_mh.c", () => {
  test("table sizes: primes[CONFIG_IP_VS_MH_TAB_INDEX - 8], default index 12 -> 4093", () => {
    expect(MH_PRIMES).toEqual([251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071]);
    expect(mhTableSizeForIndex(MH_TAB_INDEX_DEFAULT)).toBe(4093);
    expect(MH_TABLE_SIZE_DEFAULT).toBe(4093);
    expect(mhTableSizeForIndex(8)).toBe(251);
    expect(mhTableSizeForIndex(17)).toBe(131071);
    expect(() => mhTableSizeForIndex(18)).toThrow(RangeError);
    // IP_VS_MH_TAB_BITS = index / 2
    expect([mhTableBits(251), mhTableBits(4093), mhTableBits(65521), mhTableBits(131071)]).toEqual([4, 6, 8, 8]);
    expect(() => new MaglevScheduler({ port: false, fallback: false, mhTableSize: 4099 })).toThrow(RangeError);
  });

  test("offset and skip come from hsiphash of address + port with the fixed keys", () => {
    // From a C transcription of the kernel's hsiphash (see hash.test.ts), M = 251:
    //   10.0.0.1:80 offset 226 skip 202; 10.0.0.2:80 offset 26 skip 242; 10.0.0.3:80 80, 167.
    expect(maglevPermutation(0x0a000001, 80, 251)).toEqual({ offset: 226, skip: 202 });
    expect(maglevPermutation(0x0a000002, 80, 251)).toEqual({ offset: 26, skip: 242 });
    expect(maglevPermutation(0x0a000003, 80, 251)).toEqual({ offset: 80, skip: 167 });
  });

  test("the kernel's table for 10.0.0.1-3:80 at M = 251, and a client's server", () => {
    const s = mh(251);
    s.setDestinations(servers(3));
    const t = s.table;
    // First two rounds: 226, 26, 80, then 226 + 202 - 251 = 177, 26 + 242 - 251 = 17, 80 + 167.
    expect([t[226], t[26], t[80], t[177], t[17], t[247]]).toEqual([0, 1, 2, 0, 1, 2]);
    // 192.168.0.1: hsiphash(0xc0a80001, hash1) % 251 = 4 (C transcription), which server 0 owns.
    expect(hsiphashU32(0xc0a80001, MH_HASH1) % 251).toBe(4);
    expect(t[4]).toBe(0);
    expect(s.schedule(0xc0a80001, 0, 5555, 80, 0)).toBe(0);
  });

  for (const m of [4093, 65521]) {
    test(`removing one of 10 servers remaps about 1/10 of clients (M = ${m})`, () => {
      const before = mh(m);
      const all = servers(10);
      before.setDestinations(all);
      const after = mh(m);
      const rest = all.filter((d) => d.slot !== 4);
      after.setDestinations(rest);
      const K = 50_000;
      let moved = 0;
      let movedElsewhere = 0;
      for (let k = 0; k < K; k++) {
        const client = (0x0b000000 + Math.imul(k, 2654435761)) >>> 0;
        const a = all[before.schedule(client, 0, 0, 80, 0)].slot;
        const b = rest[after.schedule(client, 0, 0, 80, 0)].slot;
        if (a !== b) {
          moved++;
          if (a !== 4) movedElsewhere++;
        }
      }
      // Exactly the removed server's clients must move (0.1); Maglev moves a few more, fewer
      // the larger M is relative to N (1.1 % of positions at 4093, 0.2 % at 65521).
      expect(moved / K).toBeGreaterThan(0.09);
      expect(moved / K).toBeLessThan(0.125);
      expect(movedElsewhere / K).toBeLessThan(m === 4093 ? 0.02 : 0.005);
    });

    test(`weights 1:2:3:4 give table shares 0.1, 0.2, 0.3, 0.4 (M = ${m})`, () => {
      const s = mh(m);
      s.setDestinations(servers(4, (i) => i + 1));
      counts(s.table, 4).forEach((c, i) => expect(Math.abs(c / m - (i + 1) / 10)).toBeLessThan(0.002));
    });
  }

  test("rshift caps weight / gcd to IP_VS_MH_TAB_BITS bits: 1000 vs 1 at M = 251 is 15 turns to 1", () => {
    // bits = 4; fls(1000) = 10, shift 6; turns 1000 >> 6 = 15 and max(1 >> 6, 1) = 1.
    // Rounds of 16 positions: 15 full rounds (225 + 15), then 11 to the heavy server.
    const s = mh(251);
    s.setDestinations(servers(2, (i) => (i === 0 ? 1000 : 1)));
    expect(counts(s.table, 2)).toEqual([236, 15]);
  });

  test("quiescing keeps the table (last_weight): its clients fail or fall back, others stay", () => {
    const dests = servers(5);
    const plain = mh(4093);
    const fb = mh(4093, false, true);
    plain.setDestinations(dests);
    fb.setDestinations(dests);
    const before = plain.table;
    const clients = Array.from({ length: 2000 }, (_, k) => (0x0c000000 + k * 977) >>> 0);
    const was = clients.map((c) => plain.schedule(c, 0, 0, 80, 0));
    dests[2].weight = 0;
    plain.setDestinations(dests);
    fb.setDestinations(dests);
    expect(plain.table).toEqual(before);
    let onQuiesced = 0;
    clients.forEach((c, k) => {
      const p = plain.schedule(c, 0, 0, 80, 0);
      const f = fb.schedule(c, 0, 0, 80, 0);
      if (was[k] === 2) {
        onQuiesced++;
        expect(p).toBe(-1);
        expect(f).not.toBe(2);
        expect(f).toBeGreaterThanOrEqual(0);
      } else {
        expect(p).toBe(was[k]);
        expect(f).toBe(was[k]);
      }
    });
    expect(onQuiesced).toBeGreaterThan(300);
    // Back to a weight: the same table again.
    dests[2].weight = 1;
    plain.setDestinations(dests);
    expect(plain.table).toEqual(before);
  });

  test("a server added with weight 0 gets no positions", () => {
    const s = mh(251);
    const dests = servers(3);
    dests[0].weight = 0;
    s.setDestinations(dests);
    expect(counts(s.table, 3)[0]).toBe(0);
  });

  test("mh-fallback re-hashes (h + i) % M + port + address until a usable server", () => {
    const dests = servers(4);
    const s = mh(251, true, true);
    s.setDestinations(dests);
    const client = 0xc0a80001;
    const port = 40000;
    const key = (client + port) >>> 0;
    const h = hsiphashU32(key, MH_HASH1) % 251;
    const first = s.table[h];
    expect(s.schedule(client, 0, port, 80, 0)).toBe(first);
    dests[first].available = false;
    let want = -1;
    for (let i = 0; i < 251 && want < 0; i++) {
      const j = s.table[hsiphashU32((((h + i) % 251) + key) >>> 0, MH_HASH1) % 251];
      if (dests[j].available) want = j;
    }
    expect(want).toBeGreaterThanOrEqual(0);
    expect(s.schedule(client, 0, port, 80, 0)).toBe(want);
    expect(mh(251, true, false).schedule(client, 0, port, 80, 0)).toBe(-1);
  });

  test("mh-port spreads one client's ports; without it the port is ignored", () => {
    const withPort = createScheduler("mh", { port: true, fallback: false, mhTableSize: 4093 });
    const without = createScheduler("mh", { port: false, fallback: false, mhTableSize: 4093 });
    const dests = servers(8);
    withPort.setDestinations(dests);
    without.setDestinations(dests);
    const a = new Set<number>();
    const b = new Set<number>();
    for (let p = 1024; p < 1124; p++) {
      a.add(withPort.schedule(0x0a0a0a0a, 0, p, 80, 0));
      b.add(without.schedule(0x0a0a0a0a, 0, p, 80, 0));
    }
    expect(a.size).toBeGreaterThan(5);
    expect(b.size).toBe(1);
  });
});
