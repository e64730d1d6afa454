// The keepalived.conf front end: the virtual_server blocks operators already run parse to exactly
// the config keepalived would build in IPVS; everything read but not applied is listed with its
// line; NAT and syntax errors are refused on their line.

import { describe, expect, test } from "bun:test";
import { keepalivedToJson, parseKeepalived, UNSUPPORTED_REASONS, type KeepalivedResult } from "../../src/config/keepalived.ts";
import { formatConfigError, parseConfigText } from "../../src/config/load.ts";
import type { ServiceConfig } from "../../src/config/model.ts";
import { errorsOf, fwService, NO_FLAGS, okOf, rs, vipWith, WEB_MEMBERS } from "./helpers.ts";

const { health: HEALTH, outside: OUTSIDE, sorry: SORRY, unknown: UNKNOWN } = UNSUPPORTED_REASONS;

const vip = vipWith("wlc");

/** The director settings the JSON config file gets by default: the import gives the same. */
const JSON_DEFAULTS = (() => {
  const r = parseConfigText(JSON.stringify({ interface: "eth0", services: [{ protocol: "tcp", address: "198.18.0.1", port: 1 }] }), "defaults.json");
  if (!r.ok) throw new Error("the minimal JSON config must parse");
  const { services: _services, ...settings } = r.config;
  return settings;
})();

test("the JSON defaults are ipvsadm's and ringvs's documented ones", () => {
  expect(JSON_DEFAULTS).toMatchObject({
    interface: "eth0",
    timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
    tunnelSource: null,
    vipMode: "auto",
    ring: { version: 2, blockSize: 8192, blockCount: 4096, blockTimeoutMs: 1 },
    flowTableSize: 1 << 20,
  });
});

function parse(text: string, opts: { interface: string; vipMode?: "local" | "arp" | "auto"; tunnelSource?: string | null } = { interface: "eth0" }): KeepalivedResult {
  return parseKeepalived(text, "keepalived.conf", opts);
}

const ok = okOf<Extract<KeepalivedResult, { ok: true }>>;

function services(text: string): ServiceConfig[] {
  return ok(parse(text)).config.services;
}

function problems(text: string): string[] {
  return errorsOf(parse(text)).map(formatConfigError);
}

/** A virtual_server block around `body` (line 1 is the virtual_server line). */
function vs(body: string, head = "198.18.0.100 80"): string {
  return `virtual_server ${head} {\n${body}\n}\n`;
}

const RS1 = "  real_server 198.18.0.11 80 {\n    weight 1\n  }";

// The keepalived.conf of seed 001 (an LVS-NAT how-to), VIP and real servers moved to 198.18.x.
const SEED_NAT = `vrrp_sync_group NC-MAIN-API {
group {
NC-MAIN-API-PUB
}
}
vrrp_instance NC-MAIN-API-PUB {
state BACKUP
interface bond1
virtual_router_id 222
priority 100
advert_int 1
nopreempt
authentication {
auth_type PASS
auth_pass 1111
}
virtual_ipaddress {
198.18.0.100/25 dev bond1
}
}
virtual_server 198.18.0.100 15000 {
delay_loop 6
lb_algo rr
lb_kind NAT
protocol TCP
real_server 198.18.0.11 15000 {
weight 100
TCP_CHECK {
connect_timeout 3
nb_get_retry 3
delay_before_retry 3
connect_port 15000
}
}
real_server 198.18.0.12 15000 {
weight 100
TCP_CHECK {
connect_timeout 3
nb_get_retry 3
delay_before_retry 3
connect_port 15000
}
}
}
`;

