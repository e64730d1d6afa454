# bench/lib.sh — what the lab benchmarks (pps.sh, drain.sh, latency.sh, rss.sh, reqresp.sh;
# txmethods.sh for the checks) share: argument checks, building the C tools, the lab with its
# EXIT-trap cleanup, starting and stopping a forwarder (`ringvs serve` or cfwd) in the director
# namespace pinned to FWD_CPU, its JSON events, the generator pinned to GEN_CPU, teaching the
# bridge, and counters.
#
# Sourced (not run) after `set -euo pipefail`: source "$(dirname "$0")/lib.sh". The caller sets
# GEN_CPU and FWD_CPU before it uses the lab functions. Everything here runs inside the lab's
# namespaces or reads /proc; nothing touches the root namespace's network.

readonly REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly LAB_SH=$REPO/scripts/lab/lab.sh
readonly B=$REPO/bench/build # the C tools, built by bench_build
readonly VIP=198.18.0.100
readonly PORT=5000

FWD_JOB="" # background job of the running forwarder (ip netns exec ...), for cleanup
FWD_PID="" # the forwarder's own pid, from its ready event (ip netns exec and timeout sit between)
GEN_JOB="" # a background generator, for cleanup
FWD_OUT="" FWD_ERR="" # the running forwarder's stdout (JSON events) and stderr files

# die MESSAGE...: "SCRIPT: MESSAGE" on stderr, exit 1 (the EXIT trap then cleans up).
die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# require_root: the benchmarks create network namespaces.
require_root() {
	[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
}

# require_tools TOOL...: dies naming the first one missing from PATH.
require_tools() {
	local t
	for t in "$@"; do command -v "$t" >/dev/null || die "missing $t"; done
}

# require_int VAR LO HI [UNIT]: dies with "VAR must be LO..HI[ UNIT]" unless $VAR is a whole
# number in LO..HI.
require_int() {
	local v=${!1}
	[[ $v =~ ^[0-9]+$ ]] && ((v >= $2 && v <= $3)) || die "$1 must be $2..$3${4:+ $4}"
}

# bench_build: the native shim and bench/build/* (cfwd, pktgen, drainwatch, soak, connlat, udprr).
bench_build() {
	make -s -C "$REPO/native" >/dev/null
	make -s -C "$REPO/bench" >/dev/null
}

# loadavg: the 1, 5 and 15 min load averages (anything else running skews the figures).
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# lab_cleanup: EXIT trap of lab_up. Continues a forwarder left stopped (it would ignore SIGTERM),
# stops the background generator and forwarder, then `lab.sh down` kills whatever is left inside
# the lab's namespaces and deletes them; removes TMP. Keeps the exit status.
lab_cleanup() {
	local rc=$?
	[[ -z $FWD_PID ]] || kill -CONT "$FWD_PID" 2>/dev/null || true
	[[ -z $GEN_JOB ]] || kill -TERM "$GEN_JOB" 2>/dev/null || true
	[[ -z $FWD_JOB ]] || kill -TERM "$FWD_JOB" 2>/dev/null || true
	bash "$LAB_SH" down "$PREFIX" || true
	rm -rf "$TMP"
	exit "$rc"
}

# lab_up NS_TAG TMP_TAG: a scratch directory TMP (/tmp/ringvs-TMP_TAG.*), the cleanup traps, and
# the lab with one real server in namespaces PREFIX* (PREFIX = NS_TAG + our pid), via
# scripts/lab/lab.sh. Sets its LAB_* variables and the short names CL, DIR, RS, RS_IP, RS_MAC.
lab_up() {
	readonly PREFIX=$1$$
	TMP=$(mktemp -d "/tmp/ringvs-$2.XXXXXX")
	readonly TMP
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	eval "$(bash "$LAB_SH" up "$PREFIX" 1)"
	readonly CL=$LAB_CLIENT_NS DIR=$LAB_DIRECTOR_NS RS=$LAB_RS_NS RS_IP=$LAB_RS_IPS RS_MAC=$LAB_RS_MACS
}

# rs_drop_ipv4 TABLE: rs1 drops every IPv4 frame at ingress (netdev table TABLE), after its eth0
# has counted it; ARP is left alone, so the director still resolves rs1's MAC.
rs_drop_ipv4() {
	ip netns exec "$RS" nft -f - <<-EOF
		table netdev $1 {
			chain drop_ip {
				type filter hook ingress device "eth0" priority -500; policy accept;
				meta protocol ip counter drop
			}
		}
	EOF
}

# rx_packets NS / tx_packets NS: eth0's packet counters in namespace NS.
rx_packets() { ip -n "$1" -s -j link show dev eth0 | jq '.[0].stats64.rx.packets'; }
tx_packets() { ip -n "$1" -s -j link show dev eth0 | jq '.[0].stats64.tx.packets'; }
# proc_ticks PID: "utime stime" (clock ticks) of every thread of PID; comm may hold spaces, so cut
# after ") ". proc_cpu_ticks PID: their sum. proc_state PID: the state letter (T = stopped).
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'; }
proc_cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
proc_state() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $1 }'; }

