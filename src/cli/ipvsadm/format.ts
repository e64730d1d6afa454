// ipvsadm's listings, printf for printf (ipvsadm.c 1.31: list_all, print_title,
// print_service_entry, print_largenum, print_sched_flags, list_conn/print_conn, list_timeout), and
// its save format (-S, FMT_RULE). Addresses are always printed numerically: ringvs does no DNS or
// /etc/services lookups, so `-L` prints what `-L -n` prints.
//
// One ringvs addition to -S: a real server's -x/-y thresholds follow its line when non-zero
// (ipvsadm 1.31 drops them, so its own save/restore loses them), and a firewall-mark service is
// preceded by its `# ringvs: fwmark N = ...` member line, a comment to ipvsadm-restore.
import type { ConnectionEntry, DestSnapshot, RulesSnapshot, ServiceSnapshot, TrafficStats } from "../../control/control.ts";
import { parseIPv4 } from "../../config/schema.ts";
import { showMatch } from "../../config/service.ts";
import { readsHashFlags } from "../../sched/index.ts";

/** ipvsadm's FMT_* flags. */
export interface ListFormat {
  rule: boolean;
  stats: boolean;
  rate: boolean;
  thresholds: boolean;
  persistentConn: boolean;
  nosort: boolean;
  exact: boolean;
  tunInfo: boolean;
}

export const NO_FORMAT: ListFormat = {
  rule: false, stats: false, rate: false, thresholds: false, persistentConn: false, nosort: false, exact: false, tunInfo: false,
};

/** The IPVS version ipvsadm reports (IP_VS_VERSION_CODE of every kernel since 2.6.x). */
export const IPVS_VERSION = "1.2.1";

const left = (s: string | number, w: number) => String(s).padEnd(w);
const right = (s: string | number, w: number) => String(s).padStart(w);

/** print_largenum: 9 columns, K/M/G/T beyond 100 million unless --exact. */
export function largenum(i: number, exact: boolean): string {
  if (exact) {
    const s = String(i);
    return right(s, s.length <= 8 ? 9 : s.length + 1);
  }
  if (i < 1e8) return right(i, 9);
  if (i < 1e9) return `${right(Math.floor(i / 1e3), 8)}K`;
  if (i < 1e11) return `${right(Math.floor(i / 1e6), 8)}M`;
  if (i < 1e14) return `${right(Math.floor(i / 1e9), 8)}G`;
  return `${right(Math.floor(i / 1e12), 8)}T`;
}

/** ipvs_cmp_services / ipvs_cmp_dests compare with C int subtraction of unsigned values, which
 *  wraps: 10.0.0.1 - 198.18.0.1 is positive as an int, so ipvsadm lists 198.18.x before 10.x. The
 *  same wrap (ToInt32) keeps our order identical to ipvsadm's. */
const cmpU32 = (a: number, b: number) => (a - b) | 0;
const PROTO_NUMBER = { tcp: 6, udp: 17 } as const;

function addrNum(a: string): number {
  return parseIPv4(a) ?? 0;
}

export function cmpServices(a: ServiceSnapshot, b: ServiceSnapshot): number {
  const fa = "fwmark" in a.key ? a.key.fwmark : 0;
  const fb = "fwmark" in b.key ? b.key.fwmark : 0;
  let r = cmpU32(fa, fb);
  if (r !== 0 || "fwmark" in a.key || "fwmark" in b.key) return r;
  const ka = a.key, kb = b.key;
  r = PROTO_NUMBER[ka.protocol] - PROTO_NUMBER[kb.protocol];
  if (r !== 0) return r;
  r = cmpU32(addrNum(ka.address), addrNum(kb.address));
  if (r !== 0) return r;
  return ka.port - kb.port;
}

export function cmpDests(a: DestSnapshot, b: DestSnapshot): number {
  const r = cmpU32(addrNum(a.address), addrNum(b.address));
  return r !== 0 ? r : a.port - b.port;
}

/** Services and their real servers in the order ipvsadm prints them: sorted, or with --nosort in
 *  the kernel's order (real servers newest first, as IPVS lists them). */
export function ordered(snapshot: RulesSnapshot, nosort: boolean): ServiceSnapshot[] {
  if (nosort) return snapshot.services.map((s) => ({ ...s, dests: s.dests.slice().reverse() }));
  return snapshot.services
    .map((s) => ({ ...s, dests: s.dests.slice().sort(cmpDests) }))
    .sort(cmpServices);
}

