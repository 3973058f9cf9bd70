#!/usr/bin/env bash
# ci/h200-cpu-peers.sh — quintet's CPU kernels against PyTorch's CPU paths on one host, in one
# call (issue 18): for each thread count (default "1 <all cores>", QT_PEER_THREADS="1 16"),
#   1. `quintet run` of the cpu backend's cases that have a PyTorch peer (nightly profile,
#      QT_PEER_REPS repetitions, default 3: compare's minimum): sparsity's uniform points
#      M=1,K=16384,N=4096 and M=64,K=4096,N=4096 at sp 0.9 and 0.95 (draws of A rotating past the
#      LLC) and the M=1 points' cache=warm twins, every path and auto; attention_scaling dense,
#      D 64 and 128, T 256…4096 (…QT_PEER_T_MAX, up to 16384), causal and not; lr_convergence step_10m, step_large and step_llc
#      (n from the LLC: parameters + gradient cover twice the LLC) in f32
#      for the optimizers PyTorch has (sgd adam adamw radam rmsprop adagrad); with
#      OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = the count (the cpu backend takes
#      omp_get_max_threads(), impl/backends/host/host.c) and GOMP_SPINCOUNT = libgomp's own
#      default, 300000 (QT_PEER_SPINCOUNT), the wait PyTorch's OpenMP threads use: `quintet run`
#      would otherwise lower it to 10000 for shared machines (README), which on this dedicated
#      host only adds a futex wake-up to every parallel region of quintet's side;
#   2. suites/peers/torch_cpu.py with the same count (torch.set_num_threads), its Google Benchmark
#      JSON imported into the same database (variants torch-<path>, same suite/case/params);
# QT_PEER_GROUPS (default "sparse,attention,optim") narrows both sides to some of the three groups.
# At one thread both sides run pinned to core QT_PEER_CORE (default 0) with taskset; QT_PEER_THP=1
# runs PyTorch with its huge-page allocator (torch_cpu.py --thp; quintet's large host blocks use
# huge pages by default, README "Backends").
# QT_PEER_ROUNDS=N (default 1) runs steps 1 and 2 alternately N times per thread count, and
# peer_ratios.py pairs them round by round (each row: the median of the rounds' ratios, their range,
# the rounds that met the target): on a shared host either side's rate moves between calls by more
# than the margins the targets ask (issue 18's notes), and a round compares the two sides a minute
# apart; the time bound below is then N times as long.
# then suites/peers/peer_ratios.py writes the ratio tables (peer / quintet per case, against the
# issue's targets). Without PyTorch the peer step is skipped with a message and the tables carry
# quintet's columns only. Each step runs under a time limit in seconds (QT_PEER_BUDGET_Q1/_T1 for
# one thread, default 140/55, QT_PEER_BUDGET_QN/_TN for more, default 70/35: 300 s in all, 340 s
# with each kill's 10 s grace, so the script ends within 6 minutes; what a quintet step leaves of
# its limit is added to the peer step's that follows; a quintet run stopped by its
# limit keeps its finished cases, marked interrupted; the peer writes its JSON after every case)
# and prints its time. Both sides run the sparse cases first, then attention, then the optimizers,
# so a tight limit cuts the optimizers first.
#
# usage: ci/h200-cpu-peers.sh OUTDIR     (from the project root, after `make -j16 QT_DEPS_PREFIX=...`)
# writes OUTDIR/: cpu-peers.db (both sides; `quintet show|compare|plot --db` it), log.txt (all
#   output, `quintet show --summary` of each run), ratios.txt, ratios.csv, ratios-min.txt (the same
#   tables from each case's fastest repetition: peer_ratios.py --stat min), torch_t<N>.json
#   (torch_t<N>_r<K>.json per round K with QT_PEER_ROUNDS > 1);
#   figures afterwards where gnuplot is: `quintet plot RUNS --db OUTDIR/cpu-peers.db --out FIGS
#   --suite attention_scaling` (lr_convergence, sparsity): <suite>-peer_ratio (plots/peer_ratio.gp).
# exit: 0 done (cases may still have failed: see log.txt), 2 usage or no build.
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: ci/h200-cpu-peers.sh OUTDIR}
Q=build/quintet
PY=${PYTHON:-python3}
[ -x "$Q" ] || { echo "h200-cpu-peers: $Q missing: build first (make -j16 QT_DEPS_PREFIX=...)" >&2; exit 2; }
mkdir -p "$OUT" || exit 2
DB=$OUT/cpu-peers.db
LOG=$OUT/log.txt
THREADS=${QT_PEER_THREADS:-"1 $(nproc)"}
REPS=${QT_PEER_REPS:-3}
ROUNDS=${QT_PEER_ROUNDS:-1}
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "h200-cpu-peers: QT_PEER_ROUNDS='$ROUNDS' is not a positive count" >&2; exit 2 ;; esac
# Seconds per step: one thread takes longest (on the 2-core VM a 1-thread quintet step needs ~200 s).
BUDGET_Q1=${QT_PEER_BUDGET_Q1:-140} BUDGET_QN=${QT_PEER_BUDGET_QN:-70}
BUDGET_T1=${QT_PEER_BUDGET_T1:-55} BUDGET_TN=${QT_PEER_BUDGET_TN:-35}
# QT_PEER_GROUPS (default sparse,attention,optim): the groups both sides run, e.g. "optim" alone
PEER_GROUPS=${QT_PEER_GROUPS:-sparse,attention,optim}
FILTER=
# QT_PEER_T_MAX (default 4096, at most the suite's 16384): the attention cases' largest T, both sides
T_MAX=${QT_PEER_T_MAX:-4096}
case "$T_MAX" in '' | *[!0-9]*) T_MAX=0 ;; esac
[ "$T_MAX" -ge 256 ] && [ "$T_MAX" -le 16384 ] || { echo "h200-cpu-peers: QT_PEER_T_MAX='${QT_PEER_T_MAX}' is not in 256…16384" >&2; exit 2; }
TS=256
for ((tt = 512; tt <= T_MAX; tt *= 2)); do TS+="|$tt"; done
case ",$PEER_GROUPS," in *,attention,*) FILTER+="|attention_scaling/dense/cpu/B=1,H=4,T=($TS),D=(64|128),causal=[01]," ;; esac
case ",$PEER_GROUPS," in *,optim,*) FILTER+='|lr_convergence/step_(10m|large|llc)/cpu/optimizer=(sgd|adam|adamw|radam|rmsprop|adagrad),dtype=f32,' ;; esac
case ",$PEER_GROUPS," in *,sparse,*) FILTER+='|sparsity/(dense|gather|colskip|csr|auto)/cpu/M=(1,K=16384|64,K=4096),N=4096,sp=0\.95?,structure=uniform' ;; esac
[ -n "$FILTER" ] || { echo "h200-cpu-peers: QT_PEER_GROUPS='$PEER_GROUPS' names none of sparse, attention, optim" >&2; exit 2; }
FILTER="^(${FILTER#|})"
T0=$SECONDS
: >"$LOG"
say() { echo "[h200-cpu-peers +$((SECONDS - T0))s] $*" | tee -a "$LOG"; }
# Run "$@" with a time limit, all output to the terminal and the log; prints its time and status.
step() {
    local limit=$1 what=$2 t=$SECONDS rc
    shift 2
    say "$what: start (limit ${limit}s)"
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    say "$what: exit $rc after $((SECONDS - t))s$([ "$rc" = 124 ] && echo ' (time limit: finished cases kept)')"
    return "$rc"
}