# wait_event FILE EVENT N TIMEOUT_S: until FILE holds N lines of {"event":"EVENT"...}; 1 on timeout.
wait_event() {
	local file=$1 event=$2 n=$3 i
	for ((i = 0; i < $4 * 20; i++)); do
		(($(grep -c "\"event\":\"$event\"" "$file" 2>/dev/null || true) >= n)) && return 0
		sleep 0.05
	done
	return 1
}
# nth_event FILE EVENT N: the N-th such line.
nth_event() { grep "\"event\":\"$2\"" "$1" | sed -n "${3}p"; }

# ringvs_start CONFIG LIMIT_S [CPU]: `ringvs serve --config CONFIG` in the director namespace, pinned
# to CPU (default FWD_CPU: every thread of the bun process, unless the config pins its packet
# workers elsewhere with workers.cpus), killed after LIMIT_S; in the background, output to
# FWD_OUT / FWD_ERR (set by the caller). Sets FWD_JOB; then fwd_wait_ready.
ringvs_start() {
	(cd "$REPO" && exec ip netns exec "$DIR" taskset -c "${3:-$FWD_CPU}" timeout -k 5 "$2" \
		bun src/cli/main.ts serve --config "$1") >"$FWD_OUT" 2>"$FWD_ERR" &
	FWD_JOB=$!
}

# cfwd_start LIMIT_S [cfwd options...]: bench/build/cfwd forwarding VIP frames to rs1's MAC, in the
# director namespace pinned to FWD_CPU, for at most LIMIT_S; like ringvs_start otherwise.
cfwd_start() {
	local limit=$1
	shift
	ip netns exec "$DIR" taskset -c "$FWD_CPU" "$B/cfwd" -i eth0 -m "$RS_MAC" -v "$VIP" -t "$limit" "$@" \
		>"$FWD_OUT" 2>"$FWD_ERR" &
	FWD_JOB=$!
}

# vip_guard_on TABLE PROTO / vip_guard_off TABLE: the netdev ingress drop of VIP:PORT/PROTO that
# ringvs installs (src/control/kernel_guard.ts), for cfwd, so the director's own stack handles
# its copy of each frame the same in both forwarders' runs.
vip_guard_on() {
	ip netns exec "$DIR" nft -f - <<-EOF
		table netdev $1 {}
		delete table netdev $1
		table netdev $1 {
			chain vip_ingress {
				type filter hook ingress device "$LAB_DIRECTOR_IF" priority -500; policy accept;
				ip daddr $VIP $2 dport $PORT counter drop
			}
		}
	EOF
}
vip_guard_off() { ip netns exec "$DIR" nft delete table netdev "$1" 2>/dev/null || true; }

