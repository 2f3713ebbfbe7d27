#!/usr/bin/env bash
# Runtime benchmarks: taskmaster (release build) against supervisord (from PyPI, in a
# virtualenv made here) and a bare fork+exec floor (spawnloop.c, built here with gcc).
#
#   bench/runtime/run.sh [--quick] [--workloads spawn,footprint,status,restart,log]
#                        [--systems floor,taskmaster,supervisord] [-n N] [--runs R] ...
#
# Environment: BENCH_DIR (default /tmp/taskmaster-bench) holds the venv, the floor binary,
# the scratch folders and results/; TASKMASTER_BIN skips the release build and uses that binary.
# Every other option goes to bench.py (see `bench.py --help`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/taskmaster-bench}
SUPERVISOR_VERSION=${SUPERVISOR_VERSION:-4.3.0}
mkdir -p "$BENCH_DIR/results"

venv="$BENCH_DIR/venv"
if ! "$venv/bin/supervisord" --version 2>/dev/null | grep -qx "$SUPERVISOR_VERSION"; then
    echo "installing supervisor $SUPERVISOR_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "supervisor==$SUPERVISOR_VERSION"
fi

gcc -O2 -Wall -Wextra -o "$BENCH_DIR/spawnloop" "$here/spawnloop.c"

if [ -z "${TASKMASTER_BIN:-}" ]; then
    (cd "$root" && cargo build --release --quiet --bin taskmaster)
    TASKMASTER_BIN="$root/target/release/taskmaster"
fi

# 1,000 children with two pipes each need more than the common 1024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

stamp=$(date -u +%Y%m%dT%H%M%SZ)
exec python3 "$here/bench.py" \
    --taskmaster "$TASKMASTER_BIN" \
    --supervisor-venv "$venv" \
    --spawnloop "$BENCH_DIR/spawnloop" \
    --workdir "$BENCH_DIR/work" \
    --out "$BENCH_DIR/results/runtime-$stamp.json" \
    "$@"
