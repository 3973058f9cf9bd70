/* cmd_compare.c — `quintet compare BASE NEW`: the regression gate.
 *
 * Matches the cases of two runs by (suite, case, variant, params) and decides, for each
 * selected metric, with the decision of compare.h: the 1-alpha hierarchical bootstrap interval of
 * median_new / median_base (invocations, then repetitions: resample.h) against --threshold
 * (raised to the case's between-run noise with --baseline-runs N >= 2: the range of its medians
 * over the N most recent completed runs with id <= BASE and BASE's profile, relative to their
 * median), confirmed by the exact two-sided Mann-Whitney test on the unit of replication
 * (invocation medians when both sides have several invocations) after Benjamini-Hochberg across
 * every tested row (rates derived from a case's time_s share its test). Each row also gets its
 * Tukey outlier counts and a bimodality flag. Cases in one run only are `added` / `removed`.
 * Prints the rows through the row model (output/rows.h: table, csv, json) or as JUnit XML
 * (output/junit.h), then a summary line; exit status 0 no regression, 1 at least one regression,
 * 2 bad usage, unknown run, or a --suite / --metric that matches nothing (the message lists what
 * the runs hold), 3 database (or other runtime) error.
 * Run `quintet compare --help`; tested by tests/harness/test_compare.c and test_gate.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "output/junit.h"
#include "output/output.h"
#include "output/rows.h"
#include "analysis/compare.h"
#include "analysis/gate.h"
#include "analysis/stats.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"metric", "NAME", "metric(s) to compare, comma-separated (default time_s); 'all': every metric but counters\n"
                       "                             and bookkeeping (cpu_time_s must be named: time_s,cpu_time_s)"},
    {"threshold", "FRAC", "minimum effect |new/base - 1| for a regression (default 0.05 = 5%)"},
    {"alpha", "A", "significance level (FDR) of the test; the interval's level is 1 - A (default 0.05)"},
    {"baseline-runs", "N", "N >= 2: the effect must also exceed the between-run noise of the N most\n"
                           "                             recent completed runs up to BASE with its profile (default 0: off)"},
    {"format", "F", "table | csv | json | junit (default table)"},
    {"suite", "NAME", "only this suite"},
    {"unpaired", NULL, "judge two `ab` runs as independent samples (default: paired by round)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

enum { FMT_JUNIT = QT_FMT_JSON + 1 };
enum { EXIT_REGRESSION = 1, EXIT_USAGE = 2, EXIT_DB = 3 };

/* The raw samples of one metric of one case. */
typedef struct {
    char *metric, *unit;
    double *v;
    int *inv; /* invocation of each value */
    size_t n, cap;
} msamples_t;

/* One case of a run with its selected metrics. */
typedef struct {
    char *key; /* suite \x1f name \x1f variant \x1f params */
    char *suite, *name, *variant, *params, *status, *message;
    int64_t id;
    msamples_t *m;
    size_t nm, cm;
} ccase_t;

/* The cases of one run. */
typedef struct {
    int64_t run_id;
    char *uuid, *status, *profile, *commit, *started, *ab_peer, *ab_design;
    int dirty;
    ccase_t *c;
    size_t n, cap;
    int failed; /* allocation failure while loading */
} crun_t;

/* One output row: a (case, metric) pair. */
typedef struct {
    const ccase_t *b, *n;             /* NULL on the side where the case is missing */
    const msamples_t *mb, *mn;        /* NULL where the metric is missing */
    const char *metric, *unit;
    char *key;                        /* case key \x1f metric, for the baseline lookup */
    double *hist;                     /* medians of the baseline runs */
    size_t nhist;
    qt_compare_result_t r;
} crow_t;

typedef struct {
    const char *metric, *suite; /* metric NULL = all */
} select_t;

/* strdup that keeps NULL as NULL. */
static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Text for a possibly NULL string. */
static const char *str_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* Is this metric selected? (sel->metric: one name or a comma-separated list; NULL: all) */
static int selected(const select_t *sel, const char *metric)
{
    if (!sel->metric) return !qt_metric_is_bookkeeping(metric);
    size_t n = strlen(metric);
    for (const char *p = sel->metric; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, metric, n)) return 1;
        p += k + (p[k] != 0);
    }
    return 0;
}

/* "a\x1fb\x1fc\x1fd" (and optionally "\x1fe"), malloc'd. */
static char *join_key(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + strlen(d) + (e ? strlen(e) + 1 : 0) + 4;
    char *k = malloc(len);
    if (k) snprintf(k, len, "%s\x1f%s\x1f%s\x1f%s%s%s", a, b, c, d, e ? "\x1f" : "", e ? e : "");
    return k;
}

/* foreach_case callback: keep the case (load_run applies the suite filter). */
static int load_case(void *arg, const qt_case_row_t *row)
{
    crun_t *run = arg;
    if (run->n == run->cap) {
        size_t cap = run->cap ? 2 * run->cap : 64;
        ccase_t *c = realloc(run->c, cap * sizeof *c);
        if (!c) return run->failed = 1;
        run->c = c;
        run->cap = cap;
    }
    ccase_t *c = &run->c[run->n];
    memset(c, 0, sizeof *c);
    c->id = row->case_id;
    c->suite = strdup(row->suite);
    c->name = strdup(row->name);
    c->variant = strdup(str_or(row->variant, ""));
    c->params = strdup(str_or(row->params, ""));
    c->status = strdup(str_or(row->status, "?"));
    c->message = dup_or_null(row->message);
    c->key = join_key(row->suite, row->name, c->variant ? c->variant : "", c->params ? c->params : "", NULL);
    run->n++;
    if (!c->suite || !c->name || !c->variant || !c->params || !c->status || !c->key) return run->failed = 1;
    return 0;
}

