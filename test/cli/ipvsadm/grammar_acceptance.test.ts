// One grammar: every row of one table of ipvsadm lines goes through the three front ends that read
// ipvsadm syntax, and they must build the same table or give the same refusal.
//   (a) the rules file: parseIpvsadmRules (serve --rules, check --rules, reload);
//   (b) `ipvsadm -R` of the same text on a bare Control;
//   (c) the same lines one by one as single commands on a bare Control, directives turned into the
//       --members of their -A -f line, as an operator would type them.
// A refusal is the same when its line, option as written, value as written and ringvs's message
// are (the command line also shows ipvsadm's own text and exit code, which each row states too).
// A few rows also go through the real `ringvs check --rules FILE` process.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIpvsadmRules } from "../../../src/config/ipvsadm_rules.ts";
import { formatConfigError, type ConfigError } from "../../../src/config/load.ts";
import { runIpvsadm, runIpvsadmReport } from "../../../src/cli/ipvsadm/index.ts";
import type { LineProblem } from "../../../src/cli/ipvsadm/problem.ts";
import type { RestoredLine } from "../../../src/cli/ipvsadm/restore.ts";
import { bareControl, words } from "./helpers.ts";

interface Refusal {
  /** The line the problem was written on. */
  line: number;
  option: string;
  value?: string | number;
  message: string;
  /** What the command line prints for it (stderr without the newline) and exits with. */
  ipvsadm: string;
  code: number;
  /** What a single command says instead: the file's words point at other lines, a member is
   *  given with --members, the command line hints at --members. */
  single?: { option?: string; message?: string; ipvsadm?: string };
  /** -R and the command line report it, as ipvsadm does; a rules file leaves it out, as the echo of
   *  the refused -A line before it. */
  echo?: true;
  /** A broken `# ringvs: fwmark` line: -R refuses the whole input before anything runs. */
  directive?: true;
}

interface Row {
  name: string;
  lines: string[];
  /** For a good table: what `ipvsadm -S -n` saves of it (and the timeouts, when --set is in it). */
  saves?: string;
  timeouts?: { tcp: number; tcpFin: number; udp: number };
  refused?: Refusal[];
}

const KNOWN_SCHEDULERS = "rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos";
const NOT_DEFINED = (svc: string) => `service ${svc} is not defined by an earlier -A line (ipvsadm: "Service not defined")`;

const VIP = "198.18.0.100";
const A = `-A -t ${VIP}:80 -s rr`;

