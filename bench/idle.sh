#!/usr/bin/env bash
# idle.sh — what an idle director costs: CPU time of `ringvs serve` per second of wall time with no
# traffic at all, per ring version (ring.version), alternating.
#
#   bench/idle.sh                        versions 2 and 3, 10 s each, 2 rounds
#   VERSIONS=2 SECONDS_EACH=30 ROUNDS=1 bench/idle.sh
#
# Lab: client, director, rs1 (scripts/lab/lab.sh); ringvs with one TCP service (VIP:80, rr, rs1 DR,
# vipMode arp), its packet worker pinned to FWD_CPU, the rest of the process to MAIN_CPU. After the
# ready event and 3 s (JIT, first neighbour refresh), utime + stime of the whole process (every
# thread: the packet worker's wake-ups every 10 ms, the control thread's 1 s refresh, which spawns
# `ip`, and the runtime's own threads; the `ip` children are not counted) over SECONDS_EACH,
# from /proc/PID/stat, in ms of CPU per second.
#
# Namespaces idl<pid>*, removed by the EXIT trap; every process bounded in time.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, die, lab_up, forwarder helpers

VERSIONS=${VERSIONS:-"2 3"}
SECONDS_EACH=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-2}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
MAIN_CPU=${MAIN_CPU:-$GEN_CPU}

require_root
require_int SECONDS_EACH 1 120
require_int ROUNDS 1 10
for v in $VERSIONS; do [[ $v == 2 || $v == 3 ]] || die "VERSIONS: 2 and/or 3"; done
require_tools jq taskset timeout bun
bench_build

lab_up idl idle
# thread_ticks PID: "name/tid utime+stime" per thread of PID.
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(tr ' ' _ <"$t/comm")/${t##*/} $(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
	done
}
TICK=$(getconf CLK_TCK)
echo "idle.sh: lab $PREFIX, ring versions ${VERSIONS// /+}, $SECONDS_EACH s each, $ROUNDS round(s)," \
	"worker CPU $FWD_CPU, control thread CPU $MAIN_CPU, $(date -u +%FT%TZ), loadavg $(loadavg)" >&2
: >"$TMP/rows"
for ((round = 1; round <= ROUNDS; round++)); do
	for v in $VERSIONS; do
		cat >"$TMP/ringvs-$v.json" <<-EOF
			{
			  "interface": "$LAB_DIRECTOR_IF", "vipMode": "arp",
			  "ring": { "version": $v },
			  "workers": { "count": 1, "cpus": [$FWD_CPU] },
			  "services": [{ "protocol": "tcp", "address": "$VIP", "port": 80, "scheduler": "rr",
			                 "realServers": [{ "address": "$LAB_RS_IPS", "forward": "dr" }] }]
			}
		EOF
		FWD_OUT=$TMP/ringvs-$v.out FWD_ERR=$TMP/ringvs-$v.err
		ringvs_start "$TMP/ringvs-$v.json" $((SECONDS_EACH + 60)) "$MAIN_CPU"
		fwd_wait_ready "ringvs v$v"
		sleep 3
		threads0=$(thread_ticks "$FWD_PID") c0=$(proc_cpu_ticks "$FWD_PID") t0=$(date +%s.%N)
		sleep "$SECONDS_EACH"
		threads1=$(thread_ticks "$FWD_PID") c1=$(proc_cpu_ticks "$FWD_PID") t1=$(date +%s.%N)
		ms=$(awk -v c="$((c1 - c0))" -v k="$TICK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", c * 1000 / k / (b - a) }')
		# Per thread (name: ms/s), the busiest first.
		per=$(join <(sort <<<"$threads0") <(sort <<<"$threads1") |
			awk -v k="$TICK" -v s="$SECONDS_EACH" '$3 > $2 { printf "%s %.1f\n", $1, ($3 - $2) * 1000 / k / s }' | sort -k2 -gr | head -4 | paste -sd, -)
		printf '%s\t%s\n' "$v" "$ms" >>"$TMP/rows"
		echo "  round $round, ring.version $v: $ms ms CPU per second (threads: ${per:-none})" >&2
		fwd_stop "ringvs v$v"
	done
done

echo
echo "Idle director: ms of CPU per second (utime+stime of the ringvs process), median and range of $ROUNDS round(s)"
for v in $VERSIONS; do
	awk -F'\t' -v v="$v" '$1 == v { print $2 }' "$TMP/rows" | sort -g |
		awk -v v="$v" '{ x[NR] = $1 } END { printf "ring.version %s: %6.1f ms/s  (%.1f .. %.1f)\n", v, (NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2), x[1], x[NR] }'
done
