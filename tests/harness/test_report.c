/* test_report.c — `quintet history` and `quintet report` end to end, on a database made by
 * two small real `quintet run`s and on one written through the store API with fixed values
 * (so that a regression is known to enter at run 3, and case names carry characters every
 * dialect must escape): history shows every run and marks the regression; report writes md,
 * html and tex with the provenance fields and the case rows, escaped; --baseline adds the
 * gate's verdicts; --figures includes the files of a folder; bad input exits 2 with a message;
 * a missing or foreign database is refused and left as it was; a bandwidth above the run's
 * STREAM ceiling is a measurement-validity warning and outliers/bimodality are columns of show
 * and report. pdflatex compiles the tex
 * report when it is installed (skipped otherwise). Needs build/quintet (make test builds it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "test_util.h"

static char out[1 << 17];

/* Run quintet with printf-style arguments; exit status, stdout+stderr in `out`. */
static int quintet(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int quintet(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return qt_test_sh(out, sizeof out, "%s %s", qt_test_build_path("quintet"), args);
}

/* Contents of a file (at most cap - 1 bytes) into buf; buf is "" when unreadable. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The database of two small real runs (made once). */
static const char *real_db(void)
{
    static const char *db;
    if (db) return db;
    static char path[600];
    snprintf(path, sizeof path, "%s", qt_test_fresh_path("real.db"));
    for (int i = 0; i < 2; i++) {
        int rc = quintet("run calibration --filter 'harness_loop|sgemm.*threads=1' --repetitions 3 --db %s", path);
        if (rc) printf("\n%s", out);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
    }
    return db = path;
}

/* Store one case with the given samples of metric (unit "s" for *_s, else "1"). */
static void put_case(qt_store_t *s, int64_t run, const char *suite, const char *name, const char *params,
                     const char *metric, const double *v, int n)
{
    qt_sample_t x[16];
    for (int i = 0; i < n; i++) x[i] = (qt_sample_t){metric, strstr(metric, "_s") ? "s" : "1", i, v[i], 0};
    qt_case_record_t c = {.suite = suite, .name = name, .variant = "cpu", .params = params, .status = "ok",
                          .started_at = 1.0, .ended_at = 2.0, .samples = x, .n_samples = n};
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_OK);
}

/* A database of 3 runs written through the store: case attention_scaling/dense/cpu takes 1.0 s
 * in runs 1 and 2 and 1.5 s in run 3 (a regression entering at run 3); run 3 is on host "hostB";
 * every run has a case whose name needs escaping and a derived metric (n = 1). */
static const char *synthetic_db(void)
{
    static char path[600];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s", qt_test_fresh_path("synthetic.db"));
    qt_store_t *s;
    CU_ASSERT_FATAL(qt_store_open(path, 1, 1, &s) == QT_OK);
    for (int r = 0; r < 3; r++) {
        char uuid[64];
        snprintf(uuid, sizeof uuid, "5a5a5a5a-0000-4000-8000-00000000000%d", r);
        qt_run_info_t ri = {.uuid = uuid, .command_line = "quintet run --profile nightly --filter 'a|b'",
                            .profile = "nightly", .git_commit = r == 2 ? "bad0c0ffee11" : "900dc0de0011",
                            .git_dirty = 0, .host = r == 2 ? "hostB" : "hostA", .cpu_model = "Test CPU 9000",
                            .cores = 2, .threads = 2, .cpu_mhz = 2000, .compiler = "gcc 12", .cflags = "-O3",
                            .pid = 1, .started_at = 1700000000.0 + 86400 * r};
        int64_t run;
        CU_ASSERT_FATAL(qt_store_run_begin(s, &ri, &run) == QT_OK);
        CU_ASSERT_EQUAL(qt_store_run_set(s, run, "version.sqlite", "3.40.1"), QT_OK);
        CU_ASSERT_EQUAL(qt_store_run_set(s, run, "gpu", "Test GPU <x> & 50% #1"), QT_OK);
        double base = r == 2 ? 1.5 : 1.0;
        double t[8], c[5] = {100, 101, 99, 100, 102};
        for (int i = 0; i < 8; i++) t[i] = base * (1 + 0.001 * i);
        put_case(s, run, "calibration", "stream_triad", "n=1024", "stream_triad_gbps", c, 5);
        put_case(s, run, "attention_scaling", "dense", "T=64,D=16", "time_s", t, 8);
        put_case(s, run, "attention_scaling", "a<b>&c_d%e#f", "k=$1^2~", "time_s", t, 8);
        double slope = 2.0 + 0.01 * r;
        put_case(s, run, "attention_scaling", "scaling_exponent", "attention=dense", "scaling_exponent", &slope, 1);
        CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_OK);
    }
    qt_store_close(s);
    return path;
}

