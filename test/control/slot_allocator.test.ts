import { describe, expect, test } from "bun:test";
import { SlotAllocator } from "../../src/control/slot_allocator.ts";

describe("SlotAllocator", () => {
  test("a key keeps its slot; distinct keys get distinct slots", () => {
    const a = new SlotAllocator(8);
    expect([a.acquire("a"), a.acquire("b"), a.acquire("a"), a.acquire("c")]).toEqual([0, 1, 0, 2]);
    expect(a.used).toBe(3);
  });

  test("a removed key's slot is reused only after every worker applied its removal and nothing holds it", () => {
    const a = new SlotAllocator(8);
    a.acquire("a");
    a.acquire("b");
    a.leave("a", 5); // the plan published as #5 goes without "a"
    const held = new Set([0]);
    expect(a.reclaim(4, () => true)).toEqual([]); // a worker is still on plan #4
    expect(a.reclaim(5, (s) => !held.has(s))).toEqual([]); // connections still bound to slot 0
    expect(a.acquire("c")).toBe(2); // so "c" gets a new slot, not 0
    held.clear();
    expect(a.reclaim(5, (s) => !held.has(s))).toEqual([0]);
    expect(a.acquire("d")).toBe(0);
    expect(a.leavingCount).toBe(0);
  });

  test("a key that comes back while its slot is leaving gets the same slot (its connections continue)", () => {
    const a = new SlotAllocator(8);
    a.acquire("a");
    a.leave("a", 1);
    expect(a.leavingCount).toBe(1);
    expect(a.acquire("a")).toBe(0);
    expect(a.leavingCount).toBe(0);
    expect(a.reclaim(1, () => true)).toEqual([]); // not leaving any more
  });

  test("leaving again does not restart the wait of a slot already leaving", () => {
    const a = new SlotAllocator(8);
    a.acquire("a");
    a.leave("a", 3);
    a.leave("a", 9);
    expect(a.reclaim(3, () => true)).toEqual([0]);
  });

  test("a million add/remove cycles of distinct keys stay within a handful of slots", () => {
    const a = new SlotAllocator(4);
    a.acquire("stay");
    let seq = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const key = `rs${i}`;
      a.acquire(key);
      a.leave(key, ++seq); // removed again in the next plan
      a.reclaim(seq, () => true);
    }
    expect(a.used).toBe(1);
    expect(a.acquire("new")).toBeLessThan(4);
  });

  test("problemFor tells before a change whether all its keys would get a slot", () => {
    const a = new SlotAllocator(2);
    a.acquire("a");
    a.leave("a", 1); // "a" leaving, still held
    expect(a.problemFor(new Set(["a", "b"]))).toBeNull(); // "a" keeps its slot, "b" takes the last
    expect(a.problemFor(new Set(["b", "c"]))).toBe("more than 2 real-server entries (1 of them removed but still held by connections)");
  });

  test("full: the error says how many slots are held by removed servers' connections", () => {
    const a = new SlotAllocator(2);
    a.acquire("a");
    a.acquire("b");
    a.leave("a", 1);
    expect(() => a.acquire("c")).toThrow("more than 2 real-server entries (1 of them removed but still held by connections)");
  });
});
