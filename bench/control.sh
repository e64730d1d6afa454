#!/usr/bin/env bash
# control.sh — the control plane's change rate: how long ipvsadm-style changes take against a
# running `ringvs serve` with a big table, how long it takes to start with one, and what a
# kube-proxy-like stream of changes does to forwarding. A benchmark, not a test: it prints each
# figure next to its target and never fails on one.
#
#   bench/control.sh                                  everything, defaults (~3.5 min)
#   SERVICES=3000 SINGLE_SECONDS=10 CHURN_SECONDS=60 bench/control.sh
#   PHASES=churn CHURN_SECONDS=60 bench/control.sh    only the churn run (PHASES: small big churn)
#
# Knobs (environment):
#   SERVICES, SERVERS   the big table: SERVICES services x SERVERS real servers (10000 x 10, the
#                       targets' table); at most REAL_SERVER_ENTRIES_MAX (src/config/model.ts)
#                       (service, real server) entries in all.
#   RIPS                distinct real-server addresses the entries are spread over (400; 2 x
#                       SERVERS .. 64000). The director keeps a kernel neighbour entry per DR real
#                       server, and the kernel's neighbour table is one for all namespaces, capped
#                       by net.ipv4.neigh.default.gc_thresh3 (1024 by default, settable only in the
#                       root namespace, which the lab never touches): past it `ip neigh replace`
#                       fails with ENOBUFS and those real servers are never chosen. 400 leaves room
#                       for whatever else runs on the host, and stays under gc_thresh2 (512),
#                       above which the kernel may collect entries when it allocates new ones.
#   LINES               lines of the -R file (10000): LINES/2 -a of real servers new to their
#                       service (round-robin over the services), then the same LINES/2 as -d
#   SINGLE_COUNT, SINGLE_SECONDS   single -a/-d changes per way of sending them (500), and the
#                       most seconds each way may take (30): whichever ends first
#   CHURN_SERVICES, CHURN_SERVERS, CHURN_PCT   the churn table (1000 x 10) and the share of
#                       every service's real servers replaced each second (20 %)
#   CHURN_SECONDS       length of the churn run and of the run without churn it is compared
#                       with (20; kube-proxy-like runs of 60 s take 2 x 40 s more)
#   CAP_SECONDS         the unpaced run that measures the forwarding capacity (3)
#   IDLE_SECONDS        how long the director's CPU is watched with nothing to do (5), 2 s
#                       after ready: the once-a-second refresh and the 2 s rate estimator, whose
#                       cost grows with the table, on the core the packet worker also runs on
#   FLOWS               UDP flows of the generator (1024)
#   TIMEOUT             seconds a -R over the socket may take (120); the CLI's own is 30 s, fixed
#                       in src/control/socket.ts (no flag or variable changes it)
#   PHASES              which parts run (small big churn)
#   GEN_CPU, FWD_CPU    the generator's and the clients' core (0), the director's (1)
#   PROFILE_DIR         when set, every director runs with bun --cpu-prof --cpu-prof-md and
#                       leaves its profile there when it stops (it costs some CPU: figures skew)
#
# What runs where (2 cores):
#   director ns, CPU FWD_CPU:  `ringvs serve --interface eth0 --rules FILE --vip-mode arp
#                              --socket S`, every thread of the bun process (packet worker, control
#                              thread and the ip/nft processes it starts) on that one core.
#   director ns, CPU GEN_CPU:  bench/control_driver.ts, the client: the ringvs CLI (one bun
#                              process per change, as a script of ipvsadm lines pays) or the
#                              control socket directly (src/control/socket.ts's request(): one
#                              JSON line each way), and the churn batches.
#   client ns, CPU GEN_CPU:    bench/build/pktgen (churn phase only), UDP to 198.18.0.100:5000.
#   rs1 ns:                    198.18.0.11 and, through a local route (AnyIP), every address of
#                              198.19.0.0/16, so it answers ARP for all RIPs (60,000 `ip addr add`
#                              on one interface took 4.5 min here: the kernel's address list is
#                              linear); drops every IPv4 frame at ingress, counting them.
#   The director ns gets an on-link route 198.19.0.0/16 dev eth0 (DR needs the RIPs on its link).
#   Addresses: services 198.18.128.1.. (one VIP each, TCP :80, wlc), RIPs 198.19.x.y; the plan
#   is written down once, in bench/control_driver.ts.
#
# Phases and figures:
#   small  a director with one service (SERVERS real servers): `ringvs -R < file` of LINES lines,
#          end to end through the CLI, and over the socket; single -a/-d through the CLI and the
#          socket. The comparison for the big table.
#   big    start-up: exec of `ringvs serve` to its {"event":"ready"} line (with its startupMs per
#          phase), and VmRSS right then; once with no CPU affinity (as a service manager starts
#          it), then with every thread on FWD_CPU (the director the rest of the phase talks to);
#          the same -R (CLI, socket), and the -a half and the -d half alone (socket; the add+del
#          file leaves the table as it was, so its one apply has no new real server to resolve);
#          single -a/-d latency, CLI and socket, p50/p99/max; over the socket both with real
#          servers new to the director (each -a waits for its route and neighbour lookup) and with
#          ones it already has (no lookup).
#   churn  CHURN_SERVICES x CHURN_SERVERS plus the UDP traffic service (rs1). Capacity: pktgen
#          unpaced for CAP_SECONDS; then pktgen paced at half of it for CHURN_SECONDS without
#          changes, and again while the driver replaces CHURN_PCT % of every service's real
#          servers each second, one -R batch a second over the socket (-d old, -a new; each slot
#          swaps between two addresses: after the first 100/CHURN_PCT s, 5 by default, no address
#          is new to the director). Forwarded pps = IPv4 frames rs1 counted / generator seconds;
#          ring drops from the director's stats.
#
# Everything lives in namespaces ctl<pid>*, built by scripts/lab/lab.sh and removed by the EXIT
# trap; every process is bounded in time (timeout, pktgen -t) and every loop in count and time.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, B, VIP, PORT, die, lab_up, forwarder helpers

