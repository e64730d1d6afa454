#!/usr/bin/env bash
# txmethods.sh — AF_PACKET transmit paths side by side: sendmmsg with and without
# PACKET_QDISC_BYPASS, TPACKET_V2 and TPACKET_V3 TX rings, and sendmmsg from an mmap'ed buffer.
# Answers "TX ring or sendmmsg — measure both and keep the faster" (see bench/txmethods.c).
#
#   bash bench/txmethods.sh
#   FRAMES=1000000 LIMIT=2 REPS=5 CPU=0 bash bench/txmethods.sh
#
# Knobs (environment): FRAMES per run (count bound, 1000..20000000), LIMIT seconds per run (time
# bound, 1..10), REPS repetitions whose median is printed (1..9), CPU the core the sender is
# pinned to.
#
# Lab: two namespaces txm<pid>tx and txm<pid>rx joined by a veth pair created inside them (never
# in the root namespace), 198.18.1.1/24 and 198.18.1.2/24, IPv6 off so no ND/MLD frames skew
# the peer's counters. The frames go to 198.18.1.200, which the peer neither owns nor forwards,
# so its stack drops them silently; its rx_packets counter is read before and after each run.
# A veth delivers in the sender's context, so the pinned core also pays for the peer's receive.
# The EXIT trap deletes both namespaces; the whole run is under `timeout`.
set -euo pipefail
source "$(dirname "$0")/lib.sh" # REPO, die, require_* (its own two namespaces, not the lab)

readonly BIN=$REPO/bench/build/txmethods

FRAMES=${FRAMES:-2000000}
LIMIT=${LIMIT:-3}
REPS=${REPS:-3}
CPU=${CPU:-1}

require_root
require_int FRAMES 1000 20000000
require_int LIMIT 1 10 seconds
require_int REPS 1 9
require_tools gcc ip jq taskset timeout
[[ $CPU =~ ^[0-9]+$ ]] && (($(nproc) > CPU)) || die "CPU $CPU does not exist"

mkdir -p "$REPO/bench/build"
gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 -o "$BIN" "$REPO/bench/txmethods.c"

readonly PREFIX=txm$$
readonly NS_TX=${PREFIX}tx NS_RX=${PREFIX}rx

cleanup() {
	ip netns del "$NS_TX" 2>/dev/null || true
	ip netns del "$NS_RX" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "$NS_TX" "$NS_RX"; do
	ip netns add "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$NS_TX" link add txa type veth peer name txb netns "$NS_RX"
ip -n "$NS_TX" addr add 198.18.1.1/24 dev txa
ip -n "$NS_RX" addr add 198.18.1.2/24 dev txb
ip netns exec "$NS_RX" sysctl -qw net.ipv4.ip_forward=0
ip -n "$NS_TX" link set txa up
ip -n "$NS_RX" link set txb up

PEER_MAC=$(ip -n "$NS_RX" -j link show dev txb | jq -r '.[0].address')
QDISC=$(ip -n "$NS_TX" -j link show dev txa | jq -r '.[0].qdisc')
echo "lab: $NS_TX/txa -> $NS_RX/txb ($PEER_MAC), qdisc on txa: $QDISC, kernel $(uname -r)"
echo "load before the run: $(loadavg) (other busy processes skew the numbers)"

# Runs: 2 sizes x 2 batches x 5 methods x REPS, plus 5 warm-ups, each at most LIMIT s, plus
# two `ip` calls per run; a generous ceiling that still ends a hung run.
BUDGET=$((20 * REPS * (LIMIT + 2) + 5 * LIMIT + 60))
timeout --kill-after=5 "$BUDGET" ip netns exec "$NS_TX" \
	taskset -c "$CPU" "$BIN" -i txa -d "$PEER_MAC" -p "$NS_RX" -I txb \
	-n "$FRAMES" -t "$LIMIT" -r "$REPS"
echo "load after the run: $(loadavg)"
