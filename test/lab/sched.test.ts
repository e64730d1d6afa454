// Schedulers, connection tracking and persistence through the real data plane: curl from the
// client namespace (from two client addresses), ringvs in the director namespace, HTTP servers in
// the real servers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunLab, Lab } from "./harness.ts";
import { DirectorProcess } from "./director.ts";

const LAB = canRunLab();
if (!LAB) console.warn("SKIPPING scheduler lab tests: they need root (CI runs them as root)");

/** A second client address on the client's interface, so "another client" is a real one. */
const CLIENT_B = "198.18.0.4";

labDescribe();

function labDescribe(): void {
  (LAB ? describe : describe.skip)("schedulers and persistence in the lab", () => {
    let lab: Lab;
    beforeAll(async () => {
      lab = await Lab.up({ realServers: 3, rsScript: true, http: true });
      await lab.exec(lab.clientNs, ["ip", "addr", "add", `${CLIENT_B}/24`, "dev", "eth0"]);
      // A second web server per real server, for the port-0 service.
      for (let i = 0; i < 3; i++) {
        lab.spawn(lab.rsNs[i]!, ["bun", "scripts/lab/http-server.ts", "--name", `rs${i + 1}`, "--port", "8080"], { stdout: "ignore" });
      }
      for (let i = 0; i < 3; i++) {
        for (let t = 0; t < 50; t++) {
          if ((await lab.curl(`http://${lab.rsIps[i]}:8080/`, { timeoutMs: 1000 })).status === 200) break;
          await Bun.sleep(100);
        }
      }
    }, 60_000);
    afterAll(async () => {
      await lab?.down();
    }, 30_000);

    /** Who answers a new connection from `from` (client address) to VIP:port. */
    async function who(port = 80, from = lab.clientIp): Promise<string> {
      const r = await lab.exec(lab.clientNs, [
        "curl", "-s", "--max-time", "5", "--interface", from, `http://${lab.vips[0]}:${port}/`,
      ], { timeoutMs: 8000 });
      return r.code === 0 ? r.stdout.trim() : `error:${r.code}`;
    }

    function config(service: object, extra: object = {}): object {
      return {
        interface: lab.directorIf, flowTableSize: 1024, ...extra,
        services: [{
          protocol: "tcp", address: lab.vips[0], port: 80,
          realServers: lab.rsIps.map((address) => ({ address })),
          ...service,
        }],
      };
    }

    test("sh: a client always lands on the same real server", async () => {
      const d = await DirectorProcess.start(lab, { config: config({ scheduler: "sh" }) });
      try {
        const a: string[] = [];
        const b: string[] = [];
        for (let i = 0; i < 8; i++) {
          a.push(await who(80, lab.clientIp));
          b.push(await who(80, CLIENT_B));
        }
        expect(new Set(a).size).toBe(1);
        expect(new Set(b).size).toBe(1);
        expect(a[0]).toMatch(/^rs[123]$/);
        expect(b[0]).toMatch(/^rs[123]$/);
      } finally {
        await d.stop();
      }
    }, 60_000);

    for (const scheduler of ["lc", "wlc"]) {
      test(`${scheduler}: new connections avoid the server holding an open connection`, async () => {
        const d = await DirectorProcess.start(lab, { config: config({ scheduler }) });
        // A slow 4 MB download keeps one connection ESTABLISHED (1 active = overhead 256).
        const slow = lab.spawn(lab.clientNs, [
          "curl", "-s", "-o", "/dev/null", "--limit-rate", "1M", "--max-time", "20", `http://${lab.vips[0]}/bytes/4000000`,
        ]);
        try {
          let holder = "";
          for (let t = 0; t < 50 && !holder; t++) {
            await Bun.sleep(100);
            const s = await d.stats();
            holder = s.services[0]!.dests.find((x) => x.activeConns === 1)?.address ?? "";
          }
          expect(holder).not.toBe("");
          const holderName = `rs${lab.rsIps.indexOf(holder) + 1}`;
          const got: string[] = [];
          for (let i = 0; i < 6; i++) got.push(await who());
          // Each short connection lingers as inactive (FIN_WAIT): overheads 1, 2, 3 stay far
          // below the holder's 256, so none of the six reaches it and the other two share them.
          expect(got).not.toContain(holderName);
          const others = ["rs1", "rs2", "rs3"].filter((n) => n !== holderName);
          expect(got.filter((n) => n === others[0]).length).toBe(3);
          expect(got.filter((n) => n === others[1]).length).toBe(3);
        } finally {
          slow.kill();
          await slow.exited;
          await d.stop();
        }
      }, 60_000);
    }

    test("port 0 with persistence: one client's connections to two ports share a server, another client may differ", async () => {
      const d = await DirectorProcess.start(lab, {
        config: config({ port: 0, scheduler: "rr", persistence: { timeout: 300 } }),
      });
      try {
        const a80 = await who(80, lab.clientIp);
        const a8080 = await who(8080, lab.clientIp);
        const b8080 = await who(8080, CLIENT_B);
        const b80 = await who(80, CLIENT_B);
        expect(a80).toMatch(/^rs[123]$/);
        expect(a8080).toBe(a80);
        expect(b80).toBe(b8080);
        // rr: the second client's template takes the next server in list order.
        expect(b80).not.toBe(a80);
        for (let i = 0; i < 4; i++) expect(await who(i % 2 ? 80 : 8080, lab.clientIp)).toBe(a80);
      } finally {
        const s = await d.stop();
        expect(s.policy.persistHits).toBeGreaterThanOrEqual(6);
      }
    }, 60_000);

    test("after the persistence timeout (and the client's connections are gone) it is scheduled afresh", async () => {
      // -p 1 and FIN_WAIT 1 s: a template lives while it controls a connection, and a closed DR
      // connection sits in FIN_WAIT (the director never sees the server's FIN).
      const d = await DirectorProcess.start(lab, {
        config: config({ scheduler: "rr", persistence: { timeout: 1 } }, { timeouts: { tcp: 900, tcpFin: 1, udp: 300 } }),
      });
      try {
        const first = await who();
        expect(await who()).toBe(first);
        let s = await d.stats();
        expect(s.policy.templatesActive).toBe(1);
        for (let t = 0; t < 60 && s.policy.templatesActive > 0; t++) {
          await Bun.sleep(100);
          s = await d.stats();
        }
        expect(s.policy.templatesActive).toBe(0);
        const next = await who();
        expect(next).not.toBe(first); // rr moved on
      } finally {
        await d.stop();
      }
    }, 60_000);
  });
}
