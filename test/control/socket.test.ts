// The control socket carries replies of any size whole: a reply larger than the kernel's socket
// buffer (the ~220-256 KB where `-L -n` with 4,000 services used to be cut off and the connection
// left open) arrives complete and the connection closes; text that is not ASCII survives the
// chunk boundaries on both sides. A real Unix socket in a scratch directory (no root needed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlServer, request, type ControlReply, type ControlRequest } from "../../src/control/socket.ts";

describe("control socket", () => {
  let dir = "";
  let server: ControlServer;
  let seen: ControlRequest[] = [];
  /** The reply the handler gives for a request of argv [size, text]: text repeated to size chars. */
  const bigReply = (req: ControlRequest): ControlReply => {
    if (req.op !== "ipvsadm") return { code: 0, stdout: "pong", stderr: "" };
    const [size, unit] = req.argv as [string, string];
    return { code: 0, stdout: unit.repeat(Math.ceil(Number(size) / unit.length)).slice(0, Number(size)), stderr: "" };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ringvs-sock-"));
    server = await ControlServer.listen(join(dir, "ctl.sock"), async (req) => {
      seen.push(req);
      return bigReply(req);
    });
  });
  afterAll(() => {
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const size of [100, 300_000, 10_000_000]) {
    test(`a ${size}-character reply arrives whole and the connection closes`, async () => {
      const r = await request(server.path, { op: "ipvsadm", argv: [String(size), "TCP  198.18.0.100:80 wlc\n"] }, 20_000);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(size);
      expect(r.stdout).toBe(bigReply({ op: "ipvsadm", argv: [String(size), "TCP  198.18.0.100:80 wlc\n"] }).stdout);
    }, 30_000);
  }

  test("multi-byte characters split across chunks survive in both directions", async () => {
    seen = [];
    const unit = "é→😀 ";
    const argv = [String(2_000_000), unit, "ø".repeat(200_000)];
    const r = await request(server.path, { op: "ipvsadm", argv }, 20_000);
    expect(r.stdout).toBe(bigReply({ op: "ipvsadm", argv }).stdout);
    expect(seen).toEqual([{ op: "ipvsadm", argv }]);
  }, 30_000);

  test("a request larger than the limit is refused with a reply, not cut off", async () => {
    const r = await request(server.path, { op: "ipvsadm", argv: ["1", "x".repeat(5 << 20)] }, 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("request larger than");
  }, 30_000);
});
