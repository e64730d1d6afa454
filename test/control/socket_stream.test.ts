// A reply in parts: the daemon writes each part once the one before has left (so it holds one at a
// time), the client gets them in order as they arrive, and a client that leaves mid-reply stops
// the parts being produced. A real Unix socket in a scratch directory (no root needed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlServer, request } from "../../src/control/socket.ts";

const PART = "TCP 00:59 ESTABLISHED 198.18.0.2:40000 198.18.0.100:80 198.18.1.11:80\n".repeat(150); // ~11 KB

describe("control socket: replies in parts", () => {
  let dir = "";
  let server: ControlServer;
  /** Parts the handler's stream produced so far, and the most produced but not yet written. */
  let produced = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ringvs-stream-"));
    server = await ControlServer.listen(join(dir, "ctl.sock"), async (req) => {
      const parts = req.op === "ipvsadm" ? Number(req.argv[0]) : 0;
      produced = 0;
      async function* stream() {
        for (let i = 0; i < parts; i++) {
          produced++;
          yield `${i}:${PART}`;
        }
      }
      return { code: 0, stdout: "IPVS connection entries\n", stderr: "", stream: stream() };
    });
  });
  afterAll(() => {
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("2,000 parts (22 MB) arrive in order after the head, and the reply keeps its code", async () => {
    const parts: string[] = [];
    const r = await request(server.path, { op: "ipvsadm", argv: ["2000"] }, 20_000, (p) => parts.push(p));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(parts[0]).toBe("IPVS connection entries\n");
    expect(parts.length).toBe(2001);
    for (let i = 1; i <= 2000; i++) expect(parts[i]!.startsWith(`${i - 1}:`)).toBe(true);
  }, 30_000);

  test("without onOut the parts are gathered into stdout", async () => {
    const r = await request(server.path, { op: "ipvsadm", argv: ["3"] });
    expect(r.stdout).toBe(`IPVS connection entries\n0:${PART}1:${PART}2:${PART}`);
  });

  test("a client that reads nothing holds the daemon to a few parts; one that leaves stops them", async () => {
    // Connect, send the request, never read: the socket buffers fill and the daemon waits.
    const sock = await Bun.connect({ unix: server.path, socket: { data() {}, open(s) { s.write(`${JSON.stringify({ op: "ipvsadm", argv: ["100000"] })}\n`); } } });
    sock.pause?.();
    await Bun.sleep(300);
    const whileStalled = produced;
    expect(whileStalled).toBeLessThan(1000);
    sock.end();
    await Bun.sleep(300);
    expect(produced - whileStalled).toBeLessThan(5);
    // The daemon still answers the next client.
    expect((await request(server.path, { op: "ipvsadm", argv: ["1"] })).code).toBe(0);
  });
});
