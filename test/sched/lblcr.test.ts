import { describe, expect, test } from "bun:test";
import { createScheduler } from "../../src/sched/index.ts";
import { LblcrScheduler } from "../../src/sched/lblcr.ts";
import { destsOf, runSchedulerSuite } from "./suite.ts";

runSchedulerSuite({ name: "lblcr", newScheduler: () => new LblcrScheduler() });

const X = 0xc0a80001;

function go(s: LblcrScheduler, now = 0): number {
  return s.schedule(0x0a000001, X, 40000, 80, now);
}
function set(s: LblcrScheduler): number[] {
  return s.entries()[0]?.set ?? [];
}

describe("lblcr: kernel ip_vs_lblcr.c", () => {
  test("grows its set under load: the overloaded member's address gets another server", () => {
    const dests = destsOf([10, 10, 10]);
    const s = new LblcrScheduler();
    s.setDestinations(dests);
    expect(go(s, 0)).toBe(0);
    expect(set(s)).toEqual([0]);
    // Member 0 over its weight while 1 and 2 are under half load: least connection of all is 1,
    // added at the head of the set.
    dests[0].activeConns = 11;
    expect(go(s, 5)).toBe(1);
    expect(set(s)).toEqual([1, 0]);
    expect(s.entries()[0].lastmod).toBe(5);
    // Now the set's least loaded member answers: 1 (0 active) over 0 (11).
    expect(go(s, 6)).toBe(1);
    // 1 overloaded as well: the whole list's least connection is 2, a third member.
    dests[1].activeConns = 11;
    expect(go(s, 7)).toBe(2);
    expect(set(s)).toEqual([2, 1, 0]);
    // Members are weighed by overhead / weight: 0 with more weight wins over 2 once 2 is busier.
    dests[2].activeConns = 9;
    dests[0].activeConns = 11;
    dests[0].weight = 30; // 11 * 256 / 30 < 9 * 256 / 10
    s.setDestinations(dests);
    expect(go(s, 8)).toBe(0);
    expect(set(s)).toEqual([2, 1, 0]); // unchanged, lastmod too
    expect(s.entries()[0].lastmod).toBe(7);
  });

  test("shrinks after `expiration` without change: the most loaded member goes, one per lookup", () => {
    const dests = destsOf([10, 10, 10]);
    const s = new LblcrScheduler({ expiration: 100 });
    s.setDestinations(dests);
    go(s, 0);
    dests[0].activeConns = 11;
    go(s, 1); // set [1, 0]
    dests[1].activeConns = 11;
    go(s, 2); // set [2, 1, 0], lastmod 2
    expect(set(s)).toEqual([2, 1, 0]);
    dests[0].activeConns = 3;
    dests[1].activeConns = 7;
    dests[2].activeConns = 1;
    // now > lastmod + expiration is strict: at 102 nothing happens.
    expect(go(s, 102)).toBe(2);
    expect(set(s)).toEqual([2, 1, 0]);
    // At 103 the most loaded member (1, 7 active) is dropped; the answer is the least, 2.
    expect(go(s, 103)).toBe(2);
    expect(set(s)).toEqual([2, 0]);
    expect(s.entries()[0].lastmod).toBe(103);
    expect(go(s, 204)).toBe(2);
    expect(set(s)).toEqual([2]); // 0 (3 active) was the most loaded of the two
    expect(go(s, 400)).toBe(2); // a single member is never dropped
    expect(set(s)).toEqual([2]);
  });

  test("on a tie the head is both the least and the most loaded: dropped and still returned", () => {
    const dests = destsOf([10, 10]);
    const s = new LblcrScheduler({ expiration: 100 });
    s.setDestinations(dests);
    go(s, 0);
    dests[0].activeConns = 11;
    go(s, 1); // set [1, 0]
    dests[0].activeConns = 0;
    expect(go(s, 200)).toBe(1); // ip_vs_dest_set_min ran before the erase
    expect(set(s)).toEqual([0]);
    expect(go(s, 201)).toBe(0);
  });

  test("unavailable members are skipped; with none usable the whole list is asked", () => {
    const dests = destsOf([10, 10, 10]);
    const s = createScheduler("lblcr") as LblcrScheduler;
    s.setDestinations(dests);
    go(s, 0);
    dests[0].activeConns = 11;
    go(s, 1); // set [1, 0]
    dests[1].available = false;
    dests[0].activeConns = 0;
    s.setDestinations(dests);
    expect(go(s, 2)).toBe(0);
    dests[0].available = false;
    s.setDestinations(dests);
    expect(go(s, 3)).toBe(2);
    expect(set(s)).toEqual([2, 1, 0]);
  });

  test("entries expire like lblc's", () => {
    const dests = destsOf([1, 1]);
    const s = new LblcrScheduler({ expiration: 600 });
    s.setDestinations(dests);
    go(s, 0);
    s.schedule(0, 0x01010101, 0, 80, 1800);
    expect(s.entries().map((e) => e.daddr)).toEqual([0x01010101]);
  });
});
