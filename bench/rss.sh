#!/usr/bin/env bash
# rss.sh — resident memory of `ringvs serve` with an empty flow table and with FLOWS tracked
# connections (default 1,000,000 UDP flows; flowTableSize 2^21).
#
#   bench/rss.sh
#   FLOWS=500000 RATE=200000 bench/rss.sh
#
# Lab: client, director, rs1 (drops every IPv4 frame at ingress). ringvs: UDP 198.18.0.100:5000,
# rr, rs1 DR, flowTableSize TABLE (default 2097152), pinned to FWD_CPU. After ready + 2 s
# (JIT, first refresh), VmRSS/RssAnon/RssFile/RssShmem of the bun process (/proc/PID/status, all
# threads: one address space) = "0 connections". Then pktgen sends one datagram for each of FLOWS
# never-seen tuples (source ports 10000..59999 on 198.18.64.0 and up), paced at RATE pps so the
# ring never overflows (ring drops are reported), and after 2 s the same figures again, next to
# the flow table's own count (policy.flowsActive) and ring drops.
set -euo pipefail

readonly REPO=$(cd "$(dirname "$0")/.." && pwd)
readonly LAB_SH=$REPO/scripts/lab/lab.sh
readonly B=$REPO/bench/build
readonly VIP=198.18.0.100
FLOWS=${FLOWS:-1000000}
RATE=${RATE:-400000}
TABLE=${TABLE:-2097152}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}

die() {
	echo "rss.sh: $*" >&2
	exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
[[ $FLOWS =~ ^[0-9]+$ ]] && ((FLOWS >= 1 && FLOWS <= 3000000)) || die "FLOWS must be 1..3000000"
[[ $RATE =~ ^[0-9]+$ ]] && ((RATE >= 1000 && RATE <= 2000000)) || die "RATE must be 1000..2000000"
make -s -C "$REPO/native" >/dev/null
make -s -C "$REPO/bench" >/dev/null

readonly PREFIX=rss$$
TMP=$(mktemp -d /tmp/ringvs-rss.XXXXXX)
readonly TMP
FWD_JOB=""
cleanup() {
	local rc=$?
	[[ -z $FWD_JOB ]] || kill -TERM "$FWD_JOB" 2>/dev/null || true
	bash "$LAB_SH" down "$PREFIX" || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eval "$(bash "$LAB_SH" up "$PREFIX" 1)"
ip netns exec "$LAB_RS_NS" nft -f - <<-EOF
	table netdev rss_rs {
		chain drop_ip {
			type filter hook ingress device "eth0" priority -500; policy accept;
			meta protocol ip counter drop
		}
	}
EOF
cat >"$TMP/ringvs.json" <<-EOF
	{
	  "interface": "$LAB_DIRECTOR_IF", "vipMode": "arp", "flowTableSize": $TABLE,
	  "services": [{ "protocol": "udp", "address": "$VIP", "port": 5000, "scheduler": "rr",
	                 "realServers": [{ "address": "$LAB_RS_IPS", "forward": "dr" }] }]
	}
EOF
out=$TMP/ringvs.out
(cd "$REPO" && exec ip netns exec "$LAB_DIRECTOR_NS" taskset -c "$FWD_CPU" timeout -k 5 120 \
	bun src/cli/main.ts serve --config "$TMP/ringvs.json") >"$out" 2>"$TMP/ringvs.err" &
FWD_JOB=$!
for ((i = 0; i < 600; i++)); do grep -q '"event":"ready"' "$out" && break; sleep 0.05; done
grep -q '"event":"ready"' "$out" || die "ringvs did not become ready: $(cat "$TMP/ringvs.err")"
pid=$(grep '"event":"ready"' "$out" | head -1 | jq -r .pid)

mem() { awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { printf "%s %d  ", $1, $2 / 1024 }' "/proc/$pid/status"; }
# stats N: the N-th SIGUSR1 snapshot (N counted by the caller: this runs in a subshell).
stats() {
	local n=$1
	kill -USR1 "$pid"
	for ((i = 0; i < 200; i++)); do (($(grep -c '"event":"stats"' "$out") >= n)) && break; sleep 0.05; done
	grep '"event":"stats"' "$out" | sed -n "${n}p" | jq -c '{flowsActive: .policy.flowsActive, ringDrops: .shim.kernelDrops, rxFrames: .shim.rxFrames, txFrames: .shim.txFrames}'
}
sleep 2
echo "rss.sh: flowTableSize $TABLE, $FLOWS UDP flows at $RATE pps, $(date -u +%FT%TZ)"
echo "0 connections:     $(mem)MiB   $(stats 1)"
g=$(ip netns exec "$LAB_CLIENT_NS" taskset -c "$GEN_CPU" timeout -k 2 60 "$B/pktgen" -i eth0 -m "$LAB_DIRECTOR_MAC" \
	-s 198.18.64.0 -d "$VIP" -p 5000 -P udp -f "$FLOWS" -c "$FLOWS" -t 50 -l 64 -r "$RATE")
sleep 2
echo "after $FLOWS flows: $(mem)MiB   $(stats 2)"
echo "generator: $g"
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do grep -q '"event":"stopped"' "$out" && break; sleep 0.05; done
wait "$FWD_JOB" || true
FWD_JOB=""
