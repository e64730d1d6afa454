// What a configured service answers for, and how to name it, in one place for the director, the
// kernel guard and the logs.
import type { ServiceConfig, ServiceMatch } from "./model.ts";

/** The (protocol, VIP, port) pairs a service receives: its own, or a fwmark service's members. */
export function serviceMatches(s: ServiceConfig): ServiceMatch[] {
  return s.fwmark !== null ? s.members : [{ protocol: s.protocol, address: s.address, port: s.port }];
}

/** ipvsadm's way of naming a service: "TCP 198.18.0.100:80", "UDP 198.18.0.100:0", "FWM 1". */
export function serviceLabel(s: ServiceConfig): string {
  return s.fwmark !== null ? `FWM ${s.fwmark}` : `${s.protocol.toUpperCase()} ${s.address}:${s.port}`;
}

/** A stable identity string for a service (slots and template ids are keyed by it). */
export function serviceIdentity(s: ServiceConfig): string {
  return s.fwmark !== null ? `fwm:${s.fwmark}` : `${s.protocol}:${s.address}:${s.port}`;
}