const ROWS: Row[] = [
  // ----- tables every front end builds alike
  {
    name: "ipvsadm-save -n output: wrr with DR real servers",
    lines: [`-A -t ${VIP}:80 -s wrr`, `-a -t ${VIP}:80 -r 198.18.0.11:80 -g -w 3`, `-a -t ${VIP}:80 -r 198.18.0.12 -g -w 2`],
    saves: `-A -t ${VIP}:80 -s wrr\n-a -t ${VIP}:80 -r 198.18.0.11:80 -g -w 3\n-a -t ${VIP}:80 -r 198.18.0.12:80 -g -w 2\n`,
  },
  {
    name: "persistence with a mask",
    lines: [`-A -t ${VIP}:443 -s rr -p 3600 -M 255.255.255.0`],
    saves: `-A -t ${VIP}:443 -s rr -p 3600 -M 255.255.255.0\n`,
  },
  {
    name: "-p without a value is 360, also before another option",
    lines: [`-A -t ${VIP}:22 -p -s rr`, `-A -t ${VIP}:23 -s rr -p`],
    saves: `-A -t ${VIP}:22 -s rr -p 360\n-A -t ${VIP}:23 -s rr -p 360\n`,
  },
  {
    name: "drift: -p +30 is 30, as ipvsadm's strtol reads it",
    lines: [`-A -t ${VIP}:80 -s rr -p +30`],
    saves: `-A -t ${VIP}:80 -s rr -p 30\n`,
  },
  {
    name: "-w +3 and weight 0; defaults -s wlc, -g, -w 1",
    lines: [`-A -t ${VIP}:80`, `-a -t ${VIP}:80 -r 198.18.0.11 -w +3`, `-a -t ${VIP}:80 -r 198.18.0.12 -w 0`, `-a -t ${VIP}:80 -r 198.18.0.13`],
    saves: `-A -t ${VIP}:80 -s wlc\n-a -t ${VIP}:80 -r 198.18.0.11:80 -g -w 3\n-a -t ${VIP}:80 -r 198.18.0.12:80 -g -w 0\n-a -t ${VIP}:80 -r 198.18.0.13:80 -g -w 1\n`,
  },
  {
    name: "thresholds -x and -y",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -x 100 -y 75`, `-a -t ${VIP}:80 -r 198.18.0.12 --u-threshold=5`],
    saves: `${A}\n-a -t ${VIP}:80 -r 198.18.0.11:80 -g -w 1 -x 100 -y 75\n-a -t ${VIP}:80 -r 198.18.0.12:80 -g -w 1 -x 5\n`,
  },
  {
    name: "TUN with --tun-type ipip, beside DR",
    lines: [A, `-a -t ${VIP}:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip`, `-a -t ${VIP}:80 -r 198.18.0.12 --ipip`, `-a -t ${VIP}:80 -r 198.18.0.13 -g`],
    // -S sorts real servers by address.
    saves: `${A}\n-a -t ${VIP}:80 -r 198.18.0.12:80 -i -w 1 --tun-type ipip\n-a -t ${VIP}:80 -r 198.18.0.13:80 -g -w 1\n-a -t ${VIP}:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip\n`,
  },
  {
    name: "-b: sh named flags, numbered flags on sh and on rr, mh-port",
    lines: [
      `-A -t ${VIP}:80 -s sh -b sh-fallback,sh-port`,
      `-A -t ${VIP}:81 -b flag-2 -s sh`,
      `-A -t ${VIP}:82 -s rr -b flag-1,flag-2,flag-3`,
      `-A -t ${VIP}:83 -s mh -b mh-port`,
    ],
    saves: `-A -t ${VIP}:80 -s sh -b sh-fallback,sh-port\n-A -t ${VIP}:81 -s sh -b sh-port\n-A -t ${VIP}:82 -s rr\n-A -t ${VIP}:83 -s mh -b mh-port\n`,
  },
  {
    name: "firewall mark with members from a directive, which may follow the service",
    lines: ["-A -f 1 -s rr -p 360", "-a -f 1 -r 198.18.0.11:0 -g -w 1", "-a -f 1 -r 198.18.0.12 -g -w 2", `# ringvs: fwmark 1 = tcp ${VIP}:80, tcp ${VIP}:443`],
    saves: `# ringvs: fwmark 1 = tcp ${VIP}:80, tcp ${VIP}:443\n-A -f 1 -s rr -p 360\n-a -f 1 -r 198.18.0.11:0 -g -w 1\n-a -f 1 -r 198.18.0.12:0 -g -w 2\n`,
  },
  {
    name: "port 0 with persistence; no port is port 0",
    lines: [`-A -t ${VIP}:0 -s rr -p 600`, `-a -t ${VIP}:0 -r 198.18.0.11:0`, `-A -u ${VIP} -s rr -p`, `-a -u ${VIP} -r 198.18.0.12`],
    saves: `-A -t ${VIP}:0 -s rr -p 600\n-a -t ${VIP}:0 -r 198.18.0.11:0 -g -w 1\n-A -u ${VIP}:0 -s rr -p 360\n-a -u ${VIP}:0 -r 198.18.0.12:0 -g -w 1\n`,
  },
  {
    name: "long options, --opt=value, clusters, a leading ipvsadm, comments and blank lines",
    lines: [
      "# director rules",
      "",
      `--add-service --tcp-service ${VIP}:80 --scheduler wrr --persistent=120 --netmask 255.255.255.0`,
      `ipvsadm --add-server --tcp-service=${VIP}:80 --real-server 198.18.0.11:80 --gatewaying --weight 5  # primary`,
      `/sbin/ipvsadm -a -t ${VIP}:80 -r198.18.0.12 -gw 4`,
      `-At ${VIP}:81 -s rr`,
    ],
    saves: `-A -t ${VIP}:80 -s wrr -p 120 -M 255.255.255.0\n-a -t ${VIP}:80 -r 198.18.0.11:80 -g -w 5\n-a -t ${VIP}:80 -r 198.18.0.12:80 -g -w 4\n-A -t ${VIP}:81 -s rr\n`,
  },
  {
    name: "--set: each value replaces, 0 keeps",
    lines: ["--set 600 60 30", "--set 0 0 45", A],
    saves: `${A}\n`,
    timeouts: { tcp: 600, tcpFin: 60, udp: 45 },
  },
  {
    name: "every IPVS scheduler",
    lines: KNOWN_SCHEDULERS.split(", ").map((s, i) => `-A -t ${VIP}:${1000 + i} -s ${s}`),
    saves: KNOWN_SCHEDULERS.split(", ").map((s, i) => `-A -t ${VIP}:${1000 + i} -s ${s}\n`).join(""),
  },

  // ----- the three drift cases
  {
    name: "drift: -M without -p",
    lines: [`-A -t ${VIP}:81 -s rr -M 255.255.255.0`],
    refused: [{ line: 1, option: "-M", value: "255.255.255.0", message: "has no effect without -p (persistence)", ipvsadm: "-M 255.255.255.0: has no effect without -p (persistence)", code: 2 }],
  },
  {
    name: "drift: a DR real server with a port of its own",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11:81`],
    refused: [{
      line: 2, option: "-r", value: "198.18.0.11:81",
      message: "DR cannot change the port: a real server's port must equal the service port 80 (or be omitted)",
      ipvsadm: "real server 198.18.0.11:81: DR cannot change the port: a real server's port must equal the service port 80 (or be omitted)", code: 2,
    }],
  },
  {
    name: "drift: a TUN real server with a port of its own",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11:8080 -i`],
    refused: [{
      line: 2, option: "-r", value: "198.18.0.11:8080",
      message: "TUN cannot change the port: a real server's port must equal the service port 80 (or be omitted)",
      ipvsadm: "real server 198.18.0.11:8080: TUN cannot change the port: a real server's port must equal the service port 80 (or be omitted)", code: 2,
    }],
  },
  {
    name: "a firewall-mark real server with a port",
    lines: [`# ringvs: fwmark 2 = tcp ${VIP}:80`, "-A -f 2 -s rr", "-a -f 2 -r 198.18.0.11:80"],
    refused: [{
      line: 3, option: "-r", value: "198.18.0.11:80",
      message: "DR cannot change the port: a firewall-mark service's real servers take the port each packet came to, so give port 0 or none",
      ipvsadm: "real server 198.18.0.11:80: DR and TUN cannot change the port; a firewall-mark service's real servers take the port each packet came to, so give 198.18.0.11 or 198.18.0.11:0",
      code: 2,
    }],
  },

  // ----- what ringvs does not do
  {
    name: "-m (NAT)",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -m -w 2`],
    refused: [{ line: 2, option: "-m", message: "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)", ipvsadm: "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)", code: 2 }],
  },
  {
    name: "--masquerading is -m as written",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 --masquerading`],
    refused: [{ line: 2, option: "--masquerading", message: "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)", ipvsadm: "NAT forwarding (-m) is not supported: ringvs does DR (-g) and TUN (-i)", code: 2 }],
  },
  {
    name: "an IPv6 service",
    lines: ["-A -t [2001:db8::1]:80 -s rr"],
    refused: [{ line: 1, option: "-t", value: "[2001:db8::1]:80", message: "IPv6 is not supported yet", ipvsadm: "illegal virtual server address[:port] specified\nringvs: IPv6 is not supported yet", code: 2 }],
  },
  {
    name: "-6 on a firewall-mark service",
    lines: [`# ringvs: fwmark 1 = tcp ${VIP}:80`, "-A -f 1 -6"],
    refused: [{ line: 2, option: "-6", message: "IPv6 is not supported yet", ipvsadm: "IPv6 is not supported yet", code: 2 }],
  },
  {
    name: "a host name",
    lines: ["-A -t www.example.com:80 -s rr"],
    refused: [{
      line: 1, option: "-t", value: "www.example.com:80",
      message: "'www.example.com' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)",
      ipvsadm: "illegal virtual server address[:port] specified\nringvs: 'www.example.com' is not a numeric IPv4 address; host names are not resolved (write the rules with ipvsadm-save -n)",
      code: 2,
    }],
  },
  {
    name: "a service name for the port",
    lines: [`-A -t ${VIP}:http -s rr`],
    refused: [{
      line: 1, option: "-t", value: `${VIP}:http`,
      message: "port 'http' is a service name; only numeric ports are accepted (write the rules with ipvsadm-save -n)",
      ipvsadm: "illegal virtual server address[:port] specified\nringvs: port 'http' is a service name; only numeric ports are accepted (write the rules with ipvsadm-save -n)",
      code: 2,
    }],
  },
  {
    name: "one-packet scheduling (-o)",
    lines: [`-A -u ${VIP}:53 -s rr -o`],
    refused: [{ line: 1, option: "-o", message: "one-packet scheduling (-o) is not supported yet", ipvsadm: "one-packet scheduling (-o) is not supported yet", code: 2 }],
  },
  {
    name: "the ops word ipvsadm-save writes",
    lines: [`-A -u ${VIP}:53 -s rr ops`],
    refused: [{ line: 1, option: "ops", message: "one-packet scheduling (ops) is not supported yet", ipvsadm: "unexpected argument ops", code: 2 }],
  },
  {
    name: "--pe",
    lines: [`-A -t ${VIP}:5060 -s rr -p --pe sip`],
    refused: [{ line: 1, option: "--pe", value: "sip", message: "persistence engines (--pe) are not supported yet", ipvsadm: "persistence engines (--pe) are not supported yet", code: 2 }],
  },
  {
    name: "--tun-type gue",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -i --tun-type gue --tun-port 6080`],
    refused: [{ line: 2, option: "--tun-type", value: "gue", message: "tunnel type 'gue' is not supported yet: ringvs tunnels with IPIP (ipip)", ipvsadm: "tunnel type 'gue' is not supported yet: ringvs tunnels with IPIP (ipip)", code: 2 }],
  },
  {
    name: "--tun-type gue without its port: ipvsadm's own check first",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -i --tun-type gue`],
    refused: [{ line: 2, option: "--tun-type", value: "gue", message: "tunnel type 'gue' is not supported yet: ringvs tunnels with IPIP (ipip)", ipvsadm: "You need to supply the 'tun-port' option for the 'gue' tunnel type", code: 2 }],
  },
  {
    name: "--tun-type without -i",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 --tun-type ipip`],
    refused: [{ line: 2, option: "--tun-type", value: "ipip", message: 'tunnel options need -i (ipvsadm: "Tunnel options conflict with forward method")', ipvsadm: "Tunnel options conflict with forward method", code: 2 }],
  },
  {
    name: "an unknown tunnel type",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -i --tun-type vxlan`],
    refused: [{ line: 2, option: "--tun-type", value: "vxlan", message: "illegal tunnel type: ipvsadm knows ipip, gue and gre", ipvsadm: "illegal tunnel type specified", code: 2 }],
  },
  {
    name: "--tun-port on IPIP",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -i --tun-port 6080`],
    refused: [{ line: 2, option: "--tun-port", value: "6080", message: "tunnel options (--tun-port) are not supported yet: ringvs tunnels with IPIP, which has no port", ipvsadm: "Illegal 'tun-port' option with the 'ipip' tunnel type", code: 2 }],
  },

  // ----- values
  {
    name: "weight out of range",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -w 70000`],
    refused: [{ line: 2, option: "-w", value: 70000, message: "must be 0..65535", ipvsadm: "illegal weight specified", code: 2 }],
  },
  {
    name: "weight not a number, long option",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 --weight=heavy`],
    refused: [{ line: 2, option: "--weight", value: "heavy", message: "must be an integer 0..65535", ipvsadm: "illegal weight specified", code: 2 }],
  },
  {
    name: "threshold not a number",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -x many`],
    refused: [{ line: 2, option: "-x", value: "many", message: "must be an integer 0..2147483647", ipvsadm: "illegal u_threshold specified", code: 2 }],
  },
  {
    name: "lower threshold above the upper one: the kernel's ERANGE",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -x 10 -y 20`],
    refused: [{ line: 2, option: "-y", value: 20, message: 'is higher than the upper threshold 10 (the kernel refuses it: "lower threshold is higher than upper threshold")', ipvsadm: "Numerical result out of range", code: 255 }],
  },
  {
    name: "persistence timeout 0",
    lines: [`-A -t ${VIP}:81 -s rr -p 0`],
    refused: [{ line: 1, option: "-p", value: 0, message: "must be 1..2678400 seconds", ipvsadm: "invalid timeout value `0' specified", code: 2 }],
  },
  {
    name: "persistence timeout not a number, attached",
    lines: [`-A -t ${VIP}:81 -s rr -ptimeout_number`],
    refused: [{ line: 1, option: "-p", value: "timeout_number", message: "invalid timeout: must be a number of seconds", ipvsadm: "invalid timeout value `timeout_number' specified", code: 2 }],
  },
  {
    name: "an unknown scheduler: the kernel's ENOENT",
    lines: [`-A -t ${VIP}:81 --scheduler=lblcx`],
    refused: [{ line: 1, option: "--scheduler", value: "lblcx", message: `unknown scheduler 'lblcx' (IPVS knows ${KNOWN_SCHEDULERS})`, ipvsadm: "Scheduler or persistence engine not found", code: 255 }],
  },
  {
    name: "-b: a flag of another scheduler",
    lines: [`-A -t ${VIP}:81 -s rr -b sh-port`],
    refused: [{ line: 1, option: "-b", value: "sh-port", message: "scheduler flag 'sh-port' belongs to the sh scheduler, not rr (ipvsadm: \"incompatible scheduler flag `sh-port'\")", ipvsadm: "incompatible scheduler flag `sh-port'", code: 2 }],
  },
  {
    name: "-b: two bad flags are two problems",
    lines: [`-A -t ${VIP}:81 -b mh-fallback,mh-port`],
    refused: [
      { line: 1, option: "-b", value: "mh-fallback,mh-port", message: "scheduler flag 'mh-fallback' belongs to the mh scheduler, not wlc (ipvsadm: \"incompatible scheduler flag `mh-fallback'\")", ipvsadm: "incompatible scheduler flag `mh-fallback'", code: 2 },
      { line: 1, option: "-b", value: "mh-fallback,mh-port", message: "scheduler flag 'mh-port' belongs to the mh scheduler, not wlc (ipvsadm: \"incompatible scheduler flag `mh-port'\")", ipvsadm: "incompatible scheduler flag `mh-port'", code: 2 },
    ],
  },
  {
    name: "-b: an unknown flag",
    lines: [`-A -t ${VIP}:81 -s sh -b sh-port,fast`],
    refused: [{ line: 1, option: "-b", value: "sh-port,fast", message: "invalid scheduler flag 'fast' (ipvsadm knows flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)", ipvsadm: "invalid scheduler flag `fast'", code: 2 }],
  },
  {
    name: "-b on -a: ipvsadm stops at the flag, the illegal option says it better",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -b sh-port`],
    refused: [{ line: 2, option: "-b", message: "illegal option with the 'add-server' command", ipvsadm: "incompatible scheduler flag `sh-port'", code: 2 }],
  },
  {
    name: "a non-contiguous persistence mask",
    lines: [`-A -t ${VIP}:81 -s rr -p -M 255.0.255.0`],
    refused: [{ line: 1, option: "-M", value: "255.0.255.0", message: "must be a contiguous netmask (ones then zeros, like 255.255.255.0)", ipvsadm: "-M 255.0.255.0: must be a contiguous netmask (ones then zeros, like 255.255.255.0)", code: 2 }],
  },
  {
    name: "a bad real-server address",
    lines: [A, `-a -t ${VIP}:80 -r 10.0.0.256`],
    refused: [{ line: 2, option: "-r", value: "10.0.0.256", message: "'10.0.0.256' is not an IPv4 address in dotted-quad form", ipvsadm: "illegal real server address[:port] specified\nringvs: '10.0.0.256' is not an IPv4 address in dotted-quad form", code: 2 }],
  },
  {
    name: "a multicast real server: the kernel's EINVAL",
    lines: [A, `-a -t ${VIP}:80 -r 224.0.0.5`],
    refused: [{ line: 2, option: "-r", value: "224.0.0.5", message: "must not be a multicast address", ipvsadm: "Invalid operation.  Possibly wrong module version, address not unicast, ...\nringvs: real server 224.0.0.5: must not be a multicast address", code: 255 }],
  },
  {
    name: "port 0 without persistence",
    lines: [`-A -t ${VIP}:0 -s rr`],
    refused: [{ line: 1, option: "-t", value: `${VIP}:0`, message: 'port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")', ipvsadm: "Zero port specified for non-persistent service", code: 2 }],
  },
  {
    name: "no port and no persistence",
    lines: [`-A -t ${VIP} -s rr`],
    refused: [{ line: 1, option: "-t", value: VIP, message: 'no port given (ipvsadm takes port 0); port 0 (every port of the VIP) needs persistence (ipvsadm: "Zero port specified for non-persistent service")', ipvsadm: "Zero port specified for non-persistent service", code: 2 }],
  },
  {
    name: "fwmark 0",
    lines: ["-A -f 0 -s rr"],
    refused: [{ line: 1, option: "-f", value: "0", message: "invalid fwmark value: must be an integer 1..4294967295", ipvsadm: "invalid fwmark value `0' specified", code: 2 }],
  },

  // ----- the shape of a line
  {
    name: "a misspelt option and its value: two problems, popt's first",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 --weigth 3`],
    refused: [
      { line: 2, option: "--weigth", message: "unknown option", ipvsadm: "--weigth: unknown option", code: 255 },
      { line: 2, option: "3", message: "unexpected argument", ipvsadm: "unexpected argument 3", code: 2 },
    ],
  },
  {
    name: "a missing value",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -w`],
    refused: [{ line: 2, option: "-w", message: "option requires a value", ipvsadm: "-w: missing argument", code: 255 }],
  },
  {
    name: "a value on a flag",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 --gatewaying=yes`],
    refused: [{ line: 2, option: "--gatewaying", value: "yes", message: "option takes no value", ipvsadm: "--gatewaying=yes: option does not take an argument", code: 255 }],
  },
  {
    name: "a stray word",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 extra`],
    refused: [{ line: 2, option: "extra", message: "unexpected argument", ipvsadm: "unexpected argument extra", code: 2 }],
  },
  {
    name: "two forwarding methods",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11 -g -i`],
    refused: [{ line: 2, option: "-i", message: "given twice on this line (with -g)", ipvsadm: "multiple 'forwarding-method' options specified", code: 2 }],
  },
  {
    name: "an option the command does not take",
    lines: [`-A -t ${VIP}:81 -s rr -x 5`],
    refused: [{ line: 1, option: "-x", message: "illegal option with the 'add-service' command", ipvsadm: "Illegal 'u-threshold' option with the 'add-service' command", code: 2 }],
  },
  {
    name: "an option the command needs",
    lines: ["-A -s rr"],
    refused: [{ line: 1, option: "-t", message: "required with the 'add-service' command", ipvsadm: "You need to supply the 'service-address' option for the 'add-service' command", code: 2 }],
  },
  {
    name: "two commands",
    lines: [`-A -a -t ${VIP}:80`],
    refused: [{ line: 1, option: "-a", message: "multiple commands specified (-A, -a)", ipvsadm: "invalid option `-a'", code: 2 }],
  },
  {
    name: "--set with two values",
    lines: ["--set 900 120"],
    refused: [{ line: 1, option: "--set", message: "needs 3 timeout values: tcp tcpfin udp (seconds; 0 keeps the value)", ipvsadm: "--set option requires 3 timeout values", code: 2 }],
  },
  {
    name: "--set with a bad value",
    lines: ["--set 900 2m 300"],
    refused: [{ line: 1, option: "--set", value: "2m", message: "invalid timeout value: must be 0..2678400 seconds (0 keeps the value)", ipvsadm: "invalid timeout value `2m' specified", code: 2 }],
  },

  // ----- the table: duplicates, missing services, members
  {
    name: "a duplicate service",
    lines: [A, `-A -t ${VIP}:80 -s wrr`],
    refused: [{ line: 2, option: "-t", value: `${VIP}:80`, message: "service already exists (defined on line 1)", ipvsadm: "Service already exists", code: 255, single: { message: "service already exists" } }],
  },
  {
    name: "a duplicate real server",
    lines: [A, `-a -t ${VIP}:80 -r 198.18.0.11`, `-a -t ${VIP}:80 -r 198.18.0.11:80 -w 2`],
    refused: [{ line: 3, option: "-r", value: "198.18.0.11:80", message: "real server 198.18.0.11 already exists in this service (added on line 2)", ipvsadm: "Destination already exists", code: 255, single: { message: "real server 198.18.0.11 already exists in this service" } }],
  },
  {
    name: "an undefined service (a how-to's typo)",
    lines: [`-A -t ${VIP}:22 -s rr -p`, "-a -u 198.18.0.101:22 -r 198.18.0.11"],
    refused: [{ line: 2, option: "-u", value: "198.18.0.101:22", message: NOT_DEFINED("udp 198.18.0.101:22"), ipvsadm: "Service not defined", code: 255 }],
  },
  {
    name: "the -a of a refused -A is not also 'not defined' in a file",
    lines: [`-A -t ${VIP}:80 -s lblcx`, `-a -t ${VIP}:80 -r 198.18.0.11`],
    refused: [
      { line: 1, option: "-s", value: "lblcx", message: `unknown scheduler 'lblcx' (IPVS knows ${KNOWN_SCHEDULERS})`, ipvsadm: "Scheduler or persistence engine not found", code: 255 },
      { line: 2, option: "-t", value: `${VIP}:80`, message: NOT_DEFINED(`tcp ${VIP}:80`), ipvsadm: "Service not defined", code: 255, echo: true },
    ],
  },
  {
    name: "a firewall mark without members",
    lines: ["-A -f 7 -s rr"],
    refused: [{
      line: 1, option: "-f", value: "7",
      message: 'firewall mark 7 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 7 = tcp 198.18.0.100:80, tcp 198.18.0.100:443"',
      ipvsadm: 'firewall mark 7 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 7 = tcp 198.18.0.100:80, tcp 198.18.0.100:443"',
      code: 2,
      single: {
        ipvsadm: 'firewall mark 7 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 7 = tcp 198.18.0.100:80, tcp 198.18.0.100:443", or give them with --members "tcp 198.18.0.100:80,tcp 198.18.0.100:443"',
      },
    }],
  },
  {
    name: "a member without a port",
    lines: ["-A -f 3 -s rr", `# ringvs: fwmark 3 = tcp ${VIP}:80, tcp 198.18.0.101`],
    refused: [{
      line: 2, option: "fwmark 3", value: "tcp 198.18.0.101", message: "no port given: write ADDRESS:PORT, or ADDRESS:0 for every port",
      ipvsadm: '--members: "tcp 198.18.0.101": no port given: write ADDRESS:PORT, or ADDRESS:0 for every port (expected "tcp VIP:PORT[,udp VIP:PORT]...")', code: 2,
      directive: true, single: { option: "--members" },
    }],
  },
  {
    name: "a member overlapping a VIP:port service",
    lines: [`-A -t ${VIP}:443 -s rr`, "-A -f 1 -s rr", `# ringvs: fwmark 1 = tcp ${VIP}:80, tcp ${VIP}:443`],
    refused: [{
      line: 3, option: "fwmark 1", value: `tcp ${VIP}:443`,
      message: `tcp ${VIP}:443 overlaps the service on line 1 (tcp ${VIP}:443): a packet must belong to one service`,
      ipvsadm: `tcp ${VIP}:443 overlaps service TCP ${VIP}:443 (tcp ${VIP}:443): a packet must belong to one service`, code: 2,
      single: { option: "--members", message: `tcp ${VIP}:443 overlaps service TCP ${VIP}:443 (tcp ${VIP}:443): a packet must belong to one service` },
    }],
  },
  {
    name: "a VIP:port service overlapping an earlier member",
    lines: ["-A -f 1 -s rr", `# ringvs: fwmark 1 = tcp ${VIP}:0`, `-A -t ${VIP}:443 -s rr`],
    refused: [{
      line: 3, option: "-t", value: `${VIP}:443`,
      message: `tcp ${VIP}:443 overlaps fwmark 1 member on line 2 (tcp ${VIP}:0): a packet must belong to one service`,
      ipvsadm: `tcp ${VIP}:443 overlaps a member of FWM 1 (tcp ${VIP}:0): a packet must belong to one service`, code: 2,
      single: { message: `tcp ${VIP}:443 overlaps a member of FWM 1 (tcp ${VIP}:0): a packet must belong to one service` },
    }],
  },
];

