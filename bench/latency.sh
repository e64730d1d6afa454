#!/usr/bin/env bash
# latency.sh — the latency the director adds: TCP connect time client -> VIP (through ringvs, DR)
# minus client -> RIP (straight to the real server), at idle and under a background load, for
# each ring: a TPACKET_V3 ring per block timeout (ring.blockTimeoutMs), and the TPACKET_V2 ring.
#
#   bench/latency.sh                                   V3 1 ms and V2, idle and 500 kpps, 2000 connects
#   TIMEOUTS="1 4" LOAD_PPS=550000 COUNT=1000 bench/latency.sh
#   TIMEOUTS="1 2 4 1/16384 v2" bench/latency.sh       MS/BYTES also sets ring.blockSize (default: the
#                                                      config default) and blockCount = 32 MiB / BYTES;
#                                                      v2 is ring.version 2 (32 MiB of 2 KiB frames)
#   MAIN_CPU=1 bench/latency.sh                        control thread on the worker's core too (default:
#                                                      on GEN_CPU, the worker alone on FWD_CPU)
#
# Lab: client, director, rs1 (scripts/lab/lab.sh). rs1 is a DR real server (VIP/32 on lo,
# arp_ignore=1, arp_announce=2, all inside its namespace) running `connlat -s 80` (accept, close).
# ringvs serves TCP VIP:80 and UDP VIP:5000, rr, rs1 "dr", vipMode arp (it answers the client's
# ARP for the VIP), ring.blockTimeoutMs = each of TIMEOUTS; its packet worker pinned to FWD_CPU
# (workers.cpus), the process started on MAIN_CPU (default GEN_CPU), so the control plane's 1 s
# refresh (which spawns `ip`) and the runtime's helper threads stay off the worker's core: what an
# operator gets by pinning the worker on a machine with a spare core. MAIN_CPU=FWD_CPU puts
# everything on one core instead.
# bench/build/connlat in the client namespace, pinned to GEN_CPU, does COUNT rounds of one
# connect to VIP:80 and one to RIP:80 (interleaved, so both see the same conditions; connect()
# alone is timed: SYN out, SYN-ACK in; the SYN goes through the director, the SYN-ACK comes back
# straight from rs1), closing each with RST, 200 us apart. The timed loop runs SCHED_FIFO (chrt -f
# 50): through the director the SYN-ACK arrives on FWD_CPU's softirq and has to wake connlat on
# GEN_CPU, where the paced generator is always runnable; as a normal task connlat then waited for
# the generator's time slice (loaded VIP p50 ~0.37 ms, against ~0.12 with FIFO), which is this
# 2-core lab's scheduling, not the director. Straight to rs1 the SYN-ACK is processed inside
# connlat's own connect(), so the RIP figures hardly change.
# Added latency = percentile(VIP) - percentile(RIP), p50 and p99.
# Load: idle, and pktgen UDP to VIP:5000 at LOAD_PPS (default 500000, about half of ringvs's
# measured DR capacity at 64 bytes, bench/drain.sh) on GEN_CPU for the whole connect loop; rs1
# drops UDP port 5000 at ingress. Batching under load is read from ringvs's shim counters:
# frames per ring block and per sendmmsg call over the loaded run.
#
# Namespaces lat<pid>*, removed by the EXIT trap; every process bounded in time (and count).
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, die, lab_up, forwarder helpers

TIMEOUTS=${TIMEOUTS:-"1 v2"}
LOADS=${LOADS:-"0 ${LOAD_PPS:-500000}"}
COUNT=${COUNT:-2000}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
MAIN_CPU=${MAIN_CPU:-$GEN_CPU}
RING_BYTES=$((32 << 20))
DEFAULT_BLOCK_SIZE=$(cd "$REPO" && bun -e 'import { RING_DEFAULTS } from "./src/config/model.ts"; console.log(RING_DEFAULTS.blockSize)')

