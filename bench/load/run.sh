#!/usr/bin/env bash
# Load test (issue 9): a server on DB, locust's mix from bench/load/locustfile.py, memory sampled, summary.
#
#   bench/load/run.sh [SECONDS] [DB] [WORKERS]      e.g. bench/load/run.sh 600 onenet_city 2
#
# Defaults: 60 s on the database `onenet` with 2 uvicorn workers.  Results in var/bench/load-<time>/:
# locust_stats.csv (per endpoint), locust_stats_history.csv (over time), locust_failures.csv, memory.csv,
# and report.md (what bench/load/report.py prints).  The cases it files (Idempotency-Key `load-…`) are
# removed afterwards unless LOAD_KEEP=1.  Runs under /tmp/onenet-bench.lock like every benchmark.
set -euo pipefail
if [ -z "${ONENET_BENCH_LOCKED:-}" ]; then
  exec env ONENET_BENCH_LOCKED=1 flock /tmp/onenet-bench.lock "$0" "$@"
fi
cd "$(dirname "$0")/../.."
SECS=${1:-60}
DB=${2:-onenet}
WORKERS=${3:-2}
PORT=${LOAD_PORT:-8765}
DSN="postgres://postgres@127.0.0.1:${ONENET_PG_PORT:-54329}/$DB"
OUT="var/bench/load-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

# --proxy-headers from 127.0.0.1 only: each simulated phone sends its own X-Forwarded-For address, so the
# per-address rate limits count them one by one, as they would count real phones behind a proxy.
DATABASE_URL="$DSN" ONENET_DEMO=1 .venv/bin/uvicorn gisapp.asgi:application --host 127.0.0.1 --port "$PORT" \
  --workers "$WORKERS" --timeout-keep-alive 75 --proxy-headers --forwarded-allow-ips 127.0.0.1 --no-access-log --log-level warning &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.5
done
.venv/bin/python bench/load/memory.py --pid "$SERVER" --interval 5 --out "$OUT/memory.csv" &
MEMORY=$!

.venv/bin/locust -f bench/load/locustfile.py --headless -H "http://127.0.0.1:$PORT" -u 275 -r 55 \
  -t "${SECS}s" --stop-timeout 10 --csv "$OUT/locust" --csv-full-history --only-summary \
  >"$OUT/locust.log" 2>&1 || true   # locust exits 1 when any request failed: the report says which

kill "$MEMORY" 2>/dev/null || true
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
trap - EXIT
.venv/bin/python bench/load/report.py "$OUT" | tee "$OUT/report.md"
if [ -z "${LOAD_KEEP:-}" ]; then
  .venv/bin/python bench/load/cleanup.py "$DSN"
fi
echo "results: $OUT"
