#!/usr/bin/env bash
# The mixed load test that judges the SLOs of docs/SLO.md (benches/load.rs, Goose):
# `scripts/load.sh [seconds]` (default 120) builds Maestro in release mode, starts it on a
# fresh database with Redis, drives CI jobs, people browsing, registry changes and sign-ins
# against it for that long, and prints each SLO as met or missed with its measured figure.
# Exit status 1 when any SLO is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
LOAD_SECONDS="${1:-120}" exec scripts/bench.sh load
