#!/usr/bin/env bash
# reqresp.sh — what real request/response clients get through the director against the same real
# server reached straight (issue 16: below saturation every frame through ringvs waits for the
# TPACKET_V3 block retire timer): HTTP keep-alive, HTTP with a new connection per request, UDP
# with one request outstanding, and HTTP with enough connections to keep the rings busy.
#
#   bench/reqresp.sh                               ROUNDS 3, DURATION 5 s per client and target
#   ROUNDS=5 DURATION=10 bench/reqresp.sh
#   CLIENT_CPU=0 SERVER_CPU=1 DIRECTOR_CPU=0 bench/reqresp.sh   the director on the client's core
#   RING_VERSIONS="3 2" bench/reqresp.sh           the through-VIP runs once per ring.version
#
# Lab: client, director, rs1 (scripts/lab/lab.sh). rs1 is a DR real server prepared by
# scripts/realserver.sh (VIP/32 on lo, arp_ignore=1, arp_announce=2, inside its namespace)
# running nginx (scripts/lab/nginx.conf: one worker, no access log, a 100-byte body from memory,
# keep-alive for as many requests as a run sends; pid, error log and temp paths under its prefix,
# the run's TMP/nginx) on port 80 and `udprr -s 5001` (UDP echo). ringvs serves TCP VIP:80 and UDP
# VIP:5001, rr, rs1 "dr", vipMode arp, default ring (no ring key at all, unless RING_VERSIONS).
#
# Pinning (2 cores, three machines' worth of work). Default: the director alone on DIRECTOR_CPU
# (1: its process and its packet worker, workers.cpus), as it is a machine of its own on an
# operator's network; the client (CLIENT_CPU 0: wrk -t 1, ab, udprr's client) and the real server
# (SERVER_CPU 0: nginx, udprr's server) share the other core. What that layout favours, either way:
# straight to rs1 an exchange never leaves core 0 (a veth delivers in the sender's context, so
# rs1's receive path runs inside the client's send), while through the VIP it crosses to the
# director's core and back, two cross-core wake-ups that no path between real machines avoids
# (UDP's added latency carries them); and rs1's receive path then runs inside the director's
# sendmmsg on core 1, which takes that work off the client's core (the saturated wrk -c 256 can
# exceed 1x). The other layout prints with CLIENT_CPU=0 SERVER_CPU=1 DIRECTOR_CPU=0: the director
# on the client's core, where its whole cost, kernel send path included, comes out of the
# client's share, so the ratios show CPU per request more than latency. Measured both ways in
# bench/RESULTS.md ("Request/response"). Run-to-run spread of direct alone was up to 1.5x on this
# VM (2 vCPUs), hence ROUNDS.
#
# Each round runs the phases "direct" and one through-VIP phase per ring version (one, "ringvs",
# without RING_VERSIONS) in an order reversed every other round (direct,3,2 / 2,3,direct / ...),
# so VIP and direct alternate and so do the versions. ringvs is started (and warmed up) at the
# start of each through-VIP phase and stopped at its end. A phase runs, DURATION s each, all from
# the client namespace pinned to CLIENT_CPU:
#   (a) wrk -t 1 -c 32: HTTP/1.1 keep-alive, requests/s
#   (b) ab -c 8: a new TCP connection per request (HTTP/1.0), requests/s
#   (c) udprr -c VIP:5001 -c RIP:5001: one request outstanding, VIP and RIP interleaved in the
#       same run (so in the through-VIP phases only; its RIP figures are the direct column)
#   (d) wrk -t 1 -c 256: the rings busy
# In through-VIP phases: the director's CPU use over each run (utime+stime of the ringvs process,
# all threads, /proc/PID/stat) as % of one core, and its shim counters over the run (SIGUSR1
# stats): rxPolls and rxBlocks per frame received.
# Table: medians over ROUNDS; ratio = median through ringvs / median direct; UDP added = median
# over runs of (VIP - RIP) of the same run, p50 and p99.
#
# Namespaces rr<pid>*, removed by the EXIT trap, which also stops nginx and the UDP server by their
# pids; every process bounded in time (nginx is stopped by the trap and by lab.sh down).
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, die, lab_up, forwarder helpers

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
RING_VERSIONS=${RING_VERSIONS:-}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-0}
DIRECTOR_CPU=${DIRECTOR_CPU:-1}
readonly UDP_PORT=5001
readonly CLK_TCK=$(getconf CLK_TCK)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
readonly NGINX

