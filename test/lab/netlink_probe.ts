// Runs inside the director namespace of test/lab/netlink.test.ts (`ip netns exec NS bun
// netlink_probe.ts`): a line-per-request server over stdin/stdout, so the test can interleave
// what ringvs does (resolveRoutes, one NeighbourTable per interface, kept across requests as the
// director keeps them) with what an operator does with `ip` in between. Each request is a JSON
// line {op, ...}; each answer a JSON line {ok, value} or {ok: false, error}. Ends at EOF or
// {"op": "exit"}, and after 60 s whatever happens (a test that dies must not leave it running).
import { NeighbourTable } from "../../src/control/neighbours.ts";
import { resolveRoutes } from "../../src/control/routes.ts";
import { macToString } from "../../src/dataplane/plan.ts";

const tables = new Map<string, NeighbourTable>();
const table = (dev: string) => tables.get(dev) ?? tables.set(dev, new NeighbourTable(dev)).get(dev)!;

type Request =
  | { op: "routes"; addrs: string[] }
  | { op: "ensure"; dev: string; addrs: string[] }
  | { op: "read"; dev: string }
  | { op: "forget"; dev: string; keep: string[] }
  | { op: "release"; dev: string }
  | { op: "exit" };

async function answer(req: Request): Promise<unknown> {
  switch (req.op) {
    case "routes":
      return Object.fromEntries(await resolveRoutes(req.addrs));
    case "ensure":
      return Object.fromEntries(await table(req.dev).ensure(req.addrs));
    case "read":
      return Object.fromEntries([...(await table(req.dev).read())].map(([ip, mac]) => [ip, macToString(mac)]));
    case "forget":
      return table(req.dev).forget(new Set(req.keep));
    case "release":
      return table(req.dev).release();
    case "exit":
      process.exit(0);
  }
}

setTimeout(() => process.exit(3), 60_000).unref();
let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += new TextDecoder().decode(chunk);
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line.trim()) continue;
    try {
      const value = await answer(JSON.parse(line) as Request);
      process.stdout.write(JSON.stringify({ ok: true, value: value ?? null }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, error: (e as Error).message }) + "\n");
    }
  }
}