// ---------------------------------------------------------------------------------------------
// The three front ends.

/** A refusal as every front end can be compared on. */
interface Seen {
  line: number;
  option: string;
  value?: unknown;
  message: string;
}

const seen = (line: number, option: string, value: unknown, message: string): Seen =>
  value === undefined ? { line, option, message } : { line, option, value, message };

function fromFile(errors: readonly ConfigError[]): Seen[] {
  return errors.map((e) => seen(e.line ?? 0, e.field, e.value, e.message));
}

/** What a line reports: its problems, less those another one of the line says better. */
const reported = (problems: readonly LineProblem[]) => problems.filter((p) => !p.shadowed);

function fromRestore(restored: readonly RestoredLine[]): Seen[] {
  return restored.flatMap((r) => reported(r.problems).map((p) => seen(p.writtenOn ?? r.line, p.option, p.value, p.message)));
}

/** A row's lines as single commands, as typed at a shell: the directives of a mark become the
 *  --members of its -A -f line. */
function commandLines(lines: readonly string[]): { line: number; argv: string[] }[] {
  const members = new Map<string, string[]>();
  for (const l of lines) {
    const d = /^#\s*ringvs:\s*fwmark\s+(\S+)\s*=\s*(.*)$/.exec(l);
    if (d) members.set(d[1]!, [...(members.get(d[1]!) ?? []), d[2]!]);
  }
  const out: { line: number; argv: string[] }[] = [];
  lines.forEach((l, i) => {
    const shellWords = words(l);
    const comment = shellWords.findIndex((w) => w.startsWith("#"));
    const argv = comment < 0 ? shellWords : shellWords.slice(0, comment);
    if (argv.length === 0) return;
    const mark = /^-A\s.*-f\s*(\S+)/.exec(l)?.[1];
    if (mark !== undefined && members.has(mark)) argv.push("--members", members.get(mark)!.join(", "));
    out.push({ line: i + 1, argv });
  });
  return out;
}

