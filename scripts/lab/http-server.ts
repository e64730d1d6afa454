// Lab HTTP server, run inside a real-server namespace:
//
//   bun scripts/lab/http-server.ts --name rs1 [--port 80] [--host 0.0.0.0]
//
//   GET  /          -> "rs1\n", headers X-Served-By: rs1, X-Client-Addr: <peer ip>
//                      (DR keeps the client address; a test can check that)
//   GET  /bytes/N   -> exactly N (0..1e9) bytes of payload.ts, streamed. Bun 1.4
//                      still drops a handler-set Content-Length on stream bodies
//                      (oven-sh/bun#10507) and sends chunked; curl still fails a
//                      short transfer because the final chunk is missing.
//   POST /upload    -> {"bytes": n, "sha256": "<hex>"} of the request body, hashed
//                      while it streams in
//
// Prints exactly one line "listening" on stdout once the socket is bound; the
// harness waits for it. A request with "Connection: close" gets the header back
// and Bun closes the connection after the response; without it the connection
// stays open for keep-alive as usual.

import { parseArgs } from "node:util";
import { payloadStream } from "./payload.ts";

const MAX_BYTES = 1e9;

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    name: { type: "string" },
    port: { type: "string", default: "80" },
    host: { type: "string", default: "0.0.0.0" },
  },
  strict: true,
});

function fail(msg: string): never {
  console.error(`http-server: ${msg}`);
  process.exit(2);
}

const name = values.name ?? fail("--name is required");
if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) fail(`bad --name '${name}'`);
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`bad --port '${values.port}'`);
const host = values.host!;

const served = { "X-Served-By": name };

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { ...served, "Content-Type": "text/plain" } });
}

// Bun closes after a response carrying "Connection: close", so echoing the
// client's request is what makes the close actually happen.
function closeIfAsked(req: Request, res: Response): Response {
  if (/(^|,)\s*close\s*(,|$)/i.test(req.headers.get("connection") ?? "")) {
    res.headers.set("Connection", "close");
  }
  return res;
}

async function upload(req: Request): Promise<Response> {
  const h = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  if (req.body) {
    for await (const chunk of req.body) {
      h.update(chunk);
      bytes += chunk.byteLength;
    }
  }
  return Response.json({ bytes, sha256: h.digest("hex") }, { headers: served });
}

async function route(req: Request, peer: string): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
    return new Response(`${name}\n`, {
      headers: { ...served, "X-Client-Addr": peer, "Content-Type": "text/plain" },
    });
  }
  const m = /^\/bytes\/(\d{1,10})$/.exec(path);
  if (m && req.method === "GET") {
    const n = Number(m[1]);
    if (n > MAX_BYTES) return text(400, `at most ${MAX_BYTES} bytes\n`);
    return new Response(payloadStream(n), {
      headers: {
        ...served,
        "Content-Type": "application/octet-stream",
        "Content-Length": String(n),
      },
    });
  }
  if (path.startsWith("/bytes/")) return text(400, "usage: /bytes/N with 0 <= N <= 1e9\n");
  if (path === "/upload" && req.method === "POST") return upload(req);
  return text(404, "not found\n");
}

const server = Bun.serve({
  hostname: host,
  port,
  // Uploads are hashed as they stream, so a large limit costs no memory.
  maxRequestBodySize: 16 * 1024 ** 3,
  // Slow transfers through a director under test must not be cut by the server.
  idleTimeout: 120,
  async fetch(req, srv) {
    return closeIfAsked(req, await route(req, srv.requestIP(req)?.address ?? ""));
  },
  error(err) {
    console.error(`http-server ${name}: ${err}`);
    return text(500, "internal error\n");
  },
});

console.log("listening");
console.error(`http-server ${name}: ${server.hostname}:${server.port}`);

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.stop(true);
    process.exit(0);
  });
}
