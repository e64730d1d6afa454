#!/usr/bin/env bash
# realserver.sh — prepare a host to be an LVS real server for ringvs.
#
#   realserver.sh start|stop|status [--mode dr|tun] VIP [VIP...]
#
# DR mode (the default). The director forwards each frame unchanged
# except for the destination MAC, so the real server receives packets addressed
# to the VIP and must (a) accept them as local and (b) answer the client
# directly from the VIP. That needs:
#
#   * VIP/32 on lo, labelled "lo:ringvs" so `ip addr` shows who added it. The
#     /32 keeps the VIP from claiming a subnet; adding it makes the kernel insert
#     "local VIP dev lo" into the local routing table, which is all the routing
#     the real server needs. The classic script runs `route add -host $vip dev
#     lo:1` because it came from the ifconfig era (2.0 kernels did not add
#     routes for ifconfig'd addresses); with iproute2 that route is redundant.
#     We only verify the local route and add one if it is missing (someone
#     deleted it), and then remove exactly that route again on stop.
#   * arp_ignore=1 (all and lo): answer ARP only for addresses configured on the
#     interface the request came in on. The VIP lives on lo, so requests for it
#     arriving on eth0 are ignored and only the director answers for the VIP.
#   * arp_announce=2 (all and lo): when this host sends an ARP request, use the
#     best source address for the target's subnet (the RIP), never the VIP,
#     otherwise neighbours would learn VIP -> real-server MAC.
#   The kernel uses max(all, <dev>) for both, so "all" is the value that really
#   governs eth0; lo is set too, as the reference script does.
#
# TUN mode. The director wraps the client's packet (CIP -> VIP) in an outer
# IPv4 header (DIP -> RIP, protocol 4) and routes it, possibly across routers.
# The kernel's ipip module strips the outer header on tunl0 (its catch-all
# "fallback" tunnel, present in every namespace once the module is loaded), and
# the inner packet must then be accepted as local and answered from the VIP
# straight to the client through the normal routes. That needs:
#
#   * `modprobe ipip`. Failing is not fatal when a device named tunl0 exists
#     already: built-in ipip, or the lab's user-space decapsulator
#     (scripts/lab/ipip-decap.c, a TUN device named tunl0). Otherwise start
#     fails with exit 1 and names both ways out. If the module loads but this
#     namespace got no tunl0 (net.core.fb_tunnels_only_for_init_net), start
#     creates "tunl0 type ipip" (any/any, the same catch-all) and stop deletes it.
#   * tunl0 up (stop sets it down again if start brought it up) with VIP/32,
#     label "tunl0:ringvs"; the kernel adds "local VIP dev tunl0" to the local
#     table, as for lo in DR mode.
#   * arp_ignore=1, arp_announce=2 on all and tunl0, as the classic LVS-TUN
#     real-server script does (tunl0 itself is NOARP; "all" is what matters: a
#     TUN real server on a LAN with clients or a router must not answer ARP for
#     the VIP on eth0, nor announce it).
#   * rp_filter=2 (loose) on tunl0. The packet arrives on tunl0 from the CIP,
#     but the route back to the CIP is via eth0, so strict reverse-path
#     filtering (1) drops every tunnelled packet. The kernel uses
#     max(all, tunl0), so the classic script writes 0 to both; that also
#     switches rp_filter off for eth0 and every other interface. Loose mode (2)
#     only asks that the source be routable at all, which is always true for a
#     TUN real server since it must route its answers to the client directly;
#     and because 2 is the highest value, max(all, tunl0) is 2 whatever "all"
#     holds, so "all" is left alone and eth0 keeps its own filtering.
#
# Every mode shares the state mechanism below (the token lives on lo in both).
#
# State. `start` records, before changing anything, the sysctl values and lo's
# alias it found, plus every VIP and route it added, in
#   ${RINGVS_RS_STATE_DIR:-/run/ringvs-realserver}/netns-<inode>.state
# /run is shared by all network namespaces, so the file is keyed by the inode of
# /proc/self/ns/net. Namespace inodes are recycled once a namespace dies, so the
# file also holds a random token that start writes into lo's ifalias; a state
# file whose token is not on this namespace's lo belongs to a dead namespace and
# is discarded. `stop` removes only the VIPs this script added (all of them when
# no VIP is given); when none is left it restores the recorded sysctls and alias
# and deletes the state file. Start twice = same state. Start brings lo up if it
# was down (a namespace's lo starts down); stop leaves it up.
#
# Exit codes (LSB style): 0 ok / configured, 1 failure, 2 usage error,
# 3 status: not (fully) configured, 4 not root.