async function throughFile(row: Row) {
  return parseIpvsadmRules(row.lines.join("\n") + "\n", "rules", { interface: "eth0" });
}

async function throughRestore(row: Row) {
  const control = bareControl();
  const stdin = row.lines.join("\n") + "\n";
  const run = await runIpvsadmReport(["-R"], control, { stdin });
  // runIpvsadm is the report's exit, and does the same to a table.
  const plain = bareControl();
  expect(await runIpvsadm(["-R"], plain, { stdin })).toEqual(run.exit);
  expect(plain.current()).toEqual(control.current());
  return { control, run };
}

async function throughCommands(row: Row) {
  const control = bareControl();
  const runs = [];
  for (const { line, argv } of commandLines(row.lines)) runs.push({ line, ...(await runIpvsadmReport(argv, control, {})) });
  return { control, runs };
}

describe("one grammar: rules file, -R and single commands agree, row by row", () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      const file = await throughFile(row);
      const restore = await throughRestore(row);
      const single = await throughCommands(row);

      if (row.saves !== undefined) {
        expect(file.ok ? [] : fromFile(file.errors)).toEqual([]);
        expect(restore.run.exit).toEqual({ code: 0, stdout: "", stderr: "" });
        for (const r of single.runs) expect({ line: r.line, ...r.exit }).toEqual({ line: r.line, code: 0, stdout: "", stderr: "" });
        const table = restore.control.current();
        expect((await runIpvsadmReport(["-S", "-n"], restore.control, {})).exit.stdout).toBe(row.saves);
        if (file.ok) {
          expect(file.config.services).toEqual(table.services);
          expect(file.config.timeouts).toEqual(table.timeouts);
        }
        expect(single.control.current().services).toEqual(table.services);
        expect(single.control.current().timeouts).toEqual(table.timeouts);
        if (row.timeouts) expect(table.timeouts).toEqual(row.timeouts);
        return;
      }

      const refused = row.refused!;
      const expected = (r: Refusal) => seen(r.line, r.option, r.value, r.message);
      // (a) every refusal but the echoes, in line order, nothing else; and no table.
      expect(file.ok ? [] : fromFile(file.errors)).toEqual(refused.filter((r) => !r.echo).map(expected));

      // (b) -R: the same refusals; ipvsadm's text of each line's first, "line N:" before it.
      if (refused[0]!.directive) {
        const r = refused[0]!;
        expect(restore.run.exit).toEqual({ code: 2, stdout: "", stderr: `line ${r.line}: ${r.option}: ${JSON.stringify(r.value)}: ${r.message}\n` });
      } else {
        expect(fromRestore(restore.run.restored!)).toEqual(refused.map(expected));
        const firsts = restore.run.restored!.filter((l) => l.problems.length > 0);
        const firstOf = (line: RestoredLine) => refused.find((r) => r.line === (line.problems[0]!.writtenOn ?? line.line))!;
        expect(restore.run.exit.stderr).toBe(firsts.map((l) => `line ${l.line}: ${firstOf(l).ipvsadm}\n`).join(""));
        expect(restore.run.exit.code).toBe(firsts.at(-1)!.line === restore.run.restored!.at(-1)!.line ? firstOf(firsts.at(-1)!).code : 0);
      }

      // (c) single commands: the same refusals, the first of each line shown as ipvsadm would.
      const failing = single.runs.filter((r) => r.problems.length > 0);
      const singleSeen = failing.flatMap((r) => reported(r.problems).map((p) => ({ option: p.option, value: p.value, message: p.message })));
      expect(singleSeen).toEqual(refused.map((r) => ({ option: r.single?.option ?? r.option, value: r.value, message: r.single?.message ?? r.message })));
      for (const r of failing) {
        const first = refused.find((x) => (x.single?.option ?? x.option) === reported(r.problems)[0]!.option)!;
        expect(r.exit).toEqual({ code: first.code, stdout: "", stderr: `${first.single?.ipvsadm ?? first.ipvsadm}\n` });
      }
    });
  }

  test("the table has the rows the issue asks for", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(ROWS.filter((r) => r.name.startsWith("drift:")).length).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// A few rows through the real `ringvs check --rules FILE`.

const CLI = join(import.meta.dir, "../../../src/cli/main.ts");

describe("ringvs check --rules gives the rules file's answer", () => {
  const dir = mkdtempSync(join(tmpdir(), "ringvs-grammar-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const picked = ["ipvsadm-save -n output: wrr with DR real servers", "drift: -p +30 is 30, as ipvsadm's strtol reads it",
    "drift: -M without -p", "drift: a DR real server with a port of its own", "a misspelt option and its value: two problems, popt's first",
    "the -a of a refused -A is not also 'not defined' in a file", "a member overlapping a VIP:port service"];
  for (const name of picked) {
    const row = ROWS.find((r) => r.name === name)!;
    test(name, async () => {
      const path = join(dir, `${ROWS.indexOf(row)}.rules`);
      writeFileSync(path, row.lines.join("\n") + "\n");
      const r = Bun.spawnSync(["bun", CLI, "check", "--interface", "eth0", "--rules", path], { stdout: "pipe", stderr: "pipe" });
      const file = await throughFile({ ...row });
      const stderr = r.stderr.toString();
      if (row.saves !== undefined) {
        const services = file.ok ? file.config.services : [];
        const servers = services.reduce((n, s) => n + s.realServers.length, 0);
        expect({ code: r.exitCode, stdout: r.stdout.toString(), stderr }).toEqual({
          code: 0, stdout: `ok: ${services.length} service(s), ${servers} real server(s)\n`, stderr: "",
        });
        return;
      }
      const errors = file.ok ? [] : file.errors.map((e) => ({ ...e, source: path }));
      expect(errors.length).toBe(row.refused!.filter((x) => !x.echo).length);
      expect({ code: r.exitCode, stderr }).toEqual({
        code: 1, stderr: errors.map((e) => `ringvs: ${formatConfigError(e)}\n`).join("") + `ringvs: ${errors.length} error(s); nothing started\n`,
      });
    });
  }
});
