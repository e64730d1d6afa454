import { describe, expect, test } from "bun:test";
import { createScheduler, listOrder } from "../../src/sched/index.ts";
import { hash32 } from "../../src/sched/hash.ts";
import { SH_TAB_SIZE, SourceHashScheduler, shBuckets } from "../../src/sched/sh.ts";
import type { SchedDest } from "../../src/sched/scheduler.ts";
import { dest, destsOf, runSchedulerSuite } from "./suite.ts";

// Without fallback a client hashed onto an unusable server gets -1 even when others could take
// it; with sh-fallback the walk covers all 256 buckets, but servers owning no bucket (when the
// first weight is >= 256) can still never be found.
runSchedulerSuite({ name: "sh", newScheduler: () => new SourceHashScheduler(), alwaysFinds: false });
runSchedulerSuite({ name: "sh", newScheduler: () => new SourceHashScheduler({ port: true, fallback: true }), alwaysFinds: false });

const CLIENT = 0x0a000001; // 10.0.0.1: hash_32(0x0a000001, 8) = 39

function run(s: SourceHashScheduler, saddr: number, sport = 40000): number {
  return s.schedule(saddr, 0xc0a80001, sport, 80, 0);
}

describe("sh: kernel ip_vs_sh.c", () => {
  test("weights 3, 2, 1 give buckets AAABBC repeated: 129, 85 and 42 of 256", () => {
    const table = shBuckets(destsOf([3, 2, 1]));
    expect(Array.from(table.slice(0, 12))).toEqual([0, 0, 0, 1, 1, 2, 0, 0, 0, 1, 1, 2]);
    // 42 full rounds of 6 fill 252 buckets; the last four are A A A B.
    expect(Array.from(table.slice(252))).toEqual([0, 0, 0, 1]);
    const counts = [0, 0, 0];
    for (const i of table) counts[i]++;
    expect(counts).toEqual([129, 85, 42]);
  });

  test("weight 0 still takes one bucket per round; a weight >= 256 takes them all", () => {
    expect(Array.from(shBuckets(destsOf([0, 1])).slice(0, 6))).toEqual([0, 1, 0, 1, 0, 1]);
    expect(new Set(shBuckets(destsOf([300, 1])))).toEqual(new Set([0]));
    expect(new Set(shBuckets([]))).toEqual(new Set([-1]));
  });

  test("one client address always reaches the same server, whatever its port", () => {
    // 10.0.0.1 -> bucket 39; AAABBC has B at 39 mod 6 = 3.
    const s = new SourceHashScheduler();
    s.setDestinations(destsOf([3, 2, 1]));
    for (let port = 1024; port < 1124; port++) expect(run(s, CLIENT, port)).toBe(1);
  });

  test("clients spread over servers in proportion to their buckets", () => {
    const s = new SourceHashScheduler();
    s.setDestinations(destsOf([3, 2, 1]));
    const counts = [0, 0, 0];
    const total = 256 * 400;
    for (let k = 0; k < total; k++) counts[run(s, 0x0a000000 + k)]++;
    // hash_32 of consecutive addresses is equidistributed over the buckets.
    [129, 85, 42].forEach((buckets, i) => expect(Math.abs(counts[i] / total - buckets / 256)).toBeLessThan(0.005));
  });

  test("sh-port hashes port + address, so one client's ports spread over servers", () => {
    const s = new SourceHashScheduler({ port: true, fallback: false });
    s.setDestinations(destsOf([1, 1, 1]));
    const seen = new Set<number>();
    for (let port = 1024; port < 1124; port++) {
      const i = run(s, CLIENT, port);
      // ABC repeated: the server is the bucket of hash_32(addr + port) mod 3.
      expect(i).toBe(hash32(CLIENT + port, 8) % 3);
      seen.add(i);
    }
    expect(seen).toEqual(new Set([0, 1, 2]));
    // Port 0 (what a port-less protocol hashes with) is the plain address hash.
    expect(run(s, CLIENT, 0)).toBe(39 % 3);
  });

  test("hashed server unavailable: -1 without fallback; with it the walk starts at bucket 2h", () => {
    // ABCD repeated; 10.0.0.1 -> bucket h = 39 -> D. With D down, ip_vs_sh_get_fallback tries
    // (offset + h) % 256 through ip_vs_sh_hashkey again, i.e. buckets 78, 79, ...: 78 mod 4 = 2,
    // C. A walk from h + 1 would have found A (bucket 40).
    const dests = destsOf([1, 1, 1, 1]);
    const plain = new SourceHashScheduler();
    const fb = new SourceHashScheduler({ port: false, fallback: true });
    plain.setDestinations(dests);
    fb.setDestinations(dests);
    expect(run(plain, CLIENT)).toBe(3);
    expect(run(fb, CLIENT)).toBe(3);
    dests[3].available = false;
    plain.setDestinations(dests);
    fb.setDestinations(dests);
    expect(run(plain, CLIENT)).toBe(-1);
    expect(run(fb, CLIENT)).toBe(2);
    // C quiesced too: bucket 79 is D (down), 80 is A.
    dests[2].weight = 0;
    fb.setDestinations(dests);
    expect(run(fb, CLIENT)).toBe(0);
  });

  test("a weight change reassigns buckets; an availability change does not", () => {
    const dests = destsOf([1, 1]);
    const s = new SourceHashScheduler();
    s.setDestinations(dests);
    expect(Array.from(s.table.slice(0, 4))).toEqual([0, 1, 0, 1]);
    dests[1].available = false;
    s.setDestinations(dests);
    expect(Array.from(s.table.slice(0, 4))).toEqual([0, 1, 0, 1]);
    dests[0].weight = 2;
    s.setDestinations(dests);
    expect(Array.from(s.table.slice(0, 6))).toEqual([0, 0, 1, 0, 0, 1]);
  });

  test("buckets follow kernel list order (newest first), and the registry passes the flags", () => {
    const added: SchedDest[] = [dest(7, 1), dest(8, 1)]; // added 7 then 8: list 8, 7
    const s = createScheduler("sh", { port: false, fallback: true, mhTableSize: 4093 });
    const list = listOrder(added);
    s.setDestinations(list);
    // Bucket 39 of "8 7 8 7 ..." is 7; make it unavailable and the fallback finds 8.
    expect(list[s.schedule(CLIENT, 0, 1, 80, 0)].slot).toBe(7);
    list[1].available = false;
    expect(list[s.schedule(CLIENT, 0, 1, 80, 0)].slot).toBe(8);
    expect(SH_TAB_SIZE).toBe(256);
  });
});