SERVICES=${SERVICES:-10000}
SERVERS=${SERVERS:-10}
RIPS=${RIPS:-400}
LINES=${LINES:-10000}
SINGLE_COUNT=${SINGLE_COUNT:-500}
SINGLE_SECONDS=${SINGLE_SECONDS:-30}
CHURN_SERVICES=${CHURN_SERVICES:-1000}
CHURN_SERVERS=${CHURN_SERVERS:-10}
CHURN_PCT=${CHURN_PCT:-20}
CHURN_SECONDS=${CHURN_SECONDS:-20}
CAP_SECONDS=${CAP_SECONDS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-5}
FLOWS=${FLOWS:-1024}
TIMEOUT=${TIMEOUT:-120}
PHASES=${PHASES:-"small big churn"}
GEN_CPU=${GEN_CPU:-0}
FWD_CPU=${FWD_CPU:-1}
# The director's entry limit, read from the source rather than copied.
ENTRIES_MAX=$(cd "$(dirname "$0")/.." && bun -e 'import { REAL_SERVER_ENTRIES_MAX } from "./src/config/model.ts"; console.log(REAL_SERVER_ENTRIES_MAX)')
readonly ENTRIES_MAX
readonly START_LIMIT=180   # seconds a director may take to report ready
readonly MAX_PPS=5000000   # count bound of a generator run: far above what a veth lab does

require_root
require_int SERVERS 1 1000
require_int SERVICES 1 25000
require_int RIPS $((2 * SERVERS)) 64000
require_int LINES 2 200000
require_int SINGLE_COUNT 2 100000
require_int SINGLE_SECONDS 1 600
require_int CHURN_SERVICES 1 25000
require_int CHURN_SERVERS 1 1000
require_int CHURN_PCT 1 100
require_int CHURN_SECONDS 2 600
require_int CAP_SECONDS 1 30
require_int IDLE_SECONDS 1 60
require_int FLOWS 1 50000
require_int TIMEOUT 1 3600
((SERVICES * SERVERS <= ENTRIES_MAX)) ||
	die "SERVICES x SERVERS = $((SERVICES * SERVERS)): ringvs holds at most $ENTRIES_MAX real-server entries"
((CHURN_SERVICES * CHURN_SERVERS + 1 <= ENTRIES_MAX)) || die "CHURN_SERVICES x CHURN_SERVERS is over $ENTRIES_MAX entries"
((RIPS >= 2 * CHURN_SERVERS)) || die "RIPS must be at least 2 x CHURN_SERVERS"
for p in $PHASES; do [[ $p == small || $p == big || $p == churn ]] || die "PHASES: $p is not small, big or churn"; done
require_tools jq taskset timeout bun gcc nft bridge
(($(nproc) > GEN_CPU && $(nproc) > FWD_CPU)) || die "CPU $GEN_CPU or $FWD_CPU does not exist"
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }

