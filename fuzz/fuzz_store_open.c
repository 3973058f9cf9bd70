/* fuzz_store_open.c — libFuzzer target: opening untrusted database files.
 *
 * Writes each input to a temporary file and opens it with qt_store_open read-only and then
 * writable (never create); when a store opens, reads every run, case, sample, series point,
 * statistic, provenance field and counter, runs the queries of show, compare and history (a
 * metric's history, the stored keys, the run list, concurrent runs, last medians, case lookup),
 * imports the file into a fresh database, and (writable) stores a run with one case, so a
 * damaged-but-accepted file also exercises the write paths. Contract checked: no crash, no
 * leak, no sanitizer report, a refusal always comes with a message, and no input runs longer
 * than libFuzzer's -timeout (fuzz/run.sh: 10 s; QT_DB_WORK_LIMIT is set low here, so a query
 * that would run without end stops within milliseconds with its error).
 * Seeds (fuzz/run.sh): quintet databases made from results/schema.sql, a version-1 one, a
 * foreign SQLite file. Run: make fuzz (or FUZZ_SECONDS=120 make fuzz).
 * fuzz-sources: harness/store/store.c harness/analysis/stats.c impl/core/status.c
 * fuzz-libs: -lsqlite3 -lm */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* Remove the database and the side files SQLite may leave beside it. */
static void remove_all(const char *path)
{
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", path, sfx[i]);
        unlink(f);
    }
}

/* The callbacks below touch the fields of what they get, so sanitizers check them. */
static volatile size_t sink;
/* Statistics row. */
static int on_stat(void *a, const qt_stat_row_t *r)
{
    (void)a;
    sink += strlen(r->suite ? r->suite : "") + strlen(r->metric ? r->metric : "") + (size_t)r->n + (r->median > 0);
    return 0;
}
/* Provenance field. */
static int on_kv(void *a, const char *k, const char *v)
{
    (void)a;
    sink += strlen(k ? k : "") + strlen(v ? v : "");
    return 0;
}
/* Counter availability row. */
static int on_counter(void *a, const char *e, int avail, const char *why)
{
    (void)a;
    sink += strlen(e ? e : "") + (size_t)avail + strlen(why ? why : "");
    return 0;
}
/* Raw sample. */
static int on_sample(void *a, const qt_sample_t *x)
{
    (void)a;
    sink += strlen(x->metric ? x->metric : "") + strlen(x->unit ? x->unit : "") + (x->value > 0);
    return 0;
}
/* Series point. */
static int on_point(void *a, const qt_point_t *p)
{
    (void)a;
    sink += strlen(p->series ? p->series : "") + (size_t)p->step + (p->value > 0);
    return 0;
}
/* Case: also reads its samples and series. */
static int on_case(void *a, const qt_case_row_t *c)
{
    qt_store_t *s = a;
    sink += strlen(c->name ? c->name : "") + strlen(c->params ? c->params : "");
    qt_store_foreach_sample(s, c->case_id, on_sample, NULL);
    qt_store_foreach_point(s, c->case_id, on_point, NULL);
    return 0;
}

/* History row. */
static int on_history(void *a, const qt_history_row_t *h)
{
    (void)a;
    sink += strlen(h->started_at ? h->started_at : "") + strlen(h->host ? h->host : "") + (size_t)h->stat.n;
    return 0;
}
/* Stored key: also looks the key up as compare does. */
static int on_key(void *a, const char *suite, const char *name, const char *variant, const char *params,
                  const char *metric)
{
    qt_store_t *s = a;
    double median;
    int found;
    int64_t case_id;
    if (suite && name && variant && params && metric) {
        qt_store_last_median(s, 0, suite, name, variant, params, metric, &median, &found);
        qt_store_find_case(s, 1, suite, name, variant, params, &case_id);
    }
    return 0;
}
/* Run list row. */
static int on_run(void *a, const qt_run_row_t *r)
{
    (void)a;
    sink += strlen(r->uuid ? r->uuid : "") + strlen(r->started_at ? r->started_at : "");
    return 0;
}

/* The queries of show, compare and history that are not per run. */
static void queries(qt_store_t *s)
{
    const char *metrics[] = {"time_s", "sgemm_gflops"};
    for (int i = 0; i < 2; i++) {
        qt_history_sel_t sel = {.metric = metrics[i]};
        qt_store_foreach_history(s, &sel, on_history, NULL);
    }
    qt_store_foreach_key(s, on_key, s);
    qt_store_foreach_run(s, 10, on_run, NULL);
    char other[256];
    qt_store_concurrent_runs(s, 1, other, sizeof other);
}

/* Read everything of the latest two runs; write a run when writable. */
static void exercise(qt_store_t *s, int writable)
{
    queries(s);
    const char *specs[] = {"latest", "latest~1", "1", "a"};
    for (int i = 0; i < 4; i++) {
        int64_t id;
        if (qt_store_resolve_run(s, specs[i], &id) != QT_OK) continue;
        qt_store_foreach_stat(s, id, on_stat, NULL);
        qt_store_foreach_provenance(s, id, on_kv, NULL);
        qt_store_foreach_counter(s, id, on_counter, NULL);
        qt_store_foreach_case(s, id, on_case, s);
    }
    if (!writable) return;
    qt_run_info_t ri = {.uuid = "fuzz-run", .host = "fuzz-host", .pid = 1};
    int64_t run;
    if (qt_store_run_begin(s, &ri, &run) != QT_OK) return;
    qt_sample_t x[3] = {{"time_s", "s", 0, 1.0}, {"time_s", "s", 1, 2.0}, {"gflops", "GFLOP/s", 0, 3.0}};
    qt_point_t p[1] = {{"loss", 1, 0, 0.5}};
    qt_case_record_t c = {.suite = "fuzz", .name = "case", .status = "ok", .samples = x, .n_samples = 3,
                          .points = p, .n_points = 1};
    qt_store_case(s, run, &c);
    qt_store_run_set(s, run, "k", "v");
    qt_store_run_counter(s, run, "PAPI_TOT_INS", 0, "disabled");
    qt_store_run_end(s, run, "completed");
}

/* Import the file at path into a fresh database (the validation and the recomputed summaries). */
static void import_into_fresh(const char *path, const char *target)
{
    remove_all(target);
    qt_store_t *t = NULL;
    if (qt_store_open(target, 1, 1, &t) != QT_OK) return;
    int64_t added, present, running;
    if (qt_store_import(t, path, &added, &present, &running) == QT_OK) queries(t);
    qt_store_close(t);
    remove_all(target);
}

/* A low work budget: a query that would not end stops within milliseconds. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("QT_DB_WORK_LIMIT", "2000000", 0);
    return 0;
}

/* One input: write it, open it both ways, exercise, import it, close, clean up. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512], target[540];
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/qt-fuzz-store-%d.db", t && *t ? t : "/tmp", (int)getpid());
        snprintf(target, sizeof target, "%s.target", path);
    }
    for (int writable = 0; writable < 2; writable++) {
        remove_all(path);
        FILE *f = fopen(path, "wb");
        if (!f) return 0;
        if (size && fwrite(data, 1, size, f) != size) {
            fclose(f);
            return 0;
        }
        fclose(f);
        qt_store_t *s = NULL;
        qt_status_t st = qt_store_open(path, 0, writable, &s);
        if (st == QT_OK) {
            exercise(s, writable);
            qt_store_close(s);
            if (!writable) import_into_fresh(path, target);
        } else if (s != NULL || !qt_last_error()[0]) {
            __builtin_trap(); /* a refusal must leave no store and give a message */
        }
    }
    remove_all(path);
    return 0;
}
