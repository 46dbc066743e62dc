#!/bin/sh
# Run the ingest benchmark on PostgreSQL and on SQLite, each behind gunicorn (2 sync
# workers) that bench/ingest.py starts and stops itself. See bench/README.md.
#
#   bench/run.sh                 # N=2000, C=4 on both databases
#   bench/run.sh -n 500 -c 2     # extra arguments go to both runs
#
# BENCH_PG_URL   PostgreSQL database to use (created if missing; never the app's own);
#                default postgres://postgres@127.0.0.1:55432/itsm_bench
# BENCH_SQLITE   SQLite file, recreated for every run; default /tmp/bench.sqlite3
# BENCH_OUT      where the JSON results go; default /tmp
set -u
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:55432/itsm_bench}
SQLITE=${BENCH_SQLITE:-/tmp/bench.sqlite3}
OUT=${BENCH_OUT:-/tmp}
status=0

# createdb takes the pieces of the URL; an existing database is fine.
pg_rest=${PG_URL#postgres://}
pg_user=${pg_rest%%@*}
pg_hostport=${pg_rest#*@}
pg_hostport=${pg_hostport%%/*}
pg_db=${PG_URL##*/}
createdb -h "${pg_hostport%%:*}" -p "${pg_hostport##*:}" -U "$pg_user" "$pg_db" 2>/dev/null || true

echo "== PostgreSQL ($PG_URL)"
DATABASE_URL=$PG_URL $PY bench/ingest.py --start-gunicorn -n 2000 -c 4 \
    --json "$OUT/itsm-bench-postgresql.json" "$@" || status=1

echo
echo "== SQLite ($SQLITE)"
rm -f "$SQLITE" "$SQLITE-journal" "$SQLITE-wal" "$SQLITE-shm"
DATABASE_URL=sqlite:///$SQLITE $PY bench/ingest.py --start-gunicorn -n 2000 -c 4 \
    --json "$OUT/itsm-bench-sqlite.json" "$@" || status=1

exit $status
