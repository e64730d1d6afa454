// The shim's rtnetlink verbs on what every network namespace has (its loopback), so they run
// anywhere, unprivileged, without a lab: lookups only, nothing is changed. test/lab/netlink.test.ts
// checks them against `ip` on veth links, and the neighbour verbs that change entries.
import { afterAll, expect, test } from "bun:test";
import { errnoText, Rtnetlink } from "../../src/dataplane/ffi.ts";
import { NUD, RTN_LOCAL } from "../../src/dataplane/netlink_layout.ts";
import { ipToU32, macToString, u32ToIp } from "../../src/dataplane/plan.ts";

const nl = Rtnetlink.open();
afterAll(() => nl.close());

test("a loopback address is local, through lo, with itself as the preferred source", () => {
  const [a] = nl.routeGet([ipToU32("127.0.0.1")]);
  expect(a).toEqual({ errno: 0, oif: 1, type: RTN_LOCAL, gateway: null, prefsrc: ipToU32("127.0.0.1"), via6: false });
});

test("a batch longer than one sendmsg's worth answers every address, in order", () => {
  // 16 requests go per sendmsg (native/netlink.c RV_NL_BATCH): 40 spans three, the last partial.
  const dsts = Array.from({ length: 40 }, (_, i) => ipToU32("127.0.0.1") + i);
  const answers = nl.routeGet(dsts);
  expect(answers.length).toBe(40);
  for (const a of answers) expect(a).toMatchObject({ errno: 0, oif: 1, type: RTN_LOCAL });
  expect(nl.routeGet([])).toEqual([]);
});

test("the loopback's link facts, by index and by name", () => {
  const lo = { ifindex: 1, name: "lo", mtu: expect.any(Number), type: 772, mac: [0, 0, 0, 0, 0, 0] };
  expect(nl.link(1)).toEqual(lo);
  expect(nl.link("lo")).toEqual(lo);
});

test("an interface that does not exist is null, by index or by name, whatever the name", () => {
  expect(nl.link("ringvs-none0")).toBeNull();
  expect(nl.link(0x7fffffff)).toBeNull();
  expect(nl.link("")).toBeNull();
  expect(nl.link("a-name-longer-than-IFNAMSIZ")).toBeNull();
});

test("the loopback's IPv4 neighbour entries are the ones `ip neigh show dev lo nud all` lists", () => {
  // Usually none; the kernel makes a NOARP one for 0.0.0.0 once something sends there, so the
  // dump is compared with ip's rather than with a fixed answer.
  const ip = Bun.spawnSync(["ip", "-4", "-j", "neigh", "show", "dev", "lo", "nud", "all"], { stdout: "pipe" });
  if (ip.exitCode !== 0) throw new Error("ip -4 -j neigh show failed (bootstrap installs iproute2)");
  const text = ip.stdout.toString().trim();
  const theirs = (text ? JSON.parse(text) : []) as { dst: string; lladdr?: string; state?: string[] }[];
  const names = Object.entries(NUD);
  const ours = nl.neighbours(1).map((e) => ({
    dst: u32ToIp(e.dst), lladdr: e.lladdr ? macToString(e.lladdr) : undefined,
    state: names.filter(([, bit]) => e.state & bit).map(([name]) => name),
  }));
  const norm = (l: { dst: string; lladdr?: string; state?: string[] }[]) =>
    l.map((e) => ({ dst: e.dst, lladdr: e.lladdr, state: e.state ?? [] })).sort((a, b) => a.dst.localeCompare(b.dst));
  expect(norm(ours)).toEqual(norm(theirs));
});

test("errno texts are the C library's, as iproute2 prints them", () => {
  expect(errnoText(101)).toBe("Network is unreachable");
  expect(errnoText(105)).toBe("No buffer space available");
  expect(errnoText(113)).toBe("No route to host");
});
