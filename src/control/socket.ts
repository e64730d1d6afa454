// The control socket: a Unix stream socket the daemon listens on and the `ringvs` command line
// (ipvsadm syntax, reload) talks to. One request per connection, one JSON object per line each
// way: the request; then, for a reply that comes in parts (a listing of a million connections),
// `{"out": TEXT}` lines, each written once the one before has left, so the daemon holds one part
// at a time; then the reply itself, `{"code", "stdout", "stderr"}`. The socket file is created 0600 and owned by the daemon's user (root), so the kernel
// refuses every other user at connect() — there is no in-band authentication to get wrong.
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import type { Socket } from "bun";

export const DEFAULT_SOCKET = "/run/ringvs.sock";
/** A request larger than this is refused without being parsed. */
const MAX_REQUEST_BYTES = 4 << 20;

export type ControlRequest =
  | { op: "ipvsadm"; argv: string[]; stdin?: string }
  | { op: "reload" }
  | { op: "ping" };

export interface ControlReply {
  code: number;
  stdout: string;
  stderr: string;
  /** More standard output after `stdout`, produced a part at a time while it is being sent (the
   *  server side only: it arrives as `{"out"}` lines and request() hands them to `onOut`). */
  stream?: AsyncIterable<string>;
}

export type RequestHandler = (req: ControlRequest) => Promise<ControlReply>;

/** Why a decoded value is not a request, or null. Requests enter here: errors are values. */
function requestProblem(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return "a request is a JSON object";
  const r = v as Record<string, unknown>;
  if (r.op === "reload" || r.op === "ping") return null;
  if (r.op !== "ipvsadm") return `unknown op ${JSON.stringify(r.op)} (ipvsadm, reload, ping)`;
  if (!Array.isArray(r.argv) || !r.argv.every((a) => typeof a === "string")) return "argv must be an array of strings";
  if (r.stdin !== undefined && typeof r.stdin !== "string") return "stdin must be a string";
  return null;
}

/** Bun's socket write() takes what the kernel buffer has room for and returns that count; the
 *  rest is ours to send on `drain`. A reply larger than the buffer (~220 KB) written in one call
 *  was cut there and its connection never ended. */
interface Outgoing {
  out: Uint8Array | null;
  /** What to do once everything is written (end the connection, or nothing). */
  then: "end" | "keep";
  /** Called once `out` has all been written, or the connection closed under it. */
  drained?: () => void;
  closed?: boolean;
}

/** Write as much of s.data.out as the socket takes now; end the connection when it is all out. */
function flush<T extends Outgoing>(s: Socket<T>): void {
  const out = s.data.out;
  if (!out) return;
  const n = s.write(out);
  if (n < 0) {
    s.data.out = null; // closed under us
    s.data.closed = true;
    s.data.drained?.();
  } else if (n < out.length) {
    s.data.out = out.subarray(n); // the rest on drain
  } else {
    s.data.out = null;
    s.data.drained?.();
    if (s.data.then === "end") s.end();
  }
}

/** Bytes of a request line so far (raw: a multi-byte character may span two chunks). */
interface ConnState extends Outgoing {
  chunks: Uint8Array[];
  size: number;
  done: boolean;
}

export class ControlServer {
  private constructor(private readonly listener: ReturnType<typeof Bun.listen<ConnState>>, readonly path: string) {}