/* Measurement validity and shape: calibration's STREAM triad measured 100 GB/s as STREAM counts,
 * 133.3 GB/s of memory traffic with its write-allocate reads; one host case reports 160 GB/s
 * (flagged, 1.20x the traffic), one 120 GB/s (not: an in-place update at the triad's traffic),
 * one 50 GB/s (not), a cuda case 500 GB/s with no device ceiling
 * measured (unchecked); a time_s case with 4 of 10 repetitions 10% slower is bimodal and one
 * with a single far value has 1 Tukey outlier: `show` and `report` say all of it. */
static void test_validity_and_shape(void)
{
    const char *path = qt_test_fresh_path("validity.db");
    qt_store_t *s;
    CU_ASSERT_FATAL(qt_store_open(path, 1, 1, &s) == QT_OK);
    qt_run_info_t ri = {.uuid = "7a7a7a7a-0000-4000-8000-000000000001", .command_line = "quintet run", .profile = "quick",
                        .host = "hostA", .cores = 2, .threads = 2, .started_at = 1700000000.0};
    int64_t run;
    CU_ASSERT_FATAL(qt_store_run_begin(s, &ri, &run) == QT_OK);
    double c[5] = {100, 99, 100, 98, 100}, fast[5] = {160, 159, 161, 160, 160}, slow[5] = {50, 51, 49, 50, 50},
           inplace[5] = {120, 119, 121, 120, 120};
    put_case(s, run, "calibration", "stream_triad", "n=1024", "stream_triad_gbps", c, 5);
    put_case(s, run, "lr_convergence", "step_large", "n=1", "gbps", fast, 5);
    put_case(s, run, "lr_convergence", "step_large", "n=2", "gbps", slow, 5);
    put_case(s, run, "lr_convergence", "step_large", "n=4", "gbps", inplace, 5);
    qt_sample_t x[5];
    for (int i = 0; i < 5; i++) x[i] = (qt_sample_t){"gbps", "GB/s", i, 500, 0};
    qt_case_record_t dev = {.suite = "lr_convergence", .name = "step_large", .variant = "cuda", .params = "n=3",
                            .status = "ok", .started_at = 1, .ended_at = 2, .samples = x, .n_samples = 5};
    CU_ASSERT_EQUAL(qt_store_case(s, run, &dev), QT_OK);
    double bi[10], one[10];
    for (int i = 0; i < 10; i++) {
        bi[i] = (i < 4 ? 1.1 : 1.0) * (1 + 0.002 * (i % 3));
        one[i] = 1.0 + 0.001 * (i % 4) + (i == 9 ? 0.5 : 0);
    }
    put_case(s, run, "sparsity", "twomodes", "n=1", "time_s", bi, 10);
    put_case(s, run, "sparsity", "oneoutlier", "n=1", "time_s", one, 10);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_OK);
    qt_store_close(s);
    CU_ASSERT_EQUAL(quintet("show --db %s", path), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "measurement validity"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "step_large/cpu/n=1 gbps = 160 GB/s is 1.20x this run's host ceiling (133.3 GB/s"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "stream_triad_gbps 100 GB/s as STREAM counts"));
    CU_ASSERT_PTR_NULL(strstr(out, "n=2 gbps ="));
    CU_ASSERT_PTR_NULL(strstr(out, "n=4 gbps ="));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 bandwidth metric(s) not checked"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bimodal"));
    CU_ASSERT_EQUAL(quintet("show --db %s --format csv --metric time_s", path), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "outliers,shape"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",1,\"\",\"ok\"")); /* oneoutlier: 1 outlier, no shape flag */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",0,\"bimodal\",\"ok\""));
    CU_ASSERT_EQUAL(quintet("report --db %s --format md", path), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Warning (measurement validity)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bimodal"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "| out |"));
}