describe("the seed documents' keepalived.conf", () => {
  test("as written (lb_kind NAT) it is refused on the lb_kind line", () => {
    expect(problems(SEED_NAT)).toEqual([
      'keepalived.conf:24: lb_kind: "NAT": NAT (masquerading) is not supported: ringvs does DR and TUN',
    ]);
  });

  test("with lb_kind DR it is the whole config, and everything else is listed on its line", () => {
    const r = ok(parse(SEED_NAT.replace("lb_kind NAT", "lb_kind DR")));
    expect(r.config).toEqual({
      ...JSON_DEFAULTS,
      services: [
        vip("tcp", "198.18.0.100", 15000, { scheduler: "rr", realServers: [rs("198.18.0.11", 15000, 100), rs("198.18.0.12", 15000, 100)] }),
      ],
    });
    const checker = (from: number) => [
      { line: from, directive: "TCP_CHECK", reason: HEALTH },
      { line: from + 1, directive: "connect_timeout", reason: HEALTH },
      { line: from + 2, directive: "nb_get_retry", reason: HEALTH },
      { line: from + 3, directive: "delay_before_retry", reason: HEALTH },
      { line: from + 4, directive: "connect_port", reason: HEALTH },
    ];
    expect(r.unsupported).toEqual([
      { line: 1, directive: "vrrp_sync_group", reason: OUTSIDE },
      { line: 6, directive: "vrrp_instance", reason: OUTSIDE },
      { line: 22, directive: "delay_loop", reason: HEALTH },
      ...checker(28),
      ...checker(37),
    ]);
  });

  test("with lb_kind TUN the real servers tunnel", () => {
    const [s] = services(SEED_NAT.replace("lb_kind NAT", "lb_kind TUN"));
    expect(s.realServers).toEqual([rs("198.18.0.11", 15000, 100, { forward: "tun" }), rs("198.18.0.12", 15000, 100, { forward: "tun" })]);
  });
});

