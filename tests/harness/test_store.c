/* test_store.c — the SQLite results store (harness/store/store.c) and statistics (harness/analysis/stats.c):
 * round trip of a run with every kind of record, type-7 quantiles and line fits, the upgrade
 * of a version-1 file, refusal of foreign, garbage, truncated, empty and newer files with the
 * file left byte-for-byte unchanged (and no -wal/-shm/-journal left beside it), two processes
 * writing one file at once, recovery of runs left 'running' by dead processes, run specs, and
 * bad arguments. Run: make test (from the repository root: reads results/schema.sql). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quintet/rng.h"
#include "analysis/stats.h"
#include "store/store.h"
#include "test_util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* The whole file into a malloc'd buffer; *n its size (NULL when unreadable). */
static unsigned char *slurp(const char *path, size_t *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

/* Write n bytes to path. */
static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* 1 when path+suffix exists. */
static int exists(const char *path, const char *suffix)
{
    char f[700];
    snprintf(f, sizeof f, "%s%s", path, suffix);
    return access(f, F_OK) == 0;
}

/* A run description with every field set. */
static qt_run_info_t run_info(const char *uuid, const char *host, int pid)
{
    qt_run_info_t r = {
        .uuid = uuid, .command_line = "quintet run --profile quick", .profile = "quick",
        .seed = 0xFFFFFFFFFFFFFFF0ull, .repetitions = 5, .filter = "sgemm", .backend = "cpu",
        .suites = "calibration", .git_commit = "0123abc", .git_dirty = 1, .host = host,
        .cpu_model = "Test CPU @ 2.0GHz", .cores = 2, .threads = 2, .cpu_mhz = 2000.5,
        .compiler = "gcc 12.2", .cflags = "-O3", .pid = pid, .started_at = 1700000000.25,
    };
    return r;
}

/* This machine's host name (as the runner records it). */
static const char *hostname(void)
{
    static char h[256];
    if (!h[0] && gethostname(h, sizeof h) != 0) snprintf(h, sizeof h, "unknown");
    return h;
}

/* Store a case with metric "time_s" of reps fresh random values (seeded by tag). */
static qt_status_t put_case(qt_store_t *s, int64_t run, const char *name, int reps, uint64_t tag)
{
    qt_sample_t x[16];
    double v[16];
    qt_rng_fill_uniform_f64(v, (size_t)reps, qt_test_seed(), 7, tag * 16, 0.5, 2.0);
    for (int i = 0; i < reps; i++) x[i] = (qt_sample_t){"time_s", "s", i, v[i], 0};
    qt_case_record_t c = {.suite = "unit", .name = name, .variant = "cpu", .params = "n=8", .status = "ok",
                          .started_at = 1.0, .ended_at = 2.0, .samples = x, .n_samples = reps};
    return qt_store_case(s, run, &c);
}

/* A quintet database at path with one completed run of ncases cases. */
static void make_db(const char *path, int ncases)
{
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 1, 1, &s), QT_OK);
    qt_run_info_t ri = run_info("make-db-run", hostname(), getpid());
    int64_t run = 0;
    CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_OK);
    for (int i = 0; i < ncases; i++) CU_ASSERT_EQUAL(put_case(s, run, "case", 8, (uint64_t)i), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_OK);
    qt_store_close(s);
}

/* Callback counting rows. */
static int count_rows(void *arg, const void *row)
{
    (void)row;
    ++*(int *)arg;
    return 0;
}

/* Number of cases of run. */
static int case_count(qt_store_t *s, int64_t run)
{
    int n = 0;
    CU_ASSERT_EQUAL(qt_store_foreach_case(s, run, (int (*)(void *, const qt_case_row_t *))count_rows, &n), QT_OK);
    return n;
}

/* Provenance lookup: the value of key (copied into a static buffer; "(null)" for NULL). */
typedef struct {
    const char *key;
    char value[256];
    int found;
} prov_find_t;
/* Provenance callback: copy the value of f->key and stop. */
static int prov_find(void *arg, const char *key, const char *value)
{
    prov_find_t *f = arg;
    if (strcmp(key, f->key)) return 0;
    snprintf(f->value, sizeof f->value, "%s", value ? value : "(null)");
    f->found = 1;
    return 1;
}
/* The provenance value of key for run (a static buffer; "(missing)" when absent). */
static const char *prov(qt_store_t *s, int64_t run, const char *key)
{
    static prov_find_t f;
    memset(&f, 0, sizeof f);
    f.key = key;
    CU_ASSERT_EQUAL(qt_store_foreach_provenance(s, run, prov_find, &f), QT_OK);
    return f.found ? f.value : "(missing)";
}

/* ---- statistics ------------------------------------------------------------------------- */

