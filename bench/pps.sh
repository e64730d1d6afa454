#!/usr/bin/env bash
# pps.sh — forwarded packets per second and CPU per packet: ringvs against cfwd, the pure-C
# ceiling of the same ring design, in Direct Routing and in IP Tunneling, in one lab, with one
# generator, in one run.
#
#   bench/pps.sh                                   DR and TUN, 64- and 1400-byte UDP, 5 s per run, 1 round
#   DURATION=5 SIZES="64 1400" RATES="0 300000" ROUNDS=2 bench/pps.sh
#   SIZES=1514 RATES=300000 bench/pps.sh           the fragmenting TUN path next to DR (see SIZES)
#
# Knobs (environment): DURATION seconds of traffic per run (1..30), SIZES frame sizes (64, 1400,
# 1514; 1514 is a full 1500-byte IP packet sent with DF clear: DR forwards it as it is, TUN
# cannot fit it plus 20 bytes into the 1500 MTU and sends each one as two outer fragments),
# MODES forwarding methods (dr, tun; default both), ROUNDS repetitions (1..5; per round, rate and
# size the runs go ringvs DR, cfwd DR, ringvs TUN, cfwd TUN), RATES offered loads in pps (0 = as
# fast as the generator's core allows; an equal fixed load compares CPU per packet at the same
# batch sizes), FLOWS source ports (1..50000), PROTO udp|tcp, GEN_CPU / FWD_CPU.
#
# What runs where (a 2-core machine: quote the ratios, not the absolute numbers):
#   client ns, CPU GEN_CPU:  bench/build/pktgen, AF_PACKET sendmmsg of prebuilt frames to the
#                            director's MAC, VIP 198.18.0.100:5000. A veth delivers in the
#                            sender's context, so this core also pays for the bridge and for the
#                            director-side tap that copies each frame into the forwarder's ring.
#   director ns, CPU FWD_CPU: either `ringvs serve` (UDP service, rr, 1 real server, DR or
#                            "forward": "tun", every thread of the bun process pinned) or
#                            bench/build/cfwd (-T for TUN: the same IPIP encapsulation). The same
#                            core pays for the forwarded frames' trip through the bridge into the
#                            real server (softirq after sendmmsg).
#   rs1 ns:                  198.18.0.11, on the director's segment, so in TUN it is also the
#                            next hop (outer 198.18.0.3 -> 198.18.0.11, to rs1's MAC). No VIP, no
#                            listener, no decapsulation: its eth0 counts the frame (rx_packets is
#                            counted when the frame is handed over, before any hook) and a netdev
#                            ingress rule drops every IPv4 frame, in every mode, so the receiver
#                            costs the same in DR and TUN (without it, IP would drop DR frames
#                            silently but answer every IPIP packet with a rate-limited ICMP
#                            protocol unreachable, this kernel having no ipip module).
#
# Per run: start the forwarder (cfwd gets the same nft ingress drop ringvs installs), teach the bridge every MAC (pings), warm up (WARMUP frames: flows
# inserted, JIT warm), snapshot, generate for DURATION s, let the ring drain, snapshot, stop.
# Measured from the deltas:
#   fwd pps     packets delivered: real server eth0 rx_packets / frames per packet (2 for TUN at
#               1514 bytes: the outer fragments, else 1) / generator seconds
#   CPU s       utime+stime of the forwarder process (/proc/PID/stat, all threads; the pid is
#               the one the forwarder reports, since ip netns exec and timeout sit in between).
#               The user/system split is not reported: the kernel samples it on ticks, and the
#               ring's 1 ms retire timer fires on ticks, so the split is biased (perf shows ringvs
#               at ~93% kernel time; bench/ffi_roundtrip.bench.ts measures its user-space part)
#               This kernel has no IRQ_TIME_ACCOUNTING, so the softirq work a send triggers inline
#               (bridge, real server's IP input) is in the process's time; what the kernel defers
#               to ksoftirqd/FWD_CPU under load is not, so
#   +ksoftirqd  adds that thread's precise run time (/proc/PID/schedstat). /proc/stat per-CPU
#               busy time is not used: it is tick-sampled, and the ring's 1 ms retire timer fires
#               on ticks, which biases it badly at partial load.
#   loss        generated - forwarded; "to dir" = generated - director eth0 rx (lost before the
#               forwarder saw it); ring drops = PACKET_STATISTICS tp_drops (ring full)
#
# Everything lives in namespaces named pps<pid>*, built by scripts/lab/lab.sh and removed by the
# EXIT trap; every process is bounded in time (timeout / -t) and the generator also in count.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, PORT, die, lab_up, forwarder and counter helpers