/* history over two real runs lists both, in every format. */
static void test_history_real(void)
{
    const char *db = real_db();
    CU_ASSERT_EQUAL(quintet("history --db %s --case harness_loop", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "harness_loop"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n     1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n     2 "));
    CU_ASSERT_EQUAL(quintet("history --db %s --suite calibration --case sgemm --metric sgemm_gflops --format csv", db), 0);
    int lines = 0;
    for (const char *p = out; (p = strstr(p, "\n\"calibration\",\"sgemm\"")); p++) lines++;
    CU_ASSERT_EQUAL(lines, 2);
    CU_ASSERT_EQUAL(quintet("history --db %s --params threads=1 --format json", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"run_id\": 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"run_id\": 2"));
    CU_ASSERT_EQUAL(quintet("history --db %s --filter 'sgemm' --last 1 --format json", db), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "\"run_id\": 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"run_id\": 2"));
}

/* history marks the run where the regression entered, also with --last and --host. */
static void test_history_marks_regression(void)
{
    const char *db = synthetic_db();
    CU_ASSERT_EQUAL(quintet("history --db %s --suite attention_scaling --case dense", db), 0);
    const char *r3 = strstr(out, "\n     3 ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r3, "+50.0%"));
    CU_ASSERT(strstr(r3, "regression") != NULL);
    const char *r2 = strstr(out, "\n     2 ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
    CU_ASSERT(strstr(r2, "unchanged") != NULL && strstr(r2, "unchanged") < r3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "regression entered at run 3 (commit bad0c0ffee11"));
    /* a +50% step is below a 60% threshold: the same rows, no regression */
    CU_ASSERT_EQUAL(quintet("history --db %s --suite attention_scaling --case dense --threshold 0.6", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "+50.0%"));
    CU_ASSERT_PTR_NULL(strstr(out, "regression"));
    CU_ASSERT_EQUAL(quintet("history --db %s --case dense --last 1 --format csv", db), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "\"hostA\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"regression\""));
    CU_ASSERT_EQUAL(quintet("history --db %s --case dense --host hostA --format json", db), 0);
    CU_ASSERT_PTR_NULL(strstr(out, "hostB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"verdict\": \"unchanged\""));
}

/* Every dialect of the real run: provenance fields, calibration, case rows; tex escaped. */
static void test_report_formats(void)
{
    const char *db = real_db();
    static char text[1 << 18];
    static const char *const fmt[] = {"md", "html", "tex"};
    for (int i = 0; i < 3; i++) {
        char name[32], args[64];
        snprintf(name, sizeof name, "report.%s", fmt[i]);
        const char *file = qt_test_fresh_path(name);
        snprintf(args, sizeof args, "--format %s --baseline 1", fmt[i]);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "report --db %s %s --out %%s", db, args);
        int rc = quintet(cmd, file);
        if (rc) printf("\n%s", out);
        CU_ASSERT_EQUAL(rc, 0);
        slurp(file, text, sizeof text);
        const char *und = i == 2 ? "\\_" : "_"; /* tex escapes underscores */
        static const char *const fields[] = {"git%scommit", "host", "cpu%smodel", "version.sqlite", "gpu",
                                             "command%sline", "harness%sloop", "sgemm%sgflops", "Calibration ceilings"};
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            char want[64];
            snprintf(want, sizeof want, fields[k], und);
            if (!strstr(text, want)) printf("\n  %s report lacks '%s'", fmt[i], want);
            CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(text, "base median"));
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\\toprule"));
    CU_ASSERT_PTR_NULL(strstr(text, "harness_loop")); /* text is the tex report */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\\end{document}"));
    CU_ASSERT_EQUAL(quintet("report --db %s --format html --fragment", db), 0); /* to stdout */
    CU_ASSERT_PTR_NULL(strstr(out, "<html"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "<table>"));
}

