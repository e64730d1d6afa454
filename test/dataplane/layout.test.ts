import { expect, test } from "bun:test";
import { nativeLayout } from "../../src/dataplane/ffi.ts";
import { LAYOUT_ORDER } from "../../src/dataplane/layout.ts";

test("TypeScript layout mirrors the C structs field for field", () => {
  expect(nativeLayout()).toEqual([...LAYOUT_ORDER]);
});