# The newest run id of the database (what the step before made).
last_run() {
    $PY -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(id) FROM runs").fetchone()[0] or "")' "$DB"
}

say "host $(hostname), $(nproc) cores, threads: $THREADS, reps $REPS, rounds $ROUNDS, groups $PEER_GROUPS, T up to $T_MAX, db $DB"
HAVE_TORCH=1
if ! TV=$($PY -c 'import torch; print(torch.__version__)' 2>&1); then
    HAVE_TORCH=0
    say "PyTorch is not importable by $PY: the peer steps are skipped (${TV##*$'\n'})"
else
    say "PyTorch $TV"
fi
# sparsity writes its crossover table; this filtered run's must not replace the tree's results/ one
QT_SPARSE_CROSSOVER=$(mktemp -d) || exit 2
export QT_SPARSE_CROSSOVER
RUNS=
for t in $THREADS; do
    export OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t
    # one thread: both sides pinned to one core, so that no migration empties the private L2 in
    # the middle of a call (the CSR schedules keep their blocks there)
    PIN=()
    [ "$t" = 1 ] && command -v taskset >/dev/null && PIN=(taskset -c "${QT_PEER_CORE:-0}")
    for ((round = 1; round <= ROUNDS; round++)); do
        if [ "$t" = 1 ]; then BQ=$BUDGET_Q1 BT=$BUDGET_T1; else BQ=$BUDGET_QN BT=$BUDGET_TN; fi
        R=$([ "$ROUNDS" -gt 1 ] && echo ", round $round of $ROUNDS")
        tq=$SECONDS
        step "$BQ" "quintet cpu, $t thread(s)$R" "${PIN[@]}" env GOMP_SPINCOUNT="${QT_PEER_SPINCOUNT:-300000}" \
            $Q run sparsity attention_scaling lr_convergence --profile nightly --invocations 1 --repetitions "$REPS" \
            --backend cpu --filter "$FILTER" --db "$DB"
        # what quintet's step left of its limit goes to the peer's (the call's total bound is unchanged):
        # on the H200 host quintet needs ~60 s of its 140 at one thread, PyTorch more than its 55
        left=$((BQ - (SECONDS - tq)))
        [ "$left" -gt 0 ] && BT=$((BT + left))
        id=$(last_run)
        [ -n "$id" ] && RUNS+="$id," && $Q show "$id" --db "$DB" --summary >>"$LOG" 2>&1
        if [ "$HAVE_TORCH" = 1 ]; then
            J=$OUT/torch_t$t$([ "$ROUNDS" -gt 1 ] && echo "_r$round").json
            rm -f "$J"
            step "$BT" "torch cpu, $t thread(s)$R" "${PIN[@]}" $PY suites/peers/torch_cpu.py --threads "$t" --reps "$REPS" \
                --min-time 0.03 --groups "$PEER_GROUPS" --t-max "$T_MAX" $([ "${QT_PEER_THP:-0}" = 1 ] && echo --thp) --out "$J"
            if [ -s "$J" ]; then # written after every case: a run stopped by its limit leaves what it timed
                $Q import "$J" --db "$DB" 2>&1 | tee -a "$LOG"
                id=$(last_run)
                [ -n "$id" ] && RUNS+="$id,"
            else
                say "torch cpu, $t thread(s)$R: no JSON to import"
            fi
        fi
    done
done
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS
say "runs of this call: ${RUNS%,}"
$PY suites/peers/peer_ratios.py --db "$DB" --runs "${RUNS%,}" --csv "$OUT/ratios.csv" >"$OUT/ratios.txt" 2>>"$LOG"
tee -a "$LOG" <"$OUT/ratios.txt"
$PY suites/peers/peer_ratios.py --db "$DB" --runs "${RUNS%,}" --stat min >"$OUT/ratios-min.txt" 2>>"$LOG"
# fold the write-ahead log into the database file, so OUTDIR holds one self-contained .db
$PY -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.execute("PRAGMA journal_mode=DELETE"); c.close()' "$DB"
say "plot: build/quintet plot ${RUNS//,/ }--db $DB --out FIGS --suite attention_scaling (and lr_convergence, sparsity): the peer_ratio figures"
rm -rf "$QT_SPARSE_CROSSOVER"
say "done in $((SECONDS - T0))s; files: $(cd "$OUT" && echo *)"