typedef struct {
    ccase_t *c;
    const select_t *sel;
    int failed;
} sample_ctx_t;

/* foreach_sample callback: append the value to its metric (samples come ordered by metric). */
static int load_sample(void *arg, const qt_sample_t *x)
{
    sample_ctx_t *ctx = arg;
    ccase_t *c = ctx->c;
    if (!selected(ctx->sel, x->metric)) return 0;
    if (c->nm == 0 || strcmp(c->m[c->nm - 1].metric, x->metric)) {
        if (c->nm == c->cm) {
            size_t cap = c->cm ? 2 * c->cm : 8;
            msamples_t *m = realloc(c->m, cap * sizeof *m);
            if (!m) return ctx->failed = 1;
            c->m = m;
            c->cm = cap;
        }
        msamples_t *m = &c->m[c->nm++];
        memset(m, 0, sizeof *m);
        m->metric = strdup(x->metric);
        m->unit = strdup(str_or(x->unit, ""));
        if (!m->metric || !m->unit) return ctx->failed = 1;
    }
    msamples_t *m = &c->m[c->nm - 1];
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        double *v = realloc(m->v, cap * sizeof *v);
        if (v) m->v = v;
        int *inv = v ? realloc(m->inv, cap * sizeof *inv) : NULL;
        if (!v || !inv) return ctx->failed = 1;
        m->inv = inv;
        m->cap = cap;
    }
    m->inv[m->n] = x->invocation;
    m->v[m->n++] = x->value;
    return 0;
}

/* foreach_provenance callback: keep the fields of the run header. */
static int load_prov(void *arg, const char *key, const char *value)
{
    crun_t *run = arg;
    char **slot = !strcmp(key, "uuid")         ? &run->uuid
                  : !strcmp(key, "status")     ? &run->status
                  : !strcmp(key, "profile")    ? &run->profile
                  : !strcmp(key, "git_commit") ? &run->commit
                  : !strcmp(key, "started_at") ? &run->started
                  : !strcmp(key, "ab_peer")    ? &run->ab_peer
                  : !strcmp(key, "ab_design")  ? &run->ab_design
                                               : NULL;
    if (slot && value && !*slot && !(*slot = strdup(value))) return run->failed = 1;
    if (!strcmp(key, "git_dirty")) run->dirty = value ? atoi(value) : -1;
    return 0;
}

/* 1 when base and new are the two sides of one interleaved `quintet ab` (each names the other as
 * its peer): their invocation numbers are rounds in which both ran back to back. */
static int ab_paired(const crun_t *base, const crun_t *new_)
{
    return base->uuid && new_->uuid && base->ab_peer && new_->ab_peer && !strcmp(base->ab_peer, new_->uuid) &&
           !strcmp(new_->ab_peer, base->uuid) && base->ab_design && !strcmp(base->ab_design, "interleaved") &&
           new_->ab_design && !strcmp(new_->ab_design, "interleaved");
}

/* Free one case's metrics and strings. */
static void free_case(ccase_t *c)
{
    for (size_t j = 0; j < c->nm; j++) {
        free(c->m[j].metric);
        free(c->m[j].unit);
        free(c->m[j].v);
        free(c->m[j].inv);
    }
    free(c->m);
    free(c->key);
    free(c->suite);
    free(c->name);
    free(c->variant);
    free(c->params);
    free(c->status);
    free(c->message);
}

/* Free a run. */
static void free_run(crun_t *run)
{
    for (size_t i = 0; i < run->n; i++) free_case(&run->c[i]);
    free(run->c);
    free(run->uuid);
    free(run->status);
    free(run->profile);
    free(run->commit);
    free(run->started);
    free(run->ab_peer);
    free(run->ab_design);
    memset(run, 0, sizeof *run);
}

/* Header fields of run id (status, profile, ...). */
static qt_status_t load_run_info(qt_store_t *s, int64_t id, crun_t *run)
{
    memset(run, 0, sizeof *run);
    run->run_id = id;
    run->dirty = -1;
    qt_status_t st = qt_store_foreach_provenance(s, id, load_prov, run);
    if (st == QT_OK && run->failed) st = qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    return st;
}

/* Load run id: header, cases of the selected suite, samples of the selected metrics. */
static qt_status_t load_run(qt_store_t *s, int64_t id, const select_t *sel, crun_t *run)
{
    QT_TRY(load_run_info(s, id, run));
    QT_TRY(qt_store_foreach_case(s, id, load_case, run));
    if (run->failed) return qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    size_t keep = 0;
    for (size_t i = 0; i < run->n; i++) { /* drop other suites (free their strings) */
        if (sel->suite && strcmp(run->c[i].suite, sel->suite)) {
            free_case(&run->c[i]);
            continue;
        }
        run->c[keep++] = run->c[i];
    }
    run->n = keep;
    for (size_t i = 0; i < run->n; i++) {
        sample_ctx_t ctx = {&run->c[i], sel, 0};
        QT_TRY(qt_store_foreach_sample(s, run->c[i].id, load_sample, &ctx));
        if (ctx.failed) return qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    }
    return QT_OK;
}

/* Comparator of case pointers by key. */
static int cmp_case_ptr(const void *a, const void *b)
{
    return strcmp((*(const ccase_t *const *)a)->key, (*(const ccase_t *const *)b)->key);
}

/* Comparator of row pointers by key. */
static int cmp_row_ptr(const void *a, const void *b)
{
    return strcmp((*(const crow_t *const *)a)->key, (*(const crow_t *const *)b)->key);
}

