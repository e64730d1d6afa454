#!/usr/bin/env bash
# lab.sh — build or tear down the ringvs test lab out of network namespaces.
#
#   lab.sh up PREFIX NRS [NFAR]  build the lab, print shell-sourceable LAB_* variables
#   lab.sh down PREFIX           kill every process in the lab, delete its namespaces
#
# Topology (one L2 segment, 198.18.0.0/24, nothing touches the root namespace):
#
#            ${PREFIX}sw: br0 (no STP, learning on, ageing 300 s, no IP)
#             |         |          |          ...        |
#         port cl   port dir   port rs1               port rsN
#             |         |          |                     |
#   ${PREFIX}cl  ${PREFIX}dir  ${PREFIX}rs1   ...   ${PREFIX}rsN
#   eth0 .0.2    eth0 .0.3     eth0 .0.11          eth0 .0.(10+N)
#
# Every host namespace has one veth "eth0" (MTU 1500) with a fixed MAC
# 02:72:76:00:00:XX, XX = last octet of its IP in hex ("rv", locally
# administered), so captures and DR forwarding tables are predictable. The
# switch-side ends are named after the host (cl, dir, rs1...) inside ${PREFIX}sw,
# so PREFIX only has to fit a namespace name. IPv6 is disabled in every lab
# namespace before any interface exists, so captures carry no RS/MLD/DAD noise.
# The director gets no VIP here: answering ARP for the VIP is the director's job.
#
# NFAR >= 1 adds a routed far network, 198.19.0.0/24, for TUN-mode real servers
# that are not on the director's segment (LVS-TUN's reason to exist):
#
#   br0 in ${PREFIX}sw ── port rt ── eth0 198.18.0.1 ┐
#                                          ${PREFIX}rt   (ip_forward=1, the only router)
#   br0 in ${PREFIX}sw2 ─ port rt ── eth1 198.19.0.1 ┘
#     |  port far1 ... port farN
#   ${PREFIX}far1 .. ${PREFIX}farN: eth0 198.19.0.(10+i), default via 198.19.0.1
#
# The client, the director and the near real servers get "198.19.0.0/24 via
# 198.18.0.1" (their segment stays on-link, they keep no default route); the far
# servers' default route covers 198.18.0.0/24 and whatever client addresses a
# test uses, which is what a TUN real server needs to answer clients directly.
# MACs on the far network are 02:72:76:01:00:XX (the fourth byte tells the /24s
# apart); with NFAR = 0 or absent, output and topology are exactly as without it.
#
# `up` refuses to reuse a PREFIX that still has namespaces and removes what it
# built if any step fails. `down` is idempotent.

set -euo pipefail

