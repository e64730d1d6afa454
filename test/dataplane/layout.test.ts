import { expect, test } from "bun:test";
import { nativeCounterNames, nativeLayout, nativeNetlinkLayout } from "../../src/dataplane/ffi.ts";
import { COUNTER_NAMES, LAYOUT_ORDER } from "../../src/dataplane/layout.ts";
import { NL_LAYOUT_ORDER } from "../../src/dataplane/netlink_layout.ts";

test("TypeScript layout mirrors the C structs field for field", () => {
  expect(nativeLayout()).toEqual([...LAYOUT_ORDER]);
});

test("every counter has the same name and place on both sides", () => {
  const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  expect(nativeCounterNames().map(camel)).toEqual([...COUNTER_NAMES]);
});

test("the rtnetlink answer structs and kernel constants match native/netlink.h", () => {
  expect(nativeNetlinkLayout()).toEqual([...NL_LAYOUT_ORDER]);
});