/* The case with this key in the sorted index, or NULL. */
static ccase_t *find_case(ccase_t **idx, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(idx[mid]->key, key);
        if (c == 0) return idx[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The metric of a case, or NULL. */
static const msamples_t *find_metric(const ccase_t *c, const char *metric)
{
    for (size_t i = 0; c && i < c->nm; i++)
        if (!strcmp(c->m[i].metric, metric)) return &c->m[i];
    return NULL;
}

typedef struct {
    crow_t *r;
    size_t n, cap;
} rows_t;

/* Append a row; NULL on allocation failure. */
static crow_t *add_row(rows_t *rows, const ccase_t *b, const ccase_t *n, const msamples_t *mb, const msamples_t *mn)
{
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? 2 * rows->cap : 64;
        crow_t *r = realloc(rows->r, cap * sizeof *r);
        if (!r) return NULL;
        rows->r = r;
        rows->cap = cap;
    }
    crow_t *r = &rows->r[rows->n];
    memset(r, 0, sizeof *r);
    const ccase_t *c = b ? b : n;
    const msamples_t *m = mb ? mb : mn;
    r->b = b;
    r->n = n;
    r->mb = mb;
    r->mn = mn;
    r->metric = m->metric;
    r->unit = m->unit;
    r->key = join_key(c->suite, c->name, c->variant, c->params, m->metric);
    if (!r->key) return NULL;
    rows->n++;
    return r;
}

/* Free the rows, both runs and the store (the end of every path that built them). */
static void release(rows_t *rows, crun_t *base, crun_t *new_, qt_store_t *s)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->r[i].key);
        free(rows->r[i].hist);
    }
    free(rows->r);
    free_run(base);
    free_run(new_);
    qt_store_close(s);
}

/* Rows in base order: matched cases metric by metric (base's metrics, then new-only ones),
 * removed cases; then added cases in new's order. */
static qt_status_t build_rows(const crun_t *base, const crun_t *new_, rows_t *rows)
{
    ccase_t **idx = malloc((new_->n + 1) * sizeof *idx);
    char *used = calloc(new_->n + 1, 1);
    if (!idx || !used) {
        free(idx);
        free(used);
        return qt_fail(QT_ERR_NOMEM, "out of memory matching cases");
    }
    for (size_t i = 0; i < new_->n; i++) idx[i] = &new_->c[i];
    qsort(idx, new_->n, sizeof *idx, cmp_case_ptr);
    qt_status_t st = QT_OK;
    for (size_t i = 0; i < base->n && st == QT_OK; i++) {
        const ccase_t *b = &base->c[i];
        ccase_t *n = find_case(idx, new_->n, b->key);
        if (n) used[n - new_->c] = 1;
        for (size_t j = 0; j < b->nm && st == QT_OK; j++)
            if (!add_row(rows, b, n, &b->m[j], find_metric(n, b->m[j].metric)))
                st = qt_fail(QT_ERR_NOMEM, "out of memory");
        for (size_t j = 0; n && j < n->nm && st == QT_OK; j++)
            if (!find_metric(b, n->m[j].metric) && !add_row(rows, b, n, NULL, &n->m[j]))
                st = qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < new_->n && st == QT_OK; i++)
        for (size_t j = 0; !used[i] && j < new_->c[i].nm && st == QT_OK; j++)
            if (!add_row(rows, NULL, &new_->c[i], NULL, &new_->c[i].m[j])) st = qt_fail(QT_ERR_NOMEM, "out of memory");
    free(idx);
    free(used);
    return st;
}

typedef struct {
    crow_t **idx;
    size_t n;
    const select_t *sel;
    int failed;
} hist_ctx_t;

/* foreach_stat callback over a baseline run: add the median to the matching row's history. */
static int add_hist(void *arg, const qt_stat_row_t *st)
{
    hist_ctx_t *h = arg;
    if (!selected(h->sel, st->metric) || st->n < 1 || isnan(st->median)) return 0;
    char *key = join_key(st->suite, st->name, str_or(st->variant, ""), str_or(st->params, ""), st->metric);
    if (!key) return h->failed = 1;
    size_t lo = 0, hi = h->n;
    crow_t *row = NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(h->idx[mid]->key, key);
        if (c == 0) { row = h->idx[mid]; break; }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    free(key);
    if (row) {
        double *v = realloc(row->hist, (row->nhist + 1) * sizeof *v);
        if (!v) return h->failed = 1;
        row->hist = v;
        row->hist[row->nhist++] = st->median;
    }
    return 0;
}

/* The baseline: the `want` most recent completed runs with id <= base and base's profile; their
 * ids go to ids[] (*n_ids), each one's medians to the rows' histories. */
static qt_status_t load_baseline(qt_store_t *s, const crun_t *base, int want, const select_t *sel, rows_t *rows,
                                 int64_t *ids, int *n_ids)
{
    *n_ids = 0;
    crow_t **idx = malloc((rows->n + 1) * sizeof *idx);
    if (!idx) return qt_fail(QT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n; i++) idx[i] = &rows->r[i];
    qsort(idx, rows->n, sizeof *idx, cmp_row_ptr);
    hist_ctx_t h = {idx, rows->n, sel, 0};
    qt_status_t st = QT_OK;
    for (int64_t id = base->run_id; id >= 1 && *n_ids < want && st == QT_OK; id--) {
        crun_t info;
        st = load_run_info(s, id, &info);
        if (st == QT_ERR_ARG) { /* no run with this id (deleted) */
            st = QT_OK;
            free_run(&info);
            continue;
        }
        int same = st == QT_OK && info.status && !strcmp(info.status, "completed") &&
                   !strcmp(str_or(info.profile, ""), str_or(base->profile, ""));
        free_run(&info);
        if (!same) continue;
        st = qt_store_foreach_stat(s, id, add_hist, &h);
        if (st == QT_OK && h.failed) st = qt_fail(QT_ERR_NOMEM, "out of memory");
        if (st == QT_OK) ids[(*n_ids)++] = id;
    }
    free(idx);
    return st;
}

