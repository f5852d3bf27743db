#!/usr/bin/env bash
# Runs every test of the workspace and closes with one summary line ("Tests: N passed, M failed").
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { p += $4; f += $6 } END { printf "Tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