DURATION=${DURATION:-5}
SIZES=${SIZES:-"64 1400"}
MODES=${MODES:-"dr tun"}
ROUNDS=${ROUNDS:-1}
RATES=${RATES:-"0"}
FLOWS=${FLOWS:-1024}
PROTO=${PROTO:-udp}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
WARMUP=${WARMUP:-200000}
# Count bound of a measured run: far above what a veth lab can do, so time is the real bound.
readonly MAX_PPS=5000000

require_root
require_int DURATION 1 30
require_int ROUNDS 1 5
for r in $RATES; do [[ $r =~ ^[0-9]+$ ]] || die "RATES: $r is not a whole number of pps (0 = unpaced)"; done
require_int FLOWS 1 50000
[[ $WARMUP =~ ^[0-9]+$ ]] && ((WARMUP >= FLOWS && WARMUP <= 5000000)) || die "WARMUP must be FLOWS..5000000"
[[ $PROTO == udp || $PROTO == tcp ]] || die "PROTO must be udp or tcp"
for s in $SIZES; do [[ $s == 64 || $s == 1400 || $s == 1514 ]] || die "SIZES: $s is not 64, 1400 or 1514"; done
[[ -n ${MODES// /} ]] || die "MODES is empty"
for m in $MODES; do [[ $m == dr || $m == tun ]] || die "MODES: $m is not dr or tun"; done
require_tools jq taskset timeout bun gcc nft bridge
(($(nproc) > GEN_CPU && $(nproc) > FWD_CPU)) || die "CPU $GEN_CPU or $FWD_CPU does not exist"

bench_build

# Lab in namespaces pps<pid>*; lab_cleanup (EXIT) stops our forwarder and deletes them.
lab_up pps pps
readonly CLK_TCK=$(getconf CLK_TCK)

# One config per mode; they differ only in the real server's forwarding method. For TUN the
# route to rs1 is on-link (eth0, no gateway), so ringvs's next hop is rs1 itself, the outer
# source the route's preferred source (the director's 198.18.0.3) and the MTU eth0's 1500.
for mode in $MODES; do
	cat >"$TMP/ringvs-$mode.json" <<-EOF
		{
		  "interface": "$LAB_DIRECTOR_IF",
		  "vipMode": "arp",
		  "services": [{
		    "protocol": "$PROTO", "address": "$VIP", "port": $PORT, "scheduler": "rr",
		    "realServers": [{ "address": "$RS_IP", "forward": "$mode" }]
		  }]
		}
	EOF
done

# The real server drops every IPv4 frame at ingress (see the header): same cost in DR and TUN.
# ARP is left alone, so the director still resolves rs1's MAC.
rs_drop_ipv4 pps_rs

# Run time in ns of one task (schedstat: precise, from the scheduler's clock).
task_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
ksoftirqd_pid() {
	local c
	for c in /proc/[0-9]*/comm; do
		[[ $(cat "$c" 2>/dev/null) == "ksoftirqd/$1" ]] && { c=${c#/proc/}; echo "${c%/comm}"; return 0; }
	done
	return 1
}

# generate COUNT SECONDS SIZE RATE: run pktgen in the client namespace, pinned; prints its JSON.
# 1514-byte frames go without DF (the fragmenting TUN path), the others with it.
generate() {
	local df=()
	(($3 == 1514)) && df=(-D)
	pktgen_run "$2" -s "$LAB_CLIENT_IP" -d "$VIP" -p "$PORT" \
		-c "$1" -l "$3" -f "$FLOWS" -P "$PROTO" -r "$4" "${df[@]}"
}

# run_one FORWARDER MODE SIZE RATE ROUND: one measured run; appends a TSV row to $TMP/rows.
run_one() {
	local name=$1 mode=$2 size=$3 rate=$4 round=$5
	FWD_OUT=$TMP/$1-$2-$3-$4-$5.out FWD_ERR=$TMP/$1-$2-$3-$4-$5.err
	local tun=()
	[[ $mode == tun ]] && tun=(-T "$LAB_DIRECTOR_IP,$RS_IP")
	case $name in
	ringvs) ringvs_start "$TMP/ringvs-$mode.json" $((DURATION + 90)) ;;
	cfwd)
		# cfwd gets ringvs's VIP ingress guard, so the receive side, which runs on the generator's
		# core, costs the same in both runs.
		vip_guard_on pps_guard "$PROTO"
		cfwd_start $((DURATION + 60)) "${tun[@]}"
		;;
	esac
	fwd_wait_ready "$name $mode"
	fwd_check_resolved "$name $mode"

	teach_bridge

	generate "$WARMUP" 3 "$size" 0 >/dev/null
	# ringvs folds the kernel's ring statistics in once a second: let one refresh pass.
	sleep 1.2
	local s0 rs0 dir0 rstx0 u0 k0 c0 g s1 rs1 dir1 rstx1 u1 k1 c1
	s0=$(fwd_stats 1)
	rs0=$(rx_packets "$RS") dir0=$(rx_packets "$DIR") rstx0=$(tx_packets "$RS")
	read -r u0 k0 < <(proc_ticks "$FWD_PID")
	c0=$(task_ns "$KSOFTIRQD")

	g=$(generate $((DURATION * MAX_PPS)) "$DURATION" "$size" "$rate")
	sleep 0.5 # the ring's 1 ms block timeout and one batch are all that is left in flight

	rs1=$(rx_packets "$RS") dir1=$(rx_packets "$DIR") rstx1=$(tx_packets "$RS")
	read -r u1 k1 < <(proc_ticks "$FWD_PID")
	c1=$(task_ns "$KSOFTIRQD")
	fwd_stop "$name $mode"
	s1=$(nth_event "$FWD_OUT" stopped 1)
	[[ $name != cfwd ]] || vip_guard_off pps_guard

	# Both forwarders report ring drops, and TUN packets encapsulated and fragmented, under the
	# same names (ringvs in its shim counters).
	local drops0 drops1 encap0 encap1 frag0 frag1 gen secs
	drops0=$(jq '.shim.kernelDrops // .kernelDrops' <<<"$s0")
	drops1=$(jq '.shim.kernelDrops // .kernelDrops' <<<"$s1")
	encap0=$(jq '.shim.tunPackets // .tunPackets' <<<"$s0")
	encap1=$(jq '.shim.tunPackets // .tunPackets' <<<"$s1")
	frag0=$(jq '.shim.tunFragmented // .tunFragmented' <<<"$s0")
	frag1=$(jq '.shim.tunFragmented // .tunFragmented' <<<"$s1")
	gen=$(jq .frames <<<"$g") secs=$(jq .seconds <<<"$g")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$size" "$rate" "$round" \
		"$gen" "$secs" $((dir1 - dir0)) $((rs1 - rs0)) $((u1 - u0)) $((k1 - k0)) $((c1 - c0)) \
		$((drops1 - drops0)) $((rstx1 - rstx0)) "$mode" $((encap1 - encap0)) $((frag1 - frag0)) >>"$TMP/rows"
	echo "  $name $mode ${size}B rate $rate round $round: generated $gen, rs1 frames $((rs1 - rs0))," \
		"ring drops $((drops1 - drops0)), encapsulated $((encap1 - encap0)), fragmented $((frag1 - frag0))" >&2
}

KSOFTIRQD=$(ksoftirqd_pid "$FWD_CPU") || die "no ksoftirqd/$FWD_CPU"
readonly KSOFTIRQD
echo "pps.sh: lab $PREFIX, modes ${MODES// /+}, $PROTO ${SIZES// /+}-byte frames, $FLOWS flows, ${DURATION}s per run," \
	"rates ${RATES// /+} pps (0 = unpaced), generator CPU $GEN_CPU, forwarder CPU $FWD_CPU, $(date -u +%FT%TZ)," \
	"loadavg $(loadavg) (anything else running skews the figures)" >&2
: >"$TMP/rows"
for ((r = 1; r <= ROUNDS; r++)); do
	for rate in $RATES; do
		for size in $SIZES; do
			for mode in $MODES; do
				run_one ringvs "$mode" "$size" "$rate" "$r"
				run_one cfwd "$mode" "$size" "$rate" "$r"
			done
		done
	done
done

# Per-run table, then means over rounds: ringvs/cfwd per (rate, size, mode), and TUN/DR per
# (rate, size) for each forwarder. fwd pps counts packets delivered (rs1 frames / frames per
# packet, "f/p": 2 for TUN at 1514 bytes, else 1). CPU/Mp: CPU seconds per million forwarded
# packets (process); all/Mp adds ksoftirqd. encap: packets the forwarder encapsulated (TUN).
awk -F'\t' -v tck="$CLK_TCK" '
function f(x, d) { return sprintf("%." d "f", x) }
function per(x, mp) { return mp ? x / mp : 0 }
function ratio(a, b) { return b ? f(a / b, 2) : "-" }
# Outer frames per inner packet: IP length = size - 14; fragments of (1500 - 20) & ~7 = 1480 bytes.
function fpp(mode, size) { return mode == "tun" && size - 14 + 20 > 1500 ? int((size - 14 + 1479) / 1480) : 1 }
function tun_dr(fw,    i, rs, d, t) {
	print ""
	print fw " TUN / DR (means over rounds; T/D = TUN / DR)"
	printf "%8s %5s %2s %9s %9s %5s %6s %6s %9s %9s %7s %7s %5s %7s %7s %5s\n", "offered", "bytes", "n",
		"DR", "TUN", "pps", "DR", "TUN", "DR", "TUN", "DR", "TUN", "CPU", "DR", "TUN", "all"
	printf "%8s %5s %2s %9s %9s %5s %6s %6s %9s %9s %7s %7s %5s %7s %7s %5s\n", "", "", "",
		"pps", "pps", "T/D", "loss%", "loss%", "ringdrop", "ringdrop", "CPU/Mp", "CPU/Mp", "T/D", "all/Mp", "all/Mp", "T/D"
	for (i = 1; i <= no; i++) {
		split(order[i], rs, SUBSEP); d = order[i] SUBSEP "dr" SUBSEP fw; t = order[i] SUBSEP "tun" SUBSEP fw
		if (!n[d] || !n[t]) continue
		printf "%8s %5s %2d %9.0f %9.0f %5s %6.2f %6.2f %9.0f %9.0f %7.3f %7.3f %5s %7.3f %7.3f %5s\n",
			rs[1] ? rs[1] : "max", rs[2], n[t], PPS[d] / n[d], PPS[t] / n[t], ratio(PPS[t] / n[t], PPS[d] / n[d]),
			LOSS[d] / n[d], LOSS[t] / n[t], DROPS[d] / n[d], DROPS[t] / n[t],
			CPM[d] / n[d], CPM[t] / n[t], ratio(CPM[t] / n[t], CPM[d] / n[d]),
			APM[d] / n[d], APM[t] / n[t], ratio(APM[t] / n[t], APM[d] / n[d])
	}
}
BEGIN {
	printf "%-6s %-4s %5s %8s %3s %9s %9s %6s %6s %9s %6s %7s %6s %7s %3s %9s %5s\n", "fwd", "mode", "bytes",
		"offered", "rnd", "gen pps", "fwd pps", "loss%", "todir%", "ringdrop", "CPU s", "CPU/Mp", "+ksirq",
		"all/Mp", "f/p", "encap", "rstx"
}
{
	name = $1; size = $2; rate = $3; gen = $5; secs = $6; dirrx = $7; mode = $14
	fp = fpp(mode, size); fwd = $8 / fp
	cpu = ($9 + $10) / tck; ksirq = $11 / 1e9; drops = $12; rstx = $13
	mp = fwd / 1e6; g = gen ? gen : 1
	printf "%-6s %-4s %5s %8s %3s %9.0f %9.0f %6.2f %6.2f %9d %6.2f %7.3f %6.2f %7.3f %3d %9d %5d\n", name, mode,
		size, rate ? rate : "max", $4, gen / secs, fwd / secs, 100 * (gen - fwd) / g, 100 * (gen - dirrx) / g,
		drops, cpu, per(cpu, mp), ksirq, per(cpu + ksirq, mp), fp, $15, rstx
	k = rate SUBSEP size SUBSEP mode SUBSEP name
	n[k]++; PPS[k] += fwd / secs; LOSS[k] += 100 * (gen - fwd) / g; DROPS[k] += drops
	CPM[k] += per(cpu, mp); APM[k] += per(cpu + ksirq, mp)
	if (!((rate SUBSEP size) in seen)) { seen[rate SUBSEP size] = 1; order[++no] = rate SUBSEP size }
	if (!(mode in seenm)) { seenm[mode] = 1; modes[++nm] = mode }
}
END {
	print ""
	print "means over rounds; r/c = ringvs / cfwd; CPU/Mp = CPU seconds per million forwarded packets"
	printf "%8s %5s %-4s %2s %9s %9s %5s %6s %6s %7s %7s %5s %7s %7s %5s\n", "offered", "bytes", "mode", "n",
		"ringvs", "cfwd", "pps", "ringvs", "cfwd", "ringvs", "cfwd", "CPU", "ringvs", "cfwd", "all"
	printf "%8s %5s %-4s %2s %9s %9s %5s %6s %6s %7s %7s %5s %7s %7s %5s\n", "", "", "", "",
		"pps", "pps", "r/c", "loss%", "loss%", "CPU/Mp", "CPU/Mp", "r/c", "all/Mp", "all/Mp", "r/c"
	for (i = 1; i <= no; i++) {
		for (j = 1; j <= nm; j++) {
			split(order[i], rs, SUBSEP); a = order[i] SUBSEP modes[j] SUBSEP "ringvs"; b = order[i] SUBSEP modes[j] SUBSEP "cfwd"
			if (!n[a] || !n[b]) continue
			pa = PPS[a] / n[a]; pb = PPS[b] / n[b]; ca = CPM[a] / n[a]; cb = CPM[b] / n[b]
			aa = APM[a] / n[a]; ab = APM[b] / n[b]
			printf "%8s %5s %-4s %2d %9.0f %9.0f %5s %6.2f %6.2f %7.3f %7.3f %5s %7.3f %7.3f %5s\n",
				rs[1] ? rs[1] : "max", rs[2], modes[j], n[a], pa, pb, ratio(pa, pb), LOSS[a] / n[a], LOSS[b] / n[b],
				ca, cb, ratio(ca, cb), aa, ab, ratio(aa, ab)
		}
	}
	if (("dr" in seenm) && ("tun" in seenm)) { tun_dr("ringvs"); tun_dr("cfwd") }
}' "$TMP/rows"