/* The BH family of each row: itself, the time_s row of the same case for a rate derived from it,
 * -1 for a row without a test. */
static void bh_families(const rows_t *rows, long *family)
{
    for (size_t i = 0; i < rows->n; i++) {
        const crow_t *r = &rows->r[i];
        family[i] = isnan(r->r.p) ? -1 : (long)i;
        if (family[i] < 0 || !qt_metric_restates_time(r->metric)) continue;
        for (size_t j = 0; j < rows->n; j++) /* the case's time_s row, tested too */
            if (j != i && rows->r[j].b == r->b && rows->r[j].n == r->n && !strcmp(rows->r[j].metric, "time_s") &&
                !isnan(rows->r[j].r.p)) {
                family[i] = (long)j;
                break;
            }
    }
}

/* Decide every row (on paired rounds when paired), then Benjamini-Hochberg across them; *tests
 * gets the number of tests. */
static qt_status_t decide_rows(rows_t *rows, const qt_compare_opts_t *o, int paired, size_t *tests)
{
    for (size_t i = 0; i < rows->n; i++) {
        crow_t *r = &rows->r[i];
        double noise = r->nhist >= 2 ? qt_compare_noise(r->hist, r->nhist) : NAN;
        const msamples_t *mb = r->mb, *mn = r->mn;
        qt_sample_set_t sb = {mb ? mb->v : NULL, mb ? mb->inv : NULL, mb ? mb->n : 0},
                        sn = {mn ? mn->v : NULL, mn ? mn->inv : NULL, mn ? mn->n : 0};
        QT_TRY((paired ? qt_compare_decide_paired : qt_compare_decide)(&sb, &sn, qt_metric_direction(r->metric), o,
                                                                        noise, 1 + i, &r->r));
        const ccase_t *failed = r->b && strcmp(r->b->status, "ok") ? r->b : r->n && strcmp(r->n->status, "ok") ? r->n : NULL;
        if (!r->b || !r->n || !mb || !mn) {
            r->r.p = r->r.q = NAN;
            if (failed) { /* present in both runs, but one side did not finish: say why */
                r->r.verdict = QT_VERDICT_INSUFFICIENT;
                snprintf(r->r.note, sizeof r->r.note, "%s case %s%s%s", failed == r->b ? "base" : "new", failed->status,
                         failed->message ? ": " : "", failed->message ? failed->message : "");
            } else {
                r->r.verdict = mb ? QT_VERDICT_REMOVED : QT_VERDICT_ADDED;
                snprintf(r->r.note, sizeof r->r.note, "%s", r->b && r->n ? (mb ? "metric not in new run" : "metric not in base run")
                                                            : mb ? "case not in new run" : "case not in base run");
            }
            r->r.interval_verdict = r->r.verdict;
        }
    }
    long *family = malloc((rows->n + 1) * sizeof *family);
    qt_compare_result_t **res = malloc((rows->n + 1) * sizeof *res);
    if (!family || !res) {
        free(family);
        free(res);
        return qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    bh_families(rows, family);
    for (size_t i = 0; i < rows->n; i++) res[i] = &rows->r[i].r;
    *tests = qt_compare_bh(res, family, rows->n, o->alpha);
    free(family);
    free(res);
    return QT_OK;
}

/* The case of a row (whichever side has it). */
static const ccase_t *row_case(const crow_t *r)
{
    return r->b ? r->b : r->n;
}

/* Columns: table-only text forms next to the csv/json numbers they show. */
enum {
    C_SUITE, C_CASE, C_VARIANT, C_PARAMS, C_METRIC, C_UNIT, C_N, C_NB, C_NN, C_K, C_KB, C_KN, C_BASE, C_NEW,
    C_RATIO, C_CI, C_LO, C_HI, C_U, C_P, C_PT, C_Q, C_QT, C_NOISE, C_NOISET, C_OUT, C_OB, C_ON, C_SHAPE,
    C_VERDICT, C_NEED, C_NOTE, C_COUNT
};
#define MACHINE (QT_IN_CSV | QT_IN_JSON)
static const qt_col_t cols_proto[C_COUNT] = {
    [C_SUITE] = {"suite", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_CASE] = {"case", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_VARIANT] = {"variant", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_PARAMS] = {"params", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_METRIC] = {"metric", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_UNIT] = {"unit", QT_CELL_TEXT, 0, NULL, MACHINE},
    [C_N] = {"n", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_NB] = {"n_base", QT_CELL_INT, 0, NULL, MACHINE},
    [C_NN] = {"n_new", QT_CELL_INT, 0, NULL, MACHINE},
    [C_K] = {"inv", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_KB] = {"invocations_base", QT_CELL_INT, 0, NULL, MACHINE},
    [C_KN] = {"invocations_new", QT_CELL_INT, 0, NULL, MACHINE},
    [C_BASE] = {"median_base", QT_CELL_NUM, 0, ".5g", QT_IN_ALL},
    [C_NEW] = {"median_new", QT_CELL_NUM, 0, ".5g", QT_IN_ALL},
    [C_RATIO] = {"ratio", QT_CELL_NUM, 0, ".4f", QT_IN_ALL},
    [C_CI] = {"ci95", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_LO] = {"ci_lo", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_HI] = {"ci_hi", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_U] = {"u", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_P] = {"p", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_PT] = {"p", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_Q] = {"q", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_QT] = {"q", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_NOISE] = {"noise", QT_CELL_NUM, 0, NULL, MACHINE},
    [C_NOISET] = {"noise", QT_CELL_TEXT, 0, NULL, 0},
    [C_OUT] = {"out", QT_CELL_TEXT, 0, NULL, QT_IN_TABLE},
    [C_OB] = {"outliers_base", QT_CELL_INT, 0, NULL, MACHINE},
    [C_ON] = {"outliers_new", QT_CELL_INT, 0, NULL, MACHINE},
    [C_SHAPE] = {"shape", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_VERDICT] = {"verdict", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [C_NEED] = {"need_invocations", QT_CELL_INT, 0, NULL, MACHINE},
    [C_NOTE] = {"note", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
};

/* Table text of a number ("-" for NaN). */
static void num_text(char *buf, size_t cap, const char *fmt, double v)
{
    if (isnan(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, v);
}

typedef struct {
    char n[24], k[24], base[32], new_[32], ci[48], p[24], q[24], noise[24], out[24], shape[32];
} row_text_t;

/* The cells of row r (texts point into t). */
static void row_cells(const crow_t *r, row_text_t *t, qt_cell_t *c)
{
    const ccase_t *cs = row_case(r);
    const qt_compare_result_t *x = &r->r;
    memset(c, 0, C_COUNT * sizeof *c);
    c[C_SUITE].text = cs->suite;
    c[C_CASE].text = cs->name;
    c[C_VARIANT].text = cs->variant;
    c[C_PARAMS].text = cs->params;
    c[C_METRIC].text = r->metric;
    c[C_UNIT].text = r->unit;
    snprintf(t->n, sizeof t->n, "%d/%d", x->n_base, x->n_new);
    snprintf(t->k, sizeof t->k, "%d/%d", x->k_base, x->k_new);
    c[C_N].text = t->n;
    c[C_K].text = t->k;
    c[C_NB].i = x->n_base;
    c[C_NN].i = x->n_new;
    c[C_KB].i = x->k_base;
    c[C_KN].i = x->k_new;
    c[C_BASE].num = x->median_base;
    c[C_NEW].num = x->median_new;
    c[C_RATIO].num = x->ratio;
    c[C_CI].text = qt_compare_interval_text(x, t->ci, sizeof t->ci);
    c[C_LO].num = x->ci_lo;
    c[C_HI].num = x->ci_hi;
    c[C_U].num = x->u;
    c[C_P].num = x->p;
    c[C_Q].num = x->q;
    num_text(t->p, sizeof t->p, "%.2g", x->p);
    num_text(t->q, sizeof t->q, "%.2g", x->q);
    num_text(t->noise, sizeof t->noise, "%.1f%%", x->noise * 100);
    c[C_PT].text = t->p;
    c[C_QT].text = t->q;
    c[C_NOISE].num = x->noise;
    c[C_NOISET].text = t->noise;
    snprintf(t->out, sizeof t->out, "%d/%d", x->outliers_base, x->outliers_new);
    c[C_OUT].text = t->out;
    c[C_OB].i = x->outliers_base;
    c[C_ON].i = x->outliers_new;
    snprintf(t->shape, sizeof t->shape, "%s", x->bimodal_base && x->bimodal_new ? "bimodal both"
                                              : x->bimodal_base                 ? "bimodal base"
                                              : x->bimodal_new                  ? "bimodal new"
                                                                                : "");
    c[C_SHAPE].text = t->shape;
    c[C_VERDICT].text = qt_verdict_name(x->verdict);
    c[C_NEED].i = x->need_invocations;
    c[C_NOTE].text = x->note;
}

/* The rows through the row model; in table form every text column is as wide as its widest cell. */
static void print_rows(const rows_t *rows, qt_fmt_t fmt, int with_noise)
{
    qt_col_t cols[C_COUNT];
    memcpy(cols, cols_proto, sizeof cols);
    if (with_noise) cols[C_NOISET].in = QT_IN_TABLE;
    row_text_t t;
    qt_cell_t c[C_COUNT];
    if (fmt == QT_FMT_TABLE) {
        for (int k = 0; k < C_COUNT; k++) cols[k].width = (int)strlen(cols[k].name);
        cols[C_RATIO].width = 6;
        for (size_t i = 0; i < rows->n; i++) {
            row_cells(&rows->r[i], &t, c);
            for (int k = 0; k < C_COUNT; k++)
                if (cols[k].type == QT_CELL_TEXT && k != C_NOTE && (int)strlen(c[k].text ? c[k].text : "") > cols[k].width)
                    cols[k].width = (int)strlen(c[k].text);
        }
        for (int k = C_N; k < C_VERDICT; k++) /* counts and figures read right-aligned */
            if (cols[k].type == QT_CELL_TEXT) cols[k].width = cols[k].width;
        cols[C_NOTE].width = 0;
    }
    qt_rows_t out;
    qt_rows_init(&out, fmt, cols, C_COUNT);
    for (size_t i = 0; i < rows->n; i++) {
        row_cells(&rows->r[i], &t, c);
        qt_rows_add(&out, c);
    }
}

/* JUnit: one test case per row; a regression fails, added/removed/insufficient rows are skipped. */
static void print_junit(const crun_t *base, const crun_t *new_, const rows_t *rows, const int *count)
{
    char suite[160];
    snprintf(suite, sizeof suite, "quintet compare %lld %lld", (long long)base->run_id, (long long)new_->run_id);
    int skipped = count[QT_VERDICT_ADDED] + count[QT_VERDICT_REMOVED] + count[QT_VERDICT_INSUFFICIENT];
    qt_junit_begin(stdout, suite, (int)rows->n, count[QT_VERDICT_REGRESSION], skipped);
    for (size_t i = 0; i < rows->n; i++) {
        const crow_t *r = &rows->r[i];
        const ccase_t *c = row_case(r);
        char cls[512], name[512], msg[256], detail[512];
        snprintf(cls, sizeof cls, "%s.%s", c->suite, c->name);
        snprintf(name, sizeof name, "%s%s%s%s%s", c->variant, *c->params ? " " : "", c->params,
                 *c->variant || *c->params ? " " : "", r->metric);
        qt_verdict_t v = r->r.verdict;
        snprintf(msg, sizeof msg, "%s: %+.1f%% (interval %.4f to %.4f of the base median)", qt_verdict_name(v),
                 (r->r.ratio - 1) * 100, r->r.ci_lo, r->r.ci_hi);
        snprintf(detail, sizeof detail, "base median %.6g, new median %.6g, p %.3g, q %.3g, %d/%d invocations%s%s",
                 r->r.median_base, r->r.median_new, r->r.p, r->r.q, r->r.k_base, r->r.k_new, *r->r.note ? "; " : "",
                 r->r.note);
        int skip = v == QT_VERDICT_ADDED || v == QT_VERDICT_REMOVED || v == QT_VERDICT_INSUFFICIENT;
        qt_junit_case(stdout, cls, name, v == QT_VERDICT_REGRESSION ? msg : NULL, detail,
                      skip ? (*r->r.note ? r->r.note : qt_verdict_name(v)) : NULL);
    }
    qt_junit_end(stdout);
}

/* JSON description of a run. */
static void json_run(const crun_t *run)
{
    printf("{\"run_id\": %lld, \"uuid\": ", (long long)run->run_id);
    qt_out_json_str(run->uuid);
    printf(", \"status\": ");
    qt_out_json_str(run->status);
    printf(", \"profile\": ");
    qt_out_json_str(run->profile);
    printf(", \"git_commit\": ");
    qt_out_json_str(run->commit);
    printf(", \"started_at\": ");
    qt_out_json_str(run->started);
    printf("}");
}

/* JSON: runs, the test, the rows and the summary. */
static void print_json(const crun_t *base, const crun_t *new_, const rows_t *rows, const qt_compare_opts_t *o,
                       int paired, int baseline_runs, const int64_t *ids, int n_ids, const int *count, size_t tests)
{
    printf("{\n  \"base\": ");
    json_run(base);
    printf(",\n  \"new\": ");
    json_run(new_);
    printf(",\n  \"test\": {\"paired\": %s, \"interval\": \"%s\", \"level\": %.9g,"
           " \"rank_test\": \"%s\", \"alpha\": %.9g,"
           " \"multiple_testing\": \"benjamini-hochberg\", \"tests\": %zu, \"threshold\": %.9g,"
           " \"baseline_runs\": %d, \"baseline_run_ids\": [",
           paired ? "true" : "false",
           paired ? "hierarchical bootstrap (rounds, then repetitions) of the hodges-lehmann per-round ratio"
                  : "hierarchical bootstrap of the ratio of medians",
           1 - o->alpha,
           paired ? "exact wilcoxon signed-rank two-sided on per-round log-ratios"
                  : "exact mann-whitney-u two-sided on the unit of replication",
           o->alpha, tests, o->threshold, baseline_runs);
    for (int i = 0; i < n_ids; i++) printf("%s%lld", i ? ", " : "", (long long)ids[i]);
    printf("]},\n  \"results\": [");
    print_rows(rows, QT_FMT_JSON, baseline_runs >= 2);
    printf("\n  ],\n  \"summary\": {");
    for (int v = 0; v < QT_VERDICT_COUNT; v++) printf("%s\"%s\": %d", v ? ", " : "", qt_verdict_name(v), count[v]);
    printf("},\n  \"regression\": %s\n}\n", count[QT_VERDICT_REGRESSION] ? "true" : "false");
}

/* "N regressions, N improvements, ..." */
static void print_summary(FILE *f, const int *count)
{
    static const char *plural[QT_VERDICT_COUNT] = {"regressions", "improvements", "unchanged", "changed",
                                                   "inconclusive", "added",      "removed",   "insufficient"};
    for (int v = 0; v < QT_VERDICT_COUNT; v++)
        fprintf(f, "%s%d %s", v ? ", " : "", count[v], count[v] == 1 && v < 2 ? qt_verdict_name(v) : plural[v]);
    fputc('\n', f);
}

/* One line describing a run for the table header. */
static void print_run_line(const char *label, const crun_t *run)
{
    printf("%s run %lld (%.8s, profile %s, commit %.12s%s, %s, %s)\n", label, (long long)run->run_id,
           str_or(run->uuid, "?"), str_or(run->profile, "?"), str_or(run->commit, "?"), run->dirty == 1 ? "+dirty" : "",
           str_or(run->started, "?"), str_or(run->status, "?"));
}

/* A --suite or --metric that matches nothing: exit 2 listing the suites and metrics the two runs hold. */
static int explain_empty(qt_store_t *s, int64_t id_base, int64_t id_new, const select_t *sel)
{
    select_t all = {NULL, NULL};
    crun_t runs[2];
    memset(runs, 0, sizeof runs);
    char suites[1024] = ",", metrics[2048] = ","; /* ",a,b," lists */
    int suite_found = 0;
    qt_status_t st = load_run(s, id_base, &all, &runs[0]);
    if (st == QT_OK) st = load_run(s, id_new, &all, &runs[1]);
    for (int k = 0; k < 2 && st == QT_OK; k++)
        for (size_t i = 0; i < runs[k].n; i++) {
            const ccase_t *c = &runs[k].c[i];
            char item[256];
            snprintf(item, sizeof item, ",%s,", c->suite);
            if (!strstr(suites, item) && strlen(suites) + strlen(item) < sizeof suites) strcat(suites, item + 1);
            if (sel->suite && strcmp(sel->suite, c->suite)) continue;
            suite_found = 1;
            for (size_t j = 0; j < c->nm; j++) {
                snprintf(item, sizeof item, ",%s,", c->m[j].metric);
                if (!strstr(metrics, item) && strlen(metrics) + strlen(item) < sizeof metrics)
                    strcat(metrics, item + 1);
            }
        }
    free_run(&runs[0]);
    free_run(&runs[1]);
    if (st != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_DB;
    }
    suites[strlen(suites) - 1] = metrics[strlen(metrics) - 1] = '\0'; /* ",a,b," -> ",a,b"; printed from +1 */
    if (!suites[0] || !suites[1]) fprintf(stderr, "quintet compare: runs %lld and %lld hold no cases\n", (long long)id_base, (long long)id_new);
    else if (sel->suite && !suite_found)
        fprintf(stderr, "quintet compare: unknown suite '%s'; the runs hold: %s\n", sel->suite, suites + 1);
    else
        fprintf(stderr, "quintet compare: unknown metric '%s'%s%s; the runs hold: %s\n", sel->metric ? sel->metric : "all",
                sel->suite ? " in suite " : "", sel->suite ? sel->suite : "", metrics + (metrics[0] != 0));
    return EXIT_USAGE;
}

/* Compare two stored runs without printing (contract in cli.h): fn sees every decided row. */
qt_status_t qt_compare_runs(const char *db, int64_t id_base, int64_t id_new, const char *metric,
                            const qt_compare_opts_t *o, int unpaired, qt_compare_row_fn fn, void *arg)
{
    QT_CHECK_ARG(db && o && fn, "compare: bad arguments");
    qt_store_t *s = NULL;
    QT_TRY(qt_store_open(db, 0, 0, &s));
    select_t sel = {metric && strcmp(metric, "all") ? metric : NULL, NULL};
    crun_t base = {0}, new_ = {0};
    rows_t rows = {0};
    size_t tests = 0;
    qt_status_t st = load_run(s, id_base, &sel, &base);
    if (st == QT_OK) st = load_run(s, id_new, &sel, &new_);
    if (st == QT_OK) st = build_rows(&base, &new_, &rows);
    if (st == QT_OK) st = decide_rows(&rows, o, !unpaired && ab_paired(&base, &new_), &tests);
    for (size_t i = 0; st == QT_OK && i < rows.n; i++) {
        const ccase_t *c = row_case(&rows.r[i]);
        char key[1200];
        snprintf(key, sizeof key, "%s/%s/%s/%s", c->suite, c->name, c->variant, c->params);
        if (fn(arg, c->suite, key, rows.r[i].metric, &rows.r[i].r)) break;
    }
    release(&rows, &base, &new_, s);
    return st;
}

/* Parse the options into o, *baseline_runs, *format; returns an exit code or -1 to go on. */
static int parse_opts(const qt_args_t *a, qt_compare_opts_t *o, int *baseline_runs, int *format)
{
    const char *t = qt_args_get(opts, N_OPTS, a, "threshold"), *al = qt_args_get(opts, N_OPTS, a, "alpha"),
               *br = qt_args_get(opts, N_OPTS, a, "baseline-runs"), *f = qt_args_get(opts, N_OPTS, a, "format");
    if (qt_gate_parse(t, al, o) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    long long n = 0;
    if (br && qt_args_int("--baseline-runs", br, 0, 1000, &n) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    *baseline_runs = (int)n;
    qt_fmt_t fmt = QT_FMT_TABLE;
    if (f && !strcmp(f, "junit")) *format = FMT_JUNIT;
    else if (f && qt_fmt_parse(f, &fmt) != QT_OK) {
        fprintf(stderr, "quintet compare: unknown format '%s' (expected table, csv, json or junit)\n", f);
        return EXIT_USAGE;
    } else *format = (int)fmt;
    return -1;
}

/* Exit code for a store failure: an unknown run is bad usage, anything else a database error. */
static int store_exit(qt_status_t st)
{
    fprintf(stderr, "quintet compare: %s\n", qt_last_error());
    return st == QT_ERR_ARG ? EXIT_USAGE : EXIT_DB;
}

/* The command. */
int qt_cmd_compare(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet compare BASE NEW [options]",
                      "BASE, NEW: latest, latest~N, a run id, or a uuid prefix. A (case, metric) regresses when the\n"
                      "1-alpha hierarchical bootstrap interval of median_new/median_base (over invocations, then\n"
                      "repetitions) lies wholly beyond the threshold in the worse direction (time: higher, rates: lower)\n"
                      "AND the exact two-sided Mann-Whitney test on the unit of replication (invocation medians when\n"
                      "both runs have several) gives q < alpha after Benjamini-Hochberg across the rows. Inside the\n"
                      "band: unchanged; straddling it: inconclusive, with the invocations a side that would decide.\n"
                      "--baseline-runs N raises the threshold to the case's between-run noise over N earlier runs.\n"
                      "The two runs of one interleaved `quintet ab` are paired by round: the interval is of the\n"
                      "Hodges-Lehmann estimate of the per-round ratios and the test is Wilcoxon's signed-rank test\n"
                      "on their logs (drift common to a round cancels); --unpaired judges them as independent.\n"
                      "Exit status: 0 no regression, 1 a regression, 2 bad usage, unknown run, suite or metric,\n"
                      "3 database error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos != 2) {
        fprintf(stderr, "quintet compare: expected two runs, BASE and NEW (got %d); see quintet compare --help\n",
                a.n_pos);
        return EXIT_USAGE;
    }
    qt_compare_opts_t o = {0.05, 0.05};
    int baseline_runs, format;
    int rc = parse_opts(&a, &o, &baseline_runs, &format);
    if (rc >= 0) return rc;
    const char *metric = qt_args_get(opts, N_OPTS, &a, "metric");
    if (!metric) metric = "time_s";
    if (!*metric) {
        fprintf(stderr, "quintet compare: --metric needs a metric name or 'all'\n");
        return EXIT_USAGE;
    }
    select_t sel = {strcmp(metric, "all") ? metric : NULL, qt_args_get(opts, N_OPTS, &a, "suite")};
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_store_t *s;
    qt_status_t st = qt_store_open(db ? db : QT_DEFAULT_DB, 0, 0, &s);
    if (st != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_DB;
    }
    int64_t id_base, id_new, ids[1000];
    int n_ids = 0;
    crun_t base = {0}, new_ = {0};
    rows_t rows = {0};
    if ((st = qt_store_resolve_run(s, a.pos[0], &id_base)) != QT_OK ||
        (st = qt_store_resolve_run(s, a.pos[1], &id_new)) != QT_OK) {
        rc = store_exit(st);
        goto done;
    }
    size_t tests = 0;
    int paired = 0;
    if ((st = load_run(s, id_base, &sel, &base)) != QT_OK || (st = load_run(s, id_new, &sel, &new_)) != QT_OK ||
        (st = build_rows(&base, &new_, &rows)) != QT_OK ||
        (baseline_runs >= 2 && (st = load_baseline(s, &base, baseline_runs, &sel, &rows, ids, &n_ids)) != QT_OK) ||
        (st = decide_rows(&rows, &o, paired = !qt_args_get(opts, N_OPTS, &a, "unpaired") && ab_paired(&base, &new_),
                          &tests)) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        rc = EXIT_DB;
        goto done;
    }
    if (rows.n == 0) {
        rc = explain_empty(s, id_base, id_new, &sel);
        goto done;
    }
    if (id_base == id_new) fprintf(stderr, "quintet compare: warning: BASE and NEW are the same run (%lld)\n", (long long)id_base);
    if (strcmp(str_or(base.profile, ""), str_or(new_.profile, "")))
        fprintf(stderr, "quintet compare: warning: profiles differ (base %s, new %s)\n", str_or(base.profile, "?"),
                str_or(new_.profile, "?"));
    if (baseline_runs >= 2 && n_ids < 2)
        fprintf(stderr, "quintet compare: warning: --baseline-runs %d: only %d completed %s run%s up to run %lld; "
                        "no noise figure\n", baseline_runs, n_ids, str_or(base.profile, "?"), n_ids == 1 ? "" : "s",
                (long long)id_base);
    int count[QT_VERDICT_COUNT] = {0}, floor_rows = 0, single = 0;
    for (size_t i = 0; i < rows.n; i++) {
        count[rows.r[i].r.verdict]++;
        floor_rows += rows.r[i].r.p_floor && rows.r[i].r.interval_verdict != QT_VERDICT_UNCHANGED;
        single += !isnan(rows.r[i].r.p) && !rows.r[i].r.unit_invocations;
    }
    if (format == QT_FMT_TABLE) {
        print_run_line("base", &base);
        print_run_line("new ", &new_);
        if (paired)
            printf("test (paired rounds of one `quintet ab`): %g%% hierarchical bootstrap interval (rounds, then "
                   "repetitions) of the Hodges-Lehmann estimate of the per-round new/base median ratio beyond +-%g%%",
                   (1 - o.alpha) * 100, o.threshold * 100);
        else
            printf("test: %g%% hierarchical bootstrap interval of new/base median beyond +-%g%%", (1 - o.alpha) * 100,
                   o.threshold * 100);
        if (baseline_runs >= 2) {
            printf(" or the between-run noise over %d run%s (", n_ids, n_ids == 1 ? "" : "s");
            for (int i = 0; i < n_ids; i++) printf("%s%lld", i ? " " : "", (long long)ids[i]);
            printf(")");
        }
        printf(", and exact %s q < %g after Benjamini-Hochberg over %zu test%s (rates derived from a case's"
               " time_s share its test)\nmetric: %s%s%s\n\n", paired ? "Wilcoxon signed-rank (per-round log-ratios)" : "Mann-Whitney", o.alpha, tests, tests == 1 ? "" : "s", metric,
               sel.suite ? ", suite " : "", sel.suite ? sel.suite : "");
        print_rows(&rows, QT_FMT_TABLE, baseline_runs >= 2);
        printf("\n");
        print_summary(stdout, count);
    } else if (format == QT_FMT_CSV) {
        print_rows(&rows, QT_FMT_CSV, baseline_runs >= 2);
        print_summary(stderr, count);
    } else if (format == FMT_JUNIT) {
        print_junit(&base, &new_, &rows, count);
        print_summary(stderr, count);
    } else {
        print_json(&base, &new_, &rows, &o, paired, baseline_runs, ids, n_ids, count, tests);
    }
    if (single)
        fprintf(stderr, "quintet compare: note: %d row%s measured in one process a side: the interval and the test see "
                        "only within-process noise (run with --invocations K, or use `quintet ab`)\n",
                single, single == 1 ? "" : "s");
    if (floor_rows)
        fprintf(stderr, "quintet compare: warning: %d row%s cannot reach p < %g with their sizes and ties "
                        "(the smallest two-sided p for n against m distinct values is 2/C(n+m, n): 0.1 for 3 against 3,"
                        " 0.029 for 4 against 4)\n",
                floor_rows, floor_rows == 1 ? "" : "s", o.alpha);
    rc = count[QT_VERDICT_REGRESSION] ? EXIT_REGRESSION : 0;
done:
    release(&rows, &base, &new_, s);
    return rc;
}
