import { describe, expect, test } from "bun:test";
import { DestinationHashScheduler } from "../../src/sched/dh.ts";
import { createScheduler } from "../../src/sched/index.ts";
import { destsOf, runSchedulerSuite } from "./suite.ts";

// dh has no fallback (-1 when the hashed server is unusable), and the suite sends every
// connection to 192.168.0.1, whose bucket (192) belongs to the first server of a short list.
runSchedulerSuite({ name: "dh", newScheduler: () => new DestinationHashScheduler(), alwaysFinds: false, destinationKeyed: true });

const DST1 = 0xc0a80001; // 192.168.0.1: hash_32(., 8) = 192
const DST2 = 0x0a000002; // 10.0.0.2: hash_32(., 8) = 137

describe("dh: kernel ip_vs_dh.c", () => {
  test("buckets are dealt one per server in list order, ignoring weights", () => {
    const s = new DestinationHashScheduler();
    s.setDestinations(destsOf([100, 1, 1]));
    expect(Array.from(s.table.slice(0, 7))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(s.table[255]).toBe(255 % 3);
  });

  test("keyed on the destination address: any client, same server", () => {
    const s = new DestinationHashScheduler();
    s.setDestinations(destsOf([1, 1, 1]));
    for (let k = 0; k < 100; k++) {
      expect(s.schedule(0x0a000000 + k * 7919, DST1, 1024 + k, 80, 0)).toBe(192 % 3);
      expect(s.schedule(0x0a000000 + k * 7919, DST2, 1024 + k, 80, 0)).toBe(137 % 3);
    }
  });

  test("an unusable hashed server gives -1 (cache bypass), even with others free", () => {
    const dests = destsOf([1, 1, 1]);
    const s = new DestinationHashScheduler();
    s.setDestinations(dests);
    dests[0].weight = 0;
    s.setDestinations(dests);
    expect(s.schedule(1, DST1, 1, 80, 0)).toBe(-1); // bucket 192 -> server 0
    expect(s.schedule(1, DST2, 1, 80, 0)).toBe(2);
    dests[0].weight = 1;
    dests[0].available = false;
    s.setDestinations(dests);
    expect(s.schedule(1, DST1, 1, 80, 0)).toBe(-1);
  });

  test("more than 256 servers: the ones past the 256th own no bucket", () => {
    const s = new DestinationHashScheduler();
    s.setDestinations(destsOf(new Array(300).fill(1)));
    expect(Math.max(...s.table)).toBe(255);
  });

  test("a deletion re-deals the buckets", () => {
    const s = createScheduler("dh");
    s.setDestinations(destsOf([1, 1, 1]));
    expect(s.schedule(1, DST1, 1, 80, 0)).toBe(0);
    s.setDestinations(destsOf([1, 1]));
    expect(s.schedule(1, DST1, 1, 80, 0)).toBe(192 % 2);
    expect(s.schedule(1, DST2, 1, 80, 0)).toBe(137 % 2);
  });
});