describe("DR and TUN services", () => {
  // The usual LVS-DR keepalived.conf, as in the keepalived documentation's examples.
  const DR = `! Configuration File for keepalived
global_defs {
   notification_email {
     admin@example.com
   }
   router_id LVS_DEVEL
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        198.18.0.100
    }
}

virtual_server 198.18.0.100 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    persistence_timeout 50
    protocol TCP

    real_server 198.18.0.11 80 {
        weight 3
        HTTP_GET {
            url {
              path /
              status_code 200
            }
            connect_timeout 3
            retry 3
            delay_before_retry 3
        }
    }
    real_server 198.18.0.12 80 {
        weight 1
    }
}

virtual_server 198.18.0.100 53 {
    lb_algo rr
    lb_kind DR
    protocol UDP
    real_server 198.18.0.11 53 {
        weight 2
    }
}
`;

  test("parse to exactly ipvsadm's tables", () => {
    const r = ok(parse(DR));
    expect(r.config.services).toEqual([
      vip("tcp", "198.18.0.100", 80, {
        scheduler: "wrr",
        persistence: { timeout: 50, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.11", 80, 3), rs("198.18.0.12", 80, 1)],
      }),
      vip("udp", "198.18.0.100", 53, { scheduler: "rr", realServers: [rs("198.18.0.11", 53, 2)] }),
    ]);
    expect(r.unsupported).toEqual([
      { line: 2, directive: "global_defs", reason: OUTSIDE },
      { line: 9, directive: "vrrp_instance", reason: OUTSIDE },
      { line: 20, directive: "delay_loop", reason: HEALTH },
      { line: 28, directive: "HTTP_GET", reason: HEALTH },
      { line: 29, directive: "url", reason: HEALTH },
      { line: 30, directive: "path", reason: HEALTH },
      { line: 31, directive: "status_code", reason: HEALTH },
      { line: 33, directive: "connect_timeout", reason: HEALTH },
      { line: 34, directive: "retry", reason: HEALTH },
      { line: 35, directive: "delay_before_retry", reason: HEALTH },
    ]);
  });

  test("the caller's settings reach the config", () => {
    const r = ok(parse(DR, { interface: "ens3", vipMode: "arp", tunnelSource: "198.18.0.2" }));
    expect([r.config.interface, r.config.vipMode, r.config.tunnelSource]).toEqual(["ens3", "arp", "198.18.0.2"]);
  });

  test("TUN with persistence granularity, and the older aliases lvs_sched / lvs_method", () => {
    const text = vs(
      [
        "  lvs_sched sh",
        "  lvs_method TUN",
        "  protocol tcp",
        "  persistence_timeout 600",
        "  persistence_granularity 255.255.255.0",
        "  sh-port",
        "  real_server 198.18.1.11 443 { weight 5 }",
        "  real_server 198.18.1.12 443 {",
        "    lvs_method DR",
        "    uthreshold 1000",
        "    lthreshold 750",
        "  }",
      ].join("\n"),
      "198.18.0.100 443",
    );
    expect(services(text)).toEqual([
      vip("tcp", "198.18.0.100", 443, {
        scheduler: "sh",
        schedulerFlags: { port: true, fallback: false, mhTableSize: 4093 },
        persistence: { timeout: 600, netmask: "255.255.255.0" },
        realServers: [
          rs("198.18.1.11", 443, 5, { forward: "tun" }),
          rs("198.18.1.12", 443, 1, { upperThreshold: 1000, lowerThreshold: 750 }),
        ],
      }),
    ]);
  });

  test("keepalived's defaults: wlc, UDP without protocol, the virtual_server weight, port 0 persists 360 s", () => {
    const text = [
      "virtual_server 198.18.0.100 0 {",
      "  lb_kind DR",
      "  weight 7",
      "  real_server 198.18.0.11 {",
      "  }",
      "  real_server 198.18.0.12 0 { weight 2 }",
      "}",
      "virtual_server 198.18.0.101 80 {",
      "  lb_kind DR",
      "  protocol TCP",
      "  persistence_granularity 255.255.0.0",
      "  real_server 198.18.0.11 80",
      "}",
      "virtual_server 198.18.0.102 80 {",
      "  lb_kind DR",
      "  protocol TCP",
      "  persistence_timeout",
      "  real_server 198.18.0.11 80",
      "}",
    ].join("\n");
    expect(services(text)).toEqual([
      vip("udp", "198.18.0.100", 0, {
        persistence: { timeout: 360, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.11", 0, 7), rs("198.18.0.12", 0, 2)],
      }),
      vip("tcp", "198.18.0.101", 80, { persistence: { timeout: 360, netmask: "255.255.0.0" }, realServers: [rs("198.18.0.11", 80)] }),
      vip("tcp", "198.18.0.102", 80, { persistence: { timeout: 360, netmask: "255.255.255.255" }, realServers: [rs("198.18.0.11", 80)] }),
    ]);
  });

  test("every IPVS scheduler is taken by lb_algo", () => {
    for (const s of ["rr", "wrr", "lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh", "fo", "ovf", "twos"]) {
      expect(services(vs(`  lb_algo ${s}\n  lb_kind DR\n${RS1}`))[0].scheduler).toBe(s as ServiceConfig["scheduler"]);
    }
  });

  test("numbered scheduler flags mean fallback/port on sh and mh, and nothing elsewhere (listed)", () => {
    expect(services(vs(`  lb_algo mh\n  lb_kind DR\n  flag-1\n  flag-2\n${RS1}`))[0].schedulerFlags).toEqual({ port: true, fallback: true, mhTableSize: 4093 });
    const r = ok(parse(vs(`  lb_algo rr\n  lb_kind DR\n  flag-1\n  flag-3\n  hashed\n${RS1}`)));
    expect(r.config.services[0].schedulerFlags).toEqual(NO_FLAGS);
    expect(r.unsupported).toEqual([
      { line: 4, directive: "flag-1", reason: "no effect with the rr scheduler: only sh and mh read the numbered flags" },
      { line: 5, directive: "flag-3", reason: "no effect: no IPVS scheduler reads flag-3" },
      { line: 6, directive: "hashed", reason: "no effect: IP_VS_SVC_F_HASHED is the kernel's own bookkeeping flag" },
    ]);
  });

  test("braces on the next line and one-line blocks are keepalived syntax too", () => {
    const text = [
      "virtual_server 198.18.0.100 80",
      "{",
      '  lb_kind "DR"',
      "  protocol TCP",
      '  real_server 198.18.0.11 80 { weight "4" }',
      "  real_server 198.18.0.12 80",
      "  {",
      "    weight 5 }",
      "}",
    ].join("\n");
    expect(services(text)).toEqual([vip("tcp", "198.18.0.100", 80, { realServers: [rs("198.18.0.11", 80, 4), rs("198.18.0.12", 80, 5)] })]);
  });
});

describe("firewall marks and groups", () => {
  test("virtual_server fwmark takes its members from the ringvs directive", () => {
    const text = [
      "# ringvs: fwmark 1 = tcp 198.18.0.100:80, tcp 198.18.0.100:443", // 1
      "virtual_server fwmark 1 {", //                                      2
      "  lb_algo rr",
      "  lb_kind DR",
      "  persistence_timeout 300",
      "  protocol TCP", //                                                 6
      "  real_server 198.18.0.11 80 { weight 2 }", //                      7
      "  real_server 198.18.0.12 { weight 1 }",
      "}",
    ].join("\n");
    const r = ok(parse(text));
    expect(r.config.services).toEqual([
      fwService(1, WEB_MEMBERS, {
        persistence: { timeout: 300, netmask: "255.255.255.255" },
        realServers: [rs("198.18.0.11", 0, 2), rs("198.18.0.12", 0, 1)],
      }),
    ]);
    expect(r.unsupported).toEqual([
      {
        line: 6,
        directive: "protocol",
        reason: "no effect on a firewall-mark service: each member in the ringvs directive names its protocol (keepalived ignores it too)",
      },
      {
        line: 7,
        directive: "real_server",
        reason:
          "port 80 is not applied to a firewall-mark service: its real servers take the port each packet came to (keepalived uses it only for health checks)",
      },
    ]);
  });

  test("a mark without a directive, and a directive without a mark, are errors on their lines", () => {
    expect(problems(vs(`  lb_kind DR\n${RS1}`, "fwmark 3"))).toEqual([
      'keepalived.conf:1: virtual_server: "fwmark 3": firewall mark 3 has no members: the iptables rules that set it are invisible to ringvs, so name the VIP:port pairs it stands for on a line "# ringvs: fwmark 3 = tcp 198.18.0.100:80, tcp 198.18.0.100:443"',
    ]);
    expect(problems(`# ringvs: fwmark 4 = tcp 198.18.0.101:80\n${vs(`  lb_kind DR\n${RS1}`)}`)).toEqual([
      'keepalived.conf:1: fwmark 4: no "virtual_server fwmark 4" (nor a group entry "fwmark 4") defines this firewall-mark service',
    ]);
    expect(problems(`# ringvs: fwmark 4 = sctp 198.18.0.101:80\n${vs(`  lb_kind DR\n${RS1}`, "fwmark 4")}`)).toEqual([
      'keepalived.conf:1: fwmark 4: "sctp 198.18.0.101:80": protocol \'sctp\' must be tcp or udp',
    ]);
    expect(problems(vs(`  lb_kind DR\n${RS1}`, "fwmark 0"))).toEqual([
      'keepalived.conf:1: virtual_server: "fwmark 0": invalid fwmark value: must be an integer 1..4294967295',
    ]);
  });

  test("virtual_server group is one service per entry, as keepalived adds them", () => {
    const text = [
      "# ringvs: fwmark 9 = udp 198.18.0.110:53", //  1
      "virtual_server_group WEB {", //                2
      "  198.18.0.100 80", //                         3
      "  198.18.0.101-102 80", //                     4
      "  fwmark 9", //                                5
      "}",
      "virtual_server group WEB {", //                7
      "  lb_algo lc",
      "  lb_kind TUN",
      "  protocol TCP",
      "  real_server 198.18.1.11 80 { weight 2 }",
      "}",
      "virtual_server_group UNUSED {", //            13
      "  198.18.0.120 80",
      "}",
    ].join("\n");
    const r = ok(parse(text));
    const servers = [rs("198.18.1.11", 80, 2, { forward: "tun" })];
    expect(r.config.services).toEqual([
      vip("tcp", "198.18.0.100", 80, { scheduler: "lc", realServers: servers }),
      vip("tcp", "198.18.0.101", 80, { scheduler: "lc", realServers: servers }),
      vip("tcp", "198.18.0.102", 80, { scheduler: "lc", realServers: servers }),
      fwService(9, [{ protocol: "udp", address: "198.18.0.110", port: 53 }], { scheduler: "lc", realServers: [rs("198.18.1.11", 0, 2, { forward: "tun" })] }),
    ]);
    expect(r.unsupported).toEqual([
      { line: 11, directive: "real_server", reason: expect.stringContaining("port 80 is not applied to a firewall-mark service") },
      { line: 13, directive: "virtual_server_group", reason: "group UNUSED is not used by any virtual_server (keepalived ignores it too)" },
    ]);
  });

  test("group errors name the entry's line", () => {
    const head = "virtual_server group G {\n  lb_kind DR\n  protocol TCP\n" + RS1 + "\n}\n";
    expect(problems(`virtual_server_group G {\n  198.18.0.110-105 80\n  www.example 80\n  198.18.0.1 http\n}\n${head}`)).toEqual([
      'keepalived.conf:2: virtual_server_group G: "198.18.0.110-105 80": the range must end above its start 110 and at most at 255',
      "keepalived.conf:3: virtual_server_group G: \"www.example 80\": 'www.example' is not a numeric IPv4 address; host names are not resolved",
      "keepalived.conf:4: virtual_server_group G: \"198.18.0.1 http\": 'http' is not a port (0..65535)",
    ]);
    expect(problems(head)).toEqual(["keepalived.conf:1: virtual_server: \"group G\": no virtual_server_group named 'G'"]);
    // A schema finding on an expanded service lands on its group entry.
    expect(problems(`virtual_server_group G {\n  198.18.0.100 80\n  198.18.0.100 80\n}\n${head}`)).toEqual([
      'keepalived.conf:3: virtual_server_group G: "198.18.0.100 80": duplicate service tcp 198.18.0.100:80 (already the virtual_server_group G entry on line 2)',
    ]);
  });
});

describe("what is read but not applied is listed, each on its line", () => {
  test("every kind of unsupported directive", () => {
    const text = [
      "global_defs {", //                                   1
      "  router_id LVS_1",
      "}",
      "vrrp_script chk_haproxy {", //                       4
      '  script "killall -0 haproxy"',
      "}",
      "vrrp_instance VI_1 {", //                            7
      "  track_script {",
      "    chk_haproxy",
      "  }",
      "}",
      "static_ipaddress {", //                             12
      "  198.18.0.1/24 dev eth0",
      "}",
      "SSL {", //                                          15
      "  ca /etc/ssl/ca.pem",
      "}",
      "frobnicate yes", //                                 18
      "virtual_server 198.18.0.100 80 {", //               19
      "  lb_kind DR",
      "  protocol TCP",
      "  delay_loop 10", //                                22
      "  quorum 2",
      "  hysteresis 1",
      "  alpha",
      "  omega",
      "  inhibit_on_failure",
      "  ha_suspend",
      "  quorum_up /bin/true",
      "  sorry_server 198.18.0.200 80", //                 30
      "  sorry_server_inhibit",
      "  virtualhost www.example",
      "  made_up_option 1", //                             33
      "  real_server 198.18.0.11 80 {", //                 34
      "    weight 1",
      "    inhibit_on_failure",
      "    notify_up /bin/up", //                          37
      "    notify_down /bin/down",
      "    MISC_CHECK {", //                               39
      "      misc_path /bin/check",
      "    }",
      "    SSL_GET {", //                                  42
      "      url { path /health }",
      "    }",
      "    retry 3", //                                    45
      "    lb_kind DR", //                                 46: only lvs_method belongs here
      "  }",
      "}",
    ].join("\n");
    const r = ok(parse(text));
    expect(r.config.services).toEqual([vip("tcp", "198.18.0.100", 80, { realServers: [rs("198.18.0.11", 80)] })]);
    expect(r.unsupported.map((u) => [u.line, u.directive, u.reason])).toEqual([
      [1, "global_defs", OUTSIDE],
      [4, "vrrp_script", OUTSIDE],
      [7, "vrrp_instance", OUTSIDE],
      [12, "static_ipaddress", OUTSIDE],
      [15, "SSL", HEALTH],
      [16, "ca", HEALTH],
      [18, "frobnicate", UNKNOWN],
      [22, "delay_loop", HEALTH],
      [23, "quorum", HEALTH],
      [24, "hysteresis", HEALTH],
      [25, "alpha", HEALTH],
      [26, "omega", HEALTH],
      [27, "inhibit_on_failure", HEALTH],
      [28, "ha_suspend", HEALTH],
      [29, "quorum_up", HEALTH],
      [30, "sorry_server", SORRY],
      [31, "sorry_server_inhibit", SORRY],
      [32, "virtualhost", HEALTH],
      [33, "made_up_option", UNKNOWN],
      [36, "inhibit_on_failure", HEALTH],
      [37, "notify_up", HEALTH],
      [38, "notify_down", HEALTH],
      [39, "MISC_CHECK", HEALTH],
      [40, "misc_path", HEALTH],
      [42, "SSL_GET", HEALTH],
      [43, "url", HEALTH],
      [43, "path", HEALTH],
      [45, "retry", HEALTH],
      [46, "lb_kind", UNKNOWN],
    ]);
  });

  test("a virtual_server without real servers is ignored, as keepalived does, and listed", () => {
    const r = ok(parse(`${vs("  lb_kind DR\n  protocol TCP")}${vs(`  lb_kind DR\n  protocol TCP\n${RS1}`, "198.18.0.101 80")}`));
    expect(r.config.services.map((s) => s.address)).toEqual(["198.18.0.101"]);
    expect(r.unsupported).toEqual([
      { line: 1, directive: "virtual_server", reason: "no real servers: keepalived ignores such a virtual_server, and so does the import" },
    ]);
    // Nothing left is an empty table, as an empty ipvsadm rules file is: services come at runtime.
    expect(ok(parse(vs("  lb_kind DR"))).config.services).toEqual([]);
  });
});

describe("refusals, each on its line", () => {
  test.each([
    ["lb_kind NAT", "  lb_kind NAT\n" + RS1, ['2: lb_kind: "NAT": NAT (masquerading) is not supported: ringvs does DR and TUN']],
    ["lvs_method NAT", "  lvs_method NAT\n" + RS1, ['2: lvs_method: "NAT": NAT (masquerading) is not supported: ringvs does DR and TUN']],
    [
      "NAT on one real server",
      "  lb_kind DR\n  real_server 198.18.0.11 80 {\n    lvs_method NAT\n  }",
      ['4: lvs_method: "NAT": NAT (masquerading) is not supported: ringvs does DR and TUN'],
    ],
    [
      "no lb_kind (keepalived's default is NAT)",
      RS1,
      ["1: lb_kind: no lb_kind: keepalived then forwards with NAT, which ringvs does not do; add 'lb_kind DR' or 'lb_kind TUN'"],
    ],
    ["lower-case dr", "  lb_kind dr\n" + RS1, ['2: lb_kind: "dr": unknown forwarding method (keepalived knows DR, TUN and NAT, in capitals)']],
    ["SCTP", "  lb_kind DR\n  protocol SCTP\n" + RS1, ['3: protocol: "SCTP": SCTP is not supported: ringvs balances TCP and UDP']],
    ["ops", "  lb_kind DR\n  ops\n" + RS1, ["3: ops: one-packet scheduling (ops) is not supported yet"]],
    ["persistence engine", "  lb_kind DR\n  persistence_engine sip\n" + RS1, ['3: persistence_engine: "sip": persistence engines are not supported yet']],
    ["inet6", "  lb_kind DR\n  ip_family inet6\n" + RS1, ['3: ip_family: "inet6": IPv6 is not supported yet']],
    ["lb_algo twice", "  lb_kind DR\n  lb_algo rr\n  lvs_sched wrr\n" + RS1, ['4: lvs_sched: "wrr": given twice in this block (first on line 3)']],
    ["include", "  lb_kind DR\n  include /etc/keepalived/rs/*.conf\n" + RS1, ['3: include: "/etc/keepalived/rs/*.conf": include is not supported: the import reads one file; put the included blocks into it']],
    ["a non-numeric weight", "  lb_kind DR\n  real_server 198.18.0.11 80 {\n    weight heavy\n  }", ['4: weight: "heavy": must be an integer']],
  ])("%s", (_name, body, expected) => {
    expect(problems(vs(body))).toEqual(expected.map((e) => `keepalived.conf:${e}`));
  });

  test("virtual_server heads", () => {
    expect(problems(vs(`  lb_kind DR\n${RS1}`, "2001:db8::1 80"))).toEqual(['keepalived.conf:1: virtual_server: "2001:db8::1 80": IPv6 is not supported yet']);
    expect(problems(vs(`  lb_kind DR\n${RS1}`, "vip.example 80"))).toEqual([
      "keepalived.conf:1: virtual_server: \"vip.example 80\": 'vip.example' is not a numeric IPv4 address; host names are not resolved",
    ]);
    expect(problems(vs(`  lb_kind DR\n${RS1}`, "198.18.0.100"))).toEqual([
      "keepalived.conf:1: virtual_server: \"198.18.0.100\": expected 'virtual_server VIP PORT', 'virtual_server fwmark N' or 'virtual_server group NAME'",
    ]);
    expect(problems("include /etc/keepalived/conf.d/*.conf\n")).toEqual([
      'keepalived.conf:1: include: "/etc/keepalived/conf.d/*.conf": include is not supported: the import reads one file; put the included blocks into it',
    ]);
  });
});

describe("schema findings on the keepalived line", () => {
  test.each([
    ["weight out of range", "  lb_kind DR\n  real_server 198.18.0.11 80 {\n    weight 70000\n  }", ['4: weight: "70000": must be 0..65535']],
    ["the virtual_server weight", "  lb_kind DR\n  weight -1\n" + RS1.replace("    weight 1\n", ""), ['3: weight: "-1": must be 0..65535']],
    ["unknown scheduler", "  lb_kind DR\n  lb_algo fastest\n" + RS1, ["3: lb_algo: \"fastest\": unknown scheduler 'fastest' (IPVS knows rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh, fo, ovf, twos)"]],
    ["sh flag on wlc", "  lb_kind DR\n  sh-port\n" + RS1, ["3: sh-port: scheduler flag 'sh-port' belongs to the sh scheduler, not wlc (ipvsadm: \"incompatible scheduler flag `sh-port'\")"]],
    ["a gappy netmask", "  lb_kind DR\n  persistence_granularity 255.0.255.0\n" + RS1, ['3: persistence_granularity: "255.0.255.0": must be a contiguous netmask (ones then zeros, like 255.255.255.0)']],
    ["persistence 0", "  lb_kind DR\n  persistence_timeout 0\n" + RS1, ['3: persistence_timeout: "0": must be 1..2678400 seconds']],
    [
      "a real server on another port",
      "  lb_kind DR\n  real_server 198.18.0.11 8080",
      ['3: real_server: "198.18.0.11 8080": DR cannot change the port: a real server\'s port must equal the service port 80 (or be omitted)'],
    ],
    [
      "a real server twice",
      "  lb_kind DR\n" + RS1 + "\n  real_server 198.18.0.11 80",
      ['6: real_server: "198.18.0.11 80": duplicate real server 198.18.0.11 (already realServers[0])'],
    ],
    [
      "thresholds the wrong way round",
      "  lb_kind DR\n  real_server 198.18.0.11 80 {\n    uthreshold 10\n    lthreshold 20\n  }",
      ['5: lthreshold: "20": is higher than the upper threshold 10 (the kernel refuses it: "lower threshold is higher than upper threshold")'],
    ],
  ])("%s", (_name, body, expected) => {
    expect(problems(vs(body))).toEqual(expected.map((e) => `keepalived.conf:${e}`));
  });

  test("a clash between two virtual_servers names both lines", () => {
    expect(problems(`${vs(`  lb_kind DR\n${RS1}`)}${vs(`  lb_kind DR\n${RS1}`)}`)).toEqual([
      'keepalived.conf:7: virtual_server: "198.18.0.100 80": duplicate service udp 198.18.0.100:80 (already the virtual_server on line 1)',
    ]);
  });

  test("the caller's interface has no line", () => {
    const r = parse(vs(`  lb_kind DR\n${RS1}`), { interface: "eth0:1" });
    expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([
      "keepalived.conf: interface: \"eth0:1\": 'eth0:1' is an address label (alias), not an interface: use 'eth0'",
    ]);
  });
});

describe("syntax errors", () => {
  test.each([
    ["an unclosed block", "virtual_server 198.18.0.100 80 {\n  lb_kind DR\n  real_server 198.18.0.11 80 {\n}\n", "1:32: unbalanced '{': the block of 'virtual_server' is not closed by the end of the file"],
    ["a stray '}'", "virtual_server 198.18.0.100 80 {\n  lb_kind DR\n}\n}\n", "4:1: unbalanced '}': no block is open here"],
    ["a '{' with nothing before it", "global_defs {\n}\n{\n}\n", "3:1: '{' without a keyword before it"],
    ["an unterminated string", 'vrrp_script x {\n  script "killall -0 haproxy\n}\n', "2:10: unterminated quoted string"],
  ])("%s", (_name, text, expected) => {
    expect(problems(text)).toEqual([`keepalived.conf:${expected}`]);
  });

  test("comments: '!' and '#' start one at a word, not inside a word or a string", () => {
    const text = [
      "! a keepalived comment",
      "virtual_server 198.18.0.100 80 { # opens here",
      "  lb_kind DR ! trailing",
      "  protocol TCP",
      '  real_server 198.18.0.11 80 { weight 2 } # } would unbalance if read',
      "  virtualhost a#b",
      '  sorry_server "198.18.0.200" 80',
      "}",
    ].join("\n");
    const r = ok(parse(text));
    expect(r.config.services).toEqual([vip("tcp", "198.18.0.100", 80, { realServers: [rs("198.18.0.11", 80, 2)] })]);
    expect(r.unsupported.map((u) => u.line)).toEqual([6, 7]);
  });
});

describe("keepalivedToJson", () => {
  const FULL = [
    "# ringvs: fwmark 5 = tcp 198.18.0.105:80, udp 198.18.0.105:0\n",
    vs("  lb_algo mh\n  lb_kind DR\n  protocol TCP\n  mh-fallback\n  mh-port\n  persistence_timeout 120\n  persistence_granularity 255.255.255.0\n" + RS1),
    vs("  lb_algo sh\n  flag-1\n  lb_kind TUN\n  real_server 198.18.1.11 { weight 0\n uthreshold 9 }", "fwmark 5"),
    vs("  lb_kind TUN\n  protocol UDP\n  real_server 198.18.1.12 0", "198.18.0.101 0"),
  ].join("");

  test("renders a file that reads back to exactly the imported config", () => {
    const r = ok(parse(FULL, { interface: "bond0", vipMode: "local", tunnelSource: "198.18.0.2" }));
    const json = keepalivedToJson(r);
    const back = parseConfigText(json, "ringvs.json");
    if (!back.ok) throw new Error(back.errors.map(formatConfigError).join("\n"));
    expect(back.config).toEqual(r.config);
    expect(json.endsWith("}\n")).toBe(true);
  });

  test("the rendered document is the JSON config's own shape", () => {
    const r = ok(parse(FULL));
    const doc = JSON.parse(keepalivedToJson(r));
    expect(doc.services[0]).toEqual({
      protocol: "tcp",
      address: "198.18.0.100",
      port: 80,
      scheduler: "mh",
      schedulerFlags: ["mh-fallback", "mh-port"],
      mhTableSize: 4093,
      persistence: { timeout: 120, netmask: "255.255.255.0" },
      realServers: [{ address: "198.18.0.11", port: 80, weight: 1, forward: "dr", upperThreshold: 0, lowerThreshold: 0 }],
    });
    expect(doc.services[1]).toEqual({
      fwmark: 5,
      members: [
        { protocol: "tcp", address: "198.18.0.105", port: 80 },
        { protocol: "udp", address: "198.18.0.105", port: 0 },
      ],
      scheduler: "sh",
      schedulerFlags: ["sh-fallback"],
      persistence: null,
      realServers: [{ address: "198.18.1.11", port: 0, weight: 0, forward: "tun", upperThreshold: 9, lowerThreshold: 0 }],
    });
    expect(doc.services[2].persistence).toEqual({ timeout: 360, netmask: "255.255.255.255" });
  });
});