bench_build

# Lab in namespaces ctl<pid>*; lab_cleanup (EXIT) stops what runs there and deletes them.
lab_up ctl ctl
readonly SOCK=$TMP/ringvs.sock
readonly DRIVER=$REPO/bench/control_driver.ts
readonly RIP_NET=198.19.0.0/16
ip -n "$RS" route add local "$RIP_NET" dev eth0
ip -n "$DIR" route add "$RIP_NET" dev "$LAB_DIRECTOR_IF"
rs_drop_ipv4 ctl_rs

# driver ARGS...: bench/control_driver.ts in the director namespace, pinned to GEN_CPU, killed
# after TIMEOUT + SINGLE_SECONDS + CHURN_SECONDS * 3 + 60 s at the latest (its own loops are
# bounded tighter).
driver() {
	ip netns exec "$DIR" taskset -c "$GEN_CPU" timeout -k 5 $((TIMEOUT + SINGLE_SECONDS + 3 * CHURN_SECONDS + 60)) \
		bun "$DRIVER" "$@"
}

# serve_start RULES [CPUS]: `ringvs serve` of RULES in the director namespace on CPUS (FWD_CPU;
# "all" for no affinity), in the background (killed after 30 min at the latest); START_T is the
# time of the exec.
serve_start() {
	FWD_OUT=$TMP/serve-$1.out FWD_ERR=$TMP/serve-$1.err
	local cpus=${2:-$FWD_CPU}
	[[ $cpus == all ]] && cpus=$(taskset -pc $$ | sed 's/.*: //')
	START_T=$EPOCHREALTIME
	ip netns exec "$DIR" taskset -c "$cpus" timeout -k 5 1800 \
		bun ${PROFILE_DIR:+--cpu-prof --cpu-prof-md "--cpu-prof-dir=$PROFILE_DIR"} "$REPO/src/cli/main.ts" serve --interface "$LAB_DIRECTOR_IF" --rules "$TMP/$1.rules" --vip-mode arp \
		--socket "$SOCK" >"$FWD_OUT" 2>"$FWD_ERR" &
	FWD_JOB=$!
}

# serve_ready WHAT: waits (polling every 10 ms, START_LIMIT s at most) for the ready event; sets
# FWD_PID, READY_S (seconds from exec to ready, as seen by this poll), RSS_MIB (VmRSS right
# then) and UNRESOLVED (real servers without a MAC at ready).
serve_ready() {
	local i
	for ((i = 0; i < START_LIMIT * 100; i++)); do
		grep -q '"event":"ready"' "$FWD_OUT" 2>/dev/null && break
		kill -0 "$FWD_JOB" 2>/dev/null || die "$1 exited before ready: $(tail -c 2000 "$FWD_ERR")"
		sleep 0.01
	done
	local t=$EPOCHREALTIME
	grep -q '"event":"ready"' "$FWD_OUT" || die "$1 not ready after ${START_LIMIT}s: $(tail -c 2000 "$FWD_ERR")"
	FWD_PID=$(nth_event "$FWD_OUT" ready 1 | jq -r .pid)
	RSS_MIB=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$FWD_PID/status")
	READY_S=$(awk -v a="$START_T" -v b="$t" 'BEGIN { printf "%.2f", b - a }')
	UNRESOLVED=$(nth_event "$FWD_OUT" ready 1 | jq '.unresolved | length')
	# Where the start-up went: the ready event's startupMs, as "rules 1200, vips 3, guard 80, ..."
	STARTUP_PHASES=$(nth_event "$FWD_OUT" ready 1 | jq -r '.startupMs // {} | to_entries | map("\(.key) \(.value)") | join(", ")')
	((UNRESOLVED == 0)) || echo "  $1: $UNRESOLVED real servers unresolved at ready (they are not chosen)" >&2
}