# fwd_wait_ready WHAT: waits (30 s) for the forwarder's ready event, sets FWD_PID from it.
fwd_wait_ready() {
	wait_event "$FWD_OUT" ready 1 30 || die "$1 did not become ready: $(cat "$FWD_ERR")"
	FWD_PID=$(nth_event "$FWD_OUT" ready 1 | jq -r .pid)
}

# fwd_check_resolved WHAT: ringvs resolves the real server's (DR) or next hop's (TUN) MAC before
# it reports ready; a server still unresolved would not be chosen and a run would measure nothing.
fwd_check_resolved() {
	[[ $(nth_event "$FWD_OUT" ready 1 | jq -r '.unresolved // [] | length') == 0 ]] ||
		die "$1: unresolved real servers: $(nth_event "$FWD_OUT" ready 1)"
}

# fwd_stats N: asks the forwarder for a stats event (SIGUSR1) and prints the N-th one (N counted
# by the caller, as this usually runs in a subshell); fails after 10 s without it.
fwd_stats() {
	kill -USR1 "$FWD_PID"
	wait_event "$FWD_OUT" stats "$1" 10 || die "no stats after SIGUSR1"
	nth_event "$FWD_OUT" stats "$1"
}

# fwd_stop [WHAT]: SIGTERM to the forwarder, waits (15 s) for its stopped event (dies "WHAT did not
# stop" without it, if WHAT is given), reaps the job and clears FWD_JOB / FWD_PID.
fwd_stop() {
	kill -TERM "$FWD_PID"
	wait_event "$FWD_OUT" stopped 1 15 || [[ -z ${1:-} ]] || die "$1 did not stop: $(cat "$FWD_ERR")"
	wait "$FWD_JOB" || true
	FWD_JOB="" FWD_PID=""
}

# teach_bridge: the bridge must know the director's and the real server's MACs, or it floods
# generated frames to the real server (and forwarded ones everywhere). One UDP datagram from the
# director to the real server makes both ARP, which both ports learn from; the fdb is checked,
# not assumed.
teach_bridge() {
	local i fdb
	for ((i = 0; i < 20; i++)); do
		ip netns exec "$DIR" bash -c "echo > /dev/udp/$RS_IP/9" 2>/dev/null || true
		ip netns exec "$CL" bash -c "echo > /dev/udp/$LAB_DIRECTOR_IP/9" 2>/dev/null || true
		sleep 0.05
		fdb=$(bridge -n "$LAB_SWITCH_NS" fdb show br br0)
		grep -q "$RS_MAC dev rs1 " <<<"$fdb" && grep -q "$LAB_DIRECTOR_MAC dev dir " <<<"$fdb" &&
			grep -q "$LAB_CLIENT_MAC dev cl " <<<"$fdb" && return 0
	done
	die "the bridge did not learn the lab's MACs: $fdb"
}

# pktgen_argv SECONDS: sets PKTGEN to the command line of bench/build/pktgen in the client
# namespace, pinned to GEN_CPU, sending to the director's MAC for at most SECONDS (-t; killed 10 s
# after); the caller appends the frame options.
pktgen_argv() {
	PKTGEN=(ip netns exec "$CL" taskset -c "$GEN_CPU" timeout -k 2 $(($1 + 10))
		"$B/pktgen" -i eth0 -m "$LAB_DIRECTOR_MAC" -t "$1")
}
# pktgen_run SECONDS [pktgen options...]: that generator in the foreground; prints its JSON line.
pktgen_run() {
	pktgen_argv "$1"
	shift
	"${PKTGEN[@]}" "$@"
}
# pktgen_start SECONDS [pktgen options...]: the same in the background; GEN_JOB is the generator
# process itself (ip netns exec execs), so SIGTERM to it reaches timeout and pktgen.
pktgen_start() {
	pktgen_argv "$1"
	shift
	"${PKTGEN[@]}" "$@" &
	GEN_JOB=$!
}
