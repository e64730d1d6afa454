#!/usr/bin/env bash
# drain.sh — the director's capacity on its own core (drain runs), and the same lab's steady
# unpaced figures next to the kernel's stateless DR fast path (nft netdev `fwd`), in one run.
#
#   bench/drain.sh                                  DR and TUN, 64 and 1400 bytes, 3 drains each
#   REPS=5 SIZES=64 MODES=dr bench/drain.sh
#   STEADY=0 bench/drain.sh                         drains only (no steady/kernel section)
#   FORWARDERS="ringvs2 ringvs" STEADY=0 bench/drain.sh   scaling: 2 packet workers against 1
#   FORWARDERS="ringvs-v2 ringvs-v3" bench/drain.sh       ring.version 2 against 3 (one worker each)
#   BLOCK_SIZE=65536 BLOCK_COUNT=512 bench/drain.sh       another ring geometry, for ringvs and cfwd
#   ROUNDS=3 REPS=3 bench/drain.sh                  forwarders alternate 3 times (A, B, A, B, A, B)
#
# Why drain: unpaced, the generator's core is the limit at 64 bytes (a veth delivers in the
# sender's context, so that core also pays for the bridge and the tap that copies each frame into
# the forwarder's ring; bench/README.md), so pps.sh cannot show the forwarder's ceiling. Here the
# forwarder is paused (SIGSTOP, every thread), the generator fills its RX ring with N frames
# (fewer than the ring holds), and drainwatch, in the real server's namespace on the generator's
# (now idle) core, sends SIGCONT and polls rs1's eth0 rx counter until all N have arrived:
# pps = N / (SIGCONT -> last frame). Nothing else runs meanwhile, so that is the forwarder alone
# on its core, kernel send path and the real server's ingress included (both run inline in its
# sendmmsg).
#
# Per (mode, forwarder): one forwarder process (`ringvs serve`, TCP service 198.18.0.100:5000,
# rr, rs1 DR or TUN, its packet worker on FWD_CPU and its control thread on MAIN_CPU; or cfwd
# with the same nft ingress guard), warmed up (TCP flows opened, JIT warm, new-flow path warm),
# then for every size and kind REPS drains of
#   est   N ACKs of FLOWS (1024) flows opened before (pktgen -P tcp -e): established lookups
#   syn   N SYNs of N never-seen tuples (pktgen -P tcp -n -o, fresh per drain, source addresses
#         from 198.18.64.0): lookup miss, scheduling, insert for every packet
# N = NFRAMES_64 / NFRAMES_1400 (a 64-byte frame takes 160 bytes of a block, a 1400-byte one 1488,
# after a 48-byte block header: with the default 8 KiB x 4096 blocks ~208k and ~20k frames fit;
# the script refuses an N the ring cannot hold). A drain is valid when director
# eth0 counted N frames while paused and rs1 counted N after it (no ring drop, no loss); the ring
# drop counter (PACKET_STATISTICS) is read before and after each group of drains.
#
# Steady section (DR only, STEADY=1): STEADY_S seconds of unpaced established ACKs with a
# SCHED_IDLE soaker on the forwarder's core (bench/soak.c: busy = 1 - rate / idle rate, which
# also catches softirq time that no process is charged with), for ringvs, cfwd, and the kernel:
# an nft netdev ingress rule in the director namespace, `ip daddr VIP tcp dport 5000 ether daddr
# set <rs1 MAC> fwd to "eth0"`, with no user-space forwarder at all.
#   kernel      the rule alone: the whole path runs in softirq in the generator's context, on
#               the generator's core (a veth has no queue of its own to defer to)
#   kernel-rps  the same rule with RPS on the director's eth0 steering its receive processing
#               to FWD_CPU (rps_cpus, a setting of our namespace's device): the kernel forwards
#               on its own core, like the user-space forwarders, and the soaker shows how busy
#               that core is; kernel capacity estimate = fwd pps / busy fraction.
# Columns: fwd pps (rs1 rx / generator seconds), loss%, fwd core busy% (soaker), forwarder CPU
# (process utime+stime, user-space forwarders), generator CPU/Mp (pktgen's own CPU incl. the
# softirq its sends run inline, per million generated).
#
# Scaling (FORWARDERS with ringvs2): ringvs2 is ringvs with two packet workers (PACKET_FANOUT),
# pinned to FWD_CPU and GEN_CPU, so it has both cores during a drain (the generator only runs
# while it is paused). Flows then come from SPREAD (256) client addresses (pktgen -A; established
# flows from 198.18.32.0 up) so the fanout has clients to spread, for every forwarder of the run
# alike, and drainwatch sleeps 100 us between polls (-s) instead of spinning on GEN_CPU, for every
# forwarder alike. The table's ratio columns are first forwarder / second.
#
# Everything lives in namespaces named drn<pid>*, built by scripts/lab/lab.sh, removed by the
# EXIT trap; every process is bounded in time, the generator also in count.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, PORT, die, lab_up, forwarder and counter helpers
readonly SYN_SRC=198.18.64.0 # new-flow tuples: 50000 ports per address from here up