set -euo pipefail

readonly PROG=${0##*/}
readonly STATE_DIR=${RINGVS_RS_STATE_DIR:-/run/ringvs-realserver}
readonly LABEL_TAG="ringvs" # address label "<dev>:ringvs"
readonly ALIAS_TAG="ringvs-rs"

usage() {
	cat >&2 <<EOF
usage: $PROG start|stop|status [--mode dr|tun] VIP [VIP...]
  start   dr:  put each VIP/32 on lo and set arp_ignore=1, arp_announce=2 (all, lo)
          tun: modprobe ipip, bring tunl0 up with each VIP/32, set arp_ignore=1,
               arp_announce=2 (all, tunl0) and rp_filter=2 (tunl0)
  stop    remove the VIPs start added (all of them if none given); restore the
          sysctls once no VIP is left
  status  show each VIP and the sysctls; exit 0 if fully configured, else 3
  env RINGVS_RS_STATE_DIR  state directory (default /run/ringvs-realserver)
EOF
}

die() { # die CODE MESSAGE
	echo "$PROG: $2" >&2
	exit "$1"
}
die_usage() {
	echo "$PROG: $1" >&2
	usage
	exit 2
}

# --- mode table ---------------------------------------------------------------
# Each mode declares where the VIP lives and which sysctls it needs ("key=value",
# key relative to /proc/sys). Everything else is mode independent.

# The ARP settings both modes need so that the VIP's device ($1) never answers for it.
arp_sysctls() {
	printf '%s\n' \
		net/ipv4/conf/all/arp_ignore=1 \
		"net/ipv4/conf/$1/arp_ignore=1" \
		net/ipv4/conf/all/arp_announce=2 \
		"net/ipv4/conf/$1/arp_announce=2"
}

mode_dr_vip_dev() { echo lo; }
mode_dr_sysctls() { arp_sysctls lo; }

mode_tun_vip_dev() { echo tunl0; }
mode_tun_sysctls() {
	arp_sysctls tunl0
	echo net/ipv4/conf/tunl0/rp_filter=2
}

check_mode() {
	case $1 in
	dr | tun) ;;
	*) die_usage "unknown mode '$1' (expected dr or tun)" ;;
	esac
}

# --- helpers ------------------------------------------------------------------

