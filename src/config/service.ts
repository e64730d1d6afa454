// The service model: what identifies a virtual service, how it is named, what it answers for and
// the defaults ipvsadm gives it. Config, control, CLI, metrics and the director all ask here, so
// "which service is this" has one answer.
import type { Protocol, ServiceConfig, ServiceMatch } from "./model.ts";

/** IPVS_SVC_PERSISTENT_TIMEOUT: what `-p` without a number means. */
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;
/** ipvsadm's default persistence granularity: one client address. */
export const DEFAULT_PERSISTENCE_NETMASK = "255.255.255.255";
/** ipvsadm -w's default. */
export const DEFAULT_WEIGHT = 1;

/** Which service: ipvsadm's -t/-u ADDR:PORT or -f MARK. */
export type ServiceKey = { fwmark: number } | { protocol: Protocol; address: string; port: number };

/** The parts of a service its identity is made of (a ServiceConfig, or a row of statistics). */
export interface ServiceIdentityFields {
  fwmark: number | null;
  protocol: Protocol | string;
  address: string;
  port: number;
}

export function serviceKey(s: ServiceIdentityFields): ServiceKey {
  return s.fwmark !== null ? { fwmark: s.fwmark } : { protocol: s.protocol as Protocol, address: s.address, port: s.port };
}

/** Whether `s` is the service `k` names. */
export function isService(s: ServiceIdentityFields, k: ServiceKey): boolean {
  return "fwmark" in k
    ? s.fwmark === k.fwmark
    : s.fwmark === null && s.protocol === k.protocol && s.address === k.address && s.port === k.port;
}

/** A stable identity string (maps, slots and template ids are keyed by it): "tcp:198.18.0.100:80",
 *  "fwm:1". */
export function keyIdentity(k: ServiceKey): string {
  return "fwmark" in k ? `fwm:${k.fwmark}` : `${k.protocol}:${k.address}:${k.port}`;
}

export function serviceIdentity(s: ServiceIdentityFields): string {
  return s.fwmark !== null ? `fwm:${s.fwmark}` : `${s.protocol}:${s.address}:${s.port}`;
}

/** ipvsadm's way of naming a service: "TCP 198.18.0.100:80", "UDP 198.18.0.100:0", "FWM 1". */
export function keyName(k: ServiceKey): string {
  return "fwmark" in k ? `FWM ${k.fwmark}` : `${k.protocol.toUpperCase()} ${k.address}:${k.port}`;
}

export function serviceLabel(s: ServiceIdentityFields): string {
  return keyName(serviceKey(s));
}

/** The lower-case form messages use: "tcp 198.18.0.100:80", "fwmark 1". */
export function keyLabel(k: ServiceKey): string {
  return "fwmark" in k ? `fwmark ${k.fwmark}` : `${k.protocol} ${k.address}:${k.port}`;
}

/** The service `k` names in `services`, or undefined. */
export function findService<S extends ServiceIdentityFields>(services: readonly S[], k: ServiceKey): S | undefined {
  return services.find((s) => isService(s, k));
}

/** The (protocol, VIP, port) pairs a service receives: its own, or a fwmark service's members. */
export function serviceMatches(s: ServiceConfig): ServiceMatch[] {
  return s.fwmark !== null ? s.members : [{ protocol: s.protocol, address: s.address, port: s.port }];
}

/** `tcp 198.18.0.100:80` */
export function showMatch(m: ServiceMatch): string {
  return `${m.protocol} ${m.address}:${m.port}`;
}