# idle_cpu: % of one core the director used over IDLE_SECONDS with no change and no traffic,
# its own threads and the ip/nft processes it ran and reaped (utime + stime + cutime + cstime).
idle_cpu() {
	local a b
	sleep 2
	a=$(sed 's/^.*) //' "/proc/$FWD_PID/stat" | awk '{ print $12 + $13 + $14 + $15 }')
	sleep "$IDLE_SECONDS"
	b=$(sed 's/^.*) //' "/proc/$FWD_PID/stat" | awk '{ print $12 + $13 + $14 + $15 }')
	awk -v d=$((b - a)) -v t="$(getconf CLK_TCK)" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.0f", 100 * d / t / s }'
}
# stop_director WHAT: fwd_stop, then a row with the neighbour entries left in the director's
# namespace (ringvs deletes the managed entries it created when it stops).
stop_director() {
	fwd_stop "$1"
	row "after stop: managed neighbour entries left" "$(ip -n "$DIR" neigh show | grep -c " managed" || true)" "" "" "ringvs creates them; in the director namespace"
}

# Results: one TSV row per figure in $TMP/rows: figure, value, unit, target, note.
: >"$TMP/rows"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TMP/rows"; }
section() { printf '#\t%s\n' "$1" >>"$TMP/rows"; }
# restore_row NAME JSON TARGET: seconds of one -R, or why it failed.
restore_row() {
	local code ms
	code=$(jq .code <<<"$2") ms=$(jq .ms <<<"$2")
	if ((code == 0)); then
		row "$1" "$(awk -v m="$ms" 'BEGIN { printf "%.2f", m / 1000 }')" s "$3" "$(jq .lines <<<"$2") lines"
	else
		row "$1" "failed" "" "$3" "exit $code after $(awk -v m="$ms" 'BEGIN { printf "%.1f", m / 1000 }') s: $(jq -r .stderr <<<"$2" | tr '\n' ' ' | cut -c1-120)"
	fi
}
# singles_rows LABEL JSON: p50/p99 of -a and -d, and the worst.
singles_rows() {
	local j=$2 note
	note="n=$(jq .all.n <<<"$j"), max $(jq .all.max <<<"$j") ms"
	(($(jq .failures <<<"$j") == 0)) || note="$note, $(jq .failures <<<"$j") failed: $(jq -r .firstError <<<"$j" | cut -c1-100)"
	row "$1 -a p50 / p99" "$(jq -r '"\(.add.p50) / \(.add.p99)"' <<<"$j")" ms "p99 <= 5 ms" "$note"
	row "$1 -d p50 / p99" "$(jq -r '"\(.del.p50) / \(.del.p99)"' <<<"$j")" ms "p99 <= 5 ms" ""
}

echo "control.sh: lab $PREFIX, phases ${PHASES// /+}, big table $SERVICES x $SERVERS = $((SERVICES * SERVERS)) entries over" \
	"$RIPS RIPs, -R of $LINES lines, churn $CHURN_SERVICES x $CHURN_SERVERS, $CHURN_PCT %/s for ${CHURN_SECONDS}s," \
	"director CPU $FWD_CPU, clients and generator CPU $GEN_CPU, $(date -u +%FT%TZ), loadavg $(loadavg)" \
	"(anything else running skews the figures)" >&2
others=$(ip netns list | awk '{ print $1 }' | grep -vc "^$PREFIX" || true)
((others == 0)) || echo "control.sh: $others other network namespaces exist on this host: another lab running now skews every figure" >&2

# cpu_snapshot: "pid starttime ticks comm" of every process (utime + stime of all its threads), to
# tell at the end how much CPU the rest of the host took while this ran: on 2 cores, one other
# busy process halves the generator's or the director's core.
cpu_snapshot() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{
		i = length($0); while (i > 1 && substr($0, i - 1, 2) != ") ") i--
		split(substr($0, i + 1), f, " "); o = index($0, " (")
		comm = substr($0, o + 2, i - o - 3); gsub(/ /, "_", comm)
		print substr($0, 1, o - 1), f[20], f[12] + f[13], comm }'
}
# others_cpu START_FILE: CPU seconds of processes outside the lab's namespaces (and other than
# this script) since START_FILE was taken, the busiest first.
others_cpu() {
	local mine pid
	mine=" $$ "
	for pid in $(for ns in $(ip netns list | awk '{ print $1 }' | grep "^$PREFIX"); do ip netns pids "$ns"; done); do mine+="$pid "; done
	cpu_snapshot | awk -v mine="$mine" -v tck="$(getconf CLK_TCK)" '
		NR == FNR { t0[$1 " " $2] = $3; next }
		index(mine, " " $1 " ") == 0 { d = ($3 - t0[$1 " " $2]) / tck; if (d >= 1) printf "%.0f %s(%s)\n", d, $4, $1 }' "$1" - |
		sort -rn | head -5 | awk '{ t += $1; s = s (s ? ", " : "") $2 " " $1 " s" } END { if (t) print t " CPU-s: " s }'
}
cpu_snapshot >"$TMP/cpu0"

