#!/bin/bash
# fuzz/attack_replay.sh — replays issue 17's attack classes against the real binary and prints, per
# class, how many attempts were handled cleanly (no hang, refused where it must be, refused files
# byte-identical, no link/FIFO/device written through, no partial output file, integrity_check ok,
# no raw control characters, exit status and stored run status agreeing), then the total.
# Classes: schema (view/trigger/extra table/extra index/added column on each table x 6 commands),
# outputs (report/plot onto links, FIFOs, folders, devices; full disk via ulimit -f), import (forged
# summaries and values of the wrong type or range), dbpath (--db FIFO/folder/device/FIFO -wal),
# terminal (escape sequences in every text column), readonly (as nobody, through setpriv), sigterm
# (20 random SIGTERMs), fulldisk (a run under ulimit -f 160..320 KiB), small (long path, --x0 nan).
# Needs sqlite3, setpriv (as root) and mknod rights for the device cases (else FIFOs stand in).
# Run: make && fuzz/attack_replay.sh   (about 3 minutes on 2 cores; QUINTET=path picks the binary)
Q=$(realpath "${QUINTET:-build/quintet}"); W=${TMPDIR:-/tmp}/qt-attack-replay; rm -rf "$W"; mkdir -p "$W"; cd "$W" || exit 2
$Q run calibration --filter 'harness_loop|sgemm.*threads=1' --repetitions 2 --db base.db >/dev/null 2>&1
declare -A ok tot
rec() { tot[$1]=$(( ${tot[$1]:-0} + 1 )); if [ "$2" = 1 ]; then ok[$1]=$(( ${ok[$1]:-0} + 1 )); else echo "NOT CLEAN [$1]: $3" >&2; fi; }
T() { timeout 20 "$@"; }
# A: hostile schemas x commands
i=0
for t in runs run_provenance counter_availability cases samples series case_stats meta; do
  for kind in view trigger extratable extraindex altercol; do
    i=$((i+1)); cp base.db a$i.db
    case $kind in
      view) sql="PRAGMA foreign_keys=off; CREATE TABLE ${t}_r AS SELECT * FROM $t; DROP TABLE $t; CREATE VIEW $t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT r.* FROM ${t}_r r, c;";;
      trigger) sql="CREATE TRIGGER tr_$t AFTER INSERT ON $t BEGIN DELETE FROM samples; END;";;
      extratable) sql="CREATE TABLE zz_$t (x);";;
      extraindex) sql="CREATE INDEX zz_i_$t ON $t (rowid);"; [ $t = runs ] || [ $t = cases ] || sql="CREATE INDEX zz_i_$t ON $t (1);";;
      altercol) sql="ALTER TABLE $t ADD COLUMN zz TEXT;";;
    esac
    sqlite3 a$i.db "$sql" 2>/dev/null || { sqlite3 a$i.db "CREATE VIEW zz_v_$t AS SELECT * FROM $t;"; }
    cp a$i.db a$i.orig
    for cmd in "show --db a$i.db" "history --metric time_s --db a$i.db" "compare 1 1 --db a$i.db" "report --db a$i.db" "import a$i.db --db a$i.t.db" "run calibration --filter harness_loop --repetitions 1 --db a$i.db"; do
      T $Q $cmd >/dev/null 2>&1; rc=$?
      c=0; [ $rc -ne 0 ] && [ $rc -ne 124 ] && cmp -s a$i.db a$i.orig && c=1
      rec schema $c "$kind $t: $cmd rc=$rc"
    done
  done