function forwardName(d: DestSnapshot): string {
  return d.forward === "tun" ? "Tunnel" : "Route";
}

function forwardSwitch(d: DestSnapshot): string {
  return d.forward === "tun" ? "-i" : "-g";
}

/** print_sched_flags: the named flags of sh and mh, fallback first. */
function schedFlags(s: ServiceSnapshot): string {
  const { scheduler, schedulerFlags } = s.options;
  if (!readsHashFlags(scheduler)) return "";
  const out: string[] = [];
  if (schedulerFlags.fallback) out.push(`${scheduler}-fallback`);
  if (schedulerFlags.port) out.push(`${scheduler}-port`);
  return out.join(",");
}

export function title(f: ListFormat): string {
  const prot = left("Prot LocalAddress:Port", 33);
  if (f.stats) return `${prot} ${right("Conns", 8)} ${right("InPkts", 8)} ${right("OutPkts", 8)} ${right("InBytes", 8)} ${right("OutBytes", 8)}\n  -> RemoteAddress:Port\n`;
  if (f.rate) return `${prot} ${right("CPS", 8)} ${right("InPPS", 8)} ${right("OutPPS", 8)} ${right("InBPS", 8)} ${right("OutBPS", 8)}\n  -> RemoteAddress:Port\n`;
  if (f.thresholds) return `${prot} ${left("Uthreshold", 10)} ${left("Lthreshold", 10)} ${left("ActiveConn", 10)} ${left("InActConn", 10)}\n  -> RemoteAddress:Port\n`;
  if (f.persistentConn) return `${prot} ${left("Weight", 9)} ${left("PersistConn", 11)} ${left("ActiveConn", 10)} ${left("InActConn", 10)}\n  -> RemoteAddress:Port\n`;
  if (f.tunInfo) return "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";
  if (!f.rule) return "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
  return "";
}

function statsColumns(st: TrafficStats, exact: boolean): string {
  return [st.conns, st.inPkts, st.outPkts, st.inBytes, st.outBytes].map((n) => largenum(n, exact)).join("");
}

function rateColumns(st: TrafficStats, exact: boolean): string {
  return [st.cps, st.inPps, st.outPps, st.inBps, st.outBps].map((n) => largenum(n, exact)).join("");
}

/** print_service_entry for one service (already in print order). */
export function serviceEntry(s: ServiceSnapshot, f: ListFormat): string {
  const k = s.key;
  let name: string;
  if ("fwmark" in k) name = f.rule ? `-f ${k.fwmark}` : `FWM  ${k.fwmark}`;
  else {
    const vname = `${k.address}:${k.port}`;
    name = f.rule ? `${k.protocol === "udp" ? "-u" : "-t"} ${vname}` : `${left(k.protocol.toUpperCase(), 4)} ${vname}`.slice(0, 33);
  }
  const p = s.options.persistence;
  const flags = schedFlags(s);
  let out = "";
  if (f.rule) {
    if ("fwmark" in k && s.members.length > 0) out += `# ringvs: fwmark ${k.fwmark} = ${s.members.map(showMatch).join(", ")}\n`;
    out += `-A ${name} -s ${s.options.scheduler}`;
    if (p) {
      out += ` -p ${p.timeout}`;
      if (p.netmask !== "255.255.255.255") out += ` -M ${p.netmask}`;
    }
    if (flags) out += ` -b ${flags}`;
  } else if (f.stats) {
    out += left(name, 33) + statsColumns(s.stats, f.exact);
  } else if (f.rate) {
    out += left(name, 33) + rateColumns(s.stats, f.exact);
  } else {
    out += `${name} ${s.options.scheduler}`;
    if (flags) out += ` (${flags})`;
    if (p) {
      out += ` persistent ${p.timeout}`;
      if (p.netmask !== "255.255.255.255") out += ` mask ${p.netmask}`;
    }
  }
  out += "\n";

  for (const d of s.dests) {
    const dname = `${d.address}:${d.port}`.slice(0, f.rule ? undefined : 28);
    if (f.rule) {
      out += `-a ${name} -r ${dname} ${forwardSwitch(d)} -w ${d.weight}`;
      if (d.forward === "tun") out += " --tun-type ipip";
      if (d.upperThreshold) out += ` -x ${d.upperThreshold}`;
      if (d.lowerThreshold) out += ` -y ${d.lowerThreshold}`;
      out += "\n";
    } else if (f.stats) {
      out += `  -> ${left(dname, 28)}${statsColumns(d.stats, f.exact)}\n`;
    } else if (f.rate) {
      out += `  -> ${left(dname, 28)} ${right(d.stats.cps, 8)} ${right(d.stats.inPps, 8)} ${right(d.stats.outPps, 8)}` +
        `${largenum(d.stats.inBps, f.exact)}${largenum(d.stats.outBps, f.exact)}\n`;
    } else if (f.thresholds) {
      out += `  -> ${left(dname, 28)} ${left(d.upperThreshold, 10)} ${left(d.lowerThreshold, 10)} ${left(d.activeConns, 10)} ${left(d.inactiveConns, 10)}\n`;
    } else if (f.persistentConn) {
      out += `  -> ${left(dname, 28)} ${left(d.weight, 9)} ${left(d.persistConns, 11)} ${left(d.activeConns, 10)} ${left(d.inactiveConns, 10)}\n`;
    } else if (f.tunInfo) {
      out += `  -> ${left(dname, 28)} ${left(forwardName(d), 7)} ${left(d.forward === "tun" ? "ipip" : "n/a", 13)} ${left(d.weight, 6)} ${left(d.activeConns, 10)} ${left(d.inactiveConns, 10)}\n`;
    } else {
      out += `  -> ${left(dname, 28)} ${left(forwardName(d), 7)} ${left(d.weight, 6)} ${left(d.activeConns, 10)} ${left(d.inactiveConns, 10)}\n`;
    }
  }
  return out;
}