readonly PROG=${0##*/}
readonly NET=198.18.0
readonly MASK=24
readonly MAX_RS=50 # addresses .11-.60; the VIP range (.100+) stays free
readonly FAR_NET=198.19.0
readonly ROUTER_IP=$NET.1
readonly ROUTER_FAR_IP=$FAR_NET.1
readonly MAX_FAR=50

usage() {
	echo "usage: $PROG up PREFIX NRS [NFAR] | $PROG down PREFIX   (PREFIX: [a-z][a-z0-9]{0,11})" >&2
	exit 2
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

check_prefix() {
	[[ $1 =~ ^[a-z][a-z0-9]{0,11}$ ]] || {
		echo "$PROG: bad PREFIX '$1' (want [a-z][a-z0-9]{0,11})" >&2
		exit 2
	}
}

# Namespaces that belong to PREFIX: exactly sw, sw2, cl, dir, rt, rs<N> and
# far<N>, so "rv1" never matches the lab of "rv12".
lab_namespaces() {
	ip netns list | awk '{ print $1 }' | grep -E "^$1(sw|sw2|cl|dir|rt|rs[0-9]+|far[0-9]+)$" || true
}

# 198.18.0.X -> 02:72:76:00:00:XX, 198.19.0.X -> 02:72:76:01:00:XX (in hex).
mac_for() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '02:72:76:%02x:%02x:%02x\n' $((b - 18)) "$c" "$d"
}

lab_down() {
	local prefix=$1 ns pids i
	local -a all
	mapfile -t all < <(lab_namespaces "$prefix")
	((${#all[@]})) || return 0
	# A process left inside keeps a namespace (and its veths) alive after
	# `ip netns del`, so empty them first: TERM, up to 2 s grace, then KILL.
	for ns in "${all[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	for ((i = 0; i < 20; i++)); do
		pids=""
		for ns in "${all[@]}"; do pids+=$(ip netns pids "$ns" 2>/dev/null || true); done
		[[ -n $pids ]] || break
		sleep 0.1
	done
	for ns in "${all[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
}

ns_add() {
	local ns=$1
	ip netns add "$ns"
	if [[ -d /proc/sys/net/ipv6 ]]; then
		ip netns exec "$ns" sh -c '
			echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
			echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
	fi
	ip -n "$ns" link set dev lo up
}

# host NS PORT IP [SWITCH [IFNAME]]: NS gets IFNAME (default eth0) with IP, its
# peer PORT joins br0 in SWITCH (default the lab's switch). NS may exist already.
host() {
	local ns=$1 port=$2 ip=$3 sw=${4:-$SW} ifname=${5:-eth0}
	[[ -e /run/netns/$ns ]] || ns_add "$ns"
	ip -n "$ns" link add "$ifname" type veth peer name "$port" netns "$sw"
	ip -n "$ns" link set dev "$ifname" address "$(mac_for "$ip")" mtu 1500
	ip -n "$sw" link set dev "$port" mtu 1500 master br0
	ip -n "$sw" link set dev "$port" type bridge_slave learning on flood on
	ip -n "$sw" link set dev "$port" up
	ip -n "$ns" addr add "$ip/$MASK" dev "$ifname"
	ip -n "$ns" link set dev "$ifname" up
	# Offloads stay at the veth defaults (TSO/GSO on), as in every container and VM host: a
	# sender hands its peer super-frames of up to 64 KiB, and the director must forward them.
}

# bridge NS: a switch namespace with br0. Kernel defaults made explicit: no STP
# (ports forward at once), MAC ageing 300 s, learning on. Snooping off: the lab
# has no multicast to constrain.
bridge() {
	ns_add "$1"
	ip -n "$1" link add br0 type bridge stp_state 0 forward_delay 0 ageing_time 30000 mcast_snooping 0
	ip -n "$1" link set dev br0 up
}

# far_network PREFIX NFAR NEAR_NS...: router, second switch, far servers, and the
# route to the far network in every near host.
far_network() {
	local prefix=$1 nfar=$2 i ip ns
	shift 2
	SW2=${prefix}sw2
	RT=${prefix}rt
	bridge "$SW2"
	host "$RT" rt "$ROUTER_IP"
	host "$RT" rt "$ROUTER_FAR_IP" "$SW2" eth1
	ip netns exec "$RT" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
	for ((i = 1; i <= nfar; i++)); do
		ip=$FAR_NET.$((10 + i))
		ns=${prefix}far$i
		ns_add "$ns"
		# Explicit, not inherited from wherever the lab runs: only the router forwards.
		ip netns exec "$ns" sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
		host "$ns" "far$i" "$ip" "$SW2"
		ip -n "$ns" route add default via "$ROUTER_FAR_IP" dev eth0
		far_ns+=("$ns")
		far_ips+=("$ip")
		far_macs+=("$(mac_for "$ip")")
	done
	for ns in "$@"; do
		ip -n "$ns" route add "$FAR_NET.0/$MASK" via "$ROUTER_IP" dev eth0
	done
}

lab_up() {
	local prefix=$1 nrs=$2 nfar=$3 i ip
	local -a rs_ns=() rs_ips=() rs_macs=() far_ns=() far_ips=() far_macs=()
	[[ -z $(lab_namespaces "$prefix") ]] || die "lab '$prefix' already exists; run: $PROG down $prefix"

	# Remove everything built so far if any step fails.
	trap 'rc=$?; if ((rc != 0)); then lab_down "'"$prefix"'"; fi' EXIT

	SW=${prefix}sw
	bridge "$SW"

	host "${prefix}cl" cl "$NET.2"
	host "${prefix}dir" dir "$NET.3"
	for ((i = 1; i <= nrs; i++)); do
		ip=$NET.$((10 + i))
		host "${prefix}rs$i" "rs$i" "$ip"
		rs_ns+=("${prefix}rs$i")
		rs_ips+=("$ip")
		rs_macs+=("$(mac_for "$ip")")
	done
	((nfar == 0)) || far_network "$prefix" "$nfar" "${prefix}cl" "${prefix}dir" "${rs_ns[@]}"

	cat <<EOF
LAB_PREFIX='$prefix'
LAB_SWITCH_NS='$SW'
LAB_CLIENT_NS='${prefix}cl'
LAB_DIRECTOR_NS='${prefix}dir'
LAB_RS_NS='${rs_ns[*]}'
LAB_NET='$NET.0/$MASK'
LAB_CLIENT_IP='$NET.2'
LAB_DIRECTOR_IP='$NET.3'
LAB_RS_IPS='${rs_ips[*]}'
LAB_CLIENT_MAC='$(mac_for "$NET.2")'
LAB_DIRECTOR_MAC='$(mac_for "$NET.3")'
LAB_RS_MACS='${rs_macs[*]}'
LAB_DIRECTOR_IF='eth0'
EOF
	((nfar == 0)) || cat <<EOF
LAB_ROUTER_NS='$RT'
LAB_ROUTER_IP='$ROUTER_IP'
LAB_ROUTER_MAC='$(mac_for "$ROUTER_IP")'
LAB_ROUTER_FAR_IP='$ROUTER_FAR_IP'
LAB_ROUTER_FAR_MAC='$(mac_for "$ROUTER_FAR_IP")'
LAB_FAR_SWITCH_NS='$SW2'
LAB_FAR_NET='$FAR_NET.0/$MASK'
LAB_FAR_NS='${far_ns[*]}'
LAB_FAR_IPS='${far_ips[*]}'
LAB_FAR_MACS='${far_macs[*]}'
EOF
}

main() {
	(($# >= 1)) || usage
	(($(id -u) == 0)) || die "must be run as root"
	case $1 in
	up)
		(($# == 3 || $# == 4)) || usage
		check_prefix "$2"
		[[ $3 =~ ^[0-9]+$ ]] && (($3 >= 1 && $3 <= MAX_RS)) || {
			echo "$PROG: NRS must be 1..$MAX_RS, got '$3'" >&2
			exit 2
		}
		[[ ${4:-0} =~ ^[0-9]{1,3}$ ]] && ((10#${4:-0} <= MAX_FAR)) || {
			echo "$PROG: NFAR must be 0..$MAX_FAR, got '$4'" >&2
			exit 2
		}
		lab_up "$2" "$3" "$((10#${4:-0}))"
		;;
	down)
		(($# == 2)) || usage
		check_prefix "$2"
		lab_down "$2"
		;;
	*) usage ;;
	esac
}

main "$@"