require_root
require_int ROUNDS 1 20
require_int DURATION 1 60 s
for v in CLIENT_CPU SERVER_CPU DIRECTOR_CPU; do require_int "$v" 0 "$(($(nproc) - 1))"; done
for v in $RING_VERSIONS; do [[ $v == 2 || $v == 3 ]] || die "RING_VERSIONS: 2 or 3, space separated"; done
require_tools jq taskset timeout bun gcc nft wrk ab curl
[[ -x $NGINX ]] || die "missing nginx (bash scripts/bootstrap.sh installs it)"

bench_build

NGINX_JOB="" UDPSRV_JOB="" # rs1's servers, for cleanup
# reqresp_cleanup: EXIT trap; stops rs1's servers by pid, then lib.sh's lab_cleanup, handing it
# the exit status through $? (errexit off first: `(exit 1)` would end the trap right there).
reqresp_cleanup() {
	local rc=$?
	set +e
	[[ -z $NGINX_JOB ]] || kill -TERM "$NGINX_JOB" 2>/dev/null || true
	[[ -z $UDPSRV_JOB ]] || kill -TERM "$UDPSRV_JOB" 2>/dev/null || true
	(exit "$rc")
	lab_cleanup
}
lab_up rr reqresp
trap reqresp_cleanup EXIT
# A control socket of this run's own: the default /run/ringvs.sock belongs to whichever ringvs
# started first, and another benchmark's director may be running.
export RINGVS_SOCKET=$TMP/ringvs.sock

# The phases of one round: direct, then the through-VIP ones; every other round reversed.
PHASES=(direct)
if [[ -n $RING_VERSIONS ]]; then
	for v in $RING_VERSIONS; do PHASES+=("v$v"); done
else
	PHASES+=(ringvs)