/* Hand-computed type-7 quartiles, mean, sample stddev; NaN skipped; edge cases. */
static void test_stats_known(void)
{
    const double v[] = {3, 1, 4, 1, 5, NAN, 9, 2, 6};
    qt_summary_t s;
    qt_summarize(v, 9, &s);
    CU_ASSERT_EQUAL(s.n, 8);
    /* sorted 1 1 2 3 4 5 6 9: h = 7q; exact in binary, so compared exactly */
    CU_ASSERT_EQUAL(s.median, 3.5);
    CU_ASSERT_EQUAL(s.q1, 1.75);
    CU_ASSERT_EQUAL(s.q3, 5.25);
    CU_ASSERT_EQUAL(s.mean, 3.875);
    CU_ASSERT_EQUAL(s.min, 1);
    CU_ASSERT_EQUAL(s.max, 9);
    CU_ASSERT_DOUBLE_EQUAL(s.stddev, sqrt(52.875 / 7), 1e-12); /* sum of squared deviations 52.875 */
    CU_ASSERT_EQUAL(qt_quantile(v, 9, 0), 1);
    CU_ASSERT_EQUAL(qt_quantile(v, 9, 1), 9);
    CU_ASSERT_DOUBLE_EQUAL(qt_quantile(v, 9, 0.9), 6 + 0.3 * 3, 1e-12); /* h = 6.3, inexact in binary */
    CU_ASSERT(isnan(qt_quantile(v, 9, 1.5)));
    CU_ASSERT(isnan(qt_quantile(v, 9, NAN)));
    CU_ASSERT(isnan(qt_quantile(v, 0, 0.5)));
    CU_ASSERT(isnan(qt_quantile(NULL, 3, 0.5)));
    const double one = 2.5, nans[] = {NAN, NAN};
    qt_summarize(&one, 1, &s);
    CU_ASSERT(s.n == 1 && s.median == 2.5 && s.q1 == 2.5 && s.q3 == 2.5 && s.stddev == 0 && s.mean == 2.5);
    qt_summarize(nans, 2, &s);
    CU_ASSERT(s.n == 0 && isnan(s.median) && isnan(s.mean) && isnan(s.stddev) && isnan(s.min));
    qt_summarize(NULL, 0, &s);
    CU_ASSERT(s.n == 0 && isnan(s.q3));
}

/* On fresh random inputs: quantiles agree with a sort-based brute force, the median of an odd
 * count is its middle element, and v is not modified. */
static void test_stats_random(void)
{
    enum { N = 101 };
    double v[N], copy[N], sorted[N];
    qt_rng_fill_normal_f64(v, N, qt_test_seed(), 1, 0, 10.0, 3.0);
    memcpy(copy, v, sizeof v);
    memcpy(sorted, v, sizeof v);
    for (int i = 1; i < N; i++) /* insertion sort as the independent reference */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    qt_summary_t s;
    qt_summarize(v, N, &s);
    CU_ASSERT_EQUAL(memcmp(v, copy, sizeof v), 0);
    CU_ASSERT_EQUAL(s.median, sorted[50]);
    CU_ASSERT_EQUAL(s.q1, sorted[25]); /* h = 100 q: whole numbers at the quartiles */
    CU_ASSERT_EQUAL(s.q3, sorted[75]);
    for (int k = 0; k <= 20; k++) {
        double q = k / 20.0, h = 100 * q, lo = floor(h);
        double want = lo >= 100 ? sorted[100] : sorted[(int)lo] + (h - lo) * (sorted[(int)lo + 1] - sorted[(int)lo]);
        CU_ASSERT_DOUBLE_EQUAL(qt_quantile(v, N, q), want, 1e-12 * fabs(want)); /* rounding of h only */
    }
}

/* Exact line with a NaN pair skipped; undefined fits give NaN. */
static void test_linfit(void)
{
    double x[6], y[6], b;
    qt_rng_fill_uniform_f64(x, 6, qt_test_seed(), 2, 0, -4, 4);
    for (int i = 0; i < 6; i++) y[i] = -1.5 * x[i] + 0.75;
    y[3] = NAN;
    double a = qt_linfit(x, y, 6, &b);
    CU_ASSERT_DOUBLE_EQUAL(a, -1.5, 1e-12); /* exact data: only rounding */
    CU_ASSERT_DOUBLE_EQUAL(b, 0.75, 1e-12);
    CU_ASSERT(isnan(qt_linfit(x, y, 1, &b)) && isnan(b));
    const double cx[] = {2, 2, 2}, cy[] = {1, 2, 3};
    CU_ASSERT(isnan(qt_linfit(cx, cy, 3, NULL)));
}

/* ---- round trip ------------------------------------------------------------------------- */

typedef struct {
    int n;
    qt_sample_t got[8];
    double vals[8];
    char metric[8][24];
} sample_log_t;
/* Collect samples. */
static int log_sample(void *arg, const qt_sample_t *x)
{
    sample_log_t *l = arg;
    if (l->n < 8) {
        snprintf(l->metric[l->n], sizeof l->metric[0], "%s%s", x->metric, x->unit);
        l->got[l->n] = *x;
        l->vals[l->n] = x->value;
        l->n++;
    }
    return 0;
}
typedef struct {
    int n;
    qt_point_t got[8];
} point_log_t;
/* Collect series points. */
static int log_point(void *arg, const qt_point_t *p)
{
    point_log_t *l = arg;
    if (l->n < 8) l->got[l->n++] = *p;
    return 0;
}
typedef struct {
    int n;
    int64_t case_id[4];
    char text[4][160];
} case_log_t;
/* Collect cases as text. */
static int log_case(void *arg, const qt_case_row_t *r)
{
    case_log_t *l = arg;
    if (l->n < 4) {
        l->case_id[l->n] = r->case_id;
        snprintf(l->text[l->n], sizeof l->text[0], "%s|%s|%s|%s|%s|%s|%g|%g", r->suite, r->name, r->variant,
                 r->params, r->status, r->message ? r->message : "NULL", r->started_at, r->ended_at);
        l->n++;
    }
    return 0;
}
typedef struct {
    int n;
    qt_stat_row_t row[4];
    char metric[4][24];
} stat_log_t;
/* Collect statistics rows. */
static int log_stat(void *arg, const qt_stat_row_t *r)
{
    stat_log_t *l = arg;
    if (l->n < 4) {
        l->row[l->n] = *r;
        snprintf(l->metric[l->n], sizeof l->metric[0], "%s/%s", r->metric, r->unit);
        l->n++;
    }
    return 0;
}
typedef struct {
    int n;
    char text[4][160];
} counter_log_t;
/* Collect counters as text. */
static int log_counter(void *arg, const char *event, int available, const char *reason)
{
    counter_log_t *l = arg;
    if (l->n < 4) snprintf(l->text[l->n++], sizeof l->text[0], "%s|%d|%s", event, available, reason ? reason : "NULL");
    return 0;
}

