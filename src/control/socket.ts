// The control socket: a Unix stream socket the daemon listens on and the `ringvs` command line
// (ipvsadm syntax, reload) talks to. One request per connection, one JSON object per line each
// way. The socket file is created 0600 and owned by the daemon's user (root), so the kernel
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

interface ConnState {
  buf: string;
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
    const reply = (s: Socket<ConnState>, r: ControlReply) => {
      s.data.done = true;
      s.end(JSON.stringify(r) + "\n");
    };
    const oldMask = process.umask(0o077); // the file is born 0600: no window where others could connect
    let listener;
    try {
      listener = Bun.listen<ConnState>({
        unix: path,
        socket: {
          open(s) {
            s.data = { buf: "", done: false };
          },
          data(s, chunk) {
            if (s.data.done) return;
            s.data.buf += chunk.toString();
            if (s.data.buf.length > MAX_REQUEST_BYTES) {
              reply(s, { code: 2, stdout: "", stderr: `ringvs: request larger than ${MAX_REQUEST_BYTES} bytes\n` });
              return;
            }
            const nl = s.data.buf.indexOf("\n");
            if (nl < 0) return;
            let req: unknown;
            try {
              req = JSON.parse(s.data.buf.slice(0, nl));
            } catch (e) {
              reply(s, { code: 2, stdout: "", stderr: `ringvs: malformed request: ${(e as Error).message}\n` });
              return;
            }
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

/** Send one request and wait for the reply. Rejects with the connect error (ENOENT: no daemon,
 *  EACCES: not root) so the CLI can say which. */
export function request(path: string, req: ControlRequest, timeoutMs = 30_000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    let buf = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        fn();
      }
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no answer from ${path} within ${timeoutMs} ms`))), timeoutMs);
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(JSON.stringify(req) + "\n");
        },
        data(_s, chunk) {
          buf += chunk.toString();
        },
        close() {
          finish(() => {
            try {
              resolve(JSON.parse(buf.trim()) as ControlReply);
            } catch {
              reject(new Error(`malformed reply from ${path}: ${JSON.stringify(buf.slice(0, 200))}`));
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
