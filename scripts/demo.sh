#!/usr/bin/env bash
# The lab demo (README quick start): builds a client, a director and three real servers in network
# namespaces, prepares the real servers with scripts/realserver.sh, starts ringvs in DR mode on a
# built-in config, sends requests from the client, prints which real server answered each, and
# tears everything down. Touches nothing outside its own namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

P="demo$$"
VIP=198.18.0.100
work=$(mktemp -d)
director_pid=""

cleanup() {
	[ -n "$director_pid" ] && kill -TERM "$director_pid" 2>/dev/null && wait "$director_pid" 2>/dev/null || true
	bash scripts/lab/lab.sh down "$P" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== lab: client 198.18.0.2, director 198.18.0.3, real servers 198.18.0.11-13, VIP $VIP"
bash scripts/lab/lab.sh up "$P" 3 >"$work/lab.env"
for i in 1 2 3; do
	RINGVS_RS_STATE_DIR="$work/rs" ip netns exec "${P}rs$i" bash scripts/realserver.sh start "$VIP" >/dev/null
	ip netns exec "${P}rs$i" bun scripts/lab/http-server.ts --name "rs$i" >"$work/http$i.log" 2>&1 &
done
for i in 1 2 3; do
	for _ in $(seq 50); do grep -q listening "$work/http$i.log" 2>/dev/null && break; sleep 0.1; done
done

# The built-in default: one TCP service, weighted round robin 3:2:1, Direct Routing.
cat >"$work/ringvs.json" <<JSON
{
  "interface": "eth0",
  "vipMode": "auto",
  "services": [
    { "protocol": "tcp", "address": "$VIP", "port": 80, "scheduler": "wrr",
      "realServers": [
        { "address": "198.18.0.11", "weight": 3 },
        { "address": "198.18.0.12", "weight": 2 },
        { "address": "198.18.0.13", "weight": 1 }
      ] }
  ]
}
JSON
echo "== director: ringvs serve --config (wrr, weights rs1=3 rs2=2 rs3=1, DR)"
ip netns exec "${P}dir" bun src/cli/main.ts serve --config "$work/ringvs.json" --socket "$work/ringvs.sock" \
	>"$work/director.out" 2>"$work/director.err" &
director_pid=$!
for _ in $(seq 100); do grep -q '"event":"ready"' "$work/director.out" 2>/dev/null && break; sleep 0.1; done
grep -q '"event":"ready"' "$work/director.out" || { cat "$work/director.err"; echo "director did not start" >&2; exit 1; }

echo "== 12 new connections from the client to http://$VIP/"
declare -A count=()
for n in $(seq 12); do
	who=$(ip netns exec "${P}cl" curl -s --max-time 5 "http://$VIP/" || echo "no answer")
	printf '  request %2d -> %s\n' "$n" "$who"
	count[$who]=$(( ${count[$who]:-0} + 1 ))
done
echo "== answers per real server: $(for k in "${!count[@]}"; do printf '%s=%s ' "$k" "${count[$k]}"; done)"

echo "== the running tables, as ipvsadm -L -n shows them (ringvs speaks ipvsadm over its control socket)"
RINGVS_SOCKET="$work/ringvs.sock" ip netns exec "${P}dir" bun src/cli/main.ts -L -n | sed 's/^/  /'

echo "== 20 MB download through the director (replies go straight back from the real server)"
ip netns exec "${P}cl" curl -s --max-time 30 "http://$VIP/bytes/20000000" | sha256sum | cut -c1-16 | sed 's/^/  sha256 prefix: /'

kill -TERM "$director_pid"; wait "$director_pid" || true; director_pid=""
bun -e '
const lines = (await Bun.file(process.argv[1]).text()).trim().split("\n").map((l) => JSON.parse(l));
const s = lines.find((l) => l.event === "stopped");
console.log("== director counters at stop:");
const forwarded = s.services[0].dests.reduce((n, d) => n + d.packets, 0);
console.log(`  frames seen ${s.shim.rxFrames}, to the VIP ${s.policy.vipPackets}, forwarded ${forwarded}, ring drops ${s.shim.kernelDrops}, replies seen ${s.policy.replyFramesSeen}`);
for (const d of s.services[0].dests) console.log(`  -> ${d.address} (${d.mac}) weight ${d.weight}: ${d.packets} packets, ${d.bytes} bytes`);
' "$work/director.out"