/* Write a run with provenance, counters, a calibration case (samples + series) and a failed
 * case; read everything back exactly through the foreach functions and the README's SELECT. */
static void test_round_trip(void)
{
    const char *path = qt_test_fresh_path("roundtrip.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 1, 1, &s), QT_OK);
    qt_run_info_t ri = run_info("0c6f7d3e-aaaa-4bbb-8ccc-123456789abc", hostname(), getpid());
    ri.git_dirty = -1;
    int64_t run = 0;
    CU_ASSERT_EQUAL_FATAL(qt_store_run_begin(s, &ri, &run), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_set(s, run, "lib.sqlite", "3.40.1"), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_set(s, run, "env.OMP_NUM_THREADS", "4"), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_set(s, run, "env.OMP_NUM_THREADS", "2"), QT_OK); /* replaces */
    CU_ASSERT_EQUAL(qt_store_run_counter(s, run, "PAPI_TOT_INS", 0, "Component containing event is disabled"), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_counter(s, run, "sde:::QUINTET::flops", 1, NULL), QT_OK);

    double g[5], t[5];
    qt_rng_fill_uniform_f64(g, 5, qt_test_seed(), 3, 0, 100, 200);
    qt_rng_fill_uniform_f64(t, 5, qt_test_seed(), 4, 0, 0.01, 0.02);
    t[2] = NAN;
    qt_sample_t x[10];
    for (int i = 0; i < 5; i++) {
        x[2 * i] = (qt_sample_t){"time_s", "s", i, t[i], 0};
        x[2 * i + 1] = (qt_sample_t){"sgemm_gflops", "GFLOP/s", i, g[i], 0};
    }
    qt_point_t pts[3] = {{"loss", 7, 0, 2.5}, {"loss", 7, 1, NAN}, {"loss", 8, 0, -1e300}};
    qt_case_record_t c = {.suite = "calibration", .name = "sgemm", .variant = "cpu", .params = "n=1024,threads=all",
                          .status = "ok", .started_at = 1700000001.5, .ended_at = 1700000002.5, .samples = x,
                          .n_samples = 10, .points = pts, .n_points = 3};
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_OK);
    qt_case_record_t bad = {.suite = "attention", .name = "lsh", .variant = "cuda", .status = "skipped",
                            .message = "no GPU: cudaGetDeviceCount returned 35"};
    CU_ASSERT_EQUAL(qt_store_case(s, run, &bad), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_OK);
    qt_store_close(s);
    size_t n = 0;
    unsigned char *file = slurp(path, &n);
    CU_ASSERT(n > 100 && file[18] == 2 && file[19] == 2); /* header: WAL mode */
    free(file);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 0, &s), QT_OK);
    int64_t id = -1;
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, "latest", &id), QT_OK);
    CU_ASSERT_EQUAL(id, run);
    CU_ASSERT_STRING_EQUAL(prov(s, run, "uuid"), ri.uuid);
    CU_ASSERT_STRING_EQUAL(prov(s, run, "status"), "completed");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "seed"), "18446744073709551600");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "git_dirty"), "(null)");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "cpu_mhz"), "2000.5");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "cores"), "2");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "started_at"), "2023-11-14T22:13:20.250Z");
    CU_ASSERT_STRING_NOT_EQUAL(prov(s, run, "ended_at"), "(null)");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "env.OMP_NUM_THREADS"), "2");
    CU_ASSERT_STRING_EQUAL(prov(s, run, "lib.sqlite"), "3.40.1");

    counter_log_t cl = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_counter(s, run, log_counter, &cl), QT_OK);
    CU_ASSERT_EQUAL_FATAL(cl.n, 2);
    CU_ASSERT_STRING_EQUAL(cl.text[0], "PAPI_TOT_INS|0|Component containing event is disabled");
    CU_ASSERT_STRING_EQUAL(cl.text[1], "sde:::QUINTET::flops|1|NULL");

    case_log_t cs = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_case(s, run, log_case, &cs), QT_OK);
    CU_ASSERT_EQUAL_FATAL(cs.n, 2);
    CU_ASSERT_STRING_EQUAL(cs.text[0], "calibration|sgemm|cpu|n=1024,threads=all|ok|NULL|1.7e+09|1.7e+09");
    CU_ASSERT_STRING_EQUAL(cs.text[1], "attention|lsh|cuda||skipped|no GPU: cudaGetDeviceCount returned 35|0|0");

    sample_log_t sl = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_sample(s, cs.case_id[0], log_sample, &sl), QT_OK);
    CU_ASSERT_EQUAL_FATAL(sl.n, 8); /* capped at 8 of 10: sgemm_gflops 0..4, then time_s 0..2 */
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(sl.metric[i], "sgemm_gflopsGFLOP/s");
        CU_ASSERT_EQUAL(sl.got[i].repetition, i);
        CU_ASSERT_EQUAL(sl.vals[i], g[i]); /* bit-exact round trip */
    }
    CU_ASSERT_STRING_EQUAL(sl.metric[5], "time_ss");
    CU_ASSERT_EQUAL(sl.vals[5], t[0]);
    CU_ASSERT_EQUAL(sl.vals[6], t[1]);
    CU_ASSERT(isnan(sl.vals[7]));

    point_log_t pl = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_point(s, cs.case_id[0], log_point, &pl), QT_OK);
    CU_ASSERT_EQUAL_FATAL(pl.n, 3);
    CU_ASSERT(pl.got[0].seed == 7 && pl.got[0].step == 0 && pl.got[0].value == 2.5);
    CU_ASSERT(pl.got[1].seed == 7 && pl.got[1].step == 1 && isnan(pl.got[1].value));
    CU_ASSERT(pl.got[2].seed == 8 && pl.got[2].step == 0 && pl.got[2].value == -1e300);

    stat_log_t st = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_stat(s, run, log_stat, &st), QT_OK);
    CU_ASSERT_EQUAL_FATAL(st.n, 2); /* the skipped case has no samples, so no statistics */
    CU_ASSERT_STRING_EQUAL(st.metric[0], "sgemm_gflops/GFLOP/s");
    CU_ASSERT_STRING_EQUAL(st.metric[1], "time_s/s");
    qt_summary_t sg, stt;
    qt_summarize(g, 5, &sg);
    qt_summarize(t, 5, &stt);
    CU_ASSERT(st.row[0].n == 5 && st.row[0].median == sg.median && st.row[0].q1 == sg.q1 && st.row[0].q3 == sg.q3 &&
              st.row[0].mean == sg.mean && st.row[0].stddev == sg.stddev && st.row[0].min == sg.min &&
              st.row[0].max == sg.max);
    CU_ASSERT(st.row[1].n == 4 && st.row[1].median == stt.median && st.row[1].max == stt.max);
    qt_store_close(s);

    /* results/README.md's one SELECT: median all-thread SGEMM GFLOP/s of the last run */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "SELECT s.median FROM case_stats s JOIN cases c ON c.id = s.case_id"
                                             " WHERE c.run_id = (SELECT max(id) FROM runs)"
                                             "   AND c.suite = 'calibration' AND c.name = 'sgemm'"
                                             "   AND ',' || c.params || ',' LIKE '%,threads=all,%'"
                                             "   AND s.metric = 'sgemm_gflops'",
                                             -1, &q, NULL),
                          SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_double(q, 0), sg.median);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* ---- migration -------------------------------------------------------------------------- */

