#!/bin/sh
# ci/nightly.sh — the nightly (and pull-request) regression job on a shared machine: build, then
# gate the current commit against a base commit with `quintet ab`, which runs both builds in
# interleaved randomized rounds so that the machine's drift hits both alike, and decides on the
# rounds paired (README.md, "Regression gating"). The history run uses the nightly profile's
# 4 invocations of 5 repetitions. The base is the last commit
# this job passed (remembered in DB), HEAD~1 the first night, or QT_NIGHTLY_BASE for a pull request
# (e.g. QT_NIGHTLY_BASE=origin/main). Also records one `run --profile nightly` for `history`.
#
# usage: ci/nightly.sh [DB]             DB defaults to results/nightly.db
# environment: QT_NIGHTLY_BASE (base revision), QT_NIGHTLY_SUITES (default "calibration
#              attention_scaling lr_convergence sparsity fusion_accuracy"), QT_NIGHTLY_FILTER (the
#              cases gated; default one representative case a suite, below; set it empty to gate
#              whole suites, then raise the rounds: README), QT_NIGHTLY_ROUNDS (48),
#              QT_NIGHTLY_REPETITIONS (5), QT_NIGHTLY_THRESHOLD (0.05), QT_NIGHTLY_METRIC
#              (time_s,cpu_time_s), QT_NIGHTLY_RUN (0 skips the nightly-profile run for history)
# The defaults come from `quintet calibrate-gate` on the 2-core build VM under load (README.md,
# "Regression gating"): wall time there varies 5-10x between processes, so the gate also judges
# cpu_time_s, and 48 paired rounds of the representative cases take 3.5-7 minutes.
# exit: 0 no regression, 1 a regression, 2 or more an error (build, run or database).
set -eu
cd "$(dirname "$0")/.."
DB=${1:-results/nightly.db}
Q=build/quintet

make --no-print-directory all
HEAD_REV=$(git rev-parse HEAD)
sql() { sqlite3 -batch -noheader "$DB" "$1" 2>/dev/null || true; }
BASE=${QT_NIGHTLY_BASE:-$(sql "SELECT value FROM run_provenance WHERE key = 'nightly_passed' ORDER BY run_id DESC LIMIT 1")}
BASE=${BASE:-HEAD~1}
if [ "$(git rev-parse "$BASE^{commit}")" = "$HEAD_REV" ]; then
    echo "nightly: $HEAD_REV already passed; nothing to gate"
    exit 0
fi
# One representative case a suite (the cases calibrate-gate measured); QT_NIGHTLY_FILTER= gates all.
REPRESENTATIVE='calibration/sgemm/host/n=2048,threads=1|attention_scaling/dense/cpu/B=1,H=4,T=1024,|lr_convergence/step_10m/cpu/optimizer=adam,|sparsity/csr/cpu/M=64,K=2048,N=2048,sp=0.9,structure=uniform|fusion_accuracy/train_step/cpu'
FILTER=${QT_NIGHTLY_FILTER-$REPRESENTATIVE}
echo "nightly: gating $HEAD_REV against $BASE with quintet ab"
set +e
# shellcheck disable=SC2086 # the suite list is a list
$Q ab "$BASE" "$Q" ${QT_NIGHTLY_SUITES:-calibration attention_scaling lr_convergence sparsity fusion_accuracy} \
    --db "$DB" --rounds "${QT_NIGHTLY_ROUNDS:-48}" --repetitions "${QT_NIGHTLY_REPETITIONS:-5}" \
    --threshold "${QT_NIGHTLY_THRESHOLD:-0.05}" --metric "${QT_NIGHTLY_METRIC:-time_s,cpu_time_s}" \
    ${FILTER:+--filter "$FILTER"}
rc=$?
set -e
case $rc in
0)
    echo "nightly: no regression"
    NEW=$(sql "SELECT run_id FROM run_provenance WHERE key = 'ab_side' AND value = 'new' ORDER BY run_id DESC LIMIT 1")
    [ -n "$NEW" ] && sql "INSERT OR REPLACE INTO run_provenance (run_id, key, value) VALUES ($NEW, 'nightly_passed', '$HEAD_REV')"
    ;;
1) echo "nightly: REGRESSION (rows marked 'regression' above)" >&2 ;;
*) echo "nightly: quintet ab failed (exit $rc)" >&2 ;;
esac
if [ "${QT_NIGHTLY_RUN:-1}" != 0 ]; then
    $Q run --profile nightly --db "$DB" || echo "nightly: the nightly-profile run failed" >&2
fi
exit $rc