/** list_all: `-L` (with the version header) or `-S` (FMT_RULE, no header, no title). */
export function listAll(snapshot: RulesSnapshot, f: ListFormat): string {
  let out = f.rule ? "" : `IP Virtual Server version ${IPVS_VERSION} (size=${snapshot.connTableSize})\n`;
  out += title(f);
  for (const s of ordered(snapshot, f.nosort)) out += serviceEntry(s, f);
  return out;
}

/** list_service: `-L -t VIP:PORT` (no version header). */
export function listService(s: ServiceSnapshot, f: ListFormat): string {
  const [one] = ordered({ services: [s], timeouts: { tcp: 0, tcpFin: 0, udp: 0 }, connTableSize: 0 }, f.nosort);
  return title(f) + serviceEntry(one!, f);
}

/** list_timeout. */
export function listTimeout(snapshot: RulesSnapshot): string {
  const t = snapshot.timeouts;
  return `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpFin} ${t.udp}\n`;
}

/** list_conn / print_conn: expire as mm:ss (minutes may exceed 99, as "%02d" allows). ringvs has no
 *  persistence engines, so with --persistent-conn only the title gains the pe columns, as in
 *  ipvsadm for entries without pe data. */
export function listConnections(conns: readonly ConnectionEntry[], persistentConn: boolean): string {
  return connectionsHeader(persistentConn) + connectionLines(conns);
}

/** list_conn's title lines. */
export function connectionsHeader(persistentConn: boolean): string {
  const title = "IPVS connection entries\n";
  return title + (persistentConn
    ? `pro expire ${left("state", 11)} ${left("source", 18)} ${left("virtual", 18)} ${left("destination", 18)} ${left("pe name", 16)} pe_data\n`
    : `pro expire ${left("state", 11)} ${left("source", 18)} ${left("virtual", 18)} destination\n`);
}

/** print_conn for each of `conns`: a listing writes these a page at a time after the header. */
export function connectionLines(conns: readonly ConnectionEntry[]): string {
  let out = "";
  for (const c of conns) {
    const secs = Math.max(0, Math.floor(c.expiresIn));
    const expire = `${String(Math.floor(secs / 60)).padStart(2, "0")}:${String(secs % 60).padStart(2, "0")}`;
    out += `${left(c.protocol.toUpperCase(), 3)} ${left(expire, 6)} ${left(c.state, 11)} ${left(`${c.client}:${c.clientPort}`, 18)} ` +
      `${left(`${c.vip}:${c.vport}`, 18)} ${c.dest}:${c.dport}\n`;
  }
  return out;
}