# A VIP must be a plain dotted quad of a unicast address that can sensibly live
# on lo: no leading zeros (inet_aton would read 010 as octal), not 0/8,
# loopback, multicast, reserved or broadcast.
valid_vip() {
	local ip=$1 o
	[[ $ip =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
	for o in "${BASH_REMATCH[@]:1}"; do
		[[ $o == 0 || $o != 0* ]] || return 1
		((o <= 255)) || return 1
	done
	o=${BASH_REMATCH[1]}
	((o != 0 && o != 127 && o < 224)) || return 1
}

netns_id() { readlink /proc/self/ns/net; } # "net:[4026531840]"

state_file() {
	local id
	id=$(netns_id)
	id=${id#net:[}
	echo "$STATE_DIR/netns-${id%]}.state"
}

# A per-device key of a device that does not exist (tunl0 after the user-space
# decapsulator exited) reads as "missing".
sysctl_get() {
	if [[ -e /proc/sys/$1 ]]; then cat "/proc/sys/$1"; else echo missing; fi
}
sysctl_set() { echo "$2" >"/proc/sys/$1"; }

lo_alias() { ip link show dev lo | sed -n 's/^    alias //p'; }

# output_has REGEX CMD...: does a line of CMD's output match REGEX? Not `CMD | grep -q`: grep
# stops reading at its first match, CMD dies of SIGPIPE on a later write, and pipefail makes the
# pipeline false (a VIP followed by other addresses was "not on" its device now and then, so stop
# left it configured while forgetting it). The output is read whole first.
output_has() {
	local out
	out=$("${@:2}" 2>/dev/null) || return 1
	grep -q -- "$1" <<<"$out"
}

# vip_on DEV VIP: is VIP/32 configured on DEV?
vip_on() { output_has " inet $2/32 " ip -o -4 addr show dev "$1"; }

# Devices other than DEV carrying VIP; a DR real server with the VIP on eth0
# would answer ARP for it even with arp_ignore=1.
vip_elsewhere() {
	ip -o -4 addr show to "$2/32" | awk -v dev="$1" '$2 != dev { print $2 }' | sort -u
}

dev_exists() { ip link show dev "$1" >/dev/null 2>&1; }
dev_is_up() { output_has '<[^>]*\bUP\b' ip -o link show dev "$1"; }

# "kernel ipip" or "TUN device" (what provides tunl0), for messages.
tunl0_kind() {
	if output_has ' ipip ' ip -d -o link show dev tunl0; then
		echo "kernel ipip"
	else
		echo "$(ip -d -o link show dev tunl0 2>/dev/null | grep -o 'tun type [a-z]*' || echo unknown type), a user-space decapsulator"
	fi
}

# Make sure tunl0 exists; sets TUN_CREATED=1 when this call created it.
tun_prepare() {
	local out rc=0
	TUN_CREATED=0
	if command -v modprobe >/dev/null 2>&1; then
		out=$(modprobe ipip 2>&1) || rc=$?
	else
		out="modprobe: command not found" rc=127
	fi
	if ((rc == 0)) && ! dev_exists tunl0; then
		# The module is there but fallback tunnels exist only in the initial
		# namespace: an any/any ipip tunnel named tunl0 is the same catch-all.
		ip link add name tunl0 type ipip && TUN_CREATED=1
	fi
	if ! dev_exists tunl0; then
		die 1 "no tunl0: modprobe ipip failed (${out:-exit $rc}) and no device named tunl0 exists; load ipip, or run a user-space decapsulator that provides tunl0 (scripts/lab/ipip-decap)"
	fi
	if ((rc != 0)); then
		echo "$PROG: modprobe ipip failed (${out:-exit $rc}); using the existing tunl0 ($(tunl0_kind))"
	fi
}

local_route_present() {
	[[ -n $(ip -4 route show table local type local exact "$1/32") ]]
}

# --- state file -----------------------------------------------------------------
# Line format: "key=value"; keys: version token mode alias sysctl:<path> vip route.
# Loaded into the globals below.

# devup=<dev>: start brought dev up, stop sets it down; created=<dev>: start
# created dev, stop deletes it.

S_PRESENT=0 S_TOKEN="" S_MODE="" S_ALIAS="" S_DEVUP="" S_CREATED=""
S_SYSCTLS=() S_VIPS=() S_ROUTES=()

state_load() {
	local f line
	f=$(state_file)
	S_PRESENT=0 S_TOKEN="" S_MODE="" S_ALIAS="" S_DEVUP="" S_CREATED="" S_SYSCTLS=() S_VIPS=() S_ROUTES=()
	[[ -f $f ]] || return 0
	while IFS= read -r line; do
		case $line in
		token=*) S_TOKEN=${line#token=} ;;
		mode=*) S_MODE=${line#mode=} ;;
		alias=*) S_ALIAS=${line#alias=} ;;
		sysctl:*) S_SYSCTLS+=("${line#sysctl:}") ;;
		vip=*) S_VIPS+=("${line#vip=}") ;;
		route=*) S_ROUTES+=("${line#route=}") ;;
		devup=*) S_DEVUP=${line#devup=} ;;
		created=*) S_CREATED=${line#created=} ;;
		esac
	done <"$f"
	if [[ -z $S_TOKEN || $(lo_alias) != "$ALIAS_TAG $S_TOKEN" ]]; then
		echo "$PROG: discarding stale state $f (from a namespace that no longer exists)" >&2
		rm -f -- "$f" 2>/dev/null || true # status may run unprivileged
		S_TOKEN="" S_MODE="" S_ALIAS="" S_DEVUP="" S_CREATED="" S_SYSCTLS=() S_VIPS=() S_ROUTES=()
		return 0
	fi
	S_PRESENT=1
}