# small / big: -R of the add+del file through the CLI and the socket, then single changes.
# restore_phase NAME NSVC: the table NAME.rules of NSVC services is running.
restore_phase() {
	local name=$1 nsvc=$2 j
	driver restore-file "$nsvc" "$SERVERS" "$RIPS" "$LINES" add+del >"$TMP/$name-R.rules"
	echo "  $name: -R of $LINES lines through the CLI" >&2
	j=$(driver restore "$SOCK" cli "$TMP/$name-R.rules" "$TIMEOUT")
	restore_row "-R $LINES lines, CLI (end to end)" "$j" "<= 1 s"
	R_CLI[$name]=$(jq .ms <<<"$j")
	echo "  $name: the same over the socket" >&2
	j=$(driver restore "$SOCK" socket "$TMP/$name-R.rules" "$TIMEOUT")
	restore_row "-R $LINES lines, socket" "$j" "<= 1 s"
	R_SOCK[$name]=$(jq .ms <<<"$j")
}
singles_phase() {
	local name=$1 nsvc=$2 j
	echo "  $name: single -a/-d through the CLI (at most $SINGLE_COUNT or ${SINGLE_SECONDS}s)" >&2
	j=$(driver singles "$SOCK" cli "$nsvc" "$SERVERS" "$RIPS" "$SINGLE_COUNT" "$SINGLE_SECONDS")
	singles_rows "single, CLI:" "$j"
	SINGLE_CLI[$name]=$(jq .all.p50 <<<"$j")
	echo "  $name: single -a/-d over the socket, real servers new to the director" >&2
	j=$(driver singles "$SOCK" socket "$nsvc" "$SERVERS" "$RIPS" "$SINGLE_COUNT" "$SINGLE_SECONDS" new)
	singles_rows "single, socket, new RIP:" "$j"
	SINGLE_SOCK[$name]=$(jq .all.p50 <<<"$j")
	if ((nsvc > 1)); then
		echo "  $name: single -a/-d over the socket, real servers the director already has" >&2
		j=$(driver singles "$SOCK" socket "$nsvc" "$SERVERS" "$RIPS" "$SINGLE_COUNT" "$SINGLE_SECONDS" known)
		singles_rows "single, socket, known RIP:" "$j"
	fi
}
declare -A R_CLI=() R_SOCK=() SINGLE_CLI=() SINGLE_SOCK=()

if has_phase small; then
	section "small: 1 service x $SERVERS real servers"
	driver rules 1 "$SERVERS" "$RIPS" >"$TMP/small.rules"
	serve_start small
	serve_ready small
	row "start-up to ready (1 service)" "$READY_S" s "" "VmRSS $RSS_MIB MiB"
	row "director CPU at idle" "$(idle_cpu)" "%" "" "of one core, over ${IDLE_SECONDS}s"
	restore_phase small 1
	singles_phase small 1
	stop_director "small director"
fi

if has_phase big; then
	section "big: $SERVICES services x $SERVERS = $((SERVICES * SERVERS)) entries ($RIPS RIPs; at most $ENTRIES_MAX)"
	driver rules "$SERVICES" "$SERVERS" "$RIPS" >"$TMP/big.rules"
	echo "  big: start-up with $((SERVICES * (SERVERS + 1))) rules lines, on every CPU and then on CPU $FWD_CPU alone" >&2
	# As a service manager starts it (no affinity: the JIT and the collector get the other core),
	# then with every thread on one core, as the rest of this phase runs.
	serve_start big all
	serve_ready big
	row "start-up to ready, every CPU" "$READY_S" s "<= 3 s" "$(wc -l <"$TMP/big.rules") rules lines, unresolved $UNRESOLVED"
	row "  where it went (ms)" "" "" "" "$STARTUP_PHASES"
	row "VmRSS right after ready" "$RSS_MIB" MiB "" ""
	fwd_stop "big director (every CPU)"
	serve_start big
	serve_ready big
	row "start-up to ready, CPU $FWD_CPU alone" "$READY_S" s "<= 3 s" "$(wc -l <"$TMP/big.rules") rules lines, unresolved $UNRESOLVED"
	row "  where it went (ms)" "" "" "" "$STARTUP_PHASES"
	row "VmRSS right after ready" "$RSS_MIB" MiB "" ""
	row "director CPU at idle" "$(idle_cpu)" "%" "" "of one core, over ${IDLE_SECONDS}s"
	restore_phase big "$SERVICES"
	for half in add del; do
		driver restore-file "$SERVICES" "$SERVERS" "$RIPS" "$LINES" "$half" >"$TMP/big-R-$half.rules"
		echo "  big: -R of the $half half alone over the socket" >&2
		j=$(driver restore "$SOCK" socket "$TMP/big-R-$half.rules" "$TIMEOUT")
		restore_row "-R $((LINES / 2)) -${half:0:1} lines alone, socket" "$j" ""
	done
	singles_phase big "$SERVICES"
	stop_director "big director"
