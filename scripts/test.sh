#!/usr/bin/env bash
# The whole test suite (README quick start, and what CI runs): unit, packet-table and lab tests.
# Lab tests build their own network namespaces and need root; they are never skipped here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec bun test "$@"