fi
VIP_PHASES=("${PHASES[@]:1}")
# Long enough for a phase: four runs, warm-up and the stats round trips.
RINGVS_LIMIT=$((4 * DURATION + 120))
# Every server outlives the longest possible run: every phase of every round at that bound.
SERVER_LIMIT=$((ROUNDS * ${#PHASES[@]} * RINGVS_LIMIT + 60))

# rs1: DR real server, nginx, UDP echo.
ip netns exec "$RS" env RINGVS_RS_STATE_DIR="$TMP/rs-state" bash "$REPO/scripts/realserver.sh" start "$VIP" >/dev/null
mkdir -p "$TMP/nginx"
# ip netns exec and taskset exec nginx: $! is the nginx master's own pid.
ip netns exec "$RS" taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" \
	-c "$REPO/scripts/lab/nginx.conf" -g 'daemon off;' >"$TMP/nginx/stdout" 2>&1 &
NGINX_JOB=$!
ip netns exec "$RS" taskset -c "$SERVER_CPU" "$B/udprr" -s "$UDP_PORT" -t "$SERVER_LIMIT" >/dev/null 2>&1 &
UDPSRV_JOB=$!

# The client reaches both servers straight before anything is measured.
up=0
for ((i = 0; i < 50; i++)); do
	if ip netns exec "$CL" curl -s -o /dev/null --max-time 1 "http://$RS_IP/" &&
		ip netns exec "$CL" "$B/udprr" -c "$RS_IP:$UDP_PORT" -n 10 -t 1 -T 100 | jq -e '.lost == 0' >/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
((up)) || die "rs1's nginx or udprr does not answer: $(cat "$TMP/nginx/error.log" 2>/dev/null)"

# in_client CMD...: CMD in the client namespace, pinned to CLIENT_CPU, killed DURATION + 20 s later.
in_client() { ip netns exec "$CL" taskset -c "$CLIENT_CPU" timeout -k 2 $((DURATION + 20)) "$@"; }

# wrk_run CONNS TARGET_IP: one wrk run; prints {"rps", "errors"} (socket errors + non-2xx).
wrk_run() {
	local out
	out=$(in_client wrk -t 1 -c "$1" -d "${DURATION}s" --timeout 2s "http://$2/")
	awk '/^Requests\/sec:/ { rps = $2 }
		/Non-2xx or 3xx responses:/ { err += $NF }
		/Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
		END { printf "{\"rps\":%s,\"errors\":%d}\n", rps == "" ? "null" : rps, err }' <<<"$out"
}
# ab_run TARGET_IP: one ab run, a new connection per request; prints {"rps", "errors"}.
ab_run() {
	local out
	out=$(in_client ab -q -r -s 5 -c 8 -t "$DURATION" -n 10000000 "http://$1/" 2>&1)
	awk '/^Requests per second:/ { rps = $4 }
		/^Failed requests:/ { err += $3 }
		/^Non-2xx responses:/ { err += $3 }
		END { printf "{\"rps\":%s,\"errors\":%d}\n", rps == "" ? "null" : rps, err }' <<<"$out"
}
# udp_run: udprr to VIP and RIP interleaved; prints {"vip": {...}, "rip": {...}} (udprr's lines).
udp_run() {
	in_client "$B/udprr" -c "$VIP:$UDP_PORT" -c "$RS_IP:$UDP_PORT" -n 10000000 -t "$DURATION" -w 200 -T 200 |
		jq -sc '{vip: .[0], rip: .[1]}'
}

# ringvs_config PHASE: the config of a through-VIP phase ("ringvs": no ring key; "vN": ring.version N).
ringvs_config() {
	local ring=""
	[[ $1 == ringvs ]] || ring="\"ring\": { \"version\": ${1#v} },"
	cat <<-EOF
		{
		  "interface": "$LAB_DIRECTOR_IF", "vipMode": "arp", $ring
		  "workers": { "count": 1, "cpus": [$DIRECTOR_CPU] },
		  "services": [
		    { "protocol": "tcp", "address": "$VIP", "port": 80, "scheduler": "rr",
		      "realServers": [{ "address": "$RS_IP", "forward": "dr" }] },
		    { "protocol": "udp", "address": "$VIP", "port": $UDP_PORT, "scheduler": "rr",
		      "realServers": [{ "address": "$RS_IP", "forward": "dr" }] }
		  ]
		}
	EOF
}

# measured ROUND PHASE CLIENT RESULT_JSON [S0 S1 CPU_TICKS]: appends a row to $TMP/rows; through
# the VIP also the director's CPU % and rxPolls/rxBlocks per frame between stats S0 and S1.
measured() {
	local extra='{}'
	if (($# > 4)); then
		extra=$(jq -nc --argjson a "$5" --argjson b "$6" --argjson t "$7" --argjson hz "$CLK_TCK" --argjson d "$DURATION" '
			(($b.shim.rxFrames - $a.shim.rxFrames) as $f | ([$f, 1] | max) as $fd |
			{cpuPct: (100 * $t / $hz / $d), rxFrames: $f,
			 pollsPerFrame: (($b.shim.rxPolls - $a.shim.rxPolls) / $fd),
			 blocksPerFrame: (($b.shim.rxBlocks - $a.shim.rxBlocks) / $fd),
			 ringDrops: ($b.shim.kernelDrops - $a.shim.kernelDrops)})')
	fi
	jq -nc --argjson r "$1" --arg p "$2" --arg c "$3" --argjson m "$4" --argjson x "$extra" \
		'{round: $r, phase: $p, client: $c} + $m + $x' | tee -a "$TMP/rows" >&2
}

echo "reqresp.sh: lab $PREFIX, $ROUNDS rounds of ${PHASES[*]}, $DURATION s per run, clients on CPU $CLIENT_CPU, nginx on CPU $SERVER_CPU," \
	"ringvs on CPU $DIRECTOR_CPU, $(date -u +%FT%TZ), loadavg $(loadavg)" >&2
: >"$TMP/rows"
for ((round = 1; round <= ROUNDS; round++)); do
	order=("${PHASES[@]}")
	if ((round % 2 == 0)); then
		order=()
		for ((i = ${#PHASES[@]} - 1; i >= 0; i--)); do order+=("${PHASES[i]}"); done
	fi
	for phase in "${order[@]}"; do
		if [[ $phase == direct ]]; then
			measured "$round" direct wrk32 "$(wrk_run 32 "$RS_IP")"
			measured "$round" direct ab8 "$(ab_run "$RS_IP")"
			measured "$round" direct wrk256 "$(wrk_run 256 "$RS_IP")"
			continue
		fi
		ringvs_config "$phase" >"$TMP/ringvs.json"
		FWD_OUT=$TMP/ringvs-$round-$phase.out FWD_ERR=$TMP/ringvs-$round-$phase.err
		ringvs_start "$TMP/ringvs.json" "$RINGVS_LIMIT" "$DIRECTOR_CPU"
		fwd_wait_ready "ringvs ($phase)"
		fwd_check_resolved "ringvs ($phase)"
		nstats=0
		# Warm-up: the client's ARP for the VIP, JIT, flows; and proof that both services answer.
		ip netns exec "$CL" curl -s -o /dev/null --max-time 2 --retry 3 --retry-delay 0 "http://$VIP/" ||
			die "no HTTP answer through the VIP ($phase): $(cat "$FWD_ERR")"
		in_client wrk -t 1 -c 8 -d 1s "http://$VIP/" >/dev/null
		in_client "$B/udprr" -c "$VIP:$UDP_PORT" -n 500 -t 2 -w 100 -T 200 | jq -e '.lost < 10' >/dev/null ||
			die "UDP through the VIP loses replies ($phase)"
		for client in wrk32 ab8 udp wrk256; do
			nstats=$((nstats + 1))
			s0=$(fwd_stats "$nstats")
			t0=$(proc_cpu_ticks "$FWD_PID")
			case $client in
			wrk32) m=$(wrk_run 32 "$VIP") ;;
			ab8) m=$(ab_run "$VIP") ;;
			udp) m=$(udp_run) ;;
			wrk256) m=$(wrk_run 256 "$VIP") ;;
			esac
			t1=$(proc_cpu_ticks "$FWD_PID")
			nstats=$((nstats + 1))
			s1=$(fwd_stats "$nstats")
			measured "$round" "$phase" "$client" "$m" "$s0" "$s1" $((t1 - t0))
		done
		fwd_stop "ringvs ($phase)"
	done
done

# The table: one column per through-VIP phase, then direct, then each one's ratio to direct.
echo
echo "Request/response through ringvs (DR) against straight to rs1: medians of $ROUNDS rounds, $DURATION s each"
jq -rs --arg phases "${VIP_PHASES[*]}" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def fmt($d): if . == null then "-" else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
	($phases | split(" ")) as $ps | . as $rows |
	def col($p; $c; f): [$rows[] | select(.phase == $p and .client == $c) | f | select(. != null)] | median;
	def rate($name; $c):
		[col($ps[]; $c; .rps)] as $v | col("direct"; $c; .rps) as $d |
		[$name] + [$v[] | fmt(0)] + [$d | fmt(0)] + [$v[] | if . == null or $d == null then "-" else (. / $d) | fmt(2) end];
	def udp($name; f; g):
		[col($ps[]; "udp"; f)] as $v | [$rows[] | select(.client == "udp") | g] | median as $d |
		[$name] + [$v[] | fmt(0)] + [$d | fmt(0)] + [$v[] | if . == null or $d == null then "-" else (. / $d) | fmt(2) end];
	def added($name; f):
		[$name] + [col($ps[]; "udp"; f) | fmt(0)] + ["-"] + [$ps[] | "-"];
	def director($name; $c; f; $d):
		[$name] + [col($ps[]; $c; f) | fmt($d)] + ["-"] + [$ps[] | "-"];
	(["client"] + [$ps[] | "through " + .] + ["direct"] + [$ps[] | . + "/direct"]),
	rate("wrk keep-alive -c 32, req/s"; "wrk32"),
	rate("ab new conn -c 8, req/s"; "ab8"),
	udp("udp 1 outstanding, p50 us"; .vip.p50Us; .rip.p50Us),
	udp("udp 1 outstanding, p99 us"; .vip.p99Us; .rip.p99Us),
	added("udp added p50 us"; .vip.p50Us - .rip.p50Us),
	added("udp added p99 us"; .vip.p99Us - .rip.p99Us),
	rate("wrk busy -c 256, req/s"; "wrk256"),
	(["wrk32", "ab8", "udp", "wrk256"][] as $c |
		director("ringvs CPU % " + $c; $c; .cpuPct; 0),
		director("rxPolls/frame " + $c; $c; .pollsPerFrame; 3),
		director("rxBlocks/frame " + $c; $c; .blocksPerFrame; 3)),
	(["errors/lost (all runs)"] + [$ps[] as $p | [$rows[] | select(.phase == $p) |
		(.errors // 0) + (.vip.lost // 0) + (.ringDrops // 0)] | add | tostring] +
		[[$rows[] | select(.phase == "direct") | .errors // 0] + [$rows[] | select(.client == "udp") | .rip.lost] | add | tostring] +
		[$ps[] | "-"])
	| @tsv' "$TMP/rows" | column -t -s $'\t' -o ' | '
