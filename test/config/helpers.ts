// What the three config front-end tests (JSON schema, ipvsadm-save rules, keepalived.conf) share:
// the config the schema returns, built from a few arguments, and the two ways to open a result.

import { formatConfigError, type ConfigError } from "../../src/config/load.ts";
import type { DirectorConfig, RealServerConfig, ServiceConfig } from "../../src/config/model.ts";

/** A real server as the schema returns it: DR, no thresholds unless given. */
export function rs(address: string, port: number, weight = 1, more: Partial<RealServerConfig> = {}): RealServerConfig {
  return { address, port, weight, forward: "dr", upperThreshold: 0, lowerThreshold: 0, ...more };
}

/** The director settings of a file that sets none but the interface eth0 (every front end gives the same). */
export const DIRECTOR_DEFAULTS: Omit<DirectorConfig, "services"> = {
  interface: "eth0",
  interfaces: ["eth0"],
  timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
  tunnelSource: null,
  vipMode: "auto",
  ring: { version: 2, blockSize: 8192, blockCount: 4096, blockTimeoutMs: 1 },
  flowTableSize: 1048576,
  workers: { count: 1, cpus: null },
  metrics: null,
};

/** No scheduler flags, the default mh table size. */
export const NO_FLAGS = { port: false, fallback: false, mhTableSize: 4093 };

/** A service as the schema returns it with nothing set: override what the test is about. */
function service(rest: Partial<ServiceConfig>): ServiceConfig {
  return {
    protocol: "tcp",
    address: "",
    port: 0,
    fwmark: null,
    members: [],
    scheduler: "rr",
    schedulerFlags: NO_FLAGS,
    persistence: null,
    realServers: [],
    ...rest,
  };
}

/** A VIP:port service builder whose scheduler defaults to the front end's default (`scheduler`). */
export function vipWith(scheduler: ServiceConfig["scheduler"]): (protocol: "tcp" | "udp", address: string, port: number, rest: Partial<ServiceConfig>) => ServiceConfig {
  return (protocol, address, port, rest) => service({ protocol, address, port, scheduler, ...rest });
}

/** A firewall-mark service as the schema returns it: protocol tcp, no address, port 0, scheduler rr unless given. */
export function fwService(fwmark: number, members: ServiceConfig["members"], rest: Partial<ServiceConfig>): ServiceConfig {
  return service({ fwmark, members, ...rest });
}

/** The members of the firewall-mark service the tests write most: tcp 198.18.0.100 on ports 80 and 443. */
export const WEB_MEMBERS: ServiceConfig["members"] = [
  { protocol: "tcp", address: "198.18.0.100", port: 80 },
  { protocol: "tcp", address: "198.18.0.100", port: 443 },
];

type Failed = { ok: false; errors: ConfigError[] };

/** The successful result, or a throw that lists the errors. */
export function okOf<T extends { ok: true; config: DirectorConfig }>(r: T | Failed): T {
  if (!r.ok) throw new Error(`expected a config, got:\n${r.errors.map(formatConfigError).join("\n")}`);
  return r as T;
}

export function configOf(r: { ok: true; config: DirectorConfig } | Failed): DirectorConfig {
  return okOf(r).config;
}

export function errorsOf(r: { ok: true; config: DirectorConfig } | Failed): ConfigError[] {
  if (r.ok) throw new Error(`expected errors, got a config: ${JSON.stringify(r.config)}`);
  return r.errors;
}
