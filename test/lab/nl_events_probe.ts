// Runs inside the director namespace of test/lab/nl_events.test.ts (`ip netns exec NS bun
// nl_events_probe.ts`), a line-per-request server as netlink_probe.ts: the notification socket
// and one Reachability are opened here and kept across requests, as the director keeps them, so
// the test can change routes and neighbours with `ip` in between. Requests: {"op": "take"},
// {"op": "reach", "targets": [...]} (refreshIfChanged, then get() of each), {"op": "exit"}.
// Ends at EOF, and after 60 s whatever happens.
import { Reachability, type RealServerTarget } from "../../src/control/reachability.ts";
import { RtnetlinkEvents } from "../../src/dataplane/ffi.ts";

const events = RtnetlinkEvents.open();
// eth0 is the ring's own interface; any other gets tx_if 1 (no ring here to give it a socket).
const reach = new Reachability("eth0", { addTxInterface: () => 1 }, null);

type Request = { op: "take" } | { op: "reach"; targets: RealServerTarget[] } | { op: "exit" };

async function answer(req: Request): Promise<unknown> {
  switch (req.op) {
    case "take":
      return events.take();
    case "reach":
      await reach.refreshIfChanged(req.targets);
      return Object.fromEntries(req.targets.map((t) => [t.address, reach.get(t)]));
    case "exit":
      await reach.release();
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
