// The client shell: `ringvs -A -t ...` (ipvsadm syntax) and `ringvs reload` send their request to
// the running daemon's control socket and print what it answers, with its exit code.
import { DEFAULT_SOCKET, request, type ControlRequest } from "../control/socket.ts";

function socketPath(argv: string[]): { path: string; rest: string[] } {
  const i = argv.indexOf("--socket");
  if (i >= 0 && argv[i + 1] !== undefined) {
    return { path: argv[i + 1]!, rest: [...argv.slice(0, i), ...argv.slice(i + 2)] };
  }
  return { path: process.env.RINGVS_SOCKET ?? DEFAULT_SOCKET, rest: argv };
}

/** Exit code for a connection problem: 1, as ipvsadm exits when it cannot reach IPVS. */
function unreachable(path: string, e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "ENOENT" || code === "ECONNREFUSED"
    ? `no ringvs director is running (no control socket at ${path})`
    : code === "EACCES" || code === "EPERM"
      ? `permission denied on ${path}: the control socket belongs to root`
      : (e as Error).message;
  process.stderr.write(`ringvs: ${why}\n`);
  return 1;
}

async function send(path: string, req: ControlRequest): Promise<number> {
  try {
    // Parts of a long reply are written as they arrive, in order, so the client holds about one
    // part; every write is awaited before exit: main() exits right after, and a write into a pipe
    // that has not taken it all yet (an -L -n of thousands of services) would be cut off there.
    let written: Promise<unknown> = Promise.resolve();
    const r = await request(path, req, undefined, (part) => {
      written = written.then(() => Bun.write(Bun.stdout, part));
    });
    await written;
    if (r.stdout) await Bun.write(Bun.stdout, r.stdout);
    if (r.stderr) await Bun.write(Bun.stderr, r.stderr);
    return r.code;
  } catch (e) {
    return unreachable(path, e);
  }
}

/** ipvsadm syntax. -R reads the rules from standard input, as ipvsadm-restore does. */
export async function ipvsadmClient(argv: string[]): Promise<number> {
  const { path, rest } = socketPath(argv);
  const args = rest[0] === "ipvsadm" ? rest.slice(1) : rest;
  const restore = args.some((a) => a === "-R" || a === "--restore");
  const stdin = restore ? await new Response(Bun.stdin.stream()).text() : undefined;
  return send(path, { op: "ipvsadm", argv: args, stdin });
}

export async function reloadClient(argv: string[]): Promise<number> {
  const { path } = socketPath(argv);
  return send(path, { op: "reload" });
}