/* Text of results/schema.sql up to the block of version `next`: the schema of version next-1 as
 * released. */
static char *schema_before(int next)
{
    size_t n = 0;
    char *text = (char *)slurp("results/schema.sql", &n);
    if (!text) return NULL;
    text[n] = '\0';
    char tag[32];
    snprintf(tag, sizeof tag, "\n-- @version %d", next);
    char *cut = strstr(text, tag);
    if (cut) cut[1] = '\0';
    return text;
}

/* Text of results/schema.sql up to the version-2 block: the version-1 schema as released. */
static char *schema_v1(void)
{
    return schema_before(2);
}

/* sqlite_master rows (type, name, sql) as one text, for comparing schemas. */
static void schema_text(const char *path, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name", -1, &q, NULL) ==
            SQLITE_OK)
        while (sqlite3_step(q) == SQLITE_ROW && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s %s %s\n", sqlite3_column_text(q, 0),
                                    sqlite3_column_text(q, 1), sqlite3_column_text(q, 2));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* A version-1 file made by hand (block 1 of schema.sql, rows inserted with plain SQL) is refused
 * read-only (unchanged), then upgraded when opened for writing: data kept, case_stats back-filled
 * with the statistics of the samples, and the schema equal to a new database's. */
static void test_migrate_v1(void)
{
    const char *path = qt_test_fresh_path("v1.db");
    char *v1 = schema_v1();
    CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
    CU_ASSERT_PTR_NULL(strstr(v1, "case_stats")); /* version 1 really lacks the table */
    qt_test_sql_exec(path, v1);
    free(v1);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "PRAGMA user_version"), 1);
    double a[7];
    qt_rng_fill_uniform_f64(a, 7, qt_test_seed(), 5, 0, 1, 3);
    char sql[2048];
    int len = snprintf(sql, sizeof sql,
                       "INSERT INTO runs (id, uuid, status, host, pid, started_at, ended_at)"
                       " VALUES (1, 'old-run', 'completed', 'h', 1, 1.0, 2.0);"
                       "INSERT INTO cases (id, run_id, suite, name, status) VALUES (1, 1, 's', 'a', 'ok'),"
                       " (2, 1, 's', 'b', 'failed');"
                       "INSERT INTO series VALUES (1, 'loss', 0, 0, 0.5);");
    for (int i = 0; i < 7; i++)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        "INSERT INTO samples VALUES (1, 'x', 'u', %d, %.17g); INSERT INTO samples VALUES (1, 'y', "
                        "'v', %d, %s);",
                        i, a[i], i, i == 3 ? "NULL" : "2.0");
    qt_test_sql_exec(path, sql);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = slurp(path, &n0);

    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL(qt_store_open(path, 0, 0, &s), QT_ERR_FORMAT); /* read-only cannot upgrade */
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "older"));
    unsigned char *after = slurp(path, &n1);
    CU_ASSERT(n0 == n1 && before && after && !memcmp(before, after, n0));
    free(before);
    free(after);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 1, &s), QT_OK);
    stat_log_t st = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_stat(s, 1, log_stat, &st), QT_OK);
    CU_ASSERT_EQUAL_FATAL(st.n, 2);
    qt_summary_t want;
    qt_summarize(a, 7, &want);
    CU_ASSERT_STRING_EQUAL(st.metric[0], "x/u");
    CU_ASSERT(st.row[0].n == 7 && st.row[0].median == want.median && st.row[0].q1 == want.q1 &&
              st.row[0].stddev == want.stddev && st.row[0].mean == want.mean);
    CU_ASSERT_STRING_EQUAL(st.metric[1], "y/v");
    CU_ASSERT(st.row[1].n == 6 && st.row[1].median == 2.0 && st.row[1].stddev == 0);
    CU_ASSERT_EQUAL(case_count(s, 1), 2);
    CU_ASSERT_STRING_EQUAL(prov(s, 1, "uuid"), "old-run");
    point_log_t pl = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_point(s, 1, log_point, &pl), QT_OK);
    CU_ASSERT(pl.n == 1 && pl.got[0].value == 0.5);
    qt_store_close(s);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "PRAGMA user_version"), QT_SCHEMA_VERSION);

    static char migrated[16384], fresh[16384];
    const char *fpath = qt_test_fresh_path("fresh.db");
    make_db(fpath, 0);
    CU_ASSERT_EQUAL(qt_test_sql_int(fpath, "PRAGMA user_version"), QT_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(qt_test_sql_int(fpath, "PRAGMA application_id"), 0x51544E54);
    schema_text(path, migrated, sizeof migrated);
    schema_text(fpath, fresh, sizeof fresh);
    CU_ASSERT(strlen(fresh) > 100);
    CU_ASSERT_STRING_EQUAL(migrated, fresh);
}