fi

# nft_ipv4 : IPv4 frames rs1 counted (and dropped) at ingress.
nft_ipv4() {
	ip netns exec "$RS" nft -j list chain netdev ctl_rs drop_ip |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}
# kernel_drops N: ring drops in the N-th stats snapshot (N counted by the caller).
kernel_drops() { fwd_stats "$1" | jq .shim.kernelDrops; }
# measure SECONDS RATE N JOBFILE: a generator run (paced at RATE, 0 = unpaced) while the caller's
# background work runs; sets M_PPS and M_DROPS (ring drops), using stats snapshots N and N+1.
measure() {
	local r0 r1 d0 d1 g
	d0=$(kernel_drops "$3") r0=$(nft_ipv4)
	g=$(pktgen_run "$1" -s "$LAB_CLIENT_IP" -d "$VIP" -p "$PORT" -P udp -f "$FLOWS" -l 64 -c $(($1 * MAX_PPS)) -r "$2")
	sleep 0.3 # what is still in the ring
	r1=$(nft_ipv4) d1=$(kernel_drops $(($3 + 1)))
	M_PPS=$(awk -v n=$((r1 - r0)) -v s="$(jq .seconds <<<"$g")" 'BEGIN { printf "%.0f", n / s }')
	M_GEN=$(awk -v n="$(jq .frames <<<"$g")" -v s="$(jq .seconds <<<"$g")" 'BEGIN { printf "%.0f", n / s }')
	M_DROPS=$((d1 - d0))
}