require_root
require_int COUNT 100 20000
for t in $TIMEOUTS; do [[ $t == v2 ]] || { [[ $t =~ ^([0-9]+)(/[0-9]+)?$ ]] && ((${t%/*} >= 1 && ${t%/*} <= 100)); } || die "TIMEOUTS: MS[/BLOCK_BYTES] (1..100 ms) or v2"; done
for l in $LOADS; do [[ $l =~ ^[0-9]+$ ]] && ((l <= 2000000)) || die "LOADS: 0..2000000 pps"; done
require_tools jq taskset chrt timeout bun gcc nft

bench_build

# Lab in namespaces lat<pid>*; lab_cleanup (EXIT) stops the generator and ringvs, deletes them.
lab_up lat latency

# rs1: a DR real server for the VIP, and a sink for the UDP background load.
ip netns exec "$RS" sh -c '
	ip addr add '"$VIP"'/32 dev lo
	for k in all lo; do
		echo 1 > /proc/sys/net/ipv4/conf/$k/arp_ignore
		echo 2 > /proc/sys/net/ipv4/conf/$k/arp_announce
	done'
ip netns exec "$RS" nft -f - <<-EOF
	table netdev lat_rs {
		chain sink {
			type filter hook ingress device "eth0" priority -500; policy accept;
			meta l4proto udp udp dport 5000 counter drop
		}
	}
EOF
ip netns exec "$RS" taskset -c "$GEN_CPU" "$B/connlat" -s 80 -t 600 >/dev/null 2>&1 &

echo "latency.sh: lab $PREFIX, rings ${TIMEOUTS// /+}, loads ${LOADS// /+} pps, $COUNT connects per target," \
	"worker CPU $FWD_CPU, control thread CPU $MAIN_CPU, $(date -u +%FT%TZ), loadavg $(loadavg)" >&2
: >"$TMP/rows"
for spec in $TIMEOUTS; do
	tmo=${spec%/*} bs=$DEFAULT_BLOCK_SIZE version=3 label=
	[[ $spec != */* ]] || bs=${spec#*/}
	if [[ $spec == v2 ]]; then version=2 tmo=1 label=v2; else label="$tmo/$((bs / 1024))K"; fi
	cat >"$TMP/ringvs.json" <<-EOF
		{
		  "interface": "$LAB_DIRECTOR_IF", "vipMode": "arp",
		  "ring": { "version": $version, "blockTimeoutMs": $tmo, "blockSize": $bs, "blockCount": $((RING_BYTES / bs)) },
		  "workers": { "count": 1, "cpus": [$FWD_CPU] },
		  "services": [
		    { "protocol": "tcp", "address": "$VIP", "port": 80, "scheduler": "rr",
		      "realServers": [{ "address": "$RS_IP", "forward": "dr" }] },
		    { "protocol": "udp", "address": "$VIP", "port": 5000, "scheduler": "rr",
		      "realServers": [{ "address": "$RS_IP", "forward": "dr" }] }
		  ]
		}
	EOF
	FWD_OUT=$TMP/ringvs-${label//\//-}.out FWD_ERR=$TMP/ringvs-${label//\//-}.err
	ringvs_start "$TMP/ringvs.json" 300 "$MAIN_CPU"
	fwd_wait_ready ringvs
	nstats=0
	# Warm-up: ARP for the VIP and the RIP, JIT, neighbour entries.
	ip netns exec "$CL" taskset -c "$GEN_CPU" "$B/connlat" -n 300 -t 20 -g 100 "$VIP:80" "$RS_IP:80" >/dev/null
	for load in $LOADS; do
		if ((load)); then
			pktgen_start 60 -s "$LAB_CLIENT_IP" -d "$VIP" -p 5000 -c $((load * 60)) -l 64 -f 1024 -r "$load" >"$TMP/gen"
			sleep 0.5
		fi
		nstats=$((nstats + 1))
		s0=$(fwd_stats "$nstats")
		r=$(ip netns exec "$CL" taskset -c "$GEN_CPU" chrt -f 50 "$B/connlat" -n "$COUNT" -t 60 -g 200 "$VIP:80" "$RS_IP:80")
		nstats=$((nstats + 1))
		s1=$(fwd_stats "$nstats")
		if ((load)); then
			kill -TERM "$GEN_JOB"
			wait "$GEN_JOB" || true
			GEN_JOB=""
		fi
		vip=$(sed -n 1p <<<"$r") rip=$(sed -n 2p <<<"$r")
		# Frames per unit the ring hands over: per V3 block, or per V2 wake-up (poll).
		fpb=$(jq -n --argjson a "$s0" --argjson b "$s1" --arg v "$version" \
			'(($b.shim.rxFrames - $a.shim.rxFrames) / ([(if $v == "2" then ($b.shim.rxPolls - $a.shim.rxPolls)
			  else ($b.shim.rxBlocks - $a.shim.rxBlocks) end), 1] | max))')
		fpc=$(jq -n --argjson a "$s0" --argjson b "$s1" \
			'(($b.shim.txFrames - $a.shim.txFrames) / ([($b.shim.txCalls - $a.shim.txCalls), 1] | max))')
		drops=$(jq -n --argjson a "$s0" --argjson b "$s1" '$b.shim.kernelDrops - $a.shim.kernelDrops')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$load" "$(jq -c . <<<"$vip")" "$(jq -c . <<<"$rip")" \
			"$fpb" "$fpc" "$drops" >>"$TMP/rows"
		echo "  ring $label, load $load pps: VIP $(jq -c '{n,failures,p50Us,p99Us,maxUs}' <<<"$vip")" \
			"RIP $(jq -c '{n,failures,p50Us,p99Us,maxUs}' <<<"$rip"), frames/block (v2: per poll) $fpb, frames/sendmmsg $fpc, ring drops $drops" >&2
	done
	fwd_stop ringvs
done

echo
echo "Added connect latency through ringvs (DR): VIP - RIP, microseconds; fr/unit = frames per V3 block or per V2 poll"
printf '%7s %8s | %8s %8s %8s | %8s %8s | %8s %8s | %7s %7s %5s\n' "ring" "load" "VIP p50" "VIP p99" "VIP max" \
	"RIP p50" "RIP p99" "add p50" "add p99" "fr/unit" "fr/call" "drops"
while IFS=$'\t' read -r tmo load vip rip fpb fpc drops; do
	jq -rn --argjson v "$vip" --argjson r "$rip" --arg t "$tmo" --arg l "$load" --arg b "$fpb" --arg c "$fpc" --arg d "$drops" \
		'[$t + "", (if $l == "0" then "idle" else $l end), $v.p50Us, $v.p99Us, $v.maxUs, $r.p50Us, $r.p99Us,
		  ($v.p50Us - $r.p50Us), ($v.p99Us - $r.p99Us), ($b | tonumber), ($c | tonumber), $d,
		  ($v.failures + $r.failures)] |
		 "\(.[0]) \(.[1]) | \(.[2]) \(.[3]) \(.[4]) | \(.[5]) \(.[6]) | \(.[7]) \(.[8]) | \(.[9]) \(.[10]) \(.[11]) fail \(.[12])"' |
		awk '{ printf "%7s %8s | %8.0f %8.0f %8.0f | %8.0f %8.0f | %8.0f %8.0f | %7.1f %7.1f %5s %s %s\n",
			$1, $2, $4, $5, $6, $8, $9, $11, $12, $14, $15, $16, $17, $18 }'
done <"$TMP/rows"
