// Gratuitous ARP: announces "VIP is at our MAC" when ringvs answers ARP for a VIP itself, so that
// neighbours (the gateway, clients on the segment) update caches that may point at an old owner.

/** An ARP request for `ip` from `ip` (the form Linux's arping -U sends), broadcast. */
export function gratuitousArp(mac: Uint8Array, ip: number): Uint8Array {
  const f = new Uint8Array(42);
  const dv = new DataView(f.buffer);
  f.fill(0xff, 0, 6);
  f.set(mac, 6);
  dv.setUint16(12, 0x0806);
  dv.setUint16(14, 1); // Ethernet
  dv.setUint16(16, 0x0800); // IPv4
  f[18] = 6;
  f[19] = 4;
  dv.setUint16(20, 1); // request
  f.set(mac, 22);
  dv.setUint32(28, ip);
  // target hardware address stays zero
  dv.setUint32(38, ip);
  return f;
}
