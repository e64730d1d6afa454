// CPU placement through the shim (native/affinity.c): what a packet worker and the control thread
// use. Only calls that leave the test's own thread where it was: listing, re-applying the same
// set, and a CPU that cannot exist.
import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { pinThread, setThreadCpus, threadCpus } from "../../src/dataplane/ffi.ts";

describe("thread CPU affinity", () => {
  test("threadCpus lists the CPUs this thread may use, ascending and within the machine's", () => {
    const cpus = threadCpus();
    expect(cpus.length).toBeGreaterThan(0);
    expect(cpus.length).toBeLessThanOrEqual(availableParallelism());
    expect([...cpus].sort((a, b) => a - b)).toEqual(cpus);
  });

  test("setting the same set again changes nothing", () => {
    const before = threadCpus();
    setThreadCpus(before);
    expect(threadCpus()).toEqual(before);
  });

  test("pinning to a CPU that does not exist names it and the allowed ones, and moves nothing", () => {
    const before = threadCpus();
    expect(() => pinThread(4095)).toThrow(`CPU 4095 does not exist or this process may not use it (allowed: ${before.join(",")})`);
    expect(threadCpus()).toEqual(before);
  });
});
