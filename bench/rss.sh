#!/usr/bin/env bash
# rss.sh — resident memory of `ringvs serve` with an empty flow table and with FLOWS tracked
# connections (default 1,000,000 UDP flows; flowTableSize 2^21).
#
#   bench/rss.sh
#   FLOWS=500000 RATE=200000 bench/rss.sh
#   WORKERS=2 bench/rss.sh                two packet workers (each with its own flow table)
#
# Lab: client, director, rs1 (drops every IPv4 frame at ingress). ringvs: UDP 198.18.0.100:5000,
# rr, rs1 DR, flowTableSize TABLE (default 2097152), pinned to FWD_CPU. After ready + 2 s
# (JIT, first refresh), VmRSS/RssAnon/RssFile/RssShmem of the bun process (/proc/PID/status, all
# threads: one address space) = "0 connections". Then pktgen sends one datagram for each of FLOWS
# never-seen tuples (source ports 10000..59999 on 198.18.64.0 and up), paced at RATE pps so the
# ring never overflows (ring drops are reported), and after 2 s the same figures again, next to
# the flow table's own count (policy.flowsActive) and ring drops. WORKERS > 1: that many packet
# workers (PACKET_FANOUT), each with a flow table of TABLE entries, and the tuples spread over 256
# source addresses (pktgen -A 256) so every worker gets its share.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, die, lab_up, forwarder helpers

FLOWS=${FLOWS:-1000000}
RATE=${RATE:-400000}
TABLE=${TABLE:-2097152}
WORKERS=${WORKERS:-1}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}

require_root
require_int FLOWS 1 3000000
require_int RATE 1000 2000000
require_int WORKERS 1 2
bench_build

# Lab in namespaces rss<pid>*; lab_cleanup (EXIT) stops ringvs and deletes them.
lab_up rss rss
rs_drop_ipv4 rss_rs
cat >"$TMP/ringvs.json" <<-EOF
	{
	  "interface": "$LAB_DIRECTOR_IF", "vipMode": "arp", "flowTableSize": $TABLE, "workers": { "count": $WORKERS },
	  "services": [{ "protocol": "udp", "address": "$VIP", "port": 5000, "scheduler": "rr",
	                 "realServers": [{ "address": "$LAB_RS_IPS", "forward": "dr" }] }]
	}
EOF
FWD_OUT=$TMP/ringvs.out FWD_ERR=$TMP/ringvs.err
ringvs_start "$TMP/ringvs.json" 120
fwd_wait_ready ringvs

mem() { awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { printf "%s %d  ", $1, $2 / 1024 }' "/proc/$FWD_PID/status"; }
# stats N: the N-th SIGUSR1 snapshot (N counted by the caller: this runs in a subshell).
stats() {
	fwd_stats "$1" | jq -c '{flowsActive: .policy.flowsActive, ringDrops: .shim.kernelDrops, rxFrames: .shim.rxFrames, txFrames: .shim.txFrames}'
}
sleep 2
echo "rss.sh: flowTableSize $TABLE, $WORKERS worker(s), $FLOWS UDP flows at $RATE pps, $(date -u +%FT%TZ)"
echo "0 connections:     $(mem)MiB   $(stats 1)"
spread=1
((WORKERS == 1)) || spread=256
g=$(pktgen_run 50 -s 198.18.64.0 -d "$VIP" -p 5000 -P udp -f "$FLOWS" -c "$FLOWS" -l 64 -r "$RATE" -A "$spread")
sleep 2
echo "after $FLOWS flows: $(mem)MiB   $(stats 2)"
echo "generator: $g"
fwd_stop