SIZES=${SIZES:-"64 1400"}
MODES=${MODES:-"dr tun"}
KINDS=${KINDS:-"est syn"}
REPS=${REPS:-3}
FLOWS=${FLOWS:-1024}
STEADY=${STEADY:-1}
FORWARDERS=${FORWARDERS:-"ringvs cfwd"}
# Does a V2 ring take part (ringvs-v2, or ringvs/ringvs2 with the default ring.version 2)? Its
# 2 KiB frames hold 8x fewer 64-byte frames than V3 blocks per MiB: a 32 MiB ring 16384 of them,
# too few for a drain long enough to time well. Such a run gets 128 MiB rings (65536 frames) and
# drains of 60000 frames, for every forwarder of the run alike.
DEFAULT_RING_VERSION=$(cd "$(dirname "$0")/.." && bun -e 'import { RING_DEFAULTS } from "./src/config/model.ts"; console.log(RING_DEFAULTS.version)')
V2_IN_RUN=0
for f in $FORWARDERS; do
	case $f in
	ringvs-v2) V2_IN_RUN=1 ;;
	ringvs | ringvs2) ((DEFAULT_RING_VERSION != 2)) || V2_IN_RUN=1 ;;
	esac
done
# The director's default geometry (src/config/model.ts RING_DEFAULTS), for both forwarders;
# 4x the blocks with a V2 ring in the run.
BLOCK_SIZE=${BLOCK_SIZE:-8192}
BLOCK_COUNT=${BLOCK_COUNT:-$((V2_IN_RUN ? 16384 : 4096))}
NFRAMES_64=${NFRAMES_64:-$((V2_IN_RUN ? 60000 : 150000))}
NFRAMES_1400=${NFRAMES_1400:-18000}
# Rounds: each forwarder is started ROUNDS times, alternating, REPS drains per cell each time; the
# table pools all of them. Alternating keeps a slow drift of this VM's speed (it has one) out of
# the ratio, which one block of A followed by one block of B would take for a difference.
ROUNDS=${ROUNDS:-1}
# 2^22, not the default 2^20: the SYN drains leave every tuple they insert in the table (SYN_RECV
# outlives the run), ~1.6M over a full run; at the default size the last drains would measure an
# almost full table (linear probing near its 7/8 fill limit) rather than the new-flow path.
FLOW_TABLE=${FLOW_TABLE:-4194304}
STEADY_S=${STEADY_S:-3}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
# ringvs (one worker): its packet worker is pinned to FWD_CPU (workers.cpus) and the process started
# on MAIN_CPU, so the control thread and the `ip` it runs every second stay off the worker's core
# (what ringvs does itself when workers.cpus leaves a CPU free). MAIN_CPU=$FWD_CPU shares the core:
# a refresh that falls due while the director is paused then runs right at SIGCONT, inside the
# drain (ringvs/cfwd 0.86-0.97 that way against 0.96-1.02, alternating in one session).
MAIN_CPU=${MAIN_CPU:-$GEN_CPU}

require_root
require_int REPS 1 10
require_int ROUNDS 1 10
require_int STEADY_S 1 10
require_int BLOCK_SIZE 4096 4194304
require_int BLOCK_COUNT 2 65536
# ring_holds FRAME_BYTES: frames of that footprint the ring holds (whole frames per block); a
# V2 ring in the run holds BLOCK_SIZE * BLOCK_COUNT / 2048 frames of any size.
ring_holds() {
	local v3=$(((BLOCK_SIZE - 48) / $1 * BLOCK_COUNT)) v2=$((BLOCK_SIZE * BLOCK_COUNT / 2048))
	((!V2_IN_RUN || v2 > v3)) || v3=$v2
	echo "$v3"
}
((NFRAMES_64 <= $(ring_holds 160) * 19 / 20 && NFRAMES_1400 <= $(ring_holds 1488) * 19 / 20)) ||
	die "NFRAMES_64 / NFRAMES_1400 must stay below 95% of what the ring holds ($(ring_holds 160) / $(ring_holds 1488))"