done
# B: output paths
echo keep > tgt
for p in link dangling fifo dir dev; do
  for w in report plot; do
    rm -rf o; mkdir o; case $p in link) ln -s ../tgt o/x;; dangling) ln -s ../nowhere o/x;; fifo) mkfifo o/x;; dir) mkdir o/x;; dev) mknod o/x c 1 3 2>/dev/null || mkfifo o/x;; esac
    if [ $w = report ]; then T $Q report --db base.db --out o/x >/dev/null 2>&1; rc=$?
    else mv o/x o/calibration-ceilings.dat; T $Q plot --db base.db --out o >/dev/null 2>&1; rc=$?; fi
    c=0; [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(cat tgt)" = keep ] && [ ! -e nowhere ] && c=1
    rec outputs $c "$w $p rc=$rc"
  done
done
for lim in 0 1 2 4 8; do
  sqlite3 base.db .dump > /dev/null; cp base.db j.db; sqlite3 j.db "PRAGMA journal_mode=DELETE" >/dev/null
  rm -rf o; mkdir o; (trap '' XFSZ; ulimit -f $lim; T $Q report --db j.db --out o/r.md >/dev/null 2>&1; T $Q plot --db j.db --out o >/dev/null 2>&1)
  c=1; for f in o/*; do [ -e "$f" ] && [ ! -s "$f" ] && c=0; ls o | grep -q 'XXXX\|\.md\.\|\.dat\.' && c=0; done
  [ -e o/r.md ] && [ $(stat -c %s o/r.md) -lt 100 ] && c=0
  rec outputs $c "full disk $lim: $(ls -la o)"
done
# C: import forged values
n=0
while IFS='|' read -r tab col val; do
  n=$((n+1)); cp base.db f$n.db; sqlite3 f$n.db "PRAGMA ignore_check_constraints=1; UPDATE $tab SET $col = $val;" 2>/dev/null
  rm -f ft.db*; cp base.db ft.db; sqlite3 ft.db "DELETE FROM runs" ; before=$(sqlite3 ft.db "select count(*) from runs")
  T $Q import f$n.db --db ft.db >/dev/null 2>&1; rc=$?
  integ=$(sqlite3 ft.db "pragma integrity_check")
  bad=$(sqlite3 ft.db "select count(*) from case_stats where median = 1.2e8 or n < 0")
  after=$(sqlite3 ft.db "select count(*) from runs")
  c=0; [ "$integ" = ok ] && [ "$bad" = 0 ] && { [ $rc = 1 ] && [ "$after" = "$before" ] || [ $rc = 0 ]; } && c=1
  # wrong type must be refused
  case "$val" in "'"*|x*) [ $rc = 1 ] || c=0;; esac
  rec import $c "$tab.$col=$val rc=$rc"
done <<'L'
case_stats|median|1.2e8
case_stats|n|-1
runs|cores|'many'
runs|started_at|'yesterday'
runs|pid|-1
runs|git_dirty|7
runs|cpu_mhz|'fast'
runs|threads|x'00'
runs|repetitions|-3
runs|seed|'s'
runs|ended_at|-5
cases|started_at|'noon'
cases|status|'weird'
cases|suite|''
cases|params|5
samples|value|'abc'
samples|value|x'0102'
samples|repetition|-1
samples|metric|''
series|value|'v'
series|step|'s'
counter_availability|available|2
counter_availability|reason|x'00'
run_provenance|value|x'00'
L
# D: --db not a regular file
mkfifo ff.db; mkdir dd.db; mknod cc.db c 1 3 2>/dev/null || mkfifo cc.db; cp base.db w.db; mkfifo w.db-wal 2>/dev/null
for d in ff.db dd.db cc.db w.db; do for cmd in show "history --metric time_s" "compare 1 1" report "run calibration --filter harness_loop"; do
  T $Q $cmd --db $d >/dev/null 2>&1; rc=$?; c=0; [ $rc -ne 0 ] && [ $rc -ne 124 ] && c=1; rec dbpath $c "$d $cmd rc=$rc"; done
  T $Q import $d --db imp.db >/dev/null 2>&1; rc=$?; c=0; [ $rc -ne 0 ] && [ $rc -ne 124 ] && c=1; rec dbpath $c "import $d rc=$rc"; done
# E: control characters in every text column
for tc in "runs host" "runs cpu_model" "runs profile" "runs git_commit" "runs compiler" "cases name" "cases suite" "cases params" "cases variant" "cases message" "samples unit" "run_provenance value" "counter_availability reason" "case_stats unit"; do
  set -- $tc; cp base.db e.db; sqlite3 e.db "UPDATE $1 SET $2 = char(27)||']0;x'||char(7)||char(27)||'[2J'||char(194,155)||'z'"
  for cmd in "show" "show --all" "show --format csv --all" "history --metric time_s" "history --metric sgemm_gflops" "compare 1 1" "report"; do
    o=$(T $Q $cmd --db e.db 2>&1); c=1; printf '%s' "$o" | grep -qaP '\x1b|\x07|\xc2\x9b' && c=0; rec terminal $c "$1.$2 $cmd"; done
done
# F: read-only
cp base.db ro.db; chmod 444 ro.db; chmod 777 .
for cmd in "run calibration --filter harness_loop --repetitions 1 --db ro.db" "import base.db --db ro.db"; do
  o=$(setpriv --reuid=65534 --regid=65534 --clear-groups $Q $cmd 2>&1); rc=$?
  c=0; [ $rc = 3 ] && [ $(printf '%s\n' "$o" | wc -l) = 1 ] && printf '%s' "$o" | grep -q read-only && c=1; rec readonly $c "$cmd: $o"; done
# G: SIGTERM race
rm -f race.db*
for t in $(seq 20); do
  before=$(sqlite3 race.db "select count(*) from runs" 2>/dev/null); before=${before:-0}
  $Q run calibration --filter harness_loop --repetitions 1 --db race.db >/dev/null 2>&1 & p=$!; sleep 0.$(printf %06d $((100000 + RANDOM * 15))); kill -TERM $p 2>/dev/null; wait $p; rc=$?
  s=$(sqlite3 race.db "select status from runs order by id desc limit 1"); after=$(sqlite3 race.db "select count(*) from runs")
  c=0; { [ $rc = 0 ] && [ "$s" = completed ]; } || { [ $rc = 130 ] && [ "$s" = interrupted ]; } || { [ $rc = 143 ] && { [ "$after" = "$before" ] || [ "$s" != completed ]; }; } && c=1
  rec sigterm $c "trial $t rc=$rc status=$s"
done
# H: full disk during a run
for lim in $(seq 160 8 320); do cp base.db fd.db; rm -f fd.db-*
  o=$( (trap '' XFSZ; ulimit -f $lim; T $Q run calibration --filter harness_loop --repetitions 1 --db fd.db 2>&1) ); rc=$?
  said=$(printf '%s' "$o" | grep -o '[0-9]* stored (' | grep -o '^[0-9]*')
  held=$(sqlite3 fd.db "select count(*) from cases where run_id=(select max(id) from runs) and run_id > 1" 2>/dev/null)
  c=1; [ -n "$said" ] && [ "$said" != "$held" ] && c=0; printf '%s' "$o" | grep -q 'could not store' && printf '%s' "$o" | grep -q ': completed,' && c=0
  [ $(sqlite3 fd.db "pragma integrity_check") = ok ] || c=0
  rec fulldisk $c "lim $lim said=$said held=$held"
done
# I: small items
o=$(T $Q show --db "$(printf 'a/%.0s' $(seq 50000))" 2>&1); c=0; [ ${#o} -lt 300 ] && c=1; rec small $c "long path"
T $Q trace optim --x0 nan,1 >/dev/null 2>&1; rc=$?; c=0; [ $rc = 2 ] && c=1; rec small $c "x0 nan"
T $Q trace optim --x0 inf,1 >/dev/null 2>&1; rc=$?; c=0; [ $rc = 2 ] && c=1; rec small $c "x0 inf"
cp base.db sm.db; sqlite3 sm.db "update runs set cores='many'"; o=$(T $Q import sm.db --db smt.db 2>&1); c=0; printf '%s' "$o" | grep -q '^quintet import: bad format: sm.db' && c=1; rec small $c "import names source: $o"
all=0; good=0; for k in "${!tot[@]}"; do echo "$k: ${ok[$k]:-0} of ${tot[$k]}"; all=$((all+tot[$k])); good=$((good+${ok[$k]:-0})); done
echo "TOTAL: $good of $all handled cleanly"