# Written to a temporary file and renamed, so a crash never leaves half a file.
state_save() {
	local f tmp x
	f=$(state_file)
	tmp="$f.tmp.$$"
	{
		echo "# ringvs realserver.sh state for $(netns_id); written by $PROG, do not edit"
		echo "version=1"
		echo "token=$S_TOKEN"
		echo "mode=$S_MODE"
		echo "alias=$S_ALIAS"
		for x in "${S_SYSCTLS[@]}"; do echo "sysctl:$x"; done
		for x in "${S_VIPS[@]}"; do echo "vip=$x"; done
		for x in "${S_ROUTES[@]}"; do echo "route=$x"; done
		[[ -z $S_DEVUP ]] || echo "devup=$S_DEVUP"
		[[ -z $S_CREATED ]] || echo "created=$S_CREATED"
	} >"$tmp"
	mv -f -- "$tmp" "$f"
}

contains() { # contains NEEDLE ITEMS...
	local n=$1 x
	shift
	for x in "$@"; do [[ $x == "$n" ]] && return 0; done
	return 1
}

without() { # without NEEDLE ITEMS... -> prints items except NEEDLE, one a line
	local n=$1 x
	shift
	for x in "$@"; do [[ $x == "$n" ]] || echo "$x"; done
}

# --- actions --------------------------------------------------------------------

do_start() {
	local dev vip kv key other
	dev=$(mode_"$MODE"_vip_dev)
	for vip in "${VIPS[@]}"; do
		other=$(vip_elsewhere "$dev" "$vip")
		[[ -z $other ]] || die 1 "VIP $vip is configured on ${other//$'\n'/ }; a $MODE real server must have it only on $dev"
	done

	state_load
	if ((S_PRESENT)); then
		[[ $S_MODE == "$MODE" ]] || die 1 "already started in mode $S_MODE; stop it first"
	fi
	TUN_CREATED=0
	[[ $MODE != tun ]] || tun_prepare
	if ((S_PRESENT)); then
		if ((TUN_CREATED)); then
			S_CREATED=$dev
			state_save
		fi
	else
		# First start: remember what was there before we touch anything.
		S_MODE=$MODE
		S_TOKEN=$(cat /proc/sys/kernel/random/uuid)
		S_ALIAS=$(lo_alias)
		while IFS= read -r kv; do
			key=${kv%%=*}
			S_SYSCTLS+=("$key=$(sysctl_get "$key")")
		done < <(mode_"$MODE"_sysctls)
		((TUN_CREATED == 0)) || S_CREATED=$dev
		ip link set dev lo alias "$ALIAS_TAG $S_TOKEN"
		state_save
	fi

	if [[ $dev == lo ]]; then
		ip link set dev lo up
	elif ! dev_is_up "$dev"; then
		ip link set dev "$dev" up
		if [[ -z $S_DEVUP ]]; then
			S_DEVUP=$dev
			state_save
		fi
	fi
	for vip in "${VIPS[@]}"; do
		if vip_on "$dev" "$vip"; then
			contains "$vip" "${S_VIPS[@]}" || echo "$PROG: $vip already on $dev (not added by $PROG; stop will leave it)"
		else
			ip addr add "$vip/32" dev "$dev" label "$dev:$LABEL_TAG"
			S_VIPS+=("$vip")
			state_save
		fi
		if ! local_route_present "$vip"; then
			ip route add local "$vip/32" dev "$dev" table local proto static scope host
			S_ROUTES+=("$vip")
			state_save
		fi
	done

	while IFS= read -r kv; do
		sysctl_set "${kv%%=*}" "${kv#*=}"
	done < <(mode_"$MODE"_sysctls)
}

