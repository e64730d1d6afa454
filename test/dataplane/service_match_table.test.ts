// ServiceMatchTable on its own: the forwarder's (VIP, protocol, port) -> service lookup. The
// forwarder tests cover exact, port-0 and firewall-mark services end to end; these pin the table's
// own contract against a Map, including keys that differ in one part only and a table filled to
// its limit, where every miss has to walk to an empty bucket.

import { describe, expect, test } from "bun:test";
import { ServiceMatchTable } from "../../src/dataplane/service_match_table.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "../../src/dataplane/layout.ts";
import { ipToU32 } from "../../src/dataplane/plan.ts";

const VIP = ipToU32("198.18.0.100");

describe("ServiceMatchTable", () => {
  test("exact keys: address, protocol and port must all match", () => {
    const t = new ServiceMatchTable(3);
    t.set(VIP, ServiceMatchTable.protoPort(IPPROTO_TCP, 80), 0);
    t.set(VIP, ServiceMatchTable.protoPort(IPPROTO_UDP, 80), 1);
    t.set(VIP, ServiceMatchTable.protoPort(IPPROTO_TCP, 0), 2);
    expect(t.get(VIP, ServiceMatchTable.protoPort(IPPROTO_TCP, 80))).toBe(0);
    expect(t.get(VIP, ServiceMatchTable.protoPort(IPPROTO_UDP, 80))).toBe(1);
    expect(t.get(VIP, ServiceMatchTable.protoPort(IPPROTO_TCP, 0))).toBe(2);
    expect(t.get(VIP, ServiceMatchTable.protoPort(IPPROTO_UDP, 0))).toBe(-1);
    expect(t.get(VIP, ServiceMatchTable.protoPort(IPPROTO_TCP, 81))).toBe(-1);
    expect(t.get(VIP + 1, ServiceMatchTable.protoPort(IPPROTO_TCP, 80))).toBe(-1);
    expect(t.get(ipToU32("255.255.255.255"), ServiceMatchTable.protoPort(IPPROTO_TCP, 80))).toBe(-1);
  });

  test("setting a key again keeps the last value, as Map.set", () => {
    const t = new ServiceMatchTable(1);
    t.set(VIP, 443, 4);
    t.set(VIP, 443, 7);
    expect(t.get(VIP, 443)).toBe(7);
  });

  test("an empty table misses everything", () => {
    const t = new ServiceMatchTable(0);
    expect(t.get(VIP, 80)).toBe(-1);
    expect(t.get(0, 0)).toBe(-1);
  });

  test("agrees with a Map on 2000 keys that share addresses and ports, in a table at its fill limit", () => {
    const t = new ServiceMatchTable(2000); // 4096 buckets, half of them used below
    const model = new Map<string, number>();
    const keys: [number, number][] = [];
    // 300 addresses (high bit set and clear) x 5 ports x tcp/udp: many keys differ in one part only.
    for (let a = 0; a < 300; a++) {
      const vip = (a % 2 ? ipToU32("198.18.0.0") : ipToU32("10.0.0.0")) + a * 257;
      for (const port of [0, 53, 80, 443, 65535]) {
        for (const proto of [IPPROTO_TCP, IPPROTO_UDP]) keys.push([vip >>> 0, ServiceMatchTable.protoPort(proto, port)]);
      }
    }
    keys.forEach(([vip, pp], i) => {
      if (i % 3 === 2) return; // a third (1000) stay absent
      t.set(vip, pp, i);
      model.set(`${vip}/${pp}`, i);
    });
    for (const [vip, pp] of keys) expect({ vip, pp, v: t.get(vip, pp) }).toEqual({ vip, pp, v: model.get(`${vip}/${pp}`) ?? -1 });
  });
});