/* foreach_sample callback: log value and invocation. */
typedef struct {
    int n, inv[16];
    double v[16];
} inv_log_t;
static int log_inv(void *arg, const qt_sample_t *x)
{
    inv_log_t *l = arg;
    if (l->n < 16) {
        l->inv[l->n] = x->invocation;
        l->v[l->n++] = x->value;
    }
    return 0;
}

/* A version-2 file (blocks 1-2 of schema.sql, rows by plain SQL) is upgraded to version 3 when
 * opened for writing: every old sample reads back as invocation 0, the run as one invocation, the
 * schema equals a new database's, and new samples keep the invocation they are stored with. */
static void test_migrate_v2(void)
{
    const char *path = qt_test_fresh_path("v2.db");
    char *v2 = schema_before(3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    CU_ASSERT_PTR_NULL(strstr(v2, "invocation")); /* version 2 really lacks the columns */
    qt_test_sql_exec(path, v2);
    free(v2);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "PRAGMA user_version"), 2);
    qt_test_sql_exec(path, "INSERT INTO runs (id, uuid, status, host, pid, started_at, ended_at)"
                           " VALUES (1, 'v2-run', 'completed', 'h', 1, 1.0, 2.0);"
                           "INSERT INTO cases (id, run_id, suite, name, status) VALUES (1, 1, 's', 'a', 'ok');"
                           "INSERT INTO samples VALUES (1, 'time_s', 's', 0, 1.5), (1, 'time_s', 's', 1, 2.5);"
                           "INSERT INTO case_stats (case_id, metric, unit, n, median) VALUES (1, 'time_s', 's', 2, 2.0);");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL(qt_store_open(path, 0, 0, &s), QT_ERR_FORMAT); /* read-only cannot upgrade */
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 1, &s), QT_OK);
    inv_log_t l = {0};
    CU_ASSERT_EQUAL(qt_store_foreach_sample(s, 1, log_inv, &l), QT_OK);
    CU_ASSERT(l.n == 2 && l.inv[0] == 0 && l.inv[1] == 0 && l.v[0] == 1.5 && l.v[1] == 2.5);
    qt_sample_t x[2] = {{"time_s", "s", 0, 3.0, 1}, {"time_s", "s", 1, 4.0, 2}};
    qt_case_record_t rec = {"s", "b", "", "", "ok", NULL, 1, 2, x, 2, NULL, 0};
    CU_ASSERT_EQUAL(qt_store_case(s, 1, &rec), QT_OK);
    qt_store_close(s);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "PRAGMA user_version"), QT_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "SELECT invocations FROM runs WHERE id = 1"), 1);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "SELECT sum(invocation) FROM samples"), 3);
    static char migrated[16384], fresh[16384];
    const char *fpath = qt_test_fresh_path("fresh3.db");
    make_db(fpath, 0);
    schema_text(path, migrated, sizeof migrated);
    schema_text(fpath, fresh, sizeof fresh);
    CU_ASSERT_STRING_EQUAL(migrated, fresh);
}

/* ---- refusal ---------------------------------------------------------------------------- */

/* Opening path must fail with QT_ERR_FORMAT and a message containing `why`, in every mode
 * (read-only, writable, writable + create), leaving the file identical and no side files. */
static void expect_refused(const char *path, const char *why)
{
    size_t n0 = 0, n1 = 0;
    unsigned char *before = slurp(path, &n0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    const int modes[3][2] = {{0, 0}, {0, 1}, {1, 1}};
    for (int m = 0; m < 3; m++) {
        qt_store_t *s = (qt_store_t *)1;
        qt_status_t st = qt_store_open(path, modes[m][0], modes[m][1], &s);
        CU_ASSERT_EQUAL(st, QT_ERR_FORMAT);
        CU_ASSERT_PTR_NULL(s);
        if (!strstr(qt_last_error(), why)) printf("\nmessage '%s' lacks '%s'\n", qt_last_error(), why);
        CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), why));
        if (st == QT_OK) qt_store_close(s);
    }
    unsigned char *after = slurp(path, &n1);
    CU_ASSERT(after && n0 == n1 && !memcmp(before, after, n0));
    CU_ASSERT(!exists(path, "-wal") && !exists(path, "-shm") && !exists(path, "-journal"));
    free(before);
    free(after);
}