do_stop() {
	local dev vip kv targets=()
	dev=$(mode_"$MODE"_vip_dev)
	state_load
	if ((!S_PRESENT)); then
		echo "$PROG: not started in this namespace (no state in $STATE_DIR); nothing to do"
		return 0
	fi
	[[ $S_MODE == "$MODE" ]] || die 1 "started in mode $S_MODE, not $MODE"
	if ((${#VIPS[@]})); then targets=("${VIPS[@]}"); else targets=("${S_VIPS[@]}"); fi

	for vip in "${targets[@]}"; do
		if contains "$vip" "${S_ROUTES[@]}"; then
			ip route del local "$vip/32" dev "$dev" table local 2>/dev/null || true
			mapfile -t S_ROUTES < <(without "$vip" "${S_ROUTES[@]}")
		fi
		if contains "$vip" "${S_VIPS[@]}"; then
			if vip_on "$dev" "$vip"; then ip addr del "$vip/32" dev "$dev"; fi
			mapfile -t S_VIPS < <(without "$vip" "${S_VIPS[@]}")
		else
			echo "$PROG: $vip was not added by $PROG; leaving it"
		fi
		state_save
	done

	if ((${#S_VIPS[@]} == 0)); then
		for kv in "${S_SYSCTLS[@]}"; do
			if [[ -e /proc/sys/${kv%%=*} ]]; then
				sysctl_set "${kv%%=*}" "${kv#*=}"
			else
				echo "$PROG: ${kv%%=*} is gone (its device no longer exists); nothing to restore"
			fi
		done
		if [[ -n $S_CREATED ]]; then
			ip link del dev "$S_CREATED" 2>/dev/null || true
		elif [[ -n $S_DEVUP ]] && dev_exists "$S_DEVUP"; then
			ip link set dev "$S_DEVUP" down
		fi
		if [[ -n $S_ALIAS ]]; then
			ip link set dev lo alias "$S_ALIAS"
		else
			ip link set dev lo alias ""
		fi
		rm -f -- "$(state_file)"
	fi
}

do_status() {
	local dev vip kv key want have ok=1 targets=()
	dev=$(mode_"$MODE"_vip_dev)
	state_load
	if ((${#VIPS[@]})); then targets=("${VIPS[@]}"); else targets=("${S_VIPS[@]}"); fi
	if [[ $dev != lo ]]; then
		if ! dev_exists "$dev"; then
			echo "dev $dev: MISSING"
			ok=0
		elif dev_is_up "$dev"; then
			echo "dev $dev: up"
		else
			echo "dev $dev: DOWN"
			ok=0
		fi
	fi
	if ((${#targets[@]} == 0)); then
		echo "no VIPs (none given, none recorded)"
		ok=0
	fi
	for vip in "${targets[@]}"; do
		if vip_on "$dev" "$vip"; then
			echo "vip $vip: on $dev"
		else
			echo "vip $vip: NOT on $dev"
			ok=0
		fi
	done
	while IFS= read -r kv; do
		key=${kv%%=*} want=${kv#*=}
		have=$(sysctl_get "$key")
		if [[ $have == "$want" ]]; then
			echo "${key//\//.} = $have"
		else
			echo "${key//\//.} = $have (want $want)"
			ok=0
		fi
	done < <(mode_"$MODE"_sysctls)
	if ((S_PRESENT)); then echo "state: $(state_file)"; else echo "state: none"; fi
	if ((ok)); then
		echo "status: configured ($MODE)"
		return 0
	fi
	echo "status: not configured ($MODE)"
	return 3
}

# --- main -----------------------------------------------------------------------

main() {
	(($#)) || die_usage "missing action"
	ACTION=$1
	shift
	case $ACTION in
	start | stop | status) ;;
	-h | --help | help)
		usage
		exit 0
		;;
	*) die_usage "unknown action '$ACTION'" ;;
	esac

	MODE=dr
	VIPS=()
	while (($#)); do
		case $1 in
		--mode)
			(($# >= 2)) || die_usage "--mode needs a value"
			MODE=$2
			shift 2
			;;
		--mode=*)
			MODE=${1#--mode=}
			shift
			;;
		-*) die_usage "unknown option '$1'" ;;
		*)
			valid_vip "$1" || die 2 "bad IPv4 address '$1' (want a unicast dotted quad, e.g. 198.18.0.100)"
			contains "$1" "${VIPS[@]}" || VIPS+=("$1")
			shift
			;;
		esac
	done
	check_mode "$MODE"
	[[ $ACTION != start ]] || ((${#VIPS[@]})) || die_usage "start needs at least one VIP"

	# status only reads, so it works unprivileged; start/stop change the kernel.
	if [[ $ACTION == status ]]; then
		local rc=0
		do_status || rc=$?
		exit "$rc"
	fi
	(($(id -u) == 0)) || die 4 "must be run as root"

	mkdir -p -- "$STATE_DIR"
	# One invocation at a time: state files are read-modify-write. Locking the
	# directory (not a per-namespace lock file) leaves nothing behind to clean up.
	exec 9<"$STATE_DIR"
	flock -w 10 9 || die 1 "timed out waiting for another $PROG (lock on $STATE_DIR)"
	"do_$ACTION"
}

main "$@"