if has_phase churn; then
	section "churn: $CHURN_SERVICES services x $CHURN_SERVERS + the traffic service, $CHURN_PCT % of real servers replaced every second"
	driver rules "$CHURN_SERVICES" "$CHURN_SERVERS" "$RIPS" "$VIP:$PORT" "$RS_IP" >"$TMP/churn.rules"
	serve_start churn
	serve_ready churn
	((UNRESOLVED == 0)) || die "churn: real servers unresolved at ready; the run would not measure forwarding"
	row "director CPU at idle" "$(idle_cpu)" "%" "" "of one core, over ${IDLE_SECONDS}s, before any traffic"
	teach_bridge
	pktgen_run 2 -s "$LAB_CLIENT_IP" -d "$VIP" -p "$PORT" -P udp -f "$FLOWS" -l 64 -c 400000 -r 0 >/dev/null # flows in, JIT warm
	sleep 1.2 # ringvs folds the ring's kernel statistics in once a second
	echo "  churn: capacity, unpaced for ${CAP_SECONDS}s" >&2
	measure "$CAP_SECONDS" 0 1
	cap=$M_PPS
	half=$((cap / 2))
	row "forwarding capacity (unpaced)" "$cap" pps "" "generator $M_GEN pps, ring drops $M_DROPS"
	echo "  churn: ${CHURN_SECONDS}s at $half pps without changes" >&2
	measure "$CHURN_SECONDS" "$half" 3
	base=$M_PPS base_drops=$M_DROPS base_gen=$M_GEN
	echo "  churn: ${CHURN_SECONDS}s at $half pps while $CHURN_PCT % of real servers are replaced every second" >&2
	d0=$(kernel_drops 5) r0=$(nft_ipv4)
	pktgen_argv "$CHURN_SECONDS"
	"${PKTGEN[@]}" -s "$LAB_CLIENT_IP" -d "$VIP" -p "$PORT" -P udp -f "$FLOWS" -l 64 -c $((CHURN_SECONDS * MAX_PPS)) -r "$half" \
		>"$TMP/gen-churn.json" &
	GEN_JOB=$!
	c=$(driver churn "$SOCK" "$CHURN_SERVICES" "$CHURN_SERVERS" "$RIPS" "$CHURN_PCT" "$CHURN_SECONDS" "$TMP/churn-batches.tsv")
	wait "$GEN_JOB" || die "the generator failed during churn"
	GEN_JOB=""
	sleep 0.3
	r1=$(nft_ipv4) d1=$(kernel_drops 6)
	g=$(cat "$TMP/gen-churn.json")
	churn_pps=$(awk -v n=$((r1 - r0)) -v s="$(jq .seconds <<<"$g")" 'BEGIN { printf "%.0f", n / s }')
	churn_gen=$(awk -v n="$(jq .frames <<<"$g")" -v s="$(jq .seconds <<<"$g")" 'BEGIN { printf "%.0f", n / s }')
	[[ -z $(jq -r .error <<<"$c") ]] || echo "  churn: $(jq -r .error <<<"$c")" >&2
	row "changes applied per second" "$(jq .appliedPerSecond <<<"$c")" "lines/s" "" \
		"$(jq .batches <<<"$c") batches of $(jq .linesPerBatch <<<"$c") lines in $(jq .wallSeconds <<<"$c") s, $(jq .late <<<"$c") late$( [[ -z $(jq -r .error <<<"$c") ]] || echo ", stopped: $(jq -r .error <<<"$c" | cut -c1-80)")"
	row "batch latency p50 / p99" "$(jq -r '"\(.batch.p50) / \(.batch.p99)"' <<<"$c")" ms "" "max $(jq .batch.max <<<"$c") ms"
	row "forwarded, no churn (paced at $half)" "$base" pps "" "generator $base_gen pps ($(pct "$base" "$base_gen") % delivered), ring drops $base_drops"
	row "forwarded, during churn" "$churn_pps" pps "" "generator $churn_gen pps ($(pct "$churn_pps" "$churn_gen") % delivered), ring drops $((d1 - d0))"
	row "during churn / no churn" "$(awk -v a="$churn_pps" -v b="$base" 'BEGIN { printf "%.3f", b ? a / b : 0 }')" x ">= 0.95 x" ""
	echo "  churn batches (start s, lines, ms, exit):" $(tail -n +2 "$TMP/churn-batches.tsv" | awk '{ printf "%s/%s/%s/%s ", $1, $2, $3, $4 }') >&2
	stop_director "churn director"
fi

# Ratios between phases, where both ran.
section "ratios"
if [[ -n ${R_SOCK[big]:-} && -n ${R_SOCK[small]:-} ]]; then
	row "-R over the socket, big / small table" "$(awk -v a="${R_SOCK[big]}" -v b="${R_SOCK[small]}" 'BEGIN { printf "%.1f", a / b }')" x "" ""
fi
for t in small big; do
	[[ -z ${SINGLE_CLI[$t]:-} ]] || row "single p50, CLI / socket ($t)" \
		"$(awk -v a="${SINGLE_CLI[$t]}" -v b="${SINGLE_SOCK[$t]}" 'BEGIN { printf "%.1f", b ? a / b : 0 }')" x "" "CLI start-up included"
done
if [[ -n ${SINGLE_SOCK[big]:-} && -n ${SINGLE_SOCK[small]:-} ]]; then
	row "single p50 over the socket, big / small" "$(awk -v a="${SINGLE_SOCK[big]}" -v b="${SINGLE_SOCK[small]}" 'BEGIN { printf "%.1f", a / b }')" x "" ""
fi

echo
awk -F'\t' '
$1 == "#" { printf "\n%s\n", $2; next }
{ printf "  %-42s %14s %-6s %-13s %s\n", $1, $2, $3, $4, $5 }
BEGIN { printf "  %-42s %14s %-6s %-13s %s\n", "figure", "value", "", "target", "note" }' "$TMP/rows"
echo
echo "loadavg at the end: $(loadavg)"
busy=$(others_cpu "$TMP/cpu0")
[[ -z $busy ]] || echo "other processes on this host ran during this: $busy (on 2 cores they skew the figures)"