/* Random bytes; an empty file; a foreign SQLite file (rollback and WAL mode); an SQLite file
 * claiming quintet's application_id without the meta table. */
static void test_refuse_foreign(void)
{
    unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)qt_rng_u32(qt_test_seed(), 6, i);
    const char *path = qt_test_fresh_path("junk.db");
    spit(path, junk, sizeof junk);
    expect_refused(path, "not an SQLite file");
    spit(path, junk, 50);
    expect_refused(path, "too short");
    memcpy(junk, "SQLite format 3", 16); /* right magic, garbage header */
    spit(path, junk, sizeof junk);
    expect_refused(path, "not a quintet database");

    path = qt_test_fresh_path("empty.db");
    spit(path, "", 0);
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL(qt_store_open(path, 0, 1, &s), QT_ERR_FORMAT); /* only create may fill an empty file */
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "empty"));

    path = qt_test_fresh_path("foreign.db");
    qt_test_sql_exec(path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');");
    expect_refused(path, "another application");
    path = qt_test_fresh_path("foreign-wal.db");
    qt_test_sql_exec(path, "PRAGMA journal_mode = WAL; PRAGMA application_id = 42; CREATE TABLE t (x);");
    expect_refused(path, "application_id 0x0000002a");
    path = qt_test_fresh_path("impostor.db");
    qt_test_sql_exec(path, "PRAGMA application_id = 1364479572; PRAGMA user_version = 2; CREATE TABLE t (x);");
    expect_refused(path, "table 't' that quintet does not create"); /* the exact schema check comes first */
    path = qt_test_fresh_path("impostor2.db"); /* quintet's tables, but meta does not say quintet */
    make_db(path, 0);
    qt_test_sql_exec(path, "PRAGMA journal_mode = DELETE; UPDATE meta SET value = 'other' WHERE key = 'application';");
    expect_refused(path, "meta");
}

/* A quintet database cut short (on and off a page boundary), and one of a newer schema version. */
static void test_refuse_truncated_newer(void)
{
    const char *path = qt_test_fresh_path("whole.db");
    make_db(path, 300);
    size_t n = 0;
    unsigned char *whole = slurp(path, &n);
    CU_ASSERT_FATAL(whole && n >= 8 * 4096);
    const char *cut = qt_test_fresh_path("cut.db");
    spit(cut, whole, n / 2 / 4096 * 4096);
    expect_refused(cut, "truncated");
    spit(cut, whole, n - 1000);
    expect_refused(cut, "truncated");
    free(whole);

    char newer[64];
    snprintf(newer, sizeof newer, "PRAGMA user_version = %d;", QT_SCHEMA_VERSION + 1);
    qt_test_sql_exec(path, newer);
    expect_refused(path, "newer");
}

/* ---- concurrency and recovery ----------------------------------------------------------- */

/* Two processes create (racing) and fill one database at once; both succeed, nothing is lost. */
static void test_concurrent_writers(void)
{
    enum { CASES = 150 };
    const char *path = qt_test_fresh_path("concurrent.db");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        CU_ASSERT_FATAL(kids[k] >= 0);
        if (kids[k] == 0) {
            qt_store_t *s = NULL;
            char uuid[32];
            snprintf(uuid, sizeof uuid, "writer-%d", k);
            qt_run_info_t ri = run_info(uuid, hostname(), getpid());
            int64_t run;
            int bad = qt_store_open(path, 1, 1, &s) != QT_OK || qt_store_run_begin(s, &ri, &run) != QT_OK;
            for (int i = 0; !bad && i < CASES; i++) bad = put_case(s, run, "w", 4, (uint64_t)(k * CASES + i)) != QT_OK;
            if (!bad) bad = qt_store_run_end(s, run, "completed") != QT_OK;
            if (bad) fprintf(stderr, "writer %d: %s\n", k, qt_last_error());
            qt_store_close(s);
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = -1;
        CU_ASSERT_EQUAL(waitpid(kids[k], &status, 0), kids[k]);
        CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 0, &s), QT_OK);
    for (int64_t run = 1; run <= 2; run++) {
        CU_ASSERT_EQUAL(case_count(s, run), CASES);
        CU_ASSERT_STRING_EQUAL(prov(s, run, "status"), "completed");
    }
    qt_store_close(s);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "SELECT count(*) FROM samples"), 2 * CASES * 4);
    CU_ASSERT_EQUAL(qt_test_sql_int(path, "SELECT count(*) FROM case_stats"), 2 * CASES);
}

/* A pid that no longer exists (a reaped child). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* Runs left 'running' by a dead process of this host become 'interrupted' on a writable open;
 * live ones, other hosts' and read-only opens leave them alone; finished cases are kept. */
