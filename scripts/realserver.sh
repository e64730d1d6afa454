#!/usr/bin/env bash
# realserver.sh — prepare a host to be an LVS real server for ringvs.
#
#   realserver.sh start|stop|status [--mode dr] VIP [VIP...]
#
# DR mode (the only mode so far). The director forwards each frame unchanged
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
# TUN mode (later) will put the VIP on tunl0 and relax rp_filter; the mode table
# below (mode_* functions) is where it plugs in.
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
readonly VIP_LABEL="lo:ringvs"
readonly ALIAS_TAG="ringvs-rs"

usage() {
	cat >&2 <<EOF
usage: $PROG start|stop|status [--mode dr] VIP [VIP...]
  start   put each VIP/32 on lo and set arp_ignore=1, arp_announce=2 (all, lo)
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

mode_dr_vip_dev() { echo lo; }
mode_dr_sysctls() {
	printf '%s\n' \
		net/ipv4/conf/all/arp_ignore=1 \
		net/ipv4/conf/lo/arp_ignore=1 \
		net/ipv4/conf/all/arp_announce=2 \
		net/ipv4/conf/lo/arp_announce=2
}

check_mode() {
	case $1 in
	dr) ;;
	tun) die 2 "--mode tun is not supported yet (only dr)" ;;
	*) die_usage "unknown mode '$1' (expected dr)" ;;
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

sysctl_get() { cat "/proc/sys/$1"; }
sysctl_set() { echo "$2" >"/proc/sys/$1"; }

lo_alias() { ip link show dev lo | sed -n 's/^    alias //p'; }

# vip_on DEV VIP: is VIP/32 configured on DEV?
vip_on() {
	ip -o -4 addr show dev "$1" | grep -q " inet $2/32 "
}

# Devices other than DEV carrying VIP; a DR real server with the VIP on eth0
# would answer ARP for it even with arp_ignore=1.
vip_elsewhere() {
	ip -o -4 addr show to "$2/32" | awk -v dev="$1" '$2 != dev { print $2 }' | sort -u
}

local_route_present() {
	[[ -n $(ip -4 route show table local type local exact "$1/32") ]]
}

# --- state file -----------------------------------------------------------------
# Line format: "key=value"; keys: version token mode alias sysctl:<path> vip route.
# Loaded into the globals below.

S_PRESENT=0 S_TOKEN="" S_MODE="" S_ALIAS=""
S_SYSCTLS=() S_VIPS=() S_ROUTES=()

state_load() {
	local f line
	f=$(state_file)
	S_PRESENT=0 S_TOKEN="" S_MODE="" S_ALIAS="" S_SYSCTLS=() S_VIPS=() S_ROUTES=()
	[[ -f $f ]] || return 0
	while IFS= read -r line; do
		case $line in
		token=*) S_TOKEN=${line#token=} ;;
		mode=*) S_MODE=${line#mode=} ;;
		alias=*) S_ALIAS=${line#alias=} ;;
		sysctl:*) S_SYSCTLS+=("${line#sysctl:}") ;;
		vip=*) S_VIPS+=("${line#vip=}") ;;
		route=*) S_ROUTES+=("${line#route=}") ;;
		esac
	done <"$f"
	if [[ -z $S_TOKEN || $(lo_alias) != "$ALIAS_TAG $S_TOKEN" ]]; then
		echo "$PROG: discarding stale state $f (from a namespace that no longer exists)" >&2
		rm -f -- "$f" 2>/dev/null || true # status may run unprivileged
		S_TOKEN="" S_MODE="" S_ALIAS="" S_SYSCTLS=() S_VIPS=() S_ROUTES=()
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
	else
		# First start: remember what was there before we touch anything.
		S_MODE=$MODE
		S_TOKEN=$(cat /proc/sys/kernel/random/uuid)
		S_ALIAS=$(lo_alias)
		while IFS= read -r kv; do
			key=${kv%%=*}
			S_SYSCTLS+=("$key=$(sysctl_get "$key")")
		done < <(mode_"$MODE"_sysctls)
		ip link set dev lo alias "$ALIAS_TAG $S_TOKEN"
		state_save
	fi

	ip link set dev lo up
	for vip in "${VIPS[@]}"; do
		if vip_on "$dev" "$vip"; then
			contains "$vip" "${S_VIPS[@]}" || echo "$PROG: $vip already on $dev (not added by $PROG; stop will leave it)"
		else
			ip addr add "$vip/32" dev "$dev" label "$VIP_LABEL"
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
			sysctl_set "${kv%%=*}" "${kv#*=}"
		done
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
