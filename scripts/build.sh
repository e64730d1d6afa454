#!/usr/bin/env bash
# Build the single executable: the C shim first (it is embedded), then bun build --compile with
# the packet worker as a second entry point (workers must be named to be bundled).
#   scripts/build.sh [OUTFILE]     default dist/ringvs
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/ringvs}
make -s -C native
mkdir -p "$(dirname "$out")"
bun build --compile src/cli/main.ts src/dataplane/worker.ts --outfile "$out" >/dev/null
echo "$out"