static void test_stale_runs(void)
{
    const char *path = qt_test_fresh_path("stale.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 1, 1, &s), QT_OK);
    const struct {
        const char *uuid, *host;
        int pid;
        const char *after;
    } runs[] = {
        {"dead-here", hostname(), dead_pid(), "interrupted"},
        {"alive-here", hostname(), getpid(), "running"},
        {"dead-elsewhere", "some-other-host.example", dead_pid(), "running"},
    };
    for (int i = 0; i < 3; i++) {
        qt_run_info_t ri = run_info(runs[i].uuid, runs[i].host, runs[i].pid);
        int64_t run;
        CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_OK);
        CU_ASSERT_EQUAL(put_case(s, run, "done", 3, (uint64_t)i), QT_OK);
    }
    qt_store_close(s);
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 0, &s), QT_OK);
    CU_ASSERT_STRING_EQUAL(prov(s, 1, "status"), "running"); /* read-only: nothing changes */
    qt_store_close(s);
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 1, &s), QT_OK);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(prov(s, i + 1, "status"), runs[i].after);
        CU_ASSERT_EQUAL(strcmp(prov(s, i + 1, "ended_at"), "(null)") != 0, i == 0);
        CU_ASSERT_EQUAL(case_count(s, i + 1), 1);
    }
    qt_store_close(s);
}

/* ---- run specs and bad arguments -------------------------------------------------------- */

/* "latest", "latest~N", ids, uuid prefixes (unique, ambiguous, numeric-looking) and bad specs. */
static void test_resolve_run(void)
{
    const char *path = qt_test_fresh_path("resolve.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 1, 1, &s), QT_OK);
    const char *uuids[] = {"aaaa1111-0000", "aaab2222-0000", "12345678-bbbb"};
    for (int i = 0; i < 3; i++) {
        qt_run_info_t ri = run_info(uuids[i], hostname(), getpid());
        int64_t run;
        CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_OK);
        CU_ASSERT_EQUAL(run, i + 1);
    }
    const struct {
        const char *spec;
        int64_t id; /* 0: must fail */
        const char *why;
    } cases[] = {
        {"latest", 3, NULL},       {"latest~0", 3, NULL},     {"latest~1", 2, NULL},
        {"latest~2", 1, NULL},     {"latest~3", 0, "too few"}, {"2", 2, NULL},
        {"aaab", 2, NULL},         {"aaaa1111-0000", 1, NULL}, {"1234", 3, NULL},
        {"aaa", 0, "ambiguous"},   {"zz", 0, "no run"},       {"latest~", 0, "latest~N"},
        {"latest~-1", 0, "latest~N"}, {"latest~x", 0, "latest~N"}, {"7", 0, "no run"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t id = -1;
        qt_status_t st = qt_store_resolve_run(s, cases[i].spec, &id);
        if (cases[i].id) {
            CU_ASSERT_EQUAL(st, QT_OK);
            CU_ASSERT_EQUAL(id, cases[i].id);
        } else {
            CU_ASSERT_EQUAL(st, QT_ERR_ARG);
            CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), cases[i].why));
        }
    }
    int64_t id;
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, "", &id), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, NULL, &id), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, "latest", NULL), QT_ERR_ARG);
    qt_store_close(s);
}

/* NULLs, bad status strings, unknown runs, duplicate samples, mixed units, read-only writes and
 * missing files give errors with messages, and a refused case leaves nothing behind. */
static void test_bad_arguments(void)
{
    const char *path = qt_test_fresh_path("bad.db");
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL(qt_store_open(NULL, 1, 1, &s), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_open(path, 1, 1, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_open(path, 1, 0, &s), QT_ERR_ARG); /* create needs writable */
    CU_ASSERT_EQUAL(qt_store_open(path, 0, 1, &s), QT_ERR_IO);  /* missing, no create */
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "no such database"));
    CU_ASSERT(!exists(path, ""));
    qt_store_close(NULL);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 1, 1, &s), QT_OK);
    qt_run_info_t ri = run_info(NULL, hostname(), getpid());
    int64_t run;
    CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_begin(s, NULL, &run), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_begin(NULL, &ri, &run), QT_ERR_ARG);
    ri.uuid = "bad-args";
    CU_ASSERT_EQUAL_FATAL(qt_store_run_begin(s, &ri, &run), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_ERR_ARG); /* uuid must be unique */
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "done"), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "'done'"));
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "running"), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run + 9, "completed"), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_set(s, run + 9, "k", "v"), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_set(s, run, NULL, "v"), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_run_counter(s, run, "", 1, NULL), QT_ERR_ARG);

    qt_sample_t dup[2] = {{"time_s", "s", 0, 1.0, 0}, {"time_s", "s", 0, 2.0, 0}};
    qt_sample_t mixed[2] = {{"time_s", "s", 0, 1.0, 0}, {"time_s", "ms", 1, 2.0, 0}};
    qt_sample_t nometric[1] = {{NULL, "s", 0, 1.0, 0}};
    qt_case_record_t c = {.suite = "unit", .name = "x", .status = "passed", .samples = dup, .n_samples = 1};
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "'passed'"));
    c.status = NULL;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    c.status = "ok";
    c.suite = NULL;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    c.suite = "unit";
    c.samples = NULL;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    c.samples = nometric;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    c.samples = dup;
    CU_ASSERT_EQUAL(qt_store_case(s, run + 9, &c), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_case(s, run, NULL), QT_ERR_ARG);
    c.n_samples = 2;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG); /* same metric and repetition twice */
    c.samples = mixed;
    CU_ASSERT_EQUAL(qt_store_case(s, run, &c), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "units"));
    CU_ASSERT_EQUAL(case_count(s, run), 0); /* each refused case rolled back whole */
    CU_ASSERT_EQUAL(qt_store_foreach_stat(s, run, NULL, NULL), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_store_foreach_case(s, run + 9, log_case, NULL), QT_ERR_ARG);
    qt_store_close(s);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(path, 0, 0, &s), QT_OK);
    CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_ERR_STATE); /* read-only store */
    CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_ERR_STATE);
    qt_store_close(s);
}