for s in $SIZES; do [[ $s == 64 || $s == 1400 ]] || die "SIZES: 64 and/or 1400"; done
for m in $MODES; do [[ $m == dr || $m == tun ]] || die "MODES: dr and/or tun"; done
read -r -a FWDS <<<"$FORWARDERS"
((${#FWDS[@]} == 2)) || die "FORWARDERS: two of ringvs, ringvs2, ringvs-v2, ringvs-v3, cfwd"
for f in "${FWDS[@]}"; do
	[[ $f =~ ^(ringvs|ringvs2|ringvs-v2|ringvs-v3|cfwd)$ ]] || die "FORWARDERS: ringvs, ringvs2, ringvs-v2, ringvs-v3 and/or cfwd"
done
if [[ " $FORWARDERS " == *" ringvs2 "* ]]; then
	SPREAD=${SPREAD:-256} WATCH_SLEEP=(-s 100) EST_SRC=198.18.32.0
else
	SPREAD=${SPREAD:-1} WATCH_SLEEP=() EST_SRC=""
fi
require_int SPREAD 1 256
for k in $KINDS; do [[ $k == est || $k == syn ]] || die "KINDS: est and/or syn"; done
require_tools jq taskset timeout bun gcc nft bridge

bench_build

# Lab in namespaces drn<pid>*; lab_cleanup (EXIT) continues and stops a forwarder left paused.
lab_up drn drain
EST_SRC=${EST_SRC:-$LAB_CLIENT_IP}

# ringvs1 / ringvs2: one / two workers, the default ring version; ringvs-v2 / ringvs-v3: one worker,
# ring.version 2 / 3.
for mode in $MODES; do
	for w in 1 2 -v2 -v3; do
		cpus="[$FWD_CPU]" count=1 version=""
		[[ $w != 2 ]] || cpus="[$FWD_CPU, $GEN_CPU]" count=2
		[[ $w != -v* ]] || version="\"version\": ${w#-v}, "
		cat >"$TMP/ringvs$w-$mode.json" <<-EOF
			{
			  "interface": "$LAB_DIRECTOR_IF",
			  "vipMode": "arp",
			  "flowTableSize": $FLOW_TABLE,
			  "ring": { $version"blockSize": $BLOCK_SIZE, "blockCount": $BLOCK_COUNT },
			  "workers": { "count": $count, "cpus": $cpus },
			  "services": [{
			    "protocol": "tcp", "address": "$VIP", "port": $PORT, "scheduler": "rr",
			    "realServers": [{ "address": "$RS_IP", "forward": "$mode" }]
			  }]
			}
		EOF
	done
done

# rs1 drops every IPv4 frame at ingress, after eth0 has counted it (as in pps.sh).
rs_drop_ipv4 drn_rs

# gen COUNT SECONDS SIZE [pktgen options...]: TCP frames to the VIP from the client namespace,
# pinned to GEN_CPU; prints pktgen's JSON line.
gen() {
	local count=$1 secs=$2 size=$3
	shift 3
	pktgen_run "$secs" -d "$VIP" -p "$PORT" -P tcp -c "$count" -l "$size" -A "$SPREAD" "$@"
}

# start_fwd NAME MODE: starts the forwarder pinned to FWD_CPU (cfwd with ringvs's VIP ingress
# guard), waits for it; sets FWD_JOB, FWD_PID, FWD_OUT.
start_fwd() {
	local name=$1 mode=$2 tun=()
	FWD_OUT=$TMP/$name-$mode.out FWD_ERR=$TMP/$name-$mode.err
	[[ $mode == tun ]] && tun=(-T "$LAB_DIRECTOR_IP,$RS_IP")
	case $name in
	ringvs) ringvs_start "$TMP/ringvs1-$mode.json" 600 "$MAIN_CPU" ;;
	ringvs2) ringvs_start "$TMP/ringvs2-$mode.json" 600 ;;
	ringvs-v2 | ringvs-v3) ringvs_start "$TMP/${name}-$mode.json" 600 "$MAIN_CPU" ;;
	cfwd)
		vip_guard_on drn_guard tcp
		cfwd_start 600 -b "$BLOCK_SIZE" -n "$BLOCK_COUNT" "${tun[@]}"
		;;
	esac
	fwd_wait_ready "$name $mode"
	fwd_check_resolved "$name $mode"
}

