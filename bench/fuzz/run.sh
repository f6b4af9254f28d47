#!/usr/bin/env bash
# The long fuzz (issue 9): schemathesis over every operation of /api/openapi.json and /ogcapi/api,
# anonymous and with a dispatcher's token, on its own test database — tests/test_fuzz.py with many more
# examples per operation than `./gis test` runs.
#
#   bench/fuzz/run.sh [EXAMPLES]        (default 500; about 35 minutes at 100 on the development machine)
#
# ONENET_FUZZ_SEED=<n> draws new examples instead of the fixed, reproducible ones.
set -euo pipefail
if [ -z "${ONENET_BENCH_LOCKED:-}" ]; then
  exec env ONENET_BENCH_LOCKED=1 flock /tmp/onenet-bench.lock "$0" "$@"
fi
cd "$(dirname "$0")/../.."
export ONENET_FUZZ_EXAMPLES="${1:-500}"
export ONENET_TEST_DB="${ONENET_TEST_DB:-test_onenet_fuzz}"
exec .venv/bin/pytest tests/test_fuzz.py -q
