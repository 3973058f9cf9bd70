#!/bin/sh
# ci/nightly.sh — the nightly regression job: build, run the `nightly` profile of every suite into
# a database that persists between nights, and gate on the previous completed nightly run of the
# same host with `quintet compare` (rank test + minimum effect + between-run noise; README.md,
# "Regression gating"). The first night has no baseline and passes.
#
# usage: ci/nightly.sh [DB]             DB defaults to results/nightly.db
# environment: QT_NIGHTLY_METRIC (default all), QT_NIGHTLY_BASELINE_RUNS (default 5),
#              QT_NIGHTLY_THRESHOLD (default 0.05), QT_NIGHTLY_ARGS (extra `quintet run` options)
# exit: 0 no regression, 1 a regression, 2 or more an error (build, run or database).
set -eu
cd "$(dirname "$0")/.."
DB=${1:-results/nightly.db}
Q=build/quintet

make --no-print-directory all
# shellcheck disable=SC2086 # QT_NIGHTLY_ARGS is a list of options
$Q run --profile nightly --db "$DB" ${QT_NIGHTLY_ARGS:-} || { echo "nightly: the run failed" >&2; exit 2; }

# The run just made, and the newest earlier completed nightly run on this host. The host is read
# back from the new run, so it is spelled exactly as provenance recorded it.
sql() { sqlite3 -batch -noheader "$DB" "$1"; }
NEW=$(sql "SELECT id FROM runs ORDER BY id DESC LIMIT 1")
BASE=$(sql "SELECT b.id FROM runs b, runs n WHERE n.id = $NEW AND b.id < n.id AND b.status = 'completed'
            AND b.profile = 'nightly' AND b.host = n.host ORDER BY b.id DESC LIMIT 1")
if [ -z "$BASE" ]; then
    echo "nightly: run $NEW is the first completed nightly run of this host in $DB: nothing to compare"
    exit 0
fi
echo "nightly: comparing run $NEW against run $BASE"
set +e
$Q compare "$BASE" "$NEW" --db "$DB" --metric "${QT_NIGHTLY_METRIC:-all}" \
    --baseline-runs "${QT_NIGHTLY_BASELINE_RUNS:-5}" --threshold "${QT_NIGHTLY_THRESHOLD:-0.05}"
rc=$?
set -e
case $rc in
0) echo "nightly: no regression" ;;
1) echo "nightly: REGRESSION (rows marked 'regression' above)" >&2 ;;
*) echo "nightly: quintet compare failed (exit $rc)" >&2 ;;
esac
exit $rc