stop_fwd() {
	fwd_stop forwarder
	vip_guard_off drn_guard
}

# ring_drops N: ring drops as of now, via SIGUSR1; N is the ordinal of this stats event. The caller
# counts (NSTATS): called as $(ring_drops ...), this function runs in a subshell and could not.
NSTATS=0
ring_drops() {
	fwd_stats "$1" | jq '.shim.kernelDrops // .kernelDrops'
}

SYN_OFF=0 # next never-seen tuple index
# drain_one NAME MODE SIZE KIND REP: one paused fill + timed drain; appends a row.
drain_one() {
	local name=$1 mode=$2 size=$3 kind=$4 rep=$5 n i d0 d1 x0 x1 w flows=() split="" t0 t1
	n=$([[ $size == 64 ]] && echo "$NFRAMES_64" || echo "$NFRAMES_1400")
	if [[ $kind == est ]]; then
		flows=(-s "$EST_SRC" -f "$FLOWS" -e)
	else
		flows=(-s "$SYN_SRC" -f "$n" -o "$SYN_OFF" -n)
		SYN_OFF=$((SYN_OFF + n))
	fi
	if [[ $name == ringvs2 ]]; then
		NSTATS=$((NSTATS + 1))
		t0=$(fwd_stats "$NSTATS" | jq -c '[.perWorker[].txFrames]')
	fi
	kill -STOP "$FWD_PID"
	for ((i = 0; i < 100; i++)); do [[ $(proc_state "$FWD_PID") == T ]] && break; sleep 0.01; done
	[[ $(proc_state "$FWD_PID") == T ]] || die "$name did not stop"
	d0=$(rx_packets "$DIR")
	gen "$n" 5 "$size" "${flows[@]}" >/dev/null
	# The last, partly filled block is handed over by the ring's retire timer (1 ms, in jiffies).
	sleep 0.05
	d1=$(rx_packets "$DIR") x0=$(tx_packets "$DIR")
	w=$(ip netns exec "$RS" taskset -c "$GEN_CPU" "$B/drainwatch" -p "$FWD_PID" -n "$n" -t 10 "${WATCH_SLEEP[@]}")
	x1=$(tx_packets "$DIR")
	if [[ $name == ringvs2 ]]; then
		NSTATS=$((NSTATS + 1))
		t1=$(fwd_stats "$NSTATS" | jq -c '[.perWorker[].txFrames]')
		split=", workers sent $(jq -nc --argjson a "$t0" --argjson b "$t1" '[range($a | length) as $i | $b[$i] - $a[$i]]')"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$size" "$kind" "$rep" "$n" \
		$((d1 - d0)) "$(jq .frames <<<"$w")" "$(jq .lastUs <<<"$w")" "$(jq .firstUs <<<"$w")" \
		"$(jq .ppsSteady <<<"$w")" >>"$TMP/drains"
	echo "  $name $mode ${size}B $kind #$rep: $(jq -c '{frames,lastUs,firstUs,pps,ppsSteady}' <<<"$w"), director rx $((d1 - d0)) tx $((x1 - x0))$split" >&2
}

# soak_calibrate: idle rate of the soaker on FWD_CPU (nothing else there).
soak_calibrate() {
	taskset -c "$FWD_CPU" "$B/soak" -t 1 | jq .rate
}

# steady NAME SIZE: STEADY_S s of unpaced established ACKs with the soaker on FWD_CPU; a row.
steady() {
	local name=$1 size=$2 r0 r1 g soak t0=0 t1=0
	r0=$(rx_packets "$RS")
	[[ -z $FWD_PID ]] || t0=$(proc_cpu_ticks "$FWD_PID")
	taskset -c "$FWD_CPU" "$B/soak" -t $((STEADY_S + 1)) >"$TMP/soak" &
	local sj=$!
	sleep 0.5
	g=$(gen $((STEADY_S * 5000000)) "$STEADY_S" "$size" -s "$EST_SRC" -f "$FLOWS" -e)
	wait "$sj"
	sleep 0.2
	r1=$(rx_packets "$RS")
	[[ -z $FWD_PID ]] || t1=$(proc_cpu_ticks "$FWD_PID")
	soak=$(jq .rate "$TMP/soak")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$size" "$(jq .frames <<<"$g")" "$(jq .seconds <<<"$g")" \
		$((r1 - r0)) "$soak" $((t1 - t0)) "$(jq .cpu <<<"$g")" "$(jq .seconds "$TMP/soak")" >>"$TMP/steady"
	echo "  steady $name ${size}B: generated $(jq .frames <<<"$g") in $(jq .seconds <<<"$g") s, rs1 $((r1 - r0)), soak $soak" >&2
}