/* ---- importing another database ---------------------------------------------------------- */

/* Sum of sample values (scaled, as an integer) and count of rows of finished runs whose uuid starts "imp-". */
static const char imported_samples_sql[] =
    "SELECT CAST(round(sum(x.value) * 1e6) AS INTEGER) * 1000 + count(*) FROM samples x"
    " JOIN cases c ON c.id = x.case_id JOIN runs r ON r.id = c.run_id"
    " WHERE r.uuid LIKE 'imp-%' AND r.status <> 'running'";

/* Two finished runs and one still running are copied with every sample and statistic, ids
 * renumbered past the destination's; the source file is byte-for-byte unchanged (its name has
 * URI-special characters); importing twice adds nothing; a foreign file or a read-only
 * destination is refused and adds nothing. */
static void test_import(void)
{
    const char *src_path = qt_test_fresh_path("imp src ?#%.db"), *dst_path = qt_test_fresh_path("imp-dst.db");
    const char *bad_path = qt_test_fresh_path("imp-foreign.db");
    make_db(dst_path, 2); /* run id 1 in both files: the import must renumber */
    qt_store_t *s = NULL;
    CU_ASSERT_EQUAL_FATAL(qt_store_open(src_path, 1, 1, &s), QT_OK);
    const char *uuids[3] = {"imp-a", "imp-b", "imp-live"};
    for (int r = 0; r < 3; r++) {
        qt_run_info_t ri = run_info(uuids[r], hostname(), getpid());
        int64_t run = 0;
        CU_ASSERT_EQUAL(qt_store_run_begin(s, &ri, &run), QT_OK);
        CU_ASSERT_EQUAL(qt_store_run_set(s, run, "version.sqlite", "3.40"), QT_OK);
        for (int i = 0; i < 3 + r; i++) CU_ASSERT_EQUAL(put_case(s, run, "case", 5 + i, (uint64_t)(100 * r + i)), QT_OK);
        if (r < 2) CU_ASSERT_EQUAL(qt_store_run_end(s, run, "completed"), QT_OK);
    }
    qt_store_close(s);
    int64_t src_sum = qt_test_sql_int(src_path, imported_samples_sql);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = slurp(src_path, &n0);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(dst_path, 0, 1, &s), QT_OK);
    int64_t added = -1, present = -1, running = -1;
    CU_ASSERT_EQUAL(qt_store_import(s, src_path, &added, &present, &running), QT_OK);
    CU_ASSERT(added == 2 && present == 0 && running == 1);
    int64_t a = 0, b = 0;
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, "imp-a", &a), QT_OK);
    CU_ASSERT_EQUAL(qt_store_resolve_run(s, "imp-b", &b), QT_OK);
    CU_ASSERT(a > 1 && b > a);
    CU_ASSERT_EQUAL(case_count(s, a), 3);
    CU_ASSERT_EQUAL(case_count(s, b), 4);
    CU_ASSERT_STRING_EQUAL(prov(s, b, "version.sqlite"), "3.40");
    CU_ASSERT_STRING_EQUAL(prov(s, b, "imported_from"), src_path);
    CU_ASSERT_EQUAL(qt_store_import(s, src_path, &added, &present, &running), QT_OK); /* again: a no-op */
    CU_ASSERT(added == 0 && present == 2 && running == 1);
    spit(bad_path, "not a database, just text that is long enough to look like a header......", 74);
    CU_ASSERT_EQUAL(qt_store_import(s, bad_path, &added, &present, &running), QT_ERR_FORMAT);
    qt_store_close(s);

    CU_ASSERT_EQUAL(qt_test_sql_int(dst_path, imported_samples_sql), src_sum); /* the live run's cases stayed behind */
    CU_ASSERT(src_sum % 1000 == 5 + 6 + 7 + 5 + 6 + 7 + 8);
    CU_ASSERT_EQUAL(qt_test_sql_int(dst_path, "SELECT count(*) FROM runs"), 3);
    CU_ASSERT_EQUAL(qt_test_sql_int(dst_path, "SELECT count(*) FROM case_stats x JOIN cases c ON c.id = x.case_id"
                                      " JOIN runs r ON r.id = c.run_id WHERE r.uuid LIKE 'imp-%'"),
                    7);
    CU_ASSERT_EQUAL(qt_test_sql_int(dst_path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    unsigned char *after = slurp(src_path, &n1);
    CU_ASSERT(after && n0 == n1 && !memcmp(before, after, n0));
    free(before);
    free(after);

    CU_ASSERT_EQUAL_FATAL(qt_store_open(dst_path, 0, 0, &s), QT_OK);
    CU_ASSERT_EQUAL(qt_store_import(s, src_path, &added, &present, &running), QT_ERR_STATE);
    qt_store_close(s);
}

QT_TEST_MAIN("store", {"stats known values", test_stats_known}, {"stats random", test_stats_random},
             {"linfit", test_linfit}, {"round trip", test_round_trip}, {"migrate v1", test_migrate_v1},
             {"migrate v2", test_migrate_v2},
             {"refuse foreign", test_refuse_foreign}, {"refuse truncated/newer", test_refuse_truncated_newer},
             {"concurrent writers", test_concurrent_writers}, {"stale runs", test_stale_runs},
             {"resolve run", test_resolve_run}, {"bad arguments", test_bad_arguments}, {"import", test_import})