/* Special characters in names and values are escaped in html and tex; --baseline verdicts. */
static void test_report_escaping(void)
{
    const char *db = synthetic_db();
    CU_ASSERT_EQUAL(quintet("report 3 --db %s --format html --baseline 2", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "a&lt;b&gt;&amp;c_d%e#f"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Test GPU &lt;x&gt; &amp; 50% #1"));
    CU_ASSERT_PTR_NULL(strstr(out, "a<b>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "scaling_exponent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ">regression</td>"));
    CU_ASSERT_EQUAL(quintet("report 3 --db %s --format tex --baseline 2", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "a\\textless{}b\\textgreater{}\\&c\\_d\\%e\\#f"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "k=\\$1\\textasciicircum{}2\\textasciitilde{}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Test GPU \\textless{}x\\textgreater{} \\& 50\\% \\#1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "scaling\\_exponent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "+50.0\\%"));
    CU_ASSERT_EQUAL(quintet("report 3 --db %s --format md --baseline 2", db), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "| regression |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "a\\<b>&c_d%e#f"));
    /* pdflatex, when installed, compiles the tex report (not installed by the project) */
    char res[256];
    if (qt_test_sh(res, sizeof res, "command -v pdflatex") == 0) {
        const char *tex = qt_test_fresh_path("esc.tex");
        CU_ASSERT_EQUAL(quintet("report 3 --db %s --format tex --baseline 2 --out %s", db, tex), 0);
        CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "cd %s && pdflatex -interaction=nonstopmode -halt-on-error %s",
                                   qt_test_tmpdir(), tex),
                        0);
    }
}

/* --figures: one file per stem, the dialect's preferred format, linked relative to --out. */
static void test_report_figures(void)
{
    const char *db = synthetic_db();
    char dir[700], outdir[700], file[760];
    snprintf(dir, sizeof dir, "%s/figs", qt_test_tmpdir());
    snprintf(outdir, sizeof outdir, "%s/out", qt_test_tmpdir());
    qt_test_sh(NULL, 0, "mkdir -p %s %s && printf 'PNG' > %s/a_1.png && printf 'PDF' > %s/a_1.pdf && "
                        "printf '<svg/>' > %s/b.svg && printf x > %s/notes.txt",
               dir, outdir, dir, dir, dir, dir);
    snprintf(file, sizeof file, "%s/r.md", outdir);
    CU_ASSERT_EQUAL(quintet("report --db %s --figures %s --out %s", db, dir, file), 0);
    static char text[1 << 16];
    slurp(file, text, sizeof text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "](<../figs/a_1.png>)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "](<../figs/b.svg>)"));
    CU_ASSERT_PTR_NULL(strstr(text, "a_1.pdf"));
    CU_ASSERT_PTR_NULL(strstr(text, "notes.txt"));
    CU_ASSERT_EQUAL(quintet("report --db %s --format tex --figures %s", db, dir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "figs/a_1.pdf}"));
    CU_ASSERT_PTR_NULL(strstr(out, "a_1.png}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "b.svg: SVG"));
    CU_ASSERT_EQUAL(quintet("report --db %s --format html --figures %s", db, dir), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "src=\"data:image/png;base64,UE5H\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "src=\"data:image/svg+xml;base64,"));
}

/* Bad input: exit 2 and a message that names the problem (and what exists). */
static void test_bad_input(void)
{
    const char *db = synthetic_db();
    static const struct {
        const char *args, *expect;
    } cases[] = {
        {"history --format xml", "unknown format"},
        {"history --metric nosuch", "unknown metric 'nosuch'"},
        {"history --metric nosuch", "time_s"},
        {"history --suite nosuch", "suites stored: attention_scaling, calibration"},
        {"history --case nosuch", "cases stored:"},
        {"history --case nosuch", "dense"},
        {"history --variant gpu", "unknown variant"},
        {"history --params T=1", "cases with it"},
        {"history --last 0", "outside"},
        {"history --threshold -1", "bad --threshold"},
        {"history --alpha 1", "bad --alpha"},
        {"report --threshold 5%", "bad --threshold"},
        {"history --filter '('", "bad --filter"},
        {"history extra", "unexpected argument"},
        {"history --bogus", "unknown option"},
        {"report --format pdf", "unknown format"},
        {"report 99", "no run '99'"},
        {"report --baseline 42", "no run '42'"},
        {"report 1 2", "one RUN"},
        {"report --figures /nonexistent/figs", "--figures /nonexistent/figs"},
        {"report --suite nosuch", "no results of suite 'nosuch'"},
    };
    char suffix[640];
    snprintf(suffix, sizeof suffix, "--db %s", db);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) qt_test_expect_cli("", cases[i].args, suffix, 2, cases[i].expect);
    CU_ASSERT_EQUAL(quintet("report --db %s --out %s", db, db), 2); /* never overwrite the database */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "that is the database"));
    CU_ASSERT_EQUAL(quintet("history --help"), 0);
    CU_ASSERT_EQUAL(quintet("report --help"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--baseline"));
}

/* A foreign SQLite file and a missing file: refused (exit 3), left as they were, no report written. */
static void test_foreign_and_missing_db(void)
{
    const char *path = qt_test_fresh_path("foreign.db"), *missing = qt_test_fresh_path("missing.db"), *rep = qt_test_fresh_path("never.md");
    char before[256], after[256];
    qt_test_sql_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES (42);");
    qt_test_sh(before, sizeof before, "sha256sum < %s", path);
    CU_ASSERT_EQUAL(quintet("history --db %s", path), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not a quintet database"));
    CU_ASSERT_EQUAL(quintet("report --db %s --out %s", path, rep), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "not a quintet database"));
    qt_test_sh(after, sizeof after, "sha256sum < %s", path);
    CU_ASSERT_STRING_EQUAL(before, after);
    CU_ASSERT_EQUAL(quintet("report --db %s --out %s", missing, rep), 2); /* a missing file is bad usage (README: exit status) */
    CU_ASSERT_EQUAL(quintet("history --db %s", missing), 3);
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(missing, &st), 0);
    CU_ASSERT_NOT_EQUAL(stat(rep, &st), 0);
}

QT_TEST_MAIN("harness/report", {"history over two real runs", test_history_real},
             {"validity warnings and shape in show and report", test_validity_and_shape},
             {"history marks where a regression entered", test_history_marks_regression},
             {"report md/html/tex with provenance and rows", test_report_formats},
             {"report escapes html and tex; baseline verdicts", test_report_escaping},
             {"report --figures", test_report_figures}, {"bad input exits 2 with a message", test_bad_input},
             {"foreign or missing database refused and untouched", test_foreign_and_missing_db})