echo "drain.sh: lab $PREFIX, modes ${MODES// /+}, ${SIZES// /+} B, kinds ${KINDS// /+}, $REPS drains each" \
	"in $ROUNDS round(s) (N = $NFRAMES_64 / $NFRAMES_1400 frames), ring $BLOCK_COUNT x $BLOCK_SIZE B (default ring.version $DEFAULT_RING_VERSION), forwarders $FORWARDERS, $SPREAD client address(es)," \
	"generator CPU $GEN_CPU, forwarder CPU $FWD_CPU, ringvs control thread CPU $MAIN_CPU, $(date -u +%FT%TZ)," \
	"loadavg $(loadavg)" >&2
: >"$TMP/drains"
: >"$TMP/steady"
((STEADY)) && SOAK_IDLE=$(soak_calibrate)

for mode in $MODES; do
	for ((round = 1; round <= ROUNDS; round++)); do
	for name in "${FWDS[@]}"; do
		start_fwd "$name" "$mode"
		NSTATS=0
		teach_bridge
		# Warm-up: FLOWS TCP flows opened (SYN, then ACKs: established in ringvs) and the new-flow
		# path exercised with never-seen tuples, so the JIT has compiled both.
		gen 300000 5 64 -s "$EST_SRC" -f "$FLOWS" >/dev/null
		gen 100000 5 64 -s "$SYN_SRC" -f 100000 -o "$SYN_OFF" -n >/dev/null
		SYN_OFF=$((SYN_OFF + 100000))
		sleep 0.3
		for size in $SIZES; do
			for kind in $KINDS; do
				NSTATS=$((NSTATS + 1))
				k0=$(ring_drops "$NSTATS")
				for ((rep = 1; rep <= REPS; rep++)); do drain_one "$name" "$mode" "$size" "$kind" "$round.$rep"; done
				NSTATS=$((NSTATS + 1))
				k1=$(ring_drops "$NSTATS")
				printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$size" "$kind" $((k1 - k0)) >>"$TMP/ringdrops"
			done
		done
		# Steady runs measure one forwarder core with a soaker beside it: not for ringvs2.
		if ((STEADY && round == 1)) && [[ $mode == dr && $name != ringvs2 ]]; then
			for size in $SIZES; do steady "$name" "$size"; done
		fi
		stop_fwd
	done
	done
done

if ((STEADY)) && [[ " $MODES " == *" dr "* ]]; then
	RPS=/sys/class/net/eth0/queues/rx-0/rps_cpus
	for size in $SIZES; do
		for variant in kernel kernel-rps; do
			ip netns exec "$DIR" nft -f - <<-EOF
				table netdev drn_kfwd {
					chain vip_ingress {
						type filter hook ingress device "$LAB_DIRECTOR_IF" priority -500; policy accept;
						ip daddr $VIP tcp dport $PORT ether daddr set $RS_MAC fwd to "$LAB_DIRECTOR_IF"
					}
				}
			EOF
			if [[ $variant == kernel-rps ]]; then
				ip netns exec "$DIR" sh -c "printf '%x' $((1 << FWD_CPU)) > $RPS"
			fi
			teach_bridge
			FWD_PID=""
			steady "$variant" "$size"
			ip netns exec "$DIR" sh -c "echo 0 > $RPS"
			ip netns exec "$DIR" nft delete table netdev drn_kfwd
		done
	done
fi

