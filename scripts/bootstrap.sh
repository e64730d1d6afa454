#!/usr/bin/env bash
# Install what a fresh Debian machine lacks for ringvs, then build the C shim. Idempotent and fast
# when everything is there; every step says what it does. Needs root (apt-get, namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bootstrap: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "must be run as root (it installs packages; the lab needs network namespaces)"
	exit 4
fi

# Debian packages: iproute2 (ip netns, neighbour table), nftables (kernel guard), ethtool (receive
# offloads), tcpdump (RST capture in tests), curl (lab client), socat (client and server of the
# kernel's ipvs.sh selftest, test/lab/ipvs_selftest.test.ts), gcc/make (C shim),
# procps/util-linux (sysctl, taskset, setpriv); for the request/response comparison through the
# VIP and straight to the real server (bench/reqresp.sh, test/lab/request_response.test.ts):
# nginx (the real server's HTTP server), wrk (keep-alive HTTP load), apache2-utils (ab: a new
# connection per request). nginx lives in /usr/sbin, which a non-login PATH may lack, so that
# directory is looked in too.
need=()
for pair in ip:iproute2 nft:nftables ethtool:ethtool tcpdump:tcpdump curl:curl socat:socat gcc:gcc make:make sysctl:procps \
	taskset:util-linux setpriv:util-linux sha256sum:coreutils nginx:nginx wrk:wrk ab:apache2-utils; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	say "apt-get install ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Bun comes from the npm registry.
if ! command -v bun >/dev/null 2>&1; then
	command -v npm >/dev/null 2>&1 || { say "npm is missing: install Node.js/npm first"; exit 1; }
	say "npm install -g bun"
	npm install -g bun >/dev/null 2>&1
fi

if [ ! -d node_modules/zod ] || [ ! -d node_modules/tinybench ]; then
	say "bun install"
	bun install --frozen-lockfile >/dev/null
fi

make -s -C native
