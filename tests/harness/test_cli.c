/* test_cli.c — the quintet program end to end: bad input gives a clear message
 * and exit code 2; a run stores what `show` displays with its provenance;
 * Ctrl-C and kill -9 in the middle of a run keep every finished case and leave
 * the run marked interrupted; two runs writing one database at once both
 * succeed; a foreign file is refused and left untouched. Needs build/quintet
 * (make test builds it first). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/warnings.h"
#include "test_util.h"

static char out[1 << 16];

/* Run quintet with arguments; returns the exit status, output in `out`. */
static int quintet(const char *args)
{
    return qt_test_sh(out, sizeof out, "%s %s", qt_test_build_path("quintet"), args);
}

/* Each bad invocation: exit 2 and a message naming the problem. */
static void test_bad_input(void)
{
    static const struct {
        const char *args, *expect;
    } cases[] = {
        {"", "usage"},
        {"frobnicate", "unknown command"},
        {"run no_such_suite --db /tmp/x.db", "unknown suite"},
        {"run --profile fast", "unknown profile"},
        {"run --repetitions 0", "outside"},
        {"run --repetitions abc", "not an integer"},
        {"run --seed -5", "non-negative"},
        {"run --bogus", "unknown option"},
        {"run --filter '('", "bad --filter"},
        {"run --backend gpu", "unknown backend"},
        {"run --db", "needs a value"},
        {"show --format xml", "unknown format"},
        {"show a b", "one RUN"},
        {"list --profile huge", "unknown profile"},
        {"list nosuch", "unknown suite"},
        {"env extra", "unexpected argument"},
        {"import", "at least one database"},
        {"import a.db --frob", "unknown option"},
        {"run calibration --filter zzz_nothing_matches", "no case matches"},
        {"run --filter zzz_nothing_matches --db /tmp/x.db", "no case matches"}, /* calibration alone is not what was asked */
        {"run --counters PAPI_TOT_INZ --db /tmp/x.db", "PAPI_TOT_INS"},        /* close names listed */
        {"run calibration --db no_such_folder_q/x.db", "mkdir -p 'no_such_folder_q'"},
        {"run calibration --pin 99999 --db /tmp/x.db", "does not exist"},
        {"run calibration --pin 0-x --db /tmp/x.db", "bad range"},
        {"run calibration --pin a --db /tmp/x.db", "not a CPU list"},
        {"help nosuchcommand", "unknown command"},
        {"show --db /nonexistent/dir/q.db", "no database at"},
        {"show --format gbench-json --suite x", "whole run"},
        {"import a.json b.db", "no file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) qt_test_expect_cli("", cases[i].args, "", 2, cases[i].expect);
    CU_ASSERT_EQUAL(quintet("--help"), 0);
    CU_ASSERT_EQUAL(quintet("run --help"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--repetitions"));
    CU_ASSERT_EQUAL(quintet("--version"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "jansson"));
    CU_ASSERT_EQUAL(quintet("help show"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--samples"));
    CU_ASSERT_EQUAL(quintet("help"), 0);
}

/* A small run, then show in all three formats with provenance filled. */
static void test_run_and_show(void)
{
    const char *db = qt_test_fresh_path("show.db");
    char args[1024];
    snprintf(args, sizeof args, "run calibration --filter 'harness_loop|sgemm.*threads=1' --db %s --repetitions 2", db);
    int rc = quintet(args);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    snprintf(args, sizeof args, "show --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "harness_loop"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "sgemm_gflops"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "git_commit"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "cpu_model"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "version.sqlite"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "completed"));
    snprintf(args, sizeof args, "show latest --db %s --format csv --metric time_s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "run_id,suite,case"));
    snprintf(args, sizeof args, "show 1 --db %s --format json", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"provenance\""));
    /* unknown run, suite or metric: exit 2 with what exists */
    snprintf(args, sizeof args, "show 99 --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "the most recent runs"));
    snprintf(args, sizeof args, "show --db %s --suite calibrashun", db);
    CU_ASSERT_EQUAL(quintet(args), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "its suites:\n  calibration"));
    snprintf(args, sizeof args, "show --db %s --metric tme_s", db);
    CU_ASSERT_EQUAL(quintet(args), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "time_s"));
    /* typed JSON with the raw repetitions: numbers are numbers, samples has n values */
    char text[512];
    snprintf(args, sizeof args,
             "%s show --db %s --format json --samples --metric time_s | python3 -c \"import json,sys; d=json.load(sys.stdin);"
             " r=d['results']; print(all(isinstance(x['median'], float) and isinstance(x['n'], int) and"
             " len(x['samples']) == x['n'] == 2 for x in r), len(r) > 0, isinstance(d['provenance']['cores'], int))\"",
             qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL(qt_test_sh(text, sizeof text, "%s", args), 0);
    CU_ASSERT_STRING_EQUAL(text, "True True True\n");
    /* the summary make bench ends with */
    snprintf(args, sizeof args, "show --summary --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "headline metrics"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "sgemm_gflops"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "slowest cases"));
    /* provenance additions */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key IN ('os.kernel', 'os.release',"
                                        " 'cpu.governor', 'cpu.turbo', 'cpu.smt', 'memory_total', 'cpu.affinity',"
                                        " 'load_avg.start', 'load_avg.end', 'concurrent_runs')"), 10);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key LIKE 'file.%sparse_crossover%'"), 1);
    /* an unavailable counter is recorded as such and never stored as a sample (not as 0) */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id"
                                        " JOIN counter_availability a ON a.run_id = c.run_id AND a.available = 0"
                                        " AND s.metric = 'papi.' || a.event"),
                    0);
    CU_ASSERT(qt_test_sql_int(db, "SELECT count(*) FROM counter_availability") >= 4 + 9 + 4); /* PAPI, SDE, rusage */
}

/* Start `quintet run` in the background; returns its pid. */
static pid_t start_run(const char *db, const char *extra)
{
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "exec %s run calibration --db %s %s >/dev/null 2>&1", qt_test_build_path("quintet"),
                 db, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Number of stored cases, -1 when unreadable. */
static int stored_cases(const char *db, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM cases %s", where);
    int64_t n = qt_test_sql_int(db, sql);
    return n < 0 ? -1 : (int)n;
}

/* Wait until the run has stored `n` cases (at most ~60 s). */
static int wait_for_cases(const char *db, int n)
{
    for (int i = 0; i < 1200; i++) {
        if (stored_cases(db, "") >= n) return 1;
        usleep(50000);
    }
    return 0;
}

/* Interrupt a run mid-suite with `sig`; the finished cases survive and the run is interrupted. */
static void interrupt_with(int sig, const char *name)
{
    const char *db = qt_test_fresh_path(name);
    pid_t pid = start_run(db, "--filter 'harness_loop|sgemm|stream' --repetitions 5");
    CU_ASSERT_FATAL(wait_for_cases(db, 1));
    kill(pid, sig);
    int st;
    waitpid(pid, &st, 0);
    if (sig == SIGKILL) {
        CU_ASSERT(WIFSIGNALED(st));
    } else {
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 130);
    }
    int kept = stored_cases(db, "WHERE status = 'ok'");
    CU_ASSERT(kept >= 1);
    /* the case in flight is stored as not run to completion, with the reason */
    if (sig == SIGINT) CU_ASSERT_EQUAL(stored_cases(db, "WHERE status = 'failed' AND message LIKE 'interrupted%'"), 1);
    char args[700];
    snprintf(args, sizeof args, "show --db %s", db); /* show opens read-only; run marks stale runs */
    CU_ASSERT_EQUAL(quintet(args), 0);
    snprintf(args, sizeof args, "run calibration --filter harness_loop --repetitions 1 --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    char res[256];
    qt_test_sql_text(db, "SELECT status FROM runs ORDER BY id LIMIT 1", res, sizeof res);
    CU_ASSERT_STRING_EQUAL(res, "interrupted");
    CU_ASSERT_EQUAL(stored_cases(db, "WHERE run_id = 1 AND status = 'ok'"), kept);
}

static void test_ctrl_c(void) { interrupt_with(SIGINT, "sigint.db"); }
static void test_kill_9(void) { interrupt_with(SIGKILL, "kill9.db"); }

/* Two runs writing one database at the same time both complete. */
static void test_concurrent_runs(void)
{
    const char *db = qt_test_fresh_path("concurrent.db");
    pid_t a = start_run(db, "--filter 'harness_loop|threads=1' --repetitions 3");
    pid_t b = start_run(db, "--filter 'harness_loop|threads=1' --repetitions 3");
    int sa, sb;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    CU_ASSERT(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    CU_ASSERT(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 2);
    CU_ASSERT_EQUAL(stored_cases(db, ""), 4);
    /* each knows the other wrote the database meanwhile */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key = 'concurrent_runs' AND value <> 'none'"), 2);
}

/* Warnings from controlled conditions: QT_WARN_CV=0 flags every timed case whose repetitions differ at all
 * (always, through the real binary); stored, and shown by show and report. The SGEMM rule is checked on
 * given numbers (qt_warn_ceilings): two threads pinned to one CPU usually make all-thread SGEMM no
 * faster than one thread, but "usually" is a timing, and a test must not depend on one. */
static void test_warnings(void)
{
    const char *db = qt_test_fresh_path("warn.db");
    char args[700];
    snprintf(args, sizeof args, "run calibration --filter 'harness_loop|sgemm' --repetitions 3 --pin 0 --db %s", db);
    int rc = qt_test_sh(out, sizeof out, "QT_WARN_CV=0 OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 %s %s",
                        qt_test_build_path("quintet"), args);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    qt_warnings_t w = {0};
    qt_warn_ceilings(&w, 20.0, 19.0, 2); /* not faster: flagged */
    qt_warn_ceilings(&w, 40.0, 19.0, 2); /* twice as fast: fine */
    qt_warn_ceilings(&w, 19.0, 19.0, 1); /* one thread: nothing to compare */
    CU_ASSERT_EQUAL(w.n, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text[0], "not faster than one thread"));
    /* frac_stream may reach 4/3 (an in-place update against the triad's counted bytes), others 1 */
    qt_warn_case(&w, "a", "frac_stream", 3, 1.30, 1.30, 0.0);
    qt_warn_case(&w, "b", "frac_sgemm", 3, 1.05, 1.05, 0.0);
    qt_warn_case(&w, "c", "frac_stream", 3, 1.40, 1.40, 0.0);
    CU_ASSERT_EQUAL(w.n_frac, 2);
    CU_ASSERT_EQUAL(qt_warn_finish(&w, NULL, 0), QT_OK);
    CU_ASSERT_EQUAL(w.n, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text[1], "2 case metric(s) exceed a measured ceiling"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text[1], "c frac_stream = 1.4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text[1], "as a fraction of peak")); /* the whole text kept */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key LIKE 'warning.%'"
                                        " AND value LIKE '3 timed case(s) vary beyond CV 0%'"), 1);
    char aff[64];
    qt_test_sql_text(db, "SELECT value FROM run_provenance WHERE key = 'cpu.affinity'", aff, sizeof aff);
    CU_ASSERT_STRING_EQUAL(aff, "0");
    snprintf(args, sizeof args, "show --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "warnings:\n  ! "));
    snprintf(args, sizeof args, "show --summary --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vary beyond CV 0%"));
    /* the report opens with a summary carrying the warnings, then the contents */
    snprintf(args, sizeof args, "report --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    const char *sum = strstr(out, "## Summary"), *prov = strstr(out, "## Provenance");
    CU_ASSERT(sum && prov && sum < prov);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Warning: 3 timed case(s) vary beyond CV 0%"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Contents: provenance, calibration"));
    snprintf(args, sizeof args, "report --changes-only --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 2);
    snprintf(args, sizeof args, "report 1 --baseline 1 --changes-only --db %s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Gate verdict against the baseline: pass"));
    CU_ASSERT_PTR_NULL(strstr(out, "## Provenance"));
    snprintf(args, sizeof args, "report 70000007 --db %s", db); /* "7" alone may prefix a random uuid */
    CU_ASSERT_EQUAL(quintet(args), 2);
}

/* A file that is not a quintet database is refused by run and show and left unchanged. */
static void test_foreign_file_untouched(void)
{
    const char *path = qt_test_fresh_path("foreign.db");
    char before[256], after[256], args[700];
    qt_test_sql_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES (42);");
    qt_test_sh(before, sizeof before, "sha256sum < %s", path);
    snprintf(args, sizeof args, "run calibration --filter harness_loop --db %s", path);
    CU_ASSERT_EQUAL(quintet(args), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not a quintet database"));
    snprintf(args, sizeof args, "show --db %s", path);
    CU_ASSERT_EQUAL(quintet(args), 3);
    qt_test_sh(after, sizeof after, "sha256sum < %s", path);
    CU_ASSERT_STRING_EQUAL(before, after);
}

QT_TEST_MAIN("harness/cli", {"bad input exits 2 with a message", test_bad_input},
             {"run then show", test_run_and_show}, {"ctrl-c keeps finished cases", test_ctrl_c},
             {"kill -9 keeps finished cases", test_kill_9}, {"two concurrent runs", test_concurrent_runs},
             {"foreign file untouched", test_foreign_file_untouched}, {"warnings stored and shown", test_warnings})