  /** Listen on `path`. Throws when another daemon answers there; removes a stale socket file. */
  static async listen(path: string, handle: RequestHandler): Promise<ControlServer> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
      if (await ping(path)) throw new Error(`another ringvs answers on ${path}`);
      unlinkSync(path);
    }
    /** Write one line and wait until it has left (or the client went away). */
    const writeLine = (s: Socket<ConnState>, line: string, then: "end" | "keep") =>
      new Promise<void>((resolve) => {
        s.data.out = Buffer.from(line + "\n");
        s.data.then = then;
        s.data.drained = resolve;
        flush(s);
      });
    const reply = async (s: Socket<ConnState>, r: ControlReply) => {
      s.data.done = true;
      s.data.chunks = [];
      const { stream, ...final } = r;
      if (stream) {
        if (final.stdout) await writeLine(s, JSON.stringify({ out: final.stdout }), "keep");
        final.stdout = "";
        for await (const part of stream) {
          if (s.data.closed) break;
          if (part) await writeLine(s, JSON.stringify({ out: part }), "keep");
        }
      }
      if (!s.data.closed) await writeLine(s, JSON.stringify(final), "end");
    };
    const oldMask = process.umask(0o077); // the file is born 0600: no window where others could connect
    let listener;
    try {
      listener = Bun.listen<ConnState>({
        unix: path,
        socket: {
          open(s) {
            s.data = { chunks: [], size: 0, done: false, out: null, then: "keep" };
          },
          data(s, chunk) {
            if (s.data.done) return;
            const nl = chunk.indexOf(0x0a);
            s.data.chunks.push(new Uint8Array(nl < 0 ? chunk : chunk.subarray(0, nl))); // a copy: Bun may reuse the chunk
            s.data.size += nl < 0 ? chunk.length : nl;
            if (s.data.size > MAX_REQUEST_BYTES) {
              reply(s, { code: 2, stdout: "", stderr: `ringvs: request larger than ${MAX_REQUEST_BYTES} bytes\n` });
              return;
            }
            if (nl < 0) return;
            let req: unknown;
            try {
              req = JSON.parse(Buffer.concat(s.data.chunks).toString("utf8"));
            } catch (e) {
              reply(s, { code: 2, stdout: "", stderr: `ringvs: malformed request: ${(e as Error).message}\n` });
              return;
            }
            s.data.chunks = [];
            const problem = requestProblem(req);
            if (problem) {
              reply(s, { code: 2, stdout: "", stderr: `ringvs: malformed request: ${problem}\n` });
              return;
            }
            s.data.done = true;
            handle(req as ControlRequest).then(
              (r) => reply(s, r),
              (e) => reply(s, { code: 1, stdout: "", stderr: `ringvs: ${(e as Error).message}\n` }),
            );
          },
          drain(s) {
            flush(s);
          },
          close(s) {
            // A client that went away mid-reply: stop producing parts for it.
            s.data.closed = true;
            s.data.drained?.();
          },
          error() {
            // A client that vanished mid-request: nothing to answer.
          },
        },
      });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(path, 0o600);
    return new ControlServer(listener, path);
  }

  stop(): void {
    this.listener.stop(true);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** Send one request and wait for the reply. Parts of a reply that comes in parts go to `onOut`
 *  as they arrive (by default they are gathered into the reply's stdout). Rejects with the connect
 *  error (ENOENT: no daemon, EACCES: not root) so the CLI can say which. The timeout counts from
 *  the last thing received, so a long listing that keeps arriving is not cut off. */
export function request(
  path: string,
  req: ControlRequest,
  timeoutMs = 30_000,
  onOut?: (text: string) => void,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    let chunks: Uint8Array[] = [];
    let streamed = "";
    const out = onOut ?? ((text: string) => (streamed += text));
    /** Hands every complete `{"out"}` line to `out`; keeps the rest (the final line so far). */
    const takeParts = () => {
      let buf = Buffer.concat(chunks);
      for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
        const line = buf.subarray(0, nl).toString("utf8");
        if (!line.startsWith('{"out":')) break; // the final reply: read whole on close
        out((JSON.parse(line) as { out: string }).out);
        buf = buf.subarray(nl + 1);
      }
      chunks = [new Uint8Array(buf)];
    };
    let settled = false;
    const finish = (fn: () => void) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        fn();
      }
    };
    const expire = () => finish(() => reject(new Error(`no answer from ${path} within ${timeoutMs} ms`)));
    let timer = setTimeout(expire, timeoutMs);
    Bun.connect<Outgoing>({
      unix: path,
      socket: {
        open(s) {
          s.data = { out: Buffer.from(JSON.stringify(req) + "\n"), then: "keep" };
          flush(s);
        },
        drain(s) {
          flush(s);
        },
        data(_s, chunk) {
          chunks.push(new Uint8Array(chunk)); // a copy: Bun may reuse the chunk's memory
          if (chunk.indexOf(0x0a) >= 0) takeParts();
          clearTimeout(timer);
          timer = setTimeout(expire, timeoutMs);
        },
        close() {
          finish(() => {
            takeParts();
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              const r = JSON.parse(text.trim()) as ControlReply;
              resolve(onOut ? r : { ...r, stdout: streamed + r.stdout });
            } catch {
              reject(new Error(`malformed reply from ${path}: ${JSON.stringify(text.slice(0, 200))}`));
            }
          });
        },
        error(_s, e) {
          finish(() => reject(e));
        },
      },
    }).catch((e) => finish(() => reject(e)));
  });
}

async function ping(path: string): Promise<boolean> {
  try {
    await request(path, { op: "ping" }, 1000);
    return true;
  } catch {
    return false;
  }
}