echo >&2
# ---- tables
awk -F'\t' -v A="${FWDS[0]}" -v B="${FWDS[1]}" '
function med(arr, n,    i, j, t) { for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t } return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
FNR == NR { drops[$2 SUBSEP $3 SUBSEP $4 SUBSEP $1] += $5; next }
{
	k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $1
	n[k]++; pps[k, n[k]] = $6 / ($9 / 1e6); lost[k] += $6 - $8; short[k] += $6 - $7
	if (!(($2 SUBSEP $3 SUBSEP $4) in seen)) { seen[$2 SUBSEP $3 SUBSEP $4] = 1; order[++no] = $2 SUBSEP $3 SUBSEP $4 }
}
END {
	print "Drain: forwarder alone on its core, pps = N / (SIGCONT -> last frame at rs1); median and best of the drains"
	printf "%-4s %5s %-3s | %8s %8s %8s %4s %5s | %8s %8s %8s %4s %5s | %5s %5s\n", "mode", "bytes", "kind",
		A, "best", "worst", "lost", "drops", B, "best", "worst", "lost", "drops", "ratio", "best"
	for (i = 1; i <= no; i++) {
		split(order[i], p, SUBSEP)
		for (f = 1; f <= 2; f++) {
			name = f == 1 ? A : B; k = order[i] SUBSEP name
			delete a; lo = 1e18; hi = 0
			for (j = 1; j <= n[k]; j++) { a[j] = pps[k, j]; if (a[j] < lo) lo = a[j]; if (a[j] > hi) hi = a[j] }
			m[f] = n[k] ? med(a, n[k]) : 0; best[f] = hi; worst[f] = lo
			ls[f] = lost[k]; dr[f] = drops[p[1] SUBSEP p[2] SUBSEP p[3] SUBSEP name] + short[k]
			MED[order[i] SUBSEP name] = m[f]; BEST[order[i] SUBSEP name] = hi
		}
		printf "%-4s %5s %-3s | %8.0f %8.0f %8.0f %4d %5s | %8.0f %8.0f %8.0f %4d %5s | %5.3f %5.3f\n", p[1], p[2], p[3],
			m[1], best[1], worst[1], ls[1], dr[1], m[2], best[2], worst[2], ls[2], dr[2], m[2] ? m[1] / m[2] : 0,
			best[2] ? best[1] / best[2] : 0
	}
	print ""
	print "SYN / established (drain medians; best in brackets)"
	printf "%-4s %5s | %15s %15s\n", "mode", "bytes", A, B
	for (i = 1; i <= no; i++) {
		split(order[i], p, SUBSEP); if (p[3] != "syn") continue
		e = p[1] SUBSEP p[2] SUBSEP "est"
		if (!((e SUBSEP A) in MED)) continue
		printf "%-4s %5s | %7.3f (%5.3f) %7.3f (%5.3f)\n", p[1], p[2], MED[order[i] SUBSEP A] / MED[e SUBSEP A],
			BEST[order[i] SUBSEP A] / BEST[e SUBSEP A],
			MED[order[i] SUBSEP B] / MED[e SUBSEP B], BEST[order[i] SUBSEP B] / BEST[e SUBSEP B]
	}
	print "(lost = N - frames rs1 counted, summed over the drains (sendmmsg refusals, ENOBUFS); drops = ring drops"
	print " over the group plus frames director eth0 did not count while paused: 0 = every backlog was complete)"
}' "$TMP/ringdrops" "$TMP/drains"

if [[ -s $TMP/steady ]]; then
	echo
	awk -F'\t' -v idle="$SOAK_IDLE" -v tck="$(getconf CLK_TCK)" '
	BEGIN {
		print "Steady, unpaced established ACKs, DR (fwd core busy from the SCHED_IDLE soaker; capacity = fwd pps / busy)"
		printf "%-10s %5s %9s %9s %6s %6s %9s %7s %7s\n", "forwarder", "bytes", "gen pps", "fwd pps", "loss%",
			"busy%", "capacity", "fwdCPU%", "genCPU/Mp"
	}
	{
		# The soaker runs ~1 s longer than the generator (idle before and after): scale its lost
		# share of the soak window to the generator seconds.
		gp = $3 / $4; fp = $5 / $4; busy = (1 - $6 / idle) * $9 / $4; if (busy < 0) busy = 0
		# "kernel" forwards on the generator core: the soaker on FWD_CPU says nothing about its cost.
		printf "%-10s %5s %9.0f %9.0f %6.2f %6.1f %9s %7s %9.3f\n", $1, $2, gp, fp, 100 * ($3 - $5) / $3,
			100 * busy, ($1 == "kernel" || busy <= 0.02 ? "-" : sprintf("%.0f", fp / busy)), ($7 ? sprintf("%.1f", 100 * $7 / tck / $4) : "-"), $8 / ($3 / 1e6)
	}' "$TMP/steady"
fi
