// Run inside a namespace by fanout.test.ts (`ip netns exec NS bun fanout_probe.ts TX RX`): sends
// frames out of TX (a plain ring) into its veth peer RX, where two rings form a fanout group
// (RingSet), and prints as JSON which ring got which frames, first spread by client address and
// then under a /24 mask, on rings of the version given (2 or 3). A separate process because rings
// open in the caller's namespace.
import { RingSet } from "../../src/dataplane/ring_set.ts";
import { Ring } from "../../src/dataplane/ffi.ts";
import { DESC, DESC_SIZE, VERDICT_PASS } from "../../src/dataplane/layout.ts";
import { arp, icmp, ip, mac, quote, udp } from "./packet_builder.ts";

const [txIf, rxIf, versionArg] = process.argv.slice(2) as [string, string, string];
const version = versionArg === "2" ? 2 : 3;
// 256 KiB hold thousands of small frames in V3 blocks but only 128 of V2's 2 KiB frames: 2 MiB for
// V2, so neither ring drops any of the ~200 frames a round sends before it drains.
const PARAMS = {
  version: version as 2 | 3, blockSize: 4096, blockCount: version === 2 ? 512 : 64, blockTimeoutMs: 1,
  descCapacity: 1024, slotCapacity: 4,
};
const CLIENTS = 64;
const VIP = ip("198.18.0.100");
const KIND_IPV4 = 1;
const KIND_ARP_REQUEST = 2;
const KIND_ICMP_ERROR = 5;
/** One router sends every ICMP error: hashing its address would put them all in one ring. */
const ROUTER_IP = ip("198.18.9.1");

const rings = RingSet.open(rxIf, PARAMS, 2);
const sender = Ring.open(txIf, PARAMS);
const dst = rings.mac;
const src = mac("02:00:00:00:00:01");

interface RingSeen { ipv4: number; arp: number; sources: number[]; icmpClients: number[] }

/** Everything each ring holds until both stay empty for 50 ms; blocks are handed back at once. */
async function drain(): Promise<RingSeen[]> {
  const seen: RingSeen[] = rings.rings.map(() => ({ ipv4: 0, arp: 0, sources: [], icmpClients: [] }));
  let quietSince = performance.now();
  while (performance.now() - quietSince < 50) {
    rings.rings.forEach((r, i) => {
      const n = r.rx(0);
      for (let d = 0; d < n; d++) {
        const kind = r.desc8[d * DESC_SIZE + DESC.kind];
        if (kind === KIND_IPV4) {
          seen[i]!.ipv4++;
          seen[i]!.sources.push(r.desc32[(d * DESC_SIZE + DESC.saddr) / 4]! & 0xff);
        } else if (kind === KIND_ICMP_ERROR) {
          seen[i]!.icmpClients.push(r.desc32[(d * DESC_SIZE + DESC.saddr) / 4]! & 0xff); // the quoted client
        } else if (kind === KIND_ARP_REQUEST) {
          seen[i]!.arp++;
        }
        r.verdicts[d] = VERDICT_PASS; // nothing is sent
      }
      r.tx();
      if (n > 0) quietSince = performance.now();
    });
    await Bun.sleep(2);
  }
  return seen;
}

/** Two UDP frames from each of CLIENTS addresses 198.18.5.0..63 (different ports), one ICMP error
 *  from the router about each client's reply, one ARP. */
function sendAll(): void {
  for (let round = 0; round < 2; round++) {
    for (let k = 0; k < CLIENTS; k++) {
      sender.sendFrame(udp({
        eth: { dst, src }, ip: { src: ip(`198.18.5.${k}`), dst: VIP }, sport: 10000 + round, dport: 5000, padTo: 60,
      }));
    }
  }
  for (let k = 0; k < CLIENTS; k++) {
    const reply = udp({ eth: { dst, src }, ip: { src: VIP, dst: ip(`198.18.5.${k}`) }, sport: 5000, dport: 10000 });
    sender.sendFrame(icmp({ eth: { dst, src }, ip: { src: ROUTER_IP, dst: VIP }, type: 3, code: 4, rest: 1400, body: quote(reply) }));
  }
  sender.sendFrame(arp({
    eth: { dst: mac("ff:ff:ff:ff:ff:ff"), src }, op: 1, senderMac: src, senderIp: ip("198.18.5.200"), targetIp: VIP, padTo: 60,
  }));
}

await drain(); // whatever the interface brought up (IPv6 router solicitations and the like)
sendAll();
const byClient = await drain();
rings.setFanoutMask(0xffffff00);
sendAll();
const masked = await drain();
console.log(JSON.stringify({ fanoutGroup: rings.rings[0]!.fanoutGroups!.ring, byClient, masked }));
sender.close();
rings.close();
